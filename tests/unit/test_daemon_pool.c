/* test_daemon_pool.c -- the executor pool (pool.c) on a real loop with
 * fake executors (tests/support/fake_executor.c): results and each error
 * kind, the wall-clock kill, deaths, malformed frames, respawn, recycle,
 * cancel, a job queued behind a busy executor, and shutdown. Every job's
 * end is counted: the run callback (or, for a queued job given back, the
 * back callback) runs exactly once. */
#include "daemon_fake.h"

#include <signal.h>

#define NJOBS 8

typedef struct rec {
    int           runs;         /* run callbacks */
    int           backs;        /* back callbacks */
    int           order;        /* its end was the order-th */
    rhai_status   status;
    rh_error_kind kind;
    char          output[64];
    char          error[256];
} rec;

typedef struct pfx {
    fx       f;
    wk_pool  pool;
    wk_job   jobs[NJOBS];       /* only their addresses matter to the pool */
    rec      recs[NJOBS];
    int      ends;
    int      readies;
    int      closed;
    int      chain;             /* on_run gives job chain..chain_end-1 "pid", one per end */
    int      chain_end;
} pfx;

static pfx *P;

static int give(pfx *x, int i, const char *script, int64_t timeout_ms, int queue);

static int idx(wk_job *j)
{
    assert_true(j >= P->jobs && j < P->jobs + NJOBS);
    return (int)(j - P->jobs);
}

/* Give the next job of the chain, as wk_pump does under load from a
 * result's callback, or from the ready callback when none was idle. */
static void chain_next(void)
{
    if (P->chain < P->chain_end) {
        int rc = give(P, P->chain, "pid", 10000, 0);
        if (rc == 0)
            P->chain++;
        else
            assert_int_equal(rc, RHAI_ESTATE);
    }
}

static void on_run(wk_pool *p, wk_job *job, eng_output *out, void *data)
{
    rec *r = &P->recs[idx(job)];
    (void)p;
    assert_ptr_equal(data, P);
    r->runs++;
    r->order = ++P->ends;
    r->status = out->status;
    r->kind = out->kind;
    snprintf(r->output, sizeof r->output, "%s", out->output ? out->output : "");
    snprintf(r->error, sizeof r->error, "%s", out->error ? out->error : "");
    chain_next();
}

static void on_back(wk_pool *p, wk_job *job, void *data)
{
    (void)p;
    (void)data;
    P->recs[idx(job)].backs++;
    P->recs[idx(job)].order = ++P->ends;
}

static void on_ready(wk_pool *p, void *data)
{
    (void)p;
    (void)data;
    P->readies++;
    chain_next();
}

static void on_closed(wk_pool *p)
{
    (void)p;
    P->closed++;
}

static pfx *pfx_new(int concurrency, int64_t max_tasks)
{
    rhai_error err;
    pfx *x = calloc(1, sizeof *x);

    assert_non_null(x);
    P = x;
    fx_open(&x->f, concurrency);
    x->f.cfg.max_tasks_per_executor = max_tasks;
    assert_int_equal(wk_pool_init(&x->pool, &x->f.loop, &x->f.cfg, on_run, x, &err), 0);
    x->pool.back_cb = on_back;
    x->pool.ready_cb = on_ready;
    /* queued behind a job however long it has run; the tests of that
     * limit set it themselves */
    x->pool.queue_max_us = (int64_t)3600 * 1000000;
    return x;
}

/* Close the pool, check that every job given to it ended exactly once,
 * and that the loop closes. */
static void pfx_free(pfx *x, int njobs)
{
    wk_pool_close(&x->pool, on_closed);
    FX_RUN_UNTIL(&x->f, x->closed == 1);
    for (int i = 0; i < njobs; i++)
        assert_int_equal(x->recs[i].runs + x->recs[i].backs, 1);
    for (int i = njobs; i < NJOBS; i++)
        assert_int_equal(x->recs[i].runs + x->recs[i].backs, 0);
    fx_close(&x->f);
    assert_int_equal(x->closed, 1);
    free(x);
    P = NULL;
}

