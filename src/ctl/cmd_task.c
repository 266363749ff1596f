/* cmd_task.c -- `rhaictl task show|cancel|retry ID`: look after one task.
 *
 * `show` reads the task hash (rhai_task_status, plus the submit fields the
 * reply has no place for: context, caller, args, timeout, script, retry_of)
 * and prints it as aligned "key: value" lines, or the reply-shaped JSON
 * with those fields added with --json; the script and args are cut to
 * TASK_SHOW_CUT bytes unless --full. `cancel`
 * (rhai_cancel) ends a queued task at once and asks the worker of a
 * running one to kill it; with --wait it waits for that final reply. A
 * task that already finished is refused with exit code 1. `retry` reads a
 * finished task's submit fields from its hash and submits them again,
 * through the public API, as a new task with a new id whose hash records
 * retry_of. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define TASK_CANCEL_WAIT_MS 30000     /* a worker acts within a heartbeat */
#define TASK_SHOW_CUT 300             /* bytes of script and args without --full */

static const char task_help[] =
    "Usage: rhaictl task show [--full] ID\n"
    "       rhaictl task cancel [--wait] ID\n"
    "       rhaictl task retry [--wait [--wait-for-worker]] ID\n"
    "\n"
    "show     print a task's state, final or not, as 'key: value' lines:\n"
    "         status (queued, claimed: taken by an instance, not started;\n"
    "         running, done, error, timeout, cancelled), context, caller,\n"
    "         timeout_ms (none: the worker's default), retry_of, args and\n"
    "         script (both cut to 300 bytes unless --full), times, output,\n"
    "         logs. --json: the reply object of docs/protocol.md plus\n"
    "         context_id, caller_id, timeout_ms, retry_of, args, script,\n"
    "         script_bytes and cut (true when script or args were cut).\n"
    "         Exit 0 when the task exists, whatever its status\n"
    "cancel   cancel a task: a queued one ends 'cancelled' at once and its\n"
    "         waiters get a reply; a running one is killed by its worker at\n"
    "         its next heartbeat (about 1 s). A finished task is not touched\n"
    "         (exit 1). --json prints the task's state afterwards\n"
    "retry    submit a finished task again (its script, args, worker,\n"
    "         context, caller and timeout) as a new task with a new id, and\n"
    "         print the new id (--json: {\"id\", \"retry_of\", \"status\"}); the\n"
    "         new task's hash records retry_of. A task that is still queued,\n"
    "         claimed or running is refused (exit 1). A signed task is\n"
    "         retried unsigned (rhaictl has no key for it)\n"
    "\n"
    "Options:\n"
    "  -w, --wait    cancel: wait (up to 30 s) until the task has ended; exit 0\n"
    "                when it ended cancelled, 1 when it finished first\n"
    "                retry: wait for the new task and print its result as\n"
    "                'rhaictl submit' does (same exit codes, 8 at once when no\n"
    "                live instance serves its worker id); the new id goes\n"
    "                to stderr\n"
    "  -W, --wait-for-worker  retry --wait: queue and wait even when no live\n"
    "                instance serves the worker id\n"
    "  -f, --full    show: the whole script and args\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* "2025-06-01T12:00:00.123Z" for a unix-ms time. */
static void task_fmt_time(int64_t ms, char *buf, size_t n)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, n, "%lld", (long long)ms);
        return;
    }
    snprintf(buf + strlen(buf), n - strlen(buf), ".%03dZ", (int)(ms % 1000));
}

static void task_line(const char *key, const char *val)
{
    if (val && *val)
        printf("%-12s %s\n", key, val);
}

static void task_time_line(const char *key, int64_t ms)
{
    char buf[64];

    if (ms <= 0)
        return;
    task_fmt_time(ms, buf, sizeof buf);
    task_line(key, buf);
}

/* The submit fields the reply object has no place for, in HMGET order. */
static const char *const task_show_fields[] = {
    "context_id", "caller_id", "timeout_ms", "retry_of", "args", "script",
    "run_at", "retries", "backoff", "attempt", "errors", "dead_at",
    "parent_id", "trace_id", "depth"
};
enum { SHOW_CONTEXT, SHOW_CALLER, SHOW_TIMEOUT, SHOW_RETRY_OF, SHOW_ARGS, SHOW_SCRIPT,
       SHOW_RUN_AT, SHOW_RETRIES, SHOW_BACKOFF, SHOW_ATTEMPT, SHOW_ERRORS, SHOW_DEAD_AT,
       SHOW_PARENT, SHOW_TRACE, SHOW_DEPTH, SHOW_NFIELDS };

