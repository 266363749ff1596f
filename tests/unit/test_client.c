/* test_client.c -- unit tests of src/client that need no server: the task
 * builder's validation, the submit command it becomes, results parsed from
 * a reply JSON and from hash pairs, error names, and url/prefix errors of
 * both clients. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rhai/client.h"
#include "rhai/async.h"
#include "client/client_int.h"

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ======================== builder ======================== */

static int task_setup(void **state)
{
    rhai_task *t = NULL;
    if (rhai_task_new("1 + 1", &t) != 0)
        return -1;
    *state = t;
    return 0;
}

static int task_teardown(void **state)
{
    rhai_task_free(*state);
    return 0;
}

static void test_task_new_rejects_missing_or_empty_script(void **state)
{
    rhai_task *t = (rhai_task *)0x1;
    (void)state;
    assert_int_equal(rhai_task_new(NULL, &t), RHAI_EINVAL);
    assert_null(t);
    t = (rhai_task *)0x1;
    assert_int_equal(rhai_task_new("", &t), RHAI_EINVAL);
    assert_null(t);
    assert_int_equal(rhai_task_new("1", NULL), RHAI_EINVAL);
    rhai_task_free(NULL);                                  /* no-op */
}

static void test_task_new_sets_the_documented_defaults(void **state)
{
    rhai_task *t = *state;
    assert_string_equal(t->script, "1 + 1");
    assert_int_equal(t->script_len, 5);
    assert_string_equal(t->worker_id, "default");
    assert_string_equal(t->context_id, "default");
    assert_string_equal(t->caller_id, "anonymous");
    assert_string_equal(t->args, "{}");
    assert_int_equal(t->timeout_ms, 30000);
    assert_null(t->reply_to);
    assert_null(rhai_task_id(t));
}

