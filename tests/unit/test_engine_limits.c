/* test_engine_limits.c -- hostile scripts against the sandbox's limits.
 *
 * Each test runs a script written to hurt (memory bombs, runaway
 * recursion, endless loops, catastrophic regexes, huge results) and checks
 * that it ends with the right error kind and that the engine still runs a
 * normal script afterwards. Scripts mujs cannot stop by itself run through
 * eng_run_isolated, which kills the child at the deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/engine_int.h"

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

static eng_input input_of(const char *script)
{
    eng_input in = { .task_id = "hostile", .script = script,
                     .script_len = strlen(script) };
    return in;
}

static void run_lim(eng_output *o, const char *script, const eng_limits *lim)
{
    eng_input in = input_of(script);

    eng_output_clear(o);
    assert_int_equal(eng_run(&in, lim, o), 0);
}

static void run_isolated(eng_output *o, const char *script, int64_t timeout_ms)
{
    eng_input in = input_of(script);

    eng_output_clear(o);
    assert_int_equal(eng_run_isolated(&in, NULL, timeout_ms, o), 0);
    print_message("isolated run of %.40s...: kind %s, error %s, %lld us\n", script,
                  rh_kind_str(o->kind), o->error ? o->error : "(none)",
                  (long long)o->run_us);
}

static void assert_failed(const eng_output *o, rh_error_kind kind)
{
    if (o->kind != kind)
        print_message("kind %s, error: %s\n", rh_kind_str(o->kind),
                      o->error ? o->error : "(null)");
    assert_int_equal(o->status, RHAI_STATUS_ERROR);
    assert_int_equal(o->kind, kind);
    assert_null(o->output);
    assert_non_null(o->error);
}

/* After every hostile run: the engine is not left broken. */
static void assert_engine_still_works(void)
{
    eng_input in = input_of("40+2");
    eng_output o;

    assert_int_equal(eng_run(&in, NULL, &o), 0);
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    assert_string_equal(o.output, "42");
    eng_output_clear(&o);
}

/* ---- memory ---- */

static void test_growing_array_bomb_hits_the_memory_cap(void **state)
{
    eng_output *o = *state;

    run_lim(o, "var a = [];\n"
               "while (true) a.push({i: a.length, s: 'item ' + a.length});", NULL);
    assert_failed(o, RH_EK_MEMORY);
    assert_string_equal(o->error, "out of memory: script heap limit of 67108864 "
                                  "bytes reached");
    assert_engine_still_works();
}

static void test_string_doubling_bomb_hits_the_memory_cap(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.memory = 8u * 1024u * 1024u;
    run_lim(o, "var s = 'x'; while (true) s += s;", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_engine_still_works();
}

static void test_catching_out_of_memory_does_not_save_the_task(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.memory = 4u * 1024u * 1024u;
    run_lim(o, "var a = [];\n"
               "try { while (true) a.push([a.length]); } catch (e) { a = null; }\n"
               "'survived'", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_engine_still_works();
}

/* mujs collects garbage after a number of allocations (5 per live thing),
 * not after a number of bytes, and the cap counts garbage: `s += 'abcdefghij'`
 * used to fail between 2000 and 5000 iterations (20-50 KB strings,
 * quadratic garbage). The arena now asks for a collection each time the
 * heap grew a step (arena.c, "Pacing"). These are the ways a script builds
 * a report. Joining: 5000 lines here, because ASan's copying realloc makes
 * mujs's array growth quadratic. */
static void test_building_text_by_join_fits_the_default_cap(void **state)
{
    eng_output *o = *state;

    run_lim(o, "var a = [];\n"
               "for (var i = 0; i < 5000; i++) a.push('line ' + i + ' of the report');\n"
               "a.join('\\n').length", NULL);
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "118889");
    run_lim(o, "var s = '';\n"
               "for (var i = 0; i < 10000; i++) s += 'abcdefghij';\n"
               "s.length", NULL);
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "100000");
}

