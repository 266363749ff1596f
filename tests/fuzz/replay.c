/* replay.c -- run a libFuzzer harness without libFuzzer: the cmocka test
 * that puts every harness into the normal test suite (any compiler, under
 * the suite's ASan+UBSan).
 *
 *   fuzz_<name>_replay CORPUS_DIR [MUTATIONS] [SEED]
 *
 * Replays every file of the seed corpus, then MUTATIONS inputs (default
 * 3000) made from corpus entries by a small deterministic mutator (bit
 * flips, byte sets, inserts of random bytes and of tokens that break
 * parsers, deletions, duplications, splices of two entries) and some
 * purely random ones. The same seed gives the same inputs, so a failure
 * reproduces; each input is written to fuzz-last-<name> in the working
 * directory before the harness runs it, so after a failure that file is
 * the reproducer (feed it to the libFuzzer binary, or add it to the
 * corpus as a regression). */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuzz.h"

#define FZ_MAX_INPUT 65536

typedef struct entry {
    uint8_t *data;
    size_t   len;
} entry;

static entry *corpus;
static size_t ncorpus;
static const char *corpus_dir;
static char last_path[256] = "fuzz-last-input";
static unsigned long mutations = 3000;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)               /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

/* Keep the last input on disk: if the harness aborts, this is the repro. */
static void run_one(const uint8_t *p, size_t n)
{
    FILE *f = fopen(last_path, "wb");
    if (f) {
        if (n)
            fwrite(p, 1, n, f);
        fclose(f);
    }
    LLVMFuzzerTestOneInput(p, n);
}

static int load_corpus(void **state)
{
    DIR *d = opendir(corpus_dir);
    struct dirent *de;
    (void)state;

    if (d == NULL) {
        fprintf(stderr, "replay: cannot open corpus %s\n", corpus_dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        FILE *f;
        uint8_t buf[FZ_MAX_INPUT];
        size_t n;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", corpus_dir, de->d_name);
        if ((f = fopen(path, "rb")) == NULL)
            continue;
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        corpus = realloc(corpus, (ncorpus + 1) * sizeof *corpus);
        assert_non_null(corpus);
        corpus[ncorpus].data = malloc(n ? n : 1);
        assert_non_null(corpus[ncorpus].data);
        memcpy(corpus[ncorpus].data, buf, n);
        corpus[ncorpus].len = n;
        ncorpus++;
    }
    closedir(d);
    return 0;
}

static int free_corpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    free(corpus);
    corpus = NULL;
    ncorpus = 0;
    return 0;
}

static void test_fuzz_harness_accepts_every_seed(void **state)
{
    (void)state;
    assert_true(ncorpus > 0);
    for (size_t i = 0; i < ncorpus; i++)
        run_one(corpus[i].data, corpus[i].len);
    run_one((const uint8_t *)"", 0);
}

static const char *const tokens[] = {
    "\"", "\\", "\\u0000", "\\ud800", "\\udc00", "\xff", "\xc3", "\xed\xa0\x80", "\0",
    "{", "}", "[", "]", ":", ",", "=", "\n", "#", "@", "/", "//", "[::1]", "?db=",
    "null", "true", "1e999", "-0", "18446744073709551616", "-9223372036854775809",
    "9223372036854775807", "4294967295", "65536", "0x", "\"id\":", "\"status\":",
    "\"output\":", "\"args\":", "\"script\":", "\"limits\":{", "unix://", "redis://",
    "\xff\xff\xff\xff", "\x04\x00\x00\x00", "\x00\x00\x00\x00",
};

/* One mutation of buf (len in/out, capacity FZ_MAX_INPUT). */
static void mutate(uint8_t *buf, size_t *len)
{
    size_t n = *len, at, k;

    switch (rng() % 8) {
    case 0:                                         /* flip a bit */
        if (n)
            buf[below(n)] ^= (uint8_t)(1u << (rng() % 8));
        break;
    case 1:                                         /* set a byte */
        if (n)
            buf[below(n)] = (uint8_t)rng();
        break;
    case 2:                                         /* insert random bytes */
        k = 1 + below(8);
        if (n + k <= FZ_MAX_INPUT) {
            at = below(n + 1);
            memmove(buf + at + k, buf + at, n - at);
            for (size_t i = 0; i < k; i++)
                buf[at + i] = (uint8_t)rng();
            n += k;
        }
        break;
    case 3: {                                       /* insert a token */
        const char *t = tokens[below(sizeof tokens / sizeof tokens[0])];
        k = t[0] ? strlen(t) : 1;
        if (n + k <= FZ_MAX_INPUT) {
            at = below(n + 1);
            memmove(buf + at + k, buf + at, n - at);
            memcpy(buf + at, t, k);
            n += k;
        }
        break;
    }
    case 4:                                         /* delete a range */
        if (n) {
            at = below(n);
            k = 1 + below(n - at < 16 ? n - at : 16);
            memmove(buf + at, buf + at + k, n - at - k);
            n -= k;
        }
        break;
    case 5:                                         /* duplicate a range */
        if (n) {
            at = below(n);
            k = 1 + below(n - at < 32 ? n - at : 32);
            if (n + k <= FZ_MAX_INPUT) {
                memmove(buf + at + k, buf + at, n - at);
                n += k;
            }
        }
        break;
    case 6: {                                       /* splice another entry */
        const entry *e = &corpus[below(ncorpus)];
        size_t from = below(e->len + 1);
        at = below(n + 1);
        k = e->len - from;
        if (at + k > FZ_MAX_INPUT)
            k = FZ_MAX_INPUT - at;
        memcpy(buf + at, e->data + from, k);
        n = at + k;
        break;
    }
    default:                                        /* truncate */
        n = below(n + 1);
        break;
    }
    *len = n;
}

static void test_fuzz_harness_survives_mutated_and_random_inputs(void **state)
{
    static uint8_t buf[FZ_MAX_INPUT];
    (void)state;
    assert_true(ncorpus > 0);
    for (unsigned long i = 0; i < mutations; i++) {
        size_t len;
        if (i % 16 == 15) {                         /* purely random */
            len = below(256);
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)rng();
        } else {
            const entry *e = &corpus[below(ncorpus)];
            int rounds = 1 + (int)below(4);
            memcpy(buf, e->data, e->len);
            len = e->len;
            for (int r = 0; r < rounds; r++)
                mutate(buf, &len);
        }
        run_one(buf, len);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_harness_accepts_every_seed),
        cmocka_unit_test(test_fuzz_harness_survives_mutated_and_random_inputs),
    };
    const char *name = strrchr(argv[0], '/');

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS] [SEED]\n", argv[0]);
        return 2;
    }
    corpus_dir = argv[1];
    snprintf(last_path, sizeof last_path, "fuzz-last-%s", name ? name + 1 : argv[0]);
    if (argc > 2)
        mutations = strtoul(argv[2], NULL, 10);
    if (argc > 3)
        rng_state ^= strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull;
    return cmocka_run_group_tests_name(name ? name + 1 : argv[0], tests, load_corpus,
                                       free_corpus);
}
