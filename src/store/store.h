/* store.h -- the one internal header of src/store (prefix store_): the
 * contexts' data, with tables made from the dsl schemas, in one of two
 * backends behind this one interface: 'sqlite' (the embedded default, one
 * SQLite file per context under a data dir, one host) and 'postgres' (one
 * PostgreSQL database shared by every host; docs/store.md). Every
 * function below behaves the same on both; the tests run on both.
 *
 * The schema types below are filled by dsl/ (generated from
 * dsl/schema/<domain>.json); the store only reads them, so it depends on common
 * alone. A store_db is one open context: its connection, its cached
 * prepared statements and its transaction. A store keeps a small LRU of
 * open contexts under one data directory. Neither is thread-safe: an
 * executor process owns one store.
 *
 * Rows travel as jansson objects: {"id": int, "created_at": ms,
 * "updated_at": ms, field: value...}; list fields hold arrays. Values given
 * to store_insert/update must already be checked against the schema
 * (dsl_ does that for scripts): the store binds them by type and never
 * builds SQL from them. Identifiers in SQL come from the schema only. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/common.h"

/* ======================== schema ======================== */

typedef enum store_type {
    STORE_T_STRING = 1,   /* TEXT */
    STORE_T_INT,          /* INTEGER, a safe JS integer */
    STORE_T_NUMBER,       /* REAL */
    STORE_T_BOOL,         /* INTEGER 0/1, true/false in rows */
    STORE_T_DATE,         /* INTEGER unix ms */
    STORE_T_REF,          /* INTEGER id of a row of model 'ref' */
    STORE_T_LIST          /* TEXT holding a JSON array */
} store_type;

enum {
    STORE_F_REQUIRED = 1 << 0,   /* create needs it, update cannot null it */
    STORE_F_INDEX    = 1 << 1,   /* an index on the column */
    STORE_F_MIN      = 1 << 2,   /* 'min' applies (number value) */
    STORE_F_MAX      = 1 << 3    /* 'max' applies (number value, string length) */
};

/* One field of a model or of a struct (a list element shape). For LIST,
 * 'of' is the element type; when it is 0 the elements are objects shaped
 * by 'item'/'nitem' (a struct). For REF (and LIST of REF) 'ref' names the
 * model. 'enums' is NULL or a NULL-terminated list of allowed strings.
 * 'dflt' is NULL or JSON text applied by create when the field is absent. */
typedef struct store_field {
    const char *name;
    store_type  type;
    store_type  of;               /* LIST element type, 0: struct */
    const char *ref;              /* REF: model name */
    unsigned    flags;            /* STORE_F_* */
    double      min;              /* with STORE_F_MIN */
    double      max;              /* with STORE_F_MAX */
    long        maxitems;         /* LIST: longest list accepted */
    const char *const *enums;
    const char *dflt;
    const struct store_field *item;   /* LIST of struct: its fields */
    size_t      nitem;
    const char *item_name;        /* the struct's name, for messages */
    const char *doc;
} store_field;

typedef struct store_model {
    const char        *name;      /* table name: [a-z][a-z0-9_]* */
    const char        *js_name;   /* "FlowStep" */
    const char        *domain;
    const char        *doc;
    const char        *example;
    const store_field *fields;
    size_t             nfields;
} store_model;

typedef struct store_schema {
    const store_model *models;
    size_t             nmodels;
    const char        *hash;      /* changes whenever any schema changes */
} store_schema;

/* The model called 'name', or NULL. */
const store_model *store_schema_model(const store_schema *s, const char *name);
/* The field of 'm' called 'name', or NULL. */
const store_field *store_model_field(const store_model *m, const char *name);

/* ======================== limits ======================== */

#ifndef STORE_LIST_MAX
#define STORE_LIST_MAX 1000          /* rows one list() returns at most */
#endif
#ifndef STORE_OPEN_MAX
#define STORE_OPEN_MAX 8             /* contexts kept open per store */
#endif
#ifndef STORE_BUSY_MS
#define STORE_BUSY_MS 10000          /* wait for another writer this long */
#endif
#define STORE_CONTEXT_MAX RH_CONTEXT_MAX   /* longest context id (file name) */

