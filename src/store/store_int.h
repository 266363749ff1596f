/* store_int.h -- what the files of src/store share, not exported.
 *
 * store.c opens contexts and runs transactions and the ledger, migrate.c
 * brings a context's tables up to the schema, crud.c holds the per-model
 * statements. Internal functions carry the store__ prefix. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

#define STORE_PATH_MAX 4096

/* Cached statements of a context that are not per model. */
enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO,
       TX_LEDGER_GET, TX_LEDGER_PUT, TX_AUTHZ, TX_AUDIT_PUT, TX_N };

/* Version of the store's own tables (rhai_ledger, rhai_owners, rhai_grants,
 * rhai_audit, rhai_audit_rate), recorded with the schema hash so that a
 * change to either migrates existing contexts. acl3: the ledger's binding
 * columns and the audit rate table. */
#define STORE_INTERNAL_VERSION "acl3"

/* Cached statements per model. */
enum { MS_INSERT, MS_GET, MS_UPDATE, MS_DELETE, MS_N };

/* One open context. Invariant: in_sp implies in_tx; while in_tx the store
 * never evicts it. Statements are reset after every use. */
struct store_db {
    store         *st;
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
};

struct store {
    char                dir[STORE_PATH_MAX];
    const store_schema *schema;
    unsigned long       tick;
    store_db           *open[STORE_OPEN_MAX];
};

int  store__exec(store_db *db, const char *sql, rhai_error *err);
/* mkdir -p 'dir' (mode 0700). 0 or RHAI_EIO. */
int  store__make_dir(const char *dir, rhai_error *err);
int  store__migrate(store_db *db, rhai_error *err);
int  store__stmts_init(store_db *db, rhai_error *err);
void store__stmts_free(store_db *db);
/* SQL column type of a field. */
const char *store__sql_type(store_type t);

#endif
