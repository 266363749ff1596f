#!/usr/bin/env bash
# test_ctl_triage.sh -- rhaictl for an operator triaging: what submit sends
# and when it gives up, task show's fields, listing queued, claimed and
# running tasks with filters, retry_of, and queue purge --dry-run.
#   bash test_ctl_triage.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]
# One redis-server on a free loopback port and rhaid instances on it,
# stopped on exit whatever happens.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_triage.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
# worker "tri": one executor, a short default timeout, so a task without
# its own timeout ends by the worker's default
rhaid_start tri tri 1 --default-timeout-ms 300
TRI_PID=$RHAID_PID
rhaid_wait "$TRI_PID"
CTL_URL=$URL

# ---- submit sends no timeout_ms unless asked ---------------------------------
ctl 0 submit -e '40+2' --worker tri --json && {
    ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT")
    CHECKS=$((CHECKS + 1))
    [ "$(rcli HEXISTS "$(tkey "$ID")" timeout_ms)" = 0 ] ||
        fail "submit without --timeout sent timeout_ms=$(rcli HGET "$(tkey "$ID")" timeout_ms)"; }
# the worker's default_timeout_ms (300 ms) applies, not 30 s
CTL_TIMEOUT=20 ctl 3 submit -e 'while(true){}' --worker tri && has "$ERR" 'timeout'
ctl 0 submit -e '1' --worker tri --timeout 5000 --json && {
    ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT")
    CHECKS=$((CHECKS + 1))
    [ "$(rcli HGET "$(tkey "$ID")" timeout_ms)" = 5000 ] || fail "--timeout 5000 not sent"; }

# ---- submit to a worker id no instance serves ----------------------------------
START=$(date +%s%N)
CTL_TIMEOUT=10 ctl 8 submit -e '1' --worker ghost && has "$ERR" 'no live instance for ghost'
ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
CHECKS=$((CHECKS + 1))
[ "$ELAPSED_MS" -lt 5000 ] || fail "'no live instance' took ${ELAPSED_MS} ms"
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{ghost}')" = 0 ] || fail "the refused submit queued a task"
# --wait-for-worker queues it and waits until an instance comes
timeout 60 "$CTL" --redis-url "$URL" submit -e '6*7' --worker ghost --wait-for-worker \
    >"$WORK/ghost.out" 2>"$WORK/ghost.err" &
BG=$!
queued_ghost() { [ "$(rcli LLEN 'rhai:queue:{ghost}')" = 1 ]; }
CHECKS=$((CHECKS + 1))
poll 100 queued_ghost || fail "submit --wait-for-worker queued nothing"
rhaid_start ghost ghost 1
wait_rc "$BG" 0 "$WORK/ghost.err" "submit --wait-for-worker" && is "$WORK/ghost.out" 42

# json_id FILE: the "id" of the JSON document in FILE
json_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$1"; }

# ---- task show: the submit fields, the script cut unless --full ----------------
LONG="var x = 1; $(printf 'x = x + 1; %.0s' $(seq 40)) x"      # > 300 bytes
ctl 0 submit -e "$LONG" --worker idleq --no-wait --caller bob --context c1 --timeout 5000 \
    --args '{"n":7}' && SID=$(cat "$OUT")
ctl 0 task show "$SID" && {
    has_re "$OUT" '^status: +queued$'; has_re "$OUT" '^context: +c1$'
    has_re "$OUT" '^caller: +bob$'; has_re "$OUT" '^timeout_ms: +5000$'
    has_re "$OUT" '^args: +\{"n":7\}$'; has_re "$OUT" '^script: +var x = 1; x = x'
    has "$OUT" '--full shows all'; }
ctl 0 task show --full "$SID" && {
    has "$OUT" "$LONG"
    CHECKS=$((CHECKS + 1)); ! grep -q 'cut:' "$OUT" || fail "task show --full cut the script"; }
ctl 0 task show "$SID" --json && json "d['caller_id'] == 'bob' and d['context_id'] == 'c1' \
    and d['timeout_ms'] == 5000 and d['args'] == '{\"n\":7}' and d['cut'] is True \
    and d['script_bytes'] == len('''$LONG''') > len(d['script'])"
ctl 0 submit -e '1' --worker idleq --no-wait && NID=$(cat "$OUT")
ctl 0 task show "$NID" && has "$OUT" "none (the worker's default_timeout_ms)"
ctl 2 task show --wait-for-worker "$NID"
ctl 2 task cancel --full "$NID"

# ---- retry: retry_of goes into the new task's hash -------------------------------
ctl 1 submit -e 'throw new Error("boom")' --worker tri --json && FID=$(json_id "$OUT")
ctl 0 task retry "$FID" && RID=$(cat "$OUT")
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "${RID:-x}")" retry_of)" = "$FID" ] ||
    fail "the retry's hash has no retry_of $FID"
ctl 0 task show "${RID:-x}" && has_re "$OUT" "^retry_of: +$FID\$"
ctl 1 task retry --wait "$FID" && has "$ERR" 'boom'
ctl 1 task retry --wait "$FID" --json && json "d['retry_of'] == '$FID' and d['id'] != '$FID' \
    and d['status'] == 'error'"
