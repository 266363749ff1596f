/* cron.c -- cron expressions: the parser and the next tick in a time zone.
 *
 * A tick is a wall-clock time of the schedule's zone that matches the
 * expression. We search wall times with our own proleptic Gregorian
 * arithmetic (no libc, no zone) and only then ask the zone which instant(s)
 * that wall time is: zero (a DST gap), one, or two (a DST overlap). The
 * instant of a wall time, its "tick", is its first occurrence, or for a wall
 * time inside a gap the first instant after the gap. That makes ticks a
 * non-decreasing function of wall time, so "the next tick after T" is the
 * first wall time at or after wall(T)+1s whose tick is > T: a repeated hour
 * fires once, every skipped wall time of a gap collapses into one tick (one
 * task id: cron:NAME:TICKMS), and nothing depends on where the search began.
 *
 * Zones: we use glibc's own reading of the tz database (localtime_r and its
 * tm_gmtoff) with TZ switched to the zone around the calls and restored
 * after. Reading TZif ourselves would be thread-safe, but a correct reader
 * also needs the POSIX TZ footer rules (Debian may ship "slim" files whose
 * transitions stop early), which is more code to get wrong than the one
 * constraint this choice brings: rh_cron_next is for single-threaded callers
 * (rhaid's loop, rhaictl). librhai-client only parses and validates (no TZ
 * switch); the first tick of a new schedule is computed by rhaid. UTC never
 * touches TZ. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "cron.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"

/* ======================== parser ======================== */

typedef struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names;   /* names[i] is value lo+i..., or NULL */
    int names_base;
} cron_field;

static const char *const mon_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL
};
static const char *const dow_names[] = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

static const cron_field F_SEC = { "second", 0, 59, NULL, 0 };
static const cron_field F_MIN = { "minute", 0, 59, NULL, 0 };
static const cron_field F_HOUR = { "hour", 0, 23, NULL, 0 };
static const cron_field F_DOM = { "day of month", 1, 31, NULL, 0 };
static const cron_field F_MON = { "month", 1, 12, mon_names, 1 };
static const cron_field F_DOW = { "day of week", 0, 7, dow_names, 0 };

/* One value (number or name) from *p; advances *p. */
static int field_value(const cron_field *f, const char **p, int *out, const char *text,
                       rhai_error *err)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s - '0');
            if (v > 1000)
                return rh_error_set(err, RHAI_EINVAL, "cron: %s field \"%s\": number too large",
                                    f->name, text);
            s++;
        }
        if (v < f->lo || v > f->hi)
            return rh_error_set(err, RHAI_EINVAL,
                                "cron: %s field \"%s\": %ld is out of range %d-%d", f->name,
                                text, v, f->lo, f->hi);
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (f->names != NULL && isalpha((unsigned char)*s)) {
        for (int i = 0; f->names[i] != NULL; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
                *out = f->names_base + i;
                *p = s + 3;
                return 0;
            }
        }
        return rh_error_set(err, RHAI_EINVAL, "cron: %s field \"%s\": unknown name at \"%.8s\"",
                            f->name, text, s);
    }
    return rh_error_set(err, RHAI_EINVAL, "cron: %s field \"%s\": expected %s at \"%.8s\"",
                        f->name, text, f->names ? "a number or a name" : "a number", s);
}