/* ======================== store and contexts ======================== */

typedef struct store store;
typedef struct store_db store_db;

/* A store at 'url' for 'schema' (borrowed, must outlive the store):
 *   sqlite:///abs/dir, sqlite:rel/dir or a bare path: SQLite files there
 *     (the dir is created on first open when missing);
 *   postgres://user@host:port/db, postgresql://... or a libpq conninfo
 *     ("host=... dbname=..."): PostgreSQL. Secrets come the libpq ways
 *     too (PGPASSWORD, a passfile); a password in the URL works and is
 *     masked in every message (store_url_mask).
 * *out is new (store_free). RHAI_EINVAL (no or bad url), RHAI_ENOMEM.
 * Connects to nothing yet. */
int store_new(const char *url, const store_schema *schema, store **out,
              rhai_error *err);
/* Close every open context (rolling back open transactions). NULL: no-op. */
void store_free(store *s);
/* "sqlite" or "postgres". */
const char *store_backend_name(const store *s);
/* The store's url with any password masked (for logs and messages). */
const char *store_where(const store *s);
/* 'url' with the password of a postgres URL or conninfo replaced by "***",
 * into buf (n bytes, truncated, always terminated). */
void store_url_mask(const char *url, char *buf, size_t n);
/* 1 when 'url' names a postgres store, else 0. */
int store_url_is_postgres(const char *url);
/* Can the store be used now? A fresh check each call: sqlite: the data dir
 * exists (or can be made) and is writable; postgres: a connection answers
 * SELECT 1. 0, or RHAI_EIO/RHAI_ESTORE with 'err' saying why. */
int store_probe(store *s, rhai_error *err);

/* The open context 'context_id', opening (and migrating) it when needed;
 * *out is borrowed from the store and stays valid until the store evicts
 * it, which it never does while it is in a transaction.
 * RHAI_EINVAL (bad id), RHAI_EIO (data dir), RHAI_ESTORE (the database). */
int store_open(store *s, const char *context_id, store_db **out, rhai_error *err);

/* The context's id. */
const char *store_db_context(const store_db *db);
/* Where the context lives, for messages: its file's path (sqlite), or
 * "<masked url> context <id>" (postgres). */
const char *store_db_path(const store_db *db);

/* ---- transactions ----
 * begin: BEGIN IMMEDIATE (takes the write lock, waiting up to
 * STORE_BUSY_MS). savepoint/release/rollback_to nest inside it, one level
 * ("dsl"): every DSL call is all-or-nothing even when a script catches its
 * error. All return 0 or RHAI_ESTORE (RHAI_ESTATE when the state is wrong). */
int store_begin(store_db *db, rhai_error *err);
int store_commit(store_db *db, rhai_error *err);
void store_rollback(store_db *db);                  /* no-op outside one */
int store_in_tx(const store_db *db);
int store_savepoint(store_db *db, rhai_error *err);
int store_release(store_db *db, rhai_error *err);
void store_rollback_to(store_db *db);

/* Rows the current transaction changed and kept: INSERT, UPDATE and
 * DELETE rows since store_begin, less those undone by store_rollback_to.
 * 0 outside a transaction. A task that changed nothing has nothing to
 * make exactly-once, so it gets no ledger row (dsl/task.c). */
int64_t store_tx_changes(const store_db *db);

/* ---- ledger: task id -> who submitted what, and its recorded result ----
 * Task ids are chosen by clients, so a ledger row binds its id to the
 * submission it recorded: caller, context (the db's), worker and a digest
 * of script and args. Only a redelivery of that same submission may read
 * the recorded result; rows written before the binding existed (empty
 * binding) match no submission. */
#define STORE_DIGEST_LEN 32         /* SHA-256 */

