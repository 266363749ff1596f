/* test_e2e.c -- the whole spine: librhai-client (sync and async) -> Redis
 * -> rhaid -> executor -> reply, against a real redis-server and rhaid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "rhai/rhai.h"

typedef struct fixture {
    th_redis     redis;
    pid_t        rhaid;
    rhai_client *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (f == NULL || th_redis_start(&f->redis, 0) != 0)
        return -1;
    f->rhaid = th_rhaid_start(&f->redis, "e2e", 2, NULL);
    if (f->rhaid <= 0)
        return -1;
    return rhai_client_connect(f->redis.url, NULL, &f->c, NULL);
}

static int teardown(void **state)
{
    fixture *f = *state;
    rhai_client_free(f->c);
    if (f->rhaid > 0)
        th_stop(f->rhaid, 10000);
    th_redis_stop(&f->redis);
    free(f);
    return 0;
}

static rhai_task *task(const char *script, const char *args, int64_t timeout_ms)
{
    rhai_task *t;
    assert_int_equal(rhai_task_new(script, &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "e2e"), 0);
    if (args)
        assert_int_equal(rhai_task_set_args(t, args), 0);
    if (timeout_ms)
        assert_int_equal(rhai_task_set_timeout(t, timeout_ms), 0);
    return t;
}

static void test_run_returns_the_scripts_value(void **state)
{
    fixture *f = *state;
    rhai_task *t = task("print('adding'); ({sum: args.a + args.b, who: ctx.caller_id})",
                        "{\"a\":40,\"b\":2}", 5000);
    rhai_result *r = NULL;
    rhai_error err;

    assert_int_equal(rhai_task_set_caller(t, "alice"), 0);
    assert_int_equal(rhai_run(f->c, t, 5000, &r, &err), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(r), "{\"sum\":42,\"who\":\"alice\"}");
    assert_string_equal(rhai_result_logs(r), "adding\n");
    assert_null(rhai_task_id(t));                    /* generated per submit */
    assert_int_equal(strlen(rhai_result_id(r)), 36);
    assert_string_equal(rhai_result_worker(r), "e2e");
    assert_int_equal(rhai_result_attempts(r), 1);
    assert_null(rhai_result_error_kind(r));
    rhai_result_free(r);
    rhai_task_free(t);
}

/* Scripts near max_script (1 MiB by default) make task frames larger than
 * the executor pipe's buffer: rhaid writes what fits at once and the rest
 * as the executor reads (pool.c); frames of all sizes arrive whole, one
 * after the other on the same executors. */
static void test_scripts_larger_than_the_pipe_buffer_arrive_whole(void **state)
{
    static const size_t sizes[] = { 100, 300 * 1024, 1000 * 1000, 64 * 1024, 900 * 1000 };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *src = th_big_script(sizes[i]);
        char want[32];
        rhai_task *t;
        rhai_result *r = NULL;
        rhai_error err;

        assert_non_null(src);
        /* the script's last bytes are "1+1;": make them say which size */
        snprintf(want, sizeof want, "%zu", i);
        src[sizes[i] - 4] = (char)('0' + (char)i);
        src[sizes[i] - 3] = ';';
        src[sizes[i] - 2] = ' ';
        src[sizes[i] - 1] = ' ';
        t = task(src, NULL, 10000);
        assert_int_equal(rhai_run(f->c, t, 10000, &r, &err), 0);
        assert_int_equal(rhai_result_status(r), RHAI_STATUS_DONE);
        assert_string_equal(rhai_result_output(r), want);
        rhai_result_free(r);
        rhai_task_free(t);
        free(src);
    }
}

static void test_failures_come_back_with_their_kind(void **state)
{
    fixture *f = *state;
    rhai_task *t;
    rhai_result *r = NULL;

    t = task("undefinedFunction()", NULL, 5000);
    assert_int_equal(rhai_run(f->c, t, 5000, &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_ERROR);
    assert_string_equal(rhai_result_error_kind(r), "script");
    assert_non_null(strstr(rhai_result_error(r), "ReferenceError"));
    rhai_result_free(r);
    rhai_task_free(t);

    t = task("while (true) {}", NULL, 300);
    assert_int_equal(rhai_run(f->c, t, 5000, &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_TIMEOUT);
    assert_string_equal(rhai_result_error_kind(r), "timeout");
    rhai_result_free(r);
    rhai_task_free(t);
}

static void test_submit_then_wait_and_status(void **state)
{
    fixture *f = *state;
    rhai_task *t = task("'later'", NULL, 5000);
    char id[RHAI_ID_MAX];
    rhai_result *r = NULL, *s = NULL;

    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 10000, &r, NULL), 0);
    assert_string_equal(rhai_result_output(r), "\"later\"");
    assert_int_equal(rhai_task_status(f->c, id, &s, NULL), 0);
    assert_int_equal(rhai_result_status(s), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(s), "\"later\"");
    rhai_result_free(r);
    rhai_result_free(s);
    rhai_task_free(t);
}

