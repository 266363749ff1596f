#!/usr/bin/env bash
# tools/quickstart.sh -- README command 1: the main job end to end.
# Installs missing packages, builds, uses $RHAI_REDIS_URL or starts a
# throwaway redis-server, starts one rhaid worker, submits every script in
# examples/ with rhaictl and prints each result, then stops the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

tools/deps.sh
BUILD=${RHAI_QUICKSTART_BUILD_DIR:-build-quickstart}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRHAI_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target rhaid rhaictl >/dev/null
BIN=$ROOT/$BUILD/bin

run() {
    local work rhaid_pid rc=0
    work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-quickstart-XXXXXX")
    "$BIN/rhaid" --redis-url "$RHAI_REDIS_URL" --worker-id quickstart --concurrency 2 \
        --data-dir "$work/data" --log-level warn 2>"$work/rhaid.log" &
    rhaid_pid=$!
    trap 'kill -TERM $rhaid_pid 2>/dev/null; wait $rhaid_pid 2>/dev/null; rm -rf "$work"' RETURN
    echo "worker 'quickstart' started (pid $rhaid_pid)"
    for f in examples/*.js; do
        local args="{}"
        [ -f "${f%.js}.args.json" ] && args=$(cat "${f%.js}.args.json")
        printf '\n== %s  args=%s\n' "$f" "$args"
        if timeout 60 "$BIN/rhaictl" submit "$f" --worker quickstart --args "$args"; then
            :
        else
            echo "   (exit $?)"
            rc=1
        fi
    done
    echo
    kill -TERM "$rhaid_pid"
    wait "$rhaid_pid" && echo "worker stopped cleanly" || echo "worker exit status $?"
    return $rc
}

export -f run 2>/dev/null || true
export BIN
if [ -n "${RHAI_REDIS_URL:-}" ]; then
    run
else
    # with-redis.sh exports RHAI_REDIS_URL for the function's subshell
    tools/with-redis.sh bash -c "$(declare -f run); BIN='$BIN'; run"
fi
