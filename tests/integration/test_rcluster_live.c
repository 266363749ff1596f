/* test_rcluster.c -- the Redis Cluster router (src/common/rcluster*.c)
 * against a real 3-master, 3-replica cluster started by the test
 * (tests/support/th_cluster.c), and against a plain redis-server.
 *
 * The cluster is shared by the tests of the group, in order; each test
 * reads the cluster's current state (who owns what) instead of assuming
 * it, so a failover in one does not break the next. The kill -9 test is
 * last: the cluster keeps one master fewer after it. Every wait polls a
 * condition with a deadline (th_cluster.c); nothing sleeps for timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>

#include "harness.h"
#include "th_cluster.h"
#include "common/common.h"
#include "common/rcluster.h"

static th_cluster cl;

static int group_setup(void **state)
{
    (void)state;
    return th_cluster_start(&cl);
}

static int group_teardown(void **state)
{
    (void)state;
    th_cluster_stop(&cl);
    return 0;
}

/* A router seeded with the first live node. */
/* the async router's test helpers (below) */
typedef struct aslot {
    int        done;
    int        code;          /* 0: a reply */
    int        type;
    char       str[64];
    char       msg[256];
} aslot;
static void a_send(rh_acluster *a, aslot *s, const char *key, unsigned flags, ...);
static void a_wait(uv_loop_t *loop);
static rh_acluster *a_router(uv_loop_t *loop, const char *url, int64_t retry_ms);
static void a_close(uv_loop_t *loop, rh_acluster *a);

static rh_cluster *router(int64_t retry_ms)
{
    rh_cluster_opts o = { 0, retry_ms };
    rh_redis_cfg cfg;
    rh_cluster *r = NULL;
    rhai_error err;
    char url[64];
    int i = 0;

    while (cl.node[i].pid <= 0)
        i++;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", cl.node[i].port);
    assert_int_equal(rh_redis_cfg_init(&cfg, url, &err), 0);
    if (rh_cluster_open(&cfg, &o, &r, &err) != 0)
        fail_msg("rh_cluster_open: %s", err.msg);
    return r;
}

/* The command (NULL-terminated strings) routed by 'key': its reply, or
 * a failure naming the error. */
