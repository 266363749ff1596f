/* test_engine.c -- unit tests of eng_run: results, globals, print, errors.
 *
 * Every test runs real scripts in real mujs states; the hostile ones live
 * in test_engine_limits.c, the executor messages in test_engine_message_*.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"

/* ---- helpers ---- */

static int out_setup(void **state)
{
    eng_output *o = rh_malloc(sizeof *o);
    if (o == NULL)
        return -1;
    eng_output_init(o);
    *state = o;
    return 0;
}

static int out_teardown(void **state)
{
    eng_output *o = *state;
    eng_output_clear(o);
    rh_free(o);
    return 0;
}

/* Run 'script' with 'args' (may be NULL) and limits 'lim' (NULL:
 * defaults) into 'o', clearing what it held. */
static void run_lim(eng_output *o, const char *script, const char *args,
                    const eng_limits *lim)
{
    eng_input in = {
        .task_id = "t-1", .script = script, .script_len = strlen(script),
        .args_json = args, .worker_id = "w", .context_id = "c1",
        .caller_id = "alice",
    };
    eng_output_clear(o);
    assert_int_equal(eng_run(&in, lim, o), 0);
    assert_non_null(o->logs);
}

static void run(eng_output *o, const char *script)
{
    run_lim(o, script, NULL, NULL);
}

static void assert_done(const eng_output *o, const char *json)
{
    if (o->status != RHAI_STATUS_DONE)
        print_message("unexpected error: %s\n", o->error ? o->error : "(null)");
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_int_equal(o->kind, RH_EK_NONE);
    assert_null(o->error);
    assert_non_null(o->output);
    assert_string_equal(o->output, json);
}

static void assert_failed(const eng_output *o, rh_error_kind kind)
{
    assert_int_equal(o->status, RHAI_STATUS_ERROR);
    assert_int_equal(o->kind, kind);
    assert_null(o->output);
    assert_non_null(o->error);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- results ---- */

static void test_run_returns_the_last_expression_as_json(void **state)
{
    eng_output *o = *state;

    run(o, "40+2");
    assert_done(o, "42");
    assert_true(o->run_us > 0);
    run(o, "var x = 20;\nx * 2 + 2;\n");
    assert_done(o, "42");
}

static void test_run_serialises_objects_arrays_and_strings(void **state)
{
    eng_output *o = *state;

    run(o, "({a: 1, b: [1, 'x', null, true], c: 'q\"uote', d: {e: 1.5}})");
    assert_done(o, "{\"a\":1,\"b\":[1,\"x\",null,true],\"c\":\"q\\\"uote\",\"d\":{\"e\":1.5}}");
    run(o, "[1, 2, 3].map(function (x) { return x * x; })");
    assert_done(o, "[1,4,9]");
    run(o, "'h\\u00e9llo\\n'");
    assert_done(o, "\"h\xc3\xa9llo\\n\"");
    run(o, "null");
    assert_done(o, "null");
    /* mujs keeps properties in a sorted tree: keys come out in code-point
     * order, not insertion order (unlike V8/SpiderMonkey). */
    run(o, "({b: 1, a: 2, '10': 3, '9': 4})");
    assert_done(o, "{\"10\":3,\"9\":4,\"a\":2,\"b\":1}");
    run(o, "false");
    assert_done(o, "false");
}

static void test_run_serialises_undefined_and_functions_as_null(void **state)
{
    eng_output *o = *state;

    run(o, "undefined");
    assert_done(o, "null");
    run(o, "var x = 1;");
    assert_done(o, "null");
    run(o, "(function () { return 1; })");
    assert_done(o, "null");
    run(o, "");
    assert_done(o, "null");
}

static void test_run_serialises_with_the_original_stringify(void **state)
{
    eng_output *o = *state;

    run(o, "JSON.stringify = function () { return 'not json'; };\n({a: 1})");
    assert_done(o, "{\"a\":1}");
}

static void test_run_honours_to_json_of_the_result(void **state)
{
    eng_output *o = *state;

    run(o, "({toJSON: function () { return [7]; }})");
    assert_done(o, "[7]");
    run(o, "new Date(0)");
    assert_done(o, "\"1970-01-01T00:00:00.000Z\"");
}

static void test_run_uses_only_script_len_bytes(void **state)
{
    eng_output *o = *state;
    eng_input in = { .script = "40+2 garbage that is not js", .script_len = 4 };

    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "42");
}

