/* bench.c -- rhai_bench: figures of the spine on this machine, one line
 * per figure ("name value unit"), against a Redis and a running rhaid.
 *
 *   rhai_bench URL WORKER [TASKS] [INFLIGHT]
 *
 * (e) floor: Redis PING round trip; (b) submit+wait latency of a trivial
 * task, sequential and with 16 concurrent clients (a thread and a
 * connection each, 200 tasks each); (a) throughput of TASKS trivial tasks (40+2) submitted by
 * the async client with up to INFLIGHT in flight. Bounded: every wait has
 * a deadline, so a missing worker ends the run with an error.
 *
 *   rhai_bench URL WORKER_A --seq-ab WORKER_B [N]
 *
 * Sequential round trips alternated between two workers (two rhaid
 * builds, say), N each: both see the same moments of a machine whose
 * speed drifts, which separate runs do not (tools/bench-ab.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <hiredis/hiredis.h>

#include "rhai/rhai.h"
#include "common/common.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(int64_t *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return (double)v[(int)(p * (n - 1))];
}

static int bench_ping(const rh_url *u, int n)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
                                 : redisConnectWithTimeout(u->host, u->port, tv);
    int64_t *lat = malloc(sizeof *lat * (size_t)n);
    if (c == NULL || c->err || lat == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        int64_t t0 = rh_mono_us();
        redisReply *r = redisCommand(c, "PING");
        lat[i] = rh_mono_us() - t0;
        if (r == NULL)
            return -1;
        freeReplyObject(r);
    }
    printf("redis_ping_p50 %.0f us\n", pct(lat, n, 0.5));
    printf("redis_ping_p99 %.0f us\n", pct(lat, n, 0.99));
    free(lat);
    redisFree(c);
    return 0;
}

/* (b) with 16 concurrent clients: each thread has its own connection
 * and runs 'per' tasks one after the other; latencies pooled. */
#define CONC_CLIENTS 16

typedef struct conc_arg {
    const char *url;
    const char *worker;
    int         per;
    int64_t    *lat;        /* per entries */
    int         failed;
} conc_arg;

static void *conc_thread(void *p)
{
    conc_arg *a = p;
    rhai_client *c;
    rhai_task *t;
    rhai_error err;

    if (rhai_client_connect(a->url, NULL, &c, &err) != 0) {
        a->failed = 1;
        return NULL;
    }
    if (rhai_task_new("40+2", &t) != 0 || rhai_task_set_worker(t, a->worker) != 0) {
        rhai_client_free(c);
        a->failed = 1;
        return NULL;
    }
    for (int i = 0; i < a->per; i++) {
        rhai_result *r;
        int64_t t0 = rh_mono_us();
        if (rhai_run(c, t, 10000, &r, &err) != 0) {
            fprintf(stderr, "bench: concurrent run: %s\n", err.msg);
            a->failed = 1;
            break;
        }
        a->lat[i] = rh_mono_us() - t0;
        rhai_result_free(r);
    }
    rhai_task_free(t);
    rhai_client_free(c);
    return NULL;
}

static int bench_concurrent(const char *url, const char *worker, int per)
{
    pthread_t th[CONC_CLIENTS];
    conc_arg a[CONC_CLIENTS];
    int n = CONC_CLIENTS * per, failed = 0;
    int64_t *lat = malloc(sizeof *lat * (size_t)n);

    if (lat == NULL)
        return -1;
    for (int i = 0; i < CONC_CLIENTS; i++) {
        a[i] = (conc_arg){ url, worker, per, lat + (size_t)i * (size_t)per, 0 };
        if (pthread_create(&th[i], NULL, conc_thread, &a[i]) != 0)
            return -1;
    }
    for (int i = 0; i < CONC_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        failed |= a[i].failed;
    }
    if (!failed) {
        printf("conc16_roundtrip_p50 %.0f us\n", pct(lat, n, 0.5));
        printf("conc16_roundtrip_p90 %.0f us\n", pct(lat, n, 0.9));
        printf("conc16_roundtrip_p99 %.0f us\n", pct(lat, n, 0.99));
    }
    free(lat);
    return failed ? -1 : 0;
}

static int bench_sequential(const char *url, const char *worker, int n)
{
    rhai_client *c;
    rhai_task *t;
    rhai_error err;
    int64_t *lat = malloc(sizeof *lat * (size_t)n);

    if (lat == NULL || rhai_client_connect(url, NULL, &c, &err) != 0 ||
        rhai_task_new("40+2", &t) != 0 || rhai_task_set_worker(t, worker) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        rhai_result *r;
        int64_t t0 = rh_mono_us();
        if (rhai_run(c, t, 5000, &r, &err) != 0) {
            fprintf(stderr, "bench: run: %s\n", err.msg);
            return -1;
        }
        lat[i] = rh_mono_us() - t0;
        rhai_result_free(r);
    }
    printf("seq_roundtrip_p50 %.0f us\n", pct(lat, n, 0.5));
    printf("seq_roundtrip_p90 %.0f us\n", pct(lat, n, 0.9));
    printf("seq_roundtrip_p99 %.0f us\n", pct(lat, n, 0.99));
    rhai_task_free(t);
    rhai_client_free(c);
    free(lat);
    return 0;
}

