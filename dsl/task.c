/* task.c -- one task, one transaction: the engine hooks of the DSL.
 *
 * setup binds the models on the task's fresh js_State and opens nothing,
 * so a task that never calls the DSL never touches SQLite. The first DSL
 * call opens the task's context database (through the process's LRU of
 * open contexts), takes its write lock (BEGIN IMMEDIATE) and looks the
 * task id up in the ledger. A recorded id means the task already ran and
 * committed (a redelivery after a crash): every DSL call of this run then
 * throws, and finish answers with the recorded result instead of whatever
 * this run produced. Otherwise finish commits the task's writes together
 * with its ledger row when the task succeeded, and rolls back when it
 * failed for any reason (an uncaught exception, a limit, a result too
 * large). A process killed mid-task leaves an uncommitted transaction that
 * SQLite rolls back: effects happen once or not at all.
 *
 * Test hook: RHAI_TEST_FAULT=kill_parent_after_commit makes the process
 * SIGKILL its parent and itself right after a commit, the worst moment for
 * a worker to die (effects committed, no reply sent). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl.h"

void dsl__scratch_free(void);

static struct {
    char            *data_dir;    /* new */
    store           *st;          /* opened on first use */
    const eng_input *in;          /* the running task, NULL between tasks */
    store_db        *db;          /* in its transaction once opened */
    int              replay;      /* the task id is in the ledger */
    char            *recorded;    /* its recorded result (new) */
} T;

const char *dsl_caller(void)
{
    return T.in && T.in->caller_id ? T.in->caller_id : "";
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
    if (T.db)
        return T.db;
    if (T.in == NULL)
        js_error(J, "the DSL is only available inside a task");
    memset(&err, 0, sizeof err);
    ctx = T.in->context_id && *T.in->context_id ? T.in->context_id : "default";
    if (T.st == NULL && (rc = store_new(T.data_dir, &dsl_schema, &T.st, &err)) != 0)
        goto fail;
    if ((rc = store_open(T.st, ctx, &db, &err)) != 0 || (rc = store_begin(db, &err)) != 0)
        goto fail;
    rc = T.in->task_id ? store_ledger_get(db, T.in->task_id, &rec, &err) : RHAI_ENOTFOUND;
    if (rc == 0) {
        store_rollback(db);
        T.replay = 1;
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
    js_error(J, "store unavailable: %s", msg);
}

static void hook_setup(js_State *J, const eng_input *in, void *data)
{
    (void)data;
    T.in = in;
    T.db = NULL;
    T.replay = 0;
    T.recorded = NULL;
    dsl_bind(J, in->script, in->script_len);
}

static void out_fail(eng_output *out, const char *msg)
{
    rh_free(out->output);
    out->output = NULL;
    rh_free(out->error);
    out->error = rh_strdup(msg);
    out->status = RHAI_STATUS_ERROR;
    out->kind = RH_EK_INTERNAL;
}

static void fault_after_commit(void)
{
    const char *f = getenv("RHAI_TEST_FAULT");

    if (f && strcmp(f, "kill_parent_after_commit") == 0) {
        kill(getppid(), SIGKILL);
        raise(SIGKILL);
    }
}

static void hook_finish(const eng_input *in, eng_output *out, void *data)
{
    rhai_error err;

    (void)data;
    memset(&err, 0, sizeof err);
    if (T.replay) {
        rh_free(out->output);
        rh_free(out->error);
        out->error = NULL;
        out->output = T.recorded;
        T.recorded = NULL;
        out->status = RHAI_STATUS_DONE;
        out->kind = RH_EK_NONE;
    } else if (T.db) {
        if (out->status == RHAI_STATUS_DONE && out->output) {
            int rc = in->task_id ? store_ledger_put(T.db, in->task_id, out->output, &err) : 0;
            if (rc == 0)
                rc = store_commit(T.db, &err);
            if (rc != 0) {
                char msg[RHAI_ERRMSG_MAX + 32];
                store_rollback(T.db);
                snprintf(msg, sizeof msg, "commit failed: %s", err.msg);
                rh_log(RH_LOG_ERROR, "event=commit_failed task=%s %s",
                       in->task_id ? in->task_id : "-", err.msg);
                out_fail(out, msg);
            } else {
                fault_after_commit();
            }
        } else {
            store_rollback(T.db);
        }
    }
    rh_free(T.recorded);
    T.recorded = NULL;
    T.db = NULL;
    T.in = NULL;
    T.replay = 0;
    dsl__scratch_free();
}

int dsl_install(const char *data_dir, rhai_error *err)
{
    eng_hooks h = { hook_setup, hook_finish, NULL };
    char *dir;

    if (data_dir == NULL || *data_dir == '\0')
        return rh_error_set(err, RHAI_EINVAL, "no data directory");
    if ((dir = rh_strdup(data_dir)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    dsl_uninstall();
    T.data_dir = dir;
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
}
