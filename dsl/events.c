/* events.c -- emit(name, payload): events through a transactional outbox
 * (issue 20, docs/events.md).
 *
 * emit checks its arguments (name: 1..STORE_EVENT_NAME_MAX chars of
 * [A-Za-z0-9_.:-], no dot first or last; payload: anything JSON.stringify
 * takes, at most DSL_EVENT_PAYLOAD_MAX bytes of JSON, default null), the
 * depth limit (an event has the emitting task's depth + 1, and an emit
 * beyond the task's depth_max throws EventDepthExceeded: a chain of
 * subscriptions that loops ends there) and the per-task cap
 * (DSL_EMIT_MAX; more throws TooManyEvents). It then opens the task's
 * store transaction like any DSL call, resolves the context's
 * subscriptions that match the name and are not paused, and writes one
 * outbox row holding the event and those subscriptions, in a savepoint of
 * that transaction. So an event exists if and only if its task committed
 * (a task that only emits still commits and gets a ledger row: a
 * redelivery replays instead of emitting again).
 *
 * Event ids are TASKID.N, N the 1-based sequence of the task's successful
 * emits: a redelivered task that did not commit emits the same ids again,
 * one that did never runs again (the ledger). A task id too long for that
 * (an event id is at most STORE_EVENT_ID_MAX) gives "h" and 32 hex digits
 * of its SHA-256 instead of the id.
 *
 * After the task, dsl__events_result (called by task.c's finish, outside
 * any transaction) gives the events rhaid is to relay: the ones the task
 * committed, or on a replay the task's rows not marked relayed yet, plus
 * the repair sweep: up to STORE_OUTBOX_BATCH unrelayed rows of the context
 * older than the task's event_repair_ms, whose relay a killed instance
 * never finished. */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "dsl.h"

#ifndef DSL_EMIT_MAX
#define DSL_EMIT_MAX 100                    /* emits per task */
#endif
#ifndef DSL_EVENT_PAYLOAD_MAX
#define DSL_EVENT_PAYLOAD_MAX (64u * 1024u) /* bytes of a payload's JSON */
#endif
#ifndef DSL_EVENTS_FRAME_MAX
/* Bytes of the events' JSON one result carries at most: the sweep's rows
 * past it are left for the next sweep, the task's own for the sweep. */
#define DSL_EVENTS_FRAME_MAX (32u * 1024u * 1024u)
#endif
#ifndef DSL_SWEEP_EVERY_MS
/* A process sweeps one context at most this often, or every half
 * event_repair_ms when that is less. */
#define DSL_SWEEP_EVERY_MS 1000
#endif

static struct {
    const eng_input *in;
    json_t          *events;    /* this run's, in its transaction */
    json_t          *subs;      /* the context's subscriptions, read at the
                                   first emit (one round trip per task on
                                   postgres, not per emit) */
    int64_t          n;         /* emits that wrote a row */
} E;

void dsl__events_begin(const eng_input *in)
{
    json_decref(E.events);
    json_decref(E.subs);
    E.events = E.subs = NULL;
    E.in = in;
    E.n = 0;
}

void dsl__events_end(void)
{
    json_decref(E.events);
    json_decref(E.subs);
    E.events = E.subs = NULL;
    E.in = NULL;
    E.n = 0;
}

static JS_NORETURN void throw_named(js_State *J, const char *name, const char *msg)
{
    js_newerror(J, msg);
    js_pushstring(J, name);
    js_setproperty(J, -2, "name");
    js_throw(J);
}

/* The id of the task's n-th event into buf (STORE_EVENT_ID_MAX + 1). */
static void event_id(const char *task_id, int64_t n, char *buf, size_t cap)
{
    char suffix[24];
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];

    size_t tl = strlen(task_id), sl;

    snprintf(suffix, sizeof suffix, ".%lld", (long long)n);
    sl = strlen(suffix);
    if (tl + sl <= STORE_EVENT_ID_MAX && tl + sl < cap) {
        /* memcpy after the length check: gcc -O2 -Wformat-truncation
         * cannot see the bound through a "%s%s" snprintf */
        memcpy(buf, task_id, tl);
        memcpy(buf + tl, suffix, sl + 1);
        return;
    }
    crypto_hash_sha256(h, (const unsigned char *)task_id, strlen(task_id));
    sodium_bin2hex(hex, sizeof hex, h, 16);
    snprintf(buf, cap, "h%s%s", hex, suffix);
}

