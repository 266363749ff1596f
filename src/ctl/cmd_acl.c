/* cmd_acl.c -- `rhaictl acl grant|revoke|list|owners|add-owner|remove-owner`.
 *
 * Owners of a context may do everything in it; anyone else needs a grant
 * (caller, model or '*', a subset of read/create/update/delete, optionally
 * one object, optionally until a time). Locally the store is changed
 * directly and the change audited (admin.c); remotely an owner task calls
 * acl.grant/revoke/list/owners on a worker with the values in its args.
 * Both print the same text and the same --json. Owners are managed the
 * same way (add-owner, remove-owner; a context always keeps one). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "dsl/dsl.h"

#define ACL_EXPIRES_MAX_MS (3650LL * 86400000LL)    /* ten years ahead */
#define ACL_CALLER_MAX 200                          /* as the DSL's acl.grant */

static const char acl_help[] =
    "Usage: rhaictl acl grant CONTEXT CALLER --model M|'*' --ops OPS [--object ID]\n"
    "                         [--expires DURATION|@UNIXMS] [where]\n"
    "       rhaictl acl revoke CONTEXT CALLER --model M|'*' [--ops OPS] [--object ID]\n"
    "                          [where]\n"
    "       rhaictl acl list CONTEXT [where]\n"
    "       rhaictl acl owners CONTEXT [where]\n"
    "       rhaictl acl add-owner|remove-owner CONTEXT CALLER [where]\n"
    "\n"
    "Owners of a context may do everything in it; any other caller needs a\n"
    "grant. A grant names a caller, a model (or '*' for every model), the\n"
    "operations (read, create, update, delete), optionally one object id and\n"
    "optionally an expiry.\n"
    "\n"
    "grant   add a grant; prints its id\n"
    "revoke  remove OPS (default: all) from CALLER's grants on M for exactly\n"
    "        --object ID (without it: the model-wide grants, not per-object\n"
    "        ones); a grant left with no operation is deleted. Prints how many\n"
    "        grants changed (0 is not an error)\n"
    "list    every grant, oldest first\n"
    "owners  the owners\n"
    "add-owner, remove-owner\n"
    "        make CALLER an owner (no change when it is one), or no longer one;\n"
    "        the last owner cannot be removed (exit 1)\n"
    "\n"
    "Options:\n"
    "  -m, --model M         a model name (company, or its JS name Company; see\n"
    "                        rhaictl dsl list) or '*' for every model\n"
    "  -o, --ops OPS         read,create,update,delete (any subset, comma\n"
    "                        separated) or all\n"
    "      --object ID       only the object (row) with this id\n"
    "      --expires WHEN    grant: a duration from now (90s, 30m, 1h, 7d, 2w) or\n"
    "                        @UNIXMS (an absolute time in unix milliseconds)\n"
    "      --json            grant: {\"id\",\"context\",\"caller\",\"model\",\"ops\",\n"
    "                        \"object_id\",\"expires_at\"}; revoke: {...,\"changed\"};\n"
    "                        list: [{id, caller, model, ops, object_id,\n"
    "                        expires_at, granted_by, created_at}]; owners: [...];\n"
    "                        add-owner, remove-owner: {\"context\",\"caller\",\"owner\"}\n"
    "  -h, --help            this help\n"
    "\n"
    CTL_ADMIN_HELP
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl acl grant acme bob --model company --ops read,update --expires 7d \\\n"
    "      --data-dir /var/lib/rhaid\n"
    "  rhaictl acl list acme --data-url postgres://rhaid@db1/rhai\n"
    "  rhaictl acl revoke acme bob --model company --ops update --worker billing \\\n"
    "      --key alice.key\n"
    "  rhaictl acl list acme --worker billing --as alice --json\n"
    "\n"
    CTL_EXIT_HELP;

/* The owner-task scripts: constant text, every value comes from args. */
static const char acl_js_grant[] = "acl.grant(args)";
static const char acl_js_revoke[] = "acl.revoke(args)";
static const char acl_js_list[] = "acl.list()";
static const char acl_js_owners[] = "acl.owners()";
static const char acl_js_add_owner[] = "acl.add_owner(args.caller)";
static const char acl_js_remove_owner[] = "acl.remove_owner(args.caller)";

