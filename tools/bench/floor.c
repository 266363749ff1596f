/* floor.c -- rhai_bench_floor: what Redis alone allows on this machine,
 * with no rhaid, no executor and no Lua, to set issue 7's targets against.
 *
 *   rhai_bench_floor REDIS_URL [TASKS] [INFLIGHT] [BATCH]
 *
 * REDIS_URL as rhaid takes it: redis://HOST:PORT or unix:///PATH.
 *
 * A forked relay process stands in for the worker and does no work:
 *
 *   relay  the least any Redis queue can do per task: the client LPUSHes
 *          an id on a queue, the relay pops it (BRPOP, then RPOP with a
 *          count while there are more) and LPUSHes it on a reply list,
 *          which the client pops (BLPOP, then LPOP with a count).
 *   proto  the same with the protocol's writes (docs/protocol.md) as plain
 *          pipelined commands: the client HSETs the task hash and LPUSHes
 *          its id; the relay moves ids to a processing list (BLMOVE, then
 *          RPOP with a count and one LPUSH), HGETALLs and HSETs each one
 *          running, then HSETs its result, PEXPIREs its hash, LREMs it from
 *          the processing list, PUBLISHes a finished event, and LPUSHes the
 *          replies; the client pops them.
 *   atomic proto with a batch's claims in one MULTI/EXEC and its results in
 *          another, as DESIGN.md asks of the result write (no status
 *          checks: a lower bound of what a worker's atomic steps cost).
 *
 * BATCH caps the ids the relay takes per round trip (default 256).
 *
 * For each: the sequential round trip (p50, p99) against the PING round
 * trip of the same run, TASKS tasks with up to INFLIGHT in flight
 * (tasks/s), and the CPU per task of redis-server (INFO cpu), the relay
 * and the client (getrusage). One line per figure, "name value unit".
 * Bounded: every blocking pop has a timeout and the run a deadline; the
 * keys used expire within a minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

#include "common/common.h"

#define DEADLINE_US (120 * 1000000LL)   /* a whole mode, at most */
#define POP_MAX 256                     /* ids per RPOP / LPOP, at most */
#define KEY_TTL_MS 60000

typedef struct keys {
    char q[96], p[96], r[96], t[96];    /* queue, processing, reply, task prefix */
} keys;

static const rh_url *g_url;
static long g_batch = POP_MAX;          /* ids per RPOP of the relay */

static redisContext *connect_url(void)
{
    struct timeval tv = { 5, 0 };
    redisContext *c = g_url->is_unix ? redisConnectUnixWithTimeout(g_url->path, tv)
                                     : redisConnectWithTimeout(g_url->host, g_url->port, tv);
    redisReply *r;

    if (c == NULL || c->err) {
        fprintf(stderr, "rhai_bench_floor: connect: %s\n", c ? c->errstr : "out of memory");
        exit(1);
    }
    if (g_url->pass[0] != '\0') {
        r = g_url->user[0] != '\0' ? redisCommand(c, "AUTH %s %s", g_url->user, g_url->pass)
                                   : redisCommand(c, "AUTH %s", g_url->pass);
        freeReplyObject(r);
    }
    if (g_url->db != 0)
        freeReplyObject(redisCommand(c, "SELECT %d", g_url->db));
    return c;
}

/* A reply that must be there; anything else ends the run. */
static redisReply *must(redisContext *c, redisReply *r, const char *what)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "rhai_bench_floor: %s: %s\n", what,
                r ? r->str : c->errstr);
        exit(1);
    }
    return r;
}

static redisReply *get_reply(redisContext *c, const char *what)
{
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK)
        r = NULL;
    return must(c, r, what);
}

static int64_t cpu_us(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int64_t redis_cpu_us(redisContext *c)
{
    redisReply *r = must(c, redisCommand(c, "INFO cpu"), "INFO cpu");
    const char *u = strstr(r->str, "used_cpu_user:"), *s = strstr(r->str, "used_cpu_sys:");
    double v = (s ? atof(s + 13) : 0) + (u ? atof(u + 14) : 0);
    freeReplyObject(r);
    return (int64_t)(v * 1e6);
}

/* ---- the relay (a child process) ---- */

/* Append LPUSH key id... for n ids (n <= POP_MAX). */
static void append_lpush(redisContext *c, const char *key, redisReply **ids, size_t n)
{
    const char *argv[POP_MAX + 2];
    size_t lens[POP_MAX + 2];

    argv[0] = "LPUSH";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        argv[i + 2] = ids[i]->str;
        lens[i + 2] = ids[i]->len;
    }
    redisAppendCommandArgv(c, (int)n + 2, argv, lens);
}

enum { RELAY, PROTO, ATOMIC };
static const char *const mode_name[] = { "floor_relay", "floor_proto", "floor_atomic" };

/* Answer a batch of ids. PROTO: read each task (HGETALL) and claim it
 * (HSET running), then write each result (HSET, PEXPIRE, LREM, PUBLISH of
 * the finished event) and one LPUSH of every reply. ATOMIC: the same, the
 * claims in one MULTI/EXEC and the results in another, as DESIGN.md §3
 * asks of the result write (without the status checks a real worker
 * makes, which need WATCH or a script: this is a lower bound). */
