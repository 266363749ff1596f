/* daemon_fake.h -- what the daemon's loop tests share (test_daemon_pool.c,
 * test_daemon_worker.c, test_daemon_take.c): a real libuv loop, a config
 * whose executors are tests/support/fake_executor.c (its header lists the
 * instructions a task's script may give), a temporary data dir, and a way
 * to run the loop until something holds. Included by one test file each. */
#ifndef TEST_DAEMON_FAKE_H
#define TEST_DAEMON_FAKE_H

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon.h"

typedef struct fx {
    uv_loop_t loop;
    wk_config cfg;
    char      dir[64];          /* the data dir, removed at the end */
} fx;

/* A loop, and a config of 'concurrency' fake executors and the defaults
 * otherwise; fields may be changed before the pool starts. */
static inline void fx_open(fx *f, int concurrency)
{
    char n[16];
    char *argv[] = { "rhaid", "--data-dir", f->dir, "--concurrency", n, "--worker-id",
                     "unit", NULL };
    rhai_error err;

    memset(f, 0, sizeof *f);
    strcpy(f->dir, "/tmp/rhai-fake-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(n, sizeof n, "%d", concurrency);
    unsetenv("RHAID_CONFIG");
    memset(&err, 0, sizeof err);
    assert_int_equal(wk_config_load(&f->cfg, 7, argv, &err), 0);
    f->cfg.executor_path = FAKE_EXECUTOR;
    rh_log_level = RH_LOG_ERROR;        /* the failures below are on purpose */
    assert_int_equal(uv_loop_init(&f->loop), 0);
}

/* 'name' in the data dir (the executors' user can write there). */
static inline const char *fx_path(fx *f, const char *name)
{
    static char path[512];
    int n = snprintf(path, sizeof path, "%s/%s", f->dir, name);

    assert_true(n > 0 && (size_t)n < sizeof path);
    return path;
}

/* Run the loop until every handle is closed: then it must close. */
static inline void fx_close(fx *f)
{
    DIR *d;
    struct dirent *e;

    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    wk_config_free(&f->cfg);
    if ((d = opendir(f->dir)) != NULL) {
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                unlink(fx_path(f, e->d_name));
        closedir(d);
    }
    rmdir(f->dir);
}

/* Run the loop one iteration at a time until 'cond' holds; fail if the
 * loop runs out of work first (ctest's TIMEOUT ends a loop that never
 * gets there). */
#define FX_RUN_UNTIL(f, cond)                                               \
    do {                                                                    \
        while (!(cond))                                                     \
            if (uv_run(&(f)->loop, UV_RUN_ONCE) == 0 && !(cond))            \
                fail_msg("loop ran out of work before: %s", #cond);         \
    } while (0)

/* ---- a worker without Redis (test_daemon_worker.c, test_daemon_take.c) ----
 * Its connections stay down: takes are never sent, and a finish waits
 * in FINISHING for a connection, where a test can read its result. */
typedef struct wfx {
    fx        f;
    wk_worker w;
    int       pool;             /* started */
    int       pool_closed;
} wfx;

static inline void wfx_open(wfx *x, int concurrency)
{
    memset(x, 0, sizeof *x);
    fx_open(&x->f, concurrency);
    x->f.cfg.instance = rh_strdup("unit-1-abcdef");
    assert_non_null(x->f.cfg.instance);
    x->w.loop = &x->f.loop;
    x->w.cfg = &x->f.cfg;
    rh_key_reply_base(x->w.reply_prefix, x->f.cfg.prefix, x->f.cfg.worker_id);
    assert_int_equal(uv_timer_init(&x->f.loop, &x->w.later), 0);
    assert_int_equal(uv_timer_init(&x->f.loop, &x->w.start_timer), 0);
}

/* Start the pool of fake executors, wired as instance.c wires it. */
static inline void wfx_start_pool(wfx *x)
{
    rhai_error err;

    assert_int_equal(wk_pool_init(&x->w.pool, &x->f.loop, &x->f.cfg, wk_on_run, &x->w, &err),
                     0);
    x->w.pool.ready_cb = wk_on_pool_ready;
    x->w.pool.back_cb = wk_on_pool_back;
    x->w.pool.start_cb = wk_on_pool_start;
    x->pool = 1;
}

/* A job as a claim leaves it: its task read, READY to run 'script'. */
static inline wk_job *wfx_job(wfx *x, const char *id, const char *script)
{
    wk_job *j = wk_job_new(&x->w, id, strlen(id));

    assert_non_null(j);
    j->task.id = rh_strdup(id);
    j->task.script = rh_strdup(script);
    j->task.script_len = strlen(script);
    j->task.status = RHAI_STATUS_CLAIMED;
    j->state = WK_JOB_READY;
    return j;
}

static inline void wfx_pool_closed(wk_pool *p)
{
    wfx *x = (wfx *)(void *)((char *)p - offsetof(wfx, w) - offsetof(wk_worker, pool));
    x->pool_closed++;
}

/* No job left without an end: every job still held is FINISHING (its
 * result recorded, its finish waiting for Redis). Then free them, close
 * the pool and the loop. */
static inline void wfx_close(wfx *x)
{
    for (wk_job *j = x->w.jobs; j; j = j->next) {
        assert_int_equal(j->state, WK_JOB_FINISHING);
        assert_non_null(j->reply);
        assert_non_null(j->event);
    }
    while (x->w.jobs)
        wk_job_free(x->w.jobs);
    assert_int_equal(x->w.njobs, 0);
    x->w.stopping = 1;
    uv_close((uv_handle_t *)&x->w.later, NULL);
    uv_close((uv_handle_t *)&x->w.start_timer, NULL);
    if (x->pool) {
        wk_pool_close(&x->w.pool, wfx_pool_closed);
        FX_RUN_UNTIL(&x->f, x->pool_closed == 1);
    }
    fx_close(&x->f);
}

#endif
