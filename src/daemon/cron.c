/* cron.c -- rhaid fires the cron schedules of its worker id, and checks
 * the firings it claims.
 *
 * Every instance of W polls, every WK_CRON_POLL_MS, the due members of
 * <prefix>:cron:next:{W} (ZRANGEBYSCORE -inf now), reads their definitions
 * (HMGET <prefix>:cron:{W}), computes here in C the tick after the due one
 * (common/cron.c: zone, DST), and sends one script per schedule
 * (wk_lua_cron_fire) that acts only if the zset still holds that exact due
 * tick and the hash that exact definition: it creates the firing task
 * (id cron:NAME:TICK, an ordinary task hash + LPUSH on the queue) unless it
 * exists, and moves the schedule to its next tick. Redis runs a script
 * whole or not at all, so each tick fires once across every instance, even
 * one killed mid-tick: whoever comes second finds the zset moved on.
 *
 * Missed ticks (docs/scheduling.md): ticks are fired in order; a tick more
 * than WK_CRON_CATCHUP_MS behind the clock when an instance reaches it
 * belongs to a time when no instance ran: every such tick but the most
 * recent is skipped (logged with the range), the most recent fires once,
 * and the schedule goes on from there.
 *
 * Signatures: with require_signatures, a schedule fires only when its
 * signature verifies (a signed one is checked on any worker); otherwise
 * its tick is recorded `denied` in the runs list with the reason and the
 * schedule moves on. The firing of a signed schedule carries cron_sig;
 * wk_cron_firing_check, at claim, verifies it against the task's own
 * script, args, context and caller, so a task that claims to be a firing
 * runs nothing the signer did not schedule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "common/schedule.h"

#ifndef WK_CRON_POLL_MS
#define WK_CRON_POLL_MS 250       /* how often an instance looks for due ticks */
#endif
#ifndef WK_CRON_CATCHUP_MS
#define WK_CRON_CATCHUP_MS 60000  /* older ticks than this: missed (see above) */
#endif
#define WK_CRON_BATCH 100         /* due schedules handled per round */

/* KEYS: 1 next zset, 2 cron hash, 3 runs list, 4 firing task hash, 5 queue.
 * ARGV: 1 name, 2 the due score as read, 3 next tick ('' : none, remove),
 * 4 the definition as read ('' : none), 5 mode (fire: create the task;
 * skip: do not; init: a new or resumed schedule's first tick; drop: remove
 * from the zset), 6 task id, 7 runs entry ('' : none), 8.. task fields. */
static const char lua_cron_fire[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "if not s or s ~= ARGV[2] then return 'lost' end\n"
    "if (redis.call('HGET', KEYS[2], ARGV[1]) or '') ~= ARGV[4] then return 'changed' end\n"
    "if ARGV[3] == '' or ARGV[5] == 'drop' then\n"
    "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "else\n"
    "  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])\n"
    "end\n"
    "if ARGV[5] == 'fire' and redis.call('EXISTS', KEYS[4]) == 0 then\n"
    "  redis.call('HSET', KEYS[4], unpack(ARGV, 8))\n"
    "  redis.call('LPUSH', KEYS[5], ARGV[6])\n"
    "end\n"
    "if ARGV[7] ~= '' then\n"
    "  redis.call('LPUSH', KEYS[3], ARGV[7])\n"
    "  redis.call('LTRIM', KEYS[3], 0, " "49" ")\n"
    "end\n"
    "return ARGV[5]\n";

struct wk_cron {
    wk_worker  *w;
    uv_timer_t  timer;
    int         inflight;          /* replies still due this round */
    int         again;             /* the round was full: poll again at once */
    char        k_cron[RH_KEY_MAX];
    char        k_next[RH_KEY_MAX];
    uint64_t    fired, denied, skipped;
    rh_log_limit limit;
};

static void cron_poll(wk_cron *c);

static void cron_round_done(wk_cron *c)
{
    if (--c->inflight > 0)
        return;
    c->inflight = 0;
    if (c->again) {
        c->again = 0;
        cron_poll(c);
    }
}

static void on_fire(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_cron *c = priv;
    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        rh_log(RH_LOG_ERROR, "event=cron_fire_failed reason=\"%s\"", RH_LOG_Q(reply->str));
    cron_round_done(c);
}

/* The last tick <= 'bound' of 'cr', given next(from) <= bound: the
 * largest x in [from, bound) with next(x) <= bound, by bisection. */
static int64_t cron_last_tick_before(const rh_cron *cr, const char *tz, int64_t from,
                                     int64_t bound)
{
    int64_t lo = from, hi = bound, t = 0;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (rh_cron_next(cr, tz, mid, &t, NULL) == 0 && t <= bound)
            lo = mid;
        else
            hi = mid;
    }
    if (rh_cron_next(cr, tz, lo, &t, NULL) != 0)
        return from;
    return t;
}

