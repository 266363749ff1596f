/* message.c -- the binary messages between rhaid and its executors.
 *
 * One task goes down a pipe as one rh_frame frame, and one result comes
 * back the same way (engine.h). Both sides encode and decode once per
 * task, so the payload is a flat field format rather than JSON: with
 * jansson the four calls took ~14-17 us of CPU per task, now 0.1-0.4 us
 * each (Release build, a hot loop over one trivial task). A result frame
 * may come from a compromised executor and a task carries submitter
 * text, so the decoders are strict: whatever this comment does not allow
 * is refused with RHAI_EPROTO and a message that names the field (never
 * its bytes, which are outside input and end up in logs).
 *
 * Payload (format version 1):
 *   kind     1 byte   'T' task (parent -> child), 'R' result (child -> parent)
 *   version  1 byte   1
 *   fields   up to the end of the payload, each:
 *     tag    1 byte   from the table of its kind below
 *     length 4 bytes  uint32, little-endian: the size of value
 *     value  length bytes
 *
 *   tag  task field   type                tag  result field  type
 *   'i'  id           string              'i'  id            string
 *   's'  script       script (required)   's'  status        name (required)
 *   'a'  args         string (JSON text)  'o'  output        string (JSON text)
 *   'w'  worker_id    string              'e'  error         string
 *   'c'  context_id   string              'k'  error_kind    name
 *   'u'  caller_id    string              'l'  logs          string
 *   'M'  memory       limit               'r'  run_us        int64
 *   'S'  max_script   limit               't'  transient     flag
 *   'O'  max_output   limit
 *   'L'  max_logs     limit
 *   'n'  attempt      int64 (ctx.attempt; absent or < 1: 1)
 *   'p'  parent_id    string (ctx.parent)   'v'  events        string (JSON text)
 *   'x'  trace_id     string (ctx.trace)
 *   'd'  depth        int64 (ctx.depth; absent or < 0: 0)
 *   'E'  event        string (JSON text, ctx.event)
 *   'D'  depth_max    int64 (absent or < 1: ENG_DEFAULT_DEPTH_MAX)
 *   'R'  event_repair_ms int64 (absent or < 1: ENG_DEFAULT_EVENT_REPAIR_MS)
 *
 * Types:
 *   string  raw bytes, well-formed UTF-8 (no overlongs, surrogates or code
 *           points above U+10FFFF: rhaid puts these strings into JSON with
 *           jansson, which refuses anything else) without NUL bytes. An
 *           absent (NULL) string is a field that is not there; an empty
 *           one is a field of length 0. JSON text is not parsed here.
 *   script  a string that may hold NUL bytes (json_stringn kept them in
 *           the JSON format; eng_run refuses them later with a clear error).
 *   name    a string that is one of the names of rh_status_str (status) or
 *           rh_kind_str (error_kind: absent for none; "" is refused).
 *   limit   exactly 8 bytes, little-endian, read as an int64 that must be
 *           non-negative and fit size_t. Absent: the default; 0 means the
 *           default too. The encoder sends all four, resolved.
 *   int64   exactly 8 bytes, little-endian, two's complement; absent: 0.
 *   flag    length 0, present only when set.
 *
 * The decoders refuse a wrong kind or version byte, a field header or
 * value cut short by the end of the payload, an unknown or duplicate tag,
 * a value of the wrong length for its type, a negative or oversized limit,
 * a string that is not UTF-8 or holds a NUL where none is allowed, an
 * unknown status or error_kind, and a missing script (task) or status
 * (result). Fields may come in any order; the encoders write them in the
 * order of the tables. The JSON format before this one also accepted args
 * given as a JSON value; args is now JSON text in a string, nothing else. */
#include <string.h>

#include "engine_int.h"

#define MSG_KIND_TASK   'T'
#define MSG_KIND_RESULT 'R'
#define MSG_VERSION     1
#define MSG_HDR         2       /* kind, version */
#define FIELD_HDR       5       /* tag, uint32 length */

/* ======================== field tables ======================== */

typedef enum field_type {
    FT_STRING,          /* UTF-8, no NUL */
    FT_SCRIPT,          /* UTF-8, NUL allowed */
    FT_LIMIT,           /* 8 bytes, 0 .. min(INT64_MAX, SIZE_MAX) */
    FT_INT64,           /* 8 bytes */
    FT_FLAG             /* 0 bytes */
} field_type;