typedef struct store_ledger_key {
    const char   *task_id;
    const char   *caller_id;        /* NULL: "" */
    const char   *worker_id;        /* NULL: "" */
    unsigned char digest[STORE_DIGEST_LEN];  /* store_ledger_digest */
} store_ledger_key;

/* The digest of a submission's script and args into out: SHA-256 over a
 * domain tag and the two, each length-prefixed (no two different pairs
 * give the same input). 'args' NULL counts as "{}" (the engine's default,
 * as in signatures). */
void store_ledger_digest(const char *script, size_t script_len, const char *args,
                         unsigned char out[STORE_DIGEST_LEN]);
/* The recorded result of key->task_id when its row's binding is key's
 * (and the db's context): 0, *result new (rh_free) JSON text.
 * RHAI_ENOTFOUND: no row. RHAI_ESTATE: the id is recorded for another
 * submission ("task id already used"; *result stays NULL: nothing of the
 * row is returned). RHAI_ESTORE, RHAI_ENOMEM. */
int store_ledger_get(store_db *db, const store_ledger_key *key, char **result,
                     rhai_error *err);
/* Record key's submission and its result, inside the task's transaction.
 * RHAI_ESTORE (also when the id is recorded already: from this call on
 * sqlite, from the store_commit that follows on postgres, which sends the
 * row with the commit; either way nothing of the transaction is kept). */
int store_ledger_put(store_db *db, const store_ledger_key *key, const char *result,
                     rhai_error *err);

/* ---- CRUD ----
 * 'values' is a JSON object of checked field values (borrowed).
 * insert: *id is the new row's id. get: *row new. RHAI_ENOTFOUND for an
 * id with no row. update writes only the fields present in 'values'.
 * list: 'where' is NULL or an object {field: value | {op: value}} with op
 * in eq, ne, lt, lte, gt, gte (fields of the model only, checked:
 * RHAI_EINVAL); 'order' NULL or "field" / "-field" (descending);
 * limit 1..STORE_LIST_MAX; *rows new array. */
int store_insert(store_db *db, const store_model *m, json_t *values, int64_t *id,
                 rhai_error *err);
int store_get(store_db *db, const store_model *m, int64_t id, json_t **row,
              rhai_error *err);
int store_update(store_db *db, const store_model *m, int64_t id, json_t *values,
                 rhai_error *err);
int store_delete(store_db *db, const store_model *m, int64_t id, rhai_error *err);
int store_list(store_db *db, const store_model *m, json_t *where, const char *order,
               long limit, long offset, json_t **rows, rhai_error *err);
/* Number of rows of 'm' matching 'where' (as list). */
int store_count(store_db *db, const store_model *m, json_t *where, int64_t *n,
                rhai_error *err);
/* The ids of the rows of 'm' that reference row 'id' of another model,
 * ascending, at most 'limit' (>= 1): through m's REF field 'field' (item
 * NULL), or through list 'field' of structs, one of whose elements has REF
 * field 'item' equal to id. *ids new array. RHAI_EINVAL when field/item
 * is no such reference of m; RHAI_ESTORE, RHAI_ENOMEM. */
int store_ref_rows(store_db *db, const store_model *m, const char *field, const char *item,
                   int64_t id, long limit, json_t **ids, rhai_error *err);

/* ======================== authorization and audit (acl.c) ==============
 *
 * Each context file holds its own owners, grants and audit log in store
 * tables (rhai_owners, rhai_grants, rhai_audit), not in schema models:
 * scripts reach them only through the DSL's owner-only acl/audit objects.
 * A context exists when its file exists; only store_context_create (and
 * the DSL's dev mode) makes one. */

typedef enum store_op {
    STORE_OP_READ = 1,
    STORE_OP_CREATE = 2,
    STORE_OP_UPDATE = 4,
    STORE_OP_DELETE = 8
} store_op;
#define STORE_OP_ALL 15

/* "read" ... for one op bit ("?" otherwise). */
const char *store_op_name(unsigned op);
/* "read,update" / "all" / "read" into *mask. 0 or RHAI_EINVAL. */
int store_ops_parse(const char *s, unsigned *mask);
/* The names of the bits of 'mask' as a JSON array (new, NULL on OOM). */
json_t *store_ops_json(unsigned mask);