/* The attempts' errors (field errors, docs/scheduling.md): one line each,
 * "attempt N at TIME: KIND: MESSAGE". Nothing when absent or not JSON. */
static void task_errors_print(const redisReply *e)
{
    json_t *arr = ctl_reply_str(e) ? json_loads(e->str, 0, NULL) : NULL;
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) {
        char at[64] = "", line[64];
        json_int_t ms = json_integer_value(json_object_get(v, "at"));
        const char *msg = json_string_value(json_object_get(v, "error"));

        if (ms > 0)
            task_fmt_time((int64_t)ms, at, sizeof at);
        snprintf(line, sizeof line, "attempt %lld:",
                 (long long)json_integer_value(json_object_get(v, "attempt")));
        /* control characters escaped: the message is the script's text */
        printf("%-12s %s %s: %s: %s\n", "errors:", line, at,
               RH_LOG_Q(json_string_value(json_object_get(v, "error_kind"))),
               RH_LOG_Q(msg ? msg : ""));
    }
    json_decref(arr);
}

/* How many bytes of 's' (len bytes) to show: all with 'full', else at most
 * TASK_SHOW_CUT, backed off to the start of a UTF-8 character. */
static size_t task_cut(const char *s, size_t len, int full)
{
    size_t n = len;

    if (full || n <= TASK_SHOW_CUT)
        return n;
    n = TASK_SHOW_CUT;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* One "key: line" per line of the first n bytes of 's'. */
static void task_lines(const char *key, const char *s, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) : n;
        printf("%-12s %.*s\n", key, (int)k, s);
        s += k + (nl != NULL);
        n -= k + (nl != NULL);
    }
}

/* A submit field as "key: value", cut unless 'full', with a note when cut. */
static void task_cut_line(const char *key, const redisReply *e, int full)
{
    size_t n;

    if (ctl_reply_str(e) == NULL)
        return;
    n = task_cut(e->str, e->len, full);
    task_lines(key, e->str, n);
    if (n < e->len)
        printf("%-12s (cut: %zu of %zu bytes; --full shows all)\n", "", n, e->len);
}

