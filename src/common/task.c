/* task.c -- the task model: hash fields, status and error kinds, the reply.
 *
 * One rh_task holds every field of rhai:task:{ID} (docs/protocol.md). The
 * client writes the submit fields, the worker reads them all and writes
 * the result fields, and both produce or parse the reply object, so the
 * encoding lives here once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *const status_names[] = {
    "unknown", "queued", "running", "done", "error", "timeout", "cancelled", "claimed",
    "scheduled"
};
static const char *const kind_names[] = {
    "", "script", "timeout", "memory", "denied", "crashed", "invalid",
    "cancelled", "internal"
};

const char *const rh_task_fields[] = {
    "id", "script", "worker_id", "context_id", "caller_id", "args", "timeout_ms",
    "reply_to", "created_at", "status", "attempts", "started_at", "finished_at",
    "instance", "output", "error", "error_kind", "logs", "signature", "run_at", "retries",
    "backoff", "attempt", "errors", "dead_at", "parent_id", "trace_id", "depth", "event", NULL
};

const char *rh_status_str(rhai_status s)
{
    return (unsigned)s <= RHAI_STATUS_SCHEDULED ? status_names[s] : "unknown";
}

rhai_status rh_status_parse(const char *s)
{
    for (int i = RHAI_STATUS_QUEUED; s && i <= RHAI_STATUS_SCHEDULED; i++)
        if (strcmp(s, status_names[i]) == 0)
            return (rhai_status)i;
    return RHAI_STATUS_UNKNOWN;
}

int rh_status_final(rhai_status s)
{
    return s == RHAI_STATUS_DONE || s == RHAI_STATUS_ERROR ||
           s == RHAI_STATUS_TIMEOUT || s == RHAI_STATUS_CANCELLED;
}

const char *rh_kind_str(rh_error_kind k)
{
    return (unsigned)k <= RH_EK_INTERNAL ? kind_names[k] : "internal";
}

rh_error_kind rh_kind_parse(const char *s)
{
    for (int i = RH_EK_SCRIPT; s && *s && i <= RH_EK_INTERNAL; i++)
        if (strcmp(s, kind_names[i]) == 0)
            return (rh_error_kind)i;
    return RH_EK_NONE;
}

void rh_task_init(rh_task *t)
{
    memset(t, 0, sizeof *t);
}

void rh_task_clear(rh_task *t)
{
    rh_free(t->id);
    rh_free(t->script);
    rh_free(t->worker_id);
    rh_free(t->context_id);
    rh_free(t->caller_id);
    rh_free(t->args);
    rh_free(t->reply_to);
    rh_free(t->output);
    rh_free(t->error);
    rh_free(t->logs);
    rh_free(t->instance);
    rh_free(t->signature);
    rh_free(t->schedule);
    rh_free(t->cron_sig);
    rh_free(t->backoff);
    rh_free(t->parent_id);
    rh_free(t->trace_id);
    rh_free(t->event);
    rh_task_init(t);
}

static int parse_i64(const char *val, size_t len, int64_t *out)
{
    char tmp[24];
    char *end;
    long long v;

    if (len == 0 || len >= sizeof tmp)
        return RHAI_EINVAL;
    memcpy(tmp, val, len);
    tmp[len] = '\0';
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (errno || *end)
        return RHAI_EINVAL;
    *out = v;
    return 0;
}

static int set_str(char **dst, const char *val, size_t len)
{
    char *p = rh_strndup(val, len);
    if (p == NULL)
        return RHAI_ENOMEM;
    rh_free(*dst);
    *dst = p;
    return 0;
}

int rh_task_set_field(rh_task *t, const char *name, const char *val, size_t len)
{
    int64_t v;
    struct { const char *name; char **dst; } strs[] = {
        { "id", &t->id }, { "worker_id", &t->worker_id },
        { "context_id", &t->context_id }, { "caller_id", &t->caller_id },
        { "args", &t->args }, { "reply_to", &t->reply_to },
        { "output", &t->output }, { "error", &t->error }, { "logs", &t->logs },
        { "instance", &t->instance }, { "signature", &t->signature },
        { "schedule", &t->schedule }, { "cron_sig", &t->cron_sig },
        { "backoff", &t->backoff }, { "parent_id", &t->parent_id },
        { "trace_id", &t->trace_id }, { "event", &t->event },
    };
    struct { const char *name; int64_t *dst; } nums[] = {
        { "timeout_ms", &t->timeout_ms }, { "created_at", &t->created_at },
        { "started_at", &t->started_at }, { "finished_at", &t->finished_at },
        { "tick", &t->tick },
        { "run_at", &t->run_at }, { "depth", &t->depth },
    };

    if (strcmp(name, "script") == 0) {
        int rc = set_str(&t->script, val, len);
        if (rc == 0)
            t->script_len = len;
        return rc;
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(name, strs[i].name) == 0)
            return set_str(strs[i].dst, val, len);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(name, nums[i].name) == 0) {
            if (len == 0)
                return 0;                     /* empty: treated as absent */
            if (parse_i64(val, len, &v) != 0)
                return RHAI_EINVAL;
            *nums[i].dst = v;
            return 0;
        }
    if (strcmp(name, "attempts") == 0) {
        if (len == 0)
            return 0;
        if (parse_i64(val, len, &v) != 0 || v < 0 || v > 1000000)
            return RHAI_EINVAL;
        t->attempts = (int)v;
        return 0;
    }
    if (strcmp(name, "retries") == 0 || strcmp(name, "attempt") == 0) {
        int retries = name[0] == 'r';
        if (len == 0)
            return 0;
        if (parse_i64(val, len, &v) != 0 || v < (retries ? 0 : 1) ||
            v > (retries ? RH_RETRIES_MAX : RH_RETRIES_MAX + 1))
            return RHAI_EINVAL;
        *(retries ? &t->retries : &t->attempt) = (int)v;
        return 0;
    }
    if (strcmp(name, "status") == 0) {
        char tmp[16];
        if (len >= sizeof tmp)
            return RHAI_EINVAL;
        memcpy(tmp, val, len);
        tmp[len] = '\0';
        t->status = rh_status_parse(tmp);
        return 0;
    }
    if (strcmp(name, "error_kind") == 0) {
        char tmp[16];
        if (len >= sizeof tmp)
            return RHAI_EINVAL;
        memcpy(tmp, val, len);
        tmp[len] = '\0';
        t->error_kind = rh_kind_parse(tmp);
        return 0;
    }
    return 0;                                  /* unknown fields are ignored */
}

