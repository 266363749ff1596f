/* test_batch.c -- rhaid takes and finishes in batches under load.
 *
 * Once a take found work, rhaid takes up to its free credit in one script
 * call (wk_lua_take) and sends every finish ready in one loop iteration in
 * one call (wk_lua_finish). These tests fill a queue before rhaid starts,
 * so that it is hot from the first take, then check the answers in Redis
 * and the batch sizes on /metrics (rhai_step_calls_total and
 * rhai_step_tasks_total). Every wait has a deadline. */
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
static char *steps_wait(int port, long long took, long long finished)
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
static char *metric_wait(int port, const char *series, long long want)
{
    char *body;

    rh_free(th_metrics_wait(port, series, want, WAIT_MS));
    body = th_http_get(port, "/metrics");
    assert_non_null(body);
    return body;
}

/* The integer reply of a command, or -1 (not an integer). */
static long long cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v = -1;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    if (r)
        freeReplyObject(r);
    return v;
}

/* Send a command whose reply does not matter beyond not being an error. */
static void cmd_ok(redisContext *c, const char *fmt, ...)
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
static long long llen_wait(redisContext *c, const char *list, long long want)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    long long n;

    while ((n = cmd_int(c, "LLEN %s", list)) != want && rh_mono_ms() < deadline)
        usleep(10000);
    return n;
}

/* The processing list of the one instance registered in rhai:workers. */
static char *proc_key(redisContext *c, char *buf)
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
static void redis_up(th_redis *r, redisContext **c)
{
    assert_int_equal(th_redis_start(r, 0), 0);
    *c = th_redis_connect(r);
    assert_non_null(*c);
}

/* rhaid for worker "default" with 2 executors, metrics on 'port', extra
 * args (NULL-terminated, at most 8) after them; its pid. */
static pid_t rhaid_up(const th_redis *r, int port, const char *const extra[])
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
static int log_has(const th_redis *r, const char *pattern)
{
    return th_sh("grep -Eq '%s' '%s'/rhaid-*.log", pattern, r->dir);
}

/* log_has, polled until WAIT_MS passes: rhaid writes a line after Redis
 * has answered it, so a client that saw the outcome may look first. */
static int log_wait(const th_redis *r, const char *pattern)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    int rc;

    while ((rc = log_has(r, pattern)) != 0 && rh_mono_ms() < deadline)
        usleep(10000);
    return rc;
}

/* Submit PREFIX-0 .. PREFIX-(n-1) to worker "default". */
static void submit_each(redisContext *c, const char *prefix, int n, const char *script,
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
static void expect_done(redisContext *c, const char *prefix, int i, const char *output,
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
static pid_t rhaid_warm(const th_redis *r, redisContext *c, int port, const char *const extra[])
{
    pid_t pid = rhaid_up(r, port, extra);

    submit_each(c, "warm", 1, "1", 5000);
    expect_done(c, "warm", 0, NULL, 0);
    return pid;
}

/* Wait until rhaid logged PREFIX-i and PREFIX-(i+1) started queued behind
 * a busy executor's task (debug log); assert the second did. */
static void wait_queued(const th_redis *r, const char *prefix, int i)
{
    int64_t deadline = rh_mono_ms() + WAIT_MS;
    char a[96], b[96];

    snprintf(a, sizeof a, "task_start task=%s-%d attempt=1 queued=1", prefix, i);
    snprintf(b, sizeof b, "task_start task=%s-%d attempt=1 queued=1", prefix, i + 1);
    while ((log_has(r, a) != 0 || log_has(r, b) != 0) && rh_mono_ms() < deadline)
        usleep(10000);
    assert_int_equal(log_has(r, b), 0);
}

/* ======================== tests ======================== */

/* 300 tasks queued before rhaid starts: after the first BLMOVE the queue
 * is hot, and the rest is taken by batch takes of the free credit
 * (2 executors + prefetch 6), claimed inside them. Each task runs once. */
static void test_a_hot_queue_is_taken_in_batches(void **state)
{
    enum { N = 300 };
    const char *extra[] = { "--prefetch", "6", NULL };
    th_redis r;
    redisContext *c;
    char id[32], key[RH_KEY_MAX], proc[RH_KEY_MAX], *body;
    int port = th_free_port();
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, NULL), 0);
    }
    pid = rhaid_up(&r, port, extra);

    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_string_equal(t.id, id);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "2");
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }

    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, TAKE_TASKS), N);
    assert_true(th_metric(body, TAKE_CALLS) > 0);
    assert_true(th_metric(body, TAKE_CALLS) < N);          /* batches happened */
    assert_int_equal(th_metric(body, FINISH_TASKS), N);
    assert_true(th_metric(body, FINISH_CALLS) > 0);
    assert_true(th_metric(body, FINISH_CALLS) <= N);
    assert_int_equal(th_metric(body, WITH_TAKE), N);
    assert_int_equal(th_metric(body, BY_ID), 0);
    rh_free(body);

    /* every finish is acknowledged: a second answer would be there now */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        assert_int_equal(cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", id)), 0);
    }
    assert_int_equal(cmd_int(c, "LLEN rhai:queue:{default}"), 0);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* The odd ids of a batch take go to the claim by id: one without a hash is
 * answered invalid (and its hash gets started_at and worker_id), a final
 * one is dropped unanswered, a junk id is dropped with event=bad_id; the
 * plain tasks around them run once each. */
