/* rconn_async_io.c -- one attempt of the async connection on the wire.
 *
 * The attempt (rh_aconn_attempt) opens our non-blocking socket for the
 * next address, polls it, runs the TLS handshake, sends AUTH/SELECT/PING
 * and turns "up"; then it writes 'out' and hands replies to the FIFO's
 * callbacks. rconn_async.c (the object, FIFO, teardown, reconnect and
 * API) owns the rest; the struct and what the two share: rconn_int.h. */
#include <string.h>
#include <hiredis/read.h>

#include "common/rconn_int.h"

static void on_poll(uv_poll_t *h, int status, int events);

/* ======================== events ======================== */

static void arm(rh_aconn *c)
{
    int ev = 0;

    if (c->poll == NULL)
        return;
    if (c->state == ST_CONNECTING) {
        ev = UV_WRITABLE;
    } else {
        ev = UV_READABLE;
        if (c->wr_blocked || c->rd_wants_wr)
            ev |= UV_WRITABLE;
    }
    if (ev == c->events)
        return;
    c->events = ev;
    uv_poll_start(c->poll, ev, on_poll);
}

void rh_aconn_write_soon(rh_aconn *c)
{
    if (c->write_pending || c->wr_blocked || c->wr_wants_rd || rh_buf_len(&c->out) == c->opos)
        return;
    c->write_pending = 1;
    uv_prepare_start(&c->prepare, rh_aconn_on_prepare);
}

/* ======================== I/O ======================== */

static void went_up(rh_aconn *c)
{
    uv_timer_stop(&c->timer);
    c->state = ST_UP;
    c->backoff_ms = RH_RCONN_BACKOFF_MIN_MS;
    c->misconf_ms = RH_RCONN_MISCONF_MIN_MS;
    c->fail = RH_RCONN_FAIL_NONE;
    if (c->failures)
        rh_log(RH_LOG_NOTICE, "event=redis_up conn=%s attempts=%llu connected after failed "
               "attempts", rh_aconn_name(c), (unsigned long long)c->failures);
    else
        rh_log(RH_LOG_INFO, "event=redis_up conn=%s connected", rh_aconn_name(c));
    c->failures = 0;
    rh_log_limit_reset(&c->limit);
    if (rh_buf_len(&c->held) > 0) {
        if (rh_buf_append(&c->out, c->held.data, rh_buf_len(&c->held)) != 0) {
            rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_ENOMEM, "%s: out of memory", c->where);
            return;
        }
        rh_buf_free(&c->held);
        rh_aconn_write_soon(c);
    }
    if (c->opts.on_up)
        c->opts.on_up(c, c->opts.data);
}

/* A MOVED or ASK error reply. */
static int is_redirect(const redisReply *r)
{
    return r->str && ((r->len > 6 && memcmp(r->str, "MOVED ", 6) == 0) ||
                      (r->len > 4 && memcmp(r->str, "ASK ", 4) == 0));
}

/* A failure while the handshake is unanswered may be a TLS port's. */
static const char *setup_hint(const rh_aconn *c)
{
    return c->state == ST_SETUP ? rh_rconn_plain_hint(&c->cfg.url) : "";
}

/* Hand every complete reply to its callback. Stops when the attempt
 * ended inside a callback. */
static void process_replies(rh_aconn *c)
{
    uint64_t gen = c->gen;

    while (c->gen == gen && c->reader) {
        void *r = NULL;
        pend p;
        if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
            rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_EPROTO, "%s: bad reply: %s%s",
                              c->where, c->reader->errstr, setup_hint(c));
            return;
        }
        if (r == NULL)
            return;
        if (c->fcount == 0) {
            freeReplyObject(r);
            rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_EPROTO, "%s: a reply nobody asked for",
                              c->where);
            return;
        }
        p = rh_aconn_fifo_pop(c);
        if (p.step) {
            rhai_error e;
            int kind = rh_rconn_handshake_check(r, p.step, c->where, &e);
            freeReplyObject(r);
            if (kind) {
                rh_aconn_teardown(c, (rh_rconn_fail)kind, &e);
                return;
            }
            if (--c->hs_left == 0)
                went_up(c);
            continue;
        }
        if (c->opts.on_redirect && ((redisReply *)r)->type == REDIS_REPLY_ERROR &&
            is_redirect(r))
            c->opts.on_redirect(c, r, c->opts.data);
        if (p.cb)
            p.cb(c, r, p.priv);
        freeReplyObject(r);
    }
}