static void task_print(const rhai_result *r, const redisReply *f, int full, json_t *children)
{
    const char *logs = rhai_result_logs(r);
    int64_t started = rhai_result_started_at(r), finished = rhai_result_finished_at(r);
    char buf[64];

    task_line("id:", rhai_result_id(r));
    task_line("status:", rhai_result_status_name(r));
    task_line("error_kind:", rhai_result_error_kind(r));
    task_line("error:", rhai_result_error(r));
    task_line("worker:", rhai_result_worker(r));
    task_line("context:", ctl_reply_str(f->element[SHOW_CONTEXT]));
    task_line("caller:", ctl_reply_str(f->element[SHOW_CALLER]));
    task_line("instance:", rhai_result_instance(r));
    snprintf(buf, sizeof buf, "%d", rhai_result_attempts(r));
    task_line("attempts:", buf);
    if (ctl_reply_ll(f->element[SHOW_TIMEOUT], 0) > 0)
        snprintf(buf, sizeof buf, "%lld", ctl_reply_ll(f->element[SHOW_TIMEOUT], 0));
    else
        snprintf(buf, sizeof buf, "none (the worker's default_timeout_ms)");
    task_line("timeout_ms:", buf);
    task_line("retry_of:", ctl_reply_str(f->element[SHOW_RETRY_OF]));
    if (ctl_reply_ll(f->element[SHOW_RETRIES], 0) > 0) {
        snprintf(buf, sizeof buf, "%lld of %lld", ctl_reply_ll(f->element[SHOW_ATTEMPT], 1),
                 ctl_reply_ll(f->element[SHOW_RETRIES], 0) + 1);
        task_line("attempt:", buf);
        task_line("backoff:", ctl_reply_str(f->element[SHOW_BACKOFF]) ? f->element[SHOW_BACKOFF]->str
                                                                   : RH_BACKOFF_DEFAULT);
    }
    task_errors_print(f->element[SHOW_ERRORS]);
    task_line("parent:", ctl_reply_str(f->element[SHOW_PARENT]));
    task_line("trace:", ctl_reply_str(f->element[SHOW_TRACE]));
    if (ctl_reply_ll(f->element[SHOW_DEPTH], 0) > 0) {
        snprintf(buf, sizeof buf, "%lld", ctl_reply_ll(f->element[SHOW_DEPTH], 0));
        task_line("depth:", buf);
    }
    {
        size_t i;
        json_t *c;
        json_array_foreach(children, i, c)
            printf("%-12s %s %s\n", "child:", json_string_value(json_object_get(c, "id")),
                   json_string_value(json_object_get(c, "status")));
    }
    task_time_line("run_at:", ctl_reply_ll(f->element[SHOW_RUN_AT], 0));
    task_time_line("dead_at:", ctl_reply_ll(f->element[SHOW_DEAD_AT], 0));
    task_time_line("created_at:", rhai_result_created_at(r));
    task_time_line("started_at:", started);
    task_time_line("finished_at:", finished);
    if (started > 0 && finished >= started) {
        snprintf(buf, sizeof buf, "%lld ms", (long long)(finished - started));
        task_line("duration:", buf);
    }
    task_cut_line("args:", f->element[SHOW_ARGS], full);
    task_cut_line("script:", f->element[SHOW_SCRIPT], full);
    if (rhai_result_status(r) == RHAI_STATUS_DONE)
        task_line("output:", rhai_result_output(r) ? rhai_result_output(r) : "null");
    while (logs && *logs) {                    /* one "log:" line per line */
        const char *nl = strchr(logs, '\n');
        int n = nl ? (int)(nl - logs) : (int)strlen(logs);
        printf("%-12s %.*s\n", "log:", n, logs);
        logs = nl ? nl + 1 : logs + n;
    }
}

/* A string field as JSON: null when absent, cut unless 'full' (*cut set
 * when it was). Bytes that are not UTF-8: "(not UTF-8)". */
static json_t *task_json_str(const redisReply *e, int full, int *cut)
{
    json_t *v;
    size_t n;

    if (ctl_reply_str(e) == NULL)
        return json_null();
    n = task_cut(e->str, e->len, full);
    *cut |= n < e->len;
    v = json_stringn(e->str, n);
    return v ? v : json_string("(not UTF-8)");
}

/* The reply object plus the submit fields, as one JSON line. */
static int task_show_json(const rhai_result *r, const redisReply *f, int full,
                          json_t *children)
{
    json_t *doc = json_loads(rhai_result_json(r), 0, NULL);
    long long timeout = ctl_reply_ll(f->element[SHOW_TIMEOUT], 0);
    const redisReply *script = f->element[SHOW_SCRIPT];
    int cut = 0;

    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        ctl_errorf("task", "the task's reply object is not JSON");
        return CTL_EXIT_FAILED;
    }
    json_object_set_new(doc, "context_id", task_json_str(f->element[SHOW_CONTEXT], 1, &cut));
    json_object_set_new(doc, "caller_id", task_json_str(f->element[SHOW_CALLER], 1, &cut));
    json_object_set_new(doc, "timeout_ms", timeout > 0 ? json_integer(timeout) : json_null());
    json_object_set_new(doc, "retry_of", task_json_str(f->element[SHOW_RETRY_OF], 1, &cut));
    json_object_set_new(doc, "run_at", ctl_reply_ll(f->element[SHOW_RUN_AT], 0) > 0
                        ? json_integer(ctl_reply_ll(f->element[SHOW_RUN_AT], 0)) : json_null());
    json_object_set_new(doc, "retries", json_integer(ctl_reply_ll(f->element[SHOW_RETRIES], 0)));
    json_object_set_new(doc, "backoff", task_json_str(f->element[SHOW_BACKOFF], 1, &cut));
    json_object_set_new(doc, "attempt", json_integer(ctl_reply_ll(f->element[SHOW_ATTEMPT], 1)));
    {
        json_t *errs = ctl_reply_str(f->element[SHOW_ERRORS])
                       ? json_loads(f->element[SHOW_ERRORS]->str, 0, NULL) : NULL;
        json_object_set_new(doc, "errors", json_is_array(errs) ? errs : json_array());
        if (errs && !json_is_array(errs))
            json_decref(errs);
    }
    json_object_set_new(doc, "dead_at", ctl_reply_ll(f->element[SHOW_DEAD_AT], 0) > 0
                        ? json_integer(ctl_reply_ll(f->element[SHOW_DEAD_AT], 0)) : json_null());
    json_object_set_new(doc, "args", task_json_str(f->element[SHOW_ARGS], full, &cut));
    json_object_set_new(doc, "script", task_json_str(script, full, &cut));
    json_object_set_new(doc, "script_bytes",
                        json_integer(ctl_reply_str(script) ? (json_int_t)script->len : 0));
    json_object_set_new(doc, "parent_id", task_json_str(f->element[SHOW_PARENT], 1, &cut));
    json_object_set_new(doc, "trace_id", task_json_str(f->element[SHOW_TRACE], 1, &cut));
    json_object_set_new(doc, "depth", json_integer(ctl_reply_ll(f->element[SHOW_DEPTH], 0)));
    {
        json_t *ids = json_array(), *c;
        size_t i;
        json_array_foreach(children, i, c)
            json_array_append(ids, json_object_get(c, "id"));
        json_object_set_new(doc, "children", ids);
    }
    json_object_set_new(doc, "cut", json_boolean(cut));
    return ctl_print_json(doc);
}

