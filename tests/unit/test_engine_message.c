/* test_engine_message.c -- the executor messages and the executor loop.
 *
 * Round trips of the task and result messages through real frames, the
 * decoders against broken input, and eng_executor_main in a forked child
 * fed over two pipes, as rhaid's pool feeds it. */
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

#include "engine/engine.h"

/* ---- helpers ---- */

/* Take the one frame in 'b' as a new payload string. */
static char *unframe(rh_buf *b, size_t *len)
{
    char *payload = NULL;

    assert_int_equal(rh_frame_decode(b, &payload, len), 0);
    assert_int_equal(rh_buf_len(b), 0);
    return payload;
}

static int decode_task_text(const char *text, eng_input *in, eng_limits *lim,
                            rhai_error *err)
{
    return eng_msg_decode_task(text, strlen(text), in, lim, err);
}

static int decode_result_text(const char *text, char **id, eng_output *o,
                              rhai_error *err)
{
    return eng_msg_decode_result(text, strlen(text), id, o, err);
}

/* ---- tasks ---- */

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

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_task(&b, &in, NULL), 0);
    payload = unframe(&b, &len);
    assert_non_null(strstr(payload, "\"args\":null"));
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

static void test_task_decode_accepts_args_given_as_a_json_value(void **state)
{
    eng_input got;

    (void)state;
    assert_int_equal(decode_task_text("{\"id\":\"a\",\"script\":\"args\","
                                      "\"args\":{\"k\":[1,true]}}", &got, NULL, NULL), 0);
    assert_string_equal(got.args_json, "{\"k\":[1,true]}");
    eng_input_free(&got);
}

static void test_task_decode_rejects_broken_messages(void **state)
{
    static const char *const bad[] = {
        "",                                             /* empty */
        "{\"id\":\"a\",\"script\":\"1\"",               /* truncated */
        "garbage",
        "[1,2]",                                        /* not an object */
        "{\"id\":\"a\"}",                               /* no script */
        "{\"id\":\"a\",\"script\":5}",                  /* script not a string */
        "{\"id\":7,\"script\":\"1\"}",                  /* id not a string */
        "{\"script\":\"1\",\"limits\":[]}",             /* limits not an object */
        "{\"script\":\"1\",\"limits\":{\"memory\":-1}}",
        "{\"script\":\"1\",\"limits\":{\"max_logs\":\"big\"}}",
        "{\"script\":\"1\",\"script\":\"2\"}",          /* duplicate key */
    };
    eng_input got;
    rhai_error err;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        got.task_id = "untouched";
        assert_int_equal(decode_task_text(bad[i], &got, NULL, &err), RHAI_EPROTO);
        assert_int_equal(err.code, RHAI_EPROTO);
        assert_true(err.msg[0] != '\0');
        assert_string_equal(got.task_id, "untouched");  /* written on success only */
    }
    assert_int_equal(eng_msg_decode_task(NULL, 0, &got, NULL, NULL), RHAI_EPROTO);
}

/* ---- results ---- */

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

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t-1", &o), 0);
    payload = unframe(&b, &len);
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
                     .run_us = 9 };
    eng_output got;
    char *id;
    rh_buf b;
    char *payload;
    size_t len;

    (void)state;
    rh_buf_init(&b);
    assert_int_equal(eng_msg_encode_result(&b, "t-2", &o), 0);
    payload = unframe(&b, &len);
    assert_non_null(strstr(payload, "\"error_kind\":\"memory\""));
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_string_equal(id, "t-2");
    assert_int_equal(got.status, RHAI_STATUS_ERROR);
    assert_int_equal(got.kind, RH_EK_MEMORY);
    assert_null(got.output);
    assert_string_equal(got.error, "output too large");
    assert_string_equal(got.logs, "");
    assert_int_equal(got.transient, 0);
    assert_null(strstr(payload, "transient"));
    rh_free(id);
    eng_output_clear(&got);
    rh_free(payload);

    /* a transient failure (the store's) says so */
    o.kind = RH_EK_INTERNAL;
    o.transient = 1;
    b.len = 0;
    assert_int_equal(eng_msg_encode_result(&b, "t-3", &o), 0);
    payload = unframe(&b, &len);
    assert_int_equal(eng_msg_decode_result(payload, len, &id, &got, NULL), 0);
    assert_int_equal(got.kind, RH_EK_INTERNAL);
    assert_int_equal(got.transient, 1);
    rh_free(id);
    eng_output_clear(&got);
    rh_free(payload);
    rh_buf_free(&b);
}

static void test_result_decode_rejects_broken_messages(void **state)
{
    static const char *const bad[] = {
        "",
        "{\"id\":\"a\",\"status\":\"done\"",            /* truncated */
        "\x01\x02garbage",
        "\"done\"",
        "{\"id\":\"a\"}",                               /* no status */
        "{\"id\":\"a\",\"status\":\"finished\"}",       /* unknown status */
        "{\"id\":\"a\",\"status\":\"error\",\"error_kind\":\"weird\"}",
        "{\"id\":\"a\",\"status\":\"done\",\"output\":42}",
        "{\"id\":\"a\",\"status\":\"done\",\"run_us\":\"soon\"}",
    };
    eng_output got;
    rhai_error err;
    char *id = (char *)"untouched";

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(decode_result_text(bad[i], &id, &got, &err), RHAI_EPROTO);
        assert_null(id);                                /* owning: NULL on failure */
        assert_true(err.msg[0] != '\0');
    }
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

static void send_raw(exec_child *c, const char *payload)
{
    rh_buf b;

    rh_buf_init(&b);
    assert_int_equal(rh_frame_encode(&b, payload, strlen(payload)), 0);
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
    rh_buf all;
    eng_output o;
    char *id;

    (void)state;
    rh_buf_init(&all);
    exec_start(&c);
    send_raw(&c, "{\"id\":\"t9\",\"script\":5}");
    send_task(&c, "t10", "1");                      /* and carries on */
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
    send_raw(&c, "not json at all");
    assert_int_equal(exec_finish(&c, &all), 2);
    assert_int_equal(rh_buf_len(&all), 0);
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
        cmocka_unit_test(test_task_keeps_a_nul_byte_in_the_script),
        cmocka_unit_test(test_task_encode_refuses_a_script_that_is_not_utf8),
        cmocka_unit_test(test_task_decode_accepts_args_given_as_a_json_value),
        cmocka_unit_test(test_task_decode_rejects_broken_messages),
        cmocka_unit_test(test_done_result_round_trips_through_a_frame),
        cmocka_unit_test(test_error_result_round_trips_through_a_frame),
        cmocka_unit_test(test_result_decode_rejects_broken_messages),
        cmocka_unit_test(test_executor_answers_three_tasks_in_order),
        cmocka_unit_test(test_executor_address_space_limit_ends_in_a_memory_error),
        cmocka_unit_test(test_executor_answers_an_invalid_task_with_its_id),
        cmocka_unit_test(test_executor_exits_2_on_a_frame_without_an_id),
        cmocka_unit_test(test_executor_exits_2_on_an_oversized_frame),
        cmocka_unit_test(test_executor_exits_2_on_eof_inside_a_frame),
        cmocka_unit_test(test_executor_exits_0_at_once_on_eof),
    };
    return cmocka_run_group_tests_name("engine_message", tests, NULL, NULL);
}
