/* pg_int.h -- what the files of the postgres backend share, not exported:
 * one PostgreSQL database holding every context of a store in shared
 * tables keyed by context (docs/store.md).
 *
 * pg_conn.c holds the connection and the statement queue (libpq pipeline
 * mode); pg_migrate.c migrations; pg.c the store, contexts, transactions
 * and the ledger; pg_crud.c the model rows, list, count and references;
 * pg_export.c export/import; pg_acl.c owners, grants, decisions and
 * audit; pg_events.c the outbox and subscriptions. Their functions carry
 * the pg_ prefix.
 *
 * Round trips. Statements whose answer nobody waits for (BEGIN,
 * SAVEPOINT, RELEASE, an audit row, the ledger row) are queued in the
 * store and sent, pipelined, together with the next statement that needs
 * an answer (or the COMMIT), all followed by one Sync: a DSL call costs at
 * most one round trip. Only unnamed statements (PQsendQueryParams), no SET
 * and no session state: the connection may be a PgBouncer's in
 * transaction pooling. */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include <libpq-fe.h>

#include "store_int.h"

/* Version of the store's own tables in a postgres database, recorded in
 * rhai_meta with the schema hash. */
#define PG_INTERNAL_VERSION "pg2"    /* pg2: rhai_outbox, rhai_subs */

/* Parameters of one statement, all text (NULL: SQL NULL), owned. */
typedef struct pg_params {
    int    n;
    int    cap;
    int    oom;             /* an append failed: the statement is not sent */
    char **v;
} pg_params;

void pg_params_free(pg_params *p);
void pg_p_text(pg_params *p, const char *s);         /* NULL: SQL NULL */
void pg_p_textn(pg_params *p, const char *s, size_t n);
void pg_p_int(pg_params *p, int64_t v);
void pg_p_null(pg_params *p);
void pg_p_opt_int(pg_params *p, int64_t v);          /* <= 0: NULL */

/* PG_K_READ: a read that may be sent again when the connection turns out
 * dead (it changes nothing). */
enum { PG_K_OTHER, PG_K_BEGIN, PG_K_COMMIT, PG_K_READ };

/* One queued statement. */
typedef struct pg_stmt {
    char      *sql;
    pg_params  p;
    PGresult **keep;        /* where its result goes (NULL: dropped) */
    int        est;         /* rows it changes, counted when queued; -1: its
                             * row count is added when its result is read */
    int        kind;        /* PG_K_* */
} pg_stmt;

typedef struct pg_db pg_db;

/* Authorization facts of one (caller, model) in the current transaction. */
typedef struct pg_grant_fact {
    unsigned ops;
    int64_t  object_id;     /* 0: every object */
    int64_t  expires_at;    /* 0: never */
} pg_grant_fact;

typedef struct pg_authz {
    char          *caller;
    char          *model;
    int            owner;
    size_t         n;
    pg_grant_fact *g;
} pg_authz;

#define PG_AUTHZ_MAX 16

/* A row of a model as this transaction reads it now. Inside a SERIALIZABLE
 * transaction a row changes only by the transaction's own writes, which
 * update or drop its entry, so the cache answers exactly what a SELECT
 * would: create's and update's read-back, and a get after them, cost no
 * round trip. Its ctid lets update and delete reach the row by a TID scan,
 * which takes a predicate lock on that tuple only, not on the primary
 * key's index page (where concurrent tasks insert their own rows: every
 * such insert would be a read-write conflict, and two of them abort one
 * task needlessly). */
typedef struct pg_row {
    const store_model *m;
    int64_t            id;
    json_t            *row;      /* owned, never handed out (copies are) */
    char               ctid[32]; /* where the version we see lies, "" unknown */
} pg_row;

#define PG_ROWS_MAX 64

