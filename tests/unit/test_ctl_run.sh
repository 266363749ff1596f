#!/usr/bin/env bash
# test_ctl_run.sh -- rhaictl without Redis: `run` (the local sandbox), usage
# errors, --help of every command and the exit codes of ctl.h.
#   bash test_ctl_run.sh BIN_DIR SOURCE_DIR
# Every rhaictl call is bounded by `timeout`; a failed check prints what
# was expected and what came, and the script exits 1 at the end.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_run.sh BIN_DIR SOURCE_DIR}"
SRC=${2:?usage: test_ctl_run.sh BIN_DIR SOURCE_DIR}
clean_env
# Nothing here may reach a Redis: point the default somewhere closed.
export RHAI_REDIS_URL=redis://127.0.0.1:1
work_dir
CTL_TIMEOUT=20            # ctl: run rhaictl (20 s at most)

# ---- run: results ------------------------------------------------------------
ctl 0 run -e '40+2' && { is "$OUT" 42; empty "$ERR"; }
ctl 0 run -e 'args.a * args.b' --args '{"a":6,"b":7}' && is "$OUT" 42
ctl 0 run -e 'args' && is "$OUT" '{}'
ctl 0 run -e '[ctx.context_id, ctx.caller_id, ctx.worker_id]' -c books -u alice &&
    is "$OUT" '["books","alice","local"]'
ctl 0 run -e 'undefined' && is "$OUT" null
ctl 0 run -e '({s: "a\nb", n: [1, 2.5]})' && is "$OUT" '{"n":[1,2.5],"s":"a\nb"}'

printf '6 * 7\n' >"$WORK/mul.js"
ctl 0 run "$WORK/mul.js" && is "$OUT" 42
CHECKS=$((CHECKS + 1))
if [ "$(echo '6*7' | timeout 20 "$CTL" run - 2>&1)" != 42 ]; then
    fail "run - (stdin) did not print 42"
fi
ctl 0 run "$SRC/examples/sum.js" --args '{"numbers":[1,2,3,4]}' && has "$OUT" '"sum":10'

# print() goes to stderr as log lines, the result alone to stdout.
ctl 0 run -e 'print("hello"); print("two\nlines"); 7' && {
    is "$OUT" 7; has "$ERR" 'log: hello'; has "$ERR" 'log: two'; has "$ERR" 'log: lines'; }

# ---- run: failures and their exit codes --------------------------------------
ctl 1 run -e 'throw new Error("boom")' && { empty "$OUT"; has "$ERR" 'script: Error: boom'; }
ctl 1 run -e 'var x = ;' && has "$ERR" 'script: SyntaxError'
ctl 1 run -e 'null.x' && has "$ERR" 'TypeError'
ctl 1 run -e 'print("before"); throw "plain"' && { has "$ERR" 'log: before'; has "$ERR" 'plain'; }
ctl 1 run -m 1m -e 'var a = []; for (;;) a.push("xxxxxxxxxxxxxxxxxxxxxxxx" + a.length)' &&
    has "$ERR" 'memory:'

START=$(date +%s%N)
ctl 3 run -e 'while(true){}' --timeout 300 && { empty "$OUT"; has "$ERR" 'timeout:'; }
ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
CHECKS=$((CHECKS + 1))
if [ "$ELAPSED_MS" -gt 5000 ]; then
    fail "--timeout 300 took ${ELAPSED_MS} ms"
fi

# ---- run --data-dir: contexts and authorization ------------------------------
# An unknown context is created on first DSL use, owned by --caller.
D=$WORK/data
ctl 0 run -e '40 + 2' --data-dir "$D" -c books -u alice && is "$OUT" 42
CHECKS=$((CHECKS + 1))
[ ! -e "$D/books.db" ] || fail "a run without the DSL created books"
ctl 0 run -e 'Company.create({name: "A"}).id' --data-dir "$D" -c books -u alice && is "$OUT" 1
ctl 0 run -e 'acl.owners()' --data-dir "$D" -c books -u alice && is "$OUT" '["alice"]'
# another caller is denied (exit 4), and may catch it
ctl 4 run -e 'Company.get(1)' --data-dir "$D" -c books -u bob && {
    empty "$OUT"; has "$ERR" "denied: PermissionDenied: caller 'bob' may not read company 1"; }
ctl 0 run -e 'try { Company.get(1) } catch (e) { e.name }' --data-dir "$D" -c books -u bob &&
    is "$OUT" '"PermissionDenied"'
ctl 0 run -e 'acl.grant({caller: "bob", model: "company", ops: "read"})' --data-dir "$D" \
    -c books -u alice && is "$OUT" 1
