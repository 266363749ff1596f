# tests/support/lib.sh -- the scaffolding of the shell tests, sourced (never
# executed) by every tests/*/test_*.sh:   . "$(dirname "$0")/../support/lib.sh"
# It holds what each test used to repeat: a temporary work dir cleaned up
# whatever happens, the counted checks and their summary, rhaictl bounded
# by `timeout`, a throwaway redis-server and rhaid instances on loopback.
# Nothing here sleeps for timing: waits poll for a state with a deadline.
#
# Sourcing it only defines functions; nothing runs until a test calls one.
# The test's name (for the work dir and the summary) is its file name:
#   LIB_NAME       basename of $0 without .sh ("test_ctl")
#
# ---- set up and tear down ------------------------------------------------
#   die MSG...          print "FAIL: MSG" and exit 1 (the EXIT trap cleans up)
#   need_exe PATH HINT  die unless PATH is executable: "PATH is missing (HINT)"
#   need_cmd CMD WHY    die unless CMD is on PATH: "CMD not found (WHY)"
#   use_bin DIR         sets BIN (DIR made absolute, so a test may cd),
#                       CTL=$BIN/rhaictl and RHAID=$BIN/rhaid; dies unless
#                       DIR is a directory holding an executable rhaictl
#   clean_env           unsets the RHAI_* variables rhaid and rhaictl read,
#                       so nothing from the caller's environment (with-redis.sh
#                       exports RHAI_REDIS_URL) may redirect them
#   work_dir            sets WORK (a new dir under $TMPDIR named after the
#                       test), OUT=$WORK/out, ERR=$WORK/err, CHECKS=0,
#                       FAILS=0, and traps EXIT to lib_cleanup
#   lib_cleanup         the EXIT trap: calls before_cleanup if the test
#                       defines that function, sends SIGTERM to BG_PIDS,
#                       RHAID_PIDS and REDIS_PID, waits 5 s for each, then
#                       SIGKILLs and reaps it; removes WORK
#   free_port           prints a loopback TCP port that was free just now
#   poll TRIES COMMAND...
#                       runs COMMAND every 0.1 s until it succeeds, TRIES
#                       times at most; returns 0 once it did, else 1
#
# ---- redis-server and rhaid ------------------------------------------------
#   redis_start [SERVER] [CLI]
#                       starts SERVER (default: redis-server on PATH) on a
#                       free port in WORK, log $WORK/redis.log, and waits
#                       for PING (10 s). Sets REDIS_SERVER, REDIS_CLI, PORT,
#                       URL=redis://127.0.0.1:$PORT and REDIS_PID
#                       On a cluster (RHAI_TEST_CLUSTER_NODES set, as
#                       tools/with-redis-cluster.sh does): no server is
#                       started; every node is flushed, PORT and URL name
#                       the first node (the seed) and REDIS_PID stays empty
#   rcli ARGS...        CLI (redis-cli) against that server, 5 s at most
#                       (with -c on a cluster: redirections followed)
#   rscan PATTERN       the keys matching PATTERN (every master on a cluster)
#   rhaid_start NAME ID CONCURRENCY [RHAID_OPTION...]
#                       starts $RHAID on $URL as worker ID with CONCURRENCY
#                       executors, data dir $WORK/data-NAME, log
#                       $WORK/NAME.log, --log-level warn, then the options.
#                       Sets RHAID_PID and appends it to RHAID_PIDS
#   rhaid_wait PID      waits until a heartbeat in rhai:workers carries PID
#                       (10 s); dies with the logs if rhaid exits first
#
# ---- checks: each call adds one to CHECKS, a failure one to FAILS ------------
#   ctl EXPECTED_RC ARGS...
#                       runs "$CTL" ARGS (with --redis-url "$CTL_URL" first
#                       when CTL_URL is set) bounded by CTL_TIMEOUT seconds
#                       (default 30), stdin /dev/null, stdout to OUT and
#                       stderr to ERR; on another exit code prints both and
#                       returns 1, so `ctl 0 ... && has ...` checks further
#                       only what ran. Either variable may be set for one
#                       call: CTL_TIMEOUT=10 ctl 0 keygen ...
#   has FILE TEXT [what]     FILE holds the fixed string TEXT
#   has_re FILE ERE [what]   FILE has a line matching the extended regex ERE
#   is FILE TEXT             FILE is exactly the one line TEXT
#   empty FILE               FILE is empty
#   json 'PYTHON EXPR' [what]
#                       OUT is one JSON document `d` for which EXPR is true;
#                       EXPR may also use `saved` (the document kept by
#                       `keep`, else None), `now` (unix ms), json and sys
#                       (sys.argv[1] is OUT)
#   keep NAME           copies OUT to $WORK/NAME and points SAVED at it
#   wait_rc PID EXPECTED_RC ERRFILE WHAT
#                       waits for the background PID (a rhaictl the test
#                       started with `&`); on another exit code prints
#                       "WHAT exited RC, expected EXPECTED_RC" and the
#                       first lines of ERRFILE, and returns 1
#   rhaid_stop_checked NAME WHAT
#                       the last rhaid started (rhaid_start NAME ...) still
#                       runs, and stops on SIGTERM with exit 0 (under ASan:
#                       nothing leaked); it leaves RHAID_PIDS, and its log
#                       is removed while nothing failed. WHAT names it
#   fail MSG...         counts a failure (not a check) and prints "FAIL: MSG";
#                       for the checks a test writes itself:
#                         CHECKS=$((CHECKS + 1)); [ ... ] || fail "..."
#   finish              on failures prints the tail of every $WORK/*.log;
#                       prints "LIB_NAME: N checks, M failed" and returns
#                       0 only when nothing failed (the test's last command)
# shellcheck shell=bash

