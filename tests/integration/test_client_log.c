/* test_client_log.c -- the library's logging: silent by default, and
 * delivered to the callback of rhai_set_log_cb() when one is installed.
 *
 * The situation is one that logs an ERROR: an async client whose SELECT
 * is refused (db 99 of a redis-server with 16) fails its connection
 * attempts ("event=redis_select_failed ... db=99 reason=...", the Redis
 * layer's event: a misconfiguration). The line is logged before
 * the pending submit fails, so once the submit's callback has run, the
 * line has been emitted (or not). stderr is redirected to a file around
 * the client's life and must stay empty unless a callback says otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "harness.h"

static th_redis g_redis;

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

/* ---- stderr capture ---- */

typedef struct capture {
    FILE *f;                        /* tmpfile that fd 2 points to */
    int   saved;                    /* the real stderr */
} capture;

static void capture_begin(capture *c)
{
    fflush(stderr);
    c->f = tmpfile();
    assert_non_null(c->f);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->f), 2) == 2);
}

/* Restore stderr; returns what was written meanwhile (static, cut). */
static const char *capture_end(capture *c)
{
    static char text[8192];
    size_t got;
    long n;

    fflush(stderr);
    assert_true(dup2(c->saved, 2) == 2);
    close(c->saved);
    assert_int_equal(fseek(c->f, 0, SEEK_END), 0);
    n = ftell(c->f);
    assert_true(n >= 0);
    rewind(c->f);
    got = fread(text, 1, sizeof text - 1, c->f);
    text[got] = '\0';
    fclose(c->f);
    return text;
}

/* ---- the situation that logs an ERROR ---- */

static void on_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    (void)res;
    *(int *)data = status;
    rhai_async_close(a, NULL, NULL);
}

/* An async client on db 99 submits one task; the refused SELECT drops
 * the connection (an ERROR line) and then fails the submit with RHAI_ECONN. */
static void run_refused_select(void)
{
    char url[96];
    uv_loop_t loop;
    rhai_async *a = NULL;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };
    int status = 1;

    snprintf(url, sizeof url, "%s/99", g_redis.url);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(rhai_async_new(&loop, url, NULL, &a, &err), 0);
    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_async_submit(a, t, 60000, on_done, &status, &err), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(status, RHAI_ECONN);
    assert_int_equal(uv_loop_close(&loop), 0);
    rhai_task_free(t);
}

static void test_library_prints_nothing_to_stderr_by_default(void **state)
{
    capture c;
    const char *text;
    (void)state;

    capture_begin(&c);
    run_refused_select();
    text = capture_end(&c);
    if (text[0] != '\0')
        fail_msg("the library wrote to stderr: %s", text);
}

/* ---- the callback ---- */

typedef struct seen {
    int  lines;
    int  notices;                   /* redis_select_failed lines at RHAI_LOG_ERROR */
    int  below_min;                 /* lines under the installed minimum */
    int  min;
    int  set_rc;                    /* rhai_set_log_cb from inside */
    char first[512];
} seen;

static void on_log(int level, const char *msg, void *data)
{
    seen *s = data;

    if (s->lines++ == 0)
        snprintf(s->first, sizeof s->first, "%s", msg);
    if (level < s->min)
        s->below_min++;
    if (level == RHAI_LOG_ERROR && strstr(msg, "event=redis_select_failed") &&
        strstr(msg, "db=99 reason=\"ERR DB index is out of range"))
        s->notices++;
    s->set_rc = rhai_set_log_cb(NULL, 0, NULL);    /* refused: would deadlock */
}

static void test_log_callback_gets_the_level_and_the_message(void **state)
{
    seen s = { .min = RHAI_LOG_DEBUG };
    capture c;
    const char *text;
    (void)state;

    assert_int_equal(rhai_set_log_cb(on_log, RHAI_LOG_DEBUG, &s), 0);
    capture_begin(&c);
    run_refused_select();
    text = capture_end(&c);
    assert_int_equal(rhai_set_log_cb(NULL, 0, NULL), 0);
    if (text[0] != '\0')
        fail_msg("the library wrote to stderr with a callback: %s", text);
    assert_true(s.notices >= 1);    /* cmd; pop too unless close came first */
    assert_int_equal(s.set_rc, RHAI_ESTATE);
    /* the message alone: no time, program, pid, level or newline */
    assert_true(strncmp(s.first, "event=", 6) == 0);
    assert_null(strchr(s.first, '\n'));
    assert_null(strstr(s.first, "level="));
}

static void test_log_callback_sees_nothing_below_its_minimum(void **state)
{
    seen s = { .min = RHAI_LOG_ERROR };
    (void)state;

    assert_int_equal(rhai_set_log_cb(on_log, RHAI_LOG_ERROR, &s), 0);
    run_refused_select();
    assert_int_equal(rhai_set_log_cb(NULL, 0, NULL), 0);
    assert_true(s.notices >= 1);    /* at the minimum: delivered */
    assert_int_equal(s.below_min, 0);
}

static void test_log_callback_removed_is_never_called_again(void **state)
{
    seen s = { .min = RHAI_LOG_DEBUG };
    capture c;
    const char *text;
    (void)state;

    assert_int_equal(rhai_set_log_cb(on_log, RHAI_LOG_DEBUG, &s), 0);
    assert_int_equal(rhai_set_log_cb(NULL, RHAI_LOG_DEBUG, NULL), 0);
    capture_begin(&c);
    run_refused_select();
    text = capture_end(&c);
    assert_int_equal(s.lines, 0);
    if (text[0] != '\0')
        fail_msg("the library wrote to stderr after its callback was removed: %s", text);
}

static void test_log_level_out_of_range_is_rejected(void **state)
{
    seen s = { .min = RHAI_LOG_DEBUG };
    (void)state;

    assert_int_equal(rhai_set_log_cb(on_log, RHAI_LOG_DEBUG - 1, &s), RHAI_EINVAL);
    assert_int_equal(rhai_set_log_cb(on_log, RHAI_LOG_ERROR + 1, &s), RHAI_EINVAL);
    assert_int_equal(rhai_set_log_cb(NULL, 99, NULL), 0);       /* level unused */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_prints_nothing_to_stderr_by_default),
        cmocka_unit_test(test_log_callback_gets_the_level_and_the_message),
        cmocka_unit_test(test_log_callback_sees_nothing_below_its_minimum),
        cmocka_unit_test(test_log_callback_removed_is_never_called_again),
        cmocka_unit_test(test_log_level_out_of_range_is_rejected),
    };
    return cmocka_run_group_tests_name("client_log", tests, group_setup, group_teardown);
}
