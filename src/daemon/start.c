/* start.c -- a task's start: running, started_at and attempts + 1 at
 * once, and in Redis by wk_lua_start, batched (one script call for the
 * pending starts at each command flush, worker.c) or deferred by
 * start_defer_ms so that a short task's finish carries its start. take.c
 * claims the task and hands it to an executor (wk_pump), which calls
 * wk_start_send here. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"

/* ======================== start ======================== */

/* The started event, cut where the start script puts the id and the time:
 * the same bytes for every task of this instance, built once. 0, or -1
 * when it cannot be built. */
static int started_event_parts(wk_worker *w)
{
    char *event, *id, *at;
    rh_task ev;
    size_t n;

    if (w->ev_started[0])
        return 0;
    rh_task_init(&ev);
    ev.id = "";
    ev.status = RHAI_STATUS_RUNNING;
    event = wk_event_json(w, "started", &ev);
    /* "at" is the last key */
    if (event == NULL || (id = strstr(event, "\"id\":\"\"")) == NULL ||
        (at = strstr(id, "\"at\":")) == NULL ||
        (n = (size_t)(at + 5 - event)) >= sizeof w->ev_started) {
        rh_free(event);
        return -1;
    }
    w->ev_started_id = (size_t)(id + 5 - event);        /* up to and with "id": */
    memcpy(w->ev_started, event, n);                    /* up to and with "at": */
    w->ev_started[n] = '\0';
    rh_free(event);
    return 0;
}

/* Starts go out in batches (wk_lua_start): wk_start_send marks the job
 * and kicks the command flush (worker.c), which calls wk_starts_send
 * before it sends finishes. The answer gives each job the attempts its
 * start counted (looked up by id: a job may have ended meanwhile).
 * NOSCRIPT: the same batch once more as EVAL. A start pending while the
 * command connection is down goes at the first flush after it is back
 * (still ahead of the job's finish); one lost in flight with its
 * connection is not resent: the hash says claimed until the finish. */
#define START_BATCH_MAX 64

/* The started event of task 'id' at 'at' into *out (initialised here;
 * the caller frees it): its parts up to "id": and from after the id up
 * to "at": are the same for every task (started_event_parts). 0, or -1
 * without memory. */
int wk_started_event(wk_worker *w, const char *id, int64_t at, rh_buf *out)
{
    char now[24];
    int rc = 0;

    rh_buf_init(out);
    if (started_event_parts(w) != 0)
        return -1;
    snprintf(now, sizeof now, "%lld", (long long)at);
    rc |= rh_buf_append(out, w->ev_started, w->ev_started_id);
    rc |= rh_json_str_append(out, id);
    rc |= rh_buf_append(out, w->ev_started + w->ev_started_id + 2,
                        strlen(w->ev_started + w->ev_started_id + 2));
    rc |= rh_buf_append(out, now, strlen(now));
    rc |= rh_buf_append(out, "}", 1);
    return rc ? -1 : 0;
}

typedef struct start_batch {
    wk_worker *w;
    int        n;
    int        eval;                /* sent as EVAL already */
    int64_t    at[START_BATCH_MAX];
    char       id[START_BATCH_MAX][RH_NAME_MAX + 1];
} start_batch;

static int start_batch_send(start_batch *b);

static void on_start(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    start_batch *b = priv;
    wk_job *j;
    (void)ac;

    if (reply && wk_is_noscript(reply) && !b->eval) {
        wk_scripts_load(b->w);
        b->eval = 1;
        if (start_batch_send(b) == 0)
            return;
    } else if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t)b->n) {
        for (int i = 0; i < b->n; i++) {
            const redisReply *e = reply->element[i];
            if (e->type == REDIS_REPLY_INTEGER && e->integer > 0 &&
                (j = wk_job_find(b->w, b->id[i], strlen(b->id[i]))) != NULL)
                j->task.attempts = (int)e->integer;
            else if (e->type == REDIS_REPLY_ERROR)
                rh_log(RH_LOG_WARN, "event=start_failed task=%s reason=\"%s\"", b->id[i],
                       RH_LOG_Q(e->str));
        }
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        for (int i = 0; i < b->n; i++)
            rh_log(RH_LOG_WARN, "event=start_failed task=%s reason=\"%s\"", b->id[i],
                   RH_LOG_Q(reply->str));
    }
    rh_free(b);
}

