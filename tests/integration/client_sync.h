/* client_sync.h -- what the synchronous client's tests share
 * (test_client_sync_submit.c, test_client_sync_wait.c,
 * test_client_sync_connect.c). Included by one test file each.
 *
 * rhaid is not needed: the tests play the worker themselves with plain
 * hiredis (BLMOVE queue -> processing, claim, finish with the reply of
 * docs/protocol.md), which also checks that the client follows the wire
 * protocol rather than some private agreement with our own daemon. One
 * redis-server (AOF on, so that a restart keeps the data) serves each
 * group; each test uses its own worker ids and task ids. */
#ifndef TEST_CLIENT_SYNC_H
#define TEST_CLIENT_SYNC_H

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

static inline redisReply *cmd(redisContext *rc, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static inline long long cmd_int(redisContext *rc, const char *fmt, ...)
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
static inline char *hget(redisContext *rc, const char *key, const char *field)
{
    redisReply *r = cmd(rc, "HGET %s %s", key, field);
    char *s = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static inline void assert_hfield(redisContext *rc, const char *key, const char *field,
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
static inline int fw_take(redisContext *rc, const char *w, const char *secs, char id[RHAI_ID_MAX])
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
static inline int fw_claim(redisContext *rc, const char *w, const char *id)
{
    redisReply *r = redisCommand(rc, "HSET rhai:task:{%s}:%s status running started_at %lld "
                                 "instance fw-1", w, id, (long long)rh_now_ms());
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    r = redisCommand(rc, "HINCRBY rhai:task:{%s}:%s attempts 1", w, id);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Finish as the protocol's finish step: result fields on the hash, the
 * reply JSON pushed to reply_to (or rhai:reply:{W}:ID), both expired after
 * 24 h, the id dropped from the processing list. 'output' is JSON text
 * (NULL: echo the task's args). Uses only hiredis and jansson, so it may
 * run on a thread of its own. Returns 0 or -1. */
static inline int fw_finish(redisContext *rc, const char *w, const char *id, const char *status,
                     const char *output, const char *error, const char *kind)
{
    redisReply *r = redisCommand(rc, "HGETALL rhai:task:{%s}:%s", w, id);
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
        snprintf(reply_to, sizeof reply_to, "rhai:reply:{%s}:%s", w, id);
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
        redisAppendCommand(rc, "HSET rhai:task:{%s}:%s status %s output %s finished_at %s "
                           "logs %s", w, id, status, o, now, "");
        free(o);
    }
    if (error)
        redisAppendCommand(rc, "HSET rhai:task:{%s}:%s error %s error_kind %s", w, id, error,
                           kind);
    else
        redisAppendCommand(rc, "PING");
    redisAppendCommand(rc, "PEXPIRE rhai:task:{%s}:%s 86400000", w, id);
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
    atomic_int  n;              /* to answer (a store of 0 stops it) */
    int         delay_ms;       /* before the first take */
    atomic_int  answered;
    atomic_int  failed;
} fw_thread;

static inline void *fw_main(void *arg)
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
        if (fw_claim(rc, f->w, id) != 0 || fw_finish(rc, f->w, id, "done", NULL, NULL, NULL) != 0)
            atomic_store(&f->failed, 1);
        atomic_fetch_add(&f->answered, 1);
    }
out:
    if (rc)
        redisFree(rc);
    return NULL;
}

/* A fake worker answering 'n' tasks of worker 'w', from 'delay_ms' on. */
static inline void fw_start_after(fw_thread *f, const char *w, int n, int delay_ms)
{
    memset(f, 0, sizeof *f);
    f->port = g_redis.port;
    f->w = w;
    f->n = n;
    f->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&f->th, NULL, fw_main, f), 0);
}

static inline void fw_start(fw_thread *f, const char *w, int n)
{
    fw_start_after(f, w, n, 0);
}

static inline void fw_join(fw_thread *f)
{
    pthread_join(f->th, NULL);
    assert_int_equal(atomic_load(&f->failed), 0);
}

/* Submit a task for worker w with id 'id' (NULL: generated) into id_out. */
static inline void submit(rhai_client *c, const char *w, const char *id, const char *args,
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

static inline int group_setup(void **state)
{
    (void)state;
    return th_redis_start(&g_redis, 1);
}

static inline int group_teardown(void **state)
{
    (void)state;
    th_redis_stop(&g_redis);
    return 0;
}

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
    fixture *f = *state;
    rhai_client_free(f->c);
    redisFree(f->rc);
    free(f);
    return 0;
}

#endif
