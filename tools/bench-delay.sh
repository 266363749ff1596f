#!/usr/bin/env bash
# tools/bench-delay.sh [TASKS] [INSTANCES] [CONCURRENCY] -- due-task start
# latency (issue 19) for docs/performance.md: TASKS (default 10000) trivial
# delayed tasks, all due at the same instant 3 s after they were written,
# served by INSTANCES (default 2) rhaid instances of CONCURRENCY (default 2)
# executors each, on a throwaway redis-server. Prints "name value unit":
#   promote_all_ms   due time -> the delayed set empty (every task moved
#                    to the queue, by whichever instances' promotion)
#   start_p50_ms, start_p99_ms, start_max_ms, start_min_ms
#                    started_at - run_at over every task (read from the
#                    task hashes: the instances' clocks, the same host)
#   drain_ms         due time -> the last task finished
# The start latency of 10 000 tasks due at once is mostly the queue's drain
# (throughput of INSTANCES x CONCURRENCY executors); start_min_ms and
# promote_all_ms show the promotion's own delay.
# Binaries: $RHAI_BIN (default: an optimised build in build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
INST=${2:-2}
CONC=${3:-2}

if [ -z "${RHAI_BIN:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target rhaid rhai-executor >/dev/null
    RHAI_BIN=$PWD/build-bench/bin
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-bench-delay-XXXXXX")
chmod 711 "$work"             # a root rhaid runs executors as nobody
pids=()
ok=0
cleanup() {
    # the instances first (newest first), then redis-server
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "$ok" = 1 ] || tail -n 3 "$work"/rhaid-*.log >&2 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.05; done
for i in $(seq "$INST"); do
    "$RHAI_BIN/rhaid" --redis-url "redis://127.0.0.1:$port" --data-dir "$work/data" \
        --concurrency "$CONC" --log-level warn >"$work/rhaid-$i.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 200); do
    [ "$(cli --raw EVAL "return #redis.call('KEYS', 'rhai:worker:*')" 0)" -ge "$INST" ] && break
    sleep 0.05
done

now=$(date +%s%3N)
due=$((now + 3000))
python3 - "$N" "$now" "$due" >"$work/cmds" <<'EOF'
import sys
n, now, due = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def resp(*a):
    out = "*%d\r\n" % len(a)
    for x in a:
        x = str(x)
        out += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    return out
w = sys.stdout.write
for i in range(n):
    tid = "bd-%d" % i
    w(resp("HSET", "rhai:task:{default}:%s" % tid, "id", tid, "script", "1", "worker_id", "default",
           "created_at", now, "status", "scheduled", "attempts", "0", "run_at", due))
    w(resp("ZADD", "rhai:delayed:{default}", due, tid))
EOF
cli --pipe <"$work/cmds" >/dev/null

# the delayed set empty, then every task finished (bounded: 10 min)
promoted=""
for _ in $(seq 120000); do
    if [ -z "$promoted" ] && [ "$(cli ZCARD 'rhai:delayed:{default}')" = 0 ]; then
        promoted=$(date +%s%3N)
    fi
    [ -n "$promoted" ] && [ "$(cli ZCARD 'rhai:tasks:{default}')" -ge "$N" ] && break
    sleep 0.005
done
cli --raw EVAL "
local lat, last = {}, 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local h = redis.call('HMGET', 'rhai:task:{default}:bd-' .. i, 'run_at', 'started_at', 'finished_at')
  lat[#lat + 1] = tonumber(h[2]) - tonumber(h[1])
  if tonumber(h[3]) > last then last = tonumber(h[3]) end
end
table.sort(lat)
local function p(q) return lat[math.max(1, math.ceil(#lat * q))] end
return {p(0.5), p(0.99), lat[#lat], lat[1], last - tonumber(ARGV[2])}" 0 "$N" "$due" \
    >"$work/lat"
mapfile -t L <"$work/lat"
echo "tasks $N count"
echo "instances $INST x concurrency $CONC"
echo "promote_all_ms $((promoted - due)) ms"
echo "start_p50_ms ${L[0]} ms"
echo "start_p99_ms ${L[1]} ms"
echo "start_max_ms ${L[2]} ms"
echo "start_min_ms ${L[3]} ms"
echo "drain_ms ${L[4]} ms"
ok=1