/* Parse one field's text into a bit set; *star when it begins with '*'. */
static int field_parse(const cron_field *f, const char *text, uint64_t *bits, int *star,
                       rhai_error *err)
{
    const char *p = text;
    uint64_t set = 0;
    int rc;

    *star = text[0] == '*';
    for (;;) {
        int a, b, step = 1;
        if (*p == '*') {
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            if ((rc = field_value(f, &p, &a, text, err)) != 0)
                return rc;
            b = a;
            if (*p == '-') {
                p++;
                if ((rc = field_value(f, &p, &b, text, err)) != 0)
                    return rc;
                if (b < a)
                    return rh_error_set(err, RHAI_EINVAL,
                                        "cron: %s field \"%s\": range %d-%d goes backwards",
                                        f->name, text, a, b);
            } else if (*p == '/') {
                b = f->hi;      /* a/n: from a to the end */
            }
        }
        if (*p == '/') {
            long v = 0;
            p++;
            if (!isdigit((unsigned char)*p))
                return rh_error_set(err, RHAI_EINVAL,
                                    "cron: %s field \"%s\": a step needs a number after '/'",
                                    f->name, text);
            while (isdigit((unsigned char)*p)) {
                v = v * 10 + (*p - '0');
                if (v > 1000)
                    break;
                p++;
            }
            if (v < 1 || v > f->hi)
                return rh_error_set(err, RHAI_EINVAL,
                                    "cron: %s field \"%s\": step must be 1-%d", f->name, text,
                                    f->hi);
            step = (int)v;
        }
        for (int v = a; v <= b; v += step)
            set |= (uint64_t)1 << v;
        if (*p == '\0')
            break;
        if (*p != ',')
            return rh_error_set(err, RHAI_EINVAL, "cron: %s field \"%s\": unexpected \"%.8s\"",
                                f->name, text, p);
        p++;
    }
    *bits = set;
    return 0;
}

static const struct { const char *name; const char *expr; } cron_macros[] = {
    { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

int rh_cron_parse(const char *expr, rh_cron *out, rhai_error *err)
{
    static const cron_field *const fields6[6] = { &F_SEC, &F_MIN, &F_HOUR, &F_DOM, &F_MON, &F_DOW };
    char copy[RH_CRON_EXPR_MAX + 1];
    char *tok[7];
    int n = 0;
    uint64_t bits[6];
    int star[6];
    rh_cron c;

    if (expr == NULL || expr[0] == '\0')
        return rh_error_set(err, RHAI_EINVAL, "cron: empty expression");
    if (strlen(expr) > RH_CRON_EXPR_MAX)
        return rh_error_set(err, RHAI_EINVAL, "cron: expression longer than %d characters",
                            RH_CRON_EXPR_MAX);
    while (*expr == ' ' || *expr == '\t')
        expr++;
    if (expr[0] == '@') {
        for (size_t i = 0; i < sizeof cron_macros / sizeof cron_macros[0]; i++) {
            size_t len = strlen(cron_macros[i].name);
            if (strncasecmp(expr, cron_macros[i].name, len) == 0 &&
                strspn(expr + len, " \t") == strlen(expr + len))
                return rh_cron_parse(cron_macros[i].expr, out, err);
        }
        return rh_error_set(err, RHAI_EINVAL,
                            "cron: unknown macro \"%.32s\" (@yearly @annually @monthly @weekly "
                            "@daily @midnight @hourly)", expr);
    }
    strcpy(copy, expr);
    for (char *s = copy; *s;) {
        while (*s == ' ' || *s == '\t')
            *s++ = '\0';
        if (*s == '\0')
            break;
        if (n == 6)
            return rh_error_set(err, RHAI_EINVAL,
                                "cron: more than 6 fields (want \"min hour dom month dow\", "
                                "or a leading seconds field)");
        tok[n++] = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
    }
    if (n != 5 && n != 6)
        return rh_error_set(err, RHAI_EINVAL,
                            "cron: %d field%s; want 5 (min hour dom month dow) or 6 (sec min "
                            "hour dom month dow)", n, n == 1 ? "" : "s");
    for (int i = 0; i < 6; i++) {
        int rc;
        if (n == 5 && i == 0) {
            bits[0] = 1;    /* second 0 */
            star[0] = 0;
            continue;
        }
        rc = field_parse(fields6[i], tok[i - (6 - n)], &bits[i], &star[i], err);
        if (rc != 0)
            return rc;
    }
    memset(&c, 0, sizeof c);
    c.sec = bits[0];
    c.min = bits[1];
    c.hour = (uint32_t)bits[2];
    c.dom = (uint32_t)bits[3];
    c.mon = (uint32_t)bits[4];
    c.dow = (uint32_t)(bits[5] & 0x7f);
    if (bits[5] & ((uint64_t)1 << 7))
        c.dow |= 1;         /* 7 is Sunday too */
    c.dom_star = star[3];
    c.dow_star = star[5];
    c.has_seconds = n == 6;
    *out = c;
    return 0;
}

/* ======================== zones ======================== */

int rh_tz_valid(const char *tz, rhai_error *err)
{
    char path[sizeof ZONEINFO_DIR + RH_TZ_MAX + 2];
    char magic[4];
    FILE *f;
    size_t got;

    if (tz == NULL || tz[0] == '\0')
        return rh_error_set(err, RHAI_EINVAL, "time zone: empty name");
    if (strcmp(tz, "UTC") == 0)
        return 0;
    if (strlen(tz) > RH_TZ_MAX)
        return rh_error_set(err, RHAI_EINVAL, "time zone: name longer than %d characters",
                            RH_TZ_MAX);
    for (const char *s = tz; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '_' || ch == '+' || ch == '-'))
            return rh_error_set(err, RHAI_EINVAL,
                                "time zone \"%s\": not an IANA zone name (e.g. Europe/Brussels)",
                                tz);
    }
    if (tz[0] == '/' || strstr(tz, "..") != NULL || strstr(tz, "//") != NULL)
        return rh_error_set(err, RHAI_EINVAL,
                            "time zone \"%s\": not an IANA zone name (e.g. Europe/Brussels)", tz);
    snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, tz);
    f = fopen(path, "rb");
    if (f == NULL)
        return rh_error_set(err, RHAI_EINVAL,
                            "time zone \"%s\": unknown (no %s; is tzdata installed?)", tz, path);
    got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got != sizeof magic || memcmp(magic, "TZif", 4) != 0)
        return rh_error_set(err, RHAI_EINVAL, "time zone \"%s\": %s is not a TZif file", tz,
                            path);
    return 0;
}

