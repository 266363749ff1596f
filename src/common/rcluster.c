/* rcluster.c -- the pure parts of Redis Cluster support: key slots, MOVED
 * and ASK errors, the slot map from CLUSTER SHARDS / CLUSTER SLOTS.
 *
 * No I/O here: the routers (rcluster_route.c) feed these with replies they
 * read, the unit tests with canned replies, the fuzz target with anything.
 * Every reply is outside input: shapes are checked, never asserted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/rcluster.h"

/* ======================== key slots ======================== */

/* CRC16-XMODEM, the table of poly 0x1021 (as redis/src/crc16.c). */
static const uint16_t crc16_tab[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
    0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
    0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
    0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
    0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
    0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
    0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
    0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
    0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
    0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
    0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
    0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
    0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
    0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
    0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
    0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
    0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
    0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
    0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
    0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
    0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t rh_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_tab[((crc >> 8) ^ p[i]) & 0xff]);
    return crc;
}

int rh_keyslot(const char *key, size_t len)
{
    const char *open = len ? memchr(key, '{', len) : NULL;

    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', len - from);
        /* "{}" is no tag: the whole key is hashed, as Redis does */
        if (close && close > open + 1)
            return rh_crc16(open + 1, (size_t)(close - open - 1)) & (RH_CLUSTER_SLOTS - 1);
    }
    return rh_crc16(key, len) & (RH_CLUSTER_SLOTS - 1);
}

/* ======================== redirections ======================== */

/* Decimal digits of s[0..n) as a number in [lo, hi]; -1 otherwise. */
static long dec_in(const char *s, size_t n, long lo, long hi)
{
    long v = 0;

    if (n == 0 || n > 6)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

int rh_redirect_parse(const char *msg, size_t len, rh_redirect *out, rhai_error *err)
{
    size_t word;
    int ask;
    const char *p, *end = msg + len, *sp, *colon;
    long slot, port;

    if (len >= 6 && memcmp(msg, "MOVED ", 6) == 0)
        ask = 0, word = 6;
    else if (len >= 4 && memcmp(msg, "ASK ", 4) == 0)
        ask = 1, word = 4;
    else
        return RHAI_EINVAL;
    p = msg + word;
    sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp)
        return rh_error_set(err, RHAI_EPROTO, "%s redirect without an address",
                            ask ? "ASK" : "MOVED");
    slot = dec_in(p, (size_t)(sp - p), 0, RH_CLUSTER_SLOTS - 1);
    if (slot < 0)
        return rh_error_set(err, RHAI_EPROTO, "%s redirect with a bad slot",
                            ask ? "ASK" : "MOVED");
    p = sp + 1;
    colon = NULL;       /* the last ':' (IPv6 addresses have several) */
    for (const char *q = p; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon)
        return rh_error_set(err, RHAI_EPROTO, "%s redirect without a port",
                            ask ? "ASK" : "MOVED");
    port = dec_in(colon + 1, (size_t)(end - colon - 1), 1, 65535);
    if (port < 0)
        return rh_error_set(err, RHAI_EPROTO, "%s redirect with a bad port",
                            ask ? "ASK" : "MOVED");
    if ((size_t)(colon - p) >= RH_CLUSTER_HOST_MAX)
        return rh_error_set(err, RHAI_EPROTO, "%s redirect with a host too long",
                            ask ? "ASK" : "MOVED");
    for (const char *q = p; q < colon; q++)
        if (*q == ' ' || *q == '\0')
            return rh_error_set(err, RHAI_EPROTO, "%s redirect with a bad host",
                                ask ? "ASK" : "MOVED");
    out->ask = ask;
    out->slot = (int)slot;
    memcpy(out->host, p, (size_t)(colon - p));
    out->host[colon - p] = '\0';
    out->port = (int)port;
    return 0;
}

/* ======================== the slot map ======================== */

void rh_slot_map_init(rh_slot_map *m)
{
    m->single = 0;
    m->nnodes = 0;
    m->nodes = NULL;
    for (int i = 0; i < RH_CLUSTER_SLOTS; i++)
        m->owner[i] = -1;
}

void rh_slot_map_clear(rh_slot_map *m)
{
    rh_free(m->nodes);
    rh_slot_map_init(m);
}

int rh_slot_map_find(const rh_slot_map *m, const char *host, int port)
{
    for (size_t i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0)
            return (int)i;
    return -1;
}

int rh_slot_map_covered(const rh_slot_map *m)
{
    int n = 0;

    for (int i = 0; i < RH_CLUSTER_SLOTS; i++)
        n += m->owner[i] >= 0;
    return n;
}

int rh_slot_map_check(const rh_slot_map *m)
{
    if (m->nnodes > RH_CLUSTER_NODES_MAX || (m->nnodes && !m->nodes))
        return 0;
    for (size_t i = 0; i < m->nnodes; i++)
        for (size_t j = i + 1; j < m->nnodes; j++)
            if (m->nodes[i].port == m->nodes[j].port &&
                strcmp(m->nodes[i].host, m->nodes[j].host) == 0)
                return 0;
    for (int s = 0; s < RH_CLUSTER_SLOTS; s++) {
        int o = m->owner[s];
        if (o < -1 || o >= (int)m->nnodes || (o >= 0 && !m->nodes[o].master))
            return 0;
        if (m->single && o != 0)
            return 0;
    }
    return !m->single || m->nnodes == 1;
}

