#!/usr/bin/env bash
# test_executor_oom.sh -- an executor out of memory at any point of a
# task's run: with RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER=N (a test hook armed
# when the executor's loop starts; rhaid passes it to its first executor
# only, so the one that replaces it runs clean) the N-th allocation of the
# executor fails, for every N of a range that covers reading the task
# frame, running a script that prints, a DSL create and list in a context
# (authorization, the ledger, the store), and writing the result. Four
# tasks each time, one executor, so that they run one after the other on
# the failing executor:
#   1. print("hi"); 6 * 7        done 42, or error internal "out of host memory"
#   2. Company.create(cN).name   done "cN", or that error
#   3. Company.list()            done true, or that error
#   4. how many cN exist         done, 1 exactly when task 2 said done, else 0:
#                                an answer never disagrees with the effects
# and rhaid must still serve and stop cleanly (exit 0, nothing leaked under
# ASan). An executor that exits for want of memory is a crash: the task runs
# again on a fresh one (the ledger answers one that committed).
#   bash test_executor_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_executor_oom.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI] [FIRST] [LAST]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir
redis_start "${2:-}" "${3:-}"
CTL_URL=$URL
FIRST=${4:-1}
LAST=${5:-50}
OOM='internal: out of host memory'
OOMS=0                  # tasks answered with it: the hook must have bitten
mkdir -p "$WORK/data"
ctl 0 context create acme --owner alice --data-dir "$WORK/data" || die "context create"
chmod -R o+rwX "$WORK/data"
# task I's answer: rc, then stdout and stderr on one line
sub() {
    local i=$1
    shift
    timeout 20 "$CTL" --redis-url "$URL" submit -w x "$@" >"$WORK/out-$i" 2>"$WORK/err-$i" \
        </dev/null
    echo $? >"$WORK/rc-$i"
}
answer() { echo "$(cat "$WORK/out-$1") $(cat "$WORK/err-$1")" | tr '\n' ' ' | sed 's/ *$//'; }
# task I is done with OUT, or failed with the out-of-memory error; 0 / 1 (failed)
done_or_oom() {
    CHECKS=$((CHECKS + 1))
    local i=$1 want=$2 got
    got=$(answer "$i")
    [ "$(cat "$WORK/rc-$i")" = 0 ] && [ "$(cat "$WORK/out-$i")" = "$want" ] && return 0
    [ "$(cat "$WORK/rc-$i")" = 1 ] && grep -qx "$OOM" "$WORK/err-$i" && { OOMS=$((OOMS + 1)); return 1; }
    fail "n=$n: task $i answered '$got' (rc $(cat "$WORK/rc-$i")), expected '$want' or '$OOM'"
    return 2
}

for n in $(seq "$FIRST" "$LAST"); do
    rcli FLUSHALL >/dev/null
    export RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER=$n
    rhaid_start "x-$n" x 1 --data-dir "$WORK/data" --heartbeat-ms 100 --log-level info
    unset RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER
    rhaid_wait "$RHAID_PID"
    sub 1 -e 'print("hi"); 6 * 7'
    sub 2 -c acme -u alice -e "Company.create({name: 'c$n'}).name"
    sub 3 -c acme -u alice -e 'Company.list().length >= 0'
    sub 4 -c acme -u alice -e "Company.list().filter(function (c) { return c.name == 'c$n'; }).length"
    done_or_oom 1 42
    done_or_oom 2 "\"c$n\""
    created=$?
    done_or_oom 3 true
    CHECKS=$((CHECKS + 1))
    case $created in
    0) [ "$(answer 4)" = 1 ] || fail "n=$n: c$n answered created, found '$(answer 4)' times" ;;
    1) [ "$(answer 4)" = 0 ] || fail "n=$n: c$n answered failed, found '$(answer 4)' times" ;;
    esac
    rhaid_stop_checked "x-$n" "n=$n: rhaid"
done
CHECKS=$((CHECKS + 1))
[ "$OOMS" -gt 0 ] || fail "no task met a failed allocation: is the test hook compiled in?"
echo "tasks answered '$OOM': $OOMS"
finish
