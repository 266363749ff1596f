/* api_read.c -- the read endpoints: overview, queues, tasks, one task,
 * dead letters, schedules, contexts, audit, the DSL reference.
 *
 * Redis is read through rhai_ctl_core's loaders (the ones `rhaictl
 * workers|queues|tasks|dead` print), schedules through librhai-client's
 * cron API, contexts, grants and audit through the store (src/store) of
 * the configured data_url/data_dir. Every handler runs under web.mu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "dsl/dsl.h"
#include "rhai/cron.h"

#define WEB_TASKS_LIMIT_DEFAULT 50
#define WEB_DEAD_LIMIT_DEFAULT 500

/* A worker id query argument: 0 (NULL when absent), or -1 after 400. */
static int read_worker_arg(web_req *rq, web_resp *rs, const char *key, const char **out)
{
    const char *w = web_query_get(&rq->query, key);

    if (w && !rh_name_valid(w)) {
        web_error(rs, 400, "invalid %s '%.140s' (1..%d of [A-Za-z0-9_.:@-])", key, w,
                  RH_NAME_MAX);
        return -1;
    }
    *out = w;
    return 0;
}

/* ======================== queues and overview ======================== */

/* Every queue as /api/queues answers it (new), with 'inst' loaded. */
static json_t *read_queues_json(ctl_redis *r, const ctl_instance *inst, size_t ninst, int *code)
{
    ctl_queue *q = NULL;
    size_t nq = 0;
    int64_t now = rh_now_ms();
    json_t *arr;

    if ((*code = ctl_queues_load(r, inst, ninst, &q, &nq)) != 0)
        return NULL;
    /* scheduled: the delayed set of each worker id, in one pipeline */
    for (size_t i = 0; i < nq; i++) {
        char key[RH_KEY_MAX];
        if (ctl_redis_append(r, "ZCARD %s", rh_key_delayed(key, r->prefix, q[i].worker_id)) != 0) {
            *code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            rh_free(q);
            return NULL;
        }
    }
    arr = json_array();
    for (size_t i = 0; i < nq; i++) {
        redisReply *rep = ctl_redis_reply(r);
        json_t *o;

        if (rep == NULL) {
            *code = r->code;
            json_decref(arr);
            rh_free(q);
            return NULL;
        }
        o = json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:b, s:I, s:i, s:i, s:i}",
                      "worker", q[i].worker_id, "queued", (json_int_t)q[i].queued,
                      "oldest_age_ms", q[i].oldest_created_at > 0
                          ? json_integer(now - q[i].oldest_created_at) : json_null(),
                      "running", (json_int_t)q[i].processing,
                      "scheduled", (json_int_t)ctl_reply_ll(rep, 0),
                      "dead", (json_int_t)q[i].dead_letters, "paused", q[i].paused,
                      "failed_1h", (json_int_t)q[i].failed_1h, "live_instances", q[i].live,
                      "draining_instances", q[i].draining, "dead_instances", q[i].dead);
        freeReplyObject(rep);
        if (arr)
            json_array_append_new(arr, o);
        else
            json_decref(o);
    }
    rh_free(q);
    if (arr == NULL)
        *code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    return arr;
}

