/* rconn.h -- the one Redis connection layer: URL + TLS options, connect,
 * AUTH/SELECT, sync and async (libuv) connections, reconnect, guarded sends.
 *
 * The layer owns the socket (TCP or unix) and, for rediss://, an OpenSSL
 * session (rtls.c); hiredis is used for RESP only: redisFormatCommandArgv
 * encodes, a redisReader parses, so callers still get `redisReply *`.
 * hiredis 0.14 reads and writes its socket itself and cannot do TLS, which
 * is why the I/O is ours (PLAN18.md: no stunnel sidecar).
 *
 * What it replaced (issue 18 wave 2 moved every user onto it; the old
 * code is gone):
 *
 *   today                                    here
 *   rh_url_parse (refuses rediss://)         rh_redis_cfg_init (rh_url_parse_ex with
 *                                            RH_URL_TLS: rediss://, ?ca= &cert= ...)
 *   rh_redisconn_open (redisContext)         rh_sconn_open (rh_sconn)
 *   redisCommandArgv(rc, ...)                rh_sconn_command_argv
 *   redisAppendCommandArgv / redisGetReply   rh_sconn_append_argv / rh_sconn_get_reply
 *   redisFree                                rh_sconn_free
 *   rc->fd + redisBufferRead +               rh_sconn_fd + rh_sconn_read_some +
 *     redisGetReplyFromReader (ctl top)        rh_sconn_take_reply
 *   redisSetTimeout                          rh_sconn_set_io_ms
 *   wk_conn_init + wk_conn_start             rh_aconn_new (starts connecting at once)
 *   wk_conn_argv / wk_conn_cmd               rh_aconn_command_argv / rh_aconn_command
 *     (RHAI_ECONN when down, cb not run)       (same guard, same contract)
 *   wk_conn.on_up / on_down / on_closed      rh_aconn_opts.on_up / on_down / on_closed
 *   wk_conn.up, .reconnects                  rh_aconn_is_up, rh_aconn_reconnects
 *   wk_conn_close                            rh_aconn_close
 *   WK_CONN_FAIL_* + rate-limited logs       RH_RCONN_FAIL_* (+ TLS), same log events
 *   aconn (client async.c) "cmd"/"pop"       two rh_aconn with opts.queue_connecting = 1
 *     aconn_drop (BLPOP watchdog)              rh_aconn_drop
 *     on_connect -> pop_issue/recheck          opts.on_up
 *     on_disconnect -> recheck flag            opts.on_down
 *   rh_uvredis_attach / rh_uvredis_flush     built in (same write-before-poll uv_prepare) /
 *                                            rh_aconn_flush
 *
 *   rh_redisconn_config (env, prefix)        rh_link_config (rlink.h: RHAI_REDIS_URL, then
 *                                            RHAI_REDIS_TLS_* for rediss://)
 *
 * Wave 2 notes: rhaid exits 5 on RHAI_ETLS at start (src/daemon/main.c
 * maps codes to exit codes); wk_conn's heartbeat-bounded backoff ceiling
 * is opts.backoff_max_ms; the client's "pop" BLPOP watchdog calls
 * rh_aconn_drop; its "recheck after the pop connection was lost" hangs on
 * opts.on_down/on_up. A guarded send never runs its callback (the STYLE.md
 * contract, as wk_conn_argv today), rather than calling it with NULL.
 *
 * Errors: RHAI_EINVAL (bad URL or option), RHAI_ENOMEM, RHAI_ECONN
 * (unreachable, refused, lost, AUTH/SELECT refused), RHAI_ETIMEOUT (sync:
 * connect_ms or io_ms passed), RHAI_ETLS (TLS files unreadable, handshake
 * failed, certificate not verified: the message names the verify error,
 * e.g. "certificate verify failed: certificate has expired"), RHAI_EPROTO
 * (the server sent bytes that are not RESP). Messages start with 'where'
 * (the URL without its password) and never contain the password. */
#ifndef RH_RCONN_H
#define RH_RCONN_H

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>
#include <hiredis/hiredis.h>

#include "common/common.h"

/* Protocol defaults of the connection layer (ms). */
#ifndef RH_REDIS_CONNECT_MS
#define RH_REDIS_CONNECT_MS 5000     /* connect + TLS handshake + AUTH/SELECT/PING */
#endif
#ifndef RH_REDIS_IO_MS
#define RH_REDIS_IO_MS 30000         /* sync: one command's longest wait */
#endif
#ifndef RH_RCONN_BACKOFF_MIN_MS
#define RH_RCONN_BACKOFF_MIN_MS 50   /* first reconnect delay, doubling */
#endif
#ifndef RH_RCONN_BACKOFF_MAX_MS
#define RH_RCONN_BACKOFF_MAX_MS 1000 /* default ceiling (opts.backoff_max_ms) */
#endif
#ifndef RH_RCONN_MISCONF_MIN_MS
#define RH_RCONN_MISCONF_MIN_MS 1000 /* AUTH/SELECT/TLS refused: does not fix itself */
#endif
#ifndef RH_RCONN_MISCONF_MAX_MS
#define RH_RCONN_MISCONF_MAX_MS 30000
#endif
#ifndef RH_RCONN_LOG_WINDOW_MS
#define RH_RCONN_LOG_WINDOW_MS 30000 /* one failed-attempt line per reason per window */
#endif

