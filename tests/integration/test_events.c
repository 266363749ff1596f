/* test_events.c -- events through real rhaid processes, a real redis-server
 * and both store backends (docs/events.md): a task's emit() reaches the
 * context's subscribers and stream if and only if the task committed, once
 * even when its instance dies between commit and finish, along chains up
 * to the depth limit; subscriber tasks run as the subscription's caller
 * with ctx.event; the stream is read with the C API and rhaictl. Tasks
 * run in context "default", owned by "ops". */
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
#include "th_store.h"
#include "dsl/dsl.h"
#include "store/store.h"
#include "rhai/rhai.h"

typedef struct env {
    th_redis      redis;
    char          dir[300], data[2048];
    redisContext *c;
    pid_t         rhaid;
} env;

/* extra: at least 12 entries (callers append two more). */
static const char *extra_of(env *e, const char **extra)
{
    extra[0] = "--heartbeat-ms";  extra[1] = "100";
    extra[2] = "--heartbeat-ttl-ms"; extra[3] = "600";
    extra[4] = "--event-depth-max"; extra[5] = "3";
    extra[6] = th_store_is_pg() ? "--data-url" : "--data-dir";
    extra[7] = e->data;
    extra[8] = NULL;
    return extra[0];
}

static void sub_add(env *e, const char *name, const char *pattern, const char *caller,
                    const char *script)
{
    store *s;
    store_db *db;
    rhai_error err;
    store_sub sub = { name, pattern, "default", script, NULL, caller, "test", 0 };

    assert_int_equal(store_new(e->data, &dsl_schema, &s, &err), 0);
    assert_int_equal(store_open(s, "default", &db, &err), 0);
    if (store_sub_put(db, &sub, &err) != 0)
        fail_msg("sub %s: %s", name, err.msg);
    store_free(s);
}

static int start(void **state)
{
    env *e = rh_calloc(1, sizeof *e);
    store *s;
    rhai_error err;
    const char *extra[12];

    assert_non_null(e);
    assert_int_equal(th_redis_start(&e->redis, 0), 0);
    snprintf(e->dir, sizeof e->dir, "%s/data", e->redis.dir);
    assert_int_equal(th_store_url(e->dir, e->data, sizeof e->data), 0);
    assert_int_equal(store_new(e->data, &dsl_schema, &s, &err), 0);
    assert_int_equal(store_context_create(s, "default", "ops", &err), 0);
    store_free(s);
    e->c = th_redis_connect(&e->redis);
    assert_non_null(e->c);
    /* order.paid: one row per event, and what the subscriber saw */
    sub_add(e, "audit", "order.paid", "ops",
            "Account.create({name: 'sub:' + ctx.event.id, owner: ctx.caller_id, balance: 1});\n"
            "[ctx.caller_id, ctx.event.name, ctx.event.payload, ctx.event.caller, ctx.parent,"
            " ctx.trace, ctx.depth]");
    /* runs as bob (owns nothing: reads nothing) */
    sub_add(e, "as-bob", "order.*", "bob", "[ctx.caller_id, ctx.event.name, ctx.depth]");
    /* a chain a -> b -> c, and a loop */
    sub_add(e, "c1", "chain.a", "ops", "emit('chain.b', {from: ctx.task_id}); 1");
    sub_add(e, "c2", "chain.b", "ops", "emit('chain.c', null); 2");
    sub_add(e, "c3", "chain.c", "ops",
            "Account.create({name: 'chain-end', owner: 'ops', balance: ctx.depth}); 3");
    sub_add(e, "loop", "loop.x", "ops", "emit('loop.x', ctx.depth); ctx.depth");
    extra_of(e, extra);
    e->rhaid = th_rhaid_start(&e->redis, "default", 2, extra);
    assert_true(e->rhaid > 0);
    *state = e;
    return 0;
}

static int stop(void **state)
{
    env *e = *state;
    if (e->rhaid > 0)
        th_stop(e->rhaid, 10000);
    redisFree(e->c);
    if (getenv("RHAI_TEST_KEEP")) {    /* the logs, to see why a run failed */
        fprintf(stderr, "kept %s\n", e->redis.dir);
        th_redis_stop_keep(&e->redis);
    } else {
        th_redis_stop(&e->redis);
    }
    rh_free(e);
    return 0;
}

static int submit(env *e, const char *id, const char *script)
{
    return th_submit_as(e->c, "default", id, "default", "ops", script, NULL, 10000, NULL);
}

/* Run 'script' as task 'id' and return its reply in *t. */
static void run(env *e, const char *id, const char *script, rh_task *t)
{
    assert_int_equal(submit(e, id, script), 0);
    rh_task_init(t);
    assert_int_equal(th_reply(e->c, NULL, id, 30, t), 0);
}

