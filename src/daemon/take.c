/* take.c -- how rhaid takes tasks: the claim of one id (Lua), the take
 * of an idle queue (BLMOVE with the claim of the head behind it) and of a
 * hot one (batch take), the prefetch, and wk_pump, which starts ready jobs
 * on executors and takes more while credit remains. start.c writes their
 * starts, worker.c runs the rest of a task's life. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* ======================== claim ======================== */


/* Signed tasks are verified always; unsigned ones are refused when
 * require_signatures is set. A signature binds the caller (its public key),
 * the deployment (our key prefix), the task's identity, code and
 * arguments, and its creation time, which must lie within
 * signature_skew_ms of now. */
static int signature_check(wk_worker *w, const rh_task *t, rhai_error *err)
{
    rh_sign_fields f;
    int64_t skew;
    int rc;

    if ((rc = wk_cron_firing_check(w->cfg, t, rh_now_ms(), err)) <= 0)
        return rc;             /* a cron firing: its schedule's signature */
    if (t->signature == NULL || t->signature[0] == '\0')
        return w->cfg->require_signatures
                   ? rh_error_set(err, RHAI_EINVAL, "unsigned task: this worker requires "
                                  "signatures")
                   : 0;
    f.id = t->id;
    /* our own worker id, as our own prefix, never the hash's: a task
     * signed for another worker id and copied into our queue is denied */
    f.worker_id = w->cfg->worker_id;
    f.context_id = t->context_id ? t->context_id : "default";
    f.caller_id = t->caller_id ? t->caller_id : "anonymous";
    f.script = t->script;
    f.script_len = t->script_len;
    f.args = t->args;
    f.created_at = t->created_at;
    f.prefix = w->cfg->prefix;       /* binds the task to this deployment */
    if (rh_sign_verify(t->signature, &f, err) != 0)
        return -1;
    skew = rh_now_ms() - t->created_at;
    if (skew > w->cfg->signature_skew_ms || -skew > w->cfg->signature_skew_ms)
        return rh_error_set(err, RHAI_EINVAL, "expired signed task: created_at is %lld ms "
                            "from now (allowed: %lld)", (long long)skew,
                            (long long)w->cfg->signature_skew_ms);
    return 0;
}

static void claim_apply(wk_job *j, const redisReply *reply, size_t first, int with_take);
static void rescan_later(wk_worker *w);
static void v1_check(wk_job *j);

