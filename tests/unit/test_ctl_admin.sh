#!/usr/bin/env bash
# test_ctl_admin.sh -- rhaictl context, acl and audit on a local data dir
# (no Redis): create, duplicate create, bad ids, list, show, grant, revoke,
# list, owners, the audit rows of those changes, and the usage errors of
# the remote mode.
#   bash test_ctl_admin.sh BIN_DIR SOURCE_DIR
# Every --json document is checked with python3's json module. Every
# rhaictl call is bounded by `timeout`; a failed check prints what was
# expected and what came, and the script exits 1 at the end.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_admin.sh BIN_DIR SOURCE_DIR}"
need_cmd python3 "it checks the JSON"
clean_env
# Nothing here may reach a Redis: point the default somewhere closed.
export RHAI_REDIS_URL=redis://127.0.0.1:1
work_dir
D=$WORK/data

# ---- context create -----------------------------------------------------------
ctl 0 context create acme --owner alice --data-dir "$D" --json &&
    json 'd == {"id": "acme", "path": sys.argv[1].rsplit("/", 1)[0] + "/data/acme.db",
                "owners": ["alice"]}' "create --json"
[ -f "$D/acme.db" ] || fail "$D/acme.db was not made"
ctl 1 context create acme --owner bob --data-dir "$D" && has "$ERR" "exists already"
ctl 0 context create beta --owner bob --owner carol -d "$D" &&
    has "$OUT" "created context beta" && has "$OUT" "bob carol"
for bad in ../x .hidden 'a b' 'a/b' x..y ''; do
    ctl 2 context create "$bad" --owner alice -d "$D" && has "$ERR" "invalid context id"
done
# As root into a dir another user owns (rhaid's, or its executors'): the
# file is that user's, and SQLite's -wal and -shm follow it; no warning.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    mkdir "$WORK/theirs" && chown nobody "$WORK/theirs"
    ctl 0 context create acme --owner alice -d "$WORK/theirs" && empty "$ERR" &&
        stat -c %U "$WORK"/theirs/acme.db* | sort -u >"$WORK/owners" &&
        is "$WORK/owners" nobody
fi
ctl 2 context create gamma -d "$D" && has "$ERR" "--owner CALLER is required"
ctl 2 context create gamma --owner 'two words' -d "$D" && has "$ERR" "invalid owner"
ctl 2 context list --owner alice -d "$D"
ctl 2 context frob -d "$D" && has "$ERR" "unknown subcommand"
ctl 2 context show -d "$D" && has "$ERR" "missing context ID"

# ---- context list and show ------------------------------------------------------
ctl 0 context list -d "$D" --json && json 'd == ["acme", "beta"]' "list --json"
ctl 0 context list -d "$D" && has "$OUT" "acme" && has "$OUT" "beta"
ctl 0 context list -d "$WORK/none" --json && json 'd == []' "list of a missing dir"
# The data dir defaults to $RHAI_DATA_DIR, then ./rhai-data.
RHAI_DATA_DIR=$D ctl 0 context list --json && json 'd == ["acme", "beta"]' "RHAI_DATA_DIR"
(cd "$WORK" && ctl 0 context create here --owner alice) &&
    [ -f "$WORK/rhai-data/here.db" ] || fail "./rhai-data default"

ctl 0 context show acme -d "$D" --json &&
    json 'd["id"] == "acme" and d["owners"] == ["alice"] and d["grants"] == [] and
          d["tasks_recorded"] == 0 and d["audit_rows"] == 1 and d["file_bytes"] > 0 and
          isinstance(d["schema_version"], str) and d["rows"]["company"] == 0 and
          all(v == 0 for v in d["rows"].values())' "show --json"
ctl 0 context show acme -d "$D" && has "$OUT" "schema version" && has "$OUT" "owners          alice"
ctl 7 context show nope -d "$D" && has "$ERR" "no context 'nope'"
[ ! -e "$D/nope.db" ] || fail "show made nope.db"

# ---- acl grant ------------------------------------------------------------------
ctl 0 acl grant acme bob --model company --ops read,update --expires 7d -d "$D" --json &&
    json 'd["id"] == 1 and d["context"] == "acme" and d["caller"] == "bob" and
          d["model"] == "company" and d["ops"] == ["read", "update"] and
          d["object_id"] is None and
          abs(d["expires_at"] - (now + 7 * 86400000)) < 600000' "grant --json"
