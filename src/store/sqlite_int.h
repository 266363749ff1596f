/* sqlite_int.h -- what the files of the sqlite backend share, not
 * exported: one SQLite file per context under a data dir.
 *
 * sqlite.c opens contexts and runs transactions and the ledger,
 * sqlite_migrate.c brings a context's tables up to the schema,
 * sqlite_crud.c holds the per-model statements, sqlite_acl.c owners,
 * grants, decisions and audit. Their functions carry the sq_ prefix (the
 * backend's table entries) or store__ (shared helpers). */
#ifndef STORE_SQLITE_INT_H
#define STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store_int.h"

#define STORE_PATH_MAX 4096

/* Cached statements of a context that are not per model. */
enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO,
       TX_LEDGER_GET, TX_LEDGER_PUT, TX_AUTHZ, TX_AUDIT_PUT, TX_N };

/* Version of the store's own tables (rhai_ledger, rhai_owners, rhai_grants,
 * rhai_audit, rhai_audit_rate), recorded with the schema hash so that a
 * change to either migrates existing contexts. acl3: the ledger's binding
 * columns and the audit rate table; ev1: rhai_outbox and rhai_subs. */
#define STORE_INTERNAL_VERSION "ev1"

/* Cached statements per model. */
enum { MS_INSERT, MS_GET, MS_UPDATE, MS_DELETE, MS_N };

/* One open context. Invariant: in_sp implies in_tx; while in_tx the store
 * never evicts it. Statements are reset after every use. */
typedef struct sq_store sq_store;

typedef struct sq_db {
    store_db       h;             /* the head (store_int.h): first */
    sq_store      *st;
    sqlite3       *db;
    char           context[STORE_CONTEXT_MAX + 1];
    char           path[STORE_PATH_MAX + STORE_CONTEXT_MAX + 8];
    unsigned long  used;          /* store tick of the last open */
    int            in_tx;         /* BEGIN IMMEDIATE done */
    int            in_sp;         /* the "dsl" savepoint is open */
    int64_t        tx_base;       /* total changes at store_begin */
    int64_t        sp_base;       /* total changes at store_savepoint */
    int64_t        tx_undone;     /* changes rolled back to the savepoint */
    sqlite3_stmt  *tx[TX_N];
    sqlite3_stmt **ms;            /* nmodels * MS_N, prepared on first use */
} sq_db;

struct sq_store {
    store               h;        /* the head: first */
    char                dir[STORE_PATH_MAX];
    const store_schema *schema;
    unsigned long       tick;
    sq_db              *open[STORE_OPEN_MAX];
};

int  store__exec(sq_db *db, const char *sql, rhai_error *err);
/* mkdir -p 'dir' (mode 0700). 0 or RHAI_EIO. */
int  store__make_dir(const char *dir, rhai_error *err);
int  store__migrate(sq_db *db, rhai_error *err);
int  store__stmts_init(sq_db *db, rhai_error *err);
void store__stmts_free(sq_db *db);
/* SQL column type of a field. */
const char *store__sql_type(store_type t);

/* The backend's entries (store_backend store__sqlite, sqlite.c). */
int sq_begin(store_db *hdb, rhai_error *err);
int sq_commit(store_db *hdb, rhai_error *err);
void sq_rollback(store_db *hdb);
int sq_in_tx(const store_db *hdb);
int sq_savepoint(store_db *hdb, rhai_error *err);
int sq_release(store_db *hdb, rhai_error *err);
void sq_rollback_to(store_db *hdb);
int64_t sq_tx_changes(const store_db *hdb);
int sq_ledger_get(store_db *hdb, const store_ledger_key *key, char **result,
                  rhai_error *err);
int sq_ledger_put(store_db *hdb, const store_ledger_key *key, const char *result,
                  rhai_error *err);
int sq_insert(store_db *hdb, const store_model *m, json_t *values, int64_t *id,
                 rhai_error *err);
int sq_get(store_db *hdb, const store_model *m, int64_t id, json_t **row,
              rhai_error *err);
int sq_update(store_db *hdb, const store_model *m, int64_t id, json_t *values,
                 rhai_error *err);
