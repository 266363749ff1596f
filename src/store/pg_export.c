/* pg_export.c -- the postgres backend's export and import of a context:
 * every row of a model or of the store's own tables (owners, grants,
 * audit, ledger) read out as canonical JSON, written back in batches, and
 * the identity sequences moved past the ids imported. move.c drives both
 * through the backend's table (export_rows, import_row, import_end); the
 * values are cast and read as in pg_crud.c, whose helpers these share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

#define PG_IMPORT_BATCH 256       /* queued import rows sent together */

/* ======================== export / import ======================== */

enum { C_INT, C_TEXT, C_HEX };

typedef struct pg_col {
    const char *name;       /* in the canonical row */
    const char *sql;        /* its column (NULL: name) */
    int         kind;
} pg_col;

static const pg_col owners_cols[] = {
    { "caller", NULL, C_TEXT }, { "added_at", NULL, C_INT }, { NULL, NULL, 0 } };
static const pg_col grants_cols[] = {
    { "id", NULL, C_INT }, { "caller", NULL, C_TEXT }, { "model", NULL, C_TEXT },
    { "ops", NULL, C_INT }, { "object_id", NULL, C_INT }, { "expires_at", NULL, C_INT },
    { "granted_by", NULL, C_TEXT }, { "created_at", NULL, C_INT }, { NULL, NULL, 0 } };
static const pg_col audit_cols[] = {
    { "id", NULL, C_INT }, { "at", NULL, C_INT }, { "task_id", NULL, C_TEXT },
    { "caller", NULL, C_TEXT }, { "op", NULL, C_TEXT }, { "model", NULL, C_TEXT },
    { "object_id", NULL, C_INT }, { "decision", NULL, C_TEXT }, { "reason", NULL, C_TEXT },
    { NULL, NULL, 0 } };
static const pg_col ledger_cols[] = {
    { "task_id", NULL, C_TEXT }, { "result", NULL, C_TEXT }, { "finished_at", NULL, C_INT },
    { "caller_id", NULL, C_TEXT }, { "context_id", "bound_context", C_TEXT },
    { "worker_id", NULL, C_TEXT }, { "digest", "digest", C_HEX }, { NULL, NULL, 0 } };

static const struct {
    const char   *table;
    const pg_col *cols;
    const char   *key;
} store_tables[] = {
    { STORE_TABLE_OWNERS, owners_cols, "caller" },
    { STORE_TABLE_GRANTS, grants_cols, "id" },
    { STORE_TABLE_AUDIT, audit_cols, "id" },
    { STORE_TABLE_LEDGER, ledger_cols, "task_id" },
};

static int table_index(const char *table)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(store_tables[i].table, table) == 0)
            return i;
    return -1;
}

