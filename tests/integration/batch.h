/* batch.h -- what the tests of rhaid's batched takes and finishes share
 * (test_batch_take.c, test_batch_finish.c, test_batch_queued.c).
 * Included by one test file each.
 *
 * Once a take found work, rhaid takes up to its free credit in one script
 * call (wk_lua_take) and sends every finish ready in one loop iteration in
 * one call (wk_lua_finish). These tests fill a queue before rhaid starts,
 * so that it is hot from the first take, then check the answers in Redis
 * and the batch sizes on /metrics (rhai_step_calls_total and
 * rhai_step_tasks_total). Every wait has a deadline. */
#ifndef TEST_BATCH_H
#define TEST_BATCH_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 30000           /* deadline of every wait on rhaid */

/* ======================== helpers ======================== */

#define TAKE_CALLS   "rhai_step_calls_total{step=\"take\"}"
#define TAKE_TASKS   "rhai_step_tasks_total{step=\"take\"}"
#define FINISH_CALLS "rhai_step_calls_total{step=\"finish\"}"
#define FINISH_TASKS "rhai_step_tasks_total{step=\"finish\"}"
#define WITH_TAKE    "rhai_claims_total{path=\"with_take\"}"
#define BY_ID        "rhai_claims_total{path=\"by_id\"}"
#define DONE_TASKS   "rhai_tasks_total{status=\"done\",error_kind=\"\"}"

/* Poll /metrics until the take and finish step counters reach 'took' and
 * 'finished' (or WAIT_MS passes); the last body (new), never NULL. */
static inline char *steps_wait(int port, long long took, long long finished)
{
    char *body;

    rh_free(th_metrics_wait(port, TAKE_TASKS, took, WAIT_MS));
    body = th_metrics_wait(port, FINISH_TASKS, finished, WAIT_MS);
    assert_non_null(body);
    print_message("take %lld tasks in %lld calls, finish %lld in %lld, claims %lld + %lld\n",
                  th_metric(body, TAKE_TASKS), th_metric(body, TAKE_CALLS),
                  th_metric(body, FINISH_TASKS), th_metric(body, FINISH_CALLS),
                  th_metric(body, WITH_TAKE), th_metric(body, BY_ID));
    return body;
}

/* Poll /metrics until 'series' is at least 'want' (or WAIT_MS passes);
 * then once more, so that a value past 'want' shows. The body (new). */
static inline char *metric_wait(int port, const char *series, long long want)
{
    char *body;

    rh_free(th_metrics_wait(port, series, want, WAIT_MS));
    body = th_http_get(port, "/metrics");
    assert_non_null(body);
    return body;
}

/* Send a command whose reply does not matter beyond not being an error. */
static inline void cmd_ok(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* Poll LLEN 'list' until it is 'want' (or WAIT_MS passes); the last one. */
static inline long long llen_wait(redisContext *c, const char *list, long long want)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    long long n;

    while ((n = th_cmd_int(c, "LLEN %s", list)) != want && rh_mono_ms() < deadline)
        usleep(10000);
    return n;
}

/* The processing list of the one instance registered in rhai:workers. */
static inline char *proc_key(redisContext *c, char *buf)
{
    redisReply *r = redisCommand(c, "SMEMBERS rhai:workers");

    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    snprintf(buf, RH_KEY_MAX, "rhai:processing:%s", r->element[0]->str);
    freeReplyObject(r);
    return buf;
}

/* A redis-server in *r, a connection to it in *c. */
static inline void redis_up(th_redis *r, redisContext **c)
{
    assert_int_equal(th_redis_start(r, 0), 0);
    *c = th_redis_connect(r);
    assert_non_null(*c);
}

/* rhaid for worker "default" with 2 executors, metrics on 'port', extra
 * args (NULL-terminated, at most 8) after them; its pid. */
static inline pid_t rhaid_up(const th_redis *r, int port, const char *const extra[])
{
    char listen[64];
    const char *argv[12] = { "--metrics-listen", listen };
    size_t n = 2;
    pid_t pid;

    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    for (size_t i = 0; extra && extra[i] && n < 10; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid = th_rhaid_start(r, "default", 2, argv);
    assert_true(pid > 0);
    return pid;
}

/* 0 when some rhaid log in r's dir has a line matching the ERE 'pattern'. */
static inline int log_has(const th_redis *r, const char *pattern)
{
    return th_sh("grep -Eq '%s' '%s'/rhaid-*.log", pattern, r->dir);
}

/* log_has, polled until WAIT_MS passes: rhaid writes a line after Redis
 * has answered it, so a client that saw the outcome may look first. */
static inline int log_wait(const th_redis *r, const char *pattern)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    int rc;

    while ((rc = log_has(r, pattern)) != 0 && rh_mono_ms() < deadline)
        usleep(10000);
    return rc;
}

/* Submit PREFIX-0 .. PREFIX-(n-1) to worker "default". */
static inline void submit_each(redisContext *c, const char *prefix, int n, const char *script,
                        long timeout_ms)
{
    char id[32];

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        assert_int_equal(th_submit(c, "default", id, script, NULL, timeout_ms, NULL), 0);
    }
}

/* Wait for the reply of PREFIX-i: done, with 'output' (unless NULL) and
 * 'attempts' (unless 0). */
static inline void expect_done(redisContext *c, const char *prefix, int i, const char *output,
                        int attempts)
{
    char id[32];
    rh_task t;

    snprintf(id, sizeof id, "%s-%d", prefix, i);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    if (output)
        assert_string_equal(t.output, output);
    if (attempts)
        assert_int_equal(t.attempts, attempts);
    rh_task_clear(&t);
}

/* rhaid as rhaid_up, after one finished task: queueing behind a busy
 * executor needs a mean run. */
static inline pid_t rhaid_warm(const th_redis *r, redisContext *c, int port,
                                const char *const extra[])
{
    pid_t pid = rhaid_up(r, port, extra);

    submit_each(c, "warm", 1, "1", 5000);
    expect_done(c, "warm", 0, NULL, 0);
    return pid;
}

/* Wait until rhaid logged PREFIX-i and PREFIX-(i+1) started queued behind
 * a busy executor's task (debug log); assert the second did. */
static inline void wait_queued(const th_redis *r, const char *prefix, int i)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    char a[96], b[96];

    snprintf(a, sizeof a, "task_start task=%s-%d attempt=1 queued=1", prefix, i);
    snprintf(b, sizeof b, "task_start task=%s-%d attempt=1 queued=1", prefix, i + 1);
    while ((log_has(r, a) != 0 || log_has(r, b) != 0) && rh_mono_ms() < deadline)
        usleep(10000);
    assert_int_equal(log_has(r, b), 0);
}

#endif
