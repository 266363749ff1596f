/* fuzz_frame.c -- rh_frame_decode over arbitrary bytes fed in pieces.
 *
 * The executor pipe delivers bytes in whatever pieces the kernel likes, so
 * the input is appended a few bytes at a time (sizes drawn from the input)
 * and frames are decoded after every piece. Invariants: a decoded payload
 * re-encodes to exactly the bytes it was taken from; nothing is consumed
 * on RHAI_EAGAIN or RHAI_EPROTO; EPROTO only for a length over
 * RH_FRAME_MAX; the payload is NUL-terminated. */
#include "fuzz.h"
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned step = fz_byte(&in) % 17;      /* 0: everything at once */
    const uint8_t *stream = in.p;
    size_t total = in.n, fed = 0, taken = 0;
    rh_buf b, re;
    int proto = 0;

    rh_buf_init(&b);
    rh_buf_init(&re);
    while (fed < total && !proto) {
        size_t piece = step ? step : total;
        if (piece > total - fed)
            piece = total - fed;
        FZ_CHECK(rh_buf_append(&b, stream + fed, piece) == 0);
        fed += piece;
        for (;;) {
            char *payload = NULL;
            size_t len = 0, before = rh_buf_len(&b);
            int rc = rh_frame_decode(&b, &payload, &len);
            if (rc == RHAI_EAGAIN || rc == RHAI_EPROTO) {
                FZ_CHECK(rh_buf_len(&b) == before);
                if (rc == RHAI_EPROTO) {
                    const uint8_t *h = (const uint8_t *)b.data;
                    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                                 (uint32_t)h[2] << 8 | h[3];
                    FZ_CHECK(before >= RH_FRAME_HDR && n > RH_FRAME_MAX);
                    proto = 1;
                } else if (before >= RH_FRAME_HDR) {
                    const uint8_t *h = (const uint8_t *)b.data;
                    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
                               (size_t)h[2] << 8 | h[3];
                    FZ_CHECK(before - RH_FRAME_HDR < n);
                }
                break;
            }
            FZ_CHECK(rc == 0);
            FZ_CHECK(payload[len] == '\0');
            FZ_CHECK(rh_buf_len(&b) == before - RH_FRAME_HDR - len);
            FZ_CHECK(rh_frame_encode(&re, payload, len) == 0);
            taken += RH_FRAME_HDR + len;
            rh_free(payload);
        }
    }
    /* what was consumed is exactly the re-encoded frames */
    FZ_CHECK(re.len == taken);
    FZ_CHECK(taken == 0 || memcmp(re.data, stream, taken) == 0);
    FZ_CHECK(taken + rh_buf_len(&b) == fed);
    rh_buf_free(&b);
    rh_buf_free(&re);
    return 0;
}