/* Give job i 'script' (an instruction of the fake) with queue 0 on an
 * idle executor, 1 behind a busy one. */
static int give(pfx *x, int i, const char *script, int64_t timeout_ms, int queue)
{
    eng_input in;
    eng_limits lim;
    char id[16];

    snprintf(id, sizeof id, "t%d", i);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.args_json = "{}";
    in.worker_id = "unit";
    in.context_id = "default";
    in.caller_id = "anonymous";
    eng_limits_default(&lim);
    return (queue ? wk_pool_queue : wk_pool_run)(&x->pool, &x->jobs[i], &in, &lim, timeout_ms);
}

/* Run job i to its end on an idle executor. */
static rec *run_one(pfx *x, int i, const char *script, int64_t timeout_ms)
{
    assert_int_equal(give(x, i, script, timeout_ms, 0), 0);
    FX_RUN_UNTIL(&x->f, x->recs[i].runs + x->recs[i].backs > 0);
    return &x->recs[i];
}

static void test_pool_answers_a_task_done_with_its_output(void **state)
{
    pfx *x = pfx_new(2, 1000);
    rec *r;
    (void)state;

    assert_int_equal(wk_pool_idle(&x->pool), 2);
    r = run_one(x, 0, "done {\"a\":[1,2]}", 10000);
    assert_int_equal(r->status, RHAI_STATUS_DONE);
    assert_int_equal(r->kind, RH_EK_NONE);
    assert_string_equal(r->output, "{\"a\":[1,2]}");
    assert_int_equal(x->pool.busy, 0);
    assert_int_equal(wk_pool_idle(&x->pool), 2);
    assert_int_equal(x->pool.restarts, 0);
    pfx_free(x, 1);
}

/* What the executor says is what the job gets; none of these costs the
 * executor its life. */
static void test_pool_passes_each_error_kind_the_executor_answers(void **state)
{
    static const struct { const char *script; rh_error_kind kind; const char *msg; } cases[] = {
        { "error script TypeError: x is undefined", RH_EK_SCRIPT, "TypeError: x is undefined" },
        { "error memory out of memory", RH_EK_MEMORY, "out of memory" },
        { "error denied no grant", RH_EK_DENIED, "no grant" },
        { "error invalid bad args", RH_EK_INVALID, "bad args" },
        { "transient", RH_EK_INTERNAL, "store unavailable" },
    };
    pfx *x = pfx_new(1, 1000);
    (void)state;

    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        rec *r = run_one(x, i, cases[i].script, 10000);
        assert_int_equal(r->status, RHAI_STATUS_ERROR);
        assert_int_equal(r->kind, cases[i].kind);
        assert_string_equal(r->error, cases[i].msg);
    }
    assert_int_equal(x->pool.restarts, 0);
    pfx_free(x, 5);
}

static void test_pool_kills_a_task_past_its_timeout_and_respawns(void **state)
{
    pfx *x = pfx_new(1, 1000);
    rec *r;
    (void)state;

    r = run_one(x, 0, "hang", 50);
    assert_int_equal(r->status, RHAI_STATUS_TIMEOUT);
    assert_int_equal(r->kind, RH_EK_TIMEOUT);
    assert_string_equal(r->error, "timeout after 50 ms");
    assert_int_equal(x->pool.restarts, 1);
    assert_int_equal(x->readies, 1);
    /* the next task runs on the fresh executor */
    assert_int_equal(run_one(x, 1, "done 2", 10000)->status, RHAI_STATUS_DONE);
    /* "ignore": the executor lives on but never answers; the clock ends it */
    r = run_one(x, 2, "ignore", 50);
    assert_int_equal(r->kind, RH_EK_TIMEOUT);
    assert_int_equal(x->pool.restarts, 2);
    pfx_free(x, 3);
}

