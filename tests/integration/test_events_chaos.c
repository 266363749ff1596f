/* test_events_chaos.c -- events exactly once under failure (docs/events.md).
 *
 * N tasks each emit one event and write one row ("src"), in one
 * transaction; a subscription starts, per event, a task that writes one
 * row ("fx"). Three rhaid instances serve the worker id while instances
 * are killed -9 and restarted (one at a time) and redis-server is killed
 * -9 and restarted (AOF, fsync always). At the end the subscriber effects
 * must equal the committed emitting tasks, exactly: as many fx rows as src
 * rows, no name twice in either, every fx row naming an event of a src
 * task. The store is a data dir, or postgres (RHAI_TEST_BACKEND=postgres).
 *
 * ctest runs it short (EVCHAOS_TASKS=1000, 3 kills, 1 Redis restart);
 * `tools/chaos events` runs 10000 tasks with more faults. Environment:
 * EVCHAOS_TASKS, EVCHAOS_RATE (tasks/s submitted), EVCHAOS_KILLS,
 * EVCHAOS_REDIS_RESTARTS, EVCHAOS_DEADLINE_S, CHAOS_KEEP. Prints one line
 *   events-chaos tasks=N answered=A src=S fx=F ... ms=T
 * Nothing sleeps for timing beyond the submit pacing: the loop polls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "th_store.h"
#include "dsl/dsl.h"
#include "store/store.h"

#define WORKER "evchaos"
#define REPLY_LIST "rhai:reply:{evchaos}:client:evchaos"
#define NINST 3

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

typedef struct run {
    th_redis      redis;
    redisContext *c;
    char          data[2048];
    const char   *extra[12];
    pid_t         inst[NINST];
} run;

static void reconnect(run *r)
{
    for (int i = 0; i < 100; i++) {
        if (r->c)
            redisFree(r->c);
        r->c = th_redis_connect(&r->redis);
        if (r->c)
            return;
        usleep(100000);
    }
    fail_msg("cannot reconnect to redis");
}

/* A command that survives a restart of Redis in between: reconnect, again. */
static redisReply *cmd(run *r, const char *fmt, ...)
{
    for (int i = 0; i < 50; i++) {
        va_list ap;
        redisReply *x;
        va_start(ap, fmt);
        x = redisvCommand(r->c, fmt, ap);
        va_end(ap);
        if (x && x->type != REDIS_REPLY_ERROR)
            return x;
        if (x)
            freeReplyObject(x);
        reconnect(r);
    }
    fail_msg("redis command failed");
    return NULL;
}

static long rows_of(const char *data, const char *owner, char ***names)
{
    store *s;
    store_db *db;
    rhai_error err;
    const store_model *m;
    json_t *where = json_pack("{s:s}", "owner", owner), *rows;
    long n = 0, cap = 0;
    char **out = NULL;

    assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
    assert_int_equal(store_open(s, "ev", &db, &err), 0);
    m = store_schema_model(&dsl_schema, "account");
    assert_non_null(m);
    for (long off = 0;; off += STORE_LIST_MAX) {
        size_t i;
        json_t *row;
        assert_int_equal(store_list(db, m, where, NULL, STORE_LIST_MAX, off, &rows, &err), 0);
        json_array_foreach(rows, i, row) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                out = realloc(out, (size_t)cap * sizeof *out);
                assert_non_null(out);
            }
            out[n++] = strdup(json_string_value(json_object_get(row, "name")));
        }
        i = json_array_size(rows);
        json_decref(rows);
        if (i < STORE_LIST_MAX)
            break;
    }
    json_decref(where);
    store_free(s);
    *names = out;
    return n;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long dups(char **v, long n)
{
    long d = 0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    for (long i = 1; i < n; i++)
        d += strcmp(v[i], v[i - 1]) == 0;
    return d;
}

