#!/usr/bin/env bash
# test_with_redis_cluster.sh -- tools/with-redis-cluster.sh: CMD runs
# against a 3+3 cluster that is ok on every node, CMD's exit status is
# the script's, and every node and the temp dir are gone afterwards, also
# when CMD fails.
#   bash test_with_redis_cluster.sh SOURCE_DIR
set -u
src=${1:?usage: test_with_redis_cluster.sh SOURCE_DIR}
out=$(mktemp -d "${TMPDIR:-/tmp}/rhai-wrc-test-XXXXXX")
trap 'rm -rf "$out"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

unset RHAI_TEST_CLUSTER_NODES
# CMD: note the nodes and the dir, check the cluster, then exit 3
"$src/tools/with-redis-cluster.sh" bash -c '
    echo "$RHAI_TEST_CLUSTER_NODES" >"$0/nodes"
    n=0; masters=0
    for a in ${RHAI_TEST_CLUSTER_NODES//,/ }; do
        p=${a##*:}
        redis-cli -p "$p" cluster info | grep -q "^cluster_state:ok" || exit 10
        redis-cli -p "$p" role | head -1 | grep -q master && masters=$((masters + 1))
        n=$((n + 1))
    done
    [ "$n" = 6 ] && [ "$masters" = 3 ] || exit 11
    [ "$RHAI_REDIS_URL" = "redis://${RHAI_TEST_CLUSTER_NODES%%,*}" ] || exit 12
    exit 3' "$out" 2>"$out/stderr"
rc=$?
[ "$rc" = 3 ] || fail "exit status $rc, wanted CMD's 3 ($(cat "$out/stderr"))"
[ -s "$out/nodes" ] || fail "CMD did not run"
for a in $(tr ',' ' ' <"$out/nodes"); do
    redis-cli -p "${a##*:}" ping >/dev/null 2>&1 && fail "node $a still answers"
done
dir=$(sed -n 's/.*(\(.*rhai-cluster-[^)]*\)).*/\1/p' "$out/stderr" | head -1)
[ -n "$dir" ] || fail "no temp dir named on stderr"
[ -n "$dir" ] && [ -e "$dir" ] && fail "temp dir $dir left behind"

# A set RHAI_TEST_CLUSTER_NODES is used as is: nothing started
RHAI_TEST_CLUSTER_NODES=127.0.0.1:1 "$src/tools/with-redis-cluster.sh" \
    sh -c '[ "$RHAI_TEST_CLUSTER_NODES" = 127.0.0.1:1 ]' 2>"$out/stderr2" ||
    fail "a given RHAI_TEST_CLUSTER_NODES was not kept"
[ -s "$out/stderr2" ] && fail "started something though nodes were given"

[ "$fails" = 0 ] && echo "ok: with-redis-cluster.sh" && exit 0
exit 1
