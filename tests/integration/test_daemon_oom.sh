#!/usr/bin/env bash
# test_daemon_oom.sh -- rhaid out of memory at any point of a task's life:
# with RHAI_TEST_ALLOC_FAIL_AFTER=N (a test hook armed once the loop runs)
# the N-th allocation of rhaid's loop fails, for every N of a range that
# covers taking, claiming, sending to an executor, reading the result,
# building and sending the finish, and the heartbeats around them. Each
# time three tasks are run: each must be answered with its output (a
# result rhaid had no memory to read counts as a crash: the task runs
# again), none left waiting in a live instance, and rhaid must still serve
# and stop cleanly (exit 0, nothing leaked under ASan). Found stranded
# tasks, and tasks answered `invalid` or `internal` for a failed
# allocation (fixed with this test).
# Then N = FIRST..EV_LAST with a task that emits an event a subscription
# relays (a task of its own): the emitting task and its subscriber end done.
#   bash test_daemon_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST] [EV_LAST]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_daemon_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST] [EV_LAST]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir
redis_start "${2:-}" "${3:-}"
# rhaid NAME (the last started) still serves and stops with exit 0
stop_checked() { rhaid_stop_checked "$1" "n=$n: rhaid"; }
FIRST=${4:-1}
LAST=${5:-120}
EV_LAST=${6:-60}

for n in $(seq "$FIRST" "$LAST"); do
    rcli FLUSHALL >/dev/null
    export RHAI_TEST_ALLOC_FAIL_AFTER=$n
    rhaid_start "oom-$n" oom 2 --heartbeat-ms 100 --heartbeat-ttl-ms 600 --log-level info
    unset RHAI_TEST_ALLOC_FAIL_AFTER
    rhaid_wait "$RHAID_PID"
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
        [ "$out" = "$((i * 7))" ] || fail "n=$n: task $i answered '$out' / '$err'"
    done
    stop_checked "oom-$n"
done

# ---- the same with an event relayed: a task in context shop emits
# order.paid, whose subscription starts one task on worker oom (its id
# ev:...); both must end, the subscriber's exactly once
mkdir -p "$WORK/data-ev"
CTL_URL=$URL
ctl 0 context create shop --owner ops --data-dir "$WORK/data-ev"
ctl 0 on add sub1 --context shop --event 'order.*' --worker oom -e 'ctx.event.payload.id * 2' \
    --caller ops --as ops --data-dir "$WORK/data-ev"
chmod -R o+rwX "$WORK/data-ev"
subs() {
    timeout 5 "$CTL" --redis-url "$URL" tasks -w oom --json 2>/dev/null | python3 -c '
import json, sys
t = [x for x in json.load(sys.stdin)["tasks"] if x["id"].startswith("ev:")]
print(",".join(x["status"] + ("" if x["status"] == "done" else ":" + str(x.get("error"))) for x in t))'
}
sub_ended() { case "$(subs)" in done|error:*) return 0;; esac; return 1; }
for n in $(seq "$FIRST" "$EV_LAST"); do
    rcli FLUSHALL >/dev/null
    export RHAI_TEST_ALLOC_FAIL_AFTER=$n
    rhaid_start "ev-$n" oom 2 --data-dir "$WORK/data-ev" --heartbeat-ms 100 \
        --heartbeat-ttl-ms 600 --log-level info
    unset RHAI_TEST_ALLOC_FAIL_AFTER
    rhaid_wait "$RHAID_PID"
    CTL_TIMEOUT=20 ctl 0 submit -w oom -c shop -u ops -e 'emit("order.paid", {id: 21}); 1' &&
        is "$OUT" 1
    CHECKS=$((CHECKS + 1))
    poll 100 sub_ended || true
    s=$(subs)
    [ "$s" = done ] || fail "n=$n: subscriber tasks '$s', expected one done"
    stop_checked "ev-$n"
done
finish
