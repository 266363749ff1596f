/* chaos_run.c -- one run of the chaos suite: tasks submitted open-loop
 * while chaos_faults.c runs the fault schedule, then every reply, every
 * task's effects in its context and rhaid's logs read back into a
 * chaos_result, printed as one line starting "chaos ". */
#include "chaos.h"
#include "th_store.h"

/* The submit step of docs/protocol.md made idempotent, so a batch whose
 * acknowledgement was lost (Redis killed mid-batch) can be sent again
 * without queueing an id twice. KEYS[1] task hash, KEYS[2] queue;
 * ARGV[1] id, ARGV[2..] field/value pairs. */
static const char submit_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('LPUSH', KEYS[2], ARGV[1])\n"
    "return 1\n";

/* Every task increments a counter in its context (the balance of the
 * account "chaos", through the DSL: one SQLite transaction with the
 * task's ledger row), works for CHAOS_TASK_MS so that faults catch tasks
 * mid-run, and returns its own id, so a reply carrying another task's
 * output would show. With CHAOS_EFFECTS=0 the DSL part is left out. */
static char script[512];
static const char counter_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "if (a.length) Account.update(a[0].id, { balance: a[0].balance + 1 });\n"
    "else Account.create({ name: 'chaos', owner: 'chaos', balance: 1 });\n"
    "Contact.create({ name: ctx.task_id });\n";
/* The counter and the ids of the tasks whose effects committed (one
 * contact row each, written in the same transaction as the increment). */
static const char read_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "var ids = [], off = 0, page;\n"
    "do {\n"
    "  page = Contact.list({ limit: 1000, offset: off, order: 'id' });\n"
    "  for (var i = 0; i < page.length; i++) ids.push(page[i].name);\n"
    "  off += page.length;\n"
    "} while (page.length === 1000);\n"
    "({ n: a.length ? a[0].balance : 0, ids: ids })\n";

/* ======================== helpers ======================== */

int env_int(const char *name, int def)
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

/* A connection with a command timeout: while Redis is stopped a command
 * fails after 500 ms instead of hanging the loop that must resume it. */
static redisContext *conn(chaos *ch)
{
    struct timeval tv = { 0, 500000 };
    if (ch->c && ch->c->err) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    if (ch->c == NULL && ch->cont_at == 0) {
        ch->c = th_redis_connect(&ch->redis);
        if (ch->c)
            redisSetTimeout(ch->c, tv);
    }
    return ch->c;
}

static long long cmd_int(chaos *ch, const char *fmt, ...)
{
    redisContext *c = conn(ch);
    long long v;
    va_list ap;

    if (c == NULL)
        return -1;
    va_start(ap, fmt);
    v = th_vcmd_int(c, fmt, ap);
    va_end(ap);
    return v;
}

/* ======================== tasks ======================== */

/* Submit tasks [from, from+n) in one pipeline; 0 when every one was
 * acknowledged, -1 to send the batch again later. */
static int submit_batch(chaos *ch, int from, int n)
{
    redisContext *c = conn(ch);
    char id[32], key[RH_KEY_MAX], qkey[RH_KEY_MAX], ctxid[32], args[32], now[24];
    int ok = 1;

    if (c == NULL)
        return -1;
    rh_key_queue(qkey, "rhai", WORKER);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    for (int i = from; i < from + n; i++) {
        const char *argv[32];
        int argc = 0;
        snprintf(id, sizeof id, "c-%d", i);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", i % CONTEXTS);
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        argv[argc++] = "EVAL";
        argv[argc++] = submit_lua;
        argv[argc++] = "2";
        argv[argc++] = rh_key_task(key, "rhai", WORKER, id);
        argv[argc++] = qkey;
        argv[argc++] = id;
        argv[argc++] = "id";         argv[argc++] = id;
        argv[argc++] = "script";     argv[argc++] = script;
        argv[argc++] = "worker_id";  argv[argc++] = WORKER;
        argv[argc++] = "context_id"; argv[argc++] = ctxid;
        argv[argc++] = "caller_id";  argv[argc++] = CALLER;
        argv[argc++] = "args";       argv[argc++] = args;
        argv[argc++] = "timeout_ms"; argv[argc++] = "20000";
        argv[argc++] = "reply_to";   argv[argc++] = REPLY_LIST;
        argv[argc++] = "status";     argv[argc++] = "queued";
        argv[argc++] = "attempts";   argv[argc++] = "0";
        argv[argc++] = "created_at"; argv[argc++] = now;
        redisAppendCommandArgv(c, argc, argv, NULL);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            ok = 0;
            break;                      /* context dead: reconnect later */
        }
        if (r->type != REDIS_REPLY_INTEGER)
            ok = 0;                     /* e.g. LOADING after a restart */
        freeReplyObject(r);
    }
    return ok ? 0 : -1;
}

