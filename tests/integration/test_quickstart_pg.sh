#!/usr/bin/env bash
# test_quickstart_pg.sh -- the documented postgres demo (tools/quickstart.sh
# --postgres) end to end with the suite's binaries: its own redis-server and
# postgres, two rhaid instances of one worker id on one store, and every
# read of the shared context, whichever instance ran it, the same.
#   test_quickstart_pg.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1 SRC=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0
check() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }

unset RHAI_REDIS_URL RHAI_TEST_PG_URL   # start its own, as a newcomer's would
RHAI_QUICKSTART_BIN=$BIN timeout 240 bash "$SRC/tools/quickstart.sh" --postgres >"$out" 2>&1
rc=$?
check "quickstart --postgres exits 0 (was $rc)" '[ $rc -eq 0 ]'
check "two live instances on the postgres store" '[ $(grep -c "^shared .* live .*postgres:" "$out") -ge 4 ]'
check "six reads, each 12" '[ $(grep -c "^count 12 by instance " "$out") -eq 6 ]'
check "one truth" 'grep -q "^both instances answered from one context: one truth" "$out"'
[ $fail -eq 0 ] || { echo "--- quickstart output:"; cat "$out"; }
exit $fail
