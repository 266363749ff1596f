/* cron.c -- rhai/cron.h: schedules in Redis (docs/protocol.md, "Cron").
 *
 * The library writes and reads schedules; rhaid fires them. Each change is
 * one Lua script over the keys of one worker id (<prefix>:cron:{W} and
 * <prefix>:cron:next:{W}), plus SADD/SREM of the worker id in
 * <prefix>:cron:workers, a key of its own (not in a script with the
 * others: it has another hash slot). A new or resumed schedule enters the
 * next-tick zset with score -1: the first instance that sees it computes
 * its first tick (in its zone; the library never switches TZ). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "common/schedule.h"
#include "rhai/cron.h"

static const char lua_add[] =
    "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('ZADD', KEYS[2], -1, ARGV[1])\n"
    "redis.call('DEL', KEYS[3])\n"
    "return 'ok'\n";

static const char lua_remove[] =
    "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('DEL', KEYS[3])\n"
    "return redis.call('HLEN', KEYS[1]) + 1\n";

static const char lua_pause[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'changed' end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])\n"
    "if ARGV[4] == '1' then redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "else redis.call('ZADD', KEYS[2], -1, ARGV[1]) end\n"
    "return 'ok'\n";

static const char lua_run_now[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'changed' end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end\n"
    "redis.call('HSET', KEYS[2], unpack(ARGV, 5))\n"
    "redis.call('LPUSH', KEYS[3], ARGV[3])\n"
    "redis.call('LPUSH', KEYS[4], ARGV[4])\n"
    "redis.call('LTRIM', KEYS[4], 0, 49)\n"
    "return 'ok'\n";

/* Run argv (NULL-terminated) on the client's connection. */
static int run(rhai_client *c, redisReply **reply, rhai_error *err, const char **argv)
{
    size_t lens[48];
    int argc = 0;
    int rc;

    while (argv[argc] != NULL) {
        lens[argc] = strlen(argv[argc]);
        argc++;
    }
    rc = rhai__client_command(c, argc, argv, lens, reply, err);
    if (rc == 0 && (*reply)->type == REDIS_REPLY_ERROR) {
        rh_error_set(err, RHAI_EPROTO, "redis: %s", (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        return RHAI_EPROTO;
    }
    return rc;
}

static int names_check(const char *worker, const char *name, rhai_error *err)
{
    if (!rh_name_valid(worker))
        return rh_error_set(err, RHAI_EINVAL, "invalid worker id");
    if (!rh_sched_name_valid(name))
        return rh_error_set(err, RHAI_EINVAL, "schedule name must be 1..%d of [A-Za-z0-9_.-]",
                            RH_SCHED_NAME_MAX);
    return 0;
}

RHAI_API int rhai_cron_add(rhai_client *c, const rhai_cron_def *def, rhai_error *err)
{
    const char *prefix;
    char k_cron[RH_KEY_MAX], k_next[RH_KEY_MAX], k_runs[RH_KEY_MAX], k_ws[RH_KEY_MAX];
    redisReply *r = NULL;
    char *json = NULL;
    rh_sched s;
    int rc;

    if (c == NULL || def == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client and schedule are required");
    prefix = rhai__client_prefix(c);
    rh_sched_init(&s);
    s.name = rh_strdup(def->name);
    s.cron = rh_strdup(def->cron);
    s.tz = rh_strdup(def->tz ? def->tz : "UTC");
    s.worker = rh_strdup(def->worker ? def->worker : RHAI_DEFAULT_WORKER);
    s.script = rh_strdup(def->script);
    s.args = rh_strdup(def->args ? def->args : "{}");
    s.context = rh_strdup(def->context);
    s.caller = rh_strdup(def->signing_key ? "-" : def->caller);
    s.created_by = def->created_by ? rh_strdup(def->created_by) : NULL;
    s.created_at = rh_now_ms();
    if ((def->name && !s.name) || (def->cron && !s.cron) || !s.tz || !s.worker ||
        (def->script && !s.script) || !s.args || (def->context && !s.context)) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = rh_sched_validate(&s, err)) != 0)
        goto out;
    if (def->signing_key && (rc = rh_sched_sign(&s, prefix, def->signing_key, err)) != 0)
        goto out;
    if ((json = rh_sched_to_json(&s)) == NULL) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto out;
    }
    rh_key_cron(k_cron, prefix, s.worker);
    rh_key_cron_next(k_next, prefix, s.worker);
    rh_key_cron_runs(k_runs, prefix, s.worker, s.name);
    rh_key_cron_workers(k_ws, prefix);
    {
        const char *argv[] = { "EVAL", lua_add, "3", k_cron, k_next, k_runs, s.name, json,
                               NULL };
        if ((rc = run(c, &r, err, argv)) != 0)
            goto out;
    }
    if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) {
        if (strcmp(r->str, "exists") == 0) {
            rc = rh_error_set(err, RHAI_ESTATE, "schedule %s exists on worker %s (cron rm it "
                              "first)", s.name, s.worker);
            goto out;
        }
    }
    freeReplyObject(r);
    r = NULL;
    {
        const char *argv[] = { "SADD", k_ws, s.worker, NULL };
        rc = run(c, &r, err, argv);
    }
