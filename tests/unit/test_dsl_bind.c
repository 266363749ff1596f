/* test_dsl_bind.c -- which DSL globals a task gets: every model, builder,
 * acl and audit, whatever its source names (they live in the library state
 * every task copies), each model's object built on first use and gone with
 * the task. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "dsl/dsl.h"
#include "th_store.h"

static char data_dir[256];
static char data_url[2048];    /* data_dir, or a fresh postgres database */

static int dir_setup(void **state)
{
    rhai_error err;
    (void)state;
    snprintf(data_dir, sizeof data_dir, "/tmp/rhai-test-dslbind-XXXXXX");
    assert_non_null(mkdtemp(data_dir));
    assert_int_equal(th_store_url(data_dir, data_url, sizeof data_url), 0);
    assert_int_equal(dsl_install(data_url, &err), 0);
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[300];
    (void)state;
    dsl_uninstall();
    th_store_done(data_url);
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

static void test_every_model_is_bound_whatever_the_source_names(void **state)
{
    (void)state;
    expect("[typeof Company, typeof new_company, ('Acc' + 'ount') in this]",
           "[\"object\",\"function\",true]");
    expect("typeof new_account", "\"function\"");
    expect("[typeof acl, typeof audit, typeof acl.grant, typeof audit.query]",
           "[\"object\",\"object\",\"function\",\"function\"]");
}

static void test_dynamic_global_access_reaches_every_model(void **state)
{
    (void)state;
    expect("typeof this['Acc' + 'ount']", "\"object\"");
    expect("var g = (function () { return this; })(); typeof g.Company", "\"object\"");
}

/* A model's object is built on first use and cached in the task's state:
 * what one task did to it is gone in the next. */
static void test_a_changed_model_object_does_not_reach_the_next_task(void **state)
{
    (void)state;
    expect("Company.tag = 1; typeof Company.tag", "\"number\"");
    expect("[typeof Company.get, typeof Company.tag]", "[\"function\",\"undefined\"]");
}

static void test_model_globals_cannot_be_replaced(void **state)
{
    (void)state;
    expect("Company = 1; new_company = 2; acl = 3; [typeof Company, typeof new_company, "
           "typeof acl]", "[\"object\",\"function\",\"object\"]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_is_bound_whatever_the_source_names),
        cmocka_unit_test(test_dynamic_global_access_reaches_every_model),
        cmocka_unit_test(test_a_changed_model_object_does_not_reach_the_next_task),
        cmocka_unit_test(test_model_globals_cannot_be_replaced),
    };
    return cmocka_run_group_tests_name("dsl_bind", tests, dir_setup, dir_teardown);
}