struct pg_db {
    store_db      h;            /* the head (store_int.h): first */
    struct pg_store *ps;
    char          where[512];   /* "<masked url> context <id>" */
    unsigned long used;         /* store tick of the last open */
    int           need_ctx;     /* the rhai_contexts row is still to be made */
    int           ctx_in_tx;    /* ... and is made by the open transaction */
    int           in_tx;
    int           in_sp;
    int           on_server;    /* the transaction's BEGIN reached the server */
    int           broken;       /* the transaction failed (connection lost) */
    size_t        begin_nq;     /* statements queued by begin (BEGIN, SET LOCAL...) */
    int64_t       changes;      /* rows changed in the transaction */
    int64_t       sp_base;      /* changes at the savepoint */
    unsigned long acl_gen;      /* ps->acl_gen the cache below was made at */
    size_t        nauthz;
    pg_authz      authz[PG_AUTHZ_MAX];
    size_t        nrows, rows_next;
    pg_row        rows[PG_ROWS_MAX];
};

typedef struct pg_store {
    store          h;           /* the head: first */
    char          *conninfo;    /* the url or conninfo as given */
    PGconn        *conn;        /* in pipeline mode; NULL until first use */
    int            migrated;    /* the tables match the schema */
    pg_db         *tx;          /* the context whose transaction is open */
    unsigned long  tick;
    unsigned long  acl_gen;     /* bumped by every owner/grant change */
    pg_db         *open[STORE_OPEN_MAX];
    pg_stmt       *q;           /* the queue */
    size_t         nq, capq;
    int64_t        round_trips; /* Syncs sent (tests, RHAI_PG_TRACE) */
} pg_store;

/* pg_conn.c */
const char *pg_where(const pg_store *ps);
/* A new connection to the store's database (not in pipeline mode), or
 * NULL with 'err' set. */
PGconn *pg_conn_open(pg_store *ps, const char *timeout, rhai_error *err);
void pg_conn_close(pg_store *ps);
/* The connection, opened (and the tables migrated) when there is none or
 * it broke. Never called inside a transaction. */
int pg_conn_ensure(pg_store *ps, rhai_error *err);
/* A row count of an INSERT/UPDATE/DELETE result, else 0. */
int64_t pg_changed_rows(PGresult *r);
/* Set err from a failed result (RHAI_ESTORE). */
int pg_result_error(pg_store *ps, pg_db *db, PGresult *r, rhai_error *err);
/* Send the queue (one round trip): 0, or the first failure. */
int pg_flush(pg_store *ps, pg_db *db, rhai_error *err);
/* Queue 'sql' with 'p' (moved in: p is emptied; NULL: none). keep/est as
 * in pg_stmt. */
int pg_queue(pg_store *ps, const char *sql, pg_params *p, PGresult **keep, int est,
             int kind, rhai_error *err);
/* Queue 'sql' and send the queue, one round trip; *res (may be NULL) gets
 * its result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), PQclear by the caller.
 * RHAI_ESTORE naming db (or the store when db is NULL). */
int pg_run(pg_store *ps, pg_db *db, const char *sql, pg_params *p, PGresult **res,
           rhai_error *err);
/* pg_run of a read (PG_K_READ): alone outside a transaction, it is sent
 * again once on a fresh connection when the kept one turns out dead. */
int pg_run_read(pg_store *ps, pg_db *db, const char *sql, pg_params *p, PGresult **res,
                rhai_error *err);
/* A count or id from a text column. */
int64_t pg_int(const PGresult *r, int row, int col);
/* The rows of r (PQclear'ed here) as an array of row(r, i, ctx) into
 * *out: 0, or RHAI_ENOMEM (row() NULL: out of memory). */
int pg_rows_json(PGresult *r, json_t *(*row)(const PGresult *r, int i, void *ctx), void *ctx,
                 json_t **out, rhai_error *err);
/* Drop every statement queued and not sent. */
void pg_queue_clear(pg_store *ps);
/* Run SQL text made by us (no parameters, no result kept). */
int pg_run_const(pg_store *ps, pg_db *db, const char *sql, rhai_error *err);

/* pg.c */
/* Ready for a statement on db: the connection is up (made now when needed,
 * never inside a transaction), no other context's transaction is open. */
int pg_db_ready(pg_db *db, rhai_error *err);

/* pg_crud.c */
/* The cast of a parameter for a column of type t. */
const char *pg_cast_of(store_type t);
/* Push 'v' (NULL or json null: SQL NULL) as a value of type t. */
void pg_p_value(pg_params *p, store_type t, json_t *v);
/* Row i of a result selecting id, created_at, updated_at and the fields
 * in schema order. New object or NULL (out of memory). */
