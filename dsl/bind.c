/* bind.c -- the generic JS bindings, driven by the schema tables.
 *
 * For every model of dsl_schema a global (Company) with create, get,
 * update, delete, list, count and the domain operations of its model, and
 * a builder function (new_company). Each C function finds its model or
 * field through js_currentfunctiondata, so there is no per-model code.
 *
 * Discipline (see dsl.h): arguments are checked and converted first, into
 * JSON owned by the task's scratch list (so a throw leaks nothing); store
 * work then runs with no js_* call inside one savepoint; the result is
 * pushed last. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dsl.h"

#define DSL_LIST_DEFAULT 100
#define DSL_WHAT_MAX 96

/* JSON values of the current call, freed by the next call and at the end
 * of the task (dsl__scratch_free). */
static json_t *scratch;

void dsl__scratch_free(void);
void dsl__scratch_free(void)
{
    json_decref(scratch);
    scratch = NULL;
}

/* Set while a script's arguments are being read: a getter or toString
 * of the script may run then, and must not start another DSL call, which
 * would free the scratch the outer call is filling. */
static int converting;

void dsl__converting(int on)
{
    converting = on;
}

void dsl_call_begin(js_State *J)
{
    if (converting)
        js_error(J, "DSL calls cannot nest (a getter or toString of an argument "
                 "called the DSL)");
    if (scratch == NULL && (scratch = json_array()) == NULL)
        js_error(J, "out of memory");
    json_array_clear(scratch);
}

/* Non-throwing keep: 0, or -1 (v freed) on OOM. */
static int keep(json_t *v)
{
    if (v == NULL || scratch == NULL)
        return json_decref(v), -1;
    return json_array_append_new(scratch, v);
}

int dsl_keep_nothrow(json_t *v)
{
    return keep(v);
}

json_t *dsl_keep(js_State *J, json_t *v)
{
    if (keep(v) != 0)
        js_error(J, "out of memory");
    return v;
}

const store_model *dsl_model(const char *name)
{
    const store_model *m = store_schema_model(&dsl_schema, name);

    rh_assert(m != NULL);
    return m;
}

/* ======================== store calls ======================== */

store_db *dsl_write_begin(js_State *J)
{
    store_db *db = dsl_task_db(J);
    rhai_error err;

    if (store_savepoint(db, &err) != 0)
        dsl_throw_store(J, err.msg);
    return db;
}

void dsl_write_end(js_State *J, store_db *db, int rc, rhai_error *err)
{
    char msg[RHAI_ERRMSG_MAX];

    if (rc == 0 && (rc = store_release(db, err)) == 0)
        return;
    store_rollback_to(db);
    if (rc == DSL_EDENIED)
        dsl_throw_denied(J);
    if (rc == DSL_ECONFLICT)
        dsl_throw_conflict(J);
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (rc == RHAI_EINVAL)
        js_typeerror(J, "%s", msg);
    if (rc == RHAI_ESTATE || rc == RHAI_ENOTFOUND)
        js_error(J, "%s", msg);
    dsl_throw_store(J, msg);
}

int dsl_run_checks(store_db *db, const store_model *m, json_t *old_row, json_t *row,
                   rhai_error *err)
{
    for (size_t t = 0; dsl_check_tables[t]; t++)
        for (const dsl_check *c = dsl_check_tables[t]; c->model; c++)
            if (strcmp(c->model, m->name) == 0) {
                int rc = c->fn(db, m, old_row, row, err);
                if (rc != 0)
                    return rc;
            }
    return 0;
}

int dsl_insert_checked(store_db *db, const store_model *m, json_t *values, dsl_by by,
                       json_t **row, rhai_error *err)
{
    int64_t id;
    int rc;

    *row = NULL;
    if ((rc = dsl_authorize(db, m->name, STORE_OP_CREATE, 0, err)) != 0 ||
        (by == DSL_BY_SCRIPT && (rc = dsl_guard_check(db, m, 0, NULL, values, err)) != 0) ||
        (rc = dsl_run_checks(db, m, NULL, values, err)) != 0 ||
        (rc = store_insert(db, m, values, &id, err)) != 0 ||
        (rc = dsl_audit_write(db, "create", m->name, id, NULL, err)) != 0)
        return rc;
    return store_get(db, m, id, row, err);
}

