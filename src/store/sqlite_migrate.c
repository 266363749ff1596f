/* sqlite_migrate.c -- sqlite backend: bring a context database up to the compiled schema.
 *
 * Migrations only add: a new model becomes a table, a new field a column
 * (ALTER TABLE ADD COLUMN, NULL in existing rows), a new index an index.
 * Nothing is dropped or rewritten, so no data is lost; a field removed
 * from a schema keeps its column. The schema hash recorded in rhai_meta
 * makes the common case (nothing changed) one indexed read. All DDL runs
 * in one BEGIN IMMEDIATE transaction: two executors opening the same new
 * context migrate it once, one after the other. SQL text here is built
 * from schema identifiers only ([a-z][a-z0-9_]*, checked at build time),
 * always double-quoted. */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

const char *store__sql_type(store_type t)
{
    switch (t) {
    case STORE_T_NUMBER:
        return "REAL";
    case STORE_T_STRING:
    case STORE_T_LIST:
        return "TEXT";
    default:
        return "INTEGER";
    }
}

static const char meta_sql[] =
    "CREATE TABLE IF NOT EXISTS rhai_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    /* the binding columns came with acl3: ledger_migrate adds them to
     * older files, whose rows keep NULLs there and so match no task */
    "CREATE TABLE IF NOT EXISTS rhai_ledger (task_id TEXT PRIMARY KEY, "
    "result TEXT NOT NULL, finished_at INTEGER NOT NULL, caller_id TEXT, "
    "context_id TEXT, worker_id TEXT, digest BLOB);"
    /* authorization and audit (acl.c) */
    "CREATE TABLE IF NOT EXISTS rhai_owners (caller TEXT PRIMARY KEY, "
    "added_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rhai_grants (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "caller TEXT NOT NULL, model TEXT NOT NULL, ops INTEGER NOT NULL, object_id INTEGER, "
    "expires_at INTEGER, granted_by TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rhai_grants__caller ON rhai_grants (caller, model);"
    "CREATE TABLE IF NOT EXISTS rhai_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at INTEGER NOT NULL, task_id TEXT, caller TEXT NOT NULL, op TEXT NOT NULL, "
    "model TEXT NOT NULL, object_id INTEGER, decision TEXT NOT NULL, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS rhai_audit__caller ON rhai_audit (caller);"
    "CREATE INDEX IF NOT EXISTS rhai_audit__task ON rhai_audit (task_id);"
    /* denial rows added per minute, per caller (scope 0) and for the
     * whole context (scope 1, caller ''), and the counter row that takes
     * the denials past the limit (acl.c, store_audit_denial) */
    "CREATE TABLE IF NOT EXISTS rhai_audit_rate (minute INTEGER NOT NULL, "
    "scope INTEGER NOT NULL, caller TEXT NOT NULL, rows INTEGER NOT NULL, "
    "counted INTEGER NOT NULL, counter_id INTEGER, "
    "PRIMARY KEY (minute, scope, caller)) WITHOUT ROWID;"
    /* events (sqlite_events.c): the outbox emit() writes in the task's
     * transaction, relayed_at set once rhaid relayed the row; and the
     * subscriptions the rows are matched against */
    "CREATE TABLE IF NOT EXISTS rhai_outbox (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "payload TEXT NOT NULL, task_id TEXT NOT NULL, seq INTEGER NOT NULL, caller_id TEXT, "
    "trace_id TEXT, depth INTEGER NOT NULL, created_at INTEGER NOT NULL, subs TEXT NOT NULL, "
    "relayed_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS rhai_outbox__task ON rhai_outbox (task_id, seq);"
    "CREATE INDEX IF NOT EXISTS rhai_outbox__pending ON rhai_outbox (created_at) "
    "WHERE relayed_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS rhai_outbox__relayed ON rhai_outbox (relayed_at) "
    "WHERE relayed_at IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS rhai_subs (name TEXT PRIMARY KEY, pattern TEXT NOT NULL, "
    "worker TEXT NOT NULL, script TEXT NOT NULL, args TEXT, caller TEXT NOT NULL, "
    "created_by TEXT, paused INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, "
    "updated_at INTEGER NOT NULL);";

/* The recorded version: the schema's hash and the store's own tables'. */
static void version_of(sq_db *db, char *buf, size_t n)
{
    snprintf(buf, n, "%s+" STORE_INTERNAL_VERSION, db->st->schema->hash);
}