static void test_pool_reports_a_dead_executor_as_crashed_and_respawns(void **state)
{
    pfx *x = pfx_new(1, 1000);
    rec *r;
    long pid0, pid3;
    (void)state;

    pid0 = atol(run_one(x, 0, "pid", 10000)->output);
    r = run_one(x, 1, "exit 3", 10000);
    assert_int_equal(r->status, RHAI_STATUS_ERROR);
    assert_int_equal(r->kind, RH_EK_CRASHED);
    assert_string_equal(r->error, "executor died (exit status 3, signal 0)");
    r = run_one(x, 2, "signal 11", 10000);
    assert_int_equal(r->kind, RH_EK_CRASHED);
    assert_string_equal(r->error, "executor died (exit status 0, signal 11)");
    assert_int_equal(x->pool.restarts, 2);
    assert_int_equal(x->readies, 2);
    pid3 = atol(run_one(x, 3, "pid", 10000)->output);
    assert_true(pid0 > 0 && pid3 > 0 && pid0 != pid3);
    pfx_free(x, 4);
}

/* An executor that breaks the protocol is killed: its job ends internal
 * (the executor's fault, not the task's: invalid is for malformed tasks). */
static void test_pool_ends_a_job_internal_on_a_malformed_frame(void **state)
{
    static const struct { const char *script; const char *msg; } cases[] = {
        { "garbage", "executor sent a malformed result" },
        { "badlen", "executor broke the frame protocol" },
        { "wrongid", "executor sent a malformed result" },
    };
    pfx *x = pfx_new(1, 1000);
    (void)state;

    for (int i = 0; i < 3; i++) {
        rec *r = run_one(x, i, cases[i].script, 10000);
        assert_int_equal(r->status, RHAI_STATUS_ERROR);
        assert_int_equal(r->kind, RH_EK_INTERNAL);
        assert_string_equal(r->error, cases[i].msg);
        assert_int_equal(x->pool.restarts, i + 1);
    }
    assert_int_equal(run_one(x, 3, "done 4", 10000)->status, RHAI_STATUS_DONE);
    pfx_free(x, 4);
}

/* A second answer is a result without a job: the job ended once, the
 * executor is replaced, and the next job is not given the stale answer. */
static void test_pool_ends_a_job_once_when_the_executor_answers_twice(void **state)
{
    pfx *x = pfx_new(1, 1000);
    rec *r;
    (void)state;

    r = run_one(x, 0, "twice 1", 10000);
    assert_int_equal(r->status, RHAI_STATUS_DONE);
    FX_RUN_UNTIL(&x->f, x->pool.restarts == 1);
    assert_int_equal(r->runs, 1);
    r = run_one(x, 1, "done 2", 10000);
    assert_int_equal(r->status, RHAI_STATUS_DONE);
    assert_string_equal(r->output, "2");
    pfx_free(x, 2);
}

static void test_pool_recycles_an_executor_after_max_tasks(void **state)
{
    pfx *x = pfx_new(1, 2);
    long pid[4];
    (void)state;

    for (int i = 0; i < 4; i++)
        pid[i] = atol(run_one(x, i, "pid", 10000)->output);
    assert_true(pid[0] == pid[1]);
    assert_true(pid[2] == pid[3]);
    assert_true(pid[1] != pid[2]);
    FX_RUN_UNTIL(&x->f, x->pool.restarts == 2);      /* the second one too */
    pfx_free(x, 4);
}

/* The next job given from inside a result's callback, as wk_pump does
 * under load, must not keep a due executor from its recycle. */
static void test_pool_recycles_an_executor_whose_result_callback_gives_it_work(void **state)
{
    pfx *x = pfx_new(1, 2);
    long pid[6];
    (void)state;

    x->chain = 1;
    x->chain_end = 6;
    assert_int_equal(give(x, 0, "pid", 10000, 0), 0);
    FX_RUN_UNTIL(&x->f, x->recs[5].runs == 1);
    for (int i = 0; i < 6; i++)
        pid[i] = atol(x->recs[i].output);
    for (int i = 0; i < 6; i += 2) {
        assert_true(pid[i] == pid[i + 1]);
        if (i > 0)
            assert_true(pid[i] != pid[i - 1]);
    }
    pfx_free(x, 6);
}