static void do_read(rh_aconn *c)
{
    uint64_t gen = c->gen;
    char buf[65536];

    c->rd_wants_wr = 0;
    while (c->gen == gen) {
        int want = 0;
        rhai_error e;
        ssize_t n = rh_xport_read(&c->x, buf, sizeof buf, &want, &e);
        if (n > 0) {
            if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
                rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_ENOMEM, "%s: out of memory", c->where);
                return;
            }
            process_replies(c);
            continue;
        }
        if (n == 0) {
            rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_ECONN,
                              "%s: connection closed by the server%s", c->where, setup_hint(c));
            return;
        }
        if (n == RHAI_EAGAIN) {
            if (want == RH_IO_WRITE)
                c->rd_wants_wr = 1;
            arm(c);
            return;
        }
        rh_aconn_fail_now(c, n == RHAI_ETLS ? RH_RCONN_FAIL_TLS : RH_RCONN_FAIL_NET, (int)n,
                          "%s: %s%s", c->where, e.msg, n == RHAI_ECONN ? setup_hint(c) : "");
        return;
    }
}

static void do_write(rh_aconn *c)
{
    c->wr_blocked = c->wr_wants_rd = 0;
    while (c->opos < rh_buf_len(&c->out)) {
        int want = 0;
        rhai_error e;
        ssize_t n = rh_xport_write(&c->x, c->out.data + c->opos, rh_buf_len(&c->out) - c->opos,
                                   &want, &e);
        if (n > 0) {
            c->opos += (size_t)n;
            continue;
        }
        if (n == RHAI_EAGAIN) {
            if (want == RH_IO_WRITE)
                c->wr_blocked = 1;
            else
                c->wr_wants_rd = 1;
            break;
        }
        rh_aconn_fail_now(c, n == RHAI_ETLS ? RH_RCONN_FAIL_TLS : RH_RCONN_FAIL_NET, (int)n,
                          "%s: %s", c->where, e.msg);
        return;
    }
    rh_rconn_out_done(&c->out, &c->opos);
    arm(c);
}

void rh_aconn_on_prepare(uv_prepare_t *h)
{
    rh_aconn *c = h->data;

    c->write_pending = 0;
    uv_prepare_stop(h);
    if (c->state == ST_SETUP || c->state == ST_UP)
        do_write(c);
}

/* The socket is connected (and TLS done): send the handshake. */
static void start_setup(rh_aconn *c)
{
    c->state = ST_SETUP;
    arm(c);
    do_write(c);
}

static void tls_step(rh_aconn *c)
{
    int want = 0, rc;
    rhai_error e;

    rc = rh_tls_handshake(c->x.tls, &want, &e);
    if (rc == 0) {
        start_setup(c);
        return;
    }
    if (rc == RHAI_EAGAIN) {
        c->events = 0;                 /* re-arm for exactly what it wants */
        uv_poll_start(c->poll, want == RH_IO_READ ? UV_READABLE : UV_WRITABLE, on_poll);
        c->events = want == RH_IO_READ ? UV_READABLE : UV_WRITABLE;
        return;
    }
    rh_aconn_fail_now(c, rc == RHAI_ETLS ? RH_RCONN_FAIL_TLS : RH_RCONN_FAIL_NET, rc, "%s: %s",
                      c->where, e.msg);
}

