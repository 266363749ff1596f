/* dsl.h -- the one internal header of dsl/ (prefix dsl_): the business
 * domains bound to scripts.
 *
 * The schemas (dsl/schema/<domain>.json) are compiled by dslgen into dsl_schema,
 * a store_schema driving both the store's tables and the generic JS
 * bindings of bind.c (Model.create/get/update/delete/list/count and the
 * new_model() builders). Each domain file (business.c, finance.c ...) adds
 * the operations that are more than CRUD and the invariants checked on
 * every write of its models. task.c ties a task to its context database
 * through the engine's hooks: one transaction per task, opened by the
 * first DSL call, committed with the task's ledger row.
 *
 * mujs errors are longjmps. Every binding follows one discipline: check
 * the script's arguments first (this may throw; values go into scratch
 * JSON owned by the task, freed on the next call or at the end); then do
 * all store work with no js_* call in between, inside a savepoint; then
 * either throw (after the savepoint is rolled back and the message copied
 * to the C stack) or push the result. */
#ifndef DSL_DSL_H
#define DSL_DSL_H

#include <mujs.h>

#include "store/store.h"
#include "engine/engine.h"

/* ======================== generated (dsl_schema_gen.c) ================= */

typedef struct dsl_op_decl {
    const char *model;
    const char *name;
} dsl_op_decl;

/* A guarded field (schema key "set_by"): it holds money or the outcome of
 * a domain operation, so only those operations, or an owner, change it. */
typedef struct dsl_guard_decl {
    const char *model;
    const char *field;
    const char *set_by;     /* "Account.transfer"; "": owners only */
    const char *reason;     /* audit reason of a refused write (static) */
} dsl_guard_decl;

/* What deleting a referenced row does to the rows referencing it. */
typedef enum dsl_on_delete {
    DSL_ON_DELETE_RESTRICT = 1,   /* the delete fails (Conflict) while one exists */
    DSL_ON_DELETE_CASCADE         /* they are deleted too, each authorized */
} dsl_on_delete;

/* A reference (a ref field; schema key "on_delete"): rows of 'model'
 * whose 'field' holds the id of a row of 'target', or, when 'item' is not
 * NULL, whose list 'field' holds an element (a struct) whose 'item' does. */
typedef struct dsl_ref_decl {
    const char   *model;
    const char   *field;
    const char   *item;         /* NULL: 'field' itself is the ref */
    const char   *target;
    dsl_on_delete on_delete;
} dsl_ref_decl;

extern const store_model dsl_models[];
extern const store_schema dsl_schema;
extern const dsl_op_decl dsl_op_decls[];      /* ends with { NULL, NULL } */
extern const dsl_guard_decl dsl_guards[];     /* ends with { NULL, ... } */
extern const dsl_ref_decl dsl_refs[];         /* ends with { NULL, ... } */
extern const char *const dsl_domains[];       /* NULL-terminated */
extern const char *const dsl_schema_sources[]; /* JSON per domain, NULL-terminated */
extern const char dsl_types_dts[];            /* the generated rhai-dsl.d.ts */

/* ======================== domains ======================== */

/* A write about to happen: 'row' is the full row after the change (the
 * existing row merged with the new values, defaults applied; "id" absent
 * on create). A check may fix up computed fields in 'row' (a sale's total)
 * and may read or write other rows in 'db' (inside the call's savepoint).
 * 0, or an error code with the message in err (RHAI_EINVAL: the script's
 * fault, reported as an Error naming the rule). */
typedef int (*dsl_check_fn)(store_db *db, const store_model *m, json_t *old_row,
                            json_t *row, rhai_error *err);

/* One C operation: model.name(...) in scripts. */
typedef struct dsl_op {
    const char   *model;
    const char   *name;
    js_CFunction  fn;
    int           nargs;
} dsl_op;

typedef struct dsl_check {
    const char   *model;
    dsl_check_fn  fn;
} dsl_check;