static void test_task_names_are_validated(void **state)
{
    rhai_task *t = *state;
    char *long_ok = repeat('w', 128), *too_long = repeat('w', 129);

    assert_int_equal(rhai_task_set_worker(t, ""), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_worker(t, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_worker(t, "a b"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_worker(t, "{x}"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_worker(t, too_long), RHAI_EINVAL);
    assert_string_equal(t->worker_id, "default");          /* unchanged */
    assert_int_equal(rhai_task_set_worker(t, long_ok), 0);
    assert_int_equal(rhai_task_set_worker(t, "gpu-1.eu:a@b_c"), 0);
    assert_string_equal(t->worker_id, "gpu-1.eu:a@b_c");

    assert_int_equal(rhai_task_set_context(t, "x/y"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_context(t, "ctx-1"), 0);
    assert_string_equal(t->context_id, "ctx-1");

    assert_int_equal(rhai_task_set_id(t, "no spaces"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_id(t, too_long), RHAI_EINVAL);
    assert_null(rhai_task_id(t));
    assert_int_equal(rhai_task_set_id(t, long_ok), 0);
    assert_string_equal(rhai_task_id(t), long_ok);
    assert_int_equal(rhai_task_set_id(t, NULL), 0);        /* back to generated */
    assert_null(rhai_task_id(t));
    free(long_ok);
    free(too_long);
}

static void test_task_caller_allows_256_printable_characters(void **state)
{
    rhai_task *t = *state;
    char *k256 = repeat('K', 256), *k257 = repeat('K', 257);

    assert_int_equal(rhai_task_set_caller(t, k256), 0);
    assert_string_equal(t->caller_id, k256);
    assert_int_equal(rhai_task_set_caller(t, k257), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_caller(t, "ed25519:AbC+/="), 0);  /* key-like */
    assert_int_equal(rhai_task_set_caller(t, "has space"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_caller(t, "tab\there"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_caller(t, "caf\xc3\xa9"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_caller(t, ""), RHAI_EINVAL);
    assert_string_equal(t->caller_id, "ed25519:AbC+/=");
    free(k256);
    free(k257);
}

static void test_task_args_must_be_json(void **state)
{
    rhai_task *t = *state;

    assert_int_equal(rhai_task_set_args(t, "{n: 1}"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_args(t, "{\"n\": 1"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_args(t, ""), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_args(t, NULL), RHAI_EINVAL);
    assert_string_equal(t->args, "{}");
    assert_int_equal(rhai_task_set_args(t, "{\"n\":21,\"s\":[1,\"x\"]}"), 0);
    assert_string_equal(t->args, "{\"n\":21,\"s\":[1,\"x\"]}");
    assert_int_equal(rhai_task_set_args(t, "[1,2]"), 0);   /* any JSON value */
    assert_int_equal(rhai_task_set_args(t, "42"), 0);
}

static void test_task_timeout_is_bounded(void **state)
{
    rhai_task *t = *state;

    assert_int_equal(rhai_task_set_timeout(t, -5), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_timeout(t, 86400001), RHAI_EINVAL);
    assert_int_equal(t->timeout_ms, 30000);
    assert_int_equal(rhai_task_set_timeout(t, 0), 0);      /* none: the worker's default */
    assert_int_equal(t->timeout_ms, 0);
    assert_int_equal(rhai_task_set_timeout(t, 1), 0);
    assert_int_equal(rhai_task_set_timeout(t, 86400000), 0);
    assert_int_equal(t->timeout_ms, 86400000);
}

static void test_task_reply_to_is_checked_against_the_prefix(void **state)
{
    rhai_task *t = *state;
    rhai__submit s;
    rhai_error err = { 0, "" };

    assert_int_equal(rhai_task_set_reply_to(t, "has space"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_reply_to(t, "other:list"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, &err), RHAI_EINVAL);
    assert_int_equal(err.code, RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "rhai:reply:{default}:"));
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{default}:"), 0);   /* no name */
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:mine"), 0);   /* v1's: no slot */
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{other}:mine"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{default}:mine"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "app", NULL, 1, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_reply_to(t, NULL), 0);
    assert_null(t->reply_to);
}

static void test_task_out_of_memory_fails_cleanly(void **state)
{
    rhai_task *t = NULL;
    int rc = RHAI_ENOMEM;
    (void)state;

    for (unsigned long n = 1; n < 20 && rc == RHAI_ENOMEM; n++) {
        rh_alloc_fail_after(n);
        rc = rhai_task_new("x", &t);
        rh_alloc_fail_after(0);
        if (rc == RHAI_ENOMEM)
            assert_null(t);
    }
    assert_int_equal(rc, 0);
    rhai_task_free(t);
}

/* Every setter leaves the task as it was when it fails, out of memory
 * included: a task is always one a submit can send. */
static void test_task_setters_that_fail_change_nothing(void **state)
{
    rhai_task *t = *state;
    char pk[65], sk[129], pk2[65], sk2[129];
    int rc = RHAI_ENOMEM;

    assert_int_equal(rhai_keygen(pk, sk), 0);
    assert_int_equal(rhai_keygen(pk2, sk2), 0);
    assert_int_equal(rhai_task_set_signing_key(t, sk), 0);
    for (unsigned long n = 1; n < 20 && rc == RHAI_ENOMEM; n++) {
        rh_alloc_fail_after(n);
        rc = rhai_task_set_signing_key(t, sk2);
        rh_alloc_fail_after(0);
        if (rc == RHAI_ENOMEM) {            /* the first key and its caller */
            assert_string_equal(t->caller_id, pk);
            assert_string_equal(t->signing_key, sk);
        }
    }
    assert_int_equal(rc, 0);
    assert_string_equal(t->caller_id, pk2);
    assert_string_equal(t->signing_key, sk2);
    rh_alloc_fail_after(1);
    assert_int_equal(rhai_task_set_worker(t, "w2"), RHAI_ENOMEM);
    rh_alloc_fail_after(0);
    assert_string_equal(t->worker_id, "default");
}

/* A signed task's caller is its key's public key: another caller would
 * make every worker refuse the signature, so it is refused here. */
static void test_task_caller_of_a_signed_task_is_its_key(void **state)
{
    rhai_task *t = *state;
    char pk[65], sk[129];

    assert_int_equal(rhai_keygen(pk, sk), 0);
    assert_int_equal(rhai_task_set_caller(t, "alice"), 0);
    assert_int_equal(rhai_task_set_signing_key(t, sk), 0);
    assert_string_equal(t->caller_id, pk);
    assert_int_equal(rhai_task_set_caller(t, "alice"), RHAI_ESTATE);
    assert_string_equal(t->caller_id, pk);
    assert_int_equal(rhai_task_set_caller(t, pk), 0);      /* the same: fine */
    assert_int_equal(rhai_task_set_signing_key(t, NULL), 0);
    assert_null(t->signing_key);
    assert_string_equal(t->caller_id, pk);                  /* stays */
    assert_int_equal(rhai_task_set_caller(t, "alice"), 0);
    assert_int_equal(rhai_task_set_signing_key(t, "not hex"), RHAI_EINVAL);
    assert_string_equal(t->caller_id, "alice");
}

/* ======================== submit command ======================== */

static const char *hset_get(const rhai__submit *s, const char *name)
{
    for (int i = 2; i + 1 < s->hset_argc; i += 2)
        if (strlen(name) == s->hset_lens[i] && memcmp(s->hset_argv[i], name, s->hset_lens[i]) == 0)
            return s->hset_argv[i + 1];
    return NULL;
}

static void test_submit_writes_every_protocol_field(void **state)
{
    rhai_task *t = *state;
    rhai__submit s;

    assert_int_equal(rhai_task_set_id(t, "job-1"), 0);
    assert_int_equal(rhai_task_set_worker(t, "w1"), 0);
    assert_int_equal(rhai_task_set_args(t, "{\"a\":1}"), 0);
    assert_int_equal(rhai_task_set_timeout(t, 1500), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1764000000000LL, NULL), 0);
    assert_string_equal(s.hset_argv[0], "HSET");
    assert_string_equal(s.hset_argv[1], "rhai:task:{w1}:job-1");
    assert_int_equal(s.hset_argc, 2 + 2 * 10);               /* no reply_to */
    assert_string_equal(hset_get(&s, "id"), "job-1");
    assert_memory_equal(hset_get(&s, "script"), "1 + 1", 5);
    assert_string_equal(hset_get(&s, "worker_id"), "w1");
    assert_string_equal(hset_get(&s, "context_id"), "default");
    assert_string_equal(hset_get(&s, "caller_id"), "anonymous");
    assert_string_equal(hset_get(&s, "args"), "{\"a\":1}");
    assert_string_equal(hset_get(&s, "timeout_ms"), "1500");
    assert_string_equal(hset_get(&s, "created_at"), "1764000000000");
    assert_string_equal(hset_get(&s, "status"), "queued");
    assert_string_equal(hset_get(&s, "attempts"), "0");
    assert_null(hset_get(&s, "reply_to"));
    assert_string_equal(s.lpush_argv[0], "LPUSH");
    assert_string_equal(s.lpush_argv[1], "rhai:queue:{w1}");
    assert_string_equal(s.lpush_argv[2], "job-1");
    /* the lookup hint, for 7 days */
    assert_int_equal(s.hint_argc, 5);
    assert_string_equal(s.hint_argv[0], "SET");
    assert_string_equal(s.hint_argv[1], "rhai:taskw:{job-1}");
    assert_string_equal(s.hint_argv[2], "w1");
    assert_string_equal(s.hint_argv[3], "PX");
    assert_string_equal(s.hint_argv[4], "604800000");

    /* The async client's shared list replaces the task's own. */
    assert_int_equal(rhai_task_set_reply_to(t, "app:reply:{w1}:x"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "app", "app:reply:{w1}:client:u1", 1, NULL), 0);
    assert_string_equal(hset_get(&s, "reply_to"), "app:reply:{w1}:client:u1");
    assert_string_equal(s.hset_argv[1], "app:task:{w1}:job-1");
}

/* A task without a timeout carries no timeout_ms (the worker's default
 * applies); one that retries another names it in retry_of. */
static void test_submit_leaves_out_an_unset_timeout_and_writes_retry_of(void **state)
{
    rhai_task *t = *state;
    rhai__submit s;

    assert_int_equal(rhai_task_set_timeout(t, 0), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), 0);
    assert_null(hset_get(&s, "timeout_ms"));
    assert_null(hset_get(&s, "retry_of"));
    assert_int_equal(rhai_task_set_retry_of(t, "bad id"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_retry_of(t, "old-1"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), 0);
    assert_string_equal(hset_get(&s, "retry_of"), "old-1");
    assert_int_equal(rhai_task_set_retry_of(t, NULL), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1, NULL), 0);
    assert_null(hset_get(&s, "retry_of"));
}

/* issue 19: a task whose run_at (or submit time + delay) is ahead is
 * written `scheduled` and ZADDed to the delayed set at its due time; a past
 * one is an ordinary task; retries and backoff are written as set, and the
 * setters refuse what the worker would. */
static void test_submit_of_a_delayed_task_goes_to_the_delayed_set(void **state)
{
    rhai_task *t = *state;
    rhai__submit s;

    assert_int_equal(rhai_task_set_id(t, "d1"), 0);
    assert_int_equal(rhai_task_set_worker(t, "w1"), 0);
    assert_int_equal(rhai_task_set_run_at(t, 5000), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1000, NULL), 0);
    assert_string_equal(hset_get(&s, "status"), "scheduled");
    assert_string_equal(hset_get(&s, "run_at"), "5000");
    assert_int_equal(s.lpush_argc, 4);
    assert_string_equal(s.lpush_argv[0], "ZADD");
    assert_string_equal(s.lpush_argv[1], "rhai:delayed:{w1}");
    assert_string_equal(s.lpush_argv[2], "5000");
    assert_string_equal(s.lpush_argv[3], "d1");
    /* past: queued as any task */
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 9000, NULL), 0);
    assert_string_equal(hset_get(&s, "status"), "queued");
    assert_int_equal(s.lpush_argc, 3);
    assert_string_equal(s.lpush_argv[0], "LPUSH");
    /* a delay counts from the submit, and replaces run_at */
    assert_int_equal(rhai_task_set_delay_ms(t, 250), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1000, NULL), 0);
    assert_string_equal(hset_get(&s, "run_at"), "1250");
    assert_string_equal(s.lpush_argv[2], "1250");
    assert_int_equal(rhai_task_set_delay_ms(t, 0), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1000, NULL), 0);
    assert_null(hset_get(&s, "run_at"));
    assert_null(hset_get(&s, "retries"));
    assert_int_equal(rhai_task_set_run_at(t, -1), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_delay_ms(t, -1), RHAI_EINVAL);

    assert_int_equal(rhai_task_set_retries(t, 3), 0);
    assert_int_equal(rhai_task_set_backoff(t, "exp:100:1000"), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1000, NULL), 0);
    assert_string_equal(hset_get(&s, "retries"), "3");
    assert_string_equal(hset_get(&s, "backoff"), "exp:100:1000");
    assert_int_equal(rhai_task_set_retries(t, -1), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_retries(t, 101), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_backoff(t, "exp:1000:100"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_backoff(t, ""), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_backoff(t, "fixed:1;DEL x"), RHAI_EINVAL);
    assert_string_equal(hset_get(&s, "backoff"), "exp:100:1000");   /* unchanged */
    assert_int_equal(rhai_task_set_backoff(t, NULL), 0);
    assert_int_equal(rhai__submit_prepare(&s, t, "rhai", NULL, 1000, NULL), 0);
    assert_null(hset_get(&s, "backoff"));
}

static void test_submit_generates_a_new_id_each_time(void **state)
{
    rhai_task *t = *state;
    rhai__submit s1, s2;

    assert_int_equal(rhai__submit_prepare(&s1, t, "rhai", NULL, 1, NULL), 0);
    assert_int_equal(rhai__submit_prepare(&s2, t, "rhai", NULL, 1, NULL), 0);
    assert_int_equal(strlen(s1.id), 36);
    assert_true(rh_name_valid(s1.id));
    assert_string_not_equal(s1.id, s2.id);
    assert_string_equal(hset_get(&s1, "id"), s1.id);
    assert_null(rhai_task_id(t));                          /* task unchanged */
}

/* ======================== results ======================== */

static const char done_reply[] =
    "{\"id\":\"t-1\",\"status\":\"done\",\"output\":{\"n\":42,\"l\":[1,2]},"
    "\"error\":null,\"error_kind\":null,\"logs\":\"a\\nb\",\"worker_id\":\"default\","
    "\"instance\":\"host-123-ab12\",\"attempts\":1,\"created_at\":1764000000000,"
    "\"started_at\":1764000000001,\"finished_at\":1764000000002}";

static void test_result_from_reply_exposes_every_field(void **state)
{
    rhai_result *r = NULL;
    (void)state;

    assert_int_equal(rhai__result_from_reply(done_reply, strlen(done_reply), &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_status_name(r), "done");
    assert_string_equal(rhai_result_id(r), "t-1");
    assert_string_equal(rhai_result_output(r), "{\"n\":42,\"l\":[1,2]}");
    assert_null(rhai_result_error(r));
    assert_null(rhai_result_error_kind(r));
    assert_string_equal(rhai_result_logs(r), "a\nb");
    assert_string_equal(rhai_result_worker(r), "default");
    assert_string_equal(rhai_result_instance(r), "host-123-ab12");
    assert_int_equal(rhai_result_attempts(r), 1);
    assert_int_equal(rhai_result_created_at(r), 1764000000000LL);
    assert_int_equal(rhai_result_started_at(r), 1764000000001LL);
    assert_int_equal(rhai_result_finished_at(r), 1764000000002LL);
    /* The JSON is the reply again, fields in protocol order. */
    assert_string_equal(rhai_result_json(r), done_reply);
    rhai_result_free(r);
    rhai_result_free(NULL);
}

static void test_result_from_reply_of_a_failed_task(void **state)
{
    static const char reply[] =
        "{\"id\":\"t-2\",\"status\":\"error\",\"output\":null,\"error\":\"Error: boom\","
        "\"error_kind\":\"script\",\"logs\":\"\",\"worker_id\":\"w\",\"instance\":null,"
        "\"attempts\":2,\"created_at\":1,\"started_at\":2,\"finished_at\":3}";
    rhai_result *r = NULL;
    (void)state;

    assert_int_equal(rhai__result_from_reply(reply, strlen(reply), &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_ERROR);
    assert_string_equal(rhai_result_error(r), "Error: boom");
    assert_string_equal(rhai_result_error_kind(r), "script");
    assert_string_equal(rhai_result_output(r), "null");
    assert_null(rhai_result_instance(r));
    assert_int_equal(rhai_result_attempts(r), 2);
    rhai_result_free(r);
}

static void test_result_from_reply_rejects_what_is_not_a_reply(void **state)
{
    static const char *const bad[] = {
        "", "not json", "[1,2]", "42", "{\"status\":\"done\"}",
        "{\"id\":\"x\",\"status\":\"bogus\"}", "{\"id\":7,\"status\":\"done\"}",
        "{\"id\":\"x\",\"status\":\"done\",\"error\":5}",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rhai_result *r = NULL;
        rhai_error err = { 0, "" };
        assert_int_equal(rhai__result_from_reply(bad[i], strlen(bad[i]), &r, &err), RHAI_EPROTO);
        assert_int_equal(err.code, RHAI_EPROTO);
        assert_true(err.msg[0] != '\0');
        assert_null(r);
    }
}

static void test_result_from_hash_pairs(void **state)
{
    static const char *const names[] = {
        "id", "script", "status", "output", "error_kind", "error", "attempts",
        "created_at", "started_at", "finished_at", "worker_id", "instance", "logs",
        "some_future_field",
    };
    static const char *const vals[] = {
        "t-3", "throw 1", "timeout", NULL, "timeout", "timed out after 5 ms", "1",
        "100", "", "300", "w", "i-1", "", "ignored",
    };
    size_t lens[sizeof vals / sizeof vals[0]];
    rhai_result *r = NULL;
    (void)state;

    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        lens[i] = vals[i] ? strlen(vals[i]) : 0;
    assert_int_equal(rhai__result_from_pairs(names, vals, lens, sizeof lens / sizeof lens[0],
                                             &r, NULL), 0);
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_TIMEOUT);
    assert_string_equal(rhai_result_error_kind(r), "timeout");
    assert_string_equal(rhai_result_error(r), "timed out after 5 ms");
    assert_null(rhai_result_output(r));                    /* HMGET nil: absent */
    assert_int_equal(rhai_result_created_at(r), 100);
    assert_int_equal(rhai_result_started_at(r), 0);        /* empty: absent */
    assert_int_equal(rhai_result_finished_at(r), 300);
    assert_string_equal(rhai_result_instance(r), "i-1");
    assert_non_null(strstr(rhai_result_json(r), "\"status\":\"timeout\""));
    assert_non_null(strstr(rhai_result_json(r), "\"output\":null"));
    rhai_result_free(r);
}

static void test_result_from_hash_pairs_of_a_queued_task(void **state)
{
    static const char *const names[] = { "id", "script", "worker_id" };
    static const char *const vals[] = { "q-1", "1", "default" };
    static const size_t lens[] = { 3, 1, 7 };
    rhai_result *r = NULL;
    (void)state;

    assert_int_equal(rhai__result_from_pairs(names, vals, lens, 3, &r, NULL), 0);
    /* No status field (a task written by redis-cli): queued, by protocol. */
    assert_int_equal(rhai_result_status(r), RHAI_STATUS_QUEUED);
    assert_string_equal(rhai_result_status_name(r), "queued");
    rhai_result_free(r);
}

static void test_result_from_hash_pairs_rejects_bad_numbers(void **state)
{
    static const char *const names[] = { "id", "attempts" };
    static const char *const vals[] = { "t", "many" };
    static const size_t lens[] = { 1, 4 };
    rhai_result *r = NULL;
    rhai_error err = { 0, "" };
    (void)state;

    assert_int_equal(rhai__result_from_pairs(names, vals, lens, 2, &r, &err), RHAI_EPROTO);
    assert_non_null(strstr(err.msg, "attempts"));
    assert_null(r);
}

static void test_result_accessors_accept_null(void **state)
{
    (void)state;
    assert_int_equal(rhai_result_status(NULL), RHAI_STATUS_UNKNOWN);
    assert_null(rhai_result_id(NULL));
    assert_null(rhai_result_json(NULL));
    assert_int_equal(rhai_result_attempts(NULL), 0);
}

static void test_status_names(void **state)
{
    static const char *const names[] = {
        "unknown", "queued", "running", "done", "error", "timeout", "cancelled"
    };
    (void)state;
    for (int s = RHAI_STATUS_UNKNOWN; s <= RHAI_STATUS_CANCELLED; s++)
        assert_string_equal(rhai_status_name((rhai_status)s), names[s]);
    assert_string_equal(rhai_status_name((rhai_status)99), "unknown");
}

/* ======================== errors ======================== */

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int code = RHAI_OK; code >= RHAI_EINTERNAL; code--) {
        const char *text = rhai_strerror(code), *name = rhai_err_name(code);
        assert_non_null(text);
        assert_string_not_equal(text, "unknown error");
        assert_non_null(strstr(name, "RHAI_"));
        for (int other = code + 1; other <= RHAI_OK; other++)
            assert_string_not_equal(text, rhai_strerror(other));
    }
    assert_string_equal(rhai_strerror(RHAI_ETIMEOUT), "timed out");
    assert_string_equal(rhai_err_name(RHAI_ECANCELED), "RHAI_ECANCELED");
    assert_string_equal(rhai_strerror(-999), "unknown error");
    assert_string_equal(rhai_strerror(1), "unknown error");
}

/* ======================== urls and prefixes ======================== */

static void test_connect_rejects_bad_urls_with_a_message(void **state)
{
    static const char *const bad[] = {
        "http://127.0.0.1:6379", "redis://127.0.0.1:99999", "redis://127.0.0.1:x",
        "redis://:6379", "redis://127.0.0.1:6379/db", "rediss://127.0.0.1?ca",
        "unix://relative.sock", "unix:///tmp/s.sock?db=x", "127.0.0.1:6379",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rhai_client *c = (rhai_client *)0x1;
        rhai_error err = { 0, "" };
        assert_int_equal(rhai_client_connect(bad[i], NULL, &c, &err), RHAI_EINVAL);
        assert_null(c);
        assert_int_equal(err.code, RHAI_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
}

/* rediss:// is a URL like any other now (TLS through the Redis layer):
 * a closed port is a connection failure, not a refused URL. */
static void test_connect_accepts_rediss(void **state)
{
    rhai_client *c = (rhai_client *)0x1;
    rhai_error err = { 0, "" };
    (void)state;

    assert_int_equal(rhai_client_connect("rediss://127.0.0.1:1", NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
}

static void test_connect_rejects_bad_prefixes(void **state)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    char *long_prefix = repeat('p', RH_PREFIX_MAX + 1);
    (void)state;

    assert_int_equal(rhai_client_connect("redis://127.0.0.1:1", "", &c, &err), RHAI_EINVAL);
    assert_int_equal(rhai_client_connect("redis://127.0.0.1:1", "a{b}", &c, &err), RHAI_EINVAL);
    assert_int_equal(rhai_client_connect("redis://127.0.0.1:1", long_prefix, &c, &err),
                     RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "prefix"));
    assert_null(c);
    free(long_prefix);
}

static void test_connect_reads_the_url_from_the_environment(void **state)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    (void)state;

    setenv("RHAI_REDIS_URL", "bogus://x", 1);
    assert_int_equal(rhai_client_connect(NULL, NULL, &c, &err), RHAI_EINVAL);
    unsetenv("RHAI_REDIS_URL");
    assert_null(c);
    rhai_client_free(NULL);                                /* no-op */
}

static void test_async_new_rejects_bad_urls_and_leaves_the_loop_clean(void **state)
{
    uv_loop_t loop;
    rhai_async *a = (rhai_async *)0x1;
    rhai_error err = { 0, "" };
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, "nope://", NULL, &a, &err), RHAI_EINVAL);
    assert_null(a);
    assert_int_equal(err.code, RHAI_EINVAL);
    assert_int_equal(rhai_async_new(&loop, NULL, "bad prefix", &a, &err), RHAI_EINVAL);
    assert_int_equal(rhai_async_new(NULL, NULL, NULL, &a, &err), RHAI_EINVAL);
    assert_int_equal(rhai_async_pending(NULL), 0);
    rhai_async_close(NULL, NULL, NULL);                    /* no-op */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_new_to_a_missing_socket_fails_at_once(void **state)
{
    uv_loop_t loop;
    rhai_async *a = (rhai_async *)0x1;
    rhai_error err = { 0, "" };
    (void)state;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, "unix:///nonexistent/rhai.sock", NULL, &a, &err),
                     RHAI_ECONN);
    assert_null(a);
    assert_non_null(strstr(err.msg, "rhai.sock"));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sync_calls_reject_null_and_bad_ids(void **state)
{
    rhai_result *r = (rhai_result *)0x1;
    (void)state;
    assert_int_equal(rhai_wait(NULL, "x", 1, &r, NULL), RHAI_EINVAL);
    assert_null(r);
    assert_int_equal(rhai_task_status(NULL, "x", &r, NULL), RHAI_EINVAL);
    assert_int_equal(rhai_cancel(NULL, "x", NULL), RHAI_EINVAL);
    assert_int_equal(rhai_submit(NULL, NULL, NULL, NULL), RHAI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_new_rejects_missing_or_empty_script),
        cmocka_unit_test_setup_teardown(test_task_new_sets_the_documented_defaults,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_task_names_are_validated, task_setup,
                                        task_teardown),
        cmocka_unit_test_setup_teardown(test_task_caller_allows_256_printable_characters,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_task_args_must_be_json, task_setup,
                                        task_teardown),
        cmocka_unit_test_setup_teardown(test_task_timeout_is_bounded, task_setup,
                                        task_teardown),
        cmocka_unit_test_setup_teardown(test_task_reply_to_is_checked_against_the_prefix,
                                        task_setup, task_teardown),
        cmocka_unit_test(test_task_out_of_memory_fails_cleanly),
        cmocka_unit_test_setup_teardown(test_task_setters_that_fail_change_nothing,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_task_caller_of_a_signed_task_is_its_key,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_submit_writes_every_protocol_field, task_setup,
                                        task_teardown),
        cmocka_unit_test_setup_teardown(test_submit_leaves_out_an_unset_timeout_and_writes_retry_of,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_submit_of_a_delayed_task_goes_to_the_delayed_set,
                                        task_setup, task_teardown),
        cmocka_unit_test_setup_teardown(test_submit_generates_a_new_id_each_time,
                                        task_setup, task_teardown),
        cmocka_unit_test(test_result_from_reply_exposes_every_field),
        cmocka_unit_test(test_result_from_reply_of_a_failed_task),
        cmocka_unit_test(test_result_from_reply_rejects_what_is_not_a_reply),
        cmocka_unit_test(test_result_from_hash_pairs),
        cmocka_unit_test(test_result_from_hash_pairs_of_a_queued_task),
        cmocka_unit_test(test_result_from_hash_pairs_rejects_bad_numbers),
        cmocka_unit_test(test_result_accessors_accept_null),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_connect_rejects_bad_urls_with_a_message),
        cmocka_unit_test(test_connect_accepts_rediss),
        cmocka_unit_test(test_connect_rejects_bad_prefixes),
        cmocka_unit_test(test_connect_reads_the_url_from_the_environment),
        cmocka_unit_test(test_async_new_rejects_bad_urls_and_leaves_the_loop_clean),
        cmocka_unit_test(test_async_new_to_a_missing_socket_fails_at_once),
        cmocka_unit_test(test_sync_calls_reject_null_and_bad_ids),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
