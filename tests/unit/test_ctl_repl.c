/* test_ctl_repl.c -- unit tests of rhaictl repl's scanner (repl_scan.c)
 * and of what remote mode carries between entries (repl_carry.c); the
 * remote script itself runs here through eng_run, the sandbox a worker
 * uses, without Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/common.h"
#include "ctl/repl.h"
#include "engine/engine.h"

static int complete(const char *s)
{
    return ctl_repl_complete(s, strlen(s));
}

/* ---- continuation ---- */

static void test_repl_complete_waits_while_a_bracket_is_open(void **state)
{
    (void)state;
    assert_false(complete("function f(x) {\n"));
    assert_false(complete("function f(x) {\n  return [x,\n"));
    assert_false(complete("foo(1,\n"));
    assert_true(complete("function f(x) {\n  return [x,\n 1];\n}\n"));
    assert_true(complete("1 + 2"));
    assert_true(complete("}"));                 /* too many closers: the engine says so */
    assert_true(complete(""));
}

static void test_repl_complete_ignores_brackets_in_strings_comments_and_regexps(void **state)
{
    (void)state;
    assert_true(complete("'{' + \"(\" + '[\\''"));
    assert_true(complete("x = 1 // {\n"));
    assert_true(complete("/[(]/.test(s) && s.split(/\\//)"));
    assert_true(complete("a / b / (c)"));       /* division, not a regexp */
    assert_false(complete("/* a comment {\n"));
    assert_true(complete("/* a comment {\n still */ 1"));
    assert_false(complete("f(/* ) */\n"));
}

static void test_repl_complete_continues_a_string_ending_in_a_backslash(void **state)
{
    (void)state;
    assert_false(complete("var s = 'ab\\\n"));
    assert_true(complete("var s = 'ab\\\ncd'\n"));
    assert_false(complete("var s = \"x\\\ny\\\n"));
    /* open without the backslash: a syntax error for the engine, not more lines */
    assert_true(complete("var s = 'ab\n"));
}

/* ---- function declarations ---- */

static void test_repl_functions_finds_top_level_declarations_only(void **state)
{
    const char *src = "function a(x) { return {b: [1]}; }\n"
                      "var z = function q() {};\n"
                      "(function r() {})();\n"
                      "function b() { function inner() {} return '}'; }\n"
                      "x = 1\n"
                      "function c() {}\n"
                      "y = 2 +\n"
                      "function d() {}\n";
    ctl_repl_decl d[8];
    size_t n = ctl_repl_functions(src, strlen(src), d, 8);

    (void)state;
    assert_int_equal(n, 3);
    assert_string_equal(d[0].name, "a");
    assert_int_equal(d[0].start, 0);
    assert_memory_equal(src + d[0].end - 3, "; }", 3);
    assert_string_equal(d[1].name, "b");
    assert_int_equal(strncmp(src + d[1].start, "function b()", 12), 0);
    assert_memory_equal(src + d[1].end - 6, "'}'; }", 6);
    assert_string_equal(d[2].name, "c");
    assert_int_equal(d[2].end - d[2].start, strlen("function c() {}"));
}

static void test_repl_functions_skips_declarations_in_strings_and_comments(void **state)
{
    const char *src = "var s = 'function x() {}'; // function y() {}\n"
                      "/* function z() {} */ 1";
    ctl_repl_decl d[4];

    (void)state;
    assert_int_equal(ctl_repl_functions(src, strlen(src), d, 4), 0);
}

/* ---- carry ---- */

static void test_repl_carry_keeps_the_latest_definition_of_a_name(void **state)
{
    ctl_repl_carry c;
    const char *e1 = "function f() { return 1; }\nfunction g() { return 2; }";
    const char *e2 = "function f() { return 3; }";

    (void)state;
    memset(&c, 0, sizeof c);
    assert_int_equal(ctl_repl_carry_functions(&c, e1, strlen(e1)), 0);
    assert_int_equal(ctl_repl_carry_functions(&c, e2, strlen(e2)), 0);
    assert_int_equal(c.nfns, 2);
    assert_string_equal(c.fns[0].name, "f");
    assert_string_equal(c.fns[0].src, e2);
    assert_string_equal(c.fns[1].src, "function g() { return 2; }");
    ctl_repl_carry_free(&c);
}

static void test_repl_js_string_escapes_what_ends_a_literal(void **state)
{
    const char s[] = "a\"b\\c\nd\xe2\x80\xa8" "e";
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(ctl_repl_js_string(&b, s, sizeof s - 1), 0);
    assert_int_equal(rh_buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\\u2028e\"");
    rh_buf_free(&b);
}