static void test_pool_cancel_kills_the_executor(void **state)
{
    pfx *x = pfx_new(1, 1000);
    rec *r;
    (void)state;

    assert_int_equal(give(x, 0, "hang", 60000, 0), 0);
    assert_int_equal(wk_pool_cancel(&x->pool, &x->jobs[1], "no"), RHAI_ENOTFOUND);
    assert_int_equal(wk_pool_cancel(&x->pool, &x->jobs[0], "cancelled by client"), 0);
    r = &x->recs[0];
    assert_int_equal(r->runs, 1);                 /* at once, not when it exits */
    assert_int_equal(r->status, RHAI_STATUS_CANCELLED);
    assert_int_equal(r->kind, RH_EK_CANCELLED);
    assert_string_equal(r->error, "cancelled by client");
    assert_int_equal(wk_pool_cancel(&x->pool, &x->jobs[0], "again"), RHAI_ENOTFOUND);
    /* the hung executor is reaped: only the killing explains it */
    FX_RUN_UNTIL(&x->f, x->pool.open == 1);
    assert_int_equal(x->pool.restarts, 1);
    assert_int_equal(run_one(x, 1, "done 1", 10000)->status, RHAI_STATUS_DONE);
    pfx_free(x, 2);
}

static void test_pool_queues_one_job_behind_a_busy_executor(void **state)
{
    pfx *x = pfx_new(1, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "done 1", 10000, 1), RHAI_ESTATE);   /* none busy */
    assert_int_equal(give(x, 0, "done 1", 10000, 0), 0);
    assert_int_equal(give(x, 1, "done 2", 10000, 0), RHAI_ESTATE);   /* none idle */
    assert_int_equal(give(x, 1, "done 2", 10000, 1), 0);
    assert_int_equal(give(x, 2, "done 3", 10000, 1), RHAI_ESTATE);   /* one at most */
    assert_int_equal(x->pool.busy, 1);
    FX_RUN_UNTIL(&x->f, x->recs[1].runs == 1);
    assert_int_equal(x->recs[0].order, 1);
    assert_int_equal(x->recs[1].order, 2);
    assert_string_equal(x->recs[0].output, "1");
    assert_string_equal(x->recs[1].output, "2");
    assert_int_equal(x->pool.busy, 0);
    assert_int_equal(wk_pool_idle(&x->pool), 1);
    assert_int_equal(x->pool.restarts, 0);
    pfx_free(x, 2);
}

/* The queued job's clock starts when the first one's result arrives. */
static void test_pool_times_out_a_queued_job_on_its_own_clock(void **state)
{
    pfx *x = pfx_new(1, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "done 1", 10000, 0), 0);
    assert_int_equal(give(x, 1, "hang", 50, 1), 0);
    FX_RUN_UNTIL(&x->f, x->recs[1].runs == 1);
    assert_int_equal(x->recs[0].status, RHAI_STATUS_DONE);
    assert_int_equal(x->recs[1].kind, RH_EK_TIMEOUT);
    assert_string_equal(x->recs[1].error, "timeout after 50 ms");
    pfx_free(x, 2);
}

static void test_pool_gives_back_a_queued_job_when_its_executor_dies(void **state)
{
    pfx *x = pfx_new(1, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "exit 3", 10000, 0), 0);
    assert_int_equal(give(x, 1, "done 2", 10000, 1), 0);
    FX_RUN_UNTIL(&x->f, x->recs[1].backs == 1);
    assert_int_equal(x->recs[0].kind, RH_EK_CRASHED);
    assert_int_equal(x->recs[0].order, 1);
    assert_int_equal(x->recs[1].runs, 0);
    assert_int_equal(x->pool.busy, 0);
    FX_RUN_UNTIL(&x->f, wk_pool_idle(&x->pool) == 1);
    pfx_free(x, 2);
}

