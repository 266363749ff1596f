/* cmd_on.c -- `rhaictl on add|list|show|pause|resume|rm`: the
 * subscriptions of a context (issue 20, docs/events.md).
 *
 * A subscription says: when an event whose name matches PATTERN is
 * emitted in this context, start a task of SCRIPT on worker W, running as
 * caller U (with ARGS, and the event in ctx.event). Subscriptions are rows
 * of the context's store (rhai_subs); emit() resolves the matching ones
 * into each event's outbox row. Changing them is an owner's business: as
 * for `context` and the local mode of `acl`, the store is changed
 * directly, by whoever may open it (the user rhaid runs as), each change
 * audited as caller rhaictl:local with the OS user; `--as CALLER` names
 * the owner it is done for, and is refused unless that caller owns the
 * context. There is no remote mode: --worker and --caller name the
 * subscription's worker and caller here, not an owner task's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dsl/dsl.h"

static const char on_help[] =
    "Usage: rhaictl on add NAME --context C --event PATTERN --worker W\n"
    "                  (--script FILE | -e SCRIPT) --caller U [--args JSON] [--paused]\n"
    "                  [--as OWNER] [where]\n"
    "       rhaictl on list --context C [where]\n"
    "       rhaictl on show|pause|resume|rm NAME --context C [--as OWNER] [where]\n"
    "\n"
    "Subscriptions of a context: each event emitted there (emit(name,\n"
    "payload) in a script) whose name matches PATTERN starts one task per\n"
    "matching subscription that is not paused: SCRIPT on worker W, running as\n"
    "caller U, with ARGS as args and the event as ctx.event. PATTERN is an\n"
    "event name (order.paid), PREFIX.* (order.*: order.paid, order.paid.late,\n"
    "not order) or * (every event). The subscriptions that match are resolved\n"
    "when the event is emitted; a change applies to events emitted after it.\n"
    "\n"
    "add     add subscription NAME (1..64 of [A-Za-z0-9_.:-], unique in C)\n"
    "list    every subscription of C, by name\n"
    "show    one subscription, with its script\n"
    "pause   emitted events no longer start it (until resume)\n"
    "resume  start it again for events emitted from now on\n"
    "rm      remove it\n"
    "\n"
    "Options:\n"
    "  -c, --context C       the context (required)\n"
    "      --event PATTERN   add: the event names it matches\n"
    "  -w, --worker W        add: the worker its tasks go to\n"
    "  -s, --script FILE     add: the script ('-': stdin)\n"
    "  -e, --eval SCRIPT     add: the script itself\n"
    "  -u, --caller U        add: the caller its tasks run as\n"
    "  -a, --args JSON       add: a JSON object, the tasks' args (default {})\n"
    "      --paused          add: add it paused\n"
    "      --as OWNER        refuse (exit 4) unless OWNER owns the context; it\n"
    "                        is recorded as created_by and in the audit row\n"
    "  -d, --data-dir DIR    the worker's data dir (default $RHAI_DATA_DIR,\n"
    "                        else ./rhai-data); run as the user rhaid runs as\n"
    "      --data-url URL    the worker's store (data_url), sqlite:///DIR or\n"
    "                        postgres://USER@HOST:PORT/DB (default $RHAI_DATA_URL)\n"
    "      --json            add, show: the subscription; list: [...]; pause,\n"
    "                        resume, rm: {\"context\",\"name\",\"done\"}\n"
    "  -h, --help            this help\n"
    "\n"
    "Changes are audited in the context (op on_add, on_pause, on_resume,\n"
    "on_rm; model events) as caller " CTL_LOCAL_CALLER " with the OS user.\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl on add ship --context shop --event 'order.*' --worker shipping \\\n"
    "      --script ship.js --caller shipping-bot --data-dir /var/lib/rhaid\n"
    "  rhaictl on list --context shop --json\n"
    "  rhaictl on pause ship --context shop\n"
    "\n"
    CTL_EXIT_HELP;

typedef struct on_opts {
    ctl_where   where;
    const char *data_dir;
    const char *data_url;
    const char *sub;
    const char *name;
    const char *context;
    const char *pattern;
    const char *worker;
    const char *file;
    const char *eval;
    const char *caller;
    const char *args;
    const char *as;
    int         paused;
} on_opts;

static int on_parse(ctl_global *g, int argc, char **argv, on_opts *o)
{
    enum { OPT_EVENT = 0x300, OPT_PAUSED, OPT_AS, OPT_DATA_DIR, OPT_DATA_URL };
    static const struct option longopts[] = {
        { "context", required_argument, NULL, 'c' },
        { "event", required_argument, NULL, OPT_EVENT },
        { "worker", required_argument, NULL, 'w' },
        { "script", required_argument, NULL, 's' },
        { "eval", required_argument, NULL, 'e' },
        { "caller", required_argument, NULL, 'u' },
        { "args", required_argument, NULL, 'a' },
        { "paused", no_argument, NULL, OPT_PAUSED },
        { "as", required_argument, NULL, OPT_AS },
        { "data-dir", required_argument, NULL, 'd' },
        { "data-url", required_argument, NULL, OPT_DATA_URL },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    int c, add;

    while ((c = getopt_long(argc, argv, ":c:w:s:e:u:a:d:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'c': o->context = optarg; break;
        case OPT_EVENT: o->pattern = optarg; break;
        case 'w': o->worker = optarg; break;
        case 's': o->file = optarg; break;
        case 'e': o->eval = optarg; break;
        case 'u': o->caller = optarg; break;
        case 'a': o->args = optarg; break;
        case OPT_PAUSED: o->paused = 1; break;
        case OPT_AS: o->as = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case OPT_DATA_URL: o->data_url = optarg; break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(on_help, stdout);
            return -1;
        default:
            return ctl_option_error("on", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("on", "missing subcommand: add, list, show, pause, resume "
                               "or rm");
    o->sub = argv[optind++];
    add = strcmp(o->sub, "add") == 0;
    if (!add && strcmp(o->sub, "list") != 0 && strcmp(o->sub, "show") != 0 &&
        strcmp(o->sub, "pause") != 0 && strcmp(o->sub, "resume") != 0 &&
        strcmp(o->sub, "rm") != 0)
        return ctl_usage_error("on", "unknown subcommand '%s' (add, list, show, pause, "
                               "resume, rm)", o->sub);
    if (strcmp(o->sub, "list") != 0) {
        if (optind >= argc)
            return ctl_usage_error("on", "%s: missing NAME (the subscription)", o->sub);
        o->name = argv[optind++];
        if (!store_sub_name_valid(o->name))
            return ctl_usage_error("on", "invalid subscription NAME '%.100s' (1..%d of "
                                   "[A-Za-z0-9_.:-])", o->name, STORE_SUB_NAME_MAX);
    }
    if (optind < argc)
        return ctl_usage_error("on", "unexpected argument '%s'", argv[optind]);
    if (o->context == NULL)
        return ctl_usage_error("on", "%s: --context C is required", o->sub);
    if (ctl_context_check("on", o->context) != 0)
        return CTL_EXIT_USAGE;
    if (o->as && !ctl_caller_valid(o->as))
        return ctl_usage_error("on", "invalid --as '%.256s'", o->as);
    if (!add) {
        if (o->pattern || o->worker || o->file || o->eval || o->caller || o->args ||
            o->paused)
            return ctl_usage_error("on", "--event, --worker, --script, --eval, --caller, "
                                   "--args and --paused go with add");
        if (strcmp(o->sub, "list") == 0 && o->as)
            return ctl_usage_error("on", "--as goes with changes");
    } else {
        if (o->pattern == NULL || !store_event_pattern_valid(o->pattern))
            return ctl_usage_error("on", "add: --event PATTERN is %s (an event name, "
                                   "PREFIX.* or *)", o->pattern ? "invalid" : "required");
        if (o->worker == NULL || !rh_name_valid(o->worker))
            return ctl_usage_error("on", "add: --worker W is %s (1..128 of "
                                   "[A-Za-z0-9_.:@-])", o->worker ? "invalid" : "required");
        if (o->caller == NULL || !rh_name_valid(o->caller))
            return ctl_usage_error("on", "add: --caller U is %s (the caller its tasks run "
                                   "as: 1..128 of [A-Za-z0-9_.:@-])",
                                   o->caller ? "invalid" : "required");
        if ((o->file == NULL) == (o->eval == NULL))
            return ctl_usage_error("on", "add: give the script: --script FILE or -e SCRIPT");
        if (o->args) {
            json_t *a = json_loads(o->args, JSON_REJECT_DUPLICATES, NULL);
            int ok = json_is_object(a);
            json_decref(a);
            if (!ok)
                return ctl_usage_error("on", "add: --args must be a JSON object");
        }
    }
    if (ctl_where_resolve("on", o->data_url, o->data_dir, &o->where) != 0)
        return CTL_EXIT_USAGE;
    return 0;
}

/* --as: 0 when not given or an owner of the open context, else an exit
 * code after saying why. */
