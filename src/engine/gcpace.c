/* gcpace.c -- find mujs's allocation counter so the arena can pace its
 * collector by bytes (arena.c, "Pacing").
 *
 * mujs collects when its count of allocations passes a threshold (five
 * times what the last collection kept), checked before each instruction;
 * bytes do not count, so a script making large garbage (s += ...) reached
 * the cap long before a collection. The arena paces it by bytes instead
 * (arena.c), and needs the two counters, which mujs.h does not export:
 * find them in the js_State by their behaviour. Right after js_gc they
 * read (n, 5n); a new object and a long string add exactly 2 to the first;
 * collecting those again gives back (n, 5n). Exactly one adjacent pair of
 * unsigned ints must behave so, or pacing stays off (the behaviour of
 * plain mujs; test_engine_limits fails then, so a changed mujs is
 * noticed). */
#include <stdint.h>
#include <string.h>

#include <mujs.h>

#include "engine_int.h"

int eng__gc_find(js_State *J, eng_arena *a)
{
    enum { MAXC = 8 };
    unsigned char *p = (unsigned char *)J;
    size_t n = eng__arena_block_size(J);
    size_t cand[MAXC];
    unsigned base[MAXC];
    int ncand = 0, found = -1;
    unsigned c, t;

    js_gc(J, 0);
    for (size_t off = 0; off + 2 * sizeof c <= n; off += sizeof c) {
        memcpy(&c, p + off, sizeof c);
        memcpy(&t, p + off + sizeof c, sizeof t);
        if (c > 0 && c < 1u << 28 && t == 5 * c && ncand < MAXC) {
            cand[ncand] = off;
            base[ncand++] = c;
        }
    }
    if (js_try(J))
        return -1;                      /* only memory can throw here */
    js_newobject(J);
    js_pushstring(J, "a string too long to be stored inline");
    for (int i = 0; i < ncand; i++) {
        memcpy(&c, p + cand[i], sizeof c);
        memcpy(&t, p + cand[i] + sizeof c, sizeof t);
        if (c != base[i] + 2 || t != 5 * base[i])
            cand[i] = SIZE_MAX;
    }
    js_pop(J, 2);
    js_endtry(J);
    js_gc(J, 0);
    for (int i = 0; i < ncand; i++) {
        if (cand[i] == SIZE_MAX)
            continue;
        memcpy(&c, p + cand[i], sizeof c);
        memcpy(&t, p + cand[i] + sizeof c, sizeof t);
        if (c != base[i] || t != 5 * base[i])
            continue;
        if (found >= 0)
            return -1;                  /* ambiguous: leave mujs alone */
        found = i;
    }
    if (found < 0)
        return -1;
    eng__arena_gc_watch(a, (unsigned *)(void *)(p + cand[found]),
                        (unsigned *)(void *)(p + cand[found] + sizeof c));
    return 0;
}

