/* test_batch_queued.c -- tasks queued behind a busy executor.
 *
 * A task queued on an executor is timed from its own start, given back
 * unrun when that executor is killed, and given back with the prefetched
 * ones on a drain (see batch.h). */
#include "batch.h"

/* Queued behind a busy executor (wk_pool_queue; forced here by a large
 * --pipeline-max-us): a task's timeout starts when the task before it on
 * that executor answered, not when it was queued. Two 1.5 s tasks fill
 * both executors; behind each, a trivial task with a 1 s timeout. Timed
 * from the queueing, they would time out (and kill the long ones). */
static void test_a_queued_task_is_timed_from_its_own_start(void **state)
{
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 1500) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "long", 2, slow, 10000);
    submit_each(c, "short", 2, "'short'", 1000);
    for (int i = 0; i < 2; i++) {
        expect_done(c, "short", i, "\"short\"", 0);
        expect_done(c, "long", i, "\"long\"", 0);
    }
    /* they were queued, not started on an idle executor */
    assert_int_equal(log_wait(&r, "event=task_start task=short-0 attempt=1 queued=1"), 0);
    assert_int_equal(log_wait(&r, "event=task_start task=short-1 attempt=1 queued=1"), 0);
    assert_int_not_equal(log_has(&r, "event=task_timeout"), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* An executor killed while a task waits queued behind its running one
 * gives that task back unrun: it runs on the new executor, once, as the
 * same delivery (attempts 1), not as a crash of its own; the running one
 * is run again (crashed, retried locally) and finishes too. */
static void test_a_task_queued_on_a_killed_executor_runs_elsewhere(void **state)
{
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 2000) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "long", 2, slow, 20000);
    submit_each(c, "behind", 2, "'behind'", 20000);
    wait_queued(&r, "behind", 0);
    assert_int_equal(th_sh("pkill -KILL -P %d", (int)pid), 0);     /* both executors */

    for (int i = 0; i < 2; i++)
        expect_done(c, "behind", i, "\"behind\"", 1);
    assert_int_equal(log_wait(&r, "task_requeued task=behind-0 reason=\"executor gone"), 0);
    assert_int_equal(log_wait(&r, "task_requeued task=behind-1 reason=\"executor gone"), 0);
    for (int i = 0; i < 2; i++)
        expect_done(c, "long", i, NULL, 1);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* SIGTERM while tasks wait queued behind the executors' running ones and
 * in rhaid (prefetched): after the grace the running ones are killed and
 * every held id goes back on the queue, the queued ones included (given
 * back unrun by their dying executors); a second instance then answers
 * each task exactly once. Until they run, the held ones show `claimed`,
 * not `running`, and the give-back counts no attempt for them. */
static void test_a_drain_gives_back_queued_and_prefetched_tasks(void **state)
{
    enum { N = 8 };
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 3000) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--grace-ms", "300",
                            "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    char key[RH_KEY_MAX], proc[RH_KEY_MAX];
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "d", 2, slow, 20000);        /* d-0, d-1 run */
    for (int i = 2; i < N; i++) {               /* 2 queued behind them, the rest wait */
        char id[32];
        snprintf(id, sizeof id, "d-%d", i);
        assert_int_equal(th_submit(c, "default", id, "'short'", NULL, 20000, NULL), 0);
    }
    wait_queued(&r, "d", 2);
    proc_key(c, proc);
    /* only d-0 and d-1 run: the rest are claimed or still queued, with no
     * start and no attempt counted */
    for (int i = 0; i < N; i++) {
        char id[32], buf[64];
        snprintf(id, sizeof id, "d-%d", i);
        th_task_field(c, id, "status", buf, sizeof buf);
        if (i < 2) {
            /* the start is written start_defer_ms (20) after it began */
            for (int k = 0; k < 200 && strcmp(buf, "running") != 0; k++) {
                usleep(10000);
                th_task_field(c, id, "status", buf, sizeof buf);
            }
            assert_string_equal(buf, "running");
            continue;
        }
        if (strcmp(buf, "queued") != 0)
            assert_string_equal(buf, "claimed");
        assert_string_equal(th_task_field(c, id, "started_at", buf, sizeof buf), "");
        assert_string_equal(th_task_field(c, id, "attempts", buf, sizeof buf), "0");
    }
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);

    /* every id is back on the queue, none answered, none held */
    assert_int_equal(th_cmd_int(c, "LLEN rhai:queue:{default}"), N);
    assert_int_equal(th_cmd_int(c, "EXISTS %s", proc), 0);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "rhai:reply:{default}:d-%d", i);
        assert_int_equal(th_cmd_int(c, "LLEN %s", key), 0);
    }
    assert_int_equal(log_wait(&r, "task_requeued task=d-2 reason=\"executor gone"), 0);

    pid = rhaid_up(&r, th_free_port(), NULL);
    for (int i = 0; i < N; i++) {
        expect_done(c, "d", i, NULL, i < 2 ? 2 : 1);     /* real starts only */
        snprintf(key, sizeof key, "rhai:reply:{default}:d-%d", i);
        assert_int_equal(th_cmd_int(c, "LLEN %s", key), 0);            /* once */
    }
    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_queued_task_is_timed_from_its_own_start),
        cmocka_unit_test(test_a_task_queued_on_a_killed_executor_runs_elsewhere),
        cmocka_unit_test(test_a_drain_gives_back_queued_and_prefetched_tasks),
    };
    return cmocka_run_group_tests_name("batch_queued", tests, NULL, NULL);
}
