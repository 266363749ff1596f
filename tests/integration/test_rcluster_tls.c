/* test_rcluster_tls.c -- the Redis Cluster routers over rediss:// against
 * a real 3+3 cluster with tls-cluster yes (th_cluster_start_tls): the map
 * names each node's TLS port, MOVED after a reshard names the TLS port
 * too, every node's certificate is verified against the CA, and a wrong
 * CA is RHAI_ETLS at open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
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
    return th_cluster_start_tls(&cl);
}

static int group_teardown(void **state)
{
    (void)state;
    th_cluster_stop(&cl);
    return 0;
}

static rh_redis_cfg tls_cfg(const char *ca)
{
    rh_redis_cfg cfg;
    rhai_error err;
    char url[700];

    snprintf(url, sizeof url, "rediss://127.0.0.1:%d?ca=%s/%s", cl.node[0].tls_port, cl.pki,
             ca);
    if (rh_redis_cfg_init(&cfg, url, &err) != 0)
        fail_msg("%s: %s", url, err.msg);
    return cfg;
}

static redisReply *cmd2(rh_cluster *r, const char *a0, const char *key, const char *a2)
{
    const char *argv[3] = { a0, key, a2 };
    redisReply *rep = NULL;
    rhai_error err;

    if (rh_cluster_command_key(r, key, strlen(key), 0, a2 ? 3 : 2, argv, NULL, &rep, &err) != 0)
        fail_msg("%s %s: %s", a0, key, err.msg);
    return rep;
}

static void expect_str(redisReply *rep, const char *want)
{
    if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS)
        fail_msg("wanted \"%s\", got type %d %s", want, rep->type,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    assert_string_equal(rep->str, want);
    freeReplyObject(rep);
}

static int is_tls_port(int port)
{
    for (int i = 0; i < TH_CLUSTER_N; i++)
        if (cl.node[i].tls_port == port)
            return 1;
    return 0;
}

static void test_tls_router_maps_tls_ports_and_routes_many_tags(void **state)
{
    rh_redis_cfg cfg = tls_cfg("ca.crt");
    rh_cluster *r = NULL;
    rh_cluster_stats st;
    rhai_error err;
    char key[32];
    (void)state;
    if (rh_cluster_open(&cfg, NULL, &r, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(rh_slot_map_covered(rh_cluster_map(r)), 16384);
    assert_int_equal(rh_cluster_map(r)->nnodes, 6);
    for (size_t i = 0; i < rh_cluster_map(r)->nnodes; i++)
        assert_true(is_tls_port(rh_cluster_map(r)->nodes[i].port));
    for (int t = 0; t < 100; t++) {
        snprintf(key, sizeof key, "tls{%d}", t);
        expect_str(cmd2(r, "SET", key, key), "OK");
    }
    for (int t = 0; t < 100; t++) {
        snprintf(key, sizeof key, "tls{%d}", t);
        expect_str(cmd2(r, "GET", key, NULL), key);
    }
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.moved + st.ask, 0);
    rh_cluster_free(r);
}

static void test_tls_router_follows_moved_to_a_tls_port(void **state)
{
    rh_redis_cfg cfg = tls_cfg("ca.crt");
    rh_cluster *r = NULL;
    rh_cluster_stats st;
    rhai_error err;
    const char *key = "tlsmove{x}";
    int slot = rh_keyslot(key, strlen(key)), from, to = -1;
    (void)state;
    assert_int_equal(rh_cluster_open(&cfg, NULL, &r, &err), 0);
    expect_str(cmd2(r, "SET", key, "v"), "OK");
    from = th_cluster_owner(&cl, slot, -1);
    for (int s = 0; s < 16384 && to < 0; s += 101) {
        int o = th_cluster_owner(&cl, s, -1);
        if (o >= 0 && o != from)
            to = o;
    }
    assert_int_equal(th_cluster_move_slot(&cl, slot, to), 0);
    expect_str(cmd2(r, "GET", key, NULL), "v");
    rh_cluster_get_stats(r, &st);
    assert_int_equal(st.moved, 1);
    assert_int_equal(rh_cluster_map(r)->nodes[rh_cluster_map(r)->owner[slot]].port,
                     cl.node[to].tls_port);
    rh_cluster_free(r);
}

static int a_left;
static void a_cb(rh_acluster *c, redisReply *r, const rhai_error *err, void *priv)
{
    (void)c;
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("async: %s", r ? r->str : err->msg);
    assert_string_equal(r->str, (const char *)priv);
    a_left--;
}

static void test_tls_async_router_routes_many_tags(void **state)
{
    static char keys[50][32];
    rh_redis_cfg cfg = tls_cfg("ca.crt");
    uv_loop_t loop;
    rh_acluster *a = NULL;
    rhai_error err;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rh_acluster_new(&loop, &cfg, NULL, &a, &err), 0);
    for (int t = 0; t < 50; t++) {
        const char *argv[3] = { "SET", keys[t], "x" };
        snprintf(keys[t], sizeof keys[t], "atls{%d}", t);
        assert_int_equal(rh_acluster_command_argv(a, rh_keyslot(keys[t], strlen(keys[t])), 0,
                                                  a_cb, "OK", 3, argv, NULL, &err), 0);
        a_left++;
    }
    while (a_left > 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(rh_slot_map_covered(rh_acluster_map(a)), 16384);
    rh_acluster_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_tls_router_with_a_wrong_ca_fails_at_open_with_etls(void **state)
{
    rh_redis_cfg cfg = tls_cfg("other-ca.crt");
    rh_cluster *r = NULL;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_cluster_open(&cfg, NULL, &r, &err), RHAI_ETLS);
    assert_null(r);
    assert_non_null(strstr(err.msg, "certificate verify failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_router_maps_tls_ports_and_routes_many_tags),
        cmocka_unit_test(test_tls_router_follows_moved_to_a_tls_port),
        cmocka_unit_test(test_tls_async_router_routes_many_tags),
        cmocka_unit_test(test_tls_router_with_a_wrong_ca_fails_at_open_with_etls),
    };
    return cmocka_run_group_tests_name("rcluster_tls", tests, group_setup, group_teardown);
}
