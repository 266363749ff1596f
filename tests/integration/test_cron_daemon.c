/* test_cron_daemon.c -- cron schedules against real redis-server and rhaid:
 * the C API (add, get, list, pause, resume, rm, run-now), a schedule every
 * second firing once per tick with two instances, and signed schedules on
 * a worker that requires signatures (unsigned and tampered ones never
 * fire; a forged firing task is denied at claim). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "rhai/rhai.h"
#include "common/schedule.h"

static th_redis g_redis;
static pid_t g_plain[2], g_signed;
static redisContext *g_c;
static rhai_client *g_cl;

static int group_setup(void **state)
{
    static const char *const req[] = { "--require-signatures", "1", NULL };
    (void)state;
    if (th_redis_start(&g_redis, 0) != 0)
        return -1;
    g_plain[0] = th_rhaid_start(&g_redis, "cw", 2, NULL);
    g_plain[1] = th_rhaid_start(&g_redis, "cw", 2, NULL);
    g_signed = th_rhaid_start(&g_redis, "cs", 2, req);
    g_c = th_redis_connect(&g_redis);
    if (g_plain[0] <= 0 || g_plain[1] <= 0 || g_signed <= 0 || g_c == NULL ||
        rhai_client_connect(g_redis.url, NULL, &g_cl, NULL) != 0)
        return -1;
    /* the contexts the firings use (no dev mode) */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rhai_client_free(g_cl);
    redisFree(g_c);
    th_stop(g_plain[0], 10000);
    th_stop(g_plain[1], 10000);
    th_stop(g_signed, 10000);
    th_redis_stop(&g_redis);
    return 0;
}

static void nap(int ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* Poll 'cmd' (an integer reply) every 20 ms until it is >= min, at most
 * timeout_ms: the last value. */
static long long wait_int(long long min, int timeout_ms, const char *fmt, ...)
{
    long long v = -1;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        va_list ap;
        va_start(ap, fmt);
        v = th_vcmd_int(g_c, fmt, ap);
        va_end(ap);
        if (v >= min)
            return v;
        nap(20);
    }
    return v;
}

/* Poll the score of 'name' in W's next-tick zset until it is a tick (not
 * -1: computed by an instance), at most timeout_ms: the score, or -1. */
static long long wait_next(const char *w, const char *name, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        redisReply *r = redisCommand(g_c, "ZSCORE rhai:cron:next:{%s} %s", w, name);
        long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
        if (r)
            freeReplyObject(r);
        if (v > 0)
            return v;
        nap(20);
    }
    return -1;
}

static const char *task_status(const char *id, char *buf, size_t n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        th_task_field(g_c, id, "status", buf, n);
        if (strcmp(buf, "done") == 0 || strcmp(buf, "error") == 0)
            break;
        nap(20);
    }
    return buf;
}

static rhai_cron_def def_of(const char *name, const char *worker, const char *cron)
{
    rhai_cron_def d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.worker = worker;
    d.cron = cron;
    d.script = "ctx.caller_id + ':' + args.n";
    d.args = "{\"n\":7}";
    d.context = "default";
    d.caller = "alice";
    return d;
}

