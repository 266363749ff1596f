#!/usr/bin/env bash
# test_ctl_signed.sh BIN_DIR [REDIS_SERVER REDIS_CLI] -- rhaictl keygen +
# submit --key against a rhaid that requires signatures: signed runs,
# unsigned is denied (exit 4), a bad key file is a usage error (exit 2).
# Starts and stops its own redis-server (the one CMake found, else the one
# on PATH) and rhaid; every step bounded by timeout.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_signed.sh BIN_DIR [REDIS_SERVER REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
rhaid_start signed signed 1 --require-signatures 1
rhaid_wait "$RHAID_PID"
CTL_URL=$URL

PK=
CTL_URL='' CTL_TIMEOUT=10 ctl 0 keygen --out "$WORK/me.key" && PK=$(cat "$OUT")
CHECKS=$((CHECKS + 1))
[ "${#PK}" = 64 ] || fail "keygen printed '${PK:-}', not a 64-hex public key"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$WORK/me.key" 2>/dev/null)" = 600 ] || fail "the secret key file is not mode 0600"
CTL_URL='' CTL_TIMEOUT=10 ctl 2 keygen --out "$WORK/me.key"   # refuses to overwrite it

# The signed task's caller is the public key; unsigned is denied.
ctl 0 submit -e 'ctx.caller_id' --worker signed --key "$WORK/me.key" && is "$OUT" "\"$PK\""
ctl 4 submit -e '1' --worker signed && has "$ERR" "denied"

echo "nonsense" >"$WORK/bad.key"
CTL_TIMEOUT=10 ctl 2 submit -e '1' --worker signed --key "$WORK/bad.key"
finish