/* TZ switched for the duration of a computation, then put back. */
typedef struct tz_scope {
    int active;
    int had;            /* TZ was set before */
    char saved[256];
} tz_scope;

static int tz_is_utc(const char *tz)
{
    return tz == NULL || tz[0] == '\0' || strcmp(tz, "UTC") == 0;
}

static void tz_enter(tz_scope *sc, const char *tz)
{
    const char *old;
    sc->active = 0;
    if (tz_is_utc(tz))
        return;
    old = getenv("TZ");
    sc->had = old != NULL && strlen(old) < sizeof sc->saved;
    if (sc->had)
        strcpy(sc->saved, old);
    setenv("TZ", tz, 1);
    tzset();
    sc->active = 1;
}

static void tz_leave(tz_scope *sc)
{
    if (!sc->active)
        return;
    if (sc->had)
        setenv("TZ", sc->saved, 1);
    else
        unsetenv("TZ");
    tzset();
    sc->active = 0;
}

/* UTC offset (s) of instant t in the current zone (0 for UTC). */
static long tz_offset(int utc, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (utc || localtime_r(&tt, &tm) == NULL)
        return 0;
    return tm.tm_gmtoff;
}

/* ======================== wall-clock arithmetic ======================== */

typedef struct wall {
    int64_t y;
    int mon, mday, hour, min, sec;   /* 1..12, 1..31, 0..23, 0..59, 0..59 */
} wall;

static void civil_from_days(int64_t z, wall *w)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    w->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    w->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    w->y = yoe + era * 400 + (w->mon <= 2);
}

static int64_t wall_secs(const wall *w)   /* the wall time read as UTC */
{
    return rh_days_from_civil(w->y, w->mon, w->mday) * 86400 + w->hour * 3600 + w->min * 60 +
           w->sec;
}

static void wall_from_secs(int64_t s, wall *w)
{
    int64_t days = (s >= 0 ? s : s - 86399) / 86400;
    int64_t rem = s - days * 86400;
    civil_from_days(days, w);
    w->hour = (int)(rem / 3600);
    w->min = (int)(rem / 60 % 60);
    w->sec = (int)(rem % 60);
}