/* The paced collector: the library state found mujs's counters (a mujs
 * whose js_State changed would turn this off, and this test tells), and
 * a 60 KB string built one byte at a time (1.8 GB of garbage strings, in
 * sizes that keep growing, so the arena must also merge freed blocks) fits
 * a 4 MiB cap. Real data over the cap still fails as memory. */
static void test_garbage_is_collected_before_the_cap(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.memory = 4u * 1024u * 1024u;
    run_lim(o, "var s = '';\n"
               "for (var i = 0; i < 60000; i++) s += 'x';\n"
               "s.length", &lim);
    if (o->status != RHAI_STATUS_DONE)
        print_message("error: %s\n", o->error ? o->error : "(null)");
    assert_true(eng__gc_paced());
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "60000");

    run_lim(o, "var n = 0;\n"
               "for (var i = 0; i < 20000; i++) { var o = {i: i, s: new Array(200).join('y') + i}; n += o.i; }\n"
               "n", &lim);
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "199990000");

    run_lim(o, "var keep = [];\n"
               "while (true) keep.push(new Array(10000).join('z') + keep.length);", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_engine_still_works();
}

/* The paced collector runs far more often under a small cap, also while
 * builtins call back into the script (sort, map, reduce, replace, JSON
 * with toJSON and a replacer, getters): each callback makes garbage big
 * enough to ask for collections, and the results must still be right
 * (under ASan, a value the collector freed under a builtin is reported). */
static void test_collections_inside_callbacks_keep_results_right(void **state)
{
    static const struct { const char *script, *want; } cases[] = {
        /* sort pauses mujs's collector: small garbage only */
        { "var a = []; for (var i = 0; i < 2000; i++) a.push((i * 7919) % 2000);\n"
          "a.sort(function (x, y) { var g = new Array(60).join('g'); return x - y; });\n"
          "a[0] + ',' + a[999] + ',' + a[1999]", "\"0,999,1999\"" },
        { "var a = []; for (var i = 0; i < 3000; i++) a.push(i);\n"
          "a.map(function (x) { var pad = new Array(2000).join('m') + x; return {v: x}; })\n"
          " .filter(function (o) { return o.v % 3 === 0; })\n"
          " .reduce(function (s, o) { var g = new Array(1000).join('r') + s; return s + o.v; }, 0)",
          "1498500" },
        { "var s = new Array(2001).join('ab');\n"
          "s.replace(/b/g, function (m) { return new Array(1000).join('z').slice(0, 1); }).length",
          "4000" },
        { "var o = []; for (var i = 0; i < 500; i++)\n"
          " o.push({n: i, toJSON: function () { return {n: this.n, p: new Array(4000).join('j').length}; }});\n"
          "JSON.stringify(o, function (k, v) { var g = new Array(500).join('r'); return v; }).length",
          "9391" },                     /* 500 * 15 + 1390 digits + 499 commas + 2 */
        { "var t = 0; var o = {}; Object.defineProperty(o, 'x', { get: function () {\n"
          " return new Array(5000).join('q').length; } });\n"
          "for (var i = 0; i < 3000; i++) t += o.x; t", "14997000" },
    };
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.memory = 4u * 1024u * 1024u;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_lim(o, cases[i].script, &lim);
        if (o->status != RHAI_STATUS_DONE || strcmp(o->output, cases[i].want) != 0)
            print_message("case %zu: %s %s\n", i, o->output ? o->output : "-",
                          o->error ? o->error : "");
        assert_int_equal(o->status, RHAI_STATUS_DONE);
        assert_string_equal(o->output, cases[i].want);
    }
    assert_true(eng__gc_paced());
}