static void test_cron_api_adds_lists_pauses_resumes_and_removes(void **state)
{
    rhai_cron_def d = def_of("nightly", "cw", "30 2 * * *");
    rhai_error err;
    char *text = NULL;
    (void)state;

    d.tz = "Europe/Brussels";
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), RHAI_ESTATE);
    assert_non_null(strstr(err.msg, "exists"));
    /* an instance computes the first tick: the score leaves -1 */
    assert_true(wait_next("cw", "nightly", 5000) > 1000000000000LL);
    assert_int_equal(rhai_cron_get(g_cl, "cw", "nightly", &text, &err), 0);
    assert_non_null(strstr(text, "\"tz\":\"Europe/Brussels\""));
    assert_non_null(strstr(text, "\"next\":1"));
    rhai_cron_free_text(text);
    assert_int_equal(rhai_cron_list(g_cl, NULL, &text, &err), 0);
    assert_non_null(strstr(text, "\"name\":\"nightly\""));
    rhai_cron_free_text(text);
    assert_int_equal(th_cmd_int(g_c, "SISMEMBER rhai:cron:workers cw"), 1);

    assert_int_equal(rhai_cron_pause(g_cl, "cw", "nightly", 1, &err), 0);
    assert_int_equal(th_cmd_int(g_c, "ZCARD rhai:cron:next:{cw}"), 0);
    assert_int_equal(rhai_cron_get(g_cl, "cw", "nightly", &text, &err), 0);
    assert_non_null(strstr(text, "\"paused\":true"));
    assert_non_null(strstr(text, "\"next\":null"));
    rhai_cron_free_text(text);
    assert_int_equal(rhai_cron_pause(g_cl, "cw", "nightly", 0, &err), 0);
    assert_true(wait_next("cw", "nightly", 5000) > 1000000000000LL);

    assert_int_equal(rhai_cron_remove(g_cl, "cw", "nightly", &err), 0);
    assert_int_equal(rhai_cron_remove(g_cl, "cw", "nightly", &err), RHAI_ENOTFOUND);
    assert_int_equal(rhai_cron_get(g_cl, "cw", "nightly", &text, &err), RHAI_ENOTFOUND);
    assert_null(text);
    assert_int_equal(th_cmd_int(g_c, "SISMEMBER rhai:cron:workers cw"), 0);

    d.cron = "61 * * * *";
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "minute"));
    d.cron = "* * * * *";
    d.tz = "Europe/Atlantis";
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "Europe/Atlantis"));
    d.tz = NULL;
    d.name = "no:colons";
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), RHAI_EINVAL);
}

static void test_cron_every_second_fires_once_per_tick_with_two_instances(void **state)
{
    rhai_cron_def d = def_of("tick", "cw", "* * * * * *");
    rhai_error err;
    redisReply *r;
    long long prev = 0;
    char buf[64];
    (void)state;

    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    assert_true(wait_int(6, 20000, "LLEN rhai:cron:runs:{cw}:tick") >= 6);
    assert_int_equal(rhai_cron_pause(g_cl, "cw", "tick", 1, &err), 0);
    r = redisCommand(g_c, "LRANGE rhai:cron:runs:{cw}:tick 0 -1");
    assert_non_null(r);
    assert_true(r->elements >= 6);
    /* newest first: every tick once, one second apart, none lost */
    for (size_t i = r->elements; i-- > 0;) {
        json_error_t je;
        json_t *e = json_loads(r->element[i]->str, 0, &je);
        long long tick;
        char want[RH_NAME_MAX + 1];
        assert_non_null(e);
        tick = json_integer_value(json_object_get(e, "tick"));
        rh_sched_firing_id(want, "tick", tick, 0);
        assert_string_equal(json_string_value(json_object_get(e, "id")), want);
        if (prev)
            assert_int_equal(tick, prev + 1000);
        prev = tick;
        assert_string_equal(task_status(want, buf, sizeof buf, 10000), "done");
        assert_string_equal(th_task_field(g_c, want, "output", buf, sizeof buf),
                            "\"alice:7\"");
        assert_string_equal(th_task_field(g_c, want, "schedule", buf, sizeof buf), "tick");
        json_decref(e);
    }
    freeReplyObject(r);
    assert_int_equal(rhai_cron_remove(g_cl, "cw", "tick", &err), 0);
}

static void test_cron_run_now_fires_once_at_once(void **state)
{
    rhai_cron_def d = def_of("yearly", "cw", "@yearly");
    rhai_error err;
    char id[RHAI_ID_MAX], buf[64];
    (void)state;

    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    assert_int_equal(rhai_cron_run_now(g_cl, "cw", "yearly", id, &err), 0);
    assert_true(strncmp(id, "cron:yearly:now:", 16) == 0);
    assert_string_equal(task_status(id, buf, sizeof buf, 10000), "done");
    assert_int_equal(th_cmd_int(g_c, "LLEN rhai:cron:runs:{cw}:yearly"), 1);
    assert_int_equal(rhai_cron_run_now(g_cl, "cw", "nope", id, &err), RHAI_ENOTFOUND);
    assert_int_equal(rhai_cron_remove(g_cl, "cw", "yearly", &err), 0);
}

