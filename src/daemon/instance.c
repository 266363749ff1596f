/* instance.c -- one rhaid instance: its Redis connections, the sqlite
 * split guard, the periodic tick, drain and stop, signals, and the entry
 * point. The heartbeat and the recovery of dead instances are in
 * heartbeat.c; the life of each task is in worker.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "rhai/version.h"
#include "store/store.h"

/* ======================== connections ======================== */

static void on_scan(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    w->scanning = 0;
    if (reply == NULL)
        return;                       /* connection lost: read again on reconnect */
    if (reply->type != REDIS_REPLY_ARRAY) {
        /* Refused (LOADING just after a Redis restart, OOM): an id moved
         * into our list by a take whose reply was lost would stay there
         * for good, as recovery only empties dead instances' lists. Taking
         * waits until the list was read; the tick asks again. */
        wk_log_refused(w, "retake_failed", reply->type == REDIS_REPLY_ERROR ? reply->str :
                       "unexpected reply", "retrying each tick");
        return;
    }
    if (reply->elements)
        rh_log(RH_LOG_NOTICE, "event=retake count=%zu ids in our processing list",
               reply->elements);
    for (size_t i = reply->elements; i-- > 0;)           /* oldest first */
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            wk_take_id(w, reply->element[i]->str, reply->element[i]->len);
    w->scanned = 1;
    wk_pump(w);
}

/* Re-read our processing list once both connections are up, unless done
 * since the last (re)connect or on its way. */
static void scan_send(wk_worker *w)
{
    if (w->scanned || w->scanning || w->draining || w->guard_wait || !w->cmd.up || !w->pop.up)
        return;
    if (wk_conn_cmd(&w->cmd, on_scan, w, "LRANGE %s 0 -1", w->k_proc) == 0)
        w->scanning = 1;
}

static void stop_everything(wk_worker *w);

/* ======================== the sqlite split guard ======================== */

/* The live instances of our worker id but us that publish a store: for
 * each, instance, backend, data_id, host, data_dir (5 strings). Old
 * instances, which publish none, are not listed. */
/* KEYS[1] rhai:instances:{W}; ARGV[1] prefix, ARGV[2] our instance name.
 * Derives each instance's heartbeat hash (tagged {W}). */
static const char lua_guard[] =
    RH_LUA_KEYS
    "local w, out = tag(KEYS[1]), {}\n"
    "for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if m ~= ARGV[2] then\n"
    "    local h = redis.call('HMGET', k_worker(ARGV[1], w, m), 'backend', 'data_id',\n"
    "                         'host', 'data_dir')\n"
    "    if h[1] then\n"
    "      for _, v in ipairs({m, h[1], h[2] or '', h[3] or '',\n"
    "                          h[4] or ''}) do table.insert(out, v) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

static void guard_passed(wk_worker *w)
{
    w->guard_wait = 0;                /* beating and taking start now */
    wk_heartbeat(w);
    scan_send(w);
    wk_pump(w);
}

/* With the sqlite store, every instance of one worker id must use one
 * data dir (one data id), or a context's data splits between them (issue
 * 17: a task finds its context on one host and not on the other). The
 * first instance to start wins; a later one that would split refuses to
 * start, naming both and the fix. Postgres instances share one database
 * and never trip it; a sqlite and a postgres instance of one worker id do
 * (their data splits as well). */
static void on_guard(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    int postgres = w->pool.postgres;
    (void)ac;

    w->guard_sent = 0;
    if (reply == NULL || w->stopping)
        return;                       /* lost: sent again on reconnect */
    if (reply->type != REDIS_REPLY_ARRAY) {
        wk_log_refused(w, "guard_failed", reply->type == REDIS_REPLY_ERROR ? reply->str :
                       "unexpected reply", "retrying each tick");
        return;
    }
    for (size_t i = 0; i + 4 < reply->elements; i += 5) {
        const char *v[5];
        int split;
        for (int k = 0; k < 5; k++)
            v[k] = reply->element[i + k]->type == REDIS_REPLY_STRING
                   ? reply->element[i + k]->str : "";
        split = postgres ? strcmp(v[1], "sqlite") == 0
                         : strcmp(v[1], "sqlite") != 0 || strcmp(v[2], w->data_id) != 0;
        if (!split)
            continue;
        {
            char q[1600], msg[1500];
            snprintf(msg, sizeof msg, "worker id %s: instance %s on host %s keeps its data in "
                     "%s %.300s, this one (host %s) in %s %.300s: with the sqlite store their contexts "
                     "would split (a task sees its data on one of them only). Give every "
                     "instance of a worker id one shared postgres store (data_url = "
                     "postgres://...), or give them distinct worker ids", w->cfg->worker_id,
                     v[0], v[3], v[1], v[4], w->host, store_backend_name(w->st),
                     w->store_where);
            rh_log(RH_LOG_ERROR, "event=data_split other=%s other_host=%s other_data_id=%s "
                   "data_id=%s reason=\"%s\" rhaid exits 2", v[0], v[3], v[2],
                   w->data_id[0] ? w->data_id : "-", rh_log_quote(q, sizeof q, msg, 1500));
        }
        w->exit_code = 2;
        stop_everything(w);
        return;
    }
    guard_passed(w);
}