static void test_a_cap_below_the_base_library_fails_cleanly(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.memory = 1;                     /* the library itself is ~100 KB */
    run_lim(o, "1", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_engine_still_works();
}

static void test_hostile_args_are_capped_too(void **state)
{
    eng_output *o = *state;
    eng_limits lim;
    char args[64 * 1024];
    eng_input in = input_of("args.length");

    /* 64 KB of nested arrays: mujs's parser recursion limit ends it. */
    memset(args, '[', sizeof args - 1);
    args[sizeof args - 1] = '\0';
    in.args_json = args;
    eng_limits_default(&lim);
    eng_output_clear(o);
    assert_int_equal(eng_run(&in, &lim, o), 0);
    assert_failed(o, RH_EK_INVALID);
    assert_true(strncmp(o->error, "args: ", 6) == 0);
    assert_engine_still_works();
}

/* ---- depth ---- */

static void test_unbounded_recursion_is_a_stack_overflow(void **state)
{
    eng_output *o = *state;

    run_lim(o, "function f() { return f(); } f()", NULL);
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "RangeError: stack overflow (call depth limit)");
    assert_engine_still_works();
}

static void test_deeply_nested_source_is_a_syntax_error(void **state)
{
    eng_output *o = *state;
    static char src[200001];

    memset(src, '(', 100000);
    memset(src + 100000, ')', 100000);
    run_lim(o, src, NULL);
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "SyntaxError: too much recursion (line 1)");
    assert_engine_still_works();
}

/* mujs's try/catch recursion bomb: each level's catch recurses again, so
 * the work is exponential while the depth stays bounded. Measured on
 * mujs 1.3.2: it never ends by itself (no error within 5 s natively), so
 * only the kill ends it. */
static void test_try_catch_recursion_bomb_is_ended(void **state)
{
    eng_output *o = *state;

    run_isolated(o, "function f() { try { f(); } catch (e) { f(); } } f()", 1000);
    assert_int_equal(o->status, RHAI_STATUS_ERROR);
    assert_true(o->kind == RH_EK_TIMEOUT || o->kind == RH_EK_SCRIPT ||
                o->kind == RH_EK_MEMORY);
    assert_int_equal(o->kind, RH_EK_TIMEOUT);        /* what 1.3.2 does */
    assert_engine_still_works();
}

/* ---- time ---- */

static void test_endless_loop_is_killed_at_the_timeout(void **state)
{
    eng_output *o = *state;

    run_isolated(o, "while (true) {}", 500);
    assert_failed(o, RH_EK_TIMEOUT);
    assert_string_equal(o->error, "timeout after 500 ms");
    assert_true(o->run_us >= 500 * 1000);
    assert_engine_still_works();
}

/* Catastrophic backtracking: mujs's regex engine backtracks without a
 * step limit, so 31 characters take ~15 s natively (measured). Only the
 * kill ends it. */
static void test_catastrophic_regex_is_killed_at_the_timeout(void **state)
{
    eng_output *o = *state;

    run_isolated(o, "/^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab')", 1000);
    assert_failed(o, RH_EK_TIMEOUT);
    assert_engine_still_works();
}

static void test_isolated_run_returns_a_normal_result(void **state)
{
    eng_output *o = *state;

    run_isolated(o, "print('hi'); 40+2", 10000);
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "42");
    assert_string_equal(o->logs, "hi\n");
    assert_true(o->run_us > 0);
}

static void test_isolated_run_returns_script_errors(void **state)
{
    eng_output *o = *state;

    run_isolated(o, "\nthrow new Error('nope')", 10000);
    assert_failed(o, RH_EK_SCRIPT);
    assert_string_equal(o->error, "Error: nope (line 2)");
}

/* A child that dies of a signal the parent did not send is "crashed".
 * The signal comes from RLIMIT_CPU (SIGXCPU after 1 s of CPU), set in a
 * helper process so that the test process keeps its own limits; the
 * helper reports through its exit code: 0 crashed as expected, 1 not. */
