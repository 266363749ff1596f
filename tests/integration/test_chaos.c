/* test_chaos.c -- rhaid under failure, as a repeatable suite with figures.
 *
 * N tasks go through several rhaid instances sharing one worker id while
 * a schedule of faults runs: instances killed -9 and restarted; executors
 * killed -9 from outside; redis-server killed -9 and restarted (AOF,
 * fsync always); redis-server, or one instance, SIGSTOPped for longer
 * than the heartbeat TTL and then continued. At the end every task must
 * have exactly one reply on the shared reply list (none lost, none
 * duplicated), each reply names its own task, and no instance died unless
 * we killed it.
 *
 * ctest runs each variant short (a few thousand tasks, a few faults);
 * tools/chaos runs them long through the same code, configured by
 * environment: CHAOS_ONLY (variant name), CHAOS_TASKS, CHAOS_RATE
 * (tasks/s submitted), CHAOS_KILLS, CHAOS_EXEC_KILLS,
 * CHAOS_REDIS_RESTARTS, CHAOS_REDIS_STOPS, CHAOS_INSTANCE_STOPS,
 * CHAOS_READONLY (windows with the data dir read-only), CHAOS_READONLY_MS,
 * CHAOS_INSTANCES, CHAOS_TASK_MS, CHAOS_SEED, CHAOS_DEADLINE_S,
 * CHAOS_KEEP (1: keep the Redis dir and rhaid logs),
 * CHAOS_EFFECTS (0: tasks do not touch the DSL), CHAOS_PG_RESTARTS.
 *
 * Variant "postgres" (ctest test_chaos_pg, run through
 * tools/with-postgres.sh): the instances share a postgres store instead of
 * a data dir, and its server is killed -9 and started again 1-3 s later
 * while tasks write; skipped without RHAI_TEST_PG_URL.
 *
 * Exactly-once effects: every task increments a counter in its context
 * (one of 8, SQLite through the DSL, one data dir shared by all
 * instances) and writes a row naming itself, in one transaction. At the
 * end, task by task: answered done means its effects applied exactly
 * once, answered crashed (executor killed) at most once, never twice;
 * and each counter equals its context's rows. The contexts are created up
 * front (store_context_create, owner "chaos") and every task names the
 * caller "chaos", as authorization requires.
 *
 * Data dir read-only: for a few seconds the shared data dir and its files
 * lose their write bits, then get them back. An executor that opens a
 * context meanwhile gets it read-only (files already open stay writable),
 * so its task's write fails ("attempt to write a readonly database") and
 * nothing of it commits; rhaid runs it again after 250 ms, 500 ms ... (a
 * store failure is transient), and answers it with an error only once the
 * store has failed for store_retry_ms (60 s). Such an error is accepted only for a task whose run
 * overlapped a window; a task answered with an error has no effects; every
 * task claimed after the dir is writable again must succeed. Root ignores
 * file modes, so when the test runs as root the instances of such a run
 * are started as "nobody" through setpriv(1).
 *
 * Each run prints one line starting "chaos " with its figures.
 *
 * This file holds the variants; the faults are in chaos_faults.c, the
 * run and its checks in chaos_run.c (both declared in chaos.h).
 *
 * Nothing sleeps for timing: the loop polls Redis and the clock, and the
 * fault schedule is a list of deadlines. Processes are only ever signalled
 * by the pids this test started (instances) or their children (executors,
 * found through /proc). */
#include "chaos.h"

/* The variant's defaults, overridden by the environment (tools/chaos). */
static void configure(chaos_cfg *cfg, const char *name, int tasks, int rate, int task_ms,
                      int kills, int exec_kills, int restarts, int stops, int inst_stops,
                      int readonly)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->tasks = env_int("CHAOS_TASKS", tasks);
    cfg->rate = env_int("CHAOS_RATE", rate);
    cfg->task_ms = env_int("CHAOS_TASK_MS", task_ms);
    cfg->effects = env_int("CHAOS_EFFECTS", 1);
    cfg->instances = env_int("CHAOS_INSTANCES", 3);
    cfg->concurrency = 2;
    cfg->kills = env_int("CHAOS_KILLS", kills);
    cfg->exec_kills = env_int("CHAOS_EXEC_KILLS", exec_kills);
    cfg->redis_restarts = env_int("CHAOS_REDIS_RESTARTS", restarts);
    cfg->redis_stops = env_int("CHAOS_REDIS_STOPS", stops);
    cfg->inst_stops = env_int("CHAOS_INSTANCE_STOPS", inst_stops);
    cfg->readonly = env_int("CHAOS_READONLY", readonly);
    if (cfg->readonly > MAX_RO)
        cfg->readonly = MAX_RO;
    cfg->readonly_ms = env_int("CHAOS_READONLY_MS", 2000);
    cfg->seed = (unsigned)env_int("CHAOS_SEED", 1);
    cfg->deadline_s = env_int("CHAOS_DEADLINE_S",
                              30 + cfg->tasks / (cfg->rate > 0 ? cfg->rate : 1) * 2);
}

static int selected(const char *name)
{
    const char *only = getenv("CHAOS_ONLY");
    return only == NULL || *only == '\0' || strcmp(only, name) == 0;
}

