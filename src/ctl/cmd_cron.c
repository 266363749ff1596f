/* cmd_cron.c -- `rhaictl cron add|list|show|pause|resume|rm|run-now`.
 *
 * Schedules are written and read with the library's rhai/cron.h; `show`
 * also reads the runs list <prefix>:cron:runs:{W}:NAME and, for each
 * firing, its task's status and error kind, so it says how each ended,
 * and computes the next ticks in the schedule's zone (common/cron.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "common/schedule.h"
#include "rhai/cron.h"

static const char cron_help[] =
    "Usage: rhaictl cron add NAME --cron EXPR [--tz ZONE] --worker W --script FILE\n"
    "                        [--args JSON] --context C (--caller U | --key FILE)\n"
    "       rhaictl cron list [--worker W]\n"
    "       rhaictl cron show NAME --worker W\n"
    "       rhaictl cron pause|resume|rm|run-now NAME --worker W\n"
    "\n"
    "Cron schedules: rhaid instances of worker id W run the script at each tick\n"
    "of EXPR in ZONE, each tick once across all instances (docs/scheduling.md).\n"
    "\n"
    "add      create schedule NAME (1..64 of [A-Za-z0-9_.-]); it fires from its\n"
    "         first tick after an instance sees it. Refused if NAME exists\n"
    "list     every schedule (of W): name, worker, expression, zone, next tick\n"
    "show     the definition, the next 5 ticks in its zone, and its recent\n"
    "         firings with how each task ended (or why it was denied)\n"
    "pause    stop firing (resume: fire again from the next tick after now)\n"
    "rm       delete the schedule and its firing history\n"
    "run-now  fire once now, besides the ticks (task cron:NAME:now:MS)\n"
    "\n"
    "Options:\n"
    "  -c, --cron EXPR     'min hour dom month dow', or with a leading seconds\n"
    "                      field; *, lists, ranges, steps, JAN..DEC, SUN..SAT,\n"
    "                      @hourly @daily @weekly @monthly @yearly\n"
    "  -z, --tz ZONE       IANA time zone, e.g. Europe/Brussels (default UTC)\n"
    "  -w, --worker W      worker id (default: default)\n"
    "  -s, --script FILE   the script (\"-\": stdin)\n"
    "  -a, --args JSON     the script's args (default {})\n"
    "  -C, --context C     context id\n"
    "  -u, --caller U      caller id (unsigned schedules)\n"
    "  -k, --key FILE      sign the schedule with this Ed25519 secret key\n"
    "                      (rhaictl keygen); its firings run as the public key.\n"
    "                      Workers with require_signatures fire signed\n"
    "                      schedules only\n"
    "      --json          add/pause/resume/rm/run-now: {\"ok\":true,...};\n"
    "                      list: an array of schedules; show: the schedule with\n"
    "                      \"next_ticks\" and \"runs\"\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

typedef struct cron_opts {
    const char *expr, *tz, *worker, *script, *args, *context, *caller, *key;
} cron_opts;

static int cron_fail(int rc, const rhai_error *err)
{
    ctl_errorf("cron", "%s", err->msg[0] ? err->msg : rhai_strerror(rc));
    return ctl_exit_for_rc(rc);
}

static int cron_add(ctl_global *g, rhai_client *c, const char *name, const cron_opts *o)
{
    char *script = NULL, key[160] = "", who[300];
    size_t len = 0;
    rhai_cron_def d;
    rhai_error err;
    int rc;

    if (o->expr == NULL)
        return ctl_usage_error("cron", "add: --cron EXPR is required");
    if (o->script == NULL)
        return ctl_usage_error("cron", "add: --script FILE is required");
    if (o->context == NULL)
        return ctl_usage_error("cron", "add: --context C is required");
    if (o->caller == NULL && o->key == NULL)
        return ctl_usage_error("cron", "add: --caller U or --key FILE is required");
    if (o->args && ctl_script_args_valid(o->args) != 0)
        return ctl_usage_error("cron", "--args is not valid JSON");
    if (o->key) {
        FILE *f = fopen(o->key, "r");
        if (f == NULL) {
            ctl_errorf("cron", "--key %s: %s", o->key, strerror(errno));
            return CTL_EXIT_USAGE;
        }
        if (fgets(key, sizeof key, f) == NULL)
            key[0] = '\0';
        fclose(f);
        key[strcspn(key, "\r\n")] = '\0';
    }
    if ((rc = ctl_script_load("cron", o->script, NULL, &script, &len)) != 0) {
        memset(key, 0, sizeof key);
        return rc;
    }
    {
        char host[128] = "?";
        const char *user = getenv("USER");
        gethostname(host, sizeof host - 1);
        snprintf(who, sizeof who, "%s@%s", user ? user : "?", host);
    }
    memset(&d, 0, sizeof d);
    d.name = name;
    d.cron = o->expr;
    d.tz = o->tz;
    d.worker = o->worker;
    d.script = script;
    d.args = o->args;
    d.context = o->context;
    d.caller = o->caller;
    d.created_by = who;
    d.signing_key = o->key ? key : NULL;
    memset(&err, 0, sizeof err);
    rc = rhai_cron_add(c, &d, &err);
    memset(key, 0, sizeof key);
    rh_free(script);
    if (rc != 0)
        return rc == RHAI_EINVAL ? (ctl_errorf("cron", "%s", err.msg), CTL_EXIT_USAGE)
                                 : cron_fail(rc, &err);
    if (g->json)
        return ctl_print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "worker",
                                        o->worker));
    printf("added schedule %s on %s: %s (%s)%s\n", name, o->worker, o->expr,
           o->tz ? o->tz : "UTC", o->key ? ", signed" : "");
    return ctl_print_flush();
}

static void fmt_next(json_t *s, char *buf, size_t n)
{
    json_t *next = json_object_get(s, "next");
    const char *tz = json_string_value(json_object_get(s, "tz"));
    if (json_is_true(json_object_get(s, "paused")))
        snprintf(buf, n, "paused");
    else if (!json_is_integer(next))
        snprintf(buf, n, "-");
    else if (json_integer_value(next) < 0)
        snprintf(buf, n, "(computing)");
    else
        rh_cron_format_local(json_integer_value(next), tz, buf, n);
}

static int cron_list(ctl_global *g, rhai_client *c, const char *worker)
{
    char *text = NULL, next[64];
    rhai_error err;
    json_t *arr, *s;
    json_error_t je;
    size_t i;
    int rc;

    memset(&err, 0, sizeof err);
    if ((rc = rhai_cron_list(c, worker, &text, &err)) != 0)
        return cron_fail(rc, &err);
    arr = json_loads(text, 0, &je);
    rhai_cron_free_text(text);
    if (arr == NULL)
        return CTL_EXIT_FAILED;
    json_array_foreach(arr, i, s) {
        json_object_del(s, "script");       /* tables and JSON lists stay small */
    }
    if (g->json)
        return ctl_print_json(arr);
    printf("%-24s %-16s %-20s %-20s %-6s %s\n", "NAME", "WORKER", "CRON", "TZ", "SIGNED",
           "NEXT");
    json_array_foreach(arr, i, s) {
        fmt_next(s, next, sizeof next);
        printf("%-24s %-16s %-20s %-20s %-6s %s\n",
               json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "worker")),
               json_string_value(json_object_get(s, "cron")),
               json_string_value(json_object_get(s, "tz")),
               json_is_string(json_object_get(s, "signature")) ? "yes" : "no", next);
    }
    json_decref(arr);
    return ctl_print_flush();
}

