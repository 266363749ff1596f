/* relay.c -- the events a result carries, relayed to Redis before the
 * finish and marked relayed in the store after it (docs/events.md).
 *
 * An executor returns the events its task committed (and, on a ledger
 * replay or a repair sweep, older unrelayed ones of the same context). The
 * result frame comes from a process that runs untrusted scripts, so each
 * event's identity is checked here against the task rhaid sent before
 * anything is relayed. Then, per event, one wk_lua_relay_sub call per
 * subscription creates the subscriber task in its target worker id's slot
 * (gated per target worker id, so never twice), and one wk_lua_relay call
 * appends the event to the context's stream (gated per context) in the
 * context's slot: key layout v2, one slot per script. Only
 * when every call of a job is answered does its finish go out; a crash in
 * between redelivers the task, whose ledger replay brings the same events
 * again, and the gates hold. After the finish, the event ids are marked
 * relayed in the store by a job on libuv's thread pool with a store
 * handle of its own: one job in flight, everything pending in one batch.
 * A failed mark only logs: the repair sweep brings the row back later and
 * the gates make its relay a no-op. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>

#include "daemon.h"
#include "dsl/dsl.h"
#include "store/store.h"

/* How long the dedupe sets remember an event or a subscriber task: far
 * beyond any redelivery and repair sweep. */
#ifndef WK_RELAY_KEEP_MS
#define WK_RELAY_KEEP_MS ((long long)RH_DEF_EVENT_KEEP_MS)
#endif
/* Most event ids one mark job takes. */
#ifndef WK_MARK_BATCH
#define WK_MARK_BATCH 1000
#endif

typedef struct mark_item {
    char ctx[RH_NAME_MAX + 1];
    char id[RH_NAME_MAX + 1];
} mark_item;

typedef struct wk_relay {
    wk_worker  *w;
    uv_work_t   req;
    int         busy;             /* the mark job in flight */
    int         stopping;
    store      *st;               /* owned by the mark job's thread */
    mark_item  *pending;          /* waiting for the next job */
    size_t      npending, cap;
    mark_item  *batch;            /* the job's */
    size_t      nbatch;
    long        failed;           /* the job's: ids left unmarked */
    rhai_error  err;
} wk_relay;

/* ======================== checks ======================== */

static int caller_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 127 || n >= RH_LIM_CALLER)
            return 0;
    return s && n > 0;
}

static int event_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *str_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* One subscription entry as a task would be checked. NULL: fine, else why. */
static const char *sub_check(const wk_config *cfg, json_t *s)
{
    const char *args = str_of(s, "args"), *script = str_of(s, "script");
    json_t *a;

    if (!json_is_object(s))
        return "a subscription is not an object";
    if (!rh_name_valid(str_of(s, "name")))
        return "subscription name";
    if (!rh_name_valid(str_of(s, "worker")))
        return "subscription worker";
    if (!caller_ok(str_of(s, "caller")))
        return "subscription caller";
    if (script == NULL || script[0] == '\0' || (int64_t)strlen(script) > cfg->max_script)
        return "subscription script (empty, or over max_script)";
    if (args) {
        if ((int64_t)strlen(args) > cfg->max_args)
            return "subscription args over max_args";
        a = json_loads(args, 0, NULL);
        if (!json_is_object(a)) {
            json_decref(a);
            return "subscription args not a JSON object";
        }
        json_decref(a);
    } else if (json_object_get(s, "args") && !json_is_null(json_object_get(s, "args"))) {
        return "subscription args not JSON text";
    }
    return NULL;
}

