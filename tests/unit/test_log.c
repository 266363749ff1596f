/* test_log.c -- unit tests of src/common/log.c that an operator's tools
 * would trip on: JSON lines that a strict parser refuses, and the journal
 * priority prefix written where no journal reads it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/common.h"

/* A field named like one of the fixed members (ts, level, prog, pid, msg),
 * or named twice, must not make a second member of that name: jq, Go and
 * jansson with JSON_REJECT_DUPLICATES refuse or silently drop one. rhaid's
 * executor_spawned line has a pid= field of its own (the child's). */
static void test_json_log_fields_named_like_a_fixed_member_or_twice_stay_unique(void **state)
{
    char line[8192];
    json_error_t jerr;
    json_t *o;
    (void)state;

    rh_log_render(RH_LOG_FMT_JSON, RH_LOG_DEBUG,
                  "event=executor_spawned slot=0 pid=4242 level=x ts=y prog=z msg=m "
                  "slot=1 slot=2 the sentence", line, sizeof line);
    o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        fail_msg("refused by a strict parser: %s: %s", jerr.text, line);
    /* the fixed members keep their meaning */
    assert_int_equal(json_integer_value(json_object_get(o, "pid")), (json_int_t)getpid());
    assert_string_equal(json_string_value(json_object_get(o, "level")), "debug");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "the sentence");
    assert_string_not_equal(json_string_value(json_object_get(o, "ts")), "y");
    /* and the fields are kept under a numbered name */
    assert_int_equal(json_integer_value(json_object_get(o, "pid_2")), 4242);
    assert_string_equal(json_string_value(json_object_get(o, "level_2")), "x");
    assert_string_equal(json_string_value(json_object_get(o, "ts_2")), "y");
    assert_string_equal(json_string_value(json_object_get(o, "prog_2")), "z");
    assert_string_equal(json_string_value(json_object_get(o, "msg_2")), "m");
    assert_int_equal(json_integer_value(json_object_get(o, "slot")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "slot_2")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "slot_3")), 2);
    json_decref(o);
}

/* Write one info line with fd 2 pointing at a fresh file and
 * $JOURNAL_STREAM set to 'js' (NULL: to that file's own device:inode, as
 * systemd sets it); the line read back into out. */
static void log_line_with_journal_stream(const char *js, char *out, size_t n)
{
    char path[] = "/tmp/rhai-test-log-XXXXXX", mine[64];
    int fd = mkstemp(path), saved = dup(2);
    struct stat st;
    FILE *f;
    size_t got;

    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    snprintf(mine, sizeof mine, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", js ? js : mine, 1), 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, 2), 2);
    rh_log_init("test_log");
    rh_log_write(RH_LOG_INFO, "event=probe hello");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unsetenv("JOURNAL_STREAM");
    f = fdopen(fd, "r");
    assert_non_null(f);
    rewind(f);
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
    unlink(path);
}

/* systemd documents $JOURNAL_STREAM as "device:inode" of the stream, to be
 * compared with stderr's: a child whose stderr was redirected (a script
 * run by a unit, `rhaid 2>file`) inherits the variable, and a <N> prefix
 * there breaks every line for the file's readers (and JSON for all). */
static void test_the_journal_prefix_is_written_only_when_stderr_is_the_journal_stream(
    void **state)
{
    char line[4096];
    (void)state;

    log_line_with_journal_stream("1:2", line, sizeof line);       /* not this file */
    assert_true(line[0] != '<');
    assert_non_null(strstr(line, "test_log["));                    /* time, ident, pid */
    assert_non_null(strstr(line, "level=info event=probe hello\n"));

    log_line_with_journal_stream("garbage", line, sizeof line);
    assert_true(line[0] != '<');

    log_line_with_journal_stream(NULL, line, sizeof line);         /* it is: journal */
    assert_int_equal(strncmp(line, "<6>level=info event=probe hello\n", 32), 0);

    /* JSON under the journal: the prefix is journald's, the rest one object */
    rh_log_format = RH_LOG_FMT_JSON;
    log_line_with_journal_stream(NULL, line, sizeof line);
    rh_log_format = RH_LOG_FMT_KV;
    assert_int_equal(strncmp(line, "<6>{", 4), 0);
    {
        json_error_t jerr;
        json_t *o = json_loads(line + 3, JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(o);
        json_decref(o);
    }
    log_line_with_journal_stream("1:2", line, sizeof line);
    assert_true(line[0] != '<');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_log_fields_named_like_a_fixed_member_or_twice_stay_unique),
        cmocka_unit_test(
            test_the_journal_prefix_is_written_only_when_stderr_is_the_journal_stream),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
