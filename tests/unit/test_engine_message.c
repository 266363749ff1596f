/* test_engine_message.c -- the executor messages and the executor loop.
 *
 * Round trips of the task and result messages through real frames, the
 * decoders against hand-built broken input (one test per rule of the
 * format in message.c), and eng_executor_main in a forked child fed over
 * two pipes, as rhaid's pool feeds it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine_int.h"

/* ---- helpers ---- */

/* Take the one frame in 'b' as a new payload string. */
static char *unframe(rh_buf *b, size_t *len)
{
    char *payload = NULL;

    assert_int_equal(rh_frame_decode(b, &payload, len), 0);
    assert_int_equal(rh_buf_len(b), 0);
    return payload;
}

/* The value of the field 'tag' in a payload (its length in *n), or NULL.
 * Walks the fields as message.c documents them, trusting the payload. */
static const char *field_of(const char *payload, size_t len, int tag, size_t *n)
{
    size_t at = 2;

    while (at + 5 <= len) {
        const unsigned char *h = (const unsigned char *)payload + at;
        size_t vn = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 |
                    (size_t)h[4] << 24;
        if (h[0] == tag) {
            *n = vn;
            return payload + at + 5;
        }
        at += 5 + vn;
    }
    return NULL;
}

/* Hand-built messages: a header, then fields appended one by one. */
static void msg_begin(rh_buf *m, int kind, int version)
{
    unsigned char h[2] = { (unsigned char)kind, (unsigned char)version };

    rh_buf_init(m);
    assert_int_equal(rh_buf_append(m, h, sizeof h), 0);
}

/* A field header that claims 'len' bytes; the value is up to the caller. */
static void msg_head(rh_buf *m, int tag, uint32_t len)
{
    unsigned char h[5] = { (unsigned char)tag, (unsigned char)len,
                           (unsigned char)(len >> 8), (unsigned char)(len >> 16),
                           (unsigned char)(len >> 24) };

    assert_int_equal(rh_buf_append(m, h, sizeof h), 0);
}

static void msg_field(rh_buf *m, int tag, const void *v, size_t n)
{
    msg_head(m, tag, (uint32_t)n);
    assert_int_equal(rh_buf_append(m, v, n), 0);
}

static void msg_str(rh_buf *m, int tag, const char *s)
{
    msg_field(m, tag, s, strlen(s));
}

static void msg_u64(rh_buf *m, int tag, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    msg_field(m, tag, b, sizeof b);
}

/* Decode m as a task: refused with RHAI_EPROTO, a message holding 'why',
 * and nothing written. Frees m. */
static void expect_task_refused(rh_buf *m, const char *why)
{
    eng_input got;
    eng_limits glim;
    rhai_error err;

    memset(&err, 0, sizeof err);
    got.task_id = "untouched";
    glim.memory = 7;
    assert_int_equal(eng_msg_decode_task(m->data, m->len, &got, &glim, &err), RHAI_EPROTO);
    assert_int_equal(err.code, RHAI_EPROTO);
    if (strstr(err.msg, why) == NULL)
        fail_msg("message \"%s\" does not say \"%s\"", err.msg, why);
    assert_string_equal(got.task_id, "untouched");      /* written on success only */
    assert_int_equal(glim.memory, 7);
    rh_buf_free(m);
}

/* Decode m as a task: accepted. Frees m; the task is the caller's. */
static void expect_task_accepted(rh_buf *m, eng_input *got, eng_limits *glim)
{
    rhai_error err;

    memset(&err, 0, sizeof err);
    if (eng_msg_decode_task(m->data, m->len, got, glim, &err) != 0)
        fail_msg("refused: %s", err.msg);
    rh_buf_free(m);
}

static void expect_result_refused(rh_buf *m, const char *why)
{
    eng_output got;
    rhai_error err;
    char *id = (char *)"untouched";

    memset(&err, 0, sizeof err);
    got.status = RHAI_STATUS_QUEUED;
    assert_int_equal(eng_msg_decode_result(m->data, m->len, &id, &got, &err), RHAI_EPROTO);
    assert_int_equal(err.code, RHAI_EPROTO);
    if (strstr(err.msg, why) == NULL)
        fail_msg("message \"%s\" does not say \"%s\"", err.msg, why);
    assert_null(id);                                    /* owning: NULL on failure */
    assert_int_equal(got.status, RHAI_STATUS_QUEUED);   /* written on success only */
    rh_buf_free(m);
}

/* A minimal valid result: id "r", status done. */
static void result_begin(rh_buf *m)
{
    msg_begin(m, 'R', 1);
    msg_str(m, 'i', "r");
    msg_str(m, 's', "done");
}

/* ---- tasks: round trips ---- */

