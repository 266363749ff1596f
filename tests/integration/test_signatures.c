/* test_signatures.c -- signed tasks against a real rhaid that requires
 * signatures: valid ones run; unsigned, tampered script, tampered args,
 * wrong key, expired and replayed ones, and ones signed for another
 * deployment (key prefix), are denied (error_kind denied). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "rhai/rhai.h"

static th_redis g_redis;
static pid_t g_rhaid;
static redisContext *g_c;
static char g_pk[65], g_sk[129], g_pk2[65], g_sk2[129];

static int group_setup(void **state)
{
    static const char *const extra[] = { "--require-signatures", "1",
                                         "--signature-skew-ms", "60000", NULL };
    (void)state;
    if (th_redis_start(&g_redis, 0) != 0)
        return -1;
    g_rhaid = th_rhaid_start(&g_redis, "signed", 1, extra);
    g_c = th_redis_connect(&g_redis);
    if (g_rhaid <= 0 || g_c == NULL || rhai_keygen(g_pk, g_sk) != 0 ||
        rhai_keygen(g_pk2, g_sk2) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    redisFree(g_c);
    th_stop(g_rhaid, 10000);
    th_redis_stop(&g_redis);
    return 0;
}

/* Submit raw: fields signed as 'signed_script'/'signed_args' by 'sk' with
 * caller 'caller', while the hash holds 'script'/'args'. */
static void submit_raw(const char *id, const char *caller, const char *sk,
                       const char *signed_script, const char *signed_args,
                       const char *script, const char *args, int64_t created_at)
{
    char key[RH_KEY_MAX], sig[RH_SIGN_SIG_HEX + 1], at[24];
    rh_sign_fields f = { id, "signed", "default", caller, signed_script,
                         strlen(signed_script), signed_args, created_at, "rhai" };
    redisReply *r;

    sig[0] = '\0';
    if (sk)
        assert_int_equal(rh_sign_task(sk, &f, sig), 0);
    snprintf(at, sizeof at, "%lld", (long long)created_at);
    r = redisCommand(g_c, "HSET %s id %s script %s args %s worker_id signed context_id default "
                     "caller_id %s created_at %s status queued signature %s",
                     rh_key_task(key, "rhai", "signed", id), id, script, args, caller, at, sig);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(g_c, "LPUSH %s %s", rh_key_queue(key, "rhai", "signed"), id);
    freeReplyObject(r);
}

static void expect(const char *id, rhai_status st, rh_error_kind kind, const char *needle)
{
    rh_task t;
    char list[RH_KEY_MAX];

    rh_task_init(&t);
    rh_key_reply(list, "rhai", "signed", id);          /* every task here is signed's */
    assert_int_equal(th_reply(g_c, list, id, 10, &t), 0);
    if (t.status != st || t.error_kind != kind)
        fail_msg("%s: %s/%s (%s)", id, rh_status_str(t.status), rh_kind_str(t.error_kind),
                 t.error ? t.error : "");
    if (needle && (t.error == NULL || strstr(t.error, needle) == NULL))
        fail_msg("%s: error '%s' lacks '%s'", id, t.error ? t.error : "", needle);
    rh_task_clear(&t);
}

static void test_a_validly_signed_task_runs(void **state)
{
    (void)state;
    submit_raw("s-ok", g_pk, g_sk, "args.n + 1", "{\"n\":41}", "args.n + 1", "{\"n\":41}",
               rh_now_ms());
    expect("s-ok", RHAI_STATUS_DONE, RH_EK_NONE, NULL);
}

static void test_an_unsigned_task_is_denied(void **state)
{
    (void)state;
    submit_raw("s-unsigned", "anonymous", NULL, "1", "{}", "1", "{}", rh_now_ms());
    expect("s-unsigned", RHAI_STATUS_ERROR, RH_EK_DENIED, "unsigned");
}

static void test_a_tampered_script_is_denied(void **state)
{
    (void)state;
    submit_raw("s-script", g_pk, g_sk, "1", "{}", "2", "{}", rh_now_ms());
    expect("s-script", RHAI_STATUS_ERROR, RH_EK_DENIED, "does not match");
}

static void test_tampered_args_are_denied(void **state)
{
    (void)state;
    submit_raw("s-args", g_pk, g_sk, "args.n", "{\"n\":1}", "args.n", "{\"n\":1000}",
               rh_now_ms());
    expect("s-args", RHAI_STATUS_ERROR, RH_EK_DENIED, "does not match");
}

static void test_a_signature_by_another_key_is_denied(void **state)
{
    (void)state;
    submit_raw("s-wrongkey", g_pk, g_sk2, "1", "{}", "1", "{}", rh_now_ms());
    expect("s-wrongkey", RHAI_STATUS_ERROR, RH_EK_DENIED, "does not match");
}

static void test_an_expired_task_is_denied(void **state)
{
    (void)state;
    submit_raw("s-old", g_pk, g_sk, "1", "{}", "1", "{}", rh_now_ms() - 3600 * 1000);
    expect("s-old", RHAI_STATUS_ERROR, RH_EK_DENIED, "expired");
}

static void test_a_replayed_task_is_denied(void **state)
{
    int64_t now = rh_now_ms();
    (void)state;
    submit_raw("s-replay", g_pk, g_sk, "'once'", "{}", "'once'", "{}", now);
    expect("s-replay", RHAI_STATUS_DONE, RH_EK_NONE, NULL);
    /* the very same signed fields, queued again (status reset by the attacker) */
    submit_raw("s-replay", g_pk, g_sk, "'once'", "{}", "'once'", "{}", now);
    expect("s-replay", RHAI_STATUS_ERROR, RH_EK_DENIED, "replayed");
}