/* ======================== configuration ======================== */

/* A connection's settings: the parsed URL (its TLS options included, see
 * rh_url in common.h) and the two time limits. Plain data: copy freely. */
typedef struct rh_redis_cfg {
    rh_url  url;
    int64_t connect_ms;      /* > 0; default RH_REDIS_CONNECT_MS */
    int64_t io_ms;           /* sync only; > 0; default RH_REDIS_IO_MS */
} rh_redis_cfg;

/* Parse 'url' (NULL or "": redis://127.0.0.1:6379) into *cfg with the
 * default limits. Accepts rediss:// and its query options:
 *   rediss://[[user]:pass@]host[:port][/db][?ca=FILE&cert=FILE&key=FILE&sni=NAME&verify=yes|no]
 * 0, or RHAI_EINVAL with the reason; *cfg written only on success. */
int  rh_redis_cfg_init(rh_redis_cfg *cfg, const char *url, rhai_error *err);
/* Set one option by name, as a config file or the environment gives it:
 * "tls_ca", "tls_cert", "tls_key", "tls_sni" (a file or name; "" clears),
 * "tls_verify" ("yes"/"no"), "tls" ("yes"/"no": rediss:// without
 * changing the URL), "connect_ms", "io_ms" (a positive integer). Options
 * override what the URL said. 0, or RHAI_EINVAL (unknown name, bad value,
 * too long); *cfg unchanged on failure. */
int  rh_redis_cfg_set(rh_redis_cfg *cfg, const char *name, const char *value,
                      rhai_error *err);
/* Consistency once every option is set: a client cert needs its key and
 * the other way round; TLS options without TLS are an error (a CA file
 * on redis:// would silently do nothing). 0, or RHAI_EINVAL. The open
 * and new functions below call it. */
int  rh_redis_cfg_check(const rh_redis_cfg *cfg, rhai_error *err);
/* For rediss://, load the CA, client certificate and key files now, as a
 * connection would, without connecting: 0 (or not TLS), RHAI_ETLS naming
 * the file and why ("URL: TLS: cannot load the CA file 'F' (tls_ca):
 * ..."), RHAI_ENOMEM. So a daemon can refuse a file that cannot work at
 * start, whether or not Redis is up. */
int  rh_redis_cfg_tls_check(const rh_redis_cfg *cfg, rhai_error *err);
/* The URL without its password (rh_url_format_safe), for 'where'. */
void rh_redis_cfg_where(const rh_redis_cfg *cfg, char *buf, size_t n);

/* ======================== sync connection ======================== */

/* A blocking connection: one thread at a time. Every wait is bounded:
 * connect + handshake by connect_ms, each command by io_ms. After an I/O
 * error or a timeout the connection is dead (the reply stream could be
 * out of step) and every later call fails at once with RHAI_ECONN. A Redis
 * error reply is not a failure: it comes back as a REDIS_REPLY_ERROR. */
typedef struct rh_sconn rh_sconn;

/* Connect to cfg within cfg->connect_ms: socket, TLS handshake (rediss://;
 * chain verified against tls_ca or the system store, and the peer's name
 * against tls_sni or the URL's host, DNS name or IP; verify=no skips
 * both), then AUTH (with the user when the URL has one), SELECT (db not
 * 0) and PING, pipelined in one write. 'where' (borrowed for the call;
 * NULL: computed) names the server in messages. On 0, *out is new
 * (rh_sconn_free). Otherwise *out is NULL and err says why: RHAI_EINVAL,
 * RHAI_ENOMEM, RHAI_ECONN ("connection refused", "AUTH refused: WRONGPASS
 * ...", "SELECT refused: ..."), RHAI_ETIMEOUT, RHAI_ETLS ("certificate
 * verify failed: unable to get local issuer certificate", "...: certificate
 * has expired", "...: hostname mismatch", "the server requires a client
 * certificate (tls_cert, tls_key)"). SIGPIPE never reaches the process. */
int  rh_sconn_open(const rh_redis_cfg *cfg, const char *where, rh_sconn **out,
                   rhai_error *err);
/* One command and its reply. On 0, *out is a new reply (freeReplyObject).
 * RHAI_ECONN, RHAI_ETIMEOUT, RHAI_ETLS, RHAI_EPROTO, RHAI_ENOMEM. */
