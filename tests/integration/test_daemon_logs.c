/* test_daemon_logs.c -- rhaid's log lines carry text from outside (a
 * task's fields, what jansson quotes of them): every such reason is one
 * quoted, escaped field, so a submitter cannot end the field early and
 * forge fields (kind=, event=) of their own, in key=value or JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

/* The first line of r's rhaid logs holding 'needle', into line. 0 / -1. */
static int log_line(const th_redis *r, const char *needle, char *line, size_t n)
{
    char cmd[600];
    FILE *f;
    int found = -1;

    snprintf(cmd, sizeof cmd, "cat %s/rhaid-*.log", r->dir);
    f = popen(cmd, "r");
    assert_non_null(f);
    while (found != 0 && fgets(line, (int)n, f))
        if (strstr(line, needle))
            found = 0;
    pclose(f);
    return found;
}

static void test_a_task_invalid_reason_cannot_forge_fields(void **state)
{
    static const char *const extra[] = { "--log-format", "json", NULL };
    th_redis r;
    redisContext *c;
    rh_task t;
    pid_t pid;
    char line[8192];
    json_error_t jerr;
    json_t *o;
    const char *reason;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 1, extra);
    assert_true(pid > 0);
    c = th_redis_connect(&r);
    /* args that are not JSON: jansson's message quotes the bad token */
    assert_int_equal(th_submit(c, "default", "forge", "1", "{\"a\" \"x\\\" kind=forged",
                               0, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "forge", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    th_stop(pid, 10000);

    assert_int_equal(log_line(&r, "task_invalid", line, sizeof line), 0);
    o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        fail_msg("not JSON: %s", line);
    reason = json_string_value(json_object_get(o, "reason"));
    if (reason == NULL || strstr(reason, "kind=forged") == NULL)
        fail_msg("the reason was cut: %s", line);
    assert_null(json_object_get(o, "kind"));
    assert_string_equal(json_string_value(json_object_get(o, "task")), "forge");
    json_decref(o);
    redisFree(c);
    th_redis_stop(&r);
}

/* Executors log at rhaid's level: with --log-level debug their debug
 * lines (executor_confined) are there; at the default info they are not. */
static void test_executors_log_at_the_level_rhaid_was_given(void **state)
{
    static const char *const debug[] = { "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    rh_task t;
    pid_t pid;
    char line[8192];
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 1, debug);
    assert_true(pid > 0);
    c = th_redis_connect(&r);
    /* a task answered: its executor was confined (and said so) before */
    assert_int_equal(th_submit(c, "default", "one", "1", NULL, 0, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "one", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    redisFree(c);
    th_stop(pid, 10000);
    if (log_line(&r, "event=executor_confined", line, sizeof line) != 0) {
        th_sh("cat %s/rhaid-*.log", r.dir);
        fail_msg("no executor debug line under --log-level debug");
    }
    assert_non_null(strstr(line, "rhaid-executor["));
    assert_non_null(strstr(line, "level=debug"));
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_task_invalid_reason_cannot_forge_fields),
        cmocka_unit_test(test_executors_log_at_the_level_rhaid_was_given),
    };
    return cmocka_run_group_tests_name("daemon_logs", tests, NULL, NULL);
}
