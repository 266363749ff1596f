/* test_delay.c -- issue 19, items 1 and 2, through real rhaid instances
 * and a real redis-server: delayed tasks (run_at, held in the worker's
 * delayed set and promoted by every live instance), their cancel, and
 * retries with backoff (one reply after the last attempt, each attempt's
 * error kept, ctx.attempt, the dead set once retries ran out, effects of
 * the DSL written once). Times are read from the task hash (run_at,
 * started_at), never measured with sleeps; waits are bounded polls. */
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
#include "rhai/rhai.h"
#include "daemon/daemon.h"

#define WORKER "default"

typedef struct fixture {
    th_redis     redis;
    pid_t        rhaid[2];
    redisContext *c;
    rhai_client  *cl;
    char         data[2048];
} fixture;

/* redis, a store with context "acme" owned by alice, 'n' rhaid instances
 * sharing it, a raw connection and a client. */
static int start_n(void **state, int n)
{
    fixture *f = rh_calloc(1, sizeof *f);
    char dir[300];
    store *s;
    rhai_error err;

    if (f == NULL || th_redis_start(&f->redis, 0) != 0)
        return -1;
    *state = f;
    snprintf(dir, sizeof dir, "%s/data", f->redis.dir);
    if (th_store_url(dir, f->data, sizeof f->data) != 0 ||
        store_new(f->data, &dsl_schema, &s, &err) != 0)
        return -1;
    if (store_context_create(s, "acme", "alice", &err) != 0) {
        store_free(s);
        return -1;
    }
    store_free(s);
    for (int i = 0; i < n; i++) {
        const char *extra[] = { th_store_is_pg() ? "--data-url" : "--data-dir", f->data, NULL };
        if ((f->rhaid[i] = th_rhaid_start(&f->redis, WORKER, 2, extra)) <= 0)
            return -1;
    }
    f->c = th_redis_connect(&f->redis);
    if (f->c == NULL || rhai_client_connect(f->redis.url, "rhai", &f->cl, &err) != 0)
        return -1;
    return 0;
}

static int start_one(void **state)
{
    return start_n(state, 1);
}

static int start_two(void **state)
{
    return start_n(state, 2);
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f == NULL)
        return 0;
    rhai_client_free(f->cl);
    if (f->c)
        redisFree(f->c);
    for (int i = 0; i < 2; i++)
        if (f->rhaid[i] > 0)
            th_stop(f->rhaid[i], 10000);
    th_store_done(f->data);
    th_redis_stop(&f->redis);
    rh_free(f);
    return 0;
}

/* Submit 'script' as 'id' through the client library, with a delay, or
 * retries and a backoff, as given (0 / NULL: none). */
static void submit(fixture *f, const char *id, const char *script, int64_t delay_ms,
                   int retries, const char *backoff, const char *caller)
{
    rhai_task *t;
    rhai_error err;
    char out[RHAI_ID_MAX];

    assert_int_equal(rhai_task_new(script, &t), 0);
    assert_int_equal(rhai_task_set_id(t, id), 0);
    assert_int_equal(rhai_task_set_context(t, "acme"), 0);
    assert_int_equal(rhai_task_set_caller(t, caller ? caller : "alice"), 0);
    if (delay_ms)
        assert_int_equal(rhai_task_set_delay_ms(t, delay_ms), 0);
    assert_int_equal(rhai_task_set_retries(t, retries), 0);
    if (backoff)
        assert_int_equal(rhai_task_set_backoff(t, backoff), 0);
    assert_int_equal(rhai_submit(f->cl, t, out, &err), 0);
    assert_string_equal(out, id);
    rhai_task_free(t);
}

static long long field_ll(fixture *f, const char *id, const char *name)
{
    char buf[64];
    th_task_field(f->c, id, name, buf, sizeof buf);
    return buf[0] ? atoll(buf) : -1;
}

