/* pg.c -- the postgres backend: the store, its contexts, transactions,
 * the ledger and the backend's table; the connection and the statement
 * queue they run through are pg_conn.c's, migrations pg_migrate.c's.
 *
 * Layout: one set of tables per database shared by every context, every
 * row carrying its context_id, primary keys (context_id, id); the ids of a
 * model come from one identity sequence, so they ascend within a context
 * but are not dense there. rhai_contexts lists the contexts; rhai_meta
 * records the schema hash the tables were made for.
 *
 * Connection: one per store, opened on first use and kept; after it breaks
 * it is opened again on the next use outside a transaction (inside one the
 * transaction fails: RHAI_ESTORE). The first round trip of a transaction
 * is sent again on a fresh connection when the old one turns out dead,
 * since nothing of it can have committed. Every transaction is
 * SERIALIZABLE; a serialization failure is RHAI_ESTORE (the DSL makes the
 * task transient and rhaid runs it again; the ledger keeps effects once).
 *
 * One connection runs one transaction at a time: while a context of the
 * store is in a transaction, the store's other contexts wait (RHAI_ESTATE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "pg_int.h"

#define PG_PROBE_TIMEOUT "3"
#define RH_STR_(x) #x
#define RH_STR(x) RH_STR_(x)

/* ======================== store ======================== */

static int pg_create(const char *location, const store_schema *schema, store **out,
                     rhai_error *err)
{
    pg_store *ps;

    *out = NULL;
    if (location == NULL || *location == '\0')
        return rh_error_set(err, RHAI_EINVAL, "no postgres url");
    if ((ps = rh_calloc(1, sizeof *ps)) == NULL ||
        (ps->conninfo = rh_strdup(location)) == NULL) {
        rh_free(ps);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    ps->h.be = &store__postgres;
    ps->h.schema = schema;
    *out = &ps->h;
    return 0;
}

static void db_free(pg_db *db)
{
    if (db == NULL)
        return;
    pg_authz_clear(db);
    pg_rows_clear(db);
    rh_free(db);
}

static void pg_rollback(store_db *hdb);

static void pg_destroy(store *s)
{
    pg_store *ps = (pg_store *)s;

    if (ps == NULL)
        return;
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        if (ps->open[i])
            pg_rollback(&ps->open[i]->h);
        db_free(ps->open[i]);
    }
    pg_queue_clear(ps);
    rh_free(ps->q);
    pg_conn_close(ps);
    sodium_memzero(ps->conninfo, strlen(ps->conninfo));    /* it may hold a password */
    rh_free(ps->conninfo);
    rh_free(ps);
}

