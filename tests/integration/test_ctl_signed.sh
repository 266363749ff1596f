#!/usr/bin/env bash
# test_ctl_signed.sh BIN_DIR -- rhaictl keygen + submit --key against a
# rhaid that requires signatures: signed runs, unsigned is denied (exit 4),
# a bad key file is a usage error (exit 2). Starts and stops its own
# redis-server and rhaid; every step bounded by timeout.
set -u
bin=$1
dir=$(mktemp -d); rpid=""; wpid=""
cleanup() { [ -n "$wpid" ] && kill "$wpid" 2>/dev/null; [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail=0; n=0
check() { n=$((n+1)); if [ "$1" != "$2" ]; then echo "FAIL: $3 (got '$1', want '$2')"; fail=1; else echo "ok: $3"; fi; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no >/dev/null &
rpid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url=redis://127.0.0.1:$port
"$bin/rhaid" --redis-url "$url" --worker-id signed --concurrency 1 --require-signatures 1 \
    --data-dir "$dir/data" 2>"$dir/rhaid.log" &
wpid=$!

pk=$(timeout 10 "$bin/rhaictl" keygen --out "$dir/me.key"); rc=$?
check "$rc" 0 "keygen exits 0"
check "${#pk}" 64 "keygen prints a 64-hex public key"
check "$(stat -c %a "$dir/me.key")" 600 "secret key file is mode 0600"
timeout 10 "$bin/rhaictl" keygen --out "$dir/me.key" >/dev/null 2>&1; rc=$?
check "$rc" 2 "keygen refuses to overwrite a key file"

out=$(timeout 30 "$bin/rhaictl" --redis-url "$url" submit -e 'ctx.caller_id' --worker signed --key "$dir/me.key"); rc=$?
check "$rc" 0 "signed submit exits 0"
check "$out" "\"$pk\"" "the signed task's caller is the public key"

timeout 30 "$bin/rhaictl" --redis-url "$url" submit -e '1' --worker signed >/dev/null 2>"$dir/err"; rc=$?
check "$rc" 4 "unsigned submit to a signing worker is denied (exit 4)"
grep -q "denied" "$dir/err"; check "$?" 0 "the denial says denied"

echo "nonsense" > "$dir/bad.key"
timeout 10 "$bin/rhaictl" --redis-url "$url" submit -e '1' --worker signed --key "$dir/bad.key" >/dev/null 2>&1; rc=$?
check "$rc" 2 "a malformed key file is a usage error"
echo "$n checks"
exit $fail
