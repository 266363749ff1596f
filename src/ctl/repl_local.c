/* repl_local.c -- local mode's engine session, held by a child process.
 *
 * mujs has no interrupt hook, so `while(true){}` can only be stopped by
 * killing the process that runs it (as eng_run_isolated does for rhaictl
 * run). The session therefore lives in a forked child: the REPL sends it
 * each entry as an executor task frame and reads back a result frame
 * (src/engine/message.c), waiting until the entry's timeout or a Ctrl-C,
 * and kills it then. The child's state dies with it: the REPL starts a new
 * one and says that earlier definitions are gone. A DSL transaction the
 * kill cuts short was never committed, so SQLite drops it: the entry's
 * effects happen once or not at all, as on a worker. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "repl.h"

/* Write all n bytes. 0 / -1. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Append what fd has to b. Bytes read, 0 at EOF, -1 on error (EINTR
 * included: the caller decides whether to go on). */
static ssize_t read_some(int fd, rh_buf *b)
{
    char chunk[16384];
    ssize_t k = read(fd, chunk, sizeof chunk);

    if (k > 0 && rh_buf_append(b, chunk, (size_t)k) != 0)
        return -1;
    return k;
}

/* ======================== the child ======================== */

static void local_child(int in_fd, int out_fd, const eng_limits *lim)
    __attribute__((noreturn));

static void local_child(int in_fd, int out_fd, const eng_limits *lim)
{
    eng_session *s = NULL;
    rh_buf in, out;

    signal(SIGINT, SIG_IGN);        /* the REPL decides what Ctrl-C stops */
    signal(SIGPIPE, SIG_IGN);
    if (eng_session_new(lim, &s) != 0)
        _exit(3);
    rh_buf_init(&in);
    rh_buf_init(&out);
    for (;;) {
        char *payload = NULL;
        size_t len;
        eng_input task;
        eng_output res;
        int rc = rh_frame_decode(&in, &payload, &len);

        if (rc == RHAI_EAGAIN) {
            ssize_t k = read_some(in_fd, &in);
            if (k == 0)
                _exit(0);           /* the REPL is done */
            if (k < 0 && errno != EINTR)
                _exit(3);
            continue;
        }
        if (rc != 0 || eng_msg_decode_task(payload, len, &task, NULL, NULL) != 0)
            _exit(3);
        rh_free(payload);
        (void)eng_session_run(s, &task, &res);
        if (eng_session_broken(s)) {
            /* the error says the state is lost; the next entry gets a new one */
            eng_session_free(s);
            if (eng_session_new(lim, &s) != 0)
                _exit(3);
        }
        rh_buf_consume(&out, out.len);
        if (eng_msg_encode_result(&out, task.task_id, &res) != 0) {
            eng_output_clear(&res);
            res.status = RHAI_STATUS_ERROR;
            res.kind = RH_EK_INTERNAL;
            res.error = rh_strdup("the result cannot be sent to the REPL");
            res.logs = rh_strdup("");
            rh_buf_consume(&out, out.len);
            if (eng_msg_encode_result(&out, task.task_id, &res) != 0)
                _exit(3);
        }
        eng_output_clear(&res);
        eng_input_free(&task);
        if (write_all(out_fd, out.data, out.len) != 0)
            _exit(3);
    }
}

/* ======================== the REPL's side ======================== */

int ctl_repl_local_start(ctl_repl_local *l, const eng_limits *lim)
{
    int to[2], from[2];
    pid_t pid;

    l->pid = -1;
    l->to_fd = l->from_fd = -1;
    l->lim = *lim;
    if (pipe2(to, O_CLOEXEC) != 0)
        return RHAI_EIO;
    if (pipe2(from, O_CLOEXEC) != 0) {
        close(to[0]);
        close(to[1]);
        return RHAI_EIO;
    }
    fflush(NULL);                   /* nothing buffered twice */
    if ((pid = fork()) < 0) {
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        return RHAI_EIO;
    }
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        local_child(to[0], from[1], &l->lim);
    }
    close(to[0]);
    close(from[1]);
    l->pid = pid;
    l->to_fd = to[1];
    l->from_fd = from[0];
    return 0;
}

void ctl_repl_local_stop(ctl_repl_local *l)
{
    int status;

    if (l->to_fd >= 0)
        close(l->to_fd);            /* EOF: the child leaves */
    if (l->from_fd >= 0)
        close(l->from_fd);
    if (l->pid > 0) {
        kill(l->pid, SIGKILL);      /* whatever it was doing */
        while (waitpid(l->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    l->pid = -1;
    l->to_fd = l->from_fd = -1;
}

/* Fill 'out' as failed with kind and message. */
static void local_fail(eng_output *out, rh_error_kind kind, const char *msg)
{
    eng_output_clear(out);
    out->status = RHAI_STATUS_ERROR;
    out->kind = kind;
    out->error = rh_strdup(msg);
    out->logs = rh_strdup("");
}

int ctl_repl_local_run(ctl_repl_local *l, const eng_input *in, int64_t timeout_ms,
                       volatile sig_atomic_t *interrupted, eng_output *out)
{
    int64_t deadline = rh_mono_ms() + (timeout_ms > 0 ? timeout_ms : ENG_DEFAULT_TIMEOUT_MS);
    rh_buf b;
    char *payload = NULL;
    char *id = NULL;
    size_t len;
    int lost = 0;
    char msg[128];

    eng_output_init(out);
    rh_buf_init(&b);
    if (l->pid <= 0 || eng_msg_encode_task(&b, in, &l->lim) != 0 ||
        write_all(l->to_fd, b.data, b.len) != 0) {
        local_fail(out, RH_EK_CRASHED, "the session's process is gone");
        lost = 1;
        goto done;
    }
    rh_buf_consume(&b, b.len);
    for (;;) {
        struct pollfd p = { .fd = l->from_fd, .events = POLLIN, .revents = 0 };
        int64_t left = deadline - rh_mono_ms();
        int rc = rh_frame_decode(&b, &payload, &len);
        ssize_t k;

        if (rc == 0)
            break;
        if (rc != RHAI_EAGAIN) {
            local_fail(out, RH_EK_INTERNAL, "the session's process answered nonsense");
            lost = 1;
            goto done;
        }
        if (interrupted && *interrupted) {
            local_fail(out, RH_EK_CANCELLED, "interrupted (Ctrl-C)");
            lost = 1;
            goto done;
        }
        if (left <= 0) {
            snprintf(msg, sizeof msg, "timeout after %lld ms", (long long)timeout_ms);
            local_fail(out, RH_EK_TIMEOUT, msg);
            lost = 1;
            goto done;
        }
        if (poll(&p, 1, left > 1000000 ? 1000000 : (int)left) < 0) {
            if (errno == EINTR)
                continue;
            local_fail(out, RH_EK_INTERNAL, "poll failed");
            lost = 1;
            goto done;
        }
        if ((p.revents & (POLLIN | POLLHUP)) == 0)
            continue;
        if ((k = read_some(l->from_fd, &b)) == 0 || (k < 0 && errno != EINTR)) {
            local_fail(out, RH_EK_CRASHED, "the session's process died");
            lost = 1;
            goto done;
        }
    }
    if (eng_msg_decode_result(payload, len, &id, out, NULL) != 0) {
        local_fail(out, RH_EK_INTERNAL, "the session's process answered nonsense");
        lost = 1;
    }
done:
    rh_free(payload);
    rh_free(id);
    rh_buf_free(&b);
    if (lost) {
        ctl_repl_local_stop(l);
        (void)ctl_repl_local_start(l, &l->lim);
    }
    return lost;
}
