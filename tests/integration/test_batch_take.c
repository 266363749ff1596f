/* test_batch_take.c -- rhaid takes in batches.
 *
 * A hot queue is taken by batch takes of the free credit, odd ids inside
 * a batch go to the claim by id, and lone tasks make no empty batch take
 * (see batch.h). */
#include "batch.h"

/* 300 tasks queued before rhaid starts: after the first BLMOVE the queue
 * is hot, and the rest is taken by batch takes of the free credit
 * (2 executors + prefetch 6), claimed inside them. Each task runs once. */
static void test_a_hot_queue_is_taken_in_batches(void **state)
{
    enum { N = 300 };
    const char *extra[] = { "--prefetch", "6", NULL };
    th_redis r;
    redisContext *c;
    char id[32], key[RH_KEY_MAX], proc[RH_KEY_MAX], *body;
    int port = th_free_port();
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, NULL), 0);
    }
    pid = rhaid_up(&r, port, extra);

    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_string_equal(t.id, id);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "2");
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }

    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, TAKE_TASKS), N);
    assert_true(th_metric(body, TAKE_CALLS) > 0);
    assert_true(th_metric(body, TAKE_CALLS) < N);          /* batches happened */
    assert_int_equal(th_metric(body, FINISH_TASKS), N);
    assert_true(th_metric(body, FINISH_CALLS) > 0);
    assert_true(th_metric(body, FINISH_CALLS) <= N);
    assert_int_equal(th_metric(body, WITH_TAKE), N);
    assert_int_equal(th_metric(body, BY_ID), 0);
    rh_free(body);

    /* every finish is acknowledged: a second answer would be there now */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        assert_int_equal(th_cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", "default", id)), 0);
    }
    assert_int_equal(th_cmd_int(c, "LLEN rhai:queue:{default}"), 0);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* The odd ids of a batch take go to the claim by id: one without a hash is
 * answered invalid (and its hash gets started_at and worker_id), a final
 * one is dropped unanswered, a junk id is dropped with event=bad_id; the
 * plain tasks around them run once each. */
static void test_odd_ids_inside_a_batch_are_claimed_by_id(void **state)
{
    enum { VALID = 20 };
    const char *extra[] = { "--prefetch", "8", NULL };
    th_redis r;
    redisContext *c;
    char id[32], key[RH_KEY_MAX], proc[RH_KEY_MAX], buf[128], *body;
    int port = th_free_port(), v = 0;
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    /* Queue order (first LPUSHed is taken first): the first takes are
     * BLMOVEs, so the odd ids sit behind 6 plain tasks, one apart. */
    for (int pos = 0; v < VALID; pos++) {
        if (pos == 6) {
            cmd_ok(c, "LPUSH rhai:queue:{default} ghost-1");
        } else if (pos == 8) {
            assert_int_equal(th_submit(c, "default", "cancelled-1", "'ran'", NULL, 5000,
                                       NULL), 0);
            cmd_ok(c, "HSET rhai:task:{default}:cancelled-1 status cancelled error_kind cancelled "
                      "finished_at 1 output null");
        } else if (pos == 10) {
            cmd_ok(c, "LPUSH rhai:queue:{default} %s", "bad id!");
        } else {
            snprintf(id, sizeof id, "odd-%d", v++);
            assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, NULL),
                             0);
        }
    }
    pid = rhaid_up(&r, port, extra);

    for (int i = 0; i < VALID; i++) {
        snprintf(id, sizeof id, "odd-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "2");
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "ghost-1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    rh_task_clear(&t);

    /* 23 ids taken, 21 answered; then the processing list is empty */
    body = steps_wait(port, VALID + 3, VALID + 1);
    assert_int_equal(th_metric(body, TAKE_TASKS), VALID + 3);
    assert_int_equal(th_metric(body, FINISH_TASKS), VALID + 1);
    assert_int_equal(th_metric(body, WITH_TAKE), VALID);
    rh_free(body);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);
    assert_int_equal(th_cmd_int(c, "LLEN rhai:queue:{default}"), 0);

    /* each valid task answered once */
    for (int i = 0; i < VALID; i++) {
        snprintf(id, sizeof id, "odd-%d", i);
        assert_int_equal(th_cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", "default", id)), 0);
    }
    /* the ghost: answered without running, its hash says by whom and when */
    assert_string_equal(th_task_field(c, "ghost-1", "status", buf, sizeof buf), "error");
    assert_string_equal(th_task_field(c, "ghost-1", "error_kind", buf, sizeof buf), "invalid");
    assert_true(atoll(th_task_field(c, "ghost-1", "started_at", buf, sizeof buf)) > 0);
    assert_string_equal(th_task_field(c, "ghost-1", "worker_id", buf, sizeof buf), "default");
    assert_int_equal(th_cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", "default", "ghost-1")), 0);
    /* the cancelled task: not run, not answered, not touched */
    assert_string_equal(th_task_field(c, "cancelled-1", "status", buf, sizeof buf),
                        "cancelled");
    assert_string_equal(th_task_field(c, "cancelled-1", "attempts", buf, sizeof buf), "0");
    assert_string_equal(th_task_field(c, "cancelled-1", "output", buf, sizeof buf), "null");
    assert_string_equal(th_task_field(c, "cancelled-1", "started_at", buf, sizeof buf), "");
    assert_int_equal(th_cmd_int(c, "EXISTS %s", rh_key_reply(key, "rhai", "default", "cancelled-1")), 0);
    /* ghost and cancelled went through the claim by id, the junk id was
     * dropped before any claim */
    assert_int_equal(log_wait(&r, "event=task_invalid task=ghost-1 "), 0);
    assert_int_equal(log_wait(&r, "event=task_skipped task=cancelled-1 status=cancelled"), 0);
    assert_int_equal(log_wait(&r, "event=bad_id task=- id=\"bad id!\" "), 0);   /* named */

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Tasks that come one at a time are each taken by a BLMOVE, whose claim
 * says the queue is empty behind it: rhaid waits with BLMOVE again instead
 * of asking a batch take that would come back empty. One take call per
 * task: the BLMOVE's. */
static void test_lone_tasks_make_no_empty_batch_take(void **state)
{
    enum { N = 6 };
    th_redis r;
    redisContext *c;
    char prefix[16], *body;
    int port = th_free_port();
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_up(&r, port, NULL);
    for (int i = 0; i < N; i++) {
        snprintf(prefix, sizeof prefix, "lone%d", i);
        submit_each(c, prefix, 1, "7", 5000);
        expect_done(c, prefix, 0, "7", 1);
    }
    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, TAKE_TASKS), N);
    assert_int_equal(th_metric(body, TAKE_CALLS), N);
    rh_free(body);
    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_hot_queue_is_taken_in_batches),
        cmocka_unit_test(test_odd_ids_inside_a_batch_are_claimed_by_id),
        cmocka_unit_test(test_lone_tasks_make_no_empty_batch_take),
    };
    return cmocka_run_group_tests_name("batch_take", tests, NULL, NULL);
}