static void test_run_refuses_a_script_with_a_nul_byte(void **state)
{
    eng_output *o = *state;
    eng_input in = { .script = "1;\0 2", .script_len = 5 };

    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_failed(o, RH_EK_INVALID);
    assert_string_equal(o->error, "script contains a NUL byte");
}

static void test_run_refuses_a_missing_script(void **state)
{
    eng_output *o = *state;
    eng_input in = { .task_id = "t" };

    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_failed(o, RH_EK_INVALID);
}

/* ---- globals ---- */

static void test_args_are_parsed_from_json(void **state)
{
    eng_output *o = *state;

    run_lim(o, "args.n * 20 + args.list.length", "{\"n\": 2, \"list\": [1, 2]}", NULL);
    assert_done(o, "42");
    run_lim(o, "args", "[1, \"two\"]", NULL);
    assert_done(o, "[1,\"two\"]");
}

static void test_args_default_to_an_empty_object(void **state)
{
    eng_output *o = *state;

    run(o, "typeof args + ' ' + Object.keys(args).length");
    assert_done(o, "\"object 0\"");
    run_lim(o, "args", "", NULL);
    assert_done(o, "{}");
}

static void test_args_that_are_not_json_make_the_task_invalid(void **state)
{
    eng_output *o = *state;

    run_lim(o, "1", "{\"n\": ", NULL);
    assert_failed(o, RH_EK_INVALID);
    assert_true(starts_with(o->error, "args: SyntaxError"));
}

static void test_ctx_holds_the_task_identity(void **state)
{
    eng_output *o = *state;

    run(o, "[ctx.task_id, ctx.worker_id, ctx.context_id, ctx.caller_id]");
    assert_done(o, "[\"t-1\",\"w\",\"c1\",\"alice\"]");
}

static void test_ctx_is_frozen_and_read_only(void **state)
{
    eng_output *o = *state;

    run(o, "ctx.task_id = 'evil'; ctx.extra = 1; delete ctx.caller_id;\n"
           "ctx = {task_id: 'other'};\n"
           "[ctx.task_id, ctx.caller_id, typeof ctx.extra, Object.isFrozen(ctx)]");
    assert_done(o, "[\"t-1\",\"alice\",\"undefined\",true]");
}

static void test_ctx_fields_absent_from_the_input_are_null(void **state)
{
    eng_output *o = *state;
    eng_input in = { .script = "ctx", .script_len = 3 };

    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "{\"attempt\":1,\"caller_id\":null,\"context_id\":null,\"depth\":0,"
                   "\"event\":null,\"parent\":null,\"task_id\":null,\"trace\":null,"
                   "\"worker_id\":null}");
}

/* issue 20: a task started by an event sees it, its depth, its chain's
 * root (trace) and the emitting task (parent); a submitted task is its
 * own trace, at depth 0. ctx stays frozen. */
static void test_ctx_carries_the_event_that_started_the_task(void **state)
{
    eng_output *o = *state;
    eng_input in = { .task_id = "t2", .parent_id = "t1", .trace_id = "t0", .depth = 2,
                     .event_json = "{\"id\":\"t1.1\",\"name\":\"a.b\",\"payload\":[1]}" };

    in.script = "ctx.depth = 9; [ctx.event.name, ctx.event.payload[0], ctx.depth, ctx.trace, "
                "ctx.parent]";
    in.script_len = strlen(in.script);
    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "[\"a.b\",1,2,\"t0\",\"t1\"]");
    eng_output_clear(o);
    in.parent_id = in.trace_id = in.event_json = NULL;
    in.depth = 0;
    in.script = "[ctx.event, ctx.depth, ctx.trace, ctx.parent]";
    in.script_len = strlen(in.script);
    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "[null,0,\"t2\",null]");
    eng_output_clear(o);
    /* an event that is not JSON: the task's input is invalid */
    in.event_json = "{x";
    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_int_equal(o->status, RHAI_STATUS_ERROR);
    assert_int_equal(o->kind, RH_EK_INVALID);
    assert_non_null(strstr(o->error, "event:"));
}