static void test_cron_signed_schedules_fire_and_others_never_do(void **state)
{
    char pk[65], sk[129], buf[512], id[RH_NAME_MAX + 1];
    rhai_cron_def d = def_of("signed", "cs", "* * * * * *");
    rhai_error err;
    redisReply *r;
    json_error_t je;
    json_t *e;
    long long tick;
    (void)state;

    assert_int_equal(rhai_keygen(pk, sk), 0);
    d.signing_key = sk;
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    d = def_of("unsigned", "cs", "* * * * * *");
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    d = def_of("tampered", "cs", "* * * * * *");
    d.signing_key = sk;
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    /* tamper with the stored script: the signature no longer matches */
    r = redisCommand(g_c, "HGET rhai:cron:{cs} tampered");
    assert_non_null(r);
    {
        char *s = strdup(r->str), *p = strstr(s, "args.n");
        assert_non_null(p);
        memcpy(p, "args.m", 6);
        freeReplyObject(r);
        r = redisCommand(g_c, "HSET rhai:cron:{cs} tampered %s", s);
        free(s);
        freeReplyObject(r);
    }
    assert_true(wait_int(2, 20000, "LLEN rhai:cron:runs:{cs}:signed") >= 2);
    assert_true(wait_int(2, 20000, "LLEN rhai:cron:runs:{cs}:unsigned") >= 2);
    assert_true(wait_int(2, 20000, "LLEN rhai:cron:runs:{cs}:tampered") >= 2);
    assert_int_equal(rhai_cron_pause(g_cl, "cs", "signed", 1, &err), 0);

    /* the signed one ran, as its key */
    r = redisCommand(g_c, "LINDEX rhai:cron:runs:{cs}:signed 0");
    e = json_loads(r->str, 0, &je);
    freeReplyObject(r);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(e, "id")));
    tick = json_integer_value(json_object_get(e, "tick"));
    json_decref(e);
    assert_string_equal(task_status(id, buf, sizeof buf, 10000), "done");
    snprintf(buf, sizeof buf, "\"%s:7\"", pk);
    {
        char out[512];
        assert_string_equal(th_task_field(g_c, id, "output", out, sizeof out), buf);
    }
    /* the others were denied at firing: no task */
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "tampered" : "unsigned";
        r = redisCommand(g_c, "LINDEX rhai:cron:runs:{cs}:%s 0", name);
        assert_non_null(strstr(r->str, "\"outcome\":\"denied\""));
        e = json_loads(r->str, 0, &je);
        assert_int_equal(th_cmd_int(g_c, "EXISTS rhai:task:{cs}:%s",
                                    json_string_value(json_object_get(e, "id"))), 0);
        json_decref(e);
        freeReplyObject(r);
    }

    /* A forged firing: the signed schedule's cron_sig on another script,
     * at a real tick that did not fire yet. Denied at claim. */
    {
        char sig[RH_LIM_CRON_SIG + 1], fid[RH_NAME_MAX + 1], st[64];
        long long t2 = (tick / 1000 - 60) * 1000;   /* before the schedule: never fired */
        th_task_field(g_c, id, "cron_sig", sig, sizeof sig);
        assert_true(sig[0] == '{');
        rh_sched_firing_id(fid, "signed", t2, 0);
        r = redisCommand(g_c, "HSET rhai:task:{cs}:%s id %s script %s worker_id cs context_id "
                         "default caller_id %s args {\"n\":7} status queued attempts 0 "
                         "created_at %lld schedule signed tick %lld cron_sig %s",
                         fid, fid, "'forged'", pk, (long long)t2, t2, sig);
        freeReplyObject(r);
        freeReplyObject(redisCommand(g_c, "SET rhai:taskw:{%s} cs", fid));    /* its hint */
        r = redisCommand(g_c, "LPUSH rhai:queue:{cs} %s", fid);
        freeReplyObject(r);
        assert_string_equal(task_status(fid, st, sizeof st, 10000), "error");
        assert_string_equal(th_task_field(g_c, fid, "error_kind", st, sizeof st), "denied");
        /* and a firing claiming the unsigned schedule */
        rh_sched_firing_id(fid, "unsigned", t2, 0);
        r = redisCommand(g_c, "HSET rhai:task:{cs}:%s id %s script x worker_id cs context_id "
                         "default caller_id alice status queued attempts 0 created_at %lld "
                         "schedule unsigned tick %lld", fid, fid, (long long)t2, t2);
        freeReplyObject(r);
        freeReplyObject(redisCommand(g_c, "SET rhai:taskw:{%s} cs", fid));    /* its hint */
        r = redisCommand(g_c, "LPUSH rhai:queue:{cs} %s", fid);
        freeReplyObject(r);
        assert_string_equal(task_status(fid, st, sizeof st, 10000), "error");
        assert_string_equal(th_task_field(g_c, fid, "error_kind", st, sizeof st), "denied");
    }
    assert_int_equal(rhai_cron_remove(g_cl, "cs", "signed", &err), 0);
    assert_int_equal(rhai_cron_remove(g_cl, "cs", "unsigned", &err), 0);
    assert_int_equal(rhai_cron_remove(g_cl, "cs", "tampered", &err), 0);
}