/* 1 when the context exists in the store, else 0. A store that cannot
 * answer (postgres down) says 1, so that the caller goes on to open it and
 * gets the store's error (a transient outage), never "no such context"
 * (a permanent refusal). */
int store_context_exists(store *s, const char *context_id);
/* Create context 'context_id' (file or rows, and tables) with 'owner' as
 * its first owner. Of two concurrent creators exactly one succeeds.
 * RHAI_ESTATE when it exists already; RHAI_EINVAL (bad id, empty owner);
 * RHAI_ESTORE/RHAI_EIO. */
int store_context_create(store *s, const char *context_id, const char *owner,
                         rhai_error *err);
/* Delete context 'context_id' and everything in it (used to undo a failed
 * import). RHAI_ENOTFOUND when there is none; RHAI_ESTORE/RHAI_EIO. */
int store_context_drop(store *s, const char *context_id, rhai_error *err);
/* The ids of the store's contexts, sorted (*ids new array). A missing
 * data dir is no context. */
int store_context_list(store *s, json_t **ids, rhai_error *err);

/* Add 'caller' to the context's owners (no-op when already one). */
int store_owner_add(store_db *db, const char *caller, rhai_error *err);
/* Remove 'caller' from the owners. RHAI_ENOTFOUND when not one,
 * RHAI_ESTATE when it is the last one (a context always keeps an owner). */
int store_owner_remove(store_db *db, const char *caller, rhai_error *err);
/* The owners as a JSON array of strings (*out new). */
int store_owners(store_db *db, json_t **out, rhai_error *err);

/* May 'caller' do 'op' (one STORE_OP_* bit) on 'model' (object 'object_id',
 * 0: the model as a whole: create, list, count) at time 'now_ms'?
 * 1: an owner; 2: a grant matches (same caller, model or "*", op in its
 * ops, no object or this object, not expired); 0: denied; <0 an error.
 * One cached statement; the decision never reads the model's rows. */
int store_authorize(store_db *db, const char *caller, const char *model, unsigned op,
                    int64_t object_id, int64_t now_ms, rhai_error *err);

typedef struct store_grant {
    const char *caller;
    const char *model;          /* a model name or "*" */
    unsigned    ops;            /* STORE_OP_* bits */
    int64_t     object_id;      /* 0: every object */
    int64_t     expires_at;     /* unix ms, 0: never */
    const char *granted_by;     /* may be NULL */
} store_grant;

/* Add a grant; *id (may be NULL) its id. RHAI_EINVAL for an empty caller
 * or model, no ops, a negative object_id or expires_at, or an object_id
 * on model "*" (object ids are per model). */
int store_grant_add(store_db *db, const store_grant *g, int64_t *id, rhai_error *err);
/* Revoke g->ops (STORE_OP_ALL when 0) from the grants of g->caller on
 * g->model for exactly g->object_id (0: the model-wide ones); grants left
 * with no op are deleted. *n (may be NULL): grants changed. */
int store_grant_revoke(store_db *db, const store_grant *g, int *n, rhai_error *err);
/* Every grant: [{id, caller, model, ops: [...], object_id, expires_at,
 * granted_by, created_at}] (*out new), oldest first. */
int store_grant_list(store_db *db, json_t **out, rhai_error *err);

typedef struct store_audit {
    int64_t     at;             /* unix ms */
    const char *task_id;        /* may be NULL */
    const char *caller;
    const char *op;             /* "read", "create", "grant" ... */
    const char *model;
    int64_t     object_id;      /* 0: none */
    const char *decision;       /* "allowed" or "denied" */
    const char *reason;         /* may be NULL */
} store_audit;

/* Append one audit row (in the current transaction, if any). */
int store_audit_put(store_db *db, const store_audit *a, rhai_error *err);

