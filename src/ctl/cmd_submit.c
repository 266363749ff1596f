/* cmd_submit.c -- `rhaictl submit`: queue a script for a worker and wait.
 *
 * The script goes to the queue of one worker id through librhai-client
 * (rhai_submit), then rhaictl waits for its reply (ctl_wait_task, wait.c):
 * for the task's own timeout plus a margin when --timeout was given, else
 * until the result comes, as long as a live instance serves the worker id.
 * Without --timeout the task carries none, so the worker's
 * default_timeout_ms applies. A worker id no live instance serves is
 * refused at once, nothing queued, unless --wait-for-worker. The result is
 * printed as `run` prints it, with the same exit codes (ctl.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define SUBMIT_TIMEOUT_MAX_MS ((long long)RH_DEF_TIMEOUT_MAX_MS)    /* the library's bound */

static const char submit_help[] =
    "Usage: rhaictl submit FILE | -e SCRIPT [options]\n"
    "\n"
    "Queue a JavaScript (ES5) task for a worker, wait for it, and print its\n"
    "output as one line of JSON on stdout. On failure print\n"
    "'error_kind: error' on stderr. print() lines go to stderr as 'log: ...'.\n"
    "FILE '-' reads the script from stdin.\n"
    "\n"
    "Options:\n"
    "  -e, --eval SCRIPT     the script itself instead of a FILE\n"
    "  -w, --worker W        worker id whose queue gets the task (default: default)\n"
    "  -c, --context C       context the script acts in (default: default)\n"
    "  -u, --caller U        who submits it (default: anonymous)\n"
    "  -a, --args JSON       arguments, seen by the script as `args` (default: {})\n"
    "  -t, --timeout MS      wall-clock limit of the task (default: none sent,\n"
    "                        so the worker's default_timeout_ms applies);\n"
    "                        rhaictl waits this long plus 5 s for the result\n"
    "                        (without it: until the result comes, while a\n"
    "                        live instance serves the worker id)\n"
    "  -n, --no-wait         print the task id and return at once (no check\n"
    "                        for a live instance)\n"
    "  -W, --wait-for-worker queue and wait even when no live instance serves\n"
    "                        the worker id (default: exit 8 at once, nothing\n"
    "                        queued; and exit 8 when the last one goes away\n"
    "                        while waiting)\n"
    "      --at TIME         run no sooner than TIME: unix ms, or UTC\n"
    "                        2026-12-06T10:00:00Z; the task waits as 'scheduled'\n"
    "                        in the worker's delayed set (docs/scheduling.md)\n"
    "      --in DURATION     run no sooner than DURATION from now (1500ms, 90s,\n"
    "                        5m, 2h, 1d)\n"
    "      --retries N       run again up to N times (0..100) after a script,\n"
    "                        timeout or memory error; one reply, after the last\n"
    "      --backoff SPEC    pause before each retry: fixed:MS or exp:BASE:CAP\n"
    "                        (ms, jittered; default exp:1000:60000)\n"
    "  -k, --key FILE        sign the task with the Ed25519 secret key in FILE\n"
    "                        (rhaictl keygen); the caller becomes its public key\n"
    "      --json            print the whole reply JSON instead of the output\n"
    "                        (with --no-wait: {\"id\":...,\"status\":\"queued\"})\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl submit -e 'args.a + args.b' --worker billing --args '{\"a\":40,\"b\":2}'\n"
    "  rhaictl submit report.js --worker billing --json\n"
    "  id=$(rhaictl submit slow.js --no-wait) && rhaictl task show \"$id\"\n"
    "  rhaictl submit nightly.js --at 2026-12-06T10:00:00Z --no-wait\n"
    "  rhaictl submit flaky.js --in 5m --retries 3 --backoff exp:2000:60000\n"
    "\n"
    CTL_EXIT_HELP;

typedef struct submit_opts {
    const char *file;
    const char *eval;
    const char *worker;
    const char *context;
    const char *caller;
    const char *args;
    long long   timeout_ms;             /* 0: none, the worker's default */
    int         no_wait;
    int         wait_for_worker;
    const char *key_file;
    int64_t     run_at;                 /* --at, unix ms; 0: none */
    int64_t     delay_ms;               /* --in; 0: none */
    long long   retries;
    const char *backoff;
} submit_opts;

