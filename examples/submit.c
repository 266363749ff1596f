/* submit.c -- submit one script to a rhaid worker and print the result.
 *
 * A complete program against the installed librhai-client:
 *   submit [URL [WORKER [SCRIPT [ARGS_JSON]]]]
 * URL defaults to $RHAI_REDIS_URL, else redis://127.0.0.1:6379 ("" or "-"
 * also mean the default); WORKER to "default"; SCRIPT to "args.n * 2" and
 * ARGS_JSON to {"n":21}. Prints the status, then the output (or the error)
 * and exits 0 when the task is done, 1 otherwise.
 * Build: see CMakeLists.txt here, or
 *   cc submit.c $(pkg-config --cflags --libs rhai-client) -o submit */
#include <stdio.h>
#include <string.h>

#include <rhai/rhai.h>

/* The library prints nothing itself; show its notices (a connection lost,
 * a retry) on stderr, as a program that wants them would. */
static void log_line(int level, const char *msg, void *data)
{
    (void)data;
    fprintf(stderr, "rhai %s: %s\n", level >= RHAI_LOG_WARN ? "warning" : "notice", msg);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 && argv[1][0] && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    const char *worker = argc > 2 ? argv[2] : RHAI_DEFAULT_WORKER;
    const char *script = argc > 3 ? argv[3] : "args.n * 2";
    const char *args = argc > 4 ? argv[4] : "{\"n\":21}";
    rhai_error err = { 0, "" };
    rhai_client *client = NULL;
    rhai_task *task = NULL;
    rhai_result *res = NULL;
    int rc, ok = 0;

    if (argc > 5 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: %s [URL [WORKER [SCRIPT [ARGS_JSON]]]]\n", argv[0]);
        return 2;
    }
    rhai_set_log_cb(log_line, RHAI_LOG_NOTICE, NULL);
    /* NULL url: $RHAI_REDIS_URL, else redis://127.0.0.1:6379 */
    if ((rc = rhai_client_connect(url, NULL, &client, &err)) != 0) {
        fprintf(stderr, "connect: %s (%s)\n", err.msg, rhai_err_name(rc));
        return 1;
    }
    if ((rc = rhai_task_new(script, &task)) != 0 ||
        (rc = rhai_task_set_worker(task, worker)) != 0 ||
        (rc = rhai_task_set_args(task, args)) != 0 ||
        (rc = rhai_task_set_timeout(task, 10000)) != 0) {
        fprintf(stderr, "task: %s\n", rhai_strerror(rc));
        goto out;
    }
    /* Submit, then wait up to the task's timeout plus 5 s for the reply. */
    if ((rc = rhai_run(client, task, 5000, &res, &err)) != 0) {
        fprintf(stderr, "run: %s (%s)\n", err.msg, rhai_err_name(rc));
        goto out;
    }
    printf("task %s: %s\n", rhai_result_id(res), rhai_result_status_name(res));
    if (rhai_result_status(res) == RHAI_STATUS_DONE) {
        printf("output: %s\n", rhai_result_output(res));
        ok = 1;
    } else {
        printf("error (%s): %s\n", rhai_result_error_kind(res), rhai_result_error(res));
    }
out:
    rhai_result_free(res);
    rhai_task_free(task);
    rhai_client_free(client);
    return ok ? 0 : 1;
}
