/* test_daemon_worker.c -- a job's life in worker.c (start, result,
 * retries, store_retry_ms, cancellation, the drain's kill, a job queued
 * behind a busy executor and given back) on a real loop with fake
 * executors (tests/support/fake_executor.c), and no Redis: the finish
 * waits in FINISHING, where its result is read. */
#include "daemon_fake.h"

#include <signal.h>

/* Run the loop until job 'id' is FINISHING or gone; the job, or NULL. */
static wk_job *settle(wfx *x, const char *id)
{
    wk_job *j;
    FX_RUN_UNTIL(&x->f, (j = wk_job_find(&x->w, id, strlen(id))) == NULL ||
                            j->state == WK_JOB_FINISHING);
    return j;
}

static void test_worker_runs_a_ready_job_to_its_finish(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "done {\"n\":1}");
    wk_pump(&x.w);
    assert_int_equal(j->state, WK_JOB_RUNNING);
    assert_int_equal(wk_count_jobs(&x.w, WK_JOB_RUNNING), 1);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_DONE);
    assert_int_equal(j->task.error_kind, RH_EK_NONE);
    assert_string_equal(j->task.output, "{\"n\":1}");
    assert_string_equal(j->task.instance, "unit-1-abcdef");
    assert_int_equal(j->task.attempts, 1);        /* claimed, then started once */
    assert_true(j->task.started_at > 0);
    assert_int_equal(j->unstarted, 0);
    assert_non_null(strstr(j->reply, "\"status\":\"done\""));
    assert_non_null(strstr(j->event, "\"event\":\"finished\""));
    assert_int_equal(j->sent, 0);                 /* no connection: it waits */
    assert_true(x.w.run_us_avg > 0);
    wfx_close(&x);
}

static void test_worker_answers_each_error_kind(void **state)
{
    static const struct { const char *script; rhai_status st; rh_error_kind kind; } cases[] = {
        { "error script ReferenceError: y", RHAI_STATUS_ERROR, RH_EK_SCRIPT },
        { "error memory out of memory", RHAI_STATUS_ERROR, RH_EK_MEMORY },
        { "garbage", RHAI_STATUS_ERROR, RH_EK_INTERNAL },
    };
    wfx x;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_attempts = 1;
    wfx_start_pool(&x);
    for (int i = 0; i < 3; i++) {
        char id[8];
        wk_job *j;
        snprintf(id, sizeof id, "e%d", i);
        wfx_job(&x, id, cases[i].script);
        wk_pump(&x.w);
        assert_non_null(j = settle(&x, id));
        assert_int_equal(j->task.status, cases[i].st);
        assert_int_equal(j->task.error_kind, cases[i].kind);
    }
    wfx_close(&x);
}

/* The worker caps a task's timeout at max_timeout_ms; the pool kills it. */
static void test_worker_answers_timeout_at_max_timeout_ms(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_timeout_ms = 50;
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "hang");
    j->task.timeout_ms = 600000;
    wk_pump(&x.w);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_TIMEOUT);
    assert_int_equal(j->task.error_kind, RH_EK_TIMEOUT);
    assert_string_equal(j->task.error, "timeout after 50 ms");
    wfx_close(&x);
}

/* An executor that died may have died after its commit: the task runs
 * again on a fresh executor, up to max_attempts runs. */
static void test_worker_runs_a_crashed_task_again_on_a_fresh_executor(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_attempts = 3;
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "");
    rh_free(j->task.script);
    j->task.script = rh_sprintf("crash-until 2 %s", fx_path(&x.f, "runs"));
    j->task.script_len = strlen(j->task.script);
    wk_pump(&x.w);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_DONE);
    assert_int_equal(j->crashes, 2);
    assert_int_equal(x.w.pool.restarts, 2);
    wfx_close(&x);
}

static void test_worker_answers_crashed_after_max_attempts_runs(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_attempts = 2;
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "exit 3");
    wk_pump(&x.w);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_ERROR);
    assert_int_equal(j->task.error_kind, RH_EK_CRASHED);
    assert_int_equal(j->crashes, 2);
    assert_string_equal(j->task.error, "executor died (exit status 3, signal 0)");
    wfx_close(&x);
}

/* A failed store is run again after a pause (the 'later' timer), not
 * answered, while store_retry_ms lasts. */
