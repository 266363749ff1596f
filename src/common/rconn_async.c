/* rconn_async.c -- the async connection of rconn.h on a libuv loop.
 *
 * One uv_poll_t per attempt on our own non-blocking socket (TLS over it
 * from rtls.c), one uv_timer_t (connect timeout while connecting, backoff
 * while down) and one uv_prepare_t (write before poll) for the life of
 * the connection. What wk_conn (src/daemon/redis.c) and the client's aconn
 * (src/client/async.c) do, in one place: the handshake (AUTH, SELECT,
 * PING) decides "up"; a refused handshake is a misconfiguration with its
 * own slower backoff; every loss runs each pending callback once with
 * NULL, then on_down; a command is refused at once while down.
 *
 * Replies are matched to callbacks by a FIFO: Redis answers in order. The
 * handshake's own entries sit at the FIFO's head of each attempt, so a
 * command queued while connecting (opts.queue_connecting) is held back in
 * 'held' and written only after the handshake succeeded: it never runs
 * unauthenticated or on the wrong db.
 *
 * Reentrancy: a callback may issue commands, drop or close the
 * connection. Each attempt has a generation number; code that called out
 * re-checks it and stops touching the attempt's reader and buffers once
 * it changed. Memory goes only in the last close callback.
 *
 * This file holds the object, its FIFO, teardown and reconnect, and the
 * API; one attempt on the wire (connect, TLS, handshake, reads and writes)
 * is in rconn_async_io.c. The struct and what the two share: rconn_int.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <hiredis/read.h>

#include "common/rconn_int.h"

void rh_aconn_poll_closed(uv_handle_t *h)
{
    rh_free(h);
}

#ifndef NDEBUG
static int aconn_check(const rh_aconn *c)
{
    if ((c->state == ST_DOWN) != (c->poll == NULL) || (c->state == ST_DOWN) != (c->x.fd < 0) ||
        (c->state == ST_DOWN) != (c->reader == NULL))
        return 0;
    if (c->state == ST_UP && c->hs_left != 0)
        return 0;
    if (c->write_pending != uv_is_active((const uv_handle_t *)&c->prepare))
        return 0;
    if (c->closing && (c->state != ST_DOWN || c->fcount != 0))
        return 0;
    return 1;
}
#define ACHECK(c) rh_assert(aconn_check(c))
#else
#define ACHECK(c) ((void)0)
#endif

/* ======================== FIFO ======================== */

int rh_aconn_fifo_push(rh_aconn *c, rh_reply_fn cb, void *priv, int step)
{
    if (c->fcount == c->fcap) {
        size_t ncap = c->fcap ? c->fcap * 2 : 64;
        pend *n = rh_calloc(ncap, sizeof *n);
        if (n == NULL)
            return RHAI_ENOMEM;
        for (size_t i = 0; i < c->fcount; i++)
            n[i] = c->fifo[(c->fhead + i) % c->fcap];
        rh_free(c->fifo);
        c->fifo = n;
        c->fcap = ncap;
        c->fhead = 0;
    }
    c->fifo[(c->fhead + c->fcount) % c->fcap] = (pend){ cb, priv, step };
    c->fcount++;
    return 0;
}

pend rh_aconn_fifo_pop(rh_aconn *c)
{
    pend p = c->fifo[c->fhead];
    c->fhead = (c->fhead + 1) % c->fcap;
    c->fcount--;
    return p;
}

/* ======================== reconnect ======================== */

static uint64_t conn_rand(rh_aconn *c, uint64_t n)
{
    uint64_t x = c->rand_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rand_state = x;
    return n ? x % n : 0;
}

/* Start the timer for the next attempt; the delay in ms. */
static int64_t conn_schedule(rh_aconn *c, int misconf)
{
    int64_t d;

    if (misconf) {
        d = c->misconf_ms;
        c->misconf_ms = d * 2 > RH_RCONN_MISCONF_MAX_MS ? RH_RCONN_MISCONF_MAX_MS : d * 2;
    } else {
        d = c->backoff_ms;
        c->backoff_ms = d * 2 > c->backoff_max_ms ? c->backoff_max_ms : d * 2;
    }
    d = d / 2 + (int64_t)conn_rand(c, (uint64_t)(d - d / 2) + 1);
    uv_timer_start(&c->timer, rh_aconn_on_timer, (uint64_t)d, 0);
    return d;
}

const char *rh_aconn_name(const rh_aconn *c)
{
    return c->opts.name ? c->opts.name : "redis";
}

/* Where the connection points, as an operator writes it: host:port,
 * [v6]:port or unix:/path (no password, no db). */
