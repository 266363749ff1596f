/* test_start_batch.c -- the start script (wk_lua_start) against a real
 * redis-server: the starts of several tasks go in one call (rhaid sends
 * every start due in one loop iteration together, docs/protocol.md step
 * 3b), and each task is started or left alone on its own: a task still
 * claimed by this instance becomes running with attempts + 1 and a
 * started event; one claimed by another instance, one running already and
 * one whose key holds another type change nothing, and the last fails
 * alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "daemon/daemon.h"

#define W "sb"
#define EV(id, at) "{\"event\":\"started\",\"id\":\"" id "\",\"at\":" at "}"

static redisReply *cmd(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand(c, fmt, a, b);
    assert_non_null(r);
    return r;
}

static void hset(redisContext *c, const char *key, const char *status, const char *inst)
{
    redisReply *r = redisCommand(c, "HSET %s status %s instance %s attempts 1", key, status,
                                 inst);
    assert_non_null(r);
    freeReplyObject(r);
}

static void test_one_call_starts_each_claimed_task_and_leaves_the_others(void **state)
{
    th_redis r;
    redisContext *c, *sub;
    redisReply *rep;
    char k[5][RH_KEY_MAX];
    const char *ids[5] = { "a", "b", "c", "d", "e" };
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    c = th_redis_connect(&r);
    sub = th_redis_connect(&r);
    assert_non_null(c);
    assert_non_null(sub);
    for (int i = 0; i < 5; i++)
        rh_key_task(k[i], "rhai", W, ids[i]);
    hset(c, k[0], "claimed", "me");
    hset(c, k[1], "claimed", "other");          /* recovery gave it to another */
    hset(c, k[2], "running", "me");             /* the same delivery, started again */
    freeReplyObject(cmd(c, "SET %s %s", k[3], "not a hash"));
    hset(c, k[4], "claimed", "me");
    rep = redisCommand(sub, "SUBSCRIBE rhai:events");
    assert_non_null(rep);
    freeReplyObject(rep);
    {
        const char *argv[] = {
            "EVAL", wk_lua_start, "5", k[0], k[1], k[2], k[3], k[4],
            "me", "rhai:events", EV("a", "1000"), "1000", EV("b", "1001"), "1001",
            EV("c", "1002"), "1002", EV("d", "1003"), "1003", EV("e", "1004"), "1004",
        };
        rep = redisCommandArgv(c, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
    }
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 5);
    assert_int_equal(rep->element[0]->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->element[0]->integer, 2);
    assert_int_equal(rep->element[1]->integer, 0);
    assert_int_equal(rep->element[2]->integer, 0);
    assert_int_equal(rep->element[3]->type, REDIS_REPLY_ERROR);
    assert_int_equal(rep->element[4]->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->element[4]->integer, 2);
    freeReplyObject(rep);

    rep = cmd(c, "HMGET %s status started_at attempts", k[0], NULL);
    assert_string_equal(rep->element[0]->str, "running");
    assert_string_equal(rep->element[1]->str, "1000");
    assert_string_equal(rep->element[2]->str, "2");
    freeReplyObject(rep);
    rep = cmd(c, "HMGET %s status started_at", k[1], NULL);
    assert_string_equal(rep->element[0]->str, "claimed");
    assert_int_equal(rep->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    rep = cmd(c, "HGET %s started_at", k[2], NULL);
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);

    /* one started event per task started, in order, with its id and time */
    for (int i = 0; i < 2; i++) {
        const char *want[2] = { "{\"event\":\"started\",\"id\":\"a\",\"at\":1000}",
                                "{\"event\":\"started\",\"id\":\"e\",\"at\":1004}" };
        assert_int_equal(redisGetReply(sub, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
        assert_string_equal(rep->element[2]->str, want[i]);
        freeReplyObject(rep);
    }
    redisFree(sub);
    redisFree(c);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_call_starts_each_claimed_task_and_leaves_the_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
