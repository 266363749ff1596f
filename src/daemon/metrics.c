/* metrics.c -- Prometheus text exposition on /metrics, liveness on
 * /healthz and readiness on /readyz.
 *
 * libmicrohttpd serves HTTP on its own thread; the loop thread records into
 * a struct guarded by a mutex and the HTTP thread renders a snapshot, so no
 * handler ever touches loop state. process_* series are read from
 * /proc/self at scrape time. Off unless metrics_listen is set. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "daemon.h"
#include "rhai/version.h"

/* Upper bounds of the duration histogram, seconds. */
static const double buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
/* Upper bounds of the queue wait histogram (created to started), seconds. */
static const double wait_buckets[] = { 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
                                       900, 3600 };
#define NWAIT (sizeof wait_buckets / sizeof wait_buckets[0])
#define NSTATUS (RHAI_STATUS_CANCELLED + 1)
#define NKIND (RH_EK_INTERNAL + 1)

/* Every (status, error_kind) an instance answers with, exported from the
 * start at 0 so that rate() and alerts see a series before its first
 * occurrence. Any other pair appears once counted. */
static const struct { rhai_status st; rh_error_kind kind; } known_pairs[] = {
    { RHAI_STATUS_DONE, RH_EK_NONE },         { RHAI_STATUS_ERROR, RH_EK_SCRIPT },
    { RHAI_STATUS_ERROR, RH_EK_MEMORY },      { RHAI_STATUS_ERROR, RH_EK_DENIED },
    { RHAI_STATUS_ERROR, RH_EK_CRASHED },     { RHAI_STATUS_ERROR, RH_EK_INVALID },
    { RHAI_STATUS_ERROR, RH_EK_INTERNAL },    { RHAI_STATUS_TIMEOUT, RH_EK_TIMEOUT },
    { RHAI_STATUS_CANCELLED, RH_EK_CANCELLED },
};

struct wk_metrics {
    struct MHD_Daemon *mhd;
    uv_mutex_t lock;
    uint64_t   tasks[NSTATUS][NKIND];
    uint64_t   hist[NBUCKETS + 1];    /* last: +Inf */
    double     sum_s;
    uint64_t   count;
    int        busy, executors, redis_up;
    int        store_up;              /* 1 up, 0 down, -1 not probed yet */
    char       backend[16];           /* "sqlite", "postgres" */
    long       queue_depth;
    uint64_t   restarts, reconnects;
    uint64_t   wait_hist[NWAIT + 1];  /* queue wait; last: +Inf */
    double     wait_sum_s;
    uint64_t   wait_count;
    double     oldest_age_s;          /* of the task next in the queue, 0: empty */
    int        draining;
    int        paused;                /* the worker id is paused (rhaictl queue pause) */
    long long  dead_last;             /* dead instances found by the last scan */
    uint64_t   dead_total;            /* ... by every scan of this instance */
    uint64_t   recovered[2];          /* their tasks: requeued, failed crashed */
    uint64_t   tick_at;               /* uv_hrtime() ms of the loop's last tick */
    uint64_t   stall_ms;              /* /healthz: 503 past this without a tick */
    uint64_t   claims[2];             /* by id, with the take */
    uint64_t   calls[2], ids[2];      /* take, finish: Redis calls, tasks in them */
    char       worker[RH_NAME_MAX + 1];
    char       instance[RH_NAME_MAX + 1];
};

/* "store=up backend=sqlite" (or down, or unknown before the first probe). */
static void store_line(wk_metrics *m, rh_buf *b)
{
    int up;
    char backend[sizeof m->backend];

    uv_mutex_lock(&m->lock);
    up = m->store_up;
    memcpy(backend, m->backend, sizeof backend);
    uv_mutex_unlock(&m->lock);
    rh_buf_appendf(b, "store=%s backend=%s\n", up > 0 ? "up" : up == 0 ? "down" : "unknown",
                   backend[0] ? backend : "?");
}

static int pair_known(int st, int kind)
{
    for (size_t i = 0; i < sizeof known_pairs / sizeof known_pairs[0]; i++)
        if ((int)known_pairs[i].st == st && (int)known_pairs[i].kind == kind)
            return 1;
    return 0;
}

