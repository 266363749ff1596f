/* pg_crud.c -- the postgres backend's rows of a model: create, read,
 * update, delete, list, count and references (export/import: pg_export.c).
 *
 * SQL is built per call from the schema's identifiers (double-quoted,
 * [a-z][a-z0-9_]*) and the shape of 'where', never from values: every
 * value is a parameter, sent as text and cast to its column's type. Each
 * call is one statement, so one round trip: insert and update check their
 * references inside the statement (WHERE EXISTS ...), and only when it
 * changed nothing a second query says why. Lists are JSON text, as in
 * SQLite, so rows read back exactly as written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* The cast of a parameter for a column of type t. */
const char *pg_cast_of(store_type t)
{
    switch (t) {
    case STORE_T_STRING:
    case STORE_T_LIST:
        return "text";
    case STORE_T_NUMBER:
        return "float8";
    case STORE_T_BOOL:
        return "boolean";
    default:
        return "bigint";
    }
}

/* Push 'v' (NULL or json null: SQL NULL) as a value of type t. */
void pg_p_value(pg_params *p, store_type t, json_t *v)
{
    char b[40];

    if (v == NULL || json_is_null(v)) {
        pg_p_null(p);
        return;
    }
    switch (t) {
    case STORE_T_STRING:
        if (json_is_string(v))
            pg_p_textn(p, json_string_value(v), json_string_length(v));
        else
            pg_p_null(p);
        return;
    case STORE_T_NUMBER:
        snprintf(b, sizeof b, "%.17g", json_number_value(v));
        pg_p_text(p, b);
        return;
    case STORE_T_BOOL:
        pg_p_text(p, json_is_true(v) ? "true" : "false");
        return;
    case STORE_T_LIST: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL) {
            p->oom = 1;
            return;
        }
        pg_p_text(p, text);
        free(text);
        return;
    }
    default:
        pg_p_int(p, json_is_integer(v) ? (int64_t)json_integer_value(v)
                                       : (int64_t)json_number_value(v));
        return;
    }
}

/* Column 'col' of row 'i' as the JSON value of type t (new). */
static json_t *column_value(const PGresult *r, int i, int col, store_type t)
{
    const char *s;

    if (PQgetisnull(r, i, col))
        return json_null();
    s = PQgetvalue(r, i, col);
    switch (t) {
    case STORE_T_STRING:
        return json_stringn(s, (size_t)PQgetlength(r, i, col));
    case STORE_T_NUMBER:
        return json_real(strtod(s, NULL));
    case STORE_T_BOOL:
        return json_boolean(s[0] == 't');
    case STORE_T_LIST: {
        json_t *v = json_loadb(s, (size_t)PQgetlength(r, i, col), JSON_DECODE_ANY, NULL);
        return v ? v : json_array();
    }
    default:
        return json_integer(strtoll(s, NULL, 10));
    }
}

/* Row i of a result selecting id, created_at, updated_at and the fields
 * in schema order. New object or NULL (out of memory). */
json_t *pg_row_object(const PGresult *r, int i, const store_model *m)
{
    json_t *row = json_object();
    int bad = row == NULL;

    bad |= json_object_set_new(row, "id", json_integer(pg_int(r, i, 0)));
    bad |= json_object_set_new(row, "created_at", json_integer(pg_int(r, i, 1)));
    bad |= json_object_set_new(row, "updated_at", json_integer(pg_int(r, i, 2)));
    for (size_t f = 0; f < m->nfields; f++)
        bad |= json_object_set_new(row, m->fields[f].name,
                                   column_value(r, i, (int)f + 3, m->fields[f].type));
    if (bad) {
        json_decref(row);
        return NULL;
    }
    return row;
}

void pg_append_columns(rh_buf *b, const store_model *m)
{
    for (size_t i = 0; i < m->nfields; i++)
        rh_buf_appendf(b, ", \"%s\"", m->fields[i].name);
}

/* ---- rows read or written in this transaction (pg_int.h, pg_row) ---- */

void pg_rows_clear(pg_db *db)
{
    for (size_t i = 0; i < db->nrows; i++)
        json_decref(db->rows[i].row);
    db->nrows = db->rows_next = 0;
}

