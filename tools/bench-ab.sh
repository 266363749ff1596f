#!/usr/bin/env bash
# tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT] -- the
# same client (build-bench's rhai_bench) against two rhaid binaries in
# turn, ROUNDS times alternated, on one throwaway redis-server: how
# docs/performance.md records a change's before and after on a machine
# whose speed drifts. An old rhaid comes from a worktree, e.g.
#   git worktree add /tmp/old REV && cmake -S /tmp/old -B /tmp/old/b \
#     -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF && cmake --build /tmp/old/b
# Prints per run: the rhai_bench figures that compare, and the idle RSS
# (kB) of rhaid + its executors; then one interleaved run: both rhaids at
# once, ROUNDS x 1000 sequential round trips alternated between them by one
# client, which separates small latency changes from the machine's drift.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT]}
NEW=${2:?usage: tools/bench-ab.sh OLD_RHAID NEW_RHAID [ROUNDS] [TASKS] [INFLIGHT]}
export ROUNDS=${3:-3} TASKS=${4:-20000} INFLIGHT=${5:-256} OLD NEW
export BENCH=$PWD/build-bench/bin/rhai_bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhai_bench >/dev/null

one() {
    set -euo pipefail
    local bin=$1 work pid rss=0 p
    work=$(mktemp -d)
    chmod 0711 "$work"              # a root rhaid's executors run as nobody
    "$bin" --redis-url "$RHAI_REDIS_URL" --worker-id ab --concurrency 2 \
        --data-dir "$work/data" --log-level warn 2>"$work/log" &
    pid=$!
    sleep 1
    for p in $pid $(pgrep -P "$pid"); do
        rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status")))
    done
    timeout 300 "$BENCH" "$RHAI_REDIS_URL" ab "$TASKS" "$INFLIGHT" |
        awk '/^(redis_ping_p50|seq_roundtrip_p50|conc16_roundtrip_p50|throughput_trivial) / \
             {printf "%s=%s ", $1, $2}'
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
    timeout 300 "$BENCH" "$RHAI_REDIS_URL" a --seq-ab b "$((ROUNDS * 1000))" |
        sed 's/_a /_old /; s/_b /_new /' | awk '{printf "%s=%s ", $1, $2} END {print ""}'
    kill -TERM "$pa" "$pb"
    wait "$pa" "$pb" || true
    rm -rf "$wa" "$wb"
}
runs() {
    set -euo pipefail
    for i in $(seq "$ROUNDS"); do
        echo -n "old: "; one "$OLD"
        echo -n "new: "; one "$NEW"
    done
    echo -n "interleaved: "; interleaved
}
export -f one runs interleaved
tools/with-redis.sh bash -c runs