static int caller_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 127 || n >= RH_LIM_CALLER)
            return 0;
    return n > 0;
}

int rh_task_validate(const rh_task *t, size_t max_script, size_t max_args, rhai_error *err)
{
    json_error_t jerr;
    json_t *j;
    size_t n;

    if (!rh_name_valid(t->id))
        return rh_error_set(err, RHAI_EINVAL, "invalid task id");
    if (t->script == NULL || t->script_len == 0)
        return rh_error_set(err, RHAI_EINVAL, "task has no script");
    if (t->script_len > max_script)
        return rh_error_set(err, RHAI_ETOOBIG, "script is %zu bytes, limit %zu (max_script)",
                            t->script_len, max_script);
    if (t->args && (n = strlen(t->args)) > max_args)
        return rh_error_set(err, RHAI_ETOOBIG, "args is %zu bytes, limit %zu (max_args)", n,
                            max_args);
    if (t->reply_to && (n = strlen(t->reply_to)) > RH_LIM_REPLY_TO)
        return rh_error_set(err, RHAI_ETOOBIG, "reply_to is %zu bytes, limit %d", n,
                            RH_LIM_REPLY_TO);
    if (t->signature && (n = strlen(t->signature)) > RH_LIM_SIGNATURE)
        return rh_error_set(err, RHAI_ETOOBIG, "signature is %zu bytes, limit %d", n,
                            RH_LIM_SIGNATURE);
    if (memchr(t->script, '\0', t->script_len))
        return rh_error_set(err, RHAI_EINVAL, "script contains a NUL byte");
    if (t->worker_id && !rh_name_valid(t->worker_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid worker_id");
    if (t->context_id && !rh_context_id_valid(t->context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context_id: use " RH_CONTEXT_RULE);
    if (t->caller_id && !caller_valid(t->caller_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid caller_id");
    if (t->timeout_ms < 0)
        return rh_error_set(err, RHAI_EINVAL, "timeout_ms must be positive");
    if (t->parent_id && !rh_name_valid(t->parent_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid parent_id");
    if (t->trace_id && !rh_name_valid(t->trace_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid trace_id");
    if (t->depth < 0 || t->depth > RH_EVENT_DEPTH_LIMIT)
        return rh_error_set(err, RHAI_EINVAL, "depth must be 0..%d", RH_EVENT_DEPTH_LIMIT);
    if ((t->parent_id != NULL) != (t->depth > 0))
        return rh_error_set(err, RHAI_EINVAL, "parent_id and depth go together (a root has "
                            "neither)");
    if (t->event) {
        if ((n = strlen(t->event)) > RH_LIM_EVENT)
            return rh_error_set(err, RHAI_ETOOBIG, "event is %zu bytes, limit %d", n,
                                RH_LIM_EVENT);
        if (t->parent_id == NULL)
            return rh_error_set(err, RHAI_EINVAL, "event without parent_id");
        j = json_loads(t->event, 0, &jerr);
        if (j == NULL || !json_is_object(j)) {
            json_decref(j);
            return rh_error_set(err, RHAI_EINVAL, "event is not a JSON object");
        }
        json_decref(j);
    }
    if (t->backoff) {
        rh_backoff b;
        rhai_error berr;
        if (rh_backoff_parse(t->backoff, &b, &berr) != 0)
            return rh_error_set(err, RHAI_EINVAL, "%s", berr.msg);
    }
    if (t->args) {
        j = json_loads(t->args, JSON_DECODE_ANY, &jerr);
        if (j == NULL)
            return rh_error_set(err, RHAI_EINVAL, "args is not JSON: %s (column %d)",
                                jerr.text, jerr.column);
        json_decref(j);
    }
    return 0;
}

/* Append s as a JSON string (NULL: null). Printable ASCII without '"'
 * and '\\' is its own JSON text; anything else is escaped by jansson. A
 * string jansson refuses (not UTF-8) is null. */
int rh_json_str_append(rh_buf *b, const char *s)
{
    const unsigned char *p;
    json_t *v;
    size_t n;
    int rc;

    if (s == NULL)
        return rh_buf_append(b, "null", 4);
    for (p = (const unsigned char *)s; *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\'; p++)
        ;
    if (*p == '\0') {
        n = (size_t)(p - (const unsigned char *)s);
        if ((rc = rh_buf_reserve(b, n + 2)) != 0)
            return rc;
        b->data[b->len++] = '"';
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
        return 0;
    }
    if ((v = json_string(s)) == NULL)
        return rh_buf_append(b, "null", 4);
    n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
    if ((rc = rh_buf_reserve(b, n + 1)) == 0) {
        json_dumpb(v, b->data + b->len, n, JSON_ENCODE_ANY);
        b->len += n;
        b->data[b->len] = '\0';
    }
    json_decref(v);
    return rc;
}

/* The reply object, in the order of docs/protocol.md. The output is
 * spliced as the executor wrote it (after checking it is JSON), so numbers
 * keep their exact digits: re-encoding through jansson would turn 2^64
 * into a string and reformat floats. Strings go through
 * rh_json_str_append; the rest are names, enums and integers. */
char *rh_task_reply_json(const rh_task *t)
{
    json_t *check = NULL;
    const char *out = "null";
    rh_buf b;
    int bad = 0;

    /* JSON_ALLOW_NUL: a script may return "a\u0000b" */
    if (t->output && (check = json_loads(t->output, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL |
                                         JSON_ALLOW_NUL, NULL)) != NULL)
        out = t->output;
    json_decref(check);
    rh_buf_init(&b);
    bad |= rh_buf_reserve(&b, 320 + strlen(out));
    bad |= rh_buf_append(&b, "{\"id\":", 6);
    bad |= rh_json_str_append(&b, t->id);
    bad |= rh_buf_appendf(&b, ",\"status\":\"%s\",\"output\":", rh_status_str(t->status));
    bad |= rh_buf_append(&b, out, strlen(out));
    bad |= rh_buf_append(&b, ",\"error\":", 9);
    bad |= rh_json_str_append(&b, t->error && *t->error ? t->error : NULL);
    if (t->error_kind == RH_EK_NONE)
        bad |= rh_buf_append(&b, ",\"error_kind\":null", 18);
    else
        bad |= rh_buf_appendf(&b, ",\"error_kind\":\"%s\"", rh_kind_str(t->error_kind));
    bad |= rh_buf_append(&b, ",\"logs\":", 8);
    bad |= rh_json_str_append(&b, t->logs ? t->logs : "");
    bad |= rh_buf_append(&b, ",\"worker_id\":", 13);
    bad |= rh_json_str_append(&b, t->worker_id);
    bad |= rh_buf_append(&b, ",\"instance\":", 12);
    bad |= rh_json_str_append(&b, t->instance);
    bad |= rh_buf_appendf(&b, ",\"attempts\":%lld,\"created_at\":%lld,\"started_at\":%lld,"
                          "\"finished_at\":%lld}", (long long)t->attempts,
                          (long long)t->created_at, (long long)t->started_at,
                          (long long)t->finished_at);
    if (bad) {
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;                    /* callers free with rh_free */
}

static int take_str(json_t *o, const char *key, char **dst)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return RHAI_EPROTO;
    return set_str(dst, json_string_value(v), json_string_length(v));
}

/* An integer field of a reply. After the JSON_DECODE_INT_AS_REAL retry
 * (an output holding an integer beyond 64 bits) every number is a real:
 * read those too, rather than lose attempts and times to 0. Out of
 * [lo, hi] (or not a number): 0. */
static int64_t reply_int(const json_t *v, int64_t lo, int64_t hi)
{
    double d;

    if (json_is_integer(v))
        return json_integer_value(v) >= lo && json_integer_value(v) <= hi ?
               (int64_t)json_integer_value(v) : 0;
    if (!json_is_real(v))
        return 0;
    d = json_real_value(v);
    /* the bounds as doubles round to 2^63: exclusive on top */
    return d >= (double)lo && d < (double)hi ? (int64_t)d : 0;
}

int rh_task_from_reply(rh_task *t, const char *text, size_t len, rhai_error *err)
{
    json_error_t jerr;
    /* integers beyond 64 bits only parse as reals: retry that way */
    json_t *o = json_loadb(text, len, JSON_ALLOW_NUL, &jerr), *v;
    int rc = 0;
    char *dump;

    if (o == NULL)
        o = json_loadb(text, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return rh_error_set(err, RHAI_EPROTO, "reply is not a JSON object");
    }
    rh_task_clear(t);
    if ((rc = take_str(o, "id", &t->id)) != 0 || (rc = take_str(o, "error", &t->error)) != 0 ||
        (rc = take_str(o, "logs", &t->logs)) != 0 ||
        (rc = take_str(o, "worker_id", &t->worker_id)) != 0 ||
        (rc = take_str(o, "instance", &t->instance)) != 0 || t->id == NULL) {
        rc = rc == RHAI_ENOMEM ? rh_error_set(err, RHAI_ENOMEM, "out of memory")
                               : rh_error_set(err, RHAI_EPROTO,
                                              "reply has a missing or mistyped field");
        goto out;
    }
    v = json_object_get(o, "status");
    t->status = rh_status_parse(json_string_value(v));
    if (t->status == RHAI_STATUS_UNKNOWN) {
        rc = rh_error_set(err, RHAI_EPROTO, "reply has no valid status");
        goto out;
    }
    t->error_kind = rh_kind_parse(json_string_value(json_object_get(o, "error_kind")));
    t->attempts = (int)reply_int(json_object_get(o, "attempts"), 0, INT32_MAX);
    t->created_at = reply_int(json_object_get(o, "created_at"), INT64_MIN, INT64_MAX);
    t->started_at = reply_int(json_object_get(o, "started_at"), INT64_MIN, INT64_MAX);
    t->finished_at = reply_int(json_object_get(o, "finished_at"), INT64_MIN, INT64_MAX);
    v = json_object_get(o, "output");
    if (v && !json_is_null(v)) {
        dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dump == NULL || (t->output = rh_strdup(dump)) == NULL)
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        free(dump);
    } else if (v && (t->output = rh_strdup("null")) == NULL) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
out:
    json_decref(o);
    return rc;
}