/* Per domain file: NULL-terminated tables. */
extern const dsl_op dsl_business_ops[], dsl_finance_ops[], dsl_content_ops[],
    dsl_workflow_ops[], dsl_calendar_ops[], dsl_contacts_ops[], dsl_circle_ops[];
extern const dsl_check dsl_business_checks[], dsl_finance_checks[], dsl_content_checks[],
    dsl_workflow_checks[], dsl_calendar_checks[], dsl_contacts_checks[],
    dsl_circle_checks[];

/* All of them, for registration and for the test that every op a schema
 * declares is implemented. NULL-terminated arrays of tables. */
extern const dsl_op *const dsl_op_tables[];
extern const dsl_check *const dsl_check_tables[];

/* ======================== helpers for bindings (bind.c) ================ */

/* The model called 'name' (rh_assert: a bug of ours when absent). */
const store_model *dsl_model(const char *name);

/* Start a binding call: frees the previous call's scratch. */
void dsl_call_begin(js_State *J);
/* Hand 'v' (new) to the task until the next call; returns it. Throws
 * "out of memory" when v is NULL. */
json_t *dsl_keep(js_State *J, json_t *v);
/* dsl_keep without the throw, for store work: 0, or -1 (v freed) on OOM. */
int dsl_keep_nothrow(json_t *v);

enum { DSL_CREATE, DSL_UPDATE };
/* The script's object at 'idx' checked against model 'm' as scratch JSON:
 * unknown fields, wrong types, out-of-range values and (DSL_CREATE)
 * missing required fields throw a TypeError naming the field; DSL_CREATE
 * also applies defaults. 'what' names the call in messages. */
json_t *dsl_values_from_js(js_State *J, int idx, const store_model *m, int mode,
                           const char *what);
/* idx as an absolute stack index (convert.c). */
int dsl__absidx(js_State *J, int idx);
/* One scalar at idx as JSON of type t (new), checked against f's rules
 * when f is not NULL; TypeError naming 'what' and 'name' (convert.c). */
json_t *dsl__scalar_from_js(js_State *J, int idx, const store_field *f, store_type t,
                            const char *what, const char *name);
/* Set obj[key] = v (stolen); "out of memory" when v is NULL (convert.c). */
void dsl__attach(js_State *J, json_t *obj, const char *key, json_t *v);
/* Mark that a script's arguments are being read: a DSL call made then (by
 * a getter or toString) throws instead of nesting (bind.c). */
void dsl__converting(int on);
/* The value at idx as a positive integer id, else TypeError. */
int64_t dsl_arg_id(js_State *J, int idx, const char *what);
/* The value at idx as a finite number, else TypeError. */
double dsl_arg_number(js_State *J, int idx, const char *what);
/* The value at idx as a string, else TypeError. Borrowed from the stack. */
const char *dsl_arg_string(js_State *J, int idx, const char *what);

/* The task's context database, in its transaction, with the "dsl"
 * savepoint open: every write of one call is all-or-nothing even when the
 * script catches its error. Throws when the store cannot be opened or the
 * task was already recorded. End the call with dsl_write_end. */
store_db *dsl_write_begin(js_State *J);
/* rc 0: release the savepoint. Otherwise roll back to it and throw the
 * error in 'err' (TypeError for RHAI_EINVAL with a "type" prefix... see
 * bind.c). Never returns when rc != 0. */
void dsl_write_end(js_State *J, store_db *db, int rc, rhai_error *err);

/* Run model m's write checks (the domain files' tables) on 'row'. */
int dsl_run_checks(store_db *db, const store_model *m, json_t *old_row, json_t *row,
                   rhai_error *err);

/* Who chose the values of a create or update. DSL_BY_SCRIPT: the
 * script's own field map (Model.create/update, builders, Sale.record):
 * guarded fields are checked (dsl_guard_check). DSL_BY_OP: a domain
 * operation computed them (Account.transfer's balances, the status
 * FlowStep.complete sets): it is the one path that writes guarded fields
 * for callers who are not owners. */
typedef enum dsl_by { DSL_BY_SCRIPT, DSL_BY_OP } dsl_by;