static int start_batch_send(start_batch *b)
{
    wk_worker *w = b->w;
    char nkeys[16], k_task[START_BATCH_MAX][RH_KEY_MAX], now[START_BATCH_MAX][24];
    rh_buf ev[START_BATCH_MAX];
    const char *argv[5 + 3 * START_BATCH_MAX];
    size_t lens[5 + 3 * START_BATCH_MAX];
    int argc = 2, rc = 0;

    snprintf(nkeys, sizeof nkeys, "%d", b->n);
    argv[argc++] = nkeys;
    for (int i = 0; i < b->n; i++)
        argv[argc++] = rh_key_task(k_task[i], w->cfg->prefix, w->cfg->worker_id, b->id[i]);
    argv[argc++] = w->cfg->instance;
    argv[argc++] = w->k_events;
    for (int i = 2; i < argc; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < b->n; i++) {
        snprintf(now[i], sizeof now[i], "%lld", (long long)b->at[i]);
        rc |= wk_started_event(w, b->id[i], b->at[i], &ev[i]);
        argv[argc] = ev[i].data ? ev[i].data : "";
        lens[argc] = ev[i].data ? ev[i].len : 0;
        argc++;
        argv[argc] = now[i];
        lens[argc] = strlen(now[i]);
        argc++;
    }
    wk_script_args(b->eval ? "" : w->sha_start, wk_lua_start, argv, lens);
    if (rc == 0)
        rc = wk_conn_argv(&w->cmd, on_start, b, argc, argv, lens);
    for (int i = 0; i < b->n; i++)
        rh_buf_free(&ev[i]);
    return rc;
}

static void on_start_timer(uv_timer_t *t)
{
    wk_worker *w = t->data;
    if (w->cmd.up)
        wk_flush_kick(w);             /* whose flush calls wk_starts_send */
}

/* Wake the flush at 'due' (monotonic ms) for the deferred starts. */
static void start_timer_at(wk_worker *w, int64_t due, int64_t now)
{
    w->start_timer.data = w;
    uv_timer_start(&w->start_timer, on_start_timer, due > now ? (uint64_t)(due - now) : 0, 0);
}

void wk_starts_send(wk_worker *w)
{
    start_batch *b = NULL;
    int64_t now = rh_mono_ms(), first = 0;

    for (wk_job *j = w->jobs; j; j = j->next) {
        if (!j->start_pending)
            continue;
        if (j->start_due_ms > now && !w->stopping) {
            /* not due: its finish may carry it (start_defer_ms) */
            if (first == 0 || j->start_due_ms < first)
                first = j->start_due_ms;
            continue;
        }
        j->start_pending = 0;
        if (b == NULL && (b = rh_calloc(1, sizeof *b)) == NULL)
            continue;                /* the hash says claimed until the finish */
        b->w = w;
        b->at[b->n] = j->task.started_at;
        snprintf(b->id[b->n], sizeof b->id[b->n], "%s", j->id);
        if (++b->n == START_BATCH_MAX) {
            if (start_batch_send(b) != 0)
                rh_free(b);
            b = NULL;
        }
    }
    if (b && start_batch_send(b) != 0)
        rh_free(b);
    if (first != 0)
        start_timer_at(w, first, now);
}

/* A task's start: running, started_at, attempts + 1 here at once, and in
 * Redis by wk_lua_start at the next flush, or, with start_defer_ms, once
 * it has run that long: a task that ends sooner has its start written by
 * its finish (start_folded, wk_lua_finish), one script call and one
 * write of the hash fewer. */
void wk_start_send(wk_job *j)
{
    wk_worker *w = j->w;

    if (j->task.status != RHAI_STATUS_CLAIMED)
        return;                      /* started before: the same delivery */
    j->task.status = RHAI_STATUS_RUNNING;
    j->task.started_at = rh_now_ms();
    j->task.attempts++;              /* as the script counts it */
    if (started_event_parts(w) != 0)
        return;                      /* the hash says claimed until the finish */
    j->start_pending = 1;
    j->start_due_ms = 0;
    if (w->stopping) {
        wk_starts_send(w);           /* the flush is closing: at once */
    } else if (w->cfg->start_defer_ms > 0) {
        /* due after every start deferred before it: a timer running is
         * due sooner (and wk_starts_send arms it for the next one) */
        int64_t now = rh_mono_ms();
        j->start_due_ms = now + w->cfg->start_defer_ms;
        if (!uv_is_active((uv_handle_t *)&w->start_timer))
            start_timer_at(w, j->start_due_ms, now);
    } else if (w->cmd.up) {          /* down: sent by the reconnect's flush */
        wk_flush_kick(w);
    }
}
