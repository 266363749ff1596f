#!/usr/bin/env bash
# tools/quickstart.sh -- README command 1: the main job end to end.
# Installs missing packages, builds, uses $RHAI_REDIS_URL or starts a
# throwaway redis-server, starts one rhaid worker, submits every script in
# examples/ with rhaictl and prints each result, then stops the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

tools/deps.sh
if [ -n "${RHAI_QUICKSTART_BIN:-}" ]; then
    BIN=$RHAI_QUICKSTART_BIN            # binaries already built (the test suite's)
else
    BUILD=${RHAI_QUICKSTART_BUILD_DIR:-build-quickstart}
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRHAI_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target rhaid rhaictl >/dev/null
    BIN=$ROOT/$BUILD/bin
fi

run() {
    local work rhaid_pid rc=0
    work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-quickstart-XXXXXX")
    # Run as root, rhaid starts its executors as an unprivileged user
    # (executor_user, default nobody), which must reach the data dir:
    # mktemp's 0700 would stop it, and rhaid would refuse to start.
    chmod 0711 "$work"
    # DSL scripts act in a context, which must exist: "acme", owned by the
    # caller the examples are submitted as.
    "$BIN/rhaictl" context create acme --owner alice --data-dir "$work/data" >/dev/null
    echo "context 'acme' created in $work/data, owner alice"
    "$BIN/rhaid" --redis-url "$RHAI_REDIS_URL" --worker-id quickstart --concurrency 2 \
        --data-dir "$work/data" --log-level warn 2>"$work/rhaid.log" &
    rhaid_pid=$!
    trap 'kill -TERM $rhaid_pid 2>/dev/null; wait $rhaid_pid 2>/dev/null; rm -rf "$work"' RETURN
    # rhaictl submit refuses at once when no live instance serves the
    # worker id: wait (10 s at most) for rhaid's first heartbeat.
    for _ in $(seq 100); do
        "$BIN/rhaictl" workers --worker quickstart --json 2>/dev/null |
            grep -q '"state": *"live"' && break
        kill -0 "$rhaid_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "worker 'quickstart' started (pid $rhaid_pid)"
    for f in examples/*.js; do
        local args="{}"
        [ -f "${f%.js}.args.json" ] && args=$(cat "${f%.js}.args.json")
        printf '\n== %s  args=%s\n' "$f" "$args"
        if timeout 60 "$BIN/rhaictl" submit "$f" --worker quickstart --args "$args" \
            --context acme --caller alice; then
            :
        else
            echo "   (exit $?)"
            rc=1
        fi
    done
    # Authorization: bob holds no grant in acme, so his DSL call is denied
    # (exit 4) and audited; then alice grants him read on Company.
    printf '\n== bob reads acme'"'"'s companies without a grant (expect denied, exit 4)\n'
    timeout 60 "$BIN/rhaictl" submit -e 'Company.list({limit: 3}).length' \
        --worker quickstart --context acme --caller bob && rc=1 || echo "   (exit $?)"
    "$BIN/rhaictl" acl grant acme bob --model Company --ops read --data-dir "$work/data"
    printf '\n== bob again, granted read on Company\n'
    timeout 60 "$BIN/rhaictl" submit -e 'Company.list({limit: 3}).map(function (c) { return c.name; })' \
        --worker quickstart --context acme --caller bob || rc=1
    printf '\n== the newest rows of acme'"'"'s audit log\n'
    "$BIN/rhaictl" audit acme --limit 4 --data-dir "$work/data" || rc=1
    echo
    kill -TERM "$rhaid_pid"
    if wait "$rhaid_pid"; then
        echo "worker stopped cleanly"
    else
        echo "worker exit status $?; its log:"
        cat "$work/rhaid.log"
        rc=1
    fi
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
