/* worker.c -- the life of a task inside rhaid, and of rhaid itself.
 *
 * take (BLMOVE on the pop connection) -> claim (Lua) -> validate -> run on
 * an executor -> finish (Lua, one round trip). Every job lives in one list
 * until its finish is acknowledged by Redis; a finish whose connection died
 * is sent again after reconnect (the script answers a task once), and ids
 * left in our processing list by a lost reply are taken again. Periodic
 * work (heartbeat, recovery of dead instances, respawning executors) runs
 * off one timer. SIGTERM drains: no new takes, running jobs get grace_ms,
 * then everything still held is put back on the queue. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "rhai/version.h"

typedef enum {
    JOB_CLAIMING,     /* claim script in flight */
    JOB_READY,        /* claimed and valid, waiting for an executor */
    JOB_RUNNING,      /* on an executor */
    JOB_FINISHING     /* finish built; sent, or waiting for a connection */
} job_state;

typedef struct wk_worker wk_worker;

struct wk_job {
    wk_worker *w;
    job_state  state;
    int        sent;            /* finish in flight on the current connection */
    int        cancelled;       /* killed on a client's request */
    int        retry;           /* Redis refused the claim or finish: resend on tick */
    rh_task    task;
    char       id[RH_NAME_MAX + 1];
    char      *reply;           /* finish: reply JSON */
    char      *event;           /* finish: event JSON */
    wk_job    *prev, *next;
};

struct wk_worker {
    uv_loop_t  *loop;
    wk_config  *cfg;
    wk_conn     pop;            /* BLMOVE only */
    wk_conn     cmd;            /* everything else, pipelined */
    wk_pool     pool;
    uv_timer_t  tick;
    uv_timer_t  grace;
    uv_timer_t  watchdog;       /* systemd WATCHDOG=1, when enabled */
    wk_metrics *metrics;
    long        queue_depth;
    int         ready_sent;
    char        sha_claim[41];  /* SCRIPT LOAD digests; "" until loaded */
    char        sha_finish[41];
    uv_signal_t sig[3];
    char        member[RH_KEY_MAX];     /* {W}:INSTANCE in the workers set */
    char        k_queue[RH_KEY_MAX];
    char        k_proc[RH_KEY_MAX];
    char        k_worker[RH_KEY_MAX];
    char        k_workers[RH_KEY_MAX];
    char        k_events[RH_KEY_MAX];
    char        reply_prefix[RH_KEY_MAX];
    char        host[256];
    int64_t     started_at;
    int         popping;
    int         pop_paused;     /* Redis refused a take: wait for the tick */
    int         scanned;        /* processing list re-read since last (re)connect */
    wk_job     *jobs;           /* every job until its finish is acknowledged, */
    wk_job     *jobs_tail;      /* oldest first: ready jobs start in take order */
    int         njobs;
    uint64_t    done, failed;
    double      rate;           /* answered tasks/s, moving average */
    uint64_t    rate_last;      /* done + failed at the last tick */
    int64_t     rate_at;        /* when, monotonic ms */
    int         draining;
    int         final_sent;
    int         stopping;       /* connections and pool closing */
    int         open;           /* things whose close callback is pending */
};

static void pump(wk_worker *w);
static void drain_check(wk_worker *w);

/* ======================== jobs ======================== */

static wk_job *job_new(wk_worker *w, const char *id, size_t len)
{
    wk_job *j = rh_calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->w = w;
    memcpy(j->id, id, len);
    j->id[len] = '\0';
    rh_task_init(&j->task);
    j->prev = w->jobs_tail;
    if (w->jobs_tail)
        w->jobs_tail->next = j;
    else
        w->jobs = j;
    w->jobs_tail = j;
    w->njobs++;
    return j;
}

static void job_free(wk_job *j)
{
    wk_worker *w = j->w;
    if (j->prev)
        j->prev->next = j->next;
    else
        w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        w->jobs_tail = j->prev;
    w->njobs--;
    rh_task_clear(&j->task);
    rh_free(j->reply);
    rh_free(j->event);
    rh_free(j);
}

static wk_job *job_find(wk_worker *w, const char *id, size_t len)
{
    for (wk_job *j = w->jobs; j; j = j->next)
        if (strlen(j->id) == len && memcmp(j->id, id, len) == 0)
            return j;
    return NULL;
}

static int count_jobs(wk_worker *w, job_state s)
{
    int n = 0;
    for (wk_job *j = w->jobs; j; j = j->next)
        n += j->state == s;
    return n;
}

/* A lifecycle event; finished events carry run_ms (start to finish) and,
 * when the task has a created_at, latency_ms (submit to finish) for live
 * monitors such as `rhaictl top`. */
