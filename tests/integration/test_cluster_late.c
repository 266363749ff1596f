/* test_cluster_late.c -- rhaid started while its Redis Cluster does not
 * answer (a careless start order: rhaid before the cluster), ctest label
 * "cluster".
 *
 * The seed node rhaid is given is stopped (SIGSTOP: connects are accepted,
 * nothing is answered), so rhaid's probe at start fails and it starts
 * anyway, taking the seed for a plain Redis. Then the seed answers again.
 * The first redirect tells rhaid it is a cluster: it must route by slot
 * from then on (log event redis_cluster_found) as if the probe had seen it:
 *
 *  1. tasks of W run (the connections follow the MOVED to slot({W})'s
 *     master);
 *  2. that master is killed -9; once its replica took over, tasks
 *     submitted afterwards run. Without the router made at the redirect,
 *     rhaid kept reconnecting to the dead node and the tasks timed out.
 *
 * Every wait polls against a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "common/rcluster.h"
#include "th_cluster.h"
#include "harness.h"
#include "th_run.h"

static th_cluster g_c;
static const char *g_worker = "lw";
static pid_t g_rhaid = -1;

static int log_has(const char *what)
{
    return th_sh("grep -q '%s' %s/rhaid-%s.log", what, g_c.dir, g_worker) == 0;
}

static void run_on(rhai_client *cl, int n)
{
    th_run_double(cl, g_worker, n, 40000, 20, g_c.dir, 60);
}

static void test_rhaid_started_before_its_cluster_answered_routes_once_it_does(void **state)
{
    char tag[20], seed_url[64], cl_url[64], bin[512], data[400], log[400];
    int slot, own, other = -1, seed = -1, client_node = -1;
    rhai_client *cl = NULL;
    rhai_error err = { 0, "" };
    (void)state;

    snprintf(tag, sizeof tag, "{%s}", g_worker);
    slot = rh_keyslot(tag, strlen(tag));
    own = th_cluster_owner(&g_c, slot, -1);
    assert_true(own >= 0);
    for (int s = 0; s < 16384 && other < 0; s += 1000) {
        int o = th_cluster_owner(&g_c, s, -1);
        if (o >= 0 && o != own)
            other = o;
    }
    assert_true(other >= 0);
    seed = th_cluster_replica_of(&g_c, other);      /* a replica: no election */
    assert_true(seed >= 0);
    for (int i = 0; i < TH_CLUSTER_N && client_node < 0; i++)
        if (i != own && i != seed && i != th_cluster_replica_of(&g_c, own))
            client_node = i;
    assert_true(client_node >= 0);
    snprintf(seed_url, sizeof seed_url, "redis://127.0.0.1:%d", g_c.node[seed].port);
    snprintf(cl_url, sizeof cl_url, "redis://127.0.0.1:%d", g_c.node[client_node].port);

    /* the seed answers nothing while rhaid starts */
    assert_int_equal(kill(g_c.node[seed].pid, SIGSTOP), 0);
    {
        char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", seed_url,
                         "--worker-id", (char *)g_worker, "--concurrency", "1",
                         "--data-dir", data, "--log-level", "debug", NULL };
        snprintf(data, sizeof data, "%s/data-%s", g_c.dir, g_worker);
        snprintf(log, sizeof log, "%s/rhaid-%s.log", g_c.dir, g_worker);
        th_sh("chmod o+x %s", g_c.dir);
        g_rhaid = th_spawn(argv, NULL, log);
        assert_true(g_rhaid > 0);
    }
    for (int i = 0; i < 300 && !log_has("redis_probe_failed"); i++)
        usleep(100000);
    assert_true(log_has("redis_probe_failed"));
    assert_int_equal(kill(g_c.node[seed].pid, SIGCONT), 0);
    assert_int_equal(th_cluster_wait_ok(&g_c, 60000), 0);

    /* 1. tasks run; the first redirect made rhaid a cluster client */
    assert_int_equal(rhai_client_connect(cl_url, NULL, &cl, &err), 0);
    run_on(cl, 1);
    run_on(cl, 2);
    assert_true(log_has("redis_cluster_found"));

    /* 2. W's master dies; its replica takes over; tasks run again */
    assert_int_equal(th_cluster_kill_master(&g_c, own, 60000), 0);
    run_on(cl, 3);
    run_on(cl, 4);
    rhai_client_free(cl);
}

static int setup(void **state)
{
    (void)state;
    return th_cluster_start(&g_c);
}

static int teardown(void **state)
{
    (void)state;
    if (g_rhaid > 0)
        th_stop(g_rhaid, 10000);
    th_cluster_stop(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rhaid_started_before_its_cluster_answered_routes_once_it_does),
    };
    return cmocka_run_group_tests_name("cluster_late", tests, setup, teardown);
}
