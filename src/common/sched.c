/* sched.c -- the time arithmetic of delayed tasks and retries: backoff
 * specs and their delays, durations and points in time as users write them.
 *
 * Every one of these reads outside input (a task hash field, a command
 * line), so each parser is strict: digits only, bounded, and anything else
 * is RHAI_EINVAL with a message that says what is accepted
 * (docs/scheduling.md). */
#include <string.h>

#include "common.h"

/* Digits only, [lo, hi]; 'end' (may be NULL) receives the first byte
 * after them, else the whole string must be digits. -1 when not. */
static int digits(const char *s, int64_t lo, int64_t hi, const char **end, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if ((end == NULL && *p) || v < lo || v > hi)
        return -1;
    if (end)
        *end = p;
    *out = v;
    return 0;
}

/* ======================== backoff ======================== */

int rh_backoff_parse(const char *spec, rh_backoff *out, rhai_error *err)
{
    rh_backoff b;
    const char *p;

    if (spec == NULL || spec[0] == '\0')
        spec = RH_BACKOFF_DEFAULT;
    if (strlen(spec) > RH_BACKOFF_SPEC_MAX)
        return rh_error_set(err, RHAI_EINVAL, "backoff is over %d bytes",
                            RH_BACKOFF_SPEC_MAX);
    if (strncmp(spec, "fixed:", 6) == 0) {
        b.exp = 0;
        if (digits(spec + 6, 0, RH_BACKOFF_MAX_MS, NULL, &b.base) != 0)
            return rh_error_set(err, RHAI_EINVAL, "invalid backoff: fixed:MS wants MS "
                                "in 0..%lld", (long long)RH_BACKOFF_MAX_MS);
        b.cap = b.base;
    } else if (strncmp(spec, "exp:", 4) == 0) {
        b.exp = 1;
        if (digits(spec + 4, 1, RH_BACKOFF_MAX_MS, &p, &b.base) != 0 || *p != ':' ||
            digits(p + 1, b.base, RH_BACKOFF_MAX_MS, NULL, &b.cap) != 0)
            return rh_error_set(err, RHAI_EINVAL, "invalid backoff: exp:BASE:CAP wants "
                                "1 <= BASE <= CAP <= %lld (ms)", (long long)RH_BACKOFF_MAX_MS);
    } else {
        return rh_error_set(err, RHAI_EINVAL, "invalid backoff: use fixed:MS or "
                            "exp:BASE:CAP (ms)");
    }
    *out = b;
    return 0;
}

int64_t rh_backoff_delay(const rh_backoff *b, int k, uint64_t rnd)
{
    int64_t d = b->base, half;

    if (!b->exp)
        return b->base;
    /* base * 2^(k-1), stopped at the cap before it can overflow */
    for (int i = 1; i < k && d < b->cap; i++)
        d *= 2;
    if (d > b->cap)
        d = b->cap;
    half = d / 2;                       /* jitter: uniform in [d - half, d] */
    return d - half + (int64_t)(rnd % (uint64_t)(half + 1));
}

/* ======================== durations and times ======================== */

#define DURATION_MAX_MS (366LL * 86400000LL)

int rh_duration_parse(const char *s, int64_t *out, rhai_error *err)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 },
    };
    const char *end;
    int64_t v;

    if (s == NULL || digits(s, 0, DURATION_MAX_MS, &end, &v) != 0)
        goto bad;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            if (v > DURATION_MAX_MS / units[i].ms)
                goto bad;
            *out = v * units[i].ms;
            return 0;
        }
bad:
    return rh_error_set(err, RHAI_EINVAL, "invalid duration '%.40s': use digits and a unit "
                        "(ms, s, m, h, d), at most 366 days", s ? s : "");
}

/* Exactly n digits into *out, in [lo, hi]. */
static int fixed_digits(const char **p, int n, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *p += n;
    *out = v;
    return 0;
}

int rh_time_parse(const char *s, int64_t *out, rhai_error *err)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int64_t y, mo, d, h, mi, sec, ms = 0, v;
    const char *p = s;

    if (s == NULL)
        goto bad;
    if (digits(s, 0, 253402300799999LL, NULL, &v) == 0) {     /* unix ms, up to 9999 */
        *out = v;
        return 0;
    }
    if (fixed_digits(&p, 4, 1970, 9999, &y) || *p++ != '-' ||
        fixed_digits(&p, 2, 1, 12, &mo) || *p++ != '-' ||
        fixed_digits(&p, 2, 1, mdays[mo - 1], &d) || (*p != 'T' && *p != ' ') || !*p++ ||
        fixed_digits(&p, 2, 0, 23, &h) || *p++ != ':' ||
        fixed_digits(&p, 2, 0, 59, &mi) || *p++ != ':' ||
        fixed_digits(&p, 2, 0, 59, &sec))
        goto bad;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        goto bad;
    if (*p == '.') {
        p++;
        if (fixed_digits(&p, 3, 0, 999, &ms))
            goto bad;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        goto bad;
    *out = ((rh_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms;
    return 0;
bad:
    return rh_error_set(err, RHAI_EINVAL, "invalid time '%.40s': use unix ms or UTC "
                        "YYYY-MM-DDTHH:MM:SS[.mmm]Z", s ? s : "");
}
