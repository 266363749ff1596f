/* rcluster.h -- Redis Cluster: key slots, the slot map, redirections, and
 * the router that sends each command to the node serving its slot.
 *
 * hiredis 0.14 (Debian 12) has no cluster client, so the Redis layer routes
 * by itself, the way the Redis Cluster specification describes
 * (https://redis.io/docs/reference/cluster-spec/): a key's slot is
 * CRC16-XMODEM(tag) mod 16384, where the tag is the part between the first
 * '{' and the first '}' after it when that part is not empty, else the
 * whole key. The slot map comes from CLUSTER SHARDS (Redis >= 7.0) or
 * CLUSTER SLOTS (older), and a server with cluster support disabled is one
 * node holding every slot, so the same code runs on a plain Redis.
 *
 * This header has two halves: the pure parts (no I/O: keyslot, redirect
 * and map parsers, fuzzed by tests/fuzz/fuzz_rcluster.c) and the routers
 * over the connections of rconn.h. docs/redis.md "Redis Cluster (layer)"
 * explains the behaviour for users and operators. */
#ifndef RH_RCLUSTER_H
#define RH_RCLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "rhai/error.h"

#define RH_CLUSTER_SLOTS 16384
/* Cap on the nodes of one map (masters and replicas): a reply naming more
 * is refused as RHAI_EPROTO rather than grown without bound. */
#ifndef RH_CLUSTER_NODES_MAX
#define RH_CLUSTER_NODES_MAX 1024
#endif
#define RH_CLUSTER_HOST_MAX 256     /* a node's host name or address, with NUL */

/* ======================== key slots ======================== */

/* CRC16-XMODEM (poly 0x1021, init 0) of len bytes: CRC16("123456789") is
 * 0x31c3. */
uint16_t rh_crc16(const void *buf, size_t len);
/* The hash slot (0..16383) of a key of len bytes (binary safe), with the
 * hash tag rule above: "{user1}.a" and "{user1}.b" share a slot; "{}x"
 * and "x{" hash whole; "a{b}{c}" hashes "b". */
int rh_keyslot(const char *key, size_t len);

/* ======================== redirections ======================== */

/* A MOVED or ASK error reply, as "MOVED 3999 127.0.0.1:6381". */
typedef struct rh_redirect {
    int  ask;                       /* 1: ASK (one command), 0: MOVED */
    int  slot;                      /* 0..16383 */
    char host[RH_CLUSTER_HOST_MAX]; /* "" when the node gave none: the
                                       node that replied is meant */
    int  port;                      /* 1..65535 */
} rh_redirect;

/* Parse the text of an error reply (without the leading '-', as hiredis
 * gives it in reply->str; len bytes, need not be NUL-terminated). 0 and
 * *out filled when it is a well-formed MOVED or ASK; RHAI_EINVAL when it
 * is another error (nothing written, err untouched: the common case);
 * RHAI_EPROTO with the reason in err (may be NULL) when it starts with
 * MOVED or ASK but is malformed (slot out of range, no port, host too
 * long). IPv6 hosts work: the port follows the last ':'. */
int rh_redirect_parse(const char *msg, size_t len, rh_redirect *out, rhai_error *err);

/* ======================== the slot map ======================== */

typedef struct rh_cluster_node {
    char host[RH_CLUSTER_HOST_MAX];
    int  port;
    int  master;                    /* 1: serves slots (owner[] points here) */
    int  failed;                    /* health was not "online" (SHARDS) */
} rh_cluster_node;

/* Invariants (rh_slot_map_check): nnodes <= RH_CLUSTER_NODES_MAX; no two
 * nodes have the same host and port; every owner[] is -1 or the index of
 * a master; single implies nnodes == 1 and every slot owned by node 0. */
typedef struct rh_slot_map {
    int              single;        /* 1: a server without cluster support */
    size_t           nnodes;
    rh_cluster_node *nodes;         /* owned (rh_free), masters and replicas */
    int16_t          owner[RH_CLUSTER_SLOTS];   /* node index, -1: no node */
} rh_slot_map;