json_t *pg_row_object(const PGresult *r, int i, const store_model *m);
/* ", \"<field>\"" for each field of m, in schema order. */
void pg_append_columns(rh_buf *b, const store_model *m);
/* Free b and p; RHAI_ENOMEM. */
int pg_oom(rh_buf *b, pg_params *p, rhai_error *err);
void pg_rows_clear(pg_db *db);
int pg_insert(store_db *db, const store_model *m, json_t *values, int64_t *id,
              rhai_error *err);
int pg_get(store_db *db, const store_model *m, int64_t id, json_t **row, rhai_error *err);
int pg_update(store_db *db, const store_model *m, int64_t id, json_t *values,
              rhai_error *err);
int pg_del(store_db *db, const store_model *m, int64_t id, rhai_error *err);
int pg_list(store_db *db, const store_model *m, json_t *where, const char *order, long limit,
            long offset, json_t **rows, rhai_error *err);
int pg_count(store_db *db, const store_model *m, json_t *where, int64_t *n, rhai_error *err);
int pg_ref_rows(store_db *db, const store_model *m, const char *field, const char *item,
                int64_t id, long limit, json_t **ids, rhai_error *err);

/* pg_migrate.c: the tables up to the schema, on the store's connection
 * (pg.c calls it once per store, with nothing else queued). */
int pg_migrate(pg_store *ps, rhai_error *err);
const char *pg_sql_type(const store_field *f);

/* pg_export.c */
int pg_export_rows(store_db *db, const char *table,
                   int (*fn)(void *u, json_t *row, rhai_error *err), void *u,
                   rhai_error *err);
int pg_import_row(store_db *db, const char *table, json_t *row, rhai_error *err);
int pg_import_end(store_db *db, rhai_error *err);

/* pg_acl.c */
/* Invalidate every cached authorization decision of the store. */
void pg_acl_changed(pg_store *ps);
void pg_authz_clear(pg_db *db);
int pg_owner_add(store_db *db, const char *caller, rhai_error *err);
int pg_owner_remove(store_db *db, const char *caller, rhai_error *err);
int pg_owners(store_db *db, json_t **out, rhai_error *err);
int pg_authorize(store_db *db, const char *caller, const char *model, unsigned op,
                 int64_t object_id, int64_t now_ms, rhai_error *err);
int pg_grant_add(store_db *db, const store_grant *g, int64_t *id, rhai_error *err);
int pg_grant_revoke(store_db *db, const store_grant *g, int *n, rhai_error *err);
int pg_grant_list(store_db *db, json_t **out, rhai_error *err);
int pg_audit_put(store_db *db, const store_audit *a, rhai_error *err);
int pg_audit_denial(store_db *db, const store_audit *a, int64_t count, int64_t now_ms,
                    const store_audit_limits *lim, rhai_error *err);
int pg_audit_has(store_db *db, const char *task_id, const char *caller, const char *decision,
                 rhai_error *err);
int pg_audit_query(store_db *db, const char *caller, const char *model, const char *decision,
                   long limit, json_t **out, rhai_error *err);
int pg_context_info(store_db *db, json_t **out, rhai_error *err);

/* pg_events.c */
int pg_outbox_put(store_db *db, const store_event *ev, rhai_error *err);
int pg_outbox_pending(store_db *db, const char *task_id, int64_t before_ms, long limit,
                      json_t **events, rhai_error *err);
int pg_outbox_mark(store_db *db, const char *const *ids, size_t n, int64_t *marked,
                   rhai_error *err);
int pg_outbox_stats(store_db *db, json_t **out, rhai_error *err);
int pg_outbox_prune(store_db *db, int64_t before_ms, long limit, int64_t *deleted,
                    rhai_error *err);
int pg_sub_put(store_db *db, const store_sub *s, rhai_error *err);
int pg_sub_get(store_db *db, const char *name, json_t **out, rhai_error *err);
int pg_sub_list(store_db *db, json_t **out, rhai_error *err);
int pg_sub_set_paused(store_db *db, const char *name, int paused, rhai_error *err);
int pg_sub_del(store_db *db, const char *name, rhai_error *err);

#endif
