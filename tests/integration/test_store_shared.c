/* test_store_shared.c -- issue 17: two rhaid instances of one worker id
 * serve one context with one truth. On postgres (test_store_shared_pg) the
 * instances share the database as two hosts would; on sqlite they share
 * one data dir (the only way sqlite gives one truth: the split guard
 * refuses anything else). Tasks from both instances write the same row
 * concurrently (a counter: a lost update would show) and a row each; every
 * count read afterwards, by a task on either instance or by the store
 * itself, is the same. */
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

#define WORKER "w1"
#define TASKS 200
#define READS 12

static const char write_js[] =
    "var a = Account.list({ where: { name: 'shared' }, limit: 1 });\n"
    "if (a.length) Account.update(a[0].id, { balance: a[0].balance + 1 });\n"
    "else Account.create({ name: 'shared', owner: 'alice', balance: 1 });\n"
    "Contact.create({ name: ctx.task_id });\n"
    "ctx.task_id";
static const char read_js[] =
    "var a = Account.list({ where: { name: 'shared' }, limit: 1 });\n"
    "({ n: a.length ? a[0].balance : 0, rows: Contact.count() })";

static void test_two_instances_serve_one_context_with_one_truth(void **state)
{
    th_redis redis;
    char dir[300], url[2048], id[32], inst[2][200], buf[200];
    const char *extra[] = { th_store_is_pg() ? "--data-url" : "--data-dir", url,
                            "--log-level", "notice", NULL };
    redisContext *c;
    pid_t a, b;
    int by[2] = { 0, 0 };
    rhai_error err;
    store *st;
    store_db *db;
    int64_t n;

    (void)state;
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(dir, sizeof dir, "%s/data", redis.dir);
    assert_int_equal(th_store_url(dir, url, sizeof url), 0);
    if (th_store_is_pg()) {
        /* by name, as users write it: confined executors cannot resolve a
         * name (no /etc/hosts), rhaid pins its address for them */
        char *h = strstr(url, "host='127.0.0.1'");   /* as long as the name */
        assert_non_null(h);
        memcpy(h, "host='localhost'", 16);
    }
    assert_int_equal(store_new(url, &dsl_schema, &st, &err), 0);
    assert_int_equal(store_context_create(st, "acme", "alice", &err), 0);
    c = th_redis_connect(&redis);
    assert_non_null(c);
    a = th_rhaid_start(&redis, WORKER, 2, extra);
    assert_true(a > 0);
    b = th_rhaid_start(&redis, WORKER, 2, extra);
    assert_true(b > 0);

    for (int i = 0; i < TASKS; i++) {
        snprintf(id, sizeof id, "shared-w%d", i);
        assert_int_equal(th_submit_as(c, WORKER, id, "acme", "alice", write_js, NULL, 60000,
                                      "rhai:reply:{" WORKER "}:shared"), 0);
    }
    inst[0][0] = inst[1][0] = '\0';
    for (int i = 0; i < TASKS; i++) {
        rh_task t;
        rh_task_init(&t);
        assert_int_equal(th_reply(c, "rhai:reply:{" WORKER "}:shared", NULL, 120, &t), 0);
        if (t.status != RHAI_STATUS_DONE)
            print_message("task %s: %s %s\n", t.id, rh_status_str(t.status),
                          t.error ? t.error : "");
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        th_task_field(c, t.id, "instance", buf, sizeof buf);
        for (int k = 0; k < 2; k++) {
            if (inst[k][0] == '\0')
                snprintf(inst[k], sizeof inst[k], "%s", buf);
            if (strcmp(inst[k], buf) == 0) {
                by[k]++;
                break;
            }
        }
        rh_task_clear(&t);
    }
    /* both instances wrote: the counter row was contended across them */
    print_message("tasks per instance: %s %d, %s %d\n", inst[0], by[0], inst[1], by[1]);
    assert_true(by[0] > 0 && by[1] > 0);
    assert_int_equal(by[0] + by[1], TASKS);

    /* every read, whichever instance runs it, sees every write once */
    for (int i = 0; i < READS; i++) {
        snprintf(id, sizeof id, "shared-r%d", i);
        assert_int_equal(th_submit_as(c, WORKER, id, "acme", "alice", read_js, NULL, 60000,
                                      "rhai:reply:{" WORKER "}:shared"), 0);
    }
    for (int i = 0; i < READS; i++) {
        rh_task t;
        char want[64];
        rh_task_init(&t);
        assert_int_equal(th_reply(c, "rhai:reply:{" WORKER "}:shared", NULL, 60, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        snprintf(want, sizeof want, "{\"n\":%d,\"rows\":%d}", TASKS, TASKS);
        assert_string_equal(t.output, want);
        rh_task_clear(&t);
    }
    /* and so does the store itself */
    assert_int_equal(store_open(st, "acme", &db, &err), 0);
    assert_int_equal(store_count(db, store_schema_model(&dsl_schema, "contact"), NULL, &n,
                                 &err), 0);
    assert_int_equal(n, TASKS);

    assert_int_equal(th_stop(a, 15000), 0);
    assert_int_equal(th_stop(b, 15000), 0);
    store_free(st);
    redisFree(c);
    th_store_done(url);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_instances_serve_one_context_with_one_truth),
    };
    return cmocka_run_group_tests_name("store_shared", tests, NULL, NULL);
}
