/* fuzz.h -- shared helpers of the libFuzzer harnesses in tests/fuzz.
 *
 * Each harness is one file defining LLVMFuzzerTestOneInput. Built with
 * clang and -fsanitize=fuzzer (RHAI_FUZZ=ON, tools/fuzz) it is a libFuzzer
 * binary; built with any compiler next to replay.c it is a cmocka test
 * that replays the seed corpus plus deterministic mutations (the normal
 * test suite, under ASan+UBSan). A harness states its invariants with
 * FZ_CHECK, which aborts: libFuzzer and the replay both report an abort. */
#ifndef FZ_FUZZ_H
#define FZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(e)                                                          \
    do {                                                                     \
        if (!(e)) {                                                          \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #e,       \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* A cursor over the input: harnesses draw structure (choices, lengths)
 * and payload bytes from it. Past the end every draw returns zeros. */
typedef struct fz_in {
    const uint8_t *p;
    size_t         n;
} fz_in;

static inline unsigned fz_byte(fz_in *in)
{
    unsigned v = 0;
    if (in->n) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

/* Up to 'want' bytes; *got says how many there were. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t want, size_t *got)
{
    const uint8_t *p = in->p;
    *got = want < in->n ? want : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

/* A NUL-terminated malloc'd copy of n bytes (free()). */
static inline char *fz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
#endif

#include <jansson.h>

/* Whether two JSON texts hold the same value, read as the worker and the
 * client read them (any value, NUL allowed, big integers as reals). Both
 * unreadable counts as the same. */
static inline json_t *fz_json_load(const char *s)
{
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *j = json_loads(s, flags, NULL);
    return j ? j : json_loads(s, flags | JSON_DECODE_INT_AS_REAL, NULL);
}

static inline int fz_json_load_ok(const char *s)
{
    json_t *j = fz_json_load(s);
    json_decref(j);
    return j != NULL;
}

static inline int fz_json_same(const char *a, const char *b)
{
    json_t *x = fz_json_load(a), *y = fz_json_load(b);
    int same = (x == NULL && y == NULL) || (x && y && json_equal(x, y));
    json_decref(x);
    json_decref(y);
    return same;
}
