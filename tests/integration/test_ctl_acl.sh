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
BIN=${1:?usage: test_ctl_acl.sh BIN_DIR SOURCE_DIR [REDIS_SERVER] [REDIS_CLI]}
REDIS_SERVER=${3:-$(command -v redis-server)}
REDIS_CLI=${4:-$(command -v redis-cli)}
BIN=$(cd "$BIN" 2>/dev/null && pwd) || { echo "FAIL: no directory $1"; exit 1; }
CTL=$BIN/rhaictl
RHAID=$BIN/rhaid

die() { echo "FAIL: $*"; exit 1; }
[ -x "$CTL" ] || die "$CTL is missing (build the rhaictl target)"
[ -x "$RHAID" ] || die "$RHAID is missing (build the rhaid target)"
[ -n "$REDIS_SERVER" ] && [ -x "$REDIS_SERVER" ] || die "redis-server not found"
[ -n "$REDIS_CLI" ] && [ -x "$REDIS_CLI" ] || die "redis-cli not found"
command -v python3 >/dev/null || die "python3 not found (it checks the JSON)"
# Our own settings only: nothing from the caller's environment (with-redis.sh
# exports RHAI_REDIS_URL) may redirect rhaid or rhaictl.
unset RHAI_REDIS_URL RHAI_PREFIX RHAI_WORKER_ID RHAI_CONCURRENCY RHAI_DATA_DIR \
      RHAI_LOG_LEVEL RHAI_CONFIG

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_ctl_acl.XXXXXX")
D=$WORK/data
REDIS_PID=
RHAID_PID=
cleanup() {
    [ -n "$RHAID_PID" ] && kill -TERM "$RHAID_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
    for p in $RHAID_PID $REDIS_PID; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()'
}

# ---- redis-server and rhaid ------------------------------------------------------
PORT=$(free_port) || die "no free port"
URL=redis://127.0.0.1:$PORT
"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
rcli() { timeout 5 "$REDIS_CLI" -p "$PORT" "$@"; }
for _ in $(seq 100); do
    [ "$(rcli PING 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log"; die "redis-server exited"; }
    sleep 0.1
done
[ "$(rcli PING 2>/dev/null)" = PONG ] || die "redis-server on port $PORT does not answer"

mkdir -p "$D"
"$RHAID" --redis-url "$URL" --worker-id acl --concurrency 1 --data-dir "$D" \
    --log-level warn >"$WORK/rhaid.log" 2>&1 &
RHAID_PID=$!
for _ in $(seq 100); do       # up once its heartbeat names it in rhai:workers
    [ -n "$(rcli SMEMBERS rhai:workers 2>/dev/null)" ] && break
    kill -0 "$RHAID_PID" 2>/dev/null || { cat "$WORK/rhaid.log"; die "rhaid exited at start"; }
    sleep 0.1
done
[ -n "$(rcli SMEMBERS rhai:workers 2>/dev/null)" ] ||
    { cat "$WORK/rhaid.log"; die "rhaid wrote no heartbeat within 10 s"; }

# ---- checks ------------------------------------------------------------------------
FAILS=0
CHECKS=0
OUT=$WORK/out
ERR=$WORK/err

# ctl EXPECTED_RC ARGS...: rhaictl against our redis (60 s at most).
ctl() {
    local want=$1 rc
    shift
    CHECKS=$((CHECKS + 1))
    timeout 60 "$CTL" --redis-url "$URL" "$@" >"$OUT" 2>"$ERR" </dev/null
    rc=$?
    if [ "$rc" != "$want" ]; then
        FAILS=$((FAILS + 1))
        echo "FAIL: rhaictl $* -> exit $rc, expected $want"
        sed 's/^/  stdout: /' "$OUT" | head -5
        sed 's/^/  stderr: /' "$ERR" | head -5
        return 1
    fi
    return 0
}

has() {
    CHECKS=$((CHECKS + 1))
    if ! grep -qF -- "$2" "$1"; then
        FAILS=$((FAILS + 1))
        echo "FAIL: ${3:-last call}: expected '$2' in $(basename "$1"), got:"
        sed 's/^/  | /' "$1" | head -5
    fi
}

# json 'PYTHON EXPR' [what]: the last stdout is one JSON document `d` for
# which EXPR holds; `saved` is the document kept by `keep`.
json() {
    CHECKS=$((CHECKS + 1))
    if ! python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
saved = json.loads(open(sys.argv[2]).read()) if sys.argv[2] else None
sys.exit(0 if eval("(" + sys.argv[3] + ")") else 1)' "$OUT" "${SAVED:-}" "$1" 2>"$WORK/pyerr"
    then
        FAILS=$((FAILS + 1))
        echo "FAIL: ${2:-last call}: JSON check '$1' failed on:"
        sed 's/^/  | /' "$OUT" | head -5
        sed 's/^/  py: /' "$WORK/pyerr" | tail -2
    fi
}

# keep NAME: save the last stdout as $WORK/NAME and point SAVED at it.
keep() { cp "$OUT" "$WORK/$1"; SAVED=$WORK/$1; }

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
ctl 0 audit acme --caller mallory --decision denied --limit 5 --worker acl --as alice --json &&
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

echo "test_ctl_acl: $CHECKS checks, $FAILS failed"
if [ "$FAILS" -ne 0 ]; then
    echo "--- rhaid log (tail)"
    tail -20 "$WORK/rhaid.log"
fi
[ "$FAILS" -eq 0 ]
