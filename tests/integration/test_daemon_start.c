/* test_daemon_start.c -- rhaid refusing to start, as systemd sees it: the
 * exit status decides whether the unit restarts (RestartPreventExitStatus=2:
 * a configuration error is not retried, anything else is), and the one
 * error line must say why in a field a log parser can read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* Run rhaid with 'args' (NULL-terminated, after the binary) to its exit;
 * its status, its output in 'log'. */
static int rhaid_exit(const char *const args[], char *log, size_t n)
{
    static int runs;
    char bin[512];
    char *argv[16];
    int i = 0, status;

    argv[i++] = (char *)th_bin("rhaid", bin, sizeof bin);
    for (; args[i - 1] && i < 15; i++)
        argv[i] = (char *)args[i - 1];
    argv[i] = NULL;
    snprintf(log, n, "/tmp/rhai-test-daemon-start-%d-%d.log", (int)getpid(), runs++);
    unlink(log);
    status = th_wait(th_spawn(argv, NULL, log), 20000);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The start_failed line of 'log' has reason="<want>" exactly (its
 * quotes escaped), followed by a space. */
static void assert_reason(const char *log, const char *want)
{
    char pat[1200], line[4096];
    FILE *f = fopen(log, "r");
    int found = 0;

    assert_non_null(f);
    snprintf(pat, sizeof pat, "event=start_failed reason=\"%s\" ", want);
    while (fgets(line, sizeof line, f))
        found |= strstr(line, pat) != NULL;
    fclose(f);
    if (!found) {
        th_sh("cat '%s'", log);
        fail_msg("no start_failed line with reason=\"%s\"", want);
    }
}

/* A setting naming what does not exist (a user) is a configuration error:
 * exit 2, never restarted; a port someone else holds may be free at the
 * next try: exit 1, restarted. */
static void test_a_config_value_refused_at_start_exits_2_and_a_busy_port_1(void **state)
{
    th_redis r;
    char log[300], dir[400], addr[64];
    int fd, port;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    snprintf(dir, sizeof dir, "%s/data", r.dir);
    assert_int_equal(th_sh("mkdir -p '%s'", dir), 0);
    {
        const char *args[] = { "--redis-url", r.url, "--data-dir", dir, "--concurrency", "1",
                               "--executor-user", "no-such-user-x", NULL };
        int rc = rhaid_exit(args, log, sizeof log);
        if (getuid() == 0) {            /* only root switches users */
            assert_int_equal(rc, 2);
            assert_reason(log, "executor_user 'no-such-user-x': no such user");
        }
        unlink(log);
    }
    /* a port held by another socket */
    fd = th_listen(&port);
    assert_true(fd >= 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    {
        const char *args[] = { "--redis-url", r.url, "--data-dir", dir, "--concurrency", "1",
                               "--metrics-listen", addr, NULL };
        assert_int_equal(rhaid_exit(args, log, sizeof log), 1);
        unlink(log);
    }
    close(fd);
    th_redis_stop(&r);
}

/* A reason holding a quote (a data dir path) stays one quoted field. */
static void test_a_start_failure_reason_is_quoted_whatever_the_path_holds(void **state)
{
    th_redis r;
    char log[300], dir[400];
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    snprintf(dir, sizeof dir, "%s/f\"q", r.dir);
    assert_int_equal(th_sh("touch '%s'", dir), 0);         /* a file: no dir below */
    snprintf(dir, sizeof dir, "%s/f\"q/d", r.dir);
    {
        const char *args[] = { "--redis-url", r.url, "--data-dir", dir, "--concurrency", "1",
                               NULL };
        char want[600];
        assert_int_equal(rhaid_exit(args, log, sizeof log), 1);
        snprintf(want, sizeof want, "data dir %s/f\\\"q/d: Not a directory", r.dir);
        assert_reason(log, want);
        unlink(log);
    }
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_config_value_refused_at_start_exits_2_and_a_busy_port_1),
        cmocka_unit_test(test_a_start_failure_reason_is_quoted_whatever_the_path_holds),
    };
    return cmocka_run_group_tests_name("daemon_start", tests, NULL, NULL);
}
