/* test_engine_message_result.c -- the executor's result message.
 *
 * Round trips of the result message through real frames, its encoder
 * (and what an executor sends when a result cannot be encoded), and its
 * decoder against hand-built broken input (one test per rule of the
 * format in message.c). */
#include "engine_message.h"

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

/* issue 20: the events a task committed go back with its result */
static void test_result_events_round_trip_through_a_frame(void **state)
{
    static const char events[] = "[{\"id\":\"t.1\",\"name\":\"a.b\",\"payload\":null}]";
    eng_output o = { .status = RHAI_STATUS_DONE, .kind = RH_EK_NONE, .output = "1",
                     .events = (char *)events };
    eng_output got;
    char *id;
    rh_buf b;
    char *payload;
    size_t len, n;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), 0);
    payload = unframe(&b, &len);
    assert_non_null(field_of(payload, len, 'v', &n));
    assert_int_equal(n, sizeof events - 1);
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_string_equal(got.events, events);
    rh_free(id);
    eng_output_clear(&got);
    assert_null(got.events);
    rh_free(payload);
    rh_buf_free(&b);
    /* none: the field is not sent */
    o.events = NULL;
    assert_int_equal(eng_msg_encode_result(&b, "t", &o), 0);
    payload = unframe(&b, &len);
    assert_null(field_of(payload, len, 'v', &n));
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_null(got.events);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_result_round_trips_through_a_frame),
        cmocka_unit_test(test_result_events_round_trip_through_a_frame),
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
    };
    return cmocka_run_group_tests_name("engine_message_result", tests, NULL, NULL);
}
