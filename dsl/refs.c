/* refs.c -- Model.delete and the references between models.
 *
 * Every ref field of a schema declares what deleting the row it points to
 * does (schema key "on_delete", generated into dsl_refs): "restrict"
 * refuses the delete with a Conflict while a referencing row exists;
 * "cascade" deletes the referencing rows too, in the same call and so the
 * same savepoint: all of it happens, or none. Each cascaded row is a
 * delete of its own: authorized for the caller (delete on that model and
 * object, so a grant on companies alone does not reach their
 * shareholders: PermissionDenied, nothing deleted) and audited, with a
 * reason naming the row it went with. Without this a delete left rows
 * pointing at nothing, and their next update failed its ref check.
 *
 * The rows to delete are a queue (no recursion, so a deep or cyclic chain
 * of cascades costs no C stack), at most DSL_CASCADE_MAX per call. A row
 * reached twice is deleted once. A restrict is checked when its row is
 * reached, against the rows existing then; a row referencing itself does
 * not hold up its own delete. */
#include <stdio.h>
#include <string.h>

#include "dsl.h"

#ifndef DSL_CASCADE_MAX
#define DSL_CASCADE_MAX 10000       /* rows one delete may remove in all */
#endif

/* The last Conflict of this task, for the error thrown next. */
static struct {
    char        msg[RHAI_ERRMSG_MAX];
    const char *model;              /* static: schema names */
    int64_t     id;
    char        by[128];            /* "product.company", "sale.items[].product" */
} C;

static void ref_name(const dsl_ref_decl *d, char *buf, size_t n)
{
    if (d->item)
        snprintf(buf, n, "%s.%s[].%s", d->model, d->field, d->item);
    else
        snprintf(buf, n, "%s.%s", d->model, d->field);
}

/* Record the Conflict: row (m, id) is still referenced through d (or,
 * d NULL, the cascade grew past DSL_CASCADE_MAX). 'root' and 'root_id'
 * name the row the script deleted when it is another one. */
static int conflict(const store_model *m, int64_t id, const dsl_ref_decl *d,
                    const store_model *root, int64_t root_id, rhai_error *err)
{
    char via[160] = "";
    rhai_error e;

    if (root != m || root_id != id)
        snprintf(via, sizeof via, " (reached by the cascade of %s %lld)", root->name,
                 (long long)root_id);
    C.model = m->name;
    C.id = id;
    if (d == NULL) {
        C.by[0] = '\0';
        rh_error_set(&e, DSL_ECONFLICT, "cannot delete %s %lld: it would cascade to more "
                     "than %d rows; delete them in parts first", root->name,
                     (long long)root_id, DSL_CASCADE_MAX);
    } else {
        ref_name(d, C.by, sizeof C.by);
        rh_error_set(&e, DSL_ECONFLICT, "cannot delete %s %lld%s: %s rows still reference "
                     "it (%s, on_delete restrict); delete or change them first", m->name,
                     (long long)id, via, d->model, C.by);
    }
    memcpy(C.msg, e.msg, sizeof C.msg);
    return rh_error_set(err, DSL_ECONFLICT, "%s", e.msg);
}

/* Append [model index, id, ref index (-1: the script's row), referenced
 * id] to the queue. 0 or RHAI_ENOMEM. */
static int enqueue(json_t *queue, const store_model *m, int64_t id, long via, int64_t from,
                   rhai_error *err)
{
    json_t *e = json_pack("[I, I, I, I]", (json_int_t)(m - dsl_schema.models),
                          (json_int_t)id, (json_int_t)via, (json_int_t)from);

    if (e == NULL || json_array_append_new(queue, e) != 0)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    return 0;
}

/* The rows referencing (m, id): a Conflict for a restrict, queued for a
 * cascade. */
