/* worker.c -- the life of a task inside rhaid.
 *
 * take (BLMOVE on the pop connection) -> claim (Lua) -> validate -> run on
 * an executor -> finish (Lua, one round trip). Every job lives in one list
 * until its finish is acknowledged by Redis; a finish whose connection died
 * is sent again after reconnect (the script answers a task once), and ids
 * left in our processing list by a lost reply are taken again
 * (instance.c re-reads the list on reconnect). The take, the claim and
 * the checks of a claimed task are in take.c, the Lua in scripts.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "rhai/version.h"


/* ======================== jobs ======================== */

wk_job *wk_job_new(wk_worker *w, const char *id, size_t len)
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

void wk_job_free(wk_job *j)
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
    rh_free(j->attempt_error);
    rh_free(j->events);
    json_decref(j->relay);
    rh_free(j);
}

wk_job *wk_job_find(wk_worker *w, const char *id, size_t len)
{
    for (wk_job *j = w->jobs; j; j = j->next)
        if (strlen(j->id) == len && memcmp(j->id, id, len) == 0)
            return j;
    return NULL;
}

int wk_count_jobs(wk_worker *w, wk_job_state s)
{
    int n = 0;
    for (wk_job *j = w->jobs; j; j = j->next)
        n += j->state == s;
    return n;
}

/* A lifecycle event; finished events carry run_ms (start to finish) and,
 * when the task has a created_at, latency_ms (submit to finish) for live
 * monitors such as `rhaictl top`. */
