/* test_daemon_split.c -- the sqlite split guard (issue 17 item 6): with
 * the sqlite store, a second instance of a worker id whose data lives in
 * another data dir refuses to start (exit 2), naming both and the fix;
 * one that shares the data dir runs. Each data dir carries an id
 * (.rhai-data-id) that instances publish in their instance hash, beside
 * the store's state. Real rhaid, real redis-server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* Start rhaid for worker w1 on data dir 'data' without waiting for it. */
static pid_t spawn(th_redis *r, const char *data, const char *log)
{
    char bin[512];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", r->url,
                     "--worker-id", "w1", "--concurrency", "1", "--data-dir", (char *)data,
                     NULL };
    return th_spawn(argv, NULL, log);
}

static void test_a_second_instance_on_another_data_dir_refuses_to_start(void **state)
{
    th_redis r;
    char d1[300], d2[300], log[400], id[64];
    const char *same[] = { "--data-dir", d1, NULL };
    redisContext *c;
    redisReply *rep;
    pid_t a, b;
    int st;
    FILE *f;

    (void)state;
    assert_int_equal(th_redis_start(&r, 0), 0);
    snprintf(d1, sizeof d1, "%s/one", r.dir);
    snprintf(d2, sizeof d2, "%s/two", r.dir);
    assert_true((a = th_rhaid_start(&r, "w1", 1, same)) > 0);

    /* the data dir got its id, which the instance publishes with its store */
    snprintf(log, sizeof log, "%s/.rhai-data-id", d1);
    assert_non_null(f = fopen(log, "r"));
    assert_non_null(fgets(id, sizeof id, f));
    fclose(f);
    id[strcspn(id, "\n")] = '\0';
    assert_non_null(c = th_redis_connect(&r));
    rep = redisCommand(c, "EVAL %s 0", "local k = redis.call('KEYS', 'rhai:worker:{w1}:*')[1] "
                       "return redis.call('HMGET', k, 'data_id', 'backend', 'data_dir')");
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_string_equal(rep->element[0]->str, id);
    assert_string_equal(rep->element[1]->str, "sqlite");
    assert_non_null(strstr(rep->element[2]->str, "/one"));
    freeReplyObject(rep);

    /* another data dir: refused, both named, and the fix */
    snprintf(log, sizeof log, "%s/split.log", r.dir);
    assert_true((b = spawn(&r, d2, log)) > 0);
    st = th_wait(b, 20000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
    assert_int_equal(th_sh("grep -q 'event=data_split' %s", log), 0);
    assert_int_equal(th_sh("grep 'event=data_split' %s | grep -q '%s'", log, d1), 0);
    assert_int_equal(th_sh("grep 'event=data_split' %s | grep -q '%s'", log, d2), 0);
    assert_int_equal(th_sh("grep 'event=data_split' %s | grep -q 'postgres://'", log), 0);
    assert_int_equal(th_sh("grep 'event=data_split' %s | grep -q 'distinct worker ids'", log),
                     0);
    /* it never showed itself to the others */
    rep = redisCommand(c, "KEYS rhai:worker:{w1}:*");
    assert_int_equal(rep->elements, 1);
    freeReplyObject(rep);

    /* the same data dir (another host mounting it would be the same): runs */
    assert_true((b = th_rhaid_start(&r, "w1", 1, same)) > 0);
    assert_int_equal(WEXITSTATUS(th_stop(b, 10000)), 0);
    /* another worker id on its own data dir: runs */
    {
        const char *other[] = { "--data-dir", d2, NULL };
        assert_true((b = th_rhaid_start(&r, "w2", 1, other)) > 0);
        assert_int_equal(WEXITSTATUS(th_stop(b, 10000)), 0);
    }
    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_second_instance_on_another_data_dir_refuses_to_start),
    };
    return cmocka_run_group_tests_name("daemon_split", tests, NULL, NULL);
}