/* The most fields task_hmget reads at once. */
#define TASK_HMGET_MAX 16
_Static_assert(SHOW_NFIELDS <= TASK_HMGET_MAX, "task_hmget reads the show fields");

/* HMGET of the n 'fields' of task 'id' into *out (new: an array of n).
 * 0 or an exit code after saying why. */
static int task_hmget(const ctl_global *g, const char *id, const char *const fields[], int n,
                      redisReply **out)
{
    char key[RH_KEY_MAX], worker[RH_NAME_MAX + 1];
    const char *argv[2 + TASK_HMGET_MAX];
    ctl_redis r;
    redisReply *h = NULL;
    int code;

    *out = NULL;
    if ((code = ctl_redis_open(g, "task", &r)) != 0)
        return code;
    /* key layout v2: the hint, else a search of the known worker ids; no
     * such task: the HMGET under worker id "-" reads nothing */
    if ((code = ctl_task_worker(&r, id, worker)) > 1) {
        ctl_redis_close(&r);
        return code;
    }
    argv[0] = "HMGET";
    argv[1] = rh_key_task(key, r.prefix, code == 0 ? worker : "-", id);
    code = 0;
    for (int i = 0; i < n; i++)
        argv[2 + i] = fields[i];
    if (ctl_redis_append_argv(&r, 2 + n, argv) != 0 || (h = ctl_redis_reply(&r)) == NULL) {
        code = r.code;
    } else if (h->type != REDIS_REPLY_ARRAY || h->elements != (size_t)n) {
        code = ctl_redis_fail(&r, CTL_EXIT_FAILED, "HMGET: unexpected reply");
        freeReplyObject(h);
    } else {
        *out = h;
    }
    ctl_redis_close(&r);
    return code;
}

/* The tasks task 'id' started by its events (trace index nodes whose
 * parent it is), oldest first; an empty array when none or unreadable. */
static json_t *task_children(const ctl_global *g, const char *id)
{
    char trace[RH_NAME_MAX + 1], context[RH_NAME_MAX + 1];
    json_t *nodes = NULL, *out = json_array(), *n;
    ctl_redis r;
    size_t i;

    if (ctl_redis_open(g, "task", &r) != 0)
        return out;
    if (ctl_trace_load(&r, id, &nodes, trace, sizeof trace, context, sizeof context) == 0)
        json_array_foreach(nodes, i, n) {
            const char *p = json_string_value(json_object_get(n, "parent"));
            if (p && strcmp(p, id) == 0)
                json_array_append(out, n);
        }
    json_decref(nodes);
    ctl_redis_close(&r);
    return out;
}

