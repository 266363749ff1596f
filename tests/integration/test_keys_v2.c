/* test_keys_v2.c -- key layout v2 (docs/protocol.md, "version 2") against a
 * one-node Redis Cluster (redis-server --cluster-enabled yes owning every
 * slot): every key is local, so nothing is redirected, but Redis refuses a
 * script or a MULTI whose keys span two hash slots, declared or not. One
 * rhaid (worker id "cw") and librhai-client go through every step of the
 * protocol there -- submit, run, finish, delay, retry, dead letter,
 * cancel, recovery of a dead instance, a cron firing, an event relayed to
 * a subscriber of another worker id -- and its log must name no slot
 * error. Also: a protocol v1 task is refused on its v1 reply list, a
 * reply_to outside the worker id's slot is answered invalid, and rhaictl
 * finds a task by its lookup hint and, without one, by searching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/common.h"
#include "harness.h"
#include "th_store.h"
#include "dsl/dsl.h"
#include "store/store.h"
#include "rhai/rhai.h"

typedef struct env {
    th_redis      redis;
    char          dir[300], data[2048], log[400];
    redisContext *c;
    rhai_client  *cl;
    pid_t         rhaid;
} env;

static int start(void **state)
{
    env *e = rh_calloc(1, sizeof *e);
    store *s;
    store_db *db;
    rhai_error err;
    store_sub sub = { "audit", "order.paid", "cw2", "ctx.event.name", NULL, "ops", "test", 0 };
    const char *extra[] = { "--heartbeat-ms", "100", "--heartbeat-ttl-ms", "600",
                            "--data-dir", NULL, NULL };

    assert_non_null(e);
    assert_int_equal(th_redis_start_cluster(&e->redis), 0);
    snprintf(e->dir, sizeof e->dir, "%s/data-0", e->redis.dir);
    assert_int_equal(th_store_url(e->dir, e->data, sizeof e->data), 0);
    assert_int_equal(store_new(e->data, &dsl_schema, &s, &err), 0);
    assert_int_equal(store_context_create(s, "default", "ops", &err), 0);
    assert_int_equal(store_open(s, "default", &db, &err), 0);
    assert_int_equal(store_sub_put(db, &sub, &err), 0);
    store_free(s);
    extra[5] = e->dir;
    e->rhaid = th_rhaid_start(&e->redis, "cw", 2, extra);
    assert_true(e->rhaid > 0);
    snprintf(e->log, sizeof e->log, "%s/rhaid-0.log", e->redis.dir);
    e->c = th_redis_connect(&e->redis);
    assert_non_null(e->c);
    assert_int_equal(rhai_client_connect(e->redis.url, NULL, &e->cl, &err), 0);
    *state = e;
    return 0;
}

static int stop(void **state)
{
    env *e = *state;

    if (e->rhaid > 0)
        th_stop(e->rhaid, 10000);
    rhai_client_free(e->cl);
    redisFree(e->c);
    if (getenv("RHAI_TEST_KEEP")) {
        fprintf(stderr, "kept %s\n", e->redis.dir);
        th_redis_stop_keep(&e->redis);
    } else {
        th_redis_stop(&e->redis);
    }
    rh_free(e);
    return 0;
}

static rhai_task *task(const char *script)
{
    rhai_task *t;

    assert_int_equal(rhai_task_new(script, &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "cw"), 0);
    assert_int_equal(rhai_task_set_context(t, "default"), 0);
    assert_int_equal(rhai_task_set_caller(t, "ops"), 0);
    return t;
}

/* Run 't' (freed) and return its status; its id in id (may be NULL). */
static rhai_status run(env *e, rhai_task *t, char id[RHAI_ID_MAX])
{
    rhai_result *res = NULL;
    rhai_error err;
    rhai_status st;

    if (rhai_run(e->cl, t, 20000, &res, &err) != 0)
        fail_msg("rhai_run: %s", err.msg);
    st = rhai_result_status(res);
    if (id)
        snprintf(id, RHAI_ID_MAX, "%s", rhai_result_id(res));
    rhai_result_free(res);
    rhai_task_free(t);
    return st;
}

static rhai_status wait_id(env *e, const char *id)
{
    rhai_result *res = NULL;
    rhai_error err;
    rhai_status st;

    if (rhai_wait(e->cl, id, 20000, &res, &err) != 0)
        fail_msg("rhai_wait %s: %s", id, err.msg);
    st = rhai_result_status(res);
    rhai_result_free(res);
    return st;
}

