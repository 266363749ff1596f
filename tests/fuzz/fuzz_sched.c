/* fuzz_sched.c -- the parsers of src/common/sched.c over arbitrary text:
 * a backoff spec (a task hash field: outside input of rhaid), a duration
 * and a time (rhaictl submit --in / --at).
 *
 * Invariants: 0 or RHAI_EINVAL with a message, out-values written only on
 * success; a parsed backoff has 0 <= base <= cap <= RH_BACKOFF_MAX_MS
 * (base >= 1 for exp) and its delays stay within [0, cap] for any retry
 * number and random value; a duration is within [0, 366 days]; a time is
 * not negative. */
#include "fuzz.h"
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    rhai_error err;
    rh_backoff b = { 9, 9, 9 };
    int64_t v = -7;
    int rc;

    memset(&err, 0, sizeof err);
    rc = rh_backoff_parse(s, &b, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    if (rc == 0) {
        FZ_CHECK(b.base >= 0 && b.base <= b.cap && b.cap <= RH_BACKOFF_MAX_MS);
        FZ_CHECK(!b.exp || b.base >= 1);
        for (int k = 0; k < 70; k += 7) {
            int64_t d = rh_backoff_delay(&b, k, (uint64_t)size * 0x9e3779b97f4a7c15ULL);
            FZ_CHECK(d >= 0 && d <= b.cap);
        }
        FZ_CHECK(rh_backoff_delay(&b, 0x7fffffff, UINT64_MAX) <= b.cap);
    } else {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0' && b.exp == 9);
    }
    rc = rh_duration_parse(s, &v, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    FZ_CHECK(rc != 0 ? v == -7 : v >= 0 && v <= 366LL * 86400000LL);
    v = -7;
    rc = rh_time_parse(s, &v, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    FZ_CHECK(rc != 0 ? v == -7 : v >= 0);
    free(s);
    return 0;
}
