/* test_uvredis.c -- common/uvredis.c (hiredis async on a libuv loop)
 * against a real redis-server.
 *
 * Whether a write waits for WRITABLE or goes out right before the loop
 * polls, these must hold: order, partial writes of a value larger than the
 * socket takes, commands issued from a timer, a server killed under
 * pending writes (no zombie), contexts freed while a write is pending
 * (also from inside the write itself: ASan watches) and the loop's own
 * exit. Callbacks only record; the assertions run after uv_run, and every
 * test ends with uv_loop_close() == 0. A watchdog timer, unref'd so it
 * never keeps a loop alive, stops a loop that would hang. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <uv.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>

#include "common/common.h"
#include "common/uvredis.h"
#include "harness.h"

#define MANY       10000
#define PENDING    100
#define BIG        (8u << 20)          /* more than a loopback socket takes */
#define WATCHDOG_MS 20000

static th_redis g_redis;

/* ======================== one test's state ======================== */

typedef struct ut {
    uv_loop_t          loop;
    uv_timer_t         watchdog;     /* unref'd: fires only if stuck */
    uv_timer_t         timer;        /* a test's own deferred step */
    uv_check_t         check;        /* unref'd: looks after each poll */
    uv_prepare_t       iter;         /* unref'd: counts loop iterations */
    redisAsyncContext *ac;           /* NULL once disconnected/freed */
    int                hung;
    int                connected;    /* connect callbacks with REDIS_OK */
    int                disconnects;
    int                disc_status;  /* of the last disconnect */
    int                disc_first;   /* of the first one */
    int                replies_ok;   /* as the test expected */
    int                replies_bad;  /* a reply, but not the expected one */
    int                replies_null; /* NULL: connection gone */
    int                next;         /* next expected index (order) */
    int                saw_partial;  /* obuf not empty after a poll */
    int                step;         /* the test's own progress */
    uv_timer_cb        then;         /* what 'timer' runs next */
    long               iterations;
    long               iter_mark;
    char              *big;          /* BIG bytes */
    size_t             got_len;
    int                got_same;
} ut;

static void on_watchdog(uv_timer_t *t)
{
    ut *u = t->data;
    u->hung = 1;
    uv_stop(&u->loop);
}

static void on_iter(uv_prepare_t *h)
{
    ((ut *)h->data)->iterations++;
}

static void ut_init(ut *u)
{
    memset(u, 0, sizeof *u);
    assert_int_equal(uv_loop_init(&u->loop), 0);
    uv_timer_init(&u->loop, &u->watchdog);
    uv_timer_init(&u->loop, &u->timer);
    uv_check_init(&u->loop, &u->check);
    uv_prepare_init(&u->loop, &u->iter);
    u->watchdog.data = u->timer.data = u->check.data = u->iter.data = u;
    uv_timer_start(&u->watchdog, on_watchdog, WATCHDOG_MS, 0);
    uv_unref((uv_handle_t *)&u->watchdog);
    uv_prepare_start(&u->iter, on_iter);
    uv_unref((uv_handle_t *)&u->iter);
}

/* Run until the loop ends by itself; then close ours and the loop. */
static void ut_run_and_close(ut *u)
{
    int alive;

    alive = uv_run(&u->loop, UV_RUN_DEFAULT);
    assert_false(u->hung);                  /* uv_run returned by itself */
    assert_int_equal(alive, 0);
    uv_close((uv_handle_t *)&u->watchdog, NULL);
    uv_close((uv_handle_t *)&u->timer, NULL);
    uv_close((uv_handle_t *)&u->check, NULL);
    uv_close((uv_handle_t *)&u->iter, NULL);
    uv_run(&u->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&u->loop), 0);
    free(u->big);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ut *u = ac->data;
    if (status == REDIS_OK)
        u->connected++;
    else
        u->ac = NULL;                       /* hiredis frees it */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ut *u = ac->data;
    if (u->disconnects++ == 0)
        u->disc_first = status;
    u->disc_status = status;
    u->ac = NULL;
}

static redisAsyncContext *ut_connect(ut *u, int port, redisDisconnectCallback *disc)
{
    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", port);

    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    ac->data = u;
    assert_int_equal(rh_uvredis_attach(ac, &u->loop), 0);
    assert_int_equal(rh_uvredis_attach(ac, &u->loop), -1);   /* once only */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, disc ? disc : on_disconnect);
    u->ac = ac;
    return ac;
}