/* Store work of create/update with the model's checks, no js_* calls:
 * authorize, (DSL_BY_SCRIPT) guard, checks, write, audit. *row is the
 * written row (new) on success. */
int dsl_insert_checked(store_db *db, const store_model *m, json_t *values, dsl_by by,
                       json_t **row, rhai_error *err);
int dsl_update_checked(store_db *db, const store_model *m, int64_t id, json_t *values,
                       dsl_by by, json_t **row, rhai_error *err);
/* dsl_write_end, then push 'row' (stolen; freed when rc != 0). */
void dsl_write_end_row(js_State *J, store_db *db, int rc, rhai_error *err, json_t *row);
/* Model.create / Model.update with checked scratch values: write and
 * push the row, or throw. */
void dsl_do_create(js_State *J, const store_model *m, json_t *v, dsl_by by);
void dsl_do_update(js_State *J, const store_model *m, int64_t id, json_t *v, dsl_by by);

/* Push 'v' (borrowed) as a JS value. */
void dsl_push_json(js_State *J, json_t *v);

/* Field access on rows (0, 0.0, "" when absent or null). */
static inline json_int_t dsl_int(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}
static inline double dsl_num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}
static inline const char *dsl_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Throw an Error named StoreUnavailable, "store unavailable: <msg>": the
 * store failed for a reason of the host's (I/O, read-only, locked, out of
 * memory), not the script's. Uncaught, the task ends with kind internal,
 * marked transient, and rhaid runs it again later (task.c). */
JS_NORETURN void dsl_throw_store(js_State *J, const char *msg);

/* ctx.caller_id of the running task ("" outside one). */
const char *dsl_caller(void);
/* The running task's id (NULL outside one or when it has none). */
const char *dsl_task_id(void);

/* ======================== authorization (authz.c) ====================== */

/* Returned by dsl_authorize and the helpers below when the caller may not;
 * never leaves dsl/: dsl_write_end turns it into PermissionDenied. */
#define DSL_EDENIED (-1000)

/* May the task's caller do 'op' (one STORE_OP_* bit) on object 'id' of
 * 'model' (0: the model as a whole: create, list, count)? 0 when an owner
 * or a matching unexpired grant allows it; DSL_EDENIED with err naming
 * caller, op, model and id, the denial queued for the audit log; or
 * RHAI_ESTORE. Depends on no row. No js_* call. */
int dsl_authorize(store_db *db, const char *model, unsigned op, int64_t id,
                  rhai_error *err);
/* The audit row of an allowed write ("create", "update", "delete",
 * "grant" ...), in the current savepoint. 'reason' may be NULL. */
int dsl_audit_write(store_db *db, const char *op, const char *model, int64_t id,
                    const char *reason, rhai_error *err);
/* Authorize read of (m, id), then store_get. */
int dsl_get_authorized(store_db *db, const store_model *m, int64_t id, json_t **row,
                       rhai_error *err);
/* May the task's caller write 'values' (a script's field map) to model
 * m: row 'old' (update of 'id') or a new row (old NULL, values with the
 * defaults applied)? 0 unless the values change a guarded field (one of
 * dsl_guards: different from the old row's value, or on create from the
 * field's default) and the caller is not an owner; then DSL_EDENIED,
 * audited as a denial of the update (create) naming the field. Numbers
 * compare by value (100 and 100.0 are the same). RHAI_ESTORE, RHAI_ENOMEM.
 * No js_* call. */
int dsl_guard_check(store_db *db, const store_model *m, int64_t id, json_t *old,
                    json_t *values, rhai_error *err);
/* ======================== references (refs.c) ========================= */

/* Returned by dsl_delete_checked when a restrict reference holds the row
 * (or the cascade is too large); never leaves dsl/: dsl_write_end turns
 * it into a Conflict. */
#define DSL_ECONFLICT (-1001)