static long long stream_count(env *e, const char *event_id)
{
    redisReply *r = redisCommand(e->c, "XRANGE rhai:stream:{default} - +");
    long long n = 0;

    assert_non_null(r);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *fv = r->element[i]->element[1];
        for (size_t k = 0; k + 1 < fv->elements; k += 2)
            if (strcmp(fv->element[k]->str, "id") == 0 &&
                strcmp(fv->element[k + 1]->str, event_id) == 0)
                n++;
    }
    freeReplyObject(r);
    return n;
}

static long long rows_named(env *e, const char *name)
{
    char script[200];
    rh_task t;
    static int n;
    char id[32];
    long long v;

    snprintf(id, sizeof id, "count-%d", ++n);
    snprintf(script, sizeof script, "Account.count({where: {name: '%s'}})", name);
    run(e, id, script, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    v = strtoll(t.output, NULL, 10);
    rh_task_clear(&t);
    return v;
}

static void test_an_event_starts_each_subscriber_once_as_its_caller_with_ctx_event(void **state)
{
    env *e = *state;
    rh_task t;

    run(e, "paid1", "emit('order.paid', {n: 7}); 'ok'", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);

    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:paid1.1:audit", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[\"ops\",\"order.paid\",{\"n\":7},\"ops\",\"paid1\",\"paid1\",1]");
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:paid1.1:as-bob", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[\"bob\",\"order.paid\",1]");
    rh_task_clear(&t);

    assert_int_equal(stream_count(e, "paid1.1"), 1);
    assert_int_equal(rows_named(e, "sub:paid1.1"), 1);
    {   /* the subscriber task's fields, and the trace index */
        char buf[256];
        assert_string_equal(th_task_field(e->c, "ev:paid1.1:audit", "parent_id", buf, sizeof buf),
                            "paid1");
        assert_string_equal(th_task_field(e->c, "ev:paid1.1:audit", "trace_id", buf, sizeof buf),
                            "paid1");
        assert_string_equal(th_task_field(e->c, "ev:paid1.1:audit", "depth", buf, sizeof buf), "1");
        assert_int_equal(th_cmd_int(e->c, "ZCARD rhai:trace:{default}:paid1"), 3);
    }
}

static void test_a_failed_or_rolled_back_task_emits_nothing(void **state)
{
    env *e = *state;
    rh_task t;

    run(e, "fails", "emit('order.paid', {n: 1}); throw new Error('no')", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    /* a DSL call fails after the emit: the transaction, outbox row and all,
     * is rolled back */
    run(e, "rollback", "emit('order.paid', {n: 2}); Account.create({nosuchfield: 1})", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    /* a task that ran after both and emitted: its event arrives (so the
     * others' would have by now) */
    run(e, "after", "emit('order.paid', {n: 3}); 1", &t);
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:after.1:audit", 30, &t), 0);
    rh_task_clear(&t);
    assert_int_equal(stream_count(e, "fails.1"), 0);
    assert_int_equal(stream_count(e, "rollback.1"), 0);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:task:{default}:ev:fails.1:audit"), 0);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:task:{default}:ev:rollback.1:audit"), 0);
    assert_int_equal(rows_named(e, "sub:fails.1"), 0);
    assert_int_equal(rows_named(e, "sub:rollback.1"), 0);
}

