/* utf8.c -- is a byte string well-formed UTF-8?
 *
 * The executor messages (message.c) carry strings as raw bytes, and rhaid
 * later puts them into JSON replies with jansson, which refuses anything
 * that is not UTF-8. The decoders check every string with this function
 * so that a bad one fails the message, not a reply long after; an
 * executor repairs what a script produced (eng__utf8_repair) before it
 * is sent. */
#include <string.h>

#include "engine_int.h"

/* A continuation byte: 10xxxxxx. */
#define CONT(c) (((c) & 0xc0) == 0x80)

/* Length of the well-formed sequence at p, of at most 'left' bytes (RFC
 * 3629: no overlongs, no surrogates, nothing above U+10FFFF), or 0 when
 * there is none. */
static size_t seq_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)                 /* 0xc0, 0xc1: overlong */
        return left >= 2 && CONT(p[1]) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        /* e0: no overlongs below U+0800; ed: no surrogates */
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        return left >= 3 && p[1] >= lo && p[1] <= hi && CONT(p[2]) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        /* f0: no overlongs below U+10000; f4: nothing past U+10FFFF */
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        return left >= 4 && p[1] >= lo && p[1] <= hi && CONT(p[2]) && CONT(p[3]) ? 4 : 0;
    }
    return 0;                       /* a stray continuation, f5..ff */
}

int eng__utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + n;

    while (p < end) {
        size_t k;

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
        if ((k = seq_len(p, (size_t)(end - p))) == 0)
            return 0;
        p += k;
    }
    return 1;
}

void eng__utf8_repair(char *s)
{
    unsigned char *p = (unsigned char *)s, *end;

    if (p == NULL)
        return;
    end = p + strlen(s);
    while (p < end) {
        size_t k = seq_len(p, (size_t)(end - p));
        if (k == 0)
            *p++ = '?';
        else
            p += k;
    }
}