static redisReply *route_cmd(rh_cluster *r, const char *key, unsigned flags, ...)
{
    const char *argv[16];
    int argc = 0, rc;
    redisReply *rep = NULL;
    rhai_error err;
    va_list ap;

    va_start(ap, flags);
    while (argc < 16 && (argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    rc = rh_cluster_command_key(r, key, strlen(key), flags, argc, argv, NULL, &rep, &err);
    if (rc != 0)
        fail_msg("%s %s: %s", argv[0], key, err.msg);
    return rep;
}

static void expect_str(redisReply *rep, const char *want)
{
    if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS)
        fail_msg("reply type %d (%s), wanted \"%s\"", rep->type,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "", want);
    assert_string_equal(rep->str, want);
    freeReplyObject(rep);
}

/* A node-side integer reply of node i. */
static long long node_int(int i, const char *fmt, ...)
{
    redisContext *c = th_cluster_connect(&cl, i);
    redisReply *rep;
    long long v = -1;
    va_list ap;

    assert_non_null(c);
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return v;
}

/* A key "NAME{tagN}" whose slot differs from 'avoid' (a fresh slot). */
static void key_of_tag(char *buf, size_t n, const char *name, int tag)
{
    snprintf(buf, n, "%s{t%d}", name, tag);
}

static void test_keyslot_matches_cluster_keyslot_for_many_keys(void **state)
{
    redisContext *c = th_cluster_connect(&cl, 0);
    char key[64];
    (void)state;
    assert_non_null(c);
    for (int i = 0; i < 2000; i++) {
        switch (i % 4) {
        case 0: snprintf(key, sizeof key, "k%d", i); break;
        case 1: snprintf(key, sizeof key, "rhai:task:{w%d}:x", i); break;
        case 2: snprintf(key, sizeof key, "{}%d{a%d}", i, i); break;
        default: snprintf(key, sizeof key, "x{%d", i); break;
        }
        redisAppendCommand(c, "CLUSTER KEYSLOT %s", key);
    }
    for (int i = 0; i < 2000; i++) {
        redisReply *rep = NULL;
        switch (i % 4) {
        case 0: snprintf(key, sizeof key, "k%d", i); break;
        case 1: snprintf(key, sizeof key, "rhai:task:{w%d}:x", i); break;
        case 2: snprintf(key, sizeof key, "{}%d{a%d}", i, i); break;
        default: snprintf(key, sizeof key, "x{%d", i); break;
        }
        assert_int_equal(redisGetReply(c, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        if (rep->integer != rh_keyslot(key, strlen(key)))
            fail_msg("\"%s\": Redis says slot %lld, rh_keyslot %d", key, rep->integer,
                     rh_keyslot(key, strlen(key)));
        freeReplyObject(rep);
    }
    redisFree(c);
}

static void test_router_reads_the_map_of_three_masters(void **state)
{
    rh_cluster *r = router(0);
    const rh_slot_map *m = rh_cluster_map(r);
    int masters = 0;
    (void)state;
    assert_true(rh_slot_map_check(m));
    assert_false(m->single);
    assert_int_equal(m->nnodes, 6);
    assert_int_equal(rh_slot_map_covered(m), 16384);
    for (size_t i = 0; i < m->nnodes; i++)
        masters += m->nodes[i].master;
    assert_int_equal(masters, 3);
    for (int s = 0; s < 16384; s += 97)     /* the same owner as the cluster's */
        assert_int_equal(m->nodes[m->owner[s]].port, cl.node[th_cluster_owner(&cl, s, -1)].port);
    rh_cluster_free(r);
}

static void test_keys_of_many_tags_land_on_the_shard_of_their_slot(void **state)
{
    rh_cluster *r = router(0);
    int per_node[TH_CLUSTER_N] = { 0 };
    rh_cluster_stats st;
    char key[64];
    (void)state;
    for (int t = 0; t < 300; t++) {
        key_of_tag(key, sizeof key, "spread", t);
        expect_str(route_cmd(r, key, 0, "SET", key, "v", NULL), "OK");
    }
    for (int t = 0; t < 300; t++) {
        int slot, own;
        key_of_tag(key, sizeof key, "spread", t);
        slot = rh_keyslot(key, strlen(key));
        own = th_cluster_owner(&cl, slot, -1);
        assert_true(own >= 0);
        /* on the owner itself, not reached through a redirect */
        if (node_int(own, "CLUSTER COUNTKEYSINSLOT %d", slot) < 1 ||
            node_int(own, "EXISTS %s", key) != 1)
            fail_msg("%s (slot %d) is not on node %d that owns it", key, slot, own);
        per_node[own]++;
    }
    for (int i = 0, masters = 0; i < TH_CLUSTER_N; i++) {
        masters += per_node[i] > 0;
        if (i == TH_CLUSTER_N - 1)
            assert_int_equal(masters, 3);   /* every shard got some */
    }
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.moved + st.ask, 0);  /* the map was right: no redirect */
    rh_cluster_free(r);
}

static void test_a_script_with_keys_of_one_slot_runs_and_cross_slot_is_refused(void **state)
{
    static const char lua[] = "redis.call('set', KEYS[1], ARGV[1]); "
                              "redis.call('rpush', KEYS[2], ARGV[1]); "
                              "return redis.call('llen', KEYS[2])";
    rh_cluster *r = router(0);
    redisReply *rep;
    (void)state;
    for (int i = 0; i < 20; i++) {
        char k1[64], k2[64];
        snprintf(k1, sizeof k1, "rhai:task:{w%d}:1", i);
        snprintf(k2, sizeof k2, "rhai:reply:{w%d}:1", i);
        rep = route_cmd(r, k1, 0, "EVAL", lua, "2", k1, k2, "x", NULL);
        if (rep->type != REDIS_REPLY_INTEGER)
            fail_msg("EVAL on {w%d}: %s", i, rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        assert_int_equal(rep->integer, 1);
        freeReplyObject(rep);
    }
    /* keys of two slots: the error reply comes back as it is */
    rep = route_cmd(r, "{a}x", 0, "EVAL", lua, "2", "{a}x", "{b}y", "x", NULL);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(rep->str, "CROSSSLOT"));
    freeReplyObject(rep);
    rh_cluster_free(r);
}

/* Another master than the owner of slot. */
static int other_master(int slot)
{
    int own = th_cluster_owner(&cl, slot, -1);
    for (int s = 0; s < 16384; s += 61) {
        int o = th_cluster_owner(&cl, s, -1);
        if (o >= 0 && o != own)
            return o;
    }
    return -1;
}

static void test_moved_after_a_slot_is_resharded_mid_run(void **state)
{
    rh_cluster *r = router(0);
    const char *key = "moving{m1}";
    int slot = rh_keyslot(key, strlen(key)), to;
    rh_cluster_stats st;
    (void)state;
    expect_str(route_cmd(r, key, 0, "SET", key, "before", NULL), "OK");
    to = other_master(slot);
    assert_true(to >= 0);
    assert_int_equal(th_cluster_move_slot(&cl, slot, to), 0);
    /* the router still believes the old owner: MOVED, refresh, resend */
    expect_str(route_cmd(r, key, 0, "GET", key, NULL), "before");
    expect_str(route_cmd(r, key, 0, "SET", key, "after", NULL), "OK");
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.moved, 1);
    assert_true(st.refreshes >= 2);
    assert_int_equal(rh_cluster_map(r)->nodes[rh_cluster_map(r)->owner[slot]].port,
                     cl.node[to].port);
    assert_int_equal(node_int(to, "EXISTS %s", key), 1);
    rh_cluster_free(r);
}

static void test_ask_is_followed_while_a_slot_is_migrating(void **state)
{
    rh_cluster *r = router(0);
    const char *moved = "a{mig}", *stays = "b{mig}", *fresh = "c{mig}";
    int slot = rh_keyslot(moved, strlen(moved)), from, to;
    rh_cluster_stats st;
    (void)state;
    expect_str(route_cmd(r, moved, 0, "SET", moved, "1", NULL), "OK");
    expect_str(route_cmd(r, stays, 0, "SET", stays, "2", NULL), "OK");
    from = th_cluster_owner(&cl, slot, -1);
    to = other_master(slot);
    assert_int_equal(th_cluster_migrate_begin(&cl, slot, to), 0);
    assert_int_equal(th_cluster_migrate_key(&cl, slot, to, moved), 0);
    /* a key already moved: ASK -> ASKING + GET on the target */
    expect_str(route_cmd(r, moved, 0, "GET", moved, NULL), "1");
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.ask, 1);
    /* a key not moved yet: the source answers, no redirect */
    expect_str(route_cmd(r, stays, 0, "GET", stays, NULL), "2");
    /* a new key: the source has none, so ASK; it is created on the target */
    expect_str(route_cmd(r, fresh, 0, "SET", fresh, "3", NULL), "OK");
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.ask, 2);
    assert_int_equal(st.moved, 0);       /* ASK leaves the map alone */
    assert_int_equal(rh_cluster_map(r)->nodes[rh_cluster_map(r)->owner[slot]].port,
                     cl.node[from].port);
    /* source: "stays" only; target: the moved key and the new one */
    assert_int_equal(node_int(from, "CLUSTER COUNTKEYSINSLOT %d", slot), 1);
    assert_int_equal(node_int(to, "CLUSTER COUNTKEYSINSLOT %d", slot), 2);
    assert_int_equal(th_cluster_migrate_end(&cl, slot, to), 0);
    expect_str(route_cmd(r, stays, 0, "GET", stays, NULL), "2");   /* now MOVED */
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.moved, 1);
    rh_cluster_free(r);
}