static int on_check_owner(const on_opts *o, ctl_local *l)
{
    rhai_error err = { 0, "" };
    json_t *owners = NULL, *v;
    size_t i;
    int found = 0;

    if (o->as == NULL)
        return 0;
    if (store_owners(l->db, &owners, &err) != 0) {
        ctl_errorf("on", "owners of '%s': %s", o->context, err.msg);
        return CTL_EXIT_FAILED;
    }
    json_array_foreach(owners, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), o->as) == 0)
            found = 1;
    json_decref(owners);
    if (!found) {
        ctl_errorf("on", "denied: '%.256s' is not an owner of context '%s' (subscriptions "
                   "are an owner's to change)", o->as, o->context);
        return CTL_EXIT_DENIED;
    }
    return 0;
}

/* "ship: order.* -> worker shipping as shipping-bot" */
static void on_describe(json_t *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s -> worker %s as %s%s",
             json_string_value(json_object_get(s, "name")),
             json_string_value(json_object_get(s, "pattern")),
             json_string_value(json_object_get(s, "worker")),
             json_string_value(json_object_get(s, "caller")),
             json_is_true(json_object_get(s, "paused")) ? " (paused)" : "");
}

static int on_print_sub(const ctl_global *g, json_t *s, int full)
{
    char line[700];
    char t[32];
    json_t *args;
    char *a;

    if (g->json)
        return ctl_print_json(s);
    on_describe(s, line, sizeof line);
    printf("%s\n", line);
    if (full) {
        args = json_object_get(s, "args");
        a = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
        printf("  args        %s\n", a ? a : "{}");
        free(a);
        ctl_fmt_time(json_integer_value(json_object_get(s, "created_at")), t, sizeof t);
        printf("  created     %s by %s\n", t,
               json_is_string(json_object_get(s, "created_by"))
               ? json_string_value(json_object_get(s, "created_by")) : "-");
        ctl_fmt_time(json_integer_value(json_object_get(s, "updated_at")), t, sizeof t);
        printf("  updated     %s\n", t);
        printf("  script:\n%s\n", json_string_value(json_object_get(s, "script")));
    }
    json_decref(s);
    return ctl_print_flush();
}

