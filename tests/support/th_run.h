/* th_run.h -- test support, header only: run "N * 2" on a worker id with
 * the sync client and check that it ends done with 2N, by the worker id
 * asked. The cluster tests share it. Include after <cmocka.h>,
 * "harness.h" and "rhai/rhai.h". */
#ifndef TH_RUN_H
#define TH_RUN_H

#include <stdio.h>
#include <unistd.h>

/* A run that ends RHAI_ECONN (a submit written to a master that died
 * before answering: it may have run, the client does not resend it) is
 * tried again up to 'econn_retries' times, 250 ms apart. On failure the
 * last 'tail' lines of DIR/rhaid-WORKER.log go to stderr. */
static inline void th_run_double(rhai_client *cl, const char *worker, int n, int64_t wait_ms,
                                 int econn_retries, const char *dir, int tail)
{
    char script[64], want[32];
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    int rc, tries = 0;

    snprintf(script, sizeof script, "%d * 2", n);
    assert_int_equal(rhai_task_new(script, &t), 0);
    assert_int_equal(rhai_task_set_worker(t, worker), 0);
    assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
    while ((rc = rhai_run(cl, t, wait_ms, &res, &err)) == RHAI_ECONN && tries++ < econn_retries)
        usleep(250000);
    if (rc != 0) {
        th_sh("tail -%d %s/rhaid-%s.log >&2", tail, dir, worker);
        fail_msg("run %d on %s: %s (%s)", n, worker, rhai_err_name(rc), err.msg);
    }
    assert_string_equal(rhai_result_status_name(res), "done");
    snprintf(want, sizeof want, "%d", 2 * n);
    assert_string_equal(rhai_result_output(res), want);
    assert_string_equal(rhai_result_worker(res), worker);
    rhai_result_free(res);
    rhai_task_free(t);
}

#endif
