/* test_dsl_authz_daemon.c -- authorization through a real rhaid and a real
 * redis-server: a task whose DSL call is denied ends with error_kind
 * denied, one in a context that does not exist with invalid, and rhaid
 * --dev-mode creates an unknown context owned by the task's caller (not
 * for a task without one: invalid); a task
 * whose store failed runs again later. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "th_store.h"
#include "dsl/dsl.h"

/* Submit the task with its context and caller (NULL: none), then LPUSH it
 * (protocol.md). */
static void submit(redisContext *c, const char *worker, const char *id, const char *ctx,
                   const char *caller, const char *script)
{
    assert_int_equal(th_submit_as(c, worker, id, ctx, caller, script, NULL, 20000, NULL), 0);
}

/* Submit and wait for the reply into t (rh_task_clear it). */
static void run(redisContext *c, const char *worker, const char *id, const char *ctx,
                const char *caller, const char *script, rh_task *t)
{
    submit(c, worker, id, ctx, caller, script);
    rh_task_init(t);
    assert_int_equal(th_reply(c, NULL, id, 60, t), 0);
}

/* Whether context 'ctx' exists in the store at 'url' (either backend). */
static int context_exists(const char *url, const char *ctx)
{
    rhai_error err;
    store *s;
    int yes;

    assert_int_equal(store_new(url, &dsl_schema, &s, &err), 0);
    yes = store_context_exists(s, ctx);
    store_free(s);
    return yes;
}

static void test_denied_and_unknown_context_tasks_end_with_their_error_kinds(void **state)
{
    th_redis redis;
    char dir[300], data[2048];
    const char *flag = th_store_is_pg() ? "--data-url" : "--data-dir";
    const char *extra[] = { flag, data, NULL };
    const char *dev[] = { flag, data, "--dev-mode", NULL };
    redisContext *c;
    pid_t a, b;
    rh_task t;

    (void)state;
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(dir, sizeof dir, "%s/data", redis.dir);
    assert_int_equal(th_store_url(dir, data, sizeof data), 0);
    {
        store *s;
        rhai_error err;
        assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_context_create(s, "shop", "alice", &err), 0);
        store_free(s);
    }
    c = th_redis_connect(&redis);
    assert_non_null(c);
    a = th_rhaid_start(&redis, "default", 1, extra);
    assert_true(a > 0);

    run(c, "default", "owner-1", "shop", "alice", "Company.create({name: 'A'}).id", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "1");
    rh_task_clear(&t);

    run(c, "default", "denied-1", "shop", "bob", "Company.get(1)", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_DENIED);
    assert_non_null(strstr(t.error, "PermissionDenied: caller 'bob' may not read company 1"));
    rh_task_clear(&t);

    run(c, "default", "caught-1", "shop", "bob",
        "try { Company.get(1); 'no' } catch (e) { e.name }", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"PermissionDenied\"");
    rh_task_clear(&t);

    run(c, "default", "unknown-1", "ghost", "alice", "Company.count()", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "unknown context 'ghost'"));
    rh_task_clear(&t);
    assert_false(context_exists(data, "ghost"));

    /* the owner sees both denials in the audit log */
    run(c, "default", "audit-1", "shop", "alice",
        "audit.query({decision: 'denied'}).map(function (r) { return r.task_id; })", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[\"caught-1\",\"denied-1\"]");
    rh_task_clear(&t);

    /* dev mode: the unknown context is created, owned by the caller */
    b = th_rhaid_start(&redis, "dev", 1, dev);
    assert_true(b > 0);
    /* ... but not by a task without one, nor one that says "anonymous"
     * (what rhaid runs a task without a caller as): that would make every
     * unidentified submitter an owner of it (issue 22) */
    run(c, "dev", "dev-0", "ghost", NULL, "Company.count()", &t);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "UnknownContext: unknown context 'ghost'"));
    assert_non_null(strstr(t.error, "has no caller"));
    rh_task_clear(&t);
    run(c, "dev", "dev-00", "ghost", "anonymous", "Company.count()", &t);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    rh_task_clear(&t);
    assert_false(context_exists(data, "ghost"));
    run(c, "dev", "dev-1", "ghost", "carol", "Company.count()", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "0");
    rh_task_clear(&t);
    assert_true(context_exists(data, "ghost"));
    run(c, "dev", "dev-2", "ghost", "dave", "Company.count()", &t);
    assert_int_equal(t.error_kind, RH_EK_DENIED);
    rh_task_clear(&t);

    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    assert_int_equal(WEXITSTATUS(th_stop(b, 10000)), 0);
    th_redis_stop(&redis);
}