/* SET key and wait until a replica has it (WAIT 1). */
static void set_replicated(rh_cluster *r, const char *key, const char *val)
{
    redisReply *rep;
    expect_str(route_cmd(r, key, 0, "SET", key, val, NULL), "OK");
    rep = route_cmd(r, key, 0, "WAIT", "1", "5000", NULL);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
}

static void test_router_follows_a_cluster_failover(void **state)
{
    rh_cluster *r = router(0);
    const char *key = "fo{failover}";
    int slot = rh_keyslot(key, strlen(key)), m, rep_node;
    rh_cluster_stats st;
    (void)state;
    set_replicated(r, key, "kept");
    m = th_cluster_owner(&cl, slot, -1);
    rep_node = th_cluster_replica_of(&cl, m);
    assert_true(rep_node >= 0);
    assert_int_equal(th_cluster_failover(&cl, rep_node, 30000), 0);
    /* the old master is a replica now and answers MOVED */
    expect_str(route_cmd(r, key, 0, "GET", key, NULL), "kept");
    expect_str(route_cmd(r, key, 0, "SET", key, "new", NULL), "OK");
    rh_cluster_get_stats(r, &st);
    assert_true(st.moved >= 1);
    assert_int_equal(rh_cluster_map(r)->nodes[rh_cluster_map(r)->owner[slot]].port,
                     cl.node[rep_node].port);
    rh_cluster_free(r);
}

