/* test_daemon_faults.c -- rhaid against what a careless operator or a
 * hostile client does to its Redis (issue 16): oversized task fields,
 * poisoned counters, a flushed script cache with a killed connection, a
 * Redis restart longer than the heartbeat TTL. Each test drives a real
 * redis-server and real rhaid processes and asserts on outcomes: the reply
 * a client gets, what the task hash says, that rhaid is alive. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

typedef struct fixture {
    th_redis     redis;
    pid_t        rhaid;
    redisContext *c;
} fixture;

static int start_with(void **state, int aof, const char *const extra[])
{
    fixture *f = rh_calloc(1, sizeof *f);
    if (f == NULL || th_redis_start(&f->redis, aof) != 0)
        return -1;
    f->rhaid = th_rhaid_start(&f->redis, "default", 2, extra);
    f->c = th_redis_connect(&f->redis);
    *state = f;
    return f->rhaid > 0 && f->c ? 0 : -1;
}

static int setup(void **state)
{
    static const char *const extra[] = { "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000",
                                         NULL };
    return start_with(state, 0, extra);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->c)
        redisFree(f->c);
    if (f->rhaid > 0)
        th_stop(f->rhaid, 10000);
    th_redis_stop(&f->redis);
    rh_free(f);
    return 0;
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void assert_alive(pid_t pid)
{
    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
}

/* Submit and wait for the reply; the reply is stored in *t. */
static void run_task(fixture *f, const char *id, const char *script, const char *args,
                     rh_task *t)
{
    rh_task_init(t);
    assert_int_equal(th_submit(f->c, "default", id, script, args, 10000, NULL), 0);
    assert_int_equal(th_reply(f->c, NULL, id, 30, t), 0);
    assert_string_equal(t->id, id);
}

/* Wait (10 s) until 'needle' appears in one of the rhaid logs of r. */
static void wait_log(const th_redis *r, const char *needle)
{
    for (int i = 0; i < 1000; i++) {
        if (th_sh("grep -q -- '%s' %s/rhaid-*.log", needle, r->dir) == 0)
            return;
        nap_ms(10);
    }
    fail_msg("no '%s' in the rhaid logs of %s", needle, r->dir);
}

/* ======================== item 8: guarded commands ======================== */

/* Kill every normal client of 'c''s server except 'c' itself and the ones
 * blocked in BLMOVE (rhaid's pop connection): what is left is rhaid's
 * command connection. */
static void kill_command_connections(redisContext *c)
{
    redisReply *me = redisCommand(c, "CLIENT ID");
    redisReply *list = redisCommand(c, "CLIENT LIST TYPE normal");
    char *save = NULL;
    int killed = 0;

    assert_non_null(me);
    assert_non_null(list);
    assert_int_equal(list->type, REDIS_REPLY_STRING);
    for (char *line = strtok_r(list->str, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        long long id = atoll(line + 3);             /* "id=N ..." */
        redisReply *k;
        if (strncmp(line, "id=", 3) != 0 || id == me->integer || strstr(line, "cmd=blmove"))
            continue;
        k = redisCommand(c, "CLIENT KILL ID %lld", id);
        killed += k && k->type == REDIS_REPLY_INTEGER ? (int)k->integer : 0;
        if (k)
            freeReplyObject(k);
    }
    freeReplyObject(list);
    freeReplyObject(me);
    assert_true(killed >= 1);
}

/* The sequence of issue 16: the script cache flushed, rhaid's command
 * connection killed, then a task pushed. The take's claim comes back
 * NOSCRIPT while the command connection is down; reloading the scripts
 * then used to call hiredis on a NULL context (SIGSEGV). */
static void test_a_flushed_script_cache_and_a_killed_command_connection_do_not_crash_rhaid(
    void **state)
{
    fixture *f = *state;
    redisReply *r;
    rh_task t;

    run_task(f, "k1", "1", NULL, &t);                /* scripts loaded by now */
    rh_task_clear(&t);
    r = redisCommand(f->c, "SCRIPT FLUSH");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    kill_command_connections(f->c);
    wait_log(&f->redis, "event=redis_down conn=cmd");
    run_task(f, "k2", "40 + 2", NULL, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "42");
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);
    assert_alive(f->rhaid);
}

/* ======================== item 7: best-effort counters ======================== */

/* The failed-per-minute counter and the recent-task index are best
 * effort: a counter that is not a number (SET by hand, or by an attacker
 * with write access to the prefix) or an index of another type must not
 * keep a failing task's reply from being pushed. */