static long long reply_len(fixture *f, const char *id)
{
    char key[RH_KEY_MAX];
    return th_cmd_int(f->c, "LLEN %s", rh_key_reply(key, "rhai", WORKER, id));
}

static void test_a_task_due_in_one_second_waits_scheduled_then_runs_after_its_time(
    void **state)
{
    fixture *f = *state;
    char buf[64], key[RH_KEY_MAX];
    rh_task t;
    long long run_at, created;

    submit(f, "later-1", "ctx.attempt", 1000, 0, NULL, NULL);
    assert_string_equal(th_task_field(f->c, "later-1", "status", buf, sizeof buf), "scheduled");
    run_at = field_ll(f, "later-1", "run_at");
    created = field_ll(f, "later-1", "created_at");
    assert_true(run_at >= created + 1000);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 1);
    assert_int_equal(th_cmd_int(f->c, "LLEN %s", rh_key_queue(key, "rhai", WORKER)), 0);

    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "later-1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "1");                  /* ctx.attempt of a first run */
    assert_true(t.started_at >= run_at);                 /* not before its time */
    rh_task_clear(&t);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 0);
}

static void test_a_cancelled_delayed_task_never_runs(void **state)
{
    fixture *f = *state;
    rhai_error err;
    char buf[64], key[RH_KEY_MAX];
    rh_task t;

    submit(f, "never", "'ran'", 1500, 0, NULL, NULL);
    assert_int_equal(rhai_cancel(f->cl, "never", &err), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "never", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_CANCELLED);
    rh_task_clear(&t);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 0);

    /* a task due after it has run: the cancelled one's time has passed */
    submit(f, "after", "'ok'", 2000, 0, NULL, NULL);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "after", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    assert_string_equal(th_task_field(f->c, "never", "status", buf, sizeof buf), "cancelled");
    assert_string_equal(th_task_field(f->c, "never", "started_at", buf, sizeof buf), "");
    assert_int_equal(reply_len(f, "never"), 0);           /* the one reply was taken */
}

static void test_a_throwing_task_with_two_retries_runs_three_times_and_replies_once(
    void **state)
{
    fixture *f = *state;
    char buf[4096], key[RH_KEY_MAX];
    json_t *errs;
    rh_task t;

    submit(f, "flaky", "throw new Error('attempt ' + ctx.attempt)", 0, 2, "fixed:50", NULL);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "flaky", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_SCRIPT);
    assert_non_null(strstr(t.error, "attempt 3"));
    rh_task_clear(&t);
    assert_int_equal(reply_len(f, "flaky"), 0);           /* one reply, no other */
    assert_int_equal(field_ll(f, "flaky", "attempt"), 3);
    th_task_field(f->c, "flaky", "errors", buf, sizeof buf);
    errs = json_loads(buf, 0, NULL);
    assert_non_null(errs);
    assert_int_equal(json_array_size(errs), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(errs, i);
        char want[32];
        snprintf(want, sizeof want, "attempt %zu", i + 1);
        assert_int_equal(json_integer_value(json_object_get(e, "attempt")), (json_int_t)i + 1);
        assert_string_equal(json_string_value(json_object_get(e, "error_kind")), "script");
        assert_non_null(strstr(json_string_value(json_object_get(e, "error")), want));
    }
    json_decref(errs);
    /* retries exhausted: in the dead set, with dead_at */
    assert_true(field_ll(f, "flaky", "dead_at") > 0);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_dead(key, "rhai", WORKER)), 1);
}

static void test_a_task_sees_its_attempt_and_succeeds_on_a_retry(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX];
    rh_task t;

    submit(f, "second", "if (ctx.attempt < 2) throw new Error('not yet'); ctx.attempt", 0, 3,
           "exp:20:100", NULL);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "second", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "2");
    rh_task_clear(&t);
    assert_int_equal(field_ll(f, "second", "attempt"), 2);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_dead(key, "rhai", WORKER)), 0);
}