static void write_garbage(const char *path)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
}

/* A store the host cannot use fails a task as transient (kind internal):
 * rhaid runs it again after a pause (250 ms, then 500 ms ...), so a store
 * that heals in between answers it done, exactly once; one that stays
 * broken answers internal once store_retry_ms has passed (here 1.5 s). */
static void test_a_task_whose_store_failed_runs_again_later(void **state)
{
    th_redis redis;
    char data[300], path[400];
    const char *extra[] = { "--data-dir", data, "--store-retry-ms", "1500", NULL };
    redisContext *c;
    rhai_error err;
    store *s;
    pid_t a;
    rh_task t;
    int seen = 0;

    (void)state;
    assert_int_equal(th_redis_start(&redis, 0), 0);
    TH_SQLITE_ONLY();           /* files made unusable (postgres: test_chaos_pg) */
    snprintf(data, sizeof data, "%s/data", redis.dir);
    assert_int_equal(th_sh("mkdir -p %s", data), 0);
    assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
    snprintf(path, sizeof path, "%s/flaky.db", data);
    write_garbage(path);
    snprintf(path, sizeof path, "%s/broken.db", data);
    write_garbage(path);
    c = th_redis_connect(&redis);
    assert_non_null(c);
    a = th_rhaid_start(&redis, "default", 1, extra);
    assert_true(a > 0);

    /* heals: once rhaid has failed it and scheduled its next run */
    submit(c, "default", "heal-1", "flaky", "alice", "Company.create({name: 'A'}).id");
    for (int i = 0; i < 300 && !seen; i++) {
        seen = th_sh("grep -q 'event=task_retry task=heal-1' %s/rhaid-*.log", redis.dir) == 0;
        if (!seen)
            usleep(100 * 1000);
    }
    assert_true(seen);
    /* healed in one rename: a run never finds the context missing (that
     * would be answered invalid), whenever the next one falls */
    {
        char spare[300];
        store *s2;
        snprintf(spare, sizeof spare, "%s/spare", redis.dir);
        assert_int_equal(th_sh("mkdir -p %s", spare), 0);
        assert_int_equal(store_new(spare, &dsl_schema, &s2, &err), 0);
        assert_int_equal(store_context_create(s2, "flaky", "alice", &err), 0);
        store_free(s2);
        /* owned as the data dir is: a root rhaid hands the data dir to
         * its executors' user, who must be able to open the file */
        assert_int_equal(th_sh("test ! -e %s/flaky.db-wal && chown --reference=%s %s/flaky.db"
                               " && mv %s/flaky.db %s/flaky.db",
                               spare, data, spare, spare, data), 0);
    }
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "heal-1", 60, &t), 0);
    if (t.status != RHAI_STATUS_DONE)
        print_message("heal-1: %s\n", t.error ? t.error : "?");
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "1");
    rh_task_clear(&t);
    run(c, "default", "heal-2", "flaky", "alice", "Company.count()", &t);
    assert_string_equal(t.output, "1");              /* written once */
    rh_task_clear(&t);

    /* stays broken: internal once the 1.5 s are spent (250, 500, 750 ms) */
    run(c, "default", "broken-1", "broken", "alice", "Company.count()", &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INTERNAL);
    assert_non_null(strstr(t.error, "StoreUnavailable: store unavailable: broken:"));
    rh_task_clear(&t);
    assert_int_equal(th_sh("test $(grep -c 'event=task_retry task=broken-1' %s/rhaid-*.log) -ge 2",
                           redis.dir), 0);
    assert_int_equal(th_sh("grep -q 'event=store_retry_exhausted task=broken-1' %s/rhaid-*.log",
                           redis.dir), 0);

    store_free(s);
    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(a, 10000)), 0);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denied_and_unknown_context_tasks_end_with_their_error_kinds),
        cmocka_unit_test(test_a_task_whose_store_failed_runs_again_later),
    };
    return cmocka_run_group_tests_name("dsl_authz_daemon", tests, NULL, NULL);
}
