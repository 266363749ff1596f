#!/usr/bin/env bash
# test_ctl_move.sh -- rhaictl's local store commands by --data-url as well
# as --data-dir, and `context export|import` (no Redis): a context made by
# DSL tasks exported from one data dir and imported into another holds the
# same rows, owners, grants, audit log and ledger; a cut file, an existing
# context, a missing file and both --data-url and --data-dir are refused
# with their exit codes, leaving nothing; passwords in a URL never show.
# With RHAI_TEST_PG_URL set (tools/with-postgres.sh), the context also
# goes to postgres and back.
#   bash test_ctl_move.sh BIN_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_move.sh BIN_DIR SOURCE_DIR}"
need_cmd python3 "it checks the JSON"
PG_URL=${RHAI_TEST_PG_URL:-}
clean_env
unset RHAI_DATA_URL
export RHAI_REDIS_URL=redis://127.0.0.1:1
work_dir
A=$WORK/a
B=$WORK/b

# same_rows F1 F2 [SKIP_AUDIT_OP]: the two exports hold the same rows, the
# header's context and time aside, and audit rows of op SKIP_AUDIT_OP
# (the import's own), the ledger's context_id and the owners' added_at
# (the first owner's is the import's time) aside.
same_rows() {
    CHECKS=$((CHECKS + 1))
    python3 - "$1" "$2" "${3:-}" <<'PY' || { fail "exports $1 and $2 differ"; }
import json, sys
def rows(p, skip):
    out = []
    for line in open(p):
        d = json.loads(line)
        if "format" in d or "end" in d:
            continue
        r = d["row"]
        if d["table"] == "rhai_audit" and r["op"] == skip:
            continue
        if d["table"] == "rhai_ledger":
            r = dict(r, context_id=None)
        if d["table"] == "rhai_owners":     # the first: the import's time
            r = dict(r, added_at=None)
        out.append((d["table"], r))
    return out
a, b = rows(sys.argv[1], sys.argv[3]), rows(sys.argv[2], sys.argv[3])
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("  first difference:", x, "!=", y)
            break
    print("  rows:", len(a), len(b))
    sys.exit(1)
PY
}

# ---- a context with rows, grants, audit and a ledger, made by tasks -----------
ctl 0 run -d "$A" -c acme -u alice -e 'Company.create({name: "Acme"}).id' && is "$OUT" 1
ctl 0 run -d "$A" -c acme -u alice -e \
    'acl.grant({caller: "bob", model: "company", ops: "read"}); Company.create({name: "B"}).id'
ctl 0 run -d "$A" -c acme -u mallory -e 'try { Company.get(1) } catch (e) { e.name }'
ctl 0 context export acme -d "$A" && cp "$OUT" "$WORK/acme.json"
CHECKS=$((CHECKS + 1))
python3 - "$WORK/acme.json" <<'PY' || fail "the export's shape"
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert ls[0]["format"] == "rhai-context/1" and ls[0]["context"] == "acme"
assert ls[0]["backend"] == "sqlite"
assert ls[-1] == {"end": True, "rows": len(ls) - 2}
tables = [l["table"] for l in ls[1:-1]]
assert tables[0] == "rhai_owners" and "rhai_grants" in tables and "rhai_ledger" in tables
assert sum(1 for t in tables if t == "company") == 2
assert tables == sorted(tables, key=lambda t: ["rhai_owners", "rhai_grants", "rhai_audit",
    "rhai_ledger"].index(t) if t.startswith("rhai_") else 9)
PY

# ---- import into another data dir, by --data-url --------------------------------
ctl 0 context import acme --from "$WORK/acme.json" --data-url "sqlite://$B" --json &&
    json 'd["id"] == "acme" and d["rows"] > 5 and d["where"] == "sqlite://'"$B"'"' "import --json"
ctl 0 context export acme -d "$B" && cp "$OUT" "$WORK/b.json"
same_rows "$WORK/acme.json" "$WORK/b.json" context_import
ctl 0 audit acme -d "$B" --json && json 'd[0]["op"] == "context_import"' "the import is audited"
ctl 0 context show acme --data-url "sqlite:$B" --json &&
    json 'd["backend"] == "sqlite" and d["file_bytes"] > 0 and d["tasks_recorded"] == 2 and
          d["rows"]["company"] == 2 and d["owners"] == ["alice"]' "show of the import"
# the grants work there: bob reads, mallory does not
ctl 0 run -d "$B" -c acme -u bob -e 'Company.get(2).name' && is "$OUT" '"B"'
ctl 4 run --data-url "sqlite://$B" -c acme -u mallory -e 'Company.get(1)'
# new rows get new ids
ctl 0 run -d "$B" -c acme -u alice -e 'Company.create({name: "C"}).id' && is "$OUT" 3
# RHAI_DATA_URL, and it wins over RHAI_DATA_DIR
RHAI_DATA_URL=sqlite://$B RHAI_DATA_DIR=$A ctl 0 acl list acme --json &&
    json 'len(d) == 1 and d[0]["caller"] == "bob"' "RHAI_DATA_URL"
