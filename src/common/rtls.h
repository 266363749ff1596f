/* rtls.h -- the OpenSSL part of the connection layer (rconn.c's only user).
 *
 * A TLS session over a non-blocking socket the caller owns: the handshake,
 * reads and writes report "would block" with the direction to wait for, so
 * the sync path polls and the async path arms its uv_poll. Failures are
 * turned into a sentence at the source: the verify result by name
 * (X509_verify_cert_error_string: "certificate has expired", "unable to
 * get local issuer certificate", "hostname mismatch"), else the reason of
 * the first error on OpenSSL's queue ("tlsv13 alert certificate
 * required"), which is then cleared so it does not leak into the next
 * call. */
#ifndef RH_RTLS_H
#define RH_RTLS_H

#include <sys/types.h>

#include "common/common.h"

#define RH_IO_READ  1            /* wait until the socket is readable */
#define RH_IO_WRITE 2            /* ... writable */

typedef struct rh_tls_ctx rh_tls_ctx;    /* settings: CA, client cert; shared */
typedef struct rh_tls rh_tls;            /* one session on one socket */

/* Settings of 'u' (tls_ca or the system store, tls_cert + tls_key,
 * verify). 0 and *out new (rh_tls_ctx_free), or RHAI_ETLS naming the file
 * that could not be loaded and why, RHAI_ENOMEM. */
int  rh_tls_ctx_new(const rh_url *u, rh_tls_ctx **out, rhai_error *err);
void rh_tls_ctx_free(rh_tls_ctx *x);             /* NULL: no-op */

/* A client session on connected socket 'fd' (borrowed: the caller closes
 * it after rh_tls_free), sending SNI tls_sni or the host (not for an IP)
 * and verifying the peer's name against it (DNS name or IP). 0 or
 * RHAI_ENOMEM / RHAI_ETLS. */
int  rh_tls_new(rh_tls_ctx *x, int fd, const rh_url *u, rh_tls **out, rhai_error *err);
void rh_tls_free(rh_tls *t);                     /* NULL: no-op; no close_notify */

/* One step of the handshake: 0 done; RHAI_EAGAIN with *want RH_IO_*;
 * RHAI_ETLS (verification, alert, protocol) or RHAI_ECONN (the socket
 * failed or closed), with "TLS handshake ..." in err. */
int  rh_tls_handshake(rh_tls *t, int *want, rhai_error *err);
/* Read up to n bytes: > 0 bytes read; 0 the peer closed; RHAI_EAGAIN with
 * *want; RHAI_ETLS / RHAI_ECONN. */
ssize_t rh_tls_read(rh_tls *t, void *buf, size_t n, int *want, rhai_error *err);
/* Write up to n bytes (partial writes allowed; a retry after RHAI_EAGAIN
 * may pass a moved buffer): > 0 written; RHAI_EAGAIN with *want;
 * RHAI_ETLS / RHAI_ECONN. No call here raises SIGPIPE (send(MSG_NOSIGNAL)). */
ssize_t rh_tls_write(rh_tls *t, const void *buf, size_t n, int *want, rhai_error *err);

#endif