static void test_task_round_trips_through_a_frame(void **state)
{
    static const char script[] = "print(args.x);\n'caf\xc3\xa9' + ctx.caller_id";
    eng_input in = {
        .task_id = "t-1", .script = script, .script_len = sizeof script - 1,
        .args_json = "{\"x\":[1,2]}", .worker_id = "w1", .context_id = "ctx-9",
        .caller_id = "alice",
    };
    eng_limits lim = { .memory = 1000000, .max_script = 2000, .max_output = 300,
                       .max_logs = 40 };
    eng_input got;
    eng_limits glim;
    rhai_error err;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, &lim), 0);
    payload = unframe(&b, &len);
    assert_int_equal(payload[0], 'T');
    assert_int_equal(payload[1], 1);
    assert_int_equal(eng_msg_decode_task(payload, len, &got, &glim, &err), 0);
    assert_string_equal(got.task_id, "t-1");
    assert_int_equal(got.script_len, sizeof script - 1);
    assert_memory_equal(got.script, script, sizeof script - 1);
    assert_string_equal(got.args_json, "{\"x\":[1,2]}");
    assert_string_equal(got.worker_id, "w1");
    assert_string_equal(got.context_id, "ctx-9");
    assert_string_equal(got.caller_id, "alice");
    assert_int_equal(glim.memory, 1000000);
    assert_int_equal(glim.max_script, 2000);
    assert_int_equal(glim.max_output, 300);
    assert_int_equal(glim.max_logs, 40);
    eng_input_free(&got);
    assert_null(got.script);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_task_with_absent_fields_round_trips_as_null(void **state)
{
    eng_input in = { .script = "1", .script_len = 1 };
    eng_input got;
    eng_limits glim;
    rh_buf b;
    char *payload;
    size_t len;
    size_t n;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    /* absent strings are not sent: header, script, the four limits */
    assert_int_equal(len, 2 + (5 + 1) + 4 * (5 + 8));
    assert_null(field_of(payload, len, 'a', &n));
    assert_int_equal(eng_msg_decode_task(payload, len, &got, &glim, NULL), 0);
    assert_null(got.task_id);
    assert_null(got.args_json);
    assert_null(got.worker_id);
    assert_null(got.context_id);
    assert_null(got.caller_id);
    assert_string_equal(got.script, "1");
    assert_int_equal(glim.memory, ENG_DEFAULT_MEMORY);      /* NULL: defaults */
    assert_int_equal(glim.max_logs, ENG_DEFAULT_MAX_LOGS);
    eng_input_free(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_task_keeps_empty_strings_apart_from_absent_ones(void **state)
{
    eng_input in = { .task_id = "", .script = "", .script_len = 0, .args_json = "" };
    eng_input got;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    assert_int_equal(eng_msg_decode_task(payload, len, &got, NULL, NULL), 0);
    assert_string_equal(got.task_id, "");
    assert_string_equal(got.script, "");
    assert_int_equal(got.script_len, 0);
    assert_string_equal(got.args_json, "");
    assert_null(got.worker_id);
    eng_input_free(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_task_keeps_a_nul_byte_in_the_script(void **state)
{
    eng_input in = { .task_id = "n", .script = "1;\0002", .script_len = 4 };
    eng_input got;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    assert_int_equal(eng_msg_decode_task(payload, len, &got, NULL, NULL), 0);
    assert_int_equal(got.script_len, 4);
    assert_memory_equal(got.script, "1;\0002", 4);
    eng_input_free(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

/* A 1 MB script of 1- to 4-byte characters survives byte for byte. */
static void test_task_with_a_big_script_round_trips(void **state)
{
    static const char unit[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  /* a é € 😀 */
    size_t n = 1024 * 1024 / (sizeof unit - 1) * (sizeof unit - 1);
    char *script = rh_malloc(n);
    eng_input in = { .task_id = "big", .script = script, .script_len = n };
    eng_input got;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    assert_non_null(script);
    for (size_t i = 0; i < n; i += sizeof unit - 1)
        memcpy(script + i, unit, sizeof unit - 1);
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    assert_int_equal(eng_msg_decode_task(payload, len, &got, NULL, NULL), 0);
    assert_int_equal(got.script_len, n);
    assert_memory_equal(got.script, script, n);
    eng_input_free(&got);
    rh_free(payload);
    rh_free(script);
    rh_buf_free(&b);
}

/* ---- tasks: the encoder ---- */

static void test_task_encode_refuses_a_script_that_is_not_utf8(void **state)
{
    eng_input in = { .task_id = "bad", .script = "'\xff'", .script_len = 3 };
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), RHAI_EINVAL);
    assert_int_equal(rh_buf_len(&b), 0);
    rh_buf_free(&b);
}

static void test_task_encode_refuses_other_strings_that_are_not_utf8(void **state)
{
    eng_input in = { .task_id = "t", .script = "1", .script_len = 1 };
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    in.args_json = "{\"k\":\"\xc0\xaf\"}";                 /* overlong '/' */
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), RHAI_EINVAL);
    in.args_json = NULL;
    in.caller_id = "\xed\xa0\x80";                         /* a surrogate */
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), RHAI_EINVAL);
    assert_int_equal(rh_buf_len(&b), 0);
    rh_buf_free(&b);
}

/* The decoder refuses a negative limit, so the encoder refuses a size_t
 * that would read as one. */
static void test_task_encode_refuses_a_limit_over_int64_max(void **state)
{
    eng_input in = { .task_id = "t", .script = "1", .script_len = 1 };
    eng_limits lim = { .max_logs = (size_t)INT64_MAX + 1 };
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, &lim), RHAI_EINVAL);
    assert_int_equal(rh_buf_len(&b), 0);
    lim.max_logs = (size_t)INT64_MAX;
    assert_int_equal(eng_msg_encode_task(&b, &in, &lim), 0);
    rh_buf_free(&b);
}

static void test_task_encode_refuses_a_script_over_the_frame_maximum(void **state)
{
    size_t n = (size_t)RH_FRAME_MAX + 1;
    char *script = rh_malloc(n);
    eng_input in = { .task_id = "t", .script = script, .script_len = n };
    rh_buf b;

    (void)state;
    assert_non_null(script);
    memset(script, 'x', n);
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), RHAI_ETOOBIG);
    /* fits by itself, not with the header and the other fields */
    in.script_len = RH_FRAME_MAX - 2 - 5;
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), RHAI_ETOOBIG);
    assert_int_equal(rh_buf_len(&b), 0);
    rh_free(script);
    rh_buf_free(&b);
}

/* ---- tasks: the decoder, one test per rule ---- */

static void test_task_decode_accepts_fields_in_any_order(void **state)
{
    eng_input got;
    eng_limits glim;
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_u64(&m, 'L', 5);
    msg_str(&m, 'u', "bob");
    msg_str(&m, 's', "2+2");
    msg_str(&m, 'i', "t-7");
    expect_task_accepted(&m, &got, &glim);
    assert_string_equal(got.task_id, "t-7");
    assert_string_equal(got.script, "2+2");
    assert_string_equal(got.caller_id, "bob");
    assert_int_equal(glim.max_logs, 5);
    assert_int_equal(glim.memory, ENG_DEFAULT_MEMORY);
    eng_input_free(&got);
}

