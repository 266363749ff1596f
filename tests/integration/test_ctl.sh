#!/usr/bin/env bash
# test_ctl.sh -- rhaictl against a real redis-server and a real rhaid.
#   bash test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]
# Starts redis-server on a free loopback port in a temporary directory and
# one rhaid (worker id "ctl", one executor), both stopped on exit whatever
# happens. Every process is bounded by `timeout`, so a missing or stuck
# rhaid fails the test with a message instead of hanging it.
set -u
BIN=${1:?usage: test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}
SRC=${2:?usage: test_ctl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}
REDIS_SERVER=${3:-$(command -v redis-server)}
REDIS_CLI=${4:-$(command -v redis-cli)}
CTL=$BIN/rhaictl
RHAID=$BIN/rhaid

die() { echo "FAIL: $*"; exit 1; }
[ -x "$CTL" ] || die "$CTL is missing (build the rhaictl target)"
[ -x "$RHAID" ] || die "$RHAID is missing (build the rhaid target)"
[ -n "$REDIS_SERVER" ] && [ -x "$REDIS_SERVER" ] || die "redis-server not found"
[ -n "$REDIS_CLI" ] && [ -x "$REDIS_CLI" ] || die "redis-cli not found"
# Our own settings only: nothing from the caller's environment (with-redis.sh
# exports RHAI_REDIS_URL) may redirect rhaid or rhaictl.
unset RHAI_REDIS_URL RHAI_PREFIX RHAI_WORKER_ID RHAI_CONCURRENCY RHAI_DATA_DIR \
      RHAI_LOG_LEVEL RHAI_CONFIG

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_ctl.XXXXXX")
REDIS_PID=
RHAID_PID=
cleanup() {
    [ -n "$RHAID_PID" ] && kill -TERM "$RHAID_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
    for p in $RHAID_PID $REDIS_PID; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()'
}

# ---- redis-server ---------------------------------------------------------------
PORT=$(free_port) || die "no free port"
URL=redis://127.0.0.1:$PORT
"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
rcli() { timeout 5 "$REDIS_CLI" -p "$PORT" "$@"; }
for _ in $(seq 100); do
    [ "$(rcli PING 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log"; die "redis-server exited"; }
    sleep 0.1
done
[ "$(rcli PING 2>/dev/null)" = PONG ] || die "redis-server on port $PORT does not answer"

# ---- rhaid ------------------------------------------------------------------------
mkdir -p "$WORK/data"
"$RHAID" --redis-url "$URL" --worker-id ctl --concurrency 1 --data-dir "$WORK/data" \
    --log-level warn >"$WORK/rhaid.log" 2>&1 &
RHAID_PID=$!
for _ in $(seq 100); do       # up once its heartbeat names it in rhai:workers
    [ -n "$(rcli SMEMBERS rhai:workers 2>/dev/null)" ] && break
    kill -0 "$RHAID_PID" 2>/dev/null || { cat "$WORK/rhaid.log"; die "rhaid exited at start"; }
    sleep 0.1
done
[ -n "$(rcli SMEMBERS rhai:workers 2>/dev/null)" ] ||
    { cat "$WORK/rhaid.log"; die "rhaid wrote no heartbeat within 10 s"; }

# ---- checks -----------------------------------------------------------------------
FAILS=0
CHECKS=0
OUT=$WORK/out
ERR=$WORK/err

# ctl EXPECTED_RC ARGS...: rhaictl against our redis (30 s at most).
ctl() {
    local want=$1 rc
    shift
    CHECKS=$((CHECKS + 1))
    timeout 30 "$CTL" --redis-url "$URL" "$@" >"$OUT" 2>"$ERR" </dev/null
    rc=$?
    if [ "$rc" != "$want" ]; then
        FAILS=$((FAILS + 1))
        echo "FAIL: rhaictl $* -> exit $rc, expected $want"
        sed 's/^/  stdout: /' "$OUT" | head -5
        sed 's/^/  stderr: /' "$ERR" | head -5
        return 1
    fi
    return 0
}
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
has() {
    CHECKS=$((CHECKS + 1))
    grep -qF -- "$2" "$1" || { fail "expected '$2' in $(basename "$1"), got:"
                               sed 's/^/  | /' "$1" | head -5; }
}
is() {
    CHECKS=$((CHECKS + 1))
    [ "$(cat "$1")" = "$2" ] && [ "$(wc -l <"$1")" = 1 ] ||
        { fail "expected exactly '$2' in $(basename "$1"), got:"; sed 's/^/  | /' "$1" | head -5; }
}

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
    has "$OUT" '"attempts":1'; }

