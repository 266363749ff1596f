/* test_client_sync_wait.c -- waiting for results with the synchronous client.
 *
 * Against a real redis-server and a fake worker (see client_sync.h):
 * rhai_wait and rhai_run, timeouts, unknown ids, replies sent elsewhere,
 * waited for twice or taken by someone else. */
#include "client_sync.h"

/* ======================== wait and run ======================== */

static void test_wait_returns_the_done_result(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-wait", "wait-1", "{\"n\":21}", id);
    assert_int_equal(fw_take(f->rc, "w-wait", "1", id), 0);
    assert_string_equal(id, "wait-1");
    assert_int_equal(fw_claim(f->rc, "w-wait", id), 0);
    assert_int_equal(fw_finish(f->rc, "w-wait", id, "done", "42", NULL, NULL), 0);

    if (rhai_wait(f->c, "wait-1", 5000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_id(res), "wait-1");
    assert_string_equal(rhai_result_output(res), "42");
    assert_null(rhai_result_error(res));
    assert_null(rhai_result_error_kind(res));
    assert_string_equal(rhai_result_worker(res), "w-wait");
    assert_string_equal(rhai_result_instance(res), "fw-1");
    assert_int_equal(rhai_result_attempts(res), 1);
    assert_true(rhai_result_created_at(res) > 0);
    assert_true(rhai_result_started_at(res) >= rhai_result_created_at(res));
    assert_true(rhai_result_finished_at(res) >= rhai_result_started_at(res));
    assert_non_null(strstr(rhai_result_json(res), "\"output\":42"));
    rhai_result_free(res);
    /* Not consumed. */
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-wait}:wait-1"), 1);
}

