#!/usr/bin/env bash
# tools/bench-cmdstats.sh [RHAID] [TASKS] [INFLIGHT] -- where Redis's time
# goes per task: one rhai_bench run (TASKS tasks, INFLIGHT in flight; the
# rhai_bench next to RHAID, BENCH= overrides) against RHAID (default
# build-bench's, 2 executors) on a fresh throwaway redis-server, then
# Redis's and rhaid's CPU per task (/proc ticks) and INFO commandstats per
# task, most costly first. Calls made inside scripts are counted both on
# their own lines and in EVALSHA's time. Bounded: rhai_bench 300 s.
# Figures in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-bench/bin/rhaid}; TASKS=${2:-20000}; INF=${3:-256}
BENCH=${BENCH:-$(dirname "$BIN")/rhai_bench}
if [ "$BIN" = build-bench/bin/rhaid ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target rhaid rhai-executor rhai_bench >/dev/null
fi
d=$(mktemp -d); chmod 0711 "$d"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" >/dev/null 2>&1 &
rp=$!
"$BIN" --redis-url "redis://127.0.0.1:$port" --worker-id ab --concurrency 2 \
    --data-dir "$d/data" --log-level warn 2>"$d/log" &
pid=$!
trap 'kill $pid $rp 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
redis-cli -p "$port" config resetstat >/dev/null
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
r0=$(ticks $rp); d0=$(ticks $pid)
timeout 300 "$BENCH" "redis://127.0.0.1:$port" ab "$TASKS" "$INF" |
    awk '/^(seq_roundtrip_p50|conc16_roundtrip_p50|throughput_trivial) /{printf "%s=%s ", $1, $2}'
n=$((TASKS + 1200))           # rhai_bench's warm-up and latency tasks too
awk -v n=$n -v hz="$(getconf CLK_TCK)" -v r=$(( $(ticks $rp) - r0 )) -v w=$(( $(ticks $pid) - d0 )) \
    'BEGIN{printf "redis_us=%.1f rhaid_us=%.1f (per task)\n", r*1e6/hz/n, w*1e6/hz/n}'
redis-cli -p "$port" info commandstats | tr -d '\r' |
    awk -F'[:=,]' -v n=$n '/^cmdstat_/ {printf "  %-26s calls/task=%.2f us/task=%.2f us/call=%.2f\n", $1, $3/n, $5/n, $7}' |
    sort -t= -k3 -rn
