/* test_chaos_cluster.c -- chaos mode "cluster" (tools/chaos cluster): tasks
 * for three worker ids whose tags {W} live on three different masters of a
 * 3-master, 3-replica Redis Cluster (th_cluster), served by rhaid instances
 * given node 0 as their only seed, while
 *   - at 1/4 of the submissions the master of one worker id's shard is
 *     failed over (CLUSTER FAILOVER on its replica),
 *   - at 1/2 another worker id's slot is resharded to another master with
 *     its keys (th_cluster_move_slot: IMPORTING/MIGRATING, MIGRATE, NODE),
 *   - at 3/4 the master of the third worker id's shard is killed -9 (its
 *     replica is elected after the node timeout).
 * Every task must be answered exactly once (replies counted per id on the
 * reply lists of the three worker ids), and its DSL effects (one counter
 * increment and one row named after the task, in one transaction, as the
 * other chaos modes) applied exactly once: the rows are read back at the
 * end by a task per context.
 *
 * Tasks are written as the protocol says (task hash + LPUSH on the queue,
 * both in {W}, one idempotent script so a batch sent again after a lost
 * answer queues no id twice) through hiredis routed by th_route.c.
 *
 * Knobs: CCHAOS_TASKS (300), CCHAOS_RATE (tasks/s, 100), CCHAOS_INSTANCES
 * (rhaid per worker id, 2), CCHAOS_KILL (1: the kill -9 at 3/4; 0: none).
 * Prints one line "chaos variant=cluster ...". */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/common.h"
#include "common/rcluster.h"
#include "dsl/dsl.h"
#include "th_cluster.h"
#include "harness.h"

#define NW 3
#define CONTEXTS 4
#define MAX_INST 4
#define CALLER "chaos"
#define MAX_TASKS 200000

static th_cluster g_c;
static char g_worker[NW][16];
static int g_slot[NW];
static char g_seed[64];
static char g_data[300];
static pid_t g_rhaid[NW][MAX_INST];

static const char submit_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('LPUSH', KEYS[2], ARGV[1])\n"
    "return 1\n";
static const char task_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "if (a.length) Account.update(a[0].id, { balance: a[0].balance + 1 });\n"
    "else Account.create({ name: 'chaos', owner: 'chaos', balance: 1 });\n"
    "Contact.create({ name: ctx.task_id });\n"
    "ctx.task_id;\n";
static const char read_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "var ids = [], off = 0, page;\n"
    "do {\n"
    "  page = Contact.list({ limit: 1000, offset: off, order: 'id' });\n"
    "  for (var i = 0; i < page.length; i++) ids.push(page[i].name);\n"
    "  off += page.length;\n"
    "} while (page.length === 1000);\n"
    "({ n: a.length ? a[0].balance : 0, ids: ids })\n";

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Three worker ids whose slots are served by three different masters. */
static void pick_workers(void)
{
    assert_int_equal(th_cluster_pick_workers(&g_c, "xw", NW, g_worker, g_slot), 0);
}

static pid_t rhaid_spawn(const char *worker, int k)
{
    char bin[512], log[400];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", g_seed,
                     "--worker-id", (char *)worker, "--concurrency", "1",
                     "--log-level", "notice", "--data-dir", g_data, NULL };

    snprintf(log, sizeof log, "%s/rhaid-%s-%d.log", g_c.dir, worker, k);
    return th_spawn(argv, NULL, log);
}

static redisContext *g_rc;

/* The routed connection (to node 0, which stays up: never the one killed). */
static redisContext *conn(void)
{
    struct timeval tv = { 2, 0 };
    if (g_rc && g_rc->err) {
        redisFree(g_rc);
        g_rc = NULL;
    }
    if (g_rc == NULL && (g_rc = th_cluster_connect(&g_c, 0)) != NULL)
        redisSetTimeout(g_rc, tv);
    return g_rc;
}

