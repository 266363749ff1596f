/* test_recovery.c -- rhaid at scale and under failure, against a real
 * redis-server: 1000 tasks through two instances answered exactly once; an
 * instance killed -9 mid-task has its task finished by another; a Redis
 * restart mid-run loses no task and duplicates no reply. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "rhai/rhai.h"

#define SHARED_REPLY "rhai:reply:{default}:client:recovery"

static const char *const fast_beat[] = { "--heartbeat-ms", "100", "--heartbeat-ttl-ms",
                                         "600", NULL };

/* Submit n tasks "<prefix>-<i>" pipelined, all replying to SHARED_REPLY. */
static void submit_many(redisContext *c, const char *prefix, int n, const char *script)
{
    char id[64], key[RH_KEY_MAX], qkey[RH_KEY_MAX];
    redisReply *r;

    rh_key_queue(qkey, "rhai", "default");
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        redisAppendCommand(c, "HSET %s id %s script %s worker_id default status queued "
                           "attempts 0 timeout_ms 10000 reply_to %s args {\"i\":%d}",
                           rh_key_task(key, "rhai", "default", id), id, script, SHARED_REPLY, i);
        redisAppendCommand(c, "LPUSH %s %s", qkey, id);
    }
    for (int i = 0; i < 2 * n; i++) {
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
}

/* Collect replies from SHARED_REPLY until n arrived or the deadline, then
 * count them per index in seen[] (and per instance), reconnecting when the
 * server goes away. Replies are moved (BLMOVE) to a second list rather
 * than popped, so a reply in flight when the server dies is not lost to
 * the count: the test measures what the workers delivered. Calls
 * mid(redis) once after 'mid_at' replies (may be NULL). Returns the
 * number of replies delivered (duplicates included). */
#define GOT_LIST SHARED_REPLY ":got"
static int collect(th_redis *redis, int n, int *seen, int deadline_s,
                   char inst[2][128], int *per_inst, int mid_at, void (*mid)(th_redis *))
{
    redisContext *c = th_redis_connect(redis);
    int64_t deadline = rh_mono_ms() + deadline_s * 1000;
    int moved = 0, got = 0;
    redisReply *r;

    while (rh_mono_ms() < deadline) {
        if (c == NULL || c->err) {
            if (c)
                redisFree(c);
            usleep(50000);
            c = th_redis_connect(redis);
            continue;
        }
        r = redisCommand(c, "BLMOVE %s %s RIGHT LEFT 1", SHARED_REPLY, GOT_LIST);
        if (r && r->type == REDIS_REPLY_STRING && ++moved == mid_at && mid)
            mid(redis);
        if (r)
            freeReplyObject(r);
        r = c->err ? NULL : redisCommand(c, "LLEN %s", GOT_LIST);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= n) {
            freeReplyObject(r);
            break;
        }
        if (r)
            freeReplyObject(r);
    }
    assert_non_null(c);
    r = redisCommand(c, "LRANGE %s 0 -1", GOT_LIST);
    assert_non_null(r);
    for (size_t e = 0; e < r->elements; e++) {
        rh_task t;
        const char *dash;
        int i;
        rh_task_init(&t);
        assert_int_equal(rh_task_from_reply(&t, r->element[e]->str, r->element[e]->len, NULL), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        dash = strrchr(t.id, '-');
        i = atoi(dash + 1);
        assert_true(i >= 0 && i < n);
        assert_string_equal(t.output, dash + 1);        /* the script returns args.i */
        seen[i]++;
        for (int k = 0; inst && k < 2; k++) {
            if (inst[k][0] == '\0')
                snprintf(inst[k], sizeof inst[k], "%s", t.instance);
            if (strcmp(inst[k], t.instance) == 0) {
                per_inst[k]++;
                break;
            }
        }
        rh_task_clear(&t);
    }
    got = (int)r->elements;
    freeReplyObject(r);
    r = redisCommand(c, "LLEN %s", SHARED_REPLY);   /* left over: duplicates */
    got += r ? (int)r->integer : 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return got;
}