/* Poll (every 20 ms, 10 s at most) until 'cmd' answers a string or a
 * non-zero integer; the string into buf. */
static int poll_until(env *e, char *buf, size_t n, const char *fmt, ...)
{
    struct timespec ms20 = { 0, 20000000L };

    for (int i = 0; i < 500; i++) {
        va_list ap;
        redisReply *r;
        int ok;

        va_start(ap, fmt);
        r = redisvCommand(e->c, fmt, ap);
        va_end(ap);
        ok = r && ((r->type == REDIS_REPLY_STRING && (snprintf(buf, n, "%s", r->str), 1)) ||
                   (r->type == REDIS_REPLY_INTEGER && r->integer > 0));
        if (r)
            freeReplyObject(r);
        if (ok)
            return 0;
        nanosleep(&ms20, NULL);
    }
    return -1;
}

static void test_every_step_of_a_worker_runs_on_a_one_node_cluster_without_a_slot_error(
    void **state)
{
    env *e = *state;
    rhai_task *t;
    rhai_result *res = NULL;
    rhai_error err;
    rhai_cron_def cd = { "tick", "* * * * * *", NULL, "cw", "3", NULL, "default", "ops",
                         NULL, NULL };
    char id[RHAI_ID_MAX], buf[512], bin[300];

    /* submit, run, finish: the hint and the per-worker reply list */
    assert_int_equal(run(e, task("1 + 1"), id), RHAI_STATUS_DONE);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:task:{cw}:%s", id), 1);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:taskw:{%s}", id), 1);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:task:{%s}", id), 0);

    /* delayed */
    t = task("'later'");
    assert_int_equal(rhai_task_set_delay_ms(t, 100), 0);
    assert_int_equal(run(e, t, NULL), RHAI_STATUS_DONE);

    /* retried, then out of retries: the dead-letter set */
    t = task("throw new Error('no')");
    assert_int_equal(rhai_task_set_retries(t, 1), 0);
    assert_int_equal(rhai_task_set_backoff(t, "fixed:10"), 0);
    assert_int_equal(run(e, t, id), RHAI_STATUS_ERROR);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:task:{cw}:%s", id), 1);
    assert_int_equal(poll_until(e, buf, sizeof buf, "ZSCORE rhai:dead:{cw} %s", id), 0);

    /* cancelled while scheduled, looked up by id alone */
    t = task("'never'");
    assert_int_equal(rhai_task_set_delay_ms(t, 3600000), 0);
    assert_int_equal(rhai_submit(e->cl, t, id, &err), 0);
    rhai_task_free(t);
    if (rhai_cancel(e->cl, id, &err) != 0)
        fail_msg("rhai_cancel: %s", err.msg);
    assert_int_equal(rhai_task_status(e->cl, id, &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_CANCELLED);
    rhai_result_free(res);

    /* recovery: a dead instance "ghost" of cw held a running task */
    assert_int_equal(th_cmd_int(e->c, "HSET rhai:task:{cw}:rec1 id rec1 script 4 worker_id cw "
                                "context_id default caller_id ops status running attempts 0 "
                                "created_at 1"), 8);
    assert_int_equal(th_cmd_int(e->c, "SADD rhai:instances:{cw} ghost"), 1);
    assert_int_equal(th_cmd_int(e->c, "SADD rhai:workers {cw}:ghost"), 1);
    assert_int_equal(th_cmd_int(e->c, "RPUSH rhai:processing:{cw}:ghost rec1"), 1);
    freeReplyObject(redisCommand(e->c, "SET rhai:taskw:{rec1} cw"));
    assert_int_equal(wait_id(e, "rec1"), RHAI_STATUS_DONE);
    assert_int_equal(th_cmd_int(e->c, "SISMEMBER rhai:instances:{cw} ghost"), 0);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:processing:{cw}:ghost"), 0);

    /* a cron firing, waited for by its id through rhaid's hint */
    if (rhai_cron_add(e->cl, &cd, &err) != 0)
        fail_msg("rhai_cron_add: %s", err.msg);
    assert_int_equal(poll_until(e, buf, sizeof buf, "LINDEX rhai:cron:runs:{cw}:tick -1"), 0);
    {
        json_t *o = json_loads(buf, 0, NULL);
        const char *fid = json_string_value(json_object_get(o, "id"));
        assert_non_null(fid);
        assert_int_equal(poll_until(e, buf, sizeof buf, "GET rhai:taskw:{%s}", fid), 0);
        assert_string_equal(buf, "cw");
        assert_int_equal(wait_id(e, fid), RHAI_STATUS_DONE);
        json_decref(o);
    }
    assert_int_equal(rhai_cron_remove(e->cl, "cw", "tick", &err), 0);

    /* an event: the subscriber task of worker id cw2 in cw2's slot, the
     * stream in the context's */
    assert_int_equal(run(e, task("emit('order.paid', {n: 1}); 'ok'"), id), RHAI_STATUS_DONE);
    assert_int_equal(th_cmd_int(e->c, "XLEN rhai:stream:{default}"), 1);
    snprintf(buf, sizeof buf, "rhai:task:{cw2}:ev:%s.1:audit", id);
    assert_int_equal(th_cmd_int(e->c, "EXISTS %s", buf), 1);
    assert_int_equal(th_cmd_int(e->c, "LLEN rhai:queue:{cw2}"), 1);
    snprintf(buf, sizeof buf, "ev:%s.1:audit", id);
    assert_int_equal(th_cmd_int(e->c, "ZRANK rhai:evsubs:{cw2} %s", buf), 0);

    /* rhaictl: a task by its hint, then without one (a search) */
    th_bin("rhaictl", bin, sizeof bin);
    assert_int_equal(th_sh("%s --redis-url %s task show rec1 >/dev/null", bin, e->redis.url), 0);
    assert_int_equal(th_cmd_int(e->c, "DEL rhai:taskw:{rec1}"), 1);
    assert_int_equal(th_sh("%s --redis-url %s task show rec1 >/dev/null", bin, e->redis.url), 0);
    assert_int_equal(th_sh("%s --redis-url %s task show nosuch >/dev/null 2>&1", bin,
                           e->redis.url), 7);
    /* rhaictl workers says the protocol */
    assert_int_equal(th_sh("%s --redis-url %s --json workers | grep -q '\"protocol\": *2'", bin,
                           e->redis.url), 0);

    /* and Redis refused nothing on the way */
    assert_int_equal(th_sh("grep -i slot %s/rhaid-*.log", e->redis.dir), 1);
}