/* process_* of the standard Prometheus client libraries, from /proc/self
 * (Linux); a series whose source cannot be read is left out. */
static void render_process(rh_buf *b)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char buf[1024];
    FILE *f;
    DIR *d;
    struct rlimit rl;

    if ((f = fopen("/proc/self/stat", "r")) != NULL) {
        unsigned long utime = 0, stime = 0, vsize = 0;
        unsigned long long start = 0;
        long rss = 0;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        char *p;
        fclose(f);
        buf[n] = '\0';
        /* fields after the command, whose ')' is the last in the line:
         * 3 state ... 14 utime 15 stime ... 22 starttime 23 vsize 24 rss */
        p = strrchr(buf, ')');
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
                        "%*d %*d %*d %*d %*d %*d %llu %lu %ld", &utime, &stime, &start,
                        &vsize, &rss) == 5 && tick > 0) {
            double boot = 0;
            FILE *s = fopen("/proc/stat", "r");
            while (s && fgets(buf, sizeof buf, s))
                if (strncmp(buf, "btime ", 6) == 0)
                    boot = atof(buf + 6);
            if (s)
                fclose(s);
            rh_buf_appendf(b,
                "# HELP process_cpu_seconds_total User and system CPU time of rhaid "
                "(not its executors), seconds.\n"
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                "# HELP process_resident_memory_bytes Resident memory of rhaid, bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\n"
                "process_resident_memory_bytes %lld\n"
                "# HELP process_virtual_memory_bytes Virtual memory of rhaid, bytes.\n"
                "# TYPE process_virtual_memory_bytes gauge\n"
                "process_virtual_memory_bytes %lu\n",
                (double)(utime + stime) / (double)tick, (long long)rss * page, vsize);
            if (boot > 0)
                rh_buf_appendf(b,
                    "# HELP process_start_time_seconds Start time of rhaid, unix seconds.\n"
                    "# TYPE process_start_time_seconds gauge\n"
                    "process_start_time_seconds %.2f\n", boot + (double)start / (double)tick);
        }
    }
    if ((d = opendir("/proc/self/fd")) != NULL) {
        long n = 0;
        while (readdir(d) != NULL)
            n++;
        closedir(d);
        rh_buf_appendf(b, "# HELP process_open_fds Open file descriptors of rhaid.\n"
                          "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                       n > 3 ? n - 3 : 0);   /* ., .. and the dir's own fd */
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        rh_buf_appendf(b, "# HELP process_max_fds Limit of open file descriptors.\n"
                          "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                       (unsigned long long)rl.rlim_cur);
}

/* The bucket of an observation of s seconds in a histogram whose n upper
 * bounds are le (ascending): n is +Inf. */
static size_t hist_bucket(const double *le, size_t n, double s)
{
    size_t i = 0;

    while (i < n && s > le[i])
        i++;
    return i;
}

/* The _bucket (cumulative, then +Inf), _sum and _count samples of the
 * histogram 'name' from its n + 1 bucket counts. */
static void hist_render(rh_buf *b, const char *name, const double *le, size_t n,
                        const uint64_t *counts, double sum, uint64_t count)
{
    uint64_t cum = 0;

    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        rh_buf_appendf(b, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)cum);
    }
    cum += counts[n];
    rh_buf_appendf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                   (unsigned long long)cum, name, sum, name, (unsigned long long)count);
}

