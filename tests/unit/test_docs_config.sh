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
echo "checked $n options"
[ "$n" -ge 15 ] || { echo "FAIL: only $n options printed"; fail=1; }
exit $fail
