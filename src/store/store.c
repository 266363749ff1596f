/* store.c -- contexts: open, migrate, cache, transactions and the ledger.
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
#include <sodium.h>

#include "store_int.h"

/* ======================== schema lookups ======================== */

const store_model *store_schema_model(const store_schema *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->nmodels; i++)
        if (strcmp(s->models[i].name, name) == 0)
            return &s->models[i];
    return NULL;
}

const store_field *store_model_field(const store_model *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->nfields; i++)
        if (strcmp(m->fields[i].name, name) == 0)
            return &m->fields[i];
    return NULL;
}

/* ======================== store ======================== */

int store_new(const char *data_dir, const store_schema *schema, store **out,
              rhai_error *err)
{
    store *s;

    *out = NULL;
    if (data_dir == NULL || *data_dir == '\0' || strlen(data_dir) > STORE_PATH_MAX - 128)
        return rh_error_set(err, RHAI_EINVAL, "no usable data directory");
    if ((s = rh_calloc(1, sizeof *s)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    snprintf(s->dir, sizeof s->dir, "%s", data_dir);
    s->schema = schema;
    *out = s;
    return 0;
}

static void db_close(store_db *db)
{
    if (db == NULL)
        return;
    store_rollback(db);
    store__stmts_free(db);
    sqlite3_close(db->db);
    rh_free(db);
}

void store_free(store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < STORE_OPEN_MAX; i++)
        db_close(s->open[i]);
    rh_free(s);
}

const char *store_db_path(const store_db *db)
{
    return db->path;
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
int store__exec(store_db *db, const char *sql, rhai_error *err)
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

static int db_open(store *s, const char *ctx, store_db **out, rhai_error *err)
{
    store_db *db = rh_calloc(1, sizeof *db);
    int rc;

    if (db == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    db->st = s;
    snprintf(db->context, sizeof db->context, "%s", ctx);
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

int store_open(store *s, const char *context_id, store_db **out, rhai_error *err)
{
    int victim = -1;
    int rc;

    *out = NULL;
    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id (" RH_CONTEXT_RULE ")");
    s->tick++;
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        store_db *db = s->open[i];
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
            *out = db;
            return 0;
        }
    }
    /* A free slot, else the least recently used context not in a
     * transaction. */
    for (int i = 0; i < STORE_OPEN_MAX; i++) {
        store_db *db = s->open[i];
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
    *out = s->open[victim];
    return 0;
}

/* ======================== transactions ======================== */

static int step_cached(store_db *db, int which, rhai_error *err)
{
    sqlite3_stmt *st = db->tx[which];
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rh_error_set(err, RHAI_ESTORE, "%s: %s", db->context, sqlite3_errmsg(db->db));
    return 0;
}

int store_begin(store_db *db, rhai_error *err)
{
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

int store_commit(store_db *db, rhai_error *err)
{
    int rc;

    if (!db->in_tx)
        return rh_error_set(err, RHAI_ESTATE, "%s: no transaction", db->context);
    rc = step_cached(db, TX_COMMIT, err);
    if (rc != 0)
        store_rollback(db);
    db->in_tx = 0;
    db->in_sp = 0;
    return rc;
}

void store_rollback(store_db *db)
{
    if (db == NULL || !db->in_tx)
        return;
    if (sqlite3_get_autocommit(db->db) == 0)
        (void)step_cached(db, TX_ROLLBACK, NULL);
    db->in_tx = 0;
    db->in_sp = 0;
}

int store_in_tx(const store_db *db)
{
    return db->in_tx;
}

int store_savepoint(store_db *db, rhai_error *err)
{
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

int store_release(store_db *db, rhai_error *err)
{
    if (!db->in_sp)
        return rh_error_set(err, RHAI_ESTATE, "%s: no savepoint", db->context);
    db->in_sp = 0;
    return step_cached(db, TX_RELEASE, err);
}

void store_rollback_to(store_db *db)
{
    if (!db->in_sp)
        return;
    /* the rows changed since the savepoint are undone: not the task's */
    db->tx_undone += sqlite3_total_changes64(db->db) - db->sp_base;
    (void)step_cached(db, TX_ROLLBACK_TO, NULL);
    (void)step_cached(db, TX_RELEASE, NULL);
    db->in_sp = 0;
}

int64_t store_tx_changes(const store_db *db)
{
    if (!db->in_tx)
        return 0;
    return sqlite3_total_changes64(db->db) - db->tx_base - db->tx_undone;
}

/* ======================== ledger ======================== */

void store_ledger_digest(const char *script, size_t script_len, const char *args,
                         unsigned char out[STORE_DIGEST_LEN])
{
    static const char tag[] = "rhai-ledger-v1";
    crypto_hash_sha256_state h;
    unsigned char len[8];
    const char *parts[2] = { script ? script : "", args ? args : "{}" };
    size_t lens[2] = { script ? script_len : 0, strlen(parts[1]) };

    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)tag, sizeof tag);
    for (int i = 0; i < 2; i++) {
        uint64_t n = lens[i];
        for (int b = 0; b < 8; b++)             /* big-endian length prefix */
            len[b] = (unsigned char)(n >> (56 - 8 * b));
        crypto_hash_sha256_update(&h, len, sizeof len);
        crypto_hash_sha256_update(&h, (const unsigned char *)parts[i], lens[i]);
    }
    crypto_hash_sha256_final(&h, out);
}

/* Column 'col' of the row at 'st' equals 's' (text, NULL counts as ""). */
static int col_is(sqlite3_stmt *st, int col, const char *s)
{
    const char *t = (const char *)sqlite3_column_text(st, col);

    return t != NULL && strcmp(t, s ? s : "") == 0;
}

int store_ledger_get(store_db *db, const store_ledger_key *key, char **result,
                     rhai_error *err)
{
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

int store_ledger_put(store_db *db, const store_ledger_key *key, const char *result,
                     rhai_error *err)
{
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
