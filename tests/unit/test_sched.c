/* test_sched.c -- src/common/sched.c: backoff specs and delays (jitter
 * bounds, the cap, no overflow), durations and points in time as rhaictl
 * submit --in / --at read them, and the retry fields of a task hash
 * (rh_task_set_field, rh_task_validate). Table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/common.h"

static void test_backoff_specs_parse_or_are_refused_with_a_message(void **state)
{
    static const struct { const char *spec; int ok, exp; long long base, cap; } cases[] = {
        { "fixed:0", 1, 0, 0, 0 },
        { "fixed:5000", 1, 0, 5000, 5000 },
        { "exp:1000:60000", 1, 1, 1000, 60000 },
        { "exp:1:1", 1, 1, 1, 1 },
        { "exp:604800000:604800000", 1, 1, 604800000, 604800000 },
        { NULL, 1, 1, 1000, 60000 },                 /* the default */
        { "", 1, 1, 1000, 60000 },
        { "fixed:604800001", 0, 0, 0, 0 },           /* over 7 days */
        { "fixed:-1", 0, 0, 0, 0 },
        { "fixed:", 0, 0, 0, 0 },
        { "fixed:1x", 0, 0, 0, 0 },
        { "fixed: 1", 0, 0, 0, 0 },
        { "exp:0:10", 0, 0, 0, 0 },                  /* base >= 1 */
        { "exp:10:5", 0, 0, 0, 0 },                  /* cap below base */
        { "exp:10", 0, 0, 0, 0 },
        { "exp:10:20:30", 0, 0, 0, 0 },
        { "exp:99999999999999999999:1", 0, 0, 0, 0 },  /* overflow */
        { "linear:5", 0, 0, 0, 0 },
        { "FIXED:5", 0, 0, 0, 0 },
        { "fixed:00000000000000000000000000000000000000000000000000000000000001", 0, 0, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rh_backoff b = { 7, 7, 7 };
        rhai_error err = { 0, "" };
        int rc = rh_backoff_parse(cases[i].spec, &b, &err);
        print_message("%s\n", cases[i].spec ? cases[i].spec : "(null)");
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(b.exp, cases[i].exp);
            assert_int_equal(b.base, cases[i].base);
            assert_int_equal(b.cap, cases[i].cap);
        } else {
            assert_int_equal(rc, RHAI_EINVAL);
            assert_non_null(strstr(err.msg, "backoff"));
            assert_int_equal(b.exp, 7);              /* untouched */
        }
    }
}

static void test_backoff_delays_double_to_the_cap_with_jitter_in_the_upper_half(void **state)
{
    rh_backoff b;
    uint64_t rnd = 88172645463325252ULL;

    (void)state;
    assert_int_equal(rh_backoff_parse("fixed:250", &b, NULL), 0);
    for (int k = 1; k < 50; k++)
        assert_int_equal(rh_backoff_delay(&b, k, (uint64_t)k * 7919), 250);
    assert_int_equal(rh_backoff_parse("exp:1000:60000", &b, NULL), 0);
    for (int k = 1; k <= 1000; k++) {
        long long d = 1000LL << (k < 8 ? k - 1 : 7);
        if (d > 60000)
            d = 60000;
        for (int j = 0; j < 200; j++) {
            int64_t v;
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            v = rh_backoff_delay(&b, k, rnd);
            assert_true(v >= d - d / 2 && v <= d);
        }
        /* both ends are reachable */
        assert_int_equal(rh_backoff_delay(&b, k, 0), d - d / 2);
        assert_int_equal(rh_backoff_delay(&b, k, (uint64_t)(d / 2)), d);
    }
    /* the largest spec never overflows, whatever k */
    assert_int_equal(rh_backoff_parse("exp:604800000:604800000", &b, NULL), 0);
    assert_true(rh_backoff_delay(&b, 1000000, UINT64_MAX) <= RH_BACKOFF_MAX_MS);
    assert_int_equal(rh_backoff_parse("exp:1:604800000", &b, NULL), 0);
    assert_true(rh_backoff_delay(&b, 2000000000, UINT64_MAX) <= RH_BACKOFF_MAX_MS);
    assert_true(rh_backoff_delay(&b, 0, 0) >= 0);
}