static char *event_json(wk_worker *w, const char *event, const rh_task *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "event", event,
                          "id", t->id, "worker_id", w->cfg->worker_id,
                          "instance", w->cfg->instance, "status", rh_status_str(t->status),
                          "error_kind", t->error_kind ? json_string(rh_kind_str(t->error_kind))
                                                      : json_null(),
                          "at", (json_int_t)rh_now_ms());
    if (o && t->finished_at) {
        json_object_set_new(o, "run_ms", json_integer(t->finished_at - t->started_at));
        if (t->created_at > 0)
            json_object_set_new(o, "latency_ms", json_integer(t->finished_at - t->created_at));
    }
    char *s, *copy;
    if (o == NULL)
        return NULL;
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    copy = rh_strdup(s);
    free(s);
    return copy;
}

/* ======================== scripts ======================== */

/* The claim and finish scripts run once per task: after SCRIPT LOAD on each
 * new connection they go as EVALSHA (40 bytes instead of ~1 KB of text for
 * Redis to hash each time). Until the digest is known, or after NOSCRIPT
 * (a SCRIPT FLUSH, a restarted server), plain EVAL. */
static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    char *dst = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len == 40)
        memcpy(dst, reply->str, 41);
}

static void scripts_load(wk_worker *w)
{
    w->sha_claim[0] = w->sha_finish[0] = '\0';
    redisAsyncCommand(w->cmd.ac, on_script_loaded, w->sha_claim, "SCRIPT LOAD %s",
                      wk_lua_claim);
    redisAsyncCommand(w->cmd.ac, on_script_loaded, w->sha_finish, "SCRIPT LOAD %s",
                      wk_lua_finish);
}

/* argv[0..1] for a script: EVALSHA digest or EVAL text. */
static void script_args(const char *sha, const char *text, const char **argv, size_t *lens)
{
    argv[0] = sha[0] ? "EVALSHA" : "EVAL";
    argv[1] = sha[0] ? sha : text;
    lens[0] = strlen(argv[0]);
    lens[1] = strlen(argv[1]);
}

static int is_noscript(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* ======================== finish ======================== */

static void finish_send(wk_job *j);

static void on_finish(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    wk_job *j = priv;
    wk_worker *w = j->w;
    (void)ac;
    j->sent = 0;
    if (reply == NULL)
        return;                       /* connection lost: sent again on reconnect */
    if (is_noscript(reply)) {
        scripts_load(w);
        finish_send(j);               /* as EVAL this time */
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis refused (OOM, a replica): keep the result, retry each tick. */
        rh_log(RH_LOG_ERROR, "event=finish_failed task=%s reason=\"%s\" retrying", j->id,
               reply->str);
        j->retry = 1;
        return;
    } else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
        rh_log(RH_LOG_INFO, "event=finish_skipped task=%s already answered", j->id);
    } else {
        if (j->task.status == RHAI_STATUS_DONE)
            w->done++;
        else
            w->failed++;
        wk_metrics_task(w->metrics, j->task.status, j->task.error_kind,
                        j->task.finished_at - j->task.started_at);
        rh_log(RH_LOG_DEBUG, "event=finished task=%s status=%s kind=%s", j->id,
               rh_status_str(j->task.status), rh_kind_str(j->task.error_kind));
    }
    job_free(j);
    pump(w);
    drain_check(w);
}

static void finish_send(wk_job *j)
{
    wk_worker *w = j->w;
    rh_task *t = &j->task;
    char k_task[RH_KEY_MAX], k_reply[RH_KEY_MAX], ttl[24], at[24], started[24], att[16];
    char k_index[RH_KEY_MAX], k_failed[RH_KEY_MAX], keep[24], k_seen[RH_KEY_MAX], seen[24];
    const char *argv[48];
    size_t lens[48];
    int argc = 0;

    if (j->sent || !w->cmd.up)
        return;
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->result_ttl_ms);
    snprintf(at, sizeof at, "%lld", (long long)t->finished_at);
    snprintf(started, sizeof started, "%lld", (long long)t->started_at);
    snprintf(att, sizeof att, "%d", t->attempts);
    snprintf(keep, sizeof keep, "%lld", (long long)w->cfg->task_index_max);
    snprintf(k_index, sizeof k_index, "%s:tasks:{%s}", w->cfg->prefix, w->cfg->worker_id);
    snprintf(k_failed, sizeof k_failed, "%s:failed:{%s}:%lld", w->cfg->prefix,
             w->cfg->worker_id, (long long)(t->finished_at / 60000));
    snprintf(k_seen, sizeof k_seen, "%s:seen:{%s}", w->cfg->prefix, j->id);
    snprintf(seen, sizeof seen, "%lld",
             t->signature ? (long long)(2 * w->cfg->signature_skew_ms) : 0LL);
    rh_key_task(k_task, w->cfg->prefix, j->id);
    if (t->reply_to && strncmp(t->reply_to, w->reply_prefix, strlen(w->reply_prefix)) == 0)
        snprintf(k_reply, sizeof k_reply, "%s", t->reply_to);
    else
        rh_key_reply(k_reply, w->cfg->prefix, j->id);