static void render(wk_metrics *m, rh_buf *b)
{
    uv_mutex_lock(&m->lock);
    rh_buf_appendf(b, "# HELP rhai_tasks_total Tasks answered by this instance.\n"
                      "# TYPE rhai_tasks_total counter\n");
    for (int s = RHAI_STATUS_DONE; s < NSTATUS; s++)
        for (int k = 0; k < NKIND; k++)
            if (m->tasks[s][k] || pair_known(s, k))
                rh_buf_appendf(b, "rhai_tasks_total{status=\"%s\",error_kind=\"%s\"} %llu\n",
                               rh_status_str((rhai_status)s), rh_kind_str((rh_error_kind)k),
                               (unsigned long long)m->tasks[s][k]);
    rh_buf_appendf(b, "# HELP rhai_task_duration_seconds Run time, start to finish.\n"
                      "# TYPE rhai_task_duration_seconds histogram\n");
    hist_render(b, "rhai_task_duration_seconds", buckets, NBUCKETS, m->hist, m->sum_s, m->count);
    rh_buf_appendf(b, "# HELP rhai_queue_wait_seconds Time tasks waited, created to "
                      "started on an executor.\n"
                      "# TYPE rhai_queue_wait_seconds histogram\n");
    hist_render(b, "rhai_queue_wait_seconds", wait_buckets, NWAIT, m->wait_hist, m->wait_sum_s,
                m->wait_count);
    rh_buf_appendf(b,
        "# HELP rhai_queue_oldest_age_seconds Age of the task next in the queue "
        "(created_at to now), 0 when it is empty.\n"
        "# TYPE rhai_queue_oldest_age_seconds gauge\n"
        "rhai_queue_oldest_age_seconds{worker_id=\"%s\"} %.3f\n"
        "# HELP rhai_instances_dead Instances without a heartbeat found by this instance's "
        "last scan (their tasks then recovered).\n"
        "# TYPE rhai_instances_dead gauge\nrhai_instances_dead %lld\n"
        "# HELP rhai_instances_dead_total Dead instances found and recovered by this "
        "instance.\n"
        "# TYPE rhai_instances_dead_total counter\nrhai_instances_dead_total %llu\n"
        "# HELP rhai_recovered_tasks_total Tasks of dead instances put back in their "
        "queue (requeued) or answered crashed after max_attempts (failed).\n"
        "# TYPE rhai_recovered_tasks_total counter\n"
        "rhai_recovered_tasks_total{outcome=\"requeued\"} %llu\n"
        "rhai_recovered_tasks_total{outcome=\"failed\"} %llu\n"
        "# HELP rhai_draining 1 while this instance drains (SIGTERM): /readyz is 503.\n"
        "# TYPE rhai_draining gauge\nrhai_draining %d\n"
        "# HELP rhai_queue_paused 1 while this worker id is paused (rhaictl queue "
        "pause): nothing new is taken.\n"
        "# TYPE rhai_queue_paused gauge\nrhai_queue_paused{worker_id=\"%s\"} %d\n",
        m->worker, m->oldest_age_s, m->dead_last, (unsigned long long)m->dead_total,
        (unsigned long long)m->recovered[0], (unsigned long long)m->recovered[1],
        m->draining, m->worker, m->paused);
    rh_buf_appendf(b,
        "# HELP rhai_queue_depth Tasks waiting in this worker id's queue.\n"
        "# TYPE rhai_queue_depth gauge\nrhai_queue_depth{worker_id=\"%s\"} %ld\n"
        "# HELP rhai_executors_busy Executors running a task.\n"
        "# TYPE rhai_executors_busy gauge\nrhai_executors_busy %d\n"
        "# HELP rhai_executors Executor slots.\n"
        "# TYPE rhai_executors gauge\nrhai_executors %d\n"
        "# HELP rhai_executor_restarts_total Executors replaced (crash, timeout, recycle).\n"
        "# TYPE rhai_executor_restarts_total counter\nrhai_executor_restarts_total %llu\n"
        "# HELP rhai_redis_reconnects_total Reconnect attempts to Redis.\n"
        "# TYPE rhai_redis_reconnects_total counter\nrhai_redis_reconnects_total %llu\n"
        "# HELP rhai_claims_total Tasks claimed in the round trip of their take "
        "(with_take) or by a claim of their own (by_id: after a lost reply or a "
        "flushed script cache).\n"
        "# TYPE rhai_claims_total counter\n"
        "rhai_claims_total{path=\"with_take\"} %llu\nrhai_claims_total{path=\"by_id\"} %llu\n"
        "# HELP rhai_step_calls_total Redis calls that took ids (a BLMOVE or a batch "
        "take) or finished tasks (one script call for every finish ready at once).\n"
        "# TYPE rhai_step_calls_total counter\n"
        "rhai_step_calls_total{step=\"take\"} %llu\nrhai_step_calls_total{step=\"finish\"} %llu\n"
        "# HELP rhai_step_tasks_total Tasks those calls took or finished: divided by "
        "rhai_step_calls_total, the batch size.\n"
        "# TYPE rhai_step_tasks_total counter\n"
        "rhai_step_tasks_total{step=\"take\"} %llu\nrhai_step_tasks_total{step=\"finish\"} %llu\n"
        "# HELP rhai_redis_up 1 when both Redis connections are up.\n"
        "# TYPE rhai_redis_up gauge\nrhai_redis_up %d\n"
        "# HELP rhai_store_up 1 when the store answered its last probe (0 before the first).\n"
        "# TYPE rhai_store_up gauge\nrhai_store_up{backend=\"%s\"} %d\n"
        "# HELP rhai_build_info Version and identity of this instance.\n"
        "# TYPE rhai_build_info gauge\n"
        "rhai_build_info{version=\"%s\",worker_id=\"%s\",instance=\"%s\"} 1\n",
        m->worker, m->queue_depth, m->busy, m->executors, (unsigned long long)m->restarts,
        (unsigned long long)m->reconnects, (unsigned long long)m->claims[1],
        (unsigned long long)m->claims[0], (unsigned long long)m->calls[0],
        (unsigned long long)m->calls[1], (unsigned long long)m->ids[0],
        (unsigned long long)m->ids[1], m->redis_up, m->backend, m->store_up > 0,
        RHAI_VERSION_STRING, m->worker,
        m->instance);
    uv_mutex_unlock(&m->lock);
    render_process(b);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **ptr)
{
    wk_metrics *m = cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned code = MHD_HTTP_OK;
    rh_buf b;
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)ptr;

    rh_buf_init(&b);
    /* HEAD is GET without the body, which libmicrohttpd leaves out */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        rh_buf_appendf(&b, "GET or HEAD only\n");
    } else if (strcmp(url, "/metrics") == 0) {
        render(m, &b);
    } else if (strcmp(url, "/healthz") == 0) {
        /* Liveness: the loop still ticks (this thread is libmicrohttpd's,
         * so answering proves nothing by itself). Unchanged by a drain,
         * which must be let finish, and by a Redis outage, which a
         * restart would not cure: /readyz says those. */
        uint64_t age;
        uv_mutex_lock(&m->lock);
        age = uv_hrtime() / 1000000 - m->tick_at;
        uv_mutex_unlock(&m->lock);
        code = age <= m->stall_ms ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        if (code == MHD_HTTP_OK)
            rh_buf_appendf(&b, "ok\n");
        else
            rh_buf_appendf(&b, "event loop stalled: no tick for %llu ms\n",
                           (unsigned long long)age);
        /* The store's state is shown, not judged: a store outage is not
         * cured by a restart either (tasks wait for it, store_retry_ms). */
        store_line(m, &b);
    } else if (strcmp(url, "/readyz") == 0) {
        /* Readiness: taking tasks. Not while draining, nor without Redis. */
        int up, draining;
        uv_mutex_lock(&m->lock);
        up = m->redis_up;
        draining = m->draining;
        uv_mutex_unlock(&m->lock);
        code = up && !draining ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        rh_buf_appendf(&b, draining ? "draining\n" : up ? "ready\n" : "redis unreachable\n");
        store_line(m, &b);
    } else {
        code = MHD_HTTP_NOT_FOUND;
        rh_buf_appendf(&b, "not found: try /metrics, /healthz or /readyz\n");
    }
    resp = MHD_create_response_from_buffer(b.len, b.data ? b.data : "", MHD_RESPMEM_MUST_COPY);
    rh_buf_free(&b);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            code == MHD_HTTP_OK && strcmp(url, "/metrics") == 0
                                ? "text/plain; version=0.0.4" : "text/plain");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)        /* a 405 must say what is (RFC 9110) */
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* "127.0.0.1:9464" or "[::1]:9464" -> a loopback or any sockaddr. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, rhai_error *err)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    long port;
    char *end;

    memset(ss, 0, sizeof *ss);
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof host)
        return rh_error_set(err, RHAI_EINVAL, "metrics_listen '%s': want HOST:PORT", s);
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return rh_error_set(err, RHAI_EINVAL, "metrics_listen '%s': bad port", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[strlen(host) - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return rh_error_set(err, RHAI_EINVAL, "metrics_listen '%s': bad IPv6 address", s);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return rh_error_set(err, RHAI_EINVAL, "metrics_listen '%s': bad IPv4 address", s);
    }
    return 0;
}