/* issue 19: the attempt number of a retried task, 1-based; 0 is 1. */
static void test_ctx_attempt_is_the_run_s_attempt_number(void **state)
{
    eng_output *o = *state;
    eng_input in = { .script = "ctx.attempt", .script_len = 11, .attempt = 3 };

    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "3");
    eng_output_clear(o);
    in.attempt = 0;
    assert_int_equal(eng_run(&in, NULL, o), 0);
    assert_done(o, "1");
}

/* The exact global set: ES5 as Debian's mujs 1.3.2 builds it, plus ours.
 * A new global (from a mujs upgrade or from us) must be a decision. */
static void test_globals_are_es5_plus_args_ctx_and_print(void **state)
{
    eng_output *o = *state;

    run(o, "Object.getOwnPropertyNames(this).sort().join(',')");
    assert_done(o, "\"Array,Boolean,Date,Error,EvalError,Function,Infinity,JSON,"
                   "Math,NaN,Number,Object,RangeError,ReferenceError,RegExp,"
                   "String,SyntaxError,TypeError,URIError,args,ctx,"
                   "decodeURI,decodeURIComponent,encodeURI,encodeURIComponent,"
                   "isFinite,isNaN,parseFloat,parseInt,print,undefined\"");
}

static void test_no_host_access_globals_exist(void **state)
{
    eng_output *o = *state;

    /* The mujs shell's load/read/readline/quit/gc/compile/repr, and what
     * other embeddings expose, must all be absent. */
    run(o, "var g = this;\n"
           "['load', 'read', 'readline', 'write', 'quit', 'gc', 'compile',\n"
           " 'repr', 'require', 'module', 'exports', 'process', 'console',\n"
           " 'os', 'std', 'scriptArgs', 'setTimeout', 'setInterval',\n"
           " 'XMLHttpRequest', 'fetch', 'Packages', 'java', 'importScripts']\n"
           ".filter(function (n) { return typeof g[n] !== 'undefined'; })");
    assert_done(o, "[]");
    run(o, "typeof load + typeof require + typeof gc + typeof quit + typeof read");
    assert_done(o, "\"undefinedundefinedundefinedundefinedundefined\"");
}

static void test_a_task_cannot_see_what_a_previous_task_left(void **state)
{
    eng_output *o = *state;

    run(o, "leaked = 1; Object.prototype.polluted = 2;\n"
           "Array.prototype.push = null; JSON.parse = null; 1");
    assert_done(o, "1");
    run_lim(o, "[typeof leaked, typeof ({}).polluted, typeof [].push, args.a]",
            "{\"a\": 3}", NULL);
    assert_done(o, "[\"undefined\",\"undefined\",\"function\",3]");
}

/* Executors prebuild states (eng_set_prebuild): the next task takes a
 * state built ahead of time, the used one is freed later. Isolation and
 * the memory cap must hold whether eng_idle ran between two tasks or not. */
static void test_prebuilt_states_keep_tasks_isolated(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_set_prebuild(1);
    eng_idle();
    for (int idle = 0; idle < 2; idle++) {
        run(o, "leaked = 1; Object.prototype.polluted = 2;\n"
               "Array.prototype.push = null; JSON.parse = null; 1");
        assert_done(o, "1");
        if (idle)
            eng_idle();
        run_lim(o, "[typeof leaked, typeof ({}).polluted, typeof [].push, args.a]",
                "{\"a\": 3}", NULL);
        assert_done(o, "[\"undefined\",\"undefined\",\"function\",3]");
    }
    /* the cap applies to a prebuilt state, and the task after it is fine */
    eng_limits_default(&lim);
    lim.memory = 4u * 1024u * 1024u;
    eng_idle();
    run_lim(o, "var a = []; for (;;) a.push([1, 2, 3, 4]);", NULL, &lim);
    assert_failed(o, RH_EK_MEMORY);
    eng_idle();
    run_lim(o, "var b = []; for (var i = 0; i < 1000; i++) b.push(i); b.length", NULL, &lim);
    assert_done(o, "1000");
    eng_set_prebuild(0);
}

/* Every task runs in a copy of one library state: a task that changes
 * everything it can reach leaves the next one exactly what the first task
 * of the process saw. The fingerprint walks the global object and the
 * builtins' prototypes (names, types, property attributes). */