static int submit_parse(ctl_global *g, int argc, char **argv, submit_opts *o)
{
    static const struct option longopts[] = {
        { "eval", required_argument, NULL, 'e' },
        { "worker", required_argument, NULL, 'w' },
        { "context", required_argument, NULL, 'c' },
        { "caller", required_argument, NULL, 'u' },
        { "args", required_argument, NULL, 'a' },
        { "timeout", required_argument, NULL, 't' },
        { "no-wait", no_argument, NULL, 'n' },
        { "wait-for-worker", no_argument, NULL, 'W' },
        { "key", required_argument, NULL, 'k' },
        { "at", required_argument, NULL, 1001 },
        { "in", required_argument, NULL, 1002 },
        { "retries", required_argument, NULL, 1003 },
        { "backoff", required_argument, NULL, 1004 },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    rhai_error perr = { 0, "invalid value" };
    int c;

    while ((c = getopt_long(argc, argv, ":e:w:c:u:a:t:k:nWh", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'e': o->eval = optarg; break;
        case 'w': o->worker = optarg; break;
        case 'c': o->context = optarg; break;
        case 'u': o->caller = optarg; break;
        case 'a': o->args = optarg; break;
        case 'n': o->no_wait = 1; break;
        case 'W': o->wait_for_worker = 1; break;
        case 'k': o->key_file = optarg; break;
        case 1001:
            if (rh_time_parse(optarg, &o->run_at, &perr) != 0)
                return ctl_usage_error("submit", "--at: %s", perr.msg);
            break;
        case 1002:
            if (rh_duration_parse(optarg, &o->delay_ms, &perr) != 0)
                return ctl_usage_error("submit", "--in: %s", perr.msg);
            break;
        case 1003:
            if (ctl_parse_int(optarg, 0, RH_RETRIES_MAX, 0, &o->retries) != 0)
                return ctl_usage_error("submit", "--retries '%s' is not a number in 0..%d",
                                       optarg, RH_RETRIES_MAX);
            break;
        case 1004: {
            rh_backoff b;
            if (rh_backoff_parse(optarg, &b, &perr) != 0 || optarg[0] == '\0')
                return ctl_usage_error("submit", "--backoff: %s", perr.msg);
            o->backoff = optarg;
            break;
        }
        case 't':
            if (ctl_parse_int(optarg, 1, SUBMIT_TIMEOUT_MAX_MS, 0, &o->timeout_ms) != 0)
                return ctl_usage_error("submit", "--timeout '%s' is not a number of "
                                       "milliseconds in 1..%lld", optarg,
                                       SUBMIT_TIMEOUT_MAX_MS);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(submit_help, stdout);
            return -1;
        default:
            return ctl_option_error("submit", c, argv);
        }
    }
    if (optind < argc)
        o->file = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("submit", "unexpected argument '%s'", argv[optind]);
    if (o->file && o->eval)
        return ctl_usage_error("submit", "give a FILE or -e SCRIPT, not both");
    if (o->key_file && o->caller)
        return ctl_usage_error("submit", "--key sets the caller (its public key): "
                               "drop --caller");
    if (!o->file && !o->eval)
        return ctl_usage_error("submit", "no script: give a FILE, '-' for stdin, "
                               "or -e SCRIPT");
    if (o->worker && !rh_name_valid(o->worker))
        return ctl_usage_error("submit", "invalid worker id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", o->worker, RH_NAME_MAX);
    if (o->context && !rh_name_valid(o->context))
        return ctl_usage_error("submit", "invalid context id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", o->context, RH_NAME_MAX);
    if (o->args && ctl_script_args_valid(o->args) != 0)
        return ctl_usage_error("submit", "--args is not valid JSON: %s", o->args);
    if (o->run_at && o->delay_ms)
        return ctl_usage_error("submit", "give --at or --in, not both");
    if (o->no_wait && o->wait_for_worker)
        return ctl_usage_error("submit", "--wait-for-worker goes with waiting: drop "
                               "--no-wait");
    return 0;
}

/* Build the task from the options. 0, or an exit code after printing why. */
static int submit_build(const submit_opts *o, const char *script, rhai_task **out)
{
    rhai_task *t = NULL;
    int rc;

    *out = NULL;
    if ((rc = rhai_task_new(script, &t)) != 0) {
        ctl_errorf("submit", "cannot build the task: %s", rhai_strerror(rc));
        return ctl_exit_for_rc(rc);
    }
    if (o->worker && (rc = rhai_task_set_worker(t, o->worker)) != 0)
        ctl_errorf("submit", "--worker '%s': %s", o->worker, rhai_strerror(rc));
    else if (o->context && (rc = rhai_task_set_context(t, o->context)) != 0)
        ctl_errorf("submit", "--context '%s': %s", o->context, rhai_strerror(rc));
    else if (o->caller && (rc = rhai_task_set_caller(t, o->caller)) != 0)
        ctl_errorf("submit", "--caller '%s': %s (printable ASCII, no spaces)", o->caller,
                   rhai_strerror(rc));
    else if (o->args && (rc = rhai_task_set_args(t, o->args)) != 0)
        ctl_errorf("submit", "--args: %s", rhai_strerror(rc));
    else if ((rc = rhai_task_set_timeout(t, o->timeout_ms)) != 0)
        ctl_errorf("submit", "--timeout %lld: %s", o->timeout_ms, rhai_strerror(rc));
    else if (o->run_at && (rc = rhai_task_set_run_at(t, o->run_at)) != 0)
        ctl_errorf("submit", "--at: %s", rhai_strerror(rc));
    else if (o->delay_ms && (rc = rhai_task_set_delay_ms(t, o->delay_ms)) != 0)
        ctl_errorf("submit", "--in: %s", rhai_strerror(rc));
    else if ((rc = rhai_task_set_retries(t, (int)o->retries)) != 0)
        ctl_errorf("submit", "--retries: %s", rhai_strerror(rc));
    else if (o->backoff && (rc = rhai_task_set_backoff(t, o->backoff)) != 0)
        ctl_errorf("submit", "--backoff: %s", rhai_strerror(rc));
    else if (o->key_file && (rc = ctl_script_sign("submit", t, o->key_file)) != 0)
        rc = RHAI_EINVAL;
    if (rc != 0) {
        rhai_task_free(t);
        return ctl_exit_for_rc(rc);
    }
    *out = t;
    return 0;
}

static int submit_exec(ctl_global *g, int argc, char **argv)
{
    submit_opts o;
    rhai_error err = { 0, "" };
    rhai_client *client = NULL;
    rhai_task *task = NULL;
    rhai_result *res = NULL;
    char id[RHAI_ID_MAX];
    char *script = NULL;
    const char *worker;
    size_t script_len;
    int code, rc;

    memset(&o, 0, sizeof o);
    if ((code = submit_parse(g, argc, argv, &o)) != 0)
        return code < 0 ? CTL_EXIT_OK : code;
    if ((code = ctl_script_load("submit", o.file, o.eval, &script, &script_len)) != 0)
        return code;
    code = submit_build(&o, script, &task);
    rh_free(script);
    if (code != 0)
        return code;
    worker = o.worker ? o.worker : RHAI_DEFAULT_WORKER;
    if (!o.no_wait && !o.wait_for_worker &&
        (code = ctl_worker_check(g, "submit", worker)) != 0)
        goto out;
    if ((code = ctl_connect(g, &client)) != 0)
        goto out;

    if ((rc = rhai_submit(client, task, id, &err)) != 0) {
        code = ctl_report_rc(rc, &err);
        goto out;
    }
    if (o.no_wait) {
        const char *st = o.run_at > rh_now_ms() || o.delay_ms > 0 ? "scheduled" : "queued";
        if (g->json)
            printf("{\"id\":\"%s\",\"status\":\"%s\"}\n", id, st);  /* ids need no escaping */
        else
            printf("%s\n", id);
        code = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
        goto out;
    }

    /* A delayed or retried task's reply comes later than its timeout:
     * wait until it comes, while a live instance serves the worker id. */
    if ((code = ctl_wait_task(g, "submit", client, id, worker,
                              o.run_at || o.delay_ms || o.retries ? 0 : o.timeout_ms,
                              o.wait_for_worker, &res)) == 0) {
        code = ctl_print_result(g, rhai_result_status(res), rhai_result_error_kind(res),
                                rhai_result_output(res), rhai_result_error(res),
                                rhai_result_logs(res), rhai_result_json(res));
    }
out:
    rhai_result_free(res);
    rhai_task_free(task);
    rhai_client_free(client);
    return code;
}

const ctl_cmd ctl_cmd_submit = {
    "submit",
    "FILE | -e SCRIPT [--worker W] [--args JSON] [--timeout MS] [--at TIME | --in DURATION] "
    "[--retries N] [--backoff SPEC] [--no-wait | --wait-for-worker]",
    "queue a script for a worker, wait, print its output",
    submit_exec
};