/* Nothing left anywhere: queue empty and no processing list holds an id. */
static int quiet(chaos *ch)
{
    redisContext *c = conn(ch);
    redisReply *r;
    int empty;

    if (c == NULL || cmd_int(ch, "LLEN rhai:queue:{%s}", WORKER) != 0)
        return 0;
    r = redisCommand(c, "KEYS rhai:processing:{%s}:*", WORKER);
    if (r == NULL)
        return 0;
    empty = r->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; empty && i < r->elements; i++)
        if (cmd_int(ch, "LLEN %s", r->element[i]->str) != 0)
            empty = 0;
    freeReplyObject(r);
    return empty;
}

/* Ids still in the queue or in a processing list. */
static int held(chaos *ch)
{
    redisContext *c = conn(ch);
    redisReply *r;
    long long n = cmd_int(ch, "LLEN rhai:queue:{%s}", WORKER);

    if (c == NULL || (r = redisCommand(c, "KEYS rhai:processing:{%s}:*", WORKER)) == NULL)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        n += cmd_int(ch, "LLEN %s", r->element[i]->str);
    freeReplyObject(r);
    return (int)n;
}

/* A task ended by a read-only store (after store_retry_ms): error_kind
 * internal ("store unavailable"), or script from a DSL that threw the
 * store's error as a plain one; either way the message says read-only. */
static int readonly_error(const rh_task *t)
{
    return t->status == RHAI_STATUS_ERROR &&
           (t->error_kind == RH_EK_SCRIPT || t->error_kind == RH_EK_INTERNAL) && t->error &&
           (strstr(t->error, "read-only") || strstr(t->error, "readonly"));
}

/* 1 when the task's run (claimed .. finished, rhaid's wall clock) overlaps
 * a read-only window: claimed before the dir was writable again and
 * finished after it became read-only. A task claimed after the window
 * opens its context in a writable dir and must succeed. */
static int readonly_overlaps(const chaos *ch, const rh_task *t)
{
    for (int w = 0; w < ch->res->ro_windows; w++)
        if (t->started_at <= ch->ro_to[w] && t->finished_at >= ch->ro_from[w])
            return 1;
    return 0;
}