typedef struct field_def {
    unsigned char tag;
    field_type    type;
    const char   *name;
} field_def;

/* Task fields, in the order the encoder writes them. */
enum {
    TF_ID, TF_SCRIPT, TF_ARGS, TF_WORKER, TF_CONTEXT, TF_CALLER,
    TF_MEMORY, TF_MAX_SCRIPT, TF_MAX_OUTPUT, TF_MAX_LOGS, TF_ATTEMPT,
    TF_PARENT, TF_TRACE, TF_DEPTH, TF_EVENT, TF_DEPTH_MAX, TF_REPAIR_MS, TF_COUNT
};
static const field_def task_fields[TF_COUNT] = {
    [TF_ID]         = { 'i', FT_STRING, "id" },
    [TF_SCRIPT]     = { 's', FT_SCRIPT, "script" },
    [TF_ARGS]       = { 'a', FT_STRING, "args" },
    [TF_WORKER]     = { 'w', FT_STRING, "worker_id" },
    [TF_CONTEXT]    = { 'c', FT_STRING, "context_id" },
    [TF_CALLER]     = { 'u', FT_STRING, "caller_id" },
    [TF_MEMORY]     = { 'M', FT_LIMIT,  "memory" },
    [TF_MAX_SCRIPT] = { 'S', FT_LIMIT,  "max_script" },
    [TF_MAX_OUTPUT] = { 'O', FT_LIMIT,  "max_output" },
    [TF_MAX_LOGS]   = { 'L', FT_LIMIT,  "max_logs" },
    [TF_ATTEMPT]    = { 'n', FT_INT64,  "attempt" },
    [TF_PARENT]     = { 'p', FT_STRING, "parent_id" },
    [TF_TRACE]      = { 'x', FT_STRING, "trace_id" },
    [TF_DEPTH]      = { 'd', FT_INT64,  "depth" },
    [TF_EVENT]      = { 'E', FT_STRING, "event" },
    [TF_DEPTH_MAX]  = { 'D', FT_INT64,  "depth_max" },
    [TF_REPAIR_MS]  = { 'R', FT_INT64,  "event_repair_ms" },
};

/* Result fields, in the order the encoder writes them. */
enum {
    RF_ID, RF_STATUS, RF_OUTPUT, RF_ERROR, RF_KIND, RF_LOGS, RF_RUN_US,
    RF_TRANSIENT, RF_EVENTS, RF_COUNT
};
static const field_def result_fields[RF_COUNT] = {
    [RF_ID]        = { 'i', FT_STRING, "id" },
    [RF_STATUS]    = { 's', FT_STRING, "status" },
    [RF_OUTPUT]    = { 'o', FT_STRING, "output" },
    [RF_ERROR]     = { 'e', FT_STRING, "error" },
    [RF_KIND]      = { 'k', FT_STRING, "error_kind" },
    [RF_LOGS]      = { 'l', FT_STRING, "logs" },
    [RF_RUN_US]    = { 'r', FT_INT64,  "run_us" },
    [RF_TRANSIENT] = { 't', FT_FLAG,   "transient" },
    [RF_EVENTS]    = { 'v', FT_STRING, "events" },
};

/* One field's value: p NULL when the field is absent (to encode: not
 * sent; decoded: not there). For integers, v holds the value. */
typedef struct field {
    const char *p;
    size_t      n;
    uint64_t    v;
} field;

/* ======================== bytes ======================== */

static void put_u32(unsigned char *w, uint32_t v)
{
    w[0] = (unsigned char)v;
    w[1] = (unsigned char)(v >> 8);
    w[2] = (unsigned char)(v >> 16);
    w[3] = (unsigned char)(v >> 24);
}