int pg_export_rows(store_db *hdb, const char *table,
                   int (*fn)(void *u, json_t *row, rhai_error *err), void *u,
                   rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    const store_model *m = NULL;
    int t = table_index(table);
    pg_params p = { 0 };
    PGresult *r = NULL;
    rh_buf b;
    int rc;

    if (t < 0 && (m = store_schema_model(db->h.st->schema, table)) == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no table '%.100s'", table);
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    rh_buf_init(&b);
    if (m) {
        rh_buf_appendf(&b, "SELECT \"id\", \"created_at\", \"updated_at\"");
        pg_append_columns(&b, m);
        rh_buf_appendf(&b, " FROM \"%s\" WHERE context_id = $1 ORDER BY id", m->name);
    } else {
        const pg_col *c = store_tables[t].cols;
        rh_buf_appendf(&b, "SELECT ");
        for (int i = 0; c[i].name; i++)
            rh_buf_appendf(&b, c[i].kind == C_HEX ? "%sencode(%s, 'hex')" : "%s%s",
                           i ? ", " : "", c[i].sql ? c[i].sql : c[i].name);
        rh_buf_appendf(&b, " FROM %s WHERE context_id = $1 ORDER BY %s", table,
                       store_tables[t].key);
    }
    pg_p_text(&p, db->h.context);
    if (b.data == NULL || p.oom)
        return pg_oom(&b, &p, err);
    /* a model's rows may be many: a real export of a huge context would
     * page; one result set keeps the transaction's snapshot simple */
    rc = pg_run(db->ps, db, b.data, &p, &r, err);
    rh_buf_free(&b);
    if (rc != 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *row;
        if (m) {
            row = pg_row_object(r, i, m);
        } else {
            const pg_col *c = store_tables[t].cols;
            row = json_object();
            for (int k = 0; row && c[k].name; k++) {
                json_t *v = PQgetisnull(r, i, k) ? json_null()
                            : c[k].kind == C_INT ? json_integer(pg_int(r, i, k))
                                                 : json_string(PQgetvalue(r, i, k));
                if (json_object_set_new(row, c[k].name, v) != 0) {
                    json_decref(row);
                    row = NULL;
                }
            }
        }
        if (row == NULL) {
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
            break;
        }
        rc = fn(u, row, err);
        json_decref(row);
    }
    PQclear(r);
    return rc;
}

/* A canonical value of kind 'kind' pushed to p; RHAI_EINVAL when it is
 * of the wrong JSON type. */
static int p_canon(pg_params *p, const char *table, const char *name, int kind, json_t *v,
                   rhai_error *err)
{
    if (v == NULL || json_is_null(v)) {
        pg_p_null(p);
        return 0;
    }
    if (kind == C_INT ? !json_is_integer(v) : !json_is_string(v))
        return rh_error_set(err, RHAI_EINVAL, "%s: %s must be %s", table, name,
                            kind == C_INT ? "an integer" : "a string");
    if (kind == C_INT)
        pg_p_int(p, json_integer_value(v));
    else
        pg_p_textn(p, json_string_value(v), json_string_length(v));
    return 0;
}

/* Does v fit a column of type t? */
static int value_fits(store_type t, json_t *v)
{
    if (v == NULL || json_is_null(v))
        return 1;
    switch (t) {
    case STORE_T_STRING:
        return json_is_string(v);
    case STORE_T_NUMBER:
        return json_is_number(v);
    case STORE_T_BOOL:
        return json_is_boolean(v);
    case STORE_T_LIST:
        return json_is_array(v);
    default:
        return json_is_integer(v);
    }
}

int pg_import_row(store_db *hdb, const char *table, json_t *row, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    const store_model *m = NULL;
    int t = table_index(table);
    pg_params p = { 0 };
    rh_buf b;
    int rc;

    if (t < 0 && (m = store_schema_model(db->h.st->schema, table)) == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no table '%.100s'", table);
    if (!json_is_object(row))
        return rh_error_set(err, RHAI_EINVAL, "%s: a row must be an object", table);
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_rows_clear(db);
    rh_buf_init(&b);
    pg_p_text(&p, db->h.context);
    if (m) {
        static const char *const metas[] = { "id", "created_at", "updated_at" };
        rh_buf_appendf(&b, "INSERT INTO \"%s\" (\"context_id\", \"id\", \"created_at\", "
                       "\"updated_at\"", m->name);
        pg_append_columns(&b, m);
        rh_buf_appendf(&b, ") VALUES ($1");
        for (int i = 0; rc == 0 && i < 3; i++) {
            json_t *v = json_object_get(row, metas[i]);
            if (!json_is_integer(v))
                rc = rh_error_set(err, RHAI_EINVAL, "%s: %s must be an integer", table,
                                  metas[i]);
            else
                pg_p_int(&p, json_integer_value(v));
            rh_buf_appendf(&b, ", $%d::bigint", p.n);
        }
        for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
            const store_field *f = &m->fields[i];
            json_t *v = json_object_get(row, f->name);
            if (!value_fits(f->type, v))
                rc = rh_error_set(err, RHAI_EINVAL, "%s: %s has the wrong type", table,
                                  f->name);
            pg_p_value(&p, f->type, v);
            rh_buf_appendf(&b, ", $%d::%s", p.n, pg_cast_of(f->type));
        }
        rh_buf_appendf(&b, ")");
    } else {
        const pg_col *c = store_tables[t].cols;
        rh_buf_appendf(&b, "INSERT INTO %s (context_id", table);
        for (int i = 0; c[i].name; i++)
            rh_buf_appendf(&b, ", %s", c[i].sql ? c[i].sql : c[i].name);
        rh_buf_appendf(&b, ") VALUES ($1");
        for (int i = 0; rc == 0 && c[i].name; i++) {
            rc = p_canon(&p, table, c[i].name, c[i].kind, json_object_get(row, c[i].name),
                         err);
            rh_buf_appendf(&b, c[i].kind == C_HEX ? ", decode($%d, 'hex')" : ", $%d", p.n);
        }
        rh_buf_appendf(&b, ")");
    }
    if (rc != 0) {
        rh_buf_free(&b);
        pg_params_free(&p);
        return rc;
    }
    if (b.data == NULL || p.oom)
        return pg_oom(&b, &p, err);
    rc = pg_queue(db->ps, b.data, &p, NULL, 1, PG_K_OTHER, err);
    rh_buf_free(&b);
    /* rows go in batches: queued, sent every PG_IMPORT_BATCH */
    if (rc == 0 && (db->ps->nq >= PG_IMPORT_BATCH || !db->in_tx))
        rc = pg_run(db->ps, db, "SELECT 1", NULL, NULL, err);
    return rc;
}

/* Move the identity sequences past the ids imported (never back: an id
 * once given is not given again). */
int pg_import_end(store_db *hdb, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    const store_schema *s = db->h.st->schema;
    rh_buf b;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    rh_buf_init(&b);
    for (size_t i = 0; rc == 0 && i < s->nmodels + 2; i++) {
        const char *t = i == 0 ? "rhai_grants" : i == 1 ? "rhai_audit" : s->models[i - 2].name;
        b.len = 0;
        rh_buf_appendf(&b, "SELECT setval(pg_get_serial_sequence('\"%s\"', 'id'), "
                       "GREATEST(COALESCE(pg_sequence_last_value(pg_get_serial_sequence("
                       "'\"%s\"', 'id')::regclass), 0), (SELECT COALESCE(max(id), 0) FROM "
                       "\"%s\"), 1))", t, t, t);
        if (b.data == NULL)
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        else
            rc = pg_queue(db->ps, b.data, NULL, NULL, 0, PG_K_OTHER, err);
    }
    rh_buf_free(&b);
    if (rc == 0)
        rc = pg_run(db->ps, db, "SELECT 1", NULL, NULL, err);
    return rc;
}