static void test_wait_blocks_until_a_worker_answers(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;
    char id[RHAI_ID_MAX];

    submit(f->c, "w-block", NULL, "{\"k\":\"v\"}", id);
    fw_start(&w, "w-block", 1);
    if (rhai_wait(f->c, id, 10000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    fw_join(&w);
    assert_string_equal(rhai_result_id(res), id);
    assert_string_equal(rhai_result_output(res), "{\"k\":\"v\"}");
    rhai_result_free(res);
}

static void test_run_submits_and_waits(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;

    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-run"), 0);
    assert_int_equal(rhai_task_set_args(t, "[1,2,3]"), 0);
    assert_int_equal(rhai_task_set_timeout(t, 2000), 0);
    fw_start(&w, "w-run", 1);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "[1,2,3]");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* The first BLMOVE of rhai_run goes out with the submit and waits at
 * most a slice (1 s): a task answered later is waited for as rhai_wait
 * does, and found. */
static void test_run_waits_past_its_first_slice(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;

    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-late"), 0);
    assert_int_equal(rhai_task_set_args(t, "\"late\""), 0);
    assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
    fw_start_after(&w, "w-late", 1, 1500);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "\"late\"");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* A submit Redis refuses (the queue key holds a string) is rhai_run's
 * error at once, and the BLMOVE sent behind it is not left on the
 * connection: the next call on the same client gets its own replies. */
static void test_a_refused_run_leaves_the_client_usable(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    redisReply *r;
    fw_thread w;

    r = redisCommand(f->rc, "SET rhai:queue:{w-poison} x");
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-poison"), 0);
    assert_int_equal(rhai_task_set_args(t, "1"), 0);
    assert_int_equal(rhai_run(f->c, t, 3000, &res, &err), RHAI_EPROTO);
    assert_null(res);
    assert_non_null(strstr(err.msg, "LPUSH"));

    assert_int_equal(rhai_task_set_worker(t, "w-after"), 0);
    fw_start(&w, "w-after", 1);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run after the refused one: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "1");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* Its reply goes to a shared list: wait learns the end from the hash,
 * polled faster than the 1 s slice. */
static void test_wait_for_a_task_replying_elsewhere(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;
    char id[RHAI_ID_MAX];
    int64_t t0;

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-elsewhere"), 0);
    assert_int_equal(rhai_task_set_args(t, "{\"e\":1}"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{w-elsewhere}:client:sync-test"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    rhai_task_free(t);
    t0 = rh_mono_ms();
    fw_start(&w, "w-elsewhere", 1);
    if (rhai_wait(f->c, id, 10000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    fw_join(&w);
    assert_true(rh_mono_ms() - t0 < 800);
    assert_string_equal(rhai_result_output(res), "{\"e\":1}");
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-elsewhere}:client:sync-test"), 1);
    rhai_result_free(res);
}

static void test_wait_times_out(void **state)
{
    fixture *f = *state;
    rhai_result *res = (rhai_result *)0x1;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];
    int64_t t0, dt;

    submit(f->c, "w-nobody", NULL, NULL, id);
    t0 = rh_mono_ms();
    assert_int_equal(rhai_wait(f->c, id, 300, &res, &err), RHAI_ETIMEOUT);
    dt = rh_mono_ms() - t0;
    assert_null(res);
    assert_int_equal(err.code, RHAI_ETIMEOUT);
    assert_in_range(dt, 290, 2000);
    /* A wait over several 1 s slices ends on time as well. */
    t0 = rh_mono_ms();
    assert_int_equal(rhai_wait(f->c, id, 1500, &res, &err), RHAI_ETIMEOUT);
    assert_in_range(rh_mono_ms() - t0, 1490, 3000);
}

static void test_wait_for_an_unknown_id_is_not_found(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    int64_t t0 = rh_mono_ms();

    assert_int_equal(rhai_wait(f->c, "no-such-task", 5000, &res, &err), RHAI_ENOTFOUND);
    assert_true(rh_mono_ms() - t0 < 1000);           /* no need to wait for it */
    assert_null(res);
    assert_int_equal(rhai_wait(f->c, "bad id", 5000, &res, &err), RHAI_EINVAL);
}

static void test_two_waits_both_see_the_reply(void **state)
{
    fixture *f = *state;
    rhai_client *c2 = NULL;
    rhai_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
    char id[RHAI_ID_MAX];

    submit(f->c, "w-two", "two-1", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-two", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, "w-two", id), 0);
    assert_int_equal(fw_finish(f->rc, "w-two", id, "done", "\"x\"", NULL, NULL), 0);
    assert_int_equal(rhai_client_connect(g_redis.url, "rhai", &c2, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 2000, &r1, NULL), 0);
    assert_int_equal(rhai_wait(c2, id, 2000, &r2, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 2000, &r3, NULL), 0);
    assert_string_equal(rhai_result_json(r1), rhai_result_json(r2));
    assert_string_equal(rhai_result_json(r1), rhai_result_json(r3));
    assert_string_equal(rhai_result_output(r2), "\"x\"");
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-two}:two-1"), 1);
    rhai_result_free(r1);
    rhai_result_free(r2);
    rhai_result_free(r3);
    rhai_client_free(c2);
}

static void test_wait_sees_a_reply_taken_by_someone_else(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    char id[RHAI_ID_MAX];
    redisReply *r;

    submit(f->c, "w-taken", "taken-1", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-taken", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, "w-taken", id), 0);
    assert_int_equal(fw_finish(f->rc, "w-taken", id, "error", NULL, "Error: boom", "script"),
                     0);
    r = cmd(f->rc, "BLPOP rhai:reply:{w-taken}:taken-1 1");      /* a consuming waiter */
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    assert_int_equal(rhai_wait(f->c, id, 3000, &res, NULL), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_ERROR);
    assert_string_equal(rhai_result_error(res), "Error: boom");
    assert_string_equal(rhai_result_error_kind(res), "script");
    assert_int_equal(rhai_result_attempts(res), 1);
    rhai_result_free(res);
}

/* Out of memory at the n-th allocation of a wait, for every n until
 * nothing fails: the wait ends with an error or the result; after an
 * error the same client, memory back, waits again and gets the result
 * (nothing lost though the reply may have left its list, and the
 * connection still in step: the right answer to the right command). */
static void test_out_of_memory_in_a_wait_loses_no_result(void **state)
{
    fixture *f = *state;
    int clean = 0;

    for (int n = 1; n <= 60; n++) {
        char id[RHAI_ID_MAX], want[RHAI_ID_MAX], args[32], out[32];
        rhai_result *res = NULL;
        rhai_error err = { 0, "" };
        int rc;

        snprintf(want, sizeof want, "oom-wait-%d", n);
        snprintf(args, sizeof args, "{\"n\":%d}", n);
        submit(f->c, "w-oom", want, args, id);
        assert_int_equal(fw_take(f->rc, "w-oom", "1", id), 0);
        assert_int_equal(fw_claim(f->rc, "w-oom", id), 0);
        snprintf(out, sizeof out, "%d", 2 * n);
        assert_int_equal(fw_finish(f->rc, "w-oom", id, "done", out, NULL, NULL), 0);

        rh_alloc_fail_after((unsigned long)n);
        rc = rhai_wait(f->c, want, 5000, &res, &err);
        rh_alloc_fail_after(0);
        if (rc != 0) {
            assert_null(res);
            if (rhai_wait(f->c, want, 5000, &res, &err) != 0)
                fail_msg("n=%d: the wait after an out-of-memory one: %s", n, err.msg);
        }
        assert_string_equal(rhai_result_id(res), want);
        assert_string_equal(rhai_result_output(res), out);
        rhai_result_free(res);
        clean = rc == 0 ? clean + 1 : 0;
    }
    assert_true(clean >= 10);
}

/* Out of memory at the n-th allocation of a run (submit and wait): an
 * error, or the result; then the same client runs the next task right
 * (its connection still in step). A run that failed after its submit
 * went out leaves a task that is still answered (the worker takes it). */
static void test_out_of_memory_in_a_run_leaves_the_client_in_step(void **state)
{
    fixture *f = *state;
    int clean = 0;
    fw_thread w;

    fw_start(&w, "w-oomrun", 1000);
    for (int n = 1; n <= 80; n++) {
        rhai_task *t = NULL;
        rhai_result *res = NULL;
        rhai_error err = { 0, "" };
        char args[32], out[32];
        int rc;

        snprintf(args, sizeof args, "%d", n);
        assert_int_equal(rhai_task_new("args", &t), 0);
        assert_int_equal(rhai_task_set_worker(t, "w-oomrun"), 0);
        assert_int_equal(rhai_task_set_args(t, args), 0);
        rh_alloc_fail_after((unsigned long)n);
        rc = rhai_run(f->c, t, 5000, &res, &err);
        rh_alloc_fail_after(0);
        if (rc == 0) {
            assert_string_equal(rhai_result_output(res), args);
        } else {
            assert_null(res);
            snprintf(out, sizeof out, "%d", 1000 + n);
            assert_int_equal(rhai_task_set_args(t, out), 0);
            if (rhai_run(f->c, t, 5000, &res, &err) != 0)
                fail_msg("n=%d: the run after an out-of-memory one: %s", n, err.msg);
            assert_string_equal(rhai_result_output(res), out);
        }
        rhai_result_free(res);
        rhai_task_free(t);
        clean = rc == 0 ? clean + 1 : 0;
    }
    assert_true(clean >= 10);
    atomic_store(&w.n, 0);                  /* stop it */
    fw_join(&w);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_wait_returns_the_done_result),
        T(test_wait_blocks_until_a_worker_answers),
        T(test_run_submits_and_waits),
        T(test_run_waits_past_its_first_slice),
        T(test_a_refused_run_leaves_the_client_usable),
        T(test_wait_for_a_task_replying_elsewhere),
        T(test_wait_times_out),
        T(test_wait_for_an_unknown_id_is_not_found),
        T(test_two_waits_both_see_the_reply),
        T(test_wait_sees_a_reply_taken_by_someone_else),
        T(test_out_of_memory_in_a_wait_loses_no_result),
        T(test_out_of_memory_in_a_run_leaves_the_client_in_step),
    };
#undef T
    return cmocka_run_group_tests_name("client_sync_wait", tests, group_setup, group_teardown);
}
