/* sqlite_crud.c -- sqlite backend: create, read, update, delete and list rows of a model.
 *
 * Statements for insert/get/update/delete/exists are prepared on first use
 * per open context and cached (reset after each use); list and count build
 * their SQL from the schema's identifiers and the shape of 'where' (never
 * from its values, which are bound) and are prepared per call. Values are
 * bound by the field's declared type; lists are stored as JSON text. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

enum { MS_EXISTS = MS_N, MS_ALL };

/* ======================== statements ======================== */

static const char *const tx_sql[TX_N] = {
    [TX_BEGIN] = "BEGIN IMMEDIATE",
    [TX_COMMIT] = "COMMIT",
    [TX_ROLLBACK] = "ROLLBACK",
    [TX_SAVEPOINT] = "SAVEPOINT dsl",
    [TX_RELEASE] = "RELEASE dsl",
    [TX_ROLLBACK_TO] = "ROLLBACK TO dsl",
    [TX_LEDGER_GET] = "SELECT result, caller_id, context_id, worker_id, digest "
                      "FROM rhai_ledger WHERE task_id = ?1",
    [TX_LEDGER_PUT] = "INSERT INTO rhai_ledger (task_id, result, finished_at, caller_id, "
                      "context_id, worker_id, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* 1: an owner; 2: a matching, unexpired grant (acl.c) */
    [TX_AUTHZ] = "SELECT 1 FROM rhai_owners WHERE caller = ?1 UNION ALL "
                 "SELECT 2 FROM rhai_grants WHERE caller = ?1 AND model = ?2 "
                 "AND (ops & ?3) != 0 AND (object_id IS NULL OR object_id = ?4) "
                 "AND (expires_at IS NULL OR expires_at > ?5) UNION ALL "
                 "SELECT 2 FROM rhai_grants WHERE caller = ?1 AND model = '*' "
                 "AND (ops & ?3) != 0 AND (object_id IS NULL OR object_id = ?4) "
                 "AND (expires_at IS NULL OR expires_at > ?5) LIMIT 1",
    [TX_AUDIT_PUT] = "INSERT INTO rhai_audit (at, task_id, caller, op, model, object_id, "
                     "decision, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

int store__stmts_init(sq_db *db, rhai_error *err)
{
    size_t n = db->st->schema->nmodels * MS_ALL;

    if ((db->ms = rh_calloc(n ? n : 1, sizeof *db->ms)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (int i = 0; i < TX_N; i++) {
        if (sqlite3_prepare_v3(db->db, tx_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->tx[i],
                               NULL) != SQLITE_OK)
            return rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context,
                                sqlite3_errmsg(db->db));
    }
    return 0;
}

void store__stmts_free(sq_db *db)
{
    for (int i = 0; i < TX_N; i++)
        sqlite3_finalize(db->tx[i]);
    if (db->ms) {
        for (size_t i = 0; i < db->st->schema->nmodels * MS_ALL; i++)
            sqlite3_finalize(db->ms[i]);
    }
    rh_free(db->ms);
    db->ms = NULL;
}

static size_t model_index(sq_db *db, const store_model *m)
{
    const store_schema *s = db->st->schema;

    rh_assert(m >= s->models && m < s->models + s->nmodels);
    return (size_t)(m - s->models);
}

/* "col1", "col2"... of every field, after a leading separator. */
static void append_columns(rh_buf *b, const store_model *m, const char *suffix)
{
    for (size_t i = 0; i < m->nfields; i++)
        rh_buf_appendf(b, ", \"%s\"%s", m->fields[i].name, suffix);
}

static sqlite3_stmt *model_stmt(sq_db *db, const store_model *m, int which,
                                rhai_error *err)
{
    sqlite3_stmt **slot = &db->ms[model_index(db, m) * MS_ALL + (size_t)which];
    rh_buf b;

    if (*slot)
        return *slot;
    rh_buf_init(&b);
    switch (which) {
    case MS_INSERT:
        rh_buf_appendf(&b, "INSERT INTO \"%s\" (\"created_at\", \"updated_at\"", m->name);
        append_columns(&b, m, "");
        rh_buf_appendf(&b, ") VALUES (?1, ?1");
        for (size_t i = 0; i < m->nfields; i++)
            rh_buf_appendf(&b, ", ?%zu", i + 2);
        rh_buf_appendf(&b, ")");
        break;
    case MS_GET:
        rh_buf_appendf(&b, "SELECT \"id\", \"created_at\", \"updated_at\"");
        append_columns(&b, m, "");
        rh_buf_appendf(&b, " FROM \"%s\" WHERE \"id\" = ?1", m->name);
        break;
    case MS_UPDATE:
        rh_buf_appendf(&b, "UPDATE \"%s\" SET \"updated_at\" = ?1", m->name);
        for (size_t i = 0; i < m->nfields; i++)
            rh_buf_appendf(&b, ", \"%s\" = ?%zu", m->fields[i].name, i + 3);
        rh_buf_appendf(&b, " WHERE \"id\" = ?2");
        break;
    case MS_DELETE:
        rh_buf_appendf(&b, "DELETE FROM \"%s\" WHERE \"id\" = ?1", m->name);
        break;
    default:
        rh_buf_appendf(&b, "SELECT 1 FROM \"%s\" WHERE \"id\" = ?1", m->name);
        break;
    }
    if (b.data == NULL) {
        rh_error_set(err, RHAI_ENOMEM, "out of memory");
        return NULL;
    }
    if (sqlite3_prepare_v3(db->db, b.data, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
        SQLITE_OK) {
        rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
        *slot = NULL;
    }
    rh_buf_free(&b);
    return *slot;
}

static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ======================== values ======================== */

/* Bind 'v' (NULL or json null: SQL NULL) as a value of type 't'. */
static int bind_value(sqlite3_stmt *st, int idx, store_type t, json_t *v)
{
    if (v == NULL || json_is_null(v))
        return sqlite3_bind_null(st, idx);
    switch (t) {
    case STORE_T_STRING:
        return sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_STATIC);
    case STORE_T_NUMBER:
        return sqlite3_bind_double(st, idx, json_number_value(v));
    case STORE_T_BOOL:
        return sqlite3_bind_int(st, idx, json_is_true(v));
    case STORE_T_LIST: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL)
            return SQLITE_NOMEM;
        return sqlite3_bind_text(st, idx, text, -1, free);
    }
    default:
        return sqlite3_bind_int64(st, idx, json_is_integer(v)
                                               ? json_integer_value(v)
                                               : (sqlite3_int64)json_number_value(v));
    }
}

