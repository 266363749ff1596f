/* test_cron.c -- unit tests of src/common/cron.c: the cron parser and the
 * next tick in IANA zones across DST changes (Europe/Brussels,
 * America/New_York, Australia/Lord_Howe with its 30-minute DST,
 * Asia/Kolkata, UTC). The clock is injected: every case names the instant
 * it computes from. Expected instants were checked with GNU date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/common.h"
#include "common/cron.h"
#include "common/schedule.h"

/* "2026-03-29T01:00:00Z" (optionally ".500") -> unix ms */
static int64_t iso_ms(const char *s)
{
    struct tm tm;
    int ms = 0;
    memset(&tm, 0, sizeof tm);
    assert_true(sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6);
    if (strchr(s, '.') != NULL)
        ms = atoi(strchr(s, '.') + 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

typedef struct next_case {
    const char *expr;
    const char *tz;
    const char *after;
    const char *want;     /* the next tick, or NULL: RHAI_ENOTFOUND */
    const char *why;
} next_case;

static const next_case next_cases[] = {
    /* Europe/Brussels 2026: 02:00 CET -> 03:00 CEST on Mar 29 (01:00Z),
     * 03:00 CEST -> 02:00 CET on Oct 25 (01:00Z). */
    { "30 2 * * *", "Europe/Brussels", "2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z",
      "a skipped 02:30 fires once, at the end of the gap (03:00 CEST)" },
    { "30 2 * * *", "Europe/Brussels", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
      "and the day after is an ordinary CEST day" },
    { "30 2 * * *", "Europe/Brussels", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z",
      "a repeated 02:30 fires at its first occurrence (CEST)" },
    { "30 2 * * *", "Europe/Brussels", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z",
      "and not again at the second occurrence (CET)" },
    { "*/15 * * * *", "Europe/Brussels", "2026-10-25T00:50:00Z", "2026-10-25T02:00:00Z",
      "after the first pass of the repeated hour comes 03:00 CET" },
    { "*/15 * * * *", "Europe/Brussels", "2026-10-25T01:20:00Z", "2026-10-25T02:00:00Z",
      "from inside the second pass, too" },
    { "* * * * *", "Europe/Brussels", "2026-03-29T00:59:00Z", "2026-03-29T01:00:00Z",
      "every skipped minute collapses into the one tick at 03:00 CEST" },
    { "* * * * *", "Europe/Brussels", "2026-03-29T01:00:00Z", "2026-03-29T01:01:00Z",
      "then minutes go on" },
    { "0 12 * * *", "Europe/Brussels", "2026-07-01T00:00:00Z", "2026-07-01T10:00:00Z",
      "summer noon is 10:00Z" },
    /* America/New_York 2026: Mar 8 02:00 EST -> 03:00 EDT (07:00Z), Nov 1
     * 02:00 EDT -> 01:00 EST (06:00Z). */
    { "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z",
      "New York: a skipped 02:30 fires at 03:00 EDT" },
    { "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z",
      "New York: a repeated 01:30 fires at 01:30 EDT" },
    { "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z",
      "New York: and next at 01:30 EST the day after" },
    /* Australia/Lord_Howe: +10:30 / +11:00. Oct 4 2026 02:00 -> 02:30
     * (15:30Z Oct 3); Apr 5 2026 02:00 -> 01:30 (15:00Z Apr 4). */
    { "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-03T15:30:00Z",
      "Lord Howe: a 02:15 in the 30-minute gap fires at 02:30" },
    { "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-04T14:45:00Z",
      "Lord Howe: a repeated 01:45 fires at its +11 occurrence" },
    { "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z",
      "Lord Howe: and next day at 01:45 +10:30" },
    /* Asia/Kolkata: +05:30, no DST. 2026-12-04 is a Friday. */
    { "0 9 * * MON-FRI", "Asia/Kolkata", "2026-12-04T04:00:00Z", "2026-12-07T03:30:00Z",
      "Kolkata: Friday 09:30 -> Monday 09:00 IST" },
    /* UTC and the grammar */
    { "0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z", "leap day" },
    { "0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", NULL, "February 30th never comes" },
    { "*/10 * * * * *", NULL, "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z",
      "six fields: seconds" },
    { "* * * * * *", "UTC", "2026-01-01T00:00:00.500Z", "2026-01-01T00:00:01Z",
      "every second, from mid-second" },
    { "* * * * * *", "UTC", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z",
      "strictly after a tick" },
    { "0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
      "dom and dow both restricted: either matches (Friday Jan 2)" },
    { "0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z", "dom only" },
    { "0 0 */2 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z",
      "a dom starting with '*' is not 'restricted' (AND rule): odd days that are Fridays (Jan 9)" },
    { "@hourly", "UTC", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z", "@hourly" },
    { "0 0 1 jan,Jul *", "", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z", "month names" },
    { "5-10/5 3 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T03:05:00Z",
      "a stepped range, and 7 as Sunday" },
    { "0 0 * * 0", "UTC", "2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "weekly" },
    { "59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z", "year end" },
};

static void test_cron_next_tick_matches_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const next_case *nc = &next_cases[i];
        rhai_error err;
        rh_cron c;
        int64_t got = -1;
        int rc;

        memset(&err, 0, sizeof err);
        assert_int_equal(rh_cron_parse(nc->expr, &c, &err), 0);
        rc = rh_cron_next(&c, nc->tz, iso_ms(nc->after), &got, &err);
        if (nc->want == NULL) {
            if (rc != RHAI_ENOTFOUND)
                fail_msg("case %zu (%s): want ENOTFOUND, got %d", i, nc->why, rc);
            continue;
        }
        if (rc != 0 || got != iso_ms(nc->want))
            fail_msg("case %zu (%s): %s in %s after %s: want %s (%lld), got rc %d %lld (%s)", i,
                     nc->why, nc->expr, nc->tz ? nc->tz : "NULL", nc->after, nc->want,
                     (long long)iso_ms(nc->want), rc, (long long)got, err.msg);
    }
}

/* Walk a whole day tick by tick: every wall time of the day fires once. */
static int count_ticks(const char *expr, const char *tz, const char *from, const char *to)
{
    rh_cron c;
    int64_t t = iso_ms(from), end = iso_ms(to), prev = t;
    int n = 0;

    assert_int_equal(rh_cron_parse(expr, &c, NULL), 0);
    for (;;) {
        assert_int_equal(rh_cron_next(&c, tz, t, &t, NULL), 0);
        assert_true(t > prev);
        prev = t;
        if (t >= end)
            return n;
        n++;
    }
}

static void test_cron_fall_back_day_fires_each_wall_time_once(void **state)
{
    (void)state;
    /* Oct 25 2026 in Brussels: 00:00 CEST (Oct 24 22:00Z) to 00:00 CET
     * (Oct 25 23:00Z), 25 hours, 96 distinct quarter hours. */
    assert_int_equal(count_ticks("*/15 * * * *", "Europe/Brussels", "2026-10-24T21:59:59Z",
                                 "2026-10-25T23:00:00Z"), 96);
    /* 01:00-01:59 repeated in New York on Nov 1: 24 distinct hours */
    assert_int_equal(count_ticks("0 * * * *", "America/New_York", "2026-11-01T03:59:59Z",
                                 "2026-11-02T05:00:00Z"), 24);
}

static void test_cron_spring_forward_day_fires_the_gap_once(void **state)
{
    (void)state;
    /* Mar 29 2026 in Brussels: 00:00 CET (Mar 28 23:00Z) to 00:00 CEST (Mar
     * 29 22:00Z), 23 hours: 02:00-02:45 all become the 03:00 tick. */
    assert_int_equal(count_ticks("*/15 * * * *", "Europe/Brussels", "2026-03-28T22:59:59Z",
                                 "2026-03-29T22:00:00Z"), 92);
    /* Lord Howe Oct 4: 02:00 and 02:15 fall in the half-hour gap */
    assert_int_equal(count_ticks("*/15 * * * *", "Australia/Lord_Howe", "2026-10-03T13:29:59Z",
                                 "2026-10-04T13:00:00Z"), 94);
}

static void test_cron_leaves_the_process_time_zone_alone(void **state)
{
    rh_cron c;
    int64_t t;
    (void)state;
    setenv("TZ", "America/New_York", 1);
    assert_int_equal(rh_cron_parse("0 * * * *", &c, NULL), 0);
    assert_int_equal(rh_cron_next(&c, "Europe/Brussels", 0, &t, NULL), 0);
    assert_string_equal(getenv("TZ"), "America/New_York");
    unsetenv("TZ");
    assert_int_equal(rh_cron_next(&c, "Asia/Kolkata", 0, &t, NULL), 0);
    assert_null(getenv("TZ"));
}

static void test_cron_parse_refuses_bad_expressions_with_a_message(void **state)
{
    static const struct { const char *expr; const char *says; } bad[] = {
        { "", "empty" },
        { "* * * *", "4 fields" },
        { "* * * * * * *", "more than 6" },
        { "60 * * * *", "out of range 0-59" },
        { "* 24 * * *", "hour" },
        { "* * 0 * *", "day of month" },
        { "* * * 13 *", "month" },
        { "* * * * 8", "day of week" },
        { "*/0 * * * *", "step" },
        { "5-1 * * * *", "backwards" },
        { "* * * FOO *", "unknown name" },
        { "* * * * MON-FOO", "unknown name" },
        { "1,,2 * * * *", "minute" },
        { "a * * * *", "expected a number" },
        { "* * * JAN-MON *", "unknown name" },
        { "@often", "unknown macro" },
        { "*/ * * * *", "step" },
        { "1-2-3 * * * *", "unexpected" },
        { "99999999999999999999 * * * *", "too large" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rhai_error err;
        rh_cron c;
        memset(&err, 0, sizeof err);
        if (rh_cron_parse(bad[i].expr, &c, &err) != RHAI_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i].expr);
        if (strstr(err.msg, bad[i].says) == NULL)
            fail_msg("\"%s\": message \"%s\" does not say \"%s\"", bad[i].expr, err.msg,
                     bad[i].says);
    }
}

static void test_tz_valid_accepts_zones_and_refuses_others(void **state)
{
    rhai_error err;
    (void)state;
    assert_int_equal(rh_tz_valid("UTC", NULL), 0);
    assert_int_equal(rh_tz_valid("Europe/Brussels", NULL), 0);
    assert_int_equal(rh_tz_valid("Australia/Lord_Howe", NULL), 0);
    assert_int_equal(rh_tz_valid("Europe/Nowhere", &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "unknown"));
    assert_int_equal(rh_tz_valid("../../etc/passwd", &err), RHAI_EINVAL);
    assert_int_equal(rh_tz_valid("/etc/localtime", &err), RHAI_EINVAL);
    assert_int_equal(rh_tz_valid("Europe", &err), RHAI_EINVAL);   /* a directory */
    assert_int_equal(rh_tz_valid("", &err), RHAI_EINVAL);
    assert_int_equal(rh_tz_valid("CET-1CEST", &err), RHAI_EINVAL); /* no POSIX strings */
}

static void test_cron_next_refuses_an_unknown_zone(void **state)
{
    rh_cron c;
    int64_t t = 7;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_cron_parse("* * * * *", &c, NULL), 0);
    assert_int_equal(rh_cron_next(&c, "Mars/Olympus", 0, &t, &err), RHAI_EINVAL);
    assert_int_equal(t, 7);
}

static void sched_fill(rh_sched *s)
{
    rh_sched_init(s);
    s->name = rh_strdup("backup");
    s->cron = rh_strdup("0 3 * * *");
    s->tz = rh_strdup("Europe/Brussels");
    s->worker = rh_strdup("reports");
    s->script = rh_strdup("1+1");
    s->args = rh_strdup("{\"full\":true}");
    s->context = rh_strdup("acme");
    s->caller = rh_strdup("ops");
    s->created_at = 1767225600000LL;
}

static void test_sched_signature_binds_every_signed_field(void **state)
{
    char pk[65], sk[129];
    char **fields[7];
    rh_sched s;
    rhai_error err;
    (void)state;

    assert_int_equal(rh_sign_keygen(pk, sk), 0);
    sched_fill(&s);
    assert_int_equal(rh_sched_validate(&s, &err), 0);
    assert_int_equal(rh_sched_verify(&s, "rhai", &err), RHAI_EINVAL);   /* unsigned */
    assert_int_equal(rh_sched_sign(&s, "rhai", sk, &err), 0);
    assert_string_equal(s.caller, pk);
    assert_int_equal(rh_sched_verify(&s, "rhai", &err), 0);
    assert_int_equal(rh_sched_verify(&s, "staging", &err), RHAI_EINVAL);
    fields[0] = &s.name;
    fields[1] = &s.cron;
    fields[2] = &s.tz;
    fields[3] = &s.worker;
    fields[4] = &s.script;
    fields[5] = &s.args;
    fields[6] = &s.context;
    for (int i = 0; i < 7; i++) {
        char *keep = *fields[i];
        *fields[i] = rh_strdup("Asia/Kolkata");
        assert_int_equal(rh_sched_verify(&s, "rhai", &err), RHAI_EINVAL);
        rh_free(*fields[i]);
        *fields[i] = keep;
    }
    s.created_at++;
    assert_int_equal(rh_sched_verify(&s, "rhai", &err), RHAI_EINVAL);
    s.created_at--;
    s.paused = 1;                  /* not signed: pausing needs no key */
    assert_int_equal(rh_sched_verify(&s, "rhai", &err), 0);
    rh_sched_clear(&s);
}

static void test_sched_json_round_trips(void **state)
{
    rh_sched s, t;
    char *json, *again;
    (void)state;

    sched_fill(&s);
    s.paused = 1;
    json = rh_sched_to_json(&s);
    assert_non_null(json);
    rh_sched_init(&t);
    assert_int_equal(rh_sched_from_json(json, strlen(json), &t, NULL), 0);
    assert_int_equal(rh_sched_validate(&t, NULL), 0);
    again = rh_sched_to_json(&t);
    assert_string_equal(json, again);
    assert_int_equal(t.paused, 1);
    assert_int_equal(t.created_at, 1767225600000LL);
    assert_int_equal(rh_sched_from_json("[1]", 3, &t, NULL), RHAI_EINVAL);
    assert_int_equal(rh_sched_from_json("{\"name\":3}", 10, &t, NULL), RHAI_EINVAL);
    assert_false(rh_sched_name_valid("a:b"));
    assert_false(rh_sched_name_valid(""));
    assert_true(rh_sched_name_valid("nightly-backup.v2"));
    rh_free(json);
    rh_free(again);
    rh_sched_clear(&s);
    rh_sched_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_next_tick_matches_the_table),
        cmocka_unit_test(test_cron_fall_back_day_fires_each_wall_time_once),
        cmocka_unit_test(test_cron_spring_forward_day_fires_the_gap_once),
        cmocka_unit_test(test_cron_leaves_the_process_time_zone_alone),
        cmocka_unit_test(test_cron_parse_refuses_bad_expressions_with_a_message),
        cmocka_unit_test(test_tz_valid_accepts_zones_and_refuses_others),
        cmocka_unit_test(test_cron_next_refuses_an_unknown_zone),
        cmocka_unit_test(test_sched_signature_binds_every_signed_field),
        cmocka_unit_test(test_sched_json_round_trips),
    };
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
