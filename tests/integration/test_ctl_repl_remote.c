/* test_ctl_repl_remote.c -- rhaictl repl --worker against a real
 * redis-server and rhaid (tests/support/harness.c): each entry is a task;
 * function declarations and JSON globals are carried to the next entry;
 * a DSL create is never run again by later entries (rows counted, also
 * from a second REPL); an error shows its line within the entry. Lines
 * come from a file on stdin: the REPL without a terminal, as scripts use it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/common.h"
#include "harness.h"

typedef struct fixture {
    th_redis redis;
    pid_t    rhaid;
} fixture;

static int setup(void **state)
{
    static const char *const dev[] = { "--dev-mode", NULL };
    fixture *f = rh_calloc(1, sizeof *f);

    if (f == NULL || th_redis_start(&f->redis, 0) != 0)
        return -1;
    f->rhaid = th_rhaid_start(&f->redis, "default", 1, dev);
    *state = f;
    return f->rhaid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->rhaid > 0)
        th_stop(f->rhaid, 10000);
    th_redis_stop(&f->redis);
    rh_free(f);
    return 0;
}

/* Write 'input' to DIR/NAME.in, run the REPL with 'opts' on it, read DIR/NAME.out and
 * .err into out/err (new). The REPL's exit code. */
static int repl_run(fixture *f, const char *name, const char *opts, const char *input,
                    char **out, char **err)
{
    char path[512], bin[512];
    FILE *fp;
    int code;

    snprintf(path, sizeof path, "%s/%s.in", f->redis.dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(input, fp);
    fclose(fp);
    code = th_sh("'%s' repl --redis-url %s %s --timeout 20000 "
                 "< '%s/%s.in' > '%s/%s.out' 2> '%s/%s.err'",
                 th_bin("rhaictl", bin, sizeof bin), f->redis.url, opts, f->redis.dir, name,
                 f->redis.dir, name, f->redis.dir, name);
    for (int i = 0; i < 2; i++) {
        char **dst = i ? err : out;
        long n;
        snprintf(path, sizeof path, "%s/%s.%s", f->redis.dir, name, i ? "err" : "out");
        fp = fopen(path, "r");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        rewind(fp);
        *dst = rh_calloc(1, (size_t)n + 1);
        assert_non_null(*dst);
        assert_int_equal(fread(*dst, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
    }
    return code;
}

static void test_remote_repl_carries_state_and_never_repeats_an_entry(void **state)
{
    fixture *f = *state;
    char *out = NULL, *err = NULL;
    int code;

    char loaded[300], input[2048];
    FILE *fp;

    snprintf(loaded, sizeof loaded, "%s/loaded.js", f->redis.dir);
    fp = fopen(loaded, "w");
    assert_non_null(fp);
    fputs("var loaded = 41;\nloaded + 1\n", fp);
    fclose(fp);
    snprintf(input, sizeof input,
             "function sq(x) {\n"
             "  return x * x;\n"
             "}\n"
             "var n = 6, o = {a: [1]};\n"
             "n = n + 1; o.a.push(2); sq(n)\n"
             "Company.create({name: 'Acme'}).name\n"
             "Company.count()\n"
             "[\n"
             "  n,\n"
             "  nosuch()]\n"
             "[sq(3), n, o, Company.count()]\n"
             ".args {\"k\": 5}\n"
             "args.k + sq(1)\n"
             ".context shop2\n"
             "ctx.context_id\n"
             ".load %s\n"
             "loaded\n"
             ".json on\n"
             "sq(2)\n",
             loaded);
    code = repl_run(f, "first", "--worker default --caller alice", input, &out, &err);
    /* one entry failed and stdin is not a terminal: exit 1 */
    assert_int_equal(code, 1);
    {
        static const char values[] = "null\n"
                                     "null\n"
                                     "49\n"
                                     "\"Acme\"\n"
                                     "1\n"
                                     "[9,7,{\"a\":[1,2]},1]\n"
                                     "6\n"
                                     "\"shop2\"\n"
                                     "42\n"
                                     "41\n";
        if (strncmp(out, values, sizeof values - 1) != 0)
            fail_msg("stdout:\n%s\nstderr:\n%s", out, err);
        assert_non_null(strstr(out + sizeof values - 1, "\"status\":\"done\",\"output\":4,"));
    }
    /* the error names its line within the entry, and shows it */
    assert_non_null(strstr(err, "script: ReferenceError: 'nosuch' is not defined (line 3)\n"
                                "  3 |   nosuch()]\n"));
    rh_free(out);
    rh_free(err);

    /* another REPL later: the create ran once */
    code = repl_run(f, "second", "--worker default --caller alice", "Company.count()\n",
                    &out, &err);
    assert_int_equal(code, 0);
    assert_string_equal(out, "1\n");
    rh_free(out);
    rh_free(err);
}

/* Workers that require signatures take a REPL's entries signed with
 * --key, each one: the caller is the key's public key. */
static void test_remote_repl_signs_every_entry_with_its_key(void **state)
{
    static const char *const req[] = { "--require-signatures", "1", NULL };
    fixture *f = *state;
    char bin[512], opts[600], *out = NULL, *err = NULL;
    pid_t signed_rhaid = th_rhaid_start(&f->redis, "signed", 1, req);

    assert_true(signed_rhaid > 0);
    assert_int_equal(th_sh("'%s' keygen --out '%s/me.key' > /dev/null",
                           th_bin("rhaictl", bin, sizeof bin), f->redis.dir), 0);
    snprintf(opts, sizeof opts, "--worker signed --key '%s/me.key'", f->redis.dir);
    assert_int_equal(repl_run(f, "signed", opts, "var k = ctx.caller_id.length\nk + 1\n",
                              &out, &err), 0);
    if (strcmp(out, "null\n65\n") != 0)
        fail_msg("stdout:\n%s\nstderr:\n%s", out, err);
    rh_free(out);
    rh_free(err);
    /* unsigned: refused by the worker */
    assert_int_equal(repl_run(f, "unsigned", "--worker signed", "1\n", &out, &err), 1);
    assert_non_null(strstr(err, "denied"));
    rh_free(out);
    rh_free(err);
    th_stop(signed_rhaid, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remote_repl_carries_state_and_never_repeats_an_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_repl_signs_every_entry_with_its_key,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("ctl_repl_remote", tests, NULL, NULL);
}
