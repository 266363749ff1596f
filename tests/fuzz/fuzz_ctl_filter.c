/* fuzz_ctl_filter.c -- rhaictl's bulk-command filters (src/ctl/filter.c)
 * over arbitrary text: --older-than and --error-kind come from the
 * command line of whoever runs rhaictl.
 *
 * Invariants: a duration is accepted only with a value in
 * 0..CTL_DURATION_MAX_MS and leaves *ms alone when refused; a kinds list
 * leaves at most CTL_FILTER_KINDS distinct known kinds, each NUL-terminated,
 * and their script argument is ",k1,...,kn," and always terminated. */
#include "fuzz.h"
#include "ctl/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    long long ms = -7;
    char arg[CTL_FILTER_KINDS * 17 + 2], tiny[5];
    ctl_filter f;

    if (ctl_duration_parse(s, &ms) == 0)
        FZ_CHECK(ms >= 0 && ms <= CTL_DURATION_MAX_MS);
    else
        FZ_CHECK(ms == -7);
    memset(&f, 0, sizeof f);
    if (ctl_kinds_parse(s, &f) == 0) {
        FZ_CHECK(f.nkinds >= 1 && f.nkinds <= CTL_FILTER_KINDS);
        for (int i = 0; i < f.nkinds; i++) {
            FZ_CHECK(memchr(f.kinds[i], '\0', sizeof f.kinds[i]) != NULL);
            FZ_CHECK(rh_kind_parse(f.kinds[i]) != RH_EK_NONE);
            for (int j = 0; j < i; j++)
                FZ_CHECK(strcmp(f.kinds[i], f.kinds[j]) != 0);
        }
        ctl_kinds_arg(&f, arg, sizeof arg);
        FZ_CHECK(arg[0] == ',' && arg[strlen(arg) - 1] == ',');
        FZ_CHECK(ctl_filter_match(&f, f.kinds[0], 0, 1) == 1);
    }
    FZ_CHECK(f.nkinds <= CTL_FILTER_KINDS);
    ctl_kinds_arg(&f, tiny, sizeof tiny);
    FZ_CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
    free(s);
    return 0;
}