int dsl_update_checked(store_db *db, const store_model *m, int64_t id, json_t *values,
                       dsl_by by, json_t **row, rhai_error *err)
{
    json_t *old = NULL;
    json_t *merged = NULL;
    int rc;

    *row = NULL;
    if ((rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, err)) != 0 ||
        (rc = store_get(db, m, id, &old, err)) != 0)
        return rc;
    if (by == DSL_BY_SCRIPT && (rc = dsl_guard_check(db, m, id, old, values, err)) != 0) {
        json_decref(old);
        return rc;
    }
    if ((merged = json_deep_copy(old)) == NULL || json_object_update(merged, values) != 0)
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if (rc == 0)
        rc = dsl_run_checks(db, m, old, merged, err);
    if (rc == 0)
        rc = store_update(db, m, id, merged, err);
    if (rc == 0)
        rc = dsl_audit_write(db, "update", m->name, id, NULL, err);
    json_decref(old);
    json_decref(merged);
    if (rc == 0)
        rc = store_get(db, m, id, row, err);
    return rc;
}

void dsl_write_end_row(js_State *J, store_db *db, int rc, rhai_error *err, json_t *row)
{
    if (rc == 0 && keep(row) != 0)
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
    else if (rc != 0)
        json_decref(row);
    dsl_write_end(J, db, rc, err);
    dsl_push_json(J, row);
}

void dsl_do_create(js_State *J, const store_model *m, json_t *v, dsl_by by)
{
    store_db *db = dsl_write_begin(J);
    json_t *row = NULL;
    rhai_error err;
    int rc = dsl_insert_checked(db, m, v, by, &row, &err);

    dsl_write_end_row(J, db, rc, &err, row);
}

void dsl_do_update(js_State *J, const store_model *m, int64_t id, json_t *v, dsl_by by)
{
    store_db *db = dsl_write_begin(J);
    json_t *row = NULL;
    rhai_error err;
    int rc = dsl_update_checked(db, m, id, v, by, &row, &err);

    dsl_write_end_row(J, db, rc, &err, row);
}

static void what_of(char *buf, const store_model *m, const char *fn)
{
    snprintf(buf, DSL_WHAT_MAX, "%s.%s", m->js_name, fn);
}

static void m_create(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];

    what_of(what, m, "create");
    dsl_call_begin(J);
    dsl_do_create(J, m, dsl_values_from_js(J, 1, m, DSL_CREATE, what), DSL_BY_SCRIPT);
}

static void m_update(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    int64_t id;
    json_t *v;

    what_of(what, m, "update");
    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, what);
    v = dsl_values_from_js(J, 2, m, DSL_UPDATE, what);
    dsl_do_update(J, m, id, v, DSL_BY_SCRIPT);
}

static void m_get(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    json_t *row = NULL;
    store_db *db;
    rhai_error err;
    int64_t id;
    int rc;

    what_of(what, m, "get");
    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, what);
    db = dsl_write_begin(J);
    rc = dsl_get_authorized(db, m, id, &row, &err);
    dsl_write_end_row(J, db, rc, &err, row);
}

static void m_delete(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    store_db *db;
    rhai_error err;
    int64_t id;
    int rc;

    what_of(what, m, "delete");
    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, what);
    db = dsl_write_begin(J);
    rc = dsl_delete_checked(db, m, id, &err);   /* with its references (refs.c) */
    dsl_write_end(J, db, rc, &err);
    js_pushboolean(J, 1);
}

/* Options of list/count: where (into scratch), order, limit, offset. */
typedef struct list_opts {
    json_t     *where;
    char        order[64];
    long        limit;
    long        offset;
} list_opts;

