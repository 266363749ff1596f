/* rlink.h -- the blocking Redis link of the sync client (librhai-client)
 * and rhaictl / rhai-web: configuration from the caller and the
 * environment, and pipelines routed by slot (rcluster.h).
 *
 * One rh_link is one sync router (rh_cluster): on a plain Redis one
 * connection, on a Redis Cluster one per node it talks to. A pipeline
 * whose commands all route to one slot (or need none) is written at once
 * to that slot's master and read back in order, as hiredis pipelines were;
 * one that spans slots is sent command by command through the router. A
 * MOVED, ASK, TRYAGAIN or CLUSTERDOWN reply inside a pipeline is followed
 * by sending that command again through the router (it did not run), as
 * is a pipeline whose slot's master cannot be reached: the router retries
 * a lost node and CLUSTERDOWN until its retry_ms (a failover). */
#ifndef RH_RLINK_H
#define RH_RLINK_H

#include "common/rcluster.h"

#define RH_PREFIX_DEFAULT "rhai"

/* Resolve a client's settings: 'url' (NULL: $RHAI_REDIS_URL; NULL or ""
 * there too: redis://127.0.0.1:6379; rediss:// with its ?ca=...
 * options accepted), then, for rediss:// only, the environment's
 * RHAI_REDIS_TLS_CA, _CERT, _KEY, _SNI and _VERIFY when set and not empty
 * (as rhaid reads them); 'prefix' (NULL: RH_PREFIX_DEFAULT; else
 * 1..RH_PREFIX_MAX characters of rh_name_valid) copied into 'out_prefix'.
 * 0, or RHAI_EINVAL with the reason; nothing is connected. */
int rh_link_config(const char *url, const char *prefix, rh_redis_cfg *cfg,
                   char out_prefix[RH_PREFIX_MAX + 1], rhai_error *err);

/* The slot a command routes by (its first key: KEYS[1] of EVAL/EVALSHA/
 * FCALL, the first stream of XREAD, argv[1] otherwise), or RH_CLUSTER_ANY
 * for a command without keys (MULTI, EXEC, PING, INFO, SCRIPT, SCAN,
 * PUBLISH, ...). */
int rh_link_cmd_slot(int argc, const char *const *argv, const size_t *lens);

/* Split a command encoded by redisFormatCommand ("*N\r\n$L\r\n...",
 * n bytes, as hiredis makes it: trusted) into at most max arguments:
 * argv[i] points into cmd, lens[i] its length. The count, or -1 when it
 * has more than max or is not of that shape. */
int rh_link_resp_split(const char *cmd, size_t n, int max, const char **argv, size_t *lens);

typedef struct rh_link rh_link;

/* Connect to cfg (its connect_ms and io_ms), read the slot map. 0 and
 * *out new (rh_link_free); else the errors of rh_cluster_open: RHAI_ECONN
 * (unreachable, AUTH/SELECT refused), RHAI_ETIMEOUT, RHAI_ETLS, ... */
int  rh_link_open(const rh_redis_cfg *cfg, rh_link **out, rhai_error *err);
/* The same with the router's options (NULL: the defaults), as a shorter
 * retry_ms for a caller that would rather fail fast than wait out a
 * failover (rhai-web's chart sampler). */
int  rh_link_open_opts(const rh_redis_cfg *cfg, const rh_cluster_opts *opts, rh_link **out,
                       rhai_error *err);
/* Send n commands (lens[i] may be NULL: strlen) and read their replies
 * into replies[] (new, freeReplyObject). Error replies are replies. On
 * failure nothing is returned and the error is RHAI_ECONN (lost: the
 * commands may have run), RHAI_ETIMEOUT, RHAI_ETLS, RHAI_EPROTO,
 * RHAI_ENOMEM; the link is then best freed and opened again. */
int  rh_link_pipeline(rh_link *l, int n, const int *argcs, const char **const *argvs,
                      const size_t *const *lens, redisReply **replies, rhai_error *err);
/* The same in two halves: send (append to the node's output; nothing is
 * written before the first read) then read k replies at a time, in order.
 * A pipeline spanning slots runs at the send, command by command: a send
 * that fails ran none of them; when a later command fails after the first
 * ones ran, the send succeeds and the read of that command's reply
 * returns its error (a submit's task is then queued although its hint
 * was not written).
 * The caller's argv must stay valid until every reply was read (a
 * redirected command is sent again). A send while replies are unread
 * reads and drops them first. */
int  rh_link_send(rh_link *l, int n, const int *argcs, const char **const *argvs,
                  const size_t *const *lens, rhai_error *err);
int  rh_link_read(rh_link *l, int k, redisReply **replies, rhai_error *err);
/* One command. */
int  rh_link_command(rh_link *l, int argc, const char **argv, const size_t *lens,
                     redisReply **reply, rhai_error *err);
/* One slot of each master of the map (RH_CLUSTER_ANY alone on a plain
 * Redis), at most max, for a command every master must run (SCAN): send
 * it with rh_link_command_slot. The count. */
int  rh_link_masters(rh_link *l, int *slots, int max);
/* One command to the master of 'slot' (redirects followed; the command is
 * sent again after a lost connection: reads only). */
int  rh_link_command_slot(rh_link *l, int slot, int argc, const char **argv,
                          const size_t *lens, redisReply **reply, rhai_error *err);
/* The router underneath (borrowed), for its map and stats. */
rh_cluster *rh_link_router(rh_link *l);
void rh_link_free(rh_link *l);                   /* NULL: no-op */

#endif
