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

#include "daemon_fixture.h"

static int setup(void **state)
{
    static const char *const extra[] = { "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000",
                                         NULL };
    return start_with(state, 0, extra);
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

/* ======================== item 6: field limits ======================== */

static int setup_limits(void **state)
{
    static const char *const extra[] = { "--max-args", "1000", "--max-script", "1000",
                                         "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000",
                                         NULL };
    return start_with(state, 0, extra);
}

/* A JSON string of exactly n bytes ("xxx...x"), malloc'd. */
static char *json_string_of(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'x', n);
    s[0] = s[n - 1] = '"';
    s[n] = '\0';
    return s;
}

/* Submit task 'id' (script 'script') with one more field, in one HSET
 * before the LPUSH. */
static void submit_with(fixture *f, const char *id, const char *script, const char *field,
                        const char *value)
{
    char key[RH_KEY_MAX];
    const char *argv[] = { "HSET", rh_key_task(key, "rhai", "default", id), "id", id, "script", script,
                           "worker_id", "default", "status", "queued", field, value };
    redisReply *r = redisCommandArgv(f->c, 12, argv, NULL);

    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(f->c, "LPUSH %s %s", rh_key_queue(key, "rhai", "default"), id);
    assert_non_null(r);
    freeReplyObject(r);
}

static void assert_invalid_with(fixture *f, const char *id, const char *error)
{
    rh_task t;
    char buf[64];

    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, id, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(t.error);
    if (strcmp(t.error, error) != 0)
        fail_msg("task %s: error '%s', expected '%s'", id, t.error, error);
    rh_task_clear(&t);
    assert_string_equal(th_task_field(f->c, id, "status", buf, sizeof buf), "error");
}

/* Every client field has a limit; one byte over is `invalid` at once,
 * with a message naming the field, its size and the limit. At the limit
 * the task runs. */
static void test_a_field_one_byte_over_its_limit_is_answered_invalid(void **state)
{
    fixture *f = *state;
    char *args = json_string_of(1000), *script = th_big_script(1001);
    char caller[300], reply_to[600];
    rh_task t;

    run_task(f, "l-at", "args.length", args, &t);           /* 1000 bytes: runs */
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "998");
    rh_task_clear(&t);
    free(args);

    args = json_string_of(1001);
    assert_int_equal(th_submit(f->c, "default", "l-args", "1", args, 5000, NULL), 0);
    assert_invalid_with(f, "l-args", "args is 1001 bytes, limit 1000 (max_args)");
    free(args);

    assert_int_equal(th_submit(f->c, "default", "l-script", script, NULL, 5000, NULL), 0);
    assert_invalid_with(f, "l-script", "script is 1001 bytes, limit 1000 (max_script)");
    free(script);

    memset(caller, 'c', 257);
    caller[257] = '\0';
    submit_with(f, "l-caller", "1", "caller_id", caller);
    assert_invalid_with(f, "l-caller", "caller_id is 257 bytes, limit 256");

    /* a reply_to over its limit: answered on the task's own reply list */
    memcpy(reply_to, "rhai:reply:{default}:", 21);
    memset(reply_to + 21, 'r', 491);
    reply_to[512] = '\0';
    assert_int_equal(th_submit(f->c, "default", "l-reply", "1", NULL, 5000, reply_to), 0);
    assert_invalid_with(f, "l-reply", "reply_to is 512 bytes, limit 511");
    assert_alive(f->rhaid);
}

/* The exact case of issue 16: 70 MiB of args used to leave the task
 * `running` for good (its frame could not be encoded, the error was
 * ignored), past its timeout and past SIGTERM, and a read that large
 * blocked the loop. Now the claim sees the size with HSTRLEN and does not
 * fetch it: the task is `invalid` at once, a field nobody reads is never
 * fetched however large, the instance keeps beating, nothing stays
 * claimed, and SIGTERM drains as usual. */
static void test_a_70_mib_args_task_is_invalid_and_the_instance_keeps_beating(void **state)
{
    fixture *f = *state;
    size_t big = 70u * 1024u * 1024u;
    char *args = json_string_of(big), want[128], key[RH_KEY_MAX], buf[64];
    redisReply *r;
    rh_task t;
    int status;

    assert_int_equal(th_submit(f->c, "default", "huge", "1", args, 5000, NULL), 0);
    snprintf(want, sizeof want, "args is %zu bytes, limit 1048576 (max_args)", big);
    assert_invalid_with(f, "huge", want);

    /* an unknown field of 70 MiB is not read: the task runs */
    submit_with(f, "junk", "'fine'", "junk", args);
    free(args);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "junk", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"fine\"");
    rh_task_clear(&t);

    run_task(f, "after", "'still here'", NULL, &t);
    assert_string_equal(t.output, "\"still here\"");
    rh_task_clear(&t);
    r = redisCommand(f->c, "KEYS rhai:worker:{default}:*");           /* still beating */
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    assert_string_equal(th_task_field(f->c, "huge", "status", buf, sizeof buf), "error");
    r = redisCommand(f->c, "KEYS rhai:processing:*");                 /* nothing held */
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *n = redisCommand(f->c, "LLEN %s", r->element[i]->str);
        assert_int_equal(n->integer, 0);
        freeReplyObject(n);
    }
    freeReplyObject(r);
    assert_int_equal(kill(f->rhaid, SIGTERM), 0);
    status = th_wait(f->rhaid, 10000);
    f->rhaid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    r = redisCommand(f->c, "LLEN %s", rh_key_queue(key, "rhai", "default"));
    assert_int_equal(r->integer, 0);                                  /* nothing requeued */
    freeReplyObject(r);
}

/* A task whose frame the encoder refuses (a script that is not UTF-8)
 * used to stay claimed with no executor for good: any failure to hand a
 * task over now ends it. */
static void test_a_task_that_cannot_be_sent_to_an_executor_is_answered_invalid(void **state)
{
    fixture *f = *state;
    rh_task t;

    assert_int_equal(th_submit(f->c, "default", "nonutf8", "'\xff\xfe'", NULL, 5000, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "nonutf8", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(strstr(t.error, "cannot be sent to an executor"));
    rh_task_clear(&t);
    run_task(f, "after-nonutf8", "1", NULL, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    assert_alive(f->rhaid);
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
    r = redisCommand(f->c, "LLEN %s", rh_key_reply(key, "rhai", "default", "rs1"));
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
        cmocka_unit_test_setup_teardown(test_a_field_one_byte_over_its_limit_is_answered_invalid,
                                        setup_limits, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_70_mib_args_task_is_invalid_and_the_instance_keeps_beating, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_task_that_cannot_be_sent_to_an_executor_is_answered_invalid, setup, teardown),
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