static const store_field *where_field(const store_model *m, const char *name)
{
    static const store_field meta[] = {
        { "id", STORE_T_INT, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
        { "created_at", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
        { "updated_at", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
    };
    for (size_t i = 0; i < 3; i++)
        if (strcmp(meta[i].name, name) == 0)
            return &meta[i];
    return store_model_field(m, name);
}

static json_t *where_value(js_State *J, int idx, const store_field *f, const char *what)
{
    if (js_isnull(J, idx))
        return json_null();
    return dsl__scalar_from_js(J, idx, NULL, f->type, what, f->name);
}

static void list_opts_read(js_State *J, int idx, const store_model *m, list_opts *o,
                           const char *what);

static void list_opts_from_js(js_State *J, int idx, const store_model *m, list_opts *o,
                              const char *what)
{
    if (js_try(J)) {
        converting = 0;
        js_throw(J);
    }
    converting = 1;
    list_opts_read(J, idx, m, o, what);
    js_endtry(J);
    converting = 0;
}

static void list_opts_read(js_State *J, int idx, const store_model *m, list_opts *o,
                           const char *what)
{
    const char *key;

    o->where = NULL;
    o->order[0] = '\0';
    o->limit = DSL_LIST_DEFAULT;
    o->offset = 0;
    if (js_isundefined(J, idx) || js_isnull(J, idx))
        return;
    if (!js_isobject(J, idx))
        js_typeerror(J, "%s: options must be an object", what);
    js_pushiterator(J, idx, 1);
    while ((key = js_nextiterator(J, -1)) != NULL)
        if (strcmp(key, "where") && strcmp(key, "order") && strcmp(key, "limit") &&
            strcmp(key, "offset"))
            js_typeerror(J, "%s: unknown option '%.64s' (where, order, limit, offset)", what,
                         key);
    js_pop(J, 1);

    js_getproperty(J, idx, "where");
    if (!js_isundefined(J, -1)) {
        int w = dsl__absidx(J, -1);
        if (!js_isobject(J, w) || js_isarray(J, w))
            js_typeerror(J, "%s: where must be an object", what);
        o->where = dsl_keep(J, json_object());
        js_pushiterator(J, w, 1);
        while ((key = js_nextiterator(J, -1)) != NULL) {
            const store_field *f = where_field(m, key);
            char k[64];
            if (f == NULL || f->type == STORE_T_LIST)
                js_typeerror(J, "%s: where: no comparable field '%.64s'", what, key);
            snprintf(k, sizeof k, "%s", key);
            js_getproperty(J, w, k);
            if (js_isobject(J, -1) && !js_isarray(J, -1)) {
                static const char *const ops[] = { "eq", "ne", "lt", "lte", "gt", "gte" };
                int c = dsl__absidx(J, -1);
                json_t *cond = json_object();
                dsl__attach(J, o->where, k, cond);
                for (size_t i = 0; i < 6; i++) {
                    js_getproperty(J, c, ops[i]);
                    if (!js_isundefined(J, -1))
                        dsl__attach(J, cond, ops[i], where_value(J, -1, f, what));
                    js_pop(J, 1);
                }
                if (json_object_size(cond) == 0)
                    js_typeerror(J, "%s: where.%s needs one of eq, ne, lt, lte, gt, gte",
                                 what, k);
            } else {
                dsl__attach(J, o->where, k, where_value(J, -1, f, what));
            }
            js_pop(J, 1);
        }
        js_pop(J, 1);
    }
    js_pop(J, 1);

    js_getproperty(J, idx, "order");
    if (!js_isundefined(J, -1)) {
        const char *s = dsl_arg_string(J, -1, "order");
        const store_field *f = where_field(m, s[0] == '-' ? s + 1 : s);
        if (f == NULL || f->type == STORE_T_LIST)
            js_typeerror(J, "%s: order: no sortable field '%.64s'", what, s);
        snprintf(o->order, sizeof o->order, "%s", s);
    }
    js_pop(J, 1);

    js_getproperty(J, idx, "limit");
    if (!js_isundefined(J, -1)) {
        double d = dsl_arg_number(J, -1, "limit");
        if (d < 1 || d > STORE_LIST_MAX || floor(d) != d)
            js_rangeerror(J, "%s: limit must be an integer in 1..%d", what, STORE_LIST_MAX);
        o->limit = (long)d;
    }
    js_pop(J, 1);
    js_getproperty(J, idx, "offset");
    if (!js_isundefined(J, -1)) {
        double d = dsl_arg_number(J, -1, "offset");
        if (d < 0 || d > 1e15 || floor(d) != d)
            js_rangeerror(J, "%s: offset must be a non-negative integer", what);
        o->offset = (long)d;
    }
    js_pop(J, 1);
}

static void m_list(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    json_t *rows = NULL;
    list_opts o;
    store_db *db;
    rhai_error err;
    int rc;

    what_of(what, m, "list");
    dsl_call_begin(J);
    list_opts_from_js(J, 1, m, &o, what);
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_READ, 0, &err);
    if (rc == 0)
        rc = store_list(db, m, o.where, o.order[0] ? o.order : NULL, o.limit, o.offset,
                        &rows, &err);
    if (rc == 0 && keep(rows) != 0)
        rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    dsl_write_end(J, db, rc, &err);
    dsl_push_json(J, rows);
}

static void m_count(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    list_opts o;
    store_db *db;
    rhai_error err;
    int64_t n = 0;
    int rc;

    what_of(what, m, "count");
    dsl_call_begin(J);
    list_opts_from_js(J, 1, m, &o, what);
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_READ, 0, &err);
    if (rc == 0)
        rc = store_count(db, m, o.where, &n, &err);
    dsl_write_end(J, db, rc, &err);
    js_pushnumber(J, (double)n);
}

/* ======================== builders ======================== */

#define B_VALUES "__values"
#define B_ID "__id"

static void b_set(js_State *J)
{
    const store_field *f = js_currentfunctiondata(J);

    js_getproperty(J, 0, B_VALUES);
    js_copy(J, 1);
    js_setproperty(J, -2, f->name);
    js_pop(J, 1);
    js_copy(J, 0);
}

static void b_id(js_State *J)
{
    (void)dsl_arg_id(J, 1, "builder id()");
    js_copy(J, 1);
    js_setproperty(J, 0, B_ID);
    js_copy(J, 0);
}

static void b_save(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char what[DSL_WHAT_MAX];
    int64_t id = 0;
    json_t *v;

    dsl_call_begin(J);
    js_getproperty(J, 0, B_ID);
    if (!js_isundefined(J, -1))
        id = dsl_arg_id(J, -1, "builder id()");
    js_pop(J, 1);
    snprintf(what, sizeof what, "new_%s().save", m->name);
    js_getproperty(J, 0, B_VALUES);
    v = dsl_values_from_js(J, -1, m, id ? DSL_UPDATE : DSL_CREATE, what);
    if (id)
        dsl_do_update(J, m, id, v, DSL_BY_SCRIPT);
    else
        dsl_do_create(J, m, v, DSL_BY_SCRIPT);
    /* the builder now names the saved row: a second save() updates it */
    js_getproperty(J, -1, "id");
    js_setproperty(J, 0, B_ID);
}

static void m_builder(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);

    js_newobject(J);
    js_newobject(J);
    js_defproperty(J, -2, B_VALUES, JS_DONTENUM);
    for (size_t i = 0; i < m->nfields; i++) {
        js_newcfunctionx(J, b_set, m->fields[i].name, 1, (void *)&m->fields[i], NULL);
        js_defproperty(J, -2, m->fields[i].name, JS_DONTENUM);
    }
    js_newcfunctionx(J, b_id, "id", 1, (void *)m, NULL);
    js_defproperty(J, -2, "id", JS_DONTENUM);
    js_newcfunctionx(J, b_save, "save", 0, (void *)m, NULL);
    js_defproperty(J, -2, "save", JS_DONTENUM);
}

