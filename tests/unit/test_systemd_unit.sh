#!/usr/bin/env bash
# test_systemd_unit.sh UNIT.in RHAID -- the rhaid@.service template is a
# valid unit (systemd-analyze verify) with Type=notify, a watchdog, a
# dynamic user and a sandbox whose exposure score is at most 3.0.
set -u
in=${1:?usage: test_systemd_unit.sh UNIT.in RHAID}
rhaid=${2:?usage: test_systemd_unit.sh UNIT.in RHAID}
. "$(dirname "$0")/../support/lib.sh"
work_dir
unit=$WORK/rhaid@.service
bindir=$(cd "$(dirname "$rhaid")" && pwd)
sed "s|@CMAKE_INSTALL_FULL_BINDIR@|$bindir|" "$in" >"$unit"
for want in Type=notify WatchdogSec= DynamicUser=yes StateDirectory= ProtectSystem=strict \
            NoNewPrivileges=yes PrivateTmp=yes RestrictAddressFamilies= ExecReload=; do
    CHECKS=$((CHECKS + 1))
    grep -q "^$want" "$unit" || fail "no $want"
done
# 'man:' documentation links fail to resolve before installation; nothing else may.
out=$(systemd-analyze verify "$unit" 2>&1 | grep -v "Command 'man ")
CHECKS=$((CHECKS + 1))
[ -z "$out" ] || { fail "systemd-analyze verify:"; echo "$out"; }
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure score: ${score:-none}"
CHECKS=$((CHECKS + 1))
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score > 3.0"
finish
