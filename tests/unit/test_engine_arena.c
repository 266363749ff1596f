/* test_engine_arena.c -- unit tests of the js heap (arena.c): size classes,
 * reuse of freed blocks, the cap, a full mapping, and snapshots that bring
 * back contents and allocator state alike. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine_int.h"
#include "th_asan.h"

#define MiB (1024u * 1024u)

static int arena_setup(void **state)
{
    *state = eng__arena_new(16 * MiB);
    return *state ? 0 : -1;
}

static int arena_teardown(void **state)
{
    eng__arena_free(*state);
    return 0;
}

static void *al(eng_arena *a, size_t n)
{
    return eng__arena_alloc(a, NULL, (int)n);
}

static void fr(eng_arena *a, void *p)
{
    assert_null(eng__arena_alloc(a, p, 0));
}

/* Pages of [p, p+n) resident in memory. */
static size_t resident_pages(const void *p, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(pg - 1);
    size_t np = ((uintptr_t)p + n - lo + pg - 1) / pg, count = 0;
    unsigned char vec[4096];

    assert_true(np <= sizeof vec);
    assert_int_equal(mincore((void *)lo, np * pg, vec), 0);
    for (size_t i = 0; i < np; i++)
        count += vec[i] & 1;
    return count;
}

static void test_blocks_are_aligned_distinct_and_writable(void **state)
{
    eng_arena *a = *state;
    char *p[64];

    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)i * 37 + 1;
        p[i] = al(a, n);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 8, 0);
        memset(p[i], i, n);
    }
    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)i * 37 + 1;
        for (size_t k = 0; k < n; k++)
            assert_int_equal((unsigned char)p[i][k], i);
    }
}

static void test_a_freed_block_is_reused_by_its_class(void **state)
{
    eng_arena *a = *state;
    void *p = al(a, 40), *q;

    fr(a, p);
    q = al(a, 33);          /* 33 + 8 and 40 + 8 share the 48-byte class */
    assert_ptr_equal(p, q);
    q = al(a, 100);         /* another class: a new block */
    assert_ptr_not_equal(p, q);
}

static void test_used_counts_live_bytes_with_headers(void **state)
{
    eng_arena *a = *state;
    size_t u0 = eng__arena_used(a);
    void *p = al(a, 100), *q = al(a, 1000);

    assert_int_equal(eng__arena_used(a), u0 + 108 + 1008);
    fr(a, p);
    assert_int_equal(eng__arena_used(a), u0 + 1008);
    q = eng__arena_alloc(a, q, 2000);           /* realloc counts the delta */
    assert_non_null(q);
    assert_int_equal(eng__arena_used(a), u0 + 2008);
    fr(a, q);
    assert_int_equal(eng__arena_used(a), u0);
}

static void test_realloc_keeps_the_contents(void **state)
{
    eng_arena *a = *state;
    char *p = al(a, 10);

    memcpy(p, "0123456789", 10);
    p = eng__arena_alloc(a, p, 5000);           /* moves: another class */
    assert_non_null(p);
    assert_memory_equal(p, "0123456789", 10);
    p = eng__arena_alloc(a, p, 4);              /* shrinks a lot: moves back */
    assert_non_null(p);
    assert_memory_equal(p, "0123", 4);
}

static void test_the_cap_refuses_growth_once_armed(void **state)
{
    eng_arena *a = *state;
    void *p;

    eng__arena_arm(a, eng__arena_used(a) + 64 * 1024);
    assert_non_null(p = al(a, 32 * 1024));
    assert_null(al(a, 40 * 1024));
    assert_true(eng__arena_refused(a));
    /* once refused, every later growth is refused too */
    assert_null(al(a, 16));
    fr(a, p);                                   /* frees still work */
    assert_null(al(a, 16));
    eng__arena_disarm(a);
}

static void test_a_full_mapping_refuses_even_unarmed(void **state)
{
    eng_arena *a = *state;
    int got = 0;

    /* 16 MiB of 1 MiB blocks (1.5 MiB class with the header) */
    while (al(a, MiB) != NULL)
        got++;
    assert_true(got >= 8 && got < 16);
    assert_true(eng__arena_refused(a));
}

/* Blocks freed in one size class are merged for another once the mapping
 * is full: 3900 blocks of 4 KB fill most of 16 MiB; with all but three
 * freed, a 1 MiB block (1.5 MiB class) only fits in a merged run, and the
 * 4 KB blocks after it are cut from the rest, not given whole blocks. The
 * live blocks keep their contents and nothing overlaps them. */
static void test_freed_blocks_are_merged_when_the_mapping_is_full(void **state)
{
    eng_arena *a = *state;
    enum { N = 3900, SZ = 4000 };
    static char *p[N];
    const int live[3] = { 0, N / 2, N - 1 };
    char *big;
    int more = 0;

    for (int i = 0; i < N; i++) {
        assert_non_null(p[i] = al(a, SZ));
        memset(p[i], 'a' + i % 26, SZ);
    }
    for (int i = 0; i < N; i++)
        if (i != live[0] && i != live[1] && i != live[2])
            fr(a, p[i]);
    assert_non_null(big = al(a, MiB));
    memset(big, 'B', MiB);
    while (al(a, SZ) != NULL)
        more++;
    assert_true(more >= 3000);          /* ~ (16 MiB - 1.5 MiB) / 4 KB */
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < SZ; j++)
            assert_int_equal(p[live[k]][j], 'a' + live[k] % 26);
    for (size_t j = 0; j < MiB; j += 4096)
        assert_int_equal(big[j], 'B');
}

