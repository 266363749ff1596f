/* rconn_int.h -- what the sync (rconn.c) and async (rconn_async.c,
 * rconn_async_io.c) halves of the connection layer share: the byte
 * transport (plain socket or TLS over it, both non-blocking) and the
 * handshake's reply check; then, for the two async files only, the
 * rh_aconn struct and the functions one calls in the other. Not for use
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
 * address 'idx': the name did not resolve (err says why, code RHAI_ECONN)
 * or idx is past the last (err untouched); RHAI_ECONN (this address
 * failed: try the next) / RHAI_ENOMEM. */
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

/* What to add to a failure before the first handshake reply of a plain
 * TCP connection: a Redis TLS port resets a client that speaks RESP to
 * it (or answers an alert, not RESP), so "Connection reset by peer"
 * alone would not say that the URL wants rediss://. "" otherwise. */
static inline const char *rh_rconn_plain_hint(const rh_url *u)
{
    return u->tls || u->is_unix ? "" : " (is it a TLS port? then use rediss://)";
}

/* ======================== the async connection ======================== */

enum { ST_DOWN, ST_CONNECTING, ST_TLS, ST_SETUP, ST_UP };

typedef struct pend {
    rh_reply_fn cb;           /* NULL: reply dropped */
    void       *priv;
    int         step;         /* handshake step (RH_RCONN_FAIL_*), 0: the caller's */
} pend;

/* Invariants (aconn_check):
 * - state == ST_DOWN <=> poll == NULL <=> x.fd < 0 <=> reader == NULL.
 * - hs_left counts the handshake entries at the head of the FIFO; it is 0
 *   when up. 'held' is empty unless connecting with queue_connecting.
 * - 'prepare' is active iff write_pending; write_pending only when up or
 *   in ST_SETUP with bytes in 'out'.
 * - 'closing': no command is accepted, state is ST_DOWN, the FIFO empty. */
struct rh_aconn {
    uv_loop_t    *loop;
    rh_redis_cfg  cfg;
    rh_aconn_opts opts;
    char          where[400];
    rh_tls_ctx   *tx;             /* rediss:// settings, for every attempt */
    int           state;
    int           closing;
    uint64_t      gen;            /* attempt generation, bumped by teardown */
    /* the attempt */
    rh_xport      x;
    uv_poll_t    *poll;           /* heap: its close callback frees it */
    int           events;         /* armed on poll */
    int           addr_idx;       /* which resolved address this attempt tries */
    redisReader  *reader;
    rh_buf        out;            /* encoded; bytes before opos written */
    size_t        opos;
    rh_buf        held;           /* commands accepted while connecting */
    int           rd_wants_wr;    /* TLS: a read waits for writable */
    int           wr_wants_rd;    /* TLS: a write waits for readable */
    int           wr_blocked;     /* a write waits for writable */
    int           hs_left;
    /* pending callbacks, a ring */
    pend         *fifo;
    size_t        fcap, fhead, fcount;
    /* timer, prepare */
    uv_timer_t    timer;
    uv_prepare_t  prepare;
    int           write_pending;
    int           handles;        /* timer + prepare not yet closed */
    /* reconnect */
    int64_t       backoff_ms, backoff_max_ms, misconf_ms;
    uint64_t      rand_state, reconnects, failures;
    rh_rconn_fail fail;
    rhai_error    last;
    rh_log_limit  limit;
};

/* rconn_async.c */
void rh_aconn_poll_closed(uv_handle_t *h);            /* frees an attempt's poll */
int  rh_aconn_fifo_push(rh_aconn *c, rh_reply_fn cb, void *priv, int step);
pend rh_aconn_fifo_pop(rh_aconn *c);
const char *rh_aconn_name(const rh_aconn *c);         /* opts.name or "redis" */
/* End the attempt: every pending callback once with NULL, then on_down or
 * the next attempt (the whole contract at the definition). fail_now: the
 * same with the reason formatted. */
void rh_aconn_teardown(rh_aconn *c, rh_rconn_fail fail, const rhai_error *e);
void rh_aconn_fail_now(rh_aconn *c, rh_rconn_fail fail, int code, const char *fmt, ...)
    RH_PRINTF(4, 5);

/* rconn_async_io.c */
void rh_aconn_write_soon(rh_aconn *c);                /* write 'out' before the next poll */
void rh_aconn_on_prepare(uv_prepare_t *h);
void rh_aconn_attempt(rh_aconn *c);                   /* a fresh attempt, or the next address */
void rh_aconn_on_timer(uv_timer_t *t);                /* connect timeout, or backoff over */

#endif
