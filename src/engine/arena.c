/* arena.c -- the js heap: one fixed mapping, size classes, snapshots.
 *
 * Every allocation of a mujs state goes here (it is the js_Alloc given to
 * js_newstate). Because the mapping never moves and the allocator's own
 * state lives at its start, copying the bytes [base, top) away and back
 * restores a whole interpreter, pointers and all: engine.c builds the
 * library once, snapshots it, and gives each task a copy (~4 us for the
 * ~150 KB of a state, where js_newstate + js_freestate cost ~120 us).
 *
 * Blocks carry an 8-byte header (class, requested size). Classes go
 * 16, 24, 32, 48, 64, 96 ... (two per power of two, at most 50 % waste);
 * a freed block goes on its class's list and is reused first, the rest
 * comes from a bump pointer. When the bump pointer reaches the end of the
 * mapping, runs of adjacent free blocks are merged and cut again into the
 * largest classes they hold (arena_coalesce), so a heap whose blocks grow
 * (a string built with +=) does not strand its old sizes. Nothing is
 * given back before a restore, which trims the pages a large task touched.
 *
 * Pacing: mujs collects garbage by counting allocations, not bytes, so a
 * loop building a 50 KB string with += left ~1 GB of dead strings between
 * two collections and hit a 64 MiB cap. While armed, the arena asks for a
 * collection whenever the heap has grown by a step since the last one
 * (eng__arena_gc_watch: it sets mujs's own counter past its threshold, and
 * mujs collects before its next instruction, a point where collecting is
 * safe). */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_int.h"

/* Under ASan the arena poisons what no live block owns (free blocks, the
 * slack past a block's requested size, the unused tail), so a mujs bug
 * that reads or writes there is reported as it would be with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_ASAN 1
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_ASAN 0
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_NCLASS 64
#define ARENA_HDR    8u         /* block header: payloads are 8-aligned */
#define ARENA_FREE   0x80000000u /* in a block's cls: on a free list */

/* Growth of the heap between two collections asked for by the arena: at
 * least ARENA_GC_STEP, else as much as the script's live heap (so a heap
 * of real data is scanned O(log n) times), never more than half of what
 * is left below the cap, and at least ARENA_GC_MIN near it. */
#define ARENA_GC_STEP ((size_t)1 << 20)
#define ARENA_GC_MIN  ((size_t)64 << 10)

/* Lives at the mapping's start, so a snapshot carries it. */
typedef struct arena_state {
    size_t top;                 /* first byte never handed out */
    size_t used;                /* live requested bytes + headers */
    size_t limit;               /* enforced while armed */
    int    armed;
    int    refused;             /* an allocation failed: task is over */
    size_t freed;               /* block bytes freed since the last merge */
    size_t base;                /* used when armed: the library's bytes */
    size_t gc_next;             /* used past which a collection is asked */
    int    gc_asked;            /* asked, mujs has not collected yet */
    void  *free[ARENA_NCLASS];  /* per class: freed blocks, linked */
} arena_state;

typedef struct arena_block {
    uint32_t cls;
    uint32_t size;              /* what mujs asked for */
} arena_block;

struct eng_arena {
    char  *base;                /* the mapping; never moves */
    size_t size;                /* its length */
    char  *snap;                /* rh_malloc'd copy of [base, snap_len) */
    size_t snap_len;
    unsigned *gc_count;         /* mujs's allocation counter and its */
    unsigned *gc_thresh;        /* threshold, in the state; or NULL */
};

static size_t class_size(unsigned k)
{
    return (size_t)((k & 1) ? 24 : 16) << (k >> 1);
}

/* The smallest class holding 'need' bytes (header included). */
static unsigned class_of(size_t need)
{
    unsigned p;

    if (need <= 16)
        return 0;
    p = 63u - (unsigned)__builtin_clzll((unsigned long long)(need - 1));
    /* 2^p < need <= 2^(p+1), p >= 4 */
    if (need <= ((size_t)3 << (p - 1)))
        return 2 * (p - 4) + 1;
    return 2 * (p - 3);
}

static arena_state *state_of(const eng_arena *a)
{
    return (arena_state *)(void *)a->base;
}

/* Offset of the first block: the allocator's state comes first. */
static size_t heap_start(void)
{
    return (sizeof(arena_state) + 15u) & ~(size_t)15u;
}

static size_t page_up(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) & ~(pg - 1);
}

eng_arena *eng__arena_new(size_t size)
{
    eng_arena *a = rh_calloc(1, sizeof *a);
    void *m;

    if (a == NULL)
        return NULL;
    size = page_up(size < 1u << 20 ? 1u << 20 : size);
    m = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        rh_free(a);
        return NULL;
    }
    a->base = m;
    a->size = size;
    memset(a->base, 0, sizeof(arena_state));
    state_of(a)->top = heap_start();
    POISON(a->base + state_of(a)->top, a->size - state_of(a)->top);
    return a;
}