static void test_task_decode_rejects_broken_messages(void **state)
{
    static const struct { const char *text; const char *why; } bad[] = {
        { "", "shorter than its header" },
        { "T", "shorter than its header" },
        { "{\"id\":\"a\",\"script\":\"1\"}", "not a task message (kind byte 0x7b)" },
        { "garbage", "not a task message" },
    };
    eng_input got;
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_buf_init(&m);
        assert_int_equal(rh_buf_append(&m, bad[i].text, strlen(bad[i].text)), 0);
        expect_task_refused(&m, bad[i].why);
    }
    assert_int_equal(eng_msg_decode_task(NULL, 0, &got, NULL, NULL), RHAI_EPROTO);
}

static void test_task_decode_rejects_a_wrong_kind_byte(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'R', 1);                              /* a result */
    msg_str(&m, 's', "1");
    expect_task_refused(&m, "not a task message");
}

static void test_task_decode_rejects_a_wrong_version_byte(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 2);
    msg_str(&m, 's', "1");
    expect_task_refused(&m, "version 2");
    msg_begin(&m, 'T', 0);
    msg_str(&m, 's', "1");
    expect_task_refused(&m, "version 0");
}

static void test_task_decode_rejects_a_truncated_field_header(void **state)
{
    static const unsigned char part[4] = { 'i', 1, 0, 0 };
    rh_buf m;

    (void)state;
    for (size_t n = 1; n <= sizeof part; n++) {
        msg_begin(&m, 'T', 1);
        msg_str(&m, 's', "1");
        assert_int_equal(rh_buf_append(&m, part, n), 0);
        expect_task_refused(&m, "truncated field header");
    }
}

static void test_task_decode_rejects_a_truncated_value(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_head(&m, 'i', 10);
    assert_int_equal(rh_buf_append(&m, "abc", 3), 0);   /* 3 of 10 bytes */
    expect_task_refused(&m, "field 'id' runs past the end");
}

static void test_task_decode_rejects_a_length_beyond_the_payload(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_head(&m, 's', UINT32_MAX);
    assert_int_equal(rh_buf_append(&m, "1", 1), 0);
    expect_task_refused(&m, "field 'script' runs past the end");
}

static void test_task_decode_rejects_a_duplicate_tag(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_str(&m, 's', "2");
    expect_task_refused(&m, "duplicate field 'script'");
    msg_begin(&m, 'T', 1);
    msg_u64(&m, 'M', 1);
    msg_str(&m, 's', "1");
    msg_u64(&m, 'M', 2);
    expect_task_refused(&m, "duplicate field 'memory'");
}

static void test_task_decode_rejects_an_unknown_tag(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_str(&m, 'o', "42");                             /* a result's tag */
    expect_task_refused(&m, "unknown field tag 0x6f");
}

static void test_task_decode_rejects_a_limit_whose_length_is_not_8(void **state)
{
    static const unsigned char nine[9] = { 1 };
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_field(&m, 'S', nine, 4);
    expect_task_refused(&m, "field 'max_script' is 4 bytes, not 8");
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_field(&m, 'O', nine, 9);
    expect_task_refused(&m, "field 'max_output' is 9 bytes, not 8");
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_field(&m, 'M', "", 0);
    expect_task_refused(&m, "field 'memory' is 0 bytes, not 8");
}

static void test_task_decode_rejects_a_negative_limit(void **state)
{
    eng_input got;
    eng_limits glim;
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_u64(&m, 'M', (uint64_t)-1);
    expect_task_refused(&m, "limit 'memory' is negative");
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_u64(&m, 'L', (uint64_t)INT64_MAX + 1);          /* INT64_MIN */
    expect_task_refused(&m, "limit 'max_logs' is negative");

    /* the largest that is not negative, and 0 ("the default") */
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_u64(&m, 'L', (uint64_t)INT64_MAX);
    msg_u64(&m, 'M', 0);
    expect_task_accepted(&m, &got, &glim);
    assert_true(glim.max_logs == (size_t)INT64_MAX);
    assert_int_equal(glim.memory, 0);
    eng_input_free(&got);
}

static void test_task_decode_rejects_a_missing_script(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 'i', "a");
    msg_u64(&m, 'M', 1000);
    expect_task_refused(&m, "field 'script' is missing");
    msg_begin(&m, 'T', 1);                              /* no fields at all */
    expect_task_refused(&m, "field 'script' is missing");
}

/* Each one in the script and in args: overlongs, surrogates, past
 * U+10FFFF, bytes that never start a sequence, sequences cut short. */
static const char *const not_utf8[] = {
    "\xff", "\xfe", "\xf5\x80\x80\x80", "\x80", "a\xbf",    /* never valid */
    "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", /* overlong */
    "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
    "\xed\xa0\x80", "\xed\xbf\xbf",                         /* surrogates */
    "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf",                 /* > U+10FFFF */
    "\xc3", "\xe2\x82", "\xf0\x9f\x98",                  /* cut short */
    "\xc3(", "\xe2(\xac", "\xe2\x82(", "\xf0(\x98\x80", "\xf0\x9f(\x80", "\xf0\x9f\x98(",
};

static void test_task_decode_rejects_a_string_that_is_not_utf8(void **state)
{
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        msg_begin(&m, 'T', 1);
        msg_str(&m, 's', not_utf8[i]);
        expect_task_refused(&m, "field 'script' is not valid UTF-8");
        msg_begin(&m, 'T', 1);
        msg_str(&m, 's', "1");
        msg_str(&m, 'a', not_utf8[i]);
        expect_task_refused(&m, "field 'args' is not valid UTF-8");
    }
}