static void test_every_committed_event_has_exactly_one_subscriber_effect(void **state)
{
    int tasks = env_int("EVCHAOS_TASKS", 1000), rate = env_int("EVCHAOS_RATE", 200);
    int kills = env_int("EVCHAOS_KILLS", 3), restarts = env_int("EVCHAOS_REDIS_RESTARTS", 1);
    int deadline_s = env_int("EVCHAOS_DEADLINE_S", 200), nfault = kills + restarts;
    int done_kills = 0, done_restarts = 0, answered = 0, submitted = 0, victim = 0;
    unsigned char *seen = calloc((size_t)tasks, 1);
    int64_t t0 = rh_mono_ms(), end;
    char dir[4096], **src = NULL, **fx = NULL;
    long nsrc = 0, nfx = 0, dsrc, dfx, orphan = 0;
    run R, *r = &R;
    (void)state;

    memset(r, 0, sizeof *r);
    assert_non_null(seen);
    assert_int_equal(th_redis_start(&r->redis, 1), 0);
    snprintf(dir, sizeof dir, "%s/data", r->redis.dir);
    assert_int_equal(th_store_url(dir, r->data, sizeof r->data), 0);
    {
        store *s;
        store_db *db;
        rhai_error err;
        store_sub sub = { "fx", "chaos.tick", WORKER,
                          "Account.create({name: 'fx:' + ctx.event.id, owner: 'fx', "
                          "balance: ctx.depth}); 1", NULL, "chaos", "test", 0 };
        assert_int_equal(store_new(r->data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_context_create(s, "ev", "chaos", &err), 0);
        assert_int_equal(store_open(s, "ev", &db, &err), 0);
        assert_int_equal(store_sub_put(db, &sub, &err), 0);
        store_free(s);
    }
    r->extra[0] = "--heartbeat-ms"; r->extra[1] = "100";
    r->extra[2] = "--heartbeat-ttl-ms"; r->extra[3] = "800";
    r->extra[4] = "--event-repair-ms"; r->extra[5] = "1000";
    r->extra[6] = th_store_is_pg() ? "--data-url" : "--data-dir"; r->extra[7] = r->data;
    r->extra[8] = "--log-level"; r->extra[9] = "notice";
    r->extra[10] = NULL;
    for (int i = 0; i < NINST; i++) {
        r->inst[i] = th_rhaid_start(&r->redis, WORKER, 2, r->extra);
        assert_true(r->inst[i] > 0);
    }
    reconnect(r);

    /* submit at 'rate', faults evenly spread over the submit window; then
     * wait for every emitting task's answer */
    end = t0 + (int64_t)deadline_s * 1000;
    while (rh_mono_ms() < end) {
        int64_t now = rh_mono_ms() - t0;
        int due = (int)(now * rate / 1000);
        int fault_due = submitted == tasks ? nfault
                        : (int)((int64_t)submitted * (nfault + 1) / (tasks + 1));
        redisReply *x;

        if (due > tasks)
            due = tasks;
        while (submitted < due) {
            char id[32], script[200];
            snprintf(id, sizeof id, "e%d", submitted);
            snprintf(script, sizeof script, "emit('chaos.tick', {i: %d}); Account.create({name: "
                     "'src:' + ctx.task_id, owner: 'src', balance: 1}); %d", submitted,
                     submitted);
            freeReplyObject(cmd(r, "HSET rhai:task:{evchaos}:%s id %s script %s worker_id %s "
                                "context_id ev caller_id chaos status queued attempts 0 "
                                "created_at %lld reply_to %s", id, id, script, WORKER,
                                (long long)rh_now_ms(), REPLY_LIST));
            freeReplyObject(cmd(r, "LPUSH rhai:queue:{%s} %s", WORKER, id));
            submitted++;
        }
        if (done_kills + done_restarts < fault_due && done_kills + done_restarts < nfault) {
            /* a Redis restart every (nfault / restarts)-th fault, else a kill */
            if (done_restarts < restarts &&
                (done_kills + done_restarts + 1) % (nfault / (restarts ? restarts : 1)) == 0) {
                kill(r->redis.pid, SIGKILL);
                waitpid(r->redis.pid, NULL, 0);
                r->redis.pid = -1;
                assert_int_equal(th_redis_restart(&r->redis), 0);
                reconnect(r);
                done_restarts++;
            } else {
                kill(r->inst[victim], SIGKILL);
                waitpid(r->inst[victim], NULL, 0);
                r->inst[victim] = th_rhaid_start(&r->redis, WORKER, 2, r->extra);
                assert_true(r->inst[victim] > 0);
                victim = (victim + 1) % NINST;
                done_kills++;
            }
        }
        while ((x = cmd(r, "RPOP %s", REPLY_LIST)) && x->type == REDIS_REPLY_STRING) {
            const char *p = strstr(x->str, "\"id\":\"e");
            int k = p ? atoi(p + 7) : -1;
            if (k >= 0 && k < tasks && seen[k]++ == 0)
                answered++;
            freeReplyObject(x);
        }
        freeReplyObject(x);
        if (submitted == tasks && answered == tasks && done_kills + done_restarts == nfault)
            break;
        usleep(20000);
    }
    /* then until every subscriber effect is in: the counts agree and stay */
    while (rh_mono_ms() < end) {
        long q;
        redisReply *x = cmd(r, "LLEN rhai:queue:{%s}", WORKER);
        q = x->integer;
        freeReplyObject(x);
        for (long i = 0; i < nsrc; i++)
            free(src[i]);
        for (long i = 0; i < nfx; i++)
            free(fx[i]);
        free(src);
        free(fx);
        nsrc = rows_of(r->data, "src", &src);
        nfx = rows_of(r->data, "fx", &fx);
        if (q == 0 && nfx >= nsrc && answered == tasks)
            break;
        usleep(500000);
    }
    dsrc = dups(src, nsrc);
    dfx = dups(fx, nfx);
    {   /* every fx row names the event of a src row: fx:eN.1 <-> src:eN */
        for (long i = 0; i < nfx; i++) {
            char want[64], *key = want;
            int k = atoi(fx[i] + 4);
            snprintf(want, sizeof want, "src:e%d", k);
            orphan += bsearch(&key, src, (size_t)nsrc, sizeof *src, cmp) == NULL;
        }
    }
    printf("events-chaos backend=%s tasks=%d answered=%d src=%ld fx=%ld dup_src=%ld "
           "dup_fx=%ld orphan_fx=%ld kills=%d redis_restarts=%d ms=%lld\n",
           th_store_is_pg() ? "postgres" : "sqlite", tasks, answered, nsrc, nfx, dsrc, dfx,
           orphan, done_kills, done_restarts, (long long)(rh_mono_ms() - t0));
    fflush(stdout);
    assert_int_equal(dsrc, 0);
    assert_int_equal(dfx, 0);
    assert_int_equal(orphan, 0);
    assert_int_equal(nfx, nsrc);
    assert_true(nsrc >= answered - tasks / 10);   /* nearly all committed */
    assert_int_equal(done_kills, kills);
    assert_int_equal(done_restarts, restarts);

    for (int i = 0; i < NINST; i++)
        th_stop(r->inst[i], 10000);
    for (long i = 0; i < nsrc; i++)
        free(src[i]);
    for (long i = 0; i < nfx; i++)
        free(fx[i]);
    free(src);
    free(fx);
    free(seen);
    redisFree(r->c);
    if (getenv("CHAOS_KEEP"))
        th_redis_stop_keep(&r->redis);
    else
        th_redis_stop(&r->redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_committed_event_has_exactly_one_subscriber_effect),
    };
    return cmocka_run_group_tests_name("events_chaos", tests, NULL, NULL);
}