/* An empty map (no nodes, every owner -1). */
void rh_slot_map_init(rh_slot_map *m);
/* Free the nodes and empty the map again. */
void rh_slot_map_clear(rh_slot_map *m);
/* A map of one node, host:port, holding every slot (single = 1).
 * 0 or RHAI_ENOMEM / RHAI_EINVAL (host too long). */
int  rh_slot_map_single(rh_slot_map *m, const char *host, int port, rhai_error *err);
/* Build *m (cleared first) from a CLUSTER SHARDS reply. 'asked' is the
 * host the reply came from, used for a node whose endpoint is "" or "?";
 * 'tls': take each node's "tls-port" (a cluster with tls-cluster yes)
 * and fall back to "port". A node's address is its "endpoint", else its
 * "ip". Of a shard's nodes, the one with role "master" (an online one
 * when there are several) owns its slots. 0; RHAI_EPROTO with the reason
 * when the reply has another shape (m is left empty); RHAI_ENOMEM. */
int  rh_slot_map_from_shards(rh_slot_map *m, const redisReply *r, const char *asked,
                             int tls, rhai_error *err);
/* The same from a CLUSTER SLOTS reply: [start, end, [host, port, id, ...]
 * (the master), [replica]...] per range. */
int  rh_slot_map_from_slots(rh_slot_map *m, const redisReply *r, const char *asked,
                            rhai_error *err);
/* Index of host:port in m->nodes, or -1. */
int  rh_slot_map_find(const rh_slot_map *m, const char *host, int port);
/* Make host:port (added as a master if new) the owner of 'slot': what a
 * MOVED says before the map read again agrees. 0, RHAI_EINVAL (bad slot,
 * host or port; single map), RHAI_EPROTO (RH_CLUSTER_NODES_MAX nodes
 * already), RHAI_ENOMEM. */
int  rh_slot_map_set_owner(rh_slot_map *m, int slot, const char *host, int port,
                           rhai_error *err);
/* Number of slots with an owner (16384 on a healthy cluster). */
int  rh_slot_map_covered(const rh_slot_map *m);
/* The invariants above hold (for assert and tests). */
int  rh_slot_map_check(const rh_slot_map *m);

/* ======================== the sync router ======================== */

#include "common/rconn.h"

/* Limits of one routed command (rh_cluster_opts overrides them). */
#ifndef RH_CLUSTER_REDIRECTS_MAX
#define RH_CLUSTER_REDIRECTS_MAX 5      /* MOVED + ASK + TRYAGAIN followed */
#endif
#ifndef RH_CLUSTER_RETRY_MS
#define RH_CLUSTER_RETRY_MS 10000       /* retrying a lost node or CLUSTERDOWN */
#endif
#define RH_CLUSTER_BACKOFF_MIN_MS 20    /* between retries, doubling ... */
#define RH_CLUSTER_BACKOFF_MAX_MS 500   /* ... to this */

/* rh_cluster_command* flags */
#define RH_CLUSTER_RESEND 1   /* the command may run twice (a read, or a script
                                 written for at-least-once): resend it after a
                                 connection lost once it was written */
/* rh_cluster_command* slot for a command without keys: any master */
#define RH_CLUSTER_ANY (-1)