static const char fingerprint[] =
    "var seen = [], out = [];\n"
    "function walk(o, path, depth) {\n"
    "  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return;\n"
    "  if (seen.indexOf(o) >= 0 || depth > 3) return;\n"
    "  seen.push(o);\n"
    "  Object.getOwnPropertyNames(o).sort().forEach(function (k) {\n"
    "    var d = Object.getOwnPropertyDescriptor(o, k);\n"
    "    if (!d) { out.push(path + '.' + k + ':?'); return; }\n"
    "    var v = d.get ? d.get : d.value;\n"
    "    out.push(path + '.' + k + ':' + typeof v + (d.writable ? 'w' : '') +\n"
    "             (d.enumerable ? 'e' : '') + (d.configurable ? 'c' : '') +\n"
    "             (typeof v === 'number' || typeof v === 'string' ? '=' + v : ''));\n"
    "    if (k !== 'ctx' && k !== 'args') walk(v, path + '.' + k, depth + 1);\n"
    "  });\n"
    "  walk(Object.getPrototypeOf(o), path + '^', depth + 1);\n"
    "}\n"
    "walk((function () { return this; })(), 'g', 0);\n"
    "out.length + ':' + out.join(';').length + ':' + out.join(';')";

static const char vandal[] =
    "var g = (function () { return this; })();\n"
    "leaked = {big: new Array(10000).join('x')};\n"
    "Object.prototype.polluted = 1; Array.prototype.push = null;\n"
    "Function.prototype.call = 0; String.prototype.trim = 'no';\n"
    "Math.PI2 = 6.28; Math.random = function () { return 0.5; };\n"
    "JSON.stringify = null; delete g.Date; g.undefined_ish = undefined;\n"
    "Object.defineProperty(Number.prototype, 'x', {get: function () { return 1; }});\n"
    "Object.freeze(Object.prototype); Object.preventExtensions(g);\n"
    "1";

static void test_a_task_that_changes_everything_leaves_nothing(void **state)
{
    eng_output *o = *state;
    char *before;

    run(o, fingerprint);
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    before = o->output;
    o->output = NULL;
    assert_true(strlen(before) > 1000);
    run(o, vandal);
    assert_done(o, "1");
    run(o, fingerprint);
    assert_done(o, before);
    /* a task that ran out of memory does not leave its heap either */
    run(o, "var a = []; for (;;) a.push('' + a.length + 'abcdefgh');");
    assert_failed(o, RH_EK_MEMORY);
    run(o, fingerprint);
    assert_done(o, before);
    rh_free(before);
}

/* mujs seeds Math.random from the clock inside the state, so copies of
 * one snapshot would repeat one sequence; the engine reseeds per task. */
static void test_math_random_differs_between_tasks(void **state)
{
    eng_output *o = *state;
    char *first;

    run(o, "var r = []; for (var i = 0; i < 4; i++) r.push(Math.random()); r");
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    first = o->output;
    o->output = NULL;
    run(o, "var r = []; for (var i = 0; i < 4; i++) r.push(Math.random()); r");
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_not_equal(first, o->output);
    rh_free(first);
    run(o, "var ok = true; for (var i = 0; i < 10000; i++) {\n"
           "  var x = Math.random(); if (!(x >= 0 && x < 1)) ok = false; }\n"
           "[ok, Math.random !== Math.random.call, typeof Math.random]");
    assert_done(o, "[true,true,\"function\"]");
}

/* ---- print ---- */

static void test_print_appends_lines_to_logs(void **state)
{
    eng_output *o = *state;

    run(o, "print('a', 1, true, null); print(); print({}); 7");
    assert_done(o, "7");
    assert_string_equal(o->logs, "a 1 true null\n\n[object Object]\n");
}

/* mujs reports parser warnings (a function declared inside a block) by
 * writing them to the process's stderr, without a newline: in rhaid that
 * is its journal, where a script could break every JSON or key=value
 * line. They belong to the script's author: a line of the task's logs. */
static void test_interpreter_warnings_go_to_the_logs_not_to_stderr(void **state)
{
    eng_output *o = *state;
    char path[] = "/tmp/rhai-test-engine-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    struct stat st;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, 2), 2);
    run(o, "print('a'); if (true) { function f() { return 7; } } f()");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    unlink(path);
    assert_done(o, "7");
    assert_int_equal(st.st_size, 0);
    /* reported by the parser, before the script runs */
    assert_string_equal(o->logs, "warning: script:1: function statements are not standard\na\n");
}

