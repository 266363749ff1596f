/* test_dsl_ledger_daemon.c -- issue 16 through a real rhaid and a real
 * redis-server: task ids are chosen by clients, so the ledger binds an id
 * to the submission it recorded. Once a task's hash and reply are gone, a
 * caller without grants who reuses its id gets error_kind invalid ("task
 * id already used") and nothing of the recorded result (reading); a task
 * whose DSL calls were all refused leaves no ledger row, so it cannot
 * answer a later task of the same id in its place (planting); the same
 * submission delivered again is still answered from the ledger. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "th_store.h"
#include "dsl/dsl.h"

#define WORKER "default"

/* HSET the task with its context, caller and args, then LPUSH it
 * (protocol.md); first DEL whatever hash an earlier task of the id left,
 * as its expiry would. */
static void submit(redisContext *c, const char *id, const char *ctx, const char *caller,
                   const char *script, const char *args)
{
    char key[RH_KEY_MAX];
    redisReply *r;

    r = redisCommand(c, "DEL %s", rh_key_task(key, "rhai", WORKER, id));
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(th_submit_as(c, WORKER, id, ctx, caller, script, args, 20000, NULL), 0);
}

static void run(redisContext *c, const char *id, const char *ctx, const char *caller,
                const char *script, const char *args, rh_task *t)
{
    submit(c, id, ctx, caller, script, args);
    rh_task_init(t);
    assert_int_equal(th_reply(c, NULL, id, 60, t), 0);
}

static void test_a_reused_task_id_reveals_nothing_and_plants_nothing(void **state)
{
    static const char writer[] = "Company.create({name: 'secret-' + args.n});\n"
                                 "Company.list().map(function (c) { return c.name; })";
    th_redis redis;
    char dir[300], data[2048], first[200];
    const char *extra[] = { th_store_is_pg() ? "--data-url" : "--data-dir", data, NULL };
    redisContext *c;
    pid_t a;
    rh_task t;

    (void)state;
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(dir, sizeof dir, "%s/data", redis.dir);
    assert_int_equal(th_store_url(dir, data, sizeof data), 0);
    {
        store *s;
        rhai_error err;
        assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_context_create(s, "acme", "alice", &err), 0);
        store_free(s);
    }
    c = th_redis_connect(&redis);
    assert_non_null(c);
    a = th_rhaid_start(&redis, WORKER, 1, extra);
    assert_true(a > 0);

    /* reading */
    run(c, "L1", "acme", "alice", writer, "{\"n\": 1}", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_non_null(strstr(t.output, "secret-1"));
    snprintf(first, sizeof first, "%s", t.output);
    rh_task_clear(&t);
    run(c, "L1", "acme", "mallory", "Company.list()", "{}", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "task id already used"));
    assert_true(t.output == NULL || strstr(t.output, "secret") == NULL);
    rh_task_clear(&t);
    /* the same submission again is answered from the ledger */
    run(c, "L1", "acme", "alice", writer, "{\"n\": 1}", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, first);
    rh_task_clear(&t);

    /* planting */
    run(c, "F1", "acme", "mallory",
        "try { Company.create({name: 'evil'}); } catch (e) {} 'planted'", "{}", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"planted\"");
    rh_task_clear(&t);
    run(c, "F1", "acme", "alice", "Company.create({name: 'real'}).name", "{}", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"real\"");
    rh_task_clear(&t);

    /* alice's writes happened once each; mallory's refusal is audited */
    run(c, "check", "acme", "alice",
        "[Company.count(), audit.query({caller: 'mallory', model: 'task'})"
        ".map(function (r) { return r.op + ' ' + r.task_id; })]", "{}", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[2,[\"run L1\"]]");
    rh_task_clear(&t);

    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_reused_task_id_reveals_nothing_and_plants_nothing),
    };
    return cmocka_run_group_tests_name("dsl_ledger_daemon", tests, NULL, NULL);
}