static int task_show(const ctl_global *g, rhai_client *c, const char *id, int full)
{
    json_t *children;
    rhai_error err = { 0, "" };
    rhai_result *r = NULL;
    redisReply *f = NULL;
    int rc, code;

    if ((code = ctl_client_learn(g, "task", c, id)) != 0)
        return code;
    if ((rc = rhai_task_status(c, id, &r, &err)) != 0)
        return ctl_report_rc(rc, &err);
    if ((code = task_hmget(g, id, task_show_fields, SHOW_NFIELDS, &f)) != 0) {
        rhai_result_free(r);
        return code;
    }
    children = task_children(g, id);
    if (g->json) {
        code = task_show_json(r, f, full, children);
    } else {
        task_print(r, f, full, children);
        code = ctl_print_flush();
    }
    json_decref(children);
    freeReplyObject(f);
    rhai_result_free(r);
    return code;
}

/* After a successful cancel request: wait for the final reply and say how
 * the task ended. */
static int task_cancel_wait(const ctl_global *g, rhai_client *c, const char *id)
{
    rhai_error err = { 0, "" };
    rhai_result *r = NULL;
    int rc, code;

    rc = rhai_wait(c, id, TASK_CANCEL_WAIT_MS, &r, &err);
    if (rc == RHAI_ETIMEOUT) {
        ctl_errorf("task", "%s did not end within %d ms of the cancel request: is its "
                   "worker alive? (rhaictl task show %s)", id, TASK_CANCEL_WAIT_MS, id);
        return CTL_EXIT_TIMEOUT;
    }
    if (rc != 0)
        return ctl_report_rc(rc, &err);
    if (rhai_result_status(r) == RHAI_STATUS_CANCELLED) {
        code = CTL_EXIT_OK;
        if (!g->json)
            printf("cancelled %s\n", id);
    } else {
        code = CTL_EXIT_FAILED;
        ctl_errorf("task", "%s finished (%s) before it could be cancelled", id,
                   rhai_result_status_name(r));
    }
    if (g->json) {
        printf("%s\n", rhai_result_json(r));
        ctl_json_printed();
    }
    rhai_result_free(r);
    return fflush(stdout) == 0 ? code : CTL_EXIT_FAILED;
}

