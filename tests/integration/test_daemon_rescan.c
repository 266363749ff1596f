/* test_daemon_rescan.c -- rhaid re-reads its processing list after a
 * reconnect until Redis answers.
 *
 * A take (BLMOVE queue -> processing list) whose reply is lost leaves an
 * id in the processing list of a live instance: recovery only empties the
 * lists of dead ones, so the instance itself must read its list again
 * after each reconnect. When Redis refused that read (LOADING right after
 * a restart), rhaid counted it as done and the id stayed there, never run
 * and never answered: found by the chaos suite (redis-restart, one task in
 * 1500 without a reply). Here the read is refused with WRONGTYPE (the
 * processing key made a string while rhaid reconnects), then the key
 * becomes a list holding one id whose task must be answered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"

#define WORKER "rescan"

static void nap_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };
    nanosleep(&ts, NULL);
}

static int log_has(const char *path, const char *what)
{
    char line[2048];
    FILE *f = fopen(path, "r");
    int found = 0;

    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* 1 once rhaid, reconnected, has either read its processing list and
 * gone on to take (a client blocked in BLMOVE), or said the read was
 * refused; within timeout_ms. */
static int reread_done(redisContext *c, const char *log, int timeout_ms)
{
    int64_t deadline = rh_mono_ms() + timeout_ms;

    while (rh_mono_ms() < deadline) {
        redisReply *rep = redisCommand(c, "CLIENT LIST");
        int taking = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "cmd=blmove");
        if (rep)
            freeReplyObject(rep);
        if (taking || log_has(log, "event=retake_failed"))
            return 1;
        nap_ms(20);
    }
    return 0;
}

/* A redis-server and rhaid (one executor, 100 ms heartbeats) that answered
 * one task; its processing list's key in proc and its log's path in log. */
static pid_t start_serving(th_redis *r, redisContext **c, char *proc, char *log,
                           char *inst_out)
{
    static const char *const args[] = { "--heartbeat-ms", "100", NULL };
    redisReply *rep;
    const char *inst;
    rh_task t;
    pid_t pid;

    assert_int_equal(th_redis_start(r, 0), 0);
    assert_true((pid = th_rhaid_start(r, WORKER, 1, args)) > 0);
    snprintf(log, 300, "%s/rhaid-1.log", r->dir);
    assert_non_null(*c = th_redis_connect(r));

    /* serving: one task answered */
    assert_int_equal(th_submit(*c, WORKER, "first", "1 + 1", NULL, 5000, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(*c, NULL, "first", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);

    /* its processing list, named after its instance id */
    rep = redisCommand(*c, "KEYS rhai:worker:{%s}:*", WORKER);
    assert_true(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1);
    assert_non_null(inst = strstr(rep->element[0]->str, "}:"));
    rh_key_processing(proc, "rhai", WORKER, inst + 2);
    snprintf(inst_out, RH_KEY_MAX, "%s", inst + 2);
    freeReplyObject(rep);
    return pid;
}

static void test_an_id_left_in_the_processing_list_runs_after_a_refused_reread(void **state)
{
    th_redis r;
    redisContext *c;
    redisReply *rep;
    char proc[RH_KEY_MAX], key[RH_KEY_MAX], log[300], inst[RH_KEY_MAX];
    rh_task t;
    pid_t pid;

    (void)state;
    pid = start_serving(&r, &c, proc, log, inst);

    /* the re-read after the reconnect is refused */
    rep = redisCommand(c, "SET %s not-a-list", proc);
    assert_true(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 2);
    freeReplyObject(rep);
    assert_true(reread_done(c, log, 10000));

    /* then the list holds an id whose take reply was lost */
    rep = redisCommand(c, "HSET %s id lost-1 script %s worker_id %s status queued "
                       "attempts 0 timeout_ms 5000", rh_key_task(key, "rhai", WORKER, "lost-1"),
                       "2 + 2", WORKER);
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    rep = redisCommand(c, "MULTI");
    freeReplyObject(rep);
    freeReplyObject(redisCommand(c, "DEL %s", proc));
    freeReplyObject(redisCommand(c, "RPUSH %s lost-1", proc));
    rep = redisCommand(c, "EXEC");
    assert_true(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2);
    freeReplyObject(rep);

    rh_task_init(&t);
    assert_int_equal(th_reply(c, "rhai:reply:{" WORKER "}:lost-1", "lost-1", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "4");
    rh_task_clear(&t);

    redisFree(c);
    assert_int_equal(th_stop(pid, 10000), 0);
    th_redis_stop(&r);
}

/* An id this instance already claimed (status running, its instance),
 * found again by the re-read after a reconnect: the first claim's reply
 * was lost, or the claim behind a take got there first. It runs, and as
 * the same delivery: attempts stays 1. */
static void test_a_reread_of_our_own_claim_is_not_a_second_delivery(void **state)
{
    th_redis r;
    redisContext *c;
    redisReply *rep;
    char proc[RH_KEY_MAX], key[RH_KEY_MAX], log[300], inst[RH_KEY_MAX];
    rh_task t;
    pid_t pid;

    (void)state;
    pid = start_serving(&r, &c, proc, log, inst);
    rep = redisCommand(c, "HSET %s id ours-1 script %s worker_id %s status running "
                       "instance %s attempts 1 started_at 1 timeout_ms 5000",
                       rh_key_task(key, "rhai", WORKER, "ours-1"), "3 + 3", WORKER, inst);
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    freeReplyObject(redisCommand(c, "RPUSH %s ours-1", proc));
    rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 2);
    freeReplyObject(rep);

    rh_task_init(&t);
    assert_int_equal(th_reply(c, "rhai:reply:{" WORKER "}:ours-1", "ours-1", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "6");
    assert_int_equal(t.attempts, 1);
    rh_task_clear(&t);

    redisFree(c);
    assert_int_equal(th_stop(pid, 10000), 0);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_id_left_in_the_processing_list_runs_after_a_refused_reread),
        cmocka_unit_test(test_a_reread_of_our_own_claim_is_not_a_second_delivery),
    };
    return cmocka_run_group_tests_name("daemon_rescan", tests, NULL, NULL);
}
