/* series.c -- the overview's charts: tasks done and failed, and run-time
 * percentiles, per 5 s over the last hour.
 *
 * A sampler thread wakes every WEB_SERIES_STEP_MS and reads the tasks
 * finished since its last step from the index rhaid keeps per worker id
 * (<prefix>:tasks:{W}, scored by finished_at) through rhaictl's
 * ctl_tasks_query, at most WEB_SERIES_READ per step: past that rate
 * (200 tasks/s) the counts are a floor. Each 5 s bucket (aligned to
 * multiples of 5 s of unix time) becomes one slot of a ring of
 * WEB_SERIES_SLOTS: its counts, and the p50 and p99 of started_at ->
 * finished_at of its tasks. At start the last hour is filled the same way
 * (the newest WEB_SERIES_READ tasks of it). The sampler takes web.mu
 * while it reads (rhai_ctl_core's error text is one static), on a Redis
 * connection of its own whose retry of a lost node or CLUSTERDOWN is
 * short (WEB_SERIES_RETRY_MS). */
#include <stdlib.h>
#include <string.h>

#include "web.h"

#define WEB_SERIES_READ 1000
#define WEB_SERIES_DUR 256               /* run times kept per bucket */
/* The sampler gives up on a lost node or CLUSTERDOWN after this rather
 * than the routers' 10 s: it holds web.mu meanwhile, and every request
 * would wait behind it while a shard is lost; it tries again next step. */
#define WEB_SERIES_RETRY_MS 200

typedef struct series_slot {
    int64_t t;                           /* bucket start, unix ms */
    long    done, failed;
    long    p50, p99;                    /* -1: no task */
} series_slot;

static series_slot series_ring[WEB_SERIES_SLOTS];
static size_t series_head, series_n;     /* oldest at head */
static int64_t series_end;               /* end of the last bucket recorded */
static pthread_t series_thread;
static pthread_cond_t series_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t series_mu = PTHREAD_MUTEX_INITIALIZER;   /* ring, stop */
static int series_stop, series_running;
static ctl_redis series_r;
static int series_r_open;

static int series_cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static long series_pct(long *v, size_t n, int pct)
{
    size_t i;

    if (n == 0)
        return -1;
    i = (n * (size_t)pct + 99) / 100;     /* nearest rank */
    return v[i > 0 ? i - 1 : 0];
}

static void series_push(const series_slot *s)
{
    pthread_mutex_lock(&series_mu);
    if (series_n < WEB_SERIES_SLOTS) {
        series_ring[(series_head + series_n) % WEB_SERIES_SLOTS] = *s;
        series_n++;
    } else {
        series_ring[series_head] = *s;
        series_head = (series_head + 1) % WEB_SERIES_SLOTS;
    }
    pthread_mutex_unlock(&series_mu);
}

/* Record the buckets in [series_end, until) from the index. */
static void series_sample(int64_t until)
{
    ctl_tasks_filter f;
    json_t *doc = NULL, *tasks, *t;
    size_t nb, i;
    int code;

    if (until <= series_end)
        return;
    nb = (size_t)((until - series_end) / WEB_SERIES_STEP_MS);
    memset(&f, 0, sizeof f);
    f.since = series_end;
    f.until = until;
    pthread_mutex_lock(&web.mu);
    if (!series_r_open) {
        code = ctl_redis_open_retry(&web.g, "web", WEB_SERIES_RETRY_MS, &series_r);
        series_r_open = code == 0;
        series_r.quiet = 1;
    } else if (!ctl_redis_up(&series_r)) {
        code = ctl_redis_reopen(&series_r);
    } else {
        code = 0;
    }
    if (code == 0)
        code = ctl_tasks_query(&series_r, NULL, &f, WEB_SERIES_READ, &doc);
    pthread_mutex_unlock(&web.mu);
    if (code != 0)
        return;                            /* Redis away: try again next step */
    tasks = json_object_get(doc, "tasks");
    for (size_t b = 0; b < nb; b++) {
        int64_t from = series_end + (int64_t)b * WEB_SERIES_STEP_MS;
        long dur[WEB_SERIES_DUR];
        size_t nd = 0;
        series_slot s = { from, 0, 0, -1, -1 };

        json_array_foreach(tasks, i, t) {
            int64_t fin = json_integer_value(json_object_get(t, "finished_at"));
            int64_t st = json_integer_value(json_object_get(t, "started_at"));
            const char *status = json_string_value(json_object_get(t, "status"));
            if (fin < from || fin >= from + WEB_SERIES_STEP_MS)
                continue;
            if (status && strcmp(status, "done") == 0)
                s.done++;
            else
                s.failed++;
            if (st > 0 && fin >= st && nd < WEB_SERIES_DUR)
                dur[nd++] = (long)(fin - st);
        }
        qsort(dur, nd, sizeof dur[0], series_cmp_long);
        s.p50 = series_pct(dur, nd, 50);
        s.p99 = series_pct(dur, nd, 99);
        series_push(&s);
    }
    series_end += (int64_t)nb * WEB_SERIES_STEP_MS;
    json_decref(doc);
}

static void *series_main(void *arg)
{
    (void)arg;
    for (;;) {
        int64_t now = rh_now_ms(), next = (now / WEB_SERIES_STEP_MS + 1) * WEB_SERIES_STEP_MS;
        struct timespec ts;
        int stop;

        series_sample(now / WEB_SERIES_STEP_MS * WEB_SERIES_STEP_MS);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (next - now) / 1000;
        ts.tv_nsec += (long)((next - now) % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&series_mu);
        if (!series_stop)
            pthread_cond_timedwait(&series_cond, &series_mu, &ts);
        stop = series_stop;
        pthread_mutex_unlock(&series_mu);
        if (stop)
            break;
    }
    return NULL;
}

int web_series_start(void)
{
    int64_t now = rh_now_ms();

    series_end = now / WEB_SERIES_STEP_MS * WEB_SERIES_STEP_MS -
                 (int64_t)WEB_SERIES_SLOTS * WEB_SERIES_STEP_MS;
    if (pthread_create(&series_thread, NULL, series_main, NULL) != 0) {
        rh_log(RH_LOG_WARN, "event=series_off the overview charts stay empty: no thread");
        return -1;
    }
    series_running = 1;
    return 0;
}

void web_series_stop(void)
{
    if (!series_running)
        return;
    pthread_mutex_lock(&series_mu);
    series_stop = 1;
    pthread_cond_signal(&series_cond);
    pthread_mutex_unlock(&series_mu);
    pthread_join(series_thread, NULL);
    series_running = 0;
    if (series_r_open)
        ctl_redis_close(&series_r);
    series_r_open = 0;
}

json_t *web_series_json(void)
{
    json_t *t = json_array(), *done = json_array(), *failed = json_array();
    json_t *p50 = json_array(), *p99 = json_array();

    pthread_mutex_lock(&series_mu);
    for (size_t i = 0; i < series_n; i++) {
        const series_slot *s = &series_ring[(series_head + i) % WEB_SERIES_SLOTS];
        json_array_append_new(t, json_integer(s->t));
        json_array_append_new(done, json_integer(s->done));
        json_array_append_new(failed, json_integer(s->failed));
        json_array_append_new(p50, s->p50 >= 0 ? json_integer(s->p50) : json_null());
        json_array_append_new(p99, s->p99 >= 0 ? json_integer(s->p99) : json_null());
    }
    pthread_mutex_unlock(&series_mu);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:i}", "t", t, "done", done, "failed", failed,
                     "p50_ms", p50, "p99_ms", p99, "step_ms", WEB_SERIES_STEP_MS);
}