/* A router over sync connections (rh_sconn): one lazy connection per node
 * it talks to, the slot map, and the rules of the cluster specification:
 *
 *  - A command goes to the master owning its slot. The caller names the
 *    slot (rh_cluster_command_argv) or the key it is routed by
 *    (rh_cluster_command_key: for EVALSHA, KEYS[1]); every key of one
 *    command must share the slot (hash tags), as Redis requires
 *    (CROSSSLOT otherwise, returned as the error reply it is).
 *  - MOVED: the slot changed owner. The map is refreshed (CLUSTER SHARDS
 *    from a node that answers) and the command sent to the new owner; the
 *    redirect's node wins when the refreshed map still disagrees.
 *  - ASK: the slot is migrating and this key is already on the target:
 *    ASKING plus the command are sent there, pipelined; the map is not
 *    changed.
 *  - TRYAGAIN (a multi-key command during a migration): resent after a
 *    backoff. The three count together against redirects_max.
 *  - A node that cannot be reached (connect fails), or a CLUSTERDOWN
 *    reply: the map is refreshed from the other nodes (masters, then
 *    replicas, then the seed) and the command retried with backoff
 *    (RH_CLUSTER_BACKOFF_*) until retry_ms has passed: a failover is
 *    followed. A connection lost after the command was written is retried
 *    the same way only with RH_CLUSTER_RESEND; without it the command
 *    fails with RHAI_ECONN ("may have run") and the map is refreshed so
 *    the next command finds the new master.
 *  - A server with cluster support disabled (INFO: cluster_enabled:0) is a
 *    map of one node with every slot: the router then is one connection.
 *
 * Each node's connection uses the seed's configuration (password, db, TLS
 * files and options, limits) with the node's host and port; over TLS the
 * node's host is the name verified unless the seed sets tls_sni (a
 * cluster under one certificate name). A router is not thread-safe; every
 * call blocks for at most about retry_ms plus one command's io_ms. */
typedef struct rh_cluster rh_cluster;

typedef struct rh_cluster_opts {
    int     redirects_max;    /* <= 0: RH_CLUSTER_REDIRECTS_MAX */
    int64_t retry_ms;         /* <= 0: RH_CLUSTER_RETRY_MS */
} rh_cluster_opts;

/* 'opts' (NULL: none given) with every default filled in: what both
 * routers keep. */
rh_cluster_opts rh_cluster_opts_of(const rh_cluster_opts *opts);

/* Connect to the seed (cfg, copied), read the slot map from it and keep
 * that connection. 'opts' may be NULL (defaults). On 0, *out is new
 * (rh_cluster_free). Otherwise *out is NULL and err says why: the errors
 * of rh_sconn_open (RHAI_ECONN, RHAI_ETIMEOUT, RHAI_ETLS, RHAI_EINVAL),
 * RHAI_EPROTO (the map reply had another shape), RHAI_ENOMEM. */
int  rh_cluster_open(const rh_redis_cfg *cfg, const rh_cluster_opts *opts, rh_cluster **out,
                     rhai_error *err);
/* Send one command to the node of 'slot' (0..16383, or RH_CLUSTER_ANY)
 * following the rules above. On 0, *out is the new reply
 * (freeReplyObject), which may be an error reply other than a redirect
 * (CROSSSLOT, NOSCRIPT, WRONGTYPE, ...: the caller's to judge). Errors:
 * RHAI_EINVAL (bad slot or argc), RHAI_ECONN (no node answered within
 * retry_ms; or lost after writing, without RH_CLUSTER_RESEND; or more
 * than redirects_max redirections), RHAI_ETIMEOUT, RHAI_ETLS,
 * RHAI_EPROTO, RHAI_ENOMEM; err names the node and the slot. */
int  rh_cluster_command_argv(rh_cluster *c, int slot, unsigned flags, int argc,
                             const char **argv, const size_t *lens, redisReply **out,
                             rhai_error *err);
/* The same, routed by the slot of key (keylen bytes). */
int  rh_cluster_command_key(rh_cluster *c, const char *key, size_t keylen, unsigned flags,
                            int argc, const char **argv, const size_t *lens,
                            redisReply **out, rhai_error *err);
/* The connection to the master of 'slot' (or RH_CLUSTER_ANY), connected
 * if need be, for a caller that pipelines several commands of that slot
 * itself (rh_link). Borrowed: valid until the next call on c. A reply that
 * is a redirect is the caller's to follow (rh_cluster_command_argv does).
 * 0, or the errors of rh_sconn_open; RHAI_ECONN (no node serves it). */
int  rh_cluster_conn(rh_cluster *c, int slot, rh_sconn **out, rhai_error *err);
/* Read the map again now (from the nodes known, then the seed). 0, or the
 * last node's error; the old map is kept on failure. */