static void check(const chaos_result *res, int crashes_allowed)
{
    assert_int_equal(res->lost, 0);
    assert_int_equal(res->duplicated, 0);
    assert_int_equal(res->wrong, 0);
    assert_int_equal(res->unexpected_exits, 0);
    assert_int_equal(res->other, 0);
    assert_int_equal(res->stuck, 0);    /* everything answered leaves nothing held */
    assert_int_equal(res->effects_lost, 0);
    assert_int_equal(res->effects_dup, 0);
    assert_int_equal(res->counter_off, 0);
    assert_int_equal(res->effects_unread, 0);
    assert_int_equal(res->crashed_committed, 0);    /* crashed means: no effects */
    assert_int_equal(res->failed_committed, 0);     /* so does an error */
    assert_int_equal(res->ro_outside, 0);   /* writable again: tasks succeed again */
    assert_int_equal(res->ro_probe_writable, 0);    /* the fault really was one */
    if (res->ro_windows == 0)
        assert_int_equal(res->ro_failed, 0);
    if (!crashes_allowed)
        assert_int_equal(res->crashed, 0);
}

/* ======================== tests ======================== */

static void test_chaos_instances_killed_lose_and_duplicate_nothing(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("instances"))
        skip();
    configure(&cfg, "instances", 2000, 400, 2, 4, 0, 0, 0, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);                     /* a dead instance's tasks run again */
    assert_int_equal(res.kills, cfg.kills);
}

static void test_chaos_executors_killed_answer_each_task_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("executors"))
        skip();
    configure(&cfg, "executors", 1000, 400, 2, 0, 4, 0, 0, 0, 0);
    chaos_run(&cfg, &res);
    /* a task whose executor died runs again (the ledger answers one that
     * had committed); crashed only after max_attempts such deaths */
    check(&res, 1);
    assert_true(res.executors_killed > 0);
}

static void test_chaos_redis_killed_and_restarted_with_aof_loses_nothing(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("redis-restart"))
        skip();
    configure(&cfg, "redis-restart", 1000, 400, 2, 0, 0, 2, 0, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.redis_restarts, cfg.redis_restarts);
}

static void test_chaos_redis_frozen_past_the_heartbeat_ttl_answers_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("redis-stop"))
        skip();
    /* longer tasks: the freeze must catch some mid-run, so that recovery
     * requeues tasks their (live) instances are still running */
    configure(&cfg, "redis-stop", 800, 200, 20, 0, 0, 0, 2, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.redis_stops, cfg.redis_stops);
}

static void test_chaos_instance_frozen_past_the_heartbeat_ttl_answers_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("instance-stop"))
        skip();
    configure(&cfg, "instance-stop", 800, 200, 20, 0, 0, 0, 0, 2, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.inst_stops, cfg.inst_stops);
}

static void test_chaos_everything_at_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    chaos probe;
    const char *why;
    (void)state;
    memset(&probe, 0, sizeof probe);
    if (!selected("all"))
        skip();
    /* with frozen instances a task runs twice at once: a run failed by the
     * read-only store must not answer it while the other run commits
     * afterwards (failed_committed; docs/reliability.md) */
    configure(&cfg, "all", 1500, 400, 2, 3, 1, 1, 1, 1, 1);
    if (cfg.readonly && (why = readonly_unsupported(&probe)) != NULL) {
        fprintf(stderr, "chaos: all: no read-only window: %s\n", why);
        cfg.readonly = 0;
    }
    chaos_run(&cfg, &res);
    check(&res, 1);
}

static void test_chaos_data_dir_read_only_fails_tasks_cleanly_then_recovers(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    chaos probe;
    const char *why;
    (void)state;
    if (!selected("readonly"))
        skip();
    memset(&probe, 0, sizeof probe);
    if ((why = readonly_unsupported(&probe)) != NULL) {
        fprintf(stderr, "chaos: readonly: skipped: %s\n", why);
        skip();
    }
    configure(&cfg, "readonly", 2500, 300, 2, 0, 0, 0, 0, 0, 2);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.ro_windows, cfg.readonly);
}

static void test_chaos_postgres_killed_and_restarted_loses_nothing(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("postgres") || getenv("RHAI_TEST_PG_URL") == NULL)
        skip();                         /* ctest: test_chaos_pg, through with-postgres.sh */
    /* the store is postgres (every instance on one database); its server
     * is killed -9 and started again while tasks write, and an instance is
     * killed too: effects still apply exactly once */
    configure(&cfg, "postgres", 1500, 300, 2, 1, 0, 0, 0, 0, 0);
    cfg.postgres = 1;
    cfg.pg_restarts = env_int("CHAOS_PG_RESTARTS", 2);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.pg_restarts, cfg.pg_restarts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chaos_instances_killed_lose_and_duplicate_nothing),
        cmocka_unit_test(test_chaos_executors_killed_answer_each_task_once),
        cmocka_unit_test(test_chaos_redis_killed_and_restarted_with_aof_loses_nothing),
        cmocka_unit_test(test_chaos_redis_frozen_past_the_heartbeat_ttl_answers_once),
        cmocka_unit_test(test_chaos_instance_frozen_past_the_heartbeat_ttl_answers_once),
        cmocka_unit_test(test_chaos_data_dir_read_only_fails_tasks_cleanly_then_recovers),
        cmocka_unit_test(test_chaos_everything_at_once),
        cmocka_unit_test(test_chaos_postgres_killed_and_restarted_loses_nothing),
    };
    return cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
}