static void on_claim(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_job *j = priv;
    wk_worker *w = j->w;
    const char *what;
    (void)ac;

    if (reply == NULL) {             /* lost: re-taken from the processing list */
        wk_job_free(j);
        return;
    }
    if (wk_is_noscript(reply)) {
        wk_scripts_load(w);
        wk_claim_send(j);                /* as EVAL this time */
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        /* Redis refused (OOM, a replica, a script error): the id stays in
         * our processing list and the claim is retried every tick. */
        rh_log(RH_LOG_ERROR, "event=claim_failed task=%s reason=\"%s\" retrying", j->id,
               RH_LOG_Q(reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
        j->retry = 1;
        return;
    }
    what = reply->element[0]->str;
    if (strcmp(what, "missing") == 0) {
        v1_check(j);
        return;
    }
    if (strcmp(what, "badtype") == 0) {
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"task key holds a %s, not a "
               "hash: dropped\"", j->id, reply->elements > 1 ? reply->element[1]->str : "?");
        wk_job_free(j);
        wk_pump(w);
        return;
    }
    if (strcmp(what, "replay") == 0) {
        rh_log(RH_LOG_WARN, "event=task_denied task=%s reason=replay", j->id);
        wk_job_fail(j, RH_EK_DENIED, "replayed task: this signed task id was already answered");
        return;
    }
    if (strcmp(what, "paused") == 0) {
        /* given back to the queue: the worker id is paused */
        rh_log(RH_LOG_DEBUG, "event=task_paused task=%s given back", j->id);
        wk_pause_set(w, 1);
        wk_job_free(j);
        return;
    }
    if (strcmp(what, "skip") == 0) {
        rh_log(RH_LOG_INFO, "event=task_skipped task=%s status=%s", j->id,
               reply->elements > 1 ? reply->element[1]->str : "?");
        wk_job_free(j);
        wk_pump(w);
        return;
    }
    claim_apply(j, reply, 1, 0);
}

/* ======================== protocol v1 tasks ======================== */

/* docs/operations.md, "Upgrading to protocol 2": a v1 client writes its
 * task at rhai:task:{ID} and pushes the id onto the same queue. An id with
 * no v2 hash is looked up there (a command of its own: another slot, and
 * only on this path); a v1 task is answered in v1 form, status error,
 * error_kind invalid, on its v1 reply list, and its id dropped. Anything
 * else is answered as before: no hash, invalid. */
#define V1_REFUSED "protocol v1 task refused: worker %s speaks protocol " \
    RH_DEF_STR(RH_PROTOCOL_VERSION) "; upgrade the client (docs/operations.md, Upgrading " \
    "to protocol 2)"

static void on_v1(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_job *j = priv;
    wk_worker *w = j->w;
    char k_task[RH_KEY_MAX], k_reply[RH_KEY_MAX], msg[400], now[24], ttl[24];
    const char *rt;
    json_t *o;
    char *text;
    (void)ac;

    if (reply == NULL) {             /* lost: re-taken from the processing list */
        wk_job_free(j);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        /* no v1 hash (its created_at is always there): as before */
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"no task hash\"", j->id);
        wk_job_fail(j, RH_EK_INVALID, "task not found: no hash at the task key");
        return;
    }
    rh_key_task_v1(k_task, w->cfg->prefix, j->id);
    rt = reply->element[0]->type == REDIS_REPLY_STRING ? reply->element[0]->str : NULL;
    if (rh_reply_to_valid_v1(w->cfg->prefix, rt))
        snprintf(k_reply, sizeof k_reply, "%s", rt);
    else
        rh_key_reply_v1(k_reply, w->cfg->prefix, j->id);
    snprintf(msg, sizeof msg, V1_REFUSED, w->cfg->worker_id);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->cfg->result_ttl_ms);
    rh_log(RH_LOG_WARN, "event=task_refused task=%s reason=\"protocol v1 task\" answered on %s",
           j->id, RH_LOG_Q(k_reply));
    o = json_pack("{s:s, s:s, s:n, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i, s:I}",
                  "id", j->id, "status", "error", "output", "error", msg, "error_kind",
                  "invalid", "logs", "", "worker_id", w->cfg->worker_id, "instance",
                  w->cfg->instance, "attempts", 0, "created_at",
                  (json_int_t)atoll(reply->element[1]->str), "started_at", 0,
                  "finished_at", (json_int_t)atoll(now));
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text != NULL) {
        wk_conn_cmd(&w->cmd, NULL, NULL, "HSET %s status error error_kind invalid error %s "
                    "finished_at %s output null", k_task, msg, now);
        wk_conn_cmd(&w->cmd, NULL, NULL, "PEXPIRE %s %s", k_task, ttl);
        wk_conn_cmd(&w->cmd, NULL, NULL, "LPUSH %s %s", k_reply, text);
        wk_conn_cmd(&w->cmd, NULL, NULL, "PEXPIRE %s %s", k_reply, ttl);
        wk_conn_cmd(&w->cmd, NULL, NULL, "LREM %s 1 %s", w->k_proc, j->id);
        free(text);
    }                                /* no memory: the id stays, re-taken later */
    wk_job_free(j);
    wk_pump(w);
}

static void v1_check(wk_job *j)
{
    char k_task[RH_KEY_MAX];

    if (wk_conn_cmd(&j->w->cmd, on_v1, j, "HMGET %s reply_to created_at status",
                    rh_key_task_v1(k_task, j->w->cfg->prefix, j->id)) != 0)
        wk_job_free(j);              /* re-taken from the processing list later */
}

/* A claimed task: the hash's fields from reply->element[first] on, then
 * perhaps '!over' and the message naming a field over its limit, which
 * the claim did not fetch (LUA_FETCH). Check it, then it is ready to run;
 * a task with a field over its limit is answered `invalid`. */
