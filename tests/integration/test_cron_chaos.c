/* test_cron_chaos.c -- cron under chaos: three rhaid instances of one
 * worker id fire N schedules, each every second, while instances are
 * killed -9 and restarted (one at a time: some instance always runs, so
 * the missed-tick policy never applies). Every firing leaves one entry,
 * naming the instance, in the schedule's runs list; the test harvests the
 * lists every few seconds (they keep the last 50) and counts firings per
 * (schedule, tick): every tick from a schedule's first to the end of the
 * run must have fired exactly once, none twice, none lost, and each firing
 * must have its task hash (cron:NAME:TICK).
 *
 * ctest: CRON_CHAOS_SCHEDULES=100, CRON_CHAOS_SECONDS=20. tools/chaos cron
 * runs it long (1000 schedules for a few minutes). Prints one line:
 *   cron-chaos schedules=N seconds=S kills=K firings=F lost=L duplicated=D */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "common/common.h"

#define WORKER "cchaos"
#define INSTANCES 3
#define SPAN 4096                 /* ticks remembered per schedule (s) */

typedef struct sched_seen {
    long long first;              /* first tick seen (s) */
    unsigned char count[SPAN];    /* firings per tick since 'first' */
    char **entries;               /* distinct entry texts seen, for dedup */
    size_t nentries, cap;
} sched_seen;

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : def;
}

static void nap(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int seen_add(sched_seen *s, const char *text)
{
    for (size_t i = 0; i < s->nentries; i++)
        if (strcmp(s->entries[i], text) == 0)
            return 0;             /* harvested before */
    if (s->nentries == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->entries = realloc(s->entries, s->cap * sizeof *s->entries);
        assert_non_null(s->entries);
    }
    s->entries[s->nentries++] = strdup(text);
    return 1;
}

/* Read every runs list (pipelined) and count the new entries. */
static void harvest(redisContext *c, sched_seen *seen, int n)
{
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "LRANGE rhai:cron:runs:{" WORKER "}:s%d 0 -1", i);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        for (size_t j = r->elements; j-- > 0;) {      /* oldest first */
            json_error_t je;
            json_t *e;
            long long tick;
            if (!seen_add(&seen[i], r->element[j]->str))
                continue;
            e = json_loads(r->element[j]->str, 0, &je);
            assert_non_null(e);
            tick = json_integer_value(json_object_get(e, "tick")) / 1000;
            json_decref(e);
            if (seen[i].first == 0)
                seen[i].first = tick;
            assert_true(tick >= seen[i].first && tick - seen[i].first < SPAN);
            seen[i].count[tick - seen[i].first]++;
        }
        freeReplyObject(r);
    }
}

static void test_cron_chaos_fires_every_tick_exactly_once(void **state)
{
    int n = env_int("CRON_CHAOS_SCHEDULES", 100);
    int seconds = env_int("CRON_CHAOS_SECONDS", 20);
    unsigned seed = (unsigned)env_int("CRON_CHAOS_SEED", (int)time(NULL));
    static const char *const extra[] = { "--heartbeat-ms", "200", "--heartbeat-ttl-ms",
                                         "1000", NULL };
    th_redis redis;
    redisContext *c;
    pid_t inst[INSTANCES];
    sched_seen *seen;
    int kills = 0, lost = 0, dup = 0, firings = 0, nohash = 0;
    long long end_s, t0;
    (void)state;

    srand(seed);
    assert_int_equal(th_redis_start(&redis, 0), 0);
    c = th_redis_connect(&redis);
    assert_non_null(c);
    for (int i = 0; i < INSTANCES; i++)
        assert_true((inst[i] = th_rhaid_start(&redis, WORKER, 2, extra)) > 0);
    /* the schedules, as rhai_cron_add writes them (score -1: an instance
     * computes the first tick) */
    for (int i = 0; i < n; i++) {
        char name[16], def[512];
        snprintf(name, sizeof name, "s%d", i);
        snprintf(def, sizeof def, "{\"name\":\"%s\",\"cron\":\"* * * * * *\",\"tz\":\"UTC\","
                 "\"worker\":\"" WORKER "\",\"script\":\"1\",\"args\":\"{}\","
                 "\"context\":\"default\",\"caller\":\"chaos\",\"created_at\":0,"
                 "\"paused\":false}", name);
        redisAppendCommand(c, "HSET rhai:cron:{" WORKER "} %s %s", name, def);
        redisAppendCommand(c, "ZADD rhai:cron:next:{" WORKER "} -1 %s", name);
    }
    for (int i = 0; i < 2 * n; i++) {
        redisReply *r;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    seen = calloc((size_t)n, sizeof *seen);
    assert_non_null(seen);

    t0 = rh_now_ms();
    while (rh_now_ms() - t0 < seconds * 1000LL) {
        int victim = rand() % INSTANCES;
        nap(700 + rand() % 1600);
        kill(inst[victim], SIGKILL);
        waitpid(inst[victim], NULL, 0);
        kills++;
        assert_true((inst[victim] = th_rhaid_start(&redis, WORKER, 2, extra)) > 0);
        harvest(c, seen, n);
    }
    /* the end: every tick up to end_s must fire; wait until each
     * schedule's next tick is past it */
    end_s = rh_now_ms() / 1000;
    for (int waited = 0; waited < 30000; waited += 100) {
        long long left = th_cmd_int(c, "ZCOUNT rhai:cron:next:{" WORKER "} -inf %lld",
                                    end_s * 1000);
        if (left == 0)
            break;
        nap(100);
    }
    harvest(c, seen, n);
    for (int i = 0; i < INSTANCES; i++)
        th_stop(inst[i], 10000);

    for (int i = 0; i < n; i++) {
        assert_true(seen[i].first > 0);
        for (long long t = seen[i].first; t <= end_s; t++) {
            int k = seen[i].count[t - seen[i].first];
            char id[64];
            if (k == 0)
                lost++;
            if (k > 1)
                dup += k - 1;
            firings += k;
            if (k >= 1 && rand() % 8 == 0) {     /* a sample of the task hashes */
                snprintf(id, sizeof id, "rhai:task:{cchaos}:cron:s%d:%lld", i, t * 1000);
                if (th_cmd_int(c, "EXISTS %s", id) != 1)
                    nohash++;
            }
        }
        for (size_t j = 0; j < seen[i].nentries; j++)
            free(seen[i].entries[j]);
        free(seen[i].entries);
    }
    free(seen);
    printf("cron-chaos schedules=%d seconds=%d kills=%d firings=%d lost=%d duplicated=%d "
           "nohash=%d seed=%u\n", n, seconds, kills, firings, lost, dup, nohash, seed);
    redisFree(c);
    th_redis_stop(&redis);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(nohash, 0);
    assert_true(kills > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_chaos_fires_every_tick_exactly_once),
    };
    return cmocka_run_group_tests_name("cron_chaos", tests, NULL, NULL);
}