static int on_add(const ctl_global *g, const on_opts *o)
{
    rhai_error err = { 0, "" };
    char detail[800], line[700];
    char *script = NULL;
    size_t len;
    store_sub s;
    json_t *row = NULL;
    ctl_local l;
    int rc, code;

    if ((code = ctl_script_load("on", o->file, o->eval, &script, &len)) != 0)
        return code;
    if (len > STORE_SUB_SCRIPT_MAX) {
        rh_free(script);
        return ctl_usage_error("on", "add: the script is %zu bytes, more than a "
                               "subscription holds (%u)", len, STORE_SUB_SCRIPT_MAX);
    }
    if ((code = ctl_local_open("on", &o->where, o->context, &l)) != 0 ||
        (code = on_check_owner(o, &l)) != 0) {
        ctl_local_close(&l);
        rh_free(script);
        return code;
    }
    memset(&s, 0, sizeof s);
    s.name = o->name;
    s.pattern = o->pattern;
    s.worker = o->worker;
    s.script = script;
    s.args = o->args;
    s.caller = o->caller;
    s.created_by = o->as ? o->as : CTL_LOCAL_CALLER;
    s.paused = o->paused;
    if ((rc = store_begin(l.db, &err)) == 0 && (rc = store_sub_put(l.db, &s, &err)) == 0 &&
        (rc = store_sub_get(l.db, o->name, &row, &err)) == 0) {
        on_describe(row, line, sizeof line);
        snprintf(detail, sizeof detail, "added subscription %s%s%s", line,
                 o->as ? " for owner " : "", o->as ? o->as : "");
        if ((rc = ctl_local_audit(&l, "on_add", "events", 0, detail, &err)) == 0)
            rc = store_commit(l.db, &err);
    }
    ctl_local_close(&l);
    rh_free(script);
    if (rc != 0) {
        json_decref(row);
        ctl_errorf("on", "add '%s' in '%s': %s", o->name, o->context,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return rc == RHAI_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
    }
    if (!g->json)
        printf("added in %s: ", o->context);
    return on_print_sub(g, row, 0);
}

/* pause, resume, rm */
static int on_change(const ctl_global *g, const on_opts *o)
{
    int pause = strcmp(o->sub, "pause") == 0, rm = strcmp(o->sub, "rm") == 0;
    rhai_error err = { 0, "" };
    char op[16], detail[300];
    ctl_local l;
    int rc, code;

    if ((code = ctl_local_open("on", &o->where, o->context, &l)) != 0 ||
        (code = on_check_owner(o, &l)) != 0) {
        ctl_local_close(&l);
        return code;
    }
    snprintf(op, sizeof op, "on_%s", o->sub);
    snprintf(detail, sizeof detail, "%s subscription %s%s%s",
             rm ? "removed" : pause ? "paused" : "resumed", o->name,
             o->as ? " for owner " : "", o->as ? o->as : "");
    if ((rc = store_begin(l.db, &err)) == 0 &&
        (rc = rm ? store_sub_del(l.db, o->name, &err)
                 : store_sub_set_paused(l.db, o->name, pause, &err)) == 0 &&
        (rc = ctl_local_audit(&l, op, "events", 0, detail, &err)) == 0)
        rc = store_commit(l.db, &err);
    ctl_local_close(&l);
    if (rc != 0) {
        ctl_errorf("on", "%s '%s' in '%s': %s", o->sub, o->name, o->context,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return rc == RHAI_ENOTFOUND ? CTL_EXIT_NOTFOUND : CTL_EXIT_FAILED;
    }
    if (g->json)
        return ctl_print_json(json_pack("{s:s, s:s, s:s}", "context", o->context, "name",
                                        o->name, "done", o->sub));
    printf("%s in %s: %s\n", rm ? "removed" : pause ? "paused" : "resumed", o->context,
           o->name);
    return ctl_print_flush();
}

static int on_show(const ctl_global *g, const on_opts *o)
{
    int list = strcmp(o->sub, "list") == 0;
    rhai_error err = { 0, "" };
    json_t *res = NULL, *v;
    char line[700];
    ctl_local l;
    size_t i;
    int rc, code;

    if ((code = ctl_local_open("on", &o->where, o->context, &l)) != 0 ||
        (code = on_check_owner(o, &l)) != 0) {
        ctl_local_close(&l);
        return code;
    }
    rc = list ? store_sub_list(l.db, &res, &err) : store_sub_get(l.db, o->name, &res, &err);
    ctl_local_close(&l);
    if (rc != 0) {
        ctl_errorf("on", "%s%s%s in '%s': %s", o->sub, list ? "" : " ", list ? "" : o->name,
                   o->context, err.msg[0] ? err.msg : rhai_strerror(rc));
        return rc == RHAI_ENOTFOUND ? CTL_EXIT_NOTFOUND : CTL_EXIT_FAILED;
    }
    if (!list)
        return on_print_sub(g, res, 1);
    if (g->json)
        return ctl_print_json(res);
    if (json_array_size(res) == 0)
        printf("no subscriptions in %s\n", o->context);
    json_array_foreach(res, i, v) {
        on_describe(v, line, sizeof line);
        printf("%s\n", line);
    }
    json_decref(res);
    return ctl_print_flush();
}

static int on_exec(ctl_global *g, int argc, char **argv)
{
    on_opts o;
    int code;

    memset(&o, 0, sizeof o);
    if ((code = on_parse(g, argc, argv, &o)) != 0)
        return code < 0 ? CTL_EXIT_OK : code;
    if (strcmp(o.sub, "add") == 0)
        return on_add(g, &o);
    if (strcmp(o.sub, "list") == 0 || strcmp(o.sub, "show") == 0)
        return on_show(g, &o);
    return on_change(g, &o);
}

const ctl_cmd ctl_cmd_on = {
    "on",
    "add NAME --context C --event PATTERN --worker W --script FILE --caller U | list | ...",
    "subscribe scripts to the events of a context (local store)",
    on_exec
};
