/* cron.h -- cron expressions and their next tick in an IANA time zone.
 *
 * Part of src/common (prefix rh_), in its own header so the schedule code
 * of rhaid, rhaictl and librhai-client include only what they use. The
 * parser is pure; rh_cron_next() is pure too except that, for a zone other
 * than UTC, it switches the process's TZ around its localtime_r calls and
 * restores it before returning (see cron.c for why): call it from one
 * thread only (rhaid's loop, rhaictl), never from librhai-client. */
#ifndef RH_CRON_H
#define RH_CRON_H

#include <stdint.h>

#include "rhai/error.h"

#define RH_CRON_EXPR_MAX 256    /* longest expression text accepted */
#define RH_TZ_MAX        64     /* longest zone name accepted */
#define RH_CRON_SEARCH_YEARS 30 /* a tick further than this: "never" */

/* A parsed expression: one bit per allowed value of each field. */
typedef struct rh_cron {
    uint64_t sec;      /* bits 0..59 */
    uint64_t min;      /* bits 0..59 */
    uint32_t hour;     /* bits 0..23 */
    uint32_t dom;      /* bits 1..31 */
    uint32_t mon;      /* bits 1..12 */
    uint32_t dow;      /* bits 0..6, Sunday 0 (7 is folded into 0) */
    int dom_star;      /* the dom field began with '*' (vixie: AND rule) */
    int dow_star;      /* the dow field began with '*' */
    int has_seconds;   /* six fields: the first one is seconds */
} rh_cron;

/* Parse 'expr': five fields "min hour dom month dow", or six with a
 * leading seconds field; each field is '*', a value, a range a-b, a step
 * (*|a|a-b)/n, or a comma list of those; months JAN..DEC and days
 * SUN..SAT by name (any case); day of week 0..7 (0 and 7 are Sunday).
 * Also @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * When both dom and dow are restricted (neither begins with '*'), a day
 * matches if either matches (the usual cron OR rule). Returns 0 and fills
 * *out, or RHAI_EINVAL with a message naming the field. */
int rh_cron_parse(const char *expr, rh_cron *out, rhai_error *err);

/* 0 when 'tz' names a zone of the system tz database: "UTC", or a relative
 * path of [A-Za-z0-9/_+-] without "..", at most RH_TZ_MAX chars, of a TZif
 * file under /usr/share/zoneinfo (or $RHAI_ZONEINFO, for tests).
 * RHAI_EINVAL with a message otherwise. */
int rh_tz_valid(const char *tz, rhai_error *err);

/* The first tick of 'c' strictly after 'after_ms' (unix ms) in zone 'tz'
 * (NULL or "" = UTC), in unix ms, into *out_ms. Ticks are wall-clock times
 * of the zone; a wall time that does not exist (skipped by a DST change)
 * ticks once, at the first instant after the gap (all the skipped wall
 * times of that gap are that one tick); a wall time that exists twice
 * (repeated by a DST change) ticks once, at its first occurrence.
 * Returns 0, RHAI_EINVAL (bad zone), or RHAI_ENOTFOUND when no tick comes
 * within RH_CRON_SEARCH_YEARS (e.g. "0 0 30 2 *"). Not thread-safe (TZ). */
int rh_cron_next(const rh_cron *c, const char *tz, int64_t after_ms, int64_t *out_ms,
                 rhai_error *err);

/* Format unix ms as local time of 'tz' ("2026-03-29 03:00:00 CEST") into
 * buf[n]; returns buf. Not thread-safe (TZ), as rh_cron_next. */
char *rh_cron_format_local(int64_t ms, const char *tz, char *buf, size_t n);

#endif
