#!/usr/bin/env bash
# test_ctl_drain.sh -- what rhaictl says of a worker id whose only instance
# drains (SIGTERM, a task still running): it takes no task, so queues must
# not count it live, and submit's "no live instance" must say why.
#   bash test_ctl_drain.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_drain.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
rhaid_start dr dr 1 --grace-ms 60000 --heartbeat-ms 200 --heartbeat-ttl-ms 1000
DR_PID=$RHAID_PID
rhaid_wait "$DR_PID"
CTL_URL=$URL

ctl 0 queues --json && json "[(q['worker_id'], q['live_instances'], q['draining_instances']) \
    for q in d['queues']] == [('dr', 1, 0)]"
# a submit waiting for its task, which runs on the instance about to drain
timeout 60 "$CTL" --redis-url "$URL" submit -e 'while(true){}' --worker dr --timeout 50000 \
    --json >"$WORK/bg.out" 2>"$WORK/bg.err" &
BG=$!
running_now() {
    LID=$(rscan 'rhai:task:{dr}:*' | sed -n 's/^rhai:task:{dr}:\(.*\)$/\1/p' | head -1)
    [ -n "$LID" ] && [ "$(rcli HGET "$(tkey "$LID")" status)" = running ]
}
CHECKS=$((CHECKS + 1))
poll 100 running_now || fail "the looping task never ran"
kill -TERM "$DR_PID"
draining_now() {
    timeout 10 "$CTL" --redis-url "$URL" workers --json 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if [i["state"] for i in d["instances"]] == ["draining"] else 1)'
}
CHECKS=$((CHECKS + 1))
poll 100 draining_now || fail "the instance never showed draining"

ctl 0 queues --json && json "[(q['worker_id'], q['processing'], q['live_instances'], \
    q['draining_instances'], q['dead_instances']) for q in d['queues']] == [('dr', 1, 0, 1, 0)]"
ctl 0 queues && has_re "$OUT" '^dr +0 +1 .* 0 live, 1 draining$'
CTL_TIMEOUT=10 ctl 8 submit -e '1' --worker dr && {
    has "$ERR" 'no live instance for dr'; has "$ERR" '1 draining'; }
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{dr}')" = 0 ] || fail "the refused submit queued a task"

# the draining instance still runs the waited-for task: the submit waits
# on (it checks every 2 s) instead of giving up with "no live instance"
bg_gone() { ! kill -0 "$BG" 2>/dev/null; }
CHECKS=$((CHECKS + 1))
! poll 40 bg_gone || { fail "the waiting submit gave up while its task ran"; cat "$WORK/bg.err"; }

ctl 0 task cancel --wait "$LID"
wait_rc "$BG" 6 "$WORK/bg.err" "the waiting submit of the cancelled task"
wait_rc "$DR_PID" 0 "$WORK/dr.log" "rhaid after its drain"
finish
