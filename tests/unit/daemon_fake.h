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
static void fx_open(fx *f, int concurrency)
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
static const char *fx_path(fx *f, const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    return path;
}

/* Run the loop until every handle is closed: then it must close. */
static void fx_close(fx *f)
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

#endif