/* How many denial rows callers may add to a context (store_audit_denial).
 * A minute is a window of wall-clock time (now_ms / 60000). */
#ifndef STORE_AUDIT_CALLER_PER_MIN
#define STORE_AUDIT_CALLER_PER_MIN 60    /* rows of one caller per minute */
#endif
#ifndef STORE_AUDIT_CONTEXT_PER_MIN
#define STORE_AUDIT_CONTEXT_PER_MIN 600  /* rows of all callers per minute */
#endif

typedef struct store_audit_limits {
    long per_caller;    /* denial rows one caller adds per minute, >= 0 */
    long per_context;   /* denial rows all callers add per minute, >= 0 */
} store_audit_limits;

/* Record 'count' (>= 1) denials described by 'a' (a->decision "denied"),
 * in the current transaction, rate-limited per minute 'now_ms' falls in:
 * while the caller has added fewer than lim->per_caller rows this minute
 * and the context fewer than lim->per_context, 'a' is one row. Past the
 * caller's limit its denials are added to one counter row per caller and
 * minute (op "denials", model "*", reason "N more denials of this caller
 * this minute..."), which counts once against the context's limit; past
 * the context's, every caller's denials go to one counter row of the
 * context per minute (caller "*"). So one caller adds at most
 * per_caller + 1 rows a minute, all callers together per_context + 1.
 * 'lim' NULL: the defaults above. RHAI_ESTORE. */
int store_audit_denial(store_db *db, const store_audit *a, int64_t count, int64_t now_ms,
                       const store_audit_limits *lim, rhai_error *err);
/* 1 when the log holds a row of task 'task_id' by 'caller' with
 * 'decision', 0 when not, <0 an error (the DSL writes a task's denials
 * once; the caller is part of the question so that another caller's rows
 * under the same id do not silence them). */
int store_audit_has(store_db *db, const char *task_id, const char *caller,
                    const char *decision, rhai_error *err);
/* The newest 'limit' (1..STORE_LIST_MAX) audit rows matching the filters
 * (NULL: any), newest first: [{id, at, task_id, caller, op, model,
 * object_id, decision, reason}] (*out new). */
int store_audit_query(store_db *db, const char *caller, const char *model,
                      const char *decision, long limit, json_t **out, rhai_error *err);

/* Facts about an open context for `rhaictl context show`: {"schema_version":
 * the recorded schema hash + store tables' version (null when none),
 * "tasks_recorded": ledger rows, "owners", "grants", "audit_rows": counts}
 * (*out new). RHAI_ESTORE, RHAI_ENOMEM. Rows per model: store_count. */
int store_context_info(store_db *db, json_t **out, rhai_error *err);

/* ======================== events: outbox and subscriptions ============
 *
 * emit() in a script (dsl/events.c) writes one outbox row per event in the
 * task's own transaction (rhai_outbox), so an event exists if and only if
 * its task committed; rhaid relays the rows after the task's result and
 * marks them relayed. Subscriptions (rhai_subs, `rhaictl on`) say which
 * tasks an event starts; the ones that match are resolved when the event
 * is emitted and stored with its row, so a relay needs nothing but the row.
 *
 * An event, as store_outbox_pending returns it (and the result frame and
 * the relay carry it): {"id", "name", "payload" (a JSON value), "context",
 * "task", "caller", "time" (unix ms), "trace", "depth", "subs": [{"name",
 * "worker", "script", "args", "caller"}...]}. */
#define STORE_EVENT_NAME_MAX    128      /* [A-Za-z0-9_.:-], no dot first or last */
#define STORE_EVENT_ID_MAX      128      /* [A-Za-z0-9_.:@-] */
#define STORE_SUB_NAME_MAX      64       /* [A-Za-z0-9_.:-] */
#ifndef STORE_SUB_SCRIPT_MAX
#define STORE_SUB_SCRIPT_MAX    (256u * 1024u)  /* bytes of a subscription's script */
#endif
#ifndef STORE_SUBS_MAX
#define STORE_SUBS_MAX          1000     /* subscriptions per context */
#endif
#ifndef STORE_OUTBOX_BATCH
#define STORE_OUTBOX_BATCH      100      /* rows one sweep returns at most */
#endif