static void guard_send(wk_worker *w)
{
    if (!w->guard_wait || w->guard_sent || !w->cmd.up || w->stopping)
        return;
    if (wk_conn_cmd(&w->cmd, on_guard, w, "EVAL %s 1 %s %s %s", lua_guard, w->k_instances,
                    w->cfg->prefix, w->cfg->instance) == 0)
        w->guard_sent = 1;
}

/* /readyz and rhai_redis_up follow connections and drain at once. */
static void ready_update(wk_worker *w)
{
    wk_metrics_ready(w->metrics, w->cmd.up && (w->pop.up || w->draining), w->draining);
}

static void on_conn_up(wk_conn *c, void *data)
{
    wk_worker *w = data;
    ready_update(w);
    if (w->cmd.up && w->pop.up && !w->ready_sent) {
        w->ready_sent = 1;
        wk_notify("READY=1\nSTATUS=serving worker id %s", w->cfg->worker_id);
    }
    if (c == &w->cmd) {
        w->cmd_up_at = rh_mono_ms();
        wk_scripts_load(w);
        for (wk_job *j = w->jobs; j; j = j->next)
            if (j->state == WK_JOB_FINISHING)
                wk_finish_send(j);
        guard_send(w);
        wk_heartbeat(w);
    }
    scan_send(w);
    wk_pump(w);
}

static void on_conn_down(wk_conn *c, void *data)
{
    wk_worker *w = data;
    (void)c;
    ready_update(w);
    w->scanned = 0;                   /* a reply may have been lost: re-read */
    if (c == &w->pop)
        w->popping = w->taking = 0;   /* their callbacks already ran with NULL */
    for (wk_job *j = w->jobs; j; j = j->next)
        if (c == &w->cmd)
            j->sent = 0;
}

/* ======================== the tick ======================== */

void wk_log_refused(wk_worker *w, const char *event, const char *reason, const char *then)
{
    uint64_t held;

    if (rh_log_limit_pass(&w->refused, event, rh_mono_ms(), WK_REFUSED_LOG_MS, &held))
        rh_log(RH_LOG_ERROR, "event=%s reason=\"%s\" %s held_back=%llu", event,
               RH_LOG_Q(reason), then, (unsigned long long)held);
}

/* Running tasks a client asked to cancel (rhai_cancel on a running task
 * sets cancel_requested), and claimed ones still waiting here for an
 * executor (the prefetch), which are answered without running. The job is
 * looked up by id in the callback: it may have finished and been freed
 * meanwhile. */
static void on_cancel_check(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    char *id = priv;
    wk_worker *w = ac ? ((wk_conn *)rh_aconn_data(ac))->data : NULL;
    wk_job *j = NULL;

    if (w && reply && reply->type == REDIS_REPLY_STRING)
        j = wk_job_find(w, id, strlen(id));
    if (j && j->state == WK_JOB_RUNNING) {
        rh_log(RH_LOG_NOTICE, "event=task_cancel task=%s killing its executor", id);
        j->cancelled = 1;
        wk_pool_cancel(&w->pool, j, "cancelled by client while running");
    } else if (j && j->state == WK_JOB_READY) {
        rh_log(RH_LOG_NOTICE, "event=task_cancel task=%s before it ran", id);
        wk_job_cancel_ready(j);
    }
    rh_free(id);
}

