/* isolated.c -- one task in a forked child, under a wall-clock timeout.
 *
 * `rhaictl run` has no executor pool, yet a script like while(true){} or a
 * catastrophic regex can only be stopped by killing its process (mujs has
 * no interrupt hook). So the task runs in a child of the caller, which
 * writes one result frame (the executor's message) to a pipe and exits;
 * the parent waits for it with poll() and SIGKILLs it at the deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_int.h"

/* Fill 'out' as a failed run. 0, or RHAI_ENOMEM when the message could
 * not be copied (out is still a valid failed result). */
static int isolated_fail(eng_output *out, rh_error_kind kind, int64_t t0,
                         const char *fmt, ...) RH_PRINTF(4, 5);

static int isolated_fail(eng_output *out, rh_error_kind kind, int64_t t0,
                          const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eng_output_clear(out);
    out->status = RHAI_STATUS_ERROR;
    out->kind = kind;
    out->error = rh_strdup(msg);
    out->logs = rh_strdup("");
    out->run_us = rh_mono_us() - t0;
    return out->error && out->logs ? 0 : RHAI_ENOMEM;
}

/* The child: run, send the result, leave without atexit handlers or
 * stdio flushes that belong to the parent. */
static void isolated_child(int fd, const eng_input *in, const eng_limits *lim)
    __attribute__((noreturn));

static void isolated_child(int fd, const eng_input *in, const eng_limits *lim)
{
    eng_output o;
    rh_buf b;

    eng__harden_process();
    signal(SIGPIPE, SIG_IGN);
    (void)eng_run(in, lim, &o);
    rh_buf_init(&b);
    if (eng__frame_result(&b, in->task_id, &o) != 0 ||
        eng__write_all(fd, b.data, b.len) != 0)
        _exit(3);
    _exit(0);
}

/* Read the child's pipe into 'b' until EOF (0), the deadline (1), or an
 * error (-1: RHAI_EIO, RHAI_ENOMEM or a frame over the maximum). */
static int isolated_collect(int fd, int64_t deadline_ms, rh_buf *b)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        int64_t left = deadline_ms - rh_mono_ms();
        ssize_t r;
        int n;

        if (left <= 0)
            return 1;
        n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return 1;
        if ((r = eng__read_some(fd, b)) == 0)
            return 0;
        if (r < 0 || b->len > (size_t)RH_FRAME_MAX + RH_FRAME_HDR)
            return -1;
    }
}

static int wait_child(pid_t pid, int *status)
{
    pid_t r;

    do {
        r = waitpid(pid, status, 0);
    } while (r < 0 && errno == EINTR);
    return r == pid ? 0 : -1;
}

/* Decode the one result frame in 'b' into 'out'. 0 or -1. */
static int isolated_decode(rh_buf *b, eng_output *out)
{
    char *payload = NULL;
    char *id = NULL;
    size_t len;
    eng_output res;
    int rc;

    if (rh_frame_decode(b, &payload, &len) != 0)
        return -1;
    rc = eng_msg_decode_result(payload, len, &id, &res, NULL);
    rh_free(payload);
    rh_free(id);
    if (rc != 0)
        return -1;
    eng_output_clear(out);
    *out = res;
    return 0;
}

int eng_run_isolated(const eng_input *in, const eng_limits *lim,
                     int64_t timeout_ms, eng_output *out)
{
    int64_t t0 = rh_mono_us();
    int64_t deadline;
    int fds[2];
    int status = 0;
    int how;
    int rc = 0;
    pid_t pid;
    rh_buf b;

    eng_output_init(out);
    if (timeout_ms <= 0)
        timeout_ms = ENG_DEFAULT_TIMEOUT_MS;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        (void)isolated_fail(out, RH_EK_INTERNAL, t0, "pipe: %s", strerror(errno));
        return RHAI_EIO;
    }
    deadline = rh_mono_ms() + timeout_ms;
    if ((pid = fork()) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        (void)isolated_fail(out, RH_EK_INTERNAL, t0, "fork: %s", strerror(e));
        return RHAI_EIO;
    }
    if (pid == 0) {
        close(fds[0]);
        isolated_child(fds[1], in, lim);
    }
    close(fds[1]);

    rh_buf_init(&b);
    how = isolated_collect(fds[0], deadline, &b);
    close(fds[0]);
    if (how != 0)                   /* late, or talking nonsense: stop it */
        kill(pid, SIGKILL);
    if (wait_child(pid, &status) != 0)
        status = -1;                /* SIGCHLD ignored by the caller, say */

    if (how == 1) {
        rc = isolated_fail(out, RH_EK_TIMEOUT, t0, "timeout after %lld ms",
                      (long long)timeout_ms);
    } else if (how == 0 && isolated_decode(&b, out) == 0) {
        /* A complete result counts even if the child died afterwards. */
    } else if (status != -1 && WIFSIGNALED(status)) {
        rc = isolated_fail(out, RH_EK_CRASHED, t0, "executor killed by signal %d (%s)",
                      WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (status != -1 && WIFEXITED(status)) {
        rc = isolated_fail(out, RH_EK_CRASHED, t0,
                      "executor exited with status %d without a result",
                      WEXITSTATUS(status));
    } else {
        rc = isolated_fail(out, RH_EK_CRASHED, t0, "executor ended without a result");
    }
    rh_buf_free(&b);
    return rc;
}
