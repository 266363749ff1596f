/* test_client_sync.c -- the synchronous client against a real redis-server.
 *
 * rhaid is not needed: the test plays the worker itself with plain hiredis
 * (BLMOVE queue -> processing, claim, finish with the reply of
 * docs/protocol.md), which also checks that the client follows the wire
 * protocol rather than some private agreement with our own daemon. One
 * redis-server (AOF on, so that a restart keeps the data) serves the
 * group; each test uses its own worker ids and task ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "rhai/client.h"
#include "common/common.h"
#include "harness.h"

static th_redis g_redis;

typedef struct fixture {
    rhai_client  *c;
    redisContext *rc;                 /* the test's own view of Redis */
} fixture;

/* ======================== helpers ======================== */

static redisReply *cmd(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long cmd_int(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v;
    va_start(ap, fmt);
    r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* HGET as a new string (free), NULL when absent. */
static char *hget(redisContext *rc, const char *key, const char *field)
{
    redisReply *r = cmd(rc, "HGET %s %s", key, field);
    char *s = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static void assert_hfield(redisContext *rc, const char *key, const char *field,
                          const char *want)
{
    char *got = hget(rc, key, field);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ======================== the fake worker ======================== */

/* Take one id from worker w's queue as rhaid does (BLMOVE to a processing
 * list). Returns 0 with id filled, -1 when nothing came within 'secs'. */
static int fw_take(redisContext *rc, const char *w, const char *secs, char id[RHAI_ID_MAX])
{
    redisReply *r = redisCommand(rc, "BLMOVE rhai:queue:{%s} rhai:processing:{%s}:fw-1 "
                                 "RIGHT LEFT %s", w, w, secs);
    int rc2 = -1;
    if (r && r->type == REDIS_REPLY_STRING && r->len < RHAI_ID_MAX) {
        memcpy(id, r->str, r->len + 1);
        rc2 = 0;
    }
    if (r)
        freeReplyObject(r);
    return rc2;
}

/* Claim as the protocol's claim step: running, started_at, instance,
 * attempts + 1. */
static int fw_claim(redisContext *rc, const char *id)
{
    redisReply *r = redisCommand(rc, "HSET rhai:task:{%s} status running started_at %lld "
                                 "instance fw-1", id, (long long)rh_now_ms());
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    r = redisCommand(rc, "HINCRBY rhai:task:{%s} attempts 1", id);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Finish as the protocol's finish step: result fields on the hash, the
 * reply JSON pushed to reply_to (or rhai:reply:{ID}), both expired after
 * 24 h, the id dropped from the processing list. 'output' is JSON text
 * (NULL: echo the task's args). Uses only hiredis and jansson, so it may
 * run on a thread of its own. Returns 0 or -1. */
static int fw_finish(redisContext *rc, const char *w, const char *id, const char *status,
                     const char *output, const char *error, const char *kind)
{
    redisReply *r = redisCommand(rc, "HGETALL rhai:task:{%s}", id);
    json_t *h = json_object(), *reply = json_object(), *out;
    char reply_to[RH_KEY_MAX], now[24], *text;
    long long attempts = 0, created = 0, started = 0;
    int ok = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        goto done;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(h, r->element[i]->str, json_string(r->element[i + 1]->str));
    freeReplyObject(r);
    r = NULL;
#define HS(k) json_string_value(json_object_get(h, k))
    snprintf(reply_to, sizeof reply_to, "%s", HS("reply_to") ? HS("reply_to") : "");
    if (!reply_to[0])
        snprintf(reply_to, sizeof reply_to, "rhai:reply:{%s}", id);
    attempts = HS("attempts") ? atoll(HS("attempts")) : 0;
    created = HS("created_at") ? atoll(HS("created_at")) : 0;
    started = HS("started_at") ? atoll(HS("started_at")) : 0;
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    if (output == NULL)                  /* echo args on success, null on error */
        output = error ? "null" : HS("args") ? HS("args") : "null";
    out = json_loads(output, JSON_DECODE_ANY, NULL);
    json_object_set_new(reply, "id", json_string(id));
    json_object_set_new(reply, "status", json_string(status));
    json_object_set_new(reply, "output", out ? out : json_null());
    json_object_set_new(reply, "error", error ? json_string(error) : json_null());
    json_object_set_new(reply, "error_kind", kind ? json_string(kind) : json_null());
    json_object_set_new(reply, "logs", json_string(""));
    json_object_set_new(reply, "worker_id", json_string(HS("worker_id") ? HS("worker_id") : w));
    json_object_set_new(reply, "instance", json_string("fw-1"));
    json_object_set_new(reply, "attempts", json_integer(attempts));
    json_object_set_new(reply, "created_at", json_integer(created));
    json_object_set_new(reply, "started_at", json_integer(started));
    json_object_set_new(reply, "finished_at", json_integer(atoll(now)));
#undef HS
    text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
    redisAppendCommand(rc, "LREM rhai:processing:{%s}:fw-1 1 %s", w, id);
    {
        char *o = json_dumps(json_object_get(reply, "output"), JSON_COMPACT | JSON_ENCODE_ANY);
        redisAppendCommand(rc, "HSET rhai:task:{%s} status %s output %s finished_at %s "
                           "logs %s", id, status, o, now, "");
        free(o);
    }
    if (error)
        redisAppendCommand(rc, "HSET rhai:task:{%s} error %s error_kind %s", id, error, kind);
    else
        redisAppendCommand(rc, "PING");
    redisAppendCommand(rc, "PEXPIRE rhai:task:{%s} 86400000", id);
    redisAppendCommand(rc, "LPUSH %s %s", reply_to, text);
    redisAppendCommand(rc, "PEXPIRE %s 86400000", reply_to);
    free(text);
    ok = 1;
    for (int i = 0; i < 6; i++) {
        void *rr = NULL;
        if (redisGetReply(rc, &rr) != REDIS_OK || rr == NULL)
            ok = 0;
        if (rr)
            freeReplyObject(rr);
    }
done:
    if (r)
        freeReplyObject(r);
    json_decref(h);
    json_decref(reply);
    return ok ? 0 : -1;
}

/* A worker on a thread that answers 'n' tasks of worker 'w' with status
 * done and the task's args as output. */
typedef struct fw_thread {
    pthread_t   th;
    int         port;
    const char *w;
    int         n;
    int         delay_ms;       /* before the first take */
    atomic_int  answered;
    atomic_int  failed;
} fw_thread;

static void *fw_main(void *arg)
{
    fw_thread *f = arg;
    struct timeval tv = { 2, 0 };
    redisContext *rc = redisConnectWithTimeout("127.0.0.1", f->port, tv);
    int64_t deadline = rh_mono_ms() + 30000;
    char id[RHAI_ID_MAX];

    if (rc == NULL || rc->err) {
        atomic_store(&f->failed, 1);
        goto out;
    }
    if (f->delay_ms > 0)
        usleep((useconds_t)f->delay_ms * 1000);
    while (atomic_load(&f->answered) < f->n && rh_mono_ms() < deadline) {
        if (fw_take(rc, f->w, "0.2", id) != 0)
            continue;
        if (fw_claim(rc, id) != 0 || fw_finish(rc, f->w, id, "done", NULL, NULL, NULL) != 0)
            atomic_store(&f->failed, 1);
        atomic_fetch_add(&f->answered, 1);
    }
out:
    if (rc)
        redisFree(rc);
    return NULL;
}

/* A fake worker answering 'n' tasks of worker 'w', from 'delay_ms' on. */
static void fw_start_after(fw_thread *f, const char *w, int n, int delay_ms)
{
    memset(f, 0, sizeof *f);
    f->port = g_redis.port;
    f->w = w;
    f->n = n;
    f->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&f->th, NULL, fw_main, f), 0);
}

static void fw_start(fw_thread *f, const char *w, int n)
{
    fw_start_after(f, w, n, 0);
}

static void fw_join(fw_thread *f)
{
    pthread_join(f->th, NULL);
    assert_int_equal(atomic_load(&f->failed), 0);
}

/* Submit a task for worker w with id 'id' (NULL: generated) into id_out. */
static void submit(rhai_client *c, const char *w, const char *id, const char *args,
                   char id_out[RHAI_ID_MAX])
{
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };
    assert_int_equal(rhai_task_new("args.n * 2", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, w), 0);
    if (id)
        assert_int_equal(rhai_task_set_id(t, id), 0);
    if (args)
        assert_int_equal(rhai_task_set_args(t, args), 0);
    if (rhai_submit(c, t, id_out, &err) != 0)
        fail_msg("submit: %s", err.msg);
    rhai_task_free(t);
}

/* ======================== fixtures ======================== */

static int group_setup(void **state)
{
    (void)state;
    return th_redis_start(&g_redis, 1);
}

static int group_teardown(void **state)
{
    (void)state;
    th_redis_stop(&g_redis);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    rhai_error err = { 0, "" };

    if (rhai_client_connect(g_redis.url, NULL, &f->c, &err) != 0) {
        fprintf(stderr, "connect: %s\n", err.msg);
        free(f);
        return -1;
    }
    if ((f->rc = th_redis_connect(&g_redis)) == NULL) {
        rhai_client_free(f->c);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rhai_client_free(f->c);
    redisFree(f->rc);
    free(f);
    return 0;
}

/* ======================== submit ======================== */

static void test_submit_writes_every_protocol_field(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX], *created;
    int64_t before = rh_now_ms(), after;
    redisReply *r;

    assert_int_equal(rhai_task_new("var n = args.n; n * 2", &t), 0);
    assert_int_equal(rhai_task_set_id(t, "fields-1"), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-fields"), 0);
    assert_int_equal(rhai_task_set_context(t, "ctx-a"), 0);
    assert_int_equal(rhai_task_set_caller(t, "alice"), 0);
    assert_int_equal(rhai_task_set_args(t, "{\"n\":21}"), 0);
    assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:mine"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, &err), 0);
    after = rh_now_ms();
    rhai_task_free(t);
    assert_string_equal(id, "fields-1");

    assert_hfield(f->rc, "rhai:task:{fields-1}", "id", "fields-1");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "script", "var n = args.n; n * 2");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "worker_id", "w-fields");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "context_id", "ctx-a");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "caller_id", "alice");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "args", "{\"n\":21}");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "timeout_ms", "5000");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "status", "queued");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "attempts", "0");
    assert_hfield(f->rc, "rhai:task:{fields-1}", "reply_to", "rhai:reply:mine");
    created = hget(f->rc, "rhai:task:{fields-1}", "created_at");
    assert_non_null(created);
    assert_in_range(atoll(created), before, after);
    free(created);
    assert_int_equal(cmd_int(f->rc, "HLEN rhai:task:{fields-1}"), 11);

    r = cmd(f->rc, "LRANGE rhai:queue:{w-fields} 0 -1");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "fields-1");
    freeReplyObject(r);
}