void eng__arena_free(eng_arena *a)
{
    if (a == NULL)
        return;
    UNPOISON(a->base, a->size);     /* the next mapping there starts clean */
    munmap(a->base, a->size);
    rh_free(a->snap);
    rh_free(a);
}

/* Put b (of class k, its header accessible) on k's free list. */
static void list_push(arena_state *s, arena_block *b, unsigned k)
{
    b->cls = k | ARENA_FREE;
    UNPOISON(b + 1, sizeof(void *));
    *(void **)(b + 1) = s->free[k];
    s->free[k] = b;
    POISON(b + 1, class_size(k) - ARENA_HDR);
}

static arena_block *list_pop(arena_state *s, unsigned k)
{
    arena_block *b = s->free[k];

    if (b != NULL) {
        UNPOISON(b + 1, sizeof(void *));
        s->free[k] = *(void **)(b + 1);
        b->cls = k;
    }
    return b;
}

static void block_release(arena_state *s, arena_block *b)
{
    s->used -= b->size + ARENA_HDR;
    s->freed += class_size(b->cls);
    list_push(s, b, b->cls);
}

/* Cut the free run [at, at + len) into the largest classes it holds
 * (every class size is a multiple of 8 and 16 is one, so any run of 8k
 * bytes, k >= 2, is cut without a remainder). */
static void run_carve(eng_arena *a, arena_state *s, size_t at, size_t len)
{
    POISON(a->base + at, len);          /* old headers included */
    while (len > 0) {
        unsigned k = class_of(len);

        while (class_size(k) > len ||
               (len - class_size(k) != 0 && len - class_size(k) < 16))
            k--;
        UNPOISON(a->base + at, ARENA_HDR);
        list_push(s, (arena_block *)(void *)(a->base + at), k);
        at += class_size(k);
        len -= class_size(k);
    }
}

/* The mapping is full: walk every block (they tile [heap_start, top)),
 * merge runs of adjacent free ones, give a run that ends at the top back
 * to the bump pointer and cut the others again. Rebuilds every list. */
static void arena_coalesce(eng_arena *a, arena_state *s)
{
    size_t off = heap_start(), run = 0, run_at = 0;

    memset(s->free, 0, sizeof s->free);
    while (off < s->top) {
        arena_block *b = (arena_block *)(void *)(a->base + off);
        size_t cs = class_size(b->cls & ~ARENA_FREE);

        if (b->cls & ARENA_FREE) {
            if (run == 0)
                run_at = off;
            run += cs;
        } else if (run > 0) {
            run_carve(a, s, run_at, run);
            run = 0;
        }
        off += cs;
    }
    if (run > 0) {
        s->top = run_at;
        POISON(a->base + run_at, a->size - run_at);
    }
    s->freed = 0;
}

/* A new block of 'size' bytes, or NULL (nothing counted). */
static arena_block *block_take(eng_arena *a, arena_state *s, size_t size)
{
    size_t need = size + ARENA_HDR;
    unsigned k = class_of(need);
    arena_block *b;

    if (k >= ARENA_NCLASS)
        return NULL;
    if ((b = list_pop(s, k)) == NULL) {
        size_t cs = class_size(k);
        if (cs > a->size - s->top && s->freed >= cs) {
            /* The mapping is full, but enough was freed to be worth a
             * merge (a heap that is really full does not walk again). */
            arena_coalesce(a, s);
            b = list_pop(s, k);
        }
        /* Still nothing: split a larger free block. */
        for (unsigned j = k + 1; b == NULL && cs > a->size - s->top && j < ARENA_NCLASS; j++)
            if ((b = list_pop(s, j)) != NULL && class_size(j) - cs >= 16) {
                size_t at = (size_t)((char *)b - a->base);
                run_carve(a, s, at + cs, class_size(j) - cs);
                b->cls = k;
            }
        if (b == NULL) {
            if (cs > a->size - s->top)
                return NULL;        /* the mapping is full */
            b = (arena_block *)(void *)(a->base + s->top);
            UNPOISON(b, ARENA_HDR);
            s->top += cs;
            b->cls = k;
        }
        k = b->cls;
    }
    UNPOISON(b + 1, size);
    POISON((char *)(b + 1) + size, class_size(k) - ARENA_HDR - size);
    b->size = (uint32_t)size;
    s->used += need;
    return b;
}

/* Where the next collection is asked for, from what is used now. */
static size_t gc_next_from(const arena_state *s)
{
    size_t grown = s->used > s->base ? s->used - s->base : 0;
    size_t room = s->limit > s->used ? s->limit - s->used : 0;
    size_t step = grown > ARENA_GC_STEP ? grown : ARENA_GC_STEP;

    if (step > room / 2)
        step = room / 2 > ARENA_GC_MIN ? room / 2 : ARENA_GC_MIN;
    return s->used + step;
}

