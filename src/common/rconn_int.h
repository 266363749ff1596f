/* rconn_int.h -- what the sync (rconn.c) and async (rconn_async.c) halves of
 * the connection layer share: the byte transport (plain socket or TLS over
 * it, both non-blocking) and the handshake's reply check. Not for use
 * outside src/common/rconn*.c. */
#ifndef RH_RCONN_INT_H
#define RH_RCONN_INT_H

#include <sys/types.h>

#include "common/rconn.h"
#include "common/rtls.h"

/* One socket and, for rediss://, its TLS session. */
typedef struct rh_xport {
    int     fd;               /* -1: none */
    rh_tls *tls;              /* NULL: plain */
} rh_xport;

/* A non-blocking socket for the 'idx'-th address of u (0 first; unix: only
 * 0), connect(2) started. 0 with *fd and *inprogress (1: wait for
 * writable, then rh_xport_connected); RHAI_ENOTFOUND when there is no
 * address 'idx' (the last error stays in err); RHAI_ECONN / RHAI_ENOMEM. */
int  rh_xport_connect(const rh_url *u, const char *where, int idx, int *fd, int *inprogress,
                      rhai_error *err);
/* After writable: 0, or RHAI_ECONN naming connect's error. */
int  rh_xport_connected(int fd, const char *where, rhai_error *err);
/* Bytes in or out: > 0 moved; 0 (read) the peer closed; RHAI_EAGAIN with
 * *want RH_IO_*; RHAI_ECONN / RHAI_ETLS. */
ssize_t rh_xport_read(rh_xport *x, void *buf, size_t n, int *want, rhai_error *err);
ssize_t rh_xport_write(rh_xport *x, const void *buf, size_t n, int *want, rhai_error *err);
/* Bytes 'pos'.. of 'out' were written: forget them, moving what is left
 * to the front only when that is cheap relative to what was written (a
 * 10 MB value written 200 KB at a time is not moved 50 times). */
static inline void rh_rconn_out_done(rh_buf *out, size_t *pos)
{
    if (*pos >= out->len) {
        out->len = 0;
        if (out->cap)
            out->data[0] = '\0';
        *pos = 0;
    } else if (*pos > 65536 && *pos * 2 > out->len) {
        rh_buf_consume(out, *pos);
        *pos = 0;
    }
}

/* Free the session and close the socket; x is then empty. */
void rh_xport_close(rh_xport *x);

/* The handshake commands of 'u' appended to 'out' in order (AUTH when a
 * password, SELECT when db != 0, PING), with their step kinds in steps[]
 * (RH_RCONN_FAIL_AUTH, _SELECT, _NOT_READY); the count, or RHAI_ENOMEM. */
int  rh_rconn_handshake_cmds(const rh_url *u, rh_buf *out, int steps[3]);
/* Check one handshake reply of step kind 'step': 0 when OK, else the
 * failure kind (RH_RCONN_FAIL_*) with a sentence in err (RHAI_ECONN). */
int  rh_rconn_handshake_check(const redisReply *r, int step, const char *where,
                              rhai_error *err);

#endif
