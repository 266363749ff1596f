#!/usr/bin/env bash
# test_quickstart.sh -- README command 1 (tools/quickstart.sh) end to end
# with the suite's binaries: its own throwaway redis-server, one rhaid (as
# root: executors as nobody), every example submitted, the denial, the
# grant and the audit log. It broke once without a test: a 0700 work dir
# kept rhaid's executors' user out, and submits raced rhaid's start.
#   test_quickstart.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1 SRC=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }

unset RHAI_REDIS_URL                    # start its own, as a newcomer's would
RHAI_QUICKSTART_BIN=$BIN timeout 240 bash "$SRC/tools/quickstart.sh" >"$out" 2>&1
rc=$?
check "quickstart exits 0 (was $rc)" '[ $rc -eq 0 ]'
n=$(ls "$SRC"/examples/*.js | wc -l)
check "every example ($n) is submitted" '[ $(grep -c "^== examples/" "$out") -eq $n ]'
check "no submit failed" '! grep -q "^   (exit [0-35-9])" "$out"'
check "the ungranted read is denied (exit 4)" 'grep -q "^denied: PermissionDenied" "$out" && grep -q "^   (exit 4)" "$out"'
check "the worker stops cleanly" 'grep -q "^worker stopped cleanly" "$out"'
[ $fail -eq 0 ] || { echo "--- quickstart output:"; cat "$out"; }
exit $fail
