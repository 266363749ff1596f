/* test_dsl_ctl.c -- rhaictl and the DSL: `dsl list|types|validate`, and
 * `rhaictl run --data-dir` running every examples/dsl_<domain>.js against
 * the same store rhaid uses, persisting between runs; run creates an
 * unknown context owned by --caller, whose data others may not touch. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static char dir[128];

/* Run a shell command, capture stdout into out[n]; returns the exit code. */
static int capture(char *out, size_t n, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    FILE *p;
    size_t len = 0;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (len + 1 < n && fgets(out + len, (int)(n - len), p) != NULL)
        len += strlen(out + len);
    out[len] = '\0';
    while (fgetc(p) != EOF)
        ;
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-dslctl-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int dir_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_sh("rm -rf '%s'", dir), 0);
    return 0;
}

static void test_dsl_list_types_and_validate(void **state)
{
    static char out[1 << 16];
    char bin[512], src[512];

    (void)state;
    th_bin("rhaictl", bin, sizeof bin);
    assert_int_equal(capture(out, sizeof out, "%s dsl list", bin), 0);
    assert_non_null(strstr(out, "business"));
    assert_non_null(strstr(out, "SignatureRequirement"));
    assert_non_null(strstr(out, "GUARDED"));
    assert_non_null(strstr(out, "transfer     balance"));
    assert_int_equal(capture(out, sizeof out, "%s dsl list --json", bin), 0);
    assert_non_null(strstr(out, "\"global\":\"FlowStep\""));
    assert_non_null(strstr(out, "\"guarded\":[{\"field\":\"balance\","
                                "\"set_by\":\"Account.transfer\"}]"));
    assert_non_null(strstr(out, "\"refs\":[{\"field\":\"company\",\"item\":null,"
                                "\"model\":\"company\",\"on_delete\":\"restrict\"},"
                                "{\"field\":\"items\",\"item\":\"product\","
                                "\"model\":\"product\",\"on_delete\":\"restrict\"}]"));
    assert_int_equal(capture(out, sizeof out, "%s dsl types", bin), 0);
    assert_non_null(strstr(out, "declare const acl: {"));
    assert_non_null(strstr(out, "declare const audit: {"));
    assert_non_null(strstr(out, "interface PermissionDenied extends Error"));
    assert_non_null(strstr(out, "declare const Company: CompanyModel;"));
    assert_non_null(strstr(out, "transfer(from: number, to: number, amount: number)"));
    assert_int_equal(capture(out, sizeof out, "%s dsl validate %s", bin,
                             th_src("dsl/schema/business.json", src, sizeof src)), 0);
    assert_non_null(strstr(out, "valid"));
    /* a file with a dangling ref and one with a duplicate field */
    assert_int_equal(th_sh("printf '%%s' '{\"domain\":\"x\",\"models\":[{\"name\":\"m\","
                           "\"fields\":[{\"name\":\"a\",\"type\":\"ref\",\"ref\":\"nope\"}]}]}'"
                           " > %s/bad1.json", dir), 0);
    assert_int_equal(capture(out, sizeof out, "%s dsl validate %s/bad1.json 2>&1", bin, dir),
                     1);
    assert_non_null(strstr(out, "ref to unknown model \"nope\""));
    assert_int_equal(th_sh("printf '%%s' '{\"domain\":\"x\",\"models\":[{\"name\":\"company\","
                           "\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}]}'"
                           " > %s/bad2.json", dir), 0);
    assert_int_equal(capture(out, sizeof out, "%s dsl validate %s/bad2.json 2>&1", bin, dir),
                     1);
    assert_non_null(strstr(out, "duplicate model or struct name \"company\""));
    assert_int_equal(capture(out, sizeof out, "%s dsl bogus 2>&1", bin), 2);
}

static void test_every_dsl_example_runs_and_data_persists_between_runs(void **state)
{
    static const char *const domains[] = { "business", "finance", "content", "workflow",
                                           "calendar", "contacts", "circle", "access" };
    static char out[1 << 16];
    char bin[512], src[512], rel[64];

    (void)state;
    th_bin("rhaictl", bin, sizeof bin);
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
        int rc;
        snprintf(rel, sizeof rel, "examples/dsl_%s.js", domains[i]);
        rc = capture(out, sizeof out, "%s run %s --data-dir %s/data -c ex -u alice 2>&1", bin,
                     th_src(rel, src, sizeof src), dir);
        if (rc != 0)
            print_message("%s: %s\n", rel, out);
        assert_int_equal(rc, 0);
    }
    /* the business example again: a second company, the first kept on disk */
    assert_int_equal(capture(out, sizeof out, "%s run %s --data-dir %s/data -c ex -u alice",
                             bin, th_src("examples/dsl_business.js", src, sizeof src), dir), 0);
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.count()' --data-dir %s/data "
                             "-c ex -u alice", bin, dir), 0);
    assert_string_equal(out, "2\n");
    /* ex was created owned by alice: the default caller is denied (exit 4) */
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.count()' --data-dir %s/data "
                             "-c ex 2>&1", bin, dir), 4);
    assert_non_null(strstr(out, "PermissionDenied"));
    /* a run without a caller (anonymous) creates no context: it would own
     * it for every unidentified caller */
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.count()' --data-dir %s/data "
                             "-c other 2>&1", bin, dir), 1);
    assert_non_null(strstr(out, "UnknownContext"));
    assert_non_null(strstr(out, "has no caller"));
    /* another context sees none of it */
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.count()' --data-dir %s/data "
                             "-c other -u bob", bin, dir), 0);
    assert_string_equal(out, "0\n");
    /* a failing run writes nothing */
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.create({name: \"z\"}); "
                             "throw 1' --data-dir %s/data -c ex -u alice 2>/dev/null", bin,
                             dir), 1);
    assert_int_equal(capture(out, sizeof out, "%s run -e 'Company.count()' --data-dir %s/data "
                             "-c ex -u alice", bin, dir), 0);
    assert_string_equal(out, "2\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dsl_list_types_and_validate, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(
            test_every_dsl_example_runs_and_data_persists_between_runs, dir_setup,
            dir_teardown),
    };
    return cmocka_run_group_tests_name("dsl_ctl", tests, NULL, NULL);
}
