#!/usr/bin/env bash
# tools/bench-scripts.sh [ROUNDS] [TASKS] [BATCH] -- the Redis cost per task
# of each step (submit, take, start, finish) of rhaid's scripts alone, on a
# throwaway idle redis-server (tools/with-redis.sh), ROUNDS times:
# tools/bench/script_lab.py over the scripts rhai_bench_scripts_dump writes
# from this tree's rhaid; FOLD=1 in the environment: starts written by
# the finishes (start_defer_ms). Needs python3. Figures in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} TASKS=${2:-20000} BATCH=${3:-8}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target rhai_bench_scripts_dump >/dev/null
luadir=$(mktemp -d)
trap 'rm -rf "$luadir"' EXIT
build-bench/bin/rhai_bench_scripts_dump "$luadir"
export luadir ROUNDS TASKS BATCH
tools/with-redis.sh bash -c '
    port=${RHAI_REDIS_URL##*:}; port=${port%%/*}
    for i in $(seq "$ROUNDS"); do
        echo "round $i"
        python3 tools/bench/script_lab.py "$port" "$TASKS" "$BATCH" "$luadir"
    done'