out:
    if (r)
        freeReplyObject(r);
    rh_free(json);
    rh_sched_clear(&s);
    return rc;
}

RHAI_API int rhai_cron_remove(rhai_client *c, const char *worker, const char *name,
                              rhai_error *err)
{
    const char *prefix;
    char k_cron[RH_KEY_MAX], k_next[RH_KEY_MAX], k_runs[RH_KEY_MAX], k_ws[RH_KEY_MAX];
    redisReply *r = NULL;
    long long left;
    int rc;

    if (c == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client is required");
    worker = worker ? worker : RHAI_DEFAULT_WORKER;
    if ((rc = names_check(worker, name, err)) != 0)
        return rc;
    prefix = rhai__client_prefix(c);
    rh_key_cron(k_cron, prefix, worker);
    rh_key_cron_next(k_next, prefix, worker);
    rh_key_cron_runs(k_runs, prefix, worker, name);
    rh_key_cron_workers(k_ws, prefix);
    {
        const char *argv[] = { "EVAL", lua_remove, "3", k_cron, k_next, k_runs, name, NULL };
        if ((rc = run(c, &r, err, argv)) != 0)
            return rc;
    }
    left = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (left == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "no schedule %s on worker %s", name, worker);
    if (left == 1) {               /* it was the last one of that worker id */
        const char *argv[] = { "SREM", k_ws, worker, NULL };
        if ((rc = run(c, &r, err, argv)) != 0)
            return rc;
        freeReplyObject(r);
    }
    return 0;
}

/* HGET the stored JSON: 0 with *out new, RHAI_ENOTFOUND, ... */
static int read_def(rhai_client *c, const char *worker, const char *name, char **out,
                    rhai_error *err)
{
    char k_cron[RH_KEY_MAX];
    redisReply *r = NULL;
    int rc;
    const char *argv[] = { "HGET", rh_key_cron(k_cron, rhai__client_prefix(c), worker), name,
                           NULL };

    *out = NULL;
    if ((rc = run(c, &r, err, argv)) != 0)
        return rc;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return rh_error_set(err, RHAI_ENOTFOUND, "no schedule %s on worker %s", name, worker);
    }
    *out = rh_strndup(r->str, r->len);
    freeReplyObject(r);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

RHAI_API int rhai_cron_pause(rhai_client *c, const char *worker, const char *name,
                             int paused, rhai_error *err)
{
    char k_cron[RH_KEY_MAX], k_next[RH_KEY_MAX];
    int rc;

    if (c == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client is required");
    worker = worker ? worker : RHAI_DEFAULT_WORKER;
    if ((rc = names_check(worker, name, err)) != 0)
        return rc;
    rh_key_cron(k_cron, rhai__client_prefix(c), worker);
    rh_key_cron_next(k_next, rhai__client_prefix(c), worker);
    for (int tries = 0; tries < 5; tries++) {   /* an instance or a user changed it */
        char *old = NULL, *fresh = NULL;
        redisReply *r = NULL;
        rh_sched s;

        rh_sched_init(&s);
        if ((rc = read_def(c, worker, name, &old, err)) != 0)
            return rc;
        if ((rc = rh_sched_from_json(old, strlen(old), &s, err)) != 0) {
            rh_free(old);
            return rc;
        }
        if (s.paused == (paused != 0)) {
            rh_free(old);
            rh_sched_clear(&s);
            return 0;
        }
        s.paused = paused != 0;
        fresh = rh_sched_to_json(&s);
        rh_sched_clear(&s);
        if (fresh == NULL) {
            rh_free(old);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
        {
            const char *argv[] = { "EVAL", lua_pause, "2", k_cron, k_next, name, old, fresh,
                                   paused ? "1" : "0", NULL };
            rc = run(c, &r, err, argv);
        }
        rh_free(old);
        rh_free(fresh);
        if (rc != 0)
            return rc;
        rc = (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) &&
             strcmp(r->str, "ok") == 0;
        freeReplyObject(r);
        if (rc)
            return 0;
    }
    return rh_error_set(err, RHAI_ESTATE, "schedule %s kept changing; try again", name);
}

RHAI_API int rhai_cron_run_now(rhai_client *c, const char *worker, const char *name,
                               char id[RHAI_ID_MAX], rhai_error *err)
{
    const char *prefix;
    char k_cron[RH_KEY_MAX], k_task[RH_KEY_MAX], k_queue[RH_KEY_MAX], k_runs[RH_KEY_MAX];
    char fid[RH_NAME_MAX + 1], s_now[24], *def = NULL, *sig = NULL, *run_entry = NULL;
    redisReply *r = NULL;
    int64_t now;
    rh_sched s;
    int rc;

    if (c == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client is required");
    worker = worker ? worker : RHAI_DEFAULT_WORKER;
    if ((rc = names_check(worker, name, err)) != 0)
        return rc;
    prefix = rhai__client_prefix(c);
    rh_sched_init(&s);
    if ((rc = read_def(c, worker, name, &def, err)) != 0)
        return rc;
    if ((rc = rh_sched_from_json(def, strlen(def), &s, err)) != 0 ||
        (rc = rh_sched_validate(&s, err)) != 0)
        goto out;
    now = rh_now_ms();
    rh_sched_firing_id(fid, name, now, 1);
    snprintf(s_now, sizeof s_now, "%lld", (long long)now);
    run_entry = rh_sprintf("{\"tick\":%lld,\"id\":\"%s\",\"at\":%lld,\"run_now\":true}",
                           (long long)now, fid, (long long)now);
    if (s.signature && s.signature[0])
        sig = rh_sched_sig_json(&s);
    if (run_entry == NULL || (s.signature && s.signature[0] && sig == NULL)) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto out;
    }
    rh_key_cron(k_cron, prefix, worker);
    rh_key_task(k_task, prefix, worker, fid);
    rh_key_queue(k_queue, prefix, worker);
    rh_key_cron_runs(k_runs, prefix, worker, name);
    {
        const char *argv[] = { "EVAL", lua_run_now, "4", k_cron, k_task, k_queue, k_runs,
                               name, def, fid, run_entry,
                               "id", fid, "script", s.script, "worker_id", s.worker,
                               "context_id", s.context, "caller_id", s.caller,
                               "args", s.args ? s.args : "{}", "created_at", s_now,
                               "status", "queued", "attempts", "0", "schedule", name,
                               "tick", s_now, sig ? "cron_sig" : NULL, sig, NULL };
        if ((rc = run(c, &r, err, argv)) != 0)
            goto out;
    }
    if (strcmp(r->str ? r->str : "", "ok") != 0)
        rc = rh_error_set(err, RHAI_ESTATE, "schedule %s changed meanwhile; try again", name);
    else
        snprintf(id, RHAI_ID_MAX, "%s", fid);
    if (rc == 0)
        rhai__client_remember(c, fid, worker, 0);
out:
    if (r)
        freeReplyObject(r);
    rh_free(def);
    rh_free(sig);
    rh_free(run_entry);
    rh_sched_clear(&s);
    return rc;
}

/* The stored JSON with "next" added (new json_t), or NULL. */
static json_t *with_next(const char *def, size_t len, const redisReply *score)
{
    json_error_t je;
    json_t *o = json_loadb(def, len, 0, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    if (score && score->type == REDIS_REPLY_STRING)
        json_object_set_new(o, "next", json_integer(strtoll(score->str, NULL, 10)));
    else
        json_object_set_new(o, "next", json_null());
    return o;
}

static int dump(json_t *v, char **out, rhai_error *err)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    *out = text ? rh_strdup(text) : NULL;
    free(text);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

RHAI_API int rhai_cron_get(rhai_client *c, const char *worker, const char *name,
                           char **out, rhai_error *err)
{
    char k_next[RH_KEY_MAX], *def = NULL;
    redisReply *r = NULL;
    json_t *o;
    int rc;

    if (out)
        *out = NULL;
    if (c == NULL || out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client and out are required");
    worker = worker ? worker : RHAI_DEFAULT_WORKER;
    if ((rc = names_check(worker, name, err)) != 0)
        return rc;
    if ((rc = read_def(c, worker, name, &def, err)) != 0)
        return rc;
    {
        const char *argv[] = { "ZSCORE", rh_key_cron_next(k_next, rhai__client_prefix(c),
                                                          worker), name, NULL };
        if ((rc = run(c, &r, err, argv)) != 0) {
            rh_free(def);
            return rc;
        }
    }
    o = with_next(def, strlen(def), r);
    freeReplyObject(r);
    rh_free(def);
    if (o == NULL)
        return rh_error_set(err, RHAI_EPROTO, "schedule %s is not a JSON object", name);
    return dump(o, out, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Append every schedule of 'worker' to 'arr', by name. */
static int list_worker(rhai_client *c, const char *worker, json_t *arr, rhai_error *err)
{
    char k_cron[RH_KEY_MAX], k_next[RH_KEY_MAX];
    redisReply *h = NULL, *z = NULL;
    const char **names = NULL;
    int rc;

    rh_key_cron(k_cron, rhai__client_prefix(c), worker);
    rh_key_cron_next(k_next, rhai__client_prefix(c), worker);
    {
        const char *a1[] = { "HGETALL", k_cron, NULL };
        const char *a2[] = { "ZRANGE", k_next, "0", "-1", "WITHSCORES", NULL };
        if ((rc = run(c, &h, err, a1)) != 0)
            return rc;
        if ((rc = run(c, &z, err, a2)) != 0) {
            freeReplyObject(h);
            return rc;
        }
    }
    if (h->type == REDIS_REPLY_ARRAY && h->elements >= 2) {
        size_t n = h->elements / 2;
        names = rh_calloc(n, sizeof *names);
        if (names == NULL) {
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < n; i++)
                names[i] = h->element[2 * i]->str;
            qsort(names, n, sizeof *names, cmp_str);
            for (size_t i = 0; i < n; i++) {
                const redisReply *def = NULL, *score = NULL;
                json_t *o;
                for (size_t j = 0; j + 1 < h->elements; j += 2)
                    if (strcmp(h->element[j]->str, names[i]) == 0)
                        def = h->element[j + 1];
                for (size_t j = 0; z->type == REDIS_REPLY_ARRAY && j + 1 < z->elements; j += 2)
                    if (strcmp(z->element[j]->str, names[i]) == 0)
                        score = z->element[j + 1];
                if (def == NULL || def->type != REDIS_REPLY_STRING)
                    continue;
                if ((o = with_next(def->str, def->len, score)) != NULL)
                    json_array_append_new(arr, o);
            }
        }
    }
    rh_free(names);
    freeReplyObject(h);
    freeReplyObject(z);
    return rc;
}

RHAI_API int rhai_cron_list(rhai_client *c, const char *worker, char **out, rhai_error *err)
{
    char k_ws[RH_KEY_MAX];
    redisReply *r = NULL;
    json_t *arr;
    int rc = 0;

    if (out)
        *out = NULL;
    if (c == NULL || out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client and out are required");
    if (worker && !rh_name_valid(worker))
        return rh_error_set(err, RHAI_EINVAL, "invalid worker id");
    if ((arr = json_array()) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if (worker) {
        rc = list_worker(c, worker, arr, err);
    } else {
        const char *argv[] = { "SMEMBERS", rh_key_cron_workers(k_ws, rhai__client_prefix(c)),
                               NULL };
        if ((rc = run(c, &r, err, argv)) == 0 && r->type == REDIS_REPLY_ARRAY) {
            const char **ws = rh_calloc(r->elements + 1, sizeof *ws);
            if (ws == NULL) {
                rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
            } else {
                for (size_t i = 0; i < r->elements; i++)
                    ws[i] = r->element[i]->str;
                qsort(ws, r->elements, sizeof *ws, cmp_str);
                for (size_t i = 0; rc == 0 && i < r->elements; i++)
                    if (rh_name_valid(ws[i]))
                        rc = list_worker(c, ws[i], arr, err);
            }
            rh_free(ws);
        }
        if (r)
            freeReplyObject(r);
    }
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    return dump(arr, out, err);
}

RHAI_API void rhai_cron_free_text(char *text)
{
    rh_free(text);
}
