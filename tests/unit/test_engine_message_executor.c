/* test_engine_message_executor.c -- the executor loop.
 *
 * eng_executor_main in a forked child fed over two pipes, as rhaid's pool
 * feeds it: tasks answered in order, invalid tasks answered with their id,
 * and the exit status on frames it cannot read. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_message.h"
#include "th_asan.h"

/* ---- the executor loop ---- */

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
    /* under AddressSanitizer the executor skips RLIMIT_AS (the shadow
     * memory alone is terabytes of address space) */
    if (TH_ASAN)
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
        cmocka_unit_test(test_executor_answers_three_tasks_in_order),
        cmocka_unit_test(test_executor_address_space_limit_ends_in_a_memory_error),
        cmocka_unit_test(test_executor_answers_an_invalid_task_with_its_id),
        cmocka_unit_test(test_executor_exits_2_on_a_frame_without_an_id),
        cmocka_unit_test(test_executor_exits_2_on_a_task_whose_id_cannot_be_read),
        cmocka_unit_test(test_executor_exits_2_on_an_oversized_frame),
        cmocka_unit_test(test_executor_exits_2_on_eof_inside_a_frame),
        cmocka_unit_test(test_executor_exits_0_at_once_on_eof),
    };
    return cmocka_run_group_tests_name("engine_message_executor", tests, NULL, NULL);
}
