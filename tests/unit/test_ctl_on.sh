#!/usr/bin/env bash
# test_ctl_on.sh -- rhaictl on add|list|show|pause|resume|rm on a local data
# dir (issue 20, no Redis): subscriptions made and changed, --as refused for
# a caller that owns nothing, the audit rows, the usage errors, and emit()
# in `rhaictl run` storing the matching, unpaused subscriptions with the
# event.
#   bash test_ctl_on.sh BIN_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_on.sh BIN_DIR SOURCE_DIR}"
need_cmd python3 "it checks the JSON"
clean_env
export RHAI_REDIS_URL=redis://127.0.0.1:1
work_dir
D=$WORK/data
printf 'ctx.event.payload\n' >"$WORK/ship.js"

ctl 0 context create shop --owner alice -d "$D"
ctl 7 on list --context nope -d "$D" && has "$ERR" "no context 'nope'"
ctl 0 on list --context shop -d "$D" && has "$OUT" "no subscriptions in shop"

# ---- add ---------------------------------------------------------------------------
ctl 0 on add ship --context shop --event 'order.*' --worker shipping \
    --script "$WORK/ship.js" --caller bot --args '{"fast":true}' -d "$D" --json &&
    json 'd["name"] == "ship" and d["pattern"] == "order.*" and d["worker"] == "shipping"
          and d["caller"] == "bot" and d["args"] == {"fast": True} and not d["paused"]
          and d["script"] == "ctx.event.payload\n" and d["created_by"] == "rhaictl:local"' \
         "add --json"
ctl 0 on add all -c shop --event '*' -w audit -e 'ctx.event.name' -u auditor --paused \
    --as alice -d "$D" && has "$OUT" "all: * -> worker audit as auditor (paused)"
ctl 1 on add ship -c shop --event x -w w -e 1 -u u -d "$D" && has "$ERR" "exists already"
ctl 4 on add other -c shop --event x -w w -e 1 -u u --as mallory -d "$D" &&
    has "$ERR" "'mallory' is not an owner of context 'shop'"

# ---- usage errors ---------------------------------------------------------------------
ctl 2 on && has "$ERR" "missing subcommand"
ctl 2 on frob -c shop -d "$D" && has "$ERR" "unknown subcommand"
ctl 2 on add -c shop -d "$D" && has "$ERR" "missing NAME"
ctl 2 on add 'a b' -c shop -d "$D" && has "$ERR" "invalid subscription NAME"
ctl 2 on add x -d "$D" --event a -w w -e 1 -u u && has "$ERR" "--context C is required"
ctl 2 on add x -c shop -d "$D" -w w -e 1 -u u && has "$ERR" "--event PATTERN is required"
for bad in 'or*der' '.x' 'x.' 'a b' '*.x'; do
    ctl 2 on add x -c shop -d "$D" --event "$bad" -w w -e 1 -u u &&
        has "$ERR" "--event PATTERN is invalid"
done
ctl 2 on add x -c shop -d "$D" --event a -e 1 -u u && has "$ERR" "--worker W is required"
ctl 2 on add x -c shop -d "$D" --event a -w w -e 1 && has "$ERR" "--caller U is required"
ctl 2 on add x -c shop -d "$D" --event a -w w -u u && has "$ERR" "give the script"
ctl 2 on add x -c shop -d "$D" --event a -w w -u u -e 1 -a '[1]' &&
    has "$ERR" "--args must be a JSON object"
ctl 2 on pause ship -c shop -d "$D" --event a && has "$ERR" "go with add"

# ---- list, show, pause, resume, rm -------------------------------------------------------
ctl 0 on list -c shop -d "$D" --json &&
    json '[s["name"] for s in d] == ["all", "ship"] and d[0]["paused"]' "list --json"
ctl 0 on show ship -c shop -d "$D" && has "$OUT" "ship: order.* -> worker shipping as bot" &&
    has "$OUT" '{"fast":true}' && has "$OUT" "ctx.event.payload"
ctl 7 on show nope -c shop -d "$D" && has "$ERR" "no subscription 'nope'"

ctl 0 on resume all -c shop -d "$D" --json &&
    json 'd == {"context": "shop", "name": "all", "done": "resume"}' "resume --json"
ctl 0 on pause ship -c shop -d "$D" --as alice && has "$OUT" "paused in shop: ship"
# emit in a task: the matching, unpaused subscriptions go with the event
ctl 0 --json run -d "$D" -c shop -u alice -e 'emit("order.paid", {n: 1})' &&
    json '[s["name"] for s in d["events"][0]["subs"]] == ["all"]' "emit with ship paused"
ctl 0 on resume ship -c shop -d "$D"
ctl 0 --json run -d "$D" -c shop -u alice -e 'emit("order.paid", {n: 1})' &&
    json '[(s["name"], s["worker"], s["caller"], s["args"]) for s in d["events"][0]["subs"]]
          == [("all", "audit", "auditor", "{}"), ("ship", "shipping", "bot", "{\"fast\":true}")]' \
         "emit with both"
ctl 0 --json run -d "$D" -c shop -u alice -e 'emit("user.made")' &&
    json '[s["name"] for s in d["events"][0]["subs"]] == ["all"]' "emit of another name"
ctl 0 on rm all -c shop -d "$D" && has "$OUT" "removed in shop: all"
ctl 7 on rm all -c shop -d "$D" && has "$ERR" "no subscription 'all'"
ctl 7 on pause all -c shop -d "$D"
ctl 0 on list -c shop -d "$D" && has "$OUT" "ship: order.* -> worker shipping as bot" &&
    ! grep -q "^all" "$OUT" || fail "rm left 'all' in the list"

# ---- audited --------------------------------------------------------------------------
ctl 0 audit shop --model events -d "$D" --json &&
    json 'sorted(r["op"] for r in d) == sorted(["on_add", "on_add", "on_resume", "on_pause",
                                                 "on_resume", "on_rm"])
          and all(r["caller"] == "rhaictl:local" for r in d)' "audit rows"
ctl 0 on --help && has "$OUT" "PREFIX.*"
ctl 0 --help && has "$OUT" "on"

finish
