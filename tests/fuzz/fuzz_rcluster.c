/* fuzz_rcluster.c -- the Redis Cluster parsers of src/common/rcluster.c
 * over arbitrary bytes: what a node (or anything answering on its port)
 * sends back as a MOVED/ASK error or as a CLUSTER SHARDS/SLOTS reply.
 *
 * The first byte picks the parser: 0 redirect, 1 SHARDS (2: with TLS
 * ports), 3 SLOTS, else keyslot; bit 7 injects an allocation failure.
 * Replies are RESP parsed by hiredis's reader, as a connection does.
 * Invariants: redirect: 0 / RHAI_EINVAL / RHAI_EPROTO with a message; a
 * parsed one is in range and formats back to itself. Map: 0 with
 * rh_slot_map_check true, or RHAI_EPROTO / RHAI_ENOMEM with a message and
 * an empty map. Keyslot: in range, and a key with a tag hashes as "{tag}". */
#include "fuzz.h"
#include <hiredis/hiredis.h>
#include "common/common.h"
#include "common/rcluster.h"

static rh_slot_map map;     /* 32 KiB: static, not on the stack */

static void fuzz_redirect(const char *s, size_t n)
{
    rh_redirect r, again;
    rhai_error err;
    char text[RH_CLUSTER_HOST_MAX + 64];
    int rc, len;

    memset(&err, 0, sizeof err);
    rc = rh_redirect_parse(s, n, &r, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL || rc == RHAI_EPROTO);
    if (rc == RHAI_EPROTO)
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
    if (rc != 0)
        return;
    FZ_CHECK(r.slot >= 0 && r.slot < RH_CLUSTER_SLOTS);
    FZ_CHECK(r.port >= 1 && r.port <= 65535);
    FZ_CHECK(strlen(r.host) < RH_CLUSTER_HOST_MAX);
    len = snprintf(text, sizeof text, "%s %d %s:%d", r.ask ? "ASK" : "MOVED", r.slot, r.host,
                   r.port);
    FZ_CHECK(rh_redirect_parse(text, (size_t)len, &again, NULL) == 0);
    FZ_CHECK(again.ask == r.ask && again.slot == r.slot && again.port == r.port &&
             strcmp(again.host, r.host) == 0);
}

/* hiredis 0.14's reader allocates an array of the declared count before
 * reading its elements (no maxelements yet): skip inputs declaring more
 * elements than they have bytes, which only exercise that. */
static int counts_plausible(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' && (i == 0 || s[i - 1] == '\n')) {
            unsigned long long v = 0;
            for (size_t j = i + 1; j < n && s[j] >= '0' && s[j] <= '9' && v <= n; j++)
                v = v * 10 + (unsigned)(s[j] - '0');
            if (v > n)
                return 0;
        }
    return 1;
}

static void fuzz_map(const char *s, size_t n, int which)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    rhai_error err;
    int rc;

    FZ_CHECK(rd != NULL);
    if (!counts_plausible(s, n) || redisReaderFeed(rd, s, n) != REDIS_OK || redisReaderGetReply(rd, &rep) != REDIS_OK ||
        rep == NULL) {
        redisReaderFree(rd);
        return;
    }
    redisReaderFree(rd);
    memset(&err, 0, sizeof err);
    rc = which == 3 ? rh_slot_map_from_slots(&map, rep, "asked", &err)
                    : rh_slot_map_from_shards(&map, rep, "asked", which == 2, &err);
    rh_alloc_fail_after(0);
    FZ_CHECK(rc == 0 || rc == RHAI_EPROTO || rc == RHAI_ENOMEM);
    if (rc == 0)
        FZ_CHECK(rh_slot_map_check(&map));
    else
        FZ_CHECK(err.code == rc && err.msg[0] != '\0' && map.nnodes == 0 &&
                 rh_slot_map_covered(&map) == 0);
    rh_slot_map_clear(&map);
    freeReplyObject(rep);
}

static void fuzz_keyslot(const char *s, size_t n)
{
    int slot = rh_keyslot(s, n);
    const char *open = n ? memchr(s, '{', n) : NULL;

    FZ_CHECK(slot >= 0 && slot < RH_CLUSTER_SLOTS);
    if (open) {
        const char *close = memchr(open + 1, '}', n - (size_t)(open + 1 - s));
        if (close && close > open + 1)     /* "{tag}" alone has the same slot */
            FZ_CHECK(rh_keyslot(open, (size_t)(close - open + 1)) == slot);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned mode = fz_byte(&in);
    const char *s = (const char *)in.p;
    static int ready;

    if (!ready) {
        rh_slot_map_init(&map);
        ready = 1;
    }
    if ((mode & 0x80) && (mode & 0x7f) % 4 != 0)
        rh_alloc_fail_after(1 + ((mode >> 4) & 7));
    switch (mode & 0x7f) {
    case 0:
        fuzz_redirect(s, in.n);
        break;
    case 1:
    case 2:
    case 3:
        fuzz_map(s, in.n, (int)(mode & 0x7f));
        break;
    default:
        fuzz_keyslot(s, in.n);
    }
    rh_alloc_fail_after(0);
    return 0;
}
