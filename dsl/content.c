/* content.c -- domain content: images, PDFs, markdown, books, slides and
 * collections of them.
 *
 * Invariant: a collection's items point at existing content, each once. */
#include <string.h>

#include "dsl.h"

static int collection_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                            rhai_error *err)
{
    json_t *items = json_object_get(row, "items");
    json_t *v;
    size_t i;

    (void)m;
    (void)old;
    json_array_foreach(items, i, v) {
        json_t *r = NULL;
        int rc;
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(items, j), v))
                return rh_error_set(err, RHAI_ESTATE, "%s %lld is in the collection twice",
                                    dsl_str(v, "kind"), (long long)dsl_int(v, "id"));
        rc = dsl_get_authorized(db, dsl_model(dsl_str(v, "kind")), dsl_int(v, "id"), &r, err);
        json_decref(r);
        if (rc == RHAI_ENOTFOUND)
            return rh_error_set(err, RHAI_ESTATE, "collection item: %s %lld does not exist",
                                dsl_str(v, "kind"), (long long)dsl_int(v, "id"));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Collection.add(id, kind, item) -> Collection */
static void collection_add(js_State *J)
{
    static const char *const kinds[] = { "image", "pdf", "markdown", "book", "slides", NULL };
    const store_model *m = js_currentfunctiondata(J);
    json_t *c = NULL, *row = NULL, *upd = NULL;
    const char *kind;
    int64_t id, item;
    store_db *db;
    rhai_error err;
    int k;
    int rc;

    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, "Collection.add: id");
    kind = dsl_arg_string(J, 2, "Collection.add: kind");
    for (k = 0; kinds[k]; k++)
        if (strcmp(kinds[k], kind) == 0)
            break;
    if (kinds[k] == NULL)
        js_typeerror(J, "Collection.add: kind must be image, pdf, markdown, book or slides");
    item = dsl_arg_id(J, 3, "Collection.add: item");
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, &err);
    if (rc == 0)
        rc = store_get(db, m, id, &c, &err);
    if (rc == 0) {
        json_t *items = json_object_get(c, "items");
        json_t *ni = json_is_array(items) ? json_copy(items) : json_array();
        if (ni == NULL ||
            json_array_append_new(ni, json_pack("{ss sI}", "kind", kinds[k], "id",
                                                (json_int_t)item)) ||
            (upd = json_pack("{so}", "items", ni)) == NULL)
            rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
        else
            rc = dsl_update_checked(db, m, id, upd, DSL_BY_OP, &row, &err);
    }
    json_decref(c);
    json_decref(upd);
    dsl_write_end_row(J, db, rc, &err, row);
}

const dsl_op dsl_content_ops[] = {
    { "collection", "add", collection_add, 3 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_content_checks[] = {
    { "collection", collection_check },
    { NULL, NULL }
};