static void check_cancels(wk_worker *w)
{
    char key[RH_KEY_MAX];
    if (!w->cmd.up)
        return;
    for (wk_job *j = w->jobs; j; j = j->next) {
        char *id;
        if ((j->state != WK_JOB_RUNNING && j->state != WK_JOB_READY) ||
            (id = rh_strdup(j->id)) == NULL)
            continue;
        if (wk_conn_cmd(&w->cmd, on_cancel_check, id, "HGET %s cancel_requested",
                        rh_key_task(key, w->cfg->prefix, w->cfg->worker_id, j->id)) != 0)
            rh_free(id);
    }
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    wk_notify("WATCHDOG=1");
}

/* tasks/s over roughly the last 10 heartbeats (exponential average) */
static void rate_update(wk_worker *w)
{
    int64_t now = rh_mono_ms();
    uint64_t n = w->done + w->failed;
    if (w->rate_at > 0 && now > w->rate_at) {
        double inst = (double)(n - w->rate_last) * 1000.0 / (double)(now - w->rate_at);
        w->rate = w->rate * 0.9 + inst * 0.1;
    }
    w->rate_last = n;
    w->rate_at = now;
}

/* Claims and finishes Redis refused are sent again, oldest first. */
static void retry_refused(wk_worker *w)
{
    for (wk_job *j = w->jobs, *next; j && w->cmd.up; j = next) {
        next = j->next;               /* claim_send may free j */
        if (!j->retry)
            continue;
        j->retry = 0;
        if (j->state == WK_JOB_CLAIMING)
            wk_claim_send(j);
        else if (j->state == WK_JOB_FINISHING && j->rebuild)
            wk_job_rebuild(j);
        else if (j->state == WK_JOB_FINISHING)
            wk_finish_send(j);
    }
}

static void on_tick(uv_timer_t *t)
{
    wk_worker *w = t->data;
    rate_update(w);
    wk_store_probe(w);
    guard_send(w);                    /* refused by Redis: again */
    wk_heartbeat(w);
    retry_refused(w);
    scan_send(w);                     /* refused after a reconnect: again */
    w->pop_paused = 0;
    check_cancels(w);
    wk_metrics_state(w->metrics, w->pool.busy, w->pool.n, w->queue_depth,
                     w->cmd.up && (w->pop.up || w->draining), w->pool.restarts,
                     wk_conn_reconnects(&w->cmd) + wk_conn_reconnects(&w->pop));
    ready_update(w);
    if (w->ready_sent)
        wk_notify("STATUS=worker %s: %d/%d busy, %llu done, %llu failed%s%s",
                  w->cfg->worker_id, w->pool.busy, w->pool.n, (unsigned long long)w->done,
                  (unsigned long long)w->failed, w->cmd.up ? "" : ", redis unreachable",
                  w->draining ? ", draining" : "");
    wk_pool_maintain(&w->pool);
    wk_pump(w);
}

/* ======================== drain and stop ======================== */

/* Nothing to do when handles close: uv_run returns once all are closed. */
static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void stop_everything(wk_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    rh_log(RH_LOG_NOTICE, "event=stopped done=%llu failed=%llu pending=%d",
           (unsigned long long)w->done, (unsigned long long)w->failed, w->njobs);
    wk_metrics_stop(w->metrics);
    w->metrics = NULL;
    wk_pool_close(&w->pool, NULL);
    wk_conn_close(&w->pop);
    wk_conn_close(&w->cmd);
    wk_cron_stop(w);
    uv_close((uv_handle_t *)&w->tick, on_handle_closed);
    uv_close((uv_handle_t *)&w->grace, on_handle_closed);
    uv_close((uv_handle_t *)&w->watchdog, on_handle_closed);
    uv_close((uv_handle_t *)&w->later, on_handle_closed);
    uv_close((uv_handle_t *)&w->start_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->pause_poll, on_handle_closed);
    uv_close((uv_handle_t *)&w->fin_flush, on_handle_closed);
    wk_delay_close(w, on_handle_closed);
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&w->sig[i], on_handle_closed);
}

static void on_final(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply == NULL) {             /* lost: try again when reconnected */
        w->final_sent = 0;
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        rh_log(RH_LOG_NOTICE, "event=requeued count=%lld tasks given back", reply->integer);
    stop_everything(w);
}

/* Drained when nothing runs and every finish is acknowledged; then give
 * back what we hold and leave the registry in one round trip. */
