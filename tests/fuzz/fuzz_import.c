/* fuzz_import.c -- `rhaictl context import` over an arbitrary file: the
 * checks of move.c (format, order, tables, columns, values against the
 * schema, references) and the sqlite backend's import_row behind them.
 *
 * Input: the file's bytes, cut into lines at '\n' as rhaictl reads them,
 * imported as context "f" into a sqlite store in a temp dir (made once)
 * with a small schema of every field type, enum, min/max, list limit and
 * struct. Invariants: the import returns 0 or a negative code, never
 * crashes; a failed import leaves no context; a successful one exports
 * again, that export imports as "g", and both are dropped after. */
#include <unistd.h>
#include <jansson.h>

#include "fuzz.h"
#include "store/store.h"

static const char *const kinds[] = { "a", "b", NULL };
static const store_field part_fields[] = {
    { "label", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "item", STORE_T_REF, 0, "item", 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_field item_fields[] = {
    { "name", STORE_T_STRING, 0, NULL, STORE_F_MAX, 0, 20, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "kind", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, kinds, NULL, NULL, 0, NULL, "" },
    { "qty", STORE_T_INT, 0, NULL, STORE_F_MIN | STORE_F_MAX, 0, 9, 0, NULL, NULL, NULL, 0,
      NULL, "" },
    { "price", STORE_T_NUMBER, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "ok", STORE_T_BOOL, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "due", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "tags", STORE_T_LIST, STORE_T_STRING, NULL, 0, 0, 0, 3, NULL, NULL, NULL, 0, NULL, "" },
    { "parts", STORE_T_LIST, 0, NULL, 0, 0, 0, 0, NULL, NULL, part_fields, 2, "Part", "" },
    { "up", STORE_T_REF, 0, "item", 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item_fields, 9 },
};
static const store_schema schema = { models, 1, "fuzz-import" };

static store *st;

typedef struct fz_lines {
    const char *p;          /* the rest of the input */
    size_t      n;
    json_t     *exported;   /* export of "f": an array of lines, else NULL */
    size_t      at;
} fz_lines;

static int next_input(void *u, json_t **line, rhai_error *err)
{
    fz_lines *l = u;
    const char *nl;
    size_t len;

    *line = NULL;
    if (l->n == 0)
        return 0;
    nl = memchr(l->p, '\n', l->n);
    len = nl ? (size_t)(nl - l->p) : l->n;
    *line = json_loadb(l->p, len, JSON_REJECT_DUPLICATES, NULL);
    l->p += nl ? len + 1 : len;
    l->n -= nl ? len + 1 : len;
    return *line ? 0 : rh_error_set(err, RHAI_EINVAL, "not JSON");
}

static int collect(void *u, json_t *line, rhai_error *err)
{
    (void)err;
    return json_array_append(u, line) == 0 ? 0 : RHAI_ENOMEM;
}

static int next_export(void *u, json_t **line, rhai_error *err)
{
    fz_lines *l = u;

    (void)err;
    *line = l->at < json_array_size(l->exported) ? json_incref(json_array_get(l->exported,
                                                                               l->at++))
                                                 : NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_lines l = { (const char *)data, size, NULL, 0 };
    rhai_error err = { 0, "" };
    store_db *db;
    int rc;

    if (st == NULL) {
        static char dir[64] = "/tmp/rhai-fuzz-import-XXXXXX";
        char url[96];
        FZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(url, sizeof url, "sqlite://%s", dir);
        FZ_CHECK(store_new(url, &schema, &st, &err) == 0);
    }
    rc = store_context_import(st, "f", next_input, &l, NULL, &err);
    FZ_CHECK(rc <= 0);
    if (rc != 0) {
        FZ_CHECK(!store_context_exists(st, "f"));
        return 0;
    }
    FZ_CHECK(store_open(st, "f", &db, &err) == 0);
    FZ_CHECK((l.exported = json_array()) != NULL);
    FZ_CHECK(store_context_export(db, collect, l.exported, &err) == 0);
    /* what was accepted once is accepted again */
    rc = store_context_import(st, "g", next_export, &l, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "fuzz_import: the export did not import: %s\n", err.msg);
    FZ_CHECK(rc == 0);
    json_decref(l.exported);
    FZ_CHECK(store_context_drop(st, "f", &err) == 0);
    FZ_CHECK(store_context_drop(st, "g", &err) == 0);
    return 0;
}