#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
#define ARGN(s, n) (argv[argc] = (s), lens[argc] = (n), argc++)
    script_args(w->sha_finish, wk_lua_finish, argv, lens);
    argc = 2;
    ARG("6");
    ARG(k_task);
    ARG(k_reply);
    ARG(w->k_proc);
    ARG(k_index);
    ARG(k_failed);
    ARG(k_seen);
    ARG(j->id);
    ARG(ttl);
    ARG(j->reply);
    ARG(w->k_events);
    ARG(j->event);
    ARG(keep);
    ARG(at);
    ARG(t->status == RHAI_STATUS_DONE ? "0" : "1");
    ARG(seen);
    ARG("status");      ARG(rh_status_str(t->status));
    ARG("finished_at"); ARG(at);
    ARG("instance");    ARG(w->cfg->instance);
    ARG("output");      ARG(t->output ? t->output : "null");
    ARG("error");       ARG(t->error ? t->error : "");
    ARG("error_kind");  ARG(rh_kind_str(t->error_kind));
    ARG("logs");        ARGN(t->logs ? t->logs : "", t->logs ? strlen(t->logs) : 0);
    if (t->started_at == 0) {         /* answered without running (invalid) */
        ARG("started_at"); ARG(at);
        ARG("worker_id");  ARG(w->cfg->worker_id);
    }
#undef ARG
#undef ARGN
    if (wk_conn_argv(&w->cmd, on_finish, j, argc, argv, lens) == 0)
        j->sent = 1;
}

/* Record the result in j->task and queue the finish. Steals out's strings. */
static void job_finish(wk_job *j, rhai_status st, rh_error_kind kind, char *output,
                       char *error, char *logs)
{
    wk_worker *w = j->w;
    rh_task *t = &j->task;

    if (t->id == NULL)
        t->id = rh_strdup(j->id);
    if (t->worker_id == NULL)
        t->worker_id = rh_strdup(w->cfg->worker_id);
    rh_free(t->instance);
    t->instance = rh_strdup(w->cfg->instance);
    rh_free(t->output);
    rh_free(t->error);
    rh_free(t->logs);
    t->output = output;
    t->error = error;
    t->logs = logs;
    t->status = st;
    t->error_kind = kind;
    t->finished_at = rh_now_ms();
    if (t->started_at == 0)
        t->started_at = t->finished_at;
    j->reply = rh_task_reply_json(t);
    j->event = event_json(w, "finished", t);
    if (j->reply == NULL || j->event == NULL || t->id == NULL || t->instance == NULL) {
        /* Out of memory: leave the id in the processing list; a restart or
         * another instance's recovery answers it. */
        rh_log(RH_LOG_ERROR, "event=finish_nomem task=%s", j->id);
        job_free(j);
        return;
    }
    j->state = JOB_FINISHING;
    rh_log(RH_LOG_INFO, "event=task_end task=%s status=%s kind=%s ms=%lld", j->id,
           rh_status_str(st), rh_kind_str(kind), (long long)(t->finished_at - t->started_at));
    finish_send(j);
}

static void job_fail(wk_job *j, rh_error_kind kind, const char *msg)
{
    job_finish(j, RHAI_STATUS_ERROR, kind, rh_strdup("null"), rh_strdup(msg), rh_strdup(""));
}

/* ======================== run ======================== */

static void on_run(wk_pool *p, wk_job *j, eng_output *out, void *data)
{
    wk_worker *w = data;
    (void)p;
    if (out->kind == RH_EK_CANCELLED && !j->cancelled) {
        /* Killed by the drain: dropped here, put back on the queue by the
         * final requeue of our processing list. */
        rh_log(RH_LOG_INFO, "event=task_requeued task=%s reason=shutdown", j->id);
        job_free(j);
        drain_check(w);
        return;
    }
    job_finish(j, out->status, out->kind, out->output ? out->output : rh_strdup("null"),
               out->error, out->logs);
    out->output = out->error = out->logs = NULL;
    pump(w);
}

