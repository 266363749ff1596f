#!/usr/bin/env bash
# tools/build-default.sh -- build the configuration a user or packager gets
# (`cmake -S . -B DIR && cmake --build DIR`, no options) with gcc and with
# clang, and fail if either build fails or prints a single warning.
# tools/test.sh runs it before the sanitizer build, so CI sees both.
#   tools/build-default.sh [compiler...]     default: gcc clang
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for cc in "${@:-gcc clang}"; do
    for c in $cc; do
        dir=${RHAI_DEFAULT_BUILD_DIR:-build-default}-$c
        mkdir -p "$dir"
        log=$dir/default-build.log
        if ! CC=$c cmake -S . -B "$dir" >"$log" 2>&1 ||
           ! cmake --build "$dir" -j"$(nproc)" >>"$log" 2>&1; then
            echo "build-default: $c: the default build failed ($log):" >&2
            grep -E "error|Error" "$log" | head -20 >&2
            status=1
            continue
        fi
        n=$(grep -c "warning:" "$log" || true)
        if [ "$n" -ne 0 ]; then
            echo "build-default: $c: $n warning(s) in the default build ($log):" >&2
            grep -A3 "warning:" "$log" | head -40 >&2
            status=1
            continue
        fi
        echo "build-default: $c: default build ok, 0 warnings"
    done
done
exit $status
