/* task.c -- one task, one transaction: the engine hooks of the DSL.
 *
 * setup binds the models on the task's fresh js_State and opens nothing,
 * so a task that never calls the DSL never touches SQLite. The first DSL
 * call opens the task's context database (through the process's LRU of
 * open contexts), takes its write lock (BEGIN IMMEDIATE) and looks the
 * task id up in the ledger. Task ids are chosen by clients, so a ledger
 * row is bound to the submission it recorded (caller, context, worker, a
 * digest of script and args: store_ledger_get). The same submission
 * recorded means the task already ran and committed (a redelivery after a
 * crash): every DSL call of this run then throws, and finish answers with
 * the recorded result instead of whatever this run produced. Another
 * submission under a recorded id is refused: its DSL calls throw, finish
 * fails it with kind invalid ("task id already used"), it writes nothing
 * but one (rate-limited) audit row of the refusal, and nothing of the
 * recorded row reaches it. Otherwise finish commits the task's writes
 * together with its ledger row when the task succeeded and changed rows,
 * and rolls back when it failed for any reason (an uncaught exception, a
 * limit, a result too large) or changed nothing: a task that wrote
 * nothing has no effect to make exactly-once and leaves no ledger row (a
 * redelivery runs it again, harmlessly), so no caller can plant a result
 * under an id with calls that were all refused. A process killed mid-task
 * leaves an uncommitted transaction that SQLite rolls back: effects happen
 * once or not at all.
 *
 * A context must exist (rhaictl context create) before a task uses the
 * DSL in it: otherwise the first call throws UnknownContext, unless dev
 * mode creates it with the task's caller as owner. Denials of the task
 * (authz.c) are kept here and written to the audit log with the commit of
 * a task that wrote, or in their own transaction after the rollback of
 * any other (once per task id and caller: a run that ends the same way
 * again after a crash does not write them twice). What denials add to a
 * context is bounded: DSL_DENIALS_MAX rows per task plus one summary row,
 * and store_audit_denial's limits per caller and per context and minute.
 * (The redelivery test's fault, a worker killed right after a commit, is
 * injected by rhaid, pool.c: a confined executor cannot signal it.) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl.h"

void dsl__scratch_free(void);

#ifndef DSL_DENIALS_MAX
#define DSL_DENIALS_MAX 10          /* denial rows one task writes one by one */
#endif

static struct {
    char            *data_dir;    /* new */
    store           *st;          /* opened on first use */
    const eng_input *in;          /* the running task, NULL between tasks */
    store_db        *db;          /* in its transaction once opened */
    int              replay;      /* the task's submission is in the ledger */
    store_db        *replay_db;   /* where (not in a transaction) */
    char            *recorded;    /* its recorded result (new) */
    int              reused;      /* its id is, for another submission */
    store_db        *refused_db;  /* where (not in a transaction) */
    store_ledger_key key;         /* the task's binding, set with db */
    store_audit_limits limits;    /* of denial rows, for store_audit_denial */
    int              dev_mode;    /* create unknown contexts */
    store_audit     *denials;     /* this task's, strings borrowed (new) */
    size_t           ndenials;
    size_t           denials_cap;
    size_t           dropped;     /* past DSL_DENIALS_MAX */
    int              denied;      /* this task threw a PermissionDenied */
    int              unknown;     /* this task threw an UnknownContext */
    int              transient;   /* this task threw a StoreUnavailable */
} T;

const char *dsl_caller(void)
{
    return T.in && T.in->caller_id ? T.in->caller_id : "";
}

const char *dsl_task_id(void)
{
    return T.in ? T.in->task_id : NULL;
}

void dsl_set_dev_mode(int on)
{
    T.dev_mode = on != 0;
}

void dsl_set_audit_limits(const store_audit_limits *lim)
{
    if (lim) {
        T.limits = *lim;
    } else {
        T.limits.per_caller = STORE_AUDIT_CALLER_PER_MIN;
        T.limits.per_context = STORE_AUDIT_CONTEXT_PER_MIN;
    }
}

void dsl__denial_queue(const store_audit *a)
{
    T.denied = 1;                   /* a PermissionDenied follows */
    if (T.ndenials == DSL_DENIALS_MAX) {
        T.dropped++;
        return;
    }
    if (T.ndenials == T.denials_cap) {
        size_t cap = T.denials_cap ? T.denials_cap * 2 : 8;
        store_audit *d = rh_realloc(T.denials, cap * sizeof *d);
        if (d == NULL) {
            T.dropped++;
            return;
        }
        T.denials = d;
        T.denials_cap = cap;
    }
    T.denials[T.ndenials++] = *a;
}

/* Append the queued denials to db's current transaction, within the
 * limits per caller and context (store_audit_denial). */