/* Add host:port (or find it): its index, or a negative RHAI_E*. A node
 * seen again as master stays master. */
static int map_add(rh_slot_map *m, const char *host, size_t hlen, long long port,
                   int master, int failed, rhai_error *err)
{
    char h[RH_CLUSTER_HOST_MAX];
    rh_cluster_node *n;
    int i;

    if (hlen == 0 || hlen >= sizeof h || memchr(host, '\0', hlen))
        return rh_error_set(err, RHAI_EPROTO, "cluster map: a node with a bad host");
    if (port < 1 || port > 65535)
        return rh_error_set(err, RHAI_EPROTO, "cluster map: a node with a bad port");
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    i = rh_slot_map_find(m, h, (int)port);
    if (i >= 0) {
        n = &m->nodes[i];
        if (master && (!n->master || (n->failed && !failed))) {
            n->master = 1;
            n->failed = failed;
        }
        return i;
    }
    if (m->nnodes >= RH_CLUSTER_NODES_MAX)
        return rh_error_set(err, RHAI_EPROTO, "cluster map: more than %d nodes",
                            RH_CLUSTER_NODES_MAX);
    n = rh_realloc(m->nodes, (m->nnodes + 1) * sizeof *n);
    if (!n)
        return rh_error_set(err, RHAI_ENOMEM, "cluster map: out of memory");
    m->nodes = n;
    n = &m->nodes[m->nnodes];
    memcpy(n->host, h, hlen + 1);
    n->port = (int)port;
    n->master = master;
    n->failed = failed;
    return (int)m->nnodes++;
}

int rh_slot_map_single(rh_slot_map *m, const char *host, int port, rhai_error *err)
{
    int rc;

    rh_slot_map_clear(m);
    if (!host[0] || strlen(host) >= RH_CLUSTER_HOST_MAX || port < 1 || port > 65535)
        return rh_error_set(err, RHAI_EINVAL, "cluster map: bad node address");
    rc = map_add(m, host, strlen(host), port, 1, 0, err);
    if (rc < 0)
        return rc;
    m->single = 1;
    for (int s = 0; s < RH_CLUSTER_SLOTS; s++)
        m->owner[s] = 0;
    return 0;
}

int rh_slot_map_set_owner(rh_slot_map *m, int slot, const char *host, int port,
                          rhai_error *err)
{
    int i;

    if (slot < 0 || slot >= RH_CLUSTER_SLOTS || m->single)
        return rh_error_set(err, RHAI_EINVAL, "cluster map: cannot give slot %d", slot);
    i = map_add(m, host, strlen(host), port, 1, 0, err);
    if (i < 0)
        return i == RHAI_EPROTO && (!host[0] || port < 1 || port > 65535)
                   ? rh_error_set(err, RHAI_EINVAL, "cluster map: bad node address") : i;
    m->nodes[i].master = 1;
    m->nodes[i].failed = 0;
    m->owner[slot] = (int16_t)i;
    return 0;
}

/* A reply element as an integer: an integer, or a string of digits (some
 * versions and proxies give numbers as strings). -1 when neither. */
static long long rep_int(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        long v = dec_in(r->str, r->len, 0, 999999);
        return v;
    }
    return -1;
}

static int rep_is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

static int rep_str_is(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return rep_is_str(r) && r->len == n && memcmp(r->str, s, n) == 0;
}

/* Give slots [lo, hi] to node 'owner'. */
static int map_own(rh_slot_map *m, long long lo, long long hi, int owner, rhai_error *err)
{
    if (lo < 0 || hi < lo || hi >= RH_CLUSTER_SLOTS)
        return rh_error_set(err, RHAI_EPROTO, "cluster map: a bad slot range");
    for (long long s = lo; s <= hi; s++)
        m->owner[s] = (int16_t)owner;
    return 0;
}

/* The address of a node: 'endpoint' unless "" or "?", else 'ip', else the
 * host the reply came from. */
static void node_addr(const redisReply *endpoint, const redisReply *ip, const char *asked,
                      const char **h, size_t *hl)
{
    const redisReply *c[2] = { endpoint, ip };

    for (int i = 0; i < 2; i++)
        if (c[i] && rep_is_str(c[i]) && c[i]->len > 0 &&
            !(c[i]->len == 1 && c[i]->str[0] == '?')) {
            *h = c[i]->str;
            *hl = c[i]->len;
            return;
        }
    *h = asked;
    *hl = strlen(asked);
}