int sq_delete(store_db *hdb, const store_model *m, int64_t id, rhai_error *err);
int sq_ref_rows(store_db *hdb, const store_model *m, const char *field, const char *item,
                   int64_t id, long limit, json_t **ids, rhai_error *err);
int sq_list(store_db *hdb, const store_model *m, json_t *where, const char *order,
               long limit, long offset, json_t **rows, rhai_error *err);
int sq_count(store_db *hdb, const store_model *m, json_t *where, int64_t *n,
                rhai_error *err);
int sq_owner_add(store_db *hdb, const char *caller, rhai_error *err);
int sq_owners(store_db *hdb, json_t **out, rhai_error *err);
int sq_owner_remove(store_db *hdb, const char *caller, rhai_error *err);
int sq_authorize(store_db *hdb, const char *caller, const char *model, unsigned op,
                    int64_t object_id, int64_t now_ms, rhai_error *err);
int sq_grant_add(store_db *hdb, const store_grant *g, int64_t *id, rhai_error *err);
int sq_grant_revoke(store_db *hdb, const store_grant *g, int *n, rhai_error *err);
int sq_grant_list(store_db *hdb, json_t **out, rhai_error *err);
int sq_audit_put(store_db *hdb, const store_audit *a, rhai_error *err);
int sq_audit_has(store_db *hdb, const char *task_id, const char *caller,
                    const char *decision, rhai_error *err);
int sq_audit_denial(store_db *hdb, const store_audit *a, int64_t count, int64_t now_ms,
                    const store_audit_limits *lim, rhai_error *err);
int sq_audit_query(store_db *hdb, const char *caller, const char *model,
                   const char *decision, long limit, json_t **out, rhai_error *err);
int sq_context_info(store_db *hdb, json_t **out, rhai_error *err);
int sq_open(store *hs, const char *context_id, store_db **out, rhai_error *err);
int sq_context_exists(store *hs, const char *context_id);
int sq_context_create(store *hs, const char *context_id, const char *owner,
                      rhai_error *err);
int sq_context_list(store *hs, json_t **ids, rhai_error *err);
/* Events (sqlite_events.c). */
int sq_outbox_put(store_db *hdb, const store_event *ev, rhai_error *err);
int sq_outbox_pending(store_db *hdb, const char *task_id, int64_t before_ms, long limit,
                      json_t **events, rhai_error *err);
int sq_outbox_mark(store_db *hdb, const char *const *ids, size_t n, int64_t *marked,
                   rhai_error *err);
int sq_outbox_stats(store_db *hdb, json_t **out, rhai_error *err);
/* shared by sqlite_acl.c and sqlite_events.c (sqlite.c) */
int sq_prep(sq_db *db, const char *sql, sqlite3_stmt **st, rhai_error *err);
int sq_stmt_fail(sq_db *db, sqlite3_stmt *st, rhai_error *err);
/* Step 'st' (prepared and bound) to its end: *out = an array of row(st,
 * ctx) per row (NULL: out of memory). 'st' is finalized in every case.
 * 0, RHAI_ENOMEM, or RHAI_ESTORE (sq_stmt_fail). */
int sq_rows_json(sq_db *db, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st, void *ctx),
                 void *ctx, json_t **out, rhai_error *err);
int sq_outbox_prune(store_db *hdb, int64_t before_ms, long limit, int64_t *deleted,
                    rhai_error *err);
int sq_sub_put(store_db *hdb, const store_sub *s, rhai_error *err);
int sq_sub_get(store_db *hdb, const char *name, json_t **out, rhai_error *err);
int sq_sub_list(store_db *hdb, json_t **out, rhai_error *err);
int sq_sub_set_paused(store_db *hdb, const char *name, int paused, rhai_error *err);
int sq_sub_del(store_db *hdb, const char *name, rhai_error *err);
/* Moving contexts (sqlite_move.c). */
int sq_export_rows(store_db *hdb, const char *table,
                   int (*fn)(void *u, json_t *row, rhai_error *err), void *u,
                   rhai_error *err);
int sq_import_row(store_db *hdb, const char *table, json_t *row, rhai_error *err);
int sq_import_end(store_db *hdb, rhai_error *err);

#define SQ(x) ((sq_db *)(x))
#define SQS(x) ((sq_store *)(x))

#endif