static void test_odd_ids_inside_a_batch_are_claimed_by_id(void **state)
{
    enum { VALID = 20 };
    const char *extra[] = { "--prefetch", "8", NULL };
    th_redis r;
    redisContext *c;
    char id[32], key[RH_KEY_MAX], proc[RH_KEY_MAX], buf[128], *body;
    int port = th_free_port(), v = 0;
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    /* Queue order (first LPUSHed is taken first): the first takes are
     * BLMOVEs, so the odd ids sit behind 6 plain tasks, one apart. */
    for (int pos = 0; v < VALID; pos++) {
        if (pos == 6) {
            cmd_ok(c, "LPUSH rhai:queue:{default} ghost-1");
        } else if (pos == 8) {
            assert_int_equal(th_submit(c, "default", "cancelled-1", "'ran'", NULL, 5000,
                                       NULL), 0);
            cmd_ok(c, "HSET rhai:task:{cancelled-1} status cancelled error_kind cancelled "
                      "finished_at 1 output null");
        } else if (pos == 10) {
            cmd_ok(c, "LPUSH rhai:queue:{default} %s", "bad id!");
        } else {
            snprintf(id, sizeof id, "odd-%d", v++);
            assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, NULL),
                             0);
        }
    }
    pid = rhaid_up(&r, port, extra);

    for (int i = 0; i < VALID; i++) {
        snprintf(id, sizeof id, "odd-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "2");
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "ghost-1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    rh_task_clear(&t);

    /* 23 ids taken, 21 answered; then the processing list is empty */
    body = steps_wait(port, VALID + 3, VALID + 1);
    assert_int_equal(th_metric(body, TAKE_TASKS), VALID + 3);
    assert_int_equal(th_metric(body, FINISH_TASKS), VALID + 1);
    assert_int_equal(th_metric(body, WITH_TAKE), VALID);
    rh_free(body);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);
    assert_int_equal(cmd_int(c, "LLEN rhai:queue:{default}"), 0);

    /* each valid task answered once */
    for (int i = 0; i < VALID; i++) {
        snprintf(id, sizeof id, "odd-%d", i);
        assert_int_equal(cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", id)), 0);
    }
    /* the ghost: answered without running, its hash says by whom and when */
    assert_string_equal(th_task_field(c, "ghost-1", "status", buf, sizeof buf), "error");
    assert_string_equal(th_task_field(c, "ghost-1", "error_kind", buf, sizeof buf), "invalid");
    assert_true(atoll(th_task_field(c, "ghost-1", "started_at", buf, sizeof buf)) > 0);
    assert_string_equal(th_task_field(c, "ghost-1", "worker_id", buf, sizeof buf), "default");
    assert_int_equal(cmd_int(c, "LLEN %s", rh_key_reply(key, "rhai", "ghost-1")), 0);
    /* the cancelled task: not run, not answered, not touched */
    assert_string_equal(th_task_field(c, "cancelled-1", "status", buf, sizeof buf),
                        "cancelled");
    assert_string_equal(th_task_field(c, "cancelled-1", "attempts", buf, sizeof buf), "0");
    assert_string_equal(th_task_field(c, "cancelled-1", "output", buf, sizeof buf), "null");
    assert_string_equal(th_task_field(c, "cancelled-1", "started_at", buf, sizeof buf), "");
    assert_int_equal(cmd_int(c, "EXISTS %s", rh_key_reply(key, "rhai", "cancelled-1")), 0);
    /* ghost and cancelled went through the claim by id, the junk id was
     * dropped before any claim */
    assert_int_equal(log_wait(&r, "event=task_invalid task=ghost-1 "), 0);
    assert_int_equal(log_wait(&r, "event=task_skipped task=cancelled-1 status=cancelled"), 0);
    assert_int_equal(log_wait(&r, "event=bad_id "), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Sort key of a reply: (finished_at, id), the order of the task index. */
typedef struct fin_rec {
    long long at;
    char      id[32];
} fin_rec;

static int fin_rec_cmp(const void *a, const void *b)
{
    const fin_rec *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* 100 tasks answered on one shared reply list: each reply once, the list's
 * PEXPIRE applied (once per batch), and the task index trimmed to the 10
 * newest finishes across batches. */
static void test_a_shared_reply_list_and_the_index_trim_in_batches(void **state)
{
    enum { N = 100, KEEP = 10 };
    const char *extra[] = { "--prefetch", "6", "--task-index-max", "10",
                            "--result-ttl-ms", "600000", NULL };
    const char *list = "rhai:reply:client:t1";
    th_redis r;
    redisContext *c;
    redisReply *rep;
    char id[32], *body;
    int port = th_free_port();
    int seen[N];
    fin_rec recs[N];
    long long pttl;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "sh-%d", i);
        assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, list), 0);
    }
    pid = rhaid_up(&r, port, extra);

    assert_int_equal(llen_wait(c, list, N), N);
    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, FINISH_TASKS), N);
    assert_true(th_metric(body, TAKE_CALLS) < N);
    rh_free(body);

    memset(seen, 0, sizeof seen);
    rep = redisCommand(c, "LRANGE %s 0 -1", list);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, N);
    for (size_t i = 0; i < rep->elements; i++) {
        rh_task t;
        int k;

        rh_task_init(&t);
        assert_int_equal(rh_task_from_reply(&t, rep->element[i]->str, rep->element[i]->len,
                                            NULL), 0);
        assert_non_null(t.id);
        assert_int_equal(sscanf(t.id, "sh-%d", &k), 1);
        assert_true(k >= 0 && k < N);
        assert_int_equal(seen[k]++, 0);                  /* each id once */
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "2");
        assert_true(t.finished_at > 0);
        recs[k].at = t.finished_at;
        snprintf(recs[k].id, sizeof recs[k].id, "%s", t.id);
        rh_task_clear(&t);
    }
    freeReplyObject(rep);

    pttl = cmd_int(c, "PTTL %s", list);
    assert_true(pttl > 0);
    assert_true(pttl <= 600000);

    /* the index holds the 10 newest finishes, by (finished_at, id) */
    qsort(recs, N, sizeof recs[0], fin_rec_cmp);
    assert_int_equal(cmd_int(c, "ZCARD rhai:tasks:{default}"), KEEP);
    rep = redisCommand(c, "ZRANGE rhai:tasks:{default} 0 -1 WITHSCORES");
    assert_non_null(rep);
    assert_int_equal(rep->elements, 2 * KEEP);
    for (int i = 0; i < KEEP; i++) {
        const fin_rec *want = &recs[N - KEEP + i];
        assert_string_equal(rep->element[2 * i]->str, want->id);
        assert_int_equal(atoll(rep->element[2 * i + 1]->str), want->at);
    }
    freeReplyObject(rep);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* A task made final by hand while it runs: its finish, in a batch with
 * the others, is skipped (the script answers 0 for it), so the hash keeps
 * what was written and no reply is pushed; the others finish normally. */