static void test_a_thousand_tasks_through_two_instances_are_answered_exactly_once(void **state)
{
    th_redis redis;
    pid_t a, b;
    redisContext *c;
    static int seen[1000];
    char inst[2][128] = { "", "" };
    int per_inst[2] = { 0, 0 }, got;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    a = th_rhaid_start(&redis, "default", 2, NULL);
    b = th_rhaid_start(&redis, "default", 2, NULL);
    assert_true(a > 0 && b > 0);
    c = th_redis_connect(&redis);
    submit_many(c, "bulk", 1000, "args.i");
    got = collect(&redis, 1000, seen, 120, inst, per_inst, 0, NULL);
    print_message("replies %d; instance %s: %d, instance %s: %d\n", got, inst[0], per_inst[0],
                  inst[1], per_inst[1]);
    assert_int_equal(got, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    assert_true(per_inst[0] > 0 && per_inst[1] > 0);    /* both instances shared the queue */
    assert_int_equal(per_inst[0] + per_inst[1], 1000);
    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    assert_int_equal(WEXITSTATUS(th_stop(b, 10000)), 0);
    th_redis_stop(&redis);
}

static void test_a_task_of_an_instance_killed_mid_run_is_finished_by_another(void **state)
{
    th_redis redis;
    pid_t a, b;
    redisContext *c;
    char buf[128], inst_a[128];
    rh_task t;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    a = th_rhaid_start(&redis, "default", 1, fast_beat);
    assert_true(a > 0);
    c = th_redis_connect(&redis);
    assert_int_equal(th_submit(c, "default", "victim",
                               "var t = Date.now(); while (Date.now() - t < 800) {} 'survived'",
                               NULL, 10000, NULL), 0);
    for (int i = 0; i < 500 && strcmp(th_task_field(c, "victim", "status", buf, sizeof buf),
                                      "running") != 0; i++)
        usleep(10000);
    assert_string_equal(buf, "running");
    th_task_field(c, "victim", "instance", inst_a, sizeof inst_a);
    assert_int_equal(kill(a, SIGKILL), 0);
    assert_true(th_wait(a, 5000) != -1);

    b = th_rhaid_start(&redis, "default", 1, fast_beat);
    assert_true(b > 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "victim", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"survived\"");
    assert_int_equal(t.attempts, 2);
    assert_string_not_equal(t.instance, inst_a);
    rh_task_clear(&t);
    {   /* the dead instance is gone from the registry, its list deleted */
        redisReply *r = redisCommand(c, "KEYS rhai:processing:*%s*", inst_a);
        assert_int_equal(r->elements, 0);
        freeReplyObject(r);
        r = redisCommand(c, "SCARD rhai:workers");
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisFree(c);
    th_stop(b, 10000);
    th_redis_stop(&redis);
}

static void test_a_task_failing_max_attempts_times_is_answered_crashed(void **state)
{
    static const char *const extra[] = { "--heartbeat-ms", "100", "--heartbeat-ttl-ms",
                                         "600", "--max-attempts", "1", NULL };
    th_redis redis;
    pid_t a, b;
    redisContext *c;
    char buf[64];
    rh_task t;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    a = th_rhaid_start(&redis, "default", 1, extra);
    c = th_redis_connect(&redis);
    assert_int_equal(th_submit(c, "default", "doomed", "while(true){}", NULL, 60000, NULL), 0);
    for (int i = 0; i < 500 && strcmp(th_task_field(c, "doomed", "status", buf, sizeof buf),
                                      "running") != 0; i++)
        usleep(10000);
    assert_string_equal(buf, "running");
    kill(a, SIGKILL);
    th_wait(a, 5000);
    b = th_rhaid_start(&redis, "default", 1, extra);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "doomed", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_CRASHED);
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);
    redisFree(c);
    th_stop(b, 10000);
    th_redis_stop(&redis);
}

/* A dead instance's tasks that it had only taken (queued) or claimed
 * (prefetched) never ran there: recovery puts them back whatever their
 * attempts, even past max_attempts, and they run. Only `running` ones
 * count towards crashed. */
static void test_a_claimed_task_of_a_dead_instance_is_requeued_not_crashed(void **state)
{
    static const char *const extra[] = { "--heartbeat-ms", "100", "--heartbeat-ttl-ms",
                                         "600", "--max-attempts", "1", NULL };
    th_redis redis;
    redisContext *c;
    redisReply *r;
    pid_t b;
    rh_task t;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    c = th_redis_connect(&redis);
    r = redisCommand(c, "HSET rhai:task:{default}:held-1 id held-1 script 41+1 worker_id default "
                     "status claimed instance ghost attempts 1");
    freeReplyObject(r);
    r = redisCommand(c, "HSET rhai:task:{default}:held-2 id held-2 script 40+3 worker_id default "
                     "status queued attempts 2");
    freeReplyObject(r);
    r = redisCommand(c, "RPUSH rhai:processing:{default}:ghost held-1 held-2");
    freeReplyObject(r);
    r = redisCommand(c, "SADD rhai:workers {default}:ghost");
    freeReplyObject(r);
    b = th_rhaid_start(&redis, "default", 1, extra);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "held-1", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "42");
    assert_int_equal(t.attempts, 2);
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "held-2", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 3);
    rh_task_clear(&t);
    redisFree(c);
    th_stop(b, 10000);
    th_redis_stop(&redis);
}