/* No job behind one whose executor is due for recycling. */
static void test_pool_queues_nothing_behind_an_executor_due_for_recycling(void **state)
{
    pfx *x = pfx_new(1, 1);
    (void)state;

    assert_int_equal(give(x, 0, "done 1", 10000, 0), 0);
    assert_int_equal(give(x, 1, "done 2", 10000, 1), RHAI_ESTATE);
    FX_RUN_UNTIL(&x->f, x->recs[0].runs == 1 && x->pool.restarts == 1);
    assert_int_equal(run_one(x, 1, "done 2", 10000)->status, RHAI_STATUS_DONE);
    pfx_free(x, 2);
}

/* Nothing goes behind a job that has run queue_max_us already: a long
 * task would hold it until its own end while the other executor frees
 * up. It goes behind one that started since. */
static void test_pool_queues_nothing_behind_a_job_that_runs_long(void **state)
{
    pfx *x = pfx_new(2, 1000);
    (void)state;

    x->pool.queue_max_us = 50000;
    assert_int_equal(give(x, 0, "hang", 3000, 0), 0);
    usleep(120000);                             /* job 0 has run past the limit */
    assert_int_equal(give(x, 1, "done 1", 10000, 1), RHAI_ESTATE);
    assert_int_equal(give(x, 1, "done 1", 10000, 0), 0);     /* the other executor */
    assert_int_equal(give(x, 2, "done 2", 10000, 1), 0);     /* behind job 1 */
    FX_RUN_UNTIL(&x->f, x->recs[2].runs == 1);
    assert_int_equal(x->recs[0].runs, 0);       /* still running: 2 did not wait for it */
    assert_int_equal(x->recs[1].order, 1);
    assert_int_equal(x->recs[2].order, 2);
    assert_string_equal(x->recs[2].output, "2");
    FX_RUN_UNTIL(&x->f, x->recs[0].runs == 1);
    assert_int_equal(x->recs[0].kind, RH_EK_TIMEOUT);
    pfx_free(x, 3);
}

/* Of the executors a job may go behind, the one whose job started first
 * (here the second slot's: the first one's executor was replaced since). */
static void test_pool_queues_behind_the_job_that_started_first(void **state)
{
    pfx *x = pfx_new(2, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "hang", 100, 0), 0);         /* slot 0 */
    assert_int_equal(give(x, 1, "hang", 600, 0), 0);         /* slot 1 */
    FX_RUN_UNTIL(&x->f, x->recs[0].runs == 1 && wk_pool_idle(&x->pool) == 1);
    assert_int_equal(give(x, 2, "hang", 10000, 0), 0);       /* slot 0, started last */
    assert_int_equal(give(x, 3, "done 3", 10000, 1), 0);
    /* behind job 1: given back unrun when job 1's executor is killed at
     * its timeout, while job 2 still runs */
    FX_RUN_UNTIL(&x->f, x->recs[3].backs == 1);
    assert_int_equal(x->recs[1].kind, RH_EK_TIMEOUT);
    assert_int_equal(x->recs[2].runs, 0);
    assert_int_equal(x->recs[3].runs, 0);
    assert_int_equal(wk_pool_cancel(&x->pool, &x->jobs[2], "done with it"), 0);
    FX_RUN_UNTIL(&x->f, x->recs[2].runs == 1);
    pfx_free(x, 4);
}

