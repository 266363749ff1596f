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
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_monitor.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
need_cmd python3 "it checks the JSON"
need_cmd tmux "tools/deps.sh installs it"
clean_env
work_dir
TMUX_SOCK=$WORK/tmux.sock
before_cleanup() { tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; }

# ---- redis-server and rhaid -------------------------------------------------------
redis_start "${3:-}" "${4:-}"
CTL_URL=$URL              # ctl: rhaictl against our redis (30 s at most)
HB=(--heartbeat-ms 200 --heartbeat-ttl-ms 1000)
rhaid_start alpha alpha 2 "${HB[@]}" && ALPHA_PID=$RHAID_PID
rhaid_start beta beta 1 "${HB[@]}" && BETA_PID=$RHAID_PID
rhaid_wait "$ALPHA_PID"
rhaid_wait "$BETA_PID"

# ---- JSON helpers ------------------------------------------------------------------
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
    ctl 0 "$c" --help && has_re "$OUT" "^Usage: rhaictl $c"
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
    # the store each instance uses, and its state (issue 17)
    check "$OUT" "all(i['store'] == 'up' and i['backend'] == 'sqlite' for i in d['instances'])"
    # the wire protocol each speaks (issue 18)
    check "$OUT" "all(i['protocol'] == 2 for i in d['instances'])"
    check "$OUT" "all(rhai == 'rhai:worker:{%s}:%s' % (i['worker_id'], i['instance'])
                      for i, rhai in zip(d['instances'], argv))" \
        $(rcli SMEMBERS rhai:workers | sort | sed 's/^/rhai:worker:/')
}
ctl 0 workers && { has_re "$OUT" '^WORKER +INSTANCE +STATE.* STORE +PROTO$'
                   has_re "$OUT" "^alpha .* live .* $ALPHA_PID .* sqlite:up +2$"
                   has_re "$OUT" "^beta .* live .* $BETA_PID "; }
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
        "$(rcli HGET "$(tkey "$I1")" created_at)"
    FAILED_SUM=0
    for k in $(rscan 'rhai:failed:{beta}:*'); do
        FAILED_SUM=$((FAILED_SUM + $(rcli GET "$k")))
    done
    check "$OUT" "[q['failed_1h'] for q in d['queues']] == [0, int(argv[0]), 0] and
                  int(argv[0]) == 1" "$FAILED_SUM"
}
ctl 0 queues && { has_re "$OUT" '^WORKER +QUEUED +PROCESSING +OLDEST +FAILED/1H'
                  has_re "$OUT" '^idle +2 +0 '; }

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
ctl 0 tasks --status error && { has_re "$OUT" "^$B1 +beta +error +script +1 "
                                 CHECKS=$((CHECKS + 1))
                                 [ "$(wc -l <"$OUT")" = 2 ] || fail "tasks --status error: not 2 lines"; }

# ---- task retry ----------------------------------------------------------------------
ctl 0 task retry "$A1" && R1=$(cat "$OUT")
CHECKS=$((CHECKS + 1))
[[ "${R1:-}" =~ ^[A-Za-z0-9_.:@-]+$ ]] && [ "$R1" != "$A1" ] || fail "retry printed '${R1:-}'"
for _ in $(seq 100); do
    [ "$(rcli HGET "$(tkey "$R1")" status)" = done ] && break
    sleep 0.1
done
ctl 0 task show "$A1" --json && cp "$OUT" "$WORK/orig.json"
ctl 0 task show "$R1" --json && check "$OUT" \
    "d['status'] == 'done' and d['id'] == argv[1] and d['worker_id'] == 'alpha' and
     d['output'] == json.load(open(argv[0]))['output'] == 42" "$WORK/orig.json" "$R1"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "$R1")" args)" = "$(rcli HGET "$(tkey "$A1")" args)" ] &&
[ "$(rcli HGET "$(tkey "$R1")" script)" = "$(rcli HGET "$(tkey "$A1")" script)" ] &&
[ "$(rcli HGET "$(tkey "$R1")" timeout_ms)" = "$(rcli HGET "$(tkey "$A1")" timeout_ms)" ] ||
    fail "the retry's script, args or timeout differ from the original's"
ctl 0 task retry --wait --json "$A3" && check "$OUT" \
    "d['id'] != argv[0] and d['status'] == 'done' and d['output'] == [1, 2] and
     d['logs'].rstrip() == 'x'" "$A3"
