/* api_write.c -- the admin endpoints: queue pause/resume/purge, task
 * cancel/retry, dead-letter retry/delete, schedule pause/resume/run,
 * grant/revoke, and the playground's run.
 *
 * Every one needs the admin role (and, from the console, the CSRF
 * header: server.c checks both before the handler runs). The work is
 * rhaictl's (rhai_ctl_core), librhai-client's or the store's; what is
 * added here is who did it: tasks are submitted as web_caller() (signed
 * with the configured key, when there is one), and every action that
 * touches a context appends a row to that context's audit log
 * (web_audit), naming the console user and role in its reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web.h"
#include "rhai/cron.h"
#include "dsl/dsl.h"

#define WEB_BULK_MAX 10000               /* ids one dead retry/delete changes */

/* The worker id path parameter: 1 valid, 0 after answering 400. */
static int write_worker_ok(web_resp *rs, const char *w)
{
    if (rh_name_valid(w))
        return 1;
    web_error(rs, 400, "invalid worker id (1..%d of [A-Za-z0-9_.:@-])", RH_NAME_MAX);
    return 0;
}

/* The context_id of task 'id' into ctx ("" none). */
static void write_task_context(ctl_redis *r, const char *id, char *ctx, size_t n)
{
    char key[RH_KEY_MAX];
    redisReply *rep = ctl_redis_command(r, "HGET %s context_id", ctl_task_key(r, id, key));

    ctx[0] = '\0';
    if (rep && rep->type == REDIS_REPLY_STRING)
        snprintf(ctx, n, "%s", rep->str);
    if (rep)
        freeReplyObject(rep);
}

/* ======================== queues ======================== */

