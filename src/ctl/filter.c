/* filter.c -- the selection options of rhaictl's bulk commands: durations
 * (--older-than 7d) and error kinds (--error-kind crashed,timeout).
 *
 * Pure parsing, no Redis: tests/unit/test_ctl_filter.c drives it. The
 * commands turn a filter into the arguments of their Lua scripts, which
 * check it again on each id they change (cmd_dead.c). */
#include <string.h>

#include "ctl.h"

int ctl_duration_parse(const char *s, long long *ms)
{
    static const struct { const char *unit; long long ms; } units[] = {
        { "ms", 1LL }, { "s", 1000LL }, { "m", 60000LL }, { "h", 3600000LL },
        { "d", 86400000LL }, { "w", 7 * 86400000LL },
    };
    long long v = 0;
    size_t i = 0;

    if (s == NULL)
        return -1;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > CTL_DURATION_MAX_MS)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0)
        return -1;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (strcmp(s + i, units[u].unit) == 0) {
            if (v > CTL_DURATION_MAX_MS / units[u].ms)
                return -1;
            *ms = v * units[u].ms;
            return 0;
        }
    return -1;
}

int ctl_kinds_parse(const char *s, ctl_filter *f)
{
    const char *p = s;

    if (s == NULL || *s == '\0')
        return -1;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char one[24];
        int dup = 0;

        if (n == 0 || n >= sizeof one)
            return -1;
        memcpy(one, p, n);
        one[n] = '\0';
        if (rh_kind_parse(one) == RH_EK_NONE)
            return -1;
        for (int k = 0; k < f->nkinds; k++)
            dup |= strcmp(f->kinds[k], one) == 0;
        if (!dup) {
            if (f->nkinds >= CTL_FILTER_KINDS)
                return -1;
            memcpy(f->kinds[f->nkinds++], one, n + 1);
        }
        p += n;
        if (*p == ',' && *++p == '\0')
            return -1;                /* "crashed," */
    }
    return 0;
}

void ctl_kinds_arg(const ctl_filter *f, char *buf, size_t n)
{
    size_t o = 0;

    buf[0] = '\0';
    if (f->nkinds == 0)
        return;
    for (int k = 0; k < f->nkinds && o + 1 < n; k++)
        o += (size_t)snprintf(buf + o, n - o, ",%s", f->kinds[k]);
    if (o + 1 < n)
        snprintf(buf + o, n - o, ",");
}

int ctl_filter_match(const ctl_filter *f, const char *kind, long long dead_at, long long now)
{
    int ok = f->nkinds == 0;

    for (int k = 0; k < f->nkinds && !ok; k++)
        ok = kind != NULL && strcmp(f->kinds[k], kind) == 0;
    return ok && (f->older_than_ms <= 0 || dead_at < now - f->older_than_ms);
}
