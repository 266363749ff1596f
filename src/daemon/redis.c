/* redis.c -- one self-healing hiredis async connection on the loop.
 *
 * hiredis 0.14 has no connect timeout and no reconnect: this file adds
 * both with one uv_timer_t per connection. Every loss, whatever its cause
 * (connect refused, server gone, AUTH rejected), leads to the same path:
 * pending callbacks see a NULL reply (hiredis does that), on_down runs once
 * for a connection that was up, and a reconnect is scheduled with backoff.
 *
 * A connection is usable, and called up, only once its handshake was
 * answered: AUTH (when the URL has a password), SELECT (when it names a
 * db), then PING, which a server wanting a password we lack refuses with
 * NOAUTH. Until then no command is sent and nothing says "up".
 *
 * The backoff of a lost or refused connection is short on purpose: it
 * starts at BACKOFF_MIN_MS and doubles up to a ceiling the instance keeps
 * at most a quarter of the heartbeat TTL (instance.c), so that after a
 * Redis restart a live instance is back, and has beaten, long before
 * another could take it for dead. A refused AUTH or SELECT is different:
 * a wrong password or db does not fix itself, so those attempts back off
 * from WK_CONN_MISCONF_MIN_MS to WK_CONN_MISCONF_MAX_MS and are logged at
 * error. Each delay is drawn in [d/2, d] so that the instances of a fleet
 * do not all reconnect in the same millisecond. Failed attempts are logged
 * once per reason per WK_CONN_LOG_WINDOW_MS, with the number held back. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "common/uvredis.h"

#include "daemon.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 50

enum { HS_AUTH = 1, HS_SELECT, HS_PING };     /* handshake steps */

static int64_t conn_schedule(wk_conn *c);
static void on_timer(uv_timer_t *t);

/* Where 'u' points, as an operator writes it: host:port, [v6]:port or
 * unix:/path (no password, no db). */
static const char *conn_endpoint(const rh_url *u, char *out, size_t n)
{
    if (u->is_unix)
        snprintf(out, n, "unix:%s", u->path);
    else if (strchr(u->host, ':'))
        snprintf(out, n, "[%s]:%d", u->host, u->port);
    else
        snprintf(out, n, "%s:%d", u->host, u->port);
    return out;
}

/* A failed attempt (never up): logged, rate limited per event and
 * reason, then the next attempt is scheduled. */
static void attempt_failed(wk_conn *c, const char *why)
{
    static const char *const events[] = { "redis_connect_failed", "redis_auth_failed",
                                          "redis_select_failed", "redis_not_ready" };
    const char *event = events[c->fail];
    const char *reason = c->fail != WK_CONN_FAIL_NONE ? c->fail_reason : why;
    char key[RH_LOG_LIMIT_KEY + 200], q[400], ep[300], epq[400];
    uint64_t held = 0;
    int64_t in_ms;

    c->failures++;
    c->misconf = c->fail == WK_CONN_FAIL_AUTH || c->fail == WK_CONN_FAIL_SELECT;
    in_ms = conn_schedule(c);
    snprintf(key, sizeof key, "%s %s", event, reason);
    if (!rh_log_limit_pass(&c->limit, key, rh_mono_ms(), WK_CONN_LOG_WINDOW_MS, &held))
        return;
    rh_log(c->misconf ? RH_LOG_ERROR : RH_LOG_WARN,
           "event=%s conn=%s redis=\"%s\" db=%d reason=\"%s\" attempts=%llu suppressed=%llu "
           "retry_in_ms=%lld %s", event, c->name,
           rh_log_quote(epq, sizeof epq, conn_endpoint(&c->url, ep, sizeof ep), 300), c->url.db,
           rh_log_quote(q, sizeof q, reason, 120), (unsigned long long)c->failures,
           (unsigned long long)held, (long long)in_ms,
           c->fail == WK_CONN_FAIL_AUTH ? "Redis refused our credentials: fix the password "
                                          "or user in redis_url" :
           c->fail == WK_CONN_FAIL_SELECT ? "Redis refused the database: fix the /db of "
                                            "redis_url (see its 'databases')" :
           c->fail == WK_CONN_FAIL_NOT_READY ? "Redis is not ready yet" :
                                               "Redis unreachable, retrying");
}

static void conn_lost(wk_conn *c, const char *why)
{
    int was_up = c->up;
    c->ac = NULL;                         /* hiredis frees it after this */
    c->up = 0;
    if (c->closing)
        return;
    if (was_up) {
        rh_log(RH_LOG_WARN, "event=redis_down conn=%s reason=\"%s\" connection lost",
               c->name, RH_LOG_Q(why));
        if (c->on_down)
            c->on_down(c, c->data);
        conn_schedule(c);
        return;
    }
    attempt_failed(c, why);
}