/* Alternate sequential round trips between workers a and b. */
static int bench_seq_ab(const char *url, const char *a, const char *b, int n)
{
    rhai_client *c;
    rhai_task *t[2];
    rhai_error err;
    int64_t *lat[2];
    const char *name[2] = { "a", "b" };

    lat[0] = malloc(sizeof *lat[0] * (size_t)n);
    lat[1] = malloc(sizeof *lat[1] * (size_t)n);
    if (lat[0] == NULL || lat[1] == NULL || rhai_client_connect(url, NULL, &c, &err) != 0 ||
        rhai_task_new("40+2", &t[0]) != 0 || rhai_task_set_worker(t[0], a) != 0 ||
        rhai_task_new("40+2", &t[1]) != 0 || rhai_task_set_worker(t[1], b) != 0)
        return -1;
    for (int i = 0; i < 2 * n; i++) {
        rhai_result *r;
        int k = i & 1;
        int64_t t0 = rh_mono_us();
        if (rhai_run(c, t[k], 5000, &r, &err) != 0) {
            fprintf(stderr, "bench: run on %s: %s\n", k ? b : a, err.msg);
            return -1;
        }
        lat[k][i / 2] = rh_mono_us() - t0;
        rhai_result_free(r);
    }
    for (int k = 0; k < 2; k++) {
        printf("seq_roundtrip_p50_%s %.0f us\n", name[k], pct(lat[k], n, 0.5));
        printf("seq_roundtrip_p90_%s %.0f us\n", name[k], pct(lat[k], n, 0.9));
        rhai_task_free(t[k]);
        free(lat[k]);
    }
    rhai_client_free(c);
    return 0;
}

typedef struct tp {
    rhai_async *a;
    rhai_task  *t;
    int         total, submitted, completed, failed, inflight;
} tp;

static void tp_done(rhai_async *a, int status, const rhai_result *res, void *data);

static void tp_fill(tp *s)
{
    while (s->submitted < s->total && s->submitted - s->completed < s->inflight) {
        if (rhai_async_submit(s->a, s->t, 30000, tp_done, s, NULL) != 0) {
            s->failed++;
            s->completed++;
        }
        s->submitted++;
    }
}

static void tp_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    tp *s = data;
    (void)a;
    s->completed++;
    if (status != 0 || rhai_result_status(res) != RHAI_STATUS_DONE)
        s->failed++;
    tp_fill(s);
}

static int bench_throughput(const char *url, const char *worker, int n, int inflight)
{
    uv_loop_t loop;
    tp s;
    int64_t t0;
    double secs;

    memset(&s, 0, sizeof s);
    s.total = n;
    s.inflight = inflight;
    uv_loop_init(&loop);
    if (rhai_async_new(&loop, url, NULL, &s.a, NULL) != 0 || rhai_task_new("40+2", &s.t) != 0 ||
        rhai_task_set_worker(s.t, worker) != 0)
        return -1;
    t0 = rh_mono_us();
    tp_fill(&s);
    while (s.completed < s.total && uv_run(&loop, UV_RUN_ONCE))
        ;
    secs = (double)(rh_mono_us() - t0) / 1e6;
    printf("throughput_trivial %.0f tasks/s\n", s.total / secs);
    printf("throughput_tasks %d tasks\n", s.total);
    printf("throughput_failed %d tasks\n", s.failed);
    rhai_async_close(s.a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rhai_task_free(s.t);
    return s.failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    rh_url u;
    int n = argc > 3 ? atoi(argv[3]) : 20000;
    int inflight = argc > 4 ? atoi(argv[4]) : 256;

    if (argc < 3 || rh_url_parse(argv[1], &u, NULL) != 0) {
        fprintf(stderr, "usage: rhai_bench REDIS_URL WORKER [TASKS] [INFLIGHT]\n"
                        "       rhai_bench REDIS_URL WORKER_A --seq-ab WORKER_B [N]\n");
        return 2;
    }
    if (argc > 4 && strcmp(argv[3], "--seq-ab") == 0) {
        int per = argc > 5 ? atoi(argv[5]) : 1000;
        if (bench_seq_ab(argv[1], argv[2], argv[4], per > 0 ? per : 1000) != 0) {
            fprintf(stderr, "bench: failed\n");
            return 1;
        }
        return 0;
    }
    if (bench_ping(&u, 2000) != 0 || bench_sequential(argv[1], argv[2], 1000) != 0 ||
        bench_concurrent(argv[1], argv[2], 200) != 0 ||
        bench_throughput(argv[1], argv[2], n, inflight) != 0) {
        fprintf(stderr, "bench: failed\n");
        return 1;
    }
    return 0;
}