static void job_start(wk_job *j)
{
    wk_worker *w = j->w;
    rh_task *t = &j->task;
    eng_input in;
    eng_limits lim;
    int64_t timeout = t->timeout_ms > 0 ? t->timeout_ms : w->cfg->default_timeout_ms;

    if (timeout > w->cfg->max_timeout_ms)
        timeout = w->cfg->max_timeout_ms;
    memset(&in, 0, sizeof in);
    in.task_id = j->id;
    in.script = t->script;
    in.script_len = t->script_len;
    in.args_json = t->args;
    in.worker_id = t->worker_id ? t->worker_id : w->cfg->worker_id;
    in.context_id = t->context_id ? t->context_id : "default";
    in.caller_id = t->caller_id ? t->caller_id : "anonymous";
    wk_config_limits(w->cfg, &lim);
    if (wk_pool_run(&w->pool, j, &in, &lim, timeout) == 0) {
        j->state = JOB_RUNNING;
        rh_log(RH_LOG_DEBUG, "event=task_start task=%s attempt=%d", j->id, t->attempts);
    }
}

/* ======================== claim ======================== */

static void claim_send(wk_job *j);

/* Signed tasks are verified always; unsigned ones are refused when
 * require_signatures is set. A signature binds the caller (its public key),
 * the task's identity, code and arguments, and its creation time, which
 * must lie within signature_skew_ms of now. */
static int signature_check(wk_worker *w, const rh_task *t, rhai_error *err)
{
    rh_sign_fields f;
    int64_t skew;

    if (t->signature == NULL || t->signature[0] == '\0')
        return w->cfg->require_signatures
                   ? rh_error_set(err, RHAI_EINVAL, "unsigned task: this worker requires "
                                  "signatures")
                   : 0;
    f.id = t->id;
    f.worker_id = t->worker_id ? t->worker_id : w->cfg->worker_id;
    f.context_id = t->context_id ? t->context_id : "default";
    f.caller_id = t->caller_id ? t->caller_id : "anonymous";
    f.script = t->script;
    f.script_len = t->script_len;
    f.args = t->args;
    f.created_at = t->created_at;
    if (rh_sign_verify(t->signature, &f, err) != 0)
        return -1;
    skew = rh_now_ms() - t->created_at;
    if (skew > w->cfg->signature_skew_ms || -skew > w->cfg->signature_skew_ms)
        return rh_error_set(err, RHAI_EINVAL, "expired signed task: created_at is %lld ms "
                            "from now (allowed: %lld)", (long long)skew,
                            (long long)w->cfg->signature_skew_ms);
    return 0;
}

static void on_claim(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    wk_job *j = priv;
    wk_worker *w = j->w;
    rhai_error err;
    const char *what;
    (void)ac;

    if (reply == NULL) {             /* lost: re-taken from the processing list */
        job_free(j);
        return;
    }
    if (is_noscript(reply)) {
        scripts_load(w);
        claim_send(j);                /* as EVAL this time */
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        /* Redis refused (OOM, a replica, a script error): the id stays in
         * our processing list and the claim is retried every tick. */
        rh_log(RH_LOG_ERROR, "event=claim_failed task=%s reason=\"%s\" retrying", j->id,
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        j->retry = 1;
        return;
    }
    what = reply->element[0]->str;
    if (strcmp(what, "missing") == 0) {
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"no task hash\"", j->id);
        job_fail(j, RH_EK_INVALID, "task not found: no hash at the task key");
        return;
    }
    if (strcmp(what, "replay") == 0) {
        rh_log(RH_LOG_WARN, "event=task_denied task=%s reason=replay", j->id);
        job_fail(j, RH_EK_DENIED, "replayed task: this signed task id was already answered");
        return;
    }
    if (strcmp(what, "skip") == 0) {
        rh_log(RH_LOG_INFO, "event=task_skipped task=%s status=%s", j->id,
               reply->elements > 1 ? reply->element[1]->str : "?");
        job_free(j);
        pump(w);
        return;
    }
    for (size_t i = 1; i + 1 < reply->elements; i += 2) {
        redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (rh_task_set_field(&j->task, k->str, v->str, v->len) != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "field %.40s: not a valid value", k->str);
            job_fail(j, RH_EK_INVALID, msg);
            return;
        }
    }
    rh_free(j->task.id);
    j->task.id = rh_strdup(j->id);   /* the key names the task, not the field */
    if (rh_task_validate(&j->task, (size_t)w->cfg->max_script, &err) != 0) {
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"%s\"", j->id, err.msg);
        job_fail(j, RH_EK_INVALID, err.msg);
        return;
    }
    if (j->task.reply_to &&
        strncmp(j->task.reply_to, w->reply_prefix, strlen(w->reply_prefix)) != 0) {
        job_fail(j, RH_EK_INVALID, "reply_to must be a list under <prefix>:reply:");
        return;
    }
    if (signature_check(w, &j->task, &err) != 0) {
        rh_log(RH_LOG_WARN, "event=task_denied task=%s reason=\"%s\"", j->id, err.msg);
        job_fail(j, RH_EK_DENIED, err.msg);
        return;
    }
    j->state = JOB_READY;
    pump(w);
}

