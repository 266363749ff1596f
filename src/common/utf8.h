/* utf8.h -- the one scanner of UTF-8 sequences.
 *
 * The executor's message checks and repair (engine/utf8.c) and the log
 * writer's escaping (common/log.c) both ask the same question of a byte
 * string: how long is the well-formed sequence here? Inline, because the
 * message checks run it per non-ASCII byte of every result. */
#ifndef RH_UTF8_H
#define RH_UTF8_H

#include <stddef.h>

/* A continuation byte: 10xxxxxx. */
#define RH_UTF8_CONT(c) (((c) & 0xc0) == 0x80)

/* Length of the well-formed sequence at p, of at most 'left' bytes (RFC
 * 3629: no overlongs, no surrogates, nothing above U+10FFFF), or 0 when
 * there is none. */
static inline size_t rh_utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)                 /* 0xc0, 0xc1: overlong */
        return left >= 2 && RH_UTF8_CONT(p[1]) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        /* e0: no overlongs below U+0800; ed: no surrogates */
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        return left >= 3 && p[1] >= lo && p[1] <= hi && RH_UTF8_CONT(p[2]) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        /* f0: no overlongs below U+10000; f4: nothing past U+10FFFF */
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        return left >= 4 && p[1] >= lo && p[1] <= hi && RH_UTF8_CONT(p[2]) &&
               RH_UTF8_CONT(p[3]) ? 4 : 0;
    }
    return 0;                       /* a stray continuation, f5..ff */
}

#endif
