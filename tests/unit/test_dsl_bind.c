/* test_dsl_bind.c -- which DSL globals a task gets: those its source names
 * (a task that uses no model pays nothing for the DSL), or all of them when
 * it reaches globals dynamically. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "dsl/dsl.h"

static char data_dir[256];

static int dir_setup(void **state)
{
    rhai_error err;
    (void)state;
    snprintf(data_dir, sizeof data_dir, "/tmp/rhai-test-dslbind-XXXXXX");
    assert_non_null(mkdtemp(data_dir));
    assert_int_equal(dsl_install(data_dir, &err), 0);
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[300];
    (void)state;
    dsl_uninstall();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void expect(const char *script, const char *want)
{
    static int seq;
    char id[32];
    eng_input in;
    eng_output out;

    snprintf(id, sizeof id, "bind-%d", ++seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.context_id = "c1";
    in.caller_id = "alice";
    in.worker_id = "w";
    assert_int_equal(eng_run(&in, NULL, &out), 0);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, want);
    eng_output_clear(&out);
}

static void test_a_named_model_is_bound_and_an_unnamed_one_is_not(void **state)
{
    (void)state;
    /* names Company (and so its builder): both there; Account not named */
    expect("[typeof Company, typeof new_company, ('Acc' + 'ount') in this]",
           "[\"object\",\"function\",false]");
    expect("typeof new_account", "\"function\"");
}

static void test_dynamic_global_access_binds_every_model(void **state)
{
    (void)state;
    expect("typeof this['Acc' + 'ount']", "\"object\"");
}

static void test_a_task_without_the_dsl_sees_no_model_global(void **state)
{
    (void)state;
    expect("40 + 2", "42");
    expect("var g = (function () { return this; })(); typeof g.Company", "\"object\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_named_model_is_bound_and_an_unnamed_one_is_not),
        cmocka_unit_test(test_dynamic_global_access_binds_every_model),
        cmocka_unit_test(test_a_task_without_the_dsl_sees_no_model_global),
    };
    return cmocka_run_group_tests_name("dsl_bind", tests, dir_setup, dir_teardown);
}