static void claim_send(wk_job *j)
{
    wk_worker *w = j->w;
    char k_task[RH_KEY_MAX], k_seen[RH_KEY_MAX], now[24];
    rh_task ev;
    char *event;
    const char *argv[11];
    size_t lens[11];

    rh_task_init(&ev);
    ev.id = j->id;
    ev.status = RHAI_STATUS_RUNNING;
    event = event_json(w, "started", &ev);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(k_seen, sizeof k_seen, "%s:seen:{%s}", w->cfg->prefix, j->id);
    argv[2] = "3";
    argv[3] = rh_key_task(k_task, w->cfg->prefix, j->id);
    argv[4] = w->k_proc;
    argv[5] = k_seen;
    argv[6] = j->id;
    argv[7] = w->cfg->instance;
    argv[8] = now;
    argv[9] = w->k_events;
    argv[10] = event ? event : "{}";
    for (int i = 2; i < 11; i++)
        lens[i] = strlen(argv[i]);
    script_args(w->sha_claim, wk_lua_claim, argv, lens);
    if (wk_conn_argv(&w->cmd, on_claim, j, 11, argv, lens) != 0)
        job_free(j);                  /* re-taken from the processing list later */
    rh_free(event);
}

/* A taken id: claim it, unless it is junk or we already hold it. */
static void take_id(wk_worker *w, const char *id, size_t len)
{
    char tmp[RH_NAME_MAX + 1];
    wk_job *j;

    if (len > RH_NAME_MAX || (memcpy(tmp, id, len), tmp[len] = '\0', !rh_name_valid(tmp))) {
        rh_log(RH_LOG_WARN, "event=bad_id reason=\"invalid task id in queue, dropped\"");
        if (w->cmd.up)
            redisAsyncCommand(w->cmd.ac, NULL, NULL, "LREM %s 1 %b", w->k_proc, id, len);
        return;
    }
    if (job_find(w, id, len))
        return;
    if ((j = job_new(w, id, len)) == NULL)
        return;                       /* stays in the processing list */
    j->state = JOB_CLAIMING;
    claim_send(j);
}

/* ======================== take ======================== */

static void on_pop(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (w->popping > 0)
        w->popping--;
    if (reply == NULL)
        return;                       /* pop connection lost or closing */
    if (reply->type == REDIS_REPLY_STRING)
        take_id(w, reply->str, reply->len);
    else if (reply->type == REDIS_REPLY_ERROR) {
        /* Refused (OOM, a read-only replica): taking again at once would
         * spin; wait for the next tick. */
        if (!w->pop_paused)
            rh_log(RH_LOG_ERROR, "event=pop_failed reason=\"%s\" pausing until next tick",
                   reply->str);
        w->pop_paused = 1;
    }
    pump(w);
}

/* Start ready jobs on idle executors, and take more while credit remains:
 * credit = idle executors + prefetch - jobs taken and not yet running -
 * takes in flight. Several BLMOVEs are pipelined on the pop connection:
 * Redis serves them in order, so a long queue fills every free slot in one
 * round trip, and an empty one just has them wait their turn. */
static void pump(wk_worker *w)
{
    int credit;
    const char *argv[6];

    if (w->stopping)
        return;
    if (!w->draining)
        for (wk_job *j = w->jobs; j && wk_pool_idle(&w->pool) > 0; j = j->next)
            if (j->state == JOB_READY)
                job_start(j);
    if (w->draining || w->pop_paused || !w->pop.up || !w->cmd.up || !w->scanned)
        return;
    credit = wk_pool_idle(&w->pool) + (int)w->cfg->prefetch - w->popping -
             count_jobs(w, JOB_CLAIMING) - count_jobs(w, JOB_READY);
    argv[0] = "BLMOVE";
    argv[1] = w->k_queue;
    argv[2] = w->k_proc;
    argv[3] = "RIGHT";
    argv[4] = "LEFT";
    argv[5] = "1";
    /* never more takes in flight than executors: an idle instance keeps
     * at most 'concurrency' blocked BLMOVEs */
    while (credit-- > 0 && w->popping < w->pool.n)
        if (wk_conn_argv(&w->pop, on_pop, w, 6, argv, NULL) == 0)
            w->popping++;
        else
            break;
}

static void on_pool_ready(wk_pool *p, void *data)
{
    (void)p;
    pump(data);
}

/* ======================== connections ======================== */

static void on_scan(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ARRAY) {
        if (reply->elements)
            rh_log(RH_LOG_NOTICE, "event=retake count=%zu ids in our processing list",
                   reply->elements);
        for (size_t i = reply->elements; i-- > 0;)       /* oldest first */
            if (reply->element[i]->type == REDIS_REPLY_STRING)
                take_id(w, reply->element[i]->str, reply->element[i]->len);
    }
    w->scanned = 1;
    pump(w);
}

static void heartbeat(wk_worker *w);

