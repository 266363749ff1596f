/* pool.c -- the executor pool: child processes that run scripts.
 *
 * Each executor is `rhaid --executor` started with uv_spawn (never a fork of
 * the process running the loop), talking over one duplex pipe on its fd 0
 * with rh_frame frames (engine.h documents the messages). The parent owns
 * the wall clock: a job's timer SIGKILLs its executor, whose job then ends
 * with kind timeout; an executor that dies on its own ends its job as
 * crashed. Either way a new executor takes the slot at once, and the old
 * one is freed from its last close callback.
 *
 * A busy executor may hold one more job, queued: its frame is already in
 * the pipe, so the executor goes on to it the moment it has written the
 * first one's result, with no wait for us (wk_pool_queue). That job's
 * timer starts when the first one's result arrives. An executor that dies
 * with a queued job gives it back unrun (back_cb). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon.h"
#include "store/store.h"
#include "executor_entry.h"

typedef enum { EX_IDLE, EX_BUSY, EX_DEAD } ex_state;

struct wk_executor {
    uv_process_t proc;        /* closed from exit_cb only */
    uv_pipe_t    pipe;        /* duplex, child's fd 0 */
    uv_timer_t   timer;       /* job wall-clock timeout */
    int          open_handles;
    int          exited;
    ex_state     state;
    int          slot;
    uint64_t     tasks;       /* jobs started on this executor */
    int64_t      spawned_at;  /* monotonic ms */
    wk_job      *job;         /* while busy */
    int64_t      job_at_us;   /* when it went to the executor (monotonic us) */
    char         job_id[RH_NAME_MAX + 1];   /* the id its result must carry */
    int64_t      timeout_ms;
    wk_job      *next;        /* queued behind 'job', its frame sent */
    char         next_id[RH_NAME_MAX + 1];
    int64_t      next_timeout_ms;
    int          kill_kind;   /* RH_EK_* to report when we killed it */
    rh_buf       in;          /* bytes read, not yet a whole frame */
    wk_pool     *pool;
};

typedef struct write_req {
    uv_write_t req;
    char      *data;
} write_req;

static int executor_spawn(wk_pool *p, int slot);

static void pool_env_free(wk_pool *p)
{
    rh_free(p->url_env);
    rh_free(p->passfile);
    p->url_env = NULL;
    p->passfile = NULL;
}

/* The executors' environment at this spawn: ours (as it is now), with
 * RHAI_DATA_URL naming the store. The url may hold a password: argv is
 * seen by every user of the host (ps), the environment only by the
 * process's own user and root, and the executor wipes it once read
 * (executor_entry.c). New array of borrowed strings (rh_free it), NULL
 * on OOM. */
static char **pool_env(wk_pool *p)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    if ((env = rh_calloc(n + 2, sizeof *env)) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "RHAI_DATA_URL=", 14) == 0 ||
            strncmp(environ[i], "RHAI_DATA_DIR=", 14) == 0)
            continue;
#ifdef RHAI_TEST_HOOKS
        /* test_executor_oom: only the first executor fails an allocation,
         * the ones that replace it run clean */
        if (p->restarts > 0 && strncmp(environ[i], "RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER=",
                                       sizeof "RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER=" - 1) == 0)
            continue;
#endif
        env[k++] = environ[i];
    }
    if (p->url_env)
        env[k] = p->url_env;
    return env;
}

static void pool_closed(wk_pool *p)
{
    rh_free(p->ex);
    p->ex = NULL;
    p->n = 0;
    if (p->exe_fd >= 0)
        close(p->exe_fd);
    p->exe_fd = -1;
    pool_env_free(p);
    if (p->closed_cb)
        p->closed_cb(p);
}

/* ---- teardown ---- */

static void executor_on_close(uv_handle_t *h)
{
    wk_executor *ex = h->data;
    if (--ex->open_handles == 0) {
        wk_pool *p = ex->pool;
        rh_buf_free(&ex->in);
        rh_free(ex);
        if (--p->open == 0 && p->closing)
            pool_closed(p);
    }
}

