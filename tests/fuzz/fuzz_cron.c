/* fuzz_cron.c -- rh_cron_parse over arbitrary text (rhaictl cron add, the
 * C API, and every schedule an instance reads from Redis), then the next
 * tick in UTC of what parsed.
 *
 * Invariants: 0 or RHAI_EINVAL with a message; a parsed expression has
 * only in-range bits and at least one value per field; its next tick is
 * either found strictly after the start or RHAI_ENOTFOUND, and the tick
 * after that tick is later still. */
#include "fuzz.h"
#include "common/common.h"
#include "common/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    rhai_error err;
    rh_cron c;
    int64_t t = 0, t2 = 0;
    int rc;

    memset(&err, 0, sizeof err);
    rc = rh_cron_parse(s, &c, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    if (rc != 0) {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
        free(s);
        return 0;
    }
    FZ_CHECK(c.sec != 0 && (c.sec >> 60) == 0);
    FZ_CHECK(c.min != 0 && (c.min >> 60) == 0);
    FZ_CHECK(c.hour != 0 && (c.hour >> 24) == 0);
    FZ_CHECK(c.dom != 0 && (c.dom & 1) == 0);
    FZ_CHECK(c.mon != 0 && (c.mon & 1) == 0 && (c.mon >> 13) == 0);
    FZ_CHECK(c.dow != 0 && (c.dow >> 7) == 0);
    rc = rh_cron_next(&c, "UTC", 1767225600000LL, &t, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_ENOTFOUND);
    if (rc == 0) {
        FZ_CHECK(t > 1767225600000LL && t % 1000 == 0);
        FZ_CHECK(rh_cron_next(&c, NULL, t, &t2, &err) == 0 || t2 == 0);
        FZ_CHECK(t2 == 0 || t2 > t);
    }
    free(s);
    return 0;
}
