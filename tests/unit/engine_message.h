/* engine_message.h -- what the executor message tests share
 * (test_engine_message_task.c, test_engine_message_result.c,
 * test_engine_message_executor.c): taking a payload out of its frame,
 * walking its fields, hand-built messages with a header and fields
 * appended one by one, and strings that are not UTF-8. Included by one
 * test file each. */
#ifndef TEST_ENGINE_MESSAGE_H
#define TEST_ENGINE_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine_int.h"

/* Take the one frame in 'b' as a new payload string. */
static inline char *unframe(rh_buf *b, size_t *len)
{
    char *payload = NULL;

    assert_int_equal(rh_frame_decode(b, &payload, len), 0);
    assert_int_equal(rh_buf_len(b), 0);
    return payload;
}

/* The value of the field 'tag' in a payload (its length in *n), or NULL.
 * Walks the fields as message.c documents them, trusting the payload. */
static inline const char *field_of(const char *payload, size_t len, int tag, size_t *n)
{
    size_t at = 2;

    while (at + 5 <= len) {
        const unsigned char *h = (const unsigned char *)payload + at;
        size_t vn = (size_t)h[1] | (size_t)h[2] << 8 | (size_t)h[3] << 16 |
                    (size_t)h[4] << 24;
        if (h[0] == tag) {
            *n = vn;
            return payload + at + 5;
        }
        at += 5 + vn;
    }
    return NULL;
}

/* Hand-built messages: a header, then fields appended one by one. */
static inline void msg_begin(rh_buf *m, int kind, int version)
{
    unsigned char h[2] = { (unsigned char)kind, (unsigned char)version };

    rh_buf_init(m);
    assert_int_equal(rh_buf_append(m, h, sizeof h), 0);
}

/* A field header that claims 'len' bytes; the value is up to the caller. */
static inline void msg_head(rh_buf *m, int tag, uint32_t len)
{
    unsigned char h[5] = { (unsigned char)tag, (unsigned char)len,
                           (unsigned char)(len >> 8), (unsigned char)(len >> 16),
                           (unsigned char)(len >> 24) };

    assert_int_equal(rh_buf_append(m, h, sizeof h), 0);
}

static inline void msg_field(rh_buf *m, int tag, const void *v, size_t n)
{
    msg_head(m, tag, (uint32_t)n);
    assert_int_equal(rh_buf_append(m, v, n), 0);
}

static inline void msg_str(rh_buf *m, int tag, const char *s)
{
    msg_field(m, tag, s, strlen(s));
}

static inline void msg_u64(rh_buf *m, int tag, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    msg_field(m, tag, b, sizeof b);
}

/* Each one in the script and in args: overlongs, surrogates, past
 * U+10FFFF, bytes that never start a sequence, sequences cut short. */
static const char *const not_utf8[] = {
    "\xff", "\xfe", "\xf5\x80\x80\x80", "\x80", "a\xbf",    /* never valid */
    "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", /* overlong */
    "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
    "\xed\xa0\x80", "\xed\xbf\xbf",                         /* surrogates */
    "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf",                 /* > U+10FFFF */
    "\xc3", "\xe2\x82", "\xf0\x9f\x98",                  /* cut short */
    "\xc3(", "\xe2(\xac", "\xe2\x82(", "\xf0(\x98\x80", "\xf0\x9f(\x80", "\xf0\x9f\x98(",
};

#endif