static const char *conn_endpoint(const rh_aconn *c, char *out, size_t n)
{
    const rh_url *u = &c->cfg.url;

    if (u->is_unix)
        snprintf(out, n, "unix:%s", u->path);
    else if (strchr(u->host, ':'))
        snprintf(out, n, "[%s]:%d", u->host, u->port);
    else
        snprintf(out, n, "%s:%d", u->host, u->port);
    return out;
}

static const char *skip_prefix(const char *s, const char *p)
{
    size_t n = strlen(p);
    return strncmp(s, p, n) == 0 ? s + n : s;
}

/* The last error's own reason: without "cannot connect to WHERE: ",
 * "WHERE: " and "AUTH refused: " / "SELECT refused: " / "not ready: "
 * (the line names the server and the event says which step). */
static const char *short_reason(const rh_aconn *c)
{
    const char *m = c->last.msg, *w;
    size_t wl = strlen(c->where);

    w = skip_prefix(m, "cannot connect to ");
    if (strncmp(w, c->where, wl) == 0 && w[wl] == ':' && w[wl + 1] == ' ')
        m = w + wl + 2;
    m = skip_prefix(m, "AUTH refused: ");
    m = skip_prefix(m, "SELECT refused: ");
    return skip_prefix(m, "not ready: ");
}

/* A failed attempt (never up): logged (rate limited per event and
 * reason), then the next attempt is scheduled. */
static void attempt_failed(rh_aconn *c)
{
    static const char *const events[] = { "redis_connect_failed", "redis_connect_failed",
                                          "redis_tls_failed", "redis_auth_failed",
                                          "redis_select_failed", "redis_not_ready" };
    const char *event = events[c->fail];
    int misconf = c->fail == RH_RCONN_FAIL_AUTH || c->fail == RH_RCONN_FAIL_SELECT ||
                  c->fail == RH_RCONN_FAIL_TLS;
    char key[RH_LOG_LIMIT_KEY + 200], ep[300], epq[400];
    uint64_t held = 0;
    int64_t in_ms;

    c->failures++;
    in_ms = conn_schedule(c, misconf);
    snprintf(key, sizeof key, "%s %s", event, c->last.msg);
    if (!rh_log_limit_pass(&c->limit, key, rh_mono_ms(), RH_RCONN_LOG_WINDOW_MS, &held))
        return;
    rh_log(misconf ? RH_LOG_ERROR : RH_LOG_WARN,
           "event=%s conn=%s redis=\"%s\" db=%d reason=\"%s\" attempts=%llu suppressed=%llu "
           "retry_in_ms=%lld %s", event, rh_aconn_name(c),
           rh_log_quote(epq, sizeof epq, conn_endpoint(c, ep, sizeof ep), 300), c->cfg.url.db,
           RH_LOG_Q(short_reason(c)), (unsigned long long)c->failures,
           (unsigned long long)held, (long long)in_ms,
           c->fail == RH_RCONN_FAIL_AUTH ? "Redis refused our credentials: fix the password "
                                           "or user of the url" :
           c->fail == RH_RCONN_FAIL_SELECT ? "Redis refused the database: fix the /db of the url" :
           c->fail == RH_RCONN_FAIL_TLS ? "TLS failed: check tls_ca, tls_cert, tls_key, tls_sni" :
           c->fail == RH_RCONN_FAIL_NOT_READY ? "Redis is not ready yet" :
                                                "Redis unreachable, retrying");
}

/* End the attempt: socket closed, every pending callback once with NULL
 * (in order), on_down when it was up, then (unless closing) the next
 * attempt scheduled. 'fail' and 'e' say why (kept as the last error). */
