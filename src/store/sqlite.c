/* sqlite.c -- the sqlite backend (store_int.h) and its contexts: open, migrate, cache, transactions and the ledger.
 *
 * Each context is one SQLite file <data_dir>/<context>.db in WAL mode with
 * a busy timeout, so executors of several rhaid instances sharing a data
 * dir serialise their writes per context. Opening a context migrates it to
 * the compiled schema (tables, new columns, indexes) unless its recorded
 * schema hash already matches. A store keeps up to STORE_OPEN_MAX contexts
 * open, evicting the least recently used one that is not in a transaction.
 * crud.c holds the per-model statements.
 *
 * The ledger makes a task's effects happen once under at-least-once
 * delivery: a task that changed rows commits them with a row (task id,
 * its submission's binding, its result). Task ids are the clients', so
 * the row answers only a redelivery of the submission it recorded, never
 * another caller, script or args that reuse the id. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

/* Prepare 'sql' on db, or RHAI_ESTORE naming the context (*st NULL). */
int sq_prep(sq_db *db, const char *sql, sqlite3_stmt **st, rhai_error *err)
{
    if (sqlite3_prepare_v2(db->db, sql, -1, st, NULL) != SQLITE_OK) {
        rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
        sqlite3_finalize(*st);
        *st = NULL;
        return RHAI_ESTORE;
    }
    return 0;
}

/* Say why the last step of st failed, finalize it: RHAI_ESTORE. */
int sq_stmt_fail(sq_db *db, sqlite3_stmt *st, rhai_error *err)
{
    rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return RHAI_ESTORE;
}

int sq_rows_json(sq_db *db, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st, void *ctx),
                 void *ctx, json_t **out, rhai_error *err)
{
    json_t *a = json_array();
    int rc = SQLITE_ROW;

    *out = NULL;
    while (a && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *e = row(st, ctx);
        if (e == NULL || json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    if (a == NULL) {
        sqlite3_finalize(st);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return sq_stmt_fail(db, st, err);
    }
    sqlite3_finalize(st);
    *out = a;
    return 0;
}

/* ======================== store ======================== */

static int sq_create(const char *data_dir, const store_schema *schema, store **out,
                     rhai_error *err)
{
    sq_store *s;

    *out = NULL;
    if (data_dir == NULL || *data_dir == '\0' || strlen(data_dir) > STORE_PATH_MAX - 128)
        return rh_error_set(err, RHAI_EINVAL, "no usable data directory");
    if ((s = rh_calloc(1, sizeof *s)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    snprintf(s->dir, sizeof s->dir, "%s", data_dir);
    s->schema = schema;
    s->h.be = &store__sqlite;
    s->h.schema = schema;
    *out = &s->h;
    return 0;
}

static void db_close(sq_db *db)
{
    if (db == NULL)
        return;
    sq_rollback(&db->h);
    store__stmts_free(db);
    sqlite3_close(db->db);
    rh_free(db);
}

static void sq_destroy(store *hs)
{
    sq_store *s = SQS(hs);

    if (s == NULL)
        return;
    for (int i = 0; i < STORE_OPEN_MAX; i++)
        db_close(s->open[i]);
    rh_free(s);
}

static const char *sq_db_where(const store_db *hdb)
{
    return ((const sq_db *)hdb)->path;
}

/* mkdir -p for the data directory. */
int store__make_dir(const char *dir, rhai_error *err)
{
    char p[STORE_PATH_MAX];
    size_t n = strlen(dir);

    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                return rh_error_set(err, RHAI_EIO, "data dir %s: %s", p, strerror(errno));
            p[i] = c;
        }
    }
    return 0;
}

/* Run SQL text made by us (no parameters). */
int store__exec(sq_db *db, const char *sql, rhai_error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context,
                     msg ? msg : sqlite3_errmsg(db->db));
        sqlite3_free(msg);
        return RHAI_ESTORE;
    }
    return 0;
}