/* A sequence cut at the end of one field is not completed by the next
 * field's bytes: here the next tag, a continuation byte that would make
 * the sequence whole. */
static void test_task_decode_checks_utf8_within_each_field(void **state)
{
    static const struct { const char *cut; int next; } cases[] = {
        { "\xc3", 0xa9 }, { "\xe2\x82", 0xac }, { "\xf0\x9f\x98", 0x80 },
    };
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg_begin(&m, 'T', 1);
        msg_str(&m, 's', "1");
        msg_str(&m, 'w', cases[i].cut);
        msg_head(&m, cases[i].next, 0);
        expect_task_refused(&m, "field 'worker_id' is not valid UTF-8");
    }
}

/* The repair an executor applies to a script's strings (one sequence
 * scanner with the validator): what the decoders refuse comes out valid,
 * with '?' for each byte that starts no well-formed sequence, and valid
 * text comes out unchanged. */
static void test_repair_makes_what_decoders_refuse_valid(void **state)
{
    static const struct { const char *in, *out; } cases[] = {
        { "\xff", "?" }, { "a\xbf", "a?" }, { "\xc0\x80", "??" },
        { "\xe0\x80\x80", "???" }, { "\xed\xa0\x80", "???" },
        { "\xf4\x90\x80\x80", "????" }, { "\xc3", "?" }, { "\xf0\x9f\x98", "???" },
        { "\xe2(\xac", "?(?" }, { "x\xf0\x9f\x98(", "x???" "(" },
        { "\xe2\x82\xac \xf0\x9f\x98\x80", "\xe2\x82\xac \xf0\x9f\x98\x80" },
        { "\x7f\xc2\x80\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf",
          "\x7f\xc2\x80\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf" },
    };
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        snprintf(buf, sizeof buf, "%s", not_utf8[i]);
        assert_false(eng__utf8_valid(buf, strlen(buf)));
        eng__utf8_repair(buf);
        assert_true(eng__utf8_valid(buf, strlen(buf)));
        assert_int_equal(strlen(buf), strlen(not_utf8[i]));
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        eng__utf8_repair(buf);
        assert_string_equal(buf, cases[i].out);
    }
    eng__utf8_repair(NULL);
}

static void test_task_decode_accepts_utf8_at_the_edges(void **state)
{
    /* U+0000 (script only), U+007F, U+0080, U+07FF, U+0800, U+D7FF,
     * U+E000, U+FFFF, U+10000, U+10FFFF */
    static const char edges[] = "\x00\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf"
                                "\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
    eng_input got;
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_field(&m, 's', edges, sizeof edges - 1);
    msg_field(&m, 'c', edges + 1, sizeof edges - 2);
    expect_task_accepted(&m, &got, NULL);
    assert_int_equal(got.script_len, sizeof edges - 1);
    assert_memory_equal(got.script, edges, sizeof edges - 1);
    assert_string_equal(got.context_id, edges + 1);
    eng_input_free(&got);
}

/* Only the script may hold a NUL: the other strings are C strings, and a
 * NUL would cut them short without a word. */
static void test_task_decode_rejects_a_nul_outside_the_script(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_field(&m, 'i', "t9\0x", 4);
    expect_task_refused(&m, "field 'id' holds a NUL byte");
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    msg_field(&m, 'a', "{}\0", 3);
    expect_task_refused(&m, "field 'args' holds a NUL byte");
}

/* What the executor answers a refused frame with. */
static void test_task_id_of_a_refused_frame_is_read_when_whole(void **state)
{
    rh_buf m;
    char *id;

    (void)state;
    /* after a duplicate and an unknown tag, before a broken script */
    msg_begin(&m, 'T', 1);
    msg_str(&m, 'w', "a");
    msg_str(&m, 'w', "b");
    msg_str(&m, 'Z', "?");
    msg_str(&m, 'i', "t-11");
    msg_str(&m, 's', "\xff");
    id = eng__msg_task_id(m.data, m.len);
    assert_non_null(id);
    assert_string_equal(id, "t-11");
    rh_free(id);
    rh_buf_free(&m);

    /* not readable: no id, bad header, a field before it cut short, an id
     * that could not be sent back */
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'R', 1);
    msg_str(&m, 'i', "t");
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'T', 9);
    msg_str(&m, 'i', "t");
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'T', 1);
    msg_head(&m, 's', 100);
    msg_str(&m, 'i', "t");
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'T', 1);
    msg_head(&m, 'i', 4);
    assert_int_equal(rh_buf_append(&m, "t", 1), 0);
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'T', 1);
    msg_str(&m, 'i', "t\xff");
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    msg_begin(&m, 'T', 1);
    msg_field(&m, 'i', "t\0", 2);
    assert_null(eng__msg_task_id(m.data, m.len));
    rh_buf_free(&m);
    assert_null(eng__msg_task_id(NULL, 0));
    assert_null(eng__msg_task_id("T", 1));
}

/* ---- results: round trips ---- */

