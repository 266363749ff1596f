/* heartbeat.c -- the heartbeat of one rhaid instance and what rides on
 * it each tick: its registration (heartbeat hash, instance set, registry),
 * the queue's depth and age, the pause check and the dead-letter trim, and
 * the recovery of dead instances. instance.c calls wk_heartbeat from its
 * tick, on connect, after the split guard and when a drain starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "rhai/version.h"
#include "store/store.h"

/* ======================== heartbeat and recovery ======================== */

/* The answer of one worker id's recovery (priv: that worker id, new):
 * the instances it recovered leave the registry, a command of its own
 * (rhai:workers is in no worker id's slot). */
static void on_recover(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    char *worker = priv;
    wk_worker *w = ac ? ((wk_conn *)rh_aconn_data(ac))->data : NULL;
    char member[RH_KEY_MAX];

    if (w && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3) {
        wk_metrics_recovery(w->metrics, reply->element[0]->integer,
                            reply->element[1]->integer, reply->element[2]->integer);
        if (reply->element[0]->integer > 0)
            rh_log(RH_LOG_NOTICE, "event=recovered worker=%s dead_instances=%lld requeued=%lld "
                   "failed=%lld", worker, reply->element[0]->integer,
                   reply->element[1]->integer, reply->element[2]->integer);
        for (size_t i = 3; i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING)
                wk_conn_cmd(&w->cmd, NULL, NULL, "SREM %s %s", w->k_workers,
                            rh_key_member(member, worker, reply->element[i]->str));
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        rh_log(RH_LOG_ERROR, "event=recover_failed worker=%s reason=\"%s\"", worker,
               RH_LOG_Q(reply->str));
    }
    rh_free(worker);
}

/* One recovery script for worker id 'worker' with the registry's
 * instance names of it. */
static void recover_send(wk_worker *w, const char *worker, const char *const *names, size_t n)
{
    rh_recover_cmd c;
    char *priv = rh_strdup(worker);

    if (priv == NULL)
        return;
    rh_recover_argv(&c, w->cfg->prefix, worker, rh_now_ms(), (long long)w->cfg->max_attempts,
                    (long long)w->cfg->result_ttl_ms, w->k_events,
                    strcmp(worker, w->cfg->worker_id) == 0 ? w->cfg->instance : "",
                    (long long)w->cfg->task_index_max, names, n);
    if (wk_conn_argv(&w->cmd, on_recover, priv, c.argc, c.argv, c.lens) != 0)
        rh_free(priv);
}

/* The registry's members, grouped by worker id: one recovery script per
 * worker id (ours always), each in its worker id's slot. */
static void on_registry(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    char wi[RH_NAME_MAX + 1], wj[RH_NAME_MAX + 1];
    const char *names[60];
    int ours = 0;
    (void)ac;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || w->stopping)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        size_t n = 0;
        int first = 1;
        if (reply->element[i]->type != REDIS_REPLY_STRING ||
            rh_member_worker(reply->element[i]->str, wi) != 0)
            continue;
        for (size_t k = 0; k < i && first; k++)     /* grouped once, at its first member */
            if (reply->element[k]->type == REDIS_REPLY_STRING &&
                rh_member_worker(reply->element[k]->str, wj) == 0 && strcmp(wi, wj) == 0)
                first = 0;
        if (!first)
            continue;
        for (size_t k = i; k < reply->elements && n < 60; k++)
            if (reply->element[k]->type == REDIS_REPLY_STRING &&
                rh_member_worker(reply->element[k]->str, wj) == 0 && strcmp(wi, wj) == 0)
                names[n++] = reply->element[k]->str + strlen(wi) + 3;   /* after {W}: */
        ours |= strcmp(wi, w->cfg->worker_id) == 0;
        recover_send(w, wi, names, n);
    }
    if (!ours)
        recover_send(w, w->cfg->worker_id, NULL, 0);
}

static void on_depth(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        w->queue_depth = (long)reply->integer;
}

/* The created_at of the task next in the queue: its age. */
static void on_oldest_created(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_STRING)
        wk_metrics_oldest(w->metrics, rh_now_ms() - atoll(reply->str));
}

/* The task next in the queue (its right end: BLMOVE RIGHT, recovery
 * RPUSH), or none. The task hash is read in a second command: it lives in
 * its own hash slot, not the queue's. */
static void on_oldest(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    char key[RH_KEY_MAX];
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_NIL)
        wk_metrics_oldest(w->metrics, 0);
    else if (reply && reply->type == REDIS_REPLY_STRING && rh_name_valid(reply->str))
        wk_conn_cmd(&w->cmd, on_oldest_created, w, "HGET %s created_at",
                    rh_key_task(key, w->cfg->prefix, w->cfg->worker_id, reply->str));
}

/* ======================== pause and the dead-letter trim ======================== */

static void on_pause_check(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_INTEGER && !w->stopping)
        wk_pause_set(w, reply->integer > 0);
}