/* Submit task i (idempotent). 0, or -1 to try again later. */
static int submit(int i, const char *script, const char *ctxid, const char *reply_to,
                  const char *worker, const char *id)
{
    redisContext *c = conn();
    char key[RH_KEY_MAX], qkey[RH_KEY_MAX], now[24];
    const char *argv[32];
    int argc = 0, ok;
    redisReply *r;

    (void)i;
    if (c == NULL)
        return -1;
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    argv[argc++] = "EVAL";
    argv[argc++] = submit_lua;
    argv[argc++] = "2";
    argv[argc++] = rh_key_task(key, "rhai", worker, id);
    argv[argc++] = rh_key_queue(qkey, "rhai", worker);
    argv[argc++] = id;
    argv[argc++] = "id";         argv[argc++] = id;
    argv[argc++] = "script";     argv[argc++] = script;
    argv[argc++] = "worker_id";  argv[argc++] = worker;
    argv[argc++] = "context_id"; argv[argc++] = ctxid;
    argv[argc++] = "caller_id";  argv[argc++] = CALLER;
    argv[argc++] = "timeout_ms"; argv[argc++] = "20000";
    argv[argc++] = "reply_to";   argv[argc++] = reply_to;
    argv[argc++] = "status";     argv[argc++] = "queued";
    argv[argc++] = "attempts";   argv[argc++] = "0";
    argv[argc++] = "created_at"; argv[argc++] = now;
    r = redisCommandArgv(c, argc, argv, NULL);
    ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Count the replies on every worker id's list: seen[i] per task, final[i]
 * 1 done (output = its id), 3 anything else. The number of distinct tasks
 * answered, or -1 when a list could not be read. */
static int count_replies(int tasks, unsigned char *seen, unsigned char *final, int *wrong)
{
    int distinct = 0;

    memset(seen, 0, (size_t)tasks);
    for (int w = 0; w < NW; w++) {
        redisContext *c = conn();
        redisReply *r = c ? redisCommand(c, "LRANGE rhai:reply:{%s}:client:cchaos 0 -1",
                                         g_worker[w]) : NULL;
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        for (size_t k = 0; k < r->elements; k++) {
            rh_task t;
            int i;
            rh_task_init(&t);
            if (rh_task_from_reply(&t, r->element[k]->str, r->element[k]->len, NULL) == 0 &&
                strncmp(t.id, "x-", 2) == 0 && (i = atoi(t.id + 2)) >= 0 && i < tasks) {
                if (seen[i] < 255)
                    seen[i]++;
                if (seen[i] == 1) {
                    int done = t.status == RHAI_STATUS_DONE;
                    char want[40];
                    snprintf(want, sizeof want, "\"%s\"", t.id);
                    final[i] = done ? 1 : 3;
                    if (done && (t.output == NULL || strcmp(t.output, want) != 0))
                        (*wrong)++;
                    if (!done)
                        fprintf(stderr, "chaos: task %s: %s\n", t.id, t.error ? t.error : "?");
                }
            }
            rh_task_clear(&t);
        }
        freeReplyObject(r);
    }
    for (int i = 0; i < tasks; i++)
        distinct += seen[i] > 0;
    return distinct;
}

/* Read each context's counter and rows through a task on worker 0. */
static int read_effects(int tasks, unsigned char *applied, long *rows, int *counter_off)
{
    int got = 0;
    int64_t deadline = rh_mono_ms() + 60000;
    char list[RH_KEY_MAX];

    snprintf(list, sizeof list, "rhai:reply:{%s}:client:cchaos-read", g_worker[0]);
    for (int k = 0; k < CONTEXTS; k++) {
        char id[32], ctxid[32];
        snprintf(id, sizeof id, "read-%d", k);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        while (submit(k, read_js, ctxid, list, g_worker[0], id) != 0 && rh_mono_ms() < deadline)
            nap_ms(200);
    }
    while (got < CONTEXTS && rh_mono_ms() < deadline) {
        redisContext *c = conn();
        redisReply *r = c ? redisCommand(c, "BLPOP %s 1", list) : NULL;
        json_t *o = NULL, *ids;
        rh_task t;
        if (r == NULL) {
            nap_ms(200);
            continue;
        }
        rh_task_init(&t);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            rh_task_from_reply(&t, r->element[1]->str, r->element[1]->len, NULL) == 0 &&
            t.status == RHAI_STATUS_DONE && (o = json_loads(t.output, 0, NULL)) != NULL &&
            json_is_array(ids = json_object_get(o, "ids"))) {
            long n = (long)json_integer_value(json_object_get(o, "n"));
            for (size_t j = 0; j < json_array_size(ids); j++) {
                const char *name = json_string_value(json_array_get(ids, j));
                int i = name && strncmp(name, "x-", 2) == 0 ? atoi(name + 2) : -1;
                if (i >= 0 && i < tasks && applied[i] < 255)
                    applied[i]++;
            }
            *rows += (long)json_array_size(ids);
            *counter_off += n != (long)json_array_size(ids);
            got++;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            fprintf(stderr, "chaos: effects read failed: %.300s\n", r->element[1]->str);
        }
        json_decref(o);
        rh_task_clear(&t);
        freeReplyObject(r);
    }
    return got;
}