static void test_retries_write_the_dsl_once_and_a_denied_task_is_not_retried(void **state)
{
    fixture *f = *state;
    char buf[64], key[RH_KEY_MAX];
    rh_task t;

    /* each failed attempt creates a row then throws: nothing commits */
    submit(f, "writer", "Company.create({name: 'c' + ctx.attempt});\n"
           "if (ctx.attempt < 3) throw new Error('later');\n"
           "Company.list().map(function (c) { return c.name; })", 0, 2, "fixed:10", NULL);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "writer", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "[\"c3\"]");
    rh_task_clear(&t);

    /* denied: answered at once, one attempt, no retry, not dead */
    submit(f, "denied", "Company.create({name: 'evil'})", 0, 2, "fixed:10", "mallory");
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "denied", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_DENIED);
    rh_task_clear(&t);
    assert_string_equal(th_task_field(f->c, "denied", "attempt", buf, sizeof buf), "");
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_dead(key, "rhai", WORKER)), 0);
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 0);
}

/* Hostile retry fields written into the hash directly are refused
 * `invalid` with a message that names the field, not run. */
static void hostile(fixture *f, const char *id, const char *fields, const char *word)
{
    char key[RH_KEY_MAX], cmd[256];
    redisReply *r;
    rh_task t;

    snprintf(cmd, sizeof cmd, "HSET %s id %s script 1 status queued %s",
             rh_key_task(key, "rhai", WORKER, id), id, fields);
    r = redisCommand(f->c, cmd);
    assert_non_null(r);
    freeReplyObject(r);
    th_cmd_int(f->c, "LPUSH %s %s", rh_key_queue(key, "rhai", WORKER), id);
    rh_task_init(&t);
    print_message("hostile %s: %s\n", id, fields);
    assert_int_equal(th_reply(f->c, NULL, id, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, word));
    rh_task_clear(&t);
}

static void test_hostile_retry_fields_are_answered_invalid(void **state)
{
    fixture *f = *state;

    hostile(f, "h1", "retries 2 backoff exp:99999999999999999999:1", "backoff");
    hostile(f, "h2", "retries 2 backoff exp:5000:10", "backoff");
    hostile(f, "h3", "retries 2 backoff fixed:-1", "backoff");
    hostile(f, "h4", "retries 2 backoff linear:5", "backoff");
    hostile(f, "h5", "retries 101", "retries");
    hostile(f, "h6", "retries -1", "retries");
    hostile(f, "h7", "attempt 0", "attempt");
}

/* The finish script's retry record, sent again (its reply lost) or late
 * (the task moved on to another attempt), changes nothing the second
 * time: one errors entry, attempt + 1 once, one reply at most. */
static long long finish_retry(fixture *f, const char *id, int attempt, int64_t due)
{
    char tk[RH_KEY_MAX], rk[RH_KEY_MAX], dk[RH_KEY_MAX], xk[RH_KEY_MAX], entry[128], at[24];
    char dues[24];
    redisReply *r;
    long long out;

    snprintf(entry, sizeof entry, "{\"attempt\":%d,\"error_kind\":\"script\","
             "\"error\":\"boom\",\"at\":1}", attempt);
    snprintf(at, sizeof at, "%lld", (long long)rh_now_ms());
    snprintf(dues, sizeof dues, "%lld", (long long)due);
    {
        const char *argv[] = {
            "EVAL", wk_lua_finish, "8", "rhai:processing:{default}:x", "rhai:tasks:{default}",
            rh_key_delayed(dk, "rhai", WORKER),
            rh_key_task(tk, "rhai", WORKER, id), rh_key_reply(rk, "rhai", WORKER, id), "rhai:failed:{default}:1",
            "rhai:seen:{default}:x", rh_key_dead(xk, "rhai", WORKER), "60000", "rhai:events", "100",
            "12", id, "{}", "{\"event\":\"retry\"}", at, "3", "0", dues, entry,
            "status", "error", "error_kind", "script",
        };
        r = redisCommandArgv(f->c, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
    }
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
    out = r->element[0]->integer;
    freeReplyObject(r);
    return out;
}

static void test_a_retry_finish_sent_twice_or_late_applies_once(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX], buf[512];
    redisReply *r;

    r = redisCommand(f->c, "HSET %s id stale script 1 status running retries 3",
                     rh_key_task(key, "rhai", WORKER, "stale"));
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(finish_retry(f, "stale", 1, rh_now_ms() + 3600000), 2);
    assert_int_equal(finish_retry(f, "stale", 1, rh_now_ms() + 3600000), 0);   /* again */
    assert_int_equal(field_ll(f, "stale", "attempt"), 2);
    assert_string_equal(th_task_field(f->c, "stale", "status", buf, sizeof buf), "scheduled");
    th_task_field(f->c, "stale", "errors", buf, sizeof buf);
    {
        json_t *errs = json_loads(buf, 0, NULL);
        assert_int_equal(json_array_size(errs), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(errs, 0), "attempt")),
                         1);
        json_decref(errs);
    }
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 1);
    assert_int_equal(reply_len(f, "stale"), 0);
}

