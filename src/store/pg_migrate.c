/* pg_migrate.c -- postgres backend: bring a database's tables up to the
 * compiled schema (the same store_schema the sqlite backend migrates
 * from), once per store when its connection is first made: CREATE ... IF
 * NOT EXISTS and ADD COLUMN IF NOT EXISTS under a transaction-scoped
 * advisory lock, so that executors of many hosts migrate one after
 * another. Add-only, as on SQLite. */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"

static const char *const meta_sql[] = {
    "CREATE TABLE IF NOT EXISTS rhai_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rhai_contexts (id TEXT COLLATE \"C\" PRIMARY KEY, "
    "created_at BIGINT NOT NULL)",
    /* bound_context: the context the row was recorded for (its binding;
     * an imported row keeps the one it had) */
    "CREATE TABLE IF NOT EXISTS rhai_ledger (context_id TEXT NOT NULL, task_id TEXT COLLATE "
    "\"C\" NOT NULL, result TEXT NOT NULL, finished_at BIGINT NOT NULL, caller_id TEXT, "
    "bound_context TEXT, worker_id TEXT, digest BYTEA, PRIMARY KEY (context_id, task_id))",
    "CREATE TABLE IF NOT EXISTS rhai_owners (context_id TEXT NOT NULL, caller TEXT COLLATE "
    "\"C\" NOT NULL, added_at BIGINT NOT NULL, PRIMARY KEY (context_id, caller))",
    "CREATE TABLE IF NOT EXISTS rhai_grants (context_id TEXT NOT NULL, id BIGINT GENERATED "
    "BY DEFAULT AS IDENTITY, caller TEXT NOT NULL, model TEXT NOT NULL, ops INTEGER NOT "
    "NULL, object_id BIGINT, expires_at BIGINT, granted_by TEXT, created_at BIGINT NOT "
    "NULL, PRIMARY KEY (context_id, id))",
    "CREATE INDEX IF NOT EXISTS rhai_grants__caller ON rhai_grants (context_id, caller, "
    "model)",
    "CREATE TABLE IF NOT EXISTS rhai_audit (context_id TEXT NOT NULL, id BIGINT GENERATED "
    "BY DEFAULT AS IDENTITY, at BIGINT NOT NULL, task_id TEXT, caller TEXT NOT NULL, op "
    "TEXT NOT NULL, model TEXT NOT NULL, object_id BIGINT, decision TEXT NOT NULL, reason "
    "TEXT, PRIMARY KEY (context_id, id))",
    "CREATE INDEX IF NOT EXISTS rhai_audit__caller ON rhai_audit (context_id, caller)",
    "CREATE INDEX IF NOT EXISTS rhai_audit__task ON rhai_audit (context_id, task_id)",
    "CREATE TABLE IF NOT EXISTS rhai_audit_rate (context_id TEXT NOT NULL, minute BIGINT "
    "NOT NULL, scope INTEGER NOT NULL, caller TEXT NOT NULL, rows BIGINT NOT NULL, "
    "counted BIGINT NOT NULL, counter_id BIGINT, PRIMARY KEY (context_id, minute, scope, "
    "caller))",
    /* events (pg_events.c): the outbox and the subscriptions */
    "CREATE TABLE IF NOT EXISTS rhai_outbox (context_id TEXT NOT NULL, id TEXT COLLATE \"C\" "
    "NOT NULL, name TEXT NOT NULL, payload TEXT NOT NULL, task_id TEXT NOT NULL, seq BIGINT "
    "NOT NULL, caller_id TEXT, trace_id TEXT, depth BIGINT NOT NULL, created_at BIGINT NOT "
    "NULL, subs TEXT NOT NULL, relayed_at BIGINT, PRIMARY KEY (context_id, id))",
    "CREATE INDEX IF NOT EXISTS rhai_outbox__task ON rhai_outbox (context_id, task_id, seq)",
    "CREATE INDEX IF NOT EXISTS rhai_outbox__pending ON rhai_outbox (context_id, created_at) "
    "WHERE relayed_at IS NULL",
    "CREATE INDEX IF NOT EXISTS rhai_outbox__relayed ON rhai_outbox (context_id, relayed_at) "
    "WHERE relayed_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS rhai_subs (context_id TEXT NOT NULL, name TEXT COLLATE \"C\" "
    "NOT NULL, pattern TEXT NOT NULL, worker TEXT NOT NULL, script TEXT NOT NULL, args TEXT, "
    "caller TEXT NOT NULL, created_by TEXT, paused BOOLEAN NOT NULL DEFAULT false, "
    "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (context_id, name))",
};

const char *pg_sql_type(const store_field *f)
{
    switch (f->type) {
    case STORE_T_NUMBER:
        return "DOUBLE PRECISION";
    case STORE_T_BOOL:
        return "BOOLEAN";
    case STORE_T_STRING:
        return "TEXT COLLATE \"C\"";     /* compared and sorted bytewise, as SQLite */
    case STORE_T_LIST:
        return "TEXT";
    default:
        return "BIGINT";
    }
}