void wk_drain_check(wk_worker *w)
{
    if (!w->draining || w->final_sent || w->stopping)
        return;
    if (!w->cmd.up) {
        /* Redis unreachable and nothing held here: nothing to wait for
         * (ids a lost reply left in our processing list are recovered by
         * other instances once our heartbeat expires). */
        if (w->njobs == 0)
            stop_everything(w);
        return;
    }
    for (wk_job *j = w->jobs; j; j = j->next)
        if (j->state == WK_JOB_RUNNING || j->state == WK_JOB_FINISHING ||
            j->state == WK_JOB_CLAIMING)
            return;
    /* READY jobs never started: the requeue puts them back. */
    while (w->jobs)
        wk_job_free(w->jobs);
    /* The connection is up (checked above) and nothing runs between these
     * sends: all five are queued, or the first already fails. */
    if (wk_conn_cmd(&w->cmd, NULL, NULL, "MULTI") != 0)
        return;
    wk_conn_cmd(&w->cmd, NULL, NULL, "EVAL %s 2 %s %s %s", wk_lua_requeue, w->k_proc,
                w->k_queue, w->cfg->prefix);
    wk_conn_cmd(&w->cmd, NULL, NULL, "DEL %s", w->k_worker);
    wk_conn_cmd(&w->cmd, NULL, NULL, "SREM %s %s", w->k_instances, w->cfg->instance);
    if (wk_conn_cmd(&w->cmd, on_final, w, "EXEC") == 0)
        w->final_sent = 1;
    /* the registry is in no slot of ours: outside the MULTI, in the same
     * write (a member left behind is taken out by the next recovery) */
    wk_conn_cmd(&w->cmd, NULL, NULL, "SREM %s %s", w->k_workers, w->member);
}

static void on_grace(uv_timer_t *t)
{
    wk_worker *w = t->data;
    int running = wk_count_jobs(w, WK_JOB_RUNNING);
    if (w->final_sent && w->cmd.up)
        return;
    if (running) {
        rh_log(RH_LOG_WARN, "event=grace_expired running=%d killing and requeueing", running);
        wk_pool_kill_busy(&w->pool);
    }
    if (!w->cmd.up || wk_count_jobs(w, WK_JOB_FINISHING)) {
        rh_log(RH_LOG_ERROR, "event=grace_expired reason=\"redis unreachable\" held tasks are "
               "recovered by other instances after heartbeat_ttl_ms");
        stop_everything(w);
        return;
    }
    for (wk_job *j = w->jobs; j; j = j->next)
        if (j->state == WK_JOB_CLAIMING)
            j->state = WK_JOB_READY;     /* their ids are requeued with the rest */
    wk_drain_check(w);
}