static void test_the_finish_of_an_already_final_task_is_skipped(void **state)
{
    enum { N = 6 };
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 400) {} 'slow'";
    const char *extra[] = { "--prefetch", "4", NULL };
    th_redis r;
    redisContext *c;
    char id[32], key[RH_KEY_MAX], proc[RH_KEY_MAX], buf[128], *body;
    int port = th_free_port();
    int64_t deadline;
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "fin-%d", i);
        assert_int_equal(th_submit(c, "default", id, slow, NULL, 10000, NULL), 0);
    }
    pid = rhaid_up(&r, port, extra);

    /* fin-0 is taken first: wait until it runs, then answer it by hand */
    deadline = rh_mono_ms() + WAIT_MS;
    while (strcmp(th_task_field(c, "fin-0", "status", buf, sizeof buf), "running") != 0 &&
           rh_mono_ms() < deadline)
        usleep(2000);
    assert_string_equal(buf, "running");
    cmd_ok(c, "HSET rhai:task:{fin-0} status done output \"mine\"");

    for (int i = 1; i < N; i++) {
        snprintf(id, sizeof id, "fin-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "\"slow\"");
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }
    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, FINISH_TASKS), N);    /* fin-0's finish was sent */
    rh_free(body);
    /* ... and answered 0: logged as skipped once its answer is read, and
     * counted in no task total (counted as each answer is read, so wait
     * for the others' too before reading it) */
    assert_int_equal(log_wait(&r, "event=finish_skipped task=fin-0 "), 0);
    body = metric_wait(port, DONE_TASKS, N - 1);
    assert_int_equal(th_metric(body, DONE_TASKS), N - 1);
    rh_free(body);

    assert_string_equal(th_task_field(c, "fin-0", "output", buf, sizeof buf), "\"mine\"");
    assert_string_equal(th_task_field(c, "fin-0", "status", buf, sizeof buf), "done");
    assert_string_equal(th_task_field(c, "fin-0", "finished_at", buf, sizeof buf), "");
    assert_int_equal(cmd_int(c, "EXISTS %s", rh_key_reply(key, "rhai", "fin-0")), 0);
    assert_int_equal(cmd_int(c, "ZSCORE rhai:tasks:{default} fin-0"), -1);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Queued behind a busy executor (wk_pool_queue; forced here by a large
 * --pipeline-max-us): a task's timeout starts when the task before it on
 * that executor answered, not when it was queued. Two 1.5 s tasks fill
 * both executors; behind each, a trivial task with a 1 s timeout. Timed
 * from the queueing, they would time out (and kill the long ones). */