static void test_a_chain_runs_to_depth_three_and_the_limit_stops_a_loop(void **state)
{
    env *e = *state;
    rh_task t;
    char end[200];

    run(e, "root", "emit('chain.a', {}); 0", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    /* root -> ev:root.1:c1 -> ev:ev:root.1:c1.1:c2 -> ... :c3 */
    snprintf(end, sizeof end, "ev:ev:ev:root.1:c1.1:c2.1:c3");
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, end, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    {
        char buf[256];
        assert_string_equal(th_task_field(e->c, end, "depth", buf, sizeof buf), "3");
        assert_string_equal(th_task_field(e->c, end, "trace_id", buf, sizeof buf), "root");
    }
    assert_int_equal(rows_named(e, "chain-end"), 1);
    assert_int_equal(th_cmd_int(e->c, "ZCARD rhai:trace:{default}:root"), 4);

    /* loop.x -> loop.x -> ...: the task at depth 3 (the limit) may not emit */
    run(e, "loop0", "emit('loop.x', 0); 0", &t);
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:ev:ev:loop0.1:loop.1:loop.1:loop", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_non_null(strstr(t.error, "EventDepthExceeded"));
    rh_task_clear(&t);
    assert_int_equal(th_cmd_int(e->c, "ZCARD rhai:trace:{default}:loop0"), 4);
}

/* Instance A dies at 'fault' (after the commit; or after the relay, before
 * the finish); B takes the task over: the event is relayed and its
 * subscriber runs exactly once. */
static void redelivered(env *e, const char *fault, const char *id)
{
    const char *extra[12];
    char sub[200], ev[200];
    pid_t a;
    int status;
    rh_task t;

    th_stop(e->rhaid, 10000);
    extra_of(e, extra);
    setenv("RHAI_TEST_FAULT", fault, 1);
    a = th_rhaid_start(&e->redis, "default", 1, extra);
    unsetenv("RHAI_TEST_FAULT");
    assert_true(a > 0);
    assert_int_equal(submit(e, id, "emit('order.paid', {n: 9}); 'once'"), 0);
    status = th_wait(a, 20000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(th_cmd_int(e->c, "LLEN rhai:reply:{default}:%s", id), 0);     /* no finish */
    e->rhaid = th_rhaid_start(&e->redis, "default", 2, extra);
    assert_true(e->rhaid > 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, id, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    snprintf(sub, sizeof sub, "ev:%s.1:audit", id);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, sub, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);
    snprintf(ev, sizeof ev, "%s.1", id);
    assert_int_equal(stream_count(e, ev), 1);
    snprintf(sub, sizeof sub, "sub:%s.1", id);
    assert_int_equal(rows_named(e, sub), 1);
    snprintf(sub, sizeof sub, "ev:%s.1:audit", id);
    assert_int_equal(th_cmd_int(e->c, "LLEN rhai:reply:{default}:%s", sub), 0);
}

static void test_a_redelivered_task_emits_once(void **state)
{
    redelivered(*state, "kill_after_commit", "redo1");
}

static void test_a_re_relay_after_a_crash_before_the_finish_starts_nothing_twice(void **state)
{
    redelivered(*state, "kill_after_relay", "redo2");
}

/* Redis forgot its scripts (SCRIPT FLUSH, as a restart does): the relay
 * answered NOSCRIPT loads them again and relays every event of the task. */
static void test_events_are_relayed_after_redis_forgot_its_scripts(void **state)
{
    env *e = *state;
    rh_task t;

    assert_int_equal(th_cmd_int(e->c, "EXISTS nosuchkey"), 0);
    {
        redisReply *r = redisCommand(e->c, "SCRIPT FLUSH");
        assert_non_null(r);
        freeReplyObject(r);
    }
    run(e, "flushed", "emit('order.paid', {n: 1}); emit('order.paid', {n: 2}); 1", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:flushed.1:audit", 30, &t), 0);
    rh_task_clear(&t);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:flushed.2:audit", 30, &t), 0);
    rh_task_clear(&t);
    assert_int_equal(stream_count(e, "flushed.1"), 1);
    assert_int_equal(stream_count(e, "flushed.2"), 1);
}

/* Instance A dies after the finish, before it marks the row relayed: the
 * next task that opens the context (on B, with a short event_repair_ms)
 * sweeps the row, relays it again (nothing new starts, nothing is
 * appended) and B marks it. */
static void test_the_repair_sweep_relays_an_unmarked_row_again_as_a_no_op(void **state)
{
    env *e = *state;
    const char *extra[12];
    pid_t a;
    int status;
    rh_task t;
    long long pending = -1;

    th_stop(e->rhaid, 10000);
    extra_of(e, extra);
    setenv("RHAI_TEST_FAULT", "kill_after_finish", 1);
    a = th_rhaid_start(&e->redis, "default", 1, extra);
    unsetenv("RHAI_TEST_FAULT");
    assert_true(a > 0);
    run(e, "swept", "emit('order.paid', {n: 5}); 'ok'", &t);     /* answered... */
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    status = th_wait(a, 20000);                                  /* ...then killed */
    assert_true(WIFSIGNALED(status));
    extra[8] = "--event-repair-ms";
    extra[9] = "100";
    extra[10] = NULL;
    e->rhaid = th_rhaid_start(&e->redis, "default", 2, extra);
    assert_true(e->rhaid > 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, NULL, "ev:swept.1:audit", 30, &t), 0);
    rh_task_clear(&t);
    /* tasks that open the context until the row is marked (the sweep
     * takes rows older than 100 ms: bounded by the loop's count) */
    for (int i = 0; i < 100 && pending != 0; i++) {
        store *s;
        store_db *db;
        rhai_error err;
        json_t *st = NULL;

        rows_named(e, "sub:swept.1");
        assert_int_equal(store_new(e->data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_open(s, "default", &db, &err), 0);
        assert_int_equal(store_outbox_stats(db, &st, &err), 0);
        pending = json_integer_value(json_object_get(st, "pending"));
        json_decref(st);
        store_free(s);
    }
    assert_int_equal(pending, 0);
    assert_int_equal(stream_count(e, "swept.1"), 1);
    assert_int_equal(rows_named(e, "sub:swept.1"), 1);
    assert_int_equal(th_cmd_int(e->c, "ZCARD rhai:trace:{default}:swept"), 3);
}

static void test_the_stream_is_read_and_acked_through_the_c_api_and_rhaictl(void **state)
{
    env *e = *state;
    rhai_client *c;
    rhai_error err;
    rhai_event *ev = NULL;
    size_t n = 0;
    rh_task t;
    char cmd[1024], bin[512], line[4096];
    FILE *p;
    int seen = 0;

    assert_int_equal(rhai_client_connect(e->redis.url, NULL, &c, &err), 0);
    assert_int_equal(rhai_events_group(c, "default", "app", "$", &err), 0);
    run(e, "api1", "emit('order.shipped', {box: 1}); emit('order.paid', {n: 1}); 2", &t);
    rh_task_clear(&t);
    assert_int_equal(rhai_events_read(c, "default", "app", "me", 10, 5000, 0, &ev, &n, &err), 0);
    if (n < 2) {              /* the two are relayed by one call each */
        rhai_event *more = NULL;
        size_t m = 0;
        assert_int_equal(rhai_events_read(c, "default", "app", "me", 10, 5000, 0, &more, &m,
                                          &err), 0);
        assert_int_equal(n + m, 2);
        rhai_events_free(more, m);
        assert_int_equal(n, 1);
    } else {
        assert_int_equal(n, 2);
        assert_string_equal(ev[1].id, "api1.2");
    }
    assert_string_equal(ev[0].id, "api1.1");
    assert_string_equal(ev[0].name, "order.shipped");
    assert_string_equal(ev[0].payload, "{\"box\":1}");
    assert_string_equal(ev[0].caller, "ops");
    {
        const char *ids[] = { ev[0].entry };
        long long acked = 0;
        assert_int_equal(rhai_events_ack(c, "default", "app", ids, 1, &acked, &err), 0);
        assert_int_equal(acked, 1);
    }
    rhai_events_free(ev, n);
    rhai_client_free(c);

    /* rhaictl events tail: every event of the stream from the start, as JSON */
    snprintf(cmd, sizeof cmd, "%s --redis-url %s events tail default --from 0 --count 3 --json",
             th_bin("rhaictl", bin, sizeof bin), e->redis.url);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p))
        seen += strstr(line, "\"name\":\"order.paid\"") != NULL;
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_true(seen >= 1);

    /* rhaictl trace: the root and its two subscribers */
    snprintf(cmd, sizeof cmd, "%s --redis-url %s trace paid1 --json",
             th_bin("rhaictl", bin, sizeof bin), e->redis.url);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_non_null(strstr(line, "\"trace\":\"paid1\""));
    assert_non_null(strstr(line, "\"id\":\"ev:paid1.1:audit\""));
    assert_non_null(strstr(line, "\"parent\":\"paid1\""));
    assert_non_null(strstr(line, "\"event\":\"order.paid\""));
    /* task show: the children */
    snprintf(cmd, sizeof cmd, "%s --redis-url %s task show paid1",
             th_bin("rhaictl", bin, sizeof bin), e->redis.url);
    p = popen(cmd, "r");
    seen = 0;
    while (fgets(line, sizeof line, p))
        seen += strncmp(line, "child:", 6) == 0;
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_int_equal(seen, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_event_starts_each_subscriber_once_as_its_caller_with_ctx_event),
        cmocka_unit_test(test_a_failed_or_rolled_back_task_emits_nothing),
        cmocka_unit_test(test_a_chain_runs_to_depth_three_and_the_limit_stops_a_loop),
        cmocka_unit_test(test_a_redelivered_task_emits_once),
        cmocka_unit_test(test_a_re_relay_after_a_crash_before_the_finish_starts_nothing_twice),
        cmocka_unit_test(test_events_are_relayed_after_redis_forgot_its_scripts),
        cmocka_unit_test(test_the_repair_sweep_relays_an_unmarked_row_again_as_a_no_op),
        cmocka_unit_test(test_the_stream_is_read_and_acked_through_the_c_api_and_rhaictl),
    };
    return cmocka_run_group_tests_name("events", tests, start, stop);
}
