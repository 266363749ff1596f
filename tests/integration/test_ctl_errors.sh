#!/usr/bin/env bash
# test_ctl_errors.sh -- rhaictl --json when a command fails: stdout is
# still one JSON document ("--json makes it print one JSON document on
# stdout", rhaictl(1)), so a script piping it into jq gets the reason and
# the exit code instead of a parse error on empty input; the text stays on
# stderr. A failed task's own JSON (submit, run) is that document.
#   bash test_ctl_errors.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_errors.sh BIN_DIR [REDIS_SERVER] [REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
need_cmd python3 "it checks the JSON"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
rhaid_start er er 1
rhaid_wait "$RHAID_PID"
CTL_URL=$URL

# err_doc RC: stdout is exactly one JSON object {"error": text, "exit": RC},
# and stderr still says it in words
err_doc() {
    json "list(d) == ['error', 'exit'] and isinstance(d['error'], str) and d['error'] \
          and d['exit'] == $1" "error document of exit $1"
    CHECKS=$((CHECKS + 1))
    [ "$(wc -l <"$OUT")" = 1 ] || fail "more than one line on stdout"
    CHECKS=$((CHECKS + 1))
    [ -s "$ERR" ] || fail "nothing on stderr"
}

ctl 7 --json task show no-such-task && { err_doc 7; json "'no-such-task' in d['error']"; }
ctl 7 task show no-such-task --json && err_doc 7
ctl 7 --json task cancel no-such-task && err_doc 7
ctl 7 --json task retry no-such-task && err_doc 7
ctl 7 --json queue purge nosuch && { err_doc 7; json "'nosuch' in d['error']"; }
ctl 2 --json tasks --status bogus && { err_doc 2; json "'bogus' in d['error']"; }
ctl 2 --json tasks --limit -1 && err_doc 2
ctl 2 --json tasks --since garbage && err_doc 2
ctl 2 --json no-such-command && err_doc 2
ctl 2 --json submit && err_doc 2
CTL_TIMEOUT=10 ctl 8 --json submit -e 1 --worker ghost && {
    err_doc 8; json "'no live instance for ghost' in d['error']"; }
ctl 5 --json --redis-url "redis://127.0.0.1:$(free_port)" workers && err_doc 5
printf '{"domain": 5}\n' >"$WORK/bad.json"
ctl 1 --json dsl validate "$WORK/bad.json" && err_doc 1
# a failed task: its own JSON, once, and nothing added
ctl 1 --json submit -e 'throw new Error("boom")' --worker er &&
    json "d['status'] == 'error' and d['error_kind'] == 'script' and 'boom' in d['error']"
ctl 1 --json run -e 'throw new Error("boom")' &&
    json "d['status'] == 'error' and 'boom' in d['error']"
# success is unchanged
ctl 0 --json queues && json "'queues' in d"
finish
