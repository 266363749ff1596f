/* test_client_sync_connect.c -- the synchronous client's connections.
 *
 * Against a real redis-server (see client_sync.h): refused, silent and
 * invalid URLs, AUTH and SELECT, a lost connection, a Redis restart during a
 * wait, and a dead Redis under a large write. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "client_sync.h"

/* ======================== connections ======================== */

static void test_connect_to_a_closed_port_fails_with_a_message(void **state)
{
    rhai_client *c = (rhai_client *)0x1;
    rhai_error err = { 0, "" };
    char url[64];
    (void)state;

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", th_free_port());
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
    assert_int_equal(err.code, RHAI_ECONN);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    assert_non_null(strstr(err.msg, "refused"));
}

/* A port that takes the connection and never answers (a listening socket
 * nobody accepts on; a plain port for rediss://): after the connect limit,
 * RHAI_ECONN saying so, not RHAI_ETIMEOUT, which rhaictl took for a
 * task's timeout (exit 3). */
static void test_a_silent_port_is_unreachable_not_a_timeout(void **state)
{
    int port, s = th_listen(&port);
    rhai_client *c = (rhai_client *)0x1;
    rhai_error err = { 0, "" };
    char url[64];
    (void)state;

    assert_true(s >= 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
    assert_int_equal(err.code, RHAI_ECONN);
    assert_non_null(strstr(err.msg, "timed out"));
    snprintf(url, sizeof url, "rediss://127.0.0.1:%d", port);
    c = (rhai_client *)0x1;
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_null(c);
    assert_non_null(strstr(err.msg, "does the server speak TLS on this port?"));
    close(s);
}

static void test_bad_url_is_invalid(void **state)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    (void)state;
    assert_int_equal(rhai_client_connect("redis//oops", NULL, &c, &err), RHAI_EINVAL);
    assert_null(c);
    assert_true(err.msg[0] != '\0');
}

static void test_connect_authenticates_and_selects_the_db(void **state)
{
    fixture *f = *state;
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    char url[128], id[RHAI_ID_MAX];

    freeReplyObject(cmd(f->rc, "ACL SETUSER alice on >s3cret ~* &* +@all"));
    snprintf(url, sizeof url, "redis://alice:s3cret@127.0.0.1:%d/2", g_redis.port);
    if (rhai_client_connect(url, "app", &c, &err) != 0)
        fail_msg("connect: %s", err.msg);
    submit(c, "w-auth", "auth-1", NULL, id);
    rhai_client_free(c);
    freeReplyObject(cmd(f->rc, "SELECT 2"));
    assert_hfield(f->rc, "app:task:{w-auth}:auth-1", "id", "auth-1");
    assert_int_equal(cmd_int(f->rc, "LLEN app:queue:{w-auth}"), 1);
    freeReplyObject(cmd(f->rc, "SELECT 0"));
    assert_int_equal(cmd_int(f->rc, "EXISTS app:task:{w-auth}:auth-1"), 0);

    snprintf(url, sizeof url, "redis://alice:wrong@127.0.0.1:%d", g_redis.port);
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "AUTH"));
    assert_null(strstr(err.msg, "wrong"));           /* no password in messages */
    freeReplyObject(cmd(f->rc, "ACL DELUSER alice"));
}