LIB_NAME=$(basename "$0" .sh)
CTL_TIMEOUT=${CTL_TIMEOUT:-30}
CTL_URL=
WORK=
SAVED=
REDIS_PID=
LIB_CLUSTER=            # 1: on the cluster of RHAI_TEST_CLUSTER_NODES
RHAID_PIDS=()
BG_PIDS=()
CHECKS=0
FAILS=0

# ---- set up and tear down ------------------------------------------------
die() { echo "FAIL: $*"; exit 1; }
need_exe() { [ -x "$1" ] || die "$1 is missing ($2)"; }
need_cmd() { command -v "$1" >/dev/null || die "$1 not found ($2)"; }

use_bin() {
    BIN=$(cd "$1" 2>/dev/null && pwd) || die "no directory $1"
    CTL=$BIN/rhaictl
    RHAID=$BIN/rhaid
    need_exe "$CTL" "build the rhaictl target"
}

clean_env() {
    unset RHAI_REDIS_URL RHAI_PREFIX RHAI_WORKER_ID RHAI_CONCURRENCY RHAI_DATA_DIR RHAI_DATA_URL \
          RHAI_LOG_LEVEL RHAI_CONFIG
}

work_dir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$LIB_NAME.XXXXXX") || die "mktemp failed"
    # rhaid run as root starts executors as nobody: they need a way through
    # to the data dirs inside.
    chmod 711 "$WORK"
    OUT=$WORK/out
    ERR=$WORK/err
    CHECKS=0
    FAILS=0
    trap lib_cleanup EXIT
}

lib_cleanup() {
    local p
    declare -F before_cleanup >/dev/null && before_cleanup
    for p in "${BG_PIDS[@]}" "${RHAID_PIDS[@]}" $REDIS_PID; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}" "${RHAID_PIDS[@]}" $REDIS_PID; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$WORK" ] && rm -rf "$WORK"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()'
}