static void relay_answer(redisContext *c, const keys *k, int mode, redisReply **ids, size_t n)
{
    char key[160];
    size_t i, sent = 0;

    if (mode != RELAY) {
        int64_t now = rh_mono_us() / 1000;
        if (mode == ATOMIC) {
            redisAppendCommand(c, "MULTI");
            sent++;
        }
        for (i = 0; i < n; i++) {
            snprintf(key, sizeof key, "%s%s", k->t, ids[i]->str);
            redisAppendCommand(c, "HGETALL %s", key);
            redisAppendCommand(c, "HSET %s status running started_at %lld instance floor",
                               key, (long long)now);
            sent += 2;
        }
        if (mode == ATOMIC) {
            redisAppendCommand(c, "EXEC");
            redisAppendCommand(c, "MULTI");
            sent += 2;
        }
        for (i = 0; i < n; i++) {
            snprintf(key, sizeof key, "%s%s", k->t, ids[i]->str);
            redisAppendCommand(c, "HSET %s status done result 42 finished_at %lld", key,
                               (long long)now);
            redisAppendCommand(c, "PEXPIRE %s %d", key, KEY_TTL_MS);
            redisAppendCommand(c, "LREM %s 1 %s", k->p, ids[i]->str);
            redisAppendCommand(c, "PUBLISH %s:events {\"event\":\"finished\",\"id\":\"%s\"}",
                               k->t, ids[i]->str);
            sent += 4;
        }
    }
    append_lpush(c, k->r, ids, n);
    sent++;
    if (mode == ATOMIC) {
        redisAppendCommand(c, "EXEC");
        sent++;
    }
    for (i = 0; i < sent; i++)
        freeReplyObject(get_reply(c, "relay write"));
}

static void relay(const keys *k, int mode)
{
    redisContext *c = connect_url();
    int64_t end = rh_mono_us() + DEADLINE_US;

    while (rh_mono_us() < end) {
        redisReply *ids[POP_MAX], *w, *more = NULL;
        size_t n = 0, i;

        w = mode != RELAY ? redisCommand(c, "BLMOVE %s %s RIGHT LEFT 1", k->q, k->p)
                  : redisCommand(c, "BRPOP %s 1", k->q);
        must(c, w, "relay pop");
        if (w->type == REDIS_REPLY_NIL) {
            freeReplyObject(w);
            continue;
        }
        ids[n++] = mode != RELAY ? w : w->element[1];
        if (strcmp(ids[0]->str, "stop") == 0)
            break;
        /* more waiting: take them in one command, as rhaid's batch take does */
        more = must(c, redisCommand(c, "RPOP %s %ld", k->q, g_batch - 1), "relay take");
        if (more->type == REDIS_REPLY_ARRAY) {
            for (i = 0; i < more->elements; i++)
                ids[n++] = more->element[i];
            if (mode != RELAY) {
                append_lpush(c, k->p, more->element, more->elements);
                freeReplyObject(get_reply(c, "relay LPUSH processing"));
            }
        }
        relay_answer(c, k, mode, ids, n);
        freeReplyObject(more);
        freeReplyObject(w);
    }
    redisFree(c);
    _exit(0);
}

/* ---- the client ---- */

static void submit(redisContext *c, const keys *k, int mode, long id)
{
    if (mode != RELAY)
        redisAppendCommand(c, "HSET %s%ld status queued script 40+2 context floor "
                              "reply_to %s created_at 0", k->t, id, k->r);
    redisAppendCommand(c, "LPUSH %s %ld", k->q, id);
}

static void submitted(redisContext *c, int mode)
{
    if (mode != RELAY)
        freeReplyObject(get_reply(c, "HSET"));
    freeReplyObject(get_reply(c, "LPUSH"));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_pct(const char *name, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    printf("%s_p50 %lld us\n", name, (long long)v[(n - 1) / 2]);
    printf("%s_p99 %lld us\n", name, (long long)v[(int)(0.99 * (n - 1))]);
}

static void seq(redisContext *c, const keys *k, int mode, const char *name, int n)
{
    int64_t *lat = malloc(sizeof *lat * (size_t)n);
    if (lat == NULL)
        exit(1);
    for (int i = 0; i < n; i++) {
        int64_t t0 = rh_mono_us();
        submit(c, k, mode, i);
        redisAppendCommand(c, "BLPOP %s 5", k->r);
        submitted(c, mode);
        redisReply *r = get_reply(c, "BLPOP");
        if (r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "rhai_bench_floor: no reply in 5 s\n");
            exit(1);
        }
        lat[i] = rh_mono_us() - t0;
        freeReplyObject(r);
    }
    print_pct(name, lat, n);
    free(lat);
}