/* A NULL reply drops the connection; the next call connects again. */
static void test_the_call_after_a_lost_connection_reconnects(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-lost", "lost-1", NULL, id);
    freeReplyObject(cmd(f->rc, "CLIENT KILL TYPE normal SKIPME yes"));
    assert_int_equal(rhai_task_status(f->c, "lost-1", &res, &err), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "lost"));
    assert_int_equal(rhai_task_status(f->c, "lost-1", &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    rhai_result_free(res);
}

/* The restarter: once the client blocks in BLMOVE, restart redis-server
 * (AOF keeps the task), then answer the task as a worker would. */
typedef struct restarter {
    pthread_t  th;
    atomic_int failed;
} restarter;

static int client_blocked_in_blmove(void)
{
    redisContext *rc = th_redis_connect(&g_redis);
    redisReply *r;
    int found = 0;
    if (rc == NULL)
        return 0;
    r = redisCommand(rc, "CLIENT LIST");
    found = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cmd=blmove") != NULL;
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return found;
}

static void *restarter_main(void *arg)
{
    restarter *rs = arg;
    int64_t deadline = rh_mono_ms() + 10000;
    redisContext *rc;
    char id[RHAI_ID_MAX];

    while (!client_blocked_in_blmove()) {
        struct timespec ts = { 0, 10 * 1000000L };     /* poll interval */
        if (rh_mono_ms() > deadline) {
            atomic_store(&rs->failed, 1);
            return NULL;
        }
        nanosleep(&ts, NULL);
    }
    if (th_redis_restart(&g_redis) != 0 || (rc = th_redis_connect(&g_redis)) == NULL) {
        atomic_store(&rs->failed, 2);
        return NULL;
    }
    if (fw_take(rc, "w-restart", "2", id) != 0 || strcmp(id, "restart-1") != 0 ||
        fw_claim(rc, "w-restart", id) != 0 ||
        fw_finish(rc, "w-restart", id, "done", "7", NULL, NULL) != 0)
        atomic_store(&rs->failed, 3);
    redisFree(rc);
    return NULL;
}

static void test_wait_survives_a_redis_restart(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    restarter rs;
    char id[RHAI_ID_MAX];

    memset(&rs, 0, sizeof rs);
    submit(f->c, "w-restart", "restart-1", NULL, id);
    assert_int_equal(pthread_create(&rs.th, NULL, restarter_main, &rs), 0);
    if (rhai_wait(f->c, "restart-1", 30000, &res, &err) != 0) {
        pthread_join(rs.th, NULL);
        fail_msg("wait across restart: %s (restarter %d)", err.msg, atomic_load(&rs.failed));
    }
    pthread_join(rs.th, NULL);
    assert_int_equal(atomic_load(&rs.failed), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_DONE);
    assert_string_equal(rhai_result_output(res), "7");
    rhai_result_free(res);
    /* The fixture's own connection died with the server; make a new one. */
    redisFree(f->rc);
    f->rc = th_redis_connect(&g_redis);
    assert_non_null(f->rc);
}

/* A process that keeps SIGPIPE's default action (an application that never
 * thought of it) submits a task larger than the socket buffers to a Redis
 * that died after the connection was made: the first write fills the
 * buffer, the dead peer answers with a reset, and the next write fails
 * with EPIPE, which raises SIGPIPE. The call must fail with RHAI_ECONN and
 * the process live on (checked in a child, whose death would be the bug). */
static void test_a_dead_redis_under_a_large_write_is_an_error_not_sigpipe(void **state)
{
    enum { BIG = 8 * 1024 * 1024 };
    th_redis r;
    pid_t child;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        rhai_client *c;
        rhai_task *t;
        rhai_error err;
        char *script = th_big_script(BIG);
        int rc;

        signal(SIGPIPE, SIG_DFL);
        if (script == NULL || rhai_client_connect(r.url, NULL, &c, &err) != 0)
            _exit(10);
        if (rhai_task_new(script, &t) != 0)
            _exit(11);
        th_redis_kill_from_child(&r);      /* Redis dies; we stay connected */
        rc = rhai_submit(c, t, NULL, &err);
        rhai_task_free(t);
        rhai_client_free(c);
        free(script);
        _exit(rc == RHAI_ECONN ? 0 : 12);
    }
    assert_int_equal(th_child_status(child), 0);     /* -13: SIGPIPE */
    th_redis_stop(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_to_a_closed_port_fails_with_a_message),
        cmocka_unit_test(test_a_silent_port_is_unreachable_not_a_timeout),
        cmocka_unit_test(test_bad_url_is_invalid),
        T(test_connect_authenticates_and_selects_the_db),
        T(test_the_call_after_a_lost_connection_reconnects),
        T(test_wait_survives_a_redis_restart),
        cmocka_unit_test(test_a_dead_redis_under_a_large_write_is_an_error_not_sigpipe),
    };
#undef T
    return cmocka_run_group_tests_name("client_sync_connect", tests, group_setup, group_teardown);
}
