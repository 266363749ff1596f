/* task.c -- the task builder and the submit command built from it.
 *
 * Setters validate and copy so that a built task is always submittable:
 * the only checks left for submit time are those that depend on the
 * client (the key prefix of reply_to). rhai__submit_prepare turns a task
 * into the HSET + LPUSH of docs/protocol.md, shared by both clients. */
#include <stdio.h>
#include <string.h>

#include "client_int.h"

/* ======================== builder ======================== */

static int replace(char **dst, const char *val)
{
    char *p = rh_strdup(val);
    if (p == NULL)
        return RHAI_ENOMEM;
    rh_free(*dst);
    *dst = p;
    return 0;
}

/* A secret key is wiped before its memory goes back. */
static void key_free(char *key)
{
    if (key == NULL)
        return;
    memset(key, 0, strlen(key));
    rh_free(key);
}

int rhai__caller_valid(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 127 ||
            n >= RHAI__CALLER_MAX)
            return 0;
    return n > 0;
}

RHAI_API int rhai_task_new(const char *script, rhai_task **out)
{
    rhai_task *t;
    size_t len;

    if (out == NULL)
        return RHAI_EINVAL;
    *out = NULL;
    if (script == NULL || (len = strlen(script)) == 0)
        return RHAI_EINVAL;
    if (len > RHAI__SCRIPT_MAX)
        return RHAI_ETOOBIG;
    if ((t = rh_calloc(1, sizeof *t)) == NULL)
        return RHAI_ENOMEM;
    t->script = rh_strndup(script, len);
    t->script_len = len;
    t->worker_id = rh_strdup(RHAI_DEFAULT_WORKER);
    t->context_id = rh_strdup("default");
    t->caller_id = rh_strdup("anonymous");
    t->args = rh_strdup("{}");
    t->timeout_ms = RHAI__TIMEOUT_DEFAULT;
    if (!t->script || !t->worker_id || !t->context_id || !t->caller_id || !t->args) {
        rhai_task_free(t);
        return RHAI_ENOMEM;
    }
    *out = t;
    return 0;
}

RHAI_API void rhai_task_free(rhai_task *t)
{
    if (t == NULL)
        return;
    rh_free(t->script);
    rh_free(t->worker_id);
    rh_free(t->context_id);
    rh_free(t->caller_id);
    rh_free(t->args);
    rh_free(t->reply_to);
    rh_free(t->retry_of);
    rh_free(t->backoff);
    key_free(t->signing_key);
    rh_free(t);
}

/* Both copies are made before either field changes, so that a failure
 * leaves the task as it was. */
RHAI_API int rhai_task_set_signing_key(rhai_task *t, const char *secret_key_hex)
{
    char pk[RH_SIGN_PK_HEX + 1];
    char *caller, *key;

    if (t == NULL)
        return RHAI_EINVAL;
    if (secret_key_hex == NULL) {
        key_free(t->signing_key);
        t->signing_key = NULL;
        return 0;
    }
    if (rh_sign_public_key(secret_key_hex, pk) != 0)
        return RHAI_EINVAL;
    if ((caller = rh_strdup(pk)) == NULL)
        return RHAI_ENOMEM;
    if ((key = rh_strdup(secret_key_hex)) == NULL) {
        rh_free(caller);
        return RHAI_ENOMEM;
    }
    rh_free(t->caller_id);
    t->caller_id = caller;
    key_free(t->signing_key);
    t->signing_key = key;
    return 0;
}

RHAI_API int rhai_keygen(char public_hex[65], char secret_hex[129])
{
    return rh_sign_keygen(public_hex, secret_hex);
}

RHAI_API int rhai_task_set_worker(rhai_task *t, const char *worker_id)
{
    if (t == NULL || !rh_name_valid(worker_id))
        return RHAI_EINVAL;
    return replace(&t->worker_id, worker_id);
}

RHAI_API int rhai_task_set_context(rhai_task *t, const char *context_id)
{
    if (t == NULL || !rh_context_id_valid(context_id))
        return RHAI_EINVAL;
    return replace(&t->context_id, context_id);
}

/* A signed task's caller is its key's public key (set with the key). */
RHAI_API int rhai_task_set_caller(rhai_task *t, const char *caller_id)
{
    if (t == NULL || !rhai__caller_valid(caller_id))
        return RHAI_EINVAL;
    if (t->signing_key != NULL && strcmp(caller_id, t->caller_id) != 0)
        return RHAI_ESTATE;
    return replace(&t->caller_id, caller_id);
}

RHAI_API int rhai_task_set_args(rhai_task *t, const char *args_json)
{
    json_t *j;

    if (t == NULL || args_json == NULL)
        return RHAI_EINVAL;
    /* Any JSON value is accepted (the sandbox exposes it as 'args'), as
     * the worker's own validation does. */
    if ((j = json_loads(args_json, JSON_DECODE_ANY, NULL)) == NULL)
        return RHAI_EINVAL;
    json_decref(j);
    return replace(&t->args, args_json);
}