/* Column 'col' of the current row as the JSON value of type 't' (new). */
static json_t *column_value(sqlite3_stmt *st, int col, store_type t)
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
        return v ? v : json_array();
    }
    default:
        return json_integer(sqlite3_column_int64(st, col));
    }
}

/* The current row of a statement selecting id, created_at, updated_at and
 * the fields in schema order. New object or NULL (out of memory). */
static json_t *row_object(sqlite3_stmt *st, const store_model *m)
{
    json_t *row = json_object();
    int bad = row == NULL;

    bad |= json_object_set_new(row, "id", json_integer(sqlite3_column_int64(st, 0)));
    bad |= json_object_set_new(row, "created_at", json_integer(sqlite3_column_int64(st, 1)));
    bad |= json_object_set_new(row, "updated_at", json_integer(sqlite3_column_int64(st, 2)));
    for (size_t i = 0; i < m->nfields; i++)
        bad |= json_object_set_new(row, m->fields[i].name,
                                   column_value(st, (int)i + 3, m->fields[i].type));
    if (bad) {
        json_decref(row);
        return NULL;
    }
    return row;
}

/* Refs must point at existing rows. */
static int check_refs(sq_db *db, const store_model *m, json_t *values, rhai_error *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const store_field *f = &m->fields[i];
        json_t *v = json_object_get(values, f->name);
        const store_model *target;
        sqlite3_stmt *st;
        int rc;

        if (f->type != STORE_T_REF || v == NULL || json_is_null(v))
            continue;
        if ((target = store_schema_model(db->st->schema, f->ref)) == NULL)
            return rh_error_set(err, RHAI_EINTERNAL, "no model %s", f->ref);
        if ((st = model_stmt(db, target, MS_EXISTS, err)) == NULL)
            return RHAI_ESTORE;
        sqlite3_bind_int64(st, 1, json_integer_value(v));
        rc = sqlite3_step(st);
        stmt_done(st);
        if (rc == SQLITE_DONE)
            return rh_error_set(err, RHAI_EINVAL, "%s.%s: %s %lld does not exist", m->name,
                                f->name, f->ref, (long long)json_integer_value(v));
        if (rc != SQLITE_ROW)
            return rh_error_set(err, RHAI_ESTORE, "%s: %s", f->ref, sqlite3_errmsg(db->db));
    }
    return 0;
}

/* ======================== CRUD ======================== */