void rh_aconn_teardown(rh_aconn *c, rh_rconn_fail fail, const rhai_error *e)
{
    int was_up = c->state == ST_UP;
    pend *list = c->fifo;
    size_t head = c->fhead, count = c->fcount, cap = c->fcap;

    if (c->state == ST_DOWN)
        return;
    c->gen++;
    c->state = ST_DOWN;
    c->fail = fail;
    if (e)
        c->last = *e;
    if (c->poll) {
        uv_close((uv_handle_t *)c->poll, rh_aconn_poll_closed);   /* stops it */
        c->poll = NULL;
    }
    rh_xport_close(&c->x);                  /* after the poll stopped */
    c->events = 0;
    if (c->reader)                          /* hiredis's free takes no NULL */
        redisReaderFree(c->reader);
    c->reader = NULL;
    rh_buf_free(&c->out);
    c->opos = 0;
    rh_buf_free(&c->held);
    c->rd_wants_wr = c->wr_wants_rd = c->wr_blocked = 0;
    c->hs_left = 0;
    if (c->write_pending) {
        c->write_pending = 0;
        uv_prepare_stop(&c->prepare);
    }
    uv_timer_stop(&c->timer);
    /* Take the FIFO: callbacks below may queue nothing (we are down) but
     * may close us, which must find it empty. */
    c->fifo = NULL;
    c->fcap = c->fhead = c->fcount = 0;
    /* A failed attempt is logged (and the next one scheduled) before the
     * callbacks learn of it: one of them may close the connection, and the
     * reason must have been said by then. */
    if (!was_up && !c->closing)
        attempt_failed(c);
    for (size_t i = 0; i < count; i++) {
        pend p = list[(head + i) % cap];
        if (p.step == 0 && p.cb)
            p.cb(c, NULL, p.priv);
    }
    rh_free(list);
    if (was_up) {
        if (c->closing)                     /* our own close: nothing was lost */
            return;
        rh_log(RH_LOG_WARN, "event=redis_down conn=%s reason=\"%s\" connection lost",
               rh_aconn_name(c), RH_LOG_Q(c->last.msg));
        if (c->opts.on_down)
            c->opts.on_down(c, c->opts.data);
        if (!c->closing && c->state == ST_DOWN && !uv_is_active((uv_handle_t *)&c->timer))
            conn_schedule(c, 0);
        return;
    }
}