static pg_row *rows_find(pg_db *db, const store_model *m, int64_t id)
{
    for (size_t i = 0; i < db->nrows; i++)
        if (db->rows[i].m == m && db->rows[i].id == id)
            return &db->rows[i];
    return NULL;
}

static void rows_drop(pg_db *db, const store_model *m, int64_t id)
{
    pg_row *r = rows_find(db, m, id);

    if (r == NULL)
        return;
    json_decref(r->row);
    *r = db->rows[--db->nrows];
    db->rows_next = 0;
}

/* Keep a copy of 'row' (of m, as the database holds it now) and its ctid
 * (column 'col' of r's row i). */
static void rows_put(pg_db *db, const store_model *m, json_t *row, const PGresult *res, int i,
                     int col)
{
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_t *copy;
    pg_row *r;

    if (!db->in_tx || (copy = json_deep_copy(row)) == NULL)
        return;
    if ((r = rows_find(db, m, id)) == NULL) {
        if (db->nrows < PG_ROWS_MAX) {
            r = &db->rows[db->nrows++];
        } else {                            /* full: replace in turn */
            r = &db->rows[db->rows_next];
            db->rows_next = (db->rows_next + 1) % PG_ROWS_MAX;
            json_decref(r->row);
        }
        r->row = NULL;
    }
    json_decref(r->row);
    r->m = m;
    r->id = id;
    r->row = copy;
    r->ctid[0] = '\0';
    if (res && !PQgetisnull(res, i, col) && (size_t)PQgetlength(res, i, col) < sizeof r->ctid)
        memcpy(r->ctid, PQgetvalue(res, i, col), (size_t)PQgetlength(res, i, col) + 1);
}

/* The columns of a row: id, created_at, updated_at, the fields, and its
 * ctid last (column 3 + nfields). */
static void append_row_columns(rh_buf *b, const store_model *m)
{
    rh_buf_appendf(b, "\"id\", \"created_at\", \"updated_at\"");
    pg_append_columns(b, m);
    rh_buf_appendf(b, ", ctid::text");
}

#define CTID_COL(m) ((int)(m)->nfields + 3)

/* " WHERE" clause reaching row id of m: by its ctid when this transaction
 * knows it (a TID scan), else by the primary key. The context and id are
 * checked either way ($1, $2). */
static void append_row_where(pg_db *db, rh_buf *b, pg_params *p, const store_model *m,
                             int64_t id)
{
    pg_row *c = db->in_tx ? rows_find(db, m, id) : NULL;

    if (c && c->ctid[0]) {
        pg_p_text(p, c->ctid);
        rh_buf_appendf(b, " WHERE ctid = $%d::tid AND \"context_id\" = $1 AND \"id\" = "
                       "$2::bigint", p->n);
    } else {
        rh_buf_appendf(b, " WHERE \"context_id\" = $1 AND \"id\" = $2::bigint");
    }
}

int pg_oom(rh_buf *b, pg_params *p, rhai_error *err)
{
    rh_buf_free(b);
    pg_params_free(p);
    return rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

/* After an insert or update changed no row: the first reference of
 * 'values' to a row that does not exist (RHAI_EINVAL), else 0. */
static int refs_missing(pg_db *db, const store_model *m, json_t *values, rhai_error *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const store_field *f = &m->fields[i];
        json_t *v = json_object_get(values, f->name);
        const store_model *target;
        pg_params p = { 0 };
        PGresult *r = NULL;
        char sql[160];
        int n, rc;

        if (f->type != STORE_T_REF || v == NULL || json_is_null(v))
            continue;
        if ((target = store_schema_model(db->h.st->schema, f->ref)) == NULL)
            return rh_error_set(err, RHAI_EINTERNAL, "no model %s", f->ref);
        snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE context_id = $1 AND id = $2",
                 target->name);
        pg_p_text(&p, db->h.context);
        pg_p_value(&p, STORE_T_REF, v);
        if ((rc = pg_run(db->ps, db, sql, &p, &r, err)) != 0)
            return rc;
        n = PQntuples(r);
        PQclear(r);
        if (n == 0)
            return rh_error_set(err, RHAI_EINVAL, "%s.%s: %s %lld does not exist", m->name,
                                f->name, f->ref, (long long)json_integer_value(v));
    }
    return 0;
}

/* " AND EXISTS (...)" for every non-null reference of values; 'idx' maps
 * field i to its parameter number. */