static void test_a_queued_task_can_be_cancelled_and_is_never_run(void **state)
{
    fixture *f = *state;
    rhai_task *t = task("print('ran'); 1", NULL, 5000);
    char id[RHAI_ID_MAX];
    rhai_result *r = NULL;

    assert_int_equal(rhai_task_set_worker(t, "nobody-serves-this"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    assert_int_equal(rhai_cancel(f->c, id, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 5000, &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_CANCELLED);
    assert_string_equal(rhai_result_error_kind(r), "cancelled");
    rhai_result_free(r);
    assert_int_equal(rhai_cancel(f->c, id, NULL), RHAI_ESTATE);    /* already final */
    rhai_task_free(t);
}

static void test_a_running_task_can_be_cancelled_and_its_executor_is_replaced(void **state)
{
    fixture *f = *state;
    rhai_task *t = task("while (true) {}", NULL, 60000);
    char id[RHAI_ID_MAX];
    rhai_result *r = NULL;
    int running = 0;

    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    for (int i = 0; i < 500 && !running; i++) {
        assert_int_equal(rhai_task_status(f->c, id, &r, NULL), 0);
        running = rhai_result_status(r) == RHAI_STATUS_RUNNING;
        rhai_result_free(r);
        if (!running)
            usleep(10000);
    }
    assert_true(running);
    assert_int_equal(rhai_cancel(f->c, id, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 10000, &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_CANCELLED);
    assert_string_equal(rhai_result_error_kind(r), "cancelled");
    assert_non_null(strstr(rhai_result_error(r), "cancelled by client"));
    rhai_result_free(r);
    rhai_task_free(t);

    /* both executors work afterwards */
    for (int i = 0; i < 4; i++) {
        t = task("'after'", NULL, 5000);
        assert_int_equal(rhai_run(f->c, t, 5000, &r, NULL), 0);
        assert_int_equal(rhai_result_status(r), RHAI_STATUS_DONE);
        rhai_result_free(r);
        rhai_task_free(t);
    }
}

/* A task claimed ahead of a free executor (the prefetch) is `claimed`, not
 * `running`, in Redis while it waits in rhaid: cancelling it answers it
 * without running it, at the next check (every heartbeat), instead of once
 * it has run, and it counted no attempt. */
static void test_a_prefetched_task_can_be_cancelled_before_it_runs(void **state)
{
    fixture *f = *state;
    rhai_task *loop = task("while (true) {}", NULL, 60000);
    rhai_task *t = task("print('ran'); 1", NULL, 60000);
    char busy[2][RHAI_ID_MAX], id[RHAI_ID_MAX];
    rhai_result *r = NULL;
    int claimed = 0;

    for (int i = 0; i < 2; i++)         /* both executors busy */
        assert_int_equal(rhai_submit(f->c, loop, busy[i], NULL), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    for (int i = 0; i < 500 && !claimed; i++) {     /* claimed, waiting in rhaid */
        assert_int_equal(rhai_task_status(f->c, id, &r, NULL), 0);
        assert_int_not_equal(rhai_result_status(r), RHAI_STATUS_RUNNING);
        claimed = rhai_result_status(r) == RHAI_STATUS_CLAIMED;
        if (claimed) {
            assert_string_equal(rhai_result_status_name(r), "claimed");
            assert_int_equal(rhai_result_started_at(r), 0);
            assert_int_equal(rhai_result_attempts(r), 0);
        }
        rhai_result_free(r);
        if (!claimed)
            usleep(10000);
    }
    assert_true(claimed);
    assert_int_equal(rhai_cancel(f->c, id, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 10000, &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_CANCELLED);
    assert_string_equal(rhai_result_error_kind(r), "cancelled");
    assert_string_equal(rhai_result_error(r), "cancelled by client before it ran");
    assert_string_equal(rhai_result_logs(r), "");                 /* never ran */
    assert_int_equal(rhai_result_attempts(r), 0);
    rhai_result_free(r);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rhai_cancel(f->c, busy[i], NULL), 0);
        assert_int_equal(rhai_wait(f->c, busy[i], 10000, &r, NULL), 0);
        assert_int_equal(rhai_result_status(r), RHAI_STATUS_CANCELLED);
        rhai_result_free(r);
    }
    rhai_task_free(loop);
    rhai_task_free(t);
}

/* The next message on a subscribed connection, parsed (new). */
static json_t *next_event(redisContext *sub)
{
    void *msg = NULL;
    redisReply *r;
    json_t *ev;

    assert_int_equal(redisGetReply(sub, &msg), REDIS_OK);
    r = msg;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    ev = json_loads(r->element[2]->str, 0, NULL);
    if (ev == NULL)
        fail_msg("event is not JSON: %s", r->element[2]->str);
    freeReplyObject(r);
    return ev;
}

/* One task publishes "started" then "finished" on rhai:events, with the
 * fields and JSON types of docs/protocol.md. */
static void test_a_task_publishes_its_started_and_finished_events(void **state)
{
    fixture *f = *state;
    redisContext *sub = th_redis_connect(&f->redis);
    struct timeval tv = { 10, 0 };
    rhai_task *t = task("throw new Error('x')", NULL, 5000);
    rhai_result *r = NULL;
    json_t *ev;
    redisReply *rep;

    assert_non_null(sub);
    rep = redisCommand(sub, "SUBSCRIBE rhai:events");
    freeReplyObject(rep);
    redisSetTimeout(sub, tv);
    assert_int_equal(rhai_run(f->c, t, 5000, &r, NULL), 0);
    for (int k = 0; k < 2; k++) {
        ev = next_event(sub);
        assert_string_equal(json_string_value(json_object_get(ev, "event")),
                            k ? "finished" : "started");
        assert_string_equal(json_string_value(json_object_get(ev, "id")), rhai_result_id(r));
        assert_string_equal(json_string_value(json_object_get(ev, "worker_id")), "e2e");
        assert_string_equal(json_string_value(json_object_get(ev, "instance")),
                            rhai_result_instance(r));
        assert_string_equal(json_string_value(json_object_get(ev, "status")),
                            k ? "error" : "running");
        if (k)
            assert_string_equal(json_string_value(json_object_get(ev, "error_kind")), "script");
        else
            assert_true(json_is_null(json_object_get(ev, "error_kind")));
        assert_true(json_integer_value(json_object_get(ev, "at")) > 1700000000000);
        assert_int_equal(json_is_integer(json_object_get(ev, "run_ms")), k);
        assert_int_equal(json_is_integer(json_object_get(ev, "latency_ms")), k);
        assert_int_equal(json_object_size(ev), k ? 9 : 7);
        json_decref(ev);
    }
    rhai_result_free(r);
    rhai_task_free(t);
    redisFree(sub);
}

static void test_finished_tasks_are_indexed_and_failures_counted(void **state)
{
    fixture *f = *state;
    redisContext *c = th_redis_connect(&f->redis);
    rhai_task *t = task("throw new Error('x')", NULL, 5000);
    rhai_result *r = NULL;
    char id[RHAI_ID_MAX];
    redisReply *rep;

    assert_int_equal(rhai_run(f->c, t, 5000, &r, NULL), 0);
    snprintf(id, sizeof id, "%s", rhai_result_id(r));
    rhai_result_free(r);
    rhai_task_free(t);
    /* the index write is part of the finish: it is there with the reply */
    rep = redisCommand(c, "ZSCORE rhai:tasks:{e2e} %s", id);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
    rep = redisCommand(c, "KEYS rhai:failed:{e2e}:*");
    assert_int_equal(rep->elements, 1);
    freeReplyObject(rep);
    redisFree(c);
}

/* ---- async: many in flight on one connection, through rhaid ---- */

#define N_ASYNC 500

typedef struct async_state {
    int done[N_ASYNC];
    int completed;
    int errors;
    int closed;
} async_state;

typedef struct req { async_state *st; int i; } req;

static void on_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    req *rq = data;
    char want[16];
    (void)a;
    rq->st->completed++;
    if (status != 0 || rhai_result_status(res) != RHAI_STATUS_DONE) {
        rq->st->errors++;
        return;
    }
    snprintf(want, sizeof want, "%d", rq->i * 2);
    if (strcmp(rhai_result_output(res), want) != 0)
        rq->st->errors++;
    rq->st->done[rq->i]++;
}

static void on_closed(rhai_async *a, void *data)
{
    (void)a;
    ((async_state *)data)->closed = 1;
}

static void test_async_many_in_flight_are_each_answered_once(void **state)
{
    fixture *f = *state;
    uv_loop_t loop;
    rhai_async *a = NULL;
    static async_state st;
    static req reqs[N_ASYNC];
    char args[32];

    memset(&st, 0, sizeof st);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, f->redis.url, NULL, &a, NULL), 0);
    for (int i = 0; i < N_ASYNC; i++) {
        rhai_task *t = task("args.i * 2", NULL, 5000);
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        assert_int_equal(rhai_task_set_args(t, args), 0);
        reqs[i].st = &st;
        reqs[i].i = i;
        assert_int_equal(rhai_async_submit(a, t, 60000, on_done, &reqs[i], NULL), 0);
        rhai_task_free(t);
    }
    assert_int_equal(rhai_async_pending(a), N_ASYNC);
    while (st.completed < N_ASYNC && uv_run(&loop, UV_RUN_ONCE))
        ;
    assert_int_equal(st.completed, N_ASYNC);
    assert_int_equal(st.errors, 0);
    for (int i = 0; i < N_ASYNC; i++)
        assert_int_equal(st.done[i], 1);
    assert_int_equal(rhai_async_pending(a), 0);
    rhai_async_close(a, on_closed, &st);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(st.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A reply the async client's BLPOP took off its list but never received
 * (the connection died in between) is lost from the list; the request is
 * then completed from the task hash once the pop connection is back. */
typedef struct lost { int completed, status; char output[32]; } lost;

static void on_lost_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    lost *l = data;
    (void)a;
    l->completed++;
    l->status = status;
    if (status == 0)
        snprintf(l->output, sizeof l->output, "%s", rhai_result_output(res));
}

static long long client_id_with(redisContext *c, const char *needle)
{
    redisReply *r = redisCommand(c, "CLIENT LIST");
    long long id = -1;
    char *line = r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
    while (line && *line) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, needle))
            id = atoll(line + 3);                    /* "id=N ..." */
        line = end ? end + 1 : NULL;
    }
    if (r)
        freeReplyObject(r);
    return id;
}

