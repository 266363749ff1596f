#!/usr/bin/env bash
# test_systemd_unit.sh UNIT.in RHAID SRC -- the rhaid@.service template is a
# valid unit (systemd-analyze verify) with Type=notify, a watchdog, a
# system user, no restart loop on a config error (exit 2), resource limits
# and a sandbox whose exposure score is at most 3.0; and the unit, its
# sysusers.d file, the example env file and docs/operations.md agree:
# the user the docs run rhaictl as is the unit's User=, and the data dir
# the documented commands write is the one the unit hands rhaid. The
# documented local commands are run (as they are, under a scratch root)
# and the context they create is where rhaid@billing looks for it.
set -u
in=${1:?usage: test_systemd_unit.sh UNIT.in RHAID SRC}
rhaid=${2:?usage: test_systemd_unit.sh UNIT.in RHAID SRC}
src=$(cd "${3:?usage: test_systemd_unit.sh UNIT.in RHAID SRC}" && pwd)
. "$(dirname "$0")/../support/lib.sh"
work_dir
clean_env
unit=$WORK/rhaid@.service
bindir=$(cd "$(dirname "$rhaid")" && pwd)
doc=$src/docs/operations.md
sysusers=$src/src/daemon/rhaid.sysusers
envfile=$src/examples/rhaid.env
sed "s|@CMAKE_INSTALL_FULL_BINDIR@|$bindir|" "$in" >"$unit"
for want in Type=notify WatchdogSec= User= Group= StateDirectory= ProtectSystem=strict \
            NoNewPrivileges=yes PrivateTmp=yes RestrictAddressFamilies= ExecReload= \
            RestartPreventExitStatus=2 LimitNOFILE= TasksMax= RemoveIPC=yes; do
    CHECKS=$((CHECKS + 1))
    grep -q "^$want" "$unit" || fail "no $want"
done
# A dynamic user's state dir is reached through /var/lib/private (0700
# root): no operator command can run as that user to create a context.
CHECKS=$((CHECKS + 1))
! grep -q '^DynamicUser=yes' "$unit" || fail "DynamicUser=yes: operators cannot act as it"
# 'man:' documentation links fail to resolve before installation; nothing else may.
out=$(systemd-analyze verify "$unit" 2>&1 | grep -v "Command 'man ")
CHECKS=$((CHECKS + 1))
[ -z "$out" ] || { fail "systemd-analyze verify:"; echo "$out"; }
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure score: ${score:-none}"
CHECKS=$((CHECKS + 1))
awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score > 3.0"

# ---- the user: declared by the sysusers.d file, made by systemd-sysusers --
user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
state=$(sed -n 's/^StateDirectory=//p' "$unit")
CHECKS=$((CHECKS + 1))
[ -n "$user" ] && [ "$user" = "$group" ] || fail "User=$user Group=$group"
CHECKS=$((CHECKS + 1))
mkdir -p "$WORK/root/etc"
systemd-sysusers --root="$WORK/root" "$sysusers" >"$WORK/sysusers.log" 2>&1 &&
    grep -q "^$user:x:[0-9]*:[0-9]*:" "$WORK/root/etc/passwd" &&
    grep -q "^$user:x:" "$WORK/root/etc/group" ||
    { fail "$sysusers does not make user and group '$user'"; cat "$WORK/sysusers.log"; }

# ---- the documented commands --------------------------------------------
# rhaid@billing gets --data-dir ${STATE_DIRECTORY}: /var/lib/<StateDirectory=>.
CHECKS=$((CHECKS + 1))
grep -q -- '--data-dir ${STATE_DIRECTORY}' "$unit" || fail "ExecStart does not use STATE_DIRECTORY"
unit_dir=/var/lib/${state//%i/billing}
# every command block line of the docs that names a local data dir
grep -E '^    (sudo -u [a-z_-]+ )?rhaictl .*(--data-dir|-d) /' "$doc" |
    sed 's/^    //' >"$WORK/cmds"
n=$(wc -l <"$WORK/cmds")
CHECKS=$((CHECKS + 1))
[ "$n" -ge 8 ] || fail "only $n documented commands with a data dir"
while read -r line; do
    CHECKS=$((CHECKS + 1))
    case "$line" in
    "sudo -u $user rhaictl "*) ;;
    *) fail "not run as the unit's user '$user': $line"; continue ;;
    esac
    dir=$(echo "$line" | sed -E 's/.*(--data-dir|-d) ([^ ]+).*/\2/')
    CHECKS=$((CHECKS + 1))
    [ "$dir" = "$unit_dir" ] || { fail "data dir $dir, the unit's is $unit_dir: $line"; continue; }
    # run it, rooted in WORK, in the docs' order
    cmd=${line#"sudo -u $user "}
    cmd=${cmd/#rhaictl/\"\$bindir/rhaictl\"}
    cmd=${cmd//\/var\/lib\//$WORK/var/lib/}
    CHECKS=$((CHECKS + 1))
    (eval "timeout 20 $cmd") >"$OUT" 2>"$ERR" ||
        { fail "documented command failed: $line"; cat "$ERR"; }
done <"$WORK/cmds"
CHECKS=$((CHECKS + 1))
[ -f "$WORK$unit_dir/acme.db" ] || fail "the documented context is not in $unit_dir"

# ---- the example env file: known variables, accepted by rhaid ------------
vars=$(sed -n -E 's/^#? ?(RHAI[A-Z_]*)=.*/\1/p' "$envfile")
CHECKS=$((CHECKS + 1))
[ -n "$vars" ] || fail "no variable in $envfile"
for v in $vars; do
    CHECKS=$((CHECKS + 1))
    "$rhaid" --help 2>&1 | grep -q "\$$v\b" || fail "$envfile: rhaid reads no \$$v"
done
CHECKS=$((CHECKS + 1))
# shellcheck disable=SC2046
env -i $(grep -E '^RHAI[A-Z_]*=' "$envfile") "$rhaid" --print-config >"$OUT" 2>"$ERR" ||
    { fail "rhaid rejects $envfile"; cat "$ERR"; }

# ---- a configuration error exits 2, so RestartPreventExitStatus=2 stops
# the restart loop: an unknown executor_user is one (it exited 1) ---------
if [ "$(id -u)" -eq 0 ]; then
    CHECKS=$((CHECKS + 1))
    timeout 10 "$rhaid" --redis-url redis://127.0.0.1:1 --worker-id cfg \
        --data-dir "$WORK/cfgdata" --executor-user no-such-user-rhai >"$OUT" 2>"$ERR"
    rc=$?
    [ $rc -eq 2 ] && grep -q "no such user" "$ERR" ||
        { fail "unknown executor_user: exit $rc, want 2"; cat "$ERR"; }
fi
finish