static void test_a_queued_task_is_timed_from_its_own_start(void **state)
{
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 1500) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "long", 2, slow, 10000);
    submit_each(c, "short", 2, "'short'", 1000);
    for (int i = 0; i < 2; i++) {
        expect_done(c, "short", i, "\"short\"", 0);
        expect_done(c, "long", i, "\"long\"", 0);
    }
    /* they were queued, not started on an idle executor */
    assert_int_equal(log_wait(&r, "event=task_start task=short-0 attempt=1 queued=1"), 0);
    assert_int_equal(log_wait(&r, "event=task_start task=short-1 attempt=1 queued=1"), 0);
    assert_int_not_equal(log_has(&r, "event=task_timeout"), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* An executor killed while a task waits queued behind its running one
 * gives that task back unrun: it runs on the new executor, once, as the
 * same delivery (attempts 1), not as a crash of its own; the running one
 * is run again (crashed, retried locally) and finishes too. */
static void test_a_task_queued_on_a_killed_executor_runs_elsewhere(void **state)
{
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 2000) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "long", 2, slow, 20000);
    submit_each(c, "behind", 2, "'behind'", 20000);
    wait_queued(&r, "behind", 0);
    assert_int_equal(th_sh("pkill -KILL -P %d", (int)pid), 0);     /* both executors */

    for (int i = 0; i < 2; i++)
        expect_done(c, "behind", i, "\"behind\"", 1);
    assert_int_equal(log_wait(&r, "task_requeued task=behind-0 reason=\"executor gone"), 0);
    assert_int_equal(log_wait(&r, "task_requeued task=behind-1 reason=\"executor gone"), 0);
    for (int i = 0; i < 2; i++)
        expect_done(c, "long", i, NULL, 1);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Keys of another type fail alone inside a batch. A task whose reply_to
 * is a string cannot be answered there, and a queued id whose task key is
 * a string cannot be claimed (it is dropped, logged); the other tasks of
 * the same batch are answered all the same, and recovery of a dead
 * instance holding such an id requeues the rest. The finishes are made to meet in one batch: while
 * Redis refuses writes (min-replicas-to-write) every finish fails and is
 * retried at the next tick, all of them in one call. */
