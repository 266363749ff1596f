#!/usr/bin/env bash
# test_ctl_dead.sh -- the dead-letter sets (issue 19, item 3): a task whose
# executor is killed -9 max_attempts times, and one whose instance died
# while running it max_attempts times (recovery), end crashed in
# rhai:dead:{W} with their history and no TTL; rhaictl dead list (filters),
# show, retry (two at once: one run), delete, --all with --dry-run; rhaid
# trims the set by size and by age; queues shows the DEAD count.
#   bash test_ctl_dead.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_dead.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir
redis_start "${2:-}" "${3:-}"
CTL_URL=$URL
json_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$1"; }
in_dead() { [ -n "$(rcli ZSCORE "rhai:dead:{$1}" "$2")" ]; }

# ---- executor killed -9 max_attempts (2) times -> crashed, dead ---------------
rhaid_start dw dw 1 --max-attempts 2 --heartbeat-ms 200
DW_PID=$RHAID_PID
rhaid_wait "$DW_PID"
# loops until its own timeout (3 s): long enough to be killed, short enough
# to end by itself when retried later
ctl 0 submit -e 'while(true){}' --worker dw --timeout 3000 --no-wait && CID=$(cat "$OUT")
running() { [ "$(rcli HGET "$(tkey "$1")" status)" = running ]; }
CHECKS=$((CHECKS + 1)); poll 100 running "$CID" || fail "the looping task never ran"
# kill every executor of rhaid until the task is dead: kills of an idle
# executor count no attempt, so this ends after the second kill under it
kill_executors() {
    in_dead dw "$CID" && return 0
    pkill -9 -P "$DW_PID" 2>/dev/null
    return 1
}
CHECKS=$((CHECKS + 1))
poll 150 kill_executors || fail "task not in rhai:dead:{dw} after its executors were killed"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "$CID")" error_kind)" = crashed ] ||
    fail "error_kind $(rcli HGET "$(tkey "$CID")" error_kind), expected crashed"
CHECKS=$((CHECKS + 1))
[ "$(rcli TTL "$(tkey "$CID")")" = -1 ] || fail "a dead task's hash has a TTL"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "$CID")" dead_at)" = "$(rcli ZSCORE "rhai:dead:{dw}" "$CID")" ] ||
    fail "dead_at is not the dead set's score"
ctl 0 dead show "$CID" --json && json "d['dead'] and d['error_kind'] == 'crashed' and \
    len(d['errors']) == 1 and d['errors'][0]['error_kind'] == 'crashed'"
ctl 0 dead show "$CID" && has "$OUT" 'failed attempts:'

# ---- an instance dying while it runs the task, recovered at max_attempts ------
rhaid_start dr dr 1 --heartbeat-ms 200 --heartbeat-ttl-ms 1000
DR1=$RHAID_PID
rhaid_wait "$DR1"
ctl 0 submit -e 'while(true){}' --worker dr --timeout 60000 --no-wait && RID=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 100 running "$RID" || fail "the dr task never ran"
kill -9 "$DR1"; wait "$DR1" 2>/dev/null
# the same data dir: the sqlite split guard would refuse another while
# dr1's heartbeat lives
rhaid_start dr dr 1 --heartbeat-ms 200 --heartbeat-ttl-ms 1000 --max-attempts 1
rhaid_wait "$RHAID_PID"
CHECKS=$((CHECKS + 1)); poll 150 in_dead dr "$RID" || fail "recovery did not put $RID in dead:{dr}"
CHECKS=$((CHECKS + 1))
[ "$(rcli TTL "$(tkey "$RID")")" = -1 ] || fail "a recovered dead task's hash has a TTL"
ctl 0 dead show "$RID" --json && json "d['error_kind'] == 'crashed' and d['status'] == 'error' \
    and d['errors'][-1]['error_kind'] == 'crashed' and d['errors'][-1]['attempt'] == 1"

# ---- list and its filters -------------------------------------------------------
ctl 0 dead list && { has "$OUT" "$CID"; has "$OUT" "$RID"; has_re "$OUT" '^ID +WORKER +DIED'; }
ctl 0 dead list dw --json && json "d['count'] == 1 and d['dead'][0]['id'] == '$CID' \
    and d['dead'][0]['error_kind'] == 'crashed' and d['dead'][0]['worker_id'] == 'dw'"
ctl 0 dead list --error-kind crashed --json && json "d['count'] == 2"
ctl 0 dead list --error-kind timeout,script --json && json "d['count'] == 0 and d['total'] == 2"
ctl 0 dead list --older-than 1h --json && json "d['count'] == 0"
ctl 0 dead list --older-than 1ms --json && json "d['count'] == 2"
ctl 0 dead list --limit 1 --json && json "d['count'] == 1"
ctl 2 dead list --error-kind bogus && has "$ERR" 'error kinds'
ctl 2 dead list --older-than 7 && has "$ERR" 'duration'
ctl 2 dead retry && has "$ERR" '--all'
ctl 2 dead show "$CID" --older-than 1h
ctl 0 queues --json && json "[q for q in d['queues'] if q['worker_id'] == 'dw'][0]['dead_letters'] == 1"
ctl 0 queues && has_re "$OUT" '^WORKER +QUEUED +PROCESSING +OLDEST +FAILED/1H +DEAD'