/* 0: send no timeout_ms, so the worker's default_timeout_ms applies. */
RHAI_API int rhai_task_set_timeout(rhai_task *t, int64_t timeout_ms)
{
    if (t == NULL || timeout_ms < 0 || timeout_ms > RHAI__TIMEOUT_MAX)
        return RHAI_EINVAL;
    t->timeout_ms = timeout_ms;
    return 0;
}

/* NULL forgets a previously set id: submit generates one again. */
RHAI_API int rhai_task_set_id(rhai_task *t, const char *id)
{
    if (t == NULL)
        return RHAI_EINVAL;
    if (id == NULL) {
        t->id[0] = '\0';
        return 0;
    }
    if (!rh_name_valid(id))
        return RHAI_EINVAL;
    memcpy(t->id, id, strlen(id) + 1);       /* <= 128 chars + NUL */
    return 0;
}

/* NULL restores the default list <prefix>:reply:{W}:ID. Whether the key
 * is under <prefix>:reply:{W}: is checked at submit time. */
RHAI_API int rhai_task_set_reply_to(rhai_task *t, const char *list_key)
{
    if (t == NULL)
        return RHAI_EINVAL;
    if (list_key == NULL) {
        rh_free(t->reply_to);
        t->reply_to = NULL;
        return 0;
    }
    if (strlen(list_key) >= RH_KEY_MAX || !rhai__caller_valid(list_key))
        return RHAI_EINVAL;                 /* printable, no spaces */
    return replace(&t->reply_to, list_key);
}

/* NULL forgets it. */
RHAI_API int rhai_task_set_retry_of(rhai_task *t, const char *id)
{
    if (t == NULL)
        return RHAI_EINVAL;
    if (id == NULL) {
        rh_free(t->retry_of);
        t->retry_of = NULL;
        return 0;
    }
    if (!rh_name_valid(id))
        return RHAI_EINVAL;
    return replace(&t->retry_of, id);
}

/* Unix ms; 0 forgets it (the task runs when submitted). */
RHAI_API int rhai_task_set_run_at(rhai_task *t, int64_t run_at_ms)
{
    if (t == NULL || run_at_ms < 0 || run_at_ms > RHAI__RUN_AT_MAX)
        return RHAI_EINVAL;
    t->run_at = run_at_ms;
    t->delay_ms = 0;
    return 0;
}

RHAI_API int rhai_task_set_delay_ms(rhai_task *t, int64_t delay_ms)
{
    if (t == NULL || delay_ms < 0 || delay_ms > RHAI__DELAY_MAX)
        return RHAI_EINVAL;
    t->delay_ms = delay_ms;
    t->run_at = 0;
    return 0;
}

RHAI_API int rhai_task_set_retries(rhai_task *t, int retries)
{
    if (t == NULL || retries < 0 || retries > RH_RETRIES_MAX)
        return RHAI_EINVAL;
    t->retries = retries;
    return 0;
}

RHAI_API int rhai_task_set_backoff(rhai_task *t, const char *spec)
{
    rh_backoff b;

    if (t == NULL)
        return RHAI_EINVAL;
    if (spec == NULL) {
        rh_free(t->backoff);
        t->backoff = NULL;
        return 0;
    }
    if (rh_backoff_parse(spec, &b, NULL) != 0 || spec[0] == '\0')
        return RHAI_EINVAL;
    return replace(&t->backoff, spec);
}

int64_t rhai__task_wait(const rhai_task *t, int64_t extra_ms, int64_t now_ms)
{
    int64_t run = (t->timeout_ms > 0 ? t->timeout_ms : RHAI__TIMEOUT_DEFAULT) + extra_ms;
    int64_t wait = run, due = t->run_at > 0 ? t->run_at - now_ms : t->delay_ms;
    rh_backoff b;

    if (due > 0)
        wait += due;
    if (t->retries > 0 && rh_backoff_parse(t->backoff, &b, NULL) == 0)
        wait += (int64_t)t->retries * (run + b.cap);
    return wait;
}

RHAI_API const char *rhai_task_id(const rhai_task *t)
{
    return t && t->id[0] ? t->id : NULL;
}

/* ======================== submit command ======================== */

static void push(rhai__submit *s, const char *p, size_t n)
{
    rh_assert(s->hset_argc < RHAI__HSET_ARGC_MAX);
    s->hset_argv[s->hset_argc] = p;
    s->hset_lens[s->hset_argc] = n;
    s->hset_argc++;
}

static void field(rhai__submit *s, const char *name, const char *val)
{
    push(s, name, strlen(name));
    push(s, val, strlen(val));
}