static void test_a_refused_key_fails_alone_inside_a_batch(void **state)
{
    enum { N = 4, HOT = 30 };
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 300) {} 'ok'";
    const char *extra[] = { "--prefetch", "2", NULL };
    th_redis r;
    redisContext *c;
    char id[32], buf[64], proc[RH_KEY_MAX];
    int port = th_free_port();
    int64_t deadline;
    pid_t pid;
    rh_task t;
    (void)state;

    redis_up(&r, &c);
    cmd_ok(c, "SET rhai:reply:client:poison x");
    pid = rhaid_up(&r, port, extra);

    /* finish side: N tasks running, writes refused, then allowed again */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "fin-%d", i);
        assert_int_equal(th_submit(c, "default", id, slow, NULL, 10000,
                                   i == 2 ? "rhai:reply:client:poison" : NULL), 0);
    }
    deadline = rh_mono_ms() + WAIT_MS;
    for (int i = 0; i < N; i++) {     /* all claimed (two run, two wait) */
        snprintf(id, sizeof id, "fin-%d", i);
        while (strcmp(th_task_field(c, id, "status", buf, sizeof buf), "running") != 0 &&
               rh_mono_ms() < deadline)
            usleep(1000);
    }
    cmd_ok(c, "CONFIG SET min-replicas-to-write 1");  /* before the first ends */
    deadline = rh_mono_ms() + WAIT_MS;
    while (th_sh("test $(cat '%s'/rhaid-*.log | grep -o 'event=finish_failed task=fin-[0-9]*' "
                 "| sort -u | wc -l) -ge %d", r.dir, N) != 0 && rh_mono_ms() < deadline)
        usleep(10000);
    /* every one has failed once: the next tick retries them in one call */
    cmd_ok(c, "CONFIG SET min-replicas-to-write 0");
    for (int i = 0; i < N; i++) {
        if (i == 2)
            continue;
        snprintf(id, sizeof id, "fin-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        rh_task_clear(&t);
    }
    assert_int_equal(log_wait(&r, "finish_failed task=fin-2 reason=.*WRONGTYPE"), 0);
    /* the others were not failed with it (one script error for the whole
     * call would fail all four; they would then be answered a tick later,
     * since the ones before the refused key were applied) */
    assert_int_not_equal(log_has(&r, "finish_failed task=fin-[013] reason=.*WRONGTYPE"), 0);

    /* take side: a string at a task key inside a hot queue */
    for (int i = 0; i < HOT; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        if (i == HOT / 2) {
            cmd_ok(c, "SET rhai:task:{wrongtype} x");
            cmd_ok(c, "LPUSH rhai:queue:{default} wrongtype");
        }
        assert_int_equal(th_submit(c, "default", id, "'hot'", NULL, 10000, NULL), 0);
    }
    for (int i = 0; i < HOT; i++) {
        snprintf(id, sizeof id, "hot-%d", i);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 30, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        rh_task_clear(&t);
    }
    /* ... and that id is dropped from the processing list, logged */
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);
    assert_int_equal(log_wait(&r, "task=wrongtype reason=\"task key holds a string"), 0);

    /* recovery: a dead instance held a plain task and such an id */
    cmd_ok(c, "HSET rhai:task:{rec-1} id rec-1 script 42 worker_id default status running "
              "attempts 1");
    cmd_ok(c, "SET rhai:task:{wrongtype2} x");
    cmd_ok(c, "RPUSH rhai:processing:{default}:ghost wrongtype2 rec-1");
    cmd_ok(c, "SADD rhai:workers {default}:ghost");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "rec-1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 2);
    rh_task_clear(&t);
    assert_int_equal(cmd_int(c, "EXISTS rhai:processing:{default}:ghost"), 0);
    assert_int_equal(cmd_int(c, "SISMEMBER rhai:workers {default}:ghost"), 0);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* SIGTERM while tasks wait queued behind the executors' running ones and
 * in rhaid (prefetched): after the grace the running ones are killed and
 * every held id goes back on the queue, the queued ones included (given
 * back unrun by their dying executors); a second instance then answers
 * each task exactly once. Until they run, the held ones show `claimed`,
 * not `running`, and the give-back counts no attempt for them. */
