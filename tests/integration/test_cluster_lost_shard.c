/* test_cluster_lost_shard.c -- a Redis Cluster that lost a shard (a master
 * and its replica killed -9, nobody to take over), and one whose slots are
 * not all served (CLUSTERDOWN), as rhaictl and the sync client meet them;
 * ctest label "cluster".
 *
 * A careless operator's cluster: worker id L lives on the shard that is
 * lost, worker id S on one that survives, and the survivors run with
 * cluster-require-full-coverage no, so S's keys still answer. Then:
 *
 *  1. `rhaictl queue pause S` / `resume S` work: before, they (and the
 *     live-instance check of submit) read the heartbeat of every instance
 *     of every worker id, L's too, and failed with exit 5 after 10 s.
 *  2. `rhaictl task show ID` of a task of L without a hint exits 5 (Redis
 *     unreachable): before, the failed search printed an error and then
 *     "no task ID" with exit 7, a guess.
 *  3. rhai_submit to S of a task whose hint rhai:taskw:{ID} is in L's slots
 *     queues the task and reports "may have been queued": before, "task
 *     ID was not sent" while its hash and queue entry were written.
 *  4. On a one-node cluster missing some slots (cluster_state:fail, every
 *     key answered CLUSTERDOWN), rhaictl waits the router's 10 s and exits
 *     5 naming CLUSTERDOWN: before, a one-slot command got the CLUSTERDOWN
 *     reply back at once and rhaictl exited 1 (and so during any failover
 *     of a cluster with full coverage required).
 *  5. rhai-web: /api/queues (every worker id) answers 503 with a JSON
 *     error, and /api/tasks?worker=S answers 200 at once, every time:
 *     before, the overview's chart sampler held the handlers' lock for the
 *     router's 10 s retry of L's shard every 5 s, so S's requests waited
 *     up to 10 s behind it.
 *
 * Every wait polls against a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "common/common.h"
#include "common/rcluster.h"
#include "th_cluster.h"
#include "harness.h"

static th_cluster g_c;
static char g_lost[16], g_live[16];     /* worker ids L and S */
static int g_lost_master = -1;
static char g_seed[64];                 /* a node of a surviving shard */
static char g_ctl[512];
static char g_hint_lost[32];            /* an id whose rhai:taskw:{ID} is L's shard's */

static int slot_of(const char *key)
{
    return rh_keyslot(key, strlen(key));
}

static void node_cmd(int i, const char *fmt, const char *arg)
{
    redisContext *c = th_cluster_connect(&g_c, i);
    redisReply *r;

    assert_non_null(c);
    r = redisCommand(c, fmt, arg);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
}

/* rhaictl ARGS against url; its exit code, its output in dir/out. */
static int ctl(const char *url, const char *args)
{
    return th_sh("%s --redis-url %s %s > %s/out 2>&1", g_ctl, url, args, g_c.dir);
}

static int out_has(const char *what)
{
    return th_sh("grep -q '%s' %s/out", what, g_c.dir) == 0;
}

/* Node i's view of node j: "fail" (not "fail?") in its CLUSTER NODES flags. */
static int seen_failed(int i, int j)
{
    redisContext *c = th_cluster_connect(&g_c, i);
    redisReply *r = c ? redisCommand(c, "CLUSTER NODES") : NULL;
    int failed = 0;

    for (const char *line = r && r->type == REDIS_REPLY_STRING ? r->str : NULL; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char flags[128] = "";
        if (strncmp(line, g_c.node[j].id, strlen(g_c.node[j].id)) == 0 &&
            sscanf(line, "%*s %*s %127s", flags) == 1)
            failed = strstr(flags, "fail") != NULL && strstr(flags, "fail?") == NULL;
    }
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return failed;
}

static void test_rhaictl_serves_the_surviving_worker_id(void **state)
{
    (void)state;
    assert_int_equal(ctl(g_seed, "queue pause"), 2);    /* usage: the binary runs */
    {
        char args[64];
        snprintf(args, sizeof args, "queue pause %s", g_live);
        assert_int_equal(ctl(g_seed, args), 0);
        snprintf(args, sizeof args, "queue resume %s", g_live);
        assert_int_equal(ctl(g_seed, args), 0);
        snprintf(args, sizeof args, "tasks --worker %s --status running", g_live);
        assert_int_equal(ctl(g_seed, args), 0);
    }
}

static void test_task_show_of_a_task_on_the_lost_shard_is_unreachable_not_unknown(
    void **state)
{
    (void)state;
    assert_int_equal(ctl(g_seed, "task show lost-1"), 5);
    assert_true(out_has("no node answered"));
    assert_false(out_has("no task"));
}