/* Out of memory reading a claimed task: not the task's fault. Forget what
 * was read and claim it again by id on the next tick (the claim of a task
 * this instance holds returns it as it is). */
static void claim_nomem(wk_job *j)
{
    rh_log(RH_LOG_ERROR, "event=claim_nomem task=%s out of memory reading the task, "
           "read again next tick", j->id);
    rh_task_clear(&j->task);
    j->state = WK_JOB_CLAIMING;
    j->retry = 1;
}

static void claim_apply(wk_job *j, const redisReply *reply, size_t first, int with_take)
{
    wk_worker *w = j->w;
    const char *over = NULL;
    char msg[600];
    rhai_error err;
    int rc;

    wk_metrics_claim(w->metrics, with_take);
    for (size_t i = first; i + 1 < reply->elements; i += 2) {
        redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "!over") == 0) {
            over = v->str;
            continue;
        }
        if ((rc = rh_task_set_field(&j->task, k->str, v->str, v->len)) == RHAI_ENOMEM) {
            claim_nomem(j);
            return;
        }
        if (rc != 0) {
            snprintf(msg, sizeof msg, "field %.40s: not a valid value", k->str);
            wk_job_fail(j, RH_EK_INVALID, msg);
            return;
        }
    }
    rh_free(j->task.id);
    /* the key names the task, not the field */
    if ((j->task.id = rh_strdup(j->id)) == NULL) {
        claim_nomem(j);
        return;
    }
    if (over != NULL) {
        snprintf(msg, sizeof msg, "%.150s", over);
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"%s\"", j->id, RH_LOG_Q(msg));
        wk_job_fail(j, RH_EK_INVALID, msg);
        return;
    }
    if (rh_task_validate(&j->task, (size_t)w->cfg->max_script, (size_t)w->cfg->max_args,
                         &err) != 0) {
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"%s\"", j->id, RH_LOG_Q(err.msg));
        wk_job_fail(j, RH_EK_INVALID, err.msg);
        return;
    }
    if (j->task.reply_to && !rh_reply_to_valid(w->cfg->prefix, w->cfg->worker_id,
                                               j->task.reply_to)) {
        /* key layout v2: the reply list lives in the slot of our worker
         * id, so that the finish pushes it atomically with the result */
        snprintf(msg, sizeof msg, "reply_to must be a list under %.300s (the slot of worker id "
                 "%.128s)", w->reply_prefix, w->cfg->worker_id);
        wk_job_fail(j, RH_EK_INVALID, msg);
        return;
    }
    if (signature_check(w, &j->task, &err) != 0) {
        rh_log(RH_LOG_WARN, "event=task_denied task=%s reason=\"%s\"", j->id, RH_LOG_Q(err.msg));
        wk_job_fail(j, RH_EK_DENIED, err.msg);
        return;
    }
    if (j->task.worker_id && strcmp(j->task.worker_id, w->cfg->worker_id) != 0) {
        /* a hash written by hand under our {W} for another worker id: its
         * reply, index, retry and ledger row would name the other one */
        snprintf(msg, sizeof msg, "worker_id %.128s is not this queue's worker id %.128s",
                 j->task.worker_id, w->cfg->worker_id);
        rh_log(RH_LOG_WARN, "event=task_invalid task=%s reason=\"%s\"", j->id, RH_LOG_Q(msg));
        wk_job_fail(j, RH_EK_INVALID, msg);
        return;
    }
    j->state = WK_JOB_READY;
    wk_pump(w);
}