static void test_async_completes_from_the_hash_when_its_reply_was_lost(void **state)
{
    fixture *f = *state;
    redisContext *c = th_redis_connect(&f->redis);
    uv_loop_t loop;
    rhai_async *a;
    rhai_task *t = task("'never run here'", NULL, 5000);
    lost l = { 0, -1, "" };
    char key[RH_KEY_MAX], id[RHAI_ID_MAX];
    redisReply *r;
    long long pop_id = -1;
    int64_t deadline;

    assert_int_equal(rhai_task_set_worker(t, "nobody-serves-this"), 0);
    assert_int_equal(rhai_task_set_id(t, "lost-reply-1"), 0);
    snprintf(id, sizeof id, "lost-reply-1");
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, f->redis.url, NULL, &a, NULL), 0);
    assert_int_equal(rhai_async_submit(a, t, 20000, on_lost_done, &l, NULL), 0);
    /* let the submit land and the BLPOP start */
    deadline = rh_mono_ms() + 5000;
    while (rh_mono_ms() < deadline && (pop_id = client_id_with(c, "cmd=blpop")) < 0)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(pop_id > 0);
    /* a worker answered, and the reply was taken and lost in transit */
    r = redisCommand(c, "HSET %s status done output 42 finished_at 1 attempts 1",
                     rh_key_task(key, "rhai", "nobody-serves-this", id));
    freeReplyObject(r);
    r = redisCommand(c, "CLIENT KILL ID %lld", pop_id);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    deadline = rh_mono_ms() + 10000;
    while (l.completed == 0 && rh_mono_ms() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(l.completed, 1);
    assert_int_equal(l.status, 0);
    assert_string_equal(l.output, "42");
    rhai_async_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    rhai_task_free(t);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_returns_the_scripts_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_come_back_with_their_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_larger_than_the_pipe_buffer_arrive_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_then_wait_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_queued_task_can_be_cancelled_and_is_never_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_running_task_can_be_cancelled_and_its_executor_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_prefetched_task_can_be_cancelled_before_it_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_task_publishes_its_started_and_finished_events,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_finished_tasks_are_indexed_and_failures_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_completes_from_the_hash_when_its_reply_was_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_many_in_flight_are_each_answered_once, setup, teardown),
    };
    return cmocka_run_group_tests_name("e2e", tests, NULL, NULL);
}
