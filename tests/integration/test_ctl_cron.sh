#!/usr/bin/env bash
# test_ctl_cron.sh BIN_DIR [REDIS_SERVER REDIS_CLI] -- rhaictl cron against
# a real redis-server and rhaid: add (text and --json), bad expressions and
# zones (exit 2), list, show (next ticks in the zone, firings with their
# outcome), pause, resume, run-now, rm, and the exit codes of a missing
# schedule (7) and an existing one (1).
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_cron.sh BIN_DIR [REDIS_SERVER REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
rhaid_start c1 cronw 1 --dev-mode 1
rhaid_wait "$RHAID_PID"
CTL_URL=$URL
echo 'args.n + 1' >"$WORK/s.js"

ctl 0 cron add sec --cron '* * * * * *' --worker cronw --script "$WORK/s.js" \
    --args '{"n":41}' --context c1 --caller alice && has "$OUT" "added schedule sec"
ctl 1 cron add sec --cron '* * * * * *' --worker cronw --script "$WORK/s.js" \
    --context c1 --caller alice && has "$ERR" "exists"
ctl 2 cron add bad --cron '* * 32 * *' --worker cronw --script "$WORK/s.js" \
    --context c1 --caller alice && has "$ERR" 'day of month field "32"'
ctl 2 cron add bad --cron '0 9 * * *' --tz Europe/Atlantis --worker cronw \
    --script "$WORK/s.js" --context c1 --caller alice && has "$ERR" "Europe/Atlantis"
ctl 2 cron add bad --cron '0 9 * * *' --worker cronw --script "$WORK/s.js" --context c1
ctl 0 cron add brussels --cron '30 2 * * *' --tz Europe/Brussels --worker cronw \
    --script "$WORK/s.js" --context c1 --caller alice --json && json 'd["ok"] is True'

ctl 0 cron list && has "$OUT" "sec" && has "$OUT" "Europe/Brussels"
ctl 0 cron list --worker cronw --json && json 'len(d) == 2 and d[0]["name"] == "brussels"'

# firings: wait until 2 are recorded, then their outcome shows
poll 100 sh -c "[ \"\$(timeout 5 '$REDIS_CLI' -p $PORT LLEN 'rhai:cron:runs:{cronw}:sec')\" -ge 2 ]" ||
    fail "no firing recorded in 10 s"
ctl 0 cron pause sec --worker cronw && has "$OUT" "paused sec"
poll 100 sh -c "'$CTL' --redis-url '$URL' cron show sec --worker cronw | grep -q ' done'" ||
    fail "cron show lists no firing done"
ctl 0 cron show sec --worker cronw --json &&
    json 'd["paused"] is True and len(d["runs"]) >= 2 and d["runs"][-1]["outcome"] == "done" and d["next_ticks"] == []'
ctl 0 cron show brussels --worker cronw && has_re "$OUT" "02:30:00 CES?T" && has "$OUT" "next ticks:"
ctl 0 cron resume sec --worker cronw && has "$OUT" "resumed sec"
ctl 0 cron run-now brussels --worker cronw && has "$OUT" "cron:brussels:now:"
ctl 0 cron rm sec --worker cronw && has "$OUT" "removed sec"
ctl 7 cron rm sec --worker cronw && has "$ERR" "no schedule sec"
ctl 7 cron show sec --worker cronw
ctl 2 cron show 'a:b' --worker cronw
ctl 2 cron frobnicate x
ctl 0 cron --help && has "$OUT" "run-now"
finish