static void test_a_submit_whose_hint_is_on_the_lost_shard_may_have_been_queued(
    void **state)
{
    const char *id = g_hint_lost;
    char key[RH_KEY_MAX], out[RHAI_ID_MAX];
    rhai_client *cl = NULL;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };
    redisContext *c;
    int live_master;
    (void)state;

    assert_true(id[0] != '\0');
    assert_int_equal(rhai_client_connect(g_seed, NULL, &cl, &err), 0);
    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, g_live), 0);
    assert_int_equal(rhai_task_set_id(t, id), 0);
    assert_int_equal(rhai_submit(cl, t, out, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "may have been queued"));
    rhai_task_free(t);
    rhai_client_free(cl);

    /* and it was: its hash and its queue entry are on S's shard */
    snprintf(key, sizeof key, "{%s}", g_live);
    live_master = th_cluster_owner(&g_c, slot_of(key), -1);
    assert_true(live_master >= 0);
    assert_non_null(c = th_cluster_connect(&g_c, live_master));
    assert_int_equal(th_cmd_int(c, "EXISTS %s", rh_key_task(key, "rhai", g_live, id)), 1);
    redisFree(c);
}

static void test_clusterdown_is_unreachable_after_the_retry_not_an_error_at_once(
    void **state)
{
    th_redis one;
    redisContext *c;
    redisReply *r = NULL;
    int down = 0;
    (void)state;

    assert_int_equal(th_redis_start_cluster(&one), 0);
    assert_non_null(c = th_redis_connect(&one));
    r = redisCommand(c, "CLUSTER DELSLOTSRANGE 16000 16383");
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    for (int i = 0; i < 100 && !down; i++) {
        r = redisCommand(c, "CLUSTER INFO");
        down = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:fail");
        if (r)
            freeReplyObject(r);
        if (!down)
            usleep(100000);
    }
    redisFree(c);
    assert_true(down);
    {
        char args[64];
        snprintf(args, sizeof args, "queue pause %s", g_live);
        assert_int_equal(ctl(one.url, args), 5);
    }
    assert_true(out_has("CLUSTERDOWN"));
    assert_true(out_has("no node answered"));
    th_redis_stop(&one);
}

/* GET 'path' from rhai-web on 'port' with a bearer token: the status
 * (-1: no answer within 30 s) and the body's start into body. */
static int web_get(int port, const char *path, char *body, size_t n)
{
    struct sockaddr_in sa;
    struct timeval tv = { 30, 0 };
    char req[512], buf[8192];
    size_t len = 0;
    ssize_t r;
    int fd, status = -1, k;
    const char *sep;

    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    k = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Authorization: Bearer lost-shard-admin-token-0123\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, (size_t)k) != k) {
        close(fd);
        return -1;
    }
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        return -1;
    sep = strstr(buf, "\r\n\r\n");
    snprintf(body, n, "%s", sep ? sep + 4 : "");
    return status;
}

static void test_web_serves_the_surviving_worker_id_without_waiting(void **state)
{
    char bin[512], tok[400], log[400], line[256], path[128], body[8192], bad[400] = "";
    char *argv[] = { bin, "--listen", "127.0.0.1:0", "--redis-url", g_seed,
                     "--admin-token-file", tok, NULL };
    int port = 0;
    int64_t t0, deadline;
    pid_t pid;
    (void)state;

    th_bin("rhai-web", bin, sizeof bin);
    snprintf(tok, sizeof tok, "%s/admin.tokens", g_c.dir);
    snprintf(log, sizeof log, "%s/rhai-web.log", g_c.dir);
    assert_int_equal(th_sh("umask 077; echo 'alice lost-shard-admin-token-0123' > %s", tok), 0);
    assert_true((pid = th_spawn(argv, NULL, log)) > 0);
    for (deadline = rh_mono_ms() + 10000; rh_mono_ms() < deadline && port == 0;) {
        FILE *f = fopen(log, "r");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "listening on http://127.0.0.1:%d", &port) == 1)
                break;
        if (f)
            fclose(f);
        if (port == 0)
            usleep(20000);
    }
    if (port == 0)
        th_stop(pid, 5000);
    assert_int_not_equal(port, 0);

    /* what needs L's shard: 503 and a JSON error naming the node */
    if (web_get(port, "/api/queues", body, sizeof body) != 503 ||
        strstr(body, "{\"error\":") == NULL || strstr(body, "no node answered") == NULL)
        snprintf(bad, sizeof bad, "GET /api/queues: %.200s", body);
    /* S's tasks, for 12 s (the sampler's steps are 5 s): each at once */
    snprintf(path, sizeof path, "/api/tasks?worker=%s&limit=1", g_live);
    for (deadline = rh_mono_ms() + 12000; !bad[0] && rh_mono_ms() < deadline;) {
        int st;
        t0 = rh_mono_ms();
        st = web_get(port, path, body, sizeof body);
        if (st != 200 || rh_mono_ms() - t0 > 3000)
            snprintf(bad, sizeof bad, "GET %s: %d after %lld ms: %.200s", path, st,
                     (long long)(rh_mono_ms() - t0), body);
        usleep(250000);
    }
    assert_int_equal(th_stop(pid, 10000), 0);
    if (bad[0])
        fail_msg("%s", bad);
}