/* One event against the task that carried it. NULL: fine, else why. */
static const char *event_check(const wk_config *cfg, const rh_task *t, const char *task_id,
                               json_t *e)
{
    const char *ctx = t->context_id ? t->context_id : "default";
    const char *caller = t->caller_id ? t->caller_id : RH_CALLER_ANONYMOUS;
    const char *trace = t->trace_id ? t->trace_id : task_id;
    json_t *depth = json_object_get(e, "depth"), *subs = json_object_get(e, "subs"), *s;
    const char *why;
    size_t i;
    char sid[RH_NAME_MAX + 1];

    if (!json_is_object(e))
        return "not an object";
    if (!rh_name_valid(str_of(e, "id")))
        return "id";
    if (!event_name_ok(str_of(e, "name")))
        return "name";
    if (!json_object_get(e, "payload"))
        return "no payload";
    if (!json_is_integer(json_object_get(e, "time")))
        return "time";
    /* identity: never taken from the executor */
    if (str_of(e, "context") == NULL || strcmp(str_of(e, "context"), ctx) != 0)
        return "context is not the task's";
    if (!rh_name_valid(str_of(e, "task")) || !caller_ok(str_of(e, "caller")) ||
        !rh_name_valid(str_of(e, "trace")))
        return "task, caller or trace";
    if (!json_is_integer(depth) || json_integer_value(depth) < 1 ||
        json_integer_value(depth) > RH_EVENT_DEPTH_LIMIT)
        return "depth";
    if (strcmp(str_of(e, "task"), task_id) == 0) {
        /* this task's own event (a run's, or its replay's): all of it is
         * known here */
        if (strcmp(str_of(e, "caller"), caller) != 0)
            return "caller is not the task's";
        if (strcmp(str_of(e, "trace"), trace) != 0)
            return "trace is not the task's";
        if (json_integer_value(depth) != t->depth + 1)
            return "depth is not the task's + 1";
    }
    /* else: the repair sweep's row of another task of the same context */
    if (subs != NULL && !json_is_array(subs))
        return "subs is not an array";
    json_array_foreach(subs, i, s) {
        if ((why = sub_check(cfg, s)) != NULL)
            return why;
        if (rh_event_task_id(sid, str_of(e, "id"), str_of(s, "name")) != 0)
            return "subscription name";
    }
    return NULL;
}

int wk_relay_check(const wk_config *cfg, const rh_task *t, const char *task_id,
                   const char *events, json_t **ok)
{
    json_t *all, *e;
    const char *why;
    size_t i;
    int refused = 0;

    *ok = NULL;
    all = json_loads(events, 0, NULL);
    if (!json_is_array(all) || json_array_size(all) > WK_RELAY_EVENTS_MAX) {
        rh_log(RH_LOG_ERROR, "event=relay_refused task=%s reason=\"events not a JSON array of "
               "at most %d\"", task_id, WK_RELAY_EVENTS_MAX);
        json_decref(all);
        return -1;
    }
    if ((*ok = json_array()) == NULL) {
        json_decref(all);
        return RHAI_ENOMEM;
    }
    json_array_foreach(all, i, e) {
        if ((why = event_check(cfg, t, task_id, e)) != NULL) {
            char id[200];
            rh_log(RH_LOG_ERROR, "event=relay_refused task=%s event=\"%s\" reason=\"%s\"",
                   task_id, rh_log_quote(id, sizeof id, str_of(e, "id") ? str_of(e, "id") : "",
                                         64), why);
            refused++;
            continue;
        }
        json_array_append(*ok, e);
    }
    json_decref(all);
    return refused;
}

void wk_relay_prepare(wk_job *j)
{
    json_t *ok = NULL;

    json_decref(j->relay);
    j->relay = NULL;
    j->relaying = 0;
    if (j->events == NULL)
        return;
    if (wk_relay_check(j->w->cfg, &j->task, j->id, j->events, &ok) == RHAI_ENOMEM ||
        ok == NULL || json_array_size(ok) == 0) {
        /* no memory: the rows stay unrelayed; the repair sweep retries */
        json_decref(ok);
        return;
    }
    j->relay = ok;
    j->relaying = 1;
}

/* ======================== relay calls ======================== */

typedef struct relay_call {
    wk_job *j;
} relay_call;

/* Test hook (RHAI_TEST_HOOKS, as pool.c's kill_after_commit):
 * RHAI_TEST_FAULT=kill_after_relay makes rhaid SIGKILL itself once a
 * result's events are relayed and before its finish goes out: the task is
 * redelivered, its replay brings the same events, and nothing may start
 * or be appended twice. RHAI_TEST_FAULT=kill_after_finish: once a finish
 * with events is acknowledged, before the marks: the rows stay unrelayed
 * in the store and the repair sweep must relay them again, a no-op. */
static void fault_after_relay(const char *which)
{
#ifdef RHAI_TEST_HOOKS
    const char *f = getenv("RHAI_TEST_FAULT");

    if (f && strcmp(f, which) == 0)
        raise(SIGKILL);
#else
    (void)which;
#endif
}

/* The round of j's relay calls is over (none in flight): 1 when one was
 * refused or not sent, and all go again at the next tick (each is
 * idempotent; set only now, so that the tick's resend, retry_refused,
 * never meets calls still in flight), else 0. */
static int relay_round_end(wk_job *j)
{
    j->sent = 0;
    if (!j->relay_bad)
        return 0;
    j->relay_bad = 0;
    j->retry = 1;
    return 1;
}

