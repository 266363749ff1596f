#!/usr/bin/env bash
# tools/bench-events.sh [TASKS] [RATE] -- events (issue 20) for
# docs/performance.md, on a throwaway redis-server and one rhaid
# (concurrency 2) with a sqlite data dir. Prints "name value unit":
#   emit_to_start_p50_ms, _p99_ms, _max_ms
#                    a subscriber task's started_at minus its event's time
#                    (unix ms at emit), over TASKS (default 2000) root tasks
#                    submitted at RATE/s (default 200), each emitting one
#                    event to one subscription: commit, result, relay
#                    (subscriber task created and queued), take, claim,
#                    start. Both clocks are the same host's.
#   run_plain_ms, run_write_ms, run_emit_ms, run_emit_sub_ms, run_emit100_ms
#                    mean run time (finished_at - started_at) of 1000 tasks
#                    each: "1" (no store), one DSL write, one emit with no
#                    subscriber, one emit with one subscriber, 100 emits
#                    (the per-task cap); the difference to run_write_ms is
#                    the cost of emit inside a task.
# Binaries: $RHAI_BIN (default: an optimised build in build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
RATE=${2:-200}
M=1000

if [ -z "${RHAI_BIN:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DRHAI_BUILD_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target rhaid rhai-executor rhaictl >/dev/null
    RHAI_BIN=$PWD/build-bench/bin
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-bench-events-XXXXXX")
chmod 711 "$work"             # a root rhaid runs executors as nobody
pids=()
ok=0
cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "$ok" = 1 ] || tail -n 5 "$work"/rhaid.log >&2 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do cli PING >/dev/null 2>&1 && break; sleep 0.05; done
ctl() { "$RHAI_BIN/rhaictl" --redis-url "redis://127.0.0.1:$port" "$@"; }
ctl context create bench --owner bench --data-dir "$work/data" >/dev/null
ctl on add tick --context bench --event bench.tick --worker default -e '1' --caller bench \
    --data-dir "$work/data" >/dev/null
"$RHAI_BIN/rhaid" --redis-url "redis://127.0.0.1:$port" --data-dir "$work/data" \
    --concurrency 2 --task-index-max 1000000 --log-level warn >"$work/rhaid.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    [ "$(cli --raw EVAL "return #redis.call('KEYS', 'rhai:worker:*')" 0)" -ge 1 ] && break
    sleep 0.05
done

# submit(PREFIX, COUNT, SCRIPT, RATE): COUNT tasks PREFIX-i paced at RATE/s
submit() {
    python3 - "$1" "$2" "$3" "$4" "$port" <<'EOF'
import socket, sys, time
pre, n, script, rate, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def resp(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = str(x).encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
for i in range(n):
    tid = "%s-%d" % (pre, i)
    now = int(time.time() * 1000)
    s.sendall(resp("HSET", "rhai:task:{default}:%s" % tid, "id", tid, "script", script,
                   "worker_id", "default", "context_id", "bench", "caller_id", "bench",
                   "created_at", now, "status", "queued", "attempts", "0") +
              resp("LPUSH", "rhai:queue:{default}", tid))
    due = t0 + (i + 1) / rate
    if due > time.time():
        time.sleep(due - time.time())
s.settimeout(30)
want, got = 2 * n, b""
while got.count(b"\r\n") < want:      # every reply read: ":N\r\n" each
    got += s.recv(65536)
EOF
}
# wait until DONE tasks finished in the index (bounded: 10 min)
wait_done() {
    for _ in $(seq 60000); do
        [ "$(cli ZCARD 'rhai:tasks:{default}')" -ge "$1" ] && return 0
        sleep 0.01
    done
    echo "bench-events: only $(cli ZCARD 'rhai:tasks:{default}') of $1 tasks finished" >&2
    exit 1
}
mean_run() {   # mean_run PREFIX COUNT: mean finished_at - started_at
    cli --raw EVAL "
local s = 0
for i = 0, tonumber(ARGV[2]) - 1 do
  local h = redis.call('HMGET', 'rhai:task:{default}:' .. ARGV[1] .. '-' .. i, 'started_at', 'finished_at')
  s = s + tonumber(h[2]) - tonumber(h[1])
end
return string.format('%.2f', s / tonumber(ARGV[2]))" 0 "$1" "$2"
}

done=0
# emit to subscriber start
submit lat "$N" "emit('bench.tick', {i: 1}); 1" "$RATE"
done=$((done + 2 * N)); wait_done $done
cli --raw EVAL "
local lat = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local id = 'ev:lat-' .. i .. '.1:tick'
  local h = redis.call('HMGET', 'rhai:task:{default}:' .. id, 'event', 'started_at')
  local at = tonumber(string.match(h[1], '\"time\":(%d+)'))
  lat[#lat + 1] = tonumber(h[2]) - at
end
table.sort(lat)
local function p(q) return lat[math.max(1, math.ceil(#lat * q))] end
return {p(0.5), p(0.99), lat[#lat]}" 0 "$N" >"$work/lat"
mapfile -t L <"$work/lat"
# the cost of emit inside a task
submit plain $M "1" 1000000;                                         done=$((done + M)); wait_done $done
submit write $M "Account.create({name: 'x', owner: 'bench', balance: 1}); 1" 1000000; done=$((done + M)); wait_done $done
submit emit $M "emit('bench.none', {i: 1}); 1" 1000000;              done=$((done + M)); wait_done $done
submit emitsub $M "emit('bench.tick', {i: 1}); 1" 1000000;           done=$((done + 2 * M)); wait_done $done
submit emit100 $M "for (var i = 0; i < 100; i++) emit('bench.none', {i: i}); 1" 1000000
done=$((done + M)); wait_done $done

echo "tasks $N count (emit to start, at $RATE/s)"
echo "emit_to_start_p50_ms ${L[0]} ms"
echo "emit_to_start_p99_ms ${L[1]} ms"
echo "emit_to_start_max_ms ${L[2]} ms"
echo "run_plain_ms $(mean_run plain $M) ms"
echo "run_write_ms $(mean_run write $M) ms"
echo "run_emit_ms $(mean_run emit $M) ms"
echo "run_emit_sub_ms $(mean_run emitsub $M) ms"
echo "run_emit100_ms $(mean_run emit100 $M) ms"
ok=1