static void on_job_timeout(uv_timer_t *t);

/* Finish the executor's job, if any, with 'out'. With 'promote' (its
 * result arrived), a queued job becomes the running one first. */
static void executor_end_job(wk_executor *ex, eng_output *out, int promote)
{
    wk_pool *p = ex->pool;
    wk_job *job = ex->job;
    if (job == NULL)
        return;
    ex->job = NULL;
    uv_timer_stop(&ex->timer);
    if (promote && ex->next) {
        ex->job = ex->next;
        ex->next = NULL;
        memcpy(ex->job_id, ex->next_id, sizeof ex->job_id);
        ex->timeout_ms = ex->next_timeout_ms;
        ex->job_at_us = rh_mono_us();
        uv_timer_start(&ex->timer, on_job_timeout, (uint64_t)ex->timeout_ms, 0);
        if (p->start_cb)
            p->start_cb(p, ex->job, p->data);
    } else {
        p->busy--;
    }
    p->run_cb(p, job, out, p->data);
    eng_output_clear(out);
}

static void end_job_with(wk_executor *ex, rh_error_kind kind, const char *msg)
{
    eng_output out;
    eng_output_init(&out);
    out.status = kind == RH_EK_TIMEOUT ? RHAI_STATUS_TIMEOUT :
                 kind == RH_EK_CANCELLED ? RHAI_STATUS_CANCELLED : RHAI_STATUS_ERROR;
    out.kind = kind;
    out.error = rh_strdup(msg);
    executor_end_job(ex, &out, 0);
}

/* Take the executor out of service: its slot gets a fresh one (unless the
 * pool closes), and it is killed; its handles close when it has exited. */
static void executor_retire(wk_executor *ex, int sig)
{
    wk_pool *p = ex->pool;
    if (ex->state == EX_DEAD)
        return;
    ex->state = EX_DEAD;
    if (p->ex[ex->slot] == ex)
        p->ex[ex->slot] = NULL;
    if (ex->next) {
        wk_job *job = ex->next;
        ex->next = NULL;
        p->back_cb(p, job, p->data);
    }
    if (!uv_is_closing((uv_handle_t *)&ex->pipe))
        uv_close((uv_handle_t *)&ex->pipe, executor_on_close);   /* EOF to the child */
    if (!uv_is_closing((uv_handle_t *)&ex->timer))
        uv_close((uv_handle_t *)&ex->timer, executor_on_close);
    if (sig && !ex->exited)
        uv_process_kill(&ex->proc, sig);
    if (!p->closing) {
        p->restarts++;
        /* One that died before running anything is broken at start (a bad
         * binary, a limit too low): respawning at once would spin, so the
         * slot waits for wk_pool_maintain at the next tick. */
        if (ex->tasks == 0 && rh_mono_ms() - ex->spawned_at < 1000) {
            rh_log(RH_LOG_ERROR, "event=executor_failed_at_start slot=%d retrying next tick",
                   ex->slot);
            return;
        }
        if (executor_spawn(p, ex->slot) == 0 && p->ready_cb)
            p->ready_cb(p, p->data);
    }
}

static void executor_on_exit(uv_process_t *proc, int64_t status, int signo)
{
    wk_executor *ex = proc->data;
    char msg[128];

    ex->exited = 1;
    if (ex->job) {
        snprintf(msg, sizeof msg, "executor died (exit status %lld, signal %d)",
                 (long long)status, signo);
        rh_log(RH_LOG_WARN, "event=executor_died task=%s slot=%d status=%lld signal=%d",
               ex->job_id, ex->slot, (long long)status, signo);
        end_job_with(ex, RH_EK_CRASHED, msg);
    }
    executor_retire(ex, 0);
    uv_close((uv_handle_t *)&ex->proc, executor_on_close);
}