static void on_conn_up(wk_conn *c, void *data)
{
    wk_worker *w = data;
    if (w->cmd.up && w->pop.up && !w->ready_sent) {
        w->ready_sent = 1;
        wk_notify("READY=1\nSTATUS=serving worker id %s", w->cfg->worker_id);
    }
    if (c == &w->cmd) {
        scripts_load(w);
        for (wk_job *j = w->jobs; j; j = j->next)
            if (j->state == JOB_FINISHING)
                finish_send(j);
        heartbeat(w);
    }
    if (w->cmd.up && (w->pop.up || w->draining) && !w->scanned && !w->draining)
        redisAsyncCommand(w->cmd.ac, on_scan, w, "LRANGE %s 0 -1", w->k_proc);
    pump(w);
}

static void on_conn_down(wk_conn *c, void *data)
{
    wk_worker *w = data;
    (void)c;
    w->scanned = 0;                   /* a reply may have been lost: re-read */
    if (c == &w->pop)
        w->popping = 0;               /* their callbacks already ran with NULL */
    for (wk_job *j = w->jobs; j; j = j->next)
        if (c == &w->cmd)
            j->sent = 0;
}

/* ======================== heartbeat and recovery ======================== */

static void on_recover(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    (void)ac;
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
        reply->element[0]->integer > 0)
        rh_log(RH_LOG_NOTICE, "event=recovered dead_instances=%lld requeued=%lld failed=%lld",
               reply->element[0]->integer, reply->element[1]->integer,
               reply->element[2]->integer);
    else if (reply && reply->type == REDIS_REPLY_ERROR)
        rh_log(RH_LOG_ERROR, "event=recover_failed reason=\"%s\"", reply->str);
}

static void on_depth(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        w->queue_depth = (long)reply->integer;
}

static void heartbeat(wk_worker *w)
{
    char pid[16], started[24], conc[16], busy[16], done[24], failed[24], now[24], ttl[24];
    char maxa[16], rttl[24], rate[32];
    redisAsyncContext *ac = w->cmd.ac;

    if (!w->cmd.up || w->final_sent)
        return;
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(started, sizeof started, "%lld", (long long)w->started_at);
    snprintf(conc, sizeof conc, "%d", w->pool.n);
    snprintf(busy, sizeof busy, "%d", w->pool.busy);
    snprintf(done, sizeof done, "%llu", (unsigned long long)w->done);
    snprintf(failed, sizeof failed, "%llu", (unsigned long long)w->failed);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->heartbeat_ttl_ms);
    snprintf(maxa, sizeof maxa, "%lld", (long long)w->cfg->max_attempts);
    snprintf(rttl, sizeof rttl, "%lld", (long long)w->cfg->result_ttl_ms);
    snprintf(rate, sizeof rate, "%.1f", w->rate);
    redisAsyncCommand(ac, NULL, NULL,
                      "HSET %s worker_id %s instance %s pid %s host %s started_at %s "
                      "concurrency %s busy %s done %s failed %s version %s heartbeat_at %s "
                      "draining %d tasks_per_s %s",
                      w->k_worker, w->cfg->worker_id, w->cfg->instance, pid, w->host, started,
                      conc, busy, done, failed, RHAI_VERSION_STRING, now, w->draining, rate);
    redisAsyncCommand(ac, NULL, NULL, "PEXPIRE %s %s", w->k_worker, ttl);
    redisAsyncCommand(ac, NULL, NULL, "SADD %s %s", w->k_workers, w->member);
    redisAsyncCommand(ac, on_depth, w, "LLEN %s", w->k_queue);
    redisAsyncCommand(ac, on_recover, w, "EVAL %s 0 %s %s %s %s %s %s", rh_lua_recover,
                      w->cfg->prefix, now, maxa, rttl, w->k_events, w->member);
}

/* Running tasks a client asked to cancel (rhai_cancel on a running task
 * sets cancel_requested). The job is looked up by id in the callback: it
 * may have finished and been freed meanwhile. */