/* emit(name, payload) -> the event's id. */
static void js_emit(js_State *J)
{
    const eng_input *in = E.in;
    char id[STORE_EVENT_ID_MAX + 1];
    char msg[RHAI_ERRMSG_MAX];
    const char *name, *payload;
    json_t *subs = NULL, *ev, *pv;
    char *subs_text = NULL;
    int64_t depth, depth_max;
    store_event row;
    store_db *db;
    rhai_error err;
    int rc;

    if (in == NULL)
        js_error(J, "emit is only available inside a task");
    if (!js_isstring(J, 1))
        js_typeerror(J, "emit: the event name must be a string");
    name = js_tostring(J, 1);
    if (!store_event_name_valid(name))
        js_typeerror(J, "emit: invalid event name (1..%d of [A-Za-z0-9_.:-], not starting "
                     "or ending with '.')", STORE_EVENT_NAME_MAX);
    depth = (in->depth > 0 ? in->depth : 0) + 1;
    depth_max = in->depth_max > 0 ? in->depth_max : ENG_DEFAULT_DEPTH_MAX;
    if (depth > depth_max) {
        snprintf(msg, sizeof msg, "emit: event depth %lld exceeds the limit %lld (a chain of "
                 "events that loops?)", (long long)depth, (long long)depth_max);
        throw_named(J, "EventDepthExceeded", msg);
    }
    if (E.n >= DSL_EMIT_MAX) {
        snprintf(msg, sizeof msg, "emit: a task emits at most %d events", DSL_EMIT_MAX);
        throw_named(J, "TooManyEvents", msg);
    }
    if (in->task_id == NULL || *in->task_id == '\0')
        js_error(J, "emit: the task has no id");

    /* the payload's JSON, made before the DSL call starts (a toJSON of
     * the script may run, and may itself call the DSL) */
    if (js_isundefined(J, 2)) {
        js_pushliteral(J, "null");
    } else {
        js_getglobal(J, "JSON");
        js_getproperty(J, -1, "stringify");
        js_rot2(J);                         /* stringify, this = JSON */
        js_copy(J, 2);
        js_call(J, 1);
        if (!js_isstring(J, -1))
            js_typeerror(J, "emit: the payload cannot be JSON (a function or undefined?)");
    }
    payload = js_tostring(J, -1);           /* stays on the stack */
    if (strlen(payload) > DSL_EVENT_PAYLOAD_MAX)
        js_rangeerror(J, "emit: payload too large: %zu bytes of JSON > %u",
                      strlen(payload), DSL_EVENT_PAYLOAD_MAX);

    dsl_call_begin(J);
    /* what rhaid and every consumer will read: JSON jansson takes */
    pv = dsl_keep(J, json_loads(payload, JSON_DECODE_ANY, NULL));
    if (pv == NULL)
        js_typeerror(J, "emit: the payload is not JSON every consumer can read");
    event_id(in->task_id, E.n + 1, id, sizeof id);
    db = dsl_write_begin(J);

    /* no js_* call from here to dsl_write_end */
    memset(&err, 0, sizeof err);
    memset(&row, 0, sizeof row);
    /* read in the task's transaction: a subscription added after it
     * commits applies to the events emitted after that */
    rc = E.subs ? 0 : store_sub_list(db, &E.subs, &err);
    if (rc == 0)
        rc = store_subs_matching(E.subs, name, &subs, &err);
    if (rc == 0 && (subs_text = json_dumps(subs, JSON_COMPACT)) == NULL)
        rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    if (rc == 0) {
        row.id = id;
        row.name = name;
        row.payload = payload;
        row.task_id = in->task_id;
        row.seq = E.n + 1;
        row.caller_id = dsl_caller();
        row.trace_id = in->trace_id && *in->trace_id ? in->trace_id : in->task_id;
        row.depth = depth;
        row.at = rh_now_ms();
        row.subs = subs_text;
        rc = store_outbox_put(db, &row, &err);
    }
    ev = NULL;
    if (rc == 0) {
        /* kept in the call's scratch: freed there if the release throws */
        ev = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:I, s:s, s:I, s:O}", "id", id,
                       "name", name, "payload", pv, "context", store_db_context(db),
                       "task", in->task_id, "caller", row.caller_id, "time",
                       (json_int_t)row.at, "trace", row.trace_id, "depth",
                       (json_int_t)depth, "subs", subs);
        if (E.events == NULL)
            E.events = json_array();
        if (E.events == NULL || dsl_keep_nothrow(ev) != 0)
            rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
    }
    free(subs_text);
    json_decref(subs);
    dsl_write_end(J, db, rc, &err);     /* throws unless the row is in */
    /* OOM here leaves the committed row to the repair sweep */
    (void)json_array_append(E.events, ev);
    E.n++;
    js_pushstring(J, id);
}

