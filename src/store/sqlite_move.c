/* sqlite_move.c -- the sqlite backend's side of moving contexts: every
 * row of a table out in the canonical form (store.h, moving contexts), and
 * one checked row back in, ids kept.
 *
 * move.c checks what a file holds before a row gets here; this file only
 * maps columns to JSON and back, binding every value (SQL text is made
 * from the schema's identifiers and our own table names only). The
 * statements are prepared per call: an import is a one-off, not a hot
 * path. AUTOINCREMENT keeps its sequence past the largest id inserted,
 * explicit ones included, so import_end has nothing to move. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

/* The store's own tables: their columns in the canonical order. */
typedef struct sq_move_table {
    const char *name;
    const char *select;     /* ascending by key */
    const char *insert;     /* ?1.. in the columns' order */
    const char *const *cols;
} sq_move_table;

static const char *const owners_cols[] = { "caller", "added_at", NULL };
static const char *const grants_cols[] = { "id", "caller", "model", "ops", "object_id",
                                           "expires_at", "granted_by", "created_at", NULL };
static const char *const audit_cols[] = { "id", "at", "task_id", "caller", "op", "model",
                                          "object_id", "decision", "reason", NULL };
static const char *const ledger_cols[] = { "task_id", "result", "finished_at", "caller_id",
                                           "context_id", "worker_id", "digest", NULL };

static const sq_move_table sq_move_tables[] = {
    { STORE_TABLE_OWNERS,
      "SELECT caller, added_at FROM rhai_owners ORDER BY caller",
      "INSERT INTO rhai_owners (caller, added_at) VALUES (?1, ?2)",
      owners_cols },
    { STORE_TABLE_GRANTS,
      "SELECT id, caller, model, ops, object_id, expires_at, granted_by, created_at "
      "FROM rhai_grants ORDER BY id",
      "INSERT INTO rhai_grants (id, caller, model, ops, object_id, expires_at, granted_by, "
      "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      grants_cols },
    { STORE_TABLE_AUDIT,
      "SELECT id, at, task_id, caller, op, model, object_id, decision, reason "
      "FROM rhai_audit ORDER BY id",
      "INSERT INTO rhai_audit (id, at, task_id, caller, op, model, object_id, decision, "
      "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
      audit_cols },
    { STORE_TABLE_LEDGER,
      "SELECT task_id, result, finished_at, caller_id, context_id, worker_id, digest "
      "FROM rhai_ledger ORDER BY task_id",
      "INSERT INTO rhai_ledger (task_id, result, finished_at, caller_id, context_id, "
      "worker_id, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      ledger_cols },
};
#define SQ_MOVE_NTABLES (sizeof sq_move_tables / sizeof sq_move_tables[0])

static const sq_move_table *own_table(const char *name)
{
    for (size_t i = 0; i < SQ_MOVE_NTABLES; i++)
        if (strcmp(sq_move_tables[i].name, name) == 0)
            return &sq_move_tables[i];
    return NULL;
}

static int sq_fail(sq_db *db, sqlite3_stmt *st, const char *table, rhai_error *err)
{
    rh_error_set(err, RHAI_ESTORE, "%s: %s: %s", db->context, table, sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return RHAI_ESTORE;
}

/* ======================== out ======================== */

/* Column i of a store table's row as JSON (new, NULL on OOM or text that
 * is not UTF-8). The ledger's digest blob becomes its hex. */
static json_t *own_col(sqlite3_stmt *st, int i, int digest)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
        return json_stringn((const char *)sqlite3_column_text(st, i),
                            (size_t)sqlite3_column_bytes(st, i));
    case SQLITE_BLOB:
        if (digest && sqlite3_column_bytes(st, i) == STORE_DIGEST_LEN) {
            char hex[2 * STORE_DIGEST_LEN + 1];
            store__digest_hex(sqlite3_column_blob(st, i), hex);
            return json_string(hex);
        }
        return json_null();     /* a digest of another length matches nothing */
    default:
        return json_null();
    }
}

/* Column 'col' as the JSON value of a field of type 't' (new; NULL on OOM
 * or bad text), the store_get form. */
static json_t *field_col(sqlite3_stmt *st, int col, store_type t)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    switch (t) {
    case STORE_T_STRING:
        return json_stringn((const char *)sqlite3_column_text(st, col),
                            (size_t)sqlite3_column_bytes(st, col));
    case STORE_T_NUMBER:
        return json_real(sqlite3_column_double(st, col));
    case STORE_T_BOOL:
        return json_boolean(sqlite3_column_int(st, col));
    case STORE_T_LIST: {
        json_t *v = json_loadb((const char *)sqlite3_column_text(st, col),
                               (size_t)sqlite3_column_bytes(st, col), JSON_DECODE_ANY, NULL);
        return v ? v : json_array();        /* as store_get reads it */
    }
    default:
        return json_integer(sqlite3_column_int64(st, col));
    }
}

