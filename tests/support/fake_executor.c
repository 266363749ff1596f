/* fake_executor.c -- an executor for the daemon's unit tests: it speaks
 * the executor frame protocol (engine.h) on its fd 0 as rhai-executor
 * does, but runs no JavaScript: each task's script is an instruction.
 *
 * The pool starts it through wk_config.executor_path with the executor's
 * flags, which it ignores. It reads task frames until EOF and does what
 * each script says (words separated by spaces):
 *   done JSON          answer done with output JSON (the rest of the line)
 *   pid                answer done with our pid as output
 *   error KIND MSG     answer an error of kind KIND (script, memory, ...)
 *   transient          answer the host's failure: kind internal, transient
 *   hang               stop: no answer, no more reads (killed by its timeout)
 *   ignore             no answer to this task, read the next one
 *   exit CODE          exit at once with CODE, mid-task
 *   signal N           raise signal N, mid-task
 *   garbage            write a whole frame whose payload is not a message
 *   badlen             write a frame header over RH_FRAME_MAX
 *   twice JSON         answer done twice
 *   wrongid            answer done for another task id
 *   crash-until N FILE     count the runs in FILE (shared by executors):
 *                          exit 3 while the count is at most N, then pid
 *   transient-until N FILE the same, answering transient instead
 * Anything else is answered with kind invalid and a message naming it.
 * With FAKE_EXECUTOR_AT_START=exit in its environment it exits 1 before
 * reading anything, as a broken binary would.
 * It dies with its parent (PR_SET_PDEATHSIG), as executors do. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/common.h"
#include "engine/engine.h"

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(0, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(4);
        p += w;
        n -= (size_t)w;
    }
}

static void answer(const char *id, rhai_status st, rh_error_kind kind, const char *output,
                   const char *error, int transient)
{
    eng_output o;
    rh_buf frame;

    eng_output_init(&o);
    o.status = st;
    o.kind = kind;
    o.output = (char *)output;
    o.error = (char *)error;
    o.logs = (char *)"";
    o.transient = transient;
    rh_buf_init(&frame);
    if (eng_msg_encode_result(&frame, id, &o) != 0)     /* the frame, header and all */
        _exit(5);
    write_all(frame.data, frame.len);
    rh_buf_free(&frame);
}

static void answer_pid(const char *id)
{
    char out[24];
    snprintf(out, sizeof out, "%d", (int)getpid());
    answer(id, RHAI_STATUS_DONE, RH_EK_NONE, out, NULL, 0);
}

/* Add one to the count in 'path'; the new count. */
static long bump(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;

    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = 0;
        fclose(f);
    }
    if ((f = fopen(path, "w")) == NULL)
        _exit(6);
    fprintf(f, "%ld\n", ++n);
    fclose(f);
    return n;
}

/* Do what the script says. */
static void act(const char *id, const char *script)
{
    char word[32] = "", arg[64] = "", file[4096] = "";
    const char *rest;
    int n = 0;

    sscanf(script, "%31s%n", word, &n);
    rest = script + n + (script[n] == ' ');
    if (strcmp(word, "done") == 0) {
        answer(id, RHAI_STATUS_DONE, RH_EK_NONE, rest, NULL, 0);
    } else if (strcmp(word, "pid") == 0) {
        answer_pid(id);
    } else if (strcmp(word, "error") == 0) {
        sscanf(rest, "%63s%n", arg, &n);
        answer(id, RHAI_STATUS_ERROR, rh_kind_parse(arg), "null", rest + n + (rest[n] == ' '),
               0);
    } else if (strcmp(word, "transient") == 0) {
        answer(id, RHAI_STATUS_ERROR, RH_EK_INTERNAL, "null", "store unavailable", 1);
    } else if (strcmp(word, "hang") == 0) {
        for (;;)
            pause();
    } else if (strcmp(word, "ignore") == 0) {
        /* nothing */
    } else if (strcmp(word, "exit") == 0) {
        _exit(atoi(rest));
    } else if (strcmp(word, "signal") == 0) {
        signal(atoi(rest), SIG_DFL);
        raise(atoi(rest));
        _exit(7);
    } else if (strcmp(word, "garbage") == 0) {
        static const char junk[] = "\0\0\0\x07garbage";
        write_all(junk, sizeof junk - 1);
    } else if (strcmp(word, "badlen") == 0) {
        write_all("\xff\xff\xff\xff", 4);
    } else if (strcmp(word, "twice") == 0) {
        answer(id, RHAI_STATUS_DONE, RH_EK_NONE, rest, NULL, 0);
        answer(id, RHAI_STATUS_DONE, RH_EK_NONE, rest, NULL, 0);
    } else if (strcmp(word, "wrongid") == 0) {
        answer("not-this-task", RHAI_STATUS_DONE, RH_EK_NONE, "1", NULL, 0);
    } else if (strcmp(word, "crash-until") == 0 || strcmp(word, "transient-until") == 0) {
        long until = 0;
        if (sscanf(rest, "%ld %4095s", &until, file) != 2)
            _exit(8);
        if (bump(file) > until)
            answer_pid(id);
        else if (word[0] == 'c')
            _exit(3);
        else
            answer(id, RHAI_STATUS_ERROR, RH_EK_INTERNAL, "null", "store unavailable", 1);
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "fake executor: unknown instruction '%.60s'", word);
        answer(id, RHAI_STATUS_ERROR, RH_EK_INVALID, "null", msg, 0);
    }
}

int main(void)
{
    const char *start = getenv("FAKE_EXECUTOR_AT_START");
    rh_buf in;
    char chunk[65536];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;                       /* the parent is gone already */
    if (start && strcmp(start, "exit") == 0)
        return 1;
    rh_buf_init(&in);
    for (;;) {
        char *payload, *script;
        size_t len;
        eng_input task;
        rhai_error err;
        int rc = rh_frame_decode(&in, &payload, &len);

        if (rc == RHAI_EAGAIN) {
            ssize_t r = read(0, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;                  /* EOF: the pool closed us */
            if (rh_buf_append(&in, chunk, (size_t)r) != 0)
                return 9;
            continue;
        }
        if (rc != 0)
            return 2;
        if (eng_msg_decode_task(payload, len, &task, NULL, &err) != 0)
            return 2;
        rh_free(payload);
        /* the script may hold NULs: instructions are text up to the first */
        script = rh_malloc(task.script_len + 1);
        if (script == NULL)
            return 9;
        memcpy(script, task.script, task.script_len);
        script[task.script_len] = '\0';
        act(task.task_id, script);
        rh_free(script);
        eng_input_free(&task);
    }
    rh_buf_free(&in);
    return 0;
}