void wk_claim_send(wk_job *j)
{
    wk_worker *w = j->w;
    char k_task[RH_KEY_MAX], k_seen[RH_KEY_MAX];
    const char *argv[12];
    size_t lens[12];

    rh_key_seen(k_seen, w->cfg->prefix, w->cfg->worker_id, j->id);
    argv[2] = "5";
    argv[3] = rh_key_task(k_task, w->cfg->prefix, w->cfg->worker_id, j->id);
    argv[4] = w->k_proc;
    argv[5] = k_seen;
    argv[6] = w->k_queue;
    argv[7] = w->k_paused;
    argv[8] = j->id;
    argv[9] = w->cfg->instance;
    wk_limit_args(w, argv + 10);
    for (int i = 2; i < 12; i++)
        lens[i] = strlen(argv[i]);
    wk_script_args(w->sha_claim, wk_lua_claim, argv, lens);
    if (wk_conn_argv(&w->cmd, on_claim, j, 12, argv, lens) != 0) {
        wk_job_free(j);
        if (w->cmd.up)
            rescan_later(w);          /* down: its reconnect re-reads the list */
    }
}

/* An id is in our processing list but we hold no job for it (no memory
 * for one, or to send its claim): the list is read again on the next
 * tick (instance.c's scan), which claims every id we do not hold.
 * Recovery would not: it only empties dead instances' lists. */
static void rescan_later(wk_worker *w)
{
    rh_log(RH_LOG_ERROR, "event=take_dropped reason=\"out of memory\" "
           "our processing list is read again next tick");
    w->scanned = 0;
}

/* A taken id: claim it, unless it is junk or we already hold it. */
void wk_take_id(wk_worker *w, const char *id, size_t len)
{
    char tmp[RH_NAME_MAX + 1];
    wk_job *j;

    if (len > RH_NAME_MAX || (memcpy(tmp, id, len), tmp[len] = '\0', !rh_name_valid(tmp))) {
        /* named (cut, escaped) so that an operator can find who pushed it */
        snprintf(tmp, sizeof tmp, "%.*s", (int)(len < 100 ? len : 100), id);
        rh_log(RH_LOG_WARN, "event=bad_id task=- id=\"%s%s\" reason=\"invalid task id in queue, "
               "dropped\"", RH_LOG_Q(tmp), len > 100 ? "..." : "");
        wk_conn_cmd(&w->cmd, NULL, NULL, "LREM %s 1 %b", w->k_proc, id, len);
        return;
    }
    if ((j = wk_job_find(w, id, len)) != NULL) {
        j->retaken = 1;               /* see on_finish */
        return;
    }
    if ((j = wk_job_new(w, id, len)) == NULL) {
        rescan_later(w);              /* it stays in the processing list */
        return;
    }
    j->state = WK_JOB_CLAIMING;
    wk_claim_send(j);
}


/* ======================== take ======================== */

/* A take and the claim sent behind it share this: the take's callback
 * writes the id it moved, the claim's reads it and frees the pair. A take
 * whose claim could not be sent ('alone') claims by id itself. */
typedef struct take_pair {
    wk_worker *w;
    int        alone;
    int        moved;
    char       id[RH_NAME_MAX + 1];
} take_pair;

/* Redis refused a take (OOM, a read-only replica): taking again at once
 * would spin; wait for the next tick. */
static void pop_pause(wk_worker *w, const char *why)
{
    if (!w->pop_paused)
        wk_log_refused(w, "pop_failed", why, "pausing until next tick");
    w->pop_paused = 1;
}

static void on_pop(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    take_pair *p = priv;
    wk_worker *w = p->w;
    (void)ac;
    /* A paired take is in flight until its claim answers. */
    if (p->alone && w->popping > 0) {
        w->popping--;
        w->taking--;
    }
    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        wk_metrics_step(w->metrics, 0, 1);
        if (p->alone)
            w->hot = 1;               /* more may be queued: a batch take says */
        if (p->alone || reply->len > RH_NAME_MAX) {
            wk_take_id(w, reply->str, reply->len);      /* junk is dropped */
        } else {
            /* The claim behind this take answers next (on_claim_head). */
            memcpy(p->id, reply->str, reply->len);
            p->id[reply->len] = '\0';
            p->moved = 1;
        }
    }
    if (p->alone)
        rh_free(p);
    if (reply == NULL)
        return;                       /* pop connection lost or closing */
    if (reply->type == REDIS_REPLY_ERROR)
        pop_pause(w, reply->str);
    wk_pump(w);
}