ctl 1 task retry --wait "$B1" && has_re "$ERR" 'script: Error: boom' && has_re "$ERR" "retry of $B1"
ctl 1 task retry "$I1" && has_re "$ERR" 'is queued: only finished tasks'
ctl 7 task retry no-such-task

# ---- queue purge -----------------------------------------------------------------------
# A submit that waits on a third idle task exits 6 once the queue is purged
# (--wait-for-worker: no instance serves idle).
timeout 30 "$CTL" --redis-url "$URL" submit -e '3' --worker idle --timeout 20000 \
    --wait-for-worker >"$WORK/bg.out" 2>"$WORK/bg.err" </dev/null &
BG=$!
BG_PIDS+=("$BG")
for _ in $(seq 100); do
    [ "$(rcli LLEN 'rhai:queue:{idle}')" = 3 ] && break
    sleep 0.1
done
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{idle}')" = 3 ] || fail "the waiting submit queued nothing"
I3=$(rcli LINDEX 'rhai:queue:{idle}' 0)
ctl 0 queue purge idle --json &&
    check "$OUT" "d == {'worker_id': 'idle', 'cancelled': 3, 'dropped': 0}"
wait_rc "$BG" 6 "$WORK/bg.err" "after the purge, the waiting submit"
for id in "$I1" "$I2" "$I3"; do
    ctl 0 task show "$id" --json &&
        check "$OUT" "d['status'] == 'cancelled' and d['error_kind'] == 'cancelled' and
                      d['finished_at'] > 0"
    CHECKS=$((CHECKS + 1))
    rcli LINDEX "rhai:reply:{idle}:$id" 0 | grep -q '"status":"cancelled"' ||
        fail "no cancelled reply for $id"
    # its lookup hint lives as long as its hash now (24 h), not the submit's 7 days
    CHECKS=$((CHECKS + 1))
    hint_ttl=$(rcli PTTL "rhai:taskw:{$id}")
    [ "$hint_ttl" -gt 0 ] && [ "$hint_ttl" -le 86400000 ] ||
        fail "the hint of $id has PTTL $hint_ttl after the purge"
done
CHECKS=$((CHECKS + 1))
[ "$(rcli EXISTS 'rhai:queue:{idle}')" = 0 ] || fail "the purged queue still exists"
# now idle has no queue key and no instance: no such queue
ctl 7 queue purge idle && has "$ERR" "no queue 'idle'"
ctl 0 queue purge alpha && has_re "$OUT" '^purged alpha: cancelled 0 queued tasks$'

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
# task. With no live instance left nobody recovers it but rhaictl. The
# submit waits for a worker (--wait-for-worker) instead of exiting 8.
kill -TERM "$ALPHA_PID"
for _ in $(seq 100); do kill -0 "$ALPHA_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ALPHA_PID" 2>/dev/null
CHECKS=$((CHECKS + 1))
kill -0 "$ALPHA_PID" 2>/dev/null && fail "alpha did not exit on SIGTERM"
BETA_MEMBER=$(rcli SMEMBERS rhai:workers | grep '^{beta}:')
timeout 60 "$CTL" --redis-url "$URL" submit --worker beta --timeout 20000 --wait-for-worker \
    -e 'var s = Date.now(); while (Date.now() - s < 2000) {} "long"' \
    >"$WORK/long.out" 2>"$WORK/long.err" </dev/null &
LONG=$!
BG_PIDS+=("$LONG")
LID=
for _ in $(seq 100); do
    LID=$(rcli LINDEX "rhai:processing:$BETA_MEMBER" 0)
    [ -n "$LID" ] && [ "$(rcli HGET "$(tkey "$LID")" status)" = running ] && break
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
ctl 0 workers && has_re "$OUT" '^beta .* dead +holds 1 task id until recovered'
ctl 0 queues --json && check "$OUT" \
    "[(q['worker_id'], q['queued'], q['processing'], q['live_instances'], q['dead_instances'])
      for q in d['queues']] == [('beta', 0, 1, 0, 1)]"
ctl 0 queue requeue-dead alpha && has_re "$OUT" '^no dead instance of alpha'
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
[ "$(rcli HGET "$(tkey "$LID")" status)" = queued ] || fail "the recovered task is not queued"
ctl 0 queue requeue-dead && has_re "$OUT" '^recovered 0 dead instances'

# A new beta instance takes it: the waiting submit gets its result.
rhaid_start beta2 beta 1 "${HB[@]}" && BETA2_PID=$RHAID_PID
wait_rc "$LONG" 0 "$WORK/long.err" "the recovered task's submit" &&
    is "$WORK/long.out" '"long"'
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

finish
