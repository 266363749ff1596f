/* cmd_task.c -- `rhaictl task show|cancel|retry ID`: look after one task.
 *
 * `show` reads the task hash (rhai_task_status) and prints it as aligned
 * "key: value" lines, or the reply-shaped JSON with --json. `cancel`
 * (rhai_cancel) ends a queued task at once and asks the worker of a
 * running one to kill it; with --wait it waits for that final reply. A
 * task that already finished is refused with exit code 1. `retry` reads a
 * finished task's submit fields from its hash and submits them again,
 * through the public API, as a new task with a new id. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define TASK_CANCEL_WAIT_MS 30000     /* a worker acts within a heartbeat */
#define TASK_RETRY_MARGIN_MS 5000     /* past the task's timeout, as submit */

static const char task_help[] =
    "Usage: rhaictl task show ID\n"
    "       rhaictl task cancel [--wait] ID\n"
    "       rhaictl task retry [--wait] ID\n"
    "\n"
    "show     print a task's state, final or not, as 'key: value' lines\n"
    "         (--json: the reply object of docs/protocol.md); exit 0 when\n"
    "         the task exists, whatever its status\n"
    "cancel   cancel a task: a queued one ends 'cancelled' at once and its\n"
    "         waiters get a reply; a running one is killed by its worker at\n"
    "         its next heartbeat (about 1 s). A finished task is not touched\n"
    "         (exit 1). --json prints the task's state afterwards\n"
    "retry    submit a finished task again (its script, args, worker,\n"
    "         context, caller and timeout) as a new task with a new id, and\n"
    "         print the new id (--json: {\"id\", \"retry_of\", \"status\"}). A\n"
    "         task that is still queued or running is refused (exit 1). A\n"
    "         signed task is retried unsigned (rhaictl has no key for it)\n"
    "\n"
    "Options:\n"
    "  -w, --wait    cancel: wait (up to 30 s) until the task has ended; exit 0\n"
    "                when it ended cancelled, 1 when it finished first\n"
    "                retry: wait for the new task and print its result as\n"
    "                'rhaictl submit' does (same exit codes); the new id goes\n"
    "                to stderr\n"
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

static void task_print(const rhai_result *r)
{
    const char *logs = rhai_result_logs(r);
    int64_t started = rhai_result_started_at(r), finished = rhai_result_finished_at(r);
    char buf[64];

    task_line("id:", rhai_result_id(r));
    task_line("status:", rhai_result_status_name(r));
    task_line("error_kind:", rhai_result_error_kind(r));
    task_line("error:", rhai_result_error(r));
    task_line("worker:", rhai_result_worker(r));
    task_line("instance:", rhai_result_instance(r));
    snprintf(buf, sizeof buf, "%d", rhai_result_attempts(r));
    task_line("attempts:", buf);
    task_time_line("created_at:", rhai_result_created_at(r));
    task_time_line("started_at:", started);
    task_time_line("finished_at:", finished);
    if (started > 0 && finished >= started) {
        snprintf(buf, sizeof buf, "%lld ms", (long long)(finished - started));
        task_line("duration:", buf);
    }
    if (rhai_result_status(r) == RHAI_STATUS_DONE)
        task_line("output:", rhai_result_output(r) ? rhai_result_output(r) : "null");
    while (logs && *logs) {                    /* one "log:" line per line */
        const char *nl = strchr(logs, '\n');
        int n = nl ? (int)(nl - logs) : (int)strlen(logs);
        printf("%-12s %.*s\n", "log:", n, logs);
        logs = nl ? nl + 1 : logs + n;
    }
}

static int task_show(const ctl_global *g, rhai_client *c, const char *id)
{
    rhai_error err = { 0, "" };
    rhai_result *r = NULL;
    int rc;

    if ((rc = rhai_task_status(c, id, &r, &err)) != 0)
        return ctl_report_rc(rc, &err);
    if (g->json)
        printf("%s\n", rhai_result_json(r));
    else
        task_print(r);
    rhai_result_free(r);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
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
    if (g->json)
        printf("%s\n", rhai_result_json(r));
    rhai_result_free(r);
    return fflush(stdout) == 0 ? code : CTL_EXIT_FAILED;
}