# A JS model name maps to the table name; one object only; all ops.
ctl 0 acl grant acme carol --model Company --ops all --object 3 -d "$D" &&
    has "$OUT" "granted #2 in acme" && has "$OUT" "(object 3)"
ctl 0 acl grant acme dave --model '*' --ops read --expires @$(( $(date +%s) * 1000 + 3600000 )) \
    -d "$D" --json && json 'd["id"] == 3 and d["model"] == "*"' "grant on * until @ms"
ctl 7 acl grant nope bob --model company --ops read -d "$D" && has "$ERR" "no context 'nope'"
[ ! -e "$D/nope.db" ] || fail "grant made nope.db"
ctl 2 acl grant acme bob --model nosuch --ops read -d "$D" && has "$ERR" "is not a model"
ctl 2 acl grant acme bob --model company --ops read,fly -d "$D" && has "$ERR" "--ops 'read,fly'"
ctl 2 acl grant acme bob --model company -d "$D" && has "$ERR" "--ops is required"
ctl 2 acl grant acme bob --ops read -d "$D" && has "$ERR" "--model M"
ctl 2 acl grant acme --model company --ops read -d "$D" && has "$ERR" "missing CALLER"
ctl 2 acl grant acme bob --model company --ops read --expires 5y -d "$D" && has "$ERR" "--expires"
ctl 2 acl grant acme bob --model company --ops read --expires @1000 -d "$D" && has "$ERR" "in the future"
ctl 2 acl grant acme bob --model company --ops read --object 0 -d "$D" && has "$ERR" "--object"
ctl 2 acl grant acme bob --model '*' --ops read --object 4 -d "$D" && has "$ERR" "per model"
ctl 2 acl grant ../x bob --model company --ops read -d "$D" && has "$ERR" "invalid context id"
ctl 2 acl list acme --model company -d "$D"
ctl 2 acl revoke acme bob --model company --expires 1h -d "$D"

# ---- acl list, revoke, owners ------------------------------------------------------
ctl 0 acl list acme -d "$D" --json &&
    json '[g["id"] for g in d] == [1, 2, 3] and d[0]["ops"] == ["read", "update"] and
          d[1]["object_id"] == 3 and d[1]["ops"] == ["read", "create", "update", "delete"] and
          d[1]["expires_at"] is None and d[2]["model"] == "*" and
          all(g["granted_by"] == "rhaictl:local" and g["created_at"] > 0 for g in d)' \
          "list --json"
ctl 0 acl list acme -d "$D" && has "$OUT" "CALLER" && has "$OUT" "read,update" && has "$OUT" "never"
ctl 0 acl revoke acme bob --model company --ops update -d "$D" --json &&
    json 'd["changed"] == 1 and d["ops"] == ["update"]' "revoke update"
ctl 0 acl list acme -d "$D" --json && json 'd[0]["ops"] == ["read"]' "revoke left read"
# Revoke is exact on the object: the model-wide revoke leaves carol's object grant.
ctl 0 acl revoke acme carol --model company -d "$D" --json && json 'd["changed"] == 0' "no match"
ctl 0 acl revoke acme carol --model company --object 3 -d "$D" && has "$OUT" "1 grant changed"
ctl 0 acl revoke acme bob --model company -d "$D"
ctl 0 acl list acme -d "$D" --json && json '[g["id"] for g in d] == [3]' "revokes deleted 1 and 2"
ctl 0 acl revoke acme nobody --model company -d "$D" && has "$OUT" "nothing to revoke"
ctl 0 acl owners beta -d "$D" --json && json 'd == ["bob", "carol"]' "owners --json"
ctl 0 acl owners beta -d "$D" && has "$OUT" "carol"
ctl 0 acl add-owner beta dave -d "$D" --json &&
    json 'd == {"context": "beta", "caller": "dave", "owner": True}' "add-owner --json"