static void test_logs_are_empty_without_print(void **state)
{
    eng_output *o = *state;

    run(o, "1");
    assert_string_equal(o->logs, "");
}

static void test_logs_survive_a_failed_task(void **state)
{
    eng_output *o = *state;

    run(o, "print('before'); throw new Error('x');");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->logs, "before\n");
}

static void test_print_survives_a_throwing_to_string(void **state)
{
    eng_output *o = *state;

    /* The throw longjmps through print's C frame. */
    run(o, "print('a');\nprint('b', {toString: function () { throw new Error('no'); }});");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "Error: no (line 2)");
    assert_string_equal(o->logs, "a\nb");
    run(o, "print({toString: function () { print('inner'); return 'outer'; }}); 1");
    assert_done(o, "1");
    assert_string_equal(o->logs, "inner\nouter\n");
}

static void test_logs_over_max_logs_are_cut_and_marked(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.max_logs = 16;
    run_lim(o, "for (var i = 0; i < 1000; i++) print('line ' + i); 'ok'", NULL, &lim);
    assert_done(o, "\"ok\"");
    /* 16 bytes kept ("line 0\nline 1\nli"), the marker on its own line. */
    assert_string_equal(o->logs, "line 0\nline 1\nli\n[truncated]");
}

static void test_logs_cut_never_splits_a_utf8_character(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.max_logs = 3;                   /* "é" is 2 bytes: 1.5 fit */
    run_lim(o, "print('\\u00e9\\u00e9'); 1", NULL, &lim);
    assert_done(o, "1");
    assert_string_equal(o->logs, "\xc3\xa9\n[truncated]");
}

static void test_strings_that_are_not_utf8_are_repaired(void **state)
{
    eng_output *o = *state;

    /* mujs keeps a lone surrogate as the bytes ED A0 80, which are not
     * UTF-8: they would break every JSON encoder downstream. */
    run(o, "print('a\\ud800b'); '\\ud800'");
    assert_done(o, "\"???\"");
    assert_string_equal(o->logs, "a???b\n");
}

/* ---- errors ---- */

static void test_syntax_error_reports_its_line(void **state)
{
    eng_output *o = *state;

    run(o, "var x = 1;\nvar y = ;\n");
    assert_failed(o, RH_EK_SCRIPT);
    assert_true(starts_with(o->error, "SyntaxError: "));
    assert_non_null(strstr(o->error, "(line 2)"));
    assert_null(strstr(o->error, "script:"));       /* normalised */
}

static void test_thrown_error_reports_name_message_and_line(void **state)
{
    eng_output *o = *state;

    run(o, "var a = 1;\n\nthrow new TypeError('boom');\n");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "TypeError: boom (line 3)");
    run(o, "function f() {\n  return null.x;\n}\nf();");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "TypeError: cannot convert null to object (line 2)");
    run(o, "throw new Error('');");
    assert_string_equal(o->error, "Error (line 1)");
}

static void test_thrown_non_error_values_are_described(void **state)
{
    eng_output *o = *state;

    run(o, "throw 42");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "Uncaught 42");
    run(o, "throw 'boom'");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "Uncaught boom");
    run(o, "throw {code: 7}");
    assert_failed(o, RH_EK_SCRIPT);
    assert_true(starts_with(o->error, "Uncaught "));
    assert_non_null(strstr(o->error, "code"));
    run(o, "throw undefined");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "Uncaught undefined");
}

static void test_error_with_a_throwing_getter_is_still_reported(void **state)
{
    eng_output *o = *state;

    run(o, "var e = new Error('x');\n"
           "Object.defineProperty(e, 'message', {get: function () { throw 1; }});\n"
           "throw e;");
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "uncaught exception (cannot be described)");
}

static void test_result_that_cannot_be_serialised_is_a_script_error(void **state)
{
    eng_output *o = *state;

    run(o, "var o = {}; o.self = o; o");
    assert_failed(o, RH_EK_SCRIPT);
    assert_true(starts_with(o->error, "result cannot be serialised: TypeError"));
    run(o, "({toJSON: function () { throw new RangeError('no'); }})");
    assert_failed(o, RH_EK_SCRIPT);
    assert_true(starts_with(o->error, "result cannot be serialised: RangeError: no"));
}