/* Read every reply (without consuming them) and the task hashes. */
static void verify(chaos *ch)
{
    chaos_result *res = ch->res;
    redisContext *c = conn(ch);
    long long n;
    int tasks = ch->cfg->tasks;

    assert_non_null(c);
    n = cmd_int(ch, "LLEN %s", REPLY_LIST);
    res->replies = (int)n;
    for (long long at = 0; at < n; at += 5000) {
        redisReply *r = redisCommand(c, "LRANGE %s %lld %lld", REPLY_LIST, at, at + 4999);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        for (size_t k = 0; k < r->elements; k++) {
            rh_task t;
            int i;
            rh_task_init(&t);
            assert_int_equal(rh_task_from_reply(&t, r->element[k]->str, r->element[k]->len,
                                                NULL), 0);
            assert_true(strncmp(t.id, "c-", 2) == 0);
            i = atoi(t.id + 2);
            assert_true(i >= 0 && i < tasks);
            if (ch->seen[i] < 255)
                ch->seen[i]++;
            if (t.status == RHAI_STATUS_DONE) {
                char want[40];
                snprintf(want, sizeof want, "\"%s\"", t.id);
                res->done++;
                if (ch->seen[i] == 1)
                    ch->final[i] = 1;
                if (t.output == NULL || strcmp(t.output, want) != 0)
                    res->wrong++;
            } else if (t.error_kind == RH_EK_CRASHED) {
                res->crashed++;
                if (ch->seen[i] == 1)
                    ch->final[i] = 2;
            } else if (readonly_error(&t)) {
                if (res->ro_failed++ == 0)
                    fprintf(stderr, "chaos: first read-only failure: task %s %s/%s: %s\n",
                            t.id, rh_status_str(t.status), rh_kind_str(t.error_kind), t.error);
                if (ch->seen[i] == 1)
                    ch->final[i] = 3;
                if (!readonly_overlaps(ch, &t) && res->ro_outside++ < 5)
                    fprintf(stderr, "chaos: task %s (claimed %lld, finished %lld) failed on "
                            "a read-only store outside every read-only window: %s\n", t.id,
                            (long long)t.started_at, (long long)t.finished_at, t.error);
            } else {
                if (ch->seen[i] == 1)
                    ch->final[i] = 3;
                if (res->other++ < 5)
                    fprintf(stderr, "chaos: task %s ended %s/%s: %s\n", t.id,
                            rh_status_str(t.status), rh_kind_str(t.error_kind),
                            t.error ? t.error : "");
            }
            rh_task_clear(&t);
        }
        freeReplyObject(r);
    }
    for (int i = 0; i < tasks; i++) {
        if (ch->seen[i] == 0 && res->lost++ < 10)
            fprintf(stderr, "chaos: task c-%d has no reply\n", i);
        if (ch->seen[i] > 1)
            res->duplicated += ch->seen[i] - 1;
    }
    /* attempts > 1: delivered again after an instance died */
    for (int from = 0; from < tasks; from += 1000) {
        int to = from + 1000 < tasks ? from + 1000 : tasks;
        char key[RH_KEY_MAX];
        for (int i = from; i < to; i++) {
            char id[32];
            snprintf(id, sizeof id, "c-%d", i);
            redisAppendCommand(c, "HGET %s attempts", rh_key_task(key, "rhai", WORKER, id));
        }
        for (int i = from; i < to; i++) {
            redisReply *r = NULL;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            if (r->type == REDIS_REPLY_STRING && atoi(r->str) > 1)
                res->redelivered++;
            freeReplyObject(r);
        }
    }
}

/* Sum requeued=N over the "event=recovered" lines of every rhaid log, and
 * count the runs of a task that a read-only store failed and rhaid ran
 * again ("event=task_retry" naming the read-only database). */
static int count_recovered(const chaos *ch, int *store_retries)
{
    DIR *d = opendir(ch->redis.dir);
    struct dirent *de;
    int total = 0;

    *store_retries = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[600], line[1024];
        FILE *f;
        if (strncmp(de->d_name, "rhaid-", 6) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", ch->redis.dir, de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        while (fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "event=recovered");
            if (p && (p = strstr(p, "requeued=")) != NULL)
                total += atoi(p + 9);
            if (strstr(line, "event=task_retry") && strstr(line, "readonly"))
                (*store_retries)++;
        }
        fclose(f);
    }
    closedir(d);
    return total;
}

/* Read each context's counter and effect rows with one more task per
 * context, then compare task by task: a task answered done applied its
 * effects exactly once; one answered crashed (its executor killed) at most
 * once; none twice; and each counter equals its context's rows. */