poll() {
    local n=$1
    shift
    for _ in $(seq "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# ---- redis-server and rhaid ------------------------------------------------
redis_start() {
    REDIS_SERVER=${1:-$(command -v redis-server)}
    REDIS_CLI=${2:-$(command -v redis-cli)}
    [ -n "$REDIS_CLI" ] && [ -x "$REDIS_CLI" ] || die "redis-cli not found"
    if [ -n "${RHAI_TEST_CLUSTER_NODES:-}" ]; then
        cluster_start
        return
    fi
    [ -n "$REDIS_SERVER" ] && [ -x "$REDIS_SERVER" ] || die "redis-server not found"
    PORT=$(free_port) || die "no free port"
    URL=redis://127.0.0.1:$PORT
    "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 100); do
        [ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log"; die "redis-server exited"; }
        sleep 0.1
    done
    die "redis-server on port $PORT does not answer"
}

# The cluster tools/with-redis-cluster.sh started: each node flushed (a
# replica refuses: it follows its master), the seed named.
cluster_start() {
    local node
    LIB_CLUSTER=1
    PORT=${RHAI_TEST_CLUSTER_NODES%%,*}
    PORT=${PORT##*:}
    URL=redis://127.0.0.1:$PORT
    for node in ${RHAI_TEST_CLUSTER_NODES//,/ }; do
        timeout 5 "$REDIS_CLI" -p "${node##*:}" FLUSHALL >/dev/null 2>&1
    done
    [ "$(rcli PING 2>/dev/null)" = PONG ] || die "the cluster's seed $URL does not answer"
}

rcli() { timeout 5 "$REDIS_CLI" ${LIB_CLUSTER:+-c} -p "$PORT" "$@"; }
rscan() {
    local node
    if [ -z "$LIB_CLUSTER" ]; then
        rcli --scan --pattern "$1"
        return
    fi
    for node in ${RHAI_TEST_CLUSTER_NODES//,/ }; do
        timeout 5 "$REDIS_CLI" -p "${node##*:}" ROLE 2>/dev/null | head -1 | grep -qx master &&
            timeout 5 "$REDIS_CLI" -p "${node##*:}" --scan --pattern "$1"
    done
}
# tkey ID: the task hash key of ID (key layout v2: rhai:task:{W}:ID), W from
# its lookup hint rhai:taskw:{ID}, else "default".
tkey() {
    local w
    w=$(rcli GET "rhai:taskw:{$1}" 2>/dev/null)
    echo "rhai:task:{${w:-default}}:$1"
}

rhaid_start() {
    local name=$1 id=$2 conc=$3
    shift 3
    mkdir -p "$WORK/data-$name"
    "$RHAID" --redis-url "$URL" --worker-id "$id" --concurrency "$conc" \
        --data-dir "$WORK/data-$name" --log-level warn "$@" >"$WORK/$name.log" 2>&1 &
    RHAID_PID=$!
    RHAID_PIDS+=("$RHAID_PID")
}

rhaid_wait() {
    local m
    for _ in $(seq 100); do
        for m in $(rcli SMEMBERS rhai:workers 2>/dev/null); do
            [ "$(rcli HGET "rhai:worker:$m" pid 2>/dev/null)" = "$1" ] && return 0
        done
        kill -0 "$1" 2>/dev/null ||
            { tail -20 "$WORK"/*.log; die "rhaid (pid $1) exited at start"; }
        sleep 0.1
    done
    tail -20 "$WORK"/*.log
    die "rhaid (pid $1) wrote no heartbeat within 10 s"
}

# ---- checks ------------------------------------------------------------------
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }

# lib_show FILE: the first lines of FILE, indented, under a failure.
lib_show() { sed 's/^/  | /' "$1" | head -8; }

ctl() {
    local want=$1 rc url=()
    shift
    CHECKS=$((CHECKS + 1))
    [ -n "${CTL_URL:-}" ] && url=(--redis-url "$CTL_URL")
    timeout "${CTL_TIMEOUT:-30}" "$CTL" "${url[@]}" "$@" >"$OUT" 2>"$ERR" </dev/null
    rc=$?
    if [ "$rc" != "$want" ]; then
        fail "rhaictl $* -> exit $rc, expected $want"
        sed 's/^/  stdout: /' "$OUT" | head -5
        sed 's/^/  stderr: /' "$ERR" | head -5
        return 1
    fi
    return 0
}

has() {
    CHECKS=$((CHECKS + 1))
    grep -qF -- "$2" "$1" ||
        { fail "${3:-last call}: expected '$2' in $(basename "$1"), got:"; lib_show "$1"; }
}

has_re() {
    CHECKS=$((CHECKS + 1))
    grep -qE -- "$2" "$1" ||
        { fail "${3:-last call}: expected /$2/ in $(basename "$1"), got:"; lib_show "$1"; }
}

is() {
    CHECKS=$((CHECKS + 1))
    [ "$(cat "$1")" = "$2" ] && [ "$(wc -l <"$1")" = 1 ] ||
        { fail "expected exactly '$2' in $(basename "$1"), got:"; lib_show "$1"; }
}

empty() {
    CHECKS=$((CHECKS + 1))
    [ ! -s "$1" ] || { fail "expected empty $(basename "$1"), got:"; lib_show "$1"; }
}

json() {
    CHECKS=$((CHECKS + 1))
    if ! python3 -c '
import json, sys, time
d = json.loads(open(sys.argv[1]).read())
saved = json.loads(open(sys.argv[2]).read()) if sys.argv[2] else None
now = time.time() * 1000
sys.exit(0 if eval("(" + sys.argv[3] + ")") else 1)' "$OUT" "${SAVED:-}" "$1" 2>"$WORK/pyerr"
    then
        fail "${2:-last call}: JSON check '$1' failed on:"
        lib_show "$OUT"
        sed 's/^/  py: /' "$WORK/pyerr" | tail -2
    fi
}

keep() { cp "$OUT" "$WORK/$1"; SAVED=$WORK/$1; }

wait_rc() {
    local rc
    CHECKS=$((CHECKS + 1))
    wait "$1"
    rc=$?
    [ "$rc" = "$2" ] && return 0
    fail "$4 exited $rc, expected $2"
    sed 's/^/  stderr: /' "$3" | head -3
    return 1
}

rhaid_stop_checked() {
    local pid=${RHAID_PIDS[-1]}
    CHECKS=$((CHECKS + 1))
    kill -0 "$pid" 2>/dev/null || fail "$2 exited"
    kill -TERM "$pid" 2>/dev/null
    wait_rc "$pid" 0 "$WORK/$1.log" "$2"
    unset 'RHAID_PIDS[-1]'
    [ "$FAILS" -eq 0 ] && rm -f "$WORK/$1.log"
}

finish() {
    local f
    if [ "$FAILS" -ne 0 ]; then
        for f in "$WORK"/*.log; do
            [ -f "$f" ] && { echo "--- $(basename "$f") (tail)"; tail -20 "$f"; }
        done
    fi
    echo "$LIB_NAME: $CHECKS checks, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
