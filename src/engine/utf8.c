/* utf8.c -- is a byte string well-formed UTF-8?
 *
 * The executor messages (message.c) carry strings as raw bytes, and rhaid
 * later puts them into JSON replies with jansson, which refuses anything
 * that is not UTF-8. The decoders check every string with this function
 * so that a bad one fails the message, not a reply long after. */
#include <string.h>

#include "engine_int.h"

/* A continuation byte: 10xxxxxx. */
#define CONT(c) (((c) & 0xc0) == 0x80)

int eng__utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + n;

    while (p < end) {
        size_t left;
        unsigned char c;

        /* Most text is ASCII: skip it a word at a time. */
        while ((size_t)(end - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, sizeof w);
            if (w & 0x8080808080808080ull)
                break;
            p += 8;
        }
        if (p == end)
            break;
        c = *p;
        left = (size_t)(end - p);
        if (c < 0x80) {
            p++;
        } else if (c >= 0xc2 && c <= 0xdf) {        /* 0xc0, 0xc1: overlong */
            if (left < 2 || !CONT(p[1]))
                return 0;
            p += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            /* e0: no overlongs below U+0800; ed: no surrogates */
            unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
            unsigned char hi = c == 0xed ? 0x9f : 0xbf;
            if (left < 3 || p[1] < lo || p[1] > hi || !CONT(p[2]))
                return 0;
            p += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            /* f0: no overlongs below U+10000; f4: nothing past U+10FFFF */
            unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
            unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
            if (left < 4 || p[1] < lo || p[1] > hi || !CONT(p[2]) || !CONT(p[3]))
                return 0;
            p += 4;
        } else {                    /* a stray continuation, f5..ff */
            return 0;
        }
    }
    return 1;
}