static void test_a_protocol_v1_task_is_refused_on_its_v1_reply_list(void **state)
{
    env *e = *state;
    redisReply *r;
    rh_task t;

    /* the v1 walkthrough's submit, by hand */
    assert_int_equal(th_cmd_int(e->c, "HSET rhai:task:{v1a} id v1a script 1 worker_id cw "
                                "context_id default caller_id ops status queued attempts 0 "
                                "created_at 1"), 8);
    assert_int_equal(th_cmd_int(e->c, "LPUSH rhai:queue:{cw} v1a"), 1);
    r = redisCommand(e->c, "BLPOP rhai:reply:{v1a} 20");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    rh_task_init(&t);
    assert_int_equal(rh_task_from_reply(&t, r->element[1]->str, r->element[1]->len, NULL), 0);
    freeReplyObject(r);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "protocol v1 task refused: worker cw speaks protocol 2"));
    rh_task_clear(&t);
    r = redisCommand(e->c, "HGET rhai:task:{v1a} error_kind");
    assert_string_equal(r->str, "invalid");
    freeReplyObject(r);
    /* the id left the processing lists: nothing holds it */
    assert_int_equal(th_sh("[ -z \"$(redis-cli -p %d --scan --pattern 'rhai:processing:*' | "
                           "xargs -r -n1 redis-cli -p %d LRANGE | grep -x v1a)\" ]",
                           e->redis.port, e->redis.port), 0);
}

static void test_a_reply_to_outside_the_worker_ids_slot_is_answered_invalid(void **state)
{
    env *e = *state;
    rh_task t;

    assert_int_equal(th_submit_as(e->c, "cw", "rt1", "default", "ops", "1", NULL, 5000,
                                  "rhai:reply:{other}:x"), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, "rhai:reply:{cw}:rt1", "rt1", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "rhai:reply:{cw}:"));
    rh_task_clear(&t);
    assert_int_equal(th_cmd_int(e->c, "EXISTS rhai:reply:{other}:x"), 0);
}

/* A hash written by hand under {cw} whose worker_id field names another
 * worker id: answered invalid, not run (before: it ran, and its reply,
 * task show and task retry named the other worker id). */