/* connect(2) finished (or failed) on this attempt's socket. */
static void connected(rh_aconn *c)
{
    rhai_error e;

    if (rh_xport_connected(c->x.fd, c->where, &e) != 0) {
        /* Next address of the name, if any, within the same attempt. */
        uv_close((uv_handle_t *)c->poll, rh_aconn_poll_closed);
        c->poll = NULL;
        rh_xport_close(&c->x);
        c->events = 0;
        c->addr_idx++;
        c->last = e;
        rh_aconn_attempt(c);
        return;
    }
    if (c->cfg.url.tls) {
        if (rh_tls_new(c->tx, c->x.fd, &c->cfg.url, &c->x.tls, &e) != 0) {
            rh_aconn_teardown(c, RH_RCONN_FAIL_TLS, &e);
            return;
        }
        c->state = ST_TLS;
        tls_step(c);
        return;
    }
    start_setup(c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    rh_aconn *c = h->data;
    uint64_t gen = c->gen;

    if (status < 0 && c->state != ST_CONNECTING) {
        /* libuv stopped the poll; a read finds the error (or data). */
        c->events = 0;
        events = UV_READABLE;
    }
    switch (c->state) {
    case ST_CONNECTING:
        connected(c);
        return;
    case ST_TLS:
        tls_step(c);
        return;
    default:
        break;
    }
    if ((events & UV_READABLE) || (c->rd_wants_wr && (events & UV_WRITABLE)))
        do_read(c);
    if (c->gen != gen)
        return;
    if ((events & UV_WRITABLE) || (c->wr_wants_rd && (events & UV_READABLE)))
        do_write(c);
    if (c->gen == gen && c->events == 0)
        arm(c);
}

/* ======================== attempts ======================== */

void rh_aconn_attempt(rh_aconn *c)
{
    int steps[3], n, inprog = 0, fd = -1, rc;
    rhai_error e;

    if (c->state == ST_DOWN) {            /* a fresh attempt, not a next address */
        c->gen++;
        c->addr_idx = 0;
        c->state = ST_CONNECTING;          /* from here on teardown undoes it all */
        uv_timer_start(&c->timer, rh_aconn_on_timer, (uint64_t)c->cfg.connect_ms, 0);
        n = (c->reader = redisReaderCreate()) == NULL
                ? RHAI_ENOMEM : rh_rconn_handshake_cmds(&c->cfg.url, &c->out, steps);
        for (int i = 0; i < n; i++)        /* handshake entries: nobody's callbacks */
            if (rh_aconn_fifo_push(c, NULL, NULL, steps[i]) != 0)
                n = RHAI_ENOMEM;
        if (n < 0) {
            rh_error_set(&e, RHAI_ENOMEM, "%s: out of memory", c->where);
            rh_aconn_teardown(c, RH_RCONN_FAIL_NET, &e);
            return;
        }
        c->hs_left = n;
        if (c->fail == RH_RCONN_FAIL_TLS && c->cfg.url.tls) {
            /* TLS failed last time: read the files again, the operator may
             * have fixed them since (a CA added, a certificate renewed) */
            rh_tls_ctx *nx = NULL;
            rhai_error le;
            if ((rc = rh_tls_ctx_new(&c->cfg.url, &nx, &le)) != 0) {
                rh_error_set(&e, rc, "%s: %s", c->where, le.msg);
                rh_aconn_teardown(c, rc == RHAI_ETLS ? RH_RCONN_FAIL_TLS : RH_RCONN_FAIL_NET,
                                  &e);
                return;
            }
            rh_tls_ctx_free(c->tx);
            c->tx = nx;
        }
    }
    e.code = 0;
    rc = rh_xport_connect(&c->cfg.url, c->where, c->addr_idx, &fd, &inprog, &e);
    if (rc == RHAI_ENOTFOUND) {          /* not resolved (e says why), or every address
                                            failed: the last error */
        if (!e.code)
            e = c->last;
        rc = e.code ? e.code : RHAI_ECONN;
        if (!e.code)
            rh_error_set(&e, RHAI_ECONN, "cannot connect to %s: no address", c->where);
    }
    if (rc != 0) {
        rh_aconn_teardown(c, RH_RCONN_FAIL_NET, &e);   /* no socket, no poll: fine */
        return;
    }
    c->x.fd = fd;
    if ((c->poll = rh_malloc(sizeof *c->poll)) == NULL ||
        uv_poll_init_socket(c->loop, c->poll, fd) != 0) {
        rh_free(c->poll);                  /* a failed init leaves no handle */
        c->poll = NULL;
        rh_error_set(&e, RHAI_ENOMEM, "%s: cannot poll the socket", c->where);
        rh_aconn_teardown(c, RH_RCONN_FAIL_NET, &e);
        return;
    }
    c->poll->data = c;
    c->events = 0;
    if (inprog) {
        arm(c);                             /* ST_CONNECTING: writable */
        return;
    }
    connected(c);
}

/* One timer, two meanings: connect timeout while connecting, backoff
 * while down. */
void rh_aconn_on_timer(uv_timer_t *t)
{
    rh_aconn *c = t->data;

    if (c->closing)
        return;
    if (c->state != ST_DOWN) {
        rh_aconn_fail_now(c, c->state == ST_TLS ? RH_RCONN_FAIL_TLS : RH_RCONN_FAIL_NET, RHAI_ECONN,
                          "%s: connect timeout: no answer in %lld ms%s", c->where,
                          (long long)c->cfg.connect_ms,
                          c->state == ST_TLS ? " (TLS handshake)" : c->state == ST_SETUP ?
                          " (AUTH/SELECT/PING)" : "");
        return;
    }
    c->reconnects++;
    rh_aconn_attempt(c);
}