/* SIGKILL the server and reap it; the next th_redis_restart starts it on
 * the same port. */
static void redis_kill_now(void)
{
    assert_true(g_redis.pid > 0);
    kill(g_redis.pid, SIGKILL);
    assert_true(th_wait(g_redis.pid, 5000) != -1);
    g_redis.pid = -1;
}

/* A reply that must be status OK. */
static void on_ok(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    redisReply *reply = r;
    (void)priv;
    if (reply == NULL)
        u->replies_null++;
    else if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0)
        u->replies_ok++;
    else
        u->replies_bad++;
}

static void issue_sets(ut *u, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(redisAsyncCommand(u->ac, on_ok, NULL, "SET uvr:p:%d %d", i, i),
                         REDIS_OK);
}

static int is_pong(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
}

/* ======================== order ======================== */

static void on_incr(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    redisReply *reply = r;
    int i = (int)(intptr_t)priv;

    if (reply == NULL) {
        u->replies_null++;
        return;
    }
    if (i == u->next && reply->type == REDIS_REPLY_INTEGER && reply->integer == i + 1)
        u->replies_ok++;
    else
        u->replies_bad++;
    u->next = i + 1;
    if (i == MANY - 1)
        redisAsyncDisconnect(ac);
}

static void on_many_ping(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (!is_pong(r)) {
        u->replies_bad++;
        return;
    }
    /* All from this one callback: written together before the next poll. */
    redisAsyncCommand(ac, NULL, NULL, "DEL uvr:ctr");
    for (int i = 0; i < MANY; i++)
        redisAsyncCommand(ac, on_incr, (void *)(intptr_t)i, "INCR uvr:ctr");
}

static void test_uvredis_many_commands_from_one_callback_arrive_in_order(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_many_ping, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.connected, 1);
    assert_int_equal(u.replies_ok, MANY);
    assert_int_equal(u.replies_bad, 0);
    assert_int_equal(u.replies_null, 0);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* ======================== timers ======================== */

/* A command issued from a timer must be written before the loop blocks:
 * a uv_check would only write it after the next poll, which nothing else
 * wakes (the watchdog would then fire). */
static void on_timer_pong(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (is_pong(r))
        u->replies_ok++;
    else
        u->replies_bad++;
    if (++u->step < 3) {
        uv_timer_start(&u->timer, u->then, 1, 0);
        return;
    }
    redisAsyncDisconnect(ac);
}

static void on_timer_ping(uv_timer_t *t)
{
    ut *u = t->data;
    redisAsyncCommand(u->ac, on_timer_pong, NULL, "PING");
}

static void on_timer_connected(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)r;
    (void)priv;
    u->then = on_timer_ping;
    uv_timer_start(&u->timer, u->then, 1, 0);
}

static void test_uvredis_command_from_a_timer_is_written_before_the_loop_blocks(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_timer_connected, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_ok, 3);
    assert_int_equal(u.replies_bad, 0);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* ======================== partial writes ======================== */

static void fill_big(ut *u)
{
    u->big = malloc(BIG);
    assert_non_null(u->big);
    for (size_t i = 0; i < BIG; i++)
        u->big[i] = (char)((i * 31 + 7) & 0xff);
}

/* After each poll: did the write leave bytes for WRITABLE to finish? */
static void on_check_obuf(uv_check_t *h)
{
    ut *u = h->data;
    if (u->ac && sdslen(u->ac->c.obuf) > 0)
        u->saw_partial++;
}

static void on_big_get(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    redisReply *reply = r;
    (void)priv;
    if (reply == NULL) {
        u->replies_null++;
        return;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        u->got_len = reply->len;
        u->got_same = reply->len == BIG && memcmp(reply->str, u->big, BIG) == 0;
    }
    redisAsyncDisconnect(ac);
}

static void on_big_ping(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)r;
    (void)priv;
    redisAsyncCommand(ac, on_ok, NULL, "SET uvr:big %b", u->big, (size_t)BIG);
    redisAsyncCommand(ac, on_big_get, NULL, "GET uvr:big");
}

static void test_uvredis_large_value_written_in_parts_round_trips_intact(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    fill_big(&u);
    uv_check_start(&u.check, on_check_obuf);
    uv_unref((uv_handle_t *)&u.check);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_big_ping, NULL, "PING");
    ut_run_and_close(&u);
    assert_true(u.saw_partial > 0);         /* the WRITABLE path ran */
    assert_int_equal(u.replies_ok, 1);
    assert_int_equal(u.got_len, BIG);
    assert_true(u.got_same);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* ======================== server killed ======================== */