static void test_pool_close_ends_running_jobs_cancelled_and_gives_back_queued(void **state)
{
    pfx *x = pfx_new(2, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "hang", 60000, 0), 0);
    assert_int_equal(give(x, 1, "hang", 60000, 0), 0);
    assert_int_equal(give(x, 2, "done 3", 60000, 1), 0);
    wk_pool_close(&x->pool, on_closed);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(x->recs[i].kind, RH_EK_CANCELLED);
        assert_string_equal(x->recs[i].error, "killed at shutdown");
    }
    assert_int_equal(x->recs[2].backs, 1);
    assert_int_equal(wk_pool_idle(&x->pool), 0);
    assert_int_equal(give(x, 3, "done 4", 60000, 0), RHAI_ESTATE);
    FX_RUN_UNTIL(&x->f, x->closed == 1);
    assert_int_equal(x->pool.restarts, 0);       /* none respawned while closing */
    x->closed = 0;                               /* pfx_free's close: at once */
    pfx_free(x, 3);
}

static void test_pool_kill_busy_cancels_only_busy_executors(void **state)
{
    pfx *x = pfx_new(2, 1000);
    (void)state;

    assert_int_equal(give(x, 0, "hang", 60000, 0), 0);
    wk_pool_kill_busy(&x->pool);
    assert_int_equal(x->recs[0].kind, RH_EK_CANCELLED);
    FX_RUN_UNTIL(&x->f, x->pool.open == 2 && wk_pool_idle(&x->pool) == 2);
    assert_int_equal(x->pool.restarts, 1);
    pfx_free(x, 1);
}

/* An executor that dies before its first task is broken at start: its
 * slot waits for wk_pool_maintain rather than respawn in a loop. */
static void test_pool_respawns_an_executor_broken_at_start_on_maintain(void **state)
{
    pfx *x;
    (void)state;

    setenv("FAKE_EXECUTOR_AT_START", "exit", 1);
    x = pfx_new(1, 1000);
    FX_RUN_UNTIL(&x->f, x->pool.open == 0);
    unsetenv("FAKE_EXECUTOR_AT_START");
    assert_true(x->pool.restarts >= 1);
    assert_int_equal(wk_pool_idle(&x->pool), 0);
    assert_int_equal(x->readies, 0);
    assert_int_equal(give(x, 0, "done 1", 10000, 0), RHAI_ESTATE);
    wk_pool_maintain(&x->pool);
    assert_int_equal(x->readies, 1);
    assert_int_equal(wk_pool_idle(&x->pool), 1);
    assert_int_equal(run_one(x, 0, "done 1", 10000)->status, RHAI_STATUS_DONE);
    pfx_free(x, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_answers_a_task_done_with_its_output),
        cmocka_unit_test(test_pool_passes_each_error_kind_the_executor_answers),
        cmocka_unit_test(test_pool_kills_a_task_past_its_timeout_and_respawns),
        cmocka_unit_test(test_pool_reports_a_dead_executor_as_crashed_and_respawns),
        cmocka_unit_test(test_pool_ends_a_job_internal_on_a_malformed_frame),
        cmocka_unit_test(test_pool_ends_a_job_once_when_the_executor_answers_twice),
        cmocka_unit_test(test_pool_recycles_an_executor_after_max_tasks),
        cmocka_unit_test(test_pool_recycles_an_executor_whose_result_callback_gives_it_work),
        cmocka_unit_test(test_pool_cancel_kills_the_executor),
        cmocka_unit_test(test_pool_queues_one_job_behind_a_busy_executor),
        cmocka_unit_test(test_pool_times_out_a_queued_job_on_its_own_clock),
        cmocka_unit_test(test_pool_gives_back_a_queued_job_when_its_executor_dies),
        cmocka_unit_test(test_pool_queues_nothing_behind_an_executor_due_for_recycling),
        cmocka_unit_test(test_pool_queues_nothing_behind_a_job_that_runs_long),
        cmocka_unit_test(test_pool_queues_behind_the_job_that_started_first),
        cmocka_unit_test(test_pool_close_ends_running_jobs_cancelled_and_gives_back_queued),
        cmocka_unit_test(test_pool_kill_busy_cancels_only_busy_executors),
        cmocka_unit_test(test_pool_respawns_an_executor_broken_at_start_on_maintain),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("daemon_pool", tests, NULL, NULL);
}