static void test_durations_read_as_submit_in_takes_them(void **state)
{
    static const struct { const char *s; long long ms; } ok[] = {
        { "0", 0 }, { "90", 90000 }, { "1500ms", 1500 }, { "90s", 90000 }, { "5m", 300000 },
        { "2h", 7200000 }, { "1d", 86400000 }, { "366d", 366LL * 86400000 },
    };
    static const char *const bad[] = {
        "", "s", "-5s", "5 s", "5x", "1.5s", "367d", "99999999999999999999", "5sec", "1h30m",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(rh_duration_parse(ok[i].s, &v, NULL), 0);
        assert_int_equal(v, ok[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rhai_error err = { 0, "" };
        assert_int_equal(rh_duration_parse(bad[i], &v, &err), RHAI_EINVAL);
        assert_non_null(strstr(err.msg, "duration"));
    }
    assert_int_equal(rh_duration_parse(NULL, &v, NULL), RHAI_EINVAL);
}

static void test_times_are_unix_ms_or_iso_8601_utc(void **state)
{
    static const struct { const char *s; long long ms; } ok[] = {
        { "1764000000000", 1764000000000LL },
        { "1970-01-01T00:00:00Z", 0 },
        { "2026-12-06T10:00:00Z", 1796551200000LL },
        { "2026-12-06 10:00:00Z", 1796551200000LL },
        { "2026-12-06T10:00:00.250Z", 1796551200250LL },
        { "2026-12-06T10:00:00+00:00", 1796551200000LL },
        { "2028-02-29T00:00:00Z", 1835395200000LL },
        { "2000-02-29T12:00:00Z", 951825600000LL },
    };
    static const char *const bad[] = {
        "", "2026-12-06", "2026-12-06T10:00Z", "2026-12-06T10:00:00", "2026-12-06T10:00:00+01:00",
        "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2027-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2026-12-06T24:00:00Z", "2026-12-06T10:60:00Z",
        "2026-12-06T10:00:60Z", "2026-12-06T10:00:00.5Z", "1969-12-31T23:59:59Z",
        "2026-12-06T10:00:00Zjunk", "-5", "253402300800000", "tomorrow",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        print_message("%s\n", ok[i].s);
        assert_int_equal(rh_time_parse(ok[i].s, &v, NULL), 0);
        assert_int_equal(v, ok[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rhai_error err = { 0, "" };
        print_message("%s\n", bad[i]);
        assert_int_equal(rh_time_parse(bad[i], &v, &err), RHAI_EINVAL);
        assert_non_null(strstr(err.msg, "time"));
    }
}

static void test_retry_fields_of_a_task_hash_are_bounded(void **state)
{
    rh_task t;
    rhai_error err;

    (void)state;
    rh_task_init(&t);
    assert_int_equal(rh_task_set_field(&t, "retries", "3", 1), 0);
    assert_int_equal(t.retries, 3);
    assert_int_equal(rh_task_set_field(&t, "retries", "100", 3), 0);
    assert_int_equal(rh_task_set_field(&t, "retries", "101", 3), RHAI_EINVAL);
    assert_int_equal(rh_task_set_field(&t, "retries", "-1", 2), RHAI_EINVAL);
    assert_int_equal(rh_task_set_field(&t, "attempt", "0", 1), RHAI_EINVAL);
    assert_int_equal(rh_task_set_field(&t, "attempt", "2", 1), 0);
    assert_int_equal(t.attempt, 2);
    assert_int_equal(rh_task_set_field(&t, "run_at", "1764000000000", 13), 0);
    assert_int_equal(t.run_at, 1764000000000LL);
    assert_int_equal(rh_task_set_field(&t, "run_at", "soon", 4), RHAI_EINVAL);
    assert_int_equal(rh_task_set_field(&t, "status", "scheduled", 9), 0);
    assert_int_equal(t.status, RHAI_STATUS_SCHEDULED);
    assert_string_equal(rh_status_str(RHAI_STATUS_SCHEDULED), "scheduled");
    assert_int_equal(rh_status_final(RHAI_STATUS_SCHEDULED), 0);

    assert_int_equal(rh_task_set_field(&t, "id", "x", 1), 0);
    assert_int_equal(rh_task_set_field(&t, "script", "1", 1), 0);
    assert_int_equal(rh_task_validate(&t, 1000, 1000, &err), 0);
    assert_int_equal(rh_task_set_field(&t, "backoff", "exp:5:1", 7), 0);
    assert_int_equal(rh_task_validate(&t, 1000, 1000, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "backoff"));
    assert_int_equal(rh_task_set_field(&t, "backoff", "fixed:10", 8), 0);
    assert_int_equal(rh_task_validate(&t, 1000, 1000, &err), 0);
    rh_task_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_specs_parse_or_are_refused_with_a_message),
        cmocka_unit_test(test_backoff_delays_double_to_the_cap_with_jitter_in_the_upper_half),
        cmocka_unit_test(test_durations_read_as_submit_in_takes_them),
        cmocka_unit_test(test_times_are_unix_ms_or_iso_8601_utc),
        cmocka_unit_test(test_retry_fields_of_a_task_hash_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
