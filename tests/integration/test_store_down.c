/* test_store_down.c -- issue 17: a postgres store that is down when rhaid
 * starts. rhaid starts anyway, says so once in a clear log line, shows the
 * store down in /healthz and in its instance hash (rhaictl workers), and a
 * DSL task waits and retries within store_retry_ms. Without a server
 * (test_store_down: a port nobody listens on) the task ends internal once
 * the budget is spent, with nothing lost; on a real server stopped first
 * (test_store_down_pg, tools/with-postgres.sh) the server comes back
 * within the budget and the task commits once, the store shown up again. */
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

#define WORKER "pgdown"

/* The body of GET path from rhaid's http port (rh_free it). */
static char *http_body(int port, const char *path)
{
    char *r = th_http_get(port, path), *b;

    if (r == NULL || (b = strstr(r, "\r\n\r\n")) == NULL)
        return r;
    memmove(r, b + 4, strlen(b + 4) + 1);
    return r;
}

/* Wait (20 s) until /healthz says 'want' ("store=down ..."). */
static void wait_health(int port, const char *want)
{
    char *b = NULL;

    for (int i = 0; i < 400; i++) {
        rh_free(b);
        b = http_body(port, "/healthz");
        if (b && strstr(b, want))
            break;
        usleep(50 * 1000);
    }
    if (b == NULL || strstr(b, want) == NULL)
        fail_msg("/healthz never said '%s': %s", want, b ? b : "(nothing)");
    rh_free(b);
}

static void test_a_store_down_at_start_is_said_shown_and_waited_for(void **state)
{
    th_redis redis;
    char url[2048], listen[64], log[400], buf[256], cmd[600];
    const char *extra[] = { "--data-url", url, "--metrics-listen", listen,
                            "--store-retry-ms", th_store_is_pg() ? "60000" : "2000",
                            "--log-level", "info", NULL };
    int port = th_free_port(), pg = th_store_is_pg();
    redisContext *c;
    rhai_error err;
    store *st;
    pid_t pid;
    rh_task t;

    (void)state;
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    if (pg) {                   /* a real server, with its context, then stopped */
        assert_int_equal(th_store_url(NULL, url, sizeof url), 0);
        assert_int_equal(store_new(url, &dsl_schema, &st, &err), 0);
        assert_int_equal(store_context_create(st, "acme", "alice", &err), 0);
        store_free(st);
        assert_int_equal(th_sh("%s", getenv("RHAI_TEST_PG_STOP")), 0);
    } else {                    /* nobody listens there */
        snprintf(url, sizeof url, "postgres://rhai:s3cret@127.0.0.1:%d/rhai", th_free_port());
    }
    pid = th_rhaid_start(&redis, WORKER, 1, extra);
    assert_true(pid > 0);

    /* said once, clearly, without the password; rhaid runs on */
    wait_health(port, "store=down backend=postgres");
    snprintf(log, sizeof log, "%s/rhaid-1.log", redis.dir);
    assert_int_equal(th_sh("grep -q 'event=store_down.*backend=postgres' %s", log), 0);
    assert_int_equal(th_sh("grep -c 'event=store_down' %s | grep -qx 1", log), 0);
    assert_int_not_equal(th_sh("grep -q s3cret %s", log), 0);
    c = th_redis_connect(&redis);
    assert_non_null(c);
    {
        char key[RH_KEY_MAX];
        redisReply *r;
        int down = 0;
        for (int i = 0; i < 100 && !down; i++) {    /* the next heartbeat carries it */
            r = redisCommand(c, "KEYS rhai:worker:{" WORKER "}:*");
            assert_non_null(r);
            if (r->elements == 1) {
                snprintf(key, sizeof key, "%s", r->element[0]->str);
                freeReplyObject(r);
                r = redisCommand(c, "HGET %s store", key);
                down = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "down") == 0;
            }
            freeReplyObject(r);
            if (!down)
                usleep(50 * 1000);
        }
        assert_true(down);
    }
    {
        char bin[512];
        snprintf(cmd, sizeof cmd, "%s --redis-url %s workers --worker %s | grep -q 'postgres:down'",
                 th_bin("rhaictl", bin, sizeof bin), redis.url, WORKER);
        assert_int_equal(th_sh("%s", cmd), 0);
    }

    /* a DSL task waits for the store */
    assert_int_equal(th_submit_as(c, WORKER, "down-1", "acme", "alice",
                                  "Company.create({name: 'once'}); Company.count()", NULL,
                                  120000, NULL), 0);
    if (pg) {
        /* it is retried meanwhile (not answered), and commits once the
         * server is back */
        assert_int_equal(th_sh("for i in $(seq 200); do grep -q 'event=task_retry task=down-1' "
                               "%s && exit 0; sleep 0.05; done; exit 1", log), 0);
        assert_int_equal(th_cmd_int(c, "EXISTS rhai:reply:{default}:down-1"), 0);
        assert_int_equal(th_sh("%s", getenv("RHAI_TEST_PG_START")), 0);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, "down-1", 90, &t), 0);
        if (t.status != RHAI_STATUS_DONE)
            fail_msg("down-1: %s %s", rh_status_str(t.status), t.error ? t.error : "");
        assert_string_equal(t.output, "1");
        rh_task_clear(&t);
        wait_health(port, "store=up backend=postgres");
        assert_int_equal(th_sh("grep -q 'event=store_up' %s", log), 0);
    } else {
        /* past store_retry_ms it is answered internal: said, not lost */
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, "down-1", 60, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_ERROR);
        assert_int_equal(t.error_kind, RH_EK_INTERNAL);
        assert_non_null(strstr(t.error, "store unavailable"));
        assert_null(strstr(t.error, "s3cret"));
        rh_task_clear(&t);
        th_task_field(c, "down-1", "status", buf, sizeof buf);
        assert_string_equal(buf, "error");
    }
    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_store_done(pg ? url : NULL);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_store_down_at_start_is_said_shown_and_waited_for),
    };
    return cmocka_run_group_tests_name("store_down", tests, NULL, NULL);
}
