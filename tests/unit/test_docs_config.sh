#!/usr/bin/env bash
# test_docs_config.sh RHAID DOC -- docs/operations.md documents every rhaid
# option with its real default: each key printed by `rhaid --print-config`
# (run with an empty environment) must have a table row whose default
# column equals the printed value (except computed and hidden ones).
set -u
rhaid=${1:?usage: test_docs_config.sh RHAID DOC}
doc=${2:?usage: test_docs_config.sh RHAID DOC}
. "$(dirname "$0")/../support/lib.sh"
work_dir
n=0
while IFS=' = ' read -r key value; do
    n=$((n + 1))
    CHECKS=$((CHECKS + 1))
    row=$(grep -F "| \`$key\` |" "$doc") || { fail "$key not documented"; continue; }
    def=$(echo "$row" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')
    case "$key" in concurrency|redis_url|log_level) continue ;; esac
    CHECKS=$((CHECKS + 1))
    [ "$def" = "$value" ] || fail "$key documented default '$def', actual '$value'"
done < <(env -i "$rhaid" --print-config | sed 's/ = / /')
# examples/rhaid.conf documents every option, and uncommented it is a
# valid config file that rhaid accepts
conf=$(dirname "$doc")/../examples/rhaid.conf
m=$(grep -c '^# [a-z_]* = ' "$conf")
CHECKS=$((CHECKS + 1))
[ "$m" -eq "$n" ] || fail "examples/rhaid.conf has $m options, rhaid $n"
sed -n 's/^# \([a-z_]* = .*\)$/\1/p' "$conf" >"$WORK/rhaid.conf"
CHECKS=$((CHECKS + 1))
env -i "$rhaid" --config "$WORK/rhaid.conf" --print-config >/dev/null ||
    fail "examples/rhaid.conf rejected"
echo "checked $n options"
CHECKS=$((CHECKS + 1))
[ "$n" -ge 15 ] || fail "only $n options printed"
finish
