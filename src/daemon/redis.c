/* redis.c -- one self-healing hiredis async connection on the loop.
 *
 * hiredis 0.14 has no connect timeout and no reconnect: this file adds
 * both with one uv_timer_t per connection. Every loss, whatever its cause
 * (connect refused, server gone, AUTH rejected), leads to the same path:
 * pending callbacks see a NULL reply (hiredis does that), on_down runs once,
 * and a reconnect is scheduled with exponential backoff.
 *
 * The backoff is short on purpose: it starts at BACKOFF_MIN_MS and doubles
 * up to a ceiling the instance keeps at most a quarter of the heartbeat
 * TTL (instance.c), so that after a Redis restart a live instance is back,
 * and has beaten, long before another could take it for dead. Each delay
 * is drawn in [d/2, d] so that the instances of a fleet do not all
 * reconnect in the same millisecond. */
#include <stdarg.h>
#include <string.h>
#include "common/uvredis.h"

#include "daemon.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 50

static void conn_schedule(wk_conn *c);
static void on_timer(uv_timer_t *t);

static void conn_lost(wk_conn *c, const char *why)
{
    int was_up = c->up;
    c->ac = NULL;                         /* hiredis frees it after this */
    c->up = 0;
    if (c->closing)
        return;
    if (was_up) {
        rh_log(RH_LOG_WARN, "event=redis_down conn=%s reason=\"%s\" connection lost",
               c->name, why);
        if (c->on_down)
            c->on_down(c, c->data);
    } else {
        rh_log(RH_LOG_DEBUG, "event=redis_connect_failed conn=%s reason=\"%s\"", c->name, why);
    }
    conn_schedule(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    wk_conn *c = ac->data;
    if (status != REDIS_OK) {
        conn_lost(c, ac->errstr);
        return;
    }
    uv_timer_stop(&c->timer);
    c->up = 1;
    c->backoff_ms = BACKOFF_MIN_MS;
    rh_log(RH_LOG_INFO, "event=redis_up conn=%s connected", c->name);
    if (c->on_up)
        c->on_up(c, c->data);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    wk_conn *c = ac->data;
    (void)status;
    conn_lost(c, ac->errstr[0] ? ac->errstr : "closed");
}

static void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    (void)privdata;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        wk_conn *c = ac->data;
        rh_log(RH_LOG_ERROR, "event=redis_auth_failed conn=%s reason=\"%s\"", c->name, reply->str);
        redisAsyncDisconnect(ac);          /* retried with backoff */
    }
}

static void conn_attempt(wk_conn *c)
{
    redisAsyncContext *ac;

    if (c->url.is_unix)
        ac = redisAsyncConnectUnix(c->url.path);
    else
        ac = redisAsyncConnect(c->url.host, c->url.port);
    if (ac == NULL || ac->err) {
        rh_log(RH_LOG_DEBUG, "event=redis_connect_failed conn=%s reason=\"%s\"", c->name,
               ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        conn_schedule(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    if (rh_uvredis_attach(ac, c->loop) != 0) {
        redisAsyncFree(ac);
        c->ac = NULL;
        conn_schedule(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued now, sent as soon as the socket connects, before anything else. */
    if (c->url.pass[0]) {
        if (c->url.user[0])
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s", c->url.user, c->url.pass);
        else
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", c->url.pass);
    }
    if (c->url.db)
        redisAsyncCommand(ac, on_auth, NULL, "SELECT %d", c->url.db);
    uv_timer_start(&c->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

/* One timer, two meanings: while a connect is pending it is the connect
 * timeout; while disconnected it is the backoff before the next attempt. */
static void on_timer(uv_timer_t *t)
{
    wk_conn *c = t->data;
    if (c->closing)
        return;
    if (c->ac && !c->up) {
        redisAsyncContext *ac = c->ac;
        rh_log(RH_LOG_WARN, "event=redis_connect_timeout conn=%s", c->name);
        c->ac = NULL;
        redisAsyncFree(ac);             /* not connected: no disconnect callback */
        conn_schedule(c);
        return;
    }
    if (c->ac == NULL) {
        c->reconnects++;
        conn_attempt(c);
    }
}

/* A number in [0, n) from a xorshift generator per connection: jitter
 * needs no quality, only a different seed per process. */
static uint64_t conn_rand(wk_conn *c, uint64_t n)
{
    uint64_t x = c->rand_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->rand_state = x;
    return n ? x % n : 0;
}

static void conn_schedule(wk_conn *c)
{
    int64_t d = c->backoff_ms;
    if (c->closing)
        return;
    c->backoff_ms = c->backoff_ms * 2 > c->backoff_max_ms ? c->backoff_max_ms : c->backoff_ms * 2;
    d = d / 2 + (int64_t)conn_rand(c, (uint64_t)(d - d / 2) + 1);
    uv_timer_start(&c->timer, on_timer, (uint64_t)d, 0);
}

int wk_conn_init(wk_conn *c, uv_loop_t *loop, const char *url, const char *name,
                 int64_t backoff_max_ms, rhai_error *err)
{
    int rc;
    memset(c, 0, sizeof *c);
    if ((rc = rh_url_parse(url, &c->url, err)) != 0)
        return rc;
    c->loop = loop;
    c->name = name;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->backoff_max_ms = backoff_max_ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : backoff_max_ms;
    c->rand_state = (uint64_t)uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^
                    (uint64_t)(uintptr_t)c;
    if (c->rand_state == 0)
        c->rand_state = 1;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->timer_open = 1;
    return 0;
}

void wk_conn_start(wk_conn *c)
{
    conn_attempt(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    wk_conn *c = h->data;
    c->timer_open = 0;
    if (c->on_closed)
        c->on_closed(c, c->data);
}

void wk_conn_close(wk_conn *c)
{
    redisAsyncContext *ac = c->ac;
    if (c->closing)
        return;
    c->closing = 1;
    c->ac = NULL;
    c->up = 0;
    if (ac)
        redisAsyncFree(ac);       /* pending callbacks run with NULL replies */
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* The one door to hiredis: while the connection is down its context is
 * NULL (hiredis freed it), so every command checks here first. */
int wk_conn_argv(wk_conn *c, redisCallbackFn *fn, void *privdata, int argc,
                 const char **argv, const size_t *lens)
{
    if (c->ac == NULL || !c->up || c->closing)
        return RHAI_ECONN;
    if (redisAsyncCommandArgv(c->ac, fn, privdata, argc, argv, lens) != REDIS_OK)
        return RHAI_ECONN;
    return 0;
}

int wk_conn_cmd(wk_conn *c, redisCallbackFn *fn, void *privdata, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (c->ac == NULL || !c->up || c->closing)
        return RHAI_ECONN;
    va_start(ap, fmt);
    rc = redisvAsyncCommand(c->ac, fn, privdata, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : RHAI_ECONN;
}