/* Missed-tick policy: a schedule whose due tick is 3 h old (no instance
 * ran) fires once, for its most recent tick at least 60 s old, and none
 * of the older ones. */
static void test_cron_missed_ticks_fire_the_most_recent_once(void **state)
{
    rhai_cron_def d = def_of("hourly", "cw", "0 0 * * * *");
    rhai_error err;
    redisReply *r;
    json_error_t je;
    json_t *e;
    long long before, after, due, tick, from, l1, l2;
    char buf[64], id[RH_NAME_MAX + 1];
    (void)state;

    assert_int_equal(rhai_cron_pause(g_cl, "cw", "nope", 1, &err), RHAI_ENOTFOUND);
    d.script = "'late'";
    assert_int_equal(rhai_cron_add(g_cl, &d, &err), 0);
    assert_true(wait_next("cw", "hourly", 5000) > 0);
    assert_int_equal(rhai_cron_pause(g_cl, "cw", "hourly", 1, &err), 0);
    /* as if every instance had been down for 3 hours */
    before = rh_now_ms();
    due = (before / 3600000 - 3) * 3600000;
    r = redisCommand(g_c, "HGET rhai:cron:{cw} hourly");
    {
        char *def = strdup(r->str), *p = strstr(def, "\"paused\":true");
        freeReplyObject(r);
        assert_non_null(p);
        memcpy(p, "\"paused\":0   ", 13);    /* JSON stays valid: paused is not true */
        r = redisCommand(g_c, "HSET rhai:cron:{cw} hourly %s", def);
        freeReplyObject(r);
        free(def);
    }
    r = redisCommand(g_c, "ZADD rhai:cron:next:{cw} %lld hourly", due);
    freeReplyObject(r);
    assert_true(wait_int(1, 10000, "LLEN rhai:cron:runs:{cw}:hourly") >= 1);
    after = rh_now_ms();
    assert_true(wait_next("cw", "hourly", 5000) > after);
    assert_int_equal(th_cmd_int(g_c, "LLEN rhai:cron:runs:{cw}:hourly"), 1);
    r = redisCommand(g_c, "LINDEX rhai:cron:runs:{cw}:hourly 0");
    e = json_loads(r->str, 0, &je);
    freeReplyObject(r);
    tick = json_integer_value(json_object_get(e, "tick"));
    from = json_integer_value(json_object_get(e, "missed_from"));
    json_decref(e);
    l1 = (before - 60000) / 3600000 * 3600000;
    l2 = (after - 60000) / 3600000 * 3600000;
    assert_int_equal(from, due);
    assert_true(tick == l1 || tick == l2);
    rh_sched_firing_id(id, "hourly", tick, 0);
    assert_string_equal(task_status(id, buf, sizeof buf, 10000), "done");
    rh_sched_firing_id(id, "hourly", due, 0);
    assert_int_equal(th_cmd_int(g_c, "EXISTS rhai:task:{cw}:%s", id), 0);
    assert_int_equal(rhai_cron_remove(g_cl, "cw", "hourly", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_api_adds_lists_pauses_resumes_and_removes),
        cmocka_unit_test(test_cron_every_second_fires_once_per_tick_with_two_instances),
        cmocka_unit_test(test_cron_run_now_fires_once_at_once),
        cmocka_unit_test(test_cron_signed_schedules_fire_and_others_never_do),
        cmocka_unit_test(test_cron_missed_ticks_fire_the_most_recent_once),
    };
    return cmocka_run_group_tests_name("cron", tests, group_setup, group_teardown);
}
