/* executor.c -- the executor process: task frames in, result frames out.
 *
 * rhaid starts each executor with uv_spawn ("rhaid --executor") and talks
 * to it over two pipes. The executor has no event loop: it blocks on
 * read(), runs one task with eng_run(), writes the whole result frame and
 * reads again, until the parent closes the pipe. The parent owns the wall
 * clock (it SIGKILLs a child that runs too long), so nothing here needs to
 * be interruptible. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine_int.h"

/* Under AddressSanitizer the process reserves terabytes of shadow memory
 * up front, so an address-space limit would kill it at once. */
#if defined(__SANITIZE_ADDRESS__)
#define ENG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ENG_ASAN 1
#endif
#endif
#ifndef ENG_ASAN
#define ENG_ASAN 0
#endif

/* Bytes asked of read() at a time. */
#define ENG_READ_CHUNK (64u * 1024u)

/* Exit codes of eng_executor_main beyond 0 (EOF). */
enum {
    EXEC_EXIT_IO = 1,       /* a pipe failed: the parent is gone */
    EXEC_EXIT_PROTO = 2,    /* a frame that cannot be answered */
    EXEC_EXIT_NOMEM = 3     /* no memory even to report */
};

/* ======================== shared helpers ======================== */

int eng__write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return RHAI_EIO;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t eng__read_some(int fd, rh_buf *b)
{
    ssize_t r;

    if (rh_buf_reserve(b, ENG_READ_CHUNK) != 0)
        return RHAI_ENOMEM;
    do {
        r = read(fd, b->data + b->len, ENG_READ_CHUNK);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return RHAI_EIO;
    b->len += (size_t)r;
    b->data[b->len] = '\0';
    return r;
}

void eng__harden_process(void)
{
    struct rlimit core = { 0, 0 };

    (void)setrlimit(RLIMIT_CORE, &core);     /* a crash leaves no core */
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* Lower the soft RLIMIT_AS to 'bytes' (never above the hard limit), so a
 * runaway allocation outside the counted js heap fails instead of
 * swapping the host. */
static void limit_address_space(size_t bytes)
{
    struct rlimit as;

    if (ENG_ASAN || bytes == 0 || getrlimit(RLIMIT_AS, &as) != 0)
        return;
    if (as.rlim_max != RLIM_INFINITY && (rlim_t)bytes > as.rlim_max)
        bytes = (size_t)as.rlim_max;
    as.rlim_cur = (rlim_t)bytes;
    (void)setrlimit(RLIMIT_AS, &as);
}

/* ======================== the loop ======================== */

/* Answer one task frame into 'out'. 0, or an EXEC_EXIT_* code. */
static int executor_handle(const char *payload, size_t len, rh_buf *out)
{
    eng_input in;
    eng_limits lim;
    eng_output res;
    rhai_error err;
    char *id;
    int rc;

    if (eng_msg_decode_task(payload, len, &in, &lim, &err) != 0) {
        if (err.code == RHAI_ENOMEM)
            return EXEC_EXIT_NOMEM;
        if ((id = eng__msg_task_id(payload, len)) == NULL)
            return EXEC_EXIT_PROTO;
        eng_output_init(&res);
        res.status = RHAI_STATUS_ERROR;
        res.kind = RH_EK_INVALID;
        res.error = err.msg;                    /* borrowed: not cleared */
        rc = eng__frame_result(out, id, &res);
        rh_free(id);
        return rc == 0 ? 0 : EXEC_EXIT_NOMEM;
    }
    /* RHAI_ENOMEM from eng_run still leaves a result worth sending. */
    (void)eng_run(&in, &lim, &res);
    rc = eng__frame_result(out, in.task_id, &res);
    eng_output_clear(&res);
    eng_input_free(&in);
    return rc == 0 ? 0 : EXEC_EXIT_NOMEM;
}

/* Why the loop ended, logged once (stderr reaches rhaid's log). */
static int executor_exit(int code, const char *reason)
{
    if (code != 0)
        rh_log(RH_LOG_ERROR, "event=executor_exit code=%d reason=\"%s\"", code,
               RH_LOG_Q(reason));
    return code;
}

int eng_executor_main(int in_fd, int out_fd, size_t as_limit)
{
    rh_buf in;
    rh_buf out;
    int code = 0;
    const char *why = "end of input";

    eng__harden_process();
    /* A parent that died makes write() fail with EPIPE: exit with a
     * code instead of a signal. */
    signal(SIGPIPE, SIG_IGN);
    limit_address_space(as_limit);
    eng_set_prebuild(1);
    eng_idle();
    rh_buf_init(&in);
    rh_buf_init(&out);

    for (;;) {
        char *payload;
        size_t len;
        int rc = rh_frame_decode(&in, &payload, &len);

        if (rc == RHAI_EAGAIN) {
            ssize_t r = eng__read_some(in_fd, &in);
            if (r == 0) {           /* EOF: done, unless mid-frame */
                code = in.len == 0 ? 0 : EXEC_EXIT_PROTO;
                why = "end of input inside a frame";
                break;
            }
            if (r < 0) {
                code = r == RHAI_ENOMEM ? EXEC_EXIT_NOMEM : EXEC_EXIT_IO;
                why = r == RHAI_ENOMEM ? "out of memory" : "read failed";
                break;
            }
            continue;
        }
        if (rc != 0) {
            code = rc == RHAI_ENOMEM ? EXEC_EXIT_NOMEM : EXEC_EXIT_PROTO;
            why = rc == RHAI_ENOMEM ? "out of memory" : "frame length over the maximum";
            break;
        }
        code = executor_handle(payload, len, &out);
        rh_free(payload);
        if (code != 0) {
            why = code == EXEC_EXIT_PROTO ? "malformed task without an id" : "out of memory";
            break;
        }
        if (eng__write_all(out_fd, out.data, out.len) != 0) {
            code = EXEC_EXIT_IO;
            why = "write failed";
            break;
        }
        rh_buf_consume(&out, out.len);
        /* The result is sent: with no next task already read, free this
         * task's state and build the next one's while the pipe is quiet. */
        if (in.len == 0)
            eng_idle();
    }
    eng_set_prebuild(0);
    rh_buf_free(&in);
    rh_buf_free(&out);
    return executor_exit(code, why);
}
