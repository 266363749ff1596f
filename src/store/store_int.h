/* store_int.h -- what store.c (the front) and the backends share, not
 * exported: the heads of a store and an open context, and the table of a
 * backend's functions. Internal names carry the store__ prefix. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store.h"

/* ======================== backends (store.c dispatches) ================
 *
 * A store is one backend over one location: 'sqlite' (a file per context
 * under a data dir; sqlite*.c) or 'postgres' (one database shared by every
 * host; pg*.c). store.c parses the location, validates what both need
 * validated, and calls the backend through this table; a backend never
 * sees another's state. struct store and struct store_db are the heads
 * every backend embeds as the first member of its own structs (so a
 * backend converts store_db * to its own type with a cast). */

struct store {
    const struct store_backend *be;
    const store_schema         *schema;
    char                       *url;       /* as given (may hold a secret) */
    char                       *url_masked;/* for logs and messages */
};

struct store_db {
    const struct store_backend *be;
    store                      *st;
    char                        context[STORE_CONTEXT_MAX + 1];
};

typedef struct store_backend {
    const char *name;                       /* "sqlite", "postgres" */
    /* 'location' is the URL with its scheme removed for sqlite (a path)
     * and the full URL or conninfo for postgres. *out: a new store whose
     * head the backend filled except url/url_masked (store.c sets them). */
    int  (*create)(const char *location, const store_schema *schema, store **out,
                   rhai_error *err);
    void (*destroy)(store *s);
    int  (*probe)(store *s, rhai_error *err);
    int  (*open)(store *s, const char *ctx, store_db **out, rhai_error *err);
    const char *(*db_where)(const store_db *db);
    int  (*context_exists)(store *s, const char *ctx);
    int  (*context_create)(store *s, const char *ctx, const char *owner, rhai_error *err);
    int  (*context_drop)(store *s, const char *ctx, rhai_error *err);
    int  (*context_list)(store *s, json_t **ids, rhai_error *err);
    int  (*context_info)(store_db *db, json_t **out, rhai_error *err);

    int  (*begin)(store_db *db, rhai_error *err);
    int  (*commit)(store_db *db, rhai_error *err);
    void (*rollback)(store_db *db);
    int  (*in_tx)(const store_db *db);
    int  (*savepoint)(store_db *db, rhai_error *err);
    int  (*release)(store_db *db, rhai_error *err);
    void (*rollback_to)(store_db *db);
    int64_t (*tx_changes)(const store_db *db);

    int  (*ledger_get)(store_db *db, const store_ledger_key *key, char **result,
                       rhai_error *err);
    int  (*ledger_put)(store_db *db, const store_ledger_key *key, const char *result,
                       rhai_error *err);

    int  (*insert)(store_db *db, const store_model *m, json_t *values, int64_t *id,
                   rhai_error *err);
    int  (*get)(store_db *db, const store_model *m, int64_t id, json_t **row,
                rhai_error *err);
    int  (*update)(store_db *db, const store_model *m, int64_t id, json_t *values,
                   rhai_error *err);
    int  (*del)(store_db *db, const store_model *m, int64_t id, rhai_error *err);
    int  (*list)(store_db *db, const store_model *m, json_t *where, const char *order,
                 long limit, long offset, json_t **rows, rhai_error *err);
    int  (*count)(store_db *db, const store_model *m, json_t *where, int64_t *n,
                  rhai_error *err);
    int  (*ref_rows)(store_db *db, const store_model *m, const char *field,
                     const char *item, int64_t id, long limit, json_t **ids,
                     rhai_error *err);

    int  (*owner_add)(store_db *db, const char *caller, rhai_error *err);
    int  (*owner_remove)(store_db *db, const char *caller, rhai_error *err);
    int  (*owners)(store_db *db, json_t **out, rhai_error *err);
    int  (*authorize)(store_db *db, const char *caller, const char *model, unsigned op,
                      int64_t object_id, int64_t now_ms, rhai_error *err);
    int  (*grant_add)(store_db *db, const store_grant *g, int64_t *id, rhai_error *err);
    int  (*grant_revoke)(store_db *db, const store_grant *g, int *n, rhai_error *err);
    int  (*grant_list)(store_db *db, json_t **out, rhai_error *err);
    int  (*audit_put)(store_db *db, const store_audit *a, rhai_error *err);
    int  (*audit_denial)(store_db *db, const store_audit *a, int64_t count,
                         int64_t now_ms, const store_audit_limits *lim, rhai_error *err);
    int  (*audit_has)(store_db *db, const char *task_id, const char *caller,
                      const char *decision, rhai_error *err);
    int  (*audit_query)(store_db *db, const char *caller, const char *model,
                        const char *decision, long limit, json_t **out, rhai_error *err);

    /* events (store.h; store_events.c checks the arguments first). NULL in a
     * backend without them: the front says so. */
    int  (*outbox_put)(store_db *db, const store_event *ev, rhai_error *err);
    int  (*outbox_pending)(store_db *db, const char *task_id, int64_t before_ms, long limit,
                           json_t **events, rhai_error *err);
    int  (*outbox_mark)(store_db *db, const char *const *ids, size_t n, int64_t *marked,
                        rhai_error *err);
    int  (*outbox_stats)(store_db *db, json_t **out, rhai_error *err);
    int  (*outbox_prune)(store_db *db, int64_t before_ms, long limit, int64_t *deleted,
                         rhai_error *err);
    int  (*sub_put)(store_db *db, const store_sub *s, rhai_error *err);
    int  (*sub_get)(store_db *db, const char *name, json_t **out, rhai_error *err);
    int  (*sub_list)(store_db *db, json_t **out, rhai_error *err);
    int  (*sub_set_paused)(store_db *db, const char *name, int paused, rhai_error *err);
    int  (*sub_del)(store_db *db, const char *name, rhai_error *err);

    /* export/import (store_context_export/import): every row of 'table'
     * (STORE_TABLE_* or a model's name) in the canonical row form below,
     * ascending by key, each passed to fn (which returns 0 to go on, or an
     * error code that stops the walk and is returned); and one such row
     * written back as it is (explicit ids kept), inside the caller's
     * transaction; import_end after the last row (e.g. move sequences
     * past the ids written). */
    int  (*export_rows)(store_db *db, const char *table,
                        int (*fn)(void *u, json_t *row, rhai_error *err), void *u,
                        rhai_error *err);
    int  (*import_row)(store_db *db, const char *table, json_t *row, rhai_error *err);
    int  (*import_end)(store_db *db, rhai_error *err);
} store_backend;