static int append_ref_checks(pg_db *db, rh_buf *b, const store_model *m, json_t *values,
                             const int *idx, int first, rhai_error *err)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const store_field *f = &m->fields[i];
        json_t *v = json_object_get(values, f->name);
        const store_model *target;

        if (f->type != STORE_T_REF || v == NULL || json_is_null(v) || idx[i] == 0)
            continue;
        if ((target = store_schema_model(db->h.st->schema, f->ref)) == NULL)
            return rh_error_set(err, RHAI_EINTERNAL, "no model %s", f->ref);
        rh_buf_appendf(b, "%s EXISTS (SELECT 1 FROM \"%s\" WHERE context_id = $1 AND id = "
                       "$%d::bigint)", first ? " WHERE" : " AND", target->name, idx[i]);
        first = 0;
    }
    return 0;
}

/* The tail of an INSERT (insert 1) or UPDATE built in b and p: its
 * reference checks, RETURNING the row, run; a row written is kept, since
 * create and update read it back next. b, p and idx are freed. 0 with *r
 * the result (PQclear it), or an error. */
static int write_returning(pg_db *db, const store_model *m, rh_buf *b, pg_params *p,
                           json_t *values, int *idx, int insert, PGresult **r,
                           rhai_error *err)
{
    int rc = append_ref_checks(db, b, m, values, idx, insert, err);

    rh_free(idx);
    if (rc != 0) {
        rh_buf_free(b);
        pg_params_free(p);
        return rc;
    }
    rh_buf_appendf(b, " RETURNING ");
    append_row_columns(b, m);
    if (b->data == NULL || p->oom)
        return pg_oom(b, p, err);
    rc = pg_run(db->ps, db, b->data, p, r, err);
    rh_buf_free(b);
    if (rc == 0 && PQntuples(*r) > 0) {
        json_t *row = pg_row_object(*r, 0, m);
        if (row)
            rows_put(db, m, row, *r, 0, CTID_COL(m));
        json_decref(row);
    }
    return rc;
}