static void test_router_follows_a_master_killed_mid_run(void **state)
{
    rh_cluster *r = router(30000);
    const char *key = "k9{killed}";
    int slot = rh_keyslot(key, strlen(key)), m, heir;
    rh_cluster_stats st;
    (void)state;
    set_replicated(r, key, "survives");
    m = th_cluster_owner(&cl, slot, -1);
    heir = th_cluster_replica_of(&cl, m);
    assert_true(heir >= 0);
    /* kill -9 and ask at once: the router meets a refused connection and
     * CLUSTERDOWN until the replica is elected, and keeps retrying */
    th_cluster_kill(&cl, m);
    expect_str(route_cmd(r, key, RH_CLUSTER_RESEND, "GET", key, NULL), "survives");
    rh_cluster_get_stats(r, &st);
    assert_true(st.retries >= 1);
    assert_int_equal(th_cluster_wait_ok(&cl, 30000), 0);
    expect_str(route_cmd(r, key, 0, "SET", key, "again", NULL), "OK");
    assert_int_equal(rh_cluster_map(r)->nodes[rh_cluster_map(r)->owner[slot]].port,
                     cl.node[heir].port);
    rh_cluster_free(r);
}

static void test_a_command_lost_after_sending_fails_clearly_and_is_not_resent(void **state)
{
    rh_cluster *r = router(300);
    const char *key = "x{lost}";
    const char *down[] = { "SHUTDOWN", "NOSAVE", "NOW" }, *get[] = { "GET", key };
    int slot = rh_keyslot(key, strlen(key)), m;
    redisReply *rep = NULL;
    rhai_error err;
    (void)state;
    expect_str(route_cmd(r, key, 0, "SET", key, "1", NULL), "OK");
    m = th_cluster_owner(&cl, slot, -1);
    /* the connection is lost after the command was written: without
     * RH_CLUSTER_RESEND it is not sent again, and the error says so */
    assert_int_equal(rh_cluster_command_argv(r, slot, 0, 3, down, NULL, &rep, &err),
                     RHAI_ECONN);
    assert_null(rep);
    assert_non_null(strstr(err.msg, "it may have run"));
    assert_true(th_wait(cl.node[m].pid, 10000) >= 0);
    cl.node[m].pid = -1;
    /* the node stays away longer than retry_ms: a clear error in time */
    assert_int_equal(rh_cluster_command_argv(r, slot, RH_CLUSTER_RESEND, 2, get, NULL, &rep,
                                             &err), RHAI_ECONN);
    assert_null(rep);
    assert_non_null(strstr(err.msg, "no node answered within 300 ms"));
    rh_cluster_free(r);
    {   /* the same on the async router, on a master still up */
        uv_loop_t loop;
        rh_acluster *a;
        aslot as;
        char k[32];
        int os = -1, o = -1;
        for (int t = 0; t < 1000 && o < 0; t++) {
            snprintf(k, sizeof k, "al{%d}", t);
            os = rh_keyslot(k, strlen(k));
            o = th_cluster_owner(&cl, os, -1);
        }
        assert_true(o >= 0);
        assert_int_equal(uv_loop_init(&loop), 0);
        a = a_router(&loop, NULL, 300);
        a_send(a, &as, k, 0, "GET", k, NULL);       /* the node is up */
        a_wait(&loop);
        assert_int_equal(as.code, 0);
        a_send(a, &as, k, 0, "SHUTDOWN", "NOSAVE", "NOW", NULL);
        a_wait(&loop);
        assert_int_equal(as.code, RHAI_ECONN);
        assert_non_null(strstr(as.msg, "it may have run"));
        assert_true(th_wait(cl.node[o].pid, 10000) >= 0);
        cl.node[o].pid = -1;
        a_close(&loop, a);
    }
}

