#!/usr/bin/env bash
# tools/test.sh -- README command 2: the whole test suite from a fresh clone.
# Installs missing Debian packages, builds the default configuration with gcc
# and clang (no warnings allowed), builds with -Werror under ASan+UBSan,
# and runs every test (unit and integration; integration tests start their
# own redis-server on free ports) with ctest, printing its summary. That
# includes label "cluster": the NAME_cluster tests (tests/cluster.cmake) and
# test_chaos_cluster, each on a throwaway 3+3 Redis Cluster of its own.
#   tools/test.sh [ctest args...]     e.g. tools/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
# The default configuration (no -Werror) must build warning-free with gcc
# and clang: what a user or packager gets.
tools/build-default.sh gcc clang
BUILD=${RHAI_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DRHAI_SANITIZE=ON -DRHAI_WERROR=ON \
      -DCMAKE_INSTALL_PREFIX="$PWD/$BUILD/stage" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
exec ../tools/with-redis.sh ctest --output-on-failure --timeout 600 -j2 "$@"