static void test_isolated_child_killed_by_a_signal_is_crashed(void **state)
{
    eng_output *o = *state;
    eng_input in = input_of("while (true) {}");
    pid_t helper;
    int status;

    (void)o;
    helper = fork();
    assert_true(helper >= 0);
    if (helper == 0) {
        struct rlimit cpu;
        eng_output r;
        int ok;

        if (getrlimit(RLIMIT_CPU, &cpu) != 0)
            _exit(1);
        cpu.rlim_cur = 1;               /* the helper itself only polls */
        if (setrlimit(RLIMIT_CPU, &cpu) != 0)
            _exit(1);
        eng_run_isolated(&in, NULL, 30000, &r);
        ok = r.status == RHAI_STATUS_ERROR && r.kind == RH_EK_CRASHED &&
             r.error != NULL && strstr(r.error, "killed by signal") != NULL;
        fprintf(stderr, "helper: kind %s, error %s\n", rh_kind_str(r.kind),
                r.error ? r.error : "(null)");
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_engine_still_works();
}

/* ---- sizes ---- */

static void test_ten_megabyte_output_is_refused(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    /* Default limits: the result (16 MB) is over max_output; building it
     * may hit the 64 MB heap first. Either way: memory. */
    run_lim(o, "var s = 'x'; while (s.length < 10 * 1024 * 1024) s += s; s", NULL);
    assert_failed(o, RH_EK_MEMORY);
    assert_engine_still_works();

    /* With room on the heap, it is the output cap that refuses it. */
    eng_limits_default(&lim);
    lim.memory = 256u * 1024u * 1024u;
    run_lim(o, "var s = 'x'; while (s.length < 10 * 1024 * 1024) s += s; s", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_string_equal(o->error, "output too large: 16777218 bytes > max_output "
                                  "1048576");
    assert_engine_still_works();
}

static void test_output_at_the_cap_is_accepted(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.max_output = 10;
    run_lim(o, "'12345678'", &lim);             /* 10 bytes with quotes */
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_string_equal(o->output, "\"12345678\"");
    run_lim(o, "'123456789'", &lim);
    assert_failed(o, RH_EK_MEMORY);
    assert_string_equal(o->error, "output too large: 11 bytes > max_output 10");
}

static void test_script_over_max_script_is_invalid(void **state)
{
    eng_output *o = *state;
    eng_limits lim;

    eng_limits_default(&lim);
    lim.max_script = 8;
    run_lim(o, "1+1+1+1+1", &lim);             /* 9 bytes */
    assert_failed(o, RH_EK_INVALID);
    assert_string_equal(o->error, "script too large: 9 bytes > max_script 8");
    run_lim(o, "1+1+1+1", &lim);               /* 7 bytes */
    assert_int_equal(o->status, RHAI_STATUS_DONE);
    assert_engine_still_works();
}

#define T(f) cmocka_unit_test_setup_teardown(f, out_setup, out_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_growing_array_bomb_hits_the_memory_cap),
        T(test_string_doubling_bomb_hits_the_memory_cap),
        T(test_catching_out_of_memory_does_not_save_the_task),
        T(test_building_text_by_join_fits_the_default_cap),
        T(test_garbage_is_collected_before_the_cap),
        T(test_collections_inside_callbacks_keep_results_right),
        T(test_a_cap_below_the_base_library_fails_cleanly),
        T(test_hostile_args_are_capped_too),
        T(test_unbounded_recursion_is_a_stack_overflow),
        T(test_deeply_nested_source_is_a_syntax_error),
        T(test_try_catch_recursion_bomb_is_ended),
        T(test_endless_loop_is_killed_at_the_timeout),
        T(test_catastrophic_regex_is_killed_at_the_timeout),
        T(test_isolated_run_returns_a_normal_result),
        T(test_isolated_run_returns_script_errors),
        T(test_isolated_child_killed_by_a_signal_is_crashed),
        T(test_ten_megabyte_output_is_refused),
        T(test_output_at_the_cap_is_accepted),
        T(test_script_over_max_script_is_invalid),
    };
    return cmocka_run_group_tests_name("engine_limits", tests, NULL, NULL);
}
