/* test_cluster_failover.c -- rhaid follows its worker id's slot on a real
 * Redis Cluster (3 masters, 3 replicas, th_cluster), ctest label "cluster".
 *
 * One rhaid serves worker id W, given the seed URL of a node that does not
 * serve slot({W}). In order, on one cluster:
 *
 *  1. it runs tasks (its connections point at the master of the slot);
 *  2. the slot is put in migration to another master and every key of it
 *     moved there by hand (th_cluster_migrate_begin/_key), without the
 *     final SETSLOT: the old master now answers ASK for each of W's keys.
 *     rhaid must follow ASK (ASKING + the command on the target): its
 *     heartbeat, written on the target, keeps changing. Before the fix the
 *     ASK came back as an error and the heartbeat on the target froze.
 *  3. the migration ends (MOVED from then on): tasks run again;
 *  4. the master now serving the slot is killed -9; once its replica took
 *     over, tasks submitted afterwards run. Before the fix rhaid kept
 *     reconnecting to the dead node and the tasks timed out.
 *
 * An async client (rhai_async_*) made at the start runs tasks in 1, 3
 * and after 4: its pop lane for W's slot follows the MOVED of 3 to the
 * master then killed, and from there re-reads the map (nobody says MOVED for a
 * dead node) to the promoted replica. Submits written to the dead node's
 * connection before the client saw it die end RHAI_ECONN (they may have
 * run: the router's rule); they are submitted again.
 *
 * Every wait polls against a deadline; nothing sleeps for timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "rhai/async.h"
#include "common/rcluster.h"
#include "th_cluster.h"
#include "harness.h"
#include "th_run.h"

static th_cluster g_c;
static char g_worker[16] = "fw";
static int g_slot;
static int g_to;                      /* the master the slot moves to */
static pid_t g_rhaid = -1;
static char g_seed[64];
static rhai_client *g_cl;
static uv_loop_t g_loop;
static rhai_async *g_async;

/* One async task: its number and how it ended. */
typedef struct atask {
    int  n, calls, status, ok;
    char why[128];
} atask;

static void on_adone(rhai_async *a, int status, const rhai_result *res, void *data)
{
    atask *t = data;
    char want[32];

    (void)a;
    t->calls++;
    t->status = status;
    if (status != 0)
        return;
    snprintf(want, sizeof want, "%d", 2 * t->n);
    t->ok = strcmp(rhai_result_status_name(res), "done") == 0 &&
            strcmp(rhai_result_output(res), want) == 0;
    if (!t->ok)
        snprintf(t->why, sizeof t->why, "%s %s", rhai_result_status_name(res),
                 rhai_result_output(res));
}

/* Run "i * 2" for i in [from, from + n) through the async client, all
 * submitted at once. A submit that ends RHAI_ECONN (written to a node
 * that died before answering: it may have run, the router does not send
 * it again) is submitted again, at most 'rounds' times in all. */
static void async_run_n(int from, int n, int rounds)
{
    atask *ts = calloc((size_t)n, sizeof *ts);
    rhai_error err = { 0, "" };
    int left = n;

    assert_non_null(ts);
    for (int round = 0; round < rounds && left > 0; round++) {
        int sent = 0;
        for (int i = 0; i < n; i++) {
            char script[32];
            rhai_task *t = NULL;
            if (ts[i].ok)
                continue;
            ts[i].n = from + i;
            ts[i].calls = 0;
            snprintf(script, sizeof script, "%d * 2", from + i);
            assert_int_equal(rhai_task_new(script, &t), 0);
            assert_int_equal(rhai_task_set_worker(t, g_worker), 0);
            assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
            if (rhai_async_submit(g_async, t, 30000, on_adone, &ts[i], &err) != 0)
                fail_msg("async submit %d: %s", from + i, err.msg);
            rhai_task_free(t);
            sent++;
        }
        for (;;) {
            int waiting = 0;
            for (int i = 0; i < n; i++)
                waiting += !ts[i].ok && ts[i].calls == 0;
            if (waiting == 0)
                break;
            uv_run(&g_loop, UV_RUN_ONCE);
        }
        left = 0;
        for (int i = 0; i < n; i++) {
            if (!ts[i].ok && ts[i].status != RHAI_ECONN)
                fail_msg("async task %d: %s %s", from + i, rhai_err_name(ts[i].status),
                         ts[i].why);
            left += !ts[i].ok;
        }
        (void)sent;
    }
    if (left > 0)
        fail_msg("async: %d of %d tasks still RHAI_ECONN after %d rounds", left, n, rounds);
    free(ts);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t rhaid_spawn(const char *worker)
{
    char bin[512], data[400], log[400];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", g_seed,
                     "--worker-id", (char *)worker, "--concurrency", "1",
                     "--data-dir", data, "--log-level", "debug", NULL };

    snprintf(data, sizeof data, "%s/data-%s", g_c.dir, worker);
    snprintf(log, sizeof log, "%s/rhaid-%s.log", g_c.dir, worker);
    th_sh("chmod o+x %s", g_c.dir);       /* executors (nobody) reach the data dir */
    return th_spawn(argv, NULL, log);
}