static void test_done_result_round_trips_through_a_frame(void **state)
{
    eng_output o = { .status = RHAI_STATUS_DONE, .kind = RH_EK_NONE,
                     .output = "{\"a\":[1,2]}", .error = NULL, .logs = "x\ny\n",
                     .run_us = 1234 };
    eng_output got;
    char *id;
    rh_buf b;
    char *payload;
    size_t len;
    size_t n;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t-1", &o), 0);
    payload = unframe(&b, &len);
    assert_int_equal(payload[0], 'R');
    assert_int_equal(payload[1], 1);
    assert_null(field_of(payload, len, 'e', &n));       /* NULL: not sent */
    assert_null(field_of(payload, len, 'k', &n));       /* no kind: not sent */
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_string_equal(id, "t-1");
    assert_int_equal(got.status, RHAI_STATUS_DONE);
    assert_int_equal(got.kind, RH_EK_NONE);
    assert_string_equal(got.output, "{\"a\":[1,2]}");
    assert_null(got.error);
    assert_string_equal(got.logs, "x\ny\n");
    assert_int_equal(got.run_us, 1234);
    rh_free(id);
    eng_output_clear(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_error_result_round_trips_through_a_frame(void **state)
{
    eng_output o = { .status = RHAI_STATUS_ERROR, .kind = RH_EK_MEMORY,
                     .output = NULL, .error = "output too large", .logs = "",
                     .run_us = -9 };
    eng_output got;
    char *id;
    rh_buf b;
    char *payload;
    const char *v;
    size_t len;
    size_t n;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t-2", &o), 0);
    payload = unframe(&b, &len);
    assert_non_null(v = field_of(payload, len, 'k', &n));
    assert_int_equal(n, 6);
    assert_memory_equal(v, "memory", 6);
    assert_null(field_of(payload, len, 't', &n));       /* not transient */
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_string_equal(id, "t-2");
    assert_int_equal(got.status, RHAI_STATUS_ERROR);
    assert_int_equal(got.kind, RH_EK_MEMORY);
    assert_null(got.output);
    assert_string_equal(got.error, "output too large");
    assert_string_equal(got.logs, "");
    assert_int_equal(got.run_us, -9);
    assert_int_equal(got.transient, 0);
    rh_free(id);
    eng_output_clear(&got);
    rh_free(payload);

    /* a transient failure (the store's) says so, with an empty field */
    o.kind = RH_EK_INTERNAL;
    o.transient = 1;
    b.len = 0;
    assert_int_equal(eng_msg_encode_result(&b, NULL, &o), 0);
    payload = unframe(&b, &len);
    assert_non_null(field_of(payload, len, 't', &n));
    assert_int_equal(n, 0);
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_null(id);
    assert_int_equal(got.kind, RH_EK_INTERNAL);
    assert_int_equal(got.transient, 1);
    eng_output_clear(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_result_with_big_strings_round_trips(void **state)
{
    size_t n = 2 * 1024 * 1024;
    char *logs = rh_malloc(n + 1);
    eng_output o = { .status = RHAI_STATUS_DONE, .output = "1", .logs = logs };
    eng_output got;
    char *id;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    assert_non_null(logs);
    for (size_t i = 0; i < n; i += 2)
        memcpy(logs + i, "\xc3\xa9", 2);
    logs[n] = '\0';
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), 0);
    payload = unframe(&b, &len);
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_int_equal(strlen(got.logs), n);
    assert_memory_equal(got.logs, logs, n);
    rh_free(id);
    eng_output_clear(&got);
    rh_free(payload);
    rh_free(logs);
    rh_buf_free(&b);
}

/* ---- results: the encoder ---- */

static void test_result_encode_refuses_what_the_decoder_would(void **state)
{
    eng_output o = { .status = RHAI_STATUS_DONE, .output = "\"\xc3\"", .logs = "" };
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), RHAI_EINVAL);
    o.output = "1";
    assert_int_equal(eng_msg_encode_result(&b, "\xf4\x90\x80\x80", &o), RHAI_EINVAL);
    o.status = RHAI_STATUS_UNKNOWN;
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), RHAI_EINVAL);
    o.status = (rhai_status)99;
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), RHAI_EINVAL);
    assert_int_equal(rh_buf_len(&b), 0);
    rh_buf_free(&b);
}

/* Decode the one result frame in b. */
static void take_result(rh_buf *b, char **id, eng_output *o)
{
    char *payload;
    size_t len;

    payload = unframe(b, &len);
    assert_int_equal(eng_msg_decode_result(payload, len, id, o, NULL), 0);
    rh_free(payload);
}

static void test_frame_result_sends_an_error_for_a_result_too_big(void **state)
{
    char *big = rh_malloc((size_t)RH_FRAME_MAX + 1);
    eng_output o = { .status = RHAI_STATUS_DONE, .output = big, .logs = "",
                     .run_us = 77 };
    eng_output got;
    char *id;
    rh_buf b;

    (void)state;
    assert_non_null(big);
    memset(big, '1', RH_FRAME_MAX);
    big[RH_FRAME_MAX] = '\0';               /* fits alone, not in a message */
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), RHAI_ETOOBIG);
    assert_int_equal(rh_buf_len(&b), 0);
    assert_int_equal(eng__frame_result(&b, "t", &o), 0);
    take_result(&b, &id, &got);
    assert_string_equal(id, "t");
    assert_int_equal(got.status, RHAI_STATUS_ERROR);
    assert_int_equal(got.kind, RH_EK_MEMORY);
    assert_string_equal(got.error, "result too large for a frame");
    assert_int_equal(got.run_us, 77);
    rh_free(id);
    eng_output_clear(&got);
    rh_free(big);
    rh_buf_free(&b);
}

static void test_frame_result_drops_an_id_that_cannot_be_sent(void **state)
{
    eng_output o = { .status = RHAI_STATUS_DONE, .output = "1", .logs = "\xff" };
    eng_output got;
    char *id;
    rh_buf b;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng__frame_result(&b, "t", &o), 0);   /* bad logs */
    take_result(&b, &id, &got);
    assert_string_equal(id, "t");
    assert_int_equal(got.kind, RH_EK_INTERNAL);
    assert_string_equal(got.error, "result cannot be encoded");
    rh_free(id);
    eng_output_clear(&got);
    assert_int_equal(eng__frame_result(&b, "\xff", &o), 0); /* and a bad id */
    take_result(&b, &id, &got);
    assert_null(id);
    assert_int_equal(got.kind, RH_EK_INTERNAL);
    eng_output_clear(&got);
    rh_buf_free(&b);
}

/* ---- results: the decoder, one test per rule ---- */