typedef struct fire_args {
    const char *argv[40];
    size_t lens[40];
    int argc;
} fire_args;

static void fa_push(fire_args *fa, const char *s)
{
    fa->argv[fa->argc] = s;
    fa->lens[fa->argc] = strlen(s);
    fa->argc++;
}

/* One due schedule: decide, then send the script. */
static void cron_one(wk_cron *c, const char *name, const char *score, const redisReply *def)
{
    wk_worker *w = c->w;
    const wk_config *cfg = w->cfg;
    const char *mode = "fire";
    const char *defs = def && def->type == REDIS_REPLY_STRING ? def->str : "";
    int64_t now = rh_now_ms();
    int64_t due = strtoll(score, NULL, 10), tick = due, next = 0;
    char k_runs[RH_KEY_MAX], k_task[RH_KEY_MAX], k_queue[RH_KEY_MAX];
    char s_next[24] = "", s_now[24], s_tick[24], id[RH_NAME_MAX + 1] = "";
    char *run = NULL, *sig = NULL;
    rhai_error err;
    rh_sched s;
    rh_cron cr;
    fire_args fa;

    rh_sched_init(&s);
    memset(&err, 0, sizeof err);
    if (!rh_sched_name_valid(name)) {  /* no schedule has that name: drop it, */
        c->inflight++;                 /* or it would come back every poll */
        if (wk_conn_cmd(&w->cmd, on_fire, c, "ZREM %s %s", c->k_next, name) != 0)
            c->inflight--;
        return;
    }
    if (defs[0] == '\0' ||
        rh_sched_from_json(defs, strlen(defs), &s, &err) != 0 ||
        rh_sched_validate(&s, &err) != 0 || strcmp(s.name, name) != 0 ||
        strcmp(s.worker, cfg->worker_id) != 0 || rh_cron_parse(s.cron, &cr, &err) != 0) {
        rh_log(RH_LOG_WARN, "event=cron_dropped worker=%s schedule=%s reason=\"%s\"",
               cfg->worker_id, name, RH_LOG_Q(defs[0] ? (err.msg[0] ? err.msg
                                                                : "schedule of another name or worker")
                                                     : "no definition"));
        mode = "drop";
    } else if (s.paused) {
        mode = "drop";             /* resume puts it back */
    } else if (due < 0) {          /* new or resumed: its first tick after now */
        mode = "init";
        if (rh_cron_next(&cr, s.tz, now, &next, &err) == 0)
            snprintf(s_next, sizeof s_next, "%lld", (long long)next);
    } else {
        int64_t bound = now - WK_CRON_CATCHUP_MS;
        if (rh_cron_next(&cr, s.tz, due, &next, &err) == 0 && next <= bound) {
            /* missed while no instance ran: fire the most recent missed tick */
            tick = cron_last_tick_before(&cr, s.tz, due, bound);
            rh_log(RH_LOG_WARN, "event=cron_missed worker=%s schedule=%s first=%lld last=%lld "
                   "fired=%lld missed ticks skipped; the most recent fires once",
                   cfg->worker_id, name, (long long)due, (long long)tick, (long long)tick);
            c->skipped++;
            next = 0;
            rh_cron_next(&cr, s.tz, tick, &next, &err);
        }
        if (next > 0)
            snprintf(s_next, sizeof s_next, "%lld", (long long)next);
        else
            rh_log(RH_LOG_NOTICE, "event=cron_ended worker=%s schedule=%s reason=\"%s\"",
                   cfg->worker_id, name, RH_LOG_Q(err.msg));
        rh_sched_firing_id(id, name, tick, 0);
        if ((cfg->require_signatures || (s.signature && s.signature[0])) &&
            rh_sched_verify(&s, cfg->prefix, &err) != 0) {
            mode = "skip";
            c->denied++;
            if (rh_log_limit_pass(&c->limit, name, rh_mono_ms(), 60000, NULL))
                rh_log(RH_LOG_WARN, "event=cron_denied worker=%s schedule=%s tick=%lld "
                       "reason=\"%s\" the schedule does not fire", cfg->worker_id, name,
                       (long long)tick, RH_LOG_Q(err.msg));
            run = rh_sprintf("{\"tick\":%lld,\"id\":\"%s\",\"at\":%lld,\"outcome\":\"denied\","
                             "\"reason\":\"%s\"}", (long long)tick, id, (long long)now,
                             strstr(err.msg, "unsigned") ? "unsigned schedule"
                                                         : "bad signature");
        } else {
            c->fired++;
            if (tick != due)
                run = rh_sprintf("{\"tick\":%lld,\"id\":\"%s\",\"at\":%lld,\"by\":\"%s\","
                                 "\"missed_from\":%lld}", (long long)tick, id, (long long)now,
                                 cfg->instance, (long long)due);
            else
                run = rh_sprintf("{\"tick\":%lld,\"id\":\"%s\",\"at\":%lld,\"by\":\"%s\"}",
                                 (long long)tick, id, (long long)now, cfg->instance);
            if (s.signature && s.signature[0])
                sig = rh_sched_sig_json(&s);
        }
    }
    snprintf(s_now, sizeof s_now, "%lld", (long long)now);
    snprintf(s_tick, sizeof s_tick, "%lld", (long long)tick);
    rh_key_cron_runs(k_runs, cfg->prefix, cfg->worker_id, name);
    rh_key_task(k_task, cfg->prefix, cfg->worker_id, id[0] ? id : "-");
    rh_key_queue(k_queue, cfg->prefix, cfg->worker_id);
    fa.argc = 0;
    fa_push(&fa, "EVAL");
    fa_push(&fa, lua_cron_fire);
    fa_push(&fa, "5");
    fa_push(&fa, c->k_next);
    fa_push(&fa, c->k_cron);
    fa_push(&fa, k_runs);
    fa_push(&fa, k_task);
    fa_push(&fa, k_queue);
    fa_push(&fa, name);
    fa_push(&fa, score);
    fa_push(&fa, s_next);
    fa_push(&fa, defs);
    fa_push(&fa, mode);
    fa_push(&fa, id);
    fa_push(&fa, run ? run : "");
    if (strcmp(mode, "fire") == 0) {
        static const char *const names[] = { "id", "script", "worker_id", "context_id",
                                             "caller_id", "args", "created_at", "status",
                                             "attempts", "schedule", "tick" };
        const char *vals[] = { id, s.script, s.worker, s.context, s.caller,
                               s.args ? s.args : "{}", s_now, "queued", "0", name, s_tick };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            fa_push(&fa, names[i]);
            fa_push(&fa, vals[i]);
        }
        if (sig) {
            fa_push(&fa, "cron_sig");
            fa_push(&fa, sig);
        }
    }
    c->inflight++;
    if (wk_conn_argv(&w->cmd, on_fire, c, fa.argc, fa.argv, fa.lens) != 0) {
        c->inflight--;             /* down: the zset still holds the tick */
    } else if (strcmp(mode, "fire") == 0) {
        /* the lookup hint of the firing's id (another slot: a command of
         * its own, best effort; a firing the script declined leaves a hint
         * to a task that does not exist, which lookups treat as none) */
        char k_hint[RH_KEY_MAX];
        wk_conn_cmd(&w->cmd, NULL, NULL, "SET %s %s PX %lld",
                    rh_key_taskw(k_hint, cfg->prefix, id), cfg->worker_id,
                    (long long)RH_TASKW_TTL_MS);
    }
    rh_free(run);
    rh_free(sig);
    rh_sched_clear(&s);
}