/* One node of a CLUSTER SHARDS shard: its index (added to m), or <0. */
static int shards_node(rh_slot_map *m, const redisReply *n, const char *asked, int tls,
                       int *is_master, rhai_error *err)
{
    const redisReply *endpoint = NULL, *ip = NULL, *role = NULL, *health = NULL;
    long long port = -1, tls_port = -1;
    const char *h;
    size_t hl;
    int failed;

    if (n->type != REDIS_REPLY_ARRAY || n->elements % 2)
        return rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: a node is not a map");
    for (size_t i = 0; i < n->elements; i += 2) {
        const redisReply *k = n->element[i], *v = n->element[i + 1];
        if (rep_str_is(k, "endpoint"))
            endpoint = v;
        else if (rep_str_is(k, "ip"))
            ip = v;
        else if (rep_str_is(k, "role"))
            role = v;
        else if (rep_str_is(k, "health"))
            health = v;
        else if (rep_str_is(k, "port"))
            port = rep_int(v);
        else if (rep_str_is(k, "tls-port"))
            tls_port = rep_int(v);
    }
    if (tls && tls_port > 0)
        port = tls_port;
    if (!role || !rep_is_str(role))
        return rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: a node without a role");
    *is_master = rep_str_is(role, "master");
    failed = health && !rep_str_is(health, "online");
    node_addr(endpoint, ip, asked, &h, &hl);
    return map_add(m, h, hl, port, *is_master, failed, err);
}

int rh_slot_map_from_shards(rh_slot_map *m, const redisReply *r, const char *asked, int tls,
                            rhai_error *err)
{
    int rc = 0;

    rh_slot_map_clear(m);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: not an array");
    for (size_t s = 0; s < r->elements && rc == 0; s++) {
        const redisReply *sh = r->element[s], *slots = NULL, *nodes = NULL;
        int owner = -1, owner_failed = 1;

        if (sh->type != REDIS_REPLY_ARRAY || sh->elements % 2) {
            rc = rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: a shard is not a map");
            break;
        }
        for (size_t i = 0; i < sh->elements; i += 2) {
            if (rep_str_is(sh->element[i], "slots"))
                slots = sh->element[i + 1];
            else if (rep_str_is(sh->element[i], "nodes"))
                nodes = sh->element[i + 1];
        }
        if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY || slots->elements % 2 ||
            nodes->type != REDIS_REPLY_ARRAY) {
            rc = rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: a shard without slots "
                              "and nodes");
            break;
        }
        for (size_t i = 0; i < nodes->elements; i++) {
            int master = 0, idx = shards_node(m, nodes->element[i], asked, tls, &master, err);
            if (idx < 0) {
                rc = idx;
                break;
            }
            /* the master of the shard; an online one over a failed one */
            if (master && (owner < 0 || (owner_failed && !m->nodes[idx].failed))) {
                owner = idx;
                owner_failed = m->nodes[idx].failed;
            }
        }
        if (rc == 0 && slots->elements && owner < 0)
            rc = rh_error_set(err, RHAI_EPROTO, "CLUSTER SHARDS: a shard with slots "
                              "and no master");
        for (size_t i = 0; rc == 0 && i < slots->elements; i += 2)
            rc = map_own(m, rep_int(slots->element[i]), rep_int(slots->element[i + 1]),
                         owner, err);
    }
    if (rc != 0)
        rh_slot_map_clear(m);
    return rc;
}

int rh_slot_map_from_slots(rh_slot_map *m, const redisReply *r, const char *asked,
                           rhai_error *err)
{
    int rc = 0;

    rh_slot_map_clear(m);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return rh_error_set(err, RHAI_EPROTO, "CLUSTER SLOTS: not an array");
    for (size_t s = 0; s < r->elements && rc == 0; s++) {
        const redisReply *e = r->element[s];
        int owner = -1;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) {
            rc = rh_error_set(err, RHAI_EPROTO, "CLUSTER SLOTS: a range without a node");
            break;
        }
        for (size_t i = 2; i < e->elements; i++) {
            const redisReply *n = e->element[i];
            const char *h;
            size_t hl;
            int idx;

            if (n->type != REDIS_REPLY_ARRAY || n->elements < 2) {
                rc = rh_error_set(err, RHAI_EPROTO, "CLUSTER SLOTS: a node is not "
                                  "[host, port, ...]");
                break;
            }
            node_addr(n->element[0], NULL, asked, &h, &hl);
            idx = map_add(m, h, hl, rep_int(n->element[1]), i == 2, 0, err);
            if (idx < 0) {
                rc = idx;
                break;
            }
            if (i == 2)
                owner = idx;
        }
        if (rc == 0)
            rc = map_own(m, rep_int(e->element[0]), rep_int(e->element[1]), owner, err);
    }
    if (rc != 0)
        rh_slot_map_clear(m);
    return rc;
}

rh_cluster_opts rh_cluster_opts_of(const rh_cluster_opts *opts)
{
    rh_cluster_opts o = { 0, 0 };

    if (opts)
        o = *opts;
    if (o.redirects_max <= 0)
        o.redirects_max = RH_CLUSTER_REDIRECTS_MAX;
    if (o.retry_ms <= 0)
        o.retry_ms = RH_CLUSTER_RETRY_MS;
    return o;
}