static void test_a_drain_gives_back_queued_and_prefetched_tasks(void **state)
{
    enum { N = 8 };
    const char *slow = "var t0 = Date.now(); while (Date.now() - t0 < 3000) {} 'long'";
    const char *extra[] = { "--pipeline-max-us", "100000000", "--grace-ms", "300",
                            "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    char key[RH_KEY_MAX], proc[RH_KEY_MAX];
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, th_free_port(), extra);
    submit_each(c, "d", 2, slow, 20000);        /* d-0, d-1 run */
    for (int i = 2; i < N; i++) {               /* 2 queued behind them, the rest wait */
        char id[32];
        snprintf(id, sizeof id, "d-%d", i);
        assert_int_equal(th_submit(c, "default", id, "'short'", NULL, 20000, NULL), 0);
    }
    wait_queued(&r, "d", 2);
    proc_key(c, proc);
    /* only d-0 and d-1 run: the rest are claimed or still queued, with no
     * start and no attempt counted */
    for (int i = 0; i < N; i++) {
        char id[32], buf[64];
        snprintf(id, sizeof id, "d-%d", i);
        th_task_field(c, id, "status", buf, sizeof buf);
        if (i < 2) {
            assert_string_equal(buf, "running");
            continue;
        }
        if (strcmp(buf, "queued") != 0)
            assert_string_equal(buf, "claimed");
        assert_string_equal(th_task_field(c, id, "started_at", buf, sizeof buf), "");
        assert_string_equal(th_task_field(c, id, "attempts", buf, sizeof buf), "0");
    }
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);

    /* every id is back on the queue, none answered, none held */
    assert_int_equal(cmd_int(c, "LLEN rhai:queue:{default}"), N);
    assert_int_equal(cmd_int(c, "EXISTS %s", proc), 0);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "rhai:reply:{d-%d}", i);
        assert_int_equal(cmd_int(c, "LLEN %s", key), 0);
    }
    assert_int_equal(log_wait(&r, "task_requeued task=d-2 reason=\"executor gone"), 0);

    pid = rhaid_up(&r, th_free_port(), NULL);
    for (int i = 0; i < N; i++) {
        expect_done(c, "d", i, NULL, i < 2 ? 2 : 1);     /* real starts only */
        snprintf(key, sizeof key, "rhai:reply:{d-%d}", i);
        assert_int_equal(cmd_int(c, "LLEN %s", key), 0);            /* once */
    }
    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* While a finish call is in flight, the finishes that become ready wait
 * for its answer and then go out together (Nagle's rule). Six tasks are
 * claimed, then Redis's writes are paused (CLIENT PAUSE WRITE holds the
 * first finish call sent after it) while the tasks end one by one at
 * different times: the R finishes counted from the pause on go out in at
 * most 2 calls, the first alone and the rest together. Without the rule
 * each goes out in its own call, R calls. */
