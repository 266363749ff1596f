/* test_harness.c -- the test harness itself: a throwaway redis-server
 * starts on a free port, keeps data across a restart with AOF, and stops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static void test_redis_starts_answers_and_keeps_aof_data_across_restart(void **state)
{
    th_redis r;
    redisContext *c;
    redisReply *rep;
    (void)state;

    assert_int_equal(th_redis_start(&r, 1), 0);
    assert_true(r.port > 0);
    c = th_redis_connect(&r);
    assert_non_null(c);
    rep = redisCommand(c, "SET k v");
    assert_non_null(rep);
    freeReplyObject(rep);
    redisFree(c);

    assert_int_equal(th_redis_restart(&r), 0);
    c = th_redis_connect(&r);
    assert_non_null(c);
    rep = redisCommand(c, "GET k");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "v");
    freeReplyObject(rep);
    redisFree(c);

    char dir[sizeof r.dir];
    memcpy(dir, r.dir, sizeof dir);
    assert_int_equal(access(dir, F_OK), 0);
    th_redis_stop(&r);
    assert_int_equal(access(dir, F_OK), -1);        /* temp dir removed */
    assert_null(th_redis_connect(&r));              /* server gone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_starts_answers_and_keeps_aof_data_across_restart),
    };
    return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}
