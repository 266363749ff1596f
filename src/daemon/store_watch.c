/* store_watch.c -- rhaid's own view of its store: the data id of a sqlite
 * data dir (the split guard compares it, instance.c), and the store's
 * health, probed (store_probe) every WK_STORE_PROBE_MS on libuv's thread
 * pool, never on the loop (a postgres probe may wait for a connect). Each
 * change is logged once (event=store_down / store_up, like Redis's
 * lines) and shown in /healthz, /readyz, /metrics and the instance hash.
 * rhaid runs on while the store is down: its tasks wait and retry within
 * store_retry_ms (worker.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "dsl/dsl.h"
#include "store/store.h"

/* ======================== data id ======================== */

int wk_data_id(const char *dir, char *id, size_t n, rhai_error *err)
{
    char path[4200], buf[64];
    ssize_t got;
    int fd, e;

    snprintf(path, sizeof path, "%s/%s", dir, WK_DATA_ID_FILE);
    for (int tries = 0; tries < 2; tries++) {
        if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
            got = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (got > 0) {
                buf[got] = '\0';
                buf[strcspn(buf, "\r\n")] = '\0';
                if (buf[0] && rh_name_valid(buf)) {
                    snprintf(id, n, "%s", buf);
                    return 0;
                }
            }
            /* empty (a creator between open and write) or damaged */
            if (tries == 0) {
                usleep(10000);
                continue;
            }
            return rh_error_set(err, RHAI_EIO, "%s holds no data id: remove it (a new id "
                                "is made at the next start)", path);
        }
        if (errno != ENOENT)
            return rh_error_set(err, RHAI_EIO, "%s: %s", path, strerror(errno));
        /* Made once, readable by all (it is no secret; the executor user
         * and rhaictl read it too), never replaced. */
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
            if (errno == EEXIST)
                continue;
            return rh_error_set(err, RHAI_EIO, "%s: %s", path, strerror(errno));
        }
        rh_id_generate(buf);
        if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) || write(fd, "\n", 1) != 1 ||
            fsync(fd) != 0) {
            e = errno;
            close(fd);
            unlink(path);
            return rh_error_set(err, RHAI_EIO, "%s: %s", path, strerror(e));
        }
        close(fd);
        snprintf(id, n, "%s", buf);
        return 0;
    }
    return rh_error_set(err, RHAI_EIO, "%s: cannot be read", path);
}

/* ======================== health ======================== */

static void probe_work(uv_work_t *req)
{
    wk_worker *w = req->data;

    memset(&w->probe_err, 0, sizeof w->probe_err);
    w->probe_rc = store_probe(w->st, &w->probe_err);
}

static void probe_after(uv_work_t *req, int status)
{
    wk_worker *w = req->data;
    int up = status == 0 && w->probe_rc == 0;

    w->probing = 0;
    if (status != 0)                      /* cancelled at stop */
        return;
    if (!up && w->store_up != 0)
        rh_log(RH_LOG_WARN, "event=store_down url=%s backend=%s reason=\"%s\"%s",
               store_where(w->st), store_backend_name(w->st), RH_LOG_Q(w->probe_err.msg),
               w->store_up < 0 ? " at start: rhaid runs on, its tasks wait and retry within "
                                 "store_retry_ms" : " tasks wait and retry within store_retry_ms");
    else if (up && w->store_up == 0)
        rh_log(RH_LOG_NOTICE, "event=store_up url=%s backend=%s the store answers again",
               store_where(w->st), store_backend_name(w->st));
    w->store_up = up;
    wk_metrics_store(w->metrics, up, store_backend_name(w->st));
}

int wk_store_open(wk_worker *w, rhai_error *err)
{
    int rc;

    w->store_up = -1;
    if ((rc = store_new(w->cfg->data_url, &dsl_schema, &w->st, err)) != 0)
        return rc;
    if (w->pool.postgres)
        return 0;
    return wk_data_id(w->pool.user.data_dir, w->data_id, sizeof w->data_id, err);
}

void wk_store_probe(wk_worker *w)
{
    int64_t now = rh_mono_ms();

    if (w->st == NULL || w->probing || w->stopping ||
        (w->probe_at && now - w->probe_at < WK_STORE_PROBE_MS))
        return;
    w->probe_at = now;
    w->probe_req.data = w;
    if (uv_queue_work(w->loop, &w->probe_req, probe_work, probe_after) == 0)
        w->probing = 1;
}

const char *wk_store_state(const wk_worker *w)
{
    return w->store_up > 0 ? "up" : w->store_up == 0 ? "down" : "unknown";
}

void wk_store_close(wk_worker *w)
{
    store_free(w->st);
    w->st = NULL;
}