static int setup(void **state)
{
    char w[3][16], key[RH_KEY_MAX];
    int reg, m[3], lost_replica, seed = -1;
    (void)state;

    if (th_cluster_start(&g_c) != 0 || th_cluster_pick_workers(&g_c, "ls", 3, w, NULL) != 0)
        return -1;
    th_bin("rhaictl", g_ctl, sizeof g_ctl);
    /* L on a master that holds neither the registry nor S; S anywhere else */
    reg = th_cluster_owner(&g_c, slot_of(rh_key_workers(key, "rhai")), -1);
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "{%s}", w[i]);
        m[i] = th_cluster_owner(&g_c, slot_of(key), -1);
    }
    for (int i = 0; i < 3 && g_lost[0] == '\0'; i++)
        if (m[i] != reg) {
            memcpy(g_lost, w[i], sizeof g_lost);
            g_lost_master = m[i];
        }
    for (int i = 0; i < 3 && g_live[0] == '\0'; i++)
        if (m[i] != g_lost_master)
            memcpy(g_live, w[i], sizeof g_live);
    if (g_lost_master < 0 || g_live[0] == '\0')
        return -1;
    lost_replica = th_cluster_replica_of(&g_c, g_lost_master);
    for (int i = 0; i < TH_CLUSTER_N && seed < 0; i++)
        if (i != g_lost_master && i != lost_replica)
            seed = i;
    snprintf(g_seed, sizeof g_seed, "redis://127.0.0.1:%d", g_c.node[seed].port);

    /* an instance of each (a heartbeat without TTL: live), and a task of L
     * without a hint (as rhaid's cron firings make them) */
    {
        redisContext *c = th_cluster_connect(&g_c, seed);
        const char *ws[2] = { g_lost, g_live };
        if (!c)
            return -1;
        for (int i = 0; i < 2; i++) {
            char member[64];
            snprintf(member, sizeof member, "{%s}:i1", ws[i]);
            freeReplyObject(th_rt_command(c, "SADD rhai:workers %s", member));
            freeReplyObject(th_rt_command(c, "HSET %s pid 1 protocol 2",
                                          rh_key_worker(key, "rhai", ws[i], "i1")));
        }
        freeReplyObject(th_rt_command(c, "HSET %s id lost-1 status queued",
                                      rh_key_task(key, "rhai", g_lost, "lost-1")));
        redisFree(c);
    }

    for (int i = 0; i < 10000 && !g_hint_lost[0]; i++) {
        char cand[32];
        snprintf(cand, sizeof cand, "h-%d", i);
        if (th_cluster_owner(&g_c, slot_of(rh_key_taskw(key, "rhai", cand)), -1) ==
            g_lost_master)
            snprintf(g_hint_lost, sizeof g_hint_lost, "%s", cand);
    }

    /* the survivors serve their slots alone; then the shard of L is lost
     * (its replica first, so that it is not promoted) */
    for (int i = 0; i < TH_CLUSTER_N; i++)
        if (i != g_lost_master && i != lost_replica)
            node_cmd(i, "CONFIG SET cluster-require-full-coverage %s", "no");
    th_cluster_kill(&g_c, lost_replica);
    th_cluster_kill(&g_c, g_lost_master);
    for (int i = 0; i < 300 && !seen_failed(seed, g_lost_master); i++)
        usleep(100000);
    return seen_failed(seed, g_lost_master) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_cluster_stop(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rhaictl_serves_the_surviving_worker_id),
        cmocka_unit_test(test_task_show_of_a_task_on_the_lost_shard_is_unreachable_not_unknown),
        cmocka_unit_test(test_a_submit_whose_hint_is_on_the_lost_shard_may_have_been_queued),
        cmocka_unit_test(test_clusterdown_is_unreachable_after_the_retry_not_an_error_at_once),
        cmocka_unit_test(test_web_serves_the_surviving_worker_id_without_waiting),
    };
    return cmocka_run_group_tests_name("cluster_lost_shard", tests, setup, teardown);
}
