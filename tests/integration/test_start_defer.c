/* test_start_defer.c -- rhaid with start_defer_ms (docs/protocol.md step
 * 3b, "Deferred"), against a real redis-server: a short task's start is
 * written by its finish (running fields in the hash, `started` published
 * once and before `finished`), a long task's start alone once it has run
 * that long (status running, attempts 1, one started event: its finish
 * does not publish it again). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define W "sd"

/* Events of task 'id' read from 'sub' (SUBSCRIBEd to rhai:events) until
 * its finished event: their names in order, into names (space-separated). */
static void events_of(redisContext *sub, const char *id, char *names, size_t n)
{
    char want[128];
    names[0] = '\0';
    snprintf(want, sizeof want, "\"id\":\"%s\"", id);
    for (;;) {
        redisReply *m = NULL;
        assert_int_equal(redisGetReply(sub, (void **)&m), REDIS_OK);
        assert_non_null(m);
        assert_int_equal(m->type, REDIS_REPLY_ARRAY);
        assert_int_equal(m->elements, 3);
        if (strstr(m->element[2]->str, want)) {
            const char *e = strstr(m->element[2]->str, "\"event\":\"");
            assert_non_null(e);
            e += 9;
            strncat(names, e, (size_t)(strchr(e, '"') - e));
            strncat(names, " ", n - strlen(names) - 1);
            if (strncmp(e, "finished", 8) == 0) {
                freeReplyObject(m);
                return;
            }
        }
        freeReplyObject(m);
    }
}

static void test_starts_go_with_the_finish_or_alone_once_due(void **state)
{
    const char *extra[] = { "--start-defer-ms", "300", NULL };
    th_redis r;
    redisContext *c, *sub;
    redisReply *rep;
    rh_task t;
    char buf[64], names[256];
    pid_t pid;
    struct timeval tv = { 20, 0 };
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    c = th_redis_connect(&r);
    sub = th_redis_connect(&r);
    assert_non_null(c);
    assert_non_null(sub);
    redisSetTimeout(sub, tv);
    rep = redisCommand(sub, "SUBSCRIBE rhai:events");
    assert_non_null(rep);
    freeReplyObject(rep);
    pid = th_rhaid_start(&r, W, 2, extra);
    assert_true(pid > 0);

    /* short: its start rides on its finish */
    assert_int_equal(th_submit(c, W, "short", "40 + 2", NULL, 10000, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "short", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 1);
    assert_true(t.started_at > 0 && t.started_at <= t.finished_at);
    rh_task_clear(&t);
    assert_string_equal(th_task_field(c, "short", "status", buf, sizeof buf), "done");
    assert_string_equal(th_task_field(c, "short", "attempts", buf, sizeof buf), "1");
    assert_true(atoll(th_task_field(c, "short", "started_at", buf, sizeof buf)) > 0);
    events_of(sub, "short", names, sizeof names);
    assert_string_equal(names, "started finished ");

    /* long: its start goes alone once it has run 300 ms */
    assert_int_equal(th_submit(c, W, "long",
                               "var t0 = Date.now(); while (Date.now() - t0 < 1500) {} 'ok'",
                               NULL, 10000, NULL), 0);
    for (int i = 0; i < 500; i++) {
        if (strcmp(th_task_field(c, "long", "status", buf, sizeof buf), "running") == 0)
            break;
        usleep(10000);
    }
    assert_string_equal(th_task_field(c, "long", "status", buf, sizeof buf), "running");
    assert_string_equal(th_task_field(c, "long", "attempts", buf, sizeof buf), "1");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "long", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);
    events_of(sub, "long", names, sizeof names);
    assert_string_equal(names, "started finished ");        /* started once */

    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    redisFree(sub);
    redisFree(c);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_go_with_the_finish_or_alone_once_due),
    };
    return cmocka_run_group_tests_name("start_defer", tests, NULL, NULL);
}
