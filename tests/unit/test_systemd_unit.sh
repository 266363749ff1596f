#!/usr/bin/env bash
# test_systemd_unit.sh UNIT.in RHAID -- the rhaid@.service template is a
# valid unit (systemd-analyze verify) with Type=notify, a watchdog, a
# dynamic user and a sandbox whose exposure score is at most 3.0.
set -u
in=$1 rhaid=$2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
bindir=$(cd "$(dirname "$rhaid")" && pwd)
sed "s|@CMAKE_INSTALL_FULL_BINDIR@|$bindir|" "$in" > "$dir/rhaid@.service"
fail=0
for want in Type=notify WatchdogSec= DynamicUser=yes StateDirectory= ProtectSystem=strict \
            NoNewPrivileges=yes PrivateTmp=yes RestrictAddressFamilies= ExecReload=; do
    grep -q "^$want" "$dir/rhaid@.service" || { echo "FAIL: no $want"; fail=1; }
done
# 'man:' documentation links fail to resolve before installation; nothing else may.
out=$(systemd-analyze verify "$dir/rhaid@.service" 2>&1 | grep -v "Command 'man ")
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify:"; echo "$out"; fail=1; }
score=$(systemd-analyze security --offline=yes "$dir/rhaid@.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure score: ${score:-none}"
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }' || { echo "FAIL: exposure $score > 3.0"; fail=1; }
exit $fail
