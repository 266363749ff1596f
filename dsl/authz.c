/* authz.c -- every DSL call checked against the context's owners and
 * grants, every write and every denial audited, and the owner-only `acl`
 * and `audit` objects of scripts.
 *
 * A binding asks dsl_authorize before it touches a row. The decision is
 * store_authorize's: it depends on (caller, model, op, object id, time)
 * only, so a caller without a grant gets PermissionDenied whether or not
 * the object exists. Allowed writes get an audit row inside the call's
 * savepoint (they roll back with the write); denials are queued in task.c
 * and written after the task's commit or rollback, so an uncaught
 * PermissionDenied, which rolls the task back, still leaves its trace.
 * Allowed reads are not audited. The rules per operation are in
 * dsl/dsl_intro.md ("Authorization"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dsl.h"

#define DSL_CALLER_MAX 200          /* longest caller id a grant names */
#define DSL_AUDIT_DEFAULT 100       /* rows audit.query returns by default */

static const char reason_no_grant[] = "not an owner and no matching grant";
static const char reason_owners[] = "owners only";

/* The last denial of this task, for the PermissionDenied thrown next. */
static struct {
    char        msg[RHAI_ERRMSG_MAX];
    const char *op;
    const char *model;
    int64_t     id;
} D;

/* Record and report a denial of 'op' on (model, id); 'field' names the
 * guarded field a write was refused for (NULL: the operation itself).
 * 'reason' is static: the queued audit row borrows it. */
static int deny(const char *op, const char *model, int64_t id, const char *field,
                const char *reason, rhai_error *err)
{
    store_audit a;
    const char *caller = dsl_caller();

    if (field != NULL && id > 0)
        snprintf(D.msg, sizeof D.msg, "caller '%.100s' may not set %s of %s %lld (%s)",
                 caller, field, model, (long long)id, reason);
    else if (field != NULL)
        snprintf(D.msg, sizeof D.msg, "caller '%.100s' may not %s %s with %s (%s)", caller,
                 op, model, field, reason);
    else if (id > 0)
        snprintf(D.msg, sizeof D.msg, "caller '%.100s' may not %s %s %lld", caller, op,
                 model, (long long)id);
    else if (reason == reason_owners)
        snprintf(D.msg, sizeof D.msg, "caller '%.100s' may not %s: %s", caller, op, reason);
    else
        snprintf(D.msg, sizeof D.msg, "caller '%.100s' may not %s %s%s", caller, op, model,
                 strcmp(op, "create") ? " (model-wide)" : "");
    D.op = op;
    D.model = model;
    D.id = id;
    memset(&a, 0, sizeof a);
    a.at = rh_now_ms();
    a.task_id = dsl_task_id();
    a.caller = caller;
    a.op = op;
    a.model = model;
    a.object_id = id;
    a.decision = "denied";
    a.reason = reason;
    dsl__denial_queue(&a);
    rh_error_set(err, DSL_EDENIED, "%s", D.msg);
    return DSL_EDENIED;
}

int dsl_authorize(store_db *db, const char *model, unsigned op, int64_t id, rhai_error *err)
{
    int rc = store_authorize(db, dsl_caller(), model, op, id, rh_now_ms(), err);

    if (rc > 0)
        return 0;
    if (rc < 0)
        return rc;
    return deny(store_op_name(op), model, id, NULL, reason_no_grant, err);
}

int dsl_audit_write(store_db *db, const char *op, const char *model, int64_t id,
                    const char *reason, rhai_error *err)
{
    store_audit a;

    memset(&a, 0, sizeof a);
    a.at = rh_now_ms();
    a.task_id = dsl_task_id();
    a.caller = dsl_caller();
    a.op = op;
    a.model = model;
    a.object_id = id;
    a.decision = "allowed";
    a.reason = reason;
    return store_audit_put(db, &a, err);
}

int dsl_get_authorized(store_db *db, const store_model *m, int64_t id, json_t **row,
                       rhai_error *err)
{
    int rc;

    *row = NULL;
    if ((rc = dsl_authorize(db, m->name, STORE_OP_READ, id, err)) != 0)
        return rc;
    return store_get(db, m, id, row, err);
}