typedef struct store_event {
    const char *id;             /* deterministic per (task, sequence) */
    const char *name;
    const char *payload;        /* JSON text; NULL: "null" */
    const char *task_id;        /* the emitting task */
    int64_t     seq;            /* 1-based emit sequence in the task */
    const char *caller_id;
    const char *trace_id;
    int64_t     depth;          /* >= 1 */
    int64_t     at;             /* unix ms, at emit */
    const char *subs;           /* JSON text: the matching subscriptions'
                                   array; NULL: "[]" */
} store_event;

/* Add one outbox row (in the current transaction: the task's). RHAI_EINVAL
 * for a missing id/name/task, RHAI_ESTORE (also for an id recorded
 * already: a bug, ids are unique per task and the ledger keeps a task from
 * committing twice). */
int store_outbox_put(store_db *db, const store_event *ev, rhai_error *err);
/* Unrelayed outbox rows as an array of event objects (*events new),
 * oldest first, at most 'limit' (1..STORE_LIST_MAX): those of task
 * 'task_id' when it is not NULL (a replayed task's), else those of the
 * whole context emitted before unix ms 'before_ms' (the repair sweep). */
int store_outbox_pending(store_db *db, const char *task_id, int64_t before_ms, long limit,
                         json_t **events, rhai_error *err);
/* Mark the rows of 'ids' (n of them; unknown ids and rows marked already
 * are skipped) relayed now, in one statement (its own transaction unless
 * db is in one). *marked (may be NULL): rows changed. Called by rhaid off
 * its loop thread: a thread must use a store (store_new) and its store_db
 * of its own -- neither is thread-safe, and nothing in src/store is shared
 * between two stores. RHAI_EINVAL (n 0 or a NULL id), RHAI_ESTORE. */
/* Delete up to 'limit' (1..STORE_LIST_MAX) rows relayed before unix ms
 * 'before_ms' (rows never relayed are never deleted), oldest first;
 * *deleted (may be NULL): rows gone. store_outbox_mark_relayed calls it
 * with now - STORE_OUTBOX_KEEP_MS after every batch, so a context keeps
 * its relayed rows for a day (to look at) and the table stays bounded by
 * a day of events plus what is waiting. RHAI_EINVAL, RHAI_ESTORE. */
#define STORE_OUTBOX_KEEP_MS (24LL * 3600 * 1000)
#define STORE_OUTBOX_PRUNE_BATCH 1000
int store_outbox_prune(store_db *db, int64_t before_ms, long limit, int64_t *deleted,
                       rhai_error *err);
int store_outbox_mark_relayed(store_db *db, const char *const *ids, size_t n,
                              int64_t *marked, rhai_error *err);
/* Rows of the outbox: {"total", "pending"} counts (*out new). */
int store_outbox_stats(store_db *db, json_t **out, rhai_error *err);

typedef struct store_sub {
    const char *name;           /* unique in the context */
    const char *pattern;        /* event name, "prefix.*" or "*" */
    const char *worker;
    const char *script;
    const char *args;           /* JSON text of an object; NULL: none ("{}") */
    const char *caller;         /* what the started tasks run as */
    const char *created_by;     /* may be NULL */
    int         paused;
} store_sub;

/* 1 when 'name' may name an event (STORE_EVENT_NAME_MAX), else 0. */
int store_event_name_valid(const char *name);
/* 1 when 'pattern' is a subscription pattern: an event name, "prefix.*"
 * (prefix an event name) or "*". */
int store_event_pattern_valid(const char *pattern);
/* 1 when event 'name' matches 'pattern': equal, "*", or "p.*" and name is
 * p followed by '.' and one or more further segments. */
int store_event_pattern_match(const char *pattern, const char *name);
/* 1 when 'name' may name a subscription (STORE_SUB_NAME_MAX). */
int store_sub_name_valid(const char *name);