static void test_result_decode_rejects_broken_messages(void **state)
{
    static const struct { const char *text; const char *why; } bad[] = {
        { "", "shorter than its header" },
        { "R", "shorter than its header" },
        { "{\"id\":\"a\",\"status\":\"done\"}", "not a result message (kind byte 0x7b)" },
        { "\x01\x02garbage", "not a result message" },
    };
    eng_output got;
    char *id = (char *)"untouched";
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_buf_init(&m);
        assert_int_equal(rh_buf_append(&m, bad[i].text, strlen(bad[i].text)), 0);
        expect_result_refused(&m, bad[i].why);
    }
    assert_int_equal(eng_msg_decode_result(NULL, 0, &id, &got, NULL), RHAI_EPROTO);
    assert_null(id);
}

static void test_result_decode_rejects_a_wrong_kind_byte(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "done");
    expect_result_refused(&m, "not a result message");
}

static void test_result_decode_rejects_a_wrong_version_byte(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'R', 255);
    msg_str(&m, 's', "done");
    expect_result_refused(&m, "version 255");
}

static void test_result_decode_rejects_a_truncated_field_header(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    assert_int_equal(rh_buf_append(&m, "o\x01", 2), 0);
    expect_result_refused(&m, "truncated field header");
}

static void test_result_decode_rejects_a_truncated_value(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_head(&m, 'r', 8);
    assert_int_equal(rh_buf_append(&m, "\x01\x02\x03\x04\x05\x06\x07", 7), 0);
    expect_result_refused(&m, "field 'run_us' runs past the end");
}

static void test_result_decode_rejects_a_length_beyond_the_payload(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_head(&m, 'l', 0x80000000u);
    expect_result_refused(&m, "field 'logs' runs past the end");
}

static void test_result_decode_rejects_a_duplicate_tag(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_str(&m, 'i', "other");              /* which task is it for? */
    expect_result_refused(&m, "duplicate field 'id'");
    result_begin(&m);
    msg_field(&m, 't', "", 0);
    msg_field(&m, 't', "", 0);
    expect_result_refused(&m, "duplicate field 'transient'");
}

static void test_result_decode_rejects_an_unknown_tag(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_u64(&m, 'M', 1);                    /* a task's tag */
    expect_result_refused(&m, "unknown field tag 0x4d");
    result_begin(&m);
    msg_field(&m, 0, "", 0);
    expect_result_refused(&m, "unknown field tag 0x00");
}

static void test_result_decode_rejects_run_us_whose_length_is_not_8(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_field(&m, 'r', "\x01\x02\x03\x04", 4);
    expect_result_refused(&m, "field 'run_us' is 4 bytes, not 8");
}

static void test_result_decode_rejects_transient_with_a_value(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_field(&m, 't', "\x01", 1);
    expect_result_refused(&m, "field 'transient' is 1 bytes, not 0");
}

static void test_result_decode_rejects_a_missing_status(void **state)
{
    rh_buf m;

    (void)state;
    msg_begin(&m, 'R', 1);
    msg_str(&m, 'i', "a");
    msg_str(&m, 'o', "1");
    expect_result_refused(&m, "field 'status' is missing");
}

static void test_result_decode_rejects_an_unknown_status(void **state)
{
    static const char *const bad[] = { "finished", "unknown", "", "DONE", "done ",
                                       "doneeeeeeeeeeeeeeeeeeee" };
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg_begin(&m, 'R', 1);
        msg_str(&m, 's', bad[i]);
        expect_result_refused(&m, "field 'status' is not a known status");
    }
}

static void test_result_decode_rejects_an_unknown_error_kind(void **state)
{
    static const char *const bad[] = { "weird", "", "none", "Script" };
    eng_output got;
    char *id;
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        result_begin(&m);
        msg_str(&m, 'k', bad[i]);
        expect_result_refused(&m, "field 'error_kind' is not a known kind");
    }
    result_begin(&m);
    msg_str(&m, 'k', "crashed");
    assert_int_equal(eng_msg_decode_result(m.data, m.len, &id, &got, NULL), 0);
    assert_int_equal(got.kind, RH_EK_CRASHED);
    rh_free(id);
    eng_output_clear(&got);
    rh_buf_free(&m);
}

static void test_result_decode_rejects_a_string_that_is_not_utf8(void **state)
{
    static const int tags[] = { 'i', 'o', 'e', 'l' };
    static const char *const names[] = { "'id'", "'output'", "'error'", "'logs'" };
    rh_buf m;

    (void)state;
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
            char why[64];
            msg_begin(&m, 'R', 1);
            msg_str(&m, 's', "error");
            msg_str(&m, tags[t], not_utf8[i]);
            snprintf(why, sizeof why, "field %s is not valid UTF-8", names[t]);
            expect_result_refused(&m, why);
        }
    }
}

static void test_result_decode_rejects_a_nul_in_a_string(void **state)
{
    rh_buf m;

    (void)state;
    result_begin(&m);
    msg_field(&m, 'l', "a\0b", 3);
    expect_result_refused(&m, "field 'logs' holds a NUL byte");
    msg_begin(&m, 'R', 1);
    msg_field(&m, 's', "done\0", 5);
    expect_result_refused(&m, "field 'status' holds a NUL byte");
}

/* ---- the executor loop ---- */

/* Under AddressSanitizer the executor skips RLIMIT_AS (the shadow memory
 * alone is terabytes of address space). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

typedef struct exec_child {
    pid_t pid;
    int   to_child;       /* we write tasks here */
    int   from_child;     /* we read results here */
} exec_child;

static void exec_start_as(exec_child *c, size_t as_limit)
{
    int down[2];
    int up[2];

    assert_int_equal(pipe(down), 0);
    assert_int_equal(pipe(up), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        close(down[1]);
        close(up[0]);
        _exit(eng_executor_main(down[0], up[1], as_limit));
    }
    close(down[0]);
    close(up[1]);
    c->to_child = down[1];
    c->from_child = up[0];
}

