/* test_protocol_walkthrough.c -- executes the redis-cli walkthrough of
 * docs/protocol.md literally against a real redis-server and rhaid: every
 * `redis-cli ...` line is run by the shell with the server's port added,
 * and every `#=> text` line must appear in the previous command's output.
 * If the document and the code disagree, this test fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static void test_the_documented_walkthrough_runs_as_written(void **state)
{
    th_redis r;
    pid_t rhaid;
    char path[512], line[4096], out[65536], cmd[8192];
    FILE *doc, *p;
    int in_block = 0, commands = 0, checks = 0;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    rhaid = th_rhaid_start(&r, "default", 1, NULL);
    assert_true(rhaid > 0);
    doc = fopen(th_src("docs/protocol.md", path, sizeof path), "r");
    assert_non_null(doc);
    out[0] = '\0';
    while (fgets(line, sizeof line, doc)) {
        line[strcspn(line, "\n")] = '\0';
        if (!in_block) {
            in_block = strcmp(line, "```walkthrough") == 0;
            continue;
        }
        if (strcmp(line, "```") == 0)
            break;
        if (strncmp(line, "redis-cli ", 10) == 0) {
            size_t n;
            snprintf(cmd, sizeof cmd, "%s -p %d %s 2>&1", TH_REDIS_CLI_PATH, r.port, line + 10);
            p = popen(cmd, "r");
            assert_non_null(p);
            n = fread(out, 1, sizeof out - 1, p);
            out[n] = '\0';
            assert_int_equal(pclose(p), 0);
            print_message("$ %s\n%s", line, out);
            commands++;
        } else if (strncmp(line, "#=> ", 4) == 0) {
            if (strstr(out, line + 4) == NULL)
                fail_msg("expected '%s' in the output of the previous command", line + 4);
            checks++;
        }
    }
    fclose(doc);
    print_message("%d commands, %d checks\n", commands, checks);
    assert_true(commands >= 8);
    assert_true(checks >= 5);
    th_stop(rhaid, 10000);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_documented_walkthrough_runs_as_written),
    };
    return cmocka_run_group_tests_name("protocol_walkthrough", tests, NULL, NULL);
}