/* Add subscription s (validated: names, pattern, non-empty worker, script
 * and caller, args a JSON object). RHAI_EINVAL naming what is wrong,
 * RHAI_ESTATE when the name is taken, RHAI_ETOOBIG past STORE_SUBS_MAX. */
int store_sub_put(store_db *db, const store_sub *s, rhai_error *err);
/* {"name", "pattern", "worker", "script", "args" (object or null),
 * "caller", "created_by", "paused" (bool), "created_at", "updated_at"}
 * (*out new). RHAI_ENOTFOUND. */
int store_sub_get(store_db *db, const char *name, json_t **out, rhai_error *err);
/* Every subscription in the get form, by name (*out new array). */
int store_sub_list(store_db *db, json_t **out, rhai_error *err);
/* Pause (1) or resume (0). RHAI_ENOTFOUND. */
int store_sub_set_paused(store_db *db, const char *name, int paused, rhai_error *err);
/* RHAI_ENOTFOUND when there is none. */
int store_sub_del(store_db *db, const char *name, rhai_error *err);
/* The unpaused subscriptions whose pattern matches event 'name', by name,
 * in the form an outbox row stores them: [{"name", "worker", "script",
 * "args" (JSON text, "{}" when none), "caller"}] (*subs new array). */
int store_sub_match(store_db *db, const char *name, json_t **subs, rhai_error *err);
/* The same over 'all', a store_sub_list answer (borrowed): for a caller
 * that matches many names against one read of the list (emit). */
int store_subs_matching(json_t *all, const char *name, json_t **subs, rhai_error *err);

/* ======================== moving contexts (move.c) ====================
 *
 * A context travels as JSON lines ("rhaictl context export ID > f.json"):
 *   {"format": "rhai-context/1", "context": ID, "backend": "sqlite",
 *    "schema_hash": ..., "exported_at": ms}
 *   {"table": T, "row": {...}}          one per row, tables in the order
 *                                       owners, grants, audit, ledger, then
 *                                       the models in schema order
 *   {"end": true, "rows": N}            so a cut file is refused
 * Canonical rows (absent/NULL columns as JSON null):
 *   rhai_owners  {caller, added_at}
 *   rhai_grants  {id, caller, model, ops (bit mask), object_id, expires_at,
 *                 granted_by, created_at}
 *   rhai_audit   {id, at, task_id, caller, op, model, object_id, decision,
 *                 reason}
 *   rhai_ledger  {task_id, result, finished_at, caller_id, context_id,
 *                 worker_id, digest (64 lowercase hex digits)}
 *   a model      the store_get form {id, created_at, updated_at, fields...}
 * The audit rate counters are not moved (they are per minute). */
#define STORE_EXPORT_FORMAT "rhai-context/1"
#define STORE_TABLE_OWNERS "rhai_owners"
#define STORE_TABLE_GRANTS "rhai_grants"
#define STORE_TABLE_AUDIT  "rhai_audit"
#define STORE_TABLE_LEDGER "rhai_ledger"
#define STORE_TABLE_OUTBOX "rhai_outbox"
#define STORE_TABLE_SUBS   "rhai_subs"

/* Pass every line of the open context 'db' (not in a transaction: export
 * reads in one of its own, a consistent snapshot) to fn, in order; fn
 * returns 0 to go on. 0 or the first error. */
int store_context_export(store_db *db, int (*fn)(void *u, json_t *line, rhai_error *err),
                         void *u, rhai_error *err);
/* Create context 'context_id' (which must not exist: RHAI_ESTATE) from the
 * lines next() gives (*line new, NULL at the end of input), all rows in
 * one transaction; a bad or cut file (RHAI_EINVAL, naming the line) or any
 * failure leaves no context behind. *rows (may be NULL): rows written. */
int store_context_import(store *s, const char *context_id,
                         int (*next)(void *u, json_t **line, rhai_error *err), void *u,
                         int64_t *rows, rhai_error *err);

#endif