int  rh_cluster_refresh(rh_cluster *c, rhai_error *err);
/* The current map (borrowed: valid until the next call on c). */
const rh_slot_map *rh_cluster_map(const rh_cluster *c);
/* Counters since open, for logs, metrics and tests. */
typedef struct rh_cluster_stats {
    uint64_t moved;           /* MOVED followed */
    uint64_t ask;             /* ASK followed */
    uint64_t tryagain;        /* TRYAGAIN resent */
    uint64_t refreshes;       /* maps read (the first included) */
    uint64_t retries;         /* resends after a lost node or CLUSTERDOWN */
} rh_cluster_stats;
void rh_cluster_get_stats(const rh_cluster *c, rh_cluster_stats *out);
void rh_cluster_free(rh_cluster *c);             /* NULL: no-op */


/* ======================== the async router ======================== */

/* The same rules on a libuv loop, over rh_aconn connections (one per node,
 * made with queue_connecting so a new node's first command waits for its
 * handshake). Differences from the sync router:
 *  - Requests that need the map (the first ones, and those retried after
 *    a lost node or CLUSTERDOWN) wait until the map read in flight ends;
 *    at most one map read runs at a time. MOVED patches the slot's owner
 *    from the redirect, resends at once and refreshes in the background.
 *  - Backoff waits are timers, never sleeps.
 *  - "Written" is known from the connection: a command accepted while its
 *    node was up, or whose node came up after it was held, may have run;
 *    one held by a connection that never came up did not.
 *  - Connections to nodes that left the map are kept (they reconnect by
 *    themselves) until rh_acluster_close.
 * Loop thread only. */
typedef struct rh_acluster rh_acluster;

/* A request's end: 'r' is the reply (borrowed: valid during the call;
 * error replies other than redirects included), or NULL and 'err' says
 * why (the codes of rh_cluster_command_argv, and RHAI_ECANCELED when
 * rh_acluster_close was called first). Runs exactly once per accepted
 * request, never from inside rh_acluster_command_argv. */
typedef void (*rh_acluster_reply_fn)(rh_acluster *c, redisReply *r, const rhai_error *err,
                                     void *priv);
typedef void (*rh_acluster_fn)(rh_acluster *c, void *data);

/* A new router on 'loop' seeded with cfg (copied); it starts reading the
 * map at once. opts may be NULL. 0 and *out new (rh_acluster_close frees
 * it); RHAI_EINVAL (rh_redis_cfg_check), RHAI_ETLS, RHAI_ENOMEM. A seed
 * that cannot be reached is not an error here: requests fail with
 * RHAI_ECONN after retry_ms. */
int  rh_acluster_new(uv_loop_t *loop, const rh_redis_cfg *cfg, const rh_cluster_opts *opts,
                     rh_acluster **out, rhai_error *err);
/* Route one command to 'slot' (0..16383 or RH_CLUSTER_ANY); flags as the
 * sync router's. argv/lens are copied. 0: cb will run once; RHAI_EINVAL
 * (bad slot, argc, cb NULL), RHAI_ESTATE (closing), RHAI_ENOMEM: cb never
 * runs. */
int  rh_acluster_command_argv(rh_acluster *c, int slot, unsigned flags,
                              rh_acluster_reply_fn cb, void *priv, int argc,
                              const char **argv, const size_t *lens, rhai_error *err);
/* The current map (borrowed; empty until the first read succeeded). */
const rh_slot_map *rh_acluster_map(const rh_acluster *c);
void rh_acluster_get_stats(const rh_acluster *c, rh_cluster_stats *out);
/* Fail every request not finished with RHAI_ECANCELED (their callbacks
 * run from inside this call), close every connection, then call
 * on_closed(c, data) (may be NULL) from a close callback and free c.
 * NULL or twice: no-op. */
void rh_acluster_close(rh_acluster *c, rh_acluster_fn on_closed, void *data);

#endif
