/* test_engine_message_task.c -- the executor's task message.
 *
 * Round trips of the task message through real frames, its encoder, and
 * its decoder against hand-built broken input (one test per rule of the
 * format in message.c). */
#include "engine_message.h"

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

/* Encode 'in' (with 'lim', may be NULL): refused with 'code', and
 * nothing written. */
static void expect_task_encode_refused(const eng_input *in, const eng_limits *lim, int code)
{
    rh_buf b;

    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, in, lim), code);
    assert_int_equal(rh_buf_len(&b), 0);
    rh_buf_free(&b);
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

/* issue 20: the event fields of a task started by an event */
static void test_task_event_fields_round_trip_through_a_frame(void **state)
{
    eng_input in = {
        .task_id = "ev:t1.1:s", .script = "ctx.event.name", .script_len = 14,
        .parent_id = "t1", .trace_id = "root-1", .depth = 3,
        .event_json = "{\"id\":\"t1.1\",\"name\":\"order.paid\"}", .depth_max = 5,
        .event_repair_ms = 250,
    };
    eng_input got;
    rh_buf b;
    char *payload;
    size_t len, n;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    assert_non_null(field_of(payload, len, 'p', &n));
    assert_int_equal(n, 2);
    assert_non_null(field_of(payload, len, 'E', &n));
    assert_int_equal(eng_msg_decode_task(payload, len, &got, NULL, NULL), 0);
    assert_string_equal(got.parent_id, "t1");
    assert_string_equal(got.trace_id, "root-1");
    assert_int_equal(got.depth, 3);
    assert_string_equal(got.event_json, "{\"id\":\"t1.1\",\"name\":\"order.paid\"}");
    assert_int_equal(got.depth_max, 5);
    assert_int_equal(got.event_repair_ms, 250);
    eng_input_free(&got);
    assert_null(got.event_json);
    rh_free(payload);
    rh_buf_free(&b);
}

/* A frame of before the event fields (or a peer that leaves them out):
 * no parent, trace or event, depth 0, the default depth limit and sweep
 * age; a negative depth counts as 0 and a depth_max below 1 as the
 * default. */
static void test_task_without_event_fields_decodes_to_the_defaults(void **state)
{
    eng_input got;
    rh_buf m;

    (void)state;
    msg_begin(&m, 'T', 1);
    msg_str(&m, 's', "1");
    assert_int_equal(eng_msg_decode_task(m.data, m.len, &got, NULL, NULL), 0);
    assert_null(got.parent_id);
    assert_null(got.trace_id);
    assert_null(got.event_json);
    assert_int_equal(got.depth, 0);
    assert_int_equal(got.depth_max, ENG_DEFAULT_DEPTH_MAX);
    assert_int_equal(got.event_repair_ms, ENG_DEFAULT_EVENT_REPAIR_MS);
    eng_input_free(&got);
    msg_u64(&m, 'd', (uint64_t)-4);
    msg_u64(&m, 'D', 0);
    assert_int_equal(eng_msg_decode_task(m.data, m.len, &got, NULL, NULL), 0);
    assert_int_equal(got.depth, 0);
    assert_int_equal(got.depth_max, ENG_DEFAULT_DEPTH_MAX);
    eng_input_free(&got);
    /* an event that is not UTF-8 is refused like any string */
    msg_field(&m, 'E', "\xff", 1);
    assert_int_equal(eng_msg_decode_task(m.data, m.len, &got, NULL, NULL), RHAI_EPROTO);
    rh_buf_free(&m);
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
    /* absent strings are not sent: header, script, the four limits, the
     * attempt (1 when the input has none: ctx.attempt) and the event
     * integers depth, depth_max and event_repair_ms */
    assert_int_equal(len, 2 + (5 + 1) + 8 * (5 + 8));
    assert_null(field_of(payload, len, 'a', &n));
    assert_int_equal(eng_msg_decode_task(payload, len, &got, &glim, NULL), 0);
    assert_null(got.task_id);
    assert_null(got.args_json);
    assert_null(got.worker_id);
    assert_null(got.context_id);
    assert_null(got.caller_id);
    assert_string_equal(got.script, "1");
    assert_int_equal(got.attempt, 1);
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

    (void)state;
    expect_task_encode_refused(&in, NULL, RHAI_EINVAL);
}

static void test_task_encode_refuses_other_strings_that_are_not_utf8(void **state)
{
    eng_input in = { .task_id = "t", .script = "1", .script_len = 1 };

    (void)state;
    in.args_json = "{\"k\":\"\xc0\xaf\"}";                 /* overlong '/' */
    expect_task_encode_refused(&in, NULL, RHAI_EINVAL);
    in.args_json = NULL;
    in.caller_id = "\xed\xa0\x80";                         /* a surrogate */
    expect_task_encode_refused(&in, NULL, RHAI_EINVAL);
}

/* The decoder refuses a negative limit, so the encoder refuses a size_t
 * that would read as one. */
static void test_task_encode_refuses_a_limit_over_int64_max(void **state)
{
    eng_input in = { .task_id = "t", .script = "1", .script_len = 1 };
    eng_limits lim = { .max_logs = (size_t)INT64_MAX + 1 };
    rh_buf b;

    (void)state;
    expect_task_encode_refused(&in, &lim, RHAI_EINVAL);
    rh_buf_init(&b);
    lim.max_logs = (size_t)INT64_MAX;
    assert_int_equal(eng_msg_encode_task(&b, &in, &lim), 0);
    rh_buf_free(&b);
}

static void test_task_encode_refuses_a_script_over_the_frame_maximum(void **state)
{
    size_t n = (size_t)RH_FRAME_MAX + 1;
    char *script = rh_malloc(n);
    eng_input in = { .task_id = "t", .script = script, .script_len = n };

    (void)state;
    assert_non_null(script);
    memset(script, 'x', n);
    expect_task_encode_refused(&in, NULL, RHAI_ETOOBIG);
    /* fits by itself, not with the header and the other fields */
    in.script_len = RH_FRAME_MAX - 2 - 5;
    expect_task_encode_refused(&in, NULL, RHAI_ETOOBIG);
    rh_free(script);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_round_trips_through_a_frame),
        cmocka_unit_test(test_task_with_absent_fields_round_trips_as_null),
        cmocka_unit_test(test_task_event_fields_round_trip_through_a_frame),
        cmocka_unit_test(test_task_without_event_fields_decodes_to_the_defaults),
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
    };
    return cmocka_run_group_tests_name("engine_message_task", tests, NULL, NULL);
}