/* ======================== registration ======================== */

const dsl_op *const dsl_op_tables[] = {
    dsl_business_ops, dsl_finance_ops, dsl_content_ops, dsl_workflow_ops,
    dsl_calendar_ops, dsl_contacts_ops, dsl_circle_ops, NULL
};

const dsl_check *const dsl_check_tables[] = {
    dsl_business_checks, dsl_finance_checks, dsl_content_checks, dsl_workflow_checks,
    dsl_calendar_checks, dsl_contacts_checks, dsl_circle_checks, NULL
};


static const struct {
    const char  *name;
    js_CFunction fn;
    int          nargs;
} crud[] = {
    { "create", m_create, 1 }, { "get", m_get, 1 }, { "update", m_update, 2 },
    { "delete", m_delete, 1 }, { "list", m_list, 1 }, { "count", m_count, 1 },
};

/* Build model m's global object (CRUD functions and domain ops). */
static void model_object(js_State *J, const store_model *m)
{
    js_newobject(J);
    for (size_t k = 0; k < sizeof crud / sizeof crud[0]; k++) {
        js_newcfunctionx(J, crud[k].fn, crud[k].name, crud[k].nargs, (void *)m, NULL);
        js_defproperty(J, -2, crud[k].name, JS_READONLY | JS_DONTENUM | JS_DONTCONF);
    }
    for (size_t t = 0; dsl_op_tables[t]; t++)
        for (const dsl_op *op = dsl_op_tables[t]; op->model; op++)
            if (strcmp(op->model, m->name) == 0) {
                js_newcfunctionx(J, op->fn, op->name, op->nargs, (void *)m, NULL);
                js_defproperty(J, -2, op->name, JS_READONLY | JS_DONTENUM | JS_DONTCONF);
            }
}

/* The getter of the global `Company`: builds the object on first use and
 * keeps it in the registry, so a task pays only for the models it uses
 * (building all of them up front doubled the cost of `40 + 2`). */
static void model_getter(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    char key[64];

    snprintf(key, sizeof key, "dsl.%s", m->name);
    js_getregistry(J, key);
    if (js_isobject(J, -1))
        return;
    js_pop(J, 1);
    model_object(J, m);
    js_copy(J, -1);
    js_setregistry(J, key);
}

void dsl_bind(js_State *J)
{
    js_pushglobal(J);
    for (size_t i = 0; i < dsl_schema.nmodels; i++) {
        const store_model *m = &dsl_schema.models[i];
        char builder[64];

        snprintf(builder, sizeof builder, "new_%s", m->name);
        js_newcfunctionx(J, model_getter, m->js_name, 0, (void *)m, NULL);
        js_pushundefined(J);
        js_defaccessor(J, -3, m->js_name, JS_DONTENUM | JS_DONTCONF);
        js_newcfunctionx(J, m_builder, builder, 0, (void *)m, NULL);
        js_defproperty(J, -2, builder, JS_READONLY | JS_DONTENUM | JS_DONTCONF);
    }
    js_pop(J, 1);
    dsl_bind_admin(J);
    dsl_bind_events(J);
}