RHAI_DATA_URL=sqlite://$B ctl 0 context list --json && json 'd == ["acme"]' "list by url"

# ---- refused: each leaves nothing -----------------------------------------------
ctl 1 context import acme --from "$WORK/acme.json" -d "$B" && has "$ERR" "exists already"
head -n -1 "$WORK/acme.json" >"$WORK/cut.json"
ctl 2 context import acme --from "$WORK/cut.json" -d "$WORK/c" &&
    has "$ERR" "without the end line" && has "$ERR" "cut file"
sed 's/"rhai-context\/1"/"rhai-context\/7"/' "$WORK/acme.json" >"$WORK/v7.json"
ctl 2 context import acme --from "$WORK/v7.json" -d "$WORK/c" && has "$ERR" "line 1: unknown format"
sed 's/"name":"B"/"name":"B","root":true/' "$WORK/acme.json" >"$WORK/evil.json"
ctl 2 context import acme --from "$WORK/evil.json" -d "$WORK/c" && has "$ERR" "unknown field 'root'"
ctl 0 context list -d "$WORK/c" --json && json 'd == []' "nothing left by refused imports"
ctl 2 context import acme --from "$WORK/nope.json" -d "$WORK/c" && has "$ERR" "cannot read"
ctl 7 context export nope -d "$A" && has "$ERR" "no context 'nope'"
ctl 2 context list -d "$A" --data-url "sqlite://$A" && has "$ERR" "not both"
ctl 2 acl list acme -d "$A" --data-url "sqlite://$A" && has "$ERR" "not both"
ctl 2 context show acme --data-url "" && has "$ERR" "--data-url is empty"
ctl 2 context export acme --from x -d "$A" && has "$ERR" "--from goes with import"
ctl 2 acl list acme --worker w --data-url "sqlite://$A" && has "$ERR" "--data-url is local"

# ---- a password in the URL never shows -------------------------------------------
# (no server there: exit 1; a build without postgres refuses the URL: 2)
SECRET_URL='postgres://u:s3cr3tpw@127.0.0.1:1/db?connect_timeout=2'
for cmd in "context list" "context show acme" "acl list acme" "audit acme" \
           "context export acme" "run -e Company.count() -c acme -u alice"; do
    CHECKS=$((CHECKS + 1))
    # shellcheck disable=SC2086
    timeout 30 "$CTL" $cmd --data-url "$SECRET_URL" >"$OUT" 2>"$ERR" </dev/null
    rc=$?
    { [ $rc = 1 ] || [ $rc = 2 ]; } || fail "$cmd on an unreachable postgres: exit $rc"
    ! grep -q s3cr3tpw "$OUT" "$ERR" || { fail "$cmd: the password shows"; lib_show "$ERR"; }
    case $cmd in run*) ;; *) has "$ERR" "127.0.0.1" "$cmd" ;; esac
done

# ---- sqlite -> postgres -> sqlite --------------------------------------------------
if [ -n "$PG_URL" ]; then
    P=move$$
    ctl 0 context import "$P" --from "$WORK/acme.json" --data-url "$PG_URL"
    ctl 0 context show "$P" --data-url "$PG_URL" --json &&
        json 'd["backend"] == "postgres" and d["file_bytes"] is None and
              d["tasks_recorded"] == 2 and d["rows"]["company"] == 2' "show on postgres"
    ctl 0 context show "$P" --data-url "$PG_URL" && has "$OUT" "backend         postgres" &&
        CHECKS=$((CHECKS + 1)) && { ! grep -q "file size" "$OUT" || fail "a file size on pg"; }
    ctl 0 run --data-url "$PG_URL" -c "$P" -u bob -e 'Company.get(2).name' && is "$OUT" '"B"'
    ctl 0 context export "$P" --data-url "$PG_URL" && cp "$OUT" "$WORK/pg.json"
    same_rows "$WORK/acme.json" "$WORK/pg.json" context_import
    ctl 0 context import acme --from "$WORK/pg.json" -d "$WORK/back"
    ctl 0 context export acme -d "$WORK/back" && cp "$OUT" "$WORK/back.json"
    same_rows "$WORK/acme.json" "$WORK/back.json" context_import
    ctl 0 context list --data-url "$PG_URL" --json && json '"'"$P"'" in d' "list on postgres"
else
    echo "test_ctl_move: RHAI_TEST_PG_URL not set: the postgres round trip is skipped"
fi

finish