static void test_worker_runs_a_failed_store_again_until_it_succeeds(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.store_retry_ms = 600000;
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "");
    rh_free(j->task.script);
    j->task.script = rh_sprintf("transient-until 1 %s", fx_path(&x.f, "runs"));
    j->task.script_len = strlen(j->task.script);
    wk_pump(&x.w);
    FX_RUN_UNTIL(&x.f, j->store_fails == 1);
    assert_int_equal(j->state, WK_JOB_READY);        /* waiting for its pause */
    assert_true(j->not_before_ms > 0);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_DONE);
    assert_int_equal(x.w.pool.restarts, 0);       /* the same executor ran it again */
    wfx_close(&x);
}

static void test_worker_answers_internal_once_store_retry_ms_has_passed(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.store_retry_ms = 0;
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "transient");
    wk_pump(&x.w);
    assert_ptr_equal(settle(&x, "t1"), j);
    assert_int_equal(j->task.status, RHAI_STATUS_ERROR);
    assert_int_equal(j->task.error_kind, RH_EK_INTERNAL);
    assert_string_equal(j->task.error, "store unavailable");
    wfx_close(&x);
}

/* A client's cancel kills the executor and answers cancelled. */
static void test_worker_answers_a_cancelled_job_cancelled(void **state)
{
    wfx x;
    wk_job *j, *ready;
    (void)state;

    wfx_open(&x, 1);
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "hang");
    wk_pump(&x.w);
    assert_int_equal(j->state, WK_JOB_RUNNING);
    j->cancelled = 1;
    assert_int_equal(wk_pool_cancel(&x.w.pool, j, "cancelled by client"), 0);
    assert_int_equal(j->state, WK_JOB_FINISHING);
    assert_int_equal(j->task.status, RHAI_STATUS_CANCELLED);
    assert_int_equal(j->task.error_kind, RH_EK_CANCELLED);
    /* one still waiting for an executor is answered without running */
    ready = wfx_job(&x, "t2", "done 1");
    wk_job_cancel_ready(ready);
    assert_int_equal(ready->state, WK_JOB_FINISHING);
    assert_int_equal(ready->unstarted, 1);
    assert_int_equal(ready->task.status, RHAI_STATUS_CANCELLED);
    FX_RUN_UNTIL(&x.f, wk_pool_idle(&x.w.pool) == 1);
    wfx_close(&x);
}

/* The drain's kill is not the task's end: the job is dropped, and the
 * final requeue of the processing list puts it back. */
static void test_worker_drops_a_job_the_drain_killed(void **state)
{
    wfx x;
    (void)state;

    wfx_open(&x, 2);
    wfx_start_pool(&x);
    wfx_job(&x, "t1", "hang");
    wfx_job(&x, "t2", "hang");
    wk_pump(&x.w);
    assert_int_equal(wk_count_jobs(&x.w, WK_JOB_RUNNING), 2);
    wk_pool_kill_busy(&x.w.pool);
    assert_int_equal(x.w.njobs, 0);
    wfx_close(&x);
}

/* Short tasks queue behind a busy executor; when it dies, its own job
 * ends crashed and the one behind comes back READY and runs on the next
 * executor: neither is lost, neither ends twice. */
static void test_worker_runs_a_job_given_back_by_a_dead_executor(void **state)
{
    wfx x;
    wk_job *a, *b;
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_attempts = 1;
    wfx_start_pool(&x);
    x.w.run_us_avg = 1;                           /* short runs: pipeline them */
    a = wfx_job(&x, "a", "exit 3");
    b = wfx_job(&x, "b", "pid");
    wk_pump(&x.w);
    assert_int_equal(a->state, WK_JOB_RUNNING);
    assert_int_equal(b->state, WK_JOB_RUNNING);     /* queued behind a */
    assert_ptr_equal(settle(&x, "b"), b);
    assert_int_equal(a->state, WK_JOB_FINISHING);
    assert_int_equal(a->task.error_kind, RH_EK_CRASHED);
    assert_int_equal(b->task.status, RHAI_STATUS_DONE);
    assert_int_equal(b->crashes, 0);              /* not a crash of its own */
    assert_int_equal(a->task.attempts, 1);
    assert_int_equal(b->task.attempts, 1);        /* queued, given back: one real start */
    wfx_close(&x);
}