static int db_open(sq_store *s, const char *ctx, sq_db **out, rhai_error *err)
{
    sq_db *db = rh_calloc(1, sizeof *db);
    int rc;

    if (db == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    db->st = s;
    db->h.be = &store__sqlite;
    db->h.st = &s->h;
    snprintf(db->context, sizeof db->context, "%s", ctx);
    snprintf(db->h.context, sizeof db->h.context, "%s", ctx);
    snprintf(db->path, sizeof db->path, "%s/%s.db", s->dir, ctx);
    if ((rc = store__make_dir(s->dir, err)) != 0) {
        rh_free(db);
        return rc;
    }
    if (sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rh_error_set(err, RHAI_ESTORE, "open %s: %s", db->path,
                     db->db ? sqlite3_errmsg(db->db) : "out of memory");
        sqlite3_close(db->db);
        rh_free(db);
        return RHAI_ESTORE;
    }
    sqlite3_busy_timeout(db->db, STORE_BUSY_MS);
    /* synchronous=FULL: a committed task (and its ledger row) survives a
     * power loss; the ledger is what makes redelivery safe.
     * temp_store=MEMORY: statement journals past 64 KiB, sorts and
     * transient indexes stay in memory instead of files SQLite would open
     * in /tmp, which a confined executor may not touch (Landlock: only the
     * data dir); their size is bounded by the executor's memory limit. */
    if ((rc = store__exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA temp_store=MEMORY;", err)) != 0 ||
        (rc = store__migrate(db, err)) != 0 ||
        (rc = store__stmts_init(db, err)) != 0) {
        db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int sq_open(store *hs, const char *context_id, store_db **out, rhai_error *err)
{
    sq_store *s = SQS(hs);
    int victim = -1;
    int rc;

    *out = NULL;
    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id (" RH_CONTEXT_RULE ")");
    s->tick++;
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        sq_db *db = s->open[i];
        if (db && strcmp(db->context, context_id) == 0) {
            /* SQLite opens a file it cannot write (its mode, or its dir's,
             * denied it then) read-only, and that connection stays so for
             * good: open it again, so that a data dir made writable again
             * is written again instead of failing every write until the
             * process ends. Never inside a transaction. */
            if (!db->in_tx && sqlite3_db_readonly(db->db, "main") == 1) {
                db_close(db);
                s->open[i] = NULL;
                break;
            }
            db->used = s->tick;
            *out = &db->h;
            return 0;
        }
    }
    /* A free slot, else the least recently used context not in a
     * transaction. */
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        sq_db *db = s->open[i];
        if (db == NULL) {
            victim = i;
            break;
        }
        if (!db->in_tx && (victim < 0 || db->used < s->open[victim]->used))
            victim = i;
    }
    if (victim < 0)
        return rh_error_set(err, RHAI_ESTATE, "%d contexts in open transactions",
                            STORE_OPEN_MAX);
    db_close(s->open[victim]);
    s->open[victim] = NULL;
    if ((rc = db_open(s, context_id, &s->open[victim], err)) != 0)
        return rc;
    s->open[victim]->used = s->tick;
    *out = &s->open[victim]->h;
    return 0;
}

/* ======================== transactions ======================== */

static int step_cached(sq_db *db, int which, rhai_error *err)
{
    sqlite3_stmt *st = db->tx[which];
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
    return 0;
}

int sq_begin(store_db *hdb, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    int rc;

    if (db->in_tx)
        return rh_error_set(err, RHAI_ESTATE, "%s: already in a transaction", db->context);
    if ((rc = step_cached(db, TX_BEGIN, err)) == 0) {
        db->in_tx = 1;
        db->tx_base = sqlite3_total_changes64(db->db);
        db->tx_undone = 0;
    }
    return rc;
}

int sq_commit(store_db *hdb, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    int rc;

    if (!db->in_tx)
        return rh_error_set(err, RHAI_ESTATE, "%s: no transaction", db->context);
    rc = step_cached(db, TX_COMMIT, err);
    if (rc != 0)
        sq_rollback(&db->h);
    db->in_tx = 0;
    db->in_sp = 0;
    return rc;
}

void sq_rollback(store_db *hdb)
{
    sq_db *db = (sq_db *)hdb;
    if (db == NULL || !db->in_tx)
        return;
    if (sqlite3_get_autocommit(db->db) == 0)
        (void)step_cached(db, TX_ROLLBACK, NULL);
    db->in_tx = 0;
    db->in_sp = 0;
}

int sq_in_tx(const store_db *hdb)
{
    const sq_db *db = (const sq_db *)hdb;
    return db->in_tx;
}

int sq_savepoint(store_db *hdb, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    int rc;

    if (!db->in_tx || db->in_sp)
        return rh_error_set(err, RHAI_ESTATE, "%s: savepoint outside a transaction",
                            db->context);
    if ((rc = step_cached(db, TX_SAVEPOINT, err)) == 0) {
        db->in_sp = 1;
        db->sp_base = sqlite3_total_changes64(db->db);
    }
    return rc;
}

int sq_release(store_db *hdb, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    if (!db->in_sp)
        return rh_error_set(err, RHAI_ESTATE, "%s: no savepoint", db->context);
    db->in_sp = 0;
    return step_cached(db, TX_RELEASE, err);
}

void sq_rollback_to(store_db *hdb)
{
    sq_db *db = (sq_db *)hdb;
    if (!db->in_sp)
        return;
    /* the rows changed since the savepoint are undone: not the task's */
    db->tx_undone += sqlite3_total_changes64(db->db) - db->sp_base;
    (void)step_cached(db, TX_ROLLBACK_TO, NULL);
    (void)step_cached(db, TX_RELEASE, NULL);
    db->in_sp = 0;
}

int64_t sq_tx_changes(const store_db *hdb)
{
    const sq_db *db = (const sq_db *)hdb;
    if (!db->in_tx)
        return 0;
    return sqlite3_total_changes64(db->db) - db->tx_base - db->tx_undone;
}

/* ======================== ledger ======================== */

/* Column 'col' of the row at 'st' equals 's' (text, NULL counts as ""). */
static int col_is(sqlite3_stmt *st, int col, const char *s)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    return t != NULL && strcmp(t, s ? s : "") == 0;
}

int sq_ledger_get(store_db *hdb, const store_ledger_key *key, char **result,
                     rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = db->tx[TX_LEDGER_GET];
    int rc;

    *result = NULL;
    sqlite3_bind_text(st, 1, key->task_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        /* a row of before the binding (NULL columns) matches nothing */
        int same = col_is(st, 1, key->caller_id) && col_is(st, 2, db->context) &&
                   col_is(st, 3, key->worker_id) &&
                   sqlite3_column_bytes(st, 4) == STORE_DIGEST_LEN &&
                   memcmp(sqlite3_column_blob(st, 4), key->digest, STORE_DIGEST_LEN) == 0;
        if (!same) {
            rc = rh_error_set(err, RHAI_ESTATE, "task id already used");
        } else {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            *result = rh_strdup(t ? t : "null");
            rc = *result ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    } else if (rc == SQLITE_DONE) {
        rc = RHAI_ENOTFOUND;
    } else {
        rc = rh_error_set(err, RHAI_ESTORE, "ledger: %s", sqlite3_errmsg(db->db));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_ledger_put(store_db *hdb, const store_ledger_key *key, const char *result,
                     rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = db->tx[TX_LEDGER_PUT];
    int rc = 0;

    sqlite3_bind_text(st, 1, key->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, result, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rh_now_ms());
    sqlite3_bind_text(st, 4, key->caller_id ? key->caller_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, db->context, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, key->worker_id ? key->worker_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, key->digest, STORE_DIGEST_LEN, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = rh_error_set(err, RHAI_ESTORE, "ledger: %s", sqlite3_errmsg(db->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ======================== contexts as files ======================== */

/* The data dir exists (made when missing) and this process may write it. */
static int sq_probe(store *hs, rhai_error *err)
{
    sq_store *s = SQS(hs);
    int rc;

    if ((rc = store__make_dir(s->dir, err)) != 0)
        return rc;
    if (access(s->dir, W_OK | X_OK) != 0)
        return rh_error_set(err, RHAI_EIO, "data dir %s: %s", s->dir, strerror(errno));
    return 0;
}

/* Close the context if open, then remove its file and SQLite's side files. */
static int sq_context_drop(store *hs, const char *context_id, rhai_error *err)
{
    static const char *const sfx[] = { "-wal", "-shm", "-journal" };
    sq_store *s = SQS(hs);
    char path[STORE_PATH_MAX + STORE_CONTEXT_MAX + 16];

    for (int i = 0; i < STORE_OPEN_MAX; i++)
        if (s->open[i] && strcmp(s->open[i]->context, context_id) == 0) {
            db_close(s->open[i]);
            s->open[i] = NULL;
        }
    snprintf(path, sizeof path, "%s/%s.db", s->dir, context_id);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return rh_error_set(err, RHAI_ENOTFOUND, "no context '%s'", context_id);
        return rh_error_set(err, RHAI_EIO, "%s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        snprintf(path, sizeof path, "%s/%s.db%s", s->dir, context_id, sfx[i]);
        (void)unlink(path);
    }
    return 0;
}

const store_backend store__sqlite = {
    .name = "sqlite",
    .create = sq_create,
    .destroy = sq_destroy,
    .probe = sq_probe,
    .open = sq_open,
    .db_where = sq_db_where,
    .context_exists = sq_context_exists,
    .context_create = sq_context_create,
    .context_drop = sq_context_drop,
    .context_list = sq_context_list,
    .context_info = sq_context_info,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_tx = sq_in_tx,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .tx_changes = sq_tx_changes,
    .ledger_get = sq_ledger_get,
    .ledger_put = sq_ledger_put,
    .insert = sq_insert,
    .get = sq_get,
    .update = sq_update,
    .del = sq_delete,
    .list = sq_list,
    .count = sq_count,
    .ref_rows = sq_ref_rows,
    .owner_add = sq_owner_add,
    .owner_remove = sq_owner_remove,
    .owners = sq_owners,
    .authorize = sq_authorize,
    .grant_add = sq_grant_add,
    .grant_revoke = sq_grant_revoke,
    .grant_list = sq_grant_list,
    .audit_put = sq_audit_put,
    .audit_denial = sq_audit_denial,
    .audit_has = sq_audit_has,
    .audit_query = sq_audit_query,
    .export_rows = sq_export_rows,      /* sqlite_move.c */
    .import_row = sq_import_row,
    .import_end = sq_import_end,
    .outbox_put = sq_outbox_put,
    .outbox_pending = sq_outbox_pending,
    .outbox_mark = sq_outbox_mark,
    .outbox_stats = sq_outbox_stats,
    .outbox_prune = sq_outbox_prune,
    .sub_put = sq_sub_put,
    .sub_get = sq_sub_get,
    .sub_list = sq_sub_list,
    .sub_set_paused = sq_sub_set_paused,
    .sub_del = sq_sub_del,
};