int pg_insert(store_db *hdb, const store_model *m, json_t *values, int64_t *id,
              rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int *idx;
    rh_buf b;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    if ((idx = rh_calloc(m->nfields + 1, sizeof *idx)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rh_buf_init(&b);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, rh_now_ms());
    rh_buf_appendf(&b, "INSERT INTO \"%s\" (\"context_id\", \"created_at\", \"updated_at\"",
                   m->name);
    pg_append_columns(&b, m);
    rh_buf_appendf(&b, ") SELECT $1, $2::bigint, $2::bigint");
    for (size_t i = 0; i < m->nfields; i++) {
        pg_p_value(&p, m->fields[i].type, json_object_get(values, m->fields[i].name));
        idx[i] = p.n;
        rh_buf_appendf(&b, ", $%d::%s", p.n, pg_cast_of(m->fields[i].type));
    }
    if ((rc = write_returning(db, m, &b, &p, values, idx, 1, &r, err)) != 0)
        return rc;
    if (PQntuples(r) == 1) {
        *id = pg_int(r, 0, 0);
        PQclear(r);
        return 0;
    }
    PQclear(r);
    if ((rc = refs_missing(db, m, values, err)) != 0)
        return rc;
    return rh_error_set(err, RHAI_ESTORE, "postgres %s: %s: insert wrote no row", db->where,
                        m->name);
}

int pg_get(store_db *hdb, const store_model *m, int64_t id, json_t **row, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    rh_buf b;
    int rc;

    pg_row *c;

    *row = NULL;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    if (db->in_tx && (c = rows_find(db, m, id)) != NULL) {
        if ((*row = json_deep_copy(c->row)) == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        return 0;
    }
    rh_buf_init(&b);
    rh_buf_appendf(&b, "SELECT ");
    append_row_columns(&b, m);
    rh_buf_appendf(&b, " FROM \"%s\" WHERE \"context_id\" = $1 AND \"id\" = $2::bigint",
                   m->name);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, id);
    if (b.data == NULL || p.oom)
        return pg_oom(&b, &p, err);
    rc = pg_run(db->ps, db, b.data, &p, &r, err);
    rh_buf_free(&b);
    if (rc != 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", m->name, (long long)id);
    else if ((*row = pg_row_object(r, 0, m)) == NULL)
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
    else
        rows_put(db, m, *row, r, 0, CTID_COL(m));
    PQclear(r);
    return rc;
}

int pg_update(store_db *hdb, const store_model *m, int64_t id, json_t *values,
              rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int *idx;
    rh_buf b;
    int rc, n;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    if ((idx = rh_calloc(m->nfields + 1, sizeof *idx)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rh_buf_init(&b);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, id);
    pg_p_int(&p, rh_now_ms());
    rh_buf_appendf(&b, "UPDATE \"%s\" SET \"updated_at\" = $3::bigint", m->name);
    for (size_t i = 0; i < m->nfields; i++) {
        json_t *v = json_object_get(values, m->fields[i].name);
        if (v == NULL)
            continue;               /* only the fields given are written */
        pg_p_value(&p, m->fields[i].type, v);
        idx[i] = p.n;
        rh_buf_appendf(&b, ", \"%s\" = $%d::%s", m->fields[i].name, p.n,
                       pg_cast_of(m->fields[i].type));
    }
    append_row_where(db, &b, &p, m, id);
    rows_drop(db, m, id);
    if ((rc = write_returning(db, m, &b, &p, values, idx, 0, &r, err)) != 0)
        return rc;
    n = PQntuples(r);
    PQclear(r);
    if (n > 0)
        return 0;
    /* as SQLite's order: a bad reference first, then the missing row */
    if ((rc = refs_missing(db, m, values, err)) != 0)
        return rc;
    return rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", m->name, (long long)id);
}

int pg_del(store_db *hdb, const store_model *m, int64_t id, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    rh_buf b;
    int rc, n;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    rh_buf_init(&b);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, id);
    rh_buf_appendf(&b, "DELETE FROM \"%s\"", m->name);
    append_row_where(db, &b, &p, m, id);
    rows_drop(db, m, id);
    if (b.data == NULL || p.oom)
        return pg_oom(&b, &p, err);
    rc = pg_run(db->ps, db, b.data, &p, &r, err);
    rh_buf_free(&b);
    if (rc != 0)
        return rc;
    n = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "%s %lld not found", m->name, (long long)id);
    return 0;
}

/* ======================== references ======================== */

int pg_ref_rows(store_db *hdb, const store_model *m, const char *field, const char *item,
                int64_t id, long limit, json_t **ids, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    const store_field *f = store_model_field(m, field);
    pg_params p = { 0 };
    PGresult *r = NULL;
    rh_buf sql;
    json_t *out;
    int rc;

    *ids = NULL;
    if (f == NULL || limit < 1 ||
        (item == NULL ? f->type != STORE_T_REF : f->type != STORE_T_LIST || f->item == NULL))
        return rh_error_set(err, RHAI_EINVAL, "%s.%s: not a reference", m->name, field);
    if (item != NULL) {
        int found = 0;
        for (size_t i = 0; i < f->nitem; i++)
            found |= strcmp(f->item[i].name, item) == 0 && f->item[i].type == STORE_T_REF;
        if (!found)
            return rh_error_set(err, RHAI_EINVAL, "%s.%s[].%s: not a reference", m->name,
                                field, item);
    }
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    rh_buf_init(&sql);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, id);
    pg_p_int(&p, limit);
    if (item == NULL) {
        rh_buf_appendf(&sql, "SELECT id FROM \"%s\" WHERE context_id = $1 AND \"%s\" = "
                       "$2::bigint ORDER BY id LIMIT $3::bigint", m->name, field);
    } else {
        /* elements that are not objects have no such member: no match */
        pg_p_text(&p, item);
        rh_buf_appendf(&sql, "SELECT id FROM \"%s\" AS t WHERE context_id = $1 AND "
                       "jsonb_typeof(t.\"%s\"::jsonb) = 'array' AND EXISTS (SELECT 1 FROM "
                       "jsonb_array_elements(t.\"%s\"::jsonb) AS e WHERE e.value -> $4::text "
                       "= to_jsonb($2::bigint)) ORDER BY id LIMIT $3::bigint", m->name, field,
                       field);
    }
    if (sql.data == NULL || p.oom)
        return pg_oom(&sql, &p, err);
    rc = pg_run(db->ps, db, sql.data, &p, &r, err);
    rh_buf_free(&sql);
    if (rc != 0)
        return rc;
    if ((out = json_array()) == NULL) {
        PQclear(r);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (json_array_append_new(out, json_integer(pg_int(r, i, 0))) != 0) {
            PQclear(r);
            json_decref(out);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    PQclear(r);
    *ids = out;
    return 0;
}

/* ======================== list ======================== */

/* " AND <cond>" for each comparison of a list's where (the WHERE
 * context_id = $1 is the caller's), its values pushed to p in order. */
typedef struct where_sql {
    rh_buf    *b;
    pg_params *p;
} where_sql;

static int where_term(void *u, const store_field *f, const char *op, json_t *v)
{
    where_sql *w = u;

    if (v == NULL) {
        rh_buf_appendf(w->b, " AND \"%s\" %s", f->name, op);
    } else {
        pg_p_value(w->p, f->type, v);
        rh_buf_appendf(w->b, " AND \"%s\" %s $%d::%s", f->name, op, w->p->n,
                       pg_cast_of(f->type));
    }
    return 0;
}

/* Run SELECT <what> FROM m WHERE context ... [ORDER/LIMIT]. */
static int select_rows(pg_db *db, const store_model *m, int count, json_t *where,
                       const char *order, long limit, long offset, PGresult **res,
                       rhai_error *err)
{
    pg_params p = { 0 };
    rh_buf b;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    rh_buf_init(&b);
    pg_p_text(&p, db->h.context);
    if (count) {
        rh_buf_appendf(&b, "SELECT count(*)");
    } else {
        rh_buf_appendf(&b, "SELECT ");
        append_row_columns(&b, m);
    }
    rh_buf_appendf(&b, " FROM \"%s\" WHERE \"context_id\" = $1", m->name);
    if ((rc = store__where_walk(m, where, where_term, &(where_sql){ &b, &p }, err)) != 0) {
        rh_buf_free(&b);
        pg_params_free(&p);
        return rc;
    }
    if (!count) {
        int desc = order && order[0] == '-';
        const char *name = order ? order + desc : "id";
        const store_field *f = store__column(m, name);
        if (f == NULL || f->type == STORE_T_LIST) {
            rh_buf_free(&b);
            pg_params_free(&p);
            return rh_error_set(err, RHAI_EINVAL, "order: %s has no sortable field '%s'",
                                m->name, name);
        }
        /* NULLs first ascending, last descending: SQLite's order */
        pg_p_int(&p, limit);
        pg_p_int(&p, offset);
        rh_buf_appendf(&b, " ORDER BY \"%s\" %s, \"id\" LIMIT $%d::bigint OFFSET $%d::bigint",
                       f->name, desc ? "DESC NULLS LAST" : "ASC NULLS FIRST", p.n - 1, p.n);
    }
    if (b.data == NULL || p.oom)
        return pg_oom(&b, &p, err);
    rc = pg_run(db->ps, db, b.data, &p, res, err);
    rh_buf_free(&b);
    return rc;
}

int pg_list(store_db *hdb, const store_model *m, json_t *where, const char *order, long limit,
            long offset, json_t **rows, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    PGresult *r = NULL;
    json_t *arr;
    int rc;

    *rows = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "limit %ld is not in 1..%d", limit,
                            STORE_LIST_MAX);
    if (offset < 0)
        return rh_error_set(err, RHAI_EINVAL, "offset %ld is negative", offset);
    if ((rc = select_rows(db, m, 0, where, order, limit, offset, &r, err)) != 0)
        return rc;
    if ((arr = json_array()) == NULL) {
        PQclear(r);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = pg_row_object(r, i, m);
        if (row != NULL && i < PG_ROWS_MAX / 2)
            rows_put(db, m, row, r, i, CTID_COL(m));   /* a list, then updates */
        if (row == NULL || json_array_append_new(arr, row) != 0) {
            PQclear(r);
            json_decref(arr);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    *rows = arr;
    return 0;
}

int pg_count(store_db *hdb, const store_model *m, json_t *where, int64_t *n, rhai_error *err)
{
    PGresult *r = NULL;
    int rc;

    if ((rc = select_rows((pg_db *)hdb, m, 1, where, NULL, 0, 0, &r, err)) != 0)
        return rc;
    *n = pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}