void web_api_queues(web_req *rq, web_resp *rs)
{
    ctl_redis *r = web_redis(rs);
    ctl_instance *inst = NULL;
    size_t ninst = 0;
    json_t *arr;
    int code;

    (void)rq;
    if (r == NULL)
        return;
    if ((code = ctl_instances_load(r, &inst, &ninst)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    arr = read_queues_json(r, inst, ninst, &code);
    rh_free(inst);
    if (arr == NULL)
        web_ctl_error(rs, code);
    else
        web_reply(rs, 200, arr);
}

void web_api_overview(web_req *rq, web_resp *rs)
{
    ctl_redis *r = web_redis(rs);
    ctl_instance *inst = NULL;
    size_t ninst = 0;
    int64_t now = rh_now_ms();
    json_t *doc, *insts, *alerts, *queues, *q;
    char text[400];
    size_t i;
    int code;

    (void)rq;
    if (r == NULL)
        return;
    if ((code = ctl_instances_load(r, &inst, &ninst)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    if ((queues = read_queues_json(r, inst, ninst, &code)) == NULL) {
        rh_free(inst);
        web_ctl_error(rs, code);
        return;
    }
    insts = json_array();
    alerts = json_array();
    for (i = 0; i < ninst; i++) {
        const ctl_instance *in = &inst[i];
        const char *state = !in->live ? "dead" : in->draining ? "draining" : "live";

        json_array_append_new(insts, json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:s, s:s, s:I, s:I, s:I, s:f, s:s, s:b}",
            "worker", in->worker_id, "instance", in->instance, "host", in->host,
            "state", state, "busy", (json_int_t)in->busy,
            "executors", (json_int_t)in->concurrency,
            "last_beat_ms", in->heartbeat_at > 0 ? json_integer(now - in->heartbeat_at)
                                                 : json_null(),
            "store", in->store, "version", in->version, "pid", (json_int_t)in->pid,
            "done", (json_int_t)in->done, "failed", (json_int_t)in->failed,
            "tasks_per_s", in->tasks_per_s, "backend", in->backend, "paused", in->paused));
        if (!in->live) {
            snprintf(text, sizeof text, "instance {%s}:%s is dead (no heartbeat); it held %lld "
                     "task%s", in->worker_id, in->instance, in->processing,
                     in->processing == 1 ? "" : "s");
            json_array_append_new(alerts, json_pack("{s:s, s:s, s:s, s:s}", "kind",
                                                    "dead_instance", "text", text, "worker",
                                                    in->worker_id, "instance", in->instance));
        } else if (strcmp(in->store, "down") == 0) {
            snprintf(text, sizeof text, "instance {%s}:%s cannot reach its store (%s)",
                     in->worker_id, in->instance, in->backend[0] ? in->backend : "store");
            json_array_append_new(alerts, json_pack("{s:s, s:s, s:s, s:s}", "kind", "store_down",
                                                    "text", text, "worker", in->worker_id,
                                                    "instance", in->instance));
        }
    }
    json_array_foreach(queues, i, q) {
        json_t *age = json_object_get(q, "oldest_age_ms");
        if (json_is_integer(age) && json_integer_value(age) > web.cfg.alert_queued_age_ms) {
            char dur[32];
            ctl_fmt_duration(json_integer_value(age), dur, sizeof dur);
            snprintf(text, sizeof text, "the oldest task queued for %s waits for %s%s",
                     json_string_value(json_object_get(q, "worker")), dur,
                     json_is_true(json_object_get(q, "paused")) ? " (paused)" : "");
            json_array_append_new(alerts, json_pack("{s:s, s:s, s:s}", "kind", "old_queued",
                                                    "text", text, "worker",
                                                    json_string_value(json_object_get(q,
                                                                                      "worker"))));
        }
    }
    rh_free(inst);
    doc = json_pack("{s:o, s:o, s:o, s:o, s:I}", "instances", insts, "queues", queues,
                    "alerts", alerts, "series", web_series_json(), "now", (json_int_t)now);
    web_reply(rs, 200, doc);
}

/* ======================== tasks ======================== */

void web_api_tasks(web_req *rq, web_resp *rs)
{
    ctl_tasks_filter f;
    const char *worker, *since, *until;
    long long limit;
    char why[200];
    json_t *doc;
    ctl_redis *r;
    int64_t now = rh_now_ms();
    int code;

    memset(&f, 0, sizeof f);
    if (read_worker_arg(rq, rs, "worker", &worker) != 0)
        return;
    f.status = web_query_get(&rq->query, "status");
    f.error_kind = web_query_get(&rq->query, "error_kind");
    f.caller = web_query_get(&rq->query, "caller");
    f.context = web_query_get(&rq->query, "context");
    since = web_query_get(&rq->query, "since");
    until = web_query_get(&rq->query, "until");
    if (f.status && rh_status_parse(f.status) == RHAI_STATUS_UNKNOWN) {
        web_error(rs, 400, "unknown status '%.40s' (done, error, timeout, cancelled, queued, "
                  "scheduled, claimed, running)", f.status);
        return;
    }
    if (f.error_kind && rh_kind_parse(f.error_kind) == RH_EK_NONE) {
        web_error(rs, 400, "unknown error_kind '%.40s' (script, timeout, memory, denied, "
                  "crashed, invalid, cancelled, internal)", f.error_kind);
        return;
    }
    if ((since && ctl_tasks_parse_time(since, now, &f.since) != 0) ||
        (until && ctl_tasks_parse_time(until, now, &f.until) != 0)) {
        web_error(rs, 400, "since/until: unix ms, 2026-12-06T03:00:00Z, 2026-12-06, or an "
                  "age (90s, 15m, 2h, 3d)");
        return;
    }
    if (f.since && f.until && f.since >= f.until) {
        web_error(rs, 400, "since is not before until");
        return;
    }
    if (web_query_int(&rq->query, "limit", 1, 1000, WEB_TASKS_LIMIT_DEFAULT, &limit, why,
                      sizeof why) != 0) {
        web_error(rs, 400, "%s", why);
        return;
    }
    if ((r = web_redis(rs)) == NULL)
        return;
    if ((code = ctl_tasks_query(r, worker, &f, limit, &doc)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    web_reply(rs, 200, json_incref(json_object_get(doc, "tasks")));
    json_decref(doc);
}

/* The value of a task hash field as JSON: numbers for the times and
 * counters, parsed JSON for args, output and errors, text otherwise. */
static json_t *read_task_value(const char *k, const char *v)
{
    static const char *const ints[] = {
        "created_at", "started_at", "finished_at", "attempts", "attempt", "timeout_ms",
        "dead_at", "run_at", "retries", "cancel_requested", NULL
    };
    static const char *const docs[] = { "args", "output", "errors", NULL };

    for (int i = 0; ints[i]; i++)
        if (strcmp(k, ints[i]) == 0) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (*v && *end == '\0')
                return json_integer(n);
        }
    for (int i = 0; docs[i]; i++)
        if (strcmp(k, docs[i]) == 0) {
            json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
            if (j)
                return j;
        }
    {
        json_t *t = json_string(v);
        return t ? t : json_string("(not UTF-8)");
    }
}

void web_api_task(web_req *rq, web_resp *rs)
{
    const char *id = rq->params[0];
    char key[RH_KEY_MAX];
    ctl_redis *r;
    redisReply *h, *d = NULL;
    json_t *doc, *children;
    const char *w = NULL;
    int64_t started = 0, finished = 0, created = 0;

    if (!rh_name_valid(id)) {
        web_error(rs, 400, "invalid task id");
        return;
    }
    if ((r = web_redis(rs)) == NULL)
        return;
    if ((h = ctl_redis_command(r, "HGETALL %s", ctl_task_key(r, id, key))) == NULL) {
        web_ctl_error(rs, r->code);
        return;
    }
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        freeReplyObject(h);
        web_error(rs, 404, "no task %s (unknown or expired)", id);
        return;
    }
    doc = json_object();
    for (size_t i = 0; doc && i + 1 < h->elements; i += 2) {
        const char *k = ctl_reply_str(h->element[i]), *v = ctl_reply_str(h->element[i + 1]);
        if (k == NULL || v == NULL || strcmp(k, "signature") == 0)
            continue;
        json_object_set_new(doc, k, read_task_value(k, v));
        if (strcmp(k, "worker_id") == 0)
            w = v;
    }
    json_object_set_new(doc, "id", json_string(id));
    if (!json_is_array(json_object_get(doc, "errors")))
        json_object_set_new(doc, "errors", json_array());
    created = json_integer_value(json_object_get(doc, "created_at"));
    started = json_integer_value(json_object_get(doc, "started_at"));
    finished = json_integer_value(json_object_get(doc, "finished_at"));
    json_object_set_new(doc, "timings", json_pack("{s:o, s:o}",
                        "queued_ms", created && started ? json_integer(started - created)
                                                        : json_null(),
                        "run_ms", started && finished ? json_integer(finished - started)
                                                      : json_null()));
    if (w && rh_name_valid(w))
        d = ctl_redis_command(r, "ZSCORE %s %s", rh_key_dead(key, r->prefix, w), id);
    json_object_set_new(doc, "dead", json_boolean(d && d->type == REDIS_REPLY_STRING));
    if (d)
        freeReplyObject(d);
    /* children: tasks that name this one as their parent or retry_of are
     * not indexed by it; what the hash says is all that is known */
    children = json_array();
    if (json_is_array(json_object_get(doc, "children")))
        json_array_extend(children, json_object_get(doc, "children"));
    json_object_set_new(doc, "children", children);
    if (json_object_get(doc, "parent_id") == NULL)
        json_object_set_new(doc, "parent_id", json_null());
    freeReplyObject(h);
    web_reply(rs, 200, doc);
}

/* ======================== dead letters and schedules ======================== */

void web_api_dead(web_req *rq, web_resp *rs)
{
    const char *w;
    long long limit;
    char why[200];
    ctl_redis *r;
    json_t *doc;
    int code;

    if (read_worker_arg(rq, rs, "worker", &w) != 0)
        return;
    if (web_query_int(&rq->query, "limit", 1, 10000, WEB_DEAD_LIMIT_DEFAULT, &limit, why,
                      sizeof why) != 0) {
        web_error(rs, 400, "%s", why);
        return;
    }
    if ((r = web_redis(rs)) == NULL)
        return;
    if ((code = ctl_dead_query(r, w, limit, &doc)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    web_reply(rs, 200, json_incref(json_object_get(doc, "dead")));
    json_decref(doc);
}

void web_api_schedules(web_req *rq, web_resp *rs)
{
    rhai_error err = { 0, "" };
    rhai_client *c;
    const char *w;
    char *text = NULL;
    json_t *arr;
    int rc;

    if (read_worker_arg(rq, rs, "worker", &w) != 0 || (c = web_client(rs)) == NULL)
        return;
    if ((rc = rhai_cron_list(c, w, &text, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        return;
    }
    arr = json_loads(text, 0, NULL);
    rhai_cron_free_text(text);
    if (!json_is_array(arr)) {
        json_decref(arr);
        web_error(rs, 500, "the schedules did not parse");
        return;
    }
    web_reply(rs, 200, arr);
}

/* ======================== contexts ======================== */

/* Open context 'id' of the store: the db, or NULL after answering. */
static store_db *read_context_open(web_resp *rs, const char *id)
{
    rhai_error err = { 0, "" };
    store_db *db = NULL;
    int rc;

    if (web.st == NULL) {
        web_error(rs, 503, "no store configured (rhai-web --data-url or --data-dir)");
        return NULL;
    }
    if (!rh_context_id_valid(id)) {
        web_error(rs, 400, "invalid context id (" RH_CONTEXT_RULE ")");
        return NULL;
    }
    if ((rc = store_context_exists(web.st, id)) != 1) {
        if (rc < 0)
            web_error(rs, 503, "store: %s", rhai_strerror(rc));
        else
            web_error(rs, 404, "no context '%s'", id);
        return NULL;
    }
    if ((rc = store_open(web.st, id, &db, &err)) != 0) {
        web_rc_error(rs, rc == RHAI_ESTORE ? RHAI_ECONN : rc, &err);
        return NULL;
    }
    return db;
}

void web_api_contexts(web_req *rq, web_resp *rs)
{
    rhai_error err = { 0, "" };
    json_t *ids = NULL, *arr, *v;
    size_t i;
    int rc;

    (void)rq;
    if (web.st == NULL) {
        web_error(rs, 503, "no store configured (rhai-web --data-url or --data-dir)");
        return;
    }
    if ((rc = store_context_list(web.st, &ids, &err)) != 0) {
        web_rc_error(rs, rc == RHAI_ESTORE ? RHAI_ECONN : rc, &err);
        return;
    }
    arr = json_array();
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        store_db *db = NULL;
        json_t *owners = NULL;

        if (id && store_open(web.st, id, &db, &err) == 0)
            store_owners(db, &owners, &err);
        json_array_append_new(arr, json_pack("{s:s, s:o}", "id", id ? id : "",
                                             "owners", owners ? owners : json_array()));
    }
    json_decref(ids);
    web_reply(rs, 200, arr);
}

void web_api_context(web_req *rq, web_resp *rs)
{
    rhai_error err = { 0, "" };
    store_db *db = read_context_open(rs, rq->params[0]);
    json_t *owners = NULL, *grants = NULL, *info = NULL;
    int rc;

    if (db == NULL)
        return;
    if ((rc = store_owners(db, &owners, &err)) != 0 ||
        (rc = store_grant_list(db, &grants, &err)) != 0) {
        json_decref(owners);
        web_rc_error(rs, rc, &err);
        return;
    }
    store_context_info(db, &info, &err);    /* counts: nice to have */
    web_reply(rs, 200, json_pack("{s:s, s:o, s:o, s:o}", "id", rq->params[0], "owners", owners,
                                 "grants", grants, "info", info ? info : json_null()));
}

void web_api_context_audit(web_req *rq, web_resp *rs)
{
    rhai_error err = { 0, "" };
    const char *caller = web_query_get(&rq->query, "caller");
    const char *model = web_query_get(&rq->query, "model");
    const char *decision = web_query_get(&rq->query, "decision");
    const char *since_s = web_query_get(&rq->query, "since");
    long long limit, since = 0;
    json_t *rows = NULL, *out, *row;
    char why[200];
    store_db *db;
    size_t i;
    int rc;

    if (web_query_int(&rq->query, "limit", 1, STORE_LIST_MAX, 100, &limit, why,
                      sizeof why) != 0) {
        web_error(rs, 400, "%s", why);
        return;
    }
    if (since_s && ctl_tasks_parse_time(since_s, rh_now_ms(), &since) != 0) {
        web_error(rs, 400, "since: unix ms, an ISO time or an age (90s, 15m, 2h, 3d)");
        return;
    }
    if (decision && strcmp(decision, "allowed") != 0 && strcmp(decision, "denied") != 0) {
        web_error(rs, 400, "decision is allowed or denied");
        return;
    }
    if ((db = read_context_open(rs, rq->params[0])) == NULL)
        return;
    if ((rc = store_audit_query(db, caller, model, decision, limit, &rows, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        return;
    }
    out = json_array();
    json_array_foreach(rows, i, row)
        if (json_integer_value(json_object_get(row, "at")) >= since)
            json_array_append(out, row);
    json_decref(rows);
    web_reply(rs, 200, out);
}

/* ======================== DSL ======================== */

void web_api_dsl(web_req *rq, web_resp *rs)
{
    json_t *domains = json_array(), *ops = json_array();

    (void)rq;
    for (size_t i = 0; dsl_schema_sources[i]; i++) {
        json_t *d = json_loads(dsl_schema_sources[i], 0, NULL);
        if (d)
            json_array_append_new(domains, d);
    }
    for (const dsl_op_decl *d = dsl_op_decls; d->model; d++)
        json_array_append_new(ops, json_pack("{s:s, s:s}", "model", d->model, "name", d->name));
    web_reply(rs, 200, json_pack("{s:o, s:o, s:o}", "domains", domains, "models",
                                 ctl_dsl_models(), "operations", ops));
}