# ---- retry: two at once, one run ----------------------------------------------------
# paused, so the queue shows how many runs the retries queued
ctl 0 queue pause dw
"$CTL" --redis-url "$URL" dead retry "$CID" >"$WORK/r1.out" 2>"$WORK/r1.err" &
R1=$!
"$CTL" --redis-url "$URL" dead retry "$CID" >"$WORK/r2.out" 2>"$WORK/r2.err" &
R2=$!
wait "$R1"; RC1=$?
wait "$R2"; RC2=$?
CHECKS=$((CHECKS + 1))
[ "$((RC1 + RC2))" = 7 ] && [ "$((RC1 * RC2))" = 0 ] ||
    fail "two retries at once exited $RC1 and $RC2, expected 0 and 7"
CHECKS=$((CHECKS + 1))
[ "$(rcli LLEN 'rhai:queue:{dw}')" = 1 ] || fail "two retries queued $(rcli LLEN 'rhai:queue:{dw}') runs"
CHECKS=$((CHECKS + 1)); in_dead dw "$CID" && fail "a retried task is still dead"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "$CID")" status)" = queued ] &&
    [ "$(rcli HEXISTS "$(tkey "$CID")" dead_at)" = 0 ] &&
    [ "$(rcli HGET "$(tkey "$CID")" attempts)" = 0 ] || fail "a retried task is not queued afresh"
ctl 7 dead retry "$CID" && has "$ERR" 'not in the dead-letter set'
ctl 0 queue resume dw
ended() { [ "$(rcli HGET "$(tkey "$1")" status)" = "$2" ]; }
CHECKS=$((CHECKS + 1)); poll 150 ended "$CID" timeout || fail "the retried task did not run to its timeout"
CHECKS=$((CHECKS + 1))
[ "$(rcli HGET "$(tkey "$CID")" attempts)" = 1 ] || fail "the retried task ran $(rcli HGET "$(tkey "$CID")" attempts) times"
CHECKS=$((CHECKS + 1))
python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e[0]["error_kind"] == "crashed" else 1)' \
    "$(rcli HGET "$(tkey "$CID")" errors)" || fail "the retried task lost its error history"

# ---- delete -------------------------------------------------------------------------
ctl 0 dead delete "$RID" && has "$OUT" "deleted $RID"
CHECKS=$((CHECKS + 1)); in_dead dr "$RID" && fail "a deleted task is still dead"
CHECKS=$((CHECKS + 1))
T=$(rcli PTTL "$(tkey "$RID")"); [ "$T" -gt 0 ] || fail "a deleted task's hash has PTTL $T"
ctl 7 dead delete "$RID"
ctl 7 dead show "$RID"

# ---- bounds: rhaid trims by age, then the oldest beyond dead_max --------------------
# dead tasks made by hand (their hashes as rhaid leaves them), two of them
# older than dead_max_age_ms, five recent: the two old ones go, then the
# two oldest recent ones (dead_max 3)
NOW=$(($(date +%s%N) / 1000000))
fake() {    # fake ID KIND AGE_MS
    rcli HSET "rhai:task:{dt}:$1" status error error_kind "$2" worker_id dt error "boom $1" \
        attempts 1 dead_at $((NOW - $3)) >/dev/null
    rcli ZADD 'rhai:dead:{dt}' $((NOW - $3)) "$1" >/dev/null
}
fake old1 crashed 7200000; fake old2 script 7100000
fake r1 crashed 50000; fake r2 timeout 40000; fake r3 crashed 30000; fake r4 timeout 20000
fake r5 crashed 10000
ctl 0 dead list dt --error-kind timeout --json && json "[e['id'] for e in d['dead']] == ['r2', 'r4']"
ctl 0 dead retry --all dt --error-kind crashed --older-than 2h --dry-run --json &&
    json "d['dry_run'] and d['ids'] == ['old1']"
ctl 0 dead delete --all dt --older-than 1h --dry-run && has "$OUT" 'would delete 2 dead tasks'
CHECKS=$((CHECKS + 1)); [ "$(rcli ZCARD 'rhai:dead:{dt}')" = 7 ] || fail "--dry-run changed the set"
rhaid_start dt dt 1 --heartbeat-ms 200 --dead-max 3 --dead-max-age-ms 3600000
rhaid_wait "$RHAID_PID"
trimmed() { [ "$(rcli ZCARD 'rhai:dead:{dt}')" = 3 ]; }
CHECKS=$((CHECKS + 1)); poll 100 trimmed || fail "dead:{dt} holds $(rcli ZCARD 'rhai:dead:{dt}'), expected 3"
CHECKS=$((CHECKS + 1))
[ "$(rcli ZRANGE 'rhai:dead:{dt}' 0 -1 | tr '\n' ' ')" = "r3 r4 r5 " ] ||
    fail "trim kept $(rcli ZRANGE 'rhai:dead:{dt}' 0 -1 | tr '\n' ' '), expected the newest r3 r4 r5"
for t in old1 old2 r1 r2; do
    CHECKS=$((CHECKS + 1))
    T=$(rcli PTTL "rhai:task:{dt}:$t"); [ "$T" -gt 0 ] || fail "trimmed $t's hash has PTTL $T"
done
CHECKS=$((CHECKS + 1))
[ "$(rcli PTTL 'rhai:task:{dt}:r5')" = -1 ] || fail "a kept dead task got a TTL"
# bulk: --all with a filter, counted
ctl 0 dead delete --all dt --error-kind timeout && has "$OUT" 'deleted 1 dead task'
ctl 0 dead retry --all dt --json && json "d['changed'] == 2 and sorted(d['ids']) == ['r3', 'r5']"
CHECKS=$((CHECKS + 1)); [ "$(rcli ZCARD 'rhai:dead:{dt}')" = 0 ] || fail "dead:{dt} not empty"
ctl 0 dead --help && has "$OUT" 'Exit codes:'
finish