static int denials_put(store_db *db, rhai_error *err)
{
    char reason[96];
    int64_t now = rh_now_ms();
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < T.ndenials; i++)
        rc = store_audit_denial(db, &T.denials[i], 1, now, &T.limits, err);
    if (rc == 0 && T.dropped > 0 && T.ndenials > 0) {   /* OOM on the first: nothing */
        store_audit a = T.denials[T.ndenials - 1];
        snprintf(reason, sizeof reason, "%zu more denials of this task not recorded one by "
                 "one", T.dropped);
        a.reason = reason;
        rc = store_audit_denial(db, &a, (int64_t)T.dropped, now, &T.limits, err);
    }
    return rc;
}

/* After a rollback: the denials in their own transaction, unless an
 * earlier run of the same task id recorded its denials already. */
static void denials_write_alone(store_db *db, const char *task_id)
{
    rhai_error err;
    int rc;

    memset(&err, 0, sizeof err);
    if (T.ndenials == 0 || (rc = store_begin(db, &err)) != 0)
        goto out;
    rc = task_id ? store_audit_has(db, task_id, dsl_caller(), "denied", &err) : 0;
    if (rc == 0)
        rc = denials_put(db, &err);
    if (rc >= 0 && (rc = store_commit(db, &err)) == 0)
        return;
out:
    store_rollback(db);
    if (T.ndenials > 0)
        rh_log(RH_LOG_ERROR, "event=audit_failed task=%s %zu denial(s) not recorded: %s",
               task_id ? task_id : "-", T.ndenials, err.msg);
}

static void denials_clear(void)
{
    rh_free(T.denials);
    T.denials = NULL;
    T.ndenials = T.denials_cap = T.dropped = 0;
}

void dsl_throw_store(js_State *J, const char *msg)
{
    char copy[RHAI_ERRMSG_MAX];

    snprintf(copy, sizeof copy, "store unavailable: %s", msg);
    T.transient = 1;
    js_newerror(J, copy);
    js_pushliteral(J, "StoreUnavailable");
    js_setproperty(J, -2, "name");
    js_throw(J);
}

/* Throw an Error named UnknownContext (error_kind invalid when uncaught). */
static JS_NORETURN void throw_unknown_context(js_State *J, const char *ctx, const char *why)
{
    char msg[RHAI_ERRMSG_MAX];

    snprintf(msg, sizeof msg, "unknown context '%s': %s", ctx, why);
    T.unknown = 1;
    js_newerror(J, msg);
    js_pushliteral(J, "UnknownContext");
    js_setproperty(J, -2, "name");
    js_throw(J);
}

/* A context that does not exist: created in dev mode, else refused. */
/* Contexts this process has seen exist, newest first: a context is never
 * deleted while tasks use it (only a failed import drops the one it was
 * making), so a task in one of them skips the question, which costs a
 * round trip on postgres. */
#define KNOWN_CONTEXTS 16
static char known[KNOWN_CONTEXTS][RH_CONTEXT_MAX + 1];

static int context_known(const char *ctx)
{
    for (int i = 0; i < KNOWN_CONTEXTS && known[i][0]; i++)
        if (strcmp(known[i], ctx) == 0)
            return 1;
    return 0;
}

static void context_remember(const char *ctx)
{
    memmove(known[1], known[0], sizeof known - sizeof known[0]);
    snprintf(known[0], sizeof known[0], "%s", ctx);
}

static void context_ensure(js_State *J, const char *ctx)
{
    char why[RHAI_ERRMSG_MAX];
    const char *caller = dsl_caller();
    rhai_error err;
    int rc;

    if (!rh_context_id_valid(ctx) || context_known(ctx))
        return;                     /* store_open reports a bad id */
    if (store_context_exists(T.st, ctx)) {
        context_remember(ctx);
        return;
    }
    if (!T.dev_mode) {
        /* never suggest anonymous: it cannot own (store_owner_add) */
        snprintf(why, sizeof why, "create it with rhaictl context create %s --owner %.100s",
                 ctx, *caller && strcmp(caller, DSL_CALLER_ANONYMOUS) != 0 ? caller
                                                                        : "CALLER");
        throw_unknown_context(J, ctx, why);
    }
    /* "anonymous" is what a task without a caller runs as (rhaid, the
     * client library and rhaictl fill it in): as an owner it would give
     * every unidentified submitter the whole context, so it owns nothing */
    if (*caller == '\0' || strcmp(caller, DSL_CALLER_ANONYMOUS) == 0) {
        snprintf(why, sizeof why, "dev mode creates it owned by the task's caller, and this "
                 "task has no caller (it runs as '%s'): submit it with one (--caller)",
                 DSL_CALLER_ANONYMOUS);
        throw_unknown_context(J, ctx, why);
    }
    memset(&err, 0, sizeof err);
    rc = store_context_create(T.st, ctx, caller, &err);
    if (rc == 0)
        rh_log(RH_LOG_NOTICE, "event=context_created context=%s dev mode: created with its "
               "first task's caller as owner", ctx);
    else if (rc != RHAI_ESTATE) {   /* ESTATE: another executor was first */
        snprintf(why, sizeof why, "%s", err.msg);
        dsl_throw_store(J, why);
    }
}

