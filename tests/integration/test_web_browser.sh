#!/usr/bin/env bash
# test_web_browser.sh -- the web console (src/web/assets) in a real headless
# chromium (issue 21): redis-server, rhaid (a worker with executors and a
# data dir), rhai-web with an admin and a read token, and chromedriver, all
# on free 127.0.0.1 ports; then web_browser.js drives the console through
# WebDriver and checks what the pages show: log in, the instance and its
# queue on the overview, a script run in the playground and its output, a
# running task cancelled, a dead task retried, an admin action refused to
# the read role (button disabled, API 403). With RHAI_SCREENSHOTS=DIR it
# saves PNGs of the main pages there (docs/screenshots/ holds the committed
# ones). Exits 77 (ctest: skipped) only when chromium is not installed.
#   bash test_web_browser.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_web_browser.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}"
SRC=$(cd "${2:?no SOURCE_DIR}" && pwd)
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then
    echo "SKIP: chromium is not installed${CHROMIUM:+ ($CHROMIUM)} (tools/deps.sh installs chromium, chromium-driver, nodejs)"
    exit 77
fi
need_cmd chromedriver "the chromium-driver package: tools/deps.sh"
need_cmd node "the nodejs package: tools/deps.sh"
need_exe "$RHAID" "build the rhaid target"
WEB=$BIN/rhai-web
need_exe "$WEB" "build the rhai-web target"
[ -n "${RHAI_SCREENSHOTS:-}" ] && { mkdir -p "$RHAI_SCREENSHOTS" && RHAI_SCREENSHOTS=$(cd "$RHAI_SCREENSHOTS" && pwd); }
clean_env
work_dir
CD_PID=
# chromedriver runs in a process group of its own (setsid): the browser it
# started goes with it, on failure too
before_cleanup() {
    [ -n "$CD_PID" ] && kill -TERM -- "-$CD_PID" 2>/dev/null
    [ -n "$CD_PID" ] && { poll 50 eval "! kill -0 -- -$CD_PID 2>/dev/null"; kill -KILL -- "-$CD_PID" 2>/dev/null; }
    wait "$CD_PID" 2>/dev/null
}
redis_start "${3:-}" "${4:-}"
CTL_URL=$URL
in_dead() { [ -n "$(rcli ZSCORE "rhai:dead:{$1}" "$2")" ]; }
status_is() { [ "$(rcli HGET "$(tkey "$1")" status)" = "$2" ]; }

# ---- a worker with a context in its data dir --------------------------------------
mkdir -p "$WORK/data-web1"
ctl 0 context create demo --owner alice --data-dir "$WORK/data-web1" || die "context create"
echo 'print("nightly report"); ({ at: ctx.task_id })' >"$WORK/nightly.js"
ctl 0 cron add nightly --cron '0 3 * * *' --tz UTC --worker web1 --script "$WORK/nightly.js" \
    --context demo --caller alice || die "cron add"
rhaid_start web1 web1 2 --heartbeat-ms 200 --log-level info   # info: a failure shows its steps
W_PID=$RHAID_PID
rhaid_wait "$W_PID"

# ---- a task that runs until cancelled --------------------------------------------------
ctl 0 submit -e 'while(true){}' --worker web1 --timeout 120000 --no-wait && LONG_ID=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 150 status_is "$LONG_ID" running || die "the long task never ran"

# ---- a dead task: its executor killed -9 with max_attempts 1 (as test_ctl_dead.sh) ---
rhaid_start dw dw 1 --max-attempts 1 --heartbeat-ms 200
DW_PID=$RHAID_PID
rhaid_wait "$DW_PID"
ctl 0 submit -e 'while(true){}' --worker dw --timeout 10000 --no-wait && DEAD_ID=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 150 status_is "$DEAD_ID" running || die "the dw task never ran"
kill_executors() {
    in_dead dw "$DEAD_ID" && return 0
    pkill -9 -P "$DW_PID" 2>/dev/null
    return 1
}
CHECKS=$((CHECKS + 1)); poll 150 kill_executors || die "$DEAD_ID not in rhai:dead:{dw}"