static void test_tasks_on_three_shards_survive_failover_kill_and_reshard_once(void **state)
{
    int tasks = env_int("CCHAOS_TASKS", 300), rate = env_int("CCHAOS_RATE", 100);
    static unsigned char seen[MAX_TASKS], final[MAX_TASKS], applied[MAX_TASKS];
    int kill_on = env_int("CCHAOS_KILL", 1);
    int owner[NW], fo = -1, ks = -1, rs = -1, to = -1, submitted = 0, distinct = 0, wrong = 0;
    int failovers = 0, kills = 0, reshards = 0, lost = 0, dup = 0, other = 0;
    int effects_lost = 0, effects_dup = 0, failed_committed = 0, counter_off = 0, got;
    long rows = 0;
    int64_t t0 = rh_mono_ms(), deadline;
    (void)state;

    assert_true(tasks >= 4 && tasks <= MAX_TASKS);
    for (int w = 0; w < NW; w++) {
        char tag[20];
        snprintf(tag, sizeof tag, "{%s}", g_worker[w]);
        owner[w] = th_cluster_owner(&g_c, g_slot[w], -1);
    }
    /* failover the shard of node 0 if one is (node 0 stays up, as a
     * replica), kill another, reshard the third's slot */
    for (int w = 0; w < NW; w++)
        if (owner[w] == 0)
            fo = w;
    if (fo < 0)
        fo = 0;
    ks = (fo + 1) % NW;
    rs = (fo + 2) % NW;

    while (submitted < tasks) {
        int64_t due = (int64_t)submitted * 1000 / rate;
        char id[32], ctxid[32], list[RH_KEY_MAX];
        const char *w = g_worker[submitted % NW];

        if (rh_mono_ms() - t0 < due) {
            nap_ms(5);
            continue;
        }
        snprintf(id, sizeof id, "x-%d", submitted);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", submitted % CONTEXTS);
        snprintf(list, sizeof list, "rhai:reply:{%s}:client:cchaos", w);
        if (submit(submitted, task_js, ctxid, list, w, id) != 0) {
            nap_ms(100);                /* the shard is electing: again */
            continue;
        }
        submitted++;
        if (submitted == tasks / 4) {
            int r = th_cluster_replica_of(&g_c, th_cluster_owner(&g_c, g_slot[fo], -1));
            assert_true(r >= 0);
            assert_int_equal(th_cluster_failover(&g_c, r, 30000), 0);
            failovers++;
        } else if (submitted == tasks / 2) {
            int from = th_cluster_owner(&g_c, g_slot[rs], -1);
            to = th_cluster_owner(&g_c, g_slot[ks], -1);
            if (to == from)
                to = th_cluster_owner(&g_c, g_slot[fo], -1);
            assert_int_equal(th_cluster_move_slot(&g_c, g_slot[rs], to), 0);
            reshards++;
        } else if (submitted == tasks * 3 / 4 && kill_on) {
            int m = th_cluster_owner(&g_c, g_slot[ks], -1);
            assert_true(m > 0);          /* never node 0: our seed */
            assert_int_equal(th_cluster_kill_master(&g_c, m, 30000), 0);
            kills++;
        }
    }
    deadline = rh_mono_ms() + 120000;
    while (rh_mono_ms() < deadline) {
        distinct = count_replies(tasks, seen, final, &wrong);
        if (distinct == tasks)
            break;
        nap_ms(500);
    }
    nap_ms(2000);                        /* a late duplicate would show now */
    wrong = 0;
    distinct = count_replies(tasks, seen, final, &wrong);
    got = read_effects(tasks, applied, &rows, &counter_off);
    for (int i = 0, shown = 0; i < tasks; i++) {
        int off = seen[i] != 1 || (got == CONTEXTS && applied[i] != (final[i] == 1));
        lost += seen[i] == 0;
        dup += seen[i] > 1 ? seen[i] - 1 : 0;
        other += final[i] == 3;
        if (got == CONTEXTS) {        /* effects are only known when every context was read */
            effects_lost += final[i] == 1 && applied[i] == 0;
            effects_dup += applied[i] > 1;
            failed_committed += final[i] == 3 && applied[i] > 0;
        }
        if (off && shown++ < 10)
            fprintf(stderr, "chaos: task x-%d (worker %s): replies %d, effects %d\n", i,
                    g_worker[i % NW], seen[i], applied[i]);
    }
    printf("chaos variant=cluster tasks=%d workers=%d instances=%d failovers=%d kills=%d "
           "reshards=%d replies_distinct=%d lost=%d duplicated=%d wrong=%d not_done=%d "
           "effect_rows=%ld effects_lost=%d effects_duplicated=%d failed_committed=%d "
           "counter_mismatch=%d contexts_read=%d/%d ms=%lld\n",
           tasks, NW, env_int("CCHAOS_INSTANCES", 2), failovers, kills, reshards, distinct, lost,
           dup, wrong, other, rows, effects_lost, effects_dup, failed_committed, counter_off,
           got, CONTEXTS, (long long)(rh_mono_ms() - t0));
    fflush(stdout);
    if (lost || dup || wrong || effects_lost || effects_dup || failed_committed || counter_off ||
        got != CONTEXTS)
        th_sh("tail -n 5 %s/rhaid-*.log >&2", g_c.dir);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(wrong, 0);
    assert_int_equal(got, CONTEXTS);
    assert_int_equal(effects_lost, 0);
    assert_int_equal(effects_dup, 0);
    assert_int_equal(failed_committed, 0);
    assert_int_equal(counter_off, 0);
}

