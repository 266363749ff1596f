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
#include "common/utf8.h"

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
        if ((k = rh_utf8_seq_len(p, (size_t)(end - p))) == 0)
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
        size_t k = rh_utf8_seq_len(p, (size_t)(end - p));
        if (k == 0)
            *p++ = '?';
        else
            p += k;
    }
}