/* Model.delete's store work, no js_* call: authorize delete of (m, id),
 * then, following dsl_refs, refuse it (DSL_ECONFLICT, err saying which
 * reference) while a restrict reference to it exists, or delete the rows
 * of cascade references too, each authorized as a delete of its model
 * and object (DSL_EDENIED for the first that is not: nothing is deleted
 * once the caller's savepoint rolls back) and audited with a reason
 * naming the row it went with. RHAI_ENOTFOUND when (m, id) does not
 * exist; RHAI_ESTORE, RHAI_ENOMEM. */
int dsl_delete_checked(store_db *db, const store_model *m, int64_t id, rhai_error *err);
/* Throw the last Conflict: an Error named "Conflict" with model,
 * object_id and referenced_by ("product.company"; null when the cascade
 * was too large) properties. Uncaught: error_kind script. */
JS_NORETURN void dsl_throw_conflict(js_State *J);

/* Authorize update of (m, id), store_update without the model's checks
 * or the guard (domain code that keeps its own invariant and computes
 * the guarded fields it writes), audit it. */
int dsl_update_audited(store_db *db, const store_model *m, int64_t id, json_t *values,
                       rhai_error *err);
/* Throw the PermissionDenied of the last denial: an Error named
 * "PermissionDenied" with caller, op, model and object_id properties. */
JS_NORETURN void dsl_throw_denied(js_State *J);
/* Define the owner-only globals `acl` and `audit` on J. */
void dsl_bind_admin(js_State *J);

/* task.c: keep a denial (pointers borrowed until the task ends) to be
 * written after the task's commit or rollback. */
void dsl__denial_queue(const store_audit *a);

/* ======================== task integration (task.c) ==================== */

/* Install the engine hooks so that every eng_run in this process sees the
 * DSL, storing contexts under 'data_dir' (copied; created on first use).
 * Opening anything waits for the first DSL call. 0, RHAI_EINVAL,
 * RHAI_ENOMEM. */
int dsl_install(const char *data_dir, rhai_error *err);
/* Remove the hooks and close every context. */
void dsl_uninstall(void);
/* The caller a task without one runs as (rhaid, librhai-client, rhaictl). */
#define DSL_CALLER_ANONYMOUS "anonymous"

/* Dev mode (off by default): the first DSL call of a task whose context
 * does not exist creates it, owned by the task's caller. Off, such a call
 * throws UnknownContext (error_kind invalid when uncaught); so does it in
 * dev mode for a task with no caller ("" or DSL_CALLER_ANONYMOUS), which
 * would otherwise make every unidentified submitter an owner. */
void dsl_set_dev_mode(int on);
/* The limits of the denial rows tasks add to a context, per caller and
 * per context and minute (store_audit_denial); NULL: the defaults
 * (STORE_AUDIT_CALLER_PER_MIN, STORE_AUDIT_CONTEXT_PER_MIN). Copied. */
void dsl_set_audit_limits(const store_audit_limits *lim);

/* The error of a task whose id the ledger recorded for another submission
 * (another caller, worker, script or args): error_kind invalid. */
#define DSL_TASK_ID_USED "task id already used: this context recorded another " \
                         "submission under this id; submit the task under a new id"

/* Define every model global (a lazy getter: a model's object is built on
 * a task's first use of it), builder, `acl` and `audit` on J: the prepare
 * hook, run once on the library state every task copies. */
void dsl_bind(js_State *J);

/* The open store database of the running task, opening it and starting
 * its transaction on first use (task.c). Throws on failure or replay. */
store_db *dsl_task_db(js_State *J);

/* ======================== events (events.c) ========================== */

/* Define the global emit(name, payload) on J (part of dsl_bind). */
void dsl_bind_events(js_State *J);
/* task.c's side: a task starts; it ends. */
void dsl__events_begin(const eng_input *in);
void dsl__events_end(void);
/* Forget which contexts were swept when (another store). */
void dsl__events_reset(void);
/* The events rhaid is to relay after the task (JSON text of an array,
 * rh_malloc'd; NULL when none): the ones this run committed (committed),
 * the task's unrelayed rows (replay), and the repair sweep's. 'db' is the
 * task's context, out of any transaction. */
char *dsl__events_result(store_db *db, const eng_input *in, int committed, int replay);

#endif