static void on_cancel_check(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    char *id = priv;
    wk_worker *w = ac->data ? ((wk_conn *)ac->data)->data : NULL;
    wk_job *j;

    if (w && reply && reply->type == REDIS_REPLY_STRING &&
        (j = job_find(w, id, strlen(id))) != NULL && j->state == JOB_RUNNING) {
        rh_log(RH_LOG_NOTICE, "event=task_cancel task=%s killing its executor", id);
        j->cancelled = 1;
        wk_pool_cancel(&w->pool, j, "cancelled by client while running");
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
        if (j->state != JOB_RUNNING || (id = rh_strdup(j->id)) == NULL)
            continue;
        if (redisAsyncCommand(w->cmd.ac, on_cancel_check, id, "HGET %s cancel_requested",
                              rh_key_task(key, w->cfg->prefix, j->id)) != REDIS_OK)
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
    for (wk_job *j = w->jobs; j && w->cmd.up; j = j->next) {
        if (!j->retry)
            continue;
        j->retry = 0;
        if (j->state == JOB_CLAIMING)
            claim_send(j);
        else if (j->state == JOB_FINISHING)
            finish_send(j);
    }
}

static void on_tick(uv_timer_t *t)
{
    wk_worker *w = t->data;
    rate_update(w);
    heartbeat(w);
    retry_refused(w);
    w->pop_paused = 0;
    check_cancels(w);
    wk_metrics_state(w->metrics, w->pool.busy, w->pool.n, w->queue_depth,
                     w->cmd.up && (w->pop.up || w->draining), w->pool.restarts,
                     w->cmd.reconnects + w->pop.reconnects);
    if (w->ready_sent)
        wk_notify("STATUS=worker %s: %d/%d busy, %llu done, %llu failed%s%s",
                  w->cfg->worker_id, w->pool.busy, w->pool.n, (unsigned long long)w->done,
                  (unsigned long long)w->failed, w->cmd.up ? "" : ", redis unreachable",
                  w->draining ? ", draining" : "");
    wk_pool_maintain(&w->pool);
    pump(w);
}

/* ======================== drain and stop ======================== */

static void on_closed(wk_conn *c, void *data)
{
    wk_worker *w = data;
    (void)c;
    w->open--;
}

static void on_handle_closed(uv_handle_t *h)
{
    wk_worker *w = h->data;
    w->open--;
}

static void on_pool_closed(wk_pool *p)
{
    wk_worker *w = p->data;
    w->open--;
}

static void stop_everything(wk_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    rh_log(RH_LOG_NOTICE, "event=stopped done=%llu failed=%llu pending=%d",
           (unsigned long long)w->done, (unsigned long long)w->failed, w->njobs);
    w->open = 3 + 3 + 3;
    wk_metrics_stop(w->metrics);
    w->metrics = NULL;
    wk_pool_close(&w->pool, on_pool_closed);
    wk_conn_close(&w->pop);
    wk_conn_close(&w->cmd);
    uv_close((uv_handle_t *)&w->tick, on_handle_closed);
    uv_close((uv_handle_t *)&w->grace, on_handle_closed);
    uv_close((uv_handle_t *)&w->watchdog, on_handle_closed);
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&w->sig[i], on_handle_closed);
}

static void on_final(redisAsyncContext *ac, void *r, void *priv)
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
static void drain_check(wk_worker *w)
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
        if (j->state == JOB_RUNNING || j->state == JOB_FINISHING || j->state == JOB_CLAIMING)
            return;
    /* READY jobs never started: the requeue puts them back. */
    while (w->jobs)
        job_free(w->jobs);
    redisAsyncCommand(w->cmd.ac, NULL, NULL, "MULTI");
    redisAsyncCommand(w->cmd.ac, NULL, NULL, "EVAL %s 2 %s %s %s", wk_lua_requeue,
                      w->k_proc, w->k_queue, w->cfg->prefix);
    redisAsyncCommand(w->cmd.ac, NULL, NULL, "DEL %s", w->k_worker);
    redisAsyncCommand(w->cmd.ac, NULL, NULL, "SREM %s %s", w->k_workers, w->member);
    redisAsyncCommand(w->cmd.ac, on_final, w, "EXEC");
    w->final_sent = 1;
}

static void on_grace(uv_timer_t *t)
{
    wk_worker *w = t->data;
    int running = count_jobs(w, JOB_RUNNING);
    if (w->final_sent && w->cmd.up)
        return;
    if (running) {
        rh_log(RH_LOG_WARN, "event=grace_expired running=%d killing and requeueing", running);
        wk_pool_kill_busy(&w->pool);
    }
    if (!w->cmd.up || count_jobs(w, JOB_FINISHING)) {
        rh_log(RH_LOG_ERROR, "event=grace_expired reason=\"redis unreachable\" held tasks are "
               "recovered by other instances after heartbeat_ttl_ms");
        stop_everything(w);
        return;
    }
    for (wk_job *j = w->jobs; j; j = j->next)
        if (j->state == JOB_CLAIMING)
            j->state = JOB_READY;     /* their ids are requeued with the rest */
    drain_check(w);
}