static void exec_start(exec_child *c)
{
    exec_start_as(c, 512u * 1024u * 1024u);
}

static void send_all(int fd, const rh_buf *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
}

static void send_task(exec_child *c, const char *id, const char *script)
{
    eng_input in = { .task_id = id, .script = script, .script_len = strlen(script) };
    rh_buf b;

    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    send_all(c->to_child, &b);
    rh_buf_free(&b);
}

static void send_raw(exec_child *c, const void *payload, size_t len)
{
    rh_buf b;

    rh_buf_init(&b);
    assert_int_equal(rh_frame_encode(&b, payload, len), 0);
    send_all(c->to_child, &b);
    rh_buf_free(&b);
}

/* Read everything until EOF, then reap the child: its exit status. */
static int exec_finish(exec_child *c, rh_buf *all)
{
    char chunk[4096];
    int status;

    close(c->to_child);
    for (;;) {
        ssize_t r = read(c->from_child, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            break;
        assert_int_equal(rh_buf_append(all, chunk, (size_t)r), 0);
    }
    close(c->from_child);
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void next_result(rh_buf *all, char **id, eng_output *o)
{
    char *payload;
    size_t len;

    assert_int_equal(rh_frame_decode(all, &payload, &len), 0);
    assert_int_equal(eng_msg_decode_result(payload, len, id, o, NULL), 0);
    rh_free(payload);
}

static void test_executor_answers_three_tasks_in_order(void **state)
{
    exec_child c;
    rh_buf all;
    eng_output o;
    char *id;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    send_task(&c, "a", "40+2");
    send_task(&c, "b", "print('hello'); [1, 'two']");
    send_task(&c, "c", "\nnull.x");
    assert_int_equal(exec_finish(&c, &all), 0);

    next_result(&all, &id, &o);
    assert_string_equal(id, "a");
    assert_int_equal(o.status, RHAI_STATUS_DONE);
    assert_string_equal(o.output, "42");
    assert_true(o.run_us > 0);
    rh_free(id);
    eng_output_clear(&o);

    next_result(&all, &id, &o);
    assert_string_equal(id, "b");
    assert_string_equal(o.output, "[1,\"two\"]");
    assert_string_equal(o.logs, "hello\n");
    rh_free(id);
    eng_output_clear(&o);

    next_result(&all, &id, &o);
    assert_string_equal(id, "c");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_SCRIPT);
    assert_string_equal(o.error, "TypeError: cannot convert null to object (line 2)");
    rh_free(id);
    eng_output_clear(&o);

    assert_int_equal(rh_buf_len(&all), 0);          /* exactly three */
    rh_buf_free(&all);
}

/* A heap cap above the address-space limit: the limit is what stops the
 * script, and it still ends as a memory error, not a crash. */
static void test_executor_address_space_limit_ends_in_a_memory_error(void **state)
{
    eng_input in = { .task_id = "big", .script = "var s = 'x'; while (true) s += s;" };
    eng_limits lim;
    exec_child c;
    rh_buf b;
    eng_output o;
    char *id;

    (void)state;
    if (TEST_ASAN)
        skip();
    in.script_len = strlen(in.script);
    eng_limits_default(&lim);
    lim.memory = (size_t)1 << 40;
    rh_buf_init(&b);
    exec_start_as(&c, 256u * 1024u * 1024u);
    assert_int_equal(eng_msg_encode_task(&b, &in, &lim), 0);
    send_all(c.to_child, &b);
    rh_buf_consume(&b, b.len);
    assert_int_equal(exec_finish(&c, &b), 0);
    next_result(&b, &id, &o);
    assert_string_equal(id, "big");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_MEMORY);
    rh_free(id);
    eng_output_clear(&o);
    rh_buf_free(&b);
}

static void test_executor_answers_an_invalid_task_with_its_id(void **state)
{
    exec_child c;
    rh_buf m;
    rh_buf all;
    eng_output o;
    char *id;

    (void)state;
    rh_buf_init(&all);
    msg_begin(&m, 'T', 1);
    msg_str(&m, 'i', "t9");
    msg_str(&m, 's', "'\xff'");                     /* not UTF-8 */
    exec_start(&c);
    send_raw(&c, m.data, m.len);
    send_task(&c, "t10", "1");                      /* and carries on */
    rh_buf_free(&m);
    assert_int_equal(exec_finish(&c, &all), 0);

    next_result(&all, &id, &o);
    assert_string_equal(id, "t9");
    assert_int_equal(o.status, RHAI_STATUS_ERROR);
    assert_int_equal(o.kind, RH_EK_INVALID);
    assert_non_null(strstr(o.error, "script"));
    rh_free(id);
    eng_output_clear(&o);

    next_result(&all, &id, &o);
    assert_string_equal(id, "t10");
    assert_string_equal(o.output, "1");
    rh_free(id);
    eng_output_clear(&o);
    rh_buf_free(&all);
}

static void test_executor_exits_2_on_a_frame_without_an_id(void **state)
{
    exec_child c;
    rh_buf all;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    send_raw(&c, "not a message at all", 20);
    assert_int_equal(exec_finish(&c, &all), 2);
    assert_int_equal(rh_buf_len(&all), 0);
    rh_buf_free(&all);
}

/* The id is there, but behind a field whose length runs past the end. */
static void test_executor_exits_2_on_a_task_whose_id_cannot_be_read(void **state)
{
    exec_child c;
    rh_buf m;
    rh_buf all;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_head(&m, 's', 1000);
    msg_str(&m, 'i', "t12");
    rh_buf_init(&all);
    exec_start(&c);
    send_raw(&c, m.data, m.len);
    assert_int_equal(exec_finish(&c, &all), 2);
    assert_int_equal(rh_buf_len(&all), 0);
    rh_buf_free(&m);
    rh_buf_free(&all);
}