# Failures and their exit codes.
ctl 1 submit -e 'throw new Error("boom")' --worker ctl && has "$ERR" 'script: Error: boom'
ctl 1 --json submit -e 'throw new Error("boom")' --worker ctl &&
    { has "$OUT" '"status":"error"'; has "$OUT" '"error_kind":"script"'; }
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
ctl 0 task show "$ID" --json && { has "$OUT" "\"id\":\"$ID\""; has "$OUT" '"output":42'; }
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
RID=
for _ in $(seq 100); do
    RID=$(rcli LINDEX "rhai:processing:{ctl}:$(rcli SMEMBERS rhai:workers | head -1 |
                                                  sed 's/^{ctl}://')" 0 2>/dev/null)
    [ -n "$RID" ] && [ "$(rcli HGET "rhai:task:{$RID}" status)" = running ] && break
    RID=
    sleep 0.1
done
CHECKS=$((CHECKS + 1))
if [ -z "$RID" ]; then
    fail "the looping task never showed as running"
    kill "$BG" 2>/dev/null
else
    START=$(date +%s%N)
    ctl 0 task cancel --wait "$RID" && is "$OUT" "cancelled $RID"
    ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
    CHECKS=$((CHECKS + 1))
    [ "$ELAPSED_MS" -lt 10000 ] || fail "cancelling a running task took ${ELAPSED_MS} ms"
fi
wait "$BG"
BG_RC=$?
CHECKS=$((CHECKS + 1))
[ "$BG_RC" = 6 ] || { fail "submit of a cancelled running task exited $BG_RC, expected 6"
                      sed 's/^/  stderr: /' "$WORK/run.err" | head -3; }
ctl 0 submit -e '2+2' --worker ctl && is "$OUT" 4        # the worker goes on

# A waiting submit whose task is cancelled exits 6.
timeout 30 "$CTL" --redis-url "$URL" submit -e '1' --worker idle2 --timeout 20000 \
    >"$WORK/bg.out" 2>"$WORK/bg.err" &
BG=$!
WID=
for _ in $(seq 100); do
    WID=$(rcli LINDEX 'rhai:queue:{idle2}' 0 2>/dev/null)
    [ -n "$WID" ] && break
    sleep 0.1
done
CHECKS=$((CHECKS + 1))
if [ -z "$WID" ]; then
    fail "the background submit queued nothing"
    kill "$BG" 2>/dev/null
else
    ctl 0 task cancel "$WID"
fi
wait "$BG"
BG_RC=$?
CHECKS=$((CHECKS + 1))
[ "$BG_RC" = 6 ] || { fail "submit of a cancelled task exited $BG_RC, expected 6"
                      sed 's/^/  stderr: /' "$WORK/bg.err" | head -3; }
grep -qF 'cancelled' "$WORK/bg.err" || fail "no 'cancelled' on stderr of the waiting submit"

# No worker at all: rhaictl waits timeout + 5 s, then says so (exit 3).
ctl 3 submit -e '1' --worker nobody --timeout 1 && has "$ERR" "no result for task"

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
# Tasks submitted without --context/--caller act in "default" as "anonymous".
ctl 0 context create default --owner anonymous --data-dir "$WORK/data"

# Every example script, with its .args.json when there is one.
for f in "$SRC"/examples/*.js; do
    args='{}'
    [ -f "${f%.js}.args.json" ] && args=$(cat "${f%.js}.args.json")
    ctl 0 submit "$f" --worker ctl --args "$args" && {
        CHECKS=$((CHECKS + 1))
        [ -s "$OUT" ] && [ "$(cat "$OUT")" != null ] || fail "$(basename "$f") printed no result"; }
done

kill -0 "$RHAID_PID" 2>/dev/null || fail "rhaid died during the test"
[ "$FAILS" -eq 0 ] || { echo "--- rhaid log"; tail -20 "$WORK/rhaid.log"; }
echo "test_ctl: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
