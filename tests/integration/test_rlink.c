/* test_rlink.c -- common/rlink.c (the sync client's and rhaictl's link)
 * against a real redis-server (moved from test_redisconn.c with
 * redisconn.c).
 *
 * The sync client and rhaictl's plain connection both resolve their URL
 * and prefix and open their connection through this code, so its rules are
 * pinned here once: defaults and the environment, the order of checks,
 * AUTH as a user, SELECT, and the wording and code of each failure (which
 * rhaictl prints as is, and which must never show a password). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "common/rlink.h"
#include "harness.h"

#define CONNECT_MS 5000
#define IO_MS      10000

static th_redis g_redis;

/* A command on the harness's own connection; its reply must not be an
 * error. */
static void admin(const char *fmt, const char *arg)
{
    redisContext *c = th_redis_connect(&g_redis);
    redisReply *rep;

    assert_non_null(c);
    rep = redisCommand(c, fmt, arg);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, rep->str);
    freeReplyObject(rep);
    redisFree(c);
}

/* Open 'url' (which must parse) into *out; returns the open's code. */
static int open_url(const char *url, rh_link **out, rhai_error *err)
{
    char prefix[RH_PREFIX_MAX + 1];
    rh_redis_cfg cfg;

    assert_int_equal(rh_link_config(url, NULL, &cfg, prefix, err), 0);
    cfg.connect_ms = CONNECT_MS;
    cfg.io_ms = IO_MS;
    return rh_link_open(&cfg, out, err);
}

static void test_rlink_config_defaults_to_local_redis_and_the_rhai_prefix(void **state)
{
    char prefix[RH_PREFIX_MAX + 1];
    rhai_error err = { 0, "" };
    rh_redis_cfg u;
    (void)state;

    unsetenv("RHAI_REDIS_URL");
    assert_int_equal(rh_link_config(NULL, NULL, &u, prefix, &err), 0);
    assert_string_equal(u.url.host, "127.0.0.1");
    assert_int_equal(u.url.port, 6379);
    assert_int_equal(u.url.db, 0);
    assert_string_equal(prefix, RH_PREFIX_DEFAULT);
}

static void test_rlink_config_takes_the_url_from_the_environment_when_none_is_given(
    void **state)
{
    char prefix[RH_PREFIX_MAX + 1];
    rhai_error err = { 0, "" };
    rh_redis_cfg u;
    (void)state;

    setenv("RHAI_REDIS_URL", "redis://10.1.2.3:7000/5", 1);
    assert_int_equal(rh_link_config(NULL, "app", &u, prefix, &err), 0);
    assert_string_equal(u.url.host, "10.1.2.3");
    assert_int_equal(u.url.port, 7000);
    assert_int_equal(u.url.db, 5);
    assert_string_equal(prefix, "app");
    /* a URL given wins over the environment */
    assert_int_equal(rh_link_config("redis://127.0.0.1:1", "app", &u, prefix, &err), 0);
    assert_int_equal(u.url.port, 1);
    unsetenv("RHAI_REDIS_URL");
}

static void test_rlink_config_names_a_bad_url_before_a_bad_prefix(void **state)
{
    char prefix[RH_PREFIX_MAX + 1] = "";
    rhai_error err = { 0, "" };
    rh_redis_cfg u;
    (void)state;

    assert_int_equal(rh_link_config("http://x", "b/ad", &u, prefix, &err), RHAI_EINVAL);
    assert_string_equal(err.msg, "url must start with redis://, rediss:// or unix://");
    assert_int_equal(rh_link_config("redis://x", "b/ad", &u, prefix, &err), RHAI_EINVAL);
    assert_string_equal(err.msg, "invalid key prefix 'b/ad' (1..64 of [A-Za-z0-9_.:@-])");
    assert_string_equal(prefix, "");                   /* untouched on failure */
}

static void test_rlink_open_authenticates_as_the_user_and_selects_the_db(void **state)
{
    rh_link *c = NULL;
    redisContext *check;
    rhai_error err = { 0, "" };
    redisReply *rep, *reps[3];
    const char *who[] = { "ACL", "WHOAMI" }, *set[] = { "SET", "redisconn:k", "here" },
               *get[] = { "GET", "redisconn:k" };
    const char **argvs[3] = { who, set, get };
    const int argcs[3] = { 2, 3, 2 };
    const size_t *lens[3] = { NULL, NULL, NULL };
    char url[128];
    (void)state;

    admin("ACL SETUSER alice on >%s ~* &* +@all", "s3cret");
    snprintf(url, sizeof url, "redis://alice:s3cret@127.0.0.1:%d/2", g_redis.port);
    if (open_url(url, &c, &err) != 0)
        fail_msg("open: %s", err.msg);
    /* one pipeline, replies in order */
    if (rh_link_pipeline(c, 3, argcs, argvs, lens, reps, &err) != 0)
        fail_msg("pipeline: %s", err.msg);
    assert_string_equal(reps[0]->str, "alice");
    assert_int_equal(reps[1]->type, REDIS_REPLY_STATUS);
    assert_string_equal(reps[2]->str, "here");
    for (int i = 0; i < 3; i++)
        freeReplyObject(reps[i]);
    rh_link_free(c);

    check = th_redis_connect(&g_redis);                /* db 0 */
    assert_non_null(check);
    rep = redisCommand(check, "EXISTS redisconn:k");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    freeReplyObject(redisCommand(check, "SELECT 2"));
    rep = redisCommand(check, "GET redisconn:k");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "here");
    freeReplyObject(rep);
    freeReplyObject(redisCommand(check, "DEL redisconn:k"));
    redisFree(check);
    admin("ACL DELUSER %s", "alice");
}