static void on_relay(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    wk_job *j = priv;
    wk_worker *w = j->w;
    (void)ac;

    j->relay_wait--;
    if (reply == NULL) {
        /* connection lost: every later call of the job sees NULL too;
         * all are sent again after reconnect (wk_finish_send) */
        if (j->relay_wait == 0)
            j->sent = 0;
        return;
    }
    if (wk_is_noscript(reply)) {
        /* Redis lost its scripts (a restart): load them (once: the
         * digest is cleared at once), and relay this job again at the
         * next tick -- every call of it, as each is idempotent */
        if (w->sha_relay[0] || w->sha_relay_sub[0])
            wk_scripts_load(w);
        j->relay_bad = 1;
    } else if (reply->type != REDIS_REPLY_ARRAY) {
        rh_log(RH_LOG_ERROR, "event=relay_failed task=%s reason=\"%s\" retrying", j->id,
               RH_LOG_Q(reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
        j->relay_bad = 1;
    }
    if (j->relay_wait > 0 || relay_round_end(j))
        return;
    rh_log(RH_LOG_DEBUG, "event=relayed task=%s events=%zu", j->id, json_array_size(j->relay));
    fault_after_relay("kill_after_relay");
    j->relaying = 0;
    wk_finish_send(j);
}

/* One subscriber task's creation, in its worker id's slot. 0 sent. */
static int relay_sub(wk_job *j, json_t *e, json_t *s, const char *id, const char *evjson,
                     const char *now, const char *keep, const char *depth)
{
    wk_worker *w = j->w;
    const wk_config *cfg = w->cfg;
    const char *argv[40], *args = str_of(s, "args"), *ctx = str_of(e, "context");
    const char *worker = str_of(s, "worker");
    size_t lens[40], argc = 0;
    char keys[3][RH_KEY_MAX];

    rh_key_evsubs(keys[0], cfg->prefix, worker);
    rh_key_queue(keys[1], cfg->prefix, worker);
    rh_key_task(keys[2], cfg->prefix, worker, id);
#define ARG(x) (argv[argc] = (x), lens[argc] = strlen(argv[argc]), argc++)
    wk_script_args(w->sha_relay_sub, wk_lua_relay_sub, argv, lens);
    argc = 2;
    ARG("3");
    ARG(keys[0]);
    ARG(keys[1]);
    ARG(keys[2]);
    ARG(now);
    ARG(keep);
    ARG(id);
    ARG("id");           ARG(id);
    ARG("script");       ARG(str_of(s, "script"));
    ARG("worker_id");    ARG(worker);
    ARG("context_id");   ARG(ctx);
    ARG("caller_id");    ARG(str_of(s, "caller"));
    ARG("args");         ARG(args ? args : "{}");
    ARG("created_at");   ARG(now);
    ARG("status");       ARG("queued");
    ARG("attempts");     ARG("0");
    ARG("parent_id");    ARG(str_of(e, "task"));
    ARG("trace_id");     ARG(str_of(e, "trace"));
    ARG("depth");        ARG(depth);
    ARG("event");        ARG(evjson);
    ARG("subscription"); ARG(str_of(s, "name"));
#undef ARG
    if (wk_conn_argv(&w->cmd, on_relay, j, (int)argc, argv, lens) != 0)
        return -1;
    /* the lookup hint of the id (another slot: a command of its own, best
     * effort; the same value each time) */
    rh_key_taskw(keys[0], cfg->prefix, id);
    wk_conn_cmd(&w->cmd, NULL, NULL, "SET %s %s PX %lld", keys[0], worker,
                (long long)RH_TASKW_TTL_MS);
    return 0;
}

/* One event's relay: a call per subscription in its target worker id's
 * slot (the subscriber task), then one in the context's slot (the stream,
 * its dedupe set, the trace index). Each is idempotent alone, so a partial
 * round (a crash, a refused call) is made whole by sending them all again.
 * Adds the calls sent to j->relay_wait; 0 when all went, else not
 * (connection down, no memory). */
static int relay_one(wk_job *j, json_t *e)
{
    wk_worker *w = j->w;
    const wk_config *cfg = w->cfg;
    json_t *subs = json_object_get(e, "subs"), *s;
    size_t nsubs = json_array_size(subs), i, argc = 0, max = 40 + nsubs;
    const char **argv = rh_calloc(max, sizeof *argv);
    size_t *lens = rh_calloc(max, sizeof *lens);
    char keys[3][RH_KEY_MAX];
    char (*ids)[RH_NAME_MAX + 1] = rh_calloc(nsubs + 1, RH_NAME_MAX + 1);
    char now[24], keep[24], maxlen[24], t_ms[24], depth[24];
    char *payload = NULL, *evjson = NULL;
    json_t *ev = NULL;
    int rc = RHAI_ENOMEM;
    const char *ctx = str_of(e, "context");

    if (!argv || !lens || !ids)
        goto out;
    payload = json_dumps(json_object_get(e, "payload"), JSON_COMPACT | JSON_ENCODE_ANY);
    /* what a subscriber task's ctx.event holds: the event without subs */
    if ((ev = json_deep_copy(e)) == NULL || json_object_del(ev, "subs") < -1 ||
        (evjson = json_dumps(ev, JSON_COMPACT)) == NULL || payload == NULL)
        goto out;
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(keep, sizeof keep, "%lld", (long long)WK_RELAY_KEEP_MS);
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)cfg->event_stream_max);
    snprintf(t_ms, sizeof t_ms, "%lld", (long long)json_integer_value(json_object_get(e, "time")));
    snprintf(depth, sizeof depth, "%lld", (long long)json_integer_value(json_object_get(e, "depth")));
    json_array_foreach(subs, i, s) {
        rh_event_task_id(ids[i], str_of(e, "id"), str_of(s, "name"));
        if ((rc = relay_sub(j, e, s, ids[i], evjson, now, keep, depth)) != 0)
            goto out;
        j->relay_wait++;
    }
    rh_key_evstream(keys[0], cfg->prefix, ctx);
    rh_key_evseen(keys[1], cfg->prefix, ctx);
    rh_key_trace(keys[2], cfg->prefix, ctx, str_of(e, "trace"));

#define ARG(x) (argv[argc] = (x), lens[argc] = strlen(argv[argc]), argc++)
    wk_script_args(w->sha_relay, wk_lua_relay, argv, lens);
    argc = 2;
    ARG("3");
    for (i = 0; i < 3; i++)
        ARG(keys[i]);
    ARG(now);
    ARG(keep);
    ARG(maxlen);
    ARG(str_of(e, "id"));
    ARG(str_of(e, "task"));
    ARG(t_ms);
    ARG("9");
    ARG("id");      ARG(str_of(e, "id"));
    ARG("name");    ARG(str_of(e, "name"));
    ARG("payload"); ARG(payload);
    ARG("context"); ARG(ctx);
    ARG("task");    ARG(str_of(e, "task"));
    ARG("caller");  ARG(str_of(e, "caller"));
    ARG("time");    ARG(t_ms);
    ARG("trace");   ARG(str_of(e, "trace"));
    ARG("depth");   ARG(depth);
    for (i = 0; i < nsubs; i++)
        ARG(ids[i]);
#undef ARG
    if ((rc = wk_conn_argv(&w->cmd, on_relay, j, (int)argc, argv, lens)) == 0)
        j->relay_wait++;
out:
    rh_free(argv);
    rh_free(lens);
    rh_free(ids);
    free(payload);
    free(evjson);
    json_decref(ev);
    return rc;
}