static void test_executor_exits_2_on_an_oversized_frame(void **state)
{
    static const char huge[4] = { '\xff', '\xff', '\xff', '\xff' };
    exec_child c;
    rh_buf all;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    assert_int_equal(write(c.to_child, huge, sizeof huge), (ssize_t)sizeof huge);
    assert_int_equal(exec_finish(&c, &all), 2);
    rh_buf_free(&all);
}

static void test_executor_exits_2_on_eof_inside_a_frame(void **state)
{
    static const char partial[6] = { 0, 0, 0, 10, '{', '"' };
    exec_child c;
    rh_buf all;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    assert_int_equal(write(c.to_child, partial, sizeof partial), (ssize_t)sizeof partial);
    assert_int_equal(exec_finish(&c, &all), 2);
    rh_buf_free(&all);
}

static void test_executor_exits_0_at_once_on_eof(void **state)
{
    exec_child c;
    rh_buf all;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    assert_int_equal(exec_finish(&c, &all), 0);
    assert_int_equal(rh_buf_len(&all), 0);
    rh_buf_free(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_round_trips_through_a_frame),
        cmocka_unit_test(test_task_with_absent_fields_round_trips_as_null),
        cmocka_unit_test(test_task_keeps_empty_strings_apart_from_absent_ones),
        cmocka_unit_test(test_task_keeps_a_nul_byte_in_the_script),
        cmocka_unit_test(test_task_with_a_big_script_round_trips),
        cmocka_unit_test(test_task_encode_refuses_a_script_that_is_not_utf8),
        cmocka_unit_test(test_task_encode_refuses_other_strings_that_are_not_utf8),
        cmocka_unit_test(test_task_encode_refuses_a_limit_over_int64_max),
        cmocka_unit_test(test_task_encode_refuses_a_script_over_the_frame_maximum),
        cmocka_unit_test(test_task_decode_accepts_fields_in_any_order),
        cmocka_unit_test(test_task_decode_rejects_broken_messages),
        cmocka_unit_test(test_task_decode_rejects_a_wrong_kind_byte),
        cmocka_unit_test(test_task_decode_rejects_a_wrong_version_byte),
        cmocka_unit_test(test_task_decode_rejects_a_truncated_field_header),
        cmocka_unit_test(test_task_decode_rejects_a_truncated_value),
        cmocka_unit_test(test_task_decode_rejects_a_length_beyond_the_payload),
        cmocka_unit_test(test_task_decode_rejects_a_duplicate_tag),
        cmocka_unit_test(test_task_decode_rejects_an_unknown_tag),
        cmocka_unit_test(test_task_decode_rejects_a_limit_whose_length_is_not_8),
        cmocka_unit_test(test_task_decode_rejects_a_negative_limit),
        cmocka_unit_test(test_task_decode_rejects_a_missing_script),
        cmocka_unit_test(test_task_decode_rejects_a_string_that_is_not_utf8),
        cmocka_unit_test(test_task_decode_checks_utf8_within_each_field),
        cmocka_unit_test(test_task_decode_accepts_utf8_at_the_edges),
        cmocka_unit_test(test_repair_makes_what_decoders_refuse_valid),
        cmocka_unit_test(test_task_decode_rejects_a_nul_outside_the_script),
        cmocka_unit_test(test_task_id_of_a_refused_frame_is_read_when_whole),
        cmocka_unit_test(test_done_result_round_trips_through_a_frame),
        cmocka_unit_test(test_error_result_round_trips_through_a_frame),
        cmocka_unit_test(test_result_with_big_strings_round_trips),
        cmocka_unit_test(test_result_encode_refuses_what_the_decoder_would),
        cmocka_unit_test(test_frame_result_sends_an_error_for_a_result_too_big),
        cmocka_unit_test(test_frame_result_drops_an_id_that_cannot_be_sent),
        cmocka_unit_test(test_result_decode_rejects_broken_messages),
        cmocka_unit_test(test_result_decode_rejects_a_wrong_kind_byte),
        cmocka_unit_test(test_result_decode_rejects_a_wrong_version_byte),
        cmocka_unit_test(test_result_decode_rejects_a_truncated_field_header),
        cmocka_unit_test(test_result_decode_rejects_a_truncated_value),
        cmocka_unit_test(test_result_decode_rejects_a_length_beyond_the_payload),
        cmocka_unit_test(test_result_decode_rejects_a_duplicate_tag),
        cmocka_unit_test(test_result_decode_rejects_an_unknown_tag),
        cmocka_unit_test(test_result_decode_rejects_run_us_whose_length_is_not_8),
        cmocka_unit_test(test_result_decode_rejects_transient_with_a_value),
        cmocka_unit_test(test_result_decode_rejects_a_missing_status),
        cmocka_unit_test(test_result_decode_rejects_an_unknown_status),
        cmocka_unit_test(test_result_decode_rejects_an_unknown_error_kind),
        cmocka_unit_test(test_result_decode_rejects_a_string_that_is_not_utf8),
        cmocka_unit_test(test_result_decode_rejects_a_nul_in_a_string),
        cmocka_unit_test(test_executor_answers_three_tasks_in_order),
        cmocka_unit_test(test_executor_address_space_limit_ends_in_a_memory_error),
        cmocka_unit_test(test_executor_answers_an_invalid_task_with_its_id),
        cmocka_unit_test(test_executor_exits_2_on_a_frame_without_an_id),
        cmocka_unit_test(test_executor_exits_2_on_a_task_whose_id_cannot_be_read),
        cmocka_unit_test(test_executor_exits_2_on_an_oversized_frame),
        cmocka_unit_test(test_executor_exits_2_on_eof_inside_a_frame),
        cmocka_unit_test(test_executor_exits_0_at_once_on_eof),
    };
    return cmocka_run_group_tests_name("engine_message", tests, NULL, NULL);
}