ctl 0 run -e 'Company.get(1).name' --data-dir "$D" -c books -u bob && is "$OUT" '"A"'
ctl 4 run -e 'audit.query()' --data-dir "$D" -c books -u bob && has "$ERR" 'owners only'
ctl 0 run -e 'audit.query({decision: "denied"}).length' --data-dir "$D" -c books -u alice &&
    is "$OUT" 3

# ---- run --json ---------------------------------------------------------------
ctl 0 run --json -e 'print("hi"); 40+2' && {
    has "$OUT" '"status":"done"'; has "$OUT" '"output":42'; has "$OUT" '"logs":"hi\n"'
    has "$OUT" '"error_kind":null'; empty "$ERR"; }
ctl 1 --json run -e 'throw new Error("boom")' && {
    has "$OUT" '"status":"error"'; has "$OUT" '"error_kind":"script"'
    has "$OUT" '"error":"Error: boom'; }
ctl 3 run -e 'while(true){}' --timeout 200 --json && {
    has "$OUT" '"status":"timeout"'; has "$OUT" '"error_kind":"timeout"'; }
# --json splices the output text in unchanged (no re-encoding of numbers).
ctl 0 run -e '[0.1 + 0.2, 1e21, 1/3]' && PLAIN=$(cat "$OUT")
ctl 0 run -e '[0.1 + 0.2, 1e21, 1/3]' --json && has "$OUT" "\"output\":$PLAIN,"

# ---- usage errors: exit 2, one reason and a pointer to --help -----------------
usage() {
    ctl 2 "$@" && { empty "$OUT"; has "$ERR" "try 'rhaictl" "rhaictl $*"; }
}
usage run
usage run -e 1 "$WORK/mul.js"
usage run -e 1 --bogus
usage run -e
usage run -e 1 --args '{"a":'
usage run -e 1 --timeout 0
usage run -e 1 --timeout abc
usage run -e 1 --memory 12q
usage run -e 1 --memory 1k
usage repl --timeout 0
usage repl --memory 1k
ctl 2 repl --memory 5g && has "$ERR" "rhaictl repl: --memory '5g' is not a size in 64k..4g"
ctl 2 run -e 1 --timeout 86400001 && has "$ERR" "in 1..86400000"
usage run -e 1 --json=yes
usage run -e ''
usage submit
usage submit -e 1 --worker 'has space'
usage submit -e 1 --args '[1,'
usage task
usage task show
usage task frob x
usage task show 'bad id'
usage task show a b
usage task show --wait some-id
usage frobnicate
usage
usage --bogus

# Unreadable, oversized or binary script files: a clear message, exit 2.
ctl 2 run "$WORK/does-not-exist.js" && has "$ERR" 'cannot read'
ctl 2 run "$WORK" && has "$ERR" 'cannot read'
truncate -s 17M "$WORK/big.js"
ctl 2 run "$WORK/big.js" && has "$ERR" '16 MiB'
ctl 2 submit "$WORK/big.js" && has "$ERR" '16 MiB'
printf '1\0002' >"$WORK/nul.js"
ctl 2 run "$WORK/nul.js" && has "$ERR" 'NUL'

# Redis commands against a closed port: connection error, exit 5.
ctl 5 submit -e 1 && has "$ERR" 'cannot connect'
ctl 5 task show some-id --redis-url redis://127.0.0.1:1 && has "$ERR" 'cannot connect'

# ---- help and version ------------------------------------------------------------
ctl 0 --help && { has "$OUT" 'Usage'; has "$OUT" 'submit'; has "$OUT" '7  task not found'; }
ctl 0 -h && has "$OUT" 'Usage'
for cmd in submit run task; do
    ctl 0 "$cmd" --help && { has "$OUT" "Usage: rhaictl $cmd" "$cmd --help"
                             has "$OUT" 'Exit codes' "$cmd --help"; empty "$ERR"; }
    ctl 0 help "$cmd" && has "$OUT" "Usage: rhaictl $cmd" "help $cmd"
done
ctl 0 task show --help && has "$OUT" 'Usage'
ctl 0 run -e 1 --help && has "$OUT" 'Usage: rhaictl run'
ctl 0 --version && has "$OUT" 'rhaictl '
CHECKS=$((CHECKS + 1))
grep -Eq '^rhaictl [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" ||
    fail "--version printed '$(cat "$OUT")'"

# ---- the man page documents every command of --help -------------------------
man1=$SRC/docs/man/rhaictl.1
ctl 0 --help && for cmd in $(sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$OUT"); do
    [ "$cmd" = help ] && continue
    CHECKS=$((CHECKS + 1))
    grep -Eq "^(\.BI? \"?|\\\\fB)$cmd( |\\\\fR|\"|\$)" "$man1" ||
        fail "rhaictl.1 has no entry for '$cmd'"
done

finish
