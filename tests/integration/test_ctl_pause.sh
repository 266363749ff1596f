#!/usr/bin/env bash
# test_ctl_pause.sh -- pause and resume of a worker id (issue 19, item 5):
# a paused worker id runs nothing new while its running task finishes;
# resume runs what waited; the pause survives an instance restart; queues,
# workers and /metrics show it; an unknown worker id may be paused (said).
#   bash test_ctl_pause.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_pause.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
need_cmd curl "reads /metrics"
clean_env
work_dir
redis_start "${2:-}" "${3:-}"
CTL_URL=$URL
MPORT=$(free_port)
rhaid_start pw pw 1 --heartbeat-ms 200 --log-level notice --metrics-listen "127.0.0.1:$MPORT"
PW_PID=$RHAID_PID
rhaid_wait "$PW_PID"
status_is() { [ "$(rcli HGET "$(tkey "$1")" status)" = "$2" ]; }
metric_paused() {
    curl -s "http://127.0.0.1:$MPORT/metrics" | grep -qx "rhai_queue_paused{worker_id=\"pw\"} $1"
}
# the instance noticed: its log says so (each change once)
noticed() { [ "$(grep -c "event=$1 " "$WORK/$2.log")" -ge "$3" ]; }
# N more heartbeats of the instance (PID) went by: time for it to act
beats() {
    local m start
    m=$(rcli SMEMBERS rhai:workers | grep '^{pw}:' | while read -r x; do
        [ "$(rcli HGET "rhai:worker:$x" pid)" = "$1" ] && echo "$x"; done)
    start=$(rcli HGET "rhai:worker:$m" heartbeat_at)
    later() { [ "$(rcli HGET "rhai:worker:$m" heartbeat_at)" -gt $((start + $2 * 200 - 50)) ]; }
    poll 100 later x "$2"
}

CHECKS=$((CHECKS + 1)); poll 50 metric_paused 0 || fail "rhai_queue_paused not 0 at start"
# ---- a running task finishes; a new one waits ----------------------------------
ctl 0 submit -e 'var t = Date.now(); while (Date.now() - t < 1500) {} 7' --worker pw --no-wait &&
    A=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 100 status_is "$A" running || fail "task A never ran"
ctl 0 queue pause pw && has "$OUT" 'paused pw'
ctl 0 queue pause pw && has "$OUT" 'paused already'
CHECKS=$((CHECKS + 1)); poll 100 noticed paused pw 1 || fail "rhaid did not notice the pause"
# takes Redis served (BLMOVE and the batch take's EVALSHA count alike)
blmoves() { rcli INFO commandstats | sed -n 's/^cmdstat_blmove:calls=\([0-9]*\).*/\1/p'; }
CHECKS=$((CHECKS + 1)); poll 100 status_is "$A" done || fail "the running task did not finish"
TAKES0=$(blmoves)
ctl 0 submit -e '6*7' --worker pw --no-wait && B=$(cat "$OUT")
beats "$PW_PID" 5
# a paused instance does not spin: the take blocked when B came (if any)
# gave it back, and none was sent again over 5 heartbeats
TAKES1=$(blmoves)
CHECKS=$((CHECKS + 1))
[ $((${TAKES1:-0} - ${TAKES0:-0})) -le 1 ] || fail "a paused instance sent $((TAKES1 - TAKES0)) takes"
CHECKS=$((CHECKS + 1)); status_is "$B" queued || fail "a paused worker id ran B ($(rcli HGET "$(tkey "$B")" status))"
CHECKS=$((CHECKS + 1)); [ "$(rcli LLEN 'rhai:queue:{pw}')" = 1 ] || fail "B is not waiting in the queue"
CHECKS=$((CHECKS + 1)); metric_paused 1 || fail "rhai_queue_paused is not 1 while paused"
ctl 0 queues && has_re "$OUT" '^pw .*PAUSED'
ctl 0 queues --json && json "[q for q in d['queues'] if q['worker_id'] == 'pw'][0]['paused'] is True"
ctl 0 workers && has_re "$OUT" '^pw +[^ ]+ +paused '
ctl 0 workers --json && json "d['instances'][0]['paused'] is True"
CHECKS=$((CHECKS + 1))
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["by"] and d["at"] > 0 else 1)' \
    "$(rcli GET 'rhai:paused:{pw}')" || fail "the pause key holds no {by, at}"

# ---- resume runs what waited ------------------------------------------------------
ctl 0 queue resume pw && has "$OUT" 'resumed pw'
CHECKS=$((CHECKS + 1)); poll 100 status_is "$B" done || fail "B did not run after resume"
CHECKS=$((CHECKS + 1)); poll 50 metric_paused 0 || fail "rhai_queue_paused not back to 0"
ctl 0 queue resume pw && has "$OUT" 'was not paused'

# ---- the pause survives a restart ----------------------------------------------------
ctl 0 queue pause pw
kill -TERM "$PW_PID"; wait "$PW_PID" 2>/dev/null
rhaid_start pw pw 1 --heartbeat-ms 200 --log-level notice
PW_PID=$RHAID_PID
rhaid_wait "$PW_PID"
# submitted at once: the take scripts check the pause, whatever rhaid knows
ctl 0 submit -e '1+1' --worker pw --no-wait && C=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 100 noticed paused pw 1 || fail "a restarted rhaid did not see the pause"
beats "$PW_PID" 5
CHECKS=$((CHECKS + 1)); status_is "$C" queued || fail "a restarted paused instance ran C"
ctl 0 queue resume pw
CHECKS=$((CHECKS + 1)); poll 100 status_is "$C" done || fail "C did not run after resume"

# ---- an unknown worker id may be paused, and it is said ------------------------------
ctl 0 queue pause later-one && has "$OUT" 'no instance and no queue of later-one'
ctl 0 queue pause later-one --json && json "d['known'] is False and d['changed'] is False"
ctl 0 queue resume later-one
ctl 2 queue pause && has "$ERR" 'missing worker id'
finish