/* Long tasks do not wait behind another while an executor may free up. */
static void test_worker_does_not_queue_long_jobs(void **state)
{
    wfx x;
    wk_job *a, *b;
    (void)state;

    wfx_open(&x, 1);
    wfx_start_pool(&x);
    x.w.run_us_avg = (double)x.f.cfg.pipeline_max_us * 10;
    a = wfx_job(&x, "a", "done 1");
    b = wfx_job(&x, "b", "done 2");
    wk_pump(&x.w);
    assert_int_equal(a->state, WK_JOB_RUNNING);
    assert_int_equal(b->state, WK_JOB_READY);
    assert_ptr_equal(settle(&x, "b"), b);         /* started when a's executor came free */
    assert_string_equal(b->task.output, "2");
    wfx_close(&x);
}

/* Under load a result finds the next job waiting: the executor must
 * still be recycled after max_tasks_per_executor, not handed that job
 * from inside the result's callback before the recycle check. */
static void test_worker_recycles_executors_under_load(void **state)
{
    wfx x;
    char id[16];
    long pid[6];
    (void)state;

    wfx_open(&x, 1);
    x.f.cfg.max_tasks_per_executor = 2;
    x.f.cfg.pipeline_max_us = 0;                  /* never queued: each starts from a result */
    wfx_start_pool(&x);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "p%d", i);
        wfx_job(&x, id, "pid");
    }
    wk_pump(&x.w);
    FX_RUN_UNTIL(&x.f, wk_count_jobs(&x.w, WK_JOB_FINISHING) == 6);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "p%d", i);
        pid[i] = atol(wk_job_find(&x.w, id, strlen(id))->task.output);
    }
    for (int i = 0; i < 6; i += 2) {
        assert_true(pid[i] == pid[i + 1]);
        if (i > 0)
            assert_true(pid[i] != pid[i - 1]);     /* a fresh one every 2 tasks */
    }
    wfx_close(&x);
}

/* A task the frame encoder refuses ends invalid, never stays claimed. */
static void test_worker_answers_invalid_when_a_task_cannot_be_sent(void **state)
{
    wfx x;
    wk_job *j;
    (void)state;

    wfx_open(&x, 1);
    wfx_start_pool(&x);
    j = wfx_job(&x, "t1", "done \xff\xfe");
    wk_pump(&x.w);
    assert_int_equal(j->state, WK_JOB_FINISHING);
    assert_int_equal(j->task.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(j->task.error, "not valid UTF-8"));
    assert_int_equal(wk_pool_idle(&x.w.pool), 1);
    wfx_close(&x);
}

/* Many jobs on few executors: every one ends, in take order per slot. */
static void test_worker_ends_every_job_of_a_burst(void **state)
{
    wfx x;
    char id[16];
    (void)state;

    wfx_open(&x, 2);
    x.f.cfg.max_attempts = 1;
    wfx_start_pool(&x);
    x.w.run_us_avg = 1;
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "b%d", i);
        wfx_job(&x, id, i % 5 == 4 ? "exit 1" : i % 5 == 3 ? "garbage" : "pid");
    }
    wk_pump(&x.w);
    FX_RUN_UNTIL(&x.f, wk_count_jobs(&x.w, WK_JOB_FINISHING) == 20);
    for (wk_job *j = x.w.jobs; j; j = j->next) {
        int i = atoi(j->id + 1);
        assert_int_equal(j->task.error_kind, i % 5 == 4 ? RH_EK_CRASHED :
                                             i % 5 == 3 ? RH_EK_INTERNAL : RH_EK_NONE);
    }
    wfx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_runs_a_ready_job_to_its_finish),
        cmocka_unit_test(test_worker_answers_each_error_kind),
        cmocka_unit_test(test_worker_answers_timeout_at_max_timeout_ms),
        cmocka_unit_test(test_worker_runs_a_crashed_task_again_on_a_fresh_executor),
        cmocka_unit_test(test_worker_answers_crashed_after_max_attempts_runs),
        cmocka_unit_test(test_worker_runs_a_failed_store_again_until_it_succeeds),
        cmocka_unit_test(test_worker_answers_internal_once_store_retry_ms_has_passed),
        cmocka_unit_test(test_worker_answers_a_cancelled_job_cancelled),
        cmocka_unit_test(test_worker_drops_a_job_the_drain_killed),
        cmocka_unit_test(test_worker_runs_a_job_given_back_by_a_dead_executor),
        cmocka_unit_test(test_worker_does_not_queue_long_jobs),
        cmocka_unit_test(test_worker_recycles_executors_under_load),
        cmocka_unit_test(test_worker_answers_invalid_when_a_task_cannot_be_sent),
        cmocka_unit_test(test_worker_ends_every_job_of_a_burst),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("daemon_worker", tests, NULL, NULL);
}
