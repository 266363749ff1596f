#!/usr/bin/env bash
# tools/with-redis-cluster.sh CMD... -- run CMD against a throwaway Redis
# Cluster of 3 masters and 3 replicas on 127.0.0.1, with
# RHAI_TEST_CLUSTER_NODES=127.0.0.1:P1,...,127.0.0.1:P6 (and
# RHAI_REDIS_URL=redis://127.0.0.1:P1, a seed) in its environment.
#
# If RHAI_TEST_CLUSTER_NODES is already set it is used as is. Otherwise six
# redis-server --cluster-enabled yes start on free ports in a temp dir,
# redis-cli --cluster create joins them (--cluster-replicas 1), and the
# script waits until every node reports cluster_state:ok and agrees on the
# slots; then CMD runs. Every node is stopped and the dir removed when CMD
# ends, whatever happens. Setup is bounded (RHAI_CLUSTER_SETUP_S, 60 s).
# RHAI_CLUSTER_KEEP=1 keeps the dir (node logs) for a post-mortem.
set -euo pipefail

if [ -n "${RHAI_TEST_CLUSTER_NODES:-}" ]; then
    exec "$@"
fi

n=6
dir=$(mktemp -d "${TMPDIR:-/tmp}/rhai-cluster-XXXXXX")
pids=()
ports=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "${RHAI_CLUSTER_KEEP:-0}" = 1 ]; then
        echo "with-redis-cluster: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT INT TERM

deadline=$(( $(date +%s) + ${RHAI_CLUSTER_SETUP_S:-60} ))
left() { [ "$(date +%s)" -lt "$deadline" ]; }
fail() { echo "with-redis-cluster: $*" >&2; tail -n 5 "$dir"/*/redis.log >&2 2>/dev/null || true; exit 1; }

free_port() {
    # A free port for the node and for its bus (port + 10000) too.
    python3 -c '
import socket, random
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p + 10000 > 65535: s.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000)); b.close(); s.close(); print(p); break
    except OSError:
        s.close(); b.close()
'
}

start_node() {       # start_node INDEX: a node in $dir/INDEX, on a free port
    local i=$1 port pid
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        [ -n "$port" ] || continue
        mkdir -p "$dir/$i"
        redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$i" --save '' \
            --appendonly no --daemonize no --logfile "$dir/$i/redis.log" \
            --cluster-enabled yes --cluster-config-file "$dir/$i/nodes.conf" \
            --cluster-node-timeout 2000 &
        pid=$!
        for _ in $(seq 100); do
            if redis-cli -p "$port" ping >/dev/null 2>&1; then
                pids+=("$pid"); ports+=("$port"); return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    return 1
}

for i in $(seq 0 $((n - 1))); do
    start_node "$i" || fail "could not start node $i"
done

addrs=()
for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
# redis-cli waits for the join without a bound of its own
timeout $(( deadline - $(date +%s) + 1 )) \
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; fail "cluster create failed"; }

# Every node: cluster_state:ok, 16384 slots ok, and the same epoch view
# (CLUSTER SLOTS answers identically), so a test's first map is final.
while :; do
    ok=1
    ref=""
    for p in "${ports[@]}"; do
        info=$(redis-cli -p "$p" cluster info 2>/dev/null || true)
        case "$info" in
        *cluster_state:ok*cluster_slots_ok:16384*) ;;
        *cluster_slots_ok:16384*cluster_state:ok*) ;;
        *) ok=0; break ;;
        esac
        s=$(redis-cli -p "$p" cluster slots 2>/dev/null | sort | tr '\n' ' ')
        if [ -z "$ref" ]; then ref=$s; elif [ "$s" != "$ref" ]; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && break
    left || fail "cluster not ok within ${RHAI_CLUSTER_SETUP_S:-60} s"
    sleep 0.1
done

RHAI_TEST_CLUSTER_NODES=$(IFS=,; echo "${addrs[*]}")
export RHAI_TEST_CLUSTER_NODES
export RHAI_REDIS_URL="redis://${addrs[0]}"
echo "with-redis-cluster: 3+3 cluster at $RHAI_TEST_CLUSTER_NODES ($dir)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