static void ping(redisContext *c, int n)
{
    int64_t *lat = malloc(sizeof *lat * (size_t)n);
    if (lat == NULL)
        exit(1);
    for (int i = 0; i < n; i++) {
        int64_t t0 = rh_mono_us();
        freeReplyObject(must(c, redisCommand(c, "PING"), "PING"));
        lat[i] = rh_mono_us() - t0;
    }
    print_pct("floor_ping", lat, n);
    free(lat);
}

/* TASKS through the relay, up to INFLIGHT in flight: submissions are
 * appended and written with the LPOP that collects what came back; when
 * the window is full and nothing came back, a BLPOP waits. */
static void throughput(redisContext *c, const keys *k, int mode, const char *name,
                       long tasks, long inflight)
{
    long sent = 0, got = 0;
    int64_t t0 = rh_mono_us(), end = t0 + DEADLINE_US;

    while (got < tasks) {
        long batch = 0;
        while (sent < tasks && sent - got < inflight) {
            submit(c, k, mode, sent++);
            batch++;
        }
        int block = batch == 0;
        if (block)
            redisAppendCommand(c, "BLPOP %s 5", k->r);
        else
            redisAppendCommand(c, "LPOP %s %d", k->r, POP_MAX);
        for (long i = 0; i < batch; i++)
            submitted(c, mode);
        redisReply *r = get_reply(c, "pop");
        if (block && r->type == REDIS_REPLY_ARRAY)
            got++;
        else if (r->type == REDIS_REPLY_ARRAY)
            got += (long)r->elements;
        freeReplyObject(r);
        if (rh_mono_us() > end) {
            fprintf(stderr, "rhai_bench_floor: %s: %ld of %ld tasks by the deadline\n", name,
                    got, tasks);
            exit(1);
        }
    }
    printf("%s_throughput %.0f tasks/s\n", name, (double)tasks * 1e6 / (double)(rh_mono_us() - t0));
}

static pid_t relay_start(const keys *k, int mode)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        relay(k, mode);
    return pid;
}

static void relay_stop(redisContext *c, const keys *k, pid_t pid)
{
    int st;

    freeReplyObject(must(c, redisCommand(c, "LPUSH %s stop", k->q), "LPUSH stop"));
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "rhai_bench_floor: the relay failed\n");
        exit(1);
    }
}

/* One relay for the sequential round trips, another for the throughput
 * run, so that the CPU reaped from the second is the run's alone. */
static void run_mode(const keys *k, int mode, long tasks, long inflight)
{
    const char *name = mode_name[mode];
    char seqname[64];
    redisContext *c = connect_url();
    int64_t rc0, cc0, xc0, rc1, cc1;
    pid_t pid;

    freeReplyObject(redisCommand(c, "DEL %s %s %s", k->q, k->p, k->r));
    pid = relay_start(k, mode);
    snprintf(seqname, sizeof seqname, "%s_seq", name);
    seq(c, k, mode, seqname, 2000);
    relay_stop(c, k, pid);

    xc0 = cpu_us(RUSAGE_CHILDREN);
    pid = relay_start(k, mode);
    rc0 = redis_cpu_us(c);
    cc0 = cpu_us(RUSAGE_SELF);
    throughput(c, k, mode, name, tasks, inflight);
    rc1 = redis_cpu_us(c);
    cc1 = cpu_us(RUSAGE_SELF);
    relay_stop(c, k, pid);
    printf("%s_cpu_redis_per_task %.1f us\n", name, (double)(rc1 - rc0) / (double)tasks);
    printf("%s_cpu_relay_per_task %.1f us\n", name,
           (double)(cpu_us(RUSAGE_CHILDREN) - xc0) / (double)tasks);
    printf("%s_cpu_client_per_task %.1f us\n", name, (double)(cc1 - cc0) / (double)tasks);
    freeReplyObject(redisCommand(c, "DEL %s %s %s", k->q, k->p, k->r));
    redisFree(c);
}

int main(int argc, char **argv)
{
    static rh_url u;
    keys k;
    long tasks = argc > 2 ? atol(argv[2]) : 20000;
    long inflight = argc > 3 ? atol(argv[3]) : 256;
    g_batch = argc > 4 ? atol(argv[4]) : POP_MAX;
    int me = (int)getpid();

    if (argc < 2 || rh_url_parse(argv[1], &u, NULL) != 0 || tasks < 1 ||
        inflight < 1 || g_batch < 2 || g_batch > POP_MAX) {
        fprintf(stderr, "usage: rhai_bench_floor REDIS_URL [TASKS] [INFLIGHT] [BATCH]\n");
        return 2;
    }
    g_url = &u;
    snprintf(k.q, sizeof k.q, "rhai:floor:%d:queue", me);
    snprintf(k.p, sizeof k.p, "rhai:floor:%d:processing", me);
    snprintf(k.r, sizeof k.r, "rhai:floor:%d:reply", me);
    snprintf(k.t, sizeof k.t, "rhai:floor:%d:task:", me);

    redisContext *c = connect_url();
    ping(c, 2000);
    redisFree(c);
    run_mode(&k, RELAY, tasks, inflight);
    run_mode(&k, PROTO, tasks, inflight);
    run_mode(&k, ATOMIC, tasks, inflight);
    return 0;
}
