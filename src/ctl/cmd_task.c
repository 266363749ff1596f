/* cmd_task.c -- `rhaictl task show|cancel ID`: look after one task.
 *
 * `show` reads the task hash (rhai_task_status) and prints it as aligned
 * "key: value" lines, or the reply-shaped JSON with --json. `cancel`
 * (rhai_cancel) ends a queued task at once and asks the worker of a
 * running one to kill it; with --wait it waits for that final reply. A
 * task that already finished is refused with exit code 1. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define TASK_CANCEL_WAIT_MS 30000     /* a worker acts within a heartbeat */

static const char task_help[] =
    "Usage: rhaictl task show ID\n"
    "       rhaictl task cancel [--wait] ID\n"
    "\n"
    "show     print a task's state, final or not, as 'key: value' lines\n"
    "         (--json: the reply object of docs/protocol.md); exit 0 when\n"
    "         the task exists, whatever its status\n"
    "cancel   cancel a task: a queued one ends 'cancelled' at once and its\n"
    "         waiters get a reply; a running one is killed by its worker at\n"
    "         its next heartbeat (about 1 s). A finished task is not touched\n"
    "         (exit 1). --json prints the task's state afterwards\n"
    "\n"
    "Options:\n"
    "  -w, --wait    cancel: wait (up to 30 s) until the task has ended; exit 0\n"
    "                when it ended cancelled, 1 when it finished first\n"
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
        return ctl_usage_error("task", "missing subcommand: show or cancel");
    sub = argv[optind++];
    if (strcmp(sub, "show") != 0 && strcmp(sub, "cancel") != 0)
        return ctl_usage_error("task", "unknown subcommand '%s' (show, cancel)", sub);
    if (optind >= argc)
        return ctl_usage_error("task", "%s: missing task ID", sub);
    id = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("task", "unexpected argument '%s'", argv[optind]);
    if (wait && strcmp(sub, "cancel") != 0)
        return ctl_usage_error("task", "--wait goes with cancel");
    if (!rh_name_valid(id))
        return ctl_usage_error("task", "invalid task id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               id, RH_NAME_MAX);

    if ((code = ctl_connect(g, &client)) != 0)
        return code;
    code = strcmp(sub, "show") == 0 ? task_show(g, client, id) : task_cancel(g, client, id, wait);
    rhai_client_free(client);
    return code;
}

const ctl_cmd ctl_cmd_task = {
    "task",
    "show ID | cancel [--wait] ID",
    "show or cancel one task",
    task_exec
};
