/* test_engine_session.c -- unit tests of the engine session (session.c):
 * one state kept across runs for rhaictl repl, with the hooks around every
 * run as around every task. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <mujs.h>

#include "engine/engine.h"

/* What the test hooks saw: one setup and one finish per run, with the
 * run's task id, as dsl/task.c needs to open and commit one transaction. */
static struct {
    int  prepares;
    int  setups;
    int  finishes;
    char last_setup_id[64];
    char last_finish_id[64];
    int  last_finish_done;
} seen;

static void hook_prepare(js_State *J, void *data)
{
    (void)data;
    seen.prepares++;
    js_newobject(J);
    js_setglobal(J, "Bound");       /* what dsl_bind does, in small */
}

static void hook_setup(js_State *J, const eng_input *in, void *data)
{
    (void)J;
    (void)data;
    seen.setups++;
    snprintf(seen.last_setup_id, sizeof seen.last_setup_id, "%s", in->task_id);
}

static void hook_finish(const eng_input *in, eng_output *out, void *data)
{
    (void)data;
    seen.finishes++;
    snprintf(seen.last_finish_id, sizeof seen.last_finish_id, "%s", in->task_id);
    seen.last_finish_done = out->status == RHAI_STATUS_DONE;
}

static int session_setup(void **state)
{
    eng_hooks h = { .setup = hook_setup, .finish = hook_finish, .prepare = hook_prepare };
    eng_session *s = NULL;

    memset(&seen, 0, sizeof seen);
    eng_set_hooks(&h);
    if (eng_session_new(NULL, &s) != 0)
        return -1;
    *state = s;
    return 0;
}

static int session_teardown(void **state)
{
    eng_session_free(*state);
    eng_set_hooks(NULL);
    return 0;
}

/* Run 'script' as task 'id' in the session into 'o' (cleared first). */
static void run(eng_session *s, eng_output *o, const char *id, const char *script)
{
    eng_input in;

    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.worker_id = "local";
    in.context_id = "default";
    in.caller_id = "alice";
    eng_output_clear(o);
    assert_int_equal(eng_session_run(s, &in, o), 0);
}

static void test_session_keeps_definitions_across_runs(void **state)
{
    eng_session *s = *state;
    eng_output o;

    eng_output_init(&o);
    run(s, &o, "t1", "function sq(x) { return x * x; }\nvar n = 6;");
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    run(s, &o, "t2", "n = n + 1; sq(n)");
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    assert_string_equal(o.output, "49");
    run(s, &o, "t3", "[typeof sq, n, typeof Bound]");
    assert_string_equal(o.output, "[\"function\",7,\"object\"]");
    eng_output_clear(&o);
}

static void test_session_gives_each_run_its_own_ctx_and_args(void **state)
{
    eng_session *s = *state;
    eng_output o;
    eng_input in;

    eng_output_init(&o);
    run(s, &o, "first", "ctx.task_id");
    assert_string_equal(o.output, "\"first\"");
    memset(&in, 0, sizeof in);
    in.task_id = "second";
    in.script = "[ctx.task_id, args.k, Object.isFrozen(ctx)]";
    in.script_len = strlen(in.script);
    in.args_json = "{\"k\":3}";
    eng_output_clear(&o);
    assert_int_equal(eng_session_run(s, &in, &o), 0);
    assert_string_equal(o.output, "[\"second\",3,true]");
    eng_output_clear(&o);
}

static void test_session_runs_the_hooks_once_around_every_run(void **state)
{
    eng_session *s = *state;
    eng_output o;

    eng_output_init(&o);
    assert_int_equal(seen.prepares, 1);         /* once, when made */
    run(s, &o, "a-1", "1");
    run(s, &o, "a-2", "throw new Error('no')");
    assert_int_equal(seen.setups, 2);
    assert_int_equal(seen.finishes, 2);
    assert_string_equal(seen.last_setup_id, "a-2");
    assert_string_equal(seen.last_finish_id, "a-2");
    assert_int_equal(seen.last_finish_done, 0);  /* finish rolls a failed run back */
    assert_int_equal(seen.prepares, 1);
    eng_output_clear(&o);
}

static void test_session_reports_an_error_with_the_line_of_its_run(void **state)
{
    eng_session *s = *state;
    eng_output o;

    eng_output_init(&o);
    run(s, &o, "e1", "var a = 1;\n\nnosuch();");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_SCRIPT);
    assert_string_equal(o.error, "ReferenceError: 'nosuch' is not defined (line 3)");
    run(s, &o, "e2", "[a,\n(");
    assert_non_null(strstr(o.error, "SyntaxError"));
    assert_non_null(strstr(o.error, "(line 2)"));
    run(s, &o, "e3", "a + 1");                  /* the state survived both */
    assert_string_equal(o.output, "2");
    eng_output_clear(&o);
}

static void test_session_keeps_print_lines_per_run(void **state)
{
    eng_session *s = *state;
    eng_output o;

    eng_output_init(&o);
    run(s, &o, "p1", "print('one', 1); 0");
    assert_string_equal(o.logs, "one 1\n");
    run(s, &o, "p2", "2");
    assert_string_equal(o.logs, "");
    eng_output_clear(&o);
}

/* A parser warning is a log line of the run, as a task's:
 * "warning: NAME:LINE: MSG", not mujs's "NAME:LINE: warning: MSG". */
static void test_session_logs_a_parser_warning_as_a_task_does(void **state)
{
    eng_session *s = *state;
    eng_output o;

    eng_output_init(&o);
    run(s, &o, "w1", "if (true) { function f() { return 7; } } f()");
    assert_string_equal(o.output, "7");
    assert_int_equal(strncmp(o.logs, "warning: ", 9), 0);
    assert_non_null(strstr(o.logs, ":1: function statements are not standard\n"));
    assert_null(strstr(o.logs, ": warning: "));
    eng_output_clear(&o);
}

static void test_session_is_lost_when_the_heap_cap_is_hit(void **state)
{
    eng_limits lim;
    eng_session *s = NULL;
    eng_output o;

    (void)state;
    memset(&lim, 0, sizeof lim);
    lim.memory = 1024 * 1024;
    assert_int_equal(eng_session_new(&lim, &s), 0);
    eng_output_init(&o);
    run(s, &o, "m1", "var a = []; for (;;) a.push('xxxxxxxxxxxxxxxx' + a.length);");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_MEMORY);
    assert_true(eng_session_broken(s));
    run(s, &o, "m2", "1");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_INTERNAL);
    eng_output_clear(&o);
    eng_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_keeps_definitions_across_runs,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_gives_each_run_its_own_ctx_and_args,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_runs_the_hooks_once_around_every_run,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_reports_an_error_with_the_line_of_its_run,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_keeps_print_lines_per_run,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_logs_a_parser_warning_as_a_task_does,
                                        session_setup, session_teardown),
        cmocka_unit_test_setup_teardown(test_session_is_lost_when_the_heap_cap_is_hit,
                                        session_setup, session_teardown),
    };
    return cmocka_run_group_tests_name("engine_session", tests, NULL, NULL);
}