# ---- a task that stays claimed: worker cw's one executor runs a loop, and the
# prefetch claims the task behind it, which waits there until the loop is
# cancelled (the browser does it through the API, the task's page open) ----
rhaid_start cw cw 1 --heartbeat-ms 200
CW_PID=$RHAID_PID
rhaid_wait "$CW_PID"
ctl 0 submit -e 'while(true){}' --worker cw --timeout 120000 --no-wait && BLOCKER_ID=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 150 status_is "$BLOCKER_ID" running || die "the cw loop never ran"
ctl 0 submit -e 'print("ran after the loop"); 7' --worker cw --no-wait && CLAIMED_ID=$(cat "$OUT")
CHECKS=$((CHECKS + 1)); poll 150 status_is "$CLAIMED_ID" claimed || die "the cw task was not claimed"

# ---- rhai-web: an admin and a read token, a free port -----------------------------------
ADMIN_TOKEN=adm-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
READ_TOKEN=rd-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$ADMIN_TOKEN" >"$WORK/admin.tokens"
echo "$READ_TOKEN" >"$WORK/read.tokens"
chmod 600 "$WORK/admin.tokens" "$WORK/read.tokens"
"$WEB" --listen 127.0.0.1:0 --redis-url "$URL" --data-dir "$WORK/data-web1" \
    --admin-token-file "$WORK/admin.tokens" --read-token-file "$WORK/read.tokens" \
    --caller web --log-level warn >"$WORK/web.out" 2>"$WORK/web.log" &
BG_PIDS+=($!)
WEB_PID=$!
web_up() { grep -q '^listening on http://127.0.0.1:' "$WORK/web.out"; }
poll 100 web_up || { cat "$WORK/web.out" "$WORK/web.log"; die "rhai-web did not say where it listens"; }
WEB_URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$WORK/web.out" | head -1)
kill -0 "$WEB_PID" || die "rhai-web exited"

# ---- chromedriver on a free port, headless chromium with a throwaway profile ---------
CD_PORT=$(free_port) || die "no free port"
# HOME and XDG dirs in WORK: the browser writes nothing outside it
mkdir -p "$WORK/home"
HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_CACHE_HOME=$WORK/home/.cache \
    setsid chromedriver --port="$CD_PORT" --allowed-ips=127.0.0.1 --log-path="$WORK/chromedriver.out" \
    >/dev/null 2>&1 &
CD_PID=$!
mkdir -p "$WORK/chrome"

CHECKS=$((CHECKS + 1))
WEB_URL=$WEB_URL DRIVER_URL=http://127.0.0.1:$CD_PORT ADMIN_TOKEN=$ADMIN_TOKEN \
    READ_TOKEN=$READ_TOKEN WORKER=web1 DEAD_WORKER=dw LONG_ID=$LONG_ID DEAD_ID=$DEAD_ID \
    CLAIMED_ID=$CLAIMED_ID BLOCKER_ID=$BLOCKER_ID \
    CONTEXT=demo CHROMIUM=$CHROMIUM CHROME_PROFILE=$WORK/chrome \
    RHAI_SCREENSHOTS=${RHAI_SCREENSHOTS:-} \
    timeout 240 node "$SRC/tests/integration/web_browser.js" || fail "the browser checks failed"

# what the browser did, seen from Redis
CHECKS=$((CHECKS + 1)); status_is "$LONG_ID" cancelled || fail "$LONG_ID is $(rcli HGET "$(tkey "$LONG_ID")" status), not cancelled"
CHECKS=$((CHECKS + 1)); status_is "$CLAIMED_ID" done || fail "$CLAIMED_ID is $(rcli HGET "$(tkey "$CLAIMED_ID")" status), not done"
CHECKS=$((CHECKS + 1)); in_dead dw "$DEAD_ID" && fail "$DEAD_ID is still dead after the retry"
CHECKS=$((CHECKS + 1))
[ "$(rcli EXISTS 'rhai:paused:{web1}')" = 0 ] || fail "the read role paused web1"
finish