/* Two instances promote the same delayed set: 200 tasks due at once each
 * run once (one start, one reply). */
static void test_two_instances_promote_each_due_task_once(void **state)
{
    fixture *f = *state;
    char id[32], key[RH_KEY_MAX], buf[64];
    int64_t due = rh_now_ms() + 1500;
    int done = 0;

    for (int i = 0; i < 200; i++) {
        rhai_task *t;
        rhai_error err;
        char out[RHAI_ID_MAX];
        snprintf(id, sizeof id, "due-%d", i);
        assert_int_equal(rhai_task_new("ctx.task_id", &t), 0);
        assert_int_equal(rhai_task_set_id(t, id), 0);
        assert_int_equal(rhai_task_set_run_at(t, due), 0);
        assert_int_equal(rhai_submit(f->cl, t, out, &err), 0);
        rhai_task_free(t);
    }
    /* bounded poll on the hashes (60 s) */
    for (int round = 0; round < 600 && done < 200; round++) {
        done = 0;
        for (int i = 0; i < 200; i++) {
            snprintf(id, sizeof id, "due-%d", i);
            done += strcmp(th_task_field(f->c, id, "status", buf, sizeof buf), "done") == 0;
        }
        if (done < 200)
            usleep(100000);
    }
    assert_int_equal(done, 200);
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "due-%d", i);
        assert_int_equal(field_ll(f, id, "attempts"), 1);
        assert_int_equal(reply_len(f, id), 1);
        assert_true(field_ll(f, id, "started_at") >= due);
    }
    assert_int_equal(th_cmd_int(f->c, "ZCARD %s", rh_key_delayed(key, "rhai", WORKER)), 0);
    assert_int_equal(th_cmd_int(f->c, "LLEN %s", rh_key_queue(key, "rhai", WORKER)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_task_due_in_one_second_waits_scheduled_then_runs_after_its_time, start_one,
            teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_delayed_task_never_runs, start_one,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_throwing_task_with_two_retries_runs_three_times_and_replies_once, start_one,
            teardown),
        cmocka_unit_test_setup_teardown(test_a_task_sees_its_attempt_and_succeeds_on_a_retry,
                                        start_one, teardown),
        cmocka_unit_test_setup_teardown(
            test_retries_write_the_dsl_once_and_a_denied_task_is_not_retried, start_one,
            teardown),
        cmocka_unit_test_setup_teardown(test_hostile_retry_fields_are_answered_invalid,
                                        start_one, teardown),
        cmocka_unit_test_setup_teardown(test_a_retry_finish_sent_twice_or_late_applies_once,
                                        start_one, teardown),
        cmocka_unit_test_setup_teardown(test_two_instances_promote_each_due_task_once,
                                        start_two, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