ctl 1 task retry --wait "$SID" && has "$ERR" 'is queued'   # not finished: refused
rcli HSET "$(tkey "$SID")" status done >/dev/null
CTL_TIMEOUT=10 ctl 8 task retry --wait "$SID" && has "$ERR" 'no live instance for idleq'
rcli HSET "$(tkey "$SID")" status queued >/dev/null

# ---- tasks: finished ones filtered by error kind, caller, context, time ------------
ctl 0 submit -e '2' --worker tri --caller carol --context c2
CTL_TIMEOUT=20 ctl 3 submit -e 'while(true){}' --worker tri --caller carol
ctl 0 tasks --worker tri --error-kind timeout --json &&
    json "d['count'] >= 1 and all(t['error_kind'] == 'timeout' for t in d['tasks'])"
ctl 0 tasks --worker tri --error-kind script --status error --json &&
    json "d['count'] >= 1 and all(t['error_kind'] == 'script' for t in d['tasks'])"
ctl 0 tasks --worker tri --caller carol --json &&
    json "d['count'] == 2 and all(t['caller_id'] == 'carol' for t in d['tasks'])"
ctl 0 tasks --worker tri --context c2 --json &&
    json "d['count'] == 1 and d['tasks'][0]['context_id'] == 'c2'"
ctl 0 tasks --worker tri --since 1h --json && json "d['count'] >= 5"
ctl 0 tasks --worker tri --until 1h --json && json "d['count'] == 0"
ctl 0 tasks --worker tri --since "$(date -u +%Y-%m-%d)" --json && json "d['count'] >= 5"
ctl 2 tasks --since yesterday
ctl 2 tasks --error-kind oops

# ---- tasks: queued (peeked), claimed and running ------------------------------------
ctl 0 tasks --status queued --worker idleq --json &&
    json "d['count'] == 2 and [t['status'] for t in d['tasks']] == ['queued', 'queued'] \
          and d['tasks'][0]['id'] == '$SID'"
ctl 0 tasks --status queued --json && json "'$SID' in [t['id'] for t in d['tasks']]"
ctl 0 tasks --status queued --worker idleq --caller bob --json &&
    json "[t['id'] for t in d['tasks']] == ['$SID']"
ctl 0 tasks --status queued --worker idleq --limit 1 --json && json "d['count'] == 1"
ctl 0 tasks --status queued --worker idleq && has_re "$OUT" "^$SID +idleq +queued "
# one task runs on tri's only executor; the next ones wait claimed in rhaid
ctl 0 submit -e 'while(true){}' --worker tri --timeout 20000 --no-wait && LID=$(cat "$OUT")
running_now() { [ "$(rcli HGET "$(tkey "$LID")" status)" = running ]; }
CHECKS=$((CHECKS + 1))
poll 100 running_now || fail "the looping task never ran"
for i in 1 2 3; do
    ctl 0 submit -e "$i" --worker tri --timeout 20000 --no-wait
done
claimed_two() { [ "$(rcli LLEN "rhai:queue:{tri}")" -le 1 ]; }
CHECKS=$((CHECKS + 1))
poll 100 claimed_two || fail "rhaid claimed none of the waiting tasks"
ctl 0 tasks --status running --worker tri --json &&
    json "[t['id'] for t in d['tasks']] == ['$LID'] and d['tasks'][0]['started_at'] > 0"
ctl 0 tasks --status claimed --worker tri --json &&
    json "d['count'] >= 1 and all(t['status'] == 'claimed' and t['started_at'] == 0 \
          and t['attempts'] == 0 for t in d['tasks'])"
ctl 0 tasks --status running && has_re "$OUT" "^$LID +tri +running "
ctl 0 task cancel --wait "$LID"

# ---- queue purge: --dry-run, and an unknown queue ------------------------------------
ctl 7 queue purge nosuch && has "$ERR" "no queue 'nosuch'"
ctl 0 queue purge idleq --dry-run && {
    has "$OUT" 'would cancel 2 queued tasks'; has "$OUT" "$SID"; has "$OUT" 'nothing changed'; }
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{idleq}')" = 2 ] || fail "purge --dry-run changed the queue"
ctl 0 queue purge idleq --dry-run --json &&
    json "d['dry_run'] is True and d['would_cancel'] == 2 and d['ids'][0] == '$SID'"
ctl 0 task show "$SID" && has_re "$OUT" '^status: +queued$'
ctl 0 queue purge idleq && has "$OUT" 'cancelled 2 queued tasks'
ctl 7 queue purge idleq          # its queue is gone and no instance serves it
ctl 0 queue purge ghost && has "$OUT" 'cancelled 0 queued tasks'   # served, empty
ctl 0 queue purge tri --dry-run && has "$OUT" 'would cancel 0'     # served, empty
ctl 2 queue requeue-dead --dry-run

kill -0 "$TRI_PID" 2>/dev/null || fail "rhaid died during the test"
finish