/* The due names and scores of one round, copied: hiredis frees a reply
 * when its callback returns. */
typedef struct cron_batch {
    wk_cron *c;
    size_t   n;
    char   **names;
    char   **scores;
} cron_batch;

static void batch_free(cron_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        rh_free(b->names ? b->names[i] : NULL);
        rh_free(b->scores ? b->scores[i] : NULL);
    }
    rh_free(b->names);
    rh_free(b->scores);
    rh_free(b);
}

static void on_defs(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    cron_batch *b = priv;
    wk_cron *c = b->c;
    (void)ac;

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == b->n) {
        for (size_t i = 0; i < reply->elements; i++)
            cron_one(c, b->names[i], b->scores[i], reply->element[i]);
    }
    batch_free(b);
    cron_round_done(c);
}

static void on_due(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_cron *c = priv;
    cron_batch *b;
    const char **argv = NULL;
    size_t *lens = NULL;
    size_t n;
    int ok = 0;
    (void)ac;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
        reply->elements % 2 != 0) {
        cron_round_done(c);
        return;
    }
    n = reply->elements / 2;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            cron_round_done(c);
            return;
        }
    c->again = n >= WK_CRON_BATCH;
    b = rh_calloc(1, sizeof *b);
    if (b != NULL) {
        b->c = c;
        b->names = rh_calloc(n, sizeof *b->names);
        b->scores = rh_calloc(n, sizeof *b->scores);
        argv = rh_calloc(n + 2, sizeof *argv);
        lens = rh_calloc(n + 2, sizeof *lens);
        ok = b->names && b->scores && argv && lens;
        for (size_t i = 0; ok && i < n; i++) {
            b->names[i] = rh_strdup(reply->element[2 * i]->str);
            b->scores[i] = rh_strdup(reply->element[2 * i + 1]->str);
            b->n = i + 1;
            ok = b->names[i] && b->scores[i];
        }
    }
    if (ok) {
        argv[0] = "HMGET";
        argv[1] = c->k_cron;
        for (size_t i = 0; i < n; i++)
            argv[i + 2] = b->names[i];
        for (size_t i = 0; i < n + 2; i++)
            lens[i] = strlen(argv[i]);
        ok = wk_conn_argv(&c->w->cmd, on_defs, b, (int)(n + 2), argv, lens) == 0;
    }
    rh_free(argv);
    rh_free(lens);
    if (!ok) {
        batch_free(b);
        cron_round_done(c);
    }
}