static void test_a_poisoned_failure_counter_does_not_suppress_the_reply(void **state)
{
    fixture *f = *state;
    long long minute = rh_now_ms() / 60000;
    char buf[64];
    redisReply *r;
    rh_task t;

    for (long long m = minute; m <= minute + 1; m++) {     /* a task may cross a minute */
        r = redisCommand(f->c, "SET rhai:failed:{default}:%lld abc", m);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    run_task(f, "p1", "throw new Error('boom')", NULL, &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_SCRIPT);
    rh_task_clear(&t);
    assert_string_equal(th_task_field(f->c, "p1", "status", buf, sizeof buf), "error");

    /* the index of another type too */
    r = redisCommand(f->c, "SET rhai:tasks:{default} abc");
    freeReplyObject(r);
    run_task(f, "p2", "throw new Error('again')", NULL, &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    run_task(f, "p3", "'fine'", NULL, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    r = redisCommand(f->c, "GET rhai:failed:{default}:%lld", minute);
    assert_int_equal(r->type, REDIS_REPLY_STRING);         /* left as it was */
    freeReplyObject(r);
    assert_alive(f->rhaid);
}

/* ======================== item 11: reconnect vs heartbeat ======================== */

static const char *const beat_1s[] = { "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000",
                                       NULL };

static int setup_aof(void **state)
{
    return start_with(state, 1, beat_1s);
}

/* Redis (with its data on disk) is down for longer than the heartbeat
 * TTL, so every heartbeat key has expired when it comes back. Both
 * instances are alive: neither may be recovered as dead by the other, so
 * the task running across the restart is not run again (attempts stays
 * 1), it is answered once, and both instances beat again. Before, the
 * reconnect backoff (100 ms doubling to 5 s) brought the instances back
 * seconds apart and the first recovered the other on its first beat. */
static void test_a_redis_restart_longer_than_the_heartbeat_ttl_recovers_no_live_instance(
    void **state)
{
    fixture *f = *state;
    pid_t b = th_rhaid_start(&f->redis, "default", 1, beat_1s);
    char buf[64], key[RH_KEY_MAX];
    redisReply *r;
    rh_task t;
    int beats = 0;

    assert_true(b > 0);
    assert_int_equal(th_submit(f->c, "default", "rs1",
                               "var t = Date.now(); while (Date.now() - t < 4000) {} 'slow'",
                               NULL, 30000, NULL), 0);
    for (int i = 0; i < 1000 && strcmp(th_task_field(f->c, "rs1", "status", buf, sizeof buf),
                                       "running") != 0; i++)
        nap_ms(10);
    assert_string_equal(buf, "running");
    redisFree(f->c);
    f->c = NULL;
    th_redis_stop_keep(&f->redis);
    nap_ms(1500);          /* the fault itself: down longer than the TTL (1 s) */
    assert_int_equal(th_redis_restart(&f->redis), 0);
    f->c = th_redis_connect(&f->redis);
    assert_non_null(f->c);

    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "rs1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"slow\"");
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);
    /* answered once: nothing queued again, no second reply */
    r = redisCommand(f->c, "LLEN %s", rh_key_reply(key, "rhai", "rs1"));
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    r = redisCommand(f->c, "LLEN %s", rh_key_queue(key, "rhai", "default"));
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    /* both instances beat again, and neither declared the other dead */
    for (int i = 0; i < 1000 && beats < 2; i++) {
        r = redisCommand(f->c, "KEYS rhai:worker:{default}:*");
        beats = (int)r->elements;
        freeReplyObject(r);
        if (beats < 2)
            nap_ms(10);
    }
    assert_int_equal(beats, 2);
    r = redisCommand(f->c, "SCARD rhai:workers");
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
    assert_int_not_equal(th_sh("grep -q 'event=recovered' %s/rhaid-*.log", f->redis.dir), 0);
    assert_alive(f->rhaid);
    assert_alive(b);
    th_stop(b, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_flushed_script_cache_and_a_killed_command_connection_do_not_crash_rhaid,
            setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_poisoned_failure_counter_does_not_suppress_the_reply,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_redis_restart_longer_than_the_heartbeat_ttl_recovers_no_live_instance,
            setup_aof, teardown),
    };
    return cmocka_run_group_tests_name("daemon_faults", tests, NULL, NULL);
}