static void effects(chaos *ch)
{
    chaos_result *res = ch->res;
    redisContext *c = conn(ch);
    int64_t deadline = rh_mono_ms() + 60000;
    int got = 0, tasks = ch->cfg->tasks;
    long rows_in[CONTEXTS];

    assert_non_null(c);
    for (int k = 0; k < CONTEXTS; k++) {
        char id[48], ctxid[32], key[RH_KEY_MAX];
        redisReply *r;
        snprintf(id, sizeof id, "read-%d", k);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        r = redisCommand(c, "HSET %s id %s script %s worker_id %s context_id %s caller_id %s "
                         "status queued attempts 0 timeout_ms 20000 "
                         "reply_to rhai:reply:{chaos}:client:chaos-read",
                         rh_key_task(key, "rhai", WORKER, id), id, read_js, WORKER, ctxid, CALLER);
        assert_true(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = redisCommand(c, "LPUSH rhai:queue:{%s} %s", WORKER, id);
        assert_true(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        res->counter[k] = -1;
        rows_in[k] = 0;
    }
    while (got < CONTEXTS && rh_mono_ms() < deadline) {
        redisReply *r = redisCommand(c, "BLPOP rhai:reply:{chaos}:client:chaos-read 1");
        json_t *o = NULL, *ids;
        rh_task t;
        if (r == NULL)
            break;
        rh_task_init(&t);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            rh_task_from_reply(&t, r->element[1]->str, r->element[1]->len, NULL) == 0 &&
            t.status == RHAI_STATUS_DONE && strncmp(t.id, "read-", 5) == 0 &&
            (o = json_loads(t.output, 0, NULL)) != NULL &&
            json_is_array(ids = json_object_get(o, "ids"))) {
            int k = atoi(t.id + 5);
            res->counter[k] = (long)json_integer_value(json_object_get(o, "n"));
            for (size_t j = 0; j < json_array_size(ids); j++) {
                const char *name = json_string_value(json_array_get(ids, j));
                int i = name && strncmp(name, "c-", 2) == 0 ? atoi(name + 2) : -1;
                rows_in[k]++;
                if (i >= 0 && i < tasks && ch->applied[i] < 255)
                    ch->applied[i]++;
            }
            got++;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            fprintf(stderr, "chaos: effects read failed: %.300s\n", r->element[1]->str);
        }
        json_decref(o);
        rh_task_clear(&t);
        freeReplyObject(r);
    }
    /* a context left unread fails the run in check(), after the figures */
    res->effects_unread = CONTEXTS - got;
    for (int k = 0; k < CONTEXTS; k++) {
        res->rows += rows_in[k];
        if (res->counter[k] >= 0 && res->counter[k] != rows_in[k]) {
            fprintf(stderr, "chaos: context chaos-%d: counter %ld but %ld effect rows\n", k,
                    res->counter[k], rows_in[k]);
            res->counter_off++;
        }
    }
    for (int i = 0; i < tasks; i++) {
        int lost = ch->final[i] == 1 && ch->applied[i] == 0 && res->counter[i % CONTEXTS] >= 0;
        int dup = ch->applied[i] > 1;
        res->effects_lost += lost;
        res->effects_dup += dup;
        res->crashed_committed += ch->final[i] == 2 && ch->applied[i] == 1;
        if (ch->final[i] == 3 && ch->applied[i] > 0 && res->failed_committed++ < 10)
            fprintf(stderr, "chaos: task c-%d answered with an error, yet its effects "
                    "committed\n", i);
        if ((lost || dup) && res->effects_lost + res->effects_dup <= 10)
            fprintf(stderr, "chaos: task c-%d: reply %d, effects applied %d times\n", i,
                    ch->final[i], ch->applied[i]);
    }
}

/* ======================== the run ======================== */

/* The contexts every task uses, created before any instance starts, with
 * CALLER as their owner; handed over to the instances' user when they run
 * as another one (the Redis dir then lets them through to the data dir). */
static void contexts_create(const chaos *ch)
{
    store *st = NULL;
    rhai_error err;
    DIR *d;
    struct dirent *de;

    memset(&err, 0, sizeof err);
    assert_int_equal(store_new(data_dir, &dsl_schema, &st, &err), 0);
    for (int k = 0; k < CONTEXTS; k++) {
        char ctxid[32];
        int rc;
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        if ((rc = store_context_create(st, ctxid, CALLER, &err)) != 0)
            fprintf(stderr, "chaos: context %s: %s\n", ctxid, err.msg);
        assert_int_equal(rc, 0);
    }
    store_free(st);
    if (!ch->as_user)
        return;
    assert_int_equal(chmod(ch->redis.dir, 0711), 0);
    assert_int_equal(chown(data_dir, ch->uid, ch->gid), 0);
    assert_non_null(d = opendir(data_dir));
    while ((de = readdir(d)) != NULL) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", data_dir, de->d_name);
        if (de->d_name[0] != '.')
            assert_int_equal(chown(path, ch->uid, ch->gid), 0);
    }
    closedir(d);
}

