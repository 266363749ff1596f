/* move.c -- moving a context between stores: export and import.
 *
 * The front of `rhaictl context export|import` (store.h, moving
 * contexts): the format, its order and every check on what a file holds
 * live here, once for both backends; a backend only walks its rows out
 * (export_rows) and writes one checked, canonical row back (import_row).
 *
 * An import file is outside input, possibly hostile: it must not plant in
 * a context anything the DSL or the acl calls would have refused. So each
 * row is checked against the compiled schema before a backend sees it:
 * only known tables, models and fields; every value of its field's type
 * (strings, safe integers, finite numbers, booleans, ids >= 1, arrays of
 * at most maxitems elements of the element type, struct elements with
 * only their struct's fields), enum members, min/max and string lengths;
 * every reference to a row that the file itself holds; owners a caller
 * that may own (store__owner_check); grants with ops in 1..15, a model
 * name or '*' and no object on '*'; audit decisions allowed|denied;
 * ledger digests of 64 hex digits. Null is accepted for every model field,
 * required or not: rows written before a field was added hold null there,
 * and the DSL reads them so. The backend binds values, never builds SQL
 * from them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MOVE_SAFE_INT 9007199254740991LL     /* 2^53 - 1: a JS safe integer */

static const char *const move_tables[] = { STORE_TABLE_OWNERS, STORE_TABLE_GRANTS,
                                           STORE_TABLE_AUDIT, STORE_TABLE_LEDGER };
#define MOVE_NTABLES (sizeof move_tables / sizeof move_tables[0])

/* ======================== export ======================== */

typedef struct move_walk {
    int       (*fn)(void *u, json_t *line, rhai_error *err);
    void       *u;
    const char *table;
    int64_t     rows;
} move_walk;