/* A fresh connection (short timeout) answering SELECT 1. */
static int pg_probe(store *s, rhai_error *err)
{
    pg_store *ps = (pg_store *)s;
    PGconn *c = pg_conn_open(ps, PG_PROBE_TIMEOUT, err);
    PGresult *r;
    int rc = 0;

    if (c == NULL)
        return RHAI_ESTORE;
    r = PQexec(c, "SELECT 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_result_error(ps, NULL, r, err);
    PQclear(r);
    PQfinish(c);
    return rc;
}

int pg_db_ready(pg_db *db, rhai_error *err)
{
    pg_store *ps = db->ps;

    if (db->in_tx) {
        if (db->broken)
            return rh_error_set(err, RHAI_ESTORE, "postgres %s: the connection broke; the "
                                "transaction is lost", db->where);
        return 0;
    }
    if (ps->tx && ps->tx != db)
        return rh_error_set(err, RHAI_ESTATE, "postgres %s: the connection is in a "
                            "transaction of context %s", db->where, ps->tx->h.context);
    if (pg_conn_ensure(ps, err) != 0)
        return RHAI_ESTORE;
    if (db->need_ctx) {
        pg_params p = { 0 };
        pg_p_text(&p, db->h.context);
        pg_p_int(&p, rh_now_ms());
        if (pg_queue(ps, "INSERT INTO rhai_contexts (id, created_at) VALUES ($1, $2) ON "
                     "CONFLICT (id) DO NOTHING", &p, NULL, 0, PG_K_OTHER, err) != 0)
            return RHAI_ENOMEM;
        db->need_ctx = 0;
        db->ctx_in_tx = ps->tx == db;  /* a rollback undoes it: made again after */
    }
    return 0;
}

/* Ready for a store-level statement: connected, no transaction open. */
static int store_ready(pg_store *ps, int writes, rhai_error *err)
{
    if (ps->tx) {
        if (writes)
            return rh_error_set(err, RHAI_ESTATE, "postgres %s: the connection is in a "
                                "transaction of context %s", pg_where(ps), ps->tx->h.context);
        if (ps->tx->broken)
            return rh_error_set(err, RHAI_ESTORE, "postgres %s: the connection broke",
                                pg_where(ps));
        return 0;
    }
    return pg_conn_ensure(ps, err);
}

/* The cached context 'ctx', or NULL. */
static pg_db *cached(pg_store *ps, const char *ctx)
{
    for (int i = 0; i < STORE_OPEN_MAX; i++)
        if (ps->open[i] && strcmp(ps->open[i]->h.context, ctx) == 0)
            return ps->open[i];
    return NULL;
}

/* Opening a context costs no round trip: its rhai_contexts row (a context
 * opened is a context that exists, as a SQLite file opened is) is queued
 * with its first statement. The tables are the store's, migrated when the
 * connection is first made. */
static int pg_open(store *s, const char *ctx, store_db **out, rhai_error *err)
{
    pg_store *ps = (pg_store *)s;
    pg_db *db;
    int victim = -1;

    *out = NULL;
    if (!rh_context_id_valid(ctx))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id (" RH_CONTEXT_RULE ")");
    ps->tick++;
    if ((db = cached(ps, ctx)) != NULL) {
        db->used = ps->tick;
        *out = &db->h;
        return 0;
    }
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        pg_db *d = ps->open[i];
        if (d == NULL) {
            victim = i;
            break;
        }
        if (!d->in_tx && (victim < 0 || d->used < ps->open[victim]->used))
            victim = i;
    }
    if (victim < 0)
        return rh_error_set(err, RHAI_ESTATE, "%d contexts in open transactions",
                            STORE_OPEN_MAX);
    if (ps->tx == NULL && pg_conn_ensure(ps, err) != 0)
        return RHAI_ESTORE;
    if ((db = rh_calloc(1, sizeof *db)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    db->h.be = &store__postgres;
    db->h.st = s;
    snprintf(db->h.context, sizeof db->h.context, "%s", ctx);
    snprintf(db->where, sizeof db->where, "%s context %s", pg_where(ps), ctx);
    db->ps = ps;
    db->need_ctx = 1;
    db->used = ps->tick;
    db_free(ps->open[victim]);
    ps->open[victim] = db;
    *out = &db->h;
    return 0;
}

static const char *pg_db_where(const store_db *hdb)
{
    return ((const pg_db *)hdb)->where;
}

/* ======================== contexts ======================== */

static int pg_context_exists(store *s, const char *ctx)
{
    pg_store *ps = (pg_store *)s;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    /* No answer (the server down) counts as "exists": the caller then
     * opens the context and gets the store's error (RHAI_ESTORE, which a
     * task takes as transient) instead of "unknown context" for good. */
    if (!rh_context_id_valid(ctx))
        return 0;
    if (store_ready(ps, 0, NULL) != 0)
        return 1;
    pg_p_text(&p, ctx);
    if (pg_run_read(ps, ps->tx, "SELECT 1 FROM rhai_contexts WHERE id = $1", &p, &r,
                    NULL) != 0)
        return 1;
    rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

static int pg_context_create(store *s, const char *ctx, const char *owner, rhai_error *err)
{
    pg_store *ps = (pg_store *)s;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int64_t now = rh_now_ms();
    int rc;

    if (!rh_context_id_valid(ctx))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id '%.100s'", ctx);
    if ((rc = store__owner_check(owner, err)) != 0 || (rc = store_ready(ps, 1, err)) != 0)
        return rc;
    pg_p_text(&p, ctx);
    pg_p_text(&p, owner);
    pg_p_int(&p, now);
    /* one statement: of two concurrent creators exactly one inserts */
    if ((rc = pg_run(ps, NULL, "WITH c AS (INSERT INTO rhai_contexts (id, created_at) VALUES "
                     "($1, $3) ON CONFLICT (id) DO NOTHING RETURNING id) INSERT INTO "
                     "rhai_owners (context_id, caller, added_at) SELECT id, $2, $3 FROM c",
                     &p, &r, err)) != 0)
        return rc;
    rc = pg_changed_rows(r) == 1 ? 0
         : rh_error_set(err, RHAI_ESTATE, "context '%s' exists already", ctx);
    PQclear(r);
    return rc;
}

static int pg_context_drop(store *s, const char *ctx, rhai_error *err)
{
    pg_store *ps = (pg_store *)s;
    const store_schema *sc = s->schema;
    static const char *const tables[] = { "rhai_ledger", "rhai_owners", "rhai_grants",
                                          "rhai_audit", "rhai_audit_rate", "rhai_outbox",
                                          "rhai_subs" };
    const size_t ntables = sizeof tables / sizeof tables[0];
    char sql[256];
    PGresult *r = NULL;
    pg_params p = { 0 };
    pg_db *db;
    int rc;

    if (!rh_context_id_valid(ctx))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id '%.100s'", ctx);
    if ((rc = store_ready(ps, 1, err)) != 0)
        return rc;
    rc = pg_queue(ps, "BEGIN", NULL, NULL, 0, PG_K_OTHER, err);
    pg_p_text(&p, ctx);
    if (rc == 0)
        rc = pg_queue(ps, "DELETE FROM rhai_contexts WHERE id = $1", &p, &r, 0, PG_K_OTHER,
                      err);
    for (size_t i = 0; rc == 0 && i < ntables + sc->nmodels; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE context_id = $1",
                 i < ntables ? tables[i] : sc->models[i - ntables].name);
        pg_p_text(&p, ctx);
        rc = pg_queue(ps, sql, &p, NULL, 0, PG_K_OTHER, err);
    }
    if (rc == 0 && (rc = pg_run_const(ps, NULL, "COMMIT", err)) == 0 && pg_changed_rows(r) == 0)
        rc = rh_error_set(err, RHAI_ENOTFOUND, "no context '%s'", ctx);
    pg_queue_clear(ps);
    pg_params_free(&p);
    PQclear(r);
    if (rc != 0 && ps->conn && PQtransactionStatus(ps->conn) != PQTRANS_IDLE)
        (void)pg_run_const(ps, NULL, "ROLLBACK", NULL);
    /* a cached handle would make the context again on its next use */
    if ((db = cached(ps, ctx)) != NULL && !db->in_tx)
        db->need_ctx = 0;
    return rc;
}

static int pg_context_list(store *s, json_t **ids, rhai_error *err)
{
    pg_store *ps = (pg_store *)s;
    PGresult *r = NULL;
    json_t *a;
    int rc;

    *ids = NULL;
    if ((rc = store_ready(ps, 0, err)) != 0 ||
        (rc = pg_run_read(ps, ps->tx, "SELECT id FROM rhai_contexts ORDER BY id", NULL, &r,
                          err)) != 0)
        return rc;
    if ((a = json_array()) == NULL) {
        PQclear(r);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (json_array_append_new(a, json_string(PQgetvalue(r, i, 0))) != 0) {
            PQclear(r);
            json_decref(a);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    PQclear(r);
    *ids = a;
    return 0;
}

/* ======================== transactions ======================== */

static void tx_end(pg_db *db, int committed)
{
    if (db->ctx_in_tx && !committed)
        db->need_ctx = 1;
    db->ctx_in_tx = 0;
    db->in_tx = db->in_sp = db->on_server = db->broken = 0;
    db->changes = db->sp_base = 0;
    pg_authz_clear(db);
    pg_rows_clear(db);
    if (db->ps->tx == db)
        db->ps->tx = NULL;
}

static int pg_begin(store_db *hdb, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_store *ps = db->ps;
    int rc;
    int ctx_row = db->need_ctx;

    if (db->in_tx)
        return rh_error_set(err, RHAI_ESTATE, "%s: already in a transaction", db->h.context);
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    /* BEGIN first in the queue (the need_ctx row may be queued: it joins) */
    if ((rc = pg_queue(ps, "BEGIN ISOLATION LEVEL SERIALIZABLE", NULL, NULL, 0, PG_K_BEGIN,
                       err)) != 0)
        return rc;
    if (ps->nq > 1) {           /* move BEGIN before what pg_db_ready queued */
        pg_stmt b = ps->q[ps->nq - 1];
        memmove(&ps->q[1], &ps->q[0], (ps->nq - 1) * sizeof *ps->q);
        ps->q[0] = b;
    }
    /* wait for another writer's row lock no longer than SQLite waits for
     * its file lock (SET LOCAL: this transaction only) */
    if ((rc = pg_queue(ps, "SET LOCAL lock_timeout = " RH_STR(STORE_BUSY_MS), NULL, NULL, 0,
                       PG_K_OTHER, err)) != 0) {
        pg_queue_clear(ps);
        return rc;
    }
    ps->tx = db;
    db->begin_nq = ps->nq;
    db->ctx_in_tx = ctx_row && !db->need_ctx;   /* its rhai_contexts row, queued above */
    db->in_tx = 1;
    db->in_sp = db->on_server = db->broken = 0;
    db->changes = db->sp_base = 0;
    pg_authz_clear(db);
    return 0;
}

static void pg_rollback(store_db *hdb)
{
    pg_db *db = (pg_db *)hdb;
    pg_store *ps;

    if (db == NULL || !db->in_tx)
        return;
    ps = db->ps;
    if (!db->on_server || db->broken || ps->conn == NULL) {
        pg_queue_clear(ps);            /* nothing of it reached the server */
    } else {
        (void)pg_queue(ps, "ROLLBACK", NULL, NULL, 0, PG_K_OTHER, NULL);
        (void)pg_flush(ps, NULL, NULL);
    }
    tx_end(db, 0);
}

static int pg_commit(store_db *hdb, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_store *ps = db->ps;
    PGresult *r = NULL;
    int rc;

    if (!db->in_tx)
        return rh_error_set(err, RHAI_ESTATE, "%s: no transaction", db->h.context);
    if (db->broken) {
        rc = pg_db_ready(db, err);
        pg_rollback(hdb);
        return rc;
    }
    if (!db->on_server && ps->nq == db->begin_nq) {    /* nothing but begin's */
        pg_queue_clear(ps);
        tx_end(db, 0);
        return 0;
    }
    if ((rc = pg_queue(ps, "COMMIT", NULL, &r, 0, PG_K_COMMIT, err)) == 0)
        rc = pg_flush(ps, db, err);
    /* COMMIT of a transaction an error aborted answers ROLLBACK */
    if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = rh_error_set(err, RHAI_ESTORE, "postgres %s: the transaction failed earlier "
                          "and was rolled back", db->where);
    PQclear(r);
    if (rc != 0 && ps->conn && PQtransactionStatus(ps->conn) != PQTRANS_IDLE) {
        (void)pg_queue(ps, "ROLLBACK", NULL, NULL, 0, PG_K_OTHER, NULL);
        (void)pg_flush(ps, NULL, NULL);
    }
    tx_end(db, rc == 0);
    return rc;
}

static int pg_in_tx(const store_db *hdb)
{
    return ((const pg_db *)hdb)->in_tx;
}

static int pg_savepoint(store_db *hdb, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    int rc;

    if (!db->in_tx || db->in_sp)
        return rh_error_set(err, RHAI_ESTATE, "%s: savepoint outside a transaction",
                            db->h.context);
    if ((rc = pg_db_ready(db, err)) != 0 ||
        (rc = pg_queue(db->ps, "SAVEPOINT dsl", NULL, NULL, 0, PG_K_OTHER, err)) != 0)
        return rc;
    db->in_sp = 1;
    db->sp_base = db->changes;
    return 0;
}

static int pg_release(store_db *hdb, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;

    if (!db->in_sp)
        return rh_error_set(err, RHAI_ESTATE, "%s: no savepoint", db->h.context);
    db->in_sp = 0;
    if (pg_db_ready(db, err) != 0)
        return RHAI_ESTORE;
    return pg_queue(db->ps, "RELEASE dsl", NULL, NULL, 0, PG_K_OTHER, err);
}

static void pg_rollback_to(store_db *hdb)
{
    pg_db *db = (pg_db *)hdb;

    if (!db->in_sp)
        return;
    db->in_sp = 0;
    db->changes = db->sp_base;      /* the rows changed since are undone */
    pg_authz_clear(db);             /* grants changed since are undone too */
    pg_rows_clear(db);              /* and rows */
    if (db->broken)
        return;
    (void)pg_queue(db->ps, "ROLLBACK TO dsl", NULL, NULL, 0, PG_K_OTHER, NULL);
    (void)pg_queue(db->ps, "RELEASE dsl", NULL, NULL, 0, PG_K_OTHER, NULL);
}

static int64_t pg_tx_changes(const store_db *hdb)
{
    const pg_db *db = (const pg_db *)hdb;

    return db->in_tx ? db->changes : 0;
}

/* ======================== ledger ======================== */

/* Run a read on its own, before the open transaction's BEGIN when that
 * has not reached the server yet (its queue is kept for the next
 * statement), else inside it. The ledger's lookup goes so: read inside a
 * SERIALIZABLE transaction, the miss would take a predicate lock on the
 * ledger's index page, and every concurrent task of the context writing
 * its own row into that page would then conflict with it. It needs no
 * such lock: the ledger's primary key lets only one of two runs of a task
 * commit its row (the other fails, RHAI_ESTORE, is run again and finds
 * the row). */
static int outside_tx(pg_db *db, const char *sql, pg_params *p, PGresult **r,
                      rhai_error *err)
{
    pg_store *ps = db->ps;
    pg_stmt *q = ps->q;
    size_t nq = ps->nq, capq = ps->capq;
    int rc;

    if (!db->in_tx || db->on_server || db->broken)
        return pg_run(ps, db, sql, p, r, err);
    ps->q = NULL;
    ps->nq = ps->capq = 0;
    ps->tx = NULL;                  /* a read of its own, outside */
    rc = pg_run_read(ps, NULL, sql, p, r, err);
    ps->tx = db;
    pg_queue_clear(ps);
    rh_free(ps->q);
    ps->q = q;
    ps->nq = nq;
    ps->capq = capq;
    return rc;
}

/* Text column equals s (NULL counts as ""); a NULL column matches nothing. */
static int col_is(const PGresult *r, int col, const char *s)
{
    return !PQgetisnull(r, 0, col) && strcmp(PQgetvalue(r, 0, col), s ? s : "") == 0;
}

static int pg_ledger_get(store_db *hdb, const store_ledger_key *key, char **result,
                         rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    char hex[2 * STORE_DIGEST_LEN + 1];
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    *result = NULL;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, key->task_id);
    rc = outside_tx(db, "SELECT result, caller_id, bound_context, worker_id, "
                    "encode(digest, 'hex') FROM rhai_ledger WHERE context_id = $1 AND "
                    "task_id = $2", &p, &r, err);
    if (rc != 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return RHAI_ENOTFOUND;
    }
    store__digest_hex(key->digest, hex);
    if (!(col_is(r, 1, key->caller_id) && col_is(r, 2, db->h.context) &&
          col_is(r, 3, key->worker_id) && col_is(r, 4, hex))) {
        rc = rh_error_set(err, RHAI_ESTATE, "task id already used");
    } else {
        *result = rh_strdup(PQgetisnull(r, 0, 0) ? "null" : PQgetvalue(r, 0, 0));
        rc = *result ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    PQclear(r);
    return rc;
}

/* Queued: it goes with the COMMIT (a duplicate id fails the commit). */
static int pg_ledger_put(store_db *hdb, const store_ledger_key *key, const char *result,
                         rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    char hex[2 * STORE_DIGEST_LEN + 1];
    pg_params p = { 0 };
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    store__digest_hex(key->digest, hex);
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, key->task_id);
    pg_p_text(&p, result);
    pg_p_int(&p, rh_now_ms());
    pg_p_text(&p, key->caller_id ? key->caller_id : "");
    pg_p_text(&p, key->worker_id ? key->worker_id : "");
    pg_p_text(&p, hex);
    rc = pg_queue(db->ps, "INSERT INTO rhai_ledger (context_id, task_id, result, finished_at, "
                  "caller_id, bound_context, worker_id, digest) VALUES ($1, $2, $3, $4, $5, "
                  "$1, $6, decode($7, 'hex'))", &p, NULL, 1, PG_K_OTHER, err);
    if (rc == 0 && !db->in_tx)
        rc = pg_run(db->ps, db, "SELECT 1", NULL, NULL, err);
    return rc;
}

/* ======================== the table ======================== */

const store_backend store__postgres = {
    .name = "postgres",
    .create = pg_create,
    .destroy = pg_destroy,
    .probe = pg_probe,
    .open = pg_open,
    .db_where = pg_db_where,
    .context_exists = pg_context_exists,
    .context_create = pg_context_create,
    .context_drop = pg_context_drop,
    .context_list = pg_context_list,
    .context_info = pg_context_info,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_tx = pg_in_tx,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .tx_changes = pg_tx_changes,
    .ledger_get = pg_ledger_get,
    .ledger_put = pg_ledger_put,
    .insert = pg_insert,
    .get = pg_get,
    .update = pg_update,
    .del = pg_del,
    .list = pg_list,
    .count = pg_count,
    .ref_rows = pg_ref_rows,
    .owner_add = pg_owner_add,
    .owner_remove = pg_owner_remove,
    .owners = pg_owners,
    .authorize = pg_authorize,
    .grant_add = pg_grant_add,
    .grant_revoke = pg_grant_revoke,
    .grant_list = pg_grant_list,
    .audit_put = pg_audit_put,
    .audit_denial = pg_audit_denial,
    .audit_has = pg_audit_has,
    .audit_query = pg_audit_query,
    .export_rows = pg_export_rows,
    .import_row = pg_import_row,
    .import_end = pg_import_end,
    .outbox_put = pg_outbox_put,
    .outbox_pending = pg_outbox_pending,
    .outbox_mark = pg_outbox_mark,
    .outbox_stats = pg_outbox_stats,
    .outbox_prune = pg_outbox_prune,
    .sub_put = pg_sub_put,
    .sub_get = pg_sub_get,
    .sub_list = pg_sub_list,
    .sub_set_paused = pg_sub_set_paused,
    .sub_del = pg_sub_del,
};