/* After each allocation of a task: ask mujs to collect when the heap grew
 * a step since the last collection (any collection, its own included,
 * resets its counter below the threshold). */
static void gc_pace(eng_arena *a, arena_state *s)
{
    if (a->gc_count == NULL || !s->armed)
        return;
    if (s->gc_asked) {
        if (*a->gc_count > *a->gc_thresh)
            return;                     /* not collected yet */
        s->gc_asked = 0;
        s->gc_next = gc_next_from(s);
    }
    if (s->used > s->gc_next) {
        *a->gc_count = *a->gc_thresh + 1;
        s->gc_asked = 1;
    }
}

void eng__arena_gc_watch(eng_arena *a, unsigned *count, unsigned *thresh)
{
    a->gc_count = count;
    a->gc_thresh = thresh;
}

size_t eng__arena_block_size(const void *ptr)
{
    return ((const arena_block *)ptr - 1)->size;
}

void *eng__arena_alloc(void *actx, void *ptr, int size)
{
    eng_arena *a = actx;
    arena_state *s = state_of(a);
    arena_block *old = ptr ? (arena_block *)ptr - 1 : NULL;
    size_t have = old ? old->size + ARENA_HDR : 0;
    size_t want;
    arena_block *nb;

    if (size <= 0) {                    /* mujs frees with size 0 */
        if (old)
            block_release(s, old);
        return NULL;
    }
    want = (size_t)size + ARENA_HDR;
    /* used may already exceed limit when the library alone is bigger
     * than the cap: test that first, the subtraction would wrap. */
    if (s->armed && want > have &&
        (s->refused || s->used >= s->limit || want - have > s->limit - s->used)) {
        s->refused = 1;
        return NULL;
    }
    if (old) {
        unsigned k = class_of(want);
        /* Stay in place unless that would waste most of the block. */
        if (k <= old->cls && k + 2 >= old->cls) {
            s->used = s->used - have + want;
            old->size = (uint32_t)size;
            UNPOISON(ptr, (size_t)size);
            POISON((char *)ptr + size, class_size(old->cls) - ARENA_HDR - (size_t)size);
            gc_pace(a, s);
            return ptr;
        }
    }
    if ((nb = block_take(a, s, (size_t)size)) == NULL) {
        s->refused = 1;
        return NULL;
    }
    if (old) {
        memcpy(nb + 1, ptr, old->size < (size_t)size ? old->size : (size_t)size);
        block_release(s, old);
    }
    gc_pace(a, s);
    return nb + 1;
}

void eng__arena_arm(eng_arena *a, size_t limit)
{
    arena_state *s = state_of(a);

    s->limit = limit;
    s->armed = 1;
    s->base = s->used;
    s->gc_asked = 0;
    s->gc_next = gc_next_from(s);
}

void eng__arena_disarm(eng_arena *a)
{
    state_of(a)->armed = 0;
}

int eng__arena_refused(const eng_arena *a)
{
    return state_of(a)->refused;
}

size_t eng__arena_used(const eng_arena *a)
{
    return state_of(a)->used;
}

/* ASan: poison the free blocks and the tail of a state that was just
 * copied in whole (restore) or out (snapshot, which unpoisons first). */
static void poison_unowned(eng_arena *a)
{
#if ARENA_ASAN
    arena_state *s = state_of(a);

    for (unsigned k = 0; k < ARENA_NCLASS; k++)
        for (arena_block *b = s->free[k]; b; ) {
            arena_block *next = *(arena_block **)(b + 1);
            POISON(b + 1, class_size(k) - ARENA_HDR);
            b = next;
        }
    POISON(a->base + s->top, a->size - s->top);
#else
    (void)a;
#endif
}

int eng__arena_snapshot(eng_arena *a)
{
    size_t n = state_of(a)->top;
    char *p = rh_malloc(n);

    if (p == NULL)
        return RHAI_ENOMEM;
    UNPOISON(a->base, n);       /* the copy reads free blocks too */
    memcpy(p, a->base, n);
    poison_unowned(a);
    rh_free(a->snap);
    a->snap = p;
    a->snap_len = n;
    return 0;
}

void eng__arena_restore(eng_arena *a)
{
    size_t top = state_of(a)->top;
    size_t keep = page_up(a->snap_len + ENG_ARENA_KEEP);

    UNPOISON(a->base, a->snap_len > top ? a->snap_len : top);
    memcpy(a->base, a->snap, a->snap_len);
    /* Give back what a large task touched, keeping some room warm. */
    if (top > keep)
        (void)madvise(a->base + keep, page_up(top) - keep, MADV_DONTNEED);
    poison_unowned(a);
}