/* The replay mark concerns signed tasks only (the claim reads it only for
 * them): an unsigned task under an id that carries one is judged as any
 * unsigned task, here denied because signatures are required. */
static void test_a_replay_mark_is_read_for_signed_tasks_only(void **state)
{
    redisReply *r;
    (void)state;
    r = redisCommand(g_c, "SET rhai:seen:{s-marked} 1 PX 60000");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    submit_raw("s-marked", "anonymous", NULL, "1", "{}", "1", "{}", rh_now_ms());
    expect("s-marked", RHAI_STATUS_ERROR, RH_EK_DENIED, "unsigned");
}

static void test_the_client_library_signs_what_it_submits(void **state)
{
    rhai_client *c;
    rhai_task *t;
    rhai_result *r;
    (void)state;
    assert_int_equal(rhai_client_connect(g_redis.url, NULL, &c, NULL), 0);
    assert_int_equal(rhai_task_new("ctx.caller_id", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "signed"), 0);
    assert_int_equal(rhai_task_set_signing_key(t, "not a key"), RHAI_EINVAL);
    assert_int_equal(rhai_task_set_signing_key(t, g_sk), 0);
    for (int i = 0; i < 2; i++) {              /* one builder, two signed tasks */
        char want[70];
        assert_int_equal(rhai_run(c, t, 5000, &r, NULL), 0);
        assert_int_equal(rhai_result_status(r), RHAI_STATUS_DONE);
        snprintf(want, sizeof want, "\"%s\"", g_pk);
        assert_string_equal(rhai_result_output(r), want);   /* the caller is the key */
        rhai_result_free(r);
    }
    rhai_task_free(t);
    rhai_client_free(c);
}

/* A signed task is bound to its deployment's key prefix: submitted by the
 * client library under prefix "staging", then copied field for field
 * under "rhai" (where this worker serves), it is denied and never runs. */
static void test_a_signed_task_copied_under_another_prefix_is_denied(void **state)
{
    rhai_client *c;
    rhai_task *t;
    char id[RHAI_ID_MAX];
    redisReply *r, *w;
    (void)state;

    assert_int_equal(rhai_client_connect(g_redis.url, "staging", &c, NULL), 0);
    assert_int_equal(rhai_task_new("'ran here'", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "signed"), 0);
    assert_int_equal(rhai_task_set_id(t, "s-copied"), 0);
    assert_int_equal(rhai_task_set_signing_key(t, g_sk), 0);
    assert_int_equal(rhai_submit(c, t, id, NULL), 0);
    assert_string_equal(id, "s-copied");
    rhai_task_free(t);
    rhai_client_free(c);

    r = redisCommand(g_c, "HGETALL staging:task:{signed}:s-copied");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements >= 2);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        w = redisCommand(g_c, "HSET rhai:task:{signed}:s-copied %b %b", r->element[i]->str,
                         r->element[i]->len, r->element[i + 1]->str,
                         r->element[i + 1]->len);
        assert_int_equal(w->type, REDIS_REPLY_INTEGER);
        freeReplyObject(w);
    }
    freeReplyObject(r);
    w = redisCommand(g_c, "LPUSH rhai:queue:{signed} s-copied");
    freeReplyObject(w);
    expect("s-copied", RHAI_STATUS_ERROR, RH_EK_DENIED, "does not match");
}

/* A task signed for worker id "other", copied whole (its worker_id field
 * says "other") into the queue of "signed": the worker verifies with its
 * own worker id, as with its own prefix, so it is denied. Before, it
 * verified the hash's worker_id and ran the task on a worker it was not
 * signed for (and "other"'s replay mark, in other's slot, never saw it). */
static void test_a_signed_task_copied_to_another_worker_ids_queue_is_denied(void **state)
{
    char key[RH_KEY_MAX], sig[RH_SIGN_SIG_HEX + 1], at[24];
    int64_t now = rh_now_ms();
    rh_sign_fields f = { "s-moved", "other", "default", g_pk, "'ran on signed'", 15, "{}",
                         now, "rhai" };
    redisReply *r;
    (void)state;

    assert_int_equal(rh_sign_task(g_sk, &f, sig), 0);
    snprintf(at, sizeof at, "%lld", (long long)now);
    r = redisCommand(g_c, "HSET %s id s-moved script %s args {} worker_id other "
                     "context_id default caller_id %s created_at %s status queued "
                     "signature %s", rh_key_task(key, "rhai", "signed", "s-moved"),
                     "'ran on signed'", g_pk, at, sig);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(g_c, "LPUSH %s s-moved", rh_key_queue(key, "rhai", "signed"));
    freeReplyObject(r);
    expect("s-moved", RHAI_STATUS_ERROR, RH_EK_DENIED, "does not match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_validly_signed_task_runs),
        cmocka_unit_test(test_an_unsigned_task_is_denied),
        cmocka_unit_test(test_a_tampered_script_is_denied),
        cmocka_unit_test(test_tampered_args_are_denied),
        cmocka_unit_test(test_a_signature_by_another_key_is_denied),
        cmocka_unit_test(test_an_expired_task_is_denied),
        cmocka_unit_test(test_a_replayed_task_is_denied),
        cmocka_unit_test(test_a_replay_mark_is_read_for_signed_tasks_only),
        cmocka_unit_test(test_the_client_library_signs_what_it_submits),
        cmocka_unit_test(test_a_signed_task_copied_under_another_prefix_is_denied),
        cmocka_unit_test(test_a_signed_task_copied_to_another_worker_ids_queue_is_denied),
    };
    return cmocka_run_group_tests_name("signatures", tests, group_setup, group_teardown);
}