static void test_finishes_wait_for_the_call_in_flight(void **state)
{
    enum { N = 6 };
    th_redis r;
    redisContext *c;
    char id[32], buf[64], script[128], *body;
    int port = th_free_port();
    long long calls0, tasks0, calls, tasks;
    int64_t deadline;
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_warm(&r, c, port, NULL);
    for (int i = 0; i < N; i++) {     /* each ends at its own time */
        snprintf(id, sizeof id, "nagle-%d", i);
        snprintf(script, sizeof script,
                 "var t0 = Date.now(); while (Date.now() - t0 < %d) {} %d", 600 + 150 * i, i);
        assert_int_equal(th_submit(c, "default", id, script, NULL, 20000, NULL), 0);
    }
    /* All claimed: 2 run, the rest wait in rhaid. With runs this long
     * rhaid prefetches 2, so the last two are claimed when the first two
     * end, before the pause: R is 4. */
    deadline = rh_mono_ms() + WAIT_MS;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "nagle-%d", i);
        while (strcmp(th_task_field(c, id, "status", buf, sizeof buf), "running") != 0 &&
               strcmp(buf, "claimed") != 0 && rh_mono_ms() < deadline)
            usleep(1000);
        if (strcmp(buf, "claimed") != 0)
            assert_string_equal(buf, "running");
    }
    print_message("claimed after %lld ms\n", (long long)(rh_mono_ms() - (deadline - WAIT_MS)));
    cmd_ok(c, "CLIENT PAUSE 4000 WRITE");     /* the last one ends at ~3.2 s */
    body = metric_wait(port, FINISH_TASKS, 0);
    calls0 = th_metric(body, FINISH_CALLS);
    tasks0 = th_metric(body, FINISH_TASKS);
    rh_free(body);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        expect_done(c, "nagle", i, buf, 1);
    }
    body = metric_wait(port, FINISH_TASKS, tasks0 + 1);
    calls = th_metric(body, FINISH_CALLS) - calls0;
    tasks = th_metric(body, FINISH_TASKS) - tasks0;
    rh_free(body);
    print_message("%lld finishes from the pause on, in %lld calls\n", tasks, calls);
    if (tasks < 3)
        fail_msg("only %lld tasks ended during the pause: the machine was too slow", tasks);
    assert_true(calls <= 2);
    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Tasks that come one at a time are each taken by a BLMOVE, whose claim
 * says the queue is empty behind it: rhaid waits with BLMOVE again instead
 * of asking a batch take that would come back empty. One take call per
 * task: the BLMOVE's. */
static void test_lone_tasks_make_no_empty_batch_take(void **state)
{
    enum { N = 6 };
    th_redis r;
    redisContext *c;
    char prefix[16], *body;
    int port = th_free_port();
    pid_t pid;
    (void)state;

    redis_up(&r, &c);
    pid = rhaid_up(&r, port, NULL);
    for (int i = 0; i < N; i++) {
        snprintf(prefix, sizeof prefix, "lone%d", i);
        submit_each(c, prefix, 1, "7", 5000);
        expect_done(c, prefix, 0, "7", 1);
    }
    body = steps_wait(port, N, N);
    assert_int_equal(th_metric(body, TAKE_TASKS), N);
    assert_int_equal(th_metric(body, TAKE_CALLS), N);
    rh_free(body);
    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_hot_queue_is_taken_in_batches),
        cmocka_unit_test(test_odd_ids_inside_a_batch_are_claimed_by_id),
        cmocka_unit_test(test_a_shared_reply_list_and_the_index_trim_in_batches),
        cmocka_unit_test(test_the_finish_of_an_already_final_task_is_skipped),
        cmocka_unit_test(test_a_queued_task_is_timed_from_its_own_start),
        cmocka_unit_test(test_a_task_queued_on_a_killed_executor_runs_elsewhere),
        cmocka_unit_test(test_a_refused_key_fails_alone_inside_a_batch),
        cmocka_unit_test(test_a_drain_gives_back_queued_and_prefetched_tasks),
        cmocka_unit_test(test_finishes_wait_for_the_call_in_flight),
        cmocka_unit_test(test_lone_tasks_make_no_empty_batch_take),
    };
    return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
