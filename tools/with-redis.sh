#!/usr/bin/env bash
# tools/with-redis.sh CMD... -- run CMD with RHAI_REDIS_URL pointing at a
# Redis. If RHAI_REDIS_URL is already set it is used as is; otherwise a
# throwaway redis-server is started on a free 127.0.0.1 port in a temp dir
# and stopped (and the dir removed) when CMD ends, whatever happens.
set -euo pipefail

if [ -n "${RHAI_REDIS_URL:-}" ]; then
    exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/rhai-redis-XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() {
    # Ask the kernel for a free port: bind to 0 and read it back.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $(( 20000 + RANDOM % 20000 ))
}

for attempt in 1 2 3 4 5; do
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
        --appendonly no --daemonize no --logfile "$dir/redis.log" &
    pid=$!
    for _ in $(seq 100); do
        if redis-cli -p "$port" ping >/dev/null 2>&1; then break 2; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    pid=""
done
[ -n "$pid" ] || { echo "with-redis: could not start redis-server" >&2; exit 1; }

export RHAI_REDIS_URL="redis://127.0.0.1:$port"
echo "with-redis: throwaway redis-server at $RHAI_REDIS_URL (pid $pid)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
