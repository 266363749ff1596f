/* frame.c -- length-prefixed frames on the daemon <-> executor pipes.
 *
 * A frame is a 4-byte big-endian length followed by that many payload
 * bytes. The decoder never consumes a partial frame, and refuses a length
 * over RH_FRAME_MAX before buffering it, so a broken peer cannot make us
 * allocate without bound. */
#include <string.h>

#include "common.h"

int rh_frame_encode(rh_buf *b, const void *payload, size_t n)
{
    uint8_t hdr[RH_FRAME_HDR];

    if (n > RH_FRAME_MAX)
        return RHAI_ETOOBIG;
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
    if (rh_buf_reserve(b, RH_FRAME_HDR + n) != 0)
        return RHAI_ENOMEM;
    rh_buf_append(b, hdr, sizeof hdr);      /* reserved: cannot fail */
    rh_buf_append(b, payload, n);
    return 0;
}

int rh_frame_decode(rh_buf *b, char **payload, size_t *len)
{
    const uint8_t *p = (const uint8_t *)b->data;
    size_t n;
    char *copy;

    if (b->len < RH_FRAME_HDR)
        return RHAI_EAGAIN;
    n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > RH_FRAME_MAX)
        return RHAI_EPROTO;
    if (b->len - RH_FRAME_HDR < n)
        return RHAI_EAGAIN;
    if ((copy = rh_strndup(b->data + RH_FRAME_HDR, n)) == NULL)
        return RHAI_ENOMEM;
    rh_buf_consume(b, RH_FRAME_HDR + n);
    *payload = copy;
    *len = n;
    return 0;
}