static void write_queue_pause(web_req *rq, web_resp *rs, int pause)
{
    const char *w = rq->params[0];
    char by[300];
    int changed = 0, known = 0, code;
    ctl_redis *r;

    if (!write_worker_ok(rs, w) || (r = web_redis(rs)) == NULL)
        return;
    snprintf(by, sizeof by, "rhai-web:%s", rq->user);
    if ((code = ctl_queue_pause_set(r, w, pause, by, &changed, &known)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    rh_log(RH_LOG_NOTICE, "event=queue_%s worker=%s user=%s changed=%d", pause ? "pause" : "resume",
           w, rq->user, changed);
    web_reply(rs, 200, json_pack("{s:s, s:b, s:b, s:b}", "worker", w, "paused", pause,
                                 "changed", changed, "known", known));
}

void web_api_queue_pause(web_req *rq, web_resp *rs)
{
    write_queue_pause(rq, rs, 1);
}

void web_api_queue_resume(web_req *rq, web_resp *rs)
{
    write_queue_pause(rq, rs, 0);
}

void web_api_queue_purge(web_req *rq, web_resp *rs)
{
    const char *w = rq->params[0], *confirm;
    long long v[2];
    json_t *body;
    ctl_redis *r;
    int code;

    if (!write_worker_ok(rs, w) || (body = web_body_object(rq, rs)) == NULL)
        return;
    confirm = json_string_value(json_object_get(body, "confirm"));
    if (confirm == NULL || strcmp(confirm, w) != 0) {
        json_decref(body);
        web_error(rs, 400, "purge needs {\"confirm\": \"%s\"}: the worker id again", w);
        return;
    }
    json_decref(body);
    if ((r = web_redis(rs)) == NULL)
        return;
    if ((code = ctl_queue_known(r, w)) != 0 ||
        (code = ctl_queue_purge_run(r, w, RH_DEF_RESULT_TTL_MS, v)) != 0) {
        web_ctl_error(rs, code);
        return;
    }
    rh_log(RH_LOG_NOTICE, "event=queue_purge worker=%s user=%s cancelled=%lld", w, rq->user,
           v[0]);
    web_reply(rs, 200, json_pack("{s:s, s:I, s:I}", "worker", w, "cancelled", (json_int_t)v[0],
                                 "dropped", (json_int_t)v[1]));
}

/* ======================== tasks ======================== */

void web_api_task_cancel(web_req *rq, web_resp *rs)
{
    const char *id = rq->params[0];
    rhai_error err = { 0, "" };
    char ctx[RH_CONTEXT_MAX + 1];
    rhai_client *c;
    ctl_redis *r;
    int rc, audited;

    if (!rh_name_valid(id)) {
        web_error(rs, 400, "invalid task id");
        return;
    }
    if ((r = web_redis(rs)) == NULL || (c = web_client(rs)) == NULL)
        return;
    {
        char worker[RH_NAME_MAX + 1];
        if (ctl_task_worker(r, id, worker) == 0)      /* its hint, else a search */
            rhai_client_remember(c, id, worker);
    }
    if ((rc = rhai_cancel(c, id, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        return;
    }
    write_task_context(r, id, ctx, sizeof ctx);
    audited = web_audit(rq, ctx, "cancel", "task", id, "cancelled task") == 1;
    rh_log(RH_LOG_NOTICE, "event=task_cancel task=%s user=%s", id, rq->user);
    web_reply(rs, 200, json_pack("{s:s, s:b, s:b}", "id", id, "cancel_requested", 1,
                                 "audited", audited));
}

/* Retry (1) or delete (0) dead ids of worker w; counts and ids added. */
static int write_dead_apply(web_req *rq, ctl_redis *r, int retry, const char *w,
                            const char **ids, size_t n, json_t *changed, long long *nchanged,
                            long long *nskipped)
{
    size_t before = json_array_size(changed);
    int code;

    if ((code = ctl_dead_apply(r, retry, NULL, 0, w, ids, n, changed, nchanged, nskipped)) != 0)
        return code;
    for (size_t i = before; i < json_array_size(changed); i++) {
        const char *id = json_string_value(json_array_get(changed, i));
        char ctx[RH_CONTEXT_MAX + 1];
        write_task_context(r, id, ctx, sizeof ctx);
        web_audit(rq, ctx, retry ? "dead_retry" : "dead_delete", "task", id,
                  retry ? "retried dead task" : "deleted dead task");
    }
    return 0;
}

void web_api_task_retry(web_req *rq, web_resp *rs)
{
    const char *id = rq->params[0];
    char worker[RH_NAME_MAX + 1], key[RH_KEY_MAX], nid[RHAI_ID_MAX], ctx[RH_CONTEXT_MAX + 1];
    rhai_error err = { 0, "" };
    long long timeout_ms = 0, nchanged = 0, nskipped = 0;
    int signed_task = 0, code, rc, dead = 0;
    rhai_task *t = NULL;
    redisReply *rep;
    rhai_client *c;
    ctl_redis *r;

    if (!rh_name_valid(id)) {
        web_error(rs, 400, "invalid task id");
        return;
    }
    if ((r = web_redis(rs)) == NULL || (c = web_client(rs)) == NULL)
        return;
    /* A dead task runs again under its own id (dead retry); another
     * finished one is submitted again as a new task (task retry). */
    if ((rep = ctl_redis_command(r, "HGET %s worker_id", ctl_task_key(r, id, key))) &&
        rep->type == REDIS_REPLY_STRING && rh_name_valid(rep->str)) {
        snprintf(worker, sizeof worker, "%s", rep->str);
        freeReplyObject(rep);
        if ((rep = ctl_redis_command(r, "ZSCORE %s %s", rh_key_dead(key, r->prefix, worker),
                                     id)) != NULL)
            dead = rep->type == REDIS_REPLY_STRING;
    }
    if (rep)
        freeReplyObject(rep);
    if (dead) {
        json_t *changed = json_array();
        const char *ids[1] = { id };
        code = write_dead_apply(rq, r, 1, worker, ids, 1, changed, &nchanged, &nskipped);
        json_decref(changed);
        if (code != 0) {
            web_ctl_error(rs, code);
        } else if (nchanged == 0) {
            web_error(rs, 409, "task %s left the dead-letter set meanwhile", id);
        } else {
            rh_log(RH_LOG_NOTICE, "event=dead_retry task=%s user=%s", id, rq->user);
            web_reply(rs, 200, json_pack("{s:s, s:s, s:s, s:b}", "id", id, "retry_of", id,
                                         "status", "queued", "dead", 1));
        }
        return;
    }
    if ((code = ctl_task_retry_build(&web.g, id, &t, &signed_task, &timeout_ms, worker)) != 0) {
        web_error(rs, code == CTL_EXIT_NOTFOUND ? 404 : code == CTL_EXIT_CONN ? 503 : 409, "%s",
                  ctl_last_error());
        return;
    }
    if (signed_task) {
        rhai_task_free(t);
        web_error(rs, 409, "%s was signed by its caller; its retry would not be: submit it "
                  "again with its key", id);
        return;
    }
    rc = rhai_submit(c, t, nid, &err);
    rhai_task_free(t);
    if (rc != 0) {
        web_rc_error(rs, rc, &err);
        return;
    }
    write_task_context(r, id, ctx, sizeof ctx);
    web_audit(rq, ctx, "retry", "task", nid, id);
    rh_log(RH_LOG_NOTICE, "event=task_retry task=%s new=%s user=%s", id, nid, rq->user);
    web_reply(rs, 200, json_pack("{s:s, s:s, s:s, s:b}", "id", nid, "retry_of", id, "status",
                                 "queued", "dead", 0));
}

/* ======================== dead letters ======================== */

static void write_dead(web_req *rq, web_resp *rs, int retry)
{
    json_t *body, *ids, *changed = NULL, *list = NULL, *v;
    const char *w;
    long long nchanged = 0, nskipped = 0;
    int all, code = 0;
    size_t i;
    ctl_redis *r;

    if ((body = web_body_object(rq, rs)) == NULL)
        return;
    w = json_string_value(json_object_get(body, "worker"));
    ids = json_object_get(body, "ids");
    all = json_is_true(json_object_get(body, "all"));
    if (w && !rh_name_valid(w)) {
        web_error(rs, 400, "invalid worker id");
        goto out;
    }
    if (all == (ids != NULL) || (ids && (!json_is_array(ids) || json_array_size(ids) == 0 ||
                                         json_array_size(ids) > WEB_BULK_MAX))) {
        web_error(rs, 400, "give {\"worker\": W, \"ids\": [ID, ...]} (1..%d ids) or "
                  "{\"worker\": W, \"all\": true}", WEB_BULK_MAX);
        goto out;
    }
    json_array_foreach(ids, i, v)
        if (!json_is_string(v) || !rh_name_valid(json_string_value(v))) {
            web_error(rs, 400, "ids[%zu] is not a task id", i);
            goto out;
        }
    if ((r = web_redis(rs)) == NULL)
        goto out;
    changed = json_array();
    /* Group the ids by worker id: given, or each task's own (all: what
     * the dead list of W, or of every worker id, holds now). */
    if (all) {
        json_t *doc = NULL;
        if ((code = ctl_dead_query(r, w, WEB_BULK_MAX, &doc)) != 0)
            goto fail;
        list = json_incref(json_object_get(doc, "dead"));
        json_decref(doc);
    } else {
        list = json_array();
        json_array_foreach(ids, i, v) {
            char key[RH_KEY_MAX];
            const char *id = json_string_value(v);
            redisReply *rep = w ? NULL : ctl_redis_command(r, "HGET %s worker_id",
                                                          ctl_task_key(r, id, key));
            const char *tw = w ? w : rep && rep->type == REDIS_REPLY_STRING ? rep->str : NULL;
            if (tw && rh_name_valid(tw))
                json_array_append_new(list, json_pack("{s:s, s:s}", "id", id, "worker_id", tw));
            else
                nskipped++;
            if (rep)
                freeReplyObject(rep);
        }
    }
    json_array_foreach(list, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *tw = json_string_value(json_object_get(v, "worker_id"));
        if (id == NULL || tw == NULL)
            continue;
        if ((code = write_dead_apply(rq, r, retry, tw, &id, 1, changed, &nchanged,
                                     &nskipped)) != 0)
            goto fail;
    }
    rh_log(RH_LOG_NOTICE, "event=dead_%s worker=%s user=%s changed=%lld skipped=%lld",
           retry ? "retry" : "delete", w ? w : "*", rq->user, nchanged, nskipped);
    web_reply(rs, 200, json_pack("{s:s, s:I, s:I, s:O}", "action", retry ? "retry" : "delete",
                                 "changed", (json_int_t)nchanged, "skipped",
                                 (json_int_t)nskipped, "ids", changed));
    goto out;
fail:
    web_ctl_error(rs, code);
out:
    json_decref(list);
    json_decref(changed);
    json_decref(body);
}

void web_api_dead_retry(web_req *rq, web_resp *rs)
{
    write_dead(rq, rs, 1);
}

void web_api_dead_delete(web_req *rq, web_resp *rs)
{
    write_dead(rq, rs, 0);
}

/* ======================== schedules ======================== */

void web_api_schedule_action(web_req *rq, web_resp *rs)
{
    const char *w = rq->params[0], *name = rq->params[1], *action = rq->params[2];
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX] = "", *text = NULL, detail[1024];
    const char *ctx = NULL;
    rhai_client *c;
    json_t *sched = NULL;
    int rc;

    if (strcmp(action, "pause") != 0 && strcmp(action, "resume") != 0 &&
        strcmp(action, "run") != 0) {
        web_error(rs, 404, "no such schedule action '%.40s' (pause, resume, run)", action);
        return;
    }
    if (!write_worker_ok(rs, w) || (c = web_client(rs)) == NULL)
        return;
    if ((rc = rhai_cron_get(c, w, name, &text, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        return;
    }
    sched = json_loads(text, 0, NULL);
    rhai_cron_free_text(text);
    if (strcmp(action, "run") == 0)
        rc = rhai_cron_run_now(c, w, name, id, &err);
    else
        rc = rhai_cron_pause(c, w, name, strcmp(action, "pause") == 0, &err);
    if (rc != 0) {
        json_decref(sched);
        web_rc_error(rs, rc, &err);
        return;
    }
    ctx = json_string_value(json_object_get(sched, "context"));
    if (ctx == NULL)
        ctx = json_string_value(json_object_get(sched, "context_id"));
    snprintf(detail, sizeof detail, "schedule %s of %s: %s%s%s", name, w, action,
             id[0] ? " as task " : "", id);
    web_audit(rq, ctx, strcmp(action, "run") == 0 ? "schedule_run" : "schedule_pause",
              "schedule", id[0] ? id : NULL, detail);
    json_decref(sched);
    rh_log(RH_LOG_NOTICE, "event=schedule_%s worker=%s schedule=%s user=%s", action, w, name,
           rq->user);
    web_reply(rs, 200, json_pack("{s:s, s:s, s:s, s:s?}", "worker", w, "name", name, "action",
                                 action, "id", id[0] ? id : NULL));
}

/* ======================== grants ======================== */

static void write_grant(web_req *rq, web_resp *rs, int grant)
{
    const char *ctx = rq->params[0], *caller, *model;
    rhai_error err = { 0, "" };
    json_t *body, *ops;
    store_grant g;
    store_db *db = NULL;
    char detail[700];
    int64_t id = 0;
    int n = 0, rc;
    size_t i;
    json_t *v;

    if ((body = web_body_object(rq, rs)) == NULL)
        return;
    memset(&g, 0, sizeof g);
    caller = json_string_value(json_object_get(body, "caller"));
    model = json_string_value(json_object_get(body, "model"));
    ops = json_object_get(body, "ops");
    if (caller == NULL || !ctl_caller_valid(caller) || model == NULL || model[0] == '\0' ||
        strlen(model) > 100 || (ops && !json_is_array(ops)) || (grant && ops == NULL)) {
        web_error(rs, 400, "give {\"caller\", \"model\" (a model or \"*\"), \"ops\": [\"read\", "
                  "\"create\", \"update\", \"delete\" or \"all\"]}");
        goto out;
    }
    if (strcmp(model, "*") != 0 && store_schema_model(&dsl_schema, model) == NULL) {
        web_error(rs, 400, "no model '%.100s' (GET /api/dsl lists them)", model);
        goto out;
    }
    json_array_foreach(ops, i, v) {
        unsigned m = 0;
        if (!json_is_string(v) || store_ops_parse(json_string_value(v), &m) != 0) {
            web_error(rs, 400, "ops[%zu]: read, create, update, delete or all", i);
            goto out;
        }
        g.ops |= m;
    }
    if (grant && g.ops == 0) {
        web_error(rs, 400, "a grant needs at least one op");
        goto out;
    }
    g.caller = caller;
    g.model = model;
    g.object_id = json_integer_value(json_object_get(body, "object_id"));
    g.expires_at = json_integer_value(json_object_get(body, "expires_at"));
    g.granted_by = web_caller();
    if (g.object_id < 0 || g.expires_at < 0) {
        web_error(rs, 400, "object_id and expires_at are positive");
        goto out;
    }
    if (web.st == NULL) {
        web_error(rs, 503, "no store configured (rhai-web --data-url or --data-dir)");
        goto out;
    }
    if (!rh_context_id_valid(ctx)) {
        web_error(rs, 400, "invalid context id");
        goto out;
    }
    if ((rc = store_context_exists(web.st, ctx)) != 1) {
        web_error(rs, rc < 0 ? 503 : 404, "no context '%s'", ctx);
        goto out;
    }
    /* the change and its audit row in one transaction */
    if ((rc = store_open(web.st, ctx, &db, &err)) == 0 && (rc = store_begin(db, &err)) == 0 &&
        (rc = grant ? store_grant_add(db, &g, &id, &err)
                    : store_grant_revoke(db, &g, &n, &err)) == 0) {
        store_audit a;
        char ops_text[64] = "";
        char reason[900];
        for (unsigned bit = 1; bit <= STORE_OP_ALL; bit <<= 1)
            if (g.ops & bit)
                snprintf(ops_text + strlen(ops_text), sizeof ops_text - strlen(ops_text), "%s%s",
                         ops_text[0] ? "," : "", store_op_name(bit));
        if (grant)
            snprintf(detail, sizeof detail, "granted #%lld: %s on %s (%s)", (long long)id,
                     caller, model, ops_text);
        else
            snprintf(detail, sizeof detail, "revoked %s on %s (%s): %d grant%s changed", caller,
                     model, g.ops ? ops_text : "all", n, n == 1 ? "" : "s");
        snprintf(reason, sizeof reason, "rhai-web %s (admin): %s", rq->user, detail);
        memset(&a, 0, sizeof a);
        a.at = rh_now_ms();
        a.caller = web_caller();
        a.op = grant ? "grant" : "revoke";
        a.model = model;
        a.object_id = g.object_id;
        a.decision = "allowed";
        a.reason = reason;
        if ((rc = store_audit_put(db, &a, &err)) == 0)
            rc = store_commit(db, &err);
    }
    if (rc != 0) {
        if (db)
            store_rollback(db);
        web_rc_error(rs, rc, &err);
        goto out;
    }
    rh_log(RH_LOG_NOTICE, "event=%s context=%s user=%s", grant ? "grant" : "revoke", ctx,
           rq->user);
    if (grant)
        web_reply(rs, 200, json_pack("{s:s, s:I, s:s, s:s, s:o}", "context", ctx, "id",
                                     (json_int_t)id, "caller", caller, "model", model, "ops",
                                     store_ops_json(g.ops)));
    else
        web_reply(rs, 200, json_pack("{s:s, s:i, s:s, s:s}", "context", ctx, "changed", n,
                                     "caller", caller, "model", model));
out:
    json_decref(body);
}

void web_api_grant(web_req *rq, web_resp *rs)
{
    write_grant(rq, rs, 1);
}

void web_api_revoke(web_req *rq, web_resp *rs)
{
    write_grant(rq, rs, 0);
}

/* ======================== playground ======================== */

/* The answer of a finished run. */
static json_t *write_run_json(const rhai_result *res)
{
    const char *out = rhai_result_output(res), *error = rhai_result_error(res);
    const char *kind = rhai_result_error_kind(res), *logs = rhai_result_logs(res);
    json_t *o = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    int line = web_error_line(error);

    return json_pack("{s:s, s:s, s:o, s:s?, s:s?, s:s?, s:o, s:i, s:I, s:I}",
                     "id", rhai_result_id(res), "status", rhai_result_status_name(res),
                     "output", o ? o : json_null(), "logs", logs, "error", error,
                     "error_kind", kind && kind[0] ? kind : NULL,
                     "line", line > 0 ? json_integer(line) : json_null(),
                     "attempts", rhai_result_attempts(res),
                     "started_at", (json_int_t)rhai_result_started_at(res),
                     "finished_at", (json_int_t)rhai_result_finished_at(res));
}

void web_api_run(web_req *rq, web_resp *rs)
{
    json_t *body, *args;
    const char *script, *worker, *ctx;
    long long timeout_ms;
    char id[RHAI_ID_MAX], *args_text = NULL, detail[200];
    rhai_error err = { 0, "" };
    rhai_task *t = NULL;
    rhai_result *res = NULL;
    rhai_client *c, *waiter = NULL;
    int live = 0, draining = 0, code, rc;
    ctl_redis *r;

    if ((body = web_body_object(rq, rs)) == NULL)
        return;
    script = json_string_value(json_object_get(body, "script"));
    worker = json_string_value(json_object_get(body, "worker"));
    ctx = json_string_value(json_object_get(body, "context"));
    args = json_object_get(body, "args");
    timeout_ms = json_is_integer(json_object_get(body, "timeout_ms"))
                     ? json_integer_value(json_object_get(body, "timeout_ms"))
                     : WEB_RUN_TIMEOUT_DEFAULT;
    if (worker == NULL || worker[0] == '\0')
        worker = RHAI_DEFAULT_WORKER;
    if (ctx && ctx[0] == '\0')
        ctx = NULL;
    if (script == NULL || script[0] == '\0') {
        web_error(rs, 400, "give {\"script\": \"...\"} (and worker, context, args, timeout_ms)");
        goto out;
    }
    if (!rh_name_valid(worker) || (ctx && !rh_context_id_valid(ctx))) {
        web_error(rs, 400, "invalid worker or context id");
        goto out;
    }
    if (args && !json_is_object(args) && !json_is_array(args) && !json_is_null(args)) {
        web_error(rs, 400, "args is a JSON object (or array)");
        goto out;
    }
    if (timeout_ms < 1 || timeout_ms > web.cfg.run_timeout_max_ms) {
        web_error(rs, 400, "timeout_ms is 1..%lld", web.cfg.run_timeout_max_ms);
        goto out;
    }
    if ((r = web_redis(rs)) == NULL || (c = web_client(rs)) == NULL)
        goto out;
    if ((code = ctl_worker_live(r, worker, &live, &draining)) != 0) {
        web_ctl_error(rs, code);
        goto out;
    }
    if (live == 0) {
        web_error(rs, 409, "no live instance serves worker id '%s'%s", worker,
                  draining ? " (its instances are draining)" : "");
        goto out;
    }
    if (args && !json_is_null(args) && (args_text = json_dumps(args, JSON_COMPACT)) == NULL) {
        web_error(rs, 500, "out of memory");
        goto out;
    }
    if ((rc = rhai_task_new(script, &t)) != 0 || (rc = rhai_task_set_worker(t, worker)) != 0 ||
        (ctx && (rc = rhai_task_set_context(t, ctx)) != 0) ||
        (rc = rhai_task_set_caller(t, web.cfg.caller)) != 0 ||
        (args_text && (rc = rhai_task_set_args(t, args_text)) != 0) ||
        (rc = rhai_task_set_timeout(t, timeout_ms)) != 0 ||
        (web.signing_key[0] && (rc = rhai_task_set_signing_key(t, web.signing_key)) != 0) ||
        (rc = rhai_submit(c, t, id, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        goto out;
    }
    snprintf(detail, sizeof detail, "playground run on %s", worker);
    web_audit(rq, ctx, "run", "task", id, detail);
    rh_log(RH_LOG_NOTICE, "event=run task=%s worker=%s user=%s", id, worker, rq->user);

    /* Wait on a connection of its own, without the lock: other requests
     * (a cancel of this very task) go on meanwhile. */
    pthread_mutex_unlock(&web.mu);
    rc = rhai_client_connect(web.g.url, web.g.prefix, &waiter, &err);
    if (rc == 0)
        rc = rhai_client_remember(waiter, id, worker);
    if (rc == 0)
        rc = rhai_wait(waiter, id, timeout_ms + 5000, &res, &err);
    rhai_client_free(waiter);
    pthread_mutex_lock(&web.mu);
    if (rc == RHAI_ETIMEOUT) {
        web_reply(rs, 504, json_pack("{s:s, s:s, s:s}", "error", "no result in time: the task "
                                     "goes on", "id", id, "status", "running"));
        goto out;
    }
    if (rc != 0) {
        web_rc_error(rs, rc, &err);
        goto out;
    }
    web_reply(rs, 200, write_run_json(res));
out:
    rhai_result_free(res);
    rhai_task_free(t);
    free(args_text);
    json_decref(body);
}