/* Run "N * 2" on W; the output is 2N. */
static void run_on(int n)
{
    th_run_double(g_cl, g_worker, n, 30000, 0, g_c.dir, 150);
}

static void test_rhaid_runs_tasks_on_the_master_of_its_slot(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        run_on(i);
    async_run_n(100, 3, 1);
}

/* The key of W's heartbeat hash on node i (ASKING first: the node may be
 * importing the slot), copied into key; 0 or -1. */
static int heartbeat_key(int i, char *key, size_t n)
{
    redisContext *rc = th_cluster_connect(&g_c, i);
    redisReply *r;
    char want[64];
    int found = -1;

    if (rc == NULL)
        return -1;
    snprintf(want, sizeof want, "rhai:worker:{%s}:", g_worker);
    r = redisCommand(rc, "CLUSTER GETKEYSINSLOT %d 1000", g_slot);
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++)
        if (strncmp(r->element[k]->str, want, strlen(want)) == 0) {
            snprintf(key, n, "%s", r->element[k]->str);
            found = 0;
        }
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return found;
}

/* HGET key field on node i with ASKING; "" when absent. */
static void hget_asking(int i, const char *key, const char *field, char *out, size_t n)
{
    redisContext *rc = th_cluster_connect(&g_c, i);
    redisReply *r;

    out[0] = '\0';
    if (rc == NULL)
        return;
    redisAppendCommand(rc, "ASKING");
    redisAppendCommand(rc, "HGET %s %s", key, field);
    if (redisGetReply(rc, (void **)&r) == REDIS_OK && r)
        freeReplyObject(r);
    if (redisGetReply(rc, (void **)&r) == REDIS_OK && r) {
        if (r->type == REDIS_REPLY_STRING)
            snprintf(out, n, "%s", r->str);
        freeReplyObject(r);
    }
    redisFree(rc);
}

static void test_rhaid_follows_ask_while_its_slot_migrates_then_moved(void **state)
{
    int from = th_cluster_owner(&g_c, g_slot, -1), to = g_to;
    char key[256], first[64], now[64];
    int64_t deadline;
    (void)state;

    assert_true(from >= 0);
    assert_int_equal(th_cluster_migrate_begin(&g_c, g_slot, to), 0);
    /* every key of the slot to the target: the source then answers ASK for
     * each of them (new keys included), the target serves them after ASKING */
    deadline = now_ms() + 30000;
    for (;;) {
        redisContext *rc = th_cluster_connect(&g_c, from);
        redisReply *r;
        size_t left;
        assert_non_null(rc);
        r = redisCommand(rc, "CLUSTER GETKEYSINSLOT %d 1000", g_slot);
        assert_non_null(r);
        left = r->elements;
        for (size_t k = 0; k < r->elements; k++)
            assert_int_equal(th_cluster_migrate_key(&g_c, g_slot, to, r->element[k]->str), 0);
        freeReplyObject(r);
        redisFree(rc);
        if (left == 0)
            break;
        assert_true(now_ms() < deadline);
    }
    assert_int_equal(heartbeat_key(to, key, sizeof key), 0);
    hget_asking(to, key, "heartbeat_at", first, sizeof first);
    assert_true(first[0] != '\0');
    /* rhaid beats every second: the hash on the target must change */
    deadline = now_ms() + 15000;
    for (;;) {
        hget_asking(to, key, "heartbeat_at", now, sizeof now);
        if (now[0] && strcmp(now, first) != 0)
            break;
        if (now_ms() > deadline) {
            th_sh("grep -i 'ask\\|moved\\|remap\\|routed' %s/rhaid-%s.log | tail -10 >&2",
                  g_c.dir, g_worker);
            fail_msg("rhaid's heartbeat on the importing node stayed at %s", first);
        }
        usleep(50000);                /* poll interval */
    }
    assert_int_equal(th_cluster_migrate_end(&g_c, g_slot, to), 0);
    assert_int_equal(th_cluster_owner(&g_c, g_slot, -1), to);
    for (int i = 10; i < 13; i++)
        run_on(i);
    async_run_n(110, 3, 1);              /* its lane follows MOVED to 'to' */
}