/* Throw an Error named TaskIdUsed: finish fails the task (invalid)
 * whatever the script makes of it. */
static JS_NORETURN void throw_task_id_used(js_State *J)
{
    js_newerror(J, DSL_TASK_ID_USED);
    js_pushliteral(J, "TaskIdUsed");
    js_setproperty(J, -2, "name");
    js_throw(J);
}

store_db *dsl_task_db(js_State *J)
{
    char msg[RHAI_ERRMSG_MAX];
    const char *ctx;
    rhai_error err;
    store_db *db;
    char *rec = NULL;
    int rc;

    if (T.replay)
        js_error(J, "task %s already ran and committed: its recorded result stands",
                 T.in->task_id);
    if (T.reused)
        throw_task_id_used(J);
    if (T.db)
        return T.db;
    if (T.in == NULL)
        js_error(J, "the DSL is only available inside a task");
    memset(&err, 0, sizeof err);
    ctx = T.in->context_id && *T.in->context_id ? T.in->context_id : "default";
    if (T.st == NULL && (rc = store_new(T.data_dir, &dsl_schema, &T.st, &err)) != 0)
        goto fail;
    context_ensure(J, ctx);
    if ((rc = store_open(T.st, ctx, &db, &err)) != 0 || (rc = store_begin(db, &err)) != 0)
        goto fail;
    T.key.task_id = T.in->task_id;
    T.key.caller_id = dsl_caller();
    T.key.worker_id = T.in->worker_id ? T.in->worker_id : "";
    store_ledger_digest(T.in->script, T.in->script_len, T.in->args_json, T.key.digest);
    rc = T.in->task_id ? store_ledger_get(db, &T.key, &rec, &err) : RHAI_ENOTFOUND;
    if (rc == RHAI_ESTATE) {        /* recorded for another submission */
        store_audit a;
        store_rollback(db);
        T.reused = 1;
        T.refused_db = db;
        memset(&a, 0, sizeof a);
        a.at = rh_now_ms();
        a.task_id = T.in->task_id;
        a.caller = dsl_caller();
        a.op = "run";
        a.model = "task";
        a.decision = "denied";
        a.reason = "task id already used by another submission";
        dsl__denial_queue(&a);
        rh_log(RH_LOG_NOTICE, "event=task_id_reused task=%s context=%s the id is recorded "
               "for another submission; refusing the task", T.in->task_id, ctx);
        throw_task_id_used(J);
    }
    if (rc == 0) {
        store_rollback(db);
        T.replay = 1;
        T.replay_db = db;
        T.recorded = rec;
        rh_log(RH_LOG_NOTICE, "event=task_replayed task=%s context=%s the task already "
               "committed; answering with its recorded result", T.in->task_id, ctx);
        js_error(J, "task %s already ran and committed: its recorded result stands",
                 T.in->task_id);
    }
    if (rc != RHAI_ENOTFOUND) {
        store_rollback(db);
        goto fail;
    }
    T.db = db;
    return db;
fail:
    snprintf(msg, sizeof msg, "%s", err.msg);
    dsl_throw_store(J, msg);
}

/* The models' globals go into the library state every task copies. */
static void hook_prepare(js_State *J, void *data)
{
    (void)data;
    dsl_bind(J);
}

static void hook_setup(js_State *J, const eng_input *in, void *data)
{
    (void)J;
    (void)data;
    T.in = in;
    T.db = NULL;
    T.replay = 0;
    T.replay_db = NULL;
    dsl__events_begin(in);
    T.recorded = NULL;
    T.reused = 0;
    T.refused_db = NULL;
    T.denied = T.unknown = T.transient = 0;
}

/* The task's commit failed (the store's fault, not the script's). */
static void out_fail(eng_output *out, const char *msg)
{
    rh_free(out->output);
    out->output = NULL;
    rh_free(out->error);
    out->error = rh_strdup(msg);
    out->status = RHAI_STATUS_ERROR;
    out->kind = RH_EK_INTERNAL;
    out->transient = 1;             /* the store failed: run it again later */
}