ctl 0 acl add-owner beta dave -d "$D" && has "$OUT" "dave is now an owner of beta"
ctl 0 acl owners beta -d "$D" --json && json 'd == ["bob", "carol", "dave"]' "owner added"
ctl 0 acl remove-owner beta bob -d "$D" && has "$OUT" "bob is no longer an owner of beta"
ctl 1 acl remove-owner beta bob -d "$D" && has "$ERR" "not an owner"
ctl 0 acl remove-owner beta carol -d "$D" --json && json 'd["owner"] is False' "remove --json"
ctl 1 acl remove-owner beta dave -d "$D" && has "$ERR" "last owner"
ctl 0 acl owners beta -d "$D" --json && json 'd == ["dave"]' "the last owner stays"
ctl 0 audit beta -d "$D" --model acl --json &&
    json '[r["op"] for r in d] == ["remove_owner", "remove_owner", "add_owner", "add_owner"]
          and "removed owner carol" in d[0]["reason"]' "owner changes audited"
ctl 2 acl add-owner beta -d "$D" && has "$ERR" "missing CALLER"
ctl 2 acl add-owner beta eve --model company -d "$D" && has "$ERR" "go with grant"
ctl 7 acl add-owner nope eve -d "$D"

# ---- audit ----------------------------------------------------------------------------
ctl 0 audit acme -d "$D" --json &&
    json '[r["op"] for r in d] == ["revoke"] * 5 + ["grant"] * 3 + ["context_create"] and
          all(r["caller"] == "rhaictl:local" and r["decision"] == "allowed" and
              "os user" in r["reason"] for r in d) and
          "granted #1: read,update to bob on company" in d[-2]["reason"] and
          d[-1]["model"] == "*" and "owners alice" in d[-1]["reason"] and
          [r["id"] for r in d] == sorted([r["id"] for r in d], reverse=True)' "audit --json"
ctl 0 audit acme -d "$D" --limit 2 --json && json 'len(d) == 2 and d[0]["op"] == "revoke"' "limit"
ctl 0 audit acme -d "$D" --model '*' --json &&
    json '[r["op"] for r in d] == ["grant", "context_create"]' "--model *"
ctl 0 audit acme -d "$D" --decision denied --json && json 'd == []' "no denials"
ctl 0 audit acme -d "$D" --by bob --json && json 'd == []' "caller filter"
ctl 0 audit acme -d "$D" --by rhaictl:local --limit 1000 --json && json 'len(d) == 9' "caller"
ctl 0 audit acme -d "$D" && has "$OUT" "DECISION" && has "$OUT" "context_create"
ctl 2 audit acme -d "$D" --decision maybe && has "$ERR" "allowed or denied"
ctl 2 audit acme -d "$D" --limit 0 && has "$ERR" "--limit"
ctl 2 audit acme -d "$D" --limit 1001
ctl 2 audit -d "$D" && has "$ERR" "missing CONTEXT"
ctl 7 audit nope -d "$D"

# ---- remote mode: usage errors (no Redis needed) -------------------------------------
ctl 2 acl list acme --as alice && has "$ERR" "--caller/--as goes with --remote"
# --caller is who a remote task runs as, never a filter: locally it is refused
ctl 2 audit acme -d "$D" --caller bob && has "$ERR" "--caller/--as goes with --remote"
ctl 2 acl list acme --key "$WORK/k" && has "$ERR" "--key goes with --remote"
ctl 2 acl list acme --worker w --data-dir "$D" && has "$ERR" "--data-dir is local"
ctl 2 acl list acme --remote --as alice --key "$WORK/k" && has "$ERR" "drop --as"
ctl 2 acl list acme --worker 'bad id' && has "$ERR" "invalid worker id"
ctl 2 acl list acme --worker w --as 'two words' && has "$ERR" "invalid caller"
ctl 2 acl list acme --worker w --timeout 0 && has "$ERR" "--timeout"
ctl 2 audit acme --timeout 100 && has "$ERR" "--timeout goes with --remote"
ctl 2 acl list acme --worker w --key "$WORK/nokey" && has "$ERR" "--key $WORK/nokey"
# A reachable-looking remote call to a closed port is a connection error.
ctl 5 acl owners acme --remote --as alice && has "$ERR" "cannot connect"

# ---- help --------------------------------------------------------------------------------
for cmd in context acl audit; do
    ctl 0 "$cmd" --help && { has "$OUT" "Usage: rhaictl $cmd" "$cmd --help"
                             has "$OUT" 'Exit codes' "$cmd --help"; }
    ctl 0 help "$cmd" && has "$OUT" "Usage: rhaictl $cmd" "help $cmd"
done
ctl 0 --help && has "$OUT" "context" && has "$OUT" "audit"
ctl 2 acl && has "$ERR" "missing subcommand"

finish