static void test_a_server_without_cluster_support_is_one_node_with_every_slot(void **state)
{
    th_redis s;
    rh_redis_cfg cfg;
    rh_cluster *r = NULL;
    rhai_error err;
    (void)state;
    assert_int_equal(th_redis_start(&s, 0), 0);
    assert_int_equal(rh_redis_cfg_init(&cfg, s.url, &err), 0);
    assert_int_equal(rh_cluster_open(&cfg, NULL, &r, &err), 0);
    assert_true(rh_cluster_map(r)->single);
    assert_int_equal(rh_slot_map_covered(rh_cluster_map(r)), 16384);
    expect_str(route_cmd(r, "{a}x", 0, "SET", "{a}x", "1", NULL), "OK");
    expect_str(route_cmd(r, "{b}y", 0, "SET", "{b}y", "2", NULL), "OK");
    {   /* keys of two slots in one script: fine on one server */
        redisReply *rep = route_cmd(r, "{a}x", 0, "EVAL", "return redis.call('mget', KEYS[1], "
                               "KEYS[2])[2]", "2", "{a}x", "{b}y", NULL);
        expect_str(rep, "2");
    }
    rh_cluster_free(r);
    th_redis_stop(&s);
    /* nobody there: a clear connection error */
    assert_int_equal(rh_cluster_open(&cfg, NULL, &r, &err), RHAI_ECONN);
    assert_null(r);
    assert_true(err.msg[0] != '\0');
}

/* ======================== the async router ======================== */


static int a_pending;

static void a_cb(rh_acluster *c, redisReply *r, const rhai_error *err, void *priv)
{
    aslot *s = priv;
    (void)c;
    assert_int_equal(s->done, 0);        /* exactly once */
    s->done = 1;
    a_pending--;
    if (r) {
        s->type = r->type;
        if (r->str)
            snprintf(s->str, sizeof s->str, "%s", r->str);
    } else {
        assert_non_null(err);
        s->code = err->code;
        snprintf(s->msg, sizeof s->msg, "%s", err->msg);
    }
}