/* One row of the backend's walk (borrowed) as its line. */
static int export_row(void *u, json_t *row, rhai_error *err)
{
    move_walk *w = u;
    json_t *line = json_pack("{s:s, s:O}", "table", w->table, "row", row);
    int rc;

    if (line == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rc = w->fn(w->u, line, err);
    json_decref(line);
    if (rc == 0)
        w->rows++;
    return rc;
}

/* Pass 'line' (stolen) to the walk's fn. */
static int export_line(move_walk *w, json_t *line, rhai_error *err)
{
    int rc;

    if (line == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rc = w->fn(w->u, line, err);
    json_decref(line);
    return rc;
}

int store_context_export(store_db *db, int (*fn)(void *u, json_t *line, rhai_error *err),
                         void *u, rhai_error *err)
{
    const store_schema *schema = db->st->schema;
    move_walk w = { fn, u, NULL, 0 };
    int rc;

    if (store_in_tx(db))
        return rh_error_set(err, RHAI_ESTATE, "%s: export needs a context outside a "
                            "transaction", db->context);
    /* One transaction around the whole walk: every table as of one moment,
     * so the ledger, the audit log and the rows they speak of agree. It
     * only reads: rolled back at the end. */
    if ((rc = store_begin(db, err)) != 0)
        return rc;
    rc = export_line(&w, json_pack("{s:s, s:s, s:s, s:s, s:I}", "format", STORE_EXPORT_FORMAT,
                                   "context", db->context, "backend", db->be->name,
                                   "schema_hash", schema->hash ? schema->hash : "",
                                   "exported_at", (json_int_t)rh_now_ms()), err);
    for (size_t i = 0; rc == 0 && i < MOVE_NTABLES; i++) {
        w.table = move_tables[i];
        rc = db->be->export_rows(db, w.table, export_row, &w, err);
    }
    for (size_t i = 0; rc == 0 && i < schema->nmodels; i++) {
        w.table = schema->models[i].name;
        rc = db->be->export_rows(db, w.table, export_row, &w, err);
    }
    if (rc == 0)
        rc = export_line(&w, json_pack("{s:b, s:I}", "end", 1, "rows", (json_int_t)w.rows),
                         err);
    store_rollback(db);
    return rc;
}

/* ======================== checks of one row ======================== */

/* Value kinds of the store's own tables' columns. */
typedef enum move_kind {
    K_STR,          /* a string */
    K_STR_NULL,     /* a string or null */
    K_TIME,         /* an integer in 0..2^53-1 */
    K_ID,           /* an integer in 1..2^53-1 */
    K_ID_NULL,      /* null, or an integer in 1..2^53-1; 0 counts as null */
    K_INT           /* any integer (checked by the table) */
} move_kind;

typedef struct move_col {
    const char *name;
    move_kind   kind;
} move_col;

static const move_col cols_owners[] = {
    { "caller", K_STR }, { "added_at", K_TIME }, { NULL, K_STR }
};
static const move_col cols_grants[] = {
    { "id", K_ID }, { "caller", K_STR }, { "model", K_STR }, { "ops", K_INT },
    { "object_id", K_ID_NULL }, { "expires_at", K_ID_NULL }, { "granted_by", K_STR_NULL },
    { "created_at", K_TIME }, { NULL, K_STR }
};
static const move_col cols_audit[] = {
    { "id", K_ID }, { "at", K_TIME }, { "task_id", K_STR_NULL }, { "caller", K_STR },
    { "op", K_STR }, { "model", K_STR }, { "object_id", K_ID_NULL }, { "decision", K_STR },
    { "reason", K_STR_NULL }, { NULL, K_STR }
};
static const move_col cols_ledger[] = {
    { "task_id", K_STR }, { "result", K_STR }, { "finished_at", K_TIME },
    { "caller_id", K_STR_NULL }, { "context_id", K_STR_NULL }, { "worker_id", K_STR_NULL },
    { "digest", K_STR_NULL }, { NULL, K_STR }
};
static const move_col *const move_cols[] = { cols_owners, cols_grants, cols_audit,
                                             cols_ledger };

/* 1 when v is an integer in [lo, MOVE_SAFE_INT]. */
static int int_in(const json_t *v, long long lo)
{
    return json_is_integer(v) && json_integer_value(v) >= lo &&
           json_integer_value(v) <= MOVE_SAFE_INT;
}

/* Every key of 'row' is one of 'cols'; the canonical row (new, keys in
 * their order, absent ones null) into *out. */
static int check_cols(const char *table, const move_col *cols, json_t *row, json_t **out,
                      rhai_error *err)
{
    const char *key;
    json_t *v, *o;

    *out = NULL;
    json_object_foreach(row, key, v) {
        size_t i;
        for (i = 0; cols[i].name && strcmp(cols[i].name, key) != 0; i++)
            ;
        if (cols[i].name == NULL)
            return rh_error_set(err, RHAI_EINVAL, "%s: unknown column '%.64s'", table, key);
    }
    if ((o = json_object()) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (size_t i = 0; cols[i].name; i++) {
        const char *n = cols[i].name;
        int ok;
        v = json_object_get(row, n);
        switch (cols[i].kind) {
        case K_STR:
            ok = json_is_string(v);
            break;
        case K_STR_NULL:
            ok = v == NULL || json_is_null(v) || json_is_string(v);
            break;
        case K_TIME:
            ok = int_in(v, 0);
            break;
        case K_ID:
            ok = int_in(v, 1);
            break;
        case K_ID_NULL:
            if (json_is_integer(v) && json_integer_value(v) == 0)
                v = NULL;
            ok = v == NULL || json_is_null(v) || int_in(v, 1);
            break;
        default:
            ok = json_is_integer(v);
            break;
        }
        if (!ok) {
            json_decref(o);
            return rh_error_set(err, RHAI_EINVAL, "%s: column '%s' %s", table, n,
                                cols[i].kind == K_STR ? "must be a string"
                                : cols[i].kind == K_STR_NULL ? "must be a string or null"
                                : cols[i].kind == K_TIME ? "must be an integer >= 0"
                                : cols[i].kind == K_INT ? "must be an integer"
                                : "must be an id (an integer >= 1)");
        }
        if (json_object_set_new(o, n, v ? json_incref(v) : json_null()) != 0) {
            json_decref(o);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    }
    *out = o;
    return 0;
}

/* 1 when 's' can be a model name in a grant: [a-z][a-z0-9_]{0,63} (a
 * model of another schema version may be named), or "*". */
static int grant_model_ok(const char *s)
{
    size_t n = strlen(s);

    if (strcmp(s, "*") == 0)
        return 1;
    if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Checks of a row of the store's own table 'ti' beyond its columns' kinds,
 * on the canonical row 'o'. 'ctx' is the context imported into. */
static int check_own(size_t ti, json_t *o, const char *ctx, rhai_error *err)
{
    unsigned char d[STORE_DIGEST_LEN];
    const char *s;
    int rc;

    switch (ti) {
    case 0:                                             /* owners */
        if ((rc = store__owner_check(json_string_value(json_object_get(o, "caller")),
                                     err)) != 0)
            return rc;
        break;
    case 1: {                                           /* grants */
        json_int_t ops = json_integer_value(json_object_get(o, "ops"));
        s = json_string_value(json_object_get(o, "model"));
        if (*json_string_value(json_object_get(o, "caller")) == '\0')
            return rh_error_set(err, RHAI_EINVAL, "grant: empty caller");
        if (!grant_model_ok(s))
            return rh_error_set(err, RHAI_EINVAL, "grant: '%.64s' is not a model name", s);
        if (ops < 1 || ops > STORE_OP_ALL)
            return rh_error_set(err, RHAI_EINVAL, "grant: ops %lld is not a set of "
                                "read, create, update, delete (1..%d)", (long long)ops,
                                STORE_OP_ALL);
        if (strcmp(s, "*") == 0 && !json_is_null(json_object_get(o, "object_id")))
            return rh_error_set(err, RHAI_EINVAL, "grant: an object id on model '*' "
                                "(object ids are per model)");
        break;
    }
    case 2:                                             /* audit */
        s = json_string_value(json_object_get(o, "decision"));
        if (strcmp(s, "allowed") != 0 && strcmp(s, "denied") != 0)
            return rh_error_set(err, RHAI_EINVAL, "audit: decision '%.32s' is neither "
                                "allowed nor denied", s);
        break;
    default:                                            /* ledger */
        if (*json_string_value(json_object_get(o, "task_id")) == '\0')
            return rh_error_set(err, RHAI_EINVAL, "ledger: empty task_id");
        s = json_string_value(json_object_get(o, "digest"));
        if (s && (strlen(s) != 2 * STORE_DIGEST_LEN || store__digest_parse(s, d) != 0 ||
                  strspn(s, "0123456789abcdef") != 2 * STORE_DIGEST_LEN))
            return rh_error_set(err, RHAI_EINVAL, "ledger: digest is not %d lowercase hex "
                                "digits", 2 * STORE_DIGEST_LEN);
        /* A row bound to a context answers that context only: bound to
         * the one it lands in, so a redelivery of its task is answered
         * there, as the postgres layout, keyed by context, does anyway. A
         * row of before the binding (null) stays unbound. */
        if (json_is_string(json_object_get(o, "context_id")) &&
            json_object_set_new(o, "context_id", json_string(ctx)) != 0)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        break;
    }
    return 0;
}

/* A reference to check once every row is in: row 'id' of model 'model'. */
typedef struct move_ref {
    size_t  model;          /* index in the schema */
    int64_t id;
    long    line;
} move_ref;

typedef struct move_import {
    store              *s;
    const store_schema *schema;
    const char         *ctx;
    store_db           *db;
    int                 created;    /* the context exists: drop it on failure */
    long                line;       /* of the input, 1-based */
    int64_t             rows;
    size_t              rank;       /* of the last row's table */
    move_ref           *refs;
    size_t              nrefs, caprefs;
} move_import;

static int ref_add(move_import *im, const char *model, int64_t id, rhai_error *err)
{
    const store_model *m = store_schema_model(im->schema, model);

    if (m == NULL)          /* the schema's own refs name its models */
        return rh_error_set(err, RHAI_EINVAL, "reference to unknown model '%.64s'", model);
    if (im->nrefs == im->caprefs) {
        size_t cap = im->caprefs ? im->caprefs * 2 : 64;
        move_ref *n = rh_realloc(im->refs, cap * sizeof *n);
        if (n == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        im->refs = n;
        im->caprefs = cap;
    }
    im->refs[im->nrefs].model = (size_t)(m - im->schema->models);
    im->refs[im->nrefs].id = id;
    im->refs[im->nrefs].line = im->line;
    im->nrefs++;
    return 0;
}

/* A scalar 'v' of type 't' for 'name'; f's rules (enum, min, max) when f
 * is not NULL (list elements of a scalar type have none, as in the DSL).
 * *out: the value as the store keeps it (new). */
static int check_scalar(move_import *im, const store_field *f, store_type t, const char *ref,
                        json_t *v, const char *name, json_t **out, rhai_error *err)
{
    double d;

    *out = NULL;
    switch (t) {
    case STORE_T_STRING: {
        const char *s = json_string_value(v);
        if (!json_is_string(v))
            return rh_error_set(err, RHAI_EINVAL, "field '%s' must be a string", name);
        if (f && (f->flags & STORE_F_MAX) && (double)json_string_length(v) > f->max)
            return rh_error_set(err, RHAI_EINVAL, "field '%s' is longer than %.0f bytes",
                                name, f->max);
        if (f && f->enums) {
            const char *const *e;
            for (e = f->enums; *e && strcmp(*e, s) != 0; e++)
                ;
            if (*e == NULL)
                return rh_error_set(err, RHAI_EINVAL, "field '%s' must be one of its "
                                    "allowed values, not '%.40s'", name, s);
        }
        *out = json_incref(v);
        return 0;
    }
    case STORE_T_BOOL:
        if (!json_is_boolean(v))
            return rh_error_set(err, RHAI_EINVAL, "field '%s' must be a boolean", name);
        *out = json_incref(v);
        return 0;
    case STORE_T_NUMBER:
        if (!json_is_number(v) || !isfinite(d = json_number_value(v)))
            return rh_error_set(err, RHAI_EINVAL, "field '%s' must be a finite number", name);
        break;
    case STORE_T_INT:
    case STORE_T_DATE:
    case STORE_T_REF:
        if (!json_is_integer(v) || json_integer_value(v) > MOVE_SAFE_INT ||
            json_integer_value(v) < -MOVE_SAFE_INT)
            return rh_error_set(err, RHAI_EINVAL, "field '%s' must be an integer", name);
        d = (double)json_integer_value(v);
        if (t == STORE_T_REF && d < 1)
            return rh_error_set(err, RHAI_EINVAL, "field '%s' must be an id (>= 1)", name);
        break;
    default:
        return rh_error_set(err, RHAI_EINVAL, "field '%s' has no scalar type", name);
    }
    if (f && (f->flags & STORE_F_MIN) && d < f->min)
        return rh_error_set(err, RHAI_EINVAL, "field '%s' must be at least %g", name, f->min);
    if (f && (f->flags & STORE_F_MAX) && d > f->max)
        return rh_error_set(err, RHAI_EINVAL, "field '%s' must be at most %g", name, f->max);
    if (t == STORE_T_REF) {
        int rc = ref_add(im, ref, (int64_t)json_integer_value(v), err);
        if (rc != 0)
            return rc;
    }
    *out = t == STORE_T_NUMBER ? json_real(d) : json_incref(v);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

static int check_fields(move_import *im, const store_field *fields, size_t n, json_t *obj,
                        const char *owner, json_t *dest, rhai_error *err);

/* The value of field f (null allowed) into *out (new). */
static int check_field(move_import *im, const store_field *f, json_t *v, const char *owner,
                       json_t **out, rhai_error *err)
{
    char name[160];
    json_t *arr;
    size_t i;
    json_t *e;
    int rc;

    *out = NULL;
    snprintf(name, sizeof name, "%s%s%s", owner, *owner ? "." : "", f->name);
    if (v == NULL || json_is_null(v)) {
        *out = json_null();
        return 0;
    }
    if (f->type != STORE_T_LIST)
        return check_scalar(im, f, f->type, f->ref, v, name, out, err);
    if (!json_is_array(v))
        return rh_error_set(err, RHAI_EINVAL, "field '%s' must be an array", name);
    if (f->maxitems > 0 && json_array_size(v) > (size_t)f->maxitems)
        return rh_error_set(err, RHAI_EINVAL, "field '%s' has %zu items, more than %ld",
                            name, json_array_size(v), f->maxitems);
    if ((arr = json_array()) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    json_array_foreach(v, i, e) {
        char iname[180];
        json_t *c = NULL;
        snprintf(iname, sizeof iname, "%.150s[%zu]", name, i);
        if (f->of == 0) {
            if (!json_is_object(e)) {
                rc = rh_error_set(err, RHAI_EINVAL, "field '%s' must be an object (%s)",
                                  iname, f->item_name ? f->item_name : "struct");
            } else if ((c = json_object()) == NULL) {
                rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
            } else {
                rc = check_fields(im, f->item, f->nitem, e, iname, c, err);
            }
        } else {
            rc = check_scalar(im, NULL, f->of, f->ref, e, iname, &c, err);
        }
        if (rc == 0 && json_array_append_new(arr, c) != 0)
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        else if (rc != 0)
            json_decref(c);
        if (rc != 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

/* The keys of 'obj' are fields of 'fields' only; each checked into dest.
 * Absent fields stay absent in a struct element (as the DSL stored it)
 * and come out null in a model row (dest has them all, via the caller). */
static int check_fields(move_import *im, const store_field *fields, size_t n, json_t *obj,
                        const char *owner, json_t *dest, rhai_error *err)
{
    const char *key;
    json_t *v;
    int rc;

    json_object_foreach(obj, key, v) {
        size_t i;
        json_t *c;
        for (i = 0; i < n && strcmp(fields[i].name, key) != 0; i++)
            ;
        if (i == n)
            return rh_error_set(err, RHAI_EINVAL, "unknown field '%s%s%.64s'", owner,
                                *owner ? "." : "", key);
        if ((rc = check_field(im, &fields[i], v, owner, &c, err)) != 0)
            return rc;
        if (json_object_set_new(dest, key, c) != 0)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    return 0;
}

/* A model row in the store_get form: {id, created_at, updated_at,
 * fields...} into *out (new, every field present, in schema order). */
static int check_model_row(move_import *im, const store_model *m, json_t *row, json_t **out,
                           rhai_error *err)
{
    static const char *const heads[] = { "id", "created_at", "updated_at" };
    json_t *o, *vals;
    const char *key;
    json_t *v;
    int rc;

    *out = NULL;
    for (int i = 0; i < 3; i++)
        if (!int_in(json_object_get(row, heads[i]), i == 0 ? 1 : 0))
            return rh_error_set(err, RHAI_EINVAL, "%s: '%s' must be %s", m->name, heads[i],
                                i == 0 ? "an id (an integer >= 1)" : "an integer >= 0");
    if ((vals = json_object()) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    /* the fields alone, for check_fields */
    json_object_foreach(row, key, v) {
        if (strcmp(key, "id") == 0 || strcmp(key, "created_at") == 0 ||
            strcmp(key, "updated_at") == 0)
            continue;
        if (json_object_set(vals, key, v) != 0) {
            json_decref(vals);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    }
    if ((o = json_object()) == NULL) {
        json_decref(vals);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    rc = json_object_set(o, "id", json_object_get(row, "id")) ||
         json_object_set(o, "created_at", json_object_get(row, "created_at")) ||
         json_object_set(o, "updated_at", json_object_get(row, "updated_at"))
             ? rh_error_set(err, RHAI_ENOMEM, "out of memory") : 0;
    if (rc == 0) {
        json_t *checked = json_object();
        rc = checked ? check_fields(im, m->fields, m->nfields, vals, "", checked, err)
                     : rh_error_set(err, RHAI_ENOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
            json_t *c = json_object_get(checked, m->fields[i].name);
            if (json_object_set_new(o, m->fields[i].name, c ? json_incref(c) : json_null()))
                rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
        json_decref(checked);
    }
    json_decref(vals);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ======================== import ======================== */

/* The rank of 'table' in the export order: the store's tables, then the
 * models in schema order. (size_t)-1 when unknown. */
static size_t table_rank(const store_schema *schema, const char *table)
{
    for (size_t i = 0; i < MOVE_NTABLES; i++)
        if (strcmp(move_tables[i], table) == 0)
            return i;
    for (size_t i = 0; i < schema->nmodels; i++)
        if (strcmp(schema->models[i].name, table) == 0)
            return MOVE_NTABLES + i;
    return (size_t)-1;
}

static const char *rank_name(const store_schema *schema, size_t rank)
{
    return rank < MOVE_NTABLES ? move_tables[rank] : schema->models[rank - MOVE_NTABLES].name;
}

/* 'err' (set by a callee) prefixed with the line it is about. */
static int at_line(const move_import *im, int rc, rhai_error *err)
{
    char msg[sizeof err->msg];

    if (err == NULL)
        return rc;
    snprintf(msg, sizeof msg, "%s", err->code == rc && err->msg[0] ? err->msg
                                                                     : rhai_strerror(rc));
    return rh_error_set(err, rc, "line %ld: %s", im->line, msg);
}

/* The header line: the format is known; its context and backend are
 * informational (the id given to import wins). */
static int import_header(move_import *im, json_t *line, rhai_error *err)
{
    json_t *f = json_object_get(line, "format");

    if (!json_is_object(line) || json_object_get(line, "table") ||
        json_object_get(line, "end"))
        return rh_error_set(err, RHAI_EINVAL, "line 1: no header (a context export starts "
                            "with {\"format\": \"" STORE_EXPORT_FORMAT "\", ...})");
    if (!json_is_string(f) || strcmp(json_string_value(f), STORE_EXPORT_FORMAT) != 0)
        return rh_error_set(err, RHAI_EINVAL, "line 1: unknown format %s%.40s%s (this "
                            "rhaictl reads " STORE_EXPORT_FORMAT ")",
                            json_is_string(f) ? "'" : "",
                            json_is_string(f) ? json_string_value(f) : "(none)",
                            json_is_string(f) ? "'" : "");
    if (json_object_get(line, "context") && !json_is_string(json_object_get(line, "context")))
        return rh_error_set(err, RHAI_EINVAL, "line 1: context is not a string");
    (void)im;
    return 0;
}

/* The first owner row: the context is made with it (a context is never
 * without an owner), then opened, and the transaction that takes every
 * row begins. */
static int import_create(move_import *im, json_t *owner, rhai_error *err)
{
    int rc = store_context_create(im->s, im->ctx,
                                  json_string_value(json_object_get(owner, "caller")), err);

    if (rc != 0)        /* RHAI_ESTATE: made meanwhile by another: not ours to drop */
        return rc;
    im->created = 1;
    if ((rc = store_open(im->s, im->ctx, &im->db, err)) != 0)
        return rc;
    return store_begin(im->db, err);
}

/* One row line. */
static int import_row(move_import *im, json_t *line, rhai_error *err)
{
    json_t *t = json_object_get(line, "table"), *row = json_object_get(line, "row");
    json_t *canon = NULL;
    size_t rank;
    int rc;

    if (!json_is_string(t) || !json_is_object(row) || json_object_size(line) != 2)
        return rh_error_set(err, RHAI_EINVAL, "not a row line ({\"table\": T, \"row\": "
                            "{...}}) nor the end line");
    if ((rank = table_rank(im->schema, json_string_value(t))) == (size_t)-1)
        return rh_error_set(err, RHAI_EINVAL, "unknown table or model '%.64s'",
                            json_string_value(t));
    if (rank < im->rank)
        return rh_error_set(err, RHAI_EINVAL, "a row of %s after rows of %s: the tables "
                            "come in the export's order", rank_name(im->schema, rank),
                            rank_name(im->schema, im->rank));
    if (!im->created && rank != 0)
        return rh_error_set(err, RHAI_EINVAL, "a row of %s before any owner: a context "
                            "needs one, and its owners come first", rank_name(im->schema, rank));
    im->rank = rank;
    if (rank < MOVE_NTABLES) {
        if ((rc = check_cols(move_tables[rank], move_cols[rank], row, &canon, err)) != 0)
            return rc;
        rc = check_own(rank, canon, im->ctx, err);
    } else {
        rc = check_model_row(im, &im->schema->models[rank - MOVE_NTABLES], row, &canon, err);
    }
    /* The first owner makes the context and is written by context_create
     * (so its added_at is the import's time): a backend's import_row need
     * not replace a row that exists. */
    if (rc == 0 && !im->created)
        rc = import_create(im, canon, err);
    else if (rc == 0)
        rc = im->db->be->import_row(im->db, json_string_value(t), canon, err);
    json_decref(canon);
    if (rc == 0)
        im->rows++;
    return rc;
}

/* The end line: {"end": true, "rows": N}, N the rows read. */
static int import_end_line(move_import *im, json_t *line, rhai_error *err)
{
    json_t *n = json_object_get(line, "rows");

    if (!json_is_true(json_object_get(line, "end")) || !json_is_integer(n) ||
        json_object_size(line) != 2)
        return rh_error_set(err, RHAI_EINVAL, "a bad end line (want {\"end\": true, "
                            "\"rows\": N})");
    if (json_integer_value(n) != im->rows)
        return rh_error_set(err, RHAI_EINVAL, "the end line counts %lld rows, the file "
                            "holds %lld", (long long)json_integer_value(n),
                            (long long)im->rows);
    return 0;
}

static int ref_cmp(const void *a, const void *b)
{
    const move_ref *x = a, *y = b;

    if (x->model != y->model)
        return x->model < y->model ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Every reference names a row the file held (the DSL writes no dangling
 * reference: create and update check the row exists, delete refuses
 * while one points at it). */
static int import_refs(move_import *im, rhai_error *err)
{
    if (im->nrefs > 1)
        qsort(im->refs, im->nrefs, sizeof *im->refs, ref_cmp);
    for (size_t i = 0; i < im->nrefs; i++) {
        const move_ref *r = &im->refs[i];
        const store_model *m = &im->schema->models[r->model];
        json_t *row = NULL;
        int rc;
        if (i > 0 && r->model == im->refs[i - 1].model && r->id == im->refs[i - 1].id)
            continue;
        rc = store_get(im->db, m, r->id, &row, err);
        json_decref(row);
        if (rc == RHAI_ENOTFOUND)
            return rh_error_set(err, RHAI_EINVAL, "line %ld: a reference to %s %lld, a row "
                                "the file does not hold", r->line, m->name, (long long)r->id);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int store_context_import(store *s, const char *context_id,
                         int (*next)(void *u, json_t **line, rhai_error *err), void *u,
                         int64_t *rows, rhai_error *err)
{
    move_import im;
    json_t *line = NULL;
    int rc, ended = 0;

    memset(&im, 0, sizeof im);
    im.s = s;
    im.schema = s->schema;
    im.ctx = context_id;
    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id (" RH_CONTEXT_RULE ")");
    if (store_context_exists(s, context_id))
        return rh_error_set(err, RHAI_ESTATE, "context '%s' exists already in %s: import "
                            "makes a new one", context_id, store_where(s));
    im.line = 1;
    if ((rc = next(u, &line, err)) != 0) {
        rc = at_line(&im, rc, err);
        goto fail;
    }
    if (line == NULL) {
        rc = rh_error_set(err, RHAI_EINVAL, "empty input: no header line");
        goto fail;
    }
    rc = import_header(&im, line, err);
    json_decref(line);
    line = NULL;
    if (rc != 0)
        goto fail;
    for (;;) {
        im.line++;
        if ((rc = next(u, &line, err)) != 0) {
            rc = at_line(&im, rc, err);
            goto fail;
        }
        if (line == NULL)
            break;
        if (ended)
            rc = rh_error_set(err, RHAI_EINVAL, "more after the end line");
        else if (!json_is_object(line))
            rc = rh_error_set(err, RHAI_EINVAL, "not an object");
        else if (json_object_get(line, "end")) {
            rc = import_end_line(&im, line, err);
            ended = 1;
        } else
            rc = import_row(&im, line, err);
        json_decref(line);
        line = NULL;
        if (rc != 0) {
            rc = at_line(&im, rc, err);
            goto fail;
        }
    }
    if (!ended) {
        rc = rh_error_set(err, RHAI_EINVAL, "line %ld: the input ends without the end line "
                          "({\"end\": true, \"rows\": N}): a cut file?", im.line);
        goto fail;
    }
    if (!im.created) {
        rc = rh_error_set(err, RHAI_EINVAL, "the file holds no owner: a context needs one");
        goto fail;
    }
    if ((rc = import_refs(&im, err)) != 0 ||
        (rc = im.db->be->import_end(im.db, err)) != 0 ||
        (rc = store_commit(im.db, err)) != 0)
        goto fail;
    rh_free(im.refs);
    if (rows)
        *rows = im.rows;
    return 0;
fail:
    rh_free(im.refs);
    if (im.created) {
        /* nothing of a failed import stays: not even the owner row */
        if (im.db)
            store_rollback(im.db);
        (void)store_context_drop(s, context_id, NULL);
    }
    return rc;
}