static int task_cancel(const ctl_global *g, rhai_client *c, const char *id, int wait)
{
    rhai_error err = { 0, "" };
    rhai_result *r = NULL;
    int rc;

    if ((rc = ctl_client_learn(g, "task", c, id)) != 0)
        return rc;
    if ((rc = rhai_cancel(c, id, &err)) != 0) {
        /* "task X is done, only queued or running tasks can be cancelled" */
        if (rc == RHAI_ESTATE) {
            ctl_errorf("task", "%s", err.msg[0] ? err.msg : rhai_strerror(rc));
            return CTL_EXIT_FAILED;
        }
        return ctl_report_rc(rc, &err);
    }
    if (wait)
        return task_cancel_wait(g, c, id);
    if (g->json)
        return task_show(g, c, id, 0);         /* the state now, as JSON */
    /* A queued task is cancelled now; a running one when its worker acts. */
    if (rhai_task_status(c, id, &r, NULL) == 0 &&
        rhai_result_status(r) != RHAI_STATUS_CANCELLED)
        printf("cancel requested for %s (%s; its worker stops it within a "
               "heartbeat)\n", id, rhai_result_status_name(r));
    else
        printf("cancelled %s\n", id);
    rhai_result_free(r);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* ======================== retry ======================== */

/* The submit fields of a task, in HMGET order. */
static const char *const task_retry_fields[] = {
    "status", "script", "worker_id", "context_id", "caller_id", "args", "timeout_ms",
    "signature"
};
enum { RETRY_STATUS, RETRY_SCRIPT, RETRY_WORKER, RETRY_CONTEXT, RETRY_CALLER, RETRY_ARGS,
       RETRY_TIMEOUT, RETRY_SIGNATURE, RETRY_NFIELDS };
_Static_assert(RETRY_NFIELDS <= TASK_HMGET_MAX, "task_hmget reads the retry fields");

/* Read task 'id' and build its retry into *out (new). 0 or an exit code
 * after saying why. *signed_task tells whether the original was signed. */
int ctl_task_retry_build(const ctl_global *g, const char *id, rhai_task **out,
                         int *signed_task, long long *timeout_ms,
                         char worker[RH_NAME_MAX + 1])
{
    const char *v[RETRY_NFIELDS];
    redisReply *h = NULL;
    rhai_task *t = NULL;
    rhai_status st;
    int code, rc = 0, any = 0;

    *out = NULL;
    if ((code = task_hmget(g, id, task_retry_fields, RETRY_NFIELDS, &h)) != 0)
        return code;
    for (int i = 0; i < RETRY_NFIELDS; i++) {
        v[i] = ctl_reply_str(h->element[i]);
        any |= v[i] != NULL;
    }
    if (!any) {
        ctl_errorf("task", "no task %s (unknown or expired)", id);
        code = CTL_EXIT_NOTFOUND;
        goto out;
    }
    st = v[RETRY_STATUS] ? rh_status_parse(v[RETRY_STATUS]) : RHAI_STATUS_QUEUED;
    if (!rh_status_final(st)) {
        ctl_errorf("task", "task %s is %s: only finished tasks (done, error, timeout, "
                   "cancelled) can be retried", id,
                   v[RETRY_STATUS] ? v[RETRY_STATUS] : rh_status_str(st));
        code = CTL_EXIT_FAILED;
        goto out;
    }
    if (v[RETRY_SCRIPT] == NULL || v[RETRY_SCRIPT][0] == '\0') {
        ctl_errorf("task", "task %s has no script to retry", id);
        code = CTL_EXIT_FAILED;
        goto out;
    }
    *timeout_ms = v[RETRY_TIMEOUT] ? ctl_reply_ll(h->element[RETRY_TIMEOUT], 0) : 0;
    if ((rc = rhai_task_new(v[RETRY_SCRIPT], &t)) != 0)
        ctl_errorf("task", "cannot build the retry: %s", rhai_strerror(rc));
    else if (v[RETRY_WORKER] && (rc = rhai_task_set_worker(t, v[RETRY_WORKER])) != 0)
        ctl_errorf("task", "worker id '%s': %s", v[RETRY_WORKER], rhai_strerror(rc));
    else if (v[RETRY_CONTEXT] && (rc = rhai_task_set_context(t, v[RETRY_CONTEXT])) != 0)
        ctl_errorf("task", "context id '%s': %s", v[RETRY_CONTEXT], rhai_strerror(rc));
    else if (v[RETRY_CALLER] && (rc = rhai_task_set_caller(t, v[RETRY_CALLER])) != 0)
        ctl_errorf("task", "caller '%s': %s", v[RETRY_CALLER], rhai_strerror(rc));
    else if (v[RETRY_ARGS] && (rc = rhai_task_set_args(t, v[RETRY_ARGS])) != 0)
        ctl_errorf("task", "args: %s", rhai_strerror(rc));
    else if ((rc = rhai_task_set_timeout(t, *timeout_ms > 0 ? *timeout_ms : 0)) != 0)
        ctl_errorf("task", "timeout_ms %lld: %s", *timeout_ms, rhai_strerror(rc));
    else if ((rc = rhai_task_set_retry_of(t, id)) != 0)
        ctl_errorf("task", "retry_of: %s", rhai_strerror(rc));
    if (rc != 0) {
        code = CTL_EXIT_FAILED;   /* the stored task is what is wrong, not the usage */
        goto out;
    }
    *signed_task = v[RETRY_SIGNATURE] != NULL && v[RETRY_SIGNATURE][0] != '\0';
    snprintf(worker, RH_NAME_MAX + 1, "%s", v[RETRY_WORKER] ? v[RETRY_WORKER]
                                                             : RHAI_DEFAULT_WORKER);
    *out = t;
    t = NULL;
out:
    rhai_task_free(t);
    if (h)
        freeReplyObject(h);
    return code;
}

static int task_retry(const ctl_global *g, rhai_client *c, const char *id, int wait,
                      int wait_for_worker)
{
    rhai_error err = { 0, "" };
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    char nid[RHAI_ID_MAX], worker[RH_NAME_MAX + 1];
    long long timeout_ms = 0;
    int code, rc, signed_task = 0;

    if ((code = ctl_task_retry_build(g, id, &t, &signed_task, &timeout_ms, worker)) != 0)
        return code;
    if (wait && !wait_for_worker && (code = ctl_worker_check(g, "task", worker)) != 0) {
        rhai_task_free(t);
        return code;
    }
    if (signed_task)
        ctl_errorf("task", "%s was signed; its retry is not (rhaictl holds no key), "
                   "so workers that require signatures will deny it", id);
    if ((rc = rhai_submit(c, t, nid, &err)) != 0) {
        rhai_task_free(t);
        return ctl_report_rc(rc, &err);
    }
    rhai_task_free(t);
    if (!wait) {
        if (g->json)
            printf("{\"id\":\"%s\",\"retry_of\":\"%s\",\"status\":\"queued\"}\n", nid, id);
        else
            printf("%s\n", nid);
        return ctl_print_flush();
    }
    if (!g->json)
        ctl_errorf("task", "retry of %s is %s", id, nid);
    if ((code = ctl_wait_task(g, "task", c, nid, worker, timeout_ms > 0 ? timeout_ms : 0,
                              wait_for_worker, &res)) != 0)
        return code;
    {
        /* as without --wait, the document names the task retried */
        json_t *doc = json_loads(rhai_result_json(res), 0, NULL);
        char *text = NULL;
        if (doc && json_object_set_new(doc, "retry_of", json_string(id)) == 0)
            text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(doc);
        code = ctl_print_result(g, rhai_result_status(res), rhai_result_error_kind(res),
                                rhai_result_output(res), rhai_result_error(res),
                                rhai_result_logs(res), text ? text : rhai_result_json(res));
        free(text);                     /* jansson's allocator: malloc */
    }
    rhai_result_free(res);
    return code;
}

/* ======================== command ======================== */

static int task_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "wait", no_argument, NULL, 'w' },
        { "wait-for-worker", no_argument, NULL, 'W' },
        { "full", no_argument, NULL, 'f' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    rhai_client *client = NULL;
    const char *sub, *id;
    int c, code, wait = 0, wait_for_worker = 0, full = 0;

    while ((c = getopt_long(argc, argv, ":wWfh", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'w' || c == 'W' || c == 'f') {
            *(c == 'w' ? &wait : c == 'W' ? &wait_for_worker : &full) = 1;
            continue;
        }
        if (c == 'h' || c == CTL_OPT_HELP) {
            fputs(task_help, stdout);
            return CTL_EXIT_OK;
        }
        return ctl_option_error("task", c, argv);
    }
    if (optind >= argc)
        return ctl_usage_error("task", "missing subcommand: show, cancel or retry");
    sub = argv[optind++];
    if (strcmp(sub, "show") != 0 && strcmp(sub, "cancel") != 0 && strcmp(sub, "retry") != 0)
        return ctl_usage_error("task", "unknown subcommand '%s' (show, cancel, retry)", sub);
    if (optind >= argc)
        return ctl_usage_error("task", "%s: missing task ID", sub);
    id = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("task", "unexpected argument '%s'", argv[optind]);
    if (wait && strcmp(sub, "show") == 0)
        return ctl_usage_error("task", "--wait goes with cancel or retry");
    if (wait_for_worker && (!wait || strcmp(sub, "retry") != 0))
        return ctl_usage_error("task", "--wait-for-worker goes with retry --wait");
    if (full && strcmp(sub, "show") != 0)
        return ctl_usage_error("task", "--full goes with show");
    if (!rh_name_valid(id))
        return ctl_usage_error("task", "invalid task id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               id, RH_NAME_MAX);

    if ((code = ctl_connect(g, &client)) != 0)
        return code;
    if (strcmp(sub, "show") == 0)
        code = task_show(g, client, id, full);
    else if (strcmp(sub, "cancel") == 0)
        code = task_cancel(g, client, id, wait);
    else
        code = task_retry(g, client, id, wait, wait_for_worker);
    rhai_client_free(client);
    return code;
}

const ctl_cmd ctl_cmd_task = {
    "task",
    "show [--full] ID | cancel [--wait] ID | retry [--wait] ID",
    "show, cancel or retry one task",
    task_exec
};
