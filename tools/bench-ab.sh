#!/usr/bin/env bash
# tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT] -- the
# same client (build-bench's rhai_bench) against two rhaid binaries in
# turn, ROUNDS times alternated, on one throwaway redis-server: how
# docs/performance.md records a change's before and after on a machine
# whose speed drifts. An old rhaid comes from a worktree, e.g.
#   git worktree add /tmp/old REV && cmake -S /tmp/old -B /tmp/old/b \
#     -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF && cmake --build /tmp/old/b
# Each rhaid is driven by the rhai_bench next to it (OLD_BENCH / NEW_BENCH
# override; build-bench's when there is none): two protocol versions (key
# layout v1 and v2) need each its own client.
# Prints per run: the rhai_bench figures that compare, the idle RSS (kB)
# of rhaid + its executors, and the CPU per task (us, over the whole
# rhai_bench run, TASKS + 1200 tasks) of redis-server and of rhaid, with
# the script calls per task and Redis's own time in them (INFO
# commandstats: evalsha + eval usec); then one interleaved run: both
# rhaids at once, ROUNDS x 1000 sequential round trips alternated between
# them by one client (chunks of 100 alternated by the two clients when the
# clients differ), which separates small latency changes from the
# machine's drift. Last, rhai_bench_floor's relay and atomic figures of
# the same run (sequential p50, throughput, Redis CPU per task).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT]}
NEW=${2:?usage: tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT]}
export ROUNDS=${3:-3} TASKS=${4:-20000} INFLIGHT=${5:-256} OLD NEW
export BENCH=$PWD/build-bench/bin/rhai_bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhai_bench rhai_bench_floor >/dev/null
export FLOOR=$PWD/build-bench/bin/rhai_bench_floor
client_of() {
    if [ -x "$(dirname "$1")/rhai_bench" ]; then echo "$(dirname "$1")/rhai_bench"; else echo "$BENCH"; fi
}
OLD_BENCH=${OLD_BENCH:-$(client_of "$OLD")}
NEW_BENCH=${NEW_BENCH:-$(client_of "$NEW")}
export OLD_BENCH NEW_BENCH

# CPU ticks (user + system) of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

one() {
    set -euo pipefail
    local bin=$1 bench=$2 work pid rss=0 p port rpid r0 d0
    work=$(mktemp -d)
    chmod 0711 "$work"              # a root rhaid's executors run as nobody
    "$bin" --redis-url "$RHAI_REDIS_URL" --worker-id ab --concurrency 2 \
        --data-dir "$work/data" --log-level warn 2>"$work/log" &
    pid=$!
    sleep 1
    for p in $pid $(pgrep -P "$pid"); do
        rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status")))
    done
    port=${RHAI_REDIS_URL##*:}; port=${port%%/*}
    rpid=$(redis-cli -p "$port" info server | awk -F: '/^process_id/ {print $2+0}')
    redis-cli -p "$port" config resetstat >/dev/null
    r0=$(ticks "$rpid"); d0=$(ticks "$pid")
    timeout 300 "$bench" "$RHAI_REDIS_URL" ab "$TASKS" "$INFLIGHT" |
        awk '/^(redis_ping_p50|seq_roundtrip_p50|conc16_roundtrip_p50|throughput_trivial) / \
             {printf "%s=%s ", $1, $2}'
    awk -v n=$((TASKS + 1200)) -v hz="$(getconf CLK_TCK)" -v r=$(( $(ticks "$rpid") - r0 )) \
        -v d=$(( $(ticks "$pid") - d0 )) 'BEGIN {
        printf "cpu_redis_us=%.1f cpu_rhaid_us=%.1f ", r * 1e6 / hz / n, d * 1e6 / hz / n }'
    redis-cli -p "$port" info commandstats | tr -d '\r' |
        awk -F'[:=,]' -v n=$((TASKS + 1200)) '/^cmdstat_(evalsha|eval):/ {c += $3; u += $5}
            END {printf "scripts_per_task=%.2f script_us=%.1f ", c / n, u / n}'
    echo "idle_rss_kb=$rss"
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$work"
}
# Both rhaids at once (worker ids a and b), sequential round trips
# alternated between them by one client: the same moments for both.
interleaved() {
    set -euo pipefail
    local wa wb pa pb
    wa=$(mktemp -d); wb=$(mktemp -d)
    chmod 0711 "$wa" "$wb"          # a root rhaid's executors run as nobody
    "$OLD" --redis-url "$RHAI_REDIS_URL" --worker-id a --concurrency 2 \
        --data-dir "$wa/data" --log-level warn 2>"$wa/log" &
    pa=$!
    "$NEW" --redis-url "$RHAI_REDIS_URL" --worker-id b --concurrency 2 \
        --data-dir "$wb/data" --log-level warn 2>"$wb/log" &
    pb=$!
    sleep 1
    if [ "$OLD_BENCH" -ef "$NEW_BENCH" ]; then
        timeout 300 "$NEW_BENCH" "$RHAI_REDIS_URL" a --seq-ab b "$((ROUNDS * 1000))" |
            sed 's/_a /_old /; s/_b /_new /' | awk '{printf "%s=%s ", $1, $2} END {print ""}'
    else
        # two clients: chunks of 2 x 50 round trips (each client's --seq-ab
        # on its own worker id twice), alternated; the median of the chunks
        for i in $(seq "$((ROUNDS * 10))"); do
            timeout 60 "$OLD_BENCH" "$RHAI_REDIS_URL" a --seq-ab a 50 |
                awk '/^seq_roundtrip_p50_/ {print "old", $2}'
            timeout 60 "$NEW_BENCH" "$RHAI_REDIS_URL" b --seq-ab b 50 |
                awk '/^seq_roundtrip_p50_/ {print "new", $2}'
        done | sort -k1,1 -k2n | awk '{v[$1] = v[$1] " " $2; n[$1]++}
            END {for (k in v) {split(substr(v[k], 2), a, " ");
                 printf "seq_roundtrip_p50_%s=%s ", k, a[int((n[k] + 1) / 2)]} print "(median of chunk p50s)"}'
    fi
    kill -TERM "$pa" "$pb"
    wait "$pa" "$pb" || true
    rm -rf "$wa" "$wb"
}
runs() {
    set -euo pipefail
    for i in $(seq "$ROUNDS"); do
        echo -n "old: "; one "$OLD" "$OLD_BENCH"
        echo -n "new: "; one "$NEW" "$NEW_BENCH"
    done
    echo -n "interleaved: "; interleaved
    # the floor of the same run (tools/bench/floor.c): a relay that does no
    # work, and the protocol's writes as plain pipelined commands
    echo -n "floor: "
    timeout 300 "$FLOOR" "$RHAI_REDIS_URL" "$TASKS" "$INFLIGHT" |
        awk '/^floor_(relay|atomic)_(seq_p50|throughput|cpu_redis_per_task) / {printf "%s=%s ", $1, $2}
             END {print ""}'
}
export -f one runs interleaved ticks
tools/with-redis.sh bash -c runs