static int referrers(store_db *db, const store_model *m, int64_t id, json_t *queue,
                     const store_model *root, int64_t root_id, rhai_error *err)
{
    for (long r = 0; dsl_refs[r].model; r++) {
        const dsl_ref_decl *d = &dsl_refs[r];
        const store_model *from;
        json_t *ids = NULL, *v;
        size_t k;
        int rc = 0;

        if (strcmp(d->target, m->name) != 0)
            continue;
        from = dsl_model(d->model);
        /* restrict: 2 rows tell one other than a self-reference apart */
        if ((rc = store_ref_rows(db, from, d->field, d->item, id,
                                 d->on_delete == DSL_ON_DELETE_RESTRICT ? 2
                                                                        : DSL_CASCADE_MAX + 1,
                                 &ids, err)) != 0)
            return rc;
        json_array_foreach(ids, k, v) {
            int64_t rid = json_integer_value(v);
            if (from == m && rid == id)
                continue;                   /* a row referencing itself */
            if (d->on_delete == DSL_ON_DELETE_RESTRICT)
                rc = conflict(m, id, d, root, root_id, err);
            else if (json_array_size(queue) >= DSL_CASCADE_MAX)
                rc = conflict(m, id, NULL, root, root_id, err);
            else
                rc = enqueue(queue, from, rid, r, id, err);
            if (rc != 0)
                break;
        }
        json_decref(ids);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* 1 when row (m, id) exists, 0 when not, <0 an error. */
static int row_exists(store_db *db, const store_model *m, int64_t id, rhai_error *err)
{
    json_t *row = NULL;
    int rc = store_get(db, m, id, &row, err);

    json_decref(row);
    if (rc == RHAI_ENOTFOUND)
        return 0;
    return rc == 0 ? 1 : rc;
}

int dsl_delete_checked(store_db *db, const store_model *m, int64_t id, rhai_error *err)
{
    json_t *queue = json_array();
    int rc = 0;

    if (queue == NULL || enqueue(queue, m, id, -1, 0, err) != 0) {
        json_decref(queue);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(queue); i++) {
        json_t *e = json_array_get(queue, i);
        const store_model *mm = &dsl_schema.models[json_integer_value(json_array_get(e, 0))];
        int64_t rid = json_integer_value(json_array_get(e, 1));
        long via = (long)json_integer_value(json_array_get(e, 2));
        char reason[256];

        if (via < 0) {
            /* the script's row: authorized before anything about it is read,
             * so an ungranted caller learns nothing (authz.c) */
            if ((rc = dsl_authorize(db, mm->name, STORE_OP_DELETE, rid, err)) != 0 ||
                (rc = row_exists(db, mm, rid, err)) < 0)
                break;
            if (rc == 0) {
                rc = rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", mm->name,
                                  (long long)rid);
                break;
            }
        } else {
            /* a cascaded row: reached twice, it is gone the second time */
            if ((rc = row_exists(db, mm, rid, err)) <= 0) {
                if (rc == 0)
                    continue;
                break;
            }
            if ((rc = dsl_authorize(db, mm->name, STORE_OP_DELETE, rid, err)) != 0)
                break;
        }
        if ((rc = referrers(db, mm, rid, queue, m, id, err)) != 0 ||
            (rc = store_delete(db, mm, rid, err)) != 0)
            break;
        if (via >= 0) {
            char by[128];
            ref_name(&dsl_refs[via], by, sizeof by);
            snprintf(reason, sizeof reason, "cascade: %s %lld was deleted (%s, on_delete "
                     "cascade)", dsl_refs[via].target,
                     (long long)json_integer_value(json_array_get(e, 3)), by);
        }
        rc = dsl_audit_write(db, "delete", mm->name, rid, via >= 0 ? reason : NULL, err);
    }
    json_decref(queue);
    return rc;
}

void dsl_throw_conflict(js_State *J)
{
    js_newerror(J, C.msg);
    js_pushliteral(J, "Conflict");
    js_setproperty(J, -2, "name");
    js_pushliteral(J, C.model ? C.model : "");
    js_setproperty(J, -2, "model");
    js_pushnumber(J, (double)C.id);
    js_setproperty(J, -2, "object_id");
    if (C.by[0])
        js_pushstring(J, C.by);
    else
        js_pushnull(J);
    js_setproperty(J, -2, "referenced_by");
    js_throw(J);
}