/* ---- reading results ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    wk_executor *ex = h->data;
    (void)hint;
    if (rh_buf_reserve(&ex->in, 65536) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = ex->in.data + ex->in.len;
    buf->len = ex->in.cap - ex->in.len - 1;
}

/* Test hook, compiled in only when the test suite is built
 * (RHAI_TEST_HOOKS): RHAI_TEST_FAULT=kill_after_commit makes rhaid SIGKILL
 * itself when the first result with status done arrives, the worst moment
 * for a worker to die: the executor has committed the task's effects
 * before it sent the result, and no reply went out. Its executors follow
 * it (PR_SET_PDEATHSIG). The executor cannot do this itself once it is
 * confined: it may not signal rhaid. */
static void fault_after_commit(const eng_output *out)
{
#ifdef RHAI_TEST_HOOKS
    const char *f = getenv("RHAI_TEST_FAULT");

    if (f && strcmp(f, "kill_after_commit") == 0 && out->status == RHAI_STATUS_DONE)
        raise(SIGKILL);
#else
    (void)out;
#endif
}

static void handle_frame(wk_executor *ex, const char *text, size_t len)
{
    eng_output out;
    char *id = NULL;
    rhai_error err;
    int recycle, rc;

    eng_output_init(&out);
    err.msg[0] = '\0';
    if ((rc = eng_msg_decode_result(text, len, &id, &out, &err)) != 0 || ex->job == NULL ||
        id == NULL || strcmp(id, ex->job_id) != 0) {
        rh_log(RH_LOG_ERROR, "event=executor_protocol task=%s slot=%d reason=\"%s\"",
               ex->job ? ex->job_id : "-", ex->slot,
               RH_LOG_Q(err.msg[0] ? err.msg :
                        ex->job == NULL ? "result without a job" :
                        id == NULL ? "result without an id" : "result for another task"));
        rh_free(id);
        eng_output_clear(&out);
        /* A result we had no memory to read: the executor is killed and
         * its exit reports the job as a crash, so that the task runs again
         * (the ledger answers one that committed). Anything else is the
         * executor's fault: answered `internal`. */
        if (ex->job && rc != RHAI_ENOMEM)
            end_job_with(ex, RH_EK_INTERNAL, "executor sent a malformed result");
        executor_retire(ex, SIGKILL);
        return;
    }
    rh_free(id);
    fault_after_commit(&out);
    /* Decided before the run callback: under load it starts the next job
     * at once, and an executor idle at that moment would take it, past
     * max_tasks_per_executor, and never be recycled. One due for
     * recycling is not idle in between (busy, without a job). */
    recycle = ex->next == NULL && ex->tasks >= (uint64_t)ex->pool->max_tasks;
    if (ex->next == NULL && !recycle)
        ex->state = EX_IDLE;
    executor_end_job(ex, &out, 1);
    if (recycle && ex->state != EX_DEAD) {
        rh_log(RH_LOG_INFO, "event=executor_recycle slot=%d tasks=%llu", ex->slot,
               (unsigned long long)ex->tasks);
        executor_retire(ex, 0);            /* EOF: it exits by itself */
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    wk_executor *ex = s->data;
    (void)buf;
    if (nread == UV_ENOBUFS)
        return;                       /* no memory for the read (on_alloc): asked again */
    if (nread < 0) {
        /* EOF or error: the exit callback reports the job. */
        if (!uv_is_closing((uv_handle_t *)&ex->pipe))
            uv_read_stop(s);
        return;
    }
    ex->in.len += (size_t)nread;
    ex->in.data[ex->in.len] = '\0';
    for (;;) {
        char *payload;
        size_t len;
        int rc = rh_frame_decode(&ex->in, &payload, &len);
        if (rc == RHAI_EAGAIN)
            break;
        if (rc != 0) {
            if (rc == RHAI_ENOMEM)
                rh_log(RH_LOG_ERROR, "event=executor_protocol task=%s slot=%d reason=\"out of "
                       "memory\" the executor is killed, its task runs again",
                       ex->job ? ex->job_id : "-", ex->slot);
            else if (ex->job)       /* ENOMEM: the exit reports it, a crash (handle_frame) */
                end_job_with(ex, RH_EK_INTERNAL, "executor broke the frame protocol");
            executor_retire(ex, SIGKILL);
            return;
        }
        handle_frame(ex, payload, len);
        rh_free(payload);
        if (ex->state == EX_DEAD)
            return;
    }
}

/* ---- spawning ---- */

static int executor_spawn(wk_pool *p, int slot)
{
    wk_executor *ex = rh_calloc(1, sizeof *ex);
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    char as[32];
    char *args[18], **env = pool_env(p);
    int n = 0;
    int rc;

    if (ex == NULL || env == NULL) {
        rh_free(ex);
        rh_free(env);
        return RHAI_ENOMEM;
    }
    ex->pool = p;
    ex->slot = slot;
    ex->spawned_at = rh_mono_ms();
    rh_buf_init(&ex->in);
    uv_pipe_init(p->loop, &ex->pipe, 0);
    uv_timer_init(p->loop, &ex->timer);
    ex->pipe.data = ex->timer.data = ex->proc.data = ex;
    ex->open_handles = 2;

    snprintf(as, sizeof as, "%lld", (long long)p->as_limit);
    args[n++] = p->exe;
    args[n++] = "--executor";
    args[n++] = "--executor-as-limit";
    args[n++] = as;
    if (p->postgres) {              /* what its confinement lets through */
        args[n++] = "--store-net";
        args[n++] = p->store_net;
        if (p->passfile) {
            args[n++] = "--store-read";
            args[n++] = p->passfile;
        }
    } else {
        args[n++] = "--data-dir";
        args[n++] = p->user.data_dir;
    }
    if (p->dev_mode)
        args[n++] = "--dev-mode";
    if (!p->seccomp)
        args[n++] = "--no-seccomp";
    if (rh_log_format == RH_LOG_FMT_JSON)          /* executors log as we do */
        args[n++] = "--log-json";
    args[n++] = "--log-level";                      /* at our level (at their spawn) */
    args[n++] = (char *)rh_log_level_name(rh_log_level);
    args[n] = NULL;
    memset(&o, 0, sizeof o);
    /* As the executor user from its first instruction: libuv sets gid,
     * then uid, and clears supplementary groups in the child before exec. */
    if (p->user.drop) {
        o.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
        o.uid = p->user.uid;
        o.gid = p->user.gid;
    }
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&ex->pipe;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 2;                  /* executors never write stdout */
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    o.file = p->exe_fd >= 0 ? p->spawn : p->exe;
    o.args = args;
    o.env = env;
    o.exit_cb = executor_on_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    p->open++;
    rc = uv_spawn(p->loop, &ex->proc, &o);
    rh_free(env);                          /* the child has its copy */
    if (rc != 0) {
        rh_log(RH_LOG_ERROR, "event=executor_spawn_failed slot=%d reason=\"%s\"", slot,
               uv_strerror(rc));
        /* uv_spawn failed: the process handle still needs closing */
        ex->open_handles++;
        ex->state = EX_DEAD;
        uv_close((uv_handle_t *)&ex->proc, executor_on_close);
        uv_close((uv_handle_t *)&ex->pipe, executor_on_close);
        uv_close((uv_handle_t *)&ex->timer, executor_on_close);
        return RHAI_EIO;
    }
    ex->open_handles++;                    /* the process handle */
    uv_read_start((uv_stream_t *)&ex->pipe, on_alloc, on_read);
    ex->state = EX_IDLE;
    p->ex[slot] = ex;
    rh_log(RH_LOG_DEBUG, "event=executor_spawned slot=%d pid=%d", slot, ex->proc.pid);
    return 0;
}

/* ---- public ---- */

/* RHAI_DATA_URL=... for executors (sqlite: the absolute data dir); none
 * without a store (scripts then run without the DSL). */
static int pool_url_env(wk_pool *p, const char *url, rhai_error *err)
{
    if (!p->postgres && p->user.data_dir[0] == '\0')
        return 0;
    p->url_env = p->postgres ? rh_sprintf("RHAI_DATA_URL=%s", url)
                             : rh_sprintf("RHAI_DATA_URL=sqlite://%s", p->user.data_dir);
    return p->url_env ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

/* A postgres store: what executors must reach of it (store_net.c). */
static int pool_store_net(wk_pool *p, const char *url, rhai_error *err)
{
    wk_store_net net;
    int rc;

    if ((rc = wk_store_net_of(url, &net, err)) != 0)
        return rc;
    wk_store_net_format(&net, p->store_net, sizeof p->store_net);
    if (net.passfile[0] && (p->passfile = rh_strdup(net.passfile)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if (net.name[0])
        rh_log(RH_LOG_WARN, "event=store_host_name host=%s confined executors read no file "
               "outside the data dir, /etc/hosts and /etc/resolv.conf included, and it could "
               "not be resolved for them: give the store's address (host=IP, or hostaddr=IP "
               "beside host=NAME) or a unix socket dir (docs/operations.md)", net.name);
    return 0;
}

/* rhai-executor beside our own binary, or our own binary (--executor). */
static void pool_find_executor(wk_pool *p)
{
    char *slash = strrchr(p->exe, '/');
    int n = slash ? (int)(slash - p->exe) : 0;

    if (slash && (size_t)n + sizeof "/" WK_EXECUTOR_NAME <= sizeof p->exe) {
        char path[sizeof p->exe];
        snprintf(path, sizeof path, "%.*s/%s", n, p->exe, WK_EXECUTOR_NAME);
        if (access(path, X_OK) == 0) {
            memcpy(p->exe, path, strlen(path) + 1);
            return;
        }
    }
    rh_log(RH_LOG_NOTICE, "event=executor_fallback path=%s no %s beside it: executors run "
           "as rhaid --executor", p->exe, WK_EXECUTOR_NAME);
}

/* Open the executors' binary now and start every executor from that open
 * file (/proc/self/fd/N), not from its path: an upgrade that replaces the
 * binaries on disk (a new file renamed over the old, as dpkg does) leaves
 * this rhaid respawning the executor it was built with until it is
 * restarted, instead of one that may speak another frame format. Without
 * /proc, the path, as before. */
static void pool_pin_executor(wk_pool *p)
{
    int fd = open(p->exe, O_RDONLY | O_CLOEXEC);

    p->exe_fd = -1;
    if (fd < 0)
        return;
    snprintf(p->spawn, sizeof p->spawn, "/proc/self/fd/%d", fd);
    if (access(p->spawn, X_OK) != 0) {
        rh_log(RH_LOG_NOTICE, "event=executor_unpinned path=%s no /proc/self/fd: executors "
               "are started by path", p->exe);
        close(fd);
        return;
    }
    p->exe_fd = fd;
}

int wk_pool_init(wk_pool *p, uv_loop_t *loop, const wk_config *cfg, wk_run_cb cb,
                 void *data, rhai_error *err)
{
    size_t sz = sizeof p->exe;
    int rc;

    memset(p, 0, sizeof *p);
    p->exe_fd = -1;
    p->loop = loop;
    p->n = cfg->concurrency;
    p->as_limit = cfg->executor_as_limit;
    p->max_tasks = cfg->max_tasks_per_executor;
    p->queue_max_us = cfg->pipeline_max_us;
    p->dev_mode = cfg->dev_mode != 0;
    p->seccomp = cfg->executor_seccomp != 0;
    /* The store of the config the pool was started with, passed to
     * executors: a sqlite store's data dir is made, given to the executor
     * user and checked; a postgres store has none, only a network. */
    p->postgres = cfg->data_url && store_url_is_postgres(cfg->data_url);
    if (p->postgres) {
        /* a host name is resolved now, for executors that cannot */
        char *pinned = NULL;
        rhai_error perr;
        memset(&perr, 0, sizeof perr);
        if (wk_store_url_pin(cfg->data_url, &pinned, &perr) != 0)
            rh_log(RH_LOG_WARN, "event=store_resolve_failed reason=\"%s\"", RH_LOG_Q(perr.msg));
        rc = pool_store_net(p, pinned ? pinned : cfg->data_url, err);
        if (rc == 0)
            rc = pool_url_env(p, pinned ? pinned : cfg->data_url, err);
        if (pinned) {
            sodium_memzero(pinned, strlen(pinned));     /* it may hold a password */
            rh_free(pinned);
        }
        if (rc == 0)
            rc = wk_execuser_prepare(cfg->executor_user, NULL, &p->user, err);
        if (rc != 0)
            return rc;
    } else if ((rc = wk_execuser_prepare(cfg->executor_user, cfg->data_dir, &p->user,
                                         err)) != 0 ||
               (rc = pool_url_env(p, cfg->data_url, err)) != 0) {
        return rc;
    }
    if (wk_execuser_landlock_abi() == 0)
        rh_log(RH_LOG_WARN, "event=landlock_unavailable the kernel has no Landlock: executors "
               "are not confined to the data dir, only by their user, rlimits and seccomp "
               "(docs/security.md)");
    if (!p->seccomp)
        rh_log(RH_LOG_WARN, "event=executor_seccomp_off executors run without their "
               "system-call filter (executor_seccomp = 0)");
    p->run_cb = cb;
    p->data = data;
    if (cfg->executor_path != NULL) {
        if (strlen(cfg->executor_path) >= sizeof p->exe)
            return rh_error_set(err, RHAI_EINVAL, "executor path too long");
        memcpy(p->exe, cfg->executor_path, strlen(cfg->executor_path) + 1);
    } else if ((rc = uv_exepath(p->exe, &sz)) != 0) {
        return rh_error_set(err, RHAI_EIO, "cannot find own executable: %s", uv_strerror(rc));
    } else {
        pool_find_executor(p);
    }
    pool_pin_executor(p);
    if ((p->ex = rh_calloc((size_t)p->n, sizeof *p->ex)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (int i = 0; i < p->n; i++)
        if ((rc = executor_spawn(p, i)) != 0)
            return rh_error_set(err, rc, "cannot start executor %d", i);
    return 0;
}

void wk_pool_maintain(wk_pool *p)
{
    for (int i = 0; i < p->n && !p->closing; i++)
        if (p->ex[i] == NULL && executor_spawn(p, i) == 0 && p->ready_cb)
            p->ready_cb(p, p->data);
}

int wk_pool_idle(const wk_pool *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->ex[i] && p->ex[i]->state == EX_IDLE)
            n++;
    return p->closing ? 0 : n;
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    (void)status;                       /* a dead pipe shows up in exit_cb */
    rh_free(w->data);
    rh_free(w);
}

static void on_job_timeout(uv_timer_t *t)
{
    wk_executor *ex = t->data;
    char msg[96];
    snprintf(msg, sizeof msg, "timeout after %lld ms", (long long)ex->timeout_ms);
    rh_log(RH_LOG_INFO, "event=task_timeout task=%s slot=%d timeout_ms=%lld", ex->job_id, ex->slot,
           (long long)ex->timeout_ms);
    end_job_with(ex, RH_EK_TIMEOUT, msg);
    executor_retire(ex, SIGKILL);
}

/* Write a task frame to 'ex'. 0; or an error, the executor retired when
 * its pipe may hold part of a frame. */
static int executor_send(wk_executor *ex, const eng_input *in, const eng_limits *lim)
{
    write_req *w;
    rh_buf frame;
    uv_buf_t b;
    int rc;

    rh_buf_init(&frame);
    if ((rc = eng_msg_encode_task(&frame, in, lim)) != 0) {
        rh_buf_free(&frame);
        return rc;
    }
    /* A frame fits the pipe's buffer: write it now. uv_write would write
     * it now too, but libuv 1.44 then re-arms the pipe's watcher (an
     * epoll_ctl per task); only a partial write needs the request. */
    b = uv_buf_init(frame.data, (unsigned)frame.len);
    rc = uv_try_write((uv_stream_t *)&ex->pipe, &b, 1);
    if (rc == (int)frame.len) {
        rh_buf_free(&frame);
        return 0;
    }
    if (rc < 0 && rc != UV_EAGAIN) {
        rh_buf_free(&frame);
        executor_retire(ex, SIGKILL);
        return RHAI_EIO;
    }
    size_t done = rc > 0 ? (size_t)rc : 0;
    if ((w = rh_malloc(sizeof *w)) == NULL) {
        rh_buf_free(&frame);
        if (done > 0)
            executor_retire(ex, SIGKILL);       /* a frame cut short */
        return RHAI_ENOMEM;
    }
    w->data = frame.data;                 /* owned by the write request now */
    b = uv_buf_init(frame.data + done, (unsigned)(frame.len - done));
    if (uv_write(&w->req, (uv_stream_t *)&ex->pipe, &b, 1, on_write) != 0) {
        rh_free(w->data);
        rh_free(w);
        executor_retire(ex, SIGKILL);
        return RHAI_EIO;
    }
    return 0;
}

int wk_pool_run(wk_pool *p, wk_job *job, const eng_input *in, const eng_limits *lim,
                int64_t timeout_ms)
{
    wk_executor *ex = NULL;
    int rc;

    for (int i = 0; i < p->n && !ex; i++)
        if (p->ex[i] && p->ex[i]->state == EX_IDLE)
            ex = p->ex[i];
    if (ex == NULL || p->closing)
        return RHAI_ESTATE;
    if ((rc = executor_send(ex, in, lim)) != 0)
        return rc;
    ex->state = EX_BUSY;
    ex->job = job;
    ex->job_at_us = rh_mono_us();
    snprintf(ex->job_id, sizeof ex->job_id, "%s", in->task_id);
    ex->tasks++;
    ex->timeout_ms = timeout_ms;
    p->busy++;
    uv_timer_start(&ex->timer, on_job_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int wk_pool_queue(wk_pool *p, wk_job *job, const eng_input *in, const eng_limits *lim,
                  int64_t timeout_ms)
{
    wk_executor *ex = NULL;
    int64_t now = rh_mono_us();
    int rc;

    for (int i = 0; i < p->n; i++) {
        wk_executor *e = p->ex[i];
        if (e && e->state == EX_BUSY && e->job && e->next == NULL &&
            e->tasks < (uint64_t)p->max_tasks && now - e->job_at_us < p->queue_max_us &&
            (ex == NULL || e->job_at_us < ex->job_at_us))
            ex = e;
    }
    if (ex == NULL || p->closing)
        return RHAI_ESTATE;
    if ((rc = executor_send(ex, in, lim)) != 0)
        return rc;
    ex->next = job;
    snprintf(ex->next_id, sizeof ex->next_id, "%s", in->task_id);
    ex->tasks++;
    ex->next_timeout_ms = timeout_ms;
    return 0;
}

int wk_pool_cancel(wk_pool *p, wk_job *job, const char *why)
{
    for (int i = 0; i < p->n; i++) {
        wk_executor *ex = p->ex[i];
        if (ex && ex->state == EX_BUSY && ex->job == job) {
            end_job_with(ex, RH_EK_CANCELLED, why);
            executor_retire(ex, SIGKILL);
            return 0;
        }
    }
    return RHAI_ENOTFOUND;
}

void wk_pool_kill_busy(wk_pool *p)
{
    for (int i = 0; i < p->n; i++) {
        wk_executor *ex = p->ex[i];
        if (ex && ex->state == EX_BUSY) {
            end_job_with(ex, RH_EK_CANCELLED, "killed at shutdown");
            executor_retire(ex, SIGKILL);
        }
    }
}

void wk_pool_close(wk_pool *p, void (*closed_cb)(wk_pool *p))
{
    p->closing = 1;
    p->closed_cb = closed_cb;
    for (int i = 0; i < p->n; i++) {
        wk_executor *ex = p->ex[i];
        if (ex) {
            if (ex->state == EX_BUSY)
                end_job_with(ex, RH_EK_CANCELLED, "killed at shutdown");
            executor_retire(ex, SIGKILL);
        }
    }
    if (p->open == 0)
        pool_closed(p);
}