void chaos_run(const chaos_cfg *cfg, chaos_result *res)
{
    chaos ch;
    int submitted = 0;
    int64_t window_ms = (int64_t)cfg->tasks * 1000 / (cfg->rate > 0 ? cfg->rate : 1);
    int64_t deadline, last_poll = 0;
    long long got = 0;
    long increments = 0;

    memset(&ch, 0, sizeof ch);
    memset(res, 0, sizeof *res);
    snprintf(script, sizeof script,
             "%svar t = Date.now(); while (Date.now() - t < %d) {}\nctx.task_id",
             cfg->effects ? counter_js : "", cfg->task_ms);
    ch.cfg = cfg;
    ch.res = res;
    ch.rng = cfg->seed;
    ch.seen = rh_calloc((size_t)cfg->tasks, 1);
    ch.final = rh_calloc((size_t)cfg->tasks, 1);
    ch.applied = rh_calloc((size_t)cfg->tasks, 1);
    assert_true(ch.seen && ch.final && ch.applied);
    assert_true(cfg->instances >= 2 && cfg->instances <= MAX_INSTANCES);
    assert_int_equal(th_redis_start(&ch.redis, 1), 0);     /* AOF, fsync always */
    snprintf(data_dir, sizeof data_dir, "%s/data", ch.redis.dir);
    if (cfg->postgres) {                /* a fresh database on with-postgres.sh's server */
        setenv("RHAI_TEST_BACKEND", "postgres", 1);
        assert_int_equal(th_store_url(NULL, data_dir, sizeof data_dir), 0);
        snprintf(data_flag, sizeof data_flag, "--data-url");
    }
    if (cfg->readonly)
        assert_null(readonly_unsupported(&ch));    /* the test skips before */
    contexts_create(&ch);
    for (int i = 0; i < cfg->instances; i++) {
        instance_start(&ch, i);
        assert_true(ch.inst[i].pid > 0);
    }
    schedule(&ch, window_ms);
    ch.t0 = rh_mono_ms();
    deadline = ch.t0 + (int64_t)cfg->deadline_s * 1000;

    while (rh_mono_ms() < deadline) {
        int64_t t = elapsed(&ch);
        /* open loop: whatever the schedule says is due by now */
        int due = (int)(t * cfg->rate / 1000);
        if (due > cfg->tasks)
            due = cfg->tasks;
        faults(&ch);
        reap_unexpected(&ch);
        while (submitted < due && ch.cont_at == 0) {
            int n = due - submitted < BATCH ? due - submitted : BATCH;
            if (submit_batch(&ch, submitted, n) != 0)
                break;                  /* again on the next pass */
            submitted += n;
        }
        if (t - last_poll >= 200 && ch.cont_at == 0) {
            last_poll = t;
            got = cmd_int(&ch, "LLEN %s", REPLY_LIST);
            if (submitted == cfg->tasks && ch.next_ev == ch.nev && got >= cfg->tasks &&
                !frozen(&ch) && quiet(&ch))
                break;
        }
        nap_ms(5);
    }
    if (rh_mono_ms() >= deadline)
        fprintf(stderr, "chaos: deadline: submitted=%d replies=%lld events=%d/%d frozen=%d "
                "quiet=%d\n", submitted, got, ch.next_ev, ch.nev, frozen(&ch),
                ch.cont_at ? -1 : quiet(&ch));
    if (rh_mono_ms() >= deadline && ch.cont_at == 0 && conn(&ch) && (res->stuck = held(&ch)))
        th_sh("for k in $(%s -p %d --scan --pattern 'rhai:processing:*') "
              "$(%s -p %d --scan --pattern 'rhai:queue:*'); do echo \"chaos: $k: "
              "$(%s -p %d lrange $k 0 9 | tr '\\n' ' ')\" >&2; done", TH_REDIS_CLI_PATH,
              ch.redis.port, TH_REDIS_CLI_PATH, ch.redis.port, TH_REDIS_CLI_PATH,
              ch.redis.port);
    while (pg_restart_due(&ch) && rh_mono_ms() < deadline + 30000)
        nap_ms(20);                     /* never leave postgres down */
    readonly_end(&ch);                  /* never leave the data dir read-only */
    ch.ro_pending = 0;
    if (ch.cont_at) {                   /* never leave Redis frozen */
        kill(ch.redis.pid, SIGCONT);
        ch.cont_at = 0;
    }
    for (int i = 0; i < cfg->instances; i++)
        if (ch.inst[i].cont_at && ch.inst[i].pid > 0)
            kill(ch.inst[i].pid, SIGCONT);
    res->ms = elapsed(&ch);
    reap_unexpected(&ch);
    verify(&ch);
    if (cfg->effects)
        effects(&ch);
    for (int i = 0; i < cfg->instances; i++)
        if (ch.inst[i].pid > 0) {
            int st = th_stop(ch.inst[i].pid, 15000);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "chaos: rhaid pid %d stopped with status 0x%x\n",
                        (int)ch.inst[i].pid, st);
                res->unexpected_exits++;
            }
        }
    if (ch.c)
        redisFree(ch.c);
    res->recovered = count_recovered(&ch, &res->ro_retries);
    for (int k = 0; k < CONTEXTS; k++)
        increments += res->counter[k] > 0 ? res->counter[k] : 0;
    printf("chaos variant=%s tasks=%d submitted=%d instances=%d kills=%d "
           "exec_kill_rounds=%d executors_killed=%d redis_restarts=%d redis_stops=%d "
           "instance_stops=%d pg_restarts=%d readonly_windows=%d replies=%d lost=%d duplicated=%d "
           "wrong=%d done=%d crashed=%d readonly_retries=%d readonly_failed=%d "
           "readonly_outside=%d other=%d "
           "redelivered=%d recovered=%d stuck=%d unexpected_exits=%d "
           "effects=%s increments=%ld effect_rows=%ld effects_lost=%d "
           "effects_duplicated=%d counter_mismatch=%d effects_unread=%d "
           "crashed_committed=%d failed_committed=%d seconds=%.1f seed=%u\n",
           cfg->name, cfg->tasks, submitted, cfg->instances, res->kills, res->exec_kills,
           res->executors_killed, res->redis_restarts, res->redis_stops, res->inst_stops,
           res->pg_restarts, res->ro_windows, res->replies, res->lost, res->duplicated, res->wrong, res->done,
           res->crashed, res->ro_retries, res->ro_failed, res->ro_outside, res->other,
           res->redelivered,
           res->recovered, res->stuck, res->unexpected_exits,
           cfg->effects ? "on" : "off", increments, res->rows, res->effects_lost,
           res->effects_dup, res->counter_off, res->effects_unread, res->crashed_committed,
           res->failed_committed, (double)res->ms / 1000.0, cfg->seed);
    fflush(stdout);
    if (res->lost || res->duplicated || res->unexpected_exits || res->wrong || res->stuck ||
        res->effects_lost || res->effects_dup || res->counter_off || res->ro_outside ||
        res->effects_unread ||
        res->failed_committed || res->ro_probe_writable ||
        env_int("CHAOS_KEEP", 0)) {
        th_redis_stop_keep(&ch.redis);  /* keep the logs for a post mortem */
        fprintf(stderr, "chaos: logs kept in %s\n", ch.redis.dir);
    } else {
        th_redis_stop(&ch.redis);
    }
    rh_free(ch.ev);
    rh_free(ch.seen);
    rh_free(ch.final);
    rh_free(ch.applied);
}