static void on_reconnected_pong(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (is_pong(r))
        u->step = 100;
    redisAsyncDisconnect(ac);
}

/* The first connection is gone: connect again to the restarted server. */
static void on_disconnect_then_reconnect(const redisAsyncContext *ac, int status)
{
    ut *u = ac->data;

    on_disconnect(ac, status);
    if (u->disconnects == 1) {
        redisAsyncContext *n = redisAsyncConnect("127.0.0.1", g_redis.port);
        if (n == NULL || n->err)
            return;                         /* step stays short of 100 */
        n->data = u;
        if (rh_uvredis_attach(n, &u->loop) != 0)
            return;
        redisAsyncSetDisconnectCallback(n, on_disconnect);
        redisAsyncCommand(n, on_reconnected_pong, NULL, "PING");
        u->ac = n;
    }
}

static void on_kill_ping(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (!is_pong(r))
        return;
    redis_kill_now();
    issue_sets(u, PENDING);                 /* pending: written to a dead peer */
    assert_int_equal(th_redis_restart(&g_redis), 0);
}

static void test_uvredis_server_restarted_under_pending_writes_disconnects(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, on_disconnect_then_reconnect);
    redisAsyncCommand(u.ac, on_kill_ping, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_null, PENDING);   /* every pending SET told */
    assert_int_equal(u.replies_ok, 0);
    assert_int_equal(u.disconnects, 2);          /* the dead one, then ours */
    assert_int_equal(u.disc_first, REDIS_ERR);
    assert_int_equal(u.step, 100);               /* a new connection worked */
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* Killed while WRITABLE is armed (a big write half done, server stopped
 * so the socket stays full and the loop blocks: a timer wakes it). The
 * error status must reach hiredis. */
static void on_timer_kill(uv_timer_t *t)
{
    ut *u = t->data;
    if (u->ac && sdslen(u->ac->c.obuf) > 0) {
        u->saw_partial++;
        u->step = 2;
        redis_kill_now();
    } else {
        kill(g_redis.pid, SIGCONT);         /* the test fails on step */
    }
}

static void on_stop_ping(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (!is_pong(r))
        return;
    kill(g_redis.pid, SIGSTOP);
    redisAsyncCommand(ac, on_ok, NULL, "SET uvr:big %b", u->big, (size_t)BIG);
    u->step = 1;
    uv_timer_start(&u->timer, on_timer_kill, 20, 0);
}

static void test_uvredis_server_killed_during_a_partial_write_disconnects(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    fill_big(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_stop_ping, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(th_redis_restart(&g_redis), 0);
    assert_int_equal(u.step, 2);
    assert_int_equal(u.saw_partial, 1);
    assert_int_equal(u.replies_null, 1);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_ERR);
}

/* ======================== freed while pending ======================== */

/* From a timer (outside any hiredis callback): free right after queueing. */
static void on_timer_free(uv_timer_t *t)
{
    ut *u = t->data;
    issue_sets(u, PENDING);
    redisAsyncFree(u->ac);                  /* the prepare must not run */
}

static void on_timer_disconnect(uv_timer_t *t)
{
    ut *u = t->data;
    issue_sets(u, PENDING);
    redisAsyncDisconnect(u->ac);            /* clean: the SETs still go */
}

static void on_pong_start_timer(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (is_pong(r))
        uv_timer_start(&u->timer, u->then, 0, 0);
}

static void test_uvredis_free_with_a_pending_write_is_safe(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    u.then = on_timer_free;
    redisAsyncCommand(u.ac, on_pong_start_timer, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_null, PENDING);
    assert_int_equal(u.replies_ok, 0);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);  /* FREEING reports OK */
}

static void test_uvredis_disconnect_with_a_pending_write_sends_it_first(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    u.then = on_timer_disconnect;
    redisAsyncCommand(u.ac, on_pong_start_timer, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_ok, PENDING);
    assert_int_equal(u.replies_null, 0);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* From inside a reply callback: hiredis defers the free until it returns. */
static void on_ping_queue_and_free(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (!is_pong(r))
        return;
    issue_sets(u, PENDING);
    redisAsyncFree(ac);
}

static void test_uvredis_free_from_a_callback_with_a_pending_write_is_safe(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_ping_queue_and_free, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_null, PENDING);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
}

