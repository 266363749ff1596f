/* redisconn.h -- open a blocking hiredis connection from a Redis URL.
 *
 * The sync client (src/client/client.c) and rhaictl's plain connection
 * (src/ctl/redis.c) resolve the URL and the key prefix, connect,
 * authenticate and select the database through these two calls, so one URL
 * means the same server, user and db to both and they word failures alike.
 * The async client and rhaid do the same handshake without blocking
 * (src/client/async.c, src/daemon/redis.c). */
#ifndef RH_REDISCONN_H
#define RH_REDISCONN_H

#include <stdint.h>
#include <hiredis/hiredis.h>

#include "common/common.h"

#define RH_PREFIX_DEFAULT "rhai"

/* Resolve a client's settings: 'url' (NULL: $RHAI_REDIS_URL; NULL or ""
 * there too: redis://127.0.0.1:6379) parsed into *u, and 'prefix' (NULL:
 * RH_PREFIX_DEFAULT; else 1..RH_PREFIX_MAX characters of rh_name_valid)
 * copied into 'out_prefix'. The URL is checked first. 0, or RHAI_EINVAL
 * with the reason in 'err' (may be NULL); nothing is connected. */
int rh_redisconn_config(const char *url, const char *prefix, rh_url *u,
                        char out_prefix[RH_PREFIX_MAX + 1], rhai_error *err);

/* Connect to 'u' within 'connect_ms', give every later read and write a
 * socket timeout of 'io_ms', then send AUTH (when u has a password: with
 * its user when it has one) and SELECT (when u->db is not 0), each with
 * SIGPIPE held off (rh_nopipe). 'where' names the server in messages: pass
 * the URL without its password (rh_url_format_safe). On 0, *out is a new
 * context (redisFree). Otherwise *out is NULL and 'err' (may be NULL) says
 * why: RHAI_ENOMEM, or RHAI_ECONN (unreachable, timed out, AUTH or SELECT
 * refused, connection lost). Blocks for up to connect_ms plus two io_ms. */
int rh_redisconn_open(const rh_url *u, const char *where, int64_t connect_ms,
                      int64_t io_ms, redisContext **out, rhai_error *err);

#endif
