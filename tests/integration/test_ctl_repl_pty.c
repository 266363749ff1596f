/* test_ctl_repl_pty.c -- rhaictl repl in a real pseudo-terminal (forkpty):
 * prompts, a multi-line entry, a definition reused by a later entry, an
 * error shown with its line, a DSL create that later entries never
 * repeat (rows counted), history kept across two runs (recalled with
 * Ctrl-P, libedit's previous-history key), and an endless entry killed at
 * its timeout without ending the REPL. Local mode: no Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/common.h"
#include "harness.h"

#define PTY_WAIT_MS 20000       /* bound of one expectation (ASan is slow) */

typedef struct pty_proc {
    pid_t  pid;
    int    fd;                  /* the master side */
    char   buf[256 * 1024];     /* everything read, NUL-terminated */
    size_t len;
    size_t mark;                /* expectations search from here */
} pty_proc;

typedef struct fixture {
    char dir[256];
    char data[300];
    char hist[300];
    pty_proc p;
} fixture;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start `rhaictl repl` in a new pseudo-terminal, with HOME and the data
 * dir in the fixture's temp dir. */
static void pty_start(fixture *f, const char *timeout_ms)
{
    struct winsize ws = { .ws_row = 40, .ws_col = 200 };
    char bin[512];
    pid_t pid;

    th_bin("rhaictl", bin, sizeof bin);
    memset(&f->p, 0, sizeof f->p);
    pid = forkpty(&f->p.fd, NULL, NULL, &ws);
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("HOME", f->dir, 1);
        setenv("TERM", "xterm", 1);
        unsetenv("RHAI_DATA_URL");
        execl(bin, bin, "repl", "--data-dir", f->data, "--caller", "alice",
              "--history", f->hist, "--timeout", timeout_ms, (char *)NULL);
        _exit(127);
    }
    f->p.pid = pid;
}

/* Read what is there, waiting up to 'ms'. 0 on data, -1 on EOF/timeout. */
static int pty_read(pty_proc *p, int ms)
{
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    ssize_t k;

    if (poll(&pfd, 1, ms) <= 0)
        return -1;
    if (p->len + 1 >= sizeof p->buf)
        return -1;
    k = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
    if (k <= 0)
        return -1;                      /* EIO: the child closed the terminal */
    p->len += (size_t)k;
    p->buf[p->len] = '\0';
    return 0;
}

/* Wait until 'needle' appears after the mark; move the mark past it. */
static void pty_expect(pty_proc *p, const char *needle)
{
    int64_t deadline = now_ms() + PTY_WAIT_MS;
    char *at;

    while ((at = strstr(p->buf + p->mark, needle)) == NULL) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || pty_read(p, (int)left) != 0) {
            print_error("expected \"%s\" in the terminal after:\n%s\n", needle,
                        p->buf + p->mark);
            fail();
        }
    }
    p->mark = (size_t)(at - p->buf) + strlen(needle);
}

static void pty_send(pty_proc *p, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = write(p->fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        assert_true(k > 0);
        s += k;
        n -= (size_t)k;
    }
}

/* Read to EOF and reap: the exit status. */
static int pty_finish(pty_proc *p)
{
    int64_t deadline = now_ms() + PTY_WAIT_MS;
    int status = -1;

    while (now_ms() < deadline && pty_read(p, (int)(deadline - now_ms())) == 0)
        ;
    close(p->fd);
    p->fd = -1;
    status = th_wait(p->pid, PTY_WAIT_MS);
    p->pid = 0;
    return status;
}

static int setup(void **state)
{
    fixture *f = rh_calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/rhai-repl-pty-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->hist, sizeof f->hist, "%s/history", f->dir);
    f->p.fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->p.pid > 0) {
        kill(f->p.pid, SIGKILL);
        th_wait(f->p.pid, 5000);
    }
    if (f->p.fd >= 0)
        close(f->p.fd);
    th_sh("rm -rf '%s'", f->dir);
    rh_free(f);
    return 0;
}

static void test_repl_in_a_terminal_keeps_definitions_history_and_effects_once(void **state)
{
    fixture *f = *state;
    pty_proc *p = &f->p;
    FILE *h;
    char line[256];
    int found = 0;

    /* ---- first run ---- */
    pty_start(f, "30000");
    pty_expect(p, "rhai> ");
    /* a multi-line entry: the prompt says more is wanted */
    pty_send(p, "function sq(x) {\r");
    pty_expect(p, "... ");
    pty_send(p, "  return x * x;\r");
    pty_expect(p, "... ");
    pty_send(p, "}\r");
    pty_expect(p, "rhai> ");
    /* the definition, reused by a later entry */
    pty_send(p, "sq(12)\r");
    pty_expect(p, "144\r\n");
    pty_expect(p, "rhai> ");
    /* an error, with its line within the entry */
    pty_send(p, "[1,\r");
    pty_expect(p, "... ");
    pty_send(p, "  nosuch()]\r");
    pty_expect(p, "ReferenceError: 'nosuch' is not defined (line 2)");
    pty_expect(p, "2 |   nosuch()]");
    pty_expect(p, "rhai> ");
    /* a DSL create, then entries after it: it is never run again */
    pty_send(p, "Company.create({name: 'Acme'}).name\r");
    pty_expect(p, "\"Acme\"");
    pty_expect(p, "rhai> ");
    pty_send(p, "Company.count() + 100\r");
    pty_expect(p, "\n101\r\n");
    pty_send(p, "sq(3) + Company.count() * 1000\r");
    pty_expect(p, "\n1009\r\n");
    pty_send(p, "'hist' + 'ory'\r");
    pty_expect(p, "\"history\"");
    pty_expect(p, "rhai> ");
    pty_send(p, ".exit\r");
    assert_int_equal(pty_finish(p), 0);

    /* the history file holds the entries' lines */
    h = fopen(f->hist, "r");
    assert_non_null(h);
    while (fgets(line, sizeof line, h))
        found |= strstr(line, "'hist'") != NULL;
    fclose(h);
    assert_true(found);

    /* ---- second run: history recalled, the row still one ---- */
    pty_start(f, "5000");
    pty_expect(p, "rhai> ");
    pty_send(p, "\x10\x10\r");              /* Ctrl-P twice: before ".exit" */
    pty_expect(p, "\"history\"");
    pty_expect(p, "rhai> ");
    pty_send(p, "Company.count() + 200\r");
    pty_expect(p, "\n201\r\n");
    pty_expect(p, "rhai> ");
    /* an endless entry is killed at its timeout; the REPL goes on */
    pty_send(p, "function f() { return 5; }\r");
    pty_expect(p, "rhai> ");
    pty_send(p, "while (true) {}\r");
    pty_expect(p, "timeout: timeout after 5000 ms");
    pty_expect(p, "state was lost");
    pty_expect(p, "rhai> ");
    pty_send(p, "typeof f + Company.count()\r");
    pty_expect(p, "\"undefined1\"");
    pty_expect(p, "rhai> ");
    /* not Ctrl-D: typed ahead while the terminal is still in canonical
     * mode (before libedit's raw mode), the line discipline turns it into
     * an end-of-file mark that reaches libedit as a NUL byte */
    pty_send(p, ".exit\r");
    assert_int_equal(pty_finish(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_repl_in_a_terminal_keeps_definitions_history_and_effects_once, setup,
            teardown),
    };
    return cmocka_run_group_tests_name("ctl_repl_pty", tests, NULL, NULL);
}