static int setup(void **state)
{
    store *st = NULL;
    rhai_error err;
    int inst = env_int("CCHAOS_INSTANCES", 2);
    (void)state;

    if (inst < 1 || inst > MAX_INST)
        inst = 2;
    if (th_cluster_start(&g_c) != 0)
        return -1;
    setenv("RHAI_TEST_CLUSTER_NODES", g_c.nodes, 1);    /* th_route.c follows MOVED/ASK */
    snprintf(g_seed, sizeof g_seed, "redis://127.0.0.1:%d", g_c.node[0].port);
    snprintf(g_data, sizeof g_data, "%s/data", g_c.dir);
    th_sh("chmod o+x %s", g_c.dir);       /* executors (nobody) reach the data dir */
    memset(&err, 0, sizeof err);
    if (store_new(g_data, &dsl_schema, &st, &err) != 0)
        return -1;
    for (int k = 0; k < CONTEXTS; k++) {
        char ctxid[32];
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        if (store_context_create(st, ctxid, CALLER, &err) != 0) {
            fprintf(stderr, "chaos: context %s: %s\n", ctxid, err.msg);
            store_free(st);
            return -1;
        }
    }
    store_free(st);
    pick_workers();
    for (int w = 0; w < NW; w++)
        for (int k = 0; k < MAX_INST; k++)
            g_rhaid[w][k] = k < inst ? rhaid_spawn(g_worker[w], k) : -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int w = 0; w < NW; w++)
        for (int k = 0; k < MAX_INST; k++)
            if (g_rhaid[w][k] > 0)
                th_stop(g_rhaid[w][k], 10000);
    if (g_rc)
        redisFree(g_rc);
    th_cluster_stop(&g_c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_on_three_shards_survive_failover_kill_and_reshard_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
