#!/usr/bin/env bash
# test_ctl_delay.sh BIN_DIR [REDIS_SERVER REDIS_CLI] -- rhaictl and delayed
# tasks and retries (issue 19) against a real redis-server and rhaid:
# submit --in / --at / --retries / --backoff (and their usage errors, exit
# 2), tasks --status scheduled (text and --json with run_at), task show of
# a retried task (attempt, backoff, one errors: line per attempt, dead_at),
# task cancel of a scheduled task, and a delayed submit that waits for its
# reply.
set -u
. "$(dirname "$0")/../support/lib.sh"
use_bin "${1:?usage: test_ctl_delay.sh BIN_DIR [REDIS_SERVER REDIS_CLI]}"
need_exe "$RHAID" "build the rhaid target"
clean_env
work_dir

redis_start "${2:-}" "${3:-}"
rhaid_start d1 default 1
rhaid_wait "$RHAID_PID"
CTL_URL=$URL

# usage errors: nothing queued
ctl 2 submit -e 1 --in 5x && has "$ERR" "invalid duration"
ctl 2 submit -e 1 --at tomorrow && has "$ERR" "invalid time"
ctl 2 submit -e 1 --at 2026-12-06T10:00:00Z --in 5s && has "$ERR" "not both"
ctl 2 submit -e 1 --retries 101 && has "$ERR" "--retries"
ctl 2 submit -e 1 --backoff exp:5:1 && has "$ERR" "invalid backoff"

# delayed: scheduled, listed with its due time, cancelled, never run
ctl 0 submit -e "'late'" --in 1h --no-wait --json && json 'd["status"] == "scheduled"'
late=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$OUT")
ctl 0 submit -e 1 --at 2099-01-01T00:00:00Z --no-wait && far=$(cat "$OUT")
ctl 0 tasks --status scheduled && has "$OUT" "DUE" && has "$OUT" "$late" && has "$OUT" "in 59m"
ctl 0 tasks --status scheduled --json &&
    json 'd["count"] == 2 and d["tasks"][0]["status"] == "scheduled" and d["tasks"][0]["run_at"] < d["tasks"][1]["run_at"]'
ctl 0 task cancel "$late" && has "$OUT" "cancelled $late"
ctl 0 task show "$late" && has "$OUT" "cancelled" && has "$OUT" "run_at:"
ctl 0 tasks --status scheduled --json && json 'd["count"] == 1'
ctl 0 task cancel "$far"

# a delayed submit waits for its reply
ctl 0 submit -e 'ctx.attempt' --in 300ms && is "$OUT" "1"

# retries: one reply after the third attempt, each error listed
ctl 1 submit -e 'throw new Error("x" + ctx.attempt)' --retries 2 --backoff fixed:50 &&
    has "$ERR" "x3"
ctl 0 tasks --status error --json && id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks"][0]["id"])' "$OUT")
ctl 0 task show "$id" && has "$OUT" "attempt:     3 of 3" && has "$OUT" "backoff:     fixed:50" &&
    has_re "$OUT" "errors: +attempt 1: .*: script: Error: x1" &&
    has_re "$OUT" "errors: +attempt 3: .*: script: Error: x3" && has "$OUT" "dead_at:"
ctl 0 task show "$id" --json &&
    json 'd["attempt"] == 3 and d["retries"] == 2 and len(d["errors"]) == 3 and d["dead_at"] > 0'
ctl 0 submit -e 'if (ctx.attempt < 2) throw new Error("no"); ctx.attempt' --retries 1 \
    --backoff exp:20:40 && is "$OUT" "2"
finish
