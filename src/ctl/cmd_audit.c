/* cmd_audit.c -- `rhaictl audit CONTEXT`: a context's audit log.
 *
 * Every denied DSL call, every write and every admin change (grants,
 * revokes, owners, context creation) leaves a row in the context's rhai_audit
 * table (src/store/acl.c). This prints the newest rows, filtered, either
 * from the data dir or through an owner task calling audit.query() on a
 * worker (admin.c); both print the same table and the same --json. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define AUDIT_LIMIT_DEFAULT 100

static const char audit_help[] =
    "Usage: rhaictl audit CONTEXT [--by C] [--model M] [--decision D]\n"
    "                     [--limit N] [where]\n"
    "\n"
    "Print the newest rows of context CONTEXT's audit log, newest first: every\n"
    "denied call, every write and every admin change (grant, revoke,\n"
    "add_owner, remove_owner, context_create), with time, decision, caller,\n"
    "operation, model, object id, task id and reason. Local changes made by\n"
    "rhaictl show as caller " CTL_LOCAL_CALLER " with the OS user in the reason.\n"
    "\n"
    "Options:\n"
    "  -b, --by C            only rows of caller C (what C did, or was\n"
    "                        refused)\n"
    "  -m, --model M         only rows about model M ('*' for context-wide rows)\n"
    "  -D, --decision D      only allowed or only denied rows\n"
    "  -n, --limit N         at most N rows, 1..1000 (default 100)\n"
    "      --json            [{id, at, task_id, caller, op, model, object_id,\n"
    "                        decision, reason}], newest first\n"
    "  -h, --help            this help\n"
    "\n"
    CTL_ADMIN_HELP
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl audit acme --decision denied --data-dir /var/lib/rhaid\n"
    "  rhaictl audit acme --by bob --worker billing --key alice.key --json\n"
    "\n"
    CTL_EXIT_HELP;

/* The owner-task script: constant text, the filters come in args. */
static const char audit_js_query[] = "audit.query(args)";

static int audit_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "by", required_argument, NULL, 'b' },
        { "model", required_argument, NULL, 'm' },
        { "decision", required_argument, NULL, 'D' },
        { "limit", required_argument, NULL, 'n' },
        CTL_ADMIN_LONGOPTS,
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *context, *caller = NULL, *model = NULL, *decision = NULL;
    long long limit = AUDIT_LIMIT_DEFAULT;
    rhai_error err = { 0, "" };
    json_t *rows = NULL, *q;
    ctl_admin a;
    ctl_where where;
    ctl_local l;
    int c, r, rc, code;

    memset(&a, 0, sizeof a);
    while ((c = getopt_long(argc, argv, ":b:m:D:n:d:w:u:k:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if ((r = ctl_admin_option(&a, "audit", c, optarg)) != 0) {
            if (r < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'b':
            if (!ctl_caller_valid(optarg))
                return ctl_usage_error("audit", "invalid --by '%s'", optarg);
            caller = optarg;
            break;
        case 'm':
            if (*optarg == '\0' || strlen(optarg) > 100)
                return ctl_usage_error("audit", "invalid --model '%s'", optarg);
            model = optarg;
            break;
        case 'D':
            if (strcmp(optarg, "allowed") != 0 && strcmp(optarg, "denied") != 0)
                return ctl_usage_error("audit", "--decision is allowed or denied, not '%s'",
                                       optarg);
            decision = optarg;
            break;
        case 'n':
            if (ctl_parse_int(optarg, 1, STORE_LIST_MAX, 0, &limit) != 0)
                return ctl_usage_error("audit", "--limit '%s' is not a number in 1..%d",
                                       optarg, STORE_LIST_MAX);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(audit_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("audit", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("audit", "missing CONTEXT");
    context = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("audit", "unexpected argument '%s'", argv[optind]);
    if (ctl_admin_check(&a, "audit") != 0 || ctl_context_check("audit", context) != 0)
        return CTL_EXIT_USAGE;
    if (!a.remote && ctl_where_resolve("audit", a.data_url, a.data_dir, &where) != 0)
        return CTL_EXIT_USAGE;

    if (!a.remote) {
        if ((code = ctl_local_open("audit", &where, context, &l)) != 0)
            return code;
        rc = store_audit_query(l.db, caller, model, decision, (long)limit, &rows, &err);
        ctl_local_close(&l);
        if (rc != 0) {
            ctl_errorf("audit", "'%s': %s", context, err.msg[0] ? err.msg : rhai_strerror(rc));
            return CTL_EXIT_FAILED;
        }
    } else {
        q = json_pack("{s:I}", "limit", (json_int_t)limit);
        if (q && ((caller && json_object_set_new(q, "caller", json_string(caller)) != 0) ||
                  (model && json_object_set_new(q, "model", json_string(model)) != 0) ||
                  (decision && json_object_set_new(q, "decision",
                                                   json_string(decision)) != 0))) {
            json_decref(q);
            q = NULL;
        }
        if (q == NULL) {
            ctl_errorf("audit", "out of memory");
            return CTL_EXIT_FAILED;
        }
        code = ctl_remote_call(g, "audit", &a, context, audit_js_query, q, &rows);
        json_decref(q);
        if (code != 0)
            return code;
        if (!json_is_array(rows)) {
            ctl_errorf("audit", "the worker did not answer a list of rows");
            json_decref(rows);
            return CTL_EXIT_FAILED;
        }
    }
    if (g->json)
        return ctl_print_json(rows);
    code = ctl_print_audit(rows);
    json_decref(rows);
    return code;
}

const ctl_cmd ctl_cmd_audit = {
    "audit",
    "CONTEXT [--by C] [--model M] [--decision allowed|denied] [--limit N]",
    "a context's audit log, newest first (local or via a worker)",
    audit_exec
};