static void put_u64(unsigned char *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ======================== encoding ======================== */

/* Check what field f of 'def' would carry and add its size to *total.
 * RHAI_ETOOBIG past a frame, RHAI_EINVAL for a string that is not UTF-8
 * (or holds a NUL outside the script) or a limit the decoder would refuse.
 * An absent field adds nothing. */
static int field_size(const field_def *def, const field *f, size_t *total)
{
    if (f->p == NULL && (def->type == FT_STRING || def->type == FT_SCRIPT ||
                         def->type == FT_FLAG))
        return 0;
    switch (def->type) {
    case FT_STRING:
    case FT_SCRIPT:
        if (f->n > RH_FRAME_MAX)
            return RHAI_ETOOBIG;
        if (!eng__utf8_valid(f->p, f->n) ||
            (def->type == FT_STRING && memchr(f->p, '\0', f->n) != NULL))
            return RHAI_EINVAL;
        *total += FIELD_HDR + f->n;
        break;
    case FT_LIMIT:
        if (f->v > (uint64_t)INT64_MAX)
            return RHAI_EINVAL;
        /* fall through */
    case FT_INT64:
        *total += FIELD_HDR + 8;
        break;
    case FT_FLAG:
        *total += FIELD_HDR;
        break;
    }
    return 0;
}

/* Append one message of 'count' fields as a frame to 'b': the frame header
 * (rh_frame's: the payload length as 4 bytes big-endian), then the
 * payload, written in place. Integer fields are always sent; the others
 * when f[i].p is set. 0, RHAI_EINVAL, RHAI_ETOOBIG or RHAI_ENOMEM; 'b' is
 * unchanged on failure. */
static int encode(rh_buf *b, unsigned char kind, const field_def *defs,
                  const field *f, int count)
{
    size_t total = MSG_HDR;
    unsigned char *start;
    unsigned char *w;
    int rc;

    for (int i = 0; i < count; i++)
        if ((rc = field_size(&defs[i], &f[i], &total)) != 0)
            return rc;
    if (total > RH_FRAME_MAX)
        return RHAI_ETOOBIG;
    if (rh_buf_reserve(b, RH_FRAME_HDR + total) != 0)
        return RHAI_ENOMEM;
    w = (unsigned char *)b->data + b->len;
    w[0] = (unsigned char)(total >> 24);
    w[1] = (unsigned char)(total >> 16);
    w[2] = (unsigned char)(total >> 8);
    w[3] = (unsigned char)total;
    start = w += RH_FRAME_HDR;
    *w++ = kind;
    *w++ = MSG_VERSION;
    for (int i = 0; i < count; i++) {
        field_type t = defs[i].type;
        int is_int = t == FT_LIMIT || t == FT_INT64;
        size_t n = is_int ? 8 : f[i].n;

        if (!is_int && f[i].p == NULL)
            continue;
        *w = defs[i].tag;
        put_u32(w + 1, (uint32_t)n);
        w += FIELD_HDR;
        if (is_int)
            put_u64(w, f[i].v);
        else if (n > 0)
            memcpy(w, f[i].p, n);
        w += n;
    }
    rh_assert((size_t)(w - start) == total);
    b->len += RH_FRAME_HDR + total;
    b->data[b->len] = '\0';
    return 0;
}

static field str_field(const char *s)
{
    field f = { s, s ? strlen(s) : 0, 0 };
    return f;
}

static field int_field(uint64_t v)
{
    field f = { NULL, 0, v };
    return f;
}

/* ======================== decoding ======================== */

/* Split a payload of kind 'kind' into f[0..count) by the tag table 'defs',
 * checking everything the header comment lists except required fields and
 * names. Values point into 'text'. 0 or RHAI_EPROTO. */
static int parse(const char *text, size_t len, unsigned char kind,
                 const field_def *defs, field *f, int count, rhai_error *err)
{
    const char *what = kind == MSG_KIND_TASK ? "task" : "result";
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end;

    memset(f, 0, (size_t)count * sizeof *f);
    if (text == NULL)
        return rh_error_set(err, RHAI_EPROTO, "no %s message", what);
    if (len < MSG_HDR)
        return rh_error_set(err, RHAI_EPROTO, "%s message shorter than its header", what);
    if (p[0] != kind)
        return rh_error_set(err, RHAI_EPROTO, "not a %s message (kind byte 0x%02x)",
                            what, p[0]);
    if (p[1] != MSG_VERSION)
        return rh_error_set(err, RHAI_EPROTO, "%s message format version %u, expected %u",
                            what, p[1], MSG_VERSION);
    end = p + len;
    p += MSG_HDR;
    while (p < end) {
        size_t off = (size_t)(p - (const unsigned char *)text);
        size_t left = (size_t)(end - p);
        const char *v;
        uint32_t n;
        int i = 0;

        if (left < FIELD_HDR)
            return rh_error_set(err, RHAI_EPROTO, "truncated field header at offset %zu",
                                off);
        while (i < count && defs[i].tag != p[0])
            i++;
        if (i == count)
            return rh_error_set(err, RHAI_EPROTO, "unknown field tag 0x%02x at offset %zu",
                                p[0], off);
        n = get_u32(p + 1);
        if (n > left - FIELD_HDR)
            return rh_error_set(err, RHAI_EPROTO, "field '%s' runs past the end of the "
                                "message (%u bytes, %zu left)", defs[i].name, n,
                                left - FIELD_HDR);
        if (f[i].p != NULL)
            return rh_error_set(err, RHAI_EPROTO, "duplicate field '%s'", defs[i].name);
        v = (const char *)p + FIELD_HDR;
        switch (defs[i].type) {
        case FT_STRING:
            if (memchr(v, '\0', n) != NULL)
                return rh_error_set(err, RHAI_EPROTO, "field '%s' holds a NUL byte",
                                    defs[i].name);
            /* fall through */
        case FT_SCRIPT:
            if (!eng__utf8_valid(v, n))
                return rh_error_set(err, RHAI_EPROTO, "field '%s' is not valid UTF-8",
                                    defs[i].name);
            break;
        case FT_LIMIT:
        case FT_INT64:
            if (n != 8)
                return rh_error_set(err, RHAI_EPROTO, "field '%s' is %u bytes, not 8",
                                    defs[i].name, n);
            f[i].v = get_u64((const unsigned char *)v);
            if (defs[i].type == FT_LIMIT && f[i].v > (uint64_t)INT64_MAX)
                return rh_error_set(err, RHAI_EPROTO, "limit '%s' is negative",
                                    defs[i].name);
            if (defs[i].type == FT_LIMIT && f[i].v > SIZE_MAX)
                return rh_error_set(err, RHAI_EPROTO, "limit '%s' is too large",
                                    defs[i].name);
            break;
        case FT_FLAG:
            if (n != 0)
                return rh_error_set(err, RHAI_EPROTO, "field '%s' is %u bytes, not 0",
                                    defs[i].name, n);
            break;
        }
        f[i].p = v;
        f[i].n = n;
        p += FIELD_HDR + n;
    }
    return 0;
}

/* A new NUL-terminated copy of f in *out; NULL when f is absent. */
static int copy_field(const field *f, char **out, rhai_error *err)
{
    *out = NULL;
    if (f->p == NULL)
        return 0;
    if ((*out = rh_strndup(f->p, f->n)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    return 0;
}

/* A name field as a C string in buf (cap bytes); "" when it cannot be a
 * name (too long). parse() has refused NUL bytes in it. */
static const char *name_field(const field *f, char *buf, size_t cap)
{
    if (f->n >= cap)
        return "";
    memcpy(buf, f->p, f->n);
    buf[f->n] = '\0';
    return buf;
}

/* ======================== tasks ======================== */

int eng_msg_encode_task(rh_buf *b, const eng_input *in, const eng_limits *lim)
{
    field f[TF_COUNT];
    eng_limits eff;

    eng__limits_resolve(lim, &eff);
    f[TF_ID] = str_field(in->task_id);
    f[TF_SCRIPT].p = in->script;
    f[TF_SCRIPT].n = in->script ? in->script_len : 0;
    f[TF_ARGS] = str_field(in->args_json);
    f[TF_WORKER] = str_field(in->worker_id);
    f[TF_CONTEXT] = str_field(in->context_id);
    f[TF_CALLER] = str_field(in->caller_id);
    f[TF_MEMORY] = int_field(eff.memory);
    f[TF_MAX_SCRIPT] = int_field(eff.max_script);
    f[TF_MAX_OUTPUT] = int_field(eff.max_output);
    f[TF_MAX_LOGS] = int_field(eff.max_logs);
    f[TF_ATTEMPT] = int_field((uint64_t)(in->attempt > 0 ? in->attempt : 1));
    f[TF_PARENT] = str_field(in->parent_id);
    f[TF_TRACE] = str_field(in->trace_id);
    f[TF_DEPTH] = int_field((uint64_t)(in->depth > 0 ? in->depth : 0));
    f[TF_EVENT] = str_field(in->event_json);
    f[TF_DEPTH_MAX] = int_field((uint64_t)(in->depth_max > 0 ? in->depth_max
                                                             : ENG_DEFAULT_DEPTH_MAX));
    f[TF_REPAIR_MS] = int_field((uint64_t)(in->event_repair_ms > 0
                                           ? in->event_repair_ms
                                           : ENG_DEFAULT_EVENT_REPAIR_MS));
    return encode(b, MSG_KIND_TASK, task_fields, f, TF_COUNT);
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
    rh_free((char *)in->parent_id);
    rh_free((char *)in->trace_id);
    rh_free((char *)in->event_json);
    memset(in, 0, sizeof *in);
}

int eng_msg_decode_task(const char *text, size_t len, eng_input *in,
                        eng_limits *lim, rhai_error *err)
{
    field f[TF_COUNT];
    eng_input tmp;
    eng_limits tl;
    int rc;

    if ((rc = parse(text, len, MSG_KIND_TASK, task_fields, f, TF_COUNT, err)) != 0)
        return rc;
    if (f[TF_SCRIPT].p == NULL)
        return rh_error_set(err, RHAI_EPROTO, "field 'script' is missing");
    memset(&tmp, 0, sizeof tmp);
    if ((rc = copy_field(&f[TF_ID], (char **)&tmp.task_id, err)) != 0 ||
        (rc = copy_field(&f[TF_SCRIPT], (char **)&tmp.script, err)) != 0 ||
        (rc = copy_field(&f[TF_ARGS], (char **)&tmp.args_json, err)) != 0 ||
        (rc = copy_field(&f[TF_WORKER], (char **)&tmp.worker_id, err)) != 0 ||
        (rc = copy_field(&f[TF_CONTEXT], (char **)&tmp.context_id, err)) != 0 ||
        (rc = copy_field(&f[TF_CALLER], (char **)&tmp.caller_id, err)) != 0 ||
        (rc = copy_field(&f[TF_PARENT], (char **)&tmp.parent_id, err)) != 0 ||
        (rc = copy_field(&f[TF_TRACE], (char **)&tmp.trace_id, err)) != 0 ||
        (rc = copy_field(&f[TF_EVENT], (char **)&tmp.event_json, err)) != 0) {
        eng_input_free(&tmp);
        return rc;
    }
    tmp.script_len = f[TF_SCRIPT].n;
    tmp.attempt = f[TF_ATTEMPT].p && (int64_t)f[TF_ATTEMPT].v > 0 ? (int64_t)f[TF_ATTEMPT].v : 1;
    tmp.depth = f[TF_DEPTH].p && (int64_t)f[TF_DEPTH].v > 0 ? (int64_t)f[TF_DEPTH].v : 0;
    tmp.depth_max = f[TF_DEPTH_MAX].p && (int64_t)f[TF_DEPTH_MAX].v > 0
                    ? (int64_t)f[TF_DEPTH_MAX].v : ENG_DEFAULT_DEPTH_MAX;
    tmp.event_repair_ms = f[TF_REPAIR_MS].p && (int64_t)f[TF_REPAIR_MS].v > 0
                          ? (int64_t)f[TF_REPAIR_MS].v : ENG_DEFAULT_EVENT_REPAIR_MS;

    eng_limits_default(&tl);
    if (f[TF_MEMORY].p)
        tl.memory = (size_t)f[TF_MEMORY].v;
    if (f[TF_MAX_SCRIPT].p)
        tl.max_script = (size_t)f[TF_MAX_SCRIPT].v;
    if (f[TF_MAX_OUTPUT].p)
        tl.max_output = (size_t)f[TF_MAX_OUTPUT].v;
    if (f[TF_MAX_LOGS].p)
        tl.max_logs = (size_t)f[TF_MAX_LOGS].v;
    *in = tmp;
    if (lim)
        *lim = tl;
    return 0;
}

char *eng__msg_task_id(const char *payload, size_t len)
{
    const unsigned char *p = (const unsigned char *)payload;
    const unsigned char *end;

    if (payload == NULL || len < MSG_HDR || p[0] != MSG_KIND_TASK ||
        p[1] != MSG_VERSION)
        return NULL;
    end = p + len;
    p += MSG_HDR;
    while ((size_t)(end - p) >= FIELD_HDR) {
        uint32_t n = get_u32(p + 1);
        const char *v = (const char *)p + FIELD_HDR;

        if (n > (size_t)(end - p) - FIELD_HDR)
            return NULL;
        if (p[0] == task_fields[TF_ID].tag)
            return memchr(v, '\0', n) == NULL && eng__utf8_valid(v, n)
                   ? rh_strndup(v, n) : NULL;
        p += FIELD_HDR + n;
    }
    return NULL;
}

/* ======================== results ======================== */

int eng_msg_encode_result(rh_buf *b, const char *id, const eng_output *o)
{
    const char *status = rh_status_str(o->status);
    field f[RF_COUNT];

    /* The decoder refuses "unknown": say so here, where
     * eng__frame_result can still send an error in its place. */
    if (rh_status_parse(status) == RHAI_STATUS_UNKNOWN)
        return RHAI_EINVAL;
    f[RF_ID] = str_field(id);
    f[RF_STATUS] = str_field(status);
    f[RF_OUTPUT] = str_field(o->output);
    f[RF_ERROR] = str_field(o->error);
    f[RF_KIND] = str_field(o->kind == RH_EK_NONE ? NULL : rh_kind_str(o->kind));
    f[RF_LOGS] = str_field(o->logs);
    f[RF_RUN_US] = int_field((uint64_t)o->run_us);
    f[RF_TRANSIENT] = str_field(o->transient ? "" : NULL);
    f[RF_EVENTS] = str_field(o->events);
    return encode(b, MSG_KIND_RESULT, result_fields, f, RF_COUNT);
}

int eng__frame_result(rh_buf *b, const char *id, const eng_output *o)
{
    static char too_big[] = "result too large for a frame";
    static char unencodable[] = "result cannot be encoded";
    eng_output fallback;
    int rc = eng_msg_encode_result(b, id, o);

    if (rc == 0 || rc == RHAI_ENOMEM)
        return rc;
    /* Too big for a frame, or a string that is not UTF-8: say so rather
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
    field f[RF_COUNT];
    eng_output tmp;
    char *tid = NULL;
    char name[16];
    int rc;

    *id = NULL;
    if ((rc = parse(text, len, MSG_KIND_RESULT, result_fields, f, RF_COUNT, err)) != 0)
        return rc;
    eng_output_init(&tmp);
    if (f[RF_STATUS].p == NULL)
        return rh_error_set(err, RHAI_EPROTO, "field 'status' is missing");
    tmp.status = rh_status_parse(name_field(&f[RF_STATUS], name, sizeof name));
    if (tmp.status == RHAI_STATUS_UNKNOWN)
        return rh_error_set(err, RHAI_EPROTO, "field 'status' is not a known status");
    if (f[RF_KIND].p != NULL &&
        (tmp.kind = rh_kind_parse(name_field(&f[RF_KIND], name, sizeof name))) == RH_EK_NONE)
        return rh_error_set(err, RHAI_EPROTO, "field 'error_kind' is not a known kind");
    tmp.run_us = (int64_t)f[RF_RUN_US].v;   /* 0 when absent */
    tmp.transient = f[RF_TRANSIENT].p != NULL;
    if ((rc = copy_field(&f[RF_ID], &tid, err)) != 0 ||
        (rc = copy_field(&f[RF_OUTPUT], &tmp.output, err)) != 0 ||
        (rc = copy_field(&f[RF_ERROR], &tmp.error, err)) != 0 ||
        (rc = copy_field(&f[RF_LOGS], &tmp.logs, err)) != 0 ||
        (rc = copy_field(&f[RF_EVENTS], &tmp.events, err)) != 0) {
        rh_free(tid);
        eng_output_clear(&tmp);
        return rc;
    }
    *id = tid;
    *o = tmp;
    return 0;
}
