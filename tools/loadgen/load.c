/* load.c -- rhai_load: open-loop load on rhaid, with latency percentiles,
 * backlog and resident memory per second.
 *
 *   rhai_load [--rate R] [--seconds S] [--tasks N] [--max-inflight K]
 *             [--task-ms M] [--concurrency C] [--instances I]
 *             [--url URL --worker W --pid PID]
 *
 * Without --url it starts its own redis-server and I rhaid instances (C
 * executors each) through the test harness, on a free loopback port.
 * Open loop (the default): task i is due at start + i/R whatever happened
 * to the previous ones, and its latency is measured from that due time,
 * so a worker that falls behind shows as growing latency and backlog
 * instead of a slower generator (no coordinated omission). With
 * --max-inflight K the generator is closed-loop instead: it keeps K tasks
 * in flight until --tasks are done (the memory soak: many tasks as fast
 * as the worker goes, without piling up a queue in Redis).
 *
 * Each second prints one line: "sec N submitted done backlog queue p50_ms
 * p90_ms p99_ms max_ms rss_kb exec_rss_kb" (latencies of the tasks
 * finished in that second; rss of rhaid itself and of its executors). At
 * the end one "load ..." line sums up the run, including rhaid's resident
 * memory after the first 10% of the tasks and at the end. Exit status 0
 * when every submitted task was answered, 1 otherwise. Figures only: no
 * timing is ever asserted. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

/* the shared reply list, in the worker id's slot (key layout v2) */
static char REPLY_LIST[RH_KEY_MAX];
#define MAX_PIDS 16

typedef struct opts {
    double      rate;
    int         seconds;
    long        tasks;          /* 0: rate * seconds */
    int         max_inflight;   /* 0: open loop */
    int         task_ms;
    int         concurrency;
    int         instances;
    const char *url;
    const char *worker;
    pid_t       pids[MAX_PIDS]; /* rhaid instances to sample */
    int         npids;
} opts;

typedef struct sec_stats {
    long     submitted, done;
    int64_t *lat_us;            /* latencies of tasks finished this second */
    long     nlat, cap;
} sec_stats;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *v, long n, double p)
{
    return n ? (double)v[(long)(p * (double)(n - 1))] / 1000.0 : 0.0;
}

static void nap_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* Resident kB of the children of 'parent' (its executors). */
static long children_rss_kb(pid_t parent)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    long total = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        FILE *f;
        int ppid;
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        if (p && (p = strrchr(buf, ')')) != NULL && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
            ppid == (int)parent)
            total += rss_kb(atoi(de->d_name));
    }
    closedir(d);
    return total;
}

static void usage(void)
{
    fprintf(stderr, "usage: rhai_load [--rate R] [--seconds S] [--tasks N] [--max-inflight K]\n"
                    "                 [--task-ms M] [--concurrency C] [--instances I]\n"
                    "                 [--url URL --worker W [--pid PID]...]\n");
    exit(2);
}

static void parse(opts *o, int argc, char **argv)
{
    o->rate = 500;
    o->seconds = 10;
    o->concurrency = 2;
    o->instances = 1;
    o->worker = "load";
    for (int i = 1; i < argc; i += 2) {         /* --flag value pairs */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(a, "--rate") == 0) o->rate = atof(v);
        else if (strcmp(a, "--seconds") == 0) o->seconds = atoi(v);
        else if (strcmp(a, "--tasks") == 0) o->tasks = atol(v);
        else if (strcmp(a, "--max-inflight") == 0) o->max_inflight = atoi(v);
        else if (strcmp(a, "--task-ms") == 0) o->task_ms = atoi(v);
        else if (strcmp(a, "--concurrency") == 0) o->concurrency = atoi(v);
        else if (strcmp(a, "--instances") == 0) o->instances = atoi(v);
        else if (strcmp(a, "--url") == 0) o->url = v;
        else if (strcmp(a, "--worker") == 0) o->worker = v;
        else if (strcmp(a, "--pid") == 0 && o->npids < MAX_PIDS) o->pids[o->npids++] = atoi(v);
        else usage();
    }
    if (o->rate <= 0 || o->seconds <= 0 || o->instances < 1 || o->instances > MAX_PIDS)
        usage();
    if (o->tasks <= 0)
        o->tasks = (long)(o->rate * o->seconds);
}