/* Free while WRITABLE is armed for the rest of a big write. */
static void on_check_free(uv_check_t *h)
{
    ut *u = h->data;
    if (u->ac && sdslen(u->ac->c.obuf) > 0) {
        u->saw_partial++;
        redisAsyncFree(u->ac);
    }
}

static void on_big_set_ping(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)r;
    (void)priv;
    redisAsyncCommand(ac, on_ok, NULL, "SET uvr:big %b", u->big, (size_t)BIG);
}

static void test_uvredis_free_during_a_partial_write_is_safe(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    fill_big(&u);
    uv_check_start(&u.check, on_check_free);
    uv_unref((uv_handle_t *)&u.check);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_big_set_ping, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.saw_partial, 1);
    assert_int_equal(u.replies_null, 1);
    assert_int_equal(u.disconnects, 1);
}

/* The write inside the prepare fails (EPIPE: our side was shut down), so
 * hiredis disconnects and frees the context from inside that write. */
static void on_ping_shut_and_queue(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (!is_pong(r))
        return;
    assert_int_equal(shutdown(ac->c.fd, SHUT_WR), 0);
    issue_sets(u, PENDING);
}

static void test_uvredis_write_error_in_the_flush_frees_safely(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_ping_shut_and_queue, NULL, "PING");
    ut_run_and_close(&u);
    assert_int_equal(u.replies_null, PENDING);
    assert_int_equal(u.replies_ok, 0);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_ERR);
}

/* ======================== the loop ======================== */

static void on_idle_over(uv_timer_t *t)
{
    ut *u = t->data;
    u->step = (int)(u->iterations - u->iter_mark);
    redisAsyncDisconnect(u->ac);
}

static void on_idle_pong(redisAsyncContext *ac, void *r, void *priv)
{
    ut *u = ac->data;
    (void)priv;
    if (is_pong(r))
        u->replies_ok++;
    u->iter_mark = u->iterations;
    uv_timer_start(&u->timer, on_idle_over, 100, 0);
}

static void test_uvredis_loop_blocks_when_idle_and_exits_after_the_free(void **state)
{
    ut u;
    (void)state;

    ut_init(&u);
    ut_connect(&u, g_redis.port, NULL);
    redisAsyncCommand(u.ac, on_idle_pong, NULL, "PING");
    ut_run_and_close(&u);                   /* asserts uv_run returned */
    assert_int_equal(u.replies_ok, 1);
    assert_int_equal(u.disconnects, 1);
    assert_int_equal(u.disc_status, REDIS_OK);
    assert_true(u.step >= 1);               /* 100 ms idle: a few rounds, */
    assert_true(u.step <= 5);               /* not a spin */
}

/* A connect that fails (nothing listens) frees the context with WRITABLE
 * armed, never pending: the loop still ends. */
static void test_uvredis_failed_connect_leaves_no_handle(void **state)
{
    ut u;
    int port = th_free_port();
    (void)state;

    ut_init(&u);
    ut_connect(&u, port, NULL);
    issue_sets(&u, 1);
    ut_run_and_close(&u);
    assert_int_equal(u.connected, 0);
    assert_int_equal(u.replies_null, 1);
    assert_int_equal(u.disconnects, 0);     /* never connected */
}

/* ======================== main ======================== */

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);               /* hiredis 0.14 uses write(2) */
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
        cmocka_unit_test(test_uvredis_many_commands_from_one_callback_arrive_in_order),
        cmocka_unit_test(test_uvredis_command_from_a_timer_is_written_before_the_loop_blocks),
        cmocka_unit_test(test_uvredis_large_value_written_in_parts_round_trips_intact),
        cmocka_unit_test(test_uvredis_server_restarted_under_pending_writes_disconnects),
        cmocka_unit_test(test_uvredis_server_killed_during_a_partial_write_disconnects),
        cmocka_unit_test(test_uvredis_free_with_a_pending_write_is_safe),
        cmocka_unit_test(test_uvredis_disconnect_with_a_pending_write_sends_it_first),
        cmocka_unit_test(test_uvredis_free_from_a_callback_with_a_pending_write_is_safe),
        cmocka_unit_test(test_uvredis_free_during_a_partial_write_is_safe),
        cmocka_unit_test(test_uvredis_write_error_in_the_flush_frees_safely),
        cmocka_unit_test(test_uvredis_loop_blocks_when_idle_and_exits_after_the_free),
        cmocka_unit_test(test_uvredis_failed_connect_leaves_no_handle),
    };
    return cmocka_run_group_tests_name("uvredis", tests, group_setup, group_teardown);
}