static int cron_show(ctl_global *g, rhai_client *c, const char *name, const char *worker)
{
    char *text = NULL, buf[64], k_runs[RH_KEY_MAX], k_task[RH_KEY_MAX];
    json_t *s, *ticks, *runs;
    json_error_t je;
    rhai_error err;
    redisReply *rep;
    ctl_redis r;
    rh_cron cr;
    int rc, code;

    memset(&err, 0, sizeof err);
    if ((rc = rhai_cron_get(c, worker, name, &text, &err)) != 0)
        return cron_fail(rc, &err);
    s = json_loads(text, 0, &je);
    rhai_cron_free_text(text);
    if (s == NULL)
        return CTL_EXIT_FAILED;
    ticks = json_array();
    runs = json_array();
    json_object_set_new(s, "next_ticks", ticks);
    json_object_set_new(s, "runs", runs);
    if (rh_cron_parse(json_string_value(json_object_get(s, "cron")), &cr, NULL) == 0 &&
        !json_is_true(json_object_get(s, "paused"))) {
        int64_t t = rh_now_ms();
        const char *tz = json_string_value(json_object_get(s, "tz"));
        for (int i = 0; i < 5 && rh_cron_next(&cr, tz, t, &t, NULL) == 0; i++)
            json_array_append_new(ticks, json_integer(t));
    }
    if ((code = ctl_redis_open(g, "cron", &r)) != 0) {
        json_decref(s);
        return code;
    }
    rh_key_cron_runs(k_runs, r.prefix, worker, name);
    rep = ctl_redis_command(&r, "LRANGE %s 0 -1", k_runs);
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        json_t *e = ctl_reply_str(rep->element[i]) ? json_loads(rep->element[i]->str, 0, &je)
                                                  : NULL;
        const char *id = e ? json_string_value(json_object_get(e, "id")) : NULL;
        if (e == NULL)
            continue;
        if (id && !json_is_string(json_object_get(e, "outcome"))) {
            redisReply *t = ctl_redis_command(&r, "HMGET %s status error_kind error",
                                              rh_key_task(k_task, r.prefix, worker, id));
            if (t && t->type == REDIS_REPLY_ARRAY && t->elements == 3) {
                const char *st = ctl_reply_str(t->element[0]);
                json_object_set_new(e, "outcome", json_string(st ? st : "expired"));
                if (ctl_reply_str(t->element[1]) && t->element[1]->str[0])
                    json_object_set_new(e, "error_kind", json_string(t->element[1]->str));
                if (ctl_reply_str(t->element[2]) && t->element[2]->str[0])
                    json_object_set_new(e, "error", json_string(t->element[2]->str));
            }
            if (t)
                freeReplyObject(t);
        }
        json_array_append_new(runs, e);
    }
    if (rep)
        freeReplyObject(rep);
    ctl_redis_close(&r);
    if (g->json)
        return ctl_print_json(s);
    {
        const char *tz = json_string_value(json_object_get(s, "tz"));
        const char *sig = json_string_value(json_object_get(s, "signature"));
        size_t i;
        json_t *v;
        printf("name:       %s\nworker:     %s\ncron:       %s\ntz:         %s\n",
               json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "worker")),
               json_string_value(json_object_get(s, "cron")), tz);
        printf("context:    %s\ncaller:     %s\nargs:       %s\n",
               json_string_value(json_object_get(s, "context")),
               json_string_value(json_object_get(s, "caller")),
               json_string_value(json_object_get(s, "args")));
        printf("created:    %s by %s\n",
               rh_cron_format_local(json_integer_value(json_object_get(s, "created_at")), tz,
                                    buf, sizeof buf),
               json_is_string(json_object_get(s, "created_by"))
                   ? json_string_value(json_object_get(s, "created_by")) : "?");
        printf("signed:     %s\npaused:     %s\n", sig ? "yes (Ed25519, by the caller key)" : "no",
               json_is_true(json_object_get(s, "paused")) ? "yes" : "no");
        printf("next ticks:\n");
        json_array_foreach(ticks, i, v)
            printf("  %s\n", rh_cron_format_local(json_integer_value(v), tz, buf, sizeof buf));
        printf("recent firings (newest first):\n");
        json_array_foreach(runs, i, v) {
            const char *why = json_string_value(json_object_get(v, "reason"));
            const char *ek = json_string_value(json_object_get(v, "error_kind"));
            printf("  %s  %-40s %s%s%s%s\n",
                   rh_cron_format_local(json_integer_value(json_object_get(v, "tick")), tz, buf,
                                        sizeof buf),
                   json_string_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(v, "outcome"))
                       ? json_string_value(json_object_get(v, "outcome")) : "?",
                   ek ? " " : "", ek ? ek : "",
                   why ? (strcmp(why, "unsigned schedule") == 0
                              ? ": unsigned schedule, this worker requires signatures"
                              : ": signature does not verify")
                       : "");
        }
        if (json_array_size(runs) == 0)
            printf("  (none)\n");
    }
    json_decref(s);
    return ctl_print_flush();
}