static void test_submit_generates_an_id_and_defaults(void **state)
{
    fixture *f = *state;
    char id[RHAI_ID_MAX], key[RH_KEY_MAX];

    submit(f->c, "w-gen", NULL, NULL, id);
    assert_int_equal(strlen(id), 36);
    snprintf(key, sizeof key, "rhai:task:{%s}", id);
    assert_hfield(f->rc, key, "id", id);
    assert_hfield(f->rc, key, "context_id", "default");
    assert_hfield(f->rc, key, "caller_id", "anonymous");
    assert_hfield(f->rc, key, "args", "{}");
    assert_hfield(f->rc, key, "timeout_ms", "30000");
    assert_hfield(f->rc, key, "reply_to", NULL);        /* only when set */
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:queue:{w-gen}"), 1);
}

static void test_submit_refuses_a_reply_list_outside_the_prefix(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-badreply"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "elsewhere:list"), 0);
    assert_int_equal(rhai_submit(f->c, t, NULL, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "rhai:reply:"));
    rhai_task_free(t);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:queue:{w-badreply}"), 0);
}

static void test_args_that_are_not_json_are_refused(void **state)
{
    rhai_task *t = NULL;
    (void)state;
    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_args(t, "{'single': 'quotes'}"), RHAI_EINVAL);
    rhai_task_free(t);
}