int wk_metrics_start(wk_metrics **out, const char *listen, const char *worker,
                     const char *instance, uint64_t stall_ms, rhai_error *err)
{
    struct sockaddr_storage ss;
    wk_metrics *m;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    int rc;

    *out = NULL;
    if (listen == NULL || *listen == '\0')
        return 0;
    if ((rc = parse_listen(listen, &ss, err)) != 0)
        return rc;
    if ((m = rh_calloc(1, sizeof *m)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    uv_mutex_init(&m->lock);
    m->tick_at = uv_hrtime() / 1000000;         /* started: not stalled yet */
    m->stall_ms = stall_ms;
    m->store_up = -1;
    snprintf(m->worker, sizeof m->worker, "%s", worker);
    snprintf(m->instance, sizeof m->instance, "%s", instance);
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                              MHD_OPTION_END);
    if (m->mhd == NULL) {
        uv_mutex_destroy(&m->lock);
        rh_free(m);
        return rh_error_set(err, RHAI_EIO, "metrics_listen %s: cannot listen (in use?)", listen);
    }
    *out = m;
    return 0;
}

void wk_metrics_stop(wk_metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->mhd);
    uv_mutex_destroy(&m->lock);
    rh_free(m);
}

void wk_metrics_task(wk_metrics *m, rhai_status st, rh_error_kind kind, int64_t ms)
{
    double s = (double)ms / 1000.0;
    size_t i = hist_bucket(buckets, NBUCKETS, s);
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    if ((unsigned)st < NSTATUS && (unsigned)kind < NKIND)
        m->tasks[st][kind]++;
    m->hist[i]++;
    m->sum_s += s;
    m->count++;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_claim(wk_metrics *m, int with_take)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->claims[with_take ? 1 : 0]++;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_step(wk_metrics *m, int finish, unsigned tasks)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->calls[finish ? 1 : 0]++;
    m->ids[finish ? 1 : 0] += tasks;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_state(wk_metrics *m, int busy, int executors, long queue_depth, int redis_up,
                      uint64_t restarts, uint64_t reconnects)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->busy = busy;
    m->executors = executors;
    if (queue_depth >= 0)
        m->queue_depth = queue_depth;
    m->redis_up = redis_up;
    m->restarts = restarts;
    m->reconnects = reconnects;
    m->tick_at = uv_hrtime() / 1000000;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_wait(wk_metrics *m, int64_t ms)
{
    double s = (double)(ms < 0 ? 0 : ms) / 1000.0;
    size_t i = hist_bucket(wait_buckets, NWAIT, s);
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->wait_hist[i]++;
    m->wait_sum_s += s;
    m->wait_count++;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_oldest(wk_metrics *m, int64_t age_ms)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->oldest_age_s = (double)(age_ms < 0 ? 0 : age_ms) / 1000.0;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_recovery(wk_metrics *m, long long dead, long long requeued, long long failed)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->dead_last = dead;
    m->dead_total += (uint64_t)(dead > 0 ? dead : 0);
    m->recovered[0] += (uint64_t)(requeued > 0 ? requeued : 0);
    m->recovered[1] += (uint64_t)(failed > 0 ? failed : 0);
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_store(wk_metrics *m, int up, const char *backend)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->store_up = up;
    snprintf(m->backend, sizeof m->backend, "%s", backend);
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_ready(wk_metrics *m, int redis_up, int draining)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->redis_up = redis_up;
    m->draining = draining;
    uv_mutex_unlock(&m->lock);
}

void wk_metrics_paused(wk_metrics *m, int paused)
{
    if (m == NULL)
        return;
    uv_mutex_lock(&m->lock);
    m->paused = paused;
    uv_mutex_unlock(&m->lock);
}
