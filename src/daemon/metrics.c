/* metrics.c -- Prometheus text exposition on /metrics and /healthz.
 *
 * libmicrohttpd serves HTTP on its own thread; the loop thread records into
 * a struct guarded by a mutex and the HTTP thread renders a snapshot, so no
 * handler ever touches loop state. Off unless metrics_listen is set. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "daemon.h"
#include "rhai/version.h"

/* Upper bounds of the duration histogram, seconds. */
static const double buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
#define NSTATUS (RHAI_STATUS_CANCELLED + 1)
#define NKIND (RH_EK_INTERNAL + 1)

struct wk_metrics {
    struct MHD_Daemon *mhd;
    uv_mutex_t lock;
    uint64_t   tasks[NSTATUS][NKIND];
    uint64_t   hist[NBUCKETS + 1];    /* last: +Inf */
    double     sum_s;
    uint64_t   count;
    int        busy, executors, redis_up;
    long       queue_depth;
    uint64_t   restarts, reconnects;
    uint64_t   claims[2];             /* by id, with the take */
    uint64_t   calls[2], ids[2];      /* take, finish: Redis calls, tasks in them */
    char       worker[RH_NAME_MAX + 1];
    char       instance[RH_NAME_MAX + 1];
};

static void render(wk_metrics *m, rh_buf *b)
{
    uint64_t cum = 0;

    uv_mutex_lock(&m->lock);
    rh_buf_appendf(b, "# HELP rhai_tasks_total Tasks answered by this instance.\n"
                      "# TYPE rhai_tasks_total counter\n");
    for (int s = RHAI_STATUS_DONE; s < NSTATUS; s++)
        for (int k = 0; k < NKIND; k++)
            if (m->tasks[s][k] || (s == RHAI_STATUS_DONE && k == RH_EK_NONE))
                rh_buf_appendf(b, "rhai_tasks_total{status=\"%s\",error_kind=\"%s\"} %llu\n",
                               rh_status_str((rhai_status)s), rh_kind_str((rh_error_kind)k),
                               (unsigned long long)m->tasks[s][k]);
    rh_buf_appendf(b, "# HELP rhai_task_duration_seconds Run time, start to finish.\n"
                      "# TYPE rhai_task_duration_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->hist[i];
        rh_buf_appendf(b, "rhai_task_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                       (unsigned long long)cum);
    }
    cum += m->hist[NBUCKETS];
    rh_buf_appendf(b, "rhai_task_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "rhai_task_duration_seconds_sum %.6f\n"
                      "rhai_task_duration_seconds_count %llu\n",
                   (unsigned long long)cum, m->sum_s, (unsigned long long)m->count);
    rh_buf_appendf(b,
        "# HELP rhai_queue_depth Tasks waiting in this worker id's queue.\n"
        "# TYPE rhai_queue_depth gauge\nrhai_queue_depth %ld\n"
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
        "# HELP rhai_build_info Version and identity of this instance.\n"
        "# TYPE rhai_build_info gauge\n"
        "rhai_build_info{version=\"%s\",worker_id=\"%s\",instance=\"%s\"} 1\n",
        m->queue_depth, m->busy, m->executors, (unsigned long long)m->restarts,
        (unsigned long long)m->reconnects, (unsigned long long)m->claims[1],
        (unsigned long long)m->claims[0], (unsigned long long)m->calls[0],
        (unsigned long long)m->calls[1], (unsigned long long)m->ids[0],
        (unsigned long long)m->ids[1], m->redis_up, RHAI_VERSION_STRING, m->worker,
        m->instance);
    uv_mutex_unlock(&m->lock);
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
    if (strcmp(method, "GET") != 0) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        rh_buf_appendf(&b, "GET only\n");
    } else if (strcmp(url, "/metrics") == 0) {
        render(m, &b);
    } else if (strcmp(url, "/healthz") == 0) {
        int up;
        uv_mutex_lock(&m->lock);
        up = m->redis_up;
        uv_mutex_unlock(&m->lock);
        code = up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        rh_buf_appendf(&b, up ? "ok\n" : "redis unreachable\n");
    } else {
        code = MHD_HTTP_NOT_FOUND;
        rh_buf_appendf(&b, "not found: try /metrics or /healthz\n");
    }
    resp = MHD_create_response_from_buffer(b.len, b.data ? b.data : "", MHD_RESPMEM_MUST_COPY);
    rh_buf_free(&b);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            code == MHD_HTTP_OK && strcmp(url, "/metrics") == 0
                                ? "text/plain; version=0.0.4" : "text/plain");
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
                     const char *instance, rhai_error *err)
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
    size_t i = 0;
    double s = (double)ms / 1000.0;
    if (m == NULL)
        return;
    while (i < NBUCKETS && s > buckets[i])
        i++;
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
    uv_mutex_unlock(&m->lock);
}
