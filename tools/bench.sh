#!/usr/bin/env bash
# tools/bench.sh [TASKS] [INFLIGHT] -- measure the spine on this machine.
# Builds an optimised tree (build-bench), starts a throwaway redis-server
# (or uses $RHAI_REDIS_URL) and one rhaid with 2 executors, runs rhai_bench
# and redis-benchmark, then rhai_bench_floor (the same kind of traffic
# through a relay that does no work: the floor under issue 7's targets),
# prints one "name value unit" line per figure and
# rewrites the figures table of docs/performance.md. Then rhai_bench_engine:
# the sandbox's per-task cost broken down, without Redis. Then
# tools/bench-store.sh: the store's figures on sqlite and postgres
# (RHAI_BENCH_STORE=0 leaves them out, RHAI_BENCH_CONTEXTS sets how many
# contexts; default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TASKS=${1:-20000}
INFLIGHT=${2:-256}

tools/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhaid rhai_bench rhai_bench_engine rhai_bench_floor >/dev/null

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

# CPU time (ticks) of a process: "self" (user + system) or "reaped" (its
# waited-for children's, rhaid's recycled executors for one).
ticks() {
    awk -v w="$2" '{print (w == "self" ? $14 + $15 : $16 + $17)}' /proc/$1/stat
}

# Executors' CPU: the live ones' own plus the recycled ones rhaid reaped.
exec_ticks() {
    local t ex
    t=$(ticks "$1" reaped)
    for ex in $(pgrep -P "$1"); do t=$((t + $(ticks "$ex" self))); done
    echo "$t"
}

bench() {
    set -euo pipefail
    local out work pid port rpid r0 d0 e0 c0
    work=$(mktemp -d)
    # as root, executors run as nobody: it must reach the data dir, which
    # holds context files only (rhaid refuses one holding other files)
    chmod 0711 "$work"
    "$ROOT/build-bench/bin/rhaid" --redis-url "$RHAI_REDIS_URL" --worker-id bench \
        --concurrency 2 --data-dir "$work/data" --log-level warn 2>"$work/rhaid.log" &
    pid=$!
    sleep 1
    mem idle "$pid"
    port=${RHAI_REDIS_URL##*:}; port=${port%%/*}
    rpid=$(redis-cli -p "$port" info server | awk -F: '/^process_id/ {print $2+0}')
    redis-cli -p "$port" config resetstat >/dev/null
    r0=$(ticks "$rpid" self); d0=$(ticks "$pid" self); e0=$(exec_ticks "$pid")
    c0=$(ticks $$ reaped)
    out=$(timeout 600 "$ROOT/build-bench/bin/rhai_bench" "$RHAI_REDIS_URL" bench "$TASKS" "$INFLIGHT")
    echo "$out"
    # Where the CPU of one task went, over the whole rhai_bench run (its
    # sequential, concurrent and throughput phases: TASKS + 1200 tasks),
    # in us per task; the client's figure includes a few redis-cli calls.
    awk -v n=$((TASKS + 1200)) -v hz="$(getconf CLK_TCK)" \
        -v r=$(( $(ticks "$rpid" self) - r0 )) -v d=$(( $(ticks "$pid" self) - d0 )) \
        -v e=$(( $(exec_ticks "$pid") - e0 )) -v c=$(( $(ticks $$ reaped) - c0 )) 'BEGIN {
        printf "cpu_redis_per_task %.0f us\n", r * 1e6 / hz / n
        printf "cpu_rhaid_per_task %.0f us\n", d * 1e6 / hz / n
        printf "cpu_executors_per_task %.0f us\n", e * 1e6 / hz / n
        printf "cpu_client_per_task %.0f us\n", c * 1e6 / hz / n }'
    # Redis's own account of its scripts (redis.call inside them included)
    redis-cli -p "$port" info commandstats |
        awk -F'[:=,]' '/^cmdstat_evalsha:/ {printf "redis_evalsha_per_call %.1f us\n", $7}'
    mem loaded "$pid"
    kill -TERM "$pid"; wait "$pid" || true
    redis-benchmark -p "$port" -q -n 100000 -t ping,lpush -P 1 --csv 2>/dev/null |
        awk -F'","' 'NR>1 {gsub(/"/,""); split($0,a,","); printf "redis_benchmark_%s %.0f req/s\n", tolower(a[1]), a[2]}'
    # The floor under the targets: a do-nothing relay instead of rhaid
    timeout 300 "$ROOT/build-bench/bin/rhai_bench_floor" "$RHAI_REDIS_URL" "$TASKS" "$INFLIGHT"
    rm -rf "$work"
}
export -f bench mem ticks exec_ticks
export ROOT TASKS INFLIGHT
results=$(tools/with-redis.sh bash -c bench)
# (c) and (d): the sandbox's per-task cost, no Redis
results+=$'\n'$(timeout 600 build-bench/bin/rhai_bench_engine build-bench/bin/rhai-executor 5 2>/dev/null)
# (e) the store on both backends (issue 17): tools/bench-store.sh, with
# RHAI_BENCH_CONTEXTS contexts (default 10000; RHAI_BENCH_STORE=0 skips it)
if [ "${RHAI_BENCH_STORE:-1}" != 0 ]; then
    results+=$'\n'$(tools/bench-store.sh "${RHAI_BENCH_CONTEXTS:-10000}" 2>/dev/null | grep -v '^#')
fi
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
