/* test_rconn.c -- the connection layer (rconn.h) over plain TCP against a
 * real redis-server: sync and async commands and pipelines, a 10 MB value
 * split across many reads, AUTH/SELECT and the wording of their refusals,
 * reconnect after a server restart, guarded sends while down, and the
 * callback contract (each once; NULL on loss and on close). TLS is in
 * test_rconn_tls.c. Every wait is bounded; nothing sleeps for timing. */
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
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "harness.h"
#include "th_tls.h"
#include "rconn_util.h"

#define BIG (10u * 1024 * 1024)

static th_redis g_redis;

static void admin(const char *cmd)
{
    redisContext *c = th_redis_connect(&g_redis);
    redisReply *rep;

    assert_non_null(c);
    rep = redisCommand(c, cmd);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", cmd, rep->str);
    freeReplyObject(rep);
    redisFree(c);
}

static rh_redis_cfg cfg_of(const char *fmt, ...)
{
    rh_redis_cfg cfg;
    rhai_error err;
    char url[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(url, sizeof url, fmt, ap);
    va_end(ap);
    if (rh_redis_cfg_init(&cfg, url, &err) != 0)
        fail_msg("%s: %s", url, err.msg);
    return cfg;
}

static rh_sconn *sopen(const rh_redis_cfg *cfg)
{
    rh_sconn *c = NULL;
    rhai_error err;
    if (rh_sconn_open(cfg, NULL, &c, &err) != 0)
        fail_msg("open: %s", err.msg);
    return c;
}

static void test_sync_commands_and_a_pipeline_get_their_replies_in_order(void **state)
{
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    rh_sconn *c = sopen(&cfg);
    redisReply *r;
    rhai_error err;
    (void)state;
    assert_false(rh_sconn_is_tls(c));
    assert_int_equal(rh_sconn_command(c, &r, &err, "SET %s %s", "k1", "v1"), 0);
    freeReplyObject(r);
    assert_int_equal(rh_sconn_command(c, &r, &err, "GET %s", "k1"), 0);
    assert_string_equal(r->str, "v1");
    freeReplyObject(r);
    /* an error reply is a reply, and the connection stays usable */
    assert_int_equal(rh_sconn_command(c, &r, &err, "NOSUCHCOMMAND"), 0);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rh_sconn_append(c, &err, "INCR %s", "seq"), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rh_sconn_get_reply(c, &r, &err), 0);
        assert_int_equal(r->integer, i + 1);
        freeReplyObject(r);
    }
    assert_true(rh_sconn_ok(c));
    rh_sconn_free(c);
}

static void test_sync_ten_megabyte_value_goes_out_and_comes_back_whole(void **state)
{
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    rh_sconn *c = sopen(&cfg);
    char *big = malloc(BIG);
    const char *argv[3] = { "SET", "big", big };
    size_t lens[3] = { 3, 3, BIG };
    redisReply *r;
    rhai_error err;
    (void)state;
    assert_non_null(big);
    memset(big, 'x', BIG);
    assert_int_equal(rh_sconn_command_argv(c, 3, argv, lens, &r, &err), 0);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_int_equal(rh_sconn_command(c, &r, &err, "GET big"), 0);
    assert_int_equal(r->len, BIG);
    assert_memory_equal(r->str, big, BIG);
    freeReplyObject(r);
    free(big);
    rh_sconn_free(c);
}

static void test_sync_auth_as_a_user_and_select_reach_the_right_db(void **state)
{
    rh_redis_cfg cfg;
    rh_sconn *c;
    redisReply *r;
    rhai_error err;
    (void)state;
    admin("ACL SETUSER alice on >s3cret ~* &* +@all");
    cfg = cfg_of("redis://alice:s3cret@127.0.0.1:%d/3", g_redis.port);
    c = sopen(&cfg);
    assert_int_equal(rh_sconn_command(c, &r, &err, "ACL WHOAMI"), 0);
    assert_string_equal(r->str, "alice");
    freeReplyObject(r);
    assert_int_equal(rh_sconn_command(c, &r, &err, "CLIENT INFO"), 0);
    assert_non_null(strstr(r->str, " db=3 "));
    freeReplyObject(r);
    rh_sconn_free(c);
}