static void test_rlink_open_refused_auth_is_econn_naming_auth_not_the_password(
    void **state)
{
    rh_link *c = (rh_link *)&c;              /* must come back NULL */
    rhai_error err = { 0, "" };
    char url[128], want[160];
    (void)state;

    snprintf(url, sizeof url, "redis://nobody:hunter2@127.0.0.1:%d", g_redis.port);
    assert_int_equal(open_url(url, &c, &err), RHAI_ECONN);
    assert_null(c);
    snprintf(want, sizeof want, "redis://***@127.0.0.1:%d/0: AUTH refused: ", g_redis.port);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
    assert_null(strstr(err.msg, "hunter2"));
}

static void test_rlink_open_refused_select_is_econn_naming_select(void **state)
{
    rh_link *c = NULL;
    rhai_error err = { 0, "" };
    char url[128], want[160];
    (void)state;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d/999", g_redis.port);
    assert_int_equal(open_url(url, &c, &err), RHAI_ECONN);
    assert_null(c);
    snprintf(want, sizeof want, "redis://127.0.0.1:%d/999: SELECT refused: ", g_redis.port);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
}

static void test_rlink_open_of_a_closed_port_is_econn_saying_cannot_connect(void **state)
{
    rh_link *c = NULL;
    rhai_error err = { 0, "" };
    char url[128], want[160];
    int port = th_free_port();
    (void)state;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    assert_int_equal(open_url(url, &c, &err), RHAI_ECONN);
    assert_null(c);
    snprintf(want, sizeof want, "cannot connect to redis://127.0.0.1:%d/0: ", port);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
}

static void test_rlink_config_applies_the_tls_environment_to_rediss_only(void **state)
{
    char prefix[RH_PREFIX_MAX + 1];
    rhai_error err = { 0, "" };
    rh_redis_cfg u;
    (void)state;

    setenv("RHAI_REDIS_TLS_CA", "/etc/ssl/ca.pem", 1);
    setenv("RHAI_REDIS_TLS_SNI", "redis.example", 1);
    assert_int_equal(rh_link_config("rediss://10.0.0.1:6380", NULL, &u, prefix, &err), 0);
    assert_int_equal(u.url.tls, 1);
    assert_string_equal(u.url.tls_ca, "/etc/ssl/ca.pem");
    assert_string_equal(u.url.tls_sni, "redis.example");
    /* redis:// ignores them: a CA on a plain URL would do nothing */
    assert_int_equal(rh_link_config("redis://10.0.0.1:6379", NULL, &u, prefix, &err), 0);
    assert_int_equal(u.url.tls, 0);
    assert_string_equal(u.url.tls_ca, "");
    /* a client certificate without its key is named */
    setenv("RHAI_REDIS_TLS_CERT", "/etc/ssl/client.pem", 1);
    assert_int_equal(rh_link_config("rediss://10.0.0.1", NULL, &u, prefix, &err), RHAI_EINVAL);
    unsetenv("RHAI_REDIS_TLS_CERT");
    unsetenv("RHAI_REDIS_TLS_CA");
    unsetenv("RHAI_REDIS_TLS_SNI");
}

static void test_rlink_cmd_slot_routes_by_the_first_key(void **state)
{
    const char *get[] = { "GET", "rhai:queue:{w1}" };
    const char *eval[] = { "EVALSHA", "abc", "2", "rhai:task:{w1}:x", "rhai:queue:{w1}" };
    const char *eval0[] = { "EVAL", "return 1", "0" };
    const char *xread[] = { "XREAD", "COUNT", "5", "STREAMS", "rhai:ev:{c1}", "0" };
    const char *multi[] = { "MULTI" };
    const char *scan[] = { "scan", "0" };
    int w1 = rh_keyslot("w1", 2);
    (void)state;

    assert_int_equal(rh_link_cmd_slot(2, get, NULL), w1);
    assert_int_equal(rh_link_cmd_slot(5, eval, NULL), w1);
    assert_int_equal(rh_link_cmd_slot(3, eval0, NULL), RH_CLUSTER_ANY);
    assert_int_equal(rh_link_cmd_slot(6, xread, NULL), rh_keyslot("c1", 2));
    assert_int_equal(rh_link_cmd_slot(1, multi, NULL), RH_CLUSTER_ANY);
    assert_int_equal(rh_link_cmd_slot(2, scan, NULL), RH_CLUSTER_ANY);
}

static int group_setup(void **state)
{
    (void)state;
    return th_redis_start(&g_redis, 0);
}

static int group_teardown(void **state)
{
    (void)state;
    th_redis_stop(&g_redis);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlink_config_defaults_to_local_redis_and_the_rhai_prefix),
        cmocka_unit_test(test_rlink_config_applies_the_tls_environment_to_rediss_only),
        cmocka_unit_test(test_rlink_cmd_slot_routes_by_the_first_key),
        cmocka_unit_test(
            test_rlink_config_takes_the_url_from_the_environment_when_none_is_given),
        cmocka_unit_test(test_rlink_config_names_a_bad_url_before_a_bad_prefix),
        cmocka_unit_test(test_rlink_open_authenticates_as_the_user_and_selects_the_db),
        cmocka_unit_test(
            test_rlink_open_refused_auth_is_econn_naming_auth_not_the_password),
        cmocka_unit_test(test_rlink_open_refused_select_is_econn_naming_select),
        cmocka_unit_test(test_rlink_open_of_a_closed_port_is_econn_saying_cannot_connect),
    };

    return cmocka_run_group_tests_name("redisconn", tests, group_setup, group_teardown);
}