void wk_relay_send(wk_job *j)
{
    json_t *e;
    size_t i;

    if (!j->relaying || j->sent || j->relay_wait > 0 || !j->w->cmd.up)
        return;
    j->sent = 1;
    json_array_foreach(j->relay, i, e) {
        if (relay_one(j, e) != 0) {
            /* down: on_relay's NULL replies follow, and the reconnect
             * sends it all again; up (out of memory): all again at a tick,
             * once the calls sent are answered (each is idempotent) */
            if (j->w->cmd.up) {
                rh_log(RH_LOG_ERROR, "event=relay_nomem task=%s retrying next tick", j->id);
                j->relay_bad = 1;
            }
            break;
        }
    }
    if (j->relay_wait == 0)
        relay_round_end(j);
    wk_conn_flush(&j->w->cmd);
}

/* ======================== marks ======================== */

static void mark_batch(wk_relay *r, const char **ids);

static void mark_work(uv_work_t *req)
{
    wk_relay *r = req->data;
    const char *ids[WK_MARK_BATCH];

    r->failed = 0;
    memset(&r->err, 0, sizeof r->err);
    /* rhaid as root runs executors as another user, who owns the data
     * dir: files sqlite makes here (-wal, -shm) must be theirs, or the
     * executors could not open them. fsuid is per thread; this thread is
     * libuv's, so it is set back below. (postgres: no files; its
     * passfile is rhaid's to read) */
    int as_user = r->w->pool.user.drop && !r->w->pool.postgres;

    if (as_user) {
        setfsgid(r->w->pool.user.gid);
        setfsuid(r->w->pool.user.uid);
    }
    mark_batch(r, ids);
    if (as_user) {
        setfsuid(0);
        setfsgid(0);
    }
}