static void cron_poll(wk_cron *c)
{
    wk_worker *w = c->w;
    char now[24];
    if (c->inflight || !w->cmd.up || w->draining || w->stopping || w->guard_wait)
        return;
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    c->inflight = 1;
    if (wk_conn_cmd(&w->cmd, on_due, c, "ZRANGEBYSCORE %s -inf %s WITHSCORES LIMIT 0 %d",
                    c->k_next, now, WK_CRON_BATCH) != 0)
        c->inflight = 0;
}

static void on_cron_timer(uv_timer_t *t)
{
    cron_poll(t->data);
}

int wk_cron_start(wk_worker *w)
{
    wk_cron *c = rh_calloc(1, sizeof *c);
    if (c == NULL)
        return RHAI_ENOMEM;
    c->w = w;
    rh_key_cron(c->k_cron, w->cfg->prefix, w->cfg->worker_id);
    rh_key_cron_next(c->k_next, w->cfg->prefix, w->cfg->worker_id);
    uv_timer_init(w->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_cron_timer, WK_CRON_POLL_MS, WK_CRON_POLL_MS);
    w->cron = c;
    return 0;
}

static void on_cron_closed(uv_handle_t *h)
{
    rh_free(h->data);
}

void wk_cron_stop(wk_worker *w)
{
    if (w->cron == NULL)
        return;
    uv_close((uv_handle_t *)&w->cron->timer, on_cron_closed);
    w->cron = NULL;
}