void dsl_bind_events(js_State *J)
{
    js_newcfunction(J, js_emit, "emit", 2);
    js_defglobal(J, "emit", JS_READONLY | JS_DONTENUM | JS_DONTCONF);
}

/* ---- after the task: what rhaid relays ---- */

/* Contexts swept lately by this process, and when. */
#define SWEPT_MAX 16
static struct {
    char    ctx[RH_CONTEXT_MAX + 1];
    int64_t at;
} swept[SWEPT_MAX];

void dsl__events_reset(void)
{
    memset(swept, 0, sizeof swept);
}

/* 1 when 'ctx' is due for a sweep now (and note it swept), else 0. */
static int sweep_due(const char *ctx, int64_t now, int64_t repair)
{
    int64_t every = repair / 2 < DSL_SWEEP_EVERY_MS ? repair / 2 : DSL_SWEEP_EVERY_MS;
    int oldest = 0;

    for (int i = 0; i < SWEPT_MAX; i++) {
        if (strcmp(swept[i].ctx, ctx) == 0) {
            if (now - swept[i].at < every && now >= swept[i].at)
                return 0;
            swept[i].at = now;
            return 1;
        }
        if (swept[i].at < swept[oldest].at)
            oldest = i;
    }
    snprintf(swept[oldest].ctx, sizeof swept[oldest].ctx, "%s", ctx);
    swept[oldest].at = now;
    return 1;
}

/* Append the rows of 'add' whose id 'out' lacks. */
static void merge(json_t *out, json_t *add)
{
    size_t i, j;
    json_t *e, *o;

    json_array_foreach(add, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        int have = 0;
        json_array_foreach(out, j, o)
            if (id && strcmp(id, json_string_value(json_object_get(o, "id"))) == 0)
                have = 1;
        if (!have)
            json_array_append(out, e);
    }
}

char *dsl__events_result(store_db *db, const eng_input *in, int committed, int replay)
{
    json_t *out = json_array(), *rows = NULL;
    int64_t repair = in->event_repair_ms > 0 ? in->event_repair_ms
                                             : ENG_DEFAULT_EVENT_REPAIR_MS;
    int64_t now = rh_now_ms();
    rhai_error err;
    char *text = NULL;

    memset(&err, 0, sizeof err);
    if (out == NULL || db == NULL || store_in_tx(db)) {
        json_decref(out);
        return NULL;
    }
    if (committed && E.events)
        merge(out, E.events);
    if (replay && in->task_id) {
        if (store_outbox_pending(db, in->task_id, 0, STORE_OUTBOX_BATCH, &rows, &err) == 0)
            merge(out, rows);
        else
            rh_log(RH_LOG_WARN, "event=outbox_read_failed task=%s %s", in->task_id,
                   err.msg);
        json_decref(rows);
        rows = NULL;
    }
    if (sweep_due(store_db_context(db), now, repair)) {
        if (store_outbox_pending(db, NULL, now - repair, STORE_OUTBOX_BATCH, &rows,
                                 &err) == 0)
            merge(out, rows);
        else
            rh_log(RH_LOG_WARN, "event=outbox_sweep_failed context=%s %s",
                   store_db_context(db), err.msg);
        json_decref(rows);
    }
    while (json_array_size(out) > 0) {
        text = json_dumps(out, JSON_COMPACT);
        if (text == NULL || strlen(text) <= DSL_EVENTS_FRAME_MAX)
            break;
        free(text);
        text = NULL;
        json_array_remove(out, json_array_size(out) - 1);   /* the next sweep's */
    }
    json_decref(out);
    if (text) {                         /* rh_malloc'd, as eng_output wants */
        char *copy = rh_strdup(text);
        free(text);
        text = copy;
    }
    return text;
}