static redisContext *connect_url(const char *url)
{
    rh_url u;
    struct timeval tv = { 5, 0 };
    redisContext *c;
    if (rh_url_parse(url, &u, NULL) != 0)
        return NULL;
    c = u.is_unix ? redisConnectUnixWithTimeout(u.path, tv)
                  : redisConnectWithTimeout(u.host, u.port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

typedef struct rss_stats {
    long first;                 /* rhaid at start */
    long warm;                  /* after the first 10% of the tasks */
    long end, max, exec_end;
} rss_stats;

/* One line for second 'n': its counts, the backlog now, the queue length,
 * latency percentiles of the tasks answered in it, rhaid's memory. */
static void print_sec(const opts *o, redisContext *c, const char *qkey, sec_stats *st,
                      int64_t n, long backlog, int warm, rss_stats *rss)
{
    long rs = 0, erss = 0, queue = -1;
    redisReply *q = redisCommand(c, "LLEN %s", qkey);

    if (q && q->type == REDIS_REPLY_INTEGER)
        queue = (long)q->integer;
    if (q)
        freeReplyObject(q);
    for (int i = 0; i < o->npids; i++) {
        rs += rss_kb(o->pids[i]);
        erss += children_rss_kb(o->pids[i]);
    }
    if (rs > rss->max)
        rss->max = rs;
    if (rss->warm == 0 && warm)
        rss->warm = rs;
    rss->end = rs;
    rss->exec_end = erss;
    qsort(st->lat_us, (size_t)st->nlat, sizeof *st->lat_us, cmp_i64);
    printf("sec %lld %ld %ld %ld %ld %.1f %.1f %.1f %.1f %ld %ld\n", (long long)n,
           st->submitted, st->done, backlog, queue, pct_ms(st->lat_us, st->nlat, 0.5),
           pct_ms(st->lat_us, st->nlat, 0.9), pct_ms(st->lat_us, st->nlat, 0.99),
           st->nlat ? (double)st->lat_us[st->nlat - 1] / 1000.0 : 0.0, rs, erss);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    opts o;
    th_redis redis;
    redisContext *c;
    int64_t *due_us;                    /* intended submit time of task i */
    unsigned char *answered;
    sec_stats *secs;
    int nsecs, spawned = 0;
    long submitted = 0, done = 0, dups = 0, total_lat_n = 0;
    int64_t *all_lat, t0, drain_deadline, last_sec = -1;
    rss_stats rss;
    char script[160], qkey[RH_KEY_MAX];

    memset(&o, 0, sizeof o);
    parse(&o, argc, argv);
    if (o.url == NULL) {                /* our own redis and rhaid */
        static const char *const extra[] = { "--log-level", "warn", NULL };
        if (th_redis_start(&redis, 0) != 0)
            return 1;
        o.url = redis.url;
        for (int i = 0; i < o.instances; i++) {
            pid_t p = th_rhaid_start(&redis, o.worker, o.concurrency, extra);
            if (p <= 0)
                return 1;
            o.pids[o.npids++] = p;
        }
        spawned = 1;
    }
    if ((c = connect_url(o.url)) == NULL) {
        fprintf(stderr, "rhai_load: cannot connect to %s\n", o.url);
        return 1;
    }
    snprintf(script, sizeof script,
             "var t = Date.now(); while (Date.now() - t < %d) {} args.i", o.task_ms);
    rh_key_queue(qkey, "rhai", o.worker);
    rh_key_reply_client(REPLY_LIST, "rhai", o.worker, "load");
    redisReply *r0 = redisCommand(c, "DEL %s", REPLY_LIST);
    if (r0)
        freeReplyObject(r0);

    /* a closed-loop run may last longer than --seconds: seconds are sized
     * by a generous guess and grown as needed */
    nsecs = o.seconds + 600;
    secs = calloc((size_t)nsecs, sizeof *secs);
    due_us = calloc((size_t)o.tasks, sizeof *due_us);
    answered = calloc((size_t)o.tasks, 1);
    all_lat = calloc((size_t)o.tasks, sizeof *all_lat);
    if (!secs || !due_us || !answered || !all_lat)
        return 1;
    memset(&rss, 0, sizeof rss);
    for (int i = 0; i < o.npids; i++)
        rss.first += rss_kb(o.pids[i]);

    printf("# sec submitted done backlog queue p50_ms p90_ms p99_ms max_ms rss_kb exec_rss_kb\n");
    t0 = rh_mono_us();
    drain_deadline = 0;
    for (;;) {
        int64_t now = rh_mono_us(), el = now - t0;
        long target;
        int sec = (int)(el / 1000000);
        redisReply *r;

        if (o.max_inflight > 0)
            target = submitted + (o.max_inflight - (submitted - done));
        else
            target = (long)((double)el * o.rate / 1e6) + 1;
        if (target > o.tasks)
            target = o.tasks;
        /* submit what is due, pipelined: HSET + LPUSH per task */
        if (target > submitted) {
            long from = submitted, n = target - submitted;
            char created[24];
            snprintf(created, sizeof created, "%lld", (long long)rh_now_ms());
            for (long i = from; i < from + n; i++) {
                char id[32], key[RH_KEY_MAX], args[32];
                snprintf(id, sizeof id, "l-%ld", i);
                snprintf(args, sizeof args, "{\"i\":%ld}", i);
                redisAppendCommand(c, "HSET %s id %s script %s worker_id %s args %s "
                                   "reply_to %s status queued attempts 0 created_at %s "
                                   "timeout_ms 30000", rh_key_task(key, "rhai", o.worker, id), id, script,
                                   o.worker, args, REPLY_LIST, created);
                redisAppendCommand(c, "LPUSH %s %s", qkey, id);
                /* open loop: latency counts from when the task was due */
                due_us[i] = o.max_inflight > 0 ? el : (int64_t)((double)i * 1e6 / o.rate);
            }
            for (long i = 0; i < 2 * n; i++) {
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                    fprintf(stderr, "rhai_load: redis: %s\n", c->errstr);
                    return 1;
                }
                freeReplyObject(r);
            }
            submitted = target;
            if (sec < nsecs)
                secs[sec].submitted += n;
        }
        /* collect replies */
        r = redisCommand(c, "RPOP %s 1000", REPLY_LIST);
        if (r == NULL) {
            fprintf(stderr, "rhai_load: redis: %s\n", c->errstr);
            return 1;
        }
        now = rh_mono_us();
        el = now - t0;
        sec = (int)(el / 1000000);
        if (sec >= nsecs)
            sec = nsecs - 1;
        for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
            const char *s = strstr(r->element[k]->str, "\"id\":\"l-");
            long i = s ? atol(s + 8) : -1;
            sec_stats *st = &secs[sec];
            if (i < 0 || i >= o.tasks)
                continue;
            if (answered[i]++) {
                dups++;
                continue;
            }
            done++;
            st->done++;
            if (st->nlat == st->cap) {
                st->cap = st->cap ? st->cap * 2 : 1024;
                st->lat_us = realloc(st->lat_us, (size_t)st->cap * sizeof *st->lat_us);
                if (st->lat_us == NULL)
                    return 1;
            }
            st->lat_us[st->nlat++] = el - due_us[i];
            all_lat[total_lat_n++] = el - due_us[i];
        }
        if (r->type != REDIS_REPLY_ARRAY)
            nap_us(1000);               /* nothing yet */
        freeReplyObject(r);

        /* one line per finished second */
        for (; last_sec + 1 < sec; last_sec++)
            print_sec(&o, c, qkey, &secs[last_sec + 1], last_sec + 1, submitted - done,
                      done >= o.tasks / 10, &rss);
        if (submitted == o.tasks && done == o.tasks)
            break;
        if (submitted == o.tasks && drain_deadline == 0)
            drain_deadline = now + 60 * 1000000LL;      /* a minute to drain */
        if (drain_deadline && now > drain_deadline)
            break;
    }
    {                                   /* the last, partial second */
        int sec = (int)((rh_mono_us() - t0) / 1000000);
        if (sec >= nsecs)
            sec = nsecs - 1;
        for (; last_sec < sec; last_sec++)
            print_sec(&o, c, qkey, &secs[last_sec + 1], last_sec + 1, submitted - done, 1,
                      &rss);
    }
    {
        double secs_run = (double)(rh_mono_us() - t0) / 1e6;
        qsort(all_lat, (size_t)total_lat_n, sizeof *all_lat, cmp_i64);
        printf("load mode=%s rate=%.0f tasks=%ld submitted=%ld answered=%ld lost=%ld "
               "duplicated=%ld seconds=%.1f throughput=%.0f p50_ms=%.1f p90_ms=%.1f "
               "p99_ms=%.1f p999_ms=%.1f max_ms=%.1f rss_start_kb=%ld rss_warm_kb=%ld "
               "rss_end_kb=%ld rss_max_kb=%ld rss_growth_after_warmup_kb=%ld "
               "exec_rss_end_kb=%ld instances=%d concurrency=%d task_ms=%d\n",
               o.max_inflight > 0 ? "closed" : "open", o.rate, o.tasks, submitted, done,
               submitted - done, dups, secs_run, (double)done / secs_run,
               pct_ms(all_lat, total_lat_n, 0.5), pct_ms(all_lat, total_lat_n, 0.9),
               pct_ms(all_lat, total_lat_n, 0.99), pct_ms(all_lat, total_lat_n, 0.999),
               total_lat_n ? (double)all_lat[total_lat_n - 1] / 1000.0 : 0.0, rss.first,
               rss.warm, rss.end, rss.max, rss.warm ? rss.end - rss.warm : 0, rss.exec_end,
               o.npids, o.concurrency, o.task_ms);
    }
    redisFree(c);
    if (spawned) {
        for (int i = 0; i < o.npids; i++)
            th_stop(o.pids[i], 15000);
        th_redis_stop(&redis);
    }
    for (int i = 0; i < nsecs; i++)
        free(secs[i].lat_us);
    free(secs);
    free(due_us);
    free(all_lat);
    {
        int ok = done == o.tasks && dups == 0;
        free(answered);
        return ok ? 0 : 1;
    }
}