/* ======================== the check of a firing ======================== */

int wk_cron_firing_check(const wk_config *cfg, const rh_task *t, int64_t now,
                         rhai_error *err)
{
    char want[RH_NAME_MAX + 1];
    json_t *o;
    json_error_t je;
    rh_sched s;
    rh_cron cr;
    int64_t next = 0;
    int regular, rc;

    if (t->schedule == NULL || t->schedule[0] == '\0')
        return 1;                  /* not a firing */
    if (t->cron_sig == NULL || t->cron_sig[0] == '\0') {
        if (cfg->require_signatures && (t->signature == NULL || t->signature[0] == '\0'))
            return rh_error_set(err, RHAI_EINVAL, "firing of unsigned schedule %s: this "
                                "worker requires signatures", t->schedule);
        return 1;                  /* checked as any task */
    }
    o = json_loads(t->cron_sig, 0, &je);
    if (o == NULL || !json_is_object(o) || !json_is_string(json_object_get(o, "cron")) ||
        !json_is_string(json_object_get(o, "tz")) ||
        !json_is_string(json_object_get(o, "signature")) ||
        !json_is_integer(json_object_get(o, "created_at"))) {
        json_decref(o);
        return rh_error_set(err, RHAI_EINVAL, "firing of schedule %s: cron_sig is malformed",
                            t->schedule);
    }
    rh_sched_init(&s);
    /* borrowed: not cleared with rh_sched_clear */
    s.name = t->schedule;
    s.worker = cfg->worker_id;     /* ours, not the hash's (take.c, signature_check) */
    s.context = t->context_id;
    s.caller = t->caller_id;
    s.script = t->script;
    s.args = t->args ? t->args : "{}";
    s.cron = (char *)json_string_value(json_object_get(o, "cron"));
    s.tz = (char *)json_string_value(json_object_get(o, "tz"));
    s.signature = (char *)json_string_value(json_object_get(o, "signature"));
    s.created_at = json_integer_value(json_object_get(o, "created_at"));
    rc = rh_sched_verify(&s, cfg->prefix, err);
    if (rc == 0 && (rc = rh_cron_parse(s.cron, &cr, err)) == 0) {
        rh_sched_firing_id(want, s.name, t->tick, 0);
        regular = t->id && strcmp(t->id, want) == 0;
        rh_sched_firing_id(want, s.name, t->tick, 1);
        if (!regular && !(t->id && strcmp(t->id, want) == 0))
            rc = rh_error_set(err, RHAI_EINVAL, "firing of schedule %s: task id is not "
                              "cron:%s:TICK", s.name, s.name);
        else if (t->tick - now > cfg->signature_skew_ms)
            rc = rh_error_set(err, RHAI_EINVAL, "firing of schedule %s: tick in the future",
                              s.name);
        else if (!regular && now - t->tick > cfg->signature_skew_ms)
            rc = rh_error_set(err, RHAI_EINVAL, "run-now of schedule %s: expired", s.name);
        else if (regular && (rh_cron_next(&cr, s.tz, t->tick - 1, &next, err) != 0 ||
                             next != t->tick))
            rc = rh_error_set(err, RHAI_EINVAL, "firing of schedule %s: %lld is not one of "
                              "its ticks", s.name, (long long)t->tick);
    }
    json_decref(o);
    return rc ? RHAI_EINVAL : 0;
}