/* a and b (NULL: absent, as null) hold the same value: numbers by value,
 * so an integer 100 from a script equals a stored 100.0. */
static int same_value(json_t *a, json_t *b)
{
    const char *key;
    json_t *v;
    size_t i;

    if (a == NULL)
        a = json_null();
    if (b == NULL)
        b = json_null();
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, v)
            if (!same_value(v, json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach(a, key, v)
            if (!same_value(v, json_object_get(b, key)))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

/* Does 'v' (a script's value for f, NULL when absent) change the field
 * from 'old' (update) or, on create, from f's default? 1, 0, or -1 on OOM. */
static int guard_changes(const store_model *m, const char *field, json_t *old, json_t *v)
{
    const store_field *f = store_model_field(m, field);
    json_t *dflt;
    int same;

    if (v == NULL)
        return 0;                       /* not written: unchanged */
    if (old != NULL)
        return !same_value(v, json_object_get(old, field));
    if (f == NULL || f->dflt == NULL)
        return !json_is_null(v);
    if ((dflt = json_loads(f->dflt, JSON_DECODE_ANY, NULL)) == NULL)
        return -1;
    same = same_value(v, dflt);
    json_decref(dflt);
    return !same;
}

int dsl_guard_check(store_db *db, const store_model *m, int64_t id, json_t *old,
                    json_t *values, rhai_error *err)
{
    unsigned op = old ? STORE_OP_UPDATE : STORE_OP_CREATE;

    for (const dsl_guard_decl *g = dsl_guards; g->model; g++) {
        int rc;
        if (strcmp(g->model, m->name) != 0)
            continue;
        if ((rc = guard_changes(m, g->field, old, json_object_get(values, g->field))) == 0)
            continue;
        if (rc < 0)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        /* an owner may; asked only when a guarded field changes */
        rc = store_authorize(db, dsl_caller(), m->name, op, id, rh_now_ms(), err);
        if (rc == 1)
            return 0;
        if (rc < 0)
            return rc;
        return deny(store_op_name(op), m->name, old ? id : 0, g->field, g->reason, err);
    }
    return 0;
}

int dsl_update_audited(store_db *db, const store_model *m, int64_t id, json_t *values,
                       rhai_error *err)
{
    int rc;

    if ((rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, err)) != 0 ||
        (rc = store_update(db, m, id, values, err)) != 0)
        return rc;
    return dsl_audit_write(db, "update", m->name, id, NULL, err);
}

void dsl_throw_denied(js_State *J)
{
    js_newerror(J, D.msg);
    js_pushliteral(J, "PermissionDenied");
    js_setproperty(J, -2, "name");
    js_pushstring(J, dsl_caller());
    js_setproperty(J, -2, "caller");
    js_pushliteral(J, D.op ? D.op : "");
    js_setproperty(J, -2, "op");
    js_pushliteral(J, D.model ? D.model : "");
    js_setproperty(J, -2, "model");
    if (D.id > 0)
        js_pushnumber(J, (double)D.id);
    else
        js_pushnull(J);
    js_setproperty(J, -2, "object_id");
    js_throw(J);
}

/* ======================== acl and audit ======================== */

/* Owner-only: 0 for an owner, else DSL_EDENIED (queued for the audit log
 * under model 'model', "acl" or "audit"). */
static int admin_check(store_db *db, const char *op, const char *model, rhai_error *err)
{
    int rc = store_authorize(db, dsl_caller(), "acl", STORE_OP_READ, 0, rh_now_ms(), err);

    if (rc == 1)
        return 0;
    if (rc < 0)
        return rc;
    return deny(op, model, 0, NULL, reason_owners, err);
}

/* The arguments of acl.grant / acl.revoke, read before any store work. */
typedef struct grant_args {
    char         caller[DSL_CALLER_MAX + 1];
    const char  *model;           /* static: a schema name or "*" */
    unsigned     ops;
    int64_t      object_id;
    int64_t      expires_at;
} grant_args;

static const char *arg_model(js_State *J, int idx, const char *what)
{
    const char *s = dsl_arg_string(J, idx, what);
    const store_model *m;

    if (strcmp(s, "*") == 0)
        return "*";
    if ((m = store_schema_model(&dsl_schema, s)) == NULL)
        js_typeerror(J, "%s: no model '%.64s' (a model name such as 'account', or '*')",
                     what, s);
    return m->name;
}

static unsigned arg_ops(js_State *J, int idx, const char *what)
{
    unsigned mask = 0, bit;

    if (js_isstring(J, idx)) {
        if (store_ops_parse(js_tostring(J, idx), &mask) != 0)
            js_typeerror(J, "%s: ops must be 'all' or a comma list of read, create, "
                         "update, delete", what);
        return mask;
    }
    if (!js_isarray(J, idx) || js_getlength(J, idx) == 0)
        js_typeerror(J, "%s: ops must be a non-empty array of 'read', 'create', "
                     "'update', 'delete', or a string", what);
    for (int i = 0, n = js_getlength(J, idx); i < n; i++) {
        js_getindex(J, idx, i);
        if (!js_isstring(J, -1) || store_ops_parse(js_tostring(J, -1), &bit) != 0)
            js_typeerror(J, "%s: ops[%d] is not one of read, create, update, delete", what, i);
        mask |= bit;
        js_pop(J, 1);
    }
    return mask;
}

/* acl.grant / acl.revoke options at idx into g. */
static void grant_args_read(js_State *J, int idx, grant_args *g, int revoke, const char *what)
{
    const char *key;

    memset(g, 0, sizeof *g);
    if (!js_isobject(J, idx) || js_isarray(J, idx))
        js_typeerror(J, "%s: takes an object {caller, model, ops, object_id%s}", what,
                     revoke ? "" : ", expires_at");
    js_pushiterator(J, idx, 1);
    while ((key = js_nextiterator(J, -1)) != NULL)
        if (strcmp(key, "caller") && strcmp(key, "model") && strcmp(key, "ops") &&
            strcmp(key, "object_id") && (revoke || strcmp(key, "expires_at")))
            js_typeerror(J, "%s: unknown option '%.64s'", what, key);
    js_pop(J, 1);
    js_getproperty(J, idx, "caller");
    {
        const char *c = dsl_arg_string(J, -1, "caller");
        if (*c == '\0' || strlen(c) > DSL_CALLER_MAX)
            js_typeerror(J, "%s: caller must be 1..%d bytes", what, DSL_CALLER_MAX);
        snprintf(g->caller, sizeof g->caller, "%s", c);
    }
    js_pop(J, 1);
    js_getproperty(J, idx, "model");
    g->model = arg_model(J, -1, what);
    js_pop(J, 1);
    js_getproperty(J, idx, "ops");
    if (js_isundefined(J, -1) && revoke)
        g->ops = STORE_OP_ALL;
    else
        g->ops = arg_ops(J, -1, what);
    js_pop(J, 1);
    js_getproperty(J, idx, "object_id");
    if (!js_isundefined(J, -1) && !js_isnull(J, -1))
        g->object_id = dsl_arg_id(J, -1, what);
    js_pop(J, 1);
    if (g->object_id > 0 && strcmp(g->model, "*") == 0)
        js_typeerror(J, "%s: an object_id needs a model, not '*'", what);
    if (revoke)
        return;
    js_getproperty(J, idx, "expires_at");
    if (!js_isundefined(J, -1) && !js_isnull(J, -1)) {
        double d = dsl_arg_number(J, -1, "expires_at");
        if (d < 1 || d > 9007199254740991.0 || floor(d) != d)
            js_rangeerror(J, "%s: expires_at must be a time in unix ms", what);
        g->expires_at = (int64_t)d;
    }
    js_pop(J, 1);
}

static void acl_grant(js_State *J)
{
    char reason[DSL_CALLER_MAX + 64];
    json_t *ops_names;
    grant_args g;
    store_grant sg;
    store_db *db;
    rhai_error err;
    int64_t id = 0;
    int rc;

    dsl_call_begin(J);
    grant_args_read(J, 1, &g, 0, "acl.grant");
    ops_names = dsl_keep(J, store_ops_json(g.ops));
    db = dsl_write_begin(J);
    if ((rc = admin_check(db, "grant", "acl", &err)) == 0) {
        sg.caller = g.caller;
        sg.model = g.model;
        sg.ops = g.ops;
        sg.object_id = g.object_id;
        sg.expires_at = g.expires_at;
        sg.granted_by = dsl_caller();
        rc = store_grant_add(db, &sg, &id, &err);
    }
    if (rc == 0) {
        char *list = json_dumps(ops_names, JSON_COMPACT);
        snprintf(reason, sizeof reason, "to %s: %s", g.caller, list ? list : "?");
        free(list);
        rc = dsl_audit_write(db, "grant", g.model, g.object_id, reason, &err);
    }
    dsl_write_end(J, db, rc, &err);
    js_pushnumber(J, (double)id);
}

static void acl_revoke(js_State *J)
{
    char reason[DSL_CALLER_MAX + 64];
    grant_args g;
    store_grant sg;
    store_db *db;
    rhai_error err;
    int n = 0;
    int rc;

    dsl_call_begin(J);
    grant_args_read(J, 1, &g, 1, "acl.revoke");
    db = dsl_write_begin(J);
    if ((rc = admin_check(db, "revoke", "acl", &err)) == 0) {
        memset(&sg, 0, sizeof sg);
        sg.caller = g.caller;
        sg.model = g.model;
        sg.ops = g.ops;
        sg.object_id = g.object_id;
        rc = store_grant_revoke(db, &sg, &n, &err);
    }
    if (rc == 0) {
        snprintf(reason, sizeof reason, "from %s: %d grant(s) changed", g.caller, n);
        rc = dsl_audit_write(db, "revoke", g.model, g.object_id, reason, &err);
    }
    dsl_write_end(J, db, rc, &err);
    js_pushnumber(J, n);
}

/* acl.list() / acl.owners(): an owner-only read pushed as JSON. */
static void acl_read(js_State *J, const char *op, int (*fn)(store_db *, json_t **, rhai_error *))
{
    json_t *v = NULL;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    db = dsl_write_begin(J);
    if ((rc = admin_check(db, op, "acl", &err)) == 0 && (rc = fn(db, &v, &err)) == 0 &&
        dsl_keep_nothrow(v) != 0)
        rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    dsl_write_end(J, db, rc, &err);
    dsl_push_json(J, v);
}

static void acl_list(js_State *J)
{
    acl_read(J, "list", store_grant_list);
}

static void acl_owners(js_State *J)
{
    acl_read(J, "owners", store_owners);
}

static void acl_owner_change(js_State *J, int add)
{
    const char *what = add ? "acl.add_owner" : "acl.remove_owner";
    char caller[DSL_CALLER_MAX + 1];
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    {
        const char *c = dsl_arg_string(J, 1, what);
        if (*c == '\0' || strlen(c) > DSL_CALLER_MAX)
            js_typeerror(J, "%s: caller must be 1..%d bytes", what, DSL_CALLER_MAX);
        snprintf(caller, sizeof caller, "%s", c);
    }
    db = dsl_write_begin(J);
    rc = admin_check(db, add ? "add_owner" : "remove_owner", "acl", &err);
    if (rc == 0)
        rc = add ? store_owner_add(db, caller, &err) : store_owner_remove(db, caller, &err);
    if (rc == 0)
        rc = dsl_audit_write(db, add ? "add_owner" : "remove_owner", "acl", 0, caller, &err);
    dsl_write_end(J, db, rc, &err);
    js_pushboolean(J, 1);
}

static void acl_add_owner(js_State *J)
{
    acl_owner_change(J, 1);
}

static void acl_remove_owner(js_State *J)
{
    acl_owner_change(J, 0);
}

/* audit.query({caller, model, decision, limit}) */
static void audit_query(js_State *J)
{
    static const char *const decisions[] = { "allowed", "denied" };
    char caller[DSL_CALLER_MAX + 1];
    const char *model = NULL, *decision = NULL, *key;
    long limit = DSL_AUDIT_DEFAULT;
    int has_caller = 0;
    json_t *rows = NULL;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    if (!js_isundefined(J, 1) && !js_isnull(J, 1)) {
        if (!js_isobject(J, 1) || js_isarray(J, 1))
            js_typeerror(J, "audit.query: takes an object {caller, model, decision, limit}");
        js_pushiterator(J, 1, 1);
        while ((key = js_nextiterator(J, -1)) != NULL)
            if (strcmp(key, "caller") && strcmp(key, "model") && strcmp(key, "decision") &&
                strcmp(key, "limit"))
                js_typeerror(J, "audit.query: unknown option '%.64s'", key);
        js_pop(J, 1);
        js_getproperty(J, 1, "caller");
        if (!js_isundefined(J, -1)) {
            snprintf(caller, sizeof caller, "%s", dsl_arg_string(J, -1, "audit.query: caller"));
            has_caller = 1;
        }
        js_pop(J, 1);
        js_getproperty(J, 1, "model");
        if (!js_isundefined(J, -1)) {
            const char *s = dsl_arg_string(J, -1, "audit.query: model");
            const store_model *m = store_schema_model(&dsl_schema, s);
            /* rows of acl changes name "acl" or "*", refused audit
             * queries "audit", the counters of rate-limited denials "*",
             * refused task ids "task" */
            static const char *const special[] = { "*", "acl", "audit", "task" };
            model = m ? m->name : NULL;
            for (size_t i = 0; model == NULL && i < 4; i++)
                if (strcmp(s, special[i]) == 0)
                    model = special[i];
            if (model == NULL)
                js_typeerror(J, "audit.query: no model '%.64s'", s);
        }
        js_pop(J, 1);
        js_getproperty(J, 1, "decision");
        if (!js_isundefined(J, -1)) {
            const char *s = dsl_arg_string(J, -1, "audit.query: decision");
            for (size_t i = 0; i < 2; i++)
                if (strcmp(s, decisions[i]) == 0)
                    decision = decisions[i];
            if (decision == NULL)
                js_typeerror(J, "audit.query: decision must be 'allowed' or 'denied'");
        }
        js_pop(J, 1);
        js_getproperty(J, 1, "limit");
        if (!js_isundefined(J, -1)) {
            double d = dsl_arg_number(J, -1, "audit.query: limit");
            if (d < 1 || d > STORE_LIST_MAX || floor(d) != d)
                js_rangeerror(J, "audit.query: limit must be an integer in 1..%d",
                              STORE_LIST_MAX);
            limit = (long)d;
        }
        js_pop(J, 1);
    }
    db = dsl_write_begin(J);
    if ((rc = admin_check(db, "query", "audit", &err)) == 0 &&
        (rc = store_audit_query(db, has_caller ? caller : NULL, model, decision, limit, &rows,
                                &err)) == 0 &&
        dsl_keep_nothrow(rows) != 0)
        rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    dsl_write_end(J, db, rc, &err);
    dsl_push_json(J, rows);
}

static void def_fn(js_State *J, js_CFunction fn, const char *name, int nargs)
{
    js_newcfunction(J, fn, name, nargs);
    js_defproperty(J, -2, name, JS_READONLY | JS_DONTENUM | JS_DONTCONF);
}

void dsl_bind_admin(js_State *J)
{
    js_pushglobal(J);
    js_newobject(J);
    def_fn(J, acl_grant, "grant", 1);
    def_fn(J, acl_revoke, "revoke", 1);
    def_fn(J, acl_list, "list", 0);
    def_fn(J, acl_owners, "owners", 0);
    def_fn(J, acl_add_owner, "add_owner", 1);
    def_fn(J, acl_remove_owner, "remove_owner", 1);
    js_defproperty(J, -2, "acl", JS_READONLY | JS_DONTENUM | JS_DONTCONF);
    js_newobject(J);
    def_fn(J, audit_query, "query", 1);
    js_defproperty(J, -2, "audit", JS_READONLY | JS_DONTENUM | JS_DONTCONF);
    js_pop(J, 1);
}