/* An entry {'run', id, field, value, ...} of a claim made by a take's
 * script (wk_lua_claim_head, wk_lua_take): the job starts from it. 1 when
 * it is one (its id a valid name), else 0. */
static int claimed_run(wk_worker *w, const redisReply *e)
{
    const redisReply *id;
    char tmp[RH_NAME_MAX + 1];
    wk_job *j;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_STRING || strcmp(e->element[0]->str, "run") != 0)
        return 0;
    id = e->element[1];
    if (id->len > RH_NAME_MAX ||
        (memcpy(tmp, id->str, id->len), tmp[id->len] = '\0', !rh_name_valid(tmp)))
        return 0;
    if ((j = wk_job_find(w, id->str, id->len)) != NULL) {
        j->retaken = 1;               /* see finish_done */
    } else if ((j = wk_job_new(w, id->str, id->len)) != NULL) {
        j->state = WK_JOB_CLAIMING;
        claim_apply(j, e, 2, 1);
    } else {
        rescan_later(w);              /* claimed, in our list, no job: read it again */
    }
    return 1;
}

/* The answer of a batch take (wk_lua_take): one entry per id it moved. */
static void on_take(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_worker *w = priv;
    int asked = w->taking;
    (void)ac;

    w->popping = w->taking = 0;       /* a batch take goes alone */
    if (reply == NULL)
        return;                       /* lost: the processing list is re-read */
    if (reply->type != REDIS_REPLY_ARRAY) {
        w->hot = 0;                   /* back to BLMOVE (and its claim) */
        if (wk_is_noscript(reply)) {
            wk_scripts_load(w);
        } else {
            pop_pause(w, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        }
        wk_pump(w);
        return;
    }
    if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "paused") == 0) {
        w->hot = 0;
        wk_pause_set(w, 1);           /* nothing was moved */
        return;
    }
    wk_metrics_step(w->metrics, 0, (unsigned)reply->elements);
    if ((int)reply->elements < asked)
        w->hot = 0;                   /* the queue ran out */
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (claimed_run(w, e))
            continue;
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
            e->element[1]->type == REDIS_REPLY_STRING)
            wk_take_id(w, e->element[1]->str, e->element[1]->len);
    }
    wk_pump(w);
}

/* The answer of the claim sent behind a take (wk_lua_claim_head), right
 * after the take's own. The id the take moved, if any, is in the pair: when
 * the script did not claim it (no hash, final, replay, the script cache
 * flushed, an error), it is claimed by id as before. A claimed id that is
 * not the one taken can only be one left unclaimed in our list by a lost
 * reply while a timed-out take ran: it is ours to run, unless the re-read
 * of the list already holds it. When the take moved an id and the queue
 * still holds some, the next are taken in batches ('hot'). */
static void on_claim_head(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    take_pair *p = priv;
    wk_worker *w = p->w;
    char taken[RH_NAME_MAX + 1];
    int have = p->moved;
    (void)ac;

    memcpy(taken, p->id, sizeof taken);
    rh_free(p);
    if (w->popping > 0) {
        w->popping--;
        w->taking--;
    }
    if (reply == NULL)
        return;                 /* connection lost: the list is re-read */
    if (wk_is_noscript(reply))
        wk_scripts_load(w);
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER) {
        if (have && reply->element[0]->integer > 0)
            w->hot = 1;
        reply = reply->element[1];
    } else if (have) {
        w->hot = 1;             /* refused or unloaded: a batch take tells */
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "paused") == 0) {
        /* Paused: a queued head went back to the queue (back 1); any
         * other stays in our list for the claim by id, which answers or
         * drops it. Not claimed by id when given back: it is no longer
         * ours, and another instance may take it once resumed. */
        w->hot = 0;
        wk_pause_set(w, 1);
        if (have && reply->element[1]->type == REDIS_REPLY_INTEGER &&
            reply->element[1]->integer == 0)
            wk_take_id(w, taken, strlen(taken));
        return;
    }
    if (claimed_run(w, reply) && have && strcmp(reply->element[1]->str, taken) == 0)
        have = 0;
    if (have)
        wk_take_id(w, taken, strlen(taken));
    wk_pump(w);
}