int sq_export_rows(store_db *hdb, const char *table,
                   int (*fn)(void *u, json_t *row, rhai_error *err), void *u,
                   rhai_error *err)
{
    sq_db *db = SQ(hdb);
    const sq_move_table *t = own_table(table);
    const store_model *m = t ? NULL : store_schema_model(db->st->schema, table);
    sqlite3_stmt *st = NULL;
    rh_buf b;
    int rc = 0, step = SQLITE_DONE;

    if (t == NULL && m == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no table '%.64s'", table);
    rh_buf_init(&b);
    if (m) {
        rh_buf_appendf(&b, "SELECT \"id\", \"created_at\", \"updated_at\"");
        for (size_t i = 0; i < m->nfields; i++)
            rh_buf_appendf(&b, ", \"%s\"", m->fields[i].name);
        rh_buf_appendf(&b, " FROM \"%s\" ORDER BY \"id\"", m->name);
        if (b.data == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (sqlite3_prepare_v2(db->db, m ? b.data : t->select, -1, &st, NULL) != SQLITE_OK) {
        rh_buf_free(&b);
        return sq_fail(db, st, table, err);
    }
    rh_buf_free(&b);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        int bad = row == NULL;
        if (m) {
            static const char *const heads[] = { "id", "created_at", "updated_at" };
            for (int i = 0; !bad && i < 3; i++)
                bad = json_object_set_new(row, heads[i],
                                          json_integer(sqlite3_column_int64(st, i))) != 0;
            for (size_t i = 0; !bad && i < m->nfields; i++)
                bad = json_object_set_new(row, m->fields[i].name,
                                          field_col(st, (int)i + 3, m->fields[i].type)) != 0;
        } else {
            for (int i = 0; !bad && t->cols[i]; i++)
                bad = json_object_set_new(row, t->cols[i],
                                          own_col(st, i, strcmp(t->cols[i], "digest") == 0))
                      != 0;
        }
        if (bad)
            rc = rh_error_set(err, RHAI_ENOMEM, "%s: %s: out of memory, or text that is not "
                              "UTF-8", db->context, table);
        else
            rc = fn(u, row, err);
        json_decref(row);
    }
    if (rc == 0 && step != SQLITE_DONE)
        return sq_fail(db, st, table, err);
    sqlite3_finalize(st);
    return rc;
}

/* ======================== in ======================== */

/* Bind a checked JSON value: null, integer, real, boolean, string, or an
 * array (a list field, kept as its JSON text). */
static int bind_json(sqlite3_stmt *st, int idx, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return sqlite3_bind_int64(st, idx, json_integer_value(v));
    case JSON_REAL:
        return sqlite3_bind_double(st, idx, json_real_value(v));
    case JSON_TRUE:
        return sqlite3_bind_int(st, idx, 1);
    case JSON_FALSE:
        return sqlite3_bind_int(st, idx, 0);
    case JSON_STRING:
        return sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_TRANSIENT);
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL)
            return SQLITE_NOMEM;
        return sqlite3_bind_text(st, idx, text, -1, free);
    }
    default:
        return sqlite3_bind_null(st, idx);
    }
}

int sq_import_row(store_db *hdb, const char *table, json_t *row, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    const sq_move_table *t = own_table(table);
    const store_model *m = t ? NULL : store_schema_model(db->st->schema, table);
    sqlite3_stmt *st = NULL;
    rh_buf b;
    int rc = SQLITE_OK;

    if (t == NULL && m == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no table '%.64s'", table);
    rh_buf_init(&b);
    if (m) {
        rh_buf_appendf(&b, "INSERT INTO \"%s\" (\"id\", \"created_at\", \"updated_at\"",
                       m->name);
        for (size_t i = 0; i < m->nfields; i++)
            rh_buf_appendf(&b, ", \"%s\"", m->fields[i].name);
        rh_buf_appendf(&b, ") VALUES (?1, ?2, ?3");
        for (size_t i = 0; i < m->nfields; i++)
            rh_buf_appendf(&b, ", ?%zu", i + 4);
        rh_buf_appendf(&b, ")");
        if (b.data == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (sqlite3_prepare_v2(db->db, m ? b.data : t->insert, -1, &st, NULL) != SQLITE_OK) {
        rh_buf_free(&b);
        return sq_fail(db, st, table, err);
    }
    rh_buf_free(&b);
    if (m) {
        rc = bind_json(st, 1, json_object_get(row, "id"));
        if (rc == SQLITE_OK)
            rc = bind_json(st, 2, json_object_get(row, "created_at"));
        if (rc == SQLITE_OK)
            rc = bind_json(st, 3, json_object_get(row, "updated_at"));
        for (size_t i = 0; rc == SQLITE_OK && i < m->nfields; i++)
            rc = bind_json(st, (int)i + 4, json_object_get(row, m->fields[i].name));
    } else {
        for (int i = 0; rc == SQLITE_OK && t->cols[i]; i++) {
            json_t *v = json_object_get(row, t->cols[i]);
            unsigned char d[STORE_DIGEST_LEN];
            if (strcmp(t->cols[i], "digest") == 0 && json_is_string(v)) {
                if (store__digest_parse(json_string_value(v), d) != 0) {
                    sqlite3_finalize(st);
                    return rh_error_set(err, RHAI_EINVAL, "ledger: a bad digest");
                }
                rc = sqlite3_bind_blob(st, i + 1, d, STORE_DIGEST_LEN, SQLITE_TRANSIENT);
            } else {
                rc = bind_json(st, i + 1, v);
            }
        }
    }
    if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        return sq_fail(db, st, table, err);
    sqlite3_finalize(st);
    return 0;
}

int sq_import_end(store_db *hdb, rhai_error *err)
{
    /* AUTOINCREMENT's sqlite_sequence already holds the largest id. */
    (void)hdb;
    (void)err;
    return 0;
}