/* An uncaught error the DSL threw itself takes its kind: denied for a
 * PermissionDenied (the engine reports every Error as a script error, so
 * a script that throws an Error it named PermissionDenied, without any
 * refusal, stays a script error), invalid for an UnknownContext, and
 * internal, transient, for a StoreUnavailable: the host failed, not the
 * script, and rhaid runs such a task again later. */
static void kind_of_dsl_error(eng_output *out)
{
    static const char denied[] = "PermissionDenied", unknown[] = "UnknownContext",
                      unavailable[] = "StoreUnavailable";

    if (out->status != RHAI_STATUS_ERROR || out->kind != RH_EK_SCRIPT || out->error == NULL)
        return;
    if (T.denied && strncmp(out->error, denied, sizeof denied - 1) == 0) {
        out->kind = RH_EK_DENIED;
    } else if (T.unknown && strncmp(out->error, unknown, sizeof unknown - 1) == 0) {
        out->kind = RH_EK_INVALID;
    } else if (T.transient && strncmp(out->error, unavailable, sizeof unavailable - 1) == 0) {
        out->kind = RH_EK_INTERNAL;
        out->transient = 1;
    }
}

static void hook_finish(const eng_input *in, eng_output *out, void *data)
{
    rhai_error err;

    (void)data;
    memset(&err, 0, sizeof err);
    kind_of_dsl_error(out);
    T.denied = T.unknown = T.transient = 0;
    if (T.replay) {
        rh_free(out->output);
        rh_free(out->error);
        out->error = NULL;
        out->output = T.recorded;
        T.recorded = NULL;
        out->status = RHAI_STATUS_DONE;
        out->kind = RH_EK_NONE;
        /* its events again, those not marked relayed (the relay of the
         * run that committed may not have happened) */
        out->events = dsl__events_result(T.replay_db, in, 0, 1);
    } else if (T.reused) {
        /* nothing of this run goes out but the refusal (its own logs
         * aside): not its output, not the recorded one */
        rh_free(out->output);
        out->output = NULL;
        rh_free(out->error);
        out->error = rh_strdup(DSL_TASK_ID_USED);
        out->status = RHAI_STATUS_ERROR;
        out->kind = RH_EK_INVALID;
        out->transient = 0;
        denials_write_alone(T.refused_db, in->task_id);
    } else if (T.db) {
        if (out->status == RHAI_STATUS_DONE && out->output && store_tx_changes(T.db) > 0) {
            /* caught denials commit with the task: a replay never runs it */
            int rc = denials_put(T.db, &err);
            if (rc == 0 && in->task_id)
                rc = store_ledger_put(T.db, &T.key, out->output, &err);
            if (rc == 0)
                rc = store_commit(T.db, &err);
            if (rc == 0)
                out->events = dsl__events_result(T.db, in, 1, 0);
            if (rc != 0) {
                char msg[RHAI_ERRMSG_MAX + 32];
                store_rollback(T.db);
                denials_write_alone(T.db, in->task_id);
                snprintf(msg, sizeof msg, "commit failed: %s", err.msg);
                rh_log(RH_LOG_ERROR, "event=commit_failed task=%s %s",
                       in->task_id ? in->task_id : "-", err.msg);
                out_fail(out, msg);
            }
        } else {
            /* failed, or changed nothing: no ledger row (a read-only
             * task run again reads again, and a script whose calls were
             * all refused cannot plant a result under the id) */
            store_rollback(T.db);
            denials_write_alone(T.db, in->task_id);
            out->events = dsl__events_result(T.db, in, 0, 0);     /* the sweep only */
        }
    }
    denials_clear();
    dsl__events_end();
    rh_free(T.recorded);
    T.recorded = NULL;
    T.db = NULL;
    T.in = NULL;
    T.replay = 0;
    T.replay_db = NULL;
    T.reused = 0;
    T.refused_db = NULL;
    dsl__scratch_free();
}

int dsl_install(const char *data_dir, rhai_error *err)
{
    eng_hooks h = { .setup = hook_setup, .finish = hook_finish, .prepare = hook_prepare };
    char *dir;

    if (data_dir == NULL || *data_dir == '\0')
        return rh_error_set(err, RHAI_EINVAL, "no data directory");
    if ((dir = rh_strdup(data_dir)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    dsl_uninstall();
    T.data_dir = dir;
    dsl_set_audit_limits(NULL);
    eng_set_hooks(&h);
    return 0;
}

void dsl_uninstall(void)
{
    eng_set_hooks(NULL);
    store_free(T.st);
    T.st = NULL;
    rh_free(T.data_dir);
    T.data_dir = NULL;
    T.dev_mode = 0;
    memset(known, 0, sizeof known);     /* another store: nothing known of it */
    dsl__events_reset();
}
