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
    [ "$(rcli HEXISTS "rhai:task:{$ID}" timeout_ms)" = 0 ] ||
        fail "submit without --timeout sent timeout_ms=$(rcli HGET "rhai:task:{$ID}" timeout_ms)"; }
# the worker's default_timeout_ms (300 ms) applies, not 30 s
CTL_TIMEOUT=20 ctl 3 submit -e 'while(true){}' --worker tri && has "$ERR" 'timeout'
ctl 0 submit -e '1' --worker tri --timeout 5000 --json && {
    ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT")
    CHECKS=$((CHECKS + 1))
    [ "$(rcli HGET "rhai:task:{$ID}" timeout_ms)" = 5000 ] || fail "--timeout 5000 not sent"; }

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
[ "$(rcli HGET "rhai:task:{${RID:-x}}" retry_of)" = "$FID" ] ||
    fail "the retry's hash has no retry_of $FID"
ctl 0 task show "${RID:-x}" && has_re "$OUT" "^retry_of: +$FID\$"
ctl 1 task retry --wait "$FID" && has "$ERR" 'boom'
ctl 1 task retry --wait "$SID" && has "$ERR" 'is queued'   # not finished: refused
rcli HSET "rhai:task:{$SID}" status done >/dev/null
CTL_TIMEOUT=10 ctl 8 task retry --wait "$SID" && has "$ERR" 'no live instance for idleq'
rcli HSET "rhai:task:{$SID}" status queued >/dev/null

kill -0 "$TRI_PID" 2>/dev/null || fail "rhaid died during the test"
finish