int  rh_sconn_command_argv(rh_sconn *c, int argc, const char **argv, const size_t *lens,
                           redisReply **out, rhai_error *err);
/* The same with a hiredis format string (redisCommand's). */
int  rh_sconn_command(rh_sconn *c, redisReply **out, rhai_error *err, const char *fmt, ...);
/* Pipelining: append commands to the output buffer (nothing is sent: 0 or
 * RHAI_ENOMEM / RHAI_ECONN when dead), then read their replies in order
 * with rh_sconn_get_reply, which first writes whatever is buffered. */
int  rh_sconn_append_argv(rh_sconn *c, int argc, const char **argv, const size_t *lens,
                          rhai_error *err);
int  rh_sconn_append(rh_sconn *c, rhai_error *err, const char *fmt, ...);
/* rh_sconn_append with a va_list (rhaictl's printf-like wrappers). */
int  rh_sconn_vappend(rh_sconn *c, rhai_error *err, const char *fmt, va_list ap);
int  rh_sconn_get_reply(rh_sconn *c, redisReply **out, rhai_error *err);
/* Event-driven reading (rhaictl top's SUBSCRIBE connection, which polls
 * its socket with stdin): poll rh_sconn_fd for POLLIN, then
 * rh_sconn_read_some takes everything the socket (and the TLS layer)
 * holds now without blocking, and rh_sconn_take_reply hands out complete
 * replies without any I/O (*out NULL: none complete). fd -1 once dead.
 * Reading until "would block" leaves nothing inside OpenSSL's buffer, so
 * the fd's readiness is the whole truth. RHAI_ECONN/ETLS/EPROTO/ENOMEM. */
int  rh_sconn_fd(const rh_sconn *c);
int  rh_sconn_read_some(rh_sconn *c, rhai_error *err);
int  rh_sconn_take_reply(rh_sconn *c, redisReply **out, rhai_error *err);
/* Change the io limit of later calls (a long BLPOP); ms > 0. */
void rh_sconn_set_io_ms(rh_sconn *c, int64_t ms);
/* 1 while usable (no I/O error or timeout yet). */
int  rh_sconn_ok(const rh_sconn *c);
/* 1 when the connection is TLS. */
int  rh_sconn_is_tls(const rh_sconn *c);
void rh_sconn_free(rh_sconn *c);                 /* NULL: no-op */

/* ======================== async connection ======================== */

/* A connection on a libuv loop that reconnects by itself. States:
 *   down        no socket; the timer is the backoff before the next attempt
 *   connecting  socket connecting, TLS handshake, AUTH/SELECT/PING sent;
 *               the timer is the connect timeout (connect_ms)
 *   up          the handshake was answered OK; commands are sent
 *   closing     rh_aconn_close was called
 * Guarded sends: a command is accepted only when up (or, with
 * opts.queue_connecting, connecting: then it is sent after the handshake,
 * as hiredis queued commands before connect). Otherwise the call returns
 * RHAI_ECONN at once, fills 'err' with the last failure, and the callback
 * never runs: nothing is queued on a dead socket. An accepted command's
 * callback runs exactly once: with its reply, or with NULL when the
 * connection is lost or closed first (every pending callback, in order).
 *
 * Reconnect: after a loss or a failed attempt, the next attempt comes
 * after a delay drawn in [d/2, d], d starting at RH_RCONN_BACKOFF_MIN_MS and
 * doubling to opts.backoff_max_ms; after a refused AUTH or SELECT or a TLS
 * verification failure (a misconfiguration that does not fix itself) from
 * RH_RCONN_MISCONF_MIN_MS doubling to RH_RCONN_MISCONF_MAX_MS. Failed
 * attempts are logged (events redis_connect_failed, redis_auth_failed,
 * redis_select_failed, redis_not_ready, redis_tls_failed) at most once per
 * reason per RH_RCONN_LOG_WINDOW_MS; redis_up and redis_down once each.
 *
 * Writes are batched per loop turn: a command issued in a loop iteration
 * is written, with every other command of that iteration, from a
 * uv_prepare right before the loop polls (as uvredis.c does).
 *
 * Loop thread only. Callbacks may issue commands, drop or close the
 * connection; the memory is freed only after on_closed returns. */
typedef struct rh_aconn rh_aconn;

/* 'r' is borrowed: valid during the call only (freed after it returns).
 * NULL: the connection failed before the reply, or was closed. */
typedef void (*rh_reply_fn)(rh_aconn *c, redisReply *r, void *priv);
typedef void (*rh_aconn_fn)(rh_aconn *c, void *data);