static void test_sync_refusals_name_their_cause_without_the_password(void **state)
{
    rh_redis_cfg cfg;
    rh_sconn *c = NULL;
    rhai_error err;
    int dead = th_free_port();
    (void)state;
    admin("ACL SETUSER alice on >s3cret ~* &* +@all");
    cfg = cfg_of("redis://alice:wrongpass@127.0.0.1:%d", g_redis.port);
    assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
    assert_non_null(strstr(err.msg, "AUTH refused: WRONGPASS"));
    assert_null(strstr(err.msg, "wrongpass"));
    cfg = cfg_of("redis://127.0.0.1:%d/99999", g_redis.port);
    assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "SELECT refused"));
    cfg = cfg_of("redis://127.0.0.1:%d", dead);
    assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ECONN);
    assert_non_null(strcasestr(err.msg, "connection refused"));
    assert_int_equal(err.code, RHAI_ECONN);
}

/* ---- async ---- */

static void test_async_commands_and_a_pipeline_are_answered_in_order(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 };
    tc_seq seq = { 0 };
    rhai_error err;
    (void)state;
    admin("DEL aseq");
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    /* not up yet: a guarded send is refused at once, callback never runs */
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "PING"), RHAI_ECONN);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(k.n, 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "SET %s %s", "ak", "av"), 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "GET %s", "ak"), 0);
    for (int i = 0; i < 5000; i++)       /* one loop turn: batched writes */
        assert_int_equal(rh_aconn_command(c, tc_seq_cb, &seq, &err, "INCR aseq"), 0);
    assert_true(tc_run_until(&loop, &seq.n, 5000, 10000));
    assert_int_equal(k.n, 2);
    assert_string_equal(k.str, "av");
    assert_int_equal(seq.out_of_order, 0);
    assert_int_equal(seq.last, 5000);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(st.downs, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_ten_megabyte_value_comes_back_whole(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply set = { 0 }, get = { 0 };
    char *big = malloc(BIG);
    const char *argv[3] = { "SET", "abig", big };
    size_t lens[3] = { 3, 4, BIG };
    rhai_error err;
    (void)state;
    assert_non_null(big);
    memset(big, 'x', BIG);
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(rh_aconn_command_argv(c, tc_keep, &set, 3, argv, lens, &err), 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &get, &err, "GET abig"), 0);
    assert_true(tc_run_until(&loop, &get.n, 1, 20000));
    assert_int_equal(set.type, REDIS_REPLY_STATUS);
    assert_int_equal(get.big_len, BIG);
    assert_true(get.big_ok);
    free(big);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_reconnects_after_a_restart_and_guards_sends_while_down(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply blocked = { 0 }, refused = { 0 }, after = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    /* a command in flight when the server goes: its callback, once, NULL */
    assert_int_equal(rh_aconn_command(c, tc_keep, &blocked, &err, "BLPOP nolist 0"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);                  /* written */
    th_redis_stop_keep(&g_redis);
    assert_true(tc_run_until(&loop, &st.downs, 1, 5000));
    assert_int_equal(blocked.n, 1);
    assert_int_equal(blocked.nulls, 1);
    assert_false(rh_aconn_is_up(c));
    /* down: refused at once with the cause, never queued */
    memset(&err, 0, sizeof err);
    assert_int_equal(rh_aconn_command(c, tc_keep, &refused, &err, "PING"), RHAI_ECONN);
    assert_int_equal(err.code, RHAI_ECONN);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(rh_aconn_last_error(c)->code != 0, 1);
    /* back on the same port: reconnects by itself */
    assert_int_equal(th_redis_restart(&g_redis), 0);
    assert_true(tc_run_until(&loop, &st.ups, 2, 10000));
    assert_true(rh_aconn_reconnects(c) >= 1);
    assert_int_equal(rh_aconn_command(c, tc_keep, &after, &err, "PING"), 0);
    assert_true(tc_run_until(&loop, &after.n, 1, 5000));
    assert_string_equal(after.str, "PONG");
    assert_int_equal(refused.n, 0);
    assert_int_equal(blocked.n, 1);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_close_runs_each_pending_callback_once_with_null(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply a = { 0 }, b = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(rh_aconn_command(c, tc_keep, &a, &err, "BLPOP nolist2 0"), 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &b, &err, "PING"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    rh_aconn_close(c);
    assert_int_equal(a.nulls, 1);
    assert_int_equal(b.nulls, 1);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(st.closed, 1);
    assert_int_equal(st.downs, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_queue_while_connecting_sends_after_auth_and_select(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 };
    rhai_error err;
    (void)state;
    admin("ACL SETUSER alice on >s3cret ~* &* +@all");
    cfg = cfg_of("redis://alice:s3cret@127.0.0.1:%d/5", g_redis.port);
    o.queue_connecting = 1;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_false(rh_aconn_is_up(c));
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "CLIENT INFO"), 0);
    assert_true(tc_run_until(&loop, &k.n, 1, 5000));
    assert_int_equal(st.ups, 1);
    assert_non_null(strstr(k.str, " db=5 "));
    assert_non_null(strstr(k.str, " user=alice"));
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_command_queued_while_connecting_never_runs_after_a_refused_select(
    void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("redis://127.0.0.1:%d/99999", g_redis.port);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 };
    rhai_error err;
    redisContext *h;
    (void)state;
    o.queue_connecting = 1;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "SET %s %s", "qk", "wrongdb"), 0);
    assert_true(tc_run_until(&loop, &k.n, 1, 5000));
    assert_int_equal(k.nulls, 1);                     /* failed, not run */
    assert_int_equal(rh_aconn_last_fail(c), RH_RCONN_FAIL_SELECT);
    assert_non_null(strstr(rh_aconn_last_error(c)->msg, "SELECT refused"));
    h = th_redis_connect(&g_redis);
    assert_non_null(h);
    assert_int_equal(th_cmd_int(h, "EXISTS qk"), 0);  /* not written on db 0 */
    redisFree(h);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_refused_auth_is_a_misconfiguration_and_never_up(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    rhai_error err;
    (void)state;
    admin("ACL SETUSER alice on >s3cret ~* &* +@all");
    cfg = cfg_of("redis://alice:nope@127.0.0.1:%d", g_redis.port);
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until_fail(&loop, c, RH_RCONN_FAIL_AUTH));
    assert_non_null(strstr(rh_aconn_last_error(c)->msg, "AUTH refused: WRONGPASS"));
    assert_int_equal(st.ups, 0);
    rh_aconn_drop(c, "no-op while down");           /* no-op: no crash, no down */
    assert_int_equal(st.downs, 0);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_drop_reconnects_like_a_loss(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "BLPOP nolist3 0"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    rh_aconn_drop(c, "watchdog");
    assert_int_equal(k.nulls, 1);
    assert_int_equal(st.downs, 1);
    assert_non_null(strstr(rh_aconn_last_error(c)->msg, "watchdog"));
    assert_true(tc_run_until(&loop, &st.ups, 2, 5000));
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sync_io_limit_ends_a_command_and_the_connection_stays_failed(void **state)
{
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    rh_sconn *c;
    redisReply *r;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_redis_cfg_set(&cfg, "io_ms", "200", &err), 0);
    c = sopen(&cfg);
    assert_int_equal(rh_sconn_command(c, &r, &err, "BLPOP %s 0", "never"), RHAI_ETIMEOUT);
    assert_null(r);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_false(rh_sconn_ok(c));
    /* its replies could be out of step now: refused at once */
    assert_int_equal(rh_sconn_command(c, &r, &err, "PING"), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "timed out"));
    rh_sconn_free(c);
}

/* Replies of a pipeline; the third drops the connection from inside its
 * callback: the rest, already read, must each see NULL once. */
typedef struct drop_seq {
    int replies, nulls;
} drop_seq;

static void drop_at_third(rh_aconn *c, redisReply *r, void *priv)
{
    drop_seq *d = priv;
    if (r == NULL) {
        d->nulls++;
        return;
    }
    if (++d->replies == 3)
        rh_aconn_drop(c, "dropped by a callback");
}

static void close_in_callback(rh_aconn *c, redisReply *r, void *priv)
{
    drop_seq *d = priv;
    if (r == NULL) {
        d->nulls++;
        return;
    }
    d->replies++;
    rh_aconn_close(c);
}

static void test_async_callbacks_may_drop_or_close_mid_pipeline(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = cfg_of("%s", g_redis.url);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    drop_seq d = { 0 }, k = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    for (int i = 0; i < 10; i++)
        assert_int_equal(rh_aconn_command(c, drop_at_third, &d, &err, "PING"), 0);
    assert_true(tc_run_until(&loop, &st.downs, 1, 5000));
    assert_int_equal(d.replies, 3);
    assert_int_equal(d.nulls, 7);
    assert_true(tc_run_until(&loop, &st.ups, 2, 5000));
    for (int i = 0; i < 5; i++)
        assert_int_equal(rh_aconn_command(c, close_in_callback, &k, &err, "PING"), 0);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(k.replies, 1);
    assert_int_equal(k.nulls, 4);
    assert_int_equal(d.replies + d.nulls, 10);        /* nothing ran twice */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_unix_socket_sync_and_async(void **state)
{
    char sock[400], log[400], url[500];
    pid_t pid;
    rh_redis_cfg cfg;
    rh_sconn *c;
    redisReply *r;
    rhai_error err;
    uv_loop_t loop;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *a;
    tc_reply k = { 0 };
    (void)state;
    snprintf(sock, sizeof sock, "%s/u.sock", g_redis.dir);
    snprintf(log, sizeof log, "%s/unix.log", g_redis.dir);
    pid = th_redis_start_unix(sock, log);
    assert_true(pid > 0);
    snprintf(url, sizeof url, "unix://%s?db=2", sock);
    cfg = cfg_of("%s", url);
    c = sopen(&cfg);
    assert_int_equal(rh_sconn_command(c, &r, &err, "CLIENT INFO"), 0);
    assert_non_null(strstr(r->str, " db=2 "));
    freeReplyObject(r);
    rh_sconn_free(c);
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &a, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(rh_aconn_command(a, tc_keep, &k, &err, "PING"), 0);
    assert_true(tc_run_until(&loop, &k.n, 1, 5000));
    assert_string_equal(k.str, "PONG");
    rh_aconn_close(a);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
    th_stop(pid, 5000);
}

static void test_failed_allocations_fail_cleanly_at_every_step(void **state)
{
    rh_redis_cfg cfg = cfg_of("redis://127.0.0.1:%d/1", g_redis.port);
    (void)state;
    for (unsigned long n = 1; n <= 30; n++) {          /* sync: open, one command */
        rh_sconn *c = NULL;
        redisReply *r = NULL;
        rhai_error err;
        int rc;
        rh_alloc_fail_after(n);
        rc = rh_sconn_open(&cfg, NULL, &c, &err);
        if (rc == 0 && rh_sconn_command(c, &r, &err, "PING") == 0)
            freeReplyObject(r);
        rh_alloc_fail_after(0);
        assert_true(rc == 0 || rc == RHAI_ENOMEM);
        assert_true(rc != 0 || c != NULL);
        rh_sconn_free(c);
    }
    for (unsigned long n = 1; n <= 30; n++) {          /* async: new, up, a command */
        uv_loop_t loop;
        tc_state st = { 0 };
        rh_aconn_opts o = tc_opts(&st);
        rh_aconn *a = NULL;
        tc_reply k = { 0 };
        rhai_error err;
        int rc;
        uv_loop_init(&loop);
        rh_alloc_fail_after(n);
        rc = rh_aconn_new(&loop, &cfg, &o, &a, &err);
        if (rc == 0) {
            for (int i = 0; i < 50 && st.ups == 0 && rh_aconn_last_error(a)->code == 0; i++)
                uv_run(&loop, UV_RUN_ONCE);
            if (rh_aconn_command(a, tc_keep, &k, &err, "PING") == 0)
                tc_run_until(&loop, &k.n, 1, 5000);
            rh_aconn_close(a);
            assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
        }
        rh_alloc_fail_after(0);
        assert_true(rc == 0 || rc == RHAI_ENOMEM);
        assert_int_equal(uv_loop_close(&loop), 0);
    }
}

/* A listening socket nobody accepts on: the kernel completes TCP
 * connects into its backlog, and nothing ever answers. Its port. */
static int silent_listener(int *fd)
{
    int port;

    *fd = th_listen(&port);
    assert_true(*fd >= 0);
    return port;
}

static void test_a_server_that_never_answers_hits_the_connect_limit(void **state)
{
    int lfd, port = silent_listener(&lfd);
    rh_redis_cfg cfg = cfg_of("redis://127.0.0.1:%d", port);
    rh_sconn *c = NULL;
    uv_loop_t loop;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *a;
    rhai_error err;
    int failed = 0;
    (void)state;
    assert_int_equal(rh_redis_cfg_set(&cfg, "connect_ms", "200", &err), 0);
    assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ETIMEOUT);
    assert_null(c);
    assert_non_null(strstr(err.msg, "timed out"));
    /* TLS: the handshake is what never ends */
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls", "yes", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_verify", "no", &err), 0);
    assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ETIMEOUT);
    assert_non_null(strstr(err.msg, "TLS handshake timed out"));
    assert_non_null(strstr(err.msg, "does the server speak TLS"));
    {   /* the URL once, not "URL: URL: ..." */
        const char *at = strstr(err.msg, "127.0.0.1:");
        assert_non_null(at);
        assert_null(strstr(at + 1, "127.0.0.1:"));
    }
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &a, &err), 0);
    /* bounded by time, not loop turns: a turn may end early (a backoff
     * timer) or late (a loaded machine) */
    for (int64_t end = rh_mono_ms() + 10000; !failed && rh_mono_ms() < end;) {
        uv_run(&loop, UV_RUN_ONCE);
        failed = strstr(rh_aconn_last_error(a)->msg, "connect timeout") != NULL;
    }
    assert_true(failed);
    assert_non_null(strstr(rh_aconn_last_error(a)->msg, "(TLS handshake)"));
    assert_int_equal(st.ups, 0);
    rh_aconn_close(a);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
    close(lfd);
}

