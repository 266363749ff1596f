#!/usr/bin/env bash
# test_ctl_acl.sh -- rhaictl acl and audit in remote mode: owner tasks
# through a real redis-server and a real rhaid, checked against the same
# commands in local mode on the worker's data dir.
#   bash test_ctl_acl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]
# Starts redis-server on a free loopback port in a temporary directory and
# one rhaid (worker id "acl", one executor), both stopped on exit whatever
# happens. Every process is bounded by `timeout`; --json documents are
# checked with python3's json module.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_acl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
need_cmd python3 "it checks the JSON"
clean_env
work_dir

redis_start "${3:-}" "${4:-}"
rhaid_start acl acl 1
rhaid_wait "$RHAID_PID"
D=$WORK/data-acl
CTL_URL=$URL
CTL_TIMEOUT=60            # ctl: rhaictl against our redis (60 s at most)

PK=$(timeout 10 "$CTL" keygen --out "$WORK/alice.key") || die "keygen failed"
ctl 0 context create acme --owner alice --owner "$PK" --data-dir "$D"

# ---- grant through the worker, seen locally ---------------------------------------
ctl 0 acl grant acme bob --model company --ops read,update --worker acl --as alice --json &&
    json 'd["id"] == 1 and d["context"] == "acme" and d["caller"] == "bob" and
          d["ops"] == ["read", "update"] and d["expires_at"] is None' "remote grant --json"
ctl 0 acl grant acme carol --model Company --ops all --object 7 --expires 1h \
    --remote --worker acl --key "$WORK/alice.key" && has "$OUT" "granted #2 in acme"
ctl 0 acl list acme --data-dir "$D" --json && keep local_list &&
    json '[g["id"] for g in d] == [1, 2] and d[0]["caller"] == "bob" and
          d[0]["ops"] == ["read", "update"] and d[0]["granted_by"] == "alice" and
          d[1]["object_id"] == 7 and d[1]["granted_by"] == "'"$PK"'" and
          d[1]["expires_at"] > 0' "the worker's grants, seen locally"
# The remote list is the same document as the local one.
ctl 0 acl list acme --worker acl --key "$WORK/alice.key" --json &&
    json 'd == saved' "remote list == local list"
ctl 0 acl list acme --worker acl --as alice && has "$OUT" "read,update" && has "$OUT" "CALLER"
ctl 0 acl owners acme --worker acl --as alice --json &&
    json 'sorted(d) == sorted(["alice", "'"$PK"'"])' "remote owners"

# ---- revoke through the worker ----------------------------------------------------
ctl 0 acl revoke acme bob --model company --ops update --worker acl --as alice --json &&
    json 'd["changed"] == 1' "remote revoke"
ctl 0 acl list acme --data-dir "$D" --json && json 'd[0]["ops"] == ["read"]' "revoke seen locally"
ctl 0 acl revoke acme nobody --model company --worker acl --as alice &&
    has "$OUT" "nothing to revoke"

# ---- a caller that is not an owner is denied -----------------------------------------
ctl 4 acl grant acme mallory --model company --ops all --worker acl --as mallory &&
    has "$ERR" "denied"
ctl 4 acl list acme --worker acl --as bob && has "$ERR" "denied"
ctl 4 audit acme --worker acl --as bob && has "$ERR" "denied"
ctl 4 acl revoke acme bob --model company --worker acl && has "$ERR" "denied"  # anonymous
ctl 0 acl list acme --data-dir "$D" --json && json 'len(d) == 2' "denials changed nothing"

# ---- audit through the worker ------------------------------------------------------------
ctl 0 audit acme --data-dir "$D" --json && keep local_audit &&
    json 'any(r["caller"] == "alice" and r["op"] == "grant" and r["decision"] == "allowed"
              for r in d) and
          any(r["caller"] == "mallory" and r["decision"] == "denied" for r in d) and
          d[-1]["op"] == "context_create"' "audit rows of remote changes, locally"
ctl 0 audit acme --worker acl --as alice --json && json 'd == saved' "remote audit == local audit"
ctl 0 audit acme --by mallory --decision denied --limit 5 --worker acl --caller alice --json &&
    json 'len(d) >= 1 and all(r["caller"] == "mallory" and r["decision"] == "denied"
                              for r in d)' "remote audit filters"
ctl 0 audit acme --worker acl --key "$WORK/alice.key" && has "$OUT" "DECISION"

# ---- owners through the worker ------------------------------------------------------
ctl 4 acl add-owner acme mallory --worker acl --as mallory && has "$ERR" "denied"
ctl 4 acl list acme --worker acl --as bob && has "$ERR" "denied"
ctl 0 acl add-owner acme bob --worker acl --as alice --json &&
    json 'd == {"context": "acme", "caller": "bob", "owner": True}' "remote add-owner"
ctl 0 acl owners acme --data-dir "$D" --json && json '"bob" in d and "mallory" not in d' \
    "the new owner, seen locally"
ctl 0 acl list acme --worker acl --as bob --json && json 'len(d) == 2' "a new owner may list"
ctl 0 acl remove-owner acme bob --worker acl --key "$WORK/alice.key" &&
    has "$OUT" "bob is no longer an owner of acme"
ctl 4 acl list acme --worker acl --as bob && has "$ERR" "denied"

# ---- errors ---------------------------------------------------------------------------------
# Remotely only the shape of a model name is checked: the worker refuses it.
ctl 1 acl grant acme bob --model nosuch_model --ops read --worker acl --as alice &&
    has "$ERR" "nosuch_model"
# A context the worker does not have: "not found", as locally (exit 7).
ctl 7 acl list nosuch --worker acl --as alice && has "$ERR" "UnknownContext"
ctl 7 acl list nosuch --data-dir "$D"
ctl 3 acl list acme --worker nobody-serves-this --as alice --timeout 1000 &&
    has "$ERR" "no result"

finish