static void test_rhaid_runs_tasks_submitted_after_a_kill_9_of_its_master(void **state)
{
    int m = th_cluster_owner(&g_c, g_slot, -1);
    rhai_error err = { 0, "" };
    (void)state;

    assert_true(m >= 0);
    assert_int_equal(th_cluster_kill_master(&g_c, m, 60000), 0);
    assert_true(th_cluster_owner(&g_c, g_slot, -1) != m);
    /* a client of its own: the old one's connection to the dead node would
     * fail its first command ("may have run"), which is the sync client's
     * rule, not what this test is about */
    rhai_client_free(g_cl);
    g_cl = NULL;
    if (rhai_client_connect(g_seed, NULL, &g_cl, &err) != 0)
        fail_msg("connect: %s", err.msg);
    for (int i = 20; i < 25; i++)
        run_on(i);
    async_run_n(120, 5, 3);
}

static void test_rhaid_drains_and_exits_0(void **state)
{
    int st;
    (void)state;

    st = th_stop(g_rhaid, 15000);
    g_rhaid = -1;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int setup(void **state)
{
    char tag[20];
    rhai_error err = { 0, "" };
    int own, seed = -1;
    (void)state;

    if (th_cluster_start(&g_c) != 0)
        return -1;
    snprintf(tag, sizeof tag, "{%s}", g_worker);
    g_slot = rh_keyslot(tag, strlen(tag));
    own = th_cluster_owner(&g_c, g_slot, -1);
    g_to = -1;
    for (int i = 0; i < TH_CLUSTER_N && g_to < 0; i++)
        if (i != own && th_cluster_replica_of(&g_c, i) >= 0)
            g_to = i;                 /* another master (it has a replica) */
    for (int i = 0; i < TH_CLUSTER_N && seed < 0; i++)
        if (i != own && i != g_to)
            seed = i;                 /* neither serves W first, nor is killed */
    if (own < 0 || g_to < 0 || seed < 0)
        return -1;
    snprintf(g_seed, sizeof g_seed, "redis://127.0.0.1:%d", g_c.node[seed].port);
    if ((g_rhaid = rhaid_spawn(g_worker)) < 0)
        return -1;
    if (rhai_client_connect(g_seed, NULL, &g_cl, &err) != 0) {
        fprintf(stderr, "connect: %s\n", err.msg);
        return -1;
    }
    if (uv_loop_init(&g_loop) != 0 || rhai_async_new(&g_loop, g_seed, NULL, &g_async, &err) != 0) {
        fprintf(stderr, "async: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rhai_client_free(g_cl);
    if (g_async) {
        rhai_async_close(g_async, NULL, NULL);
        uv_run(&g_loop, UV_RUN_DEFAULT);
        uv_loop_close(&g_loop);
    }
    if (g_rhaid > 0)
        th_stop(g_rhaid, 10000);
    th_cluster_stop(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rhaid_runs_tasks_on_the_master_of_its_slot),
        cmocka_unit_test(test_rhaid_follows_ask_while_its_slot_migrates_then_moved),
        cmocka_unit_test(test_rhaid_runs_tasks_submitted_after_a_kill_9_of_its_master),
        cmocka_unit_test(test_rhaid_drains_and_exits_0),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