static int setup(void **state)
{
    (void)state;
    return th_redis_start(&g_redis, 0);
}

static int teardown(void **state)
{
    (void)state;
    th_redis_stop(&g_redis);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_commands_and_a_pipeline_get_their_replies_in_order),
        cmocka_unit_test(test_sync_ten_megabyte_value_goes_out_and_comes_back_whole),
        cmocka_unit_test(test_sync_auth_as_a_user_and_select_reach_the_right_db),
        cmocka_unit_test(test_sync_refusals_name_their_cause_without_the_password),
        cmocka_unit_test(test_async_commands_and_a_pipeline_are_answered_in_order),
        cmocka_unit_test(test_async_ten_megabyte_value_comes_back_whole),
        cmocka_unit_test(test_async_reconnects_after_a_restart_and_guards_sends_while_down),
        cmocka_unit_test(test_async_close_runs_each_pending_callback_once_with_null),
        cmocka_unit_test(test_async_queue_while_connecting_sends_after_auth_and_select),
        cmocka_unit_test(
            test_async_command_queued_while_connecting_never_runs_after_a_refused_select),
        cmocka_unit_test(test_async_refused_auth_is_a_misconfiguration_and_never_up),
        cmocka_unit_test(test_async_drop_reconnects_like_a_loss),
        cmocka_unit_test(test_sync_io_limit_ends_a_command_and_the_connection_stays_failed),
        cmocka_unit_test(test_async_callbacks_may_drop_or_close_mid_pipeline),
        cmocka_unit_test(test_unix_socket_sync_and_async),
        cmocka_unit_test(test_a_server_that_never_answers_hits_the_connect_limit),
        cmocka_unit_test(test_failed_allocations_fail_cleanly_at_every_step),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