static int days_in_month(int64_t y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static int day_matches(const rh_cron *c, const wall *w)
{
    int64_t days = rh_days_from_civil(w->y, w->mon, w->mday);
    int dow = (int)(((days % 7) + 11) % 7);    /* 1970-01-01 was a Thursday (4) */
    int dom_ok = (c->dom >> w->mday) & 1;
    int dow_ok = (c->dow >> dow) & 1;
    if (!c->dom_star && !c->dow_star)
        return dom_ok || dow_ok;
    return dom_ok && dow_ok;
}

/* Advance *w to the first matching wall time >= *w, not past year 'ylim'.
 * 0 or RHAI_ENOTFOUND. */
static int wall_next_match(const rh_cron *c, wall *w, int64_t ylim)
{
    for (;;) {
        if (w->y > ylim)
            return RHAI_ENOTFOUND;
        if (!((c->mon >> w->mon) & 1)) {
            w->mday = 1;
            w->hour = w->min = w->sec = 0;
            if (++w->mon > 12) {
                w->mon = 1;
                w->y++;
            }
            continue;
        }
        if (!day_matches(c, w)) {
            w->hour = w->min = w->sec = 0;
            if (++w->mday > days_in_month(w->y, w->mon)) {
                w->mday = 1;
                if (++w->mon > 12) {
                    w->mon = 1;
                    w->y++;
                }
            }
            continue;
        }
        if (!((c->hour >> w->hour) & 1)) {
            w->min = w->sec = 0;
            if (++w->hour > 23)
                wall_from_secs(wall_secs(w), w);   /* 24:00 -> next day 00:00 */
            continue;
        }
        if (!((c->min >> w->min) & 1)) {
            w->sec = 0;
            if (++w->min > 59)
                wall_from_secs(wall_secs(w), w);
            continue;
        }
        if (!((c->sec >> w->sec) & 1)) {
            if (++w->sec > 59)
                wall_from_secs(wall_secs(w), w);
            continue;
        }
        return 0;
    }
}

/* The tick (unix s) of wall time w in the current zone: its first
 * occurrence, or the first instant after the gap that swallowed it. */
static int64_t wall_tick(int utc, const wall *w)
{
    int64_t g = wall_secs(w);
    long offs[3];
    int64_t best = INT64_MAX;
    int64_t lo, hi;

    if (utc)
        return g;
    offs[0] = tz_offset(0, g - 2 * 86400);
    offs[1] = tz_offset(0, g);
    offs[2] = tz_offset(0, g + 2 * 86400);
    for (int i = 0; i < 3; i++) {
        int64_t t = g - offs[i];
        if (tz_offset(0, t) == offs[i] && t < best)
            best = t;
    }
    if (best != INT64_MAX)
        return best;
    /* A gap: the smallest t whose wall time is past g. wall(lo) < g < wall(hi). */
    lo = g - 2 * 86400;
    hi = g + 2 * 86400;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + tz_offset(0, mid) > g)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int rh_cron_next(const rh_cron *c, const char *tz, int64_t after_ms, int64_t *out_ms,
                 rhai_error *err)
{
    int utc = tz_is_utc(tz);
    int64_t after_s = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    int64_t ylim;
    tz_scope sc;
    wall w;
    int rc = RHAI_ENOTFOUND;
    int rounds;

    if (!utc && rh_tz_valid(tz, err) != 0)
        return RHAI_EINVAL;
    tz_enter(&sc, tz);
    wall_from_secs(after_s + tz_offset(utc, after_s) + 1, &w);
    ylim = w.y + RH_CRON_SEARCH_YEARS;
    /* Each round either returns or moves past one wall time whose tick is
     * not after 'after' (at most the ticks of one repeated hour, plus the
     * collapsed ticks of one gap); the bound is a guard, not a limit. */
    for (rounds = 0; rounds < 200000; rounds++) {
        int64_t t;
        if (wall_next_match(c, &w, ylim) != 0)
            break;
        t = wall_tick(utc, &w);
        if (t * 1000 > after_ms) {
            *out_ms = t * 1000;
            rc = 0;
            break;
        }
        wall_from_secs(wall_secs(&w) + 1, &w);
    }
    tz_leave(&sc);
    if (rc != 0)
        rh_error_set(err, rc, "cron: no tick within %d years", RH_CRON_SEARCH_YEARS);
    return rc;
}

char *rh_cron_format_local(int64_t ms, const char *tz, char *buf, size_t n)
{
    tz_scope sc;
    struct tm tm;
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    int utc;

    if (!tz_is_utc(tz) && rh_tz_valid(tz, NULL) != 0)
        tz = "UTC";                /* never point TZ at what is not a zone */
    utc = tz_is_utc(tz);

    tz_enter(&sc, tz);
    if ((utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL ||
        strftime(buf, n, utc ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)ms);
    tz_leave(&sc);
    return buf;
}