static void version_of(const pg_store *ps, char *buf, size_t n)
{
    snprintf(buf, n, "%s+" PG_INTERNAL_VERSION, ps->h.schema->hash);
}

/* 1 when the database's tables are made for our schema, 0 when not. */
static int hash_matches(pg_store *ps, rhai_error *err)
{
    PGresult *r = NULL;
    pg_params p = { 0 };
    char want[256];
    int rc;

    if ((rc = pg_run(ps, NULL, "SELECT to_regclass('rhai_meta') IS NOT NULL", NULL, &r,
                     err)) != 0)
        return rc;
    rc = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!rc)
        return 0;
    version_of(ps, want, sizeof want);
    pg_p_text(&p, want);
    if ((rc = pg_run(ps, NULL, "SELECT 1 FROM rhai_meta WHERE key = 'schema_hash' AND "
                     "value = $1", &p, &r, err)) != 0)
        return rc;
    rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

/* Queue the DDL of one model: its table, new columns, indexes. */
static int migrate_model(pg_store *ps, const store_model *m, rhai_error *err)
{
    rh_buf b;
    int rc = 0;

    rh_buf_init(&b);
    rh_buf_appendf(&b, "CREATE TABLE IF NOT EXISTS \"%s\" (\"context_id\" TEXT NOT NULL, "
                   "\"id\" BIGINT GENERATED BY DEFAULT AS IDENTITY, \"created_at\" BIGINT "
                   "NOT NULL, \"updated_at\" BIGINT NOT NULL", m->name);
    for (size_t i = 0; i < m->nfields; i++)
        rh_buf_appendf(&b, ", \"%s\" %s", m->fields[i].name, pg_sql_type(&m->fields[i]));
    if (rh_buf_appendf(&b, ", PRIMARY KEY (\"context_id\", \"id\"))") != 0 || b.data == NULL) {
        rh_buf_free(&b);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    rc = pg_queue(ps, b.data, NULL, NULL, 0, PG_K_OTHER, err);
    for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
        const store_field *f = &m->fields[i];
        b.len = 0;
        rh_buf_appendf(&b, "ALTER TABLE \"%s\" ADD COLUMN IF NOT EXISTS \"%s\" %s", m->name,
                       f->name, pg_sql_type(f));
        rc = pg_queue(ps, b.data, NULL, NULL, 0, PG_K_OTHER, err);
        if (rc == 0 && (f->flags & STORE_F_INDEX)) {
            b.len = 0;
            rh_buf_appendf(&b, "CREATE INDEX IF NOT EXISTS \"%s__%s\" ON \"%s\" "
                           "(\"context_id\", \"%s\")", m->name, f->name, m->name, f->name);
            rc = pg_queue(ps, b.data, NULL, NULL, 0, PG_K_OTHER, err);
        }
    }
    rh_buf_free(&b);
    return rc;
}

/* Bring the database's tables up to the schema: add only (tables,
 * columns, indexes), never drop. Executors of many hosts may start at
 * once: the DDL runs in one transaction under a transaction-scoped
 * advisory lock, so they migrate one after another. */
int pg_migrate(pg_store *ps, rhai_error *err)
{
    const store_schema *s = ps->h.schema;
    char version[256];
    pg_params p = { 0 };
    int rc;

    if ((rc = hash_matches(ps, err)) != 0)
        return rc > 0 ? 0 : rc;
    version_of(ps, version, sizeof version);
    rc = pg_queue(ps, "BEGIN ISOLATION LEVEL READ COMMITTED", NULL, NULL, 0, PG_K_OTHER, err);
    if (rc == 0)
        rc = pg_queue(ps, "SELECT pg_advisory_xact_lock(7242017)", NULL, NULL, 0, PG_K_OTHER,
                      err);
    for (size_t i = 0; rc == 0 && i < sizeof meta_sql / sizeof meta_sql[0]; i++)
        rc = pg_queue(ps, meta_sql[i], NULL, NULL, 0, PG_K_OTHER, err);
    for (size_t i = 0; rc == 0 && i < s->nmodels; i++)
        rc = migrate_model(ps, &s->models[i], err);
    if (rc == 0) {
        pg_p_text(&p, version);
        rc = pg_queue(ps, "INSERT INTO rhai_meta (key, value) VALUES ('schema_hash', $1) "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", &p, NULL, 0,
                      PG_K_OTHER, err);
    }
    if (rc == 0)
        rc = pg_run_const(ps, NULL, "COMMIT", err);
    if (rc != 0) {
        pg_queue_clear(ps);
        if (ps->conn && PQtransactionStatus(ps->conn) != PQTRANS_IDLE)
            (void)pg_run_const(ps, NULL, "ROLLBACK", NULL);
        return rc;
    }
    rh_log(RH_LOG_INFO, "event=store_migrated where=%s schema=%s", pg_where(ps), s->hash);
    return 0;
}