void rh_aconn_fail_now(rh_aconn *c, rh_rconn_fail fail, int code, const char *fmt, ...)
{
    rhai_error e;
    char msg[RHAI_ERRMSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rh_error_set(&e, code, "%s", msg);
    rh_aconn_teardown(c, fail, &e);
}

/* ======================== API ======================== */

int rh_aconn_new(uv_loop_t *loop, const rh_redis_cfg *cfg, const rh_aconn_opts *opts,
                 rh_aconn **out, rhai_error *err)
{
    rh_aconn *c;
    int rc;

    *out = NULL;
    if ((rc = rh_redis_cfg_check(cfg, err)) != 0)
        return rc;
    if ((c = rh_calloc(1, sizeof *c)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    c->loop = loop;
    c->cfg = *cfg;
    if (opts)
        c->opts = *opts;
    c->x.fd = -1;
    rh_redis_cfg_where(cfg, c->where, sizeof c->where);
    if (cfg->url.tls && (rc = rh_tls_ctx_new(&cfg->url, &c->tx, err)) != 0) {
        rh_free(c);
        return rc;
    }
    rh_buf_init(&c->out);
    rh_buf_init(&c->held);
    c->backoff_ms = RH_RCONN_BACKOFF_MIN_MS;
    c->backoff_max_ms = c->opts.backoff_max_ms > 0 ? c->opts.backoff_max_ms
                                                   : RH_RCONN_BACKOFF_MAX_MS;
    if (c->backoff_max_ms < RH_RCONN_BACKOFF_MIN_MS)
        c->backoff_max_ms = RH_RCONN_BACKOFF_MIN_MS;
    c->misconf_ms = RH_RCONN_MISCONF_MIN_MS;
    c->rand_state = (uint64_t)uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^
                    (uint64_t)(uintptr_t)c;
    if (c->rand_state == 0)
        c->rand_state = 1;
    rh_error_set(&c->last, RHAI_ECONN, "%s: not connected yet", c->where);
    c->last.code = 0;
    uv_timer_init(loop, &c->timer);
    uv_prepare_init(loop, &c->prepare);
    c->timer.data = c;
    c->prepare.data = c;
    c->handles = 2;
    *out = c;
    rh_aconn_attempt(c);
    return 0;
}

static int accept_now(const rh_aconn *c)
{
    if (c->closing)
        return 0;
    if (c->state == ST_UP)
        return 1;
    return c->opts.queue_connecting && c->state != ST_DOWN;
}

static int refuse(const rh_aconn *c, rhai_error *err)
{
    if (err) {
        if (c->closing)
            rh_error_set(err, RHAI_ECONN, "%s: connection closed", c->where);
        else if (c->last.code)
            *err = c->last, err->code = RHAI_ECONN;
        else
            rh_error_set(err, RHAI_ECONN, "%s: not connected", c->where);
    }
    return RHAI_ECONN;
}

/* Queue encoded command 'cmd' (n bytes) with its callback. */
static int enqueue(rh_aconn *c, rh_reply_fn cb, void *priv, const char *cmd, size_t n,
                   rhai_error *err)
{
    rh_buf *b = c->state == ST_UP ? &c->out : &c->held;

    if (rh_buf_append(b, cmd, n) != 0)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if (rh_aconn_fifo_push(c, cb, priv, 0) != 0) {
        b->len -= n;                          /* undo the append */
        b->data[b->len] = '\0';
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (c->state == ST_UP)
        rh_aconn_write_soon(c);
    ACHECK(c);
    return 0;
}

int rh_aconn_command_argv(rh_aconn *c, rh_reply_fn cb, void *priv, int argc,
                          const char **argv, const size_t *lens, rhai_error *err)
{
    char *cmd = NULL;
    int n, rc;

    if (!accept_now(c))
        return refuse(c, err);
    n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0 || cmd == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rc = enqueue(c, cb, priv, cmd, (size_t)n, err);
    redisFreeCommand(cmd);
    return rc;
}

int rh_aconn_vcommand(rh_aconn *c, rh_reply_fn cb, void *priv, rhai_error *err,
                      const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int n, rc;

    if (!accept_now(c))
        return refuse(c, err);
    n = redisvFormatCommand(&cmd, fmt, ap);
    if (n < 0 || cmd == NULL)
        return rh_error_set(err, n == -2 ? RHAI_EINVAL : RHAI_ENOMEM,
                            "cannot format the command '%.40s'", fmt);
    rc = enqueue(c, cb, priv, cmd, (size_t)n, err);
    redisFreeCommand(cmd);
    return rc;
}

int rh_aconn_command(rh_aconn *c, rh_reply_fn cb, void *priv, rhai_error *err,
                     const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = rh_aconn_vcommand(c, cb, priv, err, fmt, ap);
    va_end(ap);
    return rc;
}

int rh_aconn_is_up(const rh_aconn *c)
{
    return c->state == ST_UP && !c->closing;
}

const rhai_error *rh_aconn_last_error(const rh_aconn *c)
{
    return &c->last;
}

rh_rconn_fail rh_aconn_last_fail(const rh_aconn *c)
{
    return c->fail;
}

uint64_t rh_aconn_reconnects(const rh_aconn *c)
{
    return c->reconnects;
}

void *rh_aconn_data(const rh_aconn *c)
{
    return c->opts.data;
}

void rh_aconn_drop(rh_aconn *c, const char *why)
{
    if (c->closing || c->state == ST_DOWN)
        return;
    rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_ECONN, "%s: %s", c->where, why ? why : "dropped");
}

int rh_aconn_retarget(rh_aconn *c, const char *host, int port, rhai_error *err)
{
    if (strlen(host) >= sizeof c->cfg.url.host || port <= 0 || port > 65535)
        return rh_error_set(err, RHAI_EINVAL, "%s: bad node %s:%d", c->where, host, port);
    if (c->closing)
        return 0;
    if (!c->cfg.url.is_unix && c->cfg.url.port == port && strcmp(c->cfg.url.host, host) == 0)
        return 0;
    c->cfg.url.is_unix = 0;
    snprintf(c->cfg.url.host, sizeof c->cfg.url.host, "%s", host);
    c->cfg.url.port = port;
    rh_redis_cfg_where(&c->cfg, c->where, sizeof c->where);
    if (c->state != ST_DOWN) {
        rh_aconn_fail_now(c, RH_RCONN_FAIL_NET, RHAI_ECONN, "%s: the slot moved here", c->where);
    } else {
        uv_timer_stop(&c->timer);
        c->backoff_ms = RH_RCONN_BACKOFF_MIN_MS;
        uv_timer_start(&c->timer, rh_aconn_on_timer, 0, 0);
    }
    return 0;
}

const char *rh_aconn_host(const rh_aconn *c, int *port)
{
    if (port)
        *port = c->cfg.url.is_unix ? 0 : c->cfg.url.port;
    return c->cfg.url.is_unix ? c->cfg.url.path : c->cfg.url.host;
}

void rh_aconn_flush(rh_aconn *c)
{
    if (c->write_pending)
        rh_aconn_on_prepare(&c->prepare);
}

static void on_handle_closed(uv_handle_t *h)
{
    rh_aconn *c = h->data;

    if (--c->handles > 0)
        return;
    if (c->opts.on_closed)
        c->opts.on_closed(c, c->opts.data);
    rh_tls_ctx_free(c->tx);
    rh_buf_free(&c->out);
    rh_buf_free(&c->held);
    rh_free(c->fifo);
    rh_free(c);
}

void rh_aconn_close(rh_aconn *c)
{
    rhai_error e;

    if (c == NULL || c->closing)
        return;
    c->closing = 1;
    rh_error_set(&e, RHAI_ECONN, "%s: connection closed", c->where);
    rh_aconn_teardown(c, RH_RCONN_FAIL_NET, &e);      /* pending callbacks: NULL */
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->prepare, on_handle_closed);
}