extern const store_backend store__sqlite;
extern const store_backend store__postgres;

/* Helpers of store.c a backend may use. */
/* 0, or RHAI_EINVAL when 'caller' cannot own a context (empty, anonymous). */
int store__owner_check(const char *caller, rhai_error *err);
/* The lowercase hex of a digest into out (2 * STORE_DIGEST_LEN + 1). */
void store__digest_hex(const unsigned char d[STORE_DIGEST_LEN],
                       char out[2 * STORE_DIGEST_LEN + 1]);
/* The field of 'm' called 'name', or one of the columns every model's
 * table has (id, created_at, updated_at); NULL when neither. */
const store_field *store__column(const store_model *m, const char *name);
/* One comparison of a list's where (store_list): column f, SQL operator
 * 'op' ("=", "!=", "<", "<=", ">", ">=" with a value v; "IS NULL" or
 * "IS NOT NULL" with v NULL). 0, or nonzero to stop (out of memory). */
typedef int (*store__where_fn)(void *u, const store_field *f, const char *op, json_t *v);
/* Check 'where' against m by store_list's rules (RHAI_EINVAL naming what
 * is wrong) and call fn for each comparison, in the same order on every
 * walk of the same object (a backend may walk once for SQL text, once to
 * bind). 0, RHAI_EINVAL or RHAI_ENOMEM. */
int store__where_walk(const store_model *m, json_t *where, store__where_fn fn, void *u,
                      rhai_error *err);
/* store_events.c: an outbox row as the event object of store.h (new;
 * NULL on OOM). A payload or subs that does not parse (it always does:
 * both were written by emit) becomes null / []. */
json_t *store__event_json(const char *context, const char *id, const char *name,
                          const char *payload, const char *task, const char *caller,
                          int64_t at, const char *trace, int64_t depth, const char *subs);
/* A subscription row in store_sub_get's form (new; NULL on OOM). */
json_t *store__sub_json(const char *name, const char *pattern, const char *worker,
                        const char *script, const char *args, const char *caller,
                        const char *created_by, int paused, int64_t created_at,
                        int64_t updated_at);
/* Parse 64 hex digits into d: 0 or RHAI_EINVAL. */
int store__digest_parse(const char *hex, unsigned char d[STORE_DIGEST_LEN]);

#endif