int sq_insert(store_db *hdb, const store_model *m, json_t *values, int64_t *id,
                 rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st;
    int rc;

    if ((rc = check_refs(db, m, values, err)) != 0)
        return rc;
    if ((st = model_stmt(db, m, MS_INSERT, err)) == NULL)
        return RHAI_ESTORE;
    sqlite3_bind_int64(st, 1, rh_now_ms());
    for (size_t i = 0; i < m->nfields; i++)
        if (bind_value(st, (int)i + 2, m->fields[i].type,
                       json_object_get(values, m->fields[i].name)) != SQLITE_OK) {
            stmt_done(st);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
    *id = sqlite3_last_insert_rowid(db->db);
    return 0;
}

int sq_get(store_db *hdb, const store_model *m, int64_t id, json_t **row,
              rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st;
    int rc;

    *row = NULL;
    if ((st = model_stmt(db, m, MS_GET, err)) == NULL)
        return RHAI_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = row_object(st, m);
        rc = *row ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", m->name, (long long)id);
    } else {
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
    }
    stmt_done(st);
    return rc;
}

int sq_update(store_db *hdb, const store_model *m, int64_t id, json_t *values,
                 rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    json_t *row = NULL;
    sqlite3_stmt *st;
    int rc;

    if ((rc = check_refs(db, m, values, err)) != 0 ||
        (rc = sq_get(&db->h, m, id, &row, err)) != 0)
        return rc;
    if (json_object_update(row, values) != 0 || (st = model_stmt(db, m, MS_UPDATE, err)) == NULL) {
        json_decref(row);
        return rh_error_set(err, RHAI_ESTORE, "%s: cannot prepare update", m->name);
    }
    sqlite3_bind_int64(st, 1, rh_now_ms());
    sqlite3_bind_int64(st, 2, id);
    for (size_t i = 0; i < m->nfields; i++)
        if (bind_value(st, (int)i + 3, m->fields[i].type,
                       json_object_get(row, m->fields[i].name)) != SQLITE_OK) {
            stmt_done(st);
            json_decref(row);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    rc = sqlite3_step(st);
    stmt_done(st);
    json_decref(row);           /* after the step: texts are bound SQLITE_STATIC */
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
    return 0;
}

int sq_delete(store_db *hdb, const store_model *m, int64_t id, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st;
    int rc;

    if ((st = model_stmt(db, m, MS_DELETE, err)) == NULL)
        return RHAI_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
    if (sqlite3_changes(db->db) == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", m->name, (long long)id);
    return 0;
}

/* ======================== references ======================== */

int sq_ref_rows(store_db *hdb, const store_model *m, const char *field, const char *item,
                   int64_t id, long limit, json_t **ids, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    const store_field *f = store_model_field(m, field);
    char path[64];
    sqlite3_stmt *st = NULL;
    rh_buf sql;
    json_t *out;
    int rc;

    *ids = NULL;
    if (f == NULL || limit < 1 ||
        (item == NULL ? f->type != STORE_T_REF
                      : f->type != STORE_T_LIST || f->item == NULL))
        return rh_error_set(err, RHAI_EINVAL, "%s.%s: not a reference", m->name, field);
    if (item != NULL) {
        int found = 0;
        for (size_t i = 0; i < f->nitem; i++)
            found |= strcmp(f->item[i].name, item) == 0 && f->item[i].type == STORE_T_REF;
        if (!found)
            return rh_error_set(err, RHAI_EINVAL, "%s.%s[].%s: not a reference", m->name,
                                field, item);
        snprintf(path, sizeof path, "$.%s", item);
    }
    /* identifiers from the schema only (checked above), values bound */
    rh_buf_init(&sql);
    if (item == NULL)
        rc = rh_buf_appendf(&sql, "SELECT id FROM \"%s\" WHERE \"%s\" = ?1 ORDER BY id "
                            "LIMIT ?2", m->name, field);
    else
        rc = rh_buf_appendf(&sql, "SELECT id FROM \"%s\" AS t WHERE EXISTS (SELECT 1 FROM "
                            "json_each(t.\"%s\") WHERE json_extract(value, ?3) = ?1) "
                            "ORDER BY id LIMIT ?2", m->name, field);
    if (rc != 0) {
        rh_buf_free(&sql);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (sqlite3_prepare_v2(db->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
        rh_buf_free(&sql);
        return rc;
    }
    rh_buf_free(&sql);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, limit);
    if (item != NULL)
        sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    if ((out = json_array()) == NULL) {
        sqlite3_finalize(st);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(out, json_integer(sqlite3_column_int64(st, 0))) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    if (rc != SQLITE_DONE) {
        rc = rc == SQLITE_NOMEM ? rh_error_set(err, RHAI_ENOMEM, "out of memory")
                                : rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name,
                                               sqlite3_errmsg(db->db));
        sqlite3_finalize(st);       /* after reading the message */
        json_decref(out);
        return rc;
    }
    sqlite3_finalize(st);
    *ids = out;
    return 0;
}

/* ======================== list ======================== */

/* The WHERE clause of a list: its SQL text (every value a parameter ?N),
 * then its values bound in the same order (store__where_walk). */
typedef struct where_sql {
    rh_buf       *b;
    int           first;
    sqlite3_stmt *st;
    int          *idx;
} where_sql;

static int where_text(void *u, const store_field *f, const char *op, json_t *v)
{
    where_sql *w = u;

    rh_buf_appendf(w->b, "%s\"%s\" %s%s", w->first ? " WHERE " : " AND ", f->name, op,
                   v ? " ?" : "");
    w->first = 0;
    return 0;
}

static int where_bind(void *u, const store_field *f, const char *op, json_t *v)
{
    where_sql *w = u;

    (void)op;
    return v && bind_value(w->st, ++*w->idx, f->type, v) != SQLITE_OK ? -1 : 0;
}

/* Prepare "SELECT <what> FROM m WHERE ... [ORDER/LIMIT]" with its where
 * values bound; *next is the next free parameter index. */
static int prepare_select(sq_db *db, const store_model *m, const char *what,
                          json_t *where, const char *order, int paged,
                          sqlite3_stmt **out, int *next, rhai_error *err)
{
    rh_buf b;
    int idx = 0;
    int rc;

    *out = NULL;
    rh_buf_init(&b);
    rh_buf_appendf(&b, "SELECT %s", what);
    if (strcmp(what, "count(*)") != 0)
        append_columns(&b, m, "");
    rh_buf_appendf(&b, " FROM \"%s\"", m->name);
    {
        where_sql w = { &b, 1, NULL, NULL };
        if ((rc = store__where_walk(m, where, where_text, &w, err)) != 0)
            goto out;
    }
    if (paged) {
        int desc = order && order[0] == '-';
        const char *name = order ? order + desc : "id";
        const store_field *f = store__column(m, name);
        if (f == NULL || f->type == STORE_T_LIST) {
            rc = rh_error_set(err, RHAI_EINVAL, "order: %s has no sortable field '%s'",
                              m->name, name);
            goto out;
        }
        rh_buf_appendf(&b, " ORDER BY \"%s\"%s, \"id\" LIMIT ? OFFSET ?", f->name,
                       desc ? " DESC" : "");
    }
    if (b.data == NULL) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(db->db, b.data, -1, out, NULL) != SQLITE_OK) {
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
        goto out;
    }
    {
        where_sql w = { NULL, 0, *out, &idx };
        if ((rc = store__where_walk(m, where, where_bind, &w, err)) != 0)
            goto out;
    }
    *next = idx + 1;
out:
    if (rc != 0) {
        sqlite3_finalize(*out);
        *out = NULL;
    }
    rh_buf_free(&b);
    return rc;
}

int sq_list(store_db *hdb, const store_model *m, json_t *where, const char *order,
               long limit, long offset, json_t **rows, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st;
    json_t *arr;
    int next;
    int rc;

    *rows = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "limit %ld is not in 1..%d", limit,
                            STORE_LIST_MAX);
    if (offset < 0)
        return rh_error_set(err, RHAI_EINVAL, "offset %ld is negative", offset);
    if ((rc = prepare_select(db, m, "\"id\", \"created_at\", \"updated_at\"", where, order, 1,
                             &st, &next, err)) != 0)
        return rc;
    sqlite3_bind_int64(st, next, limit);
    sqlite3_bind_int64(st, next + 1, offset);
    if ((arr = json_array()) == NULL) {
        sqlite3_finalize(st);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = row_object(st, m);
        if (row == NULL || json_array_append_new(arr, row) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
        sqlite3_finalize(st);
        json_decref(arr);
        return RHAI_ESTORE;
    }
    sqlite3_finalize(st);
    *rows = arr;
    return 0;
}

int sq_count(store_db *hdb, const store_model *m, json_t *where, int64_t *n,
                rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st;
    int next;
    int rc;

    if ((rc = prepare_select(db, m, "count(*)", where, NULL, 0, &st, &next, err)) != 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", m->name, sqlite3_errmsg(db->db));
    }
    sqlite3_finalize(st);
    return rc;
}