static void test_a_task_whose_worker_id_is_not_its_queues_is_answered_invalid(void **state)
{
    env *e = *state;
    rh_task t;

    assert_int_equal(th_cmd_int(e->c, "HSET rhai:task:{cw}:wm1 id wm1 script 1 worker_id "
                                "other status queued created_at 1"), 5);
    assert_int_equal(th_cmd_int(e->c, "LPUSH rhai:queue:{cw} wm1"), 1);
    rh_task_init(&t);
    assert_int_equal(th_reply(e->c, "rhai:reply:{cw}:wm1", "wm1", 20, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "worker_id other is not"));
    rh_task_clear(&t);
}

/* PTTL of the hint of 'id', polled (10 s at most) until it is at most
 * 'max' ms; the last PTTL read. */
static long long hint_ttl_until(env *e, const char *id, long long max)
{
    struct timespec ms20 = { 0, 20000000L };
    long long ttl = -3;

    for (int i = 0; i < 500; i++) {
        ttl = th_cmd_int(e->c, "PTTL rhai:taskw:{%s}", id);
        if (ttl <= max)
            break;
        nanosleep(&ms20, NULL);
    }
    return ttl;
}

/* The lookup hint of an answered task lives as long as its hash
 * (result_ttl_ms, 24 h by default), not the 7 days the submit gave it
 * (otherwise, at any rate, hints of long-gone tasks would be most of the
 * keyspace); a dead letter's keeps its 7 days, its hash having no TTL
 * while it is in the dead set. */
static void test_an_answered_tasks_hint_lives_as_long_as_its_hash(void **state)
{
    env *e = *state;
    rhai_task *t;
    char id[RHAI_ID_MAX], dead[RHAI_ID_MAX], buf[64];
    long long hint, hash;
    rhai_error err;

    t = task("throw new Error('no')");
    assert_int_equal(rhai_task_set_retries(t, 1), 0);
    assert_int_equal(rhai_task_set_backoff(t, "fixed:10"), 0);
    assert_int_equal(run(e, t, dead), RHAI_STATUS_ERROR);
    assert_int_equal(poll_until(e, buf, sizeof buf, "ZSCORE rhai:dead:{cw} %s", dead), 0);

    assert_int_equal(run(e, task("6 * 7"), id), RHAI_STATUS_DONE);
    hint = hint_ttl_until(e, id, RH_DEF_RESULT_TTL_MS);
    hash = th_cmd_int(e->c, "PTTL rhai:task:{cw}:%s", id);
    assert_in_range(hint, 1, RH_DEF_RESULT_TTL_MS);
    assert_in_range(hash, 1, RH_DEF_RESULT_TTL_MS);
    assert_true(llabs(hint - hash) < 60000);

    /* sent before the one above, on the same connection: it would be in */
    assert_int_equal(th_cmd_int(e->c, "PTTL rhai:task:{cw}:%s", dead), -1);
    assert_true(th_cmd_int(e->c, "PTTL rhai:taskw:{%s}", dead) > RH_DEF_RESULT_TTL_MS);

    /* cancelled by the client while scheduled: the client does the same */
    t = task("'never'");
    assert_int_equal(rhai_task_set_delay_ms(t, 3600000), 0);
    assert_int_equal(rhai_submit(e->cl, t, id, &err), 0);
    rhai_task_free(t);
    assert_true(th_cmd_int(e->c, "PTTL rhai:taskw:{%s}", id) > RH_DEF_RESULT_TTL_MS);
    if (rhai_cancel(e->cl, id, &err) != 0)
        fail_msg("rhai_cancel: %s", err.msg);
    assert_in_range(th_cmd_int(e->c, "PTTL rhai:taskw:{%s}", id), 1, RH_DEF_RESULT_TTL_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_every_step_of_a_worker_runs_on_a_one_node_cluster_without_a_slot_error, start,
            stop),
        cmocka_unit_test_setup_teardown(test_a_protocol_v1_task_is_refused_on_its_v1_reply_list,
                                        start, stop),
        cmocka_unit_test_setup_teardown(
            test_a_reply_to_outside_the_worker_ids_slot_is_answered_invalid, start, stop),
        cmocka_unit_test_setup_teardown(test_an_answered_tasks_hint_lives_as_long_as_its_hash,
                                        start, stop),
        cmocka_unit_test_setup_teardown(
            test_a_task_whose_worker_id_is_not_its_queues_is_answered_invalid, start, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