/* argv[0..1]: max_script and max_args as text, for the claim scripts'
 * field limits (LUA_FETCH). Valid until the next call. */
void wk_limit_args(wk_worker *w, const char **argv)
{
    snprintf(w->lim_script, sizeof w->lim_script, "%lld", (long long)w->cfg->max_script);
    snprintf(w->lim_args, sizeof w->lim_args, "%lld", (long long)w->cfg->max_args);
    argv[0] = w->lim_script;
    argv[1] = w->lim_args;
}

/* The arguments the take scripts share (LUA_CLAIM), from argv[0]: prefix,
 * instance, max_script and max_args, TAKE_ARGS of them. */
#define TAKE_ARGS 4
static void take_args(wk_worker *w, const char **argv, size_t *lens)
{
    argv[0] = w->cfg->prefix;
    argv[1] = w->cfg->instance;
    wk_limit_args(w, argv + 2);
    for (int i = 0; i < TAKE_ARGS; i++)
        lens[i] = strlen(argv[i]);
}

/* Send a batch take of 'n' ids (see wk_lua_take). 0, or -1. */
static int take_send(wk_worker *w, int n)
{
    const char *argv[7 + TAKE_ARGS];
    size_t lens[7 + TAKE_ARGS];
    char count[16];

    snprintf(count, sizeof count, "%d", n);
    argv[2] = "3";
    argv[3] = w->k_queue;
    argv[4] = w->k_proc;
    argv[5] = w->k_paused;
    argv[6 + TAKE_ARGS] = count;
    for (int i = 2; i < 6; i++)
        lens[i] = strlen(argv[i]);
    lens[6 + TAKE_ARGS] = strlen(count);
    take_args(w, argv + 6, lens + 6);
    wk_script_args(w->sha_take, wk_lua_take, argv, lens);
    if (wk_conn_argv(&w->pop, on_take, w, 7 + TAKE_ARGS, argv, lens) != 0)
        return -1;
    w->popping = 1;
    w->taking = n;
    return 0;
}

/* Send the claim of the head behind a take (see wk_lua_claim_head).
 * 0, or -1 when it could not be sent. */
static int claim_head_send(wk_worker *w, take_pair *p)
{
    const char *argv[6 + TAKE_ARGS];
    size_t lens[6 + TAKE_ARGS];

    argv[2] = "3";
    argv[3] = w->k_proc;
    argv[4] = w->k_queue;
    argv[5] = w->k_paused;
    lens[2] = 1;
    lens[3] = strlen(w->k_proc);
    lens[4] = strlen(w->k_queue);
    lens[5] = strlen(w->k_paused);
    take_args(w, argv + 6, lens + 6);
    wk_script_args(w->sha_claim_head, wk_lua_claim_head, argv, lens);
    return wk_conn_argv(&w->pop, on_claim_head, p, 6 + TAKE_ARGS, argv, lens) == 0 ? 0 : -1;
}

/* Start ready jobs on idle executors, and take more while credit remains:
 * credit = idle executors + prefetch - jobs taken and not yet running -
 * ids the takes in flight may bring.
 *
 * An idle queue is waited on with BLMOVEs, each with the claim of the head
 * behind it. Several are pipelined on the pop connection: Redis serves them
 * in order, so a long queue fills every free slot in one round trip, and
 * an empty one just has them wait their turn. Once a take found work
 * ('hot'), the credit is taken in one batch take (wk_lua_take) at a time,
 * so that the ids freed while one is in flight go in the next: one script
 * call for several tasks under load, until a batch comes back short. */
#define TAKE_BATCH_MAX 64

/* How many tasks to hold taken beyond the idle executors: about
 * PREFETCH_HORIZON_US of work at the mean run of the last tasks, so that
 * short tasks are taken in batches while long ones do not wait here,
 * claimed, behind each other while another instance may be idle; never
 * more than 'prefetch', never fewer than min(2, prefetch). */
#define PREFETCH_HORIZON_US 5000.0