/* ======================== wait and run ======================== */

static void test_wait_returns_the_done_result(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-wait", "wait-1", "{\"n\":21}", id);
    assert_int_equal(fw_take(f->rc, "w-wait", "1", id), 0);
    assert_string_equal(id, "wait-1");
    assert_int_equal(fw_claim(f->rc, id), 0);
    assert_int_equal(fw_finish(f->rc, "w-wait", id, "done", "42", NULL, NULL), 0);

    if (rhai_wait(f->c, "wait-1", 5000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_id(res), "wait-1");
    assert_string_equal(rhai_result_output(res), "42");
    assert_null(rhai_result_error(res));
    assert_null(rhai_result_error_kind(res));
    assert_string_equal(rhai_result_worker(res), "w-wait");
    assert_string_equal(rhai_result_instance(res), "fw-1");
    assert_int_equal(rhai_result_attempts(res), 1);
    assert_true(rhai_result_created_at(res) > 0);
    assert_true(rhai_result_started_at(res) >= rhai_result_created_at(res));
    assert_true(rhai_result_finished_at(res) >= rhai_result_started_at(res));
    assert_non_null(strstr(rhai_result_json(res), "\"output\":42"));
    rhai_result_free(res);
    /* Not consumed. */
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{wait-1}"), 1);
}

static void test_wait_blocks_until_a_worker_answers(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;
    char id[RHAI_ID_MAX];

    submit(f->c, "w-block", NULL, "{\"k\":\"v\"}", id);
    fw_start(&w, "w-block", 1);
    if (rhai_wait(f->c, id, 10000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    fw_join(&w);
    assert_string_equal(rhai_result_id(res), id);
    assert_string_equal(rhai_result_output(res), "{\"k\":\"v\"}");
    rhai_result_free(res);
}

static void test_run_submits_and_waits(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;

    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-run"), 0);
    assert_int_equal(rhai_task_set_args(t, "[1,2,3]"), 0);
    assert_int_equal(rhai_task_set_timeout(t, 2000), 0);
    fw_start(&w, "w-run", 1);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "[1,2,3]");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* The first BLMOVE of rhai_run goes out with the submit and waits at
 * most a slice (1 s): a task answered later is waited for as rhai_wait
 * does, and found. */
static void test_run_waits_past_its_first_slice(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;

    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-late"), 0);
    assert_int_equal(rhai_task_set_args(t, "\"late\""), 0);
    assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
    fw_start_after(&w, "w-late", 1, 1500);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "\"late\"");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* A submit Redis refuses (the queue key holds a string) is rhai_run's
 * error at once, and the BLMOVE sent behind it is not left on the
 * connection: the next call on the same client gets its own replies. */
static void test_a_refused_run_leaves_the_client_usable(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    redisReply *r;
    fw_thread w;

    r = redisCommand(f->rc, "SET rhai:queue:{w-poison} x");
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(rhai_task_new("args", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-poison"), 0);
    assert_int_equal(rhai_task_set_args(t, "1"), 0);
    assert_int_equal(rhai_run(f->c, t, 3000, &res, &err), RHAI_EPROTO);
    assert_null(res);
    assert_non_null(strstr(err.msg, "LPUSH"));

    assert_int_equal(rhai_task_set_worker(t, "w-after"), 0);
    fw_start(&w, "w-after", 1);
    if (rhai_run(f->c, t, 3000, &res, &err) != 0)
        fail_msg("run after the refused one: %s", err.msg);
    fw_join(&w);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "1");
    rhai_result_free(res);
    rhai_task_free(t);
}

/* Its reply goes to a shared list: wait learns the end from the hash,
 * polled faster than the 1 s slice. */
static void test_wait_for_a_task_replying_elsewhere(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    fw_thread w;
    char id[RHAI_ID_MAX];
    int64_t t0;

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-elsewhere"), 0);
    assert_int_equal(rhai_task_set_args(t, "{\"e\":1}"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:client:sync-test"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    rhai_task_free(t);
    t0 = rh_mono_ms();
    fw_start(&w, "w-elsewhere", 1);
    if (rhai_wait(f->c, id, 10000, &res, &err) != 0)
        fail_msg("wait: %s", err.msg);
    fw_join(&w);
    assert_true(rh_mono_ms() - t0 < 800);
    assert_string_equal(rhai_result_output(res), "{\"e\":1}");
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:client:sync-test"), 1);
    rhai_result_free(res);
}

static void test_wait_times_out(void **state)
{
    fixture *f = *state;
    rhai_result *res = (rhai_result *)0x1;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];
    int64_t t0, dt;

    submit(f->c, "w-nobody", NULL, NULL, id);
    t0 = rh_mono_ms();
    assert_int_equal(rhai_wait(f->c, id, 300, &res, &err), RHAI_ETIMEOUT);
    dt = rh_mono_ms() - t0;
    assert_null(res);
    assert_int_equal(err.code, RHAI_ETIMEOUT);
    assert_in_range(dt, 290, 2000);
    /* A wait over several 1 s slices ends on time as well. */
    t0 = rh_mono_ms();
    assert_int_equal(rhai_wait(f->c, id, 1500, &res, &err), RHAI_ETIMEOUT);
    assert_in_range(rh_mono_ms() - t0, 1490, 3000);
}

static void test_wait_for_an_unknown_id_is_not_found(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    int64_t t0 = rh_mono_ms();

    assert_int_equal(rhai_wait(f->c, "no-such-task", 5000, &res, &err), RHAI_ENOTFOUND);
    assert_true(rh_mono_ms() - t0 < 1000);           /* no need to wait for it */
    assert_null(res);
    assert_int_equal(rhai_wait(f->c, "bad id", 5000, &res, &err), RHAI_EINVAL);
}

static void test_two_waits_both_see_the_reply(void **state)
{
    fixture *f = *state;
    rhai_client *c2 = NULL;
    rhai_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
    char id[RHAI_ID_MAX];

    submit(f->c, "w-two", "two-1", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-two", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, id), 0);
    assert_int_equal(fw_finish(f->rc, "w-two", id, "done", "\"x\"", NULL, NULL), 0);
    assert_int_equal(rhai_client_connect(g_redis.url, "rhai", &c2, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 2000, &r1, NULL), 0);
    assert_int_equal(rhai_wait(c2, id, 2000, &r2, NULL), 0);
    assert_int_equal(rhai_wait(f->c, id, 2000, &r3, NULL), 0);
    assert_string_equal(rhai_result_json(r1), rhai_result_json(r2));
    assert_string_equal(rhai_result_json(r1), rhai_result_json(r3));
    assert_string_equal(rhai_result_output(r2), "\"x\"");
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{two-1}"), 1);
    rhai_result_free(r1);
    rhai_result_free(r2);
    rhai_result_free(r3);
    rhai_client_free(c2);
}

static void test_wait_sees_a_reply_taken_by_someone_else(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    char id[RHAI_ID_MAX];
    redisReply *r;

    submit(f->c, "w-taken", "taken-1", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-taken", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, id), 0);
    assert_int_equal(fw_finish(f->rc, "w-taken", id, "error", NULL, "Error: boom", "script"),
                     0);
    r = cmd(f->rc, "BLPOP rhai:reply:{taken-1} 1");      /* a consuming waiter */
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    assert_int_equal(rhai_wait(f->c, id, 3000, &res, NULL), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_ERROR);
    assert_string_equal(rhai_result_error(res), "Error: boom");
    assert_string_equal(rhai_result_error_kind(res), "script");
    assert_int_equal(rhai_result_attempts(res), 1);
    rhai_result_free(res);
}

/* ======================== status ======================== */

static void test_status_of_a_queued_task(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-status", NULL, "{\"a\":true}", id);
    assert_int_equal(rhai_task_status(f->c, id, &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    assert_string_equal(rhai_result_status_name(res), "queued");
    assert_string_equal(rhai_result_id(res), id);
    assert_string_equal(rhai_result_worker(res), "w-status");
    assert_null(rhai_result_output(res));
    assert_int_equal(rhai_result_attempts(res), 0);
    assert_true(rhai_result_created_at(res) > 0);
    rhai_result_free(res);

    /* A task written by redis-cli without a status is queued too. */
    rhai_result_free(NULL);
    freeReplyObject(cmd(f->rc, "HSET rhai:task:{cli-1} id cli-1 script 1"));
    assert_int_equal(rhai_task_status(f->c, "cli-1", &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    rhai_result_free(res);

    assert_int_equal(rhai_task_status(f->c, "no-such", &res, &err), RHAI_ENOTFOUND);
    assert_null(res);
}

/* ======================== cancel ======================== */

static void test_cancel_of_a_queued_task(void **state)
{
    fixture *f = *state;
    redisContext *sub = th_redis_connect(&g_redis);
    struct timeval tv = { 2, 0 };
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];
    redisReply *r;
    json_t *j, *ev;
    void *msg = NULL;

    assert_non_null(sub);
    freeReplyObject(cmd(sub, "SUBSCRIBE rhai:events"));
    redisSetTimeout(sub, tv);
    submit(f->c, "w-cancel", "cancel-1", NULL, id);
    submit(f->c, "w-cancel", "cancel-keep", NULL, id);
    if (rhai_cancel(f->c, "cancel-1", &err) != 0)
        fail_msg("cancel: %s", err.msg);

    /* Out of the queue, the other one still in. */
    r = cmd(f->rc, "LRANGE rhai:queue:{w-cancel} 0 -1");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "cancel-keep");
    freeReplyObject(r);
    /* The hash is final and expires. */
    assert_hfield(f->rc, "rhai:task:{cancel-1}", "status", "cancelled");
    assert_hfield(f->rc, "rhai:task:{cancel-1}", "error_kind", "cancelled");
    assert_hfield(f->rc, "rhai:task:{cancel-1}", "error", "cancelled by client");
    assert_true(cmd_int(f->rc, "PTTL rhai:task:{cancel-1}") > 86000000);
    assert_true(cmd_int(f->rc, "PTTL rhai:reply:{cancel-1}") > 86000000);

    /* The reply has the worker's fields and JSON types. */
    r = cmd(f->rc, "LINDEX rhai:reply:{cancel-1} 0");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    j = json_loads(r->str, 0, NULL);
    freeReplyObject(r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "cancel-1");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "cancelled");
    assert_true(json_is_null(json_object_get(j, "output")));
    assert_string_equal(json_string_value(json_object_get(j, "error")), "cancelled by client");
    assert_string_equal(json_string_value(json_object_get(j, "error_kind")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(j, "logs")), "");
    assert_string_equal(json_string_value(json_object_get(j, "worker_id")), "w-cancel");
    assert_true(json_is_null(json_object_get(j, "instance")));
    assert_true(json_is_integer(json_object_get(j, "attempts")));
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    assert_true(json_is_integer(json_object_get(j, "created_at")));
    assert_true(json_integer_value(json_object_get(j, "created_at")) > 1700000000000LL);
    assert_true(json_is_integer(json_object_get(j, "started_at")));
    assert_true(json_integer_value(json_object_get(j, "finished_at")) >=
                json_integer_value(json_object_get(j, "created_at")));
    assert_int_equal(json_object_size(j), 12);
    json_decref(j);

    /* The finished event. */
    assert_int_equal(redisGetReply(sub, &msg), REDIS_OK);
    r = msg;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    ev = json_loads(r->element[2]->str, 0, NULL);
    freeReplyObject(r);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "finished");
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "cancel-1");
    assert_string_equal(json_string_value(json_object_get(ev, "status")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(ev, "error_kind")), "cancelled");
    assert_true(json_is_integer(json_object_get(ev, "at")));
    json_decref(ev);
    redisFree(sub);

    /* Waiters see it, and a second cancel is refused. */
    assert_int_equal(rhai_wait(f->c, "cancel-1", 2000, &res, NULL), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_CANCELLED);
    assert_string_equal(rhai_result_error_kind(res), "cancelled");
    assert_string_equal(rhai_result_output(res), "null");
    rhai_result_free(res);
    assert_int_equal(rhai_cancel(f->c, "cancel-1", &err), RHAI_ESTATE);
}

static void test_cancel_answers_on_the_tasks_reply_list(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    char id[RHAI_ID_MAX];

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-cancel2"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:client:shared"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    rhai_task_free(t);
    assert_int_equal(rhai_cancel(f->c, id, NULL), 0);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:client:shared"), 1);
    assert_int_equal(cmd_int(f->rc, "EXISTS rhai:reply:{%s}", id), 0);
}

/* A running task is only marked (the worker kills it, see test_e2e); a
 * finished one is refused. */
static void test_cancel_of_a_running_task_marks_it_and_of_a_done_one_is_refused(void **state)
{
    fixture *f = *state;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-cancel3", "cancel-run", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-cancel3", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, id), 0);
    assert_int_equal(rhai_cancel(f->c, id, &err), 0);
    assert_hfield(f->rc, "rhai:task:{cancel-run}", "status", "running");
    assert_int_equal(cmd_int(f->rc, "HEXISTS rhai:task:{cancel-run} cancel_requested"), 1);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{cancel-run}"), 0);   /* no reply yet */
    assert_int_equal(fw_finish(f->rc, "w-cancel3", id, "done", "1", NULL, NULL), 0);
    assert_int_equal(rhai_cancel(f->c, id, &err), RHAI_ESTATE);
    assert_non_null(strstr(err.msg, "done"));
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{cancel-run}"), 1);  /* answered once */
    assert_int_equal(rhai_cancel(f->c, "no-such", &err), RHAI_ENOTFOUND);
    assert_int_equal(rhai_cancel(f->c, "bad id", &err), RHAI_EINVAL);
}

/* ======================== connections ======================== */

static void test_connect_to_a_closed_port_fails_with_a_message(void **state)
{
    rhai_client *c = (rhai_client *)0x1;
    rhai_error err = { 0, "" };
    char url[64];
    (void)state;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", th_free_port());
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
    assert_int_equal(err.code, RHAI_ECONN);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    assert_non_null(strstr(err.msg, "refused"));
}

static void test_bad_url_is_invalid(void **state)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    (void)state;
    assert_int_equal(rhai_client_connect("redis//oops", NULL, &c, &err), RHAI_EINVAL);
    assert_null(c);
    assert_true(err.msg[0] != '\0');
}

static void test_connect_authenticates_and_selects_the_db(void **state)
{
    fixture *f = *state;
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    char url[128], id[RHAI_ID_MAX];

    freeReplyObject(cmd(f->rc, "ACL SETUSER alice on >s3cret ~* &* +@all"));
    snprintf(url, sizeof url, "redis://alice:s3cret@127.0.0.1:%d/2", g_redis.port);
    if (rhai_client_connect(url, "app", &c, &err) != 0)
        fail_msg("connect: %s", err.msg);
    submit(c, "w-auth", "auth-1", NULL, id);
    rhai_client_free(c);
    freeReplyObject(cmd(f->rc, "SELECT 2"));
    assert_hfield(f->rc, "app:task:{auth-1}", "id", "auth-1");
    assert_int_equal(cmd_int(f->rc, "LLEN app:queue:{w-auth}"), 1);
    freeReplyObject(cmd(f->rc, "SELECT 0"));
    assert_int_equal(cmd_int(f->rc, "EXISTS app:task:{auth-1}"), 0);

    snprintf(url, sizeof url, "redis://alice:wrong@127.0.0.1:%d", g_redis.port);
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "AUTH"));
    assert_null(strstr(err.msg, "wrong"));           /* no password in messages */
    freeReplyObject(cmd(f->rc, "ACL DELUSER alice"));
}

/* A NULL reply drops the connection; the next call connects again. */
static void test_the_call_after_a_lost_connection_reconnects(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-lost", "lost-1", NULL, id);
    freeReplyObject(cmd(f->rc, "CLIENT KILL TYPE normal SKIPME yes"));
    assert_int_equal(rhai_task_status(f->c, "lost-1", &res, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "lost"));
    assert_int_equal(rhai_task_status(f->c, "lost-1", &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    rhai_result_free(res);
}

/* The restarter: once the client blocks in BLMOVE, restart redis-server
 * (AOF keeps the task), then answer the task as a worker would. */
typedef struct restarter {
    pthread_t  th;
    atomic_int failed;
} restarter;

static int client_blocked_in_blmove(void)
{
    redisContext *rc = th_redis_connect(&g_redis);
    redisReply *r;
    int found = 0;
    if (rc == NULL)
        return 0;
    r = redisCommand(rc, "CLIENT LIST");
    found = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cmd=blmove") != NULL;
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return found;
}

static void *restarter_main(void *arg)
{
    restarter *rs = arg;
    int64_t deadline = rh_mono_ms() + 10000;
    redisContext *rc;
    char id[RHAI_ID_MAX];

    while (!client_blocked_in_blmove()) {
        struct timespec ts = { 0, 10 * 1000000L };     /* poll interval */
        if (rh_mono_ms() > deadline) {
            atomic_store(&rs->failed, 1);
            return NULL;
        }
        nanosleep(&ts, NULL);
    }
    if (th_redis_restart(&g_redis) != 0 || (rc = th_redis_connect(&g_redis)) == NULL) {
        atomic_store(&rs->failed, 2);
        return NULL;
    }
    if (fw_take(rc, "w-restart", "2", id) != 0 || strcmp(id, "restart-1") != 0 ||
        fw_claim(rc, id) != 0 || fw_finish(rc, "w-restart", id, "done", "7", NULL, NULL) != 0)
        atomic_store(&rs->failed, 3);
    redisFree(rc);
    return NULL;
}

static void test_wait_survives_a_redis_restart(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    restarter rs;
    char id[RHAI_ID_MAX];

    memset(&rs, 0, sizeof rs);
    submit(f->c, "w-restart", "restart-1", NULL, id);
    assert_int_equal(pthread_create(&rs.th, NULL, restarter_main, &rs), 0);
    if (rhai_wait(f->c, "restart-1", 30000, &res, &err) != 0) {
        pthread_join(rs.th, NULL);
        fail_msg("wait across restart: %s (restarter %d)", err.msg, atomic_load(&rs.failed));
    }
    pthread_join(rs.th, NULL);
    assert_int_equal(atomic_load(&rs.failed), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "7");
    rhai_result_free(res);
    /* The fixture's own connection died with the server; make a new one. */
    redisFree(f->rc);
    f->rc = th_redis_connect(&g_redis);
    assert_non_null(f->rc);
}

/* A process that keeps SIGPIPE's default action (an application that never
 * thought of it) submits a task larger than the socket buffers to a Redis
 * that died after the connection was made: the first write fills the
 * buffer, the dead peer answers with a reset, and the next write fails
 * with EPIPE, which raises SIGPIPE. The call must fail with RHAI_ECONN and
 * the process live on (checked in a child, whose death would be the bug). */
static void test_a_dead_redis_under_a_large_write_is_an_error_not_sigpipe(void **state)
{
    enum { BIG = 8 * 1024 * 1024 };
    th_redis r;
    pid_t child;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        rhai_client *c;
        rhai_task *t;
        rhai_error err;
        char *script = th_big_script(BIG);
        int rc;

        signal(SIGPIPE, SIG_DFL);
        if (script == NULL || rhai_client_connect(r.url, NULL, &c, &err) != 0)
            _exit(10);
        if (rhai_task_new(script, &t) != 0)
            _exit(11);
        th_redis_kill_from_child(&r);      /* Redis dies; we stay connected */
        rc = rhai_submit(c, t, NULL, &err);
        rhai_task_free(t);
        rhai_client_free(c);
        free(script);
        _exit(rc == RHAI_ECONN ? 0 : 12);
    }
    assert_int_equal(th_child_status(child), 0);     /* -13: SIGPIPE */
    th_redis_stop(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_submit_writes_every_protocol_field),
        T(test_submit_generates_an_id_and_defaults),
        T(test_submit_refuses_a_reply_list_outside_the_prefix),
        cmocka_unit_test(test_args_that_are_not_json_are_refused),
        T(test_wait_returns_the_done_result),
        T(test_wait_blocks_until_a_worker_answers),
        T(test_run_submits_and_waits),
        T(test_run_waits_past_its_first_slice),
        T(test_a_refused_run_leaves_the_client_usable),
        T(test_wait_for_a_task_replying_elsewhere),
        T(test_wait_times_out),
        T(test_wait_for_an_unknown_id_is_not_found),
        T(test_two_waits_both_see_the_reply),
        T(test_wait_sees_a_reply_taken_by_someone_else),
        T(test_status_of_a_queued_task),
        T(test_cancel_of_a_queued_task),
        T(test_cancel_answers_on_the_tasks_reply_list),
        T(test_cancel_of_a_running_task_marks_it_and_of_a_done_one_is_refused),
        cmocka_unit_test(test_connect_to_a_closed_port_fails_with_a_message),
        cmocka_unit_test(test_bad_url_is_invalid),
        T(test_connect_authenticates_and_selects_the_db),
        T(test_the_call_after_a_lost_connection_reconnects),
        T(test_wait_survives_a_redis_restart),
        cmocka_unit_test(test_a_dead_redis_under_a_large_write_is_an_error_not_sigpipe),
    };
#undef T
    return cmocka_run_group_tests_name("client_sync", tests, group_setup, group_teardown);
}