/* 1 when the recorded hash equals the schema's, 0 when not, <0 error. */
static int hash_matches(sq_db *db, rhai_error *err)
{
    sqlite3_stmt *st = NULL;
    char want[256];
    int rc;

    version_of(db, want, sizeof want);
    if (sqlite3_prepare_v2(db->db, "SELECT value FROM rhai_meta WHERE key = 'schema_hash'",
                           -1, &st, NULL) != SQLITE_OK) {
        /* no rhai_meta yet: a new file */
        sqlite3_finalize(st);
        return 0;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
    else if (rc == SQLITE_DONE)
        rc = 0;
    else
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return rc;
}

/* Does table 'm' have column 'col'? 1/0, <0 error. */
static int has_column(sq_db *db, const char *table, const char *col, rhai_error *err)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    int found = 0;
    int rc;

    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", table);
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", table, sqlite3_errmsg(db->db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 1), col) == 0)
            found = 1;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: table_info failed", table);
    return found;
}

static int migrate_model(sq_db *db, const store_model *m, rhai_error *err)
{
    rh_buf b;
    int rc;

    rh_buf_init(&b);
    rh_buf_appendf(&b, "CREATE TABLE IF NOT EXISTS \"%s\" (\"id\" INTEGER PRIMARY KEY "
                   "AUTOINCREMENT, \"created_at\" INTEGER NOT NULL, \"updated_at\" INTEGER "
                   "NOT NULL", m->name);
    for (size_t i = 0; i < m->nfields; i++)
        rh_buf_appendf(&b, ", \"%s\" %s", m->fields[i].name,
                       store__sql_type(m->fields[i].type));
    if (rh_buf_append(&b, ")", 1) != 0) {
        rh_buf_free(&b);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    rc = store__exec(db, b.data, err);
    for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
        const store_field *f = &m->fields[i];
        int has = has_column(db, m->name, f->name, err);
        if (has < 0) {
            rc = has;
            break;
        }
        b.len = 0;
        if (!has) {
            rh_buf_appendf(&b, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s", m->name, f->name,
                           store__sql_type(f->type));
            rc = store__exec(db, b.data, err);
            b.len = 0;
        }
        if (rc == 0 && (f->flags & STORE_F_INDEX)) {
            rh_buf_appendf(&b, "CREATE INDEX IF NOT EXISTS \"%s__%s\" ON \"%s\" (\"%s\")",
                           m->name, f->name, m->name, f->name);
            rc = store__exec(db, b.data, err);
        }
    }
    rh_buf_free(&b);
    return rc;
}

/* The ledger's binding columns on a file made before them. */
static int ledger_migrate(sq_db *db, rhai_error *err)
{
    static const char *const cols[][2] = {
        { "caller_id", "TEXT" }, { "context_id", "TEXT" }, { "worker_id", "TEXT" },
        { "digest", "BLOB" },
    };
    char sql[128];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof cols / sizeof cols[0]; i++) {
        int has = has_column(db, "rhai_ledger", cols[i][0], err);
        if (has < 0)
            return has;
        if (!has) {
            snprintf(sql, sizeof sql, "ALTER TABLE rhai_ledger ADD COLUMN %s %s", cols[i][0],
                     cols[i][1]);
            rc = store__exec(db, sql, err);
        }
    }
    return rc;
}

int store__migrate(sq_db *db, rhai_error *err)
{
    const store_schema *s = db->st->schema;
    sqlite3_stmt *st = NULL;
    char version[256];
    int rc;

    version_of(db, version, sizeof version);
    if ((rc = hash_matches(db, err)) != 0)
        return rc > 0 ? 0 : rc;
    if ((rc = store__exec(db, "BEGIN IMMEDIATE", err)) != 0)
        return rc;
    if ((rc = store__exec(db, meta_sql, err)) != 0)
        goto fail;
    /* Another process may have migrated while we waited for the lock. */
    if ((rc = hash_matches(db, err)) != 0) {
        if (rc < 0)
            goto fail;
        return store__exec(db, "COMMIT", err);
    }
    if ((rc = ledger_migrate(db, err)) != 0)
        goto fail;
    for (size_t i = 0; i < s->nmodels; i++)
        if ((rc = migrate_model(db, &s->models[i], err)) != 0)
            goto fail;
    if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO rhai_meta (key, value) "
                           "VALUES ('schema_hash', ?1)", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE) {
        rc = rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    if ((rc = store__exec(db, "COMMIT", err)) != 0)
        goto fail;
    rh_log(RH_LOG_INFO, "event=store_migrated context=%s schema=%s", db->context, s->hash);
    return 0;
fail:
    (void)store__exec(db, "ROLLBACK", NULL);
    return rc;
}