/* The socket is connected; the handshake's replies decide when it is up. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    wk_conn *c = ac->data;
    if (status != REDIS_OK)
        conn_lost(c, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    wk_conn *c = ac->data;
    (void)status;
    if (c->ac != ac)                      /* freed by us: the timer or close handled it */
        return;
    conn_lost(c, ac->errstr[0] ? ac->errstr : "closed");
}

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* One handshake reply. The first refusal names the failure and drops the
 * connection (hiredis still delivers the replies already on their way,
 * which are then ignored); the last OK makes the connection up. */
static void on_handshake(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    wk_conn *c = ac->data;
    int step = (int)(intptr_t)privdata;

    if (reply == NULL || c->ac != ac || c->closing)
        return;                           /* going away: conn_lost runs */
    c->handshake--;
    if (c->fail != WK_CONN_FAIL_NONE)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        const char *e = reply->str ? reply->str : "?";
        if (step == HS_AUTH || starts_with(e, "NOAUTH") || starts_with(e, "WRONGPASS") ||
            starts_with(e, "NOPERM"))
            c->fail = WK_CONN_FAIL_AUTH;
        else if (step == HS_SELECT)
            c->fail = WK_CONN_FAIL_SELECT;
        else
            c->fail = WK_CONN_FAIL_NOT_READY;
        snprintf(c->fail_reason, sizeof c->fail_reason, "%s", e);
        redisAsyncDisconnect(ac);         /* on_disconnect: attempt_failed */
        return;
    }
    if (c->handshake > 0)
        return;
    uv_timer_stop(&c->timer);
    c->up = 1;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->misconf = 0;
    c->misconf_backoff_ms = WK_CONN_MISCONF_MIN_MS;
    if (c->failures)
        rh_log(RH_LOG_NOTICE, "event=redis_up conn=%s attempts=%llu connected after failed "
               "attempts", c->name, (unsigned long long)c->failures);
    else
        rh_log(RH_LOG_INFO, "event=redis_up conn=%s connected", c->name);
    c->failures = 0;
    rh_log_limit_reset(&c->limit);        /* the next outage is logged at once */
    if (c->on_up)
        c->on_up(c, c->data);
}

static void conn_attempt(wk_conn *c)
{
    redisAsyncContext *ac;

    c->fail = WK_CONN_FAIL_NONE;
    c->fail_reason[0] = '\0';
    c->handshake = 0;
    if (c->url.is_unix)
        ac = redisAsyncConnectUnix(c->url.path);
    else
        ac = redisAsyncConnect(c->url.host, c->url.port);
    if (ac == NULL || ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        attempt_failed(c, why);
        return;
    }
    ac->data = c;
    c->ac = ac;
    if (rh_uvredis_attach(ac, c->loop) != 0) {
        redisAsyncFree(ac);
        c->ac = NULL;
        attempt_failed(c, "cannot poll the socket");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued now, sent as soon as the socket connects, before anything
     * else: nothing else is sent until the PING is answered. */
    if (c->url.pass[0]) {
        if (c->url.user[0])
            redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_AUTH, "AUTH %s %s",
                              c->url.user, c->url.pass);
        else
            redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_AUTH, "AUTH %s",
                              c->url.pass);
        c->handshake++;
    }
    if (c->url.db) {
        redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_SELECT, "SELECT %d",
                          c->url.db);
        c->handshake++;
    }
    redisAsyncCommand(ac, on_handshake, (void *)(intptr_t)HS_PING, "PING");
    c->handshake++;
    uv_timer_start(&c->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
}

/* One timer, two meanings: while a connect or its handshake is pending it
 * is the connect timeout; while disconnected it is the backoff before the
 * next attempt. */
static void on_timer(uv_timer_t *t)
{
    wk_conn *c = t->data;
    if (c->closing)
        return;
    if (c->ac && !c->up) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;                   /* on_disconnect, if any, ignores it */
        redisAsyncFree(ac);
        attempt_failed(c, "connect timeout: no answer in 5 s");
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

/* Start the timer for the next attempt; the delay, ms. */
static int64_t conn_schedule(wk_conn *c)
{
    int64_t d;
    if (c->closing)
        return 0;
    if (c->misconf) {
        d = c->misconf_backoff_ms;
        c->misconf_backoff_ms = d * 2 > WK_CONN_MISCONF_MAX_MS ? WK_CONN_MISCONF_MAX_MS : d * 2;
    } else {
        d = c->backoff_ms;
        c->backoff_ms = d * 2 > c->backoff_max_ms ? c->backoff_max_ms : d * 2;
    }
    d = d / 2 + (int64_t)conn_rand(c, (uint64_t)(d - d / 2) + 1);
    uv_timer_start(&c->timer, on_timer, (uint64_t)d, 0);
    return d;
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
    c->misconf_backoff_ms = WK_CONN_MISCONF_MIN_MS;
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