char *wk_event_json(wk_worker *w, const char *event, const rh_task *t)
{
    rh_buf b;
    int bad = 0;

    rh_buf_init(&b);
    bad |= rh_buf_reserve(&b, 256);
    bad |= rh_buf_appendf(&b, "{\"event\":\"%s\",\"id\":", event);
    bad |= rh_json_str_append(&b, t->id);
    bad |= rh_buf_append(&b, ",\"worker_id\":", 13);
    bad |= rh_json_str_append(&b, w->cfg->worker_id);
    bad |= rh_buf_append(&b, ",\"instance\":", 12);
    bad |= rh_json_str_append(&b, w->cfg->instance);
    bad |= rh_buf_appendf(&b, ",\"status\":\"%s\",\"error_kind\":", rh_status_str(t->status));
    if (t->error_kind)
        bad |= rh_buf_appendf(&b, "\"%s\"", rh_kind_str(t->error_kind));
    else
        bad |= rh_buf_append(&b, "null", 4);
    bad |= rh_buf_appendf(&b, ",\"at\":%lld", (long long)rh_now_ms());
    if (t->finished_at) {
        bad |= rh_buf_appendf(&b, ",\"run_ms\":%lld",
                              (long long)(t->finished_at - t->started_at));
        if (t->created_at > 0)
            bad |= rh_buf_appendf(&b, ",\"latency_ms\":%lld",
                                  (long long)(t->finished_at - t->created_at));
    }
    bad |= rh_buf_append(&b, "}", 1);
    if (bad) {
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ======================== finish ======================== */


/* Finishes go out in batches: wk_finish_send only marks a job's finish
 * as wanted (it is FINISHING and not sent) and starts the flush, a
 * uv_prepare that runs before the loop next polls. Every finish that became
 * ready in one loop iteration (results read from several executors, a
 * reconnect's resends) goes out in one script call, at most FIN_BATCH_MAX
 * tasks or about FIN_BATCH_BYTES of arguments each. While a flush's calls
 * are in flight the next finishes wait for their answer (Nagle's rule):
 * a lone finish goes out at once, and under load each call carries every
 * result that arrived during the previous one's round trip. */
#define FIN_BATCH_MAX   32
#define FIN_BATCH_BYTES (1 << 20)
#define FIN_KEYS        4       /* keys per task */
#define FIN_ARGS        35      /* at most, per task: record of wk_lua_finish */

static void on_finish_flush(uv_prepare_t *h);

typedef struct fin_batch {
    wk_worker *w;
    int        n;
    wk_job    *jobs[FIN_BATCH_MAX];
} fin_batch;

/* One task's finish acknowledged: 1 answered, 0 it was already final. */
static void finish_done(wk_job *j, long long answered)
{
    wk_worker *w = j->w;

    wk_relay_finished(j);             /* events relayed and the finish is in: mark */
    if (answered == 0) {
        rh_log(RH_LOG_INFO, "event=finish_skipped task=%s already answered", j->id);
    } else if (answered == 2) {
        rh_log(RH_LOG_INFO, "event=task_retry_scheduled task=%s attempt=%d due_in_ms=%lld",
               j->id, j->task.attempt > 0 ? j->task.attempt : 1,
               (long long)(j->retry_due - rh_now_ms()));
    } else {
        if (j->task.status == RHAI_STATUS_DONE)
            w->done++;
        else
            w->failed++;
        wk_metrics_task(w->metrics, j->task.status, j->task.error_kind,
                        j->task.finished_at - j->task.started_at);
        rh_log(RH_LOG_DEBUG, "event=finished task=%s status=%s kind=%s", j->id,
               rh_status_str(j->task.status), rh_kind_str(j->task.error_kind));
        /* The lookup hint (7 days from the submit) now lives as long as
         * the hash: result_ttl_ms. Another slot: a command of its own,
         * best effort (a lost one leaves the hint to its own TTL). A dead
         * letter's hash has no TTL while it is in the dead set: its hint
         * keeps its 7 days. */
        if (j->fin_mode != 2) {
            char k_hint[RH_KEY_MAX];
            wk_conn_cmd(&w->cmd, NULL, NULL, "PEXPIRE %s %lld",
                        rh_key_taskw(k_hint, w->cfg->prefix, j->id),
                        (long long)w->cfg->result_ttl_ms);
        }
    }
    /* Recovery requeued the id while we held it (Redis or this instance
     * froze past the heartbeat TTL) and a take put it back in our
     * processing list: if that take landed after the finish's LREM, the
     * id would stay there for good. The task is final now: drop it. */
    if (j->retaken)
        wk_conn_cmd(&w->cmd, NULL, NULL, "LREM %s 1 %s", w->k_proc, j->id);
    wk_job_free(j);
}

static void on_finish(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    fin_batch *b = priv;
    wk_worker *w = b->w;
    (void)ac;

    for (int i = 0; i < b->n; i++)
        b->jobs[i]->sent = 0;
    if (--w->fin_inflight == 0 && !w->stopping)
        uv_prepare_start(&w->fin_flush, on_finish_flush);     /* what waited */
    if (reply == NULL) {
        rh_free(b);                   /* connection lost: sent again on reconnect */
        return;
    }
    if (wk_is_noscript(reply)) {
        wk_scripts_load(w);
        for (int i = 0; i < b->n; i++)
            wk_finish_send(b->jobs[i]);     /* as EVAL this time */
        rh_free(b);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)b->n) {
        /* Redis refused (OOM, a replica): keep the results, retry each tick. */
        for (int i = 0; i < b->n; i++) {
            rh_log(RH_LOG_ERROR, "event=finish_failed task=%s reason=\"%s\" retrying",
                   b->jobs[i]->id,
                   RH_LOG_Q(reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
            b->jobs[i]->retry = 1;
        }
        rh_free(b);
        return;
    }
    for (int i = 0; i < b->n; i++) {
        const redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_INTEGER) {
            finish_done(b->jobs[i], e->integer);
        } else {
            /* This task's keys were refused (a reply_to of another type):
             * the others are answered; it is retried each tick. */
            rh_log(RH_LOG_ERROR, "event=finish_failed task=%s reason=\"%s\" retrying",
                   b->jobs[i]->id,
                   RH_LOG_Q(e->type == REDIS_REPLY_ERROR ? e->str : "unexpected reply"));
            b->jobs[i]->retry = 1;
        }
    }
    rh_free(b);
    wk_pump(w);
    wk_drain_check(w);
}

/* The strings one task's record needs, built before they are pointed to. */
typedef struct fin_strs {
    char k_task[RH_KEY_MAX], k_reply[RH_KEY_MAX], k_failed[RH_KEY_MAX], k_seen[RH_KEY_MAX];
    char n[16], at[24], seen[24], mode[4], due[24], st_at[24], st_n[16];
    rh_buf st_ev;                   /* the started event of a folded start */
} fin_strs;

/* Finishes wanted: FINISHING, not sent, not waiting for a retry. */
static int finish_wanted(const wk_job *j)
{
    return j->state == WK_JOB_FINISHING && !j->sent && !j->retry && !j->relaying;
}

/* Send one batch of at most 'cap' (<= FIN_BATCH_MAX) wanted finishes,
 * oldest first, with s, argv and lens sized for 'cap' tasks. 1 when one
 * was sent, 0 when none is wanted, -1 when it could not be sent (no
 * memory, or the connection is down). */
static int finish_batch_send(wk_worker *w, int cap, fin_strs *s, const char **argv,
                             size_t *lens)
{
    fin_batch *b;
    char ttl[24], keep[24], nkeys[16];
    size_t bytes = 0;
    int argc, ka, n, rc;
    wk_job *j;

    for (j = w->jobs; j && !finish_wanted(j); j = j->next)
        ;
    if (j == NULL)
        return 0;
    if ((b = rh_calloc(1, sizeof *b)) == NULL)
        return -1;
    b->w = w;
    for (; j && b->n < cap && bytes < FIN_BATCH_BYTES; j = j->next)
        if (finish_wanted(j)) {
            b->jobs[b->n++] = j;
            bytes += strlen(j->reply) + strlen(j->event) +
                     (j->task.output ? strlen(j->task.output) : 0) +
                     (j->task.logs ? strlen(j->task.logs) : 0);
        }
    n = b->n;
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->result_ttl_ms);
    snprintf(keep, sizeof keep, "%lld", (long long)w->cfg->task_index_max);
    snprintf(nkeys, sizeof nkeys, "%d", 4 + FIN_KEYS * n);

#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
#define ARGN(s, len) (argv[argc] = (s), lens[argc] = (len), argc++)
    wk_script_args(w->sha_finish, wk_lua_finish, argv, lens);
    argc = 2;
    ARG(nkeys);
    ARG(w->k_proc);
    ARG(w->k_index);
    ARG(w->k_delayed);
    ka = argc;                        /* keys of the tasks, FIN_KEYS each */
    argc += FIN_KEYS * n;
    ARG(w->k_dead);                   /* the last key */
    ARG(ttl);
    ARG(w->k_events);
    ARG(keep);
    for (int i = 0; i < n; i++) {
        rh_task *t = &b->jobs[i]->task;
        const char *id = b->jobs[i]->id;
        int rec;

        rh_key_task(s[i].k_task, w->cfg->prefix, w->cfg->worker_id, id);
        /* only a list of our slot (checked at the claim too: a task that
         * names another is answered invalid, on its default list) */
        if (rh_reply_to_valid(w->cfg->prefix, w->cfg->worker_id, t->reply_to))
            snprintf(s[i].k_reply, sizeof s[i].k_reply, "%s", t->reply_to);
        else
            rh_key_reply(s[i].k_reply, w->cfg->prefix, w->cfg->worker_id, id);
        rh_key_failed(s[i].k_failed, w->cfg->prefix, w->cfg->worker_id,
                      (long long)(t->finished_at / 60000));
        rh_key_seen(s[i].k_seen, w->cfg->prefix, w->cfg->worker_id, id);
        snprintf(s[i].at, sizeof s[i].at, "%lld", (long long)t->finished_at);
        snprintf(s[i].seen, sizeof s[i].seen, "%lld",
                 t->signature ? (long long)(2 * w->cfg->signature_skew_ms) : 0LL);
        argv[ka] = s[i].k_task;   lens[ka] = strlen(argv[ka]); ka++;
        argv[ka] = s[i].k_reply;  lens[ka] = strlen(argv[ka]); ka++;
        argv[ka] = s[i].k_failed; lens[ka] = strlen(argv[ka]); ka++;
        argv[ka] = s[i].k_seen;   lens[ka] = strlen(argv[ka]); ka++;
        rec = argc;
        ARG("");                      /* n, below */
        ARG(id);
        ARG(b->jobs[i]->reply);
        ARG(b->jobs[i]->event);
        ARG(s[i].at);
        snprintf(s[i].mode, sizeof s[i].mode, "%d", b->jobs[i]->fin_mode);
        snprintf(s[i].due, sizeof s[i].due, "%lld", (long long)b->jobs[i]->retry_due);
        ARG(s[i].mode);
        ARG(s[i].seen);
        ARG(s[i].due);
        ARG(b->jobs[i]->attempt_error ? b->jobs[i]->attempt_error : "");
        /* A start not written yet (start_defer_ms) goes with the finish:
         * again in a resend, the same values. */
        rh_buf_init(&s[i].st_ev);
        if (b->jobs[i]->start_pending) {
            b->jobs[i]->start_pending = 0;
            b->jobs[i]->start_folded = 1;
        }
        if (b->jobs[i]->start_folded &&
            wk_started_event(w, id, t->started_at, &s[i].st_ev) == 0)
            ARGN(s[i].st_ev.data, s[i].st_ev.len);
        else
            ARG("");
        ARG("status");      ARG(rh_status_str(t->status));
        ARG("finished_at"); ARG(s[i].at);
        ARG("instance");    ARG(w->cfg->instance);
        ARG("output");      ARG(t->output ? t->output : "null");
        ARG("error");       ARG(t->error ? t->error : "");
        ARG("error_kind");  ARG(rh_kind_str(t->error_kind));
        ARG("logs");        ARGN(t->logs ? t->logs : "", t->logs ? strlen(t->logs) : 0);
        if (b->jobs[i]->fin_mode == 2) {
            /* crashed max_attempts times, or out of retries: to the
             * dead-letter set */
            ARG("dead_at");    ARG(s[i].at);
        }
        if (b->jobs[i]->start_folded) {
            snprintf(s[i].st_at, sizeof s[i].st_at, "%lld", (long long)t->started_at);
            snprintf(s[i].st_n, sizeof s[i].st_n, "%d", t->attempts);
            ARG("started_at"); ARG(s[i].st_at);
            ARG("attempts");   ARG(s[i].st_n);
        }
        if (b->jobs[i]->unstarted) {
            /* answered without running (invalid) */
            ARG("started_at"); ARG(s[i].at);
            ARG("worker_id");  ARG(w->cfg->worker_id);
        }
        snprintf(s[i].n, sizeof s[i].n, "%d", argc - rec - 1);
        argv[rec] = s[i].n;
        lens[rec] = strlen(s[i].n);
    }
#undef ARG
#undef ARGN
    rc = wk_conn_argv(&w->cmd, on_finish, b, argc, argv, lens);
    for (int i = 0; i < n; i++)
        rh_buf_free(&s[i].st_ev);
    if (rc != 0) {
        rh_free(b);
        return -1;
    }
    for (int i = 0; i < n; i++)
        b->jobs[i]->sent = 1;
    w->fin_inflight++;
    wk_metrics_step(w->metrics, 1, (unsigned)n);
    return 1;
}

static void on_finish_flush(uv_prepare_t *h)
{
    wk_worker *w = h->data;
    int cap = 0, rc = -1;
    const char **argv = NULL;
    size_t *lens = NULL, max;
    fin_strs *s = NULL;

    uv_prepare_stop(h);
    if (w->cmd.up)
        wk_starts_send(w);            /* ahead of their finishes, never held back */
    if (w->fin_inflight > 0) {
        wk_conn_flush(&w->cmd);
        return;                       /* on_finish starts us again */
    }
    for (wk_job *j = w->jobs; j && cap < FIN_BATCH_MAX; j = j->next)
        cap += finish_wanted(j);
    max = 12 + (size_t)(FIN_KEYS + FIN_ARGS) * (size_t)cap;    /* EVAL ... 4 keys, 3 args */
    if (cap > 0 && w->cmd.up && (argv = rh_malloc(max * sizeof *argv)) != NULL &&
        (lens = rh_malloc(max * sizeof *lens)) != NULL &&
        (s = rh_malloc((size_t)cap * sizeof *s)) != NULL)
        while ((rc = finish_batch_send(w, cap, s, argv, lens)) > 0)
            ;
    if (cap > 0 && rc < 0 && w->cmd.up) {
        /* out of memory: the tick sends what is left (retry_refused); a
         * lost connection sends it on its return */
        int left = 0;
        for (wk_job *j = w->jobs; j; j = j->next)
            if (finish_wanted(j)) {
                j->retry = 1;
                left++;
            }
        if (left)
            rh_log(RH_LOG_ERROR, "event=finish_nomem out of memory sending %d finishes, "
                   "retrying next tick", left);
    }
    rh_free(argv);
    rh_free(lens);
    rh_free(s);
    /* Our prepare may run after the connection's own this iteration. */
    wk_conn_flush(&w->cmd);
}

/* Send pending starts and finishes before the loop next polls. */
void wk_flush_kick(wk_worker *w)
{
    uv_prepare_start(&w->fin_flush, on_finish_flush);
}

void wk_finish_send(wk_job *j)
{
    wk_worker *w = j->w;

    if (j->sent || !w->cmd.up || w->stopping)
        return;
    if (j->relaying) {                /* events first (relay.c), then the finish */
        wk_relay_send(j);
        return;
    }
    uv_prepare_start(&w->fin_flush, on_finish_flush);
}

/* The task's one line: a success at debug (a busy worker's journal stays
 * readable); a failure at info with what an operator needs to find its
 * cause: the message (the script's own text, cut to WK_LOG_ERROR_MAX
 * bytes and escaped), caller, context, worker and kind. */
static void task_end_log(wk_job *j)
{
    const rh_task *t = &j->task;
    char err[WK_LOG_ERROR_MAX * 4 + 8], caller[200], ctx[200];

    if (t->status == RHAI_STATUS_DONE) {
        rh_log(RH_LOG_DEBUG, "event=task_end task=%s status=done ms=%lld", j->id,
               (long long)(t->finished_at - t->started_at));
        return;
    }
    rh_log(RH_LOG_INFO, "event=task_end task=%s status=%s kind=%s ms=%lld worker=%s "
           "caller=\"%s\" context=\"%s\" attempt=%d error=\"%s\"", j->id,
           rh_status_str(t->status), rh_kind_str(t->error_kind),
           (long long)(t->finished_at - t->started_at), j->w->cfg->worker_id,
           rh_log_quote(caller, sizeof caller, t->caller_id ? t->caller_id : "", 48),
           rh_log_quote(ctx, sizeof ctx, t->context_id ? t->context_id : "", 48), t->attempts,
           rh_log_quote(err, sizeof err, t->error, WK_LOG_ERROR_MAX));
}

/* What a finish sends, built from j->task: the reply, the event and the
 * finish mode. 0, or -1 when memory ran out (whatever was built is kept
 * for the job to free; wk_job_rebuild tries again). */
static int job_build(wk_job *j)
{
    wk_worker *w = j->w;
    rh_task *t = &j->task;

    if (t->id == NULL)
        t->id = rh_strdup(j->id);
    if (t->worker_id == NULL)
        t->worker_id = rh_strdup(w->cfg->worker_id);
    if (t->instance == NULL)
        t->instance = rh_strdup(w->cfg->instance);
    rh_free(j->reply);
    j->reply = rh_task_reply_json(t);
    if (wk_delay_finish_mode(j, t->error_kind) != 0)
        j->fin_mode = -1;                      /* no memory: below */
    else if (j->dead && j->fin_mode == 1)
        j->fin_mode = 2;                       /* crashed max_attempts times: dead letter */
    rh_free(j->event);
    j->event = wk_event_json(w, j->fin_mode == 3 ? "retry" : "finished", t);
    return j->reply && j->event && t->id && t->worker_id && t->instance && j->fin_mode >= 0
               ? 0 : -1;
}

/* The finish built: log the task's end and send it. */
static void job_finish_go(wk_job *j)
{
    const rh_task *t = &j->task;

    if (j->fin_mode != 3)
        task_end_log(j);
    else
        rh_log(RH_LOG_INFO, "event=task_attempt_failed task=%s kind=%s attempt=%d retries=%d",
               j->id, rh_kind_str(t->error_kind), t->attempt > 0 ? t->attempt : 1, t->retries);
    wk_finish_send(j);
}

/* Record the result in j->task and queue the finish. Steals out's strings.
 * Out of memory while building it: the job stays FINISHING, not sent, and
 * each tick tries again (wk_job_rebuild), so that a live instance never
 * strands a task it holds (recovery only answers dead instances' tasks). */
static void job_finish(wk_job *j, rhai_status st, rh_error_kind kind, char *output,
                       char *error, char *logs)
{
    rh_task *t = &j->task;

    rh_free(t->instance);
    t->instance = NULL;                        /* ours: job_build */
    rh_free(t->output);
    rh_free(t->error);
    rh_free(t->logs);
    t->output = output;
    t->error = error;
    t->logs = logs;
    t->status = st;
    t->error_kind = kind;
    t->finished_at = rh_now_ms();
    if (t->started_at == 0) {
        j->unstarted = 1;
        t->started_at = t->finished_at;
    }
    j->state = WK_JOB_FINISHING;
    if (job_build(j) != 0) {
        rh_log(RH_LOG_ERROR, "event=finish_nomem task=%s out of memory building the finish, "
               "retrying each tick", j->id);
        j->rebuild = 1;
        j->retry = 1;
        return;
    }
    job_finish_go(j);
}

void wk_job_rebuild(wk_job *j)
{
    if (job_build(j) != 0) {
        j->retry = 1;                          /* still no memory: next tick */
        return;
    }
    j->rebuild = 0;
    rh_log(RH_LOG_NOTICE, "event=finish_rebuilt task=%s", j->id);
    job_finish_go(j);
}

void wk_job_fail(wk_job *j, rh_error_kind kind, const char *msg)
{
    job_finish(j, RHAI_STATUS_ERROR, kind, rh_strdup("null"), rh_strdup(msg), rh_strdup(""));
}

/* A job claimed and waiting for an executor that a client cancelled. */
void wk_job_cancel_ready(wk_job *j)
{
    job_finish(j, RHAI_STATUS_CANCELLED, RH_EK_CANCELLED, rh_strdup("null"),
               rh_strdup("cancelled by client before it ran"), rh_strdup(""));
}

/* ======================== run ======================== */

/* Store failures are retried for a time, not a number of runs: first
 * after STORE_RETRY_FIRST_MS, doubling to STORE_RETRY_CAP_MS, while
 * store_retry_ms has not passed since the first failure. */
#ifndef STORE_RETRY_FIRST_MS
#define STORE_RETRY_FIRST_MS 250
#endif
#ifndef STORE_RETRY_CAP_MS
#define STORE_RETRY_CAP_MS 5000
#endif

static void on_later(uv_timer_t *t);

/* Arm the 'later' timer for the earliest READY job not yet due, so that
 * wk_pump starts it on time (the tick alone would round every pause up
 * to heartbeat_ms). The loop's clock may lag ours by a millisecond, so a
 * job found not yet due when the timer fires arms it again. */
static void later_arm(wk_worker *w)
{
    int64_t now = rh_mono_ms(), first = 0;

    if (w->stopping)
        return;
    for (wk_job *j = w->jobs; j; j = j->next)
        if (j->state == WK_JOB_READY && j->not_before_ms > now &&
            (first == 0 || j->not_before_ms < first))
            first = j->not_before_ms;
    w->later.data = w;
    if (first == 0)
        uv_timer_stop(&w->later);
    else
        uv_timer_start(&w->later, on_later, (uint64_t)(first - now), 0);
}

static void on_later(uv_timer_t *t)
{
    wk_worker *w = t->data;
    wk_pump(w);
    later_arm(w);
}

/* Start j no sooner than delay_ms from now: it stays READY. */
static void job_later(wk_job *j, int64_t delay_ms)
{
    j->not_before_ms = rh_mono_ms() + delay_ms;
    later_arm(j->w);
}

/* The pause before the next run of j, whose store just failed; -1 when
 * the store has failed for store_retry_ms and the failure is answered.
 * The last pause is cut so that one run starts at the budget's end: an
 * outage shorter than the budget always meets a run after it. */
static int64_t store_retry_delay(wk_job *j)
{
    int64_t now = rh_mono_ms(), left, delay;

    if (j->store_fail_at_ms == 0)
        j->store_fail_at_ms = now;
    left = j->store_fail_at_ms + j->w->cfg->store_retry_ms - now;
    if (left <= 0)
        return -1;
    delay = j->store_fails < 6 ? (int64_t)STORE_RETRY_FIRST_MS << j->store_fails
                               : STORE_RETRY_CAP_MS;
    j->store_fails++;
    if (delay > STORE_RETRY_CAP_MS)
        delay = STORE_RETRY_CAP_MS;
    return delay < left ? delay : left;
}

void wk_on_run(wk_pool *p, wk_job *j, eng_output *out, void *data)
{
    wk_worker *w = data;
    (void)p;
    if (out->kind == RH_EK_CANCELLED && !j->cancelled) {
        /* Killed by the drain: dropped here, put back on the queue by the
         * final requeue of our processing list. */
        rh_log(RH_LOG_INFO, "event=task_requeued task=%s reason=shutdown", j->id);
        wk_job_free(j);
        wk_drain_check(w);
        return;
    }
    if (out->transient && !j->cancelled) {
        /* Its store failed (read-only, full, I/O): nothing of the run
         * committed. Run it again after a pause, for up to store_retry_ms
         * since the first failure: an outage shorter than that never
         * becomes an error reply. Answering now would also be wrong when
         * another run of the same task (a requeue after a freeze) commits
         * a moment later. */
        int64_t delay = store_retry_delay(j);
        if (delay >= 0) {
            rh_log(RH_LOG_WARN, "event=task_retry task=%s reason=\"%s\" run=%d in_ms=%lld "
                   "budget_left_ms=%lld", j->id, RH_LOG_Q(out->error ? out->error : "store failed"),
                   j->crashes + j->store_fails + 1, (long long)delay,
                   (long long)(j->store_fail_at_ms + w->cfg->store_retry_ms - rh_mono_ms()));
            j->state = WK_JOB_READY;
            job_later(j, delay);
            wk_pump(w);
            return;
        }
        rh_log(RH_LOG_ERROR, "event=store_retry_exhausted task=%s runs=%d store_retry_ms=%lld",
               j->id, j->crashes + j->store_fails + 1, (long long)w->cfg->store_retry_ms);
    } else if (out->kind == RH_EK_CRASHED && !j->cancelled &&
               ++j->crashes < w->cfg->max_attempts) {
        /* The executor died (killed from outside, the OOM killer, a crash)
         * and may have died after its DSL commit: run the task again on a
         * fresh executor, where the context's ledger answers a committed
         * task with its recorded result. Answering crashed now would report
         * a failure for effects that stayed. */
        rh_log(RH_LOG_WARN, "event=task_retry task=%s reason=\"%s\" run=%d", j->id,
               RH_LOG_Q(out->error ? out->error : "executor died"),
               j->crashes + j->store_fails + 1);
        j->state = WK_JOB_READY;
        wk_pump(w);
        return;
    }
    if (out->kind == RH_EK_CRASHED && !j->cancelled)
        j->dead = 1;                  /* max_attempts runs died: dead letter */
    if (j->run_at_us > 0) {           /* the mean run, for the prefetch */
        double us = (double)(rh_mono_us() - j->run_at_us);
        w->run_us_avg = w->run_us_avg > 0 ? w->run_us_avg + (us - w->run_us_avg) / 8 : us;
    }
    rh_free(j->events);               /* relayed before the finish (relay.c) */
    j->events = out->events;
    out->events = NULL;
    wk_relay_prepare(j);
    job_finish(j, out->status, out->kind, out->output ? out->output : rh_strdup("null"),
               out->error, out->logs);
    out->output = out->error = out->logs = NULL;
    wk_pump(w);
}

/* Start the job on an idle executor, or with 'queue' behind a busy one's
 * job (wk_pool_queue). No executor free: it stays READY. Any other failure
 * to hand it over ends it, never leaving it claimed with no executor: a
 * frame the encoder refuses (a string that is not UTF-8, too big) is
 * `invalid`; a pipe that broke (the executor is retired) is tried again
 * on another, as a crash is, up to max_attempts; no memory is `internal`.
 * 1 started, 0 still READY, -1 ended (j may be freed). */
int wk_job_start(wk_job *j, int queue)
{
    wk_worker *w = j->w;
    rh_task *t = &j->task;
    eng_input in;
    eng_limits lim;
    int64_t timeout = t->timeout_ms > 0 ? t->timeout_ms : w->cfg->default_timeout_ms;
    char msg[160];
    int rc;

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
    in.attempt = t->attempt > 0 ? t->attempt : 1;
    in.parent_id = t->parent_id;
    in.trace_id = t->trace_id;
    in.depth = t->depth;
    in.event_json = t->event;
    in.depth_max = w->cfg->event_depth_max;
    in.event_repair_ms = w->cfg->event_repair_ms;
    wk_config_limits(w->cfg, &lim);
    rc = (queue ? wk_pool_queue : wk_pool_run)(&w->pool, j, &in, &lim, timeout);
    if (rc == 0) {
        j->state = WK_JOB_RUNNING;
        j->run_at_us = rh_mono_us();
        if (j->crashes == 0 && j->store_fails == 0 && t->created_at > 0)
            wk_metrics_wait(w->metrics, rh_now_ms() - t->created_at);   /* first run only */
        /* one queued behind a busy executor's job starts when that one's
         * result is in (wk_on_pool_start): it may still come back unrun */
        if (!queue)
            wk_start_send(j);
        rh_log(RH_LOG_DEBUG, "event=task_start task=%s attempt=%d queued=%d", j->id,
               t->attempts + (t->status == RHAI_STATUS_CLAIMED), queue);
        return 1;
    }
    if (rc == RHAI_ESTATE)
        return 0;
    if (rc == RHAI_ENOMEM) {          /* not run: stays READY, tried again by the pump */
        rh_log(RH_LOG_ERROR, "event=start_nomem task=%s out of memory sending it to an "
               "executor, trying again", j->id);
        return 0;
    }
    if (rc == RHAI_EIO && ++j->crashes < w->cfg->max_attempts) {
        rh_log(RH_LOG_WARN, "event=task_retry task=%s reason=\"executor pipe broken\"", j->id);
        return 0;
    }
    snprintf(msg, sizeof msg, "task cannot be sent to an executor: %s%s",
             rc == RHAI_EINVAL ? "a field is not valid UTF-8 text" : rhai_strerror(rc),
             rc == RHAI_ETOOBIG ? " (frame over its limit)" : "");
    rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"%s\"", j->id, RH_LOG_Q(msg));
    wk_job_fail(j, rc == RHAI_EINVAL || rc == RHAI_ETOOBIG ? RH_EK_INVALID : RH_EK_INTERNAL, msg);
    return -1;
}
