#!/usr/bin/env bash
# test_web_unit.sh UNIT.in RHAI_WEB SRC -- rhai-web.service is a valid unit
# (systemd-analyze verify) running rhai-web as the user of rhaid@.service
# with its config file, no restart loop on a config error (exit 2) and a
# sandbox whose exposure score is at most 3.0; examples/rhai-web.conf and
# docs/web.md name every option rhai-web --help lists, the example is
# accepted, and configuration errors exit 2 naming file and line, or the
# Redis URL, TLS setting or prefix that cannot work.
set -u
in=${1:?usage: test_web_unit.sh UNIT.in RHAI_WEB SRC}
web=${2:?usage: test_web_unit.sh UNIT.in RHAI_WEB SRC}
src=$(cd "${3:?usage: test_web_unit.sh UNIT.in RHAI_WEB SRC}" && pwd)
. "$(dirname "$0")/../support/lib.sh"
work_dir
clean_env
unit=$WORK/rhai-web.service
bindir=$(cd "$(dirname "$web")" && pwd)
example=$src/examples/rhai-web.conf
doc=$src/docs/web.md
sed "s|@CMAKE_INSTALL_FULL_BINDIR@|$bindir|; s|@CMAKE_INSTALL_FULL_DATADIR@|/usr/share|" \
    "$in" >"$unit"
for want in "ExecStart=$bindir/rhai-web --config /etc/rhai-web/rhai-web.conf" \
            User=rhaid Group=rhaid ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
            RestrictAddressFamilies= RestartPreventExitStatus=2 TasksMax= \
            "ReadWritePaths=-/var/lib/rhaid"; do
    CHECKS=$((CHECKS + 1))
    grep -qx -- "$want.*" "$unit" || fail "no $want"
done
CHECKS=$((CHECKS + 1))
[ "$(sed -n 's/^User=//p' "$unit")" = "$(sed -n 's/^User=//p' "$src/src/daemon/rhaid@.service.in")" ] ||
    fail "User= differs from rhaid@.service's: the store's files are rhaid's"
out=$(systemd-analyze verify "$unit" 2>&1)
CHECKS=$((CHECKS + 1))
[ -z "$out" ] || { fail "systemd-analyze verify:"; echo "$out"; }
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure score: ${score:-none}"
CHECKS=$((CHECKS + 1))
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score > 3.0"

# ---- every option: in --help, the example config and docs/web.md -------
opts=$("$web" --help | sed -n 's/^  --\([a-z-]*\) .*/\1/p' |
      grep -v -e '^config$' -e '^help$' -e '^version$' -e '^check-config$')
CHECKS=$((CHECKS + 1))
[ "$(echo "$opts" | wc -l)" -ge 10 ] || fail "rhai-web --help lists too few options: $opts"
for o in $opts; do
    k=$(echo "$o" | tr - _)
    CHECKS=$((CHECKS + 1))
    grep -q "^# $k = \|^# $k =\$" "$example" || fail "$example: no '# $k = ...'"
    CHECKS=$((CHECKS + 1))
    grep -q "\`$k\`" "$doc" || fail "$doc: option $k undocumented"
done

# ---- the example, uncommented with tokens, is accepted; errors exit 2 ---
printf 'alice %s\n' 0123456789abcdef0123 >"$WORK/admin.tokens"
chmod 600 "$WORK/admin.tokens"
sed -n 's/^# \([a-z_]* = .*\)/\1/p' "$example" |
    sed -e "s|^admin_token_file = .*|admin_token_file = $WORK/admin.tokens|" \
        -e '/^read_token_file/d' -e '/^data_dir/d' -e '/^signing_key/d' \
        -e "s|^data_url = .*|data_url = sqlite://$WORK/data|" \
        -e 's|^listen = .*|listen = 127.0.0.1:1|' -e 's|^redis_url = .*|redis_url = redis://127.0.0.1:1|' \
        >"$WORK/ok.conf"
CHECKS=$((CHECKS + 1))
timeout 10 "$web" --config "$WORK/ok.conf" --check-config >"$OUT" 2>"$ERR" &&
    grep -qx "configuration ok" "$OUT" ||
    { fail "rhai-web --config ok.conf --check-config"; cat "$ERR"; }
printf 'listen = 127.0.0.1:0\nsession_ttl_ms = 5\n' >"$WORK/bad.conf"
CHECKS=$((CHECKS + 1))
timeout 10 "$web" --config "$WORK/bad.conf" --admin-token-file "$WORK/admin.tokens" >"$OUT" 2>"$ERR"
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:2: session_ttl_ms" "$ERR" ||
    { fail "bad config: exit $rc, want 2 naming bad.conf:2"; cat "$ERR"; }
printf 'short\n' >"$WORK/short.tokens"
CHECKS=$((CHECKS + 1))
timeout 10 "$web" --listen 127.0.0.1:0 --admin-token-file "$WORK/short.tokens" >"$OUT" 2>"$ERR"
rc=$?
[ $rc -eq 2 ] && grep -q "short.tokens:1:" "$ERR" && ! grep -q short "$OUT" ||
    { fail "short token: exit $rc, want 2 naming short.tokens:1"; cat "$ERR"; }
CHECKS=$((CHECKS + 1))
timeout 10 "$web" --listen 127.0.0.1:0 >"$OUT" 2>"$ERR"
[ $? -eq 2 ] && grep -q "no credentials" "$ERR" || { fail "no token file accepted"; cat "$ERR"; }
# a Redis URL, TLS settings or prefix that cannot work: exit 2 naming it,
# --check-config too (it said "configuration ok" and each request failed)
for bad in "--redis-url redis://h:abc|bad port 'abc'" "--redis-url http://h|must start with" \
           "--redis-url rediss://h?cert=/c.pem|tls_cert needs tls_key" \
           "--redis-url rediss://h?cafile=/c.pem|unknown option 'cafile'" \
           "--prefix a\ b|invalid key prefix"; do
    args=${bad%%|*} want=${bad#*|}
    for check in --check-config ""; do
        CHECKS=$((CHECKS + 1))
        eval timeout 10 "\"\$web\"" --listen 127.0.0.1:0 --admin-token-file "\"\$WORK/admin.tokens\"" \
            $args $check >"$OUT" 2>"$ERR"
        rc=$?
        [ $rc -eq 2 ] && grep -q "$want" "$ERR" ||
            { fail "rhai-web $args $check: exit $rc, want 2 saying '$want'"; cat "$ERR"; }
    done
done
CHECKS=$((CHECKS + 1))
RHAI_REDIS_TLS_KEY=/k.pem timeout 10 "$web" --redis-url rediss://h --check-config \
    --admin-token-file "$WORK/admin.tokens" >"$OUT" 2>"$ERR"
rc=$?
[ $rc -eq 2 ] && grep -q "tls_key needs tls_cert" "$ERR" ||
    { fail "RHAI_REDIS_TLS_KEY alone: exit $rc, want 2"; cat "$ERR"; }
finish
