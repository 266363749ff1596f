/* test_dsl_redelivery.c -- exactly-once effects through real rhaid processes and a
 * real redis-server: a worker killed after its task committed but before
 * the reply has the task redelivered to another instance, which must not
 * write again and must answer with the recorded result. Tasks submitted
 * without a context act in "default": the test creates that context owned
 * by "ops", the caller of its tasks (anonymous owns nothing). */
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

/* Increments a counter row of the context once per run. */
static const char counter_script[] =
    "var a = Account.list({where: {name: 'counter'}});\n"
    "if (a.length === 0) Account.create({name: 'counter', owner: 'test', balance: 1});\n"
    "else Account.update(a[0].id, {balance: a[0].balance + 1});\n"
    "'balance ' + Account.list({where: {name: 'counter'}})[0].balance + ' at ' + Date.now()";

/* th_submit as caller "ops": the caller goes into the hash first. */
static int submit(redisContext *c, const char *id, const char *script)
{
    redisReply *r = redisCommand(c, "HSET rhai:task:{default}:%s caller_id ops", id);
    int ok = r != NULL && r->type == REDIS_REPLY_INTEGER;

    freeReplyObject(r);
    return ok ? th_submit(c, "default", id, script, NULL, 10000, NULL) : -1;
}

static void test_a_task_redelivered_after_its_commit_does_not_write_twice(void **state)
{
    th_redis redis;
    char dir[300], data[2048];
    const char *extra[] = { "--heartbeat-ms", "100", "--heartbeat-ttl-ms", "600",
                            th_store_is_pg() ? "--data-url" : "--data-dir", data, NULL };
    redisContext *c;
    pid_t a, b;
    int status;
    rh_task t;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(dir, sizeof dir, "%s/shared-data", redis.dir);     /* both instances */
    assert_int_equal(th_store_url(dir, data, sizeof data), 0);
    {
        store *s;
        rhai_error err;
        assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_context_create(s, "default", "ops", &err), 0);
        store_free(s);
    }
    c = th_redis_connect(&redis);
    assert_non_null(c);

    /* Instance A dies (with its executor) right after the task commits. */
    setenv("RHAI_TEST_FAULT", "kill_after_commit", 1);
    a = th_rhaid_start(&redis, "default", 1, extra);
    unsetenv("RHAI_TEST_FAULT");
    assert_true(a > 0);
    assert_int_equal(submit(c, "once", counter_script), 0);
    status = th_wait(a, 20000);
    assert_int_not_equal(status, -1);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    {   /* no reply went out */
        redisReply *r = redisCommand(c, "LLEN rhai:reply:{default}:once");
        assert_int_equal(r->integer, 0);
        freeReplyObject(r);
    }

    /* Instance B recovers the task from A's processing list and runs it. */
    b = th_rhaid_start(&redis, "default", 1, extra);
    assert_true(b > 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "once", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 2);
    /* the recorded result of the first run: its counter value is 1 */
    assert_non_null(strstr(t.output, "\"balance 1 at "));
    rh_task_clear(&t);

    /* The counter was incremented exactly once. */
    assert_int_equal(submit(c, "check", "[Account.count(), Account.list()[0].balance]"), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "check", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[1,1]");
    rh_task_clear(&t);

    /* A failing task leaves nothing behind, through rhaid too. */
    assert_int_equal(submit(c, "fails",
                            "Account.create({name: 'x', owner: 'y'}); throw new Error('no')"), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "fails", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    assert_int_equal(submit(c, "check2", "Account.count()"), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "check2", 30, &t), 0);
    assert_string_equal(t.output, "1");
    rh_task_clear(&t);

    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(b, 10000)), 0);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_task_redelivered_after_its_commit_does_not_write_twice),
    };
    return cmocka_run_group_tests_name("dsl_integration", tests, NULL, NULL);
}
