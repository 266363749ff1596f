#!/usr/bin/env bash
# tools/bench.sh [TASKS] [INFLIGHT] -- measure the spine on this machine.
# Builds an optimised tree (build-bench), starts a throwaway redis-server
# (or uses $RHAI_REDIS_URL) and one rhaid with 2 executors, runs rhai_bench
# and redis-benchmark, prints one "name value unit" line per figure and
# rewrites the figures table of docs/performance.md. Then rhai_bench_engine:
# the sandbox's per-task cost broken down, without Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TASKS=${1:-20000}
INFLIGHT=${2:-256}

tools/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhaid rhai_bench rhai_bench_engine >/dev/null

# Memory of rhaid + its executors: summed RSS (shared library pages
# counted once per process) and summed PSS (shared pages divided among the
# processes that map them: what the three really cost together).
mem() {
    local rss=0 pss=0 p
    for p in $2 $(pgrep -P "$2"); do
        rss=$((rss + $(awk '/VmRSS/ {print $2}' /proc/$p/status)))
        pss=$((pss + $(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup)))
    done
    echo "rss_rhaid_plus_executors_$1 $rss kB"
    echo "pss_rhaid_plus_executors_$1 $pss kB"
}

bench() {
    set -euo pipefail
    local out work pid port
    work=$(mktemp -d)
    "$ROOT/build-bench/bin/rhaid" --redis-url "$RHAI_REDIS_URL" --worker-id bench \
        --concurrency 2 --data-dir "$work" --log-level warn 2>"$work/rhaid.log" &
    pid=$!
    sleep 1
    mem idle "$pid"
    out=$(timeout 600 "$ROOT/build-bench/bin/rhai_bench" "$RHAI_REDIS_URL" bench "$TASKS" "$INFLIGHT")
    echo "$out"
    mem loaded "$pid"
    kill -TERM "$pid"; wait "$pid" || true
    port=${RHAI_REDIS_URL##*:}; port=${port%%/*}
    redis-benchmark -p "$port" -q -n 100000 -t ping,lpush -P 1 --csv 2>/dev/null |
        awk -F'","' 'NR>1 {gsub(/"/,""); split($0,a,","); printf "redis_benchmark_%s %.0f req/s\n", tolower(a[1]), a[2]}'
    rm -rf "$work"
}
export -f bench mem
export ROOT TASKS INFLIGHT
results=$(tools/with-redis.sh bash -c bench)
# (c) and (d): the sandbox's per-task cost, no Redis
results+=$'\n'$(timeout 600 build-bench/bin/rhai_bench_engine build-bench/bin/rhai-executor 5 2>/dev/null)
echo "$results"

{
    sed '/^<!-- figures -->/,$d' docs/performance.md 2>/dev/null || true
    echo "<!-- figures -->"
    echo "Last run: $(date -u +%Y-%m-%d), $(nproc) cores, \`tools/bench.sh $TASKS $INFLIGHT\`"
    echo
    echo "| figure | value | unit |"
    echo "|---|---|---|"
    echo "$results" | awk '{printf "| %s | %s | %s |\n", $1, $2, $3}'
} > docs/performance.md.new
mv docs/performance.md.new docs/performance.md