/* Send a command routed by key into slot s (NULL-terminated strings). */
static void a_send(rh_acluster *a, aslot *s, const char *key, unsigned flags, ...)
{
    const char *argv[16];
    int argc = 0;
    rhai_error err;
    va_list ap;

    va_start(ap, flags);
    while (argc < 16 && (argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    memset(s, 0, sizeof *s);
    if (rh_acluster_command_argv(a, rh_keyslot(key, strlen(key)), flags, a_cb, s, argc, argv,
                                 NULL, &err) != 0)
        fail_msg("rh_acluster_command_argv: %s", err.msg);
    a_pending++;
}

/* Run the loop until every sent command has its callback (the ctest
 * TIMEOUT is the bound: every request ends by its retry_ms). */
static void a_wait(uv_loop_t *loop)
{
    while (a_pending > 0)
        uv_run(loop, UV_RUN_ONCE);
}

static void a_expect(const aslot *s, const char *want)
{
    assert_true(s->done);
    if (s->code != 0 || s->type == REDIS_REPLY_ERROR)
        fail_msg("wanted \"%s\", got %s", want, s->code ? s->msg : s->str);
    assert_string_equal(s->str, want);
}

static rh_acluster *a_router(uv_loop_t *loop, const char *url, int64_t retry_ms)
{
    rh_cluster_opts o = { 0, retry_ms };
    rh_redis_cfg cfg;
    rh_acluster *a = NULL;
    rhai_error err;
    char buf[64];
    int i = 0;

    if (!url) {
        while (cl.node[i].pid <= 0)
            i++;
        snprintf(buf, sizeof buf, "redis://127.0.0.1:%d", cl.node[i].port);
        url = buf;
    }
    assert_int_equal(rh_redis_cfg_init(&cfg, url, &err), 0);
    if (rh_acluster_new(loop, &cfg, &o, &a, &err) != 0)
        fail_msg("rh_acluster_new: %s", err.msg);
    return a;
}

static int a_closed;
static void a_on_closed(rh_acluster *c, void *data)
{
    (void)c;
    (void)data;
    a_closed++;
}

static void a_close(uv_loop_t *loop, rh_acluster *a)
{
    a_closed = 0;
    rh_acluster_close(a, a_on_closed, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(a_closed, 1);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_async_router_spreads_many_tags_and_reads_them_back(void **state)
{
    static aslot set[300], get[300];
    uv_loop_t loop;
    rh_acluster *a;
    rh_cluster_stats st;
    char key[300][32];
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, NULL, 0);
    for (int t = 0; t < 300; t++) {      /* sent before the map is read */
        snprintf(key[t], sizeof key[t], "as{t%d}", t);
        a_send(a, &set[t], key[t], 0, "SET", key[t], key[t], NULL);
    }
    a_wait(&loop);
    for (int t = 0; t < 300; t++) {
        a_expect(&set[t], "OK");
        a_send(a, &get[t], key[t], 0, "GET", key[t], NULL);
    }
    a_wait(&loop);
    for (int t = 0; t < 300; t++) {
        int slot = rh_keyslot(key[t], strlen(key[t]));
        a_expect(&get[t], key[t]);
        if (t % 10 == 0)
            assert_int_equal(node_int(th_cluster_owner(&cl, slot, -1), "EXISTS %s", key[t]), 1);
    }
    rh_acluster_get_stats(a, &st);
    assert_int_equal(st.moved + st.ask, 0);
    assert_int_equal(rh_slot_map_covered(rh_acluster_map(a)), 16384);
    a_close(&loop, a);
}

static void test_async_router_follows_ask_and_moved_of_a_migration(void **state)
{
    uv_loop_t loop;
    rh_acluster *a;
    rh_cluster_stats st;
    aslot s1, s2;
    const char *moved = "a{amig}", *stays = "b{amig}";
    int slot = rh_keyslot(moved, strlen(moved)), to;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, NULL, 0);
    a_send(a, &s1, moved, 0, "SET", moved, "1", NULL);
    a_send(a, &s2, stays, 0, "SET", stays, "2", NULL);
    a_wait(&loop);
    a_expect(&s1, "OK");
    a_expect(&s2, "OK");
    to = other_master(slot);
    assert_int_equal(th_cluster_migrate_begin(&cl, slot, to), 0);
    assert_int_equal(th_cluster_migrate_key(&cl, slot, to, moved), 0);
    a_send(a, &s1, moved, 0, "GET", moved, NULL);
    a_send(a, &s2, stays, 0, "GET", stays, NULL);
    a_wait(&loop);
    a_expect(&s1, "1");
    a_expect(&s2, "2");
    rh_acluster_get_stats(a, &st);
    assert_int_equal(st.ask, 1);
    assert_int_equal(th_cluster_migrate_end(&cl, slot, to), 0);
    a_send(a, &s2, stays, 0, "GET", stays, NULL);
    a_wait(&loop);
    a_expect(&s2, "2");
    rh_acluster_get_stats(a, &st);
    assert_int_equal(st.moved, 1);
    a_close(&loop, a);
}

static void test_async_router_follows_a_cluster_failover(void **state)
{
    uv_loop_t loop;
    rh_acluster *a;
    rh_cluster_stats st;
    aslot s;
    const char *key = "afo{afailover}";
    int slot = rh_keyslot(key, strlen(key)), m, r;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, NULL, 0);
    a_send(a, &s, key, 0, "SET", key, "kept", NULL);
    a_wait(&loop);
    a_expect(&s, "OK");
    a_send(a, &s, key, 0, "WAIT", "1", "5000", NULL);
    a_wait(&loop);
    m = th_cluster_owner(&cl, slot, -1);
    r = th_cluster_replica_of(&cl, m);
    assert_true(r >= 0);
    assert_int_equal(th_cluster_failover(&cl, r, 30000), 0);
    a_send(a, &s, key, 0, "GET", key, NULL);
    a_wait(&loop);
    a_expect(&s, "kept");
    rh_acluster_get_stats(a, &st);
    assert_true(st.moved >= 1);
    a_close(&loop, a);
}

static void test_async_close_ends_every_request_once_with_ecanceled(void **state)
{
    static aslot s[20];
    uv_loop_t loop;
    rh_acluster *a;
    char key[20][16];
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, NULL, 0);
    for (int i = 0; i < 20; i++) {
        snprintf(key[i], sizeof key[i], "c{%d}", i);
        a_send(a, &s[i], key[i], 0, "GET", key[i], NULL);
    }
    a_closed = 0;
    rh_acluster_close(a, a_on_closed, NULL);
    assert_int_equal(a_pending, 0);        /* from inside close */
    for (int i = 0; i < 20; i++)
        assert_int_equal(s[i].code, RHAI_ECANCELED);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a_closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_router_follows_a_master_killed_mid_run(void **state)
{
    uv_loop_t loop;
    rh_acluster *a;
    rh_cluster_stats st;
    aslot s;
    char key[32];
    int slot = -1, m = -1;
    (void)state;
    /* a key on a master that still has a replica */
    for (int t = 0; t < 1000 && m < 0; t++) {
        snprintf(key, sizeof key, "ak9{%d}", t);
        slot = rh_keyslot(key, strlen(key));
        m = th_cluster_owner(&cl, slot, -1);
        if (m >= 0 && th_cluster_replica_of(&cl, m) < 0)
            m = -1;
    }
    assert_true(m >= 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, NULL, 30000);
    a_send(a, &s, key, 0, "SET", key, "survives", NULL);
    a_wait(&loop);
    a_expect(&s, "OK");
    a_send(a, &s, key, 0, "WAIT", "1", "5000", NULL);
    a_wait(&loop);
    th_cluster_kill(&cl, m);
    a_send(a, &s, key, RH_CLUSTER_RESEND, "GET", key, NULL);
    a_wait(&loop);
    a_expect(&s, "survives");
    rh_acluster_get_stats(a, &st);
    assert_true(st.retries >= 1);
    a_close(&loop, a);
    assert_int_equal(th_cluster_wait_ok(&cl, 30000), 0);
}

static void test_async_router_on_a_server_without_cluster_support(void **state)
{
    th_redis srv;
    uv_loop_t loop;
    rh_acluster *a;
    aslot s;
    (void)state;
    assert_int_equal(th_redis_start(&srv, 0), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, srv.url, 0);
    a_send(a, &s, "{a}x", 0, "SET", "{a}x", "1", NULL);
    a_wait(&loop);
    a_expect(&s, "OK");
    assert_true(rh_acluster_map(a)->single);
    a_close(&loop, a);
    th_redis_stop(&srv);
    /* nobody there: the request ends with a clear error after retry_ms */
    assert_int_equal(uv_loop_init(&loop), 0);
    a = a_router(&loop, srv.url, 200);
    a_send(a, &s, "k", 0, "GET", "k", NULL);
    a_wait(&loop);
    assert_int_equal(s.code, RHAI_ECONN);
    assert_non_null(strstr(s.msg, "no node answered within 200 ms"));
    a_close(&loop, a);
}

int main(void)
{
    const struct CMUnitTest cluster[] = {
        cmocka_unit_test(test_keyslot_matches_cluster_keyslot_for_many_keys),
        cmocka_unit_test(test_router_reads_the_map_of_three_masters),
        cmocka_unit_test(test_keys_of_many_tags_land_on_the_shard_of_their_slot),
        cmocka_unit_test(test_a_script_with_keys_of_one_slot_runs_and_cross_slot_is_refused),
        cmocka_unit_test(test_moved_after_a_slot_is_resharded_mid_run),
        cmocka_unit_test(test_ask_is_followed_while_a_slot_is_migrating),
        cmocka_unit_test(test_router_follows_a_cluster_failover),
        cmocka_unit_test(test_async_router_spreads_many_tags_and_reads_them_back),
        cmocka_unit_test(test_async_router_follows_ask_and_moved_of_a_migration),
        cmocka_unit_test(test_async_router_follows_a_cluster_failover),
        cmocka_unit_test(test_async_close_ends_every_request_once_with_ecanceled),
        cmocka_unit_test(test_router_follows_a_master_killed_mid_run),
        cmocka_unit_test(test_async_router_follows_a_master_killed_mid_run),
        cmocka_unit_test(test_a_command_lost_after_sending_fails_clearly_and_is_not_resent),
    };
    const struct CMUnitTest single[] = {
        cmocka_unit_test(test_a_server_without_cluster_support_is_one_node_with_every_slot),
        cmocka_unit_test(test_async_router_on_a_server_without_cluster_support),
    };
    int rc = cmocka_run_group_tests_name("rcluster_single", single, NULL, NULL);
    return rc + cmocka_run_group_tests_name("rcluster_cluster", cluster, group_setup,
                                            group_teardown);
}
