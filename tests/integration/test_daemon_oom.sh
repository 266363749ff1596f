#!/usr/bin/env bash
# test_daemon_oom.sh -- rhaid out of memory at any point of a task's life:
# with RHAI_TEST_ALLOC_FAIL_AFTER=N (a test hook armed once the loop runs)
# the N-th allocation of rhaid's loop fails, for every N of a range that
# covers taking, claiming, sending to an executor, reading the result,
# building and sending the finish, and the heartbeats around them. Each
# time three tasks are run: each must be answered (its output, or
# `internal` for the one result rhaid could not read), none left waiting
# in a live instance, and rhaid must still serve and stop cleanly (exit 0,
# nothing leaked under ASan). Found stranded tasks and tasks answered
# `invalid` for a failed allocation (fixed with this test).
#   bash test_daemon_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_daemon_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir
redis_start "${2:-}" "${3:-}"
FIRST=${4:-1}
LAST=${5:-120}

for n in $(seq "$FIRST" "$LAST"); do
    rcli FLUSHALL >/dev/null
    export RHAI_TEST_ALLOC_FAIL_AFTER=$n
    rhaid_start "oom-$n" oom 2 --heartbeat-ms 100 --heartbeat-ttl-ms 600 --log-level info
    unset RHAI_TEST_ALLOC_FAIL_AFTER
    pid=$RHAID_PID
    rhaid_wait "$pid"
    for i in 1 2 3; do
        timeout 20 "$CTL" --redis-url "$URL" submit -w oom -e "$i * 7" \
            >"$WORK/out-$i" 2>"$WORK/err-$i" </dev/null &
        BG_PIDS+=($!)
    done
    for i in 1 2 3; do
        wait "${BG_PIDS[-1]}" 2>/dev/null
        unset 'BG_PIDS[-1]'
    done
    for i in 1 2 3; do
        CHECKS=$((CHECKS + 1))
        out=$(cat "$WORK/out-$i")
        err=$(cat "$WORK/err-$i")
        if [ "$out" != "$((i * 7))" ] &&
            [ "$err" != "internal: out of memory reading the executor's result" ]; then
            fail "n=$n: task $i answered '$out' / '$err'"
        fi
    done
    CHECKS=$((CHECKS + 1))
    kill -0 "$pid" 2>/dev/null || fail "n=$n: rhaid exited"
    kill -TERM "$pid" 2>/dev/null
    wait_rc "$pid" 0 "$WORK/oom-$n.log" "n=$n: rhaid"
    unset 'RHAID_PIDS[-1]'
    [ "$FAILS" -eq 0 ] && rm -f "$WORK/oom-$n.log"
done
finish