static void test_kind_of_error_maps_mujs_messages(void **state)
{
    (void)state;
    assert_int_equal(eng_kind_of_error("out of memory"), RH_EK_MEMORY);
    assert_int_equal(eng_kind_of_error("stack overflow"), RH_EK_SCRIPT);
    assert_int_equal(eng_kind_of_error("exception stack overflow"), RH_EK_SCRIPT);
    assert_int_equal(eng_kind_of_error("TypeError: x is undefined"), RH_EK_SCRIPT);
    assert_int_equal(eng_kind_of_error("out of memory!"), RH_EK_SCRIPT);
    assert_int_equal(eng_kind_of_error(""), RH_EK_SCRIPT);
    assert_int_equal(eng_kind_of_error(NULL), RH_EK_SCRIPT);
}

static void test_limits_default_are_the_documented_values(void **state)
{
    eng_limits l;

    (void)state;
    memset(&l, 0xff, sizeof l);
    eng_limits_default(&l);
    assert_int_equal(l.memory, ENG_DEFAULT_MEMORY);
    assert_int_equal(l.max_script, ENG_DEFAULT_MAX_SCRIPT);
    assert_int_equal(l.max_output, ENG_DEFAULT_MAX_OUTPUT);
    assert_int_equal(l.max_logs, ENG_DEFAULT_MAX_LOGS);
}

static void test_output_clear_frees_and_reinitialises(void **state)
{
    eng_output *o = *state;

    run(o, "print('x'); 1");
    assert_non_null(o->output);
    eng_output_clear(o);
    assert_null(o->output);
    assert_null(o->logs);
    assert_null(o->error);
    assert_int_equal(o->kind, RH_EK_NONE);
    eng_output_clear(NULL);             /* a no-op */
}

static void test_run_leaves_no_host_memory_behind(void **state)
{
    eng_output *o = *state;
    size_t before;

    eng_output_clear(o);
    before = rh_alloc_live_bytes();
    run(o, "print('x'); throw new Error('y')");
    eng_output_clear(o);
    run(o, "print('x'); [1, 2]");
    eng_output_clear(o);
    assert_int_equal(rh_alloc_live_bytes(), before);
}

#define T(f) cmocka_unit_test_setup_teardown(f, out_setup, out_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_run_returns_the_last_expression_as_json),
        T(test_run_serialises_objects_arrays_and_strings),
        T(test_run_serialises_undefined_and_functions_as_null),
        T(test_run_serialises_with_the_original_stringify),
        T(test_run_honours_to_json_of_the_result),
        T(test_run_uses_only_script_len_bytes),
        T(test_run_refuses_a_script_with_a_nul_byte),
        T(test_run_refuses_a_missing_script),
        T(test_args_are_parsed_from_json),
        T(test_args_default_to_an_empty_object),
        T(test_args_that_are_not_json_make_the_task_invalid),
        T(test_ctx_holds_the_task_identity),
        T(test_ctx_is_frozen_and_read_only),
        T(test_ctx_fields_absent_from_the_input_are_null),
        T(test_ctx_carries_the_event_that_started_the_task),
        T(test_ctx_attempt_is_the_run_s_attempt_number),
        T(test_globals_are_es5_plus_args_ctx_and_print),
        T(test_no_host_access_globals_exist),
        T(test_a_task_cannot_see_what_a_previous_task_left),
        T(test_a_task_that_changes_everything_leaves_nothing),
        T(test_math_random_differs_between_tasks),
        T(test_prebuilt_states_keep_tasks_isolated),
        T(test_print_appends_lines_to_logs),
        T(test_interpreter_warnings_go_to_the_logs_not_to_stderr),
        T(test_logs_are_empty_without_print),
        T(test_logs_survive_a_failed_task),
        T(test_print_survives_a_throwing_to_string),
        T(test_logs_over_max_logs_are_cut_and_marked),
        T(test_logs_cut_never_splits_a_utf8_character),
        T(test_strings_that_are_not_utf8_are_repaired),
        T(test_syntax_error_reports_its_line),
        T(test_thrown_error_reports_name_message_and_line),
        T(test_thrown_non_error_values_are_described),
        T(test_error_with_a_throwing_getter_is_still_reported),
        T(test_result_that_cannot_be_serialised_is_a_script_error),
        T(test_kind_of_error_maps_mujs_messages),
        T(test_limits_default_are_the_documented_values),
        T(test_output_clear_frees_and_reinitialises),
        T(test_run_leaves_no_host_memory_behind),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