static void pause_check(wk_worker *w)
{
    if (w->cmd.up && !w->stopping)
        wk_conn_cmd(&w->cmd, on_pause_check, w, "EXISTS %s", w->k_paused);
}

static void on_pause_poll(uv_timer_t *t)
{
    pause_check(t->data);
}

void wk_pause_set(wk_worker *w, int paused)
{
    if (w->stopping || paused == w->paused)
        return;
    w->paused = paused;
    wk_metrics_paused(w->metrics, paused);
    if (paused) {
        rh_log(RH_LOG_NOTICE, "event=paused worker=%s taking nothing new until resumed",
               w->cfg->worker_id);
        uv_timer_start(&w->pause_poll, on_pause_poll, WK_PAUSE_POLL_MS, WK_PAUSE_POLL_MS);
    } else {
        rh_log(RH_LOG_NOTICE, "event=resumed worker=%s", w->cfg->worker_id);
        uv_timer_stop(&w->pause_poll);
        wk_pump(w);
    }
}

static void on_dead_trim(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    (void)ac;
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        rh_log(RH_LOG_INFO, "event=dead_trimmed count=%lld", reply->integer);
    else if (reply && reply->type == REDIS_REPLY_ERROR)
        rh_log(RH_LOG_WARN, "event=dead_trim_failed reason=\"%s\"", RH_LOG_Q(reply->str));
}

/* The dead-letter set kept within dead_max and dead_max_age_ms. */
static void dead_trim(wk_worker *w)
{
    char now[24], max[24], age[24], ttl[24], batch[16];

    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(max, sizeof max, "%lld", (long long)w->cfg->dead_max);
    snprintf(age, sizeof age, "%lld", (long long)w->cfg->dead_max_age_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->result_ttl_ms);
    snprintf(batch, sizeof batch, "%d", WK_DEAD_TRIM_BATCH);
    wk_conn_cmd(&w->cmd, on_dead_trim, w, "EVAL %s 1 %s %s %s %s %s %s %s", wk_lua_dead_trim,
                w->k_dead, w->cfg->prefix, now, max, age, ttl, batch);
}

/* ======================== heartbeat ======================== */

void wk_heartbeat(wk_worker *w)
{
    char pid[16], started[24], conc[16], busy[16], done[24], failed[24], now[24], ttl[24];
    char rate[32];
    wk_conn *c = &w->cmd;

    /* Not published before the split guard passed: a refused instance
     * must not appear to the others. */
    if (!w->cmd.up || w->final_sent || w->guard_wait)
        return;
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(started, sizeof started, "%lld", (long long)w->started_at);
    snprintf(conc, sizeof conc, "%d", w->pool.n);
    snprintf(busy, sizeof busy, "%d", w->pool.busy);
    snprintf(done, sizeof done, "%llu", (unsigned long long)w->done);
    snprintf(failed, sizeof failed, "%llu", (unsigned long long)w->failed);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->heartbeat_ttl_ms);
    snprintf(rate, sizeof rate, "%.1f", w->rate);
    wk_conn_cmd(c, NULL, NULL,
                "HSET %s worker_id %s instance %s pid %s host %s started_at %s "
                "concurrency %s busy %s done %s failed %s version %s heartbeat_at %s "
                "draining %d tasks_per_s %s store %s backend %s data_id %s data_dir %s "
                "protocol %d",
                w->k_worker, w->cfg->worker_id, w->cfg->instance, pid, w->host, started,
                conc, busy, done, failed, RHAI_VERSION_STRING, now, w->draining, rate,
                wk_store_state(w), store_backend_name(w->st), w->data_id, w->store_where,
                RH_PROTOCOL_VERSION);
    wk_conn_cmd(c, NULL, NULL, "PEXPIRE %s %s", w->k_worker, ttl);
    /* W's instance set (recovery's, in W's slot) and the registry (the
     * worker ids there are: global, a command of its own) */
    wk_conn_cmd(c, NULL, NULL, "SADD %s %s", w->k_instances, w->cfg->instance);
    wk_conn_cmd(c, NULL, NULL, "SADD %s %s", w->k_workers, w->member);
    wk_conn_cmd(c, on_depth, w, "LLEN %s", w->k_queue);
    pause_check(w);
    dead_trim(w);
    if (w->metrics)
        wk_conn_cmd(c, on_oldest, w, "LINDEX %s -1", w->k_queue);
    /* Recovery takes a missing heartbeat for a dead instance. That holds
     * only once the others had a whole TTL of reachable Redis to beat in:
     * after Redis came back (or we did), every heartbeat may have expired
     * while it was down, and live instances reconnect within a quarter
     * TTL (reconnect backoff) and beat at once. So recover only after our
     * own connection has been up for heartbeat_ttl_ms. */
    if (rh_mono_ms() - w->cmd_up_at < w->cfg->heartbeat_ttl_ms)
        return;
    wk_conn_cmd(c, on_registry, w, "SMEMBERS %s", w->k_workers);
}
