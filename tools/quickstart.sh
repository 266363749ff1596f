#!/usr/bin/env bash
# tools/quickstart.sh -- README command 1: the main job end to end.
# Installs missing packages, builds, uses $RHAI_REDIS_URL or starts a
# throwaway redis-server, starts one rhaid worker, submits every script in
# examples/ with rhaictl and prints each result, then stops the worker.
#
# tools/quickstart.sh --postgres: the shared store instead (issue 17). Starts
# a throwaway PostgreSQL (tools/with-postgres.sh) and two rhaid instances of
# one worker id on it, as two hosts would run them; tasks from both write
# one context, and every read, whichever instance runs it, sees one truth.
set -euo pipefail
mode=${1:-}
case $mode in
    ""|--postgres) ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown option $mode (try --postgres)" >&2; exit 2 ;;
esac
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

# The --postgres demo: one context on a postgres store served by two
# instances of worker "shared" (each would be on its own host).
run_pg() {
    local work pids=() rc=0 url=$RHAI_TEST_PG_URL i out
    work=$(mktemp -d "${TMPDIR:-/tmp}/rhai-quickstart-pg-XXXXXX")
    chmod 0711 "$work"
    trap 'for p in "${pids[@]}"; do kill -TERM $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$work"' RETURN
    "$BIN/rhaictl" context create acme --owner alice --data-url "$url" >/dev/null || return 1
    echo "context 'acme' created on the postgres store $url, owner alice"
    for i in 1 2; do
        "$BIN/rhaid" --redis-url "$RHAI_REDIS_URL" --worker-id shared --concurrency 2 \
            --data-url "$url" --log-level warn 2>"$work/rhaid-$i.log" &
        pids+=($!)
    done
    for _ in $(seq 100); do
        "$BIN/rhaictl" workers --worker shared --json 2>/dev/null | python3 -c 'import json, sys
sys.exit(0 if sum(w.get("state") == "live" for w in json.load(sys.stdin)["instances"]) == 2 else 1)' 2>/dev/null && break
        kill -0 "${pids[0]}" 2>/dev/null && kill -0 "${pids[1]}" 2>/dev/null ||
            { echo "rhaid exited:"; cat "$work"/rhaid-*.log; return 1; }
        sleep 0.1
    done
    echo "worker 'shared': two instances on one store (pids ${pids[*]})"
    "$BIN/rhaictl" workers --worker shared || rc=1
    printf '\n== 12 tasks, each adds a company and counts them, wherever it runs\n'
    for i in $(seq 12); do
        "$BIN/rhaictl" submit --no-wait --worker shared --context acme --caller alice \
            -e "Company.create({name: 'company ' + ctx.task_id}); 1" >/dev/null || rc=1
    done
    for _ in $(seq 100); do
        out=$(timeout 60 "$BIN/rhaictl" submit -e 'Company.count()' --worker shared \
            --context acme --caller alice) || { rc=1; break; }
        [ "$out" = 12 ] && break
        sleep 0.1
    done
    printf '\n== the count, read 6 times (each read a task: either instance may run it)\n'
    for i in $(seq 6); do
        out=$(timeout 60 "$BIN/rhaictl" submit -e 'Company.count()' --worker shared \
            --context acme --caller alice --json) || rc=1
        echo "$out" | python3 -c 'import json, sys; t = json.load(sys.stdin)
print("count", t.get("output"), "by instance", t.get("instance"))
sys.exit(0 if json.loads(str(t.get("output"))) == 12 else 1)' || rc=1
    done
    printf '\n== which instance ran what\n'
    "$BIN/rhaictl" workers --worker shared || rc=1
    for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || rc=1; done
    pids=()
    [ $rc = 0 ] && echo "both instances answered from one context: one truth" \
        || { echo "the postgres demo FAILED; logs:"; cat "$work"/rhaid-*.log; }
    return $rc
}

export -f run 2>/dev/null || true
export BIN
if [ "$mode" = --postgres ]; then
    tools/with-redis.sh tools/with-postgres.sh bash -c "$(declare -f run_pg); BIN='$BIN'; run_pg"
elif [ -n "${RHAI_REDIS_URL:-}" ]; then
    run
else
    # with-redis.sh exports RHAI_REDIS_URL for the function's subshell
    tools/with-redis.sh bash -c "$(declare -f run); BIN='$BIN'; run"
fi