/* Random allocations, reallocations and frees of sizes from 1 byte to
 * 256 KB in a small mapping, so it fills and merges over and over: every
 * live block keeps its own byte pattern (no two blocks overlap, merging
 * and splitting never touch a live one), and under ASan no access of the
 * allocator itself lands on memory it poisoned. */
static void test_random_churn_keeps_every_live_block_intact(void **state)
{
    enum { NLIVE = 400, OPS = 60000 };
    static unsigned char *p[NLIVE];
    static size_t n[NLIVE];
    eng_arena *a = eng__arena_new(4 * MiB);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int fulls = 0;

    (void)state;
    assert_non_null(a);
    memset(p, 0, sizeof p);
    for (int op = 0; op < OPS; op++) {
        int i;
        size_t want;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        i = (int)(x % NLIVE);
        want = ((size_t)1 << ((x >> 20) % 18)) + (size_t)((x >> 40) % 64);
        if (p[i] != NULL) {
            for (size_t j = 0; j < n[i]; j += 97)
                assert_int_equal(p[i][j], (unsigned char)(i * 7 + 1));
            if ((x >> 60) & 1) {
                fr(a, p[i]);
                p[i] = NULL;
                continue;
            }
        }
        {
            unsigned char *q = eng__arena_alloc(a, p[i], (int)want);
            if (q == NULL) {            /* full: the old block stays valid */
                fulls++;
                continue;
            }
            if (p[i] != NULL)
                for (size_t j = 0; j < (n[i] < want ? n[i] : want); j += 97)
                    assert_int_equal(q[j], (unsigned char)(i * 7 + 1));
            memset(q, i * 7 + 1, want);
            p[i] = q;
            n[i] = want;
        }
    }
    for (int i = 0; i < NLIVE; i++)
        for (size_t j = 0; p[i] != NULL && j < n[i]; j++)
            assert_int_equal(p[i][j], (unsigned char)(i * 7 + 1));
    print_message("churn: %d allocations refused by a full mapping\n", fulls);
    eng__arena_free(a);
}

static void test_restore_brings_back_contents_and_allocator_state(void **state)
{
    eng_arena *a = *state;
    char *keep = al(a, 64), *p, *q;
    size_t used;

    strcpy(keep, "library");
    p = al(a, 200);
    fr(a, p);                                   /* a free block in the snapshot */
    used = eng__arena_used(a);
    assert_int_equal(eng__arena_snapshot(a), 0);

    /* a "task": scribbles, allocates, frees, hits the cap */
    strcpy(keep, "tampered");
    q = al(a, 200);
    assert_ptr_equal(q, p);
    for (int i = 0; i < 100; i++)
        assert_non_null(al(a, 1000));
    eng__arena_arm(a, 1);
    assert_null(al(a, 8));

    eng__arena_restore(a);
    assert_string_equal(keep, "library");
    assert_int_equal(eng__arena_used(a), used);
    assert_false(eng__arena_refused(a));
    /* the same blocks come out in the same order as after the snapshot */
    assert_ptr_equal(al(a, 200), p);
    eng__arena_restore(a);
    assert_ptr_equal(al(a, 200), p);
}

static void test_restore_gives_back_the_pages_a_large_task_touched(void **state)
{
    eng_arena *a = *state;
    char *big;

    assert_int_equal(eng__arena_snapshot(a), 0);
    big = al(a, 8 * MiB);
    assert_non_null(big);
    memset(big, 1, 8 * MiB);
    assert_true(resident_pages(big, 8 * MiB) > 1500);
    eng__arena_restore(a);
    /* at most ENG_ARENA_KEEP of it stays resident */
    assert_true(resident_pages(big, 8 * MiB) * (size_t)sysconf(_SC_PAGESIZE) <=
                ENG_ARENA_KEEP + 4096);
}

#if TH_ASAN
/* Under ASan, touching a freed block or the slack past a block's size is
 * reported as with malloc (the arena poisons them); the child dies. */
static int child_touch(eng_arena *a, int freed)
{
    pid_t pid = fork();
    int status = 0;

    if (pid == 0) {
        char *p = al(a, 20);                    /* 20 + 8: a 32-byte block */
        volatile char c;
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);                      /* the report is expected */
        if (freed)
            fr(a, p);
        c = p[freed ? 0 : 22];
        (void)c;
        _exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

static void test_asan_sees_use_after_free_and_overflow_in_the_arena(void **state)
{
#if TH_ASAN
    eng_arena *a = *state;

    assert_true(child_touch(a, 1));
    assert_true(child_touch(a, 0));
    /* a restore poisons what the snapshot had free, and the tail */
    assert_int_equal(eng__arena_snapshot(a), 0);
    (void)al(a, 5000);
    eng__arena_restore(a);
    assert_true(child_touch(a, 1));
#else
    (void)state;
    skip();
#endif
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)
    const struct CMUnitTest tests[] = {
        T(test_blocks_are_aligned_distinct_and_writable),
        T(test_a_freed_block_is_reused_by_its_class),
        T(test_used_counts_live_bytes_with_headers),
        T(test_realloc_keeps_the_contents),
        T(test_the_cap_refuses_growth_once_armed),
        T(test_a_full_mapping_refuses_even_unarmed),
        T(test_freed_blocks_are_merged_when_the_mapping_is_full),
        T(test_random_churn_keeps_every_live_block_intact),
        T(test_restore_brings_back_contents_and_allocator_state),
        T(test_restore_gives_back_the_pages_a_large_task_touched),
        T(test_asan_sees_use_after_free_and_overflow_in_the_arena),
    };
    return cmocka_run_group_tests_name("engine_arena", tests, NULL, NULL);
}
