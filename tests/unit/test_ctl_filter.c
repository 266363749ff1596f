/* test_ctl_filter.c -- unit tests of src/ctl/filter.c: the selection
 * options of rhaictl's bulk commands (dead list|retry|delete --all):
 * --older-than durations and --error-kind lists, and what they select. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ctl.h"

static void test_durations_take_one_unit_from_ms_to_weeks(void **state)
{
    static const struct { const char *s; long long ms; } ok[] = {
        { "0ms", 0 }, { "500ms", 500 }, { "90s", 90000 }, { "30m", 1800000 },
        { "1h", 3600000 }, { "7d", 604800000 }, { "2w", 1209600000 },
    };
    long long ms;
    (void)state;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ms = -1;
        assert_int_equal(ctl_duration_parse(ok[i].s, &ms), 0);
        assert_int_equal(ms, ok[i].ms);
    }
}

static void test_durations_without_unit_or_with_junk_or_overflow_are_refused(void **state)
{
    static const char *const bad[] = {
        "", "7", "d", "-1d", "+1d", "1.5h", "1 h", "1hh", "1H", "1y", "1d2h", "ms",
        "99999999999999999999s", "10000000w",
    };
    long long ms = 42;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ctl_duration_parse(bad[i], &ms), -1);
        assert_int_equal(ms, 42);             /* written only on success */
    }
    assert_int_equal(ctl_duration_parse(NULL, &ms), -1);
}

static void test_error_kinds_are_known_names_in_a_comma_list_kept_once(void **state)
{
    ctl_filter f;
    char arg[200];
    (void)state;

    memset(&f, 0, sizeof f);
    assert_int_equal(ctl_kinds_parse("crashed,timeout", &f), 0);
    assert_int_equal(ctl_kinds_parse("crashed", &f), 0);     /* repeated option */
    assert_int_equal(f.nkinds, 2);
    ctl_kinds_arg(&f, arg, sizeof arg);
    assert_string_equal(arg, ",crashed,timeout,");
    memset(&f, 0, sizeof f);
    ctl_kinds_arg(&f, arg, sizeof arg);
    assert_string_equal(arg, "");                            /* any kind */
}

static void test_unknown_empty_or_stray_comma_kinds_are_refused(void **state)
{
    static const char *const bad[] = {
        "", ",", "crashed,", ",crashed", "crashed,,timeout", "bogus", "Crashed",
        "crashed timeout", "none",
    };
    ctl_filter f;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&f, 0, sizeof f);
        assert_int_equal(ctl_kinds_parse(bad[i], &f), -1);
    }
}

static void test_a_filter_selects_by_kind_and_strictly_older_than(void **state)
{
    ctl_filter f;
    long long now = 1000000;
    (void)state;

    memset(&f, 0, sizeof f);
    assert_true(ctl_filter_match(&f, NULL, now, now));       /* empty: everything */
    assert_int_equal(ctl_kinds_parse("crashed,script", &f), 0);
    assert_true(ctl_filter_match(&f, "script", now, now));
    assert_false(ctl_filter_match(&f, "timeout", now, now));
    assert_false(ctl_filter_match(&f, NULL, now, now));
    f.older_than_ms = 60000;
    assert_true(ctl_filter_match(&f, "crashed", now - 60001, now));
    assert_false(ctl_filter_match(&f, "crashed", now - 60000, now));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations_take_one_unit_from_ms_to_weeks),
        cmocka_unit_test(test_durations_without_unit_or_with_junk_or_overflow_are_refused),
        cmocka_unit_test(test_error_kinds_are_known_names_in_a_comma_list_kept_once),
        cmocka_unit_test(test_unknown_empty_or_stray_comma_kinds_are_refused),
        cmocka_unit_test(test_a_filter_selects_by_kind_and_strictly_older_than),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