static void restart_redis(th_redis *r)
{
    print_message("restarting redis-server mid-run\n");
    assert_int_equal(th_redis_restart(r), 0);
}

static void test_a_redis_restart_mid_run_loses_and_duplicates_nothing(void **state)
{
    th_redis redis;
    pid_t a;
    redisContext *c;
    static int seen[400];
    int got;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 1), 0);        /* AOF, fsync always */
    a = th_rhaid_start(&redis, "default", 2, fast_beat);
    assert_true(a > 0);
    c = th_redis_connect(&redis);
    submit_many(c, "rs", 400, "var t = Date.now(); while (Date.now() - t < 3) {} args.i");
    redisFree(c);
    got = collect(&redis, 400, seen, 120, NULL, NULL, 100, restart_redis);
    assert_int_equal(got, 400);
    for (int i = 0; i < 400; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(kill(a, 0), 0);                        /* rhaid rode it out */
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    th_redis_stop(&redis);
}

/* ---- the async client across a Redis restart ---- */

#define N_ASYNC 300

typedef struct astate {
    th_redis *redis;
    int done[N_ASYNC];
    int completed, errors, restarted;
} astate;

typedef struct areq_t { astate *st; int i; } areq_t;

static void on_async_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    areq_t *q = data;
    char want[16];
    (void)a;
    q->st->completed++;
    snprintf(want, sizeof want, "%d", q->i);
    if (status != 0 || rhai_result_status(res) != RHAI_STATUS_DONE ||
        strcmp(rhai_result_output(res), want) != 0) {
        q->st->errors++;
        return;
    }
    q->st->done[q->i]++;
    if (q->st->completed == N_ASYNC / 3 && !q->st->restarted) {
        q->st->restarted = 1;
        print_message("restarting redis-server under the async client\n");
        assert_int_equal(th_redis_restart(q->st->redis), 0);
    }
}

static void test_the_async_client_gets_every_reply_across_a_redis_restart(void **state)
{
    th_redis redis;
    pid_t a;
    uv_loop_t loop;
    rhai_async *ac;
    static astate st;
    static areq_t reqs[N_ASYNC];
    char args[32];
    (void)state;

    memset(&st, 0, sizeof st);
    assert_int_equal(th_redis_start(&redis, 1), 0);
    st.redis = &redis;
    a = th_rhaid_start(&redis, "default", 2, fast_beat);
    assert_true(a > 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, redis.url, NULL, &ac, NULL), 0);
    for (int i = 0; i < N_ASYNC; i++) {
        rhai_task *t;
        assert_int_equal(rhai_task_new("var t = Date.now(); while (Date.now() - t < 2) {} args.i",
                                       &t), 0);
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        assert_int_equal(rhai_task_set_args(t, args), 0);
        reqs[i].st = &st;
        reqs[i].i = i;
        assert_int_equal(rhai_async_submit(ac, t, 60000, on_async_done, &reqs[i], NULL), 0);
        rhai_task_free(t);
    }
    while (st.completed < N_ASYNC && uv_run(&loop, UV_RUN_ONCE))
        ;
    print_message("completed %d, errors %d\n", st.completed, st.errors);
    assert_int_equal(st.restarted, 1);
    assert_int_equal(st.completed, N_ASYNC);
    assert_int_equal(st.errors, 0);
    for (int i = 0; i < N_ASYNC; i++)
        assert_int_equal(st.done[i], 1);
    rhai_async_close(ac, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    th_stop(a, 10000);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_thousand_tasks_through_two_instances_are_answered_exactly_once),
        cmocka_unit_test(test_a_task_of_an_instance_killed_mid_run_is_finished_by_another),
        cmocka_unit_test(test_a_task_failing_max_attempts_times_is_answered_crashed),
        cmocka_unit_test(test_a_claimed_task_of_a_dead_instance_is_requeued_not_crashed),
        cmocka_unit_test(test_a_redis_restart_mid_run_loses_and_duplicates_nothing),
        cmocka_unit_test(test_the_async_client_gets_every_reply_across_a_redis_restart),
    };
    return cmocka_run_group_tests_name("recovery", tests, NULL, NULL);
}