static void mark_batch(wk_relay *r, const char **ids)
{
    size_t i = 0, n;
    store_db *db;

    if (r->st == NULL && store_new(r->w->cfg->data_url, &dsl_schema, &r->st, &r->err) != 0) {
        r->failed = (long)r->nbatch;
        return;
    }
    /* the batch is grouped by context: one statement per run of the same */
    while (i < r->nbatch) {
        for (n = 0; i + n < r->nbatch && strcmp(r->batch[i + n].ctx, r->batch[i].ctx) == 0; n++)
            ids[n] = r->batch[i + n].id;
        if (store_open(r->st, r->batch[i].ctx, &db, &r->err) != 0 ||
            store_outbox_mark_relayed(db, ids, n, NULL, &r->err) != 0)
            r->failed += (long)n;
        i += n;
    }
}

static void mark_next(wk_relay *r);

static void mark_done(uv_work_t *req, int status)
{
    wk_relay *r = req->data;

    r->busy = 0;
    if (status == 0 && r->failed > 0)
        rh_log(RH_LOG_WARN, "event=outbox_mark_failed ids=%ld reason=\"%s\" (the repair sweep "
               "relays them again; the gates keep it a no-op)", r->failed, RH_LOG_Q(r->err.msg));
    rh_free(r->batch);
    r->batch = NULL;
    r->nbatch = 0;
    if (!r->stopping)
        mark_next(r);
}

static int ctx_cmp(const void *a, const void *b)
{
    return strcmp(((const mark_item *)a)->ctx, ((const mark_item *)b)->ctx);
}

static void mark_next(wk_relay *r)
{
    size_t n;

    if (r->busy || r->npending == 0 || r->stopping)
        return;
    n = r->npending < WK_MARK_BATCH ? r->npending : WK_MARK_BATCH;
    if ((r->batch = rh_malloc(n * sizeof *r->batch)) == NULL)
        return;
    memcpy(r->batch, r->pending, n * sizeof *r->batch);
    memmove(r->pending, r->pending + n, (r->npending - n) * sizeof *r->pending);
    r->npending -= n;
    r->nbatch = n;
    qsort(r->batch, n, sizeof *r->batch, ctx_cmp);
    r->req.data = r;
    if (uv_queue_work(r->w->loop, &r->req, mark_work, mark_done) != 0) {
        rh_free(r->batch);
        r->batch = NULL;
        return;
    }
    r->busy = 1;
}

void wk_relay_finished(wk_job *j)
{
    wk_relay *r = j->w->relay;
    json_t *e;
    size_t i;

    if (r == NULL || j->relay == NULL)
        return;
    fault_after_relay("kill_after_finish");
    json_array_foreach(j->relay, i, e) {
        if (r->npending == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            mark_item *p;
            if (cap > 100000 || (p = rh_realloc(r->pending, cap * sizeof *p)) == NULL)
                break;                 /* left for the repair sweep */
            r->pending = p;
            r->cap = cap;
        }
        snprintf(r->pending[r->npending].ctx, RH_NAME_MAX + 1, "%s", str_of(e, "context"));
        snprintf(r->pending[r->npending].id, RH_NAME_MAX + 1, "%s", str_of(e, "id"));
        r->npending++;
    }
    mark_next(r);
}

int wk_relay_start(wk_worker *w)
{
    wk_relay *r = rh_calloc(1, sizeof *r);
    if (r == NULL)
        return RHAI_ENOMEM;
    r->w = w;
    w->relay = r;
    return 0;
}

/* After the loop ended: no mark job is in flight then (the loop ran until
 * every request was done). Pending marks are dropped: the sweep repairs. */
void wk_relay_stop(wk_worker *w)
{
    wk_relay *r = w->relay;
    if (r == NULL)
        return;
    if (r->npending)
        rh_log(RH_LOG_INFO, "event=outbox_marks_dropped ids=%zu (the repair sweep relays "
               "them again, a no-op)", r->npending);
    store_free(r->st);
    rh_free(r->pending);
    rh_free(r->batch);
    rh_free(r);
    w->relay = NULL;
}
