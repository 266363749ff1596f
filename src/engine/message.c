/* message.c -- the JSON messages between rhaid and its executors.
 *
 * One task goes down a pipe as one frame holding a JSON object, and one
 * result comes back the same way (shapes in engine.h). The payload is
 * JSON so that a person can read a captured pipe and so that both sides
 * share jansson's checks instead of a hand-written binary format.
 *
 *   task   {"id","script","args","worker_id","context_id","caller_id",
 *           "limits":{"memory","max_script","max_output","max_logs"}}
 *   result {"id","status","output","error","error_kind","logs","run_us"}
 *
 * "args" and "output" carry JSON text as strings (the executor parses args
 * inside the sandbox; the task hash keeps output as text). Absent strings
 * are null. The decoders also accept "args" given as a JSON value. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* ======================== helpers ======================== */

/* A JSON string for s (NULL: null). NULL when s is not valid UTF-8. */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Set o[key] = v, stealing v; -1 when v is NULL or the set fails. */
static int set_new(json_t *o, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

/* Dump 'o' compactly and append it as one frame to 'b'. Steals 'o'. */
static int frame_json(rh_buf *b, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int rc;

    json_decref(o);
    if (text == NULL)
        return RHAI_ENOMEM;
    rc = rh_frame_encode(b, text, strlen(text));
    free(text);
    return rc;
}

/* The string at o[key] as a new copy in *out (NULL for absent or null).
 * RHAI_EPROTO when it is there but not a string. */
static int get_str(json_t *o, const char *key, char **out, rhai_error *err)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return rh_error_set(err, RHAI_EPROTO, "field '%s' is not a string", key);
    if ((*out = rh_strndup(json_string_value(v), json_string_length(v))) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    return 0;
}

/* A size_t limit at o[key]: absent or null leaves *out alone. */
static int get_size(json_t *o, const char *key, size_t *out, rhai_error *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return rh_error_set(err, RHAI_EPROTO,
                            "limit '%s' is not a non-negative integer", key);
    if ((unsigned long long)json_integer_value(v) > SIZE_MAX)
        return rh_error_set(err, RHAI_EPROTO, "limit '%s' is too large", key);
    *out = (size_t)json_integer_value(v);
    return 0;
}

static json_t *load_object(const char *text, size_t len, rhai_error *err)
{
    json_error_t jerr;
    json_t *o;

    if (text == NULL)
        return rh_error_set(err, RHAI_EPROTO, "no message"), NULL;
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (o == NULL) {
        rh_error_set(err, RHAI_EPROTO, "malformed message: %s (offset %d)",
                     jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        rh_error_set(err, RHAI_EPROTO, "message is not a JSON object");
        return NULL;
    }
    return o;
}

/* ======================== tasks ======================== */

int eng_msg_encode_task(rh_buf *b, const eng_input *in, const eng_limits *lim)
{
    json_t *o = json_object();
    json_t *l = json_object();
    eng_limits eff;
    int bad = 0;

    if (o == NULL || l == NULL) {
        json_decref(o);
        json_decref(l);
        return RHAI_ENOMEM;
    }
    eng__limits_resolve(lim, &eff);
    bad |= set_new(l, "memory", json_integer((json_int_t)eff.memory));
    bad |= set_new(l, "max_script", json_integer((json_int_t)eff.max_script));
    bad |= set_new(l, "max_output", json_integer((json_int_t)eff.max_output));
    bad |= set_new(l, "max_logs", json_integer((json_int_t)eff.max_logs));

    bad |= set_new(o, "id", str_or_null(in->task_id));
    /* json_stringn keeps an embedded NUL (eng_run refuses it later with a
     * clear error) and fails on invalid UTF-8. */
    bad |= set_new(o, "script", in->script ? json_stringn(in->script, in->script_len)
                                           : json_null());
    bad |= set_new(o, "args", str_or_null(in->args_json));
    bad |= set_new(o, "worker_id", str_or_null(in->worker_id));
    bad |= set_new(o, "context_id", str_or_null(in->context_id));
    bad |= set_new(o, "caller_id", str_or_null(in->caller_id));
    bad |= set_new(o, "limits", l);
    if (bad) {
        /* A failed set_new has already released its value. */
        json_decref(o);
        return RHAI_EINVAL;         /* a string that is not UTF-8, mostly */
    }
    return frame_json(b, o);
}

void eng_input_free(eng_input *in)
{
    if (in == NULL)
        return;
    rh_free((char *)in->task_id);
    rh_free((char *)in->script);
    rh_free((char *)in->args_json);
    rh_free((char *)in->worker_id);
    rh_free((char *)in->context_id);
    rh_free((char *)in->caller_id);
    memset(in, 0, sizeof *in);
}

/* "args" as text: a string is taken as is, any other value re-dumped. */
static int get_args(json_t *o, char **out, rhai_error *err)
{
    json_t *v = json_object_get(o, "args");
    char *text;

    *out = NULL;
    if (v == NULL || json_is_null(v) || json_is_string(v))
        return get_str(o, "args", out, err);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (text == NULL || (*out = rh_strdup(text)) == NULL) {
        free(text);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    free(text);
    return 0;
}

int eng_msg_decode_task(const char *text, size_t len, eng_input *in,
                        eng_limits *lim, rhai_error *err)
{
    json_t *o = load_object(text, len, err);
    json_t *l;
    eng_input tmp;
    eng_limits tl;
    char *script = NULL;
    json_t *sv;
    int rc;

    if (o == NULL)
        return RHAI_EPROTO;
    memset(&tmp, 0, sizeof tmp);
    eng_limits_default(&tl);

    sv = json_object_get(o, "script");
    if (!json_is_string(sv)) {
        rc = rh_error_set(err, RHAI_EPROTO, "field 'script' is missing or not a string");
        goto fail;
    }
    if ((rc = get_str(o, "id", (char **)&tmp.task_id, err)) != 0 ||
        (rc = get_str(o, "script", &script, err)) != 0 ||
        (rc = get_args(o, (char **)&tmp.args_json, err)) != 0 ||
        (rc = get_str(o, "worker_id", (char **)&tmp.worker_id, err)) != 0 ||
        (rc = get_str(o, "context_id", (char **)&tmp.context_id, err)) != 0 ||
        (rc = get_str(o, "caller_id", (char **)&tmp.caller_id, err)) != 0)
        goto fail;
    tmp.script = script;
    tmp.script_len = json_string_length(sv);
    script = NULL;

    l = json_object_get(o, "limits");
    if (l != NULL && !json_is_null(l)) {
        if (!json_is_object(l)) {
            rc = rh_error_set(err, RHAI_EPROTO, "field 'limits' is not an object");
            goto fail;
        }
        if ((rc = get_size(l, "memory", &tl.memory, err)) != 0 ||
            (rc = get_size(l, "max_script", &tl.max_script, err)) != 0 ||
            (rc = get_size(l, "max_output", &tl.max_output, err)) != 0 ||
            (rc = get_size(l, "max_logs", &tl.max_logs, err)) != 0)
            goto fail;
    }
    json_decref(o);
    *in = tmp;
    if (lim)
        *lim = tl;
    return 0;

fail:
    rh_free(script);
    eng_input_free(&tmp);
    json_decref(o);
    return rc;
}

/* ======================== results ======================== */

int eng_msg_encode_result(rh_buf *b, const char *id, const eng_output *o)
{
    json_t *m = json_object();
    int bad = 0;

    if (m == NULL)
        return RHAI_ENOMEM;
    bad |= set_new(m, "id", str_or_null(id));
    bad |= set_new(m, "status", json_string(rh_status_str(o->status)));
    bad |= set_new(m, "output", str_or_null(o->output));
    bad |= set_new(m, "error", str_or_null(o->error));
    bad |= set_new(m, "error_kind", o->kind == RH_EK_NONE ? json_null()
                                       : json_string(rh_kind_str(o->kind)));
    bad |= set_new(m, "logs", str_or_null(o->logs));
    bad |= set_new(m, "run_us", json_integer(o->run_us));
    if (o->transient)
        bad |= set_new(m, "transient", json_true());
    if (bad) {
        json_decref(m);
        return RHAI_EINVAL;
    }
    return frame_json(b, m);
}

int eng__frame_result(rh_buf *b, const char *id, const eng_output *o)
{
    static char too_big[] = "result too large for a frame";
    static char unencodable[] = "result cannot be encoded";
    eng_output fallback;
    int rc = eng_msg_encode_result(b, id, o);

    if (rc == 0 || rc == RHAI_ENOMEM)
        return rc;
    /* Too big for a frame, or a string jansson refused: say so rather
     * than leave the parent waiting. */
    eng_output_init(&fallback);
    fallback.status = RHAI_STATUS_ERROR;
    fallback.kind = rc == RHAI_ETOOBIG ? RH_EK_MEMORY : RH_EK_INTERNAL;
    fallback.error = rc == RHAI_ETOOBIG ? too_big : unencodable;
    fallback.run_us = o->run_us;
    rc = eng_msg_encode_result(b, id, &fallback);
    if (rc != 0 && rc != RHAI_ENOMEM)   /* the id itself cannot be encoded */
        rc = eng_msg_encode_result(b, NULL, &fallback);
    return rc;
}

int eng_msg_decode_result(const char *text, size_t len, char **id,
                          eng_output *o, rhai_error *err)
{
    json_t *m = load_object(text, len, err);
    json_t *st;
    json_t *ru;
    eng_output tmp;
    char *tid = NULL;
    char *kind = NULL;
    int rc;

    *id = NULL;
    if (m == NULL)
        return RHAI_EPROTO;
    eng_output_init(&tmp);
    st = json_object_get(m, "status");
    if (!json_is_string(st) ||
        (tmp.status = rh_status_parse(json_string_value(st))) == RHAI_STATUS_UNKNOWN) {
        rc = rh_error_set(err, RHAI_EPROTO, "field 'status' is missing or unknown");
        goto fail;
    }
    if ((rc = get_str(m, "id", &tid, err)) != 0 ||
        (rc = get_str(m, "output", &tmp.output, err)) != 0 ||
        (rc = get_str(m, "error", &tmp.error, err)) != 0 ||
        (rc = get_str(m, "error_kind", &kind, err)) != 0 ||
        (rc = get_str(m, "logs", &tmp.logs, err)) != 0)
        goto fail;
    tmp.kind = rh_kind_parse(kind);
    if (kind != NULL && kind[0] != '\0' && tmp.kind == RH_EK_NONE) {
        rc = rh_error_set(err, RHAI_EPROTO, "unknown error_kind '%s'", kind);
        goto fail;
    }
    ru = json_object_get(m, "run_us");
    if (ru != NULL && !json_is_null(ru)) {
        if (!json_is_integer(ru)) {
            rc = rh_error_set(err, RHAI_EPROTO, "field 'run_us' is not an integer");
            goto fail;
        }
        tmp.run_us = json_integer_value(ru);
    }
    tmp.transient = json_is_true(json_object_get(m, "transient"));
    rh_free(kind);
    json_decref(m);
    *id = tid;
    *o = tmp;
    return 0;

fail:
    rh_free(kind);
    rh_free(tid);
    eng_output_clear(&tmp);
    json_decref(m);
    return rc;
}
