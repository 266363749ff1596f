#!/usr/bin/env bash
# test_docs_config.sh RHAID DOC -- docs/operations.md documents every rhaid
# option with its real default: each key printed by `rhaid --print-config`
# (run with an empty environment) must have a table row whose default
# column equals the printed value (except computed and hidden ones).
set -u
rhaid=$1 doc=$2
fail=0 n=0
while IFS=' = ' read -r key value; do
    n=$((n + 1))
    row=$(grep -F "| \`$key\` |" "$doc") || { echo "FAIL: $key not documented"; fail=1; continue; }
    def=$(echo "$row" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')
    case "$key" in concurrency|redis_url|log_level) continue ;; esac
    [ "$def" = "$value" ] || { echo "FAIL: $key documented default '$def', actual '$value'"; fail=1; }
done < <(env -i "$rhaid" --print-config | sed 's/ = / /')
# examples/rhaid.conf documents every option, and uncommented it is a
# valid config file that rhaid accepts
conf=$(dirname "$doc")/../examples/rhaid.conf
m=$(grep -c '^# [a-z_]* = ' "$conf")
[ "$m" -eq "$n" ] || { echo "FAIL: examples/rhaid.conf has $m options, rhaid $n"; fail=1; }
tmp=$(mktemp); sed -n 's/^# \([a-z_]* = .*\)$/\1/p' "$conf" > "$tmp"
env -i "$rhaid" --config "$tmp" --print-config >/dev/null || { echo "FAIL: examples/rhaid.conf rejected"; fail=1; }
rm -f "$tmp"
echo "checked $n options"
[ "$n" -ge 15 ] || { echo "FAIL: only $n options printed"; fail=1; }
exit $fail
