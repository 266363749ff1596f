/* test_cluster_smoke.c -- rhaid and librhai-client on a real Redis Cluster
 * (3 masters, 3 replicas, th_cluster), ctest label "cluster".
 *
 * Three worker ids whose tags {W} hash to slots of three different masters
 * each get an rhaid started with the seed URL of node 0 alone; the sync
 * client (also given the seed only) runs tasks on each and gets their
 * answers, and rhaictl (the seed only) lists the tasks of all three. So
 * one worker id's traffic
 * lives on its shard (rhaid's connections point at the master of
 * slot({W})) while the client routes each command by its key.
 *
 * It needs key layout v2 (every key of a script in the worker id's slot,
 * branch h-keys2): on v1 the take script touches rhai:task:{ID} and
 * rhai:queue:{W} and Redis answers CROSSSLOT, so the tasks are never
 * taken and the first run fails fast with a timeout.
 *
 * The async client (rhai_async_*, also given the seed only) submits to the
 * three worker ids at once and gets every reply: its submits go through
 * the async router and it pops one BLPOP lane per slot. Before wave 3 a
 * submit of another slot than the seed's node's came back MOVED and
 * failed, and one BLPOP over lists of three slots got CROSSSLOT. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "rhai/async.h"
#include "common/rcluster.h"
#include "th_cluster.h"
#include "harness.h"
#include "th_run.h"

#define NW 3

static th_cluster g_c;
static char g_worker[NW][16];
static pid_t g_rhaid[NW];
static char g_seed[64];

/* Three worker ids on three different masters. */
static void pick_workers(void)
{
    assert_int_equal(th_cluster_pick_workers(&g_c, "cw", NW, g_worker, NULL), 0);
}

static pid_t rhaid_spawn(const char *worker)
{
    char bin[512], data[400], log[400];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", g_seed,
                     "--worker-id", (char *)worker, "--concurrency", "1",
                     "--data-dir", data, NULL };

    snprintf(data, sizeof data, "%s/data-%s", g_c.dir, worker);
    snprintf(log, sizeof log, "%s/rhaid-%s.log", g_c.dir, worker);
    th_sh("chmod o+x %s", g_c.dir);       /* executors (nobody) reach the data dir */
    return th_spawn(argv, NULL, log);
}

/* Run "N * 2" on worker w with a short timeout; the output is 2N. */
static void run_on(rhai_client *c, const char *w, int n)
{
    th_run_double(c, w, n, 15000, 0, g_c.dir, 5);
}

static void test_sync_client_runs_tasks_on_three_worker_ids_on_three_shards(void **state)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    (void)state;

    if (rhai_client_connect(g_seed, NULL, &c, &err) != 0)
        fail_msg("connect: %s", err.msg);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NW; i++)
            run_on(c, g_worker[i], 10 * i + round);
    rhai_client_free(c);
}

/* rhaictl, given the seed only, finds the three worker ids' task indexes
 * on their three masters (SCAN runs on every master). */
static void test_rhaictl_tasks_lists_every_worker_id_of_every_shard(void **state)
{
    char ctl[512], out[400];
    (void)state;

    snprintf(out, sizeof out, "%s/tasks.out", g_c.dir);
    if (th_sh("%s --redis-url %s tasks > %s 2>&1", th_bin("rhaictl", ctl, sizeof ctl), g_seed,
              out) != 0) {
        th_sh("cat %s >&2", out);
        fail_msg("rhaictl tasks failed");
    }
    for (int i = 0; i < NW; i++)
        if (th_sh("grep -q '%s' %s", g_worker[i], out) != 0) {
            th_sh("cat %s >&2", out);
            fail_msg("rhaictl tasks lacks worker id %s", g_worker[i]);
        }
}

typedef struct async_run {
    int  done, ok;
    int  got[NW * 4];
    char why[256];
} async_run;

static void on_async_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    async_run *r = data;
    char want[32];
    int n;

    (void)a;
    r->done++;
    if (status != 0) {
        snprintf(r->why, sizeof r->why, "status %s", rhai_err_name(status));
        return;
    }
    /* the script was "N * 2" with N its index */
    n = atoi(rhai_result_output(res)) / 2;
    snprintf(want, sizeof want, "%d", 2 * n);
    if (n >= 0 && n < NW * 4 && strcmp(rhai_result_status_name(res), "done") == 0 &&
        strcmp(rhai_result_output(res), want) == 0 &&
        strcmp(rhai_result_worker(res), g_worker[n % NW]) == 0) {
        r->got[n]++;
        r->ok++;
    } else {
        snprintf(r->why, sizeof r->why, "task %d: %s %s on %s", n,
                 rhai_result_status_name(res), rhai_result_output(res),
                 rhai_result_worker(res));
    }
}

static void on_async_closed(rhai_async *a, void *data)
{
    (void)a;
    *(int *)data = 1;
}

/* The async client given the seed only: 4 tasks on each of the three
 * worker ids (three shards), submitted at once, all answered. */
static void test_async_client_gets_every_reply_from_three_worker_ids_on_three_shards(
    void **state)
{
    uv_loop_t loop;
    rhai_async *a = NULL;
    rhai_error err = { 0, "" };
    async_run r;
    int closed = 0;
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(uv_loop_init(&loop), 0);
    if (rhai_async_new(&loop, g_seed, NULL, &a, &err) != 0)
        fail_msg("async new: %s", err.msg);
    for (int i = 0; i < NW * 4; i++) {
        char script[32];
        rhai_task *t = NULL;
        snprintf(script, sizeof script, "%d * 2", i);
        assert_int_equal(rhai_task_new(script, &t), 0);
        assert_int_equal(rhai_task_set_worker(t, g_worker[i % NW]), 0);
        assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
        if (rhai_async_submit(a, t, 20000, on_async_done, &r, &err) != 0)
            fail_msg("submit %d: %s", i, err.msg);
        rhai_task_free(t);
    }
    while (r.done < NW * 4)
        uv_run(&loop, UV_RUN_ONCE);
    rhai_async_close(a, on_async_closed, &closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    if (r.ok != NW * 4)
        fail_msg("%d of %d answered done (%s)", r.ok, NW * 4, r.why);
    for (int i = 0; i < NW * 4; i++)
        assert_int_equal(r.got[i], 1);
}

static void test_rhaid_instances_drain_and_exit_0(void **state)
{
    (void)state;
    for (int i = 0; i < NW; i++) {
        int st = th_stop(g_rhaid[i], 15000);
        g_rhaid[i] = -1;
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
}

static int setup(void **state)
{
    (void)state;
    if (th_cluster_start(&g_c) != 0)
        return -1;
    snprintf(g_seed, sizeof g_seed, "redis://127.0.0.1:%d", g_c.node[0].port);
    pick_workers();
    for (int i = 0; i < NW; i++)
        if ((g_rhaid[i] = rhaid_spawn(g_worker[i])) < 0)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NW; i++)
        if (g_rhaid[i] > 0)
            th_stop(g_rhaid[i], 10000);
    th_cluster_stop(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_client_runs_tasks_on_three_worker_ids_on_three_shards),
        cmocka_unit_test(test_rhaictl_tasks_lists_every_worker_id_of_every_shard),
        cmocka_unit_test(test_async_client_gets_every_reply_from_three_worker_ids_on_three_shards),
        cmocka_unit_test(test_rhaid_instances_drain_and_exit_0),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