typedef enum {
    RH_RCONN_FAIL_NONE,          /* up, or never tried */
    RH_RCONN_FAIL_NET,           /* socket: refused, reset, timeout, closed */
    RH_RCONN_FAIL_TLS,           /* TLS handshake or verification (RHAI_ETLS) */
    RH_RCONN_FAIL_AUTH,          /* AUTH refused, or NOAUTH/WRONGPASS/NOPERM */
    RH_RCONN_FAIL_SELECT,        /* SELECT refused (db out of range) */
    RH_RCONN_FAIL_NOT_READY      /* PING refused otherwise (LOADING, ...) */
} rh_rconn_fail;

typedef struct rh_aconn_opts {
    const char *name;            /* for logs ("cmd", "pop"); borrowed for life */
    int64_t     backoff_max_ms;  /* <= 0: RH_RCONN_BACKOFF_MAX_MS; min the min */
    int         queue_connecting;/* 1: accept commands while connecting */
    rh_aconn_fn on_up;           /* each time the handshake succeeds */
    rh_aconn_fn on_down;         /* once per loss of an up connection, after every
                                    pending callback ran with NULL (not on close) */
    rh_aconn_fn on_closed;       /* once, after rh_aconn_close finished */
    /* Called with every MOVED or ASK error reply (a Redis Cluster
     * redirect), before the command's own callback gets it: the caller
     * routing by slot retargets the connection (rh_aconn_retarget). NULL:
     * none. Must not close the connection. */
    void      (*on_redirect)(rh_aconn *c, const redisReply *r, void *data);
    void       *data;            /* passed to the four above */
} rh_aconn_opts;

/* A new connection on 'loop' that starts its first attempt at once (the
 * socket is opened from this call; failures go to the backoff path, not
 * to the return value). cfg and opts are copied (opts->name is borrowed).
 * 0 and *out new (rh_aconn_close frees it); RHAI_EINVAL (cfg check, TLS
 * files: RHAI_ETLS when a CA/cert/key file cannot be loaded), RHAI_ENOMEM;
 * *out NULL then. */
int  rh_aconn_new(uv_loop_t *loop, const rh_redis_cfg *cfg, const rh_aconn_opts *opts,
                  rh_aconn **out, rhai_error *err);
/* Send one command (see the guard above). 'cb' may be NULL: the reply is
 * dropped. 0; RHAI_ECONN (not up: cb never runs, err = the last failure);
 * RHAI_ENOMEM. argv/lens are copied (encoded) before return. */
int  rh_aconn_command_argv(rh_aconn *c, rh_reply_fn cb, void *priv, int argc,
                           const char **argv, const size_t *lens, rhai_error *err);
/* The same with a hiredis format string. */
int  rh_aconn_command(rh_aconn *c, rh_reply_fn cb, void *priv, rhai_error *err,
                      const char *fmt, ...);
/* rh_aconn_command with a va_list. */
int  rh_aconn_vcommand(rh_aconn *c, rh_reply_fn cb, void *priv, rhai_error *err,
                       const char *fmt, va_list ap);
int  rh_aconn_is_up(const rh_aconn *c);
/* Why the last attempt failed or the connection was lost (code 0: never). */
const rhai_error *rh_aconn_last_error(const rh_aconn *c);
rh_rconn_fail     rh_aconn_last_fail(const rh_aconn *c);
uint64_t rh_aconn_reconnects(const rh_aconn *c);  /* attempts after the first */
void    *rh_aconn_data(const rh_aconn *c);        /* opts.data */
/* Drop the socket now as if it failed ('why' logged and kept as the last
 * error; NULL: "dropped"): pending callbacks run with NULL, on_down runs
 * if it was up, a reconnect is scheduled. For watchdogs (a BLPOP that
 * never answers). No-op while down or closing. */
void rh_aconn_drop(rh_aconn *c, const char *why);
/* Point the connection at another node (host:port, TCP; the URL's
 * password, db and TLS settings kept; over TLS the name verified becomes
 * 'host' unless tls_sni is set) and reconnect there: as rh_aconn_drop
 * when it is connected, at once when down. For a router whose slot moved
 * (MOVED) or whose node failed over. RHAI_EINVAL (host too long). */
int  rh_aconn_retarget(rh_aconn *c, const char *host, int port, rhai_error *err);
/* Where the connection points now (host and port; a unix socket: its
 * path and port 0). Borrowed. */
const char *rh_aconn_host(const rh_aconn *c, int *port);
/* Write now what this loop turn queued instead of in the prepare (for a
 * caller issuing commands from its own uv_prepare/uv_check). */
void rh_aconn_flush(rh_aconn *c);
/* Close: pending callbacks run once with NULL (from inside this call),
 * no command is accepted any more, then on_closed runs from a libuv close
 * callback and the memory is freed after it. NULL or twice: no-op. */
void rh_aconn_close(rh_aconn *c);

#endif