static int prefetch_now(const wk_worker *w)
{
    int max = (int)w->cfg->prefetch, least = max < 2 ? max : 2;
    double n;

    if (w->run_us_avg <= 0)
        return least;
    n = PREFETCH_HORIZON_US * w->pool.n / w->run_us_avg;
    return n >= max ? max : n <= least ? least : (int)n;
}

void wk_pump(wk_worker *w)
{
    int credit;
    const char *argv[6];

    if (w->stopping || w->guard_wait)   /* the split guard first (instance.c) */
        return;
    if (!w->draining) {
        int queue = 0;
        /* Short tasks also go one behind each busy executor's, which then
         * runs them back to back instead of waiting for us in between.
         * A job that cannot be handed over at all ends there (finishing,
         * or freed when out of memory): 'next' is read first. */
        for (wk_job *j = w->jobs, *next; j; j = next) {
            next = j->next;
            if (j->state != WK_JOB_READY || j->not_before_ms > rh_mono_ms())
                continue;
            /* paused: a task claimed before we knew waits here (a drain
             * gives it back); one that ran already (an executor died
             * under it) goes on */
            if (w->paused && j->task.status == RHAI_STATUS_CLAIMED)
                continue;
            if (!queue && wk_pool_idle(&w->pool) == 0) {
                /* not for long tasks: one would hold the task behind it
                 * while another executor may be free */
                if (w->run_us_avg <= 0 || w->run_us_avg > (double)w->cfg->pipeline_max_us)
                    break;
                queue = 1;
            }
            if (wk_job_start(j, queue) == 0 && queue)
                break;                /* every executor holds one queued */
        }
    }
    if (w->draining || w->pop_paused || w->paused || !w->pop.up || !w->cmd.up || !w->scanned)
        return;
    credit = wk_pool_idle(&w->pool) + prefetch_now(w) - w->taking -
             wk_count_jobs(w, WK_JOB_CLAIMING) - wk_count_jobs(w, WK_JOB_READY);
    if (w->hot) {
        if (w->popping > 0 || credit <= 0 ||
            take_send(w, credit < TAKE_BATCH_MAX ? credit : TAKE_BATCH_MAX) == 0)
            return;
        w->hot = 0;                   /* could not send it: BLMOVE */
    }
    argv[0] = "BLMOVE";
    argv[1] = w->k_queue;
    argv[2] = w->k_proc;
    argv[3] = "RIGHT";
    argv[4] = "LEFT";
    argv[5] = "1";
    /* never more takes in flight than executors: an idle instance keeps
     * at most 'concurrency' blocked BLMOVEs */
    while (credit-- > 0 && w->popping < w->pool.n) {
        take_pair *p = rh_calloc(1, sizeof *p);
        if (p == NULL)
            break;
        p->w = w;
        if (wk_conn_argv(&w->pop, on_pop, p, 6, argv, NULL) != 0) {
            rh_free(p);
            break;
        }
        w->popping++;
        w->taking++;
        if (claim_head_send(w, p) != 0)
            p->alone = 1;
    }
}

/* A job queued behind another comes back unrun (its executor died): it
 * is ready again, not a crash of its own. */
void wk_on_pool_back(wk_pool *p, wk_job *j, void *data)
{
    (void)p;
    (void)data;
    rh_log(RH_LOG_INFO, "event=task_requeued task=%s reason=\"executor gone before it started\"",
           j->id);
    j->state = WK_JOB_READY;
}

/* A job queued behind another is the executor's running one now. */
void wk_on_pool_start(wk_pool *p, wk_job *j, void *data)
{
    (void)p;
    (void)data;
    wk_start_send(j);
}

void wk_on_pool_ready(wk_pool *p, void *data)
{
    (void)p;
    wk_pump(data);
}

/* The callbacks by their daemon.h names, for the unit tests. */
void wk_on_claim(rh_aconn *ac, redisReply *reply, void *job)
{
    on_claim(ac, reply, job);
}

void wk_on_v1(rh_aconn *ac, redisReply *reply, void *job)
{
    on_v1(ac, reply, job);
}

void wk_on_take(rh_aconn *ac, redisReply *reply, void *worker)
{
    on_take(ac, reply, worker);
}
