/* test_client_submit.c -- what a failed rhai_submit means for its task,
 * as rhai/client.h states it: RHAI_ECONN with a message saying whether
 * the task was sent (then it may be queued) or not, id_out untouched, and
 * rhai_task_status() on an id set by the caller telling which it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rhai/client.h"
#include "harness.h"

static void test_submit_econn_says_whether_the_task_was_sent(void **state)
{
    th_redis r;
    rhai_client *c = NULL;
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX] = "untouched";
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    assert_int_equal(rhai_client_connect(r.url, NULL, &c, &err), 0);
    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_id(t, "maybe-1"), 0);

    /* The connection dies under the client: the commands are written and
     * no reply comes, so the task may be queued. */
    assert_int_equal(th_redis_restart(&r), 0);
    assert_int_equal(rhai_submit(c, t, id, &err), RHAI_ECONN);
    assert_int_equal(err.code, RHAI_ECONN);
    if (strstr(err.msg, "task maybe-1 may have been queued") == NULL)
        fail_msg("message: %s", err.msg);
    assert_string_equal(id, "untouched");
    /* ... and its id tells: this one never reached the new server */
    assert_int_equal(rhai_task_status(c, "maybe-1", &res, &err), RHAI_ENOTFOUND);
    assert_null(res);

    /* A submit that cannot connect sends nothing. */
    th_redis_stop(&r);
    assert_int_equal(rhai_submit(c, t, id, &err), RHAI_ECONN);   /* stale connection */
    assert_int_equal(rhai_submit(c, t, id, &err), RHAI_ECONN);   /* refused */
    if (strstr(err.msg, "task maybe-1 was not sent") == NULL)
        fail_msg("message: %s", err.msg);
    assert_string_equal(id, "untouched");

    rhai_task_free(t);
    rhai_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_econn_says_whether_the_task_was_sent),
    };
    return cmocka_run_group_tests_name("client_submit", tests, NULL, NULL);
}