static void start_drain(wk_worker *w, const char *why)
{
    if (w->draining)
        return;
    w->draining = 1;
    ready_update(w);
    wk_notify("STOPPING=1\nSTATUS=draining (%s)", why);
    rh_log(RH_LOG_NOTICE, "event=draining reason=%s running=%d grace_ms=%lld", why,
           wk_count_jobs(w, WK_JOB_RUNNING), (long long)w->cfg->grace_ms);
    wk_conn_close(&w->pop);           /* a taken id whose reply is lost is requeued */
    uv_timer_start(&w->grace, on_grace, (uint64_t)w->cfg->grace_ms, 0);
    wk_heartbeat(w);
    wk_drain_check(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
    wk_worker *w = s->data;
    if (signum == SIGHUP) {
        /* file < environment < the flags we were started with, again */
        char changed[512], restart[512];
        rhai_error err;
        if (wk_config_reload(w->cfg, changed, sizeof changed, restart, sizeof restart,
                             &err) != 0) {
            rh_log(RH_LOG_ERROR, "event=reload_failed reason=\"%s\" keeping the old config",
                   RH_LOG_Q(err.msg));
        } else {
            rh_log_level = w->cfg->log_level;
            /* a key that needs a restart keeps its old value: say so loudly */
            rh_log(restart[0] ? RH_LOG_WARN : RH_LOG_NOTICE,
                   "event=config_reload file=%s changed=%s restart_needed=%s%s",
                   w->cfg->config_file ? w->cfg->config_file : "-",
                   changed[0] ? changed : "-", restart[0] ? restart : "-",
                   restart[0] ? " these keep their old value until rhaid restarts" : "");
        }
        return;
    }
    if (w->draining && signum == SIGINT) {
        rh_log(RH_LOG_WARN, "event=second_interrupt stopping now");
        on_grace(&w->grace);
        return;
    }
    start_drain(w, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ======================== main ======================== */

/* Say why rhaid cannot start and give its exit status: 2 when a setting
 * names what cannot be (RHAI_EINVAL: no such user, a malformed address),
 * which a restart cannot fix (the unit's RestartPreventExitStatus=2); 1
 * otherwise (a port in use, a data dir not reachable yet), which it may. */
static int start_failed(const rhai_error *err)
{
    char q[600];

    rh_log(RH_LOG_ERROR, "event=start_failed reason=\"%s\" rhaid exits %d",
           rh_log_quote(q, sizeof q, err->msg, 500), err->code == RHAI_EINVAL ? 2 : 1);
    return err->code == RHAI_EINVAL ? 2 : 1;
}

int wk_worker_run(wk_config *cfg, const char *unused)
{
    wk_worker w;
    rhai_error err;
    char safe[512], suffix[40];
    const int signals[3] = { SIGTERM, SIGINT, SIGHUP };
    int rc;
    int64_t backoff;
    rh_redis_cfg rcfg;
    int cluster = 0;
    (void)unused;

    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.loop = uv_default_loop();
    w.started_at = rh_now_ms();
    if (gethostname(w.host, sizeof w.host - 1) != 0)
        strcpy(w.host, "unknown");
    rh_id_generate(suffix);
    suffix[8] = '\0';
    cfg->instance = rh_sprintf("%.60s-%d-%s", w.host, (int)getpid(), suffix);
    if (cfg->instance == NULL)
        return 1;
    for (char *p = cfg->instance; *p; p++) {      /* hostnames may hold anything */
        char one[2] = { *p, '\0' };
        if (!rh_name_valid(one))
            *p = '_';
    }
    rh_key_member(w.member, cfg->worker_id, cfg->instance);
    rh_key_queue(w.k_queue, cfg->prefix, cfg->worker_id);
    rh_key_processing(w.k_proc, cfg->prefix, cfg->worker_id, cfg->instance);
    rh_key_worker(w.k_worker, cfg->prefix, cfg->worker_id, cfg->instance);
    rh_key_workers(w.k_workers, cfg->prefix);
    rh_key_events(w.k_events, cfg->prefix);
    rh_key_tasks(w.k_index, cfg->prefix, cfg->worker_id);
    rh_key_instances(w.k_instances, cfg->prefix, cfg->worker_id);
    rh_key_dead(w.k_dead, cfg->prefix, cfg->worker_id);
    rh_key_paused(w.k_paused, cfg->prefix, cfg->worker_id);
    rh_key_reply_base(w.reply_prefix, cfg->prefix, cfg->worker_id);

    rh_sigpipe_ignore();
    /* Redis at start: a certificate that is not verified (a wrong CA, an
     * expired certificate) does not fix itself, so rhaid exits 5 now;
     * Redis unreachable is waited for, as before */
    if ((rc = wk_redis_probe(cfg, &rcfg, &cluster, &err)) == RHAI_ETLS || rc == RHAI_EINVAL) {
        char q[600];
        if (rc == RHAI_EINVAL)
            return start_failed(&err);
        rh_log(RH_LOG_ERROR, "event=redis_tls_failed reason=\"%s\" rhaid exits 5: fix "
               "tls_ca, tls_cert, tls_key or tls_sni (docs/operations.md, Redis over TLS)",
               rh_log_quote(q, sizeof q, err.msg, 500));
        return 5;
    } else if (rc != 0) {
        char q[600];
        rh_log(RH_LOG_WARN, "event=redis_probe_failed reason=\"%s\" starting anyway: "
               "connecting with backoff", rh_log_quote(q, sizeof q, err.msg, 500));
    }
    if (rcfg.url.tls && rcfg.url.tls_noverify)
        rh_log(RH_LOG_WARN, "event=tls_unverified the Redis server's certificate is not "
               "checked (verify=no, tls_verify no): anyone on the path can read and change "
               "the traffic; for tests only (docs/operations.md, Redis over TLS)");
    /* the loop ticks every heartbeat_ms: stalled after 3 missed, 10 s at least */
    if (wk_metrics_start(&w.metrics, cfg->metrics_listen, cfg->worker_id, cfg->instance,
                         (uint64_t)(cfg->heartbeat_ms * 3 > 10000 ? cfg->heartbeat_ms * 3
                                                                  : 10000),
                         &err) != 0)
        return start_failed(&err);
    if ((rc = wk_pool_init(&w.pool, w.loop, cfg, wk_on_run, &w, &err)) != 0) {
        wk_metrics_stop(w.metrics);
        return start_failed(&err);
    }
    w.pool.ready_cb = wk_on_pool_ready;
    w.pool.back_cb = wk_on_pool_back;
    w.pool.start_cb = wk_on_pool_start;
    /* A live instance must be back before its heartbeat expires: the
     * backoff never waits more than a quarter of the TTL. */
    backoff = cfg->reconnect_max_ms < cfg->heartbeat_ttl_ms / 4 ? cfg->reconnect_max_ms
                                                                 : cfg->heartbeat_ttl_ms / 4;
    if ((rc = wk_store_open(&w, &err)) != 0) {   /* executors die with us (PDEATHSIG) */
        wk_metrics_stop(w.metrics);
        wk_store_close(&w);
        return start_failed(&err);
    }
    if (w.pool.postgres)
        snprintf(w.store_where, sizeof w.store_where, "%s", store_where(w.st));
    else
        snprintf(w.store_where, sizeof w.store_where, "%s", w.pool.user.data_dir);
    if (wk_conn_init(&w.pop, w.loop, &rcfg, cfg->worker_id, "pop", backoff, &err) != 0 ||
        wk_conn_init(&w.cmd, w.loop, &rcfg, cfg->worker_id, "cmd", backoff, &err) != 0)
        return start_failed(&err);
    w.pop.peer = &w.cmd;
    w.cmd.peer = &w.pop;
    w.cmd.cluster = cluster;          /* "pop" runs the take scripts only: {W} */
    w.pop.on_up = w.cmd.on_up = on_conn_up;
    w.pop.on_down = w.cmd.on_down = on_conn_down;
    w.pop.data = w.cmd.data = &w;
    uv_timer_init(w.loop, &w.tick);
    uv_timer_init(w.loop, &w.grace);
    uv_timer_init(w.loop, &w.watchdog);
    uv_timer_init(w.loop, &w.later);
    uv_timer_init(w.loop, &w.start_timer);
    uv_timer_init(w.loop, &w.pause_poll);
    w.pause_poll.data = &w;
    uv_prepare_init(w.loop, &w.fin_flush);
    w.tick.data = w.grace.data = w.watchdog.data = w.fin_flush.data = &w;
    wk_delay_init(&w);                /* delayed tasks' promotion */
    if (wk_notify_watchdog_ms() > 0)
        uv_timer_start(&w.watchdog, on_watchdog, (uint64_t)wk_notify_watchdog_ms(),
                       (uint64_t)wk_notify_watchdog_ms());
    for (int i = 0; i < 3; i++) {
        uv_signal_init(w.loop, &w.sig[i]);
        w.sig[i].data = &w;
        uv_signal_start(&w.sig[i], on_signal, signals[i]);
    }
    uv_timer_start(&w.tick, on_tick, (uint64_t)cfg->heartbeat_ms, (uint64_t)cfg->heartbeat_ms);
    if (wk_cron_start(&w) != 0 || wk_relay_start(&w) != 0) {
        rh_error_set(&err, RHAI_ENOMEM, "out of memory");
        return start_failed(&err);
    }

    rh_redis_cfg_where(&rcfg, safe, sizeof safe);
    rh_log(RH_LOG_NOTICE, "event=start version=%s worker=%s instance=%s concurrency=%d redis=%s "
           "store=%s backend=%s data_id=%s", RHAI_VERSION_STRING, cfg->worker_id,
           cfg->instance, cfg->concurrency, safe, store_where(w.st), store_backend_name(w.st),
           w.data_id[0] ? w.data_id : "-");
    wk_store_probe(&w);               /* at once: a store down at start is said at start */
    w.guard_wait = 1;                 /* no beat, no take before the split guard */
    if (wk_conn_start(&w.cmd, &err) != 0 || wk_conn_start(&w.pop, &err) != 0)
        return start_failed(&err);
#ifdef RHAI_TEST_HOOKS
    {   /* test hook: the n-th allocation of the loop fails (test_daemon_oom) */
        const char *f = getenv("RHAI_TEST_ALLOC_FAIL_AFTER");
        if (f && *f)
            rh_alloc_fail_after(strtoul(f, NULL, 10));
    }
#endif

    uv_run(w.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(w.loop);
    if (rc != 0)
        rh_log(RH_LOG_WARN, "event=loop_not_closed reason=\"%s\"", uv_strerror(rc));
    wk_relay_stop(&w);
    wk_store_close(&w);
    rh_log(RH_LOG_NOTICE, "event=exit code=%d", w.exit_code);
    return w.exit_code;
}