typedef struct acl_opts {
    ctl_admin   admin;
    ctl_where   where;      /* local: the store */
    const char *sub;
    const char *context;
    const char *caller;     /* the grantee */
    const char *model;      /* canonical (table) name or "*" */
    const char *ops_arg;
    unsigned    ops;        /* STORE_OP_* bits, 0: not given */
    long long   object_id;  /* 0: not given */
    long long   expires_at; /* unix ms, 0: never */
} acl_opts;

/* ======================== arguments ======================== */

/* 1 when 's' looks like a model name: [a-z][a-z0-9_]*, at most 64. */
static int acl_model_shape(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* --model: "*", a model's name, or its JS name (mapped to the name).
 * 'known' requires a model of this rhaictl's schema. NULL when invalid. */
static const char *acl_model(const char *s, int known)
{
    if (strcmp(s, "*") == 0 || store_schema_model(&dsl_schema, s) != NULL)
        return s;
    for (size_t i = 0; i < dsl_schema.nmodels; i++)
        if (strcmp(dsl_schema.models[i].js_name, s) == 0)
            return dsl_schema.models[i].name;
    return !known && acl_model_shape(s) ? s : NULL;
}

/* --expires: "90s", "30m", "1h", "7d", "2w" from now, or "@UNIXMS".
 * 0 and *at (unix ms, in the future), or -1. */
static int acl_expires(const char *s, long long *at)
{
    long long now = (long long)rh_now_ms(), v, unit;
    char num[24];
    size_t n = strlen(s);

    if (s[0] == '@') {
        if (ctl_parse_int(s + 1, 1, now + ACL_EXPIRES_MAX_MS, 0, &v) != 0 || v <= now)
            return -1;
        *at = v;
        return 0;
    }
    if (n < 2 || n - 1 >= sizeof num)
        return -1;
    switch (s[n - 1]) {
    case 's': unit = 1000LL; break;
    case 'm': unit = 60000LL; break;
    case 'h': unit = 3600000LL; break;
    case 'd': unit = 86400000LL; break;
    case 'w': unit = 7 * 86400000LL; break;
    default: return -1;
    }
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    if (ctl_parse_int(num, 1, ACL_EXPIRES_MAX_MS / unit, 0, &v) != 0)
        return -1;
    *at = now + v * unit;
    return 0;
}

static int acl_parse(ctl_global *g, int argc, char **argv, acl_opts *o)
{
    enum { OPT_OBJECT = 0x300, OPT_EXPIRES };
    static const struct option longopts[] = {
        { "model", required_argument, NULL, 'm' },
        { "ops", required_argument, NULL, 'o' },
        { "object", required_argument, NULL, OPT_OBJECT },
        { "expires", required_argument, NULL, OPT_EXPIRES },
        CTL_ADMIN_LONGOPTS,
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *model = NULL, *expires = NULL;
    int c, r, grant, revoke, owner;

    while ((c = getopt_long(argc, argv, ":m:o:u:d:w:k:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if ((r = ctl_admin_option(&o->admin, "acl", c, optarg)) != 0) {
            if (r < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': o->ops_arg = optarg; break;
        case OPT_OBJECT:
            if (ctl_parse_int(optarg, 1, 9007199254740991LL, 0, &o->object_id) != 0)
                return ctl_usage_error("acl", "--object '%s' is not an object id (a "
                                       "positive integer)", optarg);
            break;
        case OPT_EXPIRES:
            expires = optarg;
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(acl_help, stdout);
            return -1;
        default:
            return ctl_option_error("acl", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("acl", "missing subcommand: grant, revoke, list or owners");
    o->sub = argv[optind++];
    grant = strcmp(o->sub, "grant") == 0;
    revoke = strcmp(o->sub, "revoke") == 0;
    owner = strcmp(o->sub, "add-owner") == 0 || strcmp(o->sub, "remove-owner") == 0;
    if (!grant && !revoke && !owner && strcmp(o->sub, "list") != 0 &&
        strcmp(o->sub, "owners") != 0)
        return ctl_usage_error("acl", "unknown subcommand '%s' (grant, revoke, list, "
                               "owners, add-owner, remove-owner)", o->sub);
    if (optind >= argc)
        return ctl_usage_error("acl", "%s: missing CONTEXT", o->sub);
    o->context = argv[optind++];
    if (grant || revoke || owner) {
        if (optind >= argc)
            return ctl_usage_error("acl", "%s: missing CALLER (who gets or loses the "
                                   "%s)", o->sub, owner ? "ownership" : "grant");
        o->caller = argv[optind++];
    }
    if (optind < argc)
        return ctl_usage_error("acl", "unexpected argument '%s'", argv[optind]);
    if (ctl_admin_check(&o->admin, "acl") != 0)
        return CTL_EXIT_USAGE;
    if (ctl_context_check("acl", o->context) != 0)
        return CTL_EXIT_USAGE;
    if (!o->admin.remote && ctl_where_resolve("acl", o->admin.data_url, o->admin.data_dir,
                                              &o->where) != 0)
        return CTL_EXIT_USAGE;
    if (!grant && !revoke) {
        if (model || o->ops_arg || o->object_id || expires)
            return ctl_usage_error("acl", "--model, --ops, --object and --expires go with "
                                   "grant and revoke");
        if (owner && (!ctl_caller_valid(o->caller) || strlen(o->caller) > ACL_CALLER_MAX))
            return ctl_usage_error("acl", "invalid CALLER '%.256s' (1..%d printable ASCII, "
                                   "no spaces)", o->caller, ACL_CALLER_MAX);
        return 0;
    }
    /* 200: the longest caller the DSL's acl.grant/revoke take */
    if (!ctl_caller_valid(o->caller) || strlen(o->caller) > ACL_CALLER_MAX)
        return ctl_usage_error("acl", "invalid CALLER '%.256s' (1..%d printable ASCII, no "
                               "spaces)", o->caller, ACL_CALLER_MAX);
    if (model == NULL)
        return ctl_usage_error("acl", "%s: --model M (or '*') is required", o->sub);
    /* Locally a grant must name a model this schema has; a remote worker
     * may be newer, so there only the shape is checked. */
    if ((o->model = acl_model(model, grant && !o->admin.remote)) == NULL)
        return ctl_usage_error("acl", "--model '%s' is not a model (rhaictl dsl list) "
                               "nor '*'", model);
    if (o->object_id && strcmp(o->model, "*") == 0)
        return ctl_usage_error("acl", "--object needs a --model: object ids are per model");
    if (grant && o->ops_arg == NULL)
        return ctl_usage_error("acl", "grant: --ops is required (read,create,update,"
                               "delete or all)");
    if (o->ops_arg && store_ops_parse(o->ops_arg, &o->ops) != 0)
        return ctl_usage_error("acl", "--ops '%s': give read, create, update, delete "
                               "(comma separated) or all", o->ops_arg);
    if (expires && !grant)
        return ctl_usage_error("acl", "--expires goes with grant");
    if (expires && acl_expires(expires, &o->expires_at) != 0)
        return ctl_usage_error("acl", "--expires '%s': give a duration such as 90s, 30m, "
                               "1h, 7d, 2w, or @UNIXMS in the future (within 10 years)",
                               expires);
    return 0;
}

/* ======================== grant and revoke ======================== */

/* The grant or revoke as JSON: the args of the owner task and, with
 * "id"/"changed" and "context" added, the --json output. New or NULL. */
static json_t *acl_spec(const acl_opts *o)
{
    json_t *j = json_pack("{s:s, s:s}", "caller", o->caller, "model", o->model);

    if (j == NULL)
        return NULL;
    if (o->ops && json_object_set_new(j, "ops", store_ops_json(o->ops)) != 0)
        goto oom;
    if (o->object_id && json_object_set_new(j, "object_id",
                                            json_integer((json_int_t)o->object_id)) != 0)
        goto oom;
    if (o->expires_at && json_object_set_new(j, "expires_at",
                                             json_integer((json_int_t)o->expires_at)) != 0)
        goto oom;
    return j;
oom:
    json_decref(j);
    return NULL;
}

/* The --json of grant (v: the new grant's id) or revoke (v: grants
 * changed), the same in both modes. New or NULL. */
static json_t *acl_result_json(const acl_opts *o, int grant, long long v)
{
    json_t *j = json_object();

    if (j == NULL ||
        (grant && json_object_set_new(j, "id", json_integer((json_int_t)v)) != 0) ||
        json_object_set_new(j, "context", json_string(o->context)) != 0 ||
        json_object_set_new(j, "caller", json_string(o->caller)) != 0 ||
        json_object_set_new(j, "model", json_string(o->model)) != 0 ||
        json_object_set_new(j, "ops", store_ops_json(o->ops ? o->ops : STORE_OP_ALL)) != 0 ||
        json_object_set_new(j, "object_id", o->object_id
                            ? json_integer((json_int_t)o->object_id) : json_null()) != 0 ||
        (grant && json_object_set_new(j, "expires_at", o->expires_at
                                      ? json_integer((json_int_t)o->expires_at)
                                      : json_null()) != 0) ||
        (!grant && json_object_set_new(j, "changed", json_integer((json_int_t)v)) != 0)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* "read,update to bob on company (object 3), until 2026-..." */
static void acl_describe(const acl_opts *o, char *buf, size_t n)
{
    char until[64] = "";
    char obj[40] = "";
    char t[32];

    if (o->object_id)
        snprintf(obj, sizeof obj, " (object %lld)", o->object_id);
    if (o->expires_at) {
        ctl_fmt_time(o->expires_at, t, sizeof t);
        snprintf(until, sizeof until, ", until %s", t);
    }
    snprintf(buf, n, "%s %s %.256s on %s%s%s", o->ops_arg ? o->ops_arg : "all",
             strcmp(o->sub, "grant") == 0 ? "to" : "from", o->caller, o->model, obj, until);
}

/* Local grant or revoke in one transaction with its audit row: *result is
 * the grant id or the number of grants changed. 0 or an exit code. */
static int acl_local_change(const acl_opts *o, long long *result)
{
    int grant = strcmp(o->sub, "grant") == 0;
    rhai_error err = { 0, "" };
    store_grant sg;
    char what[600], detail[700];
    ctl_local l;
    int64_t id = 0;
    int n = 0, rc, code;

    if ((code = ctl_local_open("acl", &o->where, o->context, &l)) != 0)
        return code;
    memset(&sg, 0, sizeof sg);
    sg.caller = o->caller;
    sg.model = o->model;
    sg.ops = o->ops;            /* revoke: 0 means all */
    sg.object_id = o->object_id;
    sg.expires_at = o->expires_at;
    sg.granted_by = CTL_LOCAL_CALLER;
    acl_describe(o, what, sizeof what);
    if ((rc = store_begin(l.db, &err)) == 0 &&
        (rc = grant ? store_grant_add(l.db, &sg, &id, &err)
                    : store_grant_revoke(l.db, &sg, &n, &err)) == 0) {
        if (grant)
            snprintf(detail, sizeof detail, "granted #%lld: %s", (long long)id, what);
        else
            snprintf(detail, sizeof detail, "revoked %s: %d grant%s changed", what, n,
                     n == 1 ? "" : "s");
        if ((rc = ctl_local_audit(&l, o->sub, o->model, o->object_id, detail, &err)) == 0)
            rc = store_commit(l.db, &err);
    }
    ctl_local_close(&l);            /* rolls back on failure */
    if (rc != 0) {
        ctl_errorf("acl", "%s on '%s': %s", o->sub, o->context,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    *result = grant ? (long long)id : n;
    return 0;
}

static int acl_change(const ctl_global *g, const acl_opts *o)
{
    int grant = strcmp(o->sub, "grant") == 0;
    json_t *spec, *res = NULL;
    char what[600];
    long long v = 0;
    int code;

    if (!o->admin.remote) {
        code = acl_local_change(o, &v);
    } else if ((spec = acl_spec(o)) == NULL) {
        ctl_errorf("acl", "out of memory");
        code = CTL_EXIT_FAILED;
    } else {
        code = ctl_remote_call(g, "acl", &o->admin, o->context,
                               grant ? acl_js_grant : acl_js_revoke, spec, &res);
        json_decref(spec);
        if (code == 0 && !json_is_number(res)) {
            ctl_errorf("acl", "%s: the worker did not answer a number", o->sub);
            code = CTL_EXIT_FAILED;
        }
        if (code == 0)
            v = (long long)json_number_value(res);
        json_decref(res);
    }
    if (code != 0)
        return code;
    if (g->json)
        return ctl_print_json(acl_result_json(o, grant, v));
    acl_describe(o, what, sizeof what);
    if (grant)
        printf("granted #%lld in %s: %s\n", v, o->context, what);
    else if (v == 0)
        printf("nothing to revoke in %s: no grant matched %s\n", o->context, what);
    else
        printf("revoked in %s: %s (%lld grant%s changed)\n", o->context, what, v,
               v == 1 ? "" : "s");
    return ctl_print_flush();
}

/* ======================== owners ======================== */

/* add-owner / remove-owner. Locally: one transaction with its audit row
 * (op add_owner/remove_owner, model "acl", as the DSL writes them). */
static int acl_owner_change(const ctl_global *g, const acl_opts *o)
{
    int add = strcmp(o->sub, "add-owner") == 0;
    rhai_error err = { 0, "" };
    char detail[300];
    json_t *args, *res = NULL;
    ctl_local l;
    int rc, code;

    if (!o->admin.remote) {
        if ((code = ctl_local_open("acl", &o->where, o->context, &l)) != 0)
            return code;
        snprintf(detail, sizeof detail, "%s owner %s", add ? "added" : "removed", o->caller);
        if ((rc = store_begin(l.db, &err)) == 0 &&
            (rc = add ? store_owner_add(l.db, o->caller, &err)
                      : store_owner_remove(l.db, o->caller, &err)) == 0 &&
            (rc = ctl_local_audit(&l, add ? "add_owner" : "remove_owner", "acl", 0, detail,
                                  &err)) == 0)
            rc = store_commit(l.db, &err);
        ctl_local_close(&l);
        if (rc != 0) {
            ctl_errorf("acl", "%s in '%s': %s", o->sub, o->context,
                       err.msg[0] ? err.msg : rhai_strerror(rc));
            return CTL_EXIT_FAILED;
        }
    } else {
        if ((args = json_pack("{s:s}", "caller", o->caller)) == NULL) {
            ctl_errorf("acl", "out of memory");
            return CTL_EXIT_FAILED;
        }
        code = ctl_remote_call(g, "acl", &o->admin, o->context,
                               add ? acl_js_add_owner : acl_js_remove_owner, args, &res);
        json_decref(args);
        json_decref(res);               /* true */
        if (code != 0)
            return code;
    }
    if (g->json)
        return ctl_print_json(json_pack("{s:s, s:s, s:b}", "context", o->context, "caller",
                                        o->caller, "owner", add));
    printf("%s is %s an owner of %s\n", o->caller, add ? "now" : "no longer", o->context);
    return ctl_print_flush();
}

/* ======================== list and owners ======================== */

static int acl_show(const ctl_global *g, const acl_opts *o)
{
    int owners = strcmp(o->sub, "owners") == 0;
    rhai_error err = { 0, "" };
    json_t *res = NULL, *v;
    ctl_local l;
    size_t i;
    int rc, code;

    if (!o->admin.remote) {
        if ((code = ctl_local_open("acl", &o->where, o->context, &l)) != 0)
            return code;
        rc = owners ? store_owners(l.db, &res, &err) : store_grant_list(l.db, &res, &err);
        ctl_local_close(&l);
        if (rc != 0) {
            ctl_errorf("acl", "%s of '%s': %s", o->sub, o->context,
                       err.msg[0] ? err.msg : rhai_strerror(rc));
            return CTL_EXIT_FAILED;
        }
    } else {
        json_t *none = json_object();
        code = none ? ctl_remote_call(g, "acl", &o->admin, o->context,
                                      owners ? acl_js_owners : acl_js_list, none, &res)
                    : CTL_EXIT_FAILED;
        json_decref(none);
        if (code != 0)
            return code;
        if (!json_is_array(res)) {
            ctl_errorf("acl", "%s: the worker did not answer a list", o->sub);
            json_decref(res);
            return CTL_EXIT_FAILED;
        }
    }
    if (g->json)
        return ctl_print_json(res);
    if (owners) {
        json_array_foreach(res, i, v)
            printf("%s\n", json_is_string(v) ? json_string_value(v) : "?");
        code = ctl_print_flush();
    } else {
        code = ctl_print_grants(res, "");
    }
    json_decref(res);
    return code;
}

static int acl_exec(ctl_global *g, int argc, char **argv)
{
    acl_opts o;
    int code;

    memset(&o, 0, sizeof o);
    if ((code = acl_parse(g, argc, argv, &o)) != 0)
        return code < 0 ? CTL_EXIT_OK : code;
    if (strcmp(o.sub, "grant") == 0 || strcmp(o.sub, "revoke") == 0)
        return acl_change(g, &o);
    if (strcmp(o.sub, "add-owner") == 0 || strcmp(o.sub, "remove-owner") == 0)
        return acl_owner_change(g, &o);
    return acl_show(g, &o);
}

const ctl_cmd ctl_cmd_acl = {
    "acl",
    "grant|revoke CONTEXT CALLER --model M [--ops OPS] | list|owners CONTEXT | ...",
    "grant, revoke and list access to a context (local or via a worker)",
    acl_exec
};