static int task_cancel(const ctl_global *g, rhai_client *c, const char *id, int wait)
{
    rhai_error err = { 0, "" };
    rhai_result *r = NULL;
    int rc;

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
        return task_show(g, c, id);            /* the state now, as JSON */
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

/* Read task 'id' and build its retry into *out (new). 0 or an exit code
 * after saying why. *signed_task tells whether the original was signed. */
static int task_retry_build(const ctl_global *g, const char *id, rhai_task **out,
                            int *signed_task, long long *timeout_ms)
{
    char key[RH_KEY_MAX];
    const char *argv[2 + RETRY_NFIELDS];
    const char *v[RETRY_NFIELDS];
    redisReply *h = NULL;
    rhai_task *t = NULL;
    rhai_status st;
    ctl_redis r;
    int code, rc = 0, any = 0;

    *out = NULL;
    if ((code = ctl_redis_open(g, "task", &r)) != 0)
        return code;
    argv[0] = "HMGET";
    argv[1] = rh_key_task(key, r.prefix, id);
    for (int i = 0; i < RETRY_NFIELDS; i++)
        argv[2 + i] = task_retry_fields[i];
    if (ctl_redis_append_argv(&r, 2 + RETRY_NFIELDS, argv) != 0 ||
        (h = ctl_redis_reply(&r)) == NULL) {
        code = r.code;
        goto out;
    }
    if (h->type != REDIS_REPLY_ARRAY || h->elements != RETRY_NFIELDS) {
        code = ctl_redis_fail(&r, CTL_EXIT_FAILED, "HMGET: unexpected reply");
        goto out;
    }
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
                   "cancelled) can be retried", id, rh_status_str(st));
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
    else if (*timeout_ms > 0 && (rc = rhai_task_set_timeout(t, *timeout_ms)) != 0)
        ctl_errorf("task", "timeout_ms %lld: %s", *timeout_ms, rhai_strerror(rc));
    if (rc != 0) {
        code = CTL_EXIT_FAILED;   /* the stored task is what is wrong, not the usage */
        goto out;
    }
    *signed_task = v[RETRY_SIGNATURE] != NULL && v[RETRY_SIGNATURE][0] != '\0';
    *out = t;
    t = NULL;
out:
    rhai_task_free(t);
    if (h)
        freeReplyObject(h);
    ctl_redis_close(&r);
    return code;
}

static int task_retry(const ctl_global *g, rhai_client *c, const char *id, int wait)
{
    rhai_error err = { 0, "" };
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    char nid[RHAI_ID_MAX];
    long long timeout_ms = 0;
    int code, rc, signed_task = 0;

    if ((code = task_retry_build(g, id, &t, &signed_task, &timeout_ms)) != 0)
        return code;
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
        return ctl_flush();
    }
    if (!g->json)
        ctl_errorf("task", "retry of %s is %s", id, nid);
    if (timeout_ms <= 0)
        timeout_ms = 30000;                 /* the default of rhai_task_new */
    rc = rhai_wait(c, nid, timeout_ms + TASK_RETRY_MARGIN_MS, &res, &err);
    if (rc == RHAI_ETIMEOUT) {
        ctl_errorf("task", "no result for the retry %s within %lld ms (rhaictl task show %s)",
                   nid, timeout_ms + TASK_RETRY_MARGIN_MS, nid);
        return CTL_EXIT_TIMEOUT;
    }
    if (rc != 0)
        return ctl_report_rc(rc, &err);
    code = ctl_print_result(g, rhai_result_status(res), rhai_result_error_kind(res),
                            rhai_result_output(res), rhai_result_error(res),
                            rhai_result_logs(res), rhai_result_json(res));
    rhai_result_free(res);
    return code;
}

/* ======================== command ======================== */

static int task_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "wait", no_argument, NULL, 'w' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    rhai_client *client = NULL;
    const char *sub, *id;
    int c, code, wait = 0;

    while ((c = getopt_long(argc, argv, ":wh", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'w') {
            wait = 1;
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
    if (!rh_name_valid(id))
        return ctl_usage_error("task", "invalid task id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               id, RH_NAME_MAX);

    if ((code = ctl_connect(g, &client)) != 0)
        return code;
    if (strcmp(sub, "show") == 0)
        code = task_show(g, client, id);
    else if (strcmp(sub, "cancel") == 0)
        code = task_cancel(g, client, id, wait);
    else
        code = task_retry(g, client, id, wait);
    rhai_client_free(client);
    return code;
}

const ctl_cmd ctl_cmd_task = {
    "task",
    "show ID | cancel [--wait] ID | retry [--wait] ID",
    "show, cancel or retry one task",
    task_exec
};
