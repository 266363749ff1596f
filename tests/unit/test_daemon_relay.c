/* test_daemon_relay.c -- rhaid's check of the events a result carries
 * (wk_relay_check): identity is never taken from the executor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/daemon.h"

static const char ok_event[] =
    "{\"id\":\"t1.1\",\"name\":\"order.paid\",\"payload\":{\"n\":1},\"context\":\"acme\","
    "\"task\":\"t1\",\"caller\":\"alice\",\"time\":1,\"trace\":\"root\",\"depth\":3,"
    "\"subs\":[{\"name\":\"audit\",\"worker\":\"default\",\"script\":\"1\",\"args\":\"{}\","
    "\"caller\":\"ops\"}]}";

static int check(const char *events, json_t **ok)
{
    static wk_config cfg;
    rh_task t;

    cfg.max_script = 100;
    cfg.max_args = 100;
    rh_task_init(&t);
    t.context_id = (char *)"acme";
    t.caller_id = (char *)"alice";
    t.trace_id = (char *)"root";
    t.parent_id = (char *)"p";
    t.depth = 2;
    return wk_relay_check(&cfg, &t, "t1", events, ok);
}

/* Replace the first 'from' in ok_event by 'to': one forged field. */
static int forged(const char *from, const char *to)
{
    char buf[1024], *p;
    json_t *ok = NULL;
    int rc;

    snprintf(buf, sizeof buf, "[%s]", ok_event);
    p = strstr(buf, from);
    assert_non_null(p);
    memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
    memcpy(p, to, strlen(to));
    rc = check(buf, &ok);
    assert_non_null(ok);
    assert_int_equal((int)json_array_size(ok) + rc, 1);
    json_decref(ok);
    return rc;
}

static void test_a_result_cannot_forge_the_identity_of_its_events(void **state)
{
    json_t *ok = NULL;
    char buf[1024];
    (void)state;

    snprintf(buf, sizeof buf, "[%s]", ok_event);
    assert_int_equal(check(buf, &ok), 0);
    assert_int_equal(json_array_size(ok), 1);
    json_decref(ok);
    /* the task's own event: context, caller, trace, depth must be its */
    assert_int_equal(forged("\"context\":\"acme\"", "\"context\":\"other\""), 1);
    assert_int_equal(forged("\"caller\":\"alice\"", "\"caller\":\"root\""), 1);
    assert_int_equal(forged("\"trace\":\"root\"", "\"trace\":\"t9\""), 1);
    assert_int_equal(forged("\"depth\":3", "\"depth\":1"), 1);
    /* a swept row of another task of the same context: accepted */
    assert_int_equal(forged("\"task\":\"t1\",\"caller\":\"alice\"",
                            "\"task\":\"t0\",\"caller\":\"bob\""), 0);
    /* subscriptions are checked as tasks */
    assert_int_equal(forged("\"worker\":\"default\"", "\"worker\":\"a{b}\""), 1);
    assert_int_equal(forged("\"args\":\"{}\"", "\"args\":\"[1]\""), 1);
    assert_int_equal(forged("\"caller\":\"ops\"", "\"caller\":\"o p\""), 1);
    assert_int_equal(forged("\"script\":\"1\"", "\"script\":\"\""), 1);
    assert_int_equal(forged("\"name\":\"order.paid\"", "\"name\":\".x\""), 1);
    /* not an array: nothing */
    assert_int_equal(check("{}", &ok), -1);
    assert_null(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_result_cannot_forge_the_identity_of_its_events),
    };
    return cmocka_run_group_tests_name("daemon_relay", tests, NULL, NULL);
}