int rhai__submit_prepare(rhai__submit *s, const rhai_task *t, const char *prefix,
                         const char *reply_to, int64_t now_ms, rhai_error *err)
{
    char want[RH_KEY_MAX];
    int rc;

    memset(s, 0, sizeof *s);
    if (reply_to == NULL)
        reply_to = t->reply_to;
    rh_key_reply_base(want, prefix, t->worker_id);
    if (reply_to && !rh_reply_to_valid(prefix, t->worker_id, reply_to))
        return rh_error_set(err, RHAI_EINVAL, "reply_to '%.200s' must start with '%.250s' (the "
                            "slot of the task's worker id)", reply_to, want);
    if (t->id[0]) {
        memcpy(s->id, t->id, sizeof s->id);
    } else if ((rc = rh_id_generate(s->id)) != 0) {
        return rh_error_set(err, rc, "cannot generate a task id");
    }
    rh_key_task(s->task_key, prefix, t->worker_id, s->id);
    rh_key_queue(s->queue_key, prefix, t->worker_id);
    snprintf(s->created_at, sizeof s->created_at, "%lld", (long long)now_ms);
    snprintf(s->timeout_ms, sizeof s->timeout_ms, "%lld", (long long)t->timeout_ms);
    s->due_ms = t->run_at > 0 ? t->run_at : t->delay_ms > 0 ? now_ms + t->delay_ms : 0;
    snprintf(s->run_at, sizeof s->run_at, "%lld", (long long)s->due_ms);
    snprintf(s->retries, sizeof s->retries, "%d", t->retries);
    if (s->due_ms <= now_ms)
        s->due_ms = 0;                      /* past or absent: an ordinary task */

    push(s, "HSET", 4);
    push(s, s->task_key, strlen(s->task_key));
    field(s, "id", s->id);
    push(s, "script", 6);
    push(s, t->script, t->script_len);
    field(s, "worker_id", t->worker_id);
    field(s, "context_id", t->context_id);
    field(s, "caller_id", t->caller_id);
    field(s, "args", t->args);
    if (t->timeout_ms > 0)                  /* 0: the worker's default */
        field(s, "timeout_ms", s->timeout_ms);
    field(s, "created_at", s->created_at);
    field(s, "status", s->due_ms ? "scheduled" : "queued");
    if (t->run_at > 0 || t->delay_ms > 0)
        field(s, "run_at", s->run_at);
    if (t->retries > 0)
        field(s, "retries", s->retries);
    if (t->backoff)
        field(s, "backoff", t->backoff);
    field(s, "attempts", "0");
    if (reply_to)
        field(s, "reply_to", reply_to);
    if (t->retry_of)
        field(s, "retry_of", t->retry_of);
    if (t->signing_key) {
        rh_sign_fields f = { s->id, t->worker_id, t->context_id, t->caller_id,
                             t->script, t->script_len, t->args, now_ms, prefix };
        if ((rc = rh_sign_task(t->signing_key, &f, s->signature)) != 0)
            return rh_error_set(err, rc, "cannot sign the task");
        field(s, "signature", s->signature);
    }

    if (s->due_ms) {
        /* the due time is run_at, already in s->run_at */
        rh_key_delayed(s->queue_key, prefix, t->worker_id);
        s->lpush_argv[0] = "ZADD";
        s->lpush_argv[2] = s->run_at;
        s->lpush_argv[3] = s->id;
        s->lpush_argc = 4;
    } else {
        s->lpush_argv[0] = "LPUSH";
        s->lpush_argv[2] = s->id;
        s->lpush_argc = 3;
    }
    s->lpush_argv[1] = s->queue_key;
    for (int i = 0; i < s->lpush_argc; i++)
        s->lpush_lens[i] = strlen(s->lpush_argv[i]);
    rh_key_taskw(s->hint_key, prefix, s->id);
    snprintf(s->hint_ttl, sizeof s->hint_ttl, "%lld",
             (long long)RH_TASKW_TTL_MS + (s->due_ms ? (long long)(s->due_ms - now_ms) : 0LL));
    s->hint_argv[0] = "SET";
    s->hint_argv[1] = s->hint_key;
    s->hint_argv[2] = t->worker_id;
    s->hint_argv[3] = "PX";
    s->hint_argv[4] = s->hint_ttl;
    s->hint_argc = 5;
    for (int i = 0; i < s->hint_argc; i++)
        s->hint_lens[i] = strlen(s->hint_argv[i]);
    return 0;
}

void rhai__wcache_put(rhai__wcache *c, const char *id, const char *worker)
{
    unsigned i = c->next++ % RHAI__WCACHE_N;

    snprintf(c->e[i].id, sizeof c->e[i].id, "%s", id);
    snprintf(c->e[i].worker, sizeof c->e[i].worker, "%s", worker);
}

int rhai__wcache_get(const rhai__wcache *c, const char *id, char worker[RH_NAME_MAX + 1])
{
    /* newest first: an id submitted again (to another worker id) wins */
    for (unsigned k = 0; k < RHAI__WCACHE_N; k++) {
        unsigned i = (c->next + RHAI__WCACHE_N - 1 - k) % RHAI__WCACHE_N;
        if (c->e[i].id[0] && strcmp(c->e[i].id, id) == 0) {
            memcpy(worker, c->e[i].worker, strlen(c->e[i].worker) + 1);
            return 1;
        }
    }
    return 0;
}
