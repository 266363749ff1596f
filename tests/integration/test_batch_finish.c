/* test_batch_finish.c -- rhaid finishes in batches.
 *
 * Finishes on a shared reply list and the index trim, the finish of a
 * task already final, a refused key failing alone inside a batch, and
 * finishes waiting for the call in flight (see batch.h). */
#include "batch.h"

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
    const char *list = "rhai:reply:{default}:client:t1";
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

    pttl = th_cmd_int(c, "PTTL %s", list);
    assert_true(pttl > 0);
    assert_true(pttl <= 600000);

    /* the index holds the 10 newest finishes, by (finished_at, id) */
    qsort(recs, N, sizeof recs[0], fin_rec_cmp);
    assert_int_equal(th_cmd_int(c, "ZCARD rhai:tasks:{default}"), KEEP);
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
    cmd_ok(c, "HSET rhai:task:{default}:fin-0 status done output \"mine\"");

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
    assert_int_equal(th_cmd_int(c, "EXISTS %s", rh_key_reply(key, "rhai", "default", "fin-0")), 0);
    assert_int_equal(th_cmd_int(c, "ZSCORE rhai:tasks:{default} fin-0"), -1);
    assert_int_equal(llen_wait(c, proc_key(c, proc), 0), 0);

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
    cmd_ok(c, "SET rhai:reply:{default}:client:poison x");
    pid = rhaid_up(&r, port, extra);

    /* finish side: N tasks running, writes refused, then allowed again */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "fin-%d", i);
        assert_int_equal(th_submit(c, "default", id, slow, NULL, 10000,
                                   i == 2 ? "rhai:reply:{default}:client:poison" : NULL), 0);
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
            cmd_ok(c, "SET rhai:task:{default}:wrongtype x");
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
    cmd_ok(c, "HSET rhai:task:{default}:rec-1 id rec-1 script 42 worker_id default status running "
              "attempts 1");
    cmd_ok(c, "SET rhai:task:{default}:wrongtype2 x");
    cmd_ok(c, "RPUSH rhai:processing:{default}:ghost wrongtype2 rec-1");
    cmd_ok(c, "SADD rhai:workers {default}:ghost");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "rec-1", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_int_equal(t.attempts, 2);
    rh_task_clear(&t);
    assert_int_equal(th_cmd_int(c, "EXISTS rhai:processing:{default}:ghost"), 0);
    assert_int_equal(th_cmd_int(c, "SISMEMBER rhai:workers {default}:ghost"), 0);

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_shared_reply_list_and_the_index_trim_in_batches),
        cmocka_unit_test(test_the_finish_of_an_already_final_task_is_skipped),
        cmocka_unit_test(test_a_refused_key_fails_alone_inside_a_batch),
        cmocka_unit_test(test_finishes_wait_for_the_call_in_flight),
    };
    return cmocka_run_group_tests_name("batch_finish", tests, NULL, NULL);
}
