#!/usr/bin/env bash
# test_ctl.sh -- rhaictl against a real redis-server and a real rhaid.
#   bash test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]
# Starts redis-server on a free loopback port in a temporary directory and
# one rhaid (worker id "ctl", one executor), both stopped on exit whatever
# happens. Every process is bounded by `timeout`, so a missing or stuck
# rhaid fails the test with a message instead of hanging it.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}"
SRC=${2:?usage: test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${3:-}" "${4:-}"
rhaid_start ctl ctl 1
rhaid_wait "$RHAID_PID"
D=$WORK/data-ctl
CTL_URL=$URL              # ctl: rhaictl against our redis (30 s at most)

# Results, arguments, logs.
ctl 0 submit -e '40+2' --worker ctl && is "$OUT" 42
ctl 0 submit -e 'args.a + args.b' --worker ctl --args '{"a":40,"b":2}' && is "$OUT" 42
ctl 0 submit -e '[ctx.worker_id, ctx.context_id, ctx.caller_id]' --worker ctl \
    --context books --caller alice && is "$OUT" '["ctl","books","alice"]'
ctl 0 submit -e 'print("hello"); 7' --worker ctl && { is "$OUT" 7; has "$ERR" 'log: hello'; }
CHECKS=$((CHECKS + 1))
[ "$(echo '6*7' | timeout 30 "$CTL" --redis-url "$URL" submit - --worker ctl)" = 42 ] ||
    fail "submit - (stdin) did not print 42"
CHECKS=$((CHECKS + 1))                 # the URL from the environment
[ "$(RHAI_REDIS_URL=$URL timeout 30 "$CTL" submit -e '1+1' --worker ctl)" = 2 ] ||
    fail "RHAI_REDIS_URL was not used"

# --json: the whole reply.
ctl 0 submit -e '40+2' --worker ctl --json && {
    has "$OUT" '"status":"done"'; has "$OUT" '"output":42'; has "$OUT" '"worker_id":"ctl"'
    has "$OUT" '"attempts":1'; has "$OUT" '"error":null'; }

# Failures and their exit codes.
ctl 1 submit -e 'throw new Error("boom")' --worker ctl && has "$ERR" 'script: Error: boom'
ctl 1 --json submit -e 'throw new Error("boom")' --worker ctl &&
    { has "$OUT" '"status":"error"'; has "$OUT" '"error_kind":"script"'
      has "$OUT" '"error":"Error: boom'; }
START=$(date +%s%N)
ctl 3 submit -e 'while(true){}' --timeout 300 --worker ctl && has "$ERR" 'timeout'
ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
CHECKS=$((CHECKS + 1))
[ "$ELAPSED_MS" -lt 5000 ] || fail "a 300 ms timeout took ${ELAPSED_MS} ms"
ctl 0 submit -e '1+1' --worker ctl && is "$OUT" 2      # the worker survived it

# --no-wait, then task show until it is done.
ctl 0 submit -e '40+2' --worker ctl --no-wait && ID=$(cat "$OUT")
CHECKS=$((CHECKS + 1))
[[ "${ID:-}" =~ ^[A-Za-z0-9_.:@-]+$ ]] || fail "--no-wait printed '${ID:-}', not an id"
for _ in $(seq 100); do
    timeout 10 "$CTL" --redis-url "$URL" task show "$ID" >"$OUT" 2>"$ERR"
    grep -Eq '^status: +done$' "$OUT" && break
    sleep 0.1
done
ctl 0 task show "$ID" && {
    has "$OUT" "$ID"; grep -Eq '^status: +done$' "$OUT" || fail "task show: not done"
    grep -Eq '^output: +42$' "$OUT" || fail "task show: no 'output: 42' line"
    has "$OUT" 'worker:'; has "$OUT" 'finished_at:'; }
# a success's error is null, whether the reply or the task hash is read
ctl 0 task show "$ID" --json && { has "$OUT" "\"id\":\"$ID\""; has "$OUT" '"output":42'
    has "$OUT" '"error":null'; has "$OUT" '"error_kind":null'; }
ctl 7 task show no-such-task && has "$ERR" 'no-such-task'
ctl 7 task cancel no-such-task

# Cancel: a queued task (no worker serves "idle") ends cancelled, once.
ctl 0 submit -e '1' --worker idle --no-wait && CID=$(cat "$OUT")
ctl 0 task cancel "$CID" && has "$OUT" "cancelled $CID"
ctl 0 task show "$CID" && grep -Eq '^status: +cancelled$' "$OUT" ||
    fail "task show after cancel: not cancelled"
ctl 1 task cancel "$CID" && has "$ERR" 'can be cancelled'   # finished: refused
ctl 1 task cancel "$ID" && has "$ERR" 'done'
ctl 2 task show --wait "$ID"

# A running task: its worker kills it; the waiting submit exits 6.
timeout 30 "$CTL" --redis-url "$URL" submit -e 'while(true){}' --worker ctl --timeout 20000 \
    >"$WORK/run.out" 2>"$WORK/run.err" &
BG=$!
# running_id: RID is the task the ctl worker runs now (1 and empty: none).
running_id() {
    RID=$(rcli LINDEX "rhai:processing:{ctl}:$(rcli SMEMBERS rhai:workers | head -1 |
                                                  sed 's/^{ctl}://')" 0 2>/dev/null)
    [ -n "$RID" ] && [ "$(rcli HGET "$(tkey "$RID")" status)" = running ] ||
        { RID=; return 1; }
}
CHECKS=$((CHECKS + 1))
if ! poll 100 running_id; then
    fail "the looping task never showed as running"
    kill "$BG" 2>/dev/null
else
    START=$(date +%s%N)
    ctl 0 task cancel --wait "$RID" && is "$OUT" "cancelled $RID"
    ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
    CHECKS=$((CHECKS + 1))
    [ "$ELAPSED_MS" -lt 10000 ] || fail "cancelling a running task took ${ELAPSED_MS} ms"
fi
wait_rc "$BG" 6 "$WORK/run.err" "submit of a cancelled running task"
ctl 0 submit -e '2+2' --worker ctl && is "$OUT" 4        # the worker goes on

# A waiting submit whose task is cancelled exits 6.
timeout 30 "$CTL" --redis-url "$URL" submit -e '1' --worker idle2 --timeout 20000 \
    --wait-for-worker >"$WORK/bg.out" 2>"$WORK/bg.err" &
BG=$!
queued_id() { WID=$(rcli LINDEX 'rhai:queue:{idle2}' 0 2>/dev/null); [ -n "$WID" ]; }
CHECKS=$((CHECKS + 1))
if ! poll 100 queued_id; then
    fail "the background submit queued nothing"
    kill "$BG" 2>/dev/null
else
    ctl 0 task cancel "$WID"
fi
wait_rc "$BG" 6 "$WORK/bg.err" "submit of a cancelled task"
has "$WORK/bg.err" 'cancelled' "the waiting submit"

# No worker at all: said at once (exit 8), nothing queued; --wait-for-worker
# waits timeout + 5 s, then says so (exit 3).
ctl 8 submit -e '1' --worker nobody --timeout 1 && has "$ERR" "no live instance for nobody"
ctl 3 submit -e '1' --worker nobody --timeout 1 --wait-for-worker &&
    has "$ERR" "no result for task"

# Connection refused: exit 5.
CLOSED=$(free_port)
CHECKS=$((CHECKS + 1))
timeout 30 "$CTL" --redis-url "redis://127.0.0.1:$CLOSED" submit -e 1 --worker ctl \
    >"$OUT" 2>"$ERR"
RC=$?
[ "$RC" = 5 ] || fail "submit to a closed port exited $RC, expected 5"
has "$ERR" 'cannot connect'

# A DSL task needs its context: unknown, it fails with error_kind invalid.
ctl 1 submit "$SRC/examples/dsl_business.js" --worker ctl && has "$ERR" "invalid: UnknownContext"
# Tasks submitted without --context act in "default"; without --caller as
# "anonymous", which can own nothing (every caller-less task is anonymous).
ctl 1 context create default --owner anonymous --data-dir "$D" && has "$ERR" "cannot own"
ctl 0 context create default --owner ops --data-dir "$D"

# Every example script, with its .args.json when there is one.
for f in "$SRC"/examples/*.js; do
    args='{}'
    [ -f "${f%.js}.args.json" ] && args=$(cat "${f%.js}.args.json")
    ctl 0 submit "$f" --worker ctl --caller ops --args "$args" && {
        CHECKS=$((CHECKS + 1))
        [ -s "$OUT" ] && [ "$(cat "$OUT")" != null ] || fail "$(basename "$f") printed no result"; }
done

kill -0 "$RHAID_PID" 2>/dev/null || fail "rhaid died during the test"
finish
