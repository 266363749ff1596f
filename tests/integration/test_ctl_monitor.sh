#!/usr/bin/env bash
# test_ctl_monitor.sh -- rhaictl's monitoring and admin commands against a
# live two-worker setup: workers, queues, tasks, task retry, queue purge,
# queue requeue-dead and top (driven in tmux).
#   bash test_ctl_monitor.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]
# Starts redis-server on a free loopback port in a temporary directory and
# two rhaid instances (worker id alpha with 2 executors, beta with 1; fast
# heartbeats so a killed one is dead within a second), all stopped on exit.
# Every --json document is checked with python3's json module. Waits poll
# for a state with a deadline; nothing sleeps for timing.
set -u
BIN=${1:?usage: test_ctl_monitor.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}
REDIS_SERVER=${3:-$(command -v redis-server)}
REDIS_CLI=${4:-$(command -v redis-cli)}
CTL=$BIN/rhaictl
RHAID=$BIN/rhaid

die() { echo "FAIL: $*"; exit 1; }
[ -x "$CTL" ] || die "$CTL is missing (build the rhaictl target)"
[ -x "$RHAID" ] || die "$RHAID is missing (build the rhaid target)"
[ -n "$REDIS_SERVER" ] && [ -x "$REDIS_SERVER" ] || die "redis-server not found"
[ -n "$REDIS_CLI" ] && [ -x "$REDIS_CLI" ] || die "redis-cli not found"
command -v python3 >/dev/null || die "python3 not found (it checks the JSON)"
command -v tmux >/dev/null || die "tmux not found (tools/deps.sh installs it)"
unset RHAI_REDIS_URL RHAI_PREFIX RHAI_WORKER_ID RHAI_CONCURRENCY RHAI_DATA_DIR \
      RHAI_LOG_LEVEL RHAI_CONFIG

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_ctl_monitor.XXXXXX")
TMUX_SOCK=$WORK/tmux.sock
REDIS_PID=
PIDS=()                      # every rhaid we start
BGS=()                       # background rhaictl
cleanup() {
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
    for p in "${BGS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
    for p in "${BGS[@]}" "${PIDS[@]}" $REDIS_PID; do
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
# start_rhaid WORKER_ID CONCURRENCY LOGNAME: sets STARTED to its pid.
start_rhaid() {
    mkdir -p "$WORK/data-$3"
    "$RHAID" --redis-url "$URL" --worker-id "$1" --concurrency "$2" --heartbeat-ms 200 \
        --heartbeat-ttl-ms 1000 --data-dir "$WORK/data-$3" --log-level warn \
        >"$WORK/$3.log" 2>&1 &
    STARTED=$!
    PIDS+=("$STARTED")
}
# wait_member WORKER_ID PID: until the heartbeat of that pid exists (10 s).
wait_member() {
    local m
    for _ in $(seq 100); do
        for m in $(rcli SMEMBERS rhai:workers 2>/dev/null); do
            [ "$(rcli HGET "rhai:worker:$m" pid 2>/dev/null)" = "$2" ] && return 0
        done
        kill -0 "$2" 2>/dev/null || { cat "$WORK"/*.log; die "rhaid ($1) exited at start"; }
        sleep 0.1
    done
    die "rhaid ($1, pid $2) wrote no heartbeat within 10 s"
}
start_rhaid alpha 2 alpha && ALPHA_PID=$STARTED
start_rhaid beta 1 beta && BETA_PID=$STARTED
wait_member alpha "$ALPHA_PID"
wait_member beta "$BETA_PID"

# ---- helpers ----------------------------------------------------------------------
FAILS=0
CHECKS=0
OUT=$WORK/out
ERR=$WORK/err
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }

# ctl EXPECTED_RC ARGS...: rhaictl against our redis (30 s at most).
ctl() {
    local want=$1 rc
    shift
    CHECKS=$((CHECKS + 1))
    timeout 30 "$CTL" --redis-url "$URL" "$@" >"$OUT" 2>"$ERR" </dev/null
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
    grep -qE -- "$2" "$1" || { fail "expected /$2/ in $(basename "$1"), got:"
                               sed 's/^/  | /' "$1" | head -8; }
}
# py FILE CODE [ARGS...]: run python code with d = the JSON document in
# FILE (exactly one line) and argv = ARGS; it prints or asserts.
py() {
    local f=$1 code=$2
    shift 2
    python3 - "$f" "$@" <<EOF
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "expected one JSON line, got %d" % len(lines)
d = json.loads(lines[0])
argv = sys.argv[2:]
$code
EOF
}
# check FILE EXPR [ARGS...]: EXPR (python, over d and argv) must be true.
check() {
    local f=$1 expr=$2
    shift 2
    CHECKS=$((CHECKS + 1))
    if ! py "$f" "assert ($expr), 'false'" "$@" 2>"$WORK/py.err"; then
        fail "JSON check '$expr' ($*) failed: $(tail -1 "$WORK/py.err")"
        sed 's/^/  | /' "$f" | cut -c1-400 | head -3
    fi
}
# get FILE EXPR [ARGS...]: print EXPR.
get() { local f=$1 e=$2; shift 2; py "$f" "print($e)" "$@" 2>/dev/null; }

# ---- every command has --help; usage errors exit 2 --------------------------------
for c in workers queues tasks queue top task; do
    ctl 0 "$c" --help && has "$OUT" "^Usage: rhaictl $c"
done
ctl 2 workers --bogus
ctl 2 tasks --limit 0
ctl 2 tasks --limit 1001
ctl 2 tasks --status sleeping
ctl 2 queue
ctl 2 queue purge
ctl 2 queue frobnicate alpha
ctl 2 queue purge alpha --max-attempts 2
ctl 2 top --interval 5
ctl 2 top                                   # stdin/stdout are not a terminal
ctl 2 task retry
ctl 2 task show --wait x

# ---- tasks run ---------------------------------------------------------------------
ctl 0 --json submit -e 'args.n * 2' --args '{"n":21}' --worker alpha && A1=$(get "$OUT" "d['id']")
ctl 0 --json submit -e '"a2"' --worker alpha && A2=$(get "$OUT" "d['id']")
ctl 0 --json submit -e 'print("x"); [1,2]' --worker alpha && A3=$(get "$OUT" "d['id']")
ctl 1 --json submit -e 'throw new Error("boom")' --worker beta && B1=$(get "$OUT" "d['id']")
ctl 0 --json submit -e '3' --worker beta && B2=$(get "$OUT" "d['id']")
[ -n "${A1:-}" ] && [ -n "${A3:-}" ] && [ -n "${B1:-}" ] && [ -n "${B2:-}" ] ||
    die "the first tasks did not run"

# ---- workers ------------------------------------------------------------------------
# The heartbeats carry the counts within 200 ms: wait for them.
for _ in $(seq 50); do
    timeout 10 "$CTL" --redis-url "$URL" workers --json >"$OUT" 2>/dev/null
    [ "$(get "$OUT" "sum(i['done'] + i['failed'] for i in d['instances'])")" = 5 ] && break
    sleep 0.1
done
ctl 0 workers --json && {
    check "$OUT" "len(d['instances']) == 2 and d['live'] == 2 and d['dead'] == 0"
    check "$OUT" "sorted((i['worker_id'], i['concurrency'], i['pid']) for i in d['instances'])
                  == [('alpha', 2, int(argv[0])), ('beta', 1, int(argv[1]))]" \
        "$ALPHA_PID" "$BETA_PID"
    check "$OUT" "all(i['state'] == 'live' and i['processing'] == 0 and i['busy'] == 0
                      for i in d['instances'])"
    check "$OUT" "[(i['done'], i['failed']) for i in d['instances']] == [(3, 0), (1, 1)]"
    check "$OUT" "all(0 <= i['heartbeat_age_ms'] < 1000 and i['uptime_ms'] >= 0 and
                      isinstance(i['tasks_per_s'], float) and i['host']
                      for i in d['instances'])"
    check "$OUT" "all(rhai == 'rhai:worker:{%s}:%s' % (i['worker_id'], i['instance'])
                      for i, rhai in zip(d['instances'], argv))" \
        $(rcli SMEMBERS rhai:workers | sort | sed 's/^/rhai:worker:/')
}
ctl 0 workers && { has "$OUT" '^WORKER +INSTANCE +STATE'; has "$OUT" "^alpha .* live .* $ALPHA_PID "
                   has "$OUT" "^beta .* live .* $BETA_PID "; }
ctl 0 workers --worker beta --json &&
    check "$OUT" "[i['worker_id'] for i in d['instances']] == ['beta']"

# ---- queues ------------------------------------------------------------------------
# Two tasks wait for worker id idle, which nobody serves.
ctl 0 submit -e '1' --worker idle --no-wait && I1=$(cat "$OUT")
ctl 0 submit -e '2' --worker idle --no-wait && I2=$(cat "$OUT")
ctl 0 queues --json && {
    check "$OUT" "[q['worker_id'] for q in d['queues']] == ['alpha', 'beta', 'idle']"
    for w in alpha beta idle; do
        check "$OUT" "[q['queued'] for q in d['queues'] if q['worker_id'] == argv[0]]
                      == [int(argv[1])]" "$w" "$(rcli LLEN "rhai:queue:{$w}")"
    done
    check "$OUT" "[(q['processing'], q['live_instances'], q['dead_instances'])
                   for q in d['queues']] == [(0, 1, 0), (0, 1, 0), (0, 0, 0)]"
    # the next to run is the right end of the list: I1, submitted first
    check "$OUT" "d['queues'][2]['oldest_created_at'] == int(argv[0]) and
                  d['queues'][2]['oldest_age_ms'] >= 0 and d['queues'][0]['oldest_age_ms'] is None" \
        "$(rcli HGET "rhai:task:{$I1}" created_at)"
    FAILED_SUM=0
    for k in $(rcli --scan --pattern 'rhai:failed:{beta}:*'); do
        FAILED_SUM=$((FAILED_SUM + $(rcli GET "$k")))
    done
    check "$OUT" "[q['failed_1h'] for q in d['queues']] == [0, int(argv[0]), 0] and
                  int(argv[0]) == 1" "$FAILED_SUM"
}
ctl 0 queues && { has "$OUT" '^WORKER +QUEUED +PROCESSING +OLDEST +FAILED/1H'
                  has "$OUT" '^idle +2 +0 '; }

# ---- tasks ---------------------------------------------------------------------------
ctl 0 tasks --json && {
    check "$OUT" "d['count'] == 5 and sorted(t['id'] for t in d['tasks']) == sorted(argv)" \
        "$A1" "$A2" "$A3" "$B1" "$B2"
    check "$OUT" "[t['finished_at'] for t in d['tasks']] ==
                  sorted((t['finished_at'] for t in d['tasks']), reverse=True)"
    check "$OUT" "{t['id']: (t['status'], t['error_kind'], t['worker_id']) for t in d['tasks']}
                  [argv[0]] == ('error', 'script', 'beta')" "$B1"
    check "$OUT" "all(t['status'] == 'done' and t['attempts'] == 1 and t['error'] is None
                      for t in d['tasks'] if t['id'] != argv[0])" "$B1"
}
ctl 0 tasks --status error --json &&
    check "$OUT" "[(t['id'], t['status'], t['error']) for t in d['tasks']]
                  == [(argv[0], 'error', 'Error: boom (line 1)')]" "$B1"
ctl 0 tasks --limit 2 --json && check "$OUT" "d['count'] == 2 and len(d['tasks']) == 2"
ctl 0 tasks --worker alpha --status done --limit 2 --json &&
    check "$OUT" "d['count'] == 2 and all(t['worker_id'] == 'alpha' for t in d['tasks'])"
ctl 0 tasks --worker nobody --json && check "$OUT" "d == {'tasks': [], 'count': 0}"
ctl 0 tasks --status error && { has "$OUT" "^$B1 +beta +error +script +1 "
                                 CHECKS=$((CHECKS + 1))
                                 [ "$(wc -l <"$OUT")" = 2 ] || fail "tasks --status error: not 2 lines"; }

# ---- task retry ----------------------------------------------------------------------
ctl 0 task retry "$A1" && R1=$(cat "$OUT")
CHECKS=$((CHECKS + 1))
[[ "${R1:-}" =~ ^[A-Za-z0-9_.:@-]+$ ]] && [ "$R1" != "$A1" ] || fail "retry printed '${R1:-}'"
for _ in $(seq 100); do
    [ "$(rcli HGET "rhai:task:{$R1}" status)" = done ] && break
    sleep 0.1
done
ctl 0 task show "$A1" --json && cp "$OUT" "$WORK/orig.json"
ctl 0 task show "$R1" --json && check "$OUT" \
    "d['status'] == 'done' and d['id'] == argv[1] and d['worker_id'] == 'alpha' and
     d['output'] == json.load(open(argv[0]))['output'] == 42" "$WORK/orig.json" "$R1"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "rhai:task:{$R1}" args)" = "$(rcli HGET "rhai:task:{$A1}" args)" ] &&
[ "$(rcli HGET "rhai:task:{$R1}" script)" = "$(rcli HGET "rhai:task:{$A1}" script)" ] &&
[ "$(rcli HGET "rhai:task:{$R1}" timeout_ms)" = "$(rcli HGET "rhai:task:{$A1}" timeout_ms)" ] ||
    fail "the retry's script, args or timeout differ from the original's"
ctl 0 task retry --wait --json "$A3" && check "$OUT" \
    "d['id'] != argv[0] and d['status'] == 'done' and d['output'] == [1, 2] and
     d['logs'].rstrip() == 'x'" "$A3"
ctl 1 task retry --wait "$B1" && has "$ERR" 'script: Error: boom' && has "$ERR" "retry of $B1"
ctl 1 task retry "$I1" && has "$ERR" 'is queued: only finished tasks'
ctl 7 task retry no-such-task

# ---- queue purge -----------------------------------------------------------------------
# A submit that waits on a third idle task exits 6 once the queue is purged.
timeout 30 "$CTL" --redis-url "$URL" submit -e '3' --worker idle --timeout 20000 \
    >"$WORK/bg.out" 2>"$WORK/bg.err" </dev/null &
BG=$!
BGS+=("$BG")
for _ in $(seq 100); do
    [ "$(rcli LLEN 'rhai:queue:{idle}')" = 3 ] && break
    sleep 0.1
done
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{idle}')" = 3 ] || fail "the waiting submit queued nothing"
I3=$(rcli LINDEX 'rhai:queue:{idle}' 0)
ctl 0 queue purge idle --json &&
    check "$OUT" "d == {'worker_id': 'idle', 'cancelled': 3, 'dropped': 0}"
wait "$BG"
BG_RC=$?
CHECKS=$((CHECKS + 1))
[ "$BG_RC" = 6 ] || { fail "the waiting submit exited $BG_RC after the purge, expected 6"
                      sed 's/^/  stderr: /' "$WORK/bg.err" | head -3; }
for id in "$I1" "$I2" "$I3"; do
    ctl 0 task show "$id" --json &&
        check "$OUT" "d['status'] == 'cancelled' and d['error_kind'] == 'cancelled' and
                      d['finished_at'] > 0"
    CHECKS=$((CHECKS + 1))
    rcli LINDEX "rhai:reply:{$id}" 0 | grep -q '"status":"cancelled"' ||
        fail "no cancelled reply for $id"
done
CHECKS=$((CHECKS + 1))
[ "$(rcli EXISTS 'rhai:queue:{idle}')" = 0 ] || fail "the purged queue still exists"
ctl 0 queue purge idle && has "$OUT" '^purged idle: cancelled 0 queued tasks$'

# ---- top ---------------------------------------------------------------------------------
ctl 0 top --json --interval 300 && {
    check "$OUT" "sorted(i['worker_id'] for i in d['instances']) == ['alpha', 'beta'] and
                  isinstance(d['tasks_per_s'], float) and d['measured_per_s'] is not None"
    check "$OUT" "set(d['latency_ms']) == {'count', 'p50', 'p90', 'p99'}"
    check "$OUT" "[(q['worker_id'], q['queued']) for q in d['queues']] ==
                  [('alpha', 0), ('beta', 0)]"
}
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s top -x 120 -y 40 \
    "'$CTL' --redis-url '$URL' top; echo \$? >'$WORK/top.rc'" ||
    die "tmux cannot start a session"
pane() { tmux -S "$TMUX_SOCK" capture-pane -p -t top >"$WORK/pane" 2>/dev/null; }
wait_pane() {               # wait_pane REGEX...: all of them on the screen (15 s)
    local re ok
    for _ in $(seq 150); do
        pane
        ok=1
        for re in "$@"; do grep -qE -- "$re" "$WORK/pane" || { ok=0; break; }; done
        [ "$ok" = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
CHECKS=$((CHECKS + 1))
wait_pane '^throughput: [0-9]+\.[0-9] tasks/s' '^alpha +[^ ]+ +\[[.#]{20}\] +[0-9]+/2 ' \
          '^beta +[^ ]+ +\[[.#]{20}\] +[0-9]+/1 ' '^WORKER +QUEUED' ||
    { fail "top never showed throughput and both instances:"; sed 's/^/  | /' "$WORK/pane"; }
# Tasks finishing while top runs give it latencies from the events.
ctl 0 submit -e '1' --worker alpha
ctl 0 submit -e '2' --worker beta
CHECKS=$((CHECKS + 1))
wait_pane '^latency: +p50 [0-9.]+m?s +p90 [0-9.]+m?s +p99 [0-9.]+m?s .*[0-9]+ tasks' ||
    { fail "top never showed latency percentiles:"; sed 's/^/  | /' "$WORK/pane"; }
tmux -S "$TMUX_SOCK" send-keys -t top q
for _ in $(seq 100); do [ -s "$WORK/top.rc" ] && break; sleep 0.1; done
CHECKS=$((CHECKS + 1))
[ "$(cat "$WORK/top.rc" 2>/dev/null)" = 0 ] ||
    fail "top did not exit 0 on q (rc '$(cat "$WORK/top.rc" 2>/dev/null)')"
for _ in $(seq 50); do tmux -S "$TMUX_SOCK" has-session -t top 2>/dev/null || break; sleep 0.1; done
CHECKS=$((CHECKS + 1))
tmux -S "$TMUX_SOCK" has-session -t top 2>/dev/null && fail "the top pane is still there after q"

# ---- a dead instance, recovered by requeue-dead ----------------------------------------
# alpha drains and leaves; then beta dies (kill -9) while it runs a long
# task. With no live instance left nobody recovers it but rhaictl.
kill -TERM "$ALPHA_PID"
for _ in $(seq 100); do kill -0 "$ALPHA_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ALPHA_PID" 2>/dev/null
CHECKS=$((CHECKS + 1))
kill -0 "$ALPHA_PID" 2>/dev/null && fail "alpha did not exit on SIGTERM"
BETA_MEMBER=$(rcli SMEMBERS rhai:workers | grep '^{beta}:')
timeout 60 "$CTL" --redis-url "$URL" submit --worker beta --timeout 20000 \
    -e 'var s = Date.now(); while (Date.now() - s < 2000) {} "long"' \
    >"$WORK/long.out" 2>"$WORK/long.err" </dev/null &
LONG=$!
BGS+=("$LONG")
LID=
for _ in $(seq 100); do
    LID=$(rcli LINDEX "rhai:processing:$BETA_MEMBER" 0)
    [ -n "$LID" ] && [ "$(rcli HGET "rhai:task:{$LID}" status)" = running ] && break
    LID=
    sleep 0.05
done
[ -n "$LID" ] || die "the long task never ran on beta"
kill -KILL "$BETA_PID"
wait "$BETA_PID" 2>/dev/null
for _ in $(seq 100); do
    timeout 10 "$CTL" --redis-url "$URL" workers --json >"$OUT" 2>/dev/null
    [ "$(get "$OUT" "d['dead']")" = 1 ] && break
    sleep 0.1
done
ctl 0 workers --json && check "$OUT" \
    "[(i['worker_id'], i['state'], i['processing'], i['pid'], i['busy']) for i in d['instances']]
     == [('beta', 'dead', 1, None, None)] and d['live'] == 0 and d['dead'] == 1 and
     '{%s}:%s' % ('beta', d['instances'][0]['instance']) == argv[0]" "$BETA_MEMBER"
ctl 0 workers && has "$OUT" '^beta .* dead +holds 1 task id until recovered'
ctl 0 queues --json && check "$OUT" \
    "[(q['worker_id'], q['queued'], q['processing'], q['live_instances'], q['dead_instances'])
      for q in d['queues']] == [('beta', 0, 1, 0, 1)]"
ctl 0 queue requeue-dead alpha && has "$OUT" '^no dead instance of alpha'
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN "rhai:processing:$BETA_MEMBER")" = 1 ] || fail "requeue-dead alpha touched beta"
ctl 0 queue requeue-dead beta --json && check "$OUT" \
    "d == {'dead_instances': 1, 'requeued': 1, 'failed': 0, 'instances': [argv[0]]}" \
    "$BETA_MEMBER"
ctl 0 workers --json && check "$OUT" "d == {'instances': [], 'live': 0, 'dead': 0}"
ctl 0 queues --json && check "$OUT" "[(q['worker_id'], q['queued'], q['processing'])
                                      for q in d['queues']] == [('beta', 1, 0)] and
                                     int(argv[0]) == 1" "$(rcli LLEN 'rhai:queue:{beta}')"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "rhai:task:{$LID}" status)" = queued ] || fail "the recovered task is not queued"
ctl 0 queue requeue-dead && has "$OUT" '^recovered 0 dead instances'

# A new beta instance takes it: the waiting submit gets its result.
start_rhaid beta 1 beta2 && BETA2_PID=$STARTED
wait "$LONG"
LONG_RC=$?
CHECKS=$((CHECKS + 1))
[ "$LONG_RC" = 0 ] && [ "$(cat "$WORK/long.out")" = '"long"' ] ||
    { fail "the recovered task's submit exited $LONG_RC with '$(cat "$WORK/long.out")'"
      sed 's/^/  stderr: /' "$WORK/long.err" | head -3; }
ctl 0 task show "$LID" --json && check "$OUT" \
    "d['status'] == 'done' and d['attempts'] == 2 and d['output'] == 'long' and
     '{beta}:' + d['instance'] != argv[0]" "$BETA_MEMBER"
ctl 0 workers --json && check "$OUT" \
    "[(i['worker_id'], i['state'], i['pid']) for i in d['instances']] ==
     [('beta', 'live', int(argv[0]))]" "$BETA2_PID"

# Redis unreachable: exit 5.
CLOSED=$(free_port)
for c in workers queues tasks "queue requeue-dead"; do
    CHECKS=$((CHECKS + 1))
    # shellcheck disable=SC2086
    timeout 30 "$CTL" --redis-url "redis://127.0.0.1:$CLOSED" $c >"$OUT" 2>"$ERR"
    RC=$?
    [ "$RC" = 5 ] || fail "$c against a closed port exited $RC, expected 5"
done

[ "$FAILS" -eq 0 ] || { for f in "$WORK"/*.log; do echo "--- $f"; tail -10 "$f"; done; }
echo "test_ctl_monitor: $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
