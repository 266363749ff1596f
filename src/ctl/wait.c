/* wait.c -- waiting for a submitted task while someone serves its queue.
 *
 * `submit` and `task retry --wait` share this: before they queue a task
 * they ask whether a live instance serves its worker id (a heartbeat key
 * that is not draining), and while they wait they ask again every few
 * seconds, so that "nobody serves W" is said at once instead of after the
 * task's timeout. --wait-for-worker turns both checks off. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* How often a wait without a deadline checks the instances again. */
#define CTL_WAIT_CHECK_MS 2000
/* How long past the task's own timeout a wait goes on: the worker needs a
 * moment to kill the script, write the result and push the reply. */
#define CTL_WAIT_MARGIN_MS 5000

int ctl_worker_live(ctl_redis *r, const char *w, int *live, int *draining)
{
    ctl_instance *v = NULL;
    size_t n = 0;
    int code, dummy;

    if (draining == NULL)
        draining = &dummy;
    *live = *draining = 0;
    if ((code = ctl_instances_load_of(r, w, &v, &n)) != 0)
        return code;
    for (size_t i = 0; i < n; i++)
        if (v[i].live && strcmp(v[i].worker_id, w) == 0)
            (*(v[i].draining ? draining : live))++;
    rh_free(v);
    return 0;
}

int ctl_worker_check(const ctl_global *g, const char *cmd, const char *w)
{
    ctl_redis r;
    int code, live = 0, draining = 0;

    if ((code = ctl_redis_open(g, cmd, &r)) != 0)
        return code;
    code = ctl_worker_live(&r, w, &live, &draining);
    ctl_redis_close(&r);
    if (code != 0)
        return code;
    if (live == 0 && draining > 0) {
        ctl_errorf(cmd, "no live instance for %s: %d draining (stopping: they take no new "
                   "task); nothing was queued (give --wait-for-worker to queue it and wait "
                   "for the next instance)", w, draining);
        return CTL_EXIT_NOWORKER;
    }
    if (live == 0) {
        ctl_errorf(cmd, "no live instance for %s: nothing was queued (start a rhaid with "
                   "--worker-id %s, or give --wait-for-worker to queue it and wait)", w, w);
        return CTL_EXIT_NOWORKER;
    }
    return 0;
}

int ctl_wait_task(const ctl_global *g, const char *cmd, rhai_client *c, const char *id,
                  const char *w, long long timeout_ms, int wait_for_worker,
                  rhai_result **out)
{
    rhai_error err = { 0, "" };
    int64_t deadline = timeout_ms > 0 ? rh_mono_ms() + timeout_ms + CTL_WAIT_MARGIN_MS : 0;
    ctl_redis r;
    int rc, code, live, draining, opened = 0;

    *out = NULL;
    if (w)
        rhai_client_remember(c, id, w);
    else if ((code = ctl_client_learn(g, cmd, c, id)) != 0)
        return code;
    for (;;) {
        int64_t slice = CTL_WAIT_CHECK_MS;

        if (deadline > 0 && deadline - rh_mono_ms() < slice)
            slice = deadline - rh_mono_ms();
        rc = rhai_wait(c, id, slice > 1 ? slice : 1, out, &err);
        if (rc == 0)
            break;
        if (rc != RHAI_ETIMEOUT) {
            code = ctl_report_rc(rc, &err);
            goto out;
        }
        if (deadline > 0 && rh_mono_ms() >= deadline) {
            ctl_errorf(cmd, "no result for task %s within %lld ms: is a rhaid worker "
                       "serving '%s' running? (rhaictl task show %s)", id,
                       timeout_ms + CTL_WAIT_MARGIN_MS, w, id);
            code = CTL_EXIT_TIMEOUT;
            goto out;
        }
        if (wait_for_worker)
            continue;
        if (!opened) {
            if ((code = ctl_redis_open(g, cmd, &r)) != 0)
                goto out;
            opened = 1;
        }
        /* a draining instance still finishes the task it holds: ours,
         * perhaps; it is gone once its grace is over */
        if ((code = ctl_worker_live(&r, w, &live, &draining)) != 0)
            goto out;
        if (live + draining == 0) {
            ctl_errorf(cmd, "no live instance for %s any more; task %s is not finished "
                       "(rhaictl task show %s)", w, id, id);
            code = CTL_EXIT_NOWORKER;
            goto out;
        }
    }
    code = 0;
out:
    if (opened)
        ctl_redis_close(&r);
    return code;
}