static void test_repl_remote_output_refuses_other_shapes(void **state)
{
    ctl_repl_carry c;
    char *v = NULL;

    (void)state;
    memset(&c, 0, sizeof c);
    assert_int_equal(ctl_repl_remote_output(&c, "42", &v), -1);
    assert_int_equal(ctl_repl_remote_output(&c, "[\"1\"]", &v), -1);
    assert_int_equal(ctl_repl_remote_output(&c, NULL, &v), -1);
    assert_null(v);
    assert_int_equal(ctl_repl_remote_output(&c, "[\"[1,2]\",{\"x\":1}]", &v), 0);
    assert_string_equal(v, "[1,2]");
    assert_true(json_number_value(json_object_get(c.globals, "x")) == 1.0);
    rh_free(v);
    ctl_repl_carry_free(&c);
}

/* ---- the remote script, run in the sandbox a worker uses ---- */

/* Run entry 'src' as remote mode would: the script from 'c', eng_run,
 * then the output read back into 'c' on success. *value new or NULL. */
static void remote(ctl_repl_carry *c, const char *src, eng_output *o, char **value)
{
    char *script = ctl_repl_remote_script(c, src, strlen(src));
    eng_input in;

    assert_non_null(script);
    memset(&in, 0, sizeof in);
    in.task_id = "t";
    in.script = script;
    in.script_len = strlen(script);
    eng_output_clear(o);
    assert_int_equal(eng_run(&in, NULL, o), 0);
    rh_free(script);
    *value = NULL;
    if (o->status == RHAI_STATUS_DONE) {
        assert_int_equal(ctl_repl_remote_output(c, o->output, value), 0);
        assert_int_equal(ctl_repl_carry_functions(c, src, strlen(src)), 0);
    }
}

static void test_repl_remote_script_carries_functions_and_globals(void **state)
{
    ctl_repl_carry c;
    eng_output o;
    char *v;

    (void)state;
    memset(&c, 0, sizeof c);
    eng_output_init(&o);
    remote(&c, "function sq(x) {\n  return x * x;\n}\nvar n = 6;\nvar o = {a: [1]};", &o, &v);
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    rh_free(v);
    remote(&c, "n = n + 1;\nvar f = function () {};\no.a.push(2);\nsq(n)", &o, &v);
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    assert_string_equal(v, "49");
    rh_free(v);
    remote(&c, "[n, o, typeof f, typeof sq, typeof __rhai_repl_x]", &o, &v);
    assert_string_equal(v, "[7,{\"a\":[1,2]},\"undefined\",\"function\",\"undefined\"]");
    rh_free(v);
    /* the engine's own globals are not carried */
    assert_null(json_object_get(c.globals, "ctx"));
    assert_null(json_object_get(c.globals, "args"));
    assert_null(json_object_get(c.globals, "__rhai_repl"));
    eng_output_clear(&o);
    ctl_repl_carry_free(&c);
}

static void test_repl_remote_script_reports_the_entry_line_of_an_error(void **state)
{
    ctl_repl_carry c;
    eng_output o;
    char *v;

    (void)state;
    memset(&c, 0, sizeof c);
    eng_output_init(&o);
    remote(&c, "var a = 1;\n\nnosuch();", &o, &v);
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_string_equal(o.error, "ReferenceError: 'nosuch' is not defined (line 3)");
    remote(&c, "[a,\n(", &o, &v);
    assert_non_null(strstr(o.error, "SyntaxError"));
    assert_non_null(strstr(o.error, "(line 2)"));
    /* a failed entry carries nothing: a is not defined */
    remote(&c, "typeof a", &o, &v);
    assert_string_equal(v, "\"undefined\"");
    rh_free(v);
    eng_output_clear(&o);
    ctl_repl_carry_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_complete_waits_while_a_bracket_is_open),
        cmocka_unit_test(test_repl_complete_ignores_brackets_in_strings_comments_and_regexps),
        cmocka_unit_test(test_repl_complete_continues_a_string_ending_in_a_backslash),
        cmocka_unit_test(test_repl_functions_finds_top_level_declarations_only),
        cmocka_unit_test(test_repl_functions_skips_declarations_in_strings_and_comments),
        cmocka_unit_test(test_repl_carry_keeps_the_latest_definition_of_a_name),
        cmocka_unit_test(test_repl_js_string_escapes_what_ends_a_literal),
        cmocka_unit_test(test_repl_remote_output_refuses_other_shapes),
        cmocka_unit_test(test_repl_remote_script_carries_functions_and_globals),
        cmocka_unit_test(test_repl_remote_script_reports_the_entry_line_of_an_error),
    };
    return cmocka_run_group_tests_name("ctl_repl", tests, NULL, NULL);
}