static int cron_simple(ctl_global *g, rhai_client *c, const char *sub, const char *name,
                       const char *worker)
{
    char id[RHAI_ID_MAX] = "";
    rhai_error err;
    int rc;

    memset(&err, 0, sizeof err);
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0)
        rc = rhai_cron_pause(c, worker, name, strcmp(sub, "pause") == 0, &err);
    else if (strcmp(sub, "rm") == 0)
        rc = rhai_cron_remove(c, worker, name, &err);
    else
        rc = rhai_cron_run_now(c, worker, name, id, &err);
    if (rc != 0)
        return cron_fail(rc, &err);
    if (g->json)
        return ctl_print_json(id[0] ? json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "id", id)
                                    : json_pack("{s:b, s:s}", "ok", 1, "name", name));
    if (id[0])
        printf("fired %s: task %s\n", name, id);
    else
        printf("%s %s on %s\n", strcmp(sub, "rm") == 0 ? "removed" :
               strcmp(sub, "pause") == 0 ? "paused" : "resumed", name, worker);
    return ctl_print_flush();
}

static int cron_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "cron", required_argument, NULL, 'c' },
        { "tz", required_argument, NULL, 'z' },
        { "worker", required_argument, NULL, 'w' },
        { "script", required_argument, NULL, 's' },
        { "args", required_argument, NULL, 'a' },
        { "context", required_argument, NULL, 'C' },
        { "caller", required_argument, NULL, 'u' },
        { "key", required_argument, NULL, 'k' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    static const char *const subs[] = { "add", "list", "show", "pause", "resume", "rm",
                                        "run-now" };
    cron_opts o;
    const char *sub, *name = NULL;
    int c, code, known = 0, worker_given = 0;
    rhai_client *cl = NULL;

    memset(&o, 0, sizeof o);
    o.worker = RHAI_DEFAULT_WORKER;
    while ((c = getopt_long(argc, argv, ":c:z:w:s:a:C:u:k:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'c': o.expr = optarg; break;
        case 'z': o.tz = optarg; break;
        case 'w': o.worker = optarg; worker_given = 1; break;
        case 's': o.script = optarg; break;
        case 'a': o.args = optarg; break;
        case 'C': o.context = optarg; break;
        case 'u': o.caller = optarg; break;
        case 'k': o.key = optarg; break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(cron_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("cron", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("cron", "missing subcommand: add, list, show, pause, resume, "
                               "rm or run-now");
    sub = argv[optind++];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        known |= strcmp(sub, subs[i]) == 0;
    if (!known)
        return ctl_usage_error("cron", "unknown subcommand '%s' (add, list, show, pause, "
                               "resume, rm, run-now)", sub);
    if (strcmp(sub, "list") != 0) {
        if (optind >= argc)
            return ctl_usage_error("cron", "%s: missing schedule NAME", sub);
        name = argv[optind++];
        if (!rh_sched_name_valid(name))
            return ctl_usage_error("cron", "invalid schedule name '%s' (1..%d of "
                                   "[A-Za-z0-9_.-])", name, RH_SCHED_NAME_MAX);
    }
    if (optind < argc)
        return ctl_usage_error("cron", "unexpected argument '%s'", argv[optind]);
    if (!rh_name_valid(o.worker))
        return ctl_usage_error("cron", "invalid worker id '%s'", o.worker);
    if (strcmp(sub, "add") != 0 && (o.expr || o.tz || o.script || o.args || o.context ||
                                    o.caller || o.key))
        return ctl_usage_error("cron", "--cron, --tz, --script, --args, --context, --caller "
                               "and --key go with add");
    if ((code = ctl_connect(g, &cl)) != 0)
        return code;
    if (strcmp(sub, "add") == 0)
        code = cron_add(g, cl, name, &o);
    else if (strcmp(sub, "list") == 0)
        code = cron_list(g, cl, worker_given ? o.worker : NULL);
    else if (strcmp(sub, "show") == 0)
        code = cron_show(g, cl, name, o.worker);
    else
        code = cron_simple(g, cl, sub, name, o.worker);
    rhai_client_free(cl);
    return code;
}

const ctl_cmd ctl_cmd_cron = {
    "cron",
    "add|list|show|pause|resume|rm|run-now [NAME] [options]",
    "cron schedules: add, list, show, pause, resume, remove, fire now",
    cron_exec
};