static void start_drain(wk_worker *w, const char *why)
{
    if (w->draining)
        return;
    w->draining = 1;
    wk_notify("STOPPING=1\nSTATUS=draining (%s)", why);
    rh_log(RH_LOG_NOTICE, "event=draining reason=%s running=%d grace_ms=%lld", why,
           count_jobs(w, JOB_RUNNING), (long long)w->cfg->grace_ms);
    wk_conn_close(&w->pop);           /* a taken id whose reply is lost is requeued */
    uv_timer_start(&w->grace, on_grace, (uint64_t)w->cfg->grace_ms, 0);
    heartbeat(w);
    drain_check(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
    wk_worker *w = s->data;
    if (signum == SIGHUP) {
        wk_config fresh;
        rhai_error err;
        char *argv[] = { "rhaid", NULL };
        if (w->cfg->config_file)
            setenv("RHAID_CONFIG", w->cfg->config_file, 1);
        if (wk_config_load(&fresh, 1, argv, &err) != 0) {
            rh_log(RH_LOG_ERROR, "event=reload_failed reason=\"%s\" keeping the old config",
                   err.msg);
        } else {
            wk_config_apply_reloadable(w->cfg, &fresh);
            rh_log_level = w->cfg->log_level;
            rh_log(RH_LOG_NOTICE, "event=reloaded file=%s",
                   w->cfg->config_file ? w->cfg->config_file : "(none)");
        }
        wk_config_free(&fresh);
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

int wk_worker_run(wk_config *cfg, const char *unused)
{
    wk_worker w;
    rhai_error err;
    char safe[512], suffix[40];
    const int signals[3] = { SIGTERM, SIGINT, SIGHUP };
    int rc;
    rh_url u;
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
    snprintf(w.member, sizeof w.member, "{%s}:%s", cfg->worker_id, cfg->instance);
    rh_key_queue(w.k_queue, cfg->prefix, cfg->worker_id);
    rh_key_processing(w.k_proc, cfg->prefix, cfg->worker_id, cfg->instance);
    rh_key_worker(w.k_worker, cfg->prefix, cfg->worker_id, cfg->instance);
    rh_key_workers(w.k_workers, cfg->prefix);
    rh_key_events(w.k_events, cfg->prefix);
    snprintf(w.reply_prefix, sizeof w.reply_prefix, "%s:reply:", cfg->prefix);

    signal(SIGPIPE, SIG_IGN);
    if (wk_metrics_start(&w.metrics, cfg->metrics_listen, cfg->worker_id, cfg->instance,
                         &err) != 0) {
        rh_log(RH_LOG_ERROR, "event=start_failed reason=\"%s\"", err.msg);
        return 2;
    }
    if ((rc = wk_pool_init(&w.pool, w.loop, cfg, on_run, &w, &err)) != 0) {
        rh_log(RH_LOG_ERROR, "event=start_failed reason=\"%s\"", err.msg);
        wk_metrics_stop(w.metrics);
        return 1;
    }
    w.pool.ready_cb = on_pool_ready;
    if (wk_conn_init(&w.pop, w.loop, cfg->redis_url, "pop", cfg->reconnect_max_ms, &err) != 0 ||
        wk_conn_init(&w.cmd, w.loop, cfg->redis_url, "cmd", cfg->reconnect_max_ms, &err) != 0) {
        rh_log(RH_LOG_ERROR, "event=start_failed reason=\"%s\"", err.msg);
        return 1;
    }
    w.pop.on_up = w.cmd.on_up = on_conn_up;
    w.pop.on_down = w.cmd.on_down = on_conn_down;
    w.pop.on_closed = w.cmd.on_closed = on_closed;
    w.pop.data = w.cmd.data = &w;
    uv_timer_init(w.loop, &w.tick);
    uv_timer_init(w.loop, &w.grace);
    uv_timer_init(w.loop, &w.watchdog);
    w.tick.data = w.grace.data = w.watchdog.data = &w;
    if (wk_notify_watchdog_ms() > 0)
        uv_timer_start(&w.watchdog, on_watchdog, (uint64_t)wk_notify_watchdog_ms(),
                       (uint64_t)wk_notify_watchdog_ms());
    for (int i = 0; i < 3; i++) {
        uv_signal_init(w.loop, &w.sig[i]);
        w.sig[i].data = &w;
        uv_signal_start(&w.sig[i], on_signal, signals[i]);
    }
    uv_timer_start(&w.tick, on_tick, (uint64_t)cfg->heartbeat_ms, (uint64_t)cfg->heartbeat_ms);

    rh_url_parse(cfg->redis_url, &u, NULL);
    rh_url_format_safe(&u, safe, sizeof safe);
    rh_log(RH_LOG_NOTICE, "event=start version=%s worker=%s instance=%s concurrency=%d redis=%s",
           RHAI_VERSION_STRING, cfg->worker_id, cfg->instance, cfg->concurrency, safe);
    wk_conn_start(&w.cmd);
    wk_conn_start(&w.pop);

    uv_run(w.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(w.loop);
    if (rc != 0)
        rh_log(RH_LOG_WARN, "event=loop_not_closed reason=\"%s\"", uv_strerror(rc));
    rh_log(RH_LOG_NOTICE, "event=exit code=0");
    return 0;
}
