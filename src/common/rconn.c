/* rconn.c -- configuration, transport and the sync connection (rconn.h).
 *
 * The transport is ours (a non-blocking socket, TLS over it from rtls.c);
 * RESP is hiredis's: redisFormatCommandArgv encodes into our output
 * buffer, a redisReader parses what we read. The sync connection waits
 * with poll(2) against a deadline, so no call blocks longer than its
 * limit, and a connection that failed once (I/O error, timeout, bytes
 * that are not RESP) stays failed: its replies could be out of step. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/rconn_int.h"

/* ======================== configuration ======================== */

int rh_redis_cfg_init(rh_redis_cfg *cfg, const char *url, rhai_error *err)
{
    rh_redis_cfg c;
    int rc;

    memset(&c, 0, sizeof c);
    if ((rc = rh_url_parse_ex(url, RH_URL_TLS, &c.url, err)) != 0)
        return rc;
    c.connect_ms = RH_REDIS_CONNECT_MS;
    c.io_ms = RH_REDIS_IO_MS;
    *cfg = c;
    return 0;
}

static int cfg_yesno(const char *v, int *out)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0 || strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int rh_redis_cfg_set(rh_redis_cfg *cfg, const char *name, const char *value,
                     rhai_error *err)
{
    char *dst = NULL;
    size_t cap = 0;
    int b;

    if (name == NULL || value == NULL)
        return rh_error_set(err, RHAI_EINVAL, "redis option: missing name or value");
    if (strcmp(name, "tls_ca") == 0) {
        dst = cfg->url.tls_ca;
        cap = sizeof cfg->url.tls_ca;
    } else if (strcmp(name, "tls_cert") == 0) {
        dst = cfg->url.tls_cert;
        cap = sizeof cfg->url.tls_cert;
    } else if (strcmp(name, "tls_key") == 0) {
        dst = cfg->url.tls_key;
        cap = sizeof cfg->url.tls_key;
    } else if (strcmp(name, "tls_sni") == 0) {
        dst = cfg->url.tls_sni;
        cap = sizeof cfg->url.tls_sni;
    } else if (strcmp(name, "tls_verify") == 0 || strcmp(name, "tls") == 0) {
        if (cfg_yesno(value, &b) != 0)
            return rh_error_set(err, RHAI_EINVAL, "redis option %s: want yes or no, not '%.64s'",
                                name, value);
        if (strcmp(name, "tls") == 0) {
            if (b && cfg->url.is_unix)
                return rh_error_set(err, RHAI_EINVAL, "redis option tls: not on a unix socket");
            cfg->url.tls = b;
        } else {
            cfg->url.tls_noverify = !b;
        }
        return 0;
    } else if (strcmp(name, "connect_ms") == 0 || strcmp(name, "io_ms") == 0) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v <= 0 || v > 86400000LL)
            return rh_error_set(err, RHAI_EINVAL,
                                "redis option %s: want 1..86400000 ms, not '%.64s'", name, value);
        if (name[0] == 'c')
            cfg->connect_ms = v;
        else
            cfg->io_ms = v;
        return 0;
    } else {
        return rh_error_set(err, RHAI_EINVAL, "unknown redis option '%.64s' (tls, tls_ca, "
                            "tls_cert, tls_key, tls_sni, tls_verify, connect_ms, io_ms)", name);
    }
    if (strlen(value) >= cap)
        return rh_error_set(err, RHAI_EINVAL, "redis option %s: too long (at most %zu bytes)",
                            name, cap - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

int rh_redis_cfg_check(const rh_redis_cfg *cfg, rhai_error *err)
{
    const rh_url *u = &cfg->url;

    if (cfg->connect_ms <= 0 || cfg->io_ms <= 0)
        return rh_error_set(err, RHAI_EINVAL, "redis: connect_ms and io_ms must be positive");
    if (!u->tls) {
        if (u->tls_ca[0] || u->tls_cert[0] || u->tls_key[0] || u->tls_sni[0] ||
            u->tls_noverify)
            return rh_error_set(err, RHAI_EINVAL, "redis: TLS options (tls_ca, tls_cert, "
                                "tls_key, tls_sni, tls_verify) need a rediss:// url");
        return 0;
    }
    if (u->tls_cert[0] && !u->tls_key[0])
        return rh_error_set(err, RHAI_EINVAL, "redis: tls_cert needs tls_key (the client "
                            "certificate's private key)");
    if (u->tls_key[0] && !u->tls_cert[0])
        return rh_error_set(err, RHAI_EINVAL, "redis: tls_key needs tls_cert");
    return 0;
}

int rh_redis_cfg_tls_check(const rh_redis_cfg *cfg, rhai_error *err)
{
    rh_tls_ctx *tx = NULL;
    rhai_error e;
    char where[600];
    int rc;

    if (!cfg->url.tls)
        return 0;
    if ((rc = rh_tls_ctx_new(&cfg->url, &tx, &e)) != 0) {
        rh_redis_cfg_where(cfg, where, sizeof where);
        return rh_error_set(err, rc, "%s: %s", where, e.msg);
    }
    rh_tls_ctx_free(tx);
    return 0;
}

void rh_redis_cfg_where(const rh_redis_cfg *cfg, char *buf, size_t n)
{
    rh_url_format_safe(&cfg->url, buf, n);
}

/* ======================== transport ======================== */

static int sock_connect(int family, const struct sockaddr *sa, socklen_t len, int tcp,
                        const char *where, int *fd, int *inprogress, rhai_error *err)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

    if (s < 0)
        return rh_error_set(err, errno == ENOMEM || errno == ENOBUFS ? RHAI_ENOMEM : RHAI_ECONN,
                            "cannot connect to %s: socket: %s", where, strerror(errno));
    if (tcp)
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, sa, len) == 0) {
        *inprogress = 0;
    } else if (errno == EINPROGRESS || (!tcp && errno == EAGAIN)) {
        *inprogress = 1;
    } else {
        int e = errno;
        close(s);
        return rh_error_set(err, RHAI_ECONN, "cannot connect to %s: %s", where, strerror(e));
    }
    *fd = s;
    return 0;
}

int rh_xport_connect(const rh_url *u, const char *where, int idx, int *fd, int *inprogress,
                     rhai_error *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int rc, i;

    if (u->is_unix) {
        struct sockaddr_un sun;
        if (idx > 0)
            return RHAI_ENOTFOUND;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (strlen(u->path) >= sizeof sun.sun_path)
            return rh_error_set(err, RHAI_EINVAL, "%s: socket path too long", where);
        memcpy(sun.sun_path, u->path, strlen(u->path) + 1);
        return sock_connect(AF_UNIX, (struct sockaddr *)&sun, sizeof sun, 0, where, fd,
                            inprogress, err);
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", u->port);
    rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0) {      /* no address at all: RHAI_ENOTFOUND, the why in err */
        rh_error_set(err, rc == EAI_MEMORY ? RHAI_ENOMEM : RHAI_ECONN,
                     "cannot connect to %s: cannot resolve '%.200s': %s", where, u->host,
                     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return rc == EAI_MEMORY ? RHAI_ENOMEM : RHAI_ENOTFOUND;
    }
    for (ai = res, i = 0; ai && i < idx; ai = ai->ai_next, i++)
        ;
    rc = ai ? sock_connect(ai->ai_family, ai->ai_addr, ai->ai_addrlen, 1, where, fd,
                           inprogress, err)
            : RHAI_ENOTFOUND;
    freeaddrinfo(res);
    return rc;
}

int rh_xport_connected(int fd, const char *where, rhai_error *err)
{
    int e = 0;
    socklen_t len = sizeof e;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e)
        return rh_error_set(err, RHAI_ECONN, "cannot connect to %s: %s", where, strerror(e));
    return 0;
}

ssize_t rh_xport_read(rh_xport *x, void *buf, size_t n, int *want, rhai_error *err)
{
    ssize_t r;

    if (x->tls)
        return rh_tls_read(x->tls, buf, n, want, err);
    do
        r = recv(x->fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *want = RH_IO_READ;
        return RHAI_EAGAIN;
    }
    return rh_error_set(err, RHAI_ECONN, "read: %s", strerror(errno));
}

ssize_t rh_xport_write(rh_xport *x, const void *buf, size_t n, int *want, rhai_error *err)
{
    ssize_t r;

    if (x->tls)
        return rh_tls_write(x->tls, buf, n, want, err);
    do
        r = send(x->fd, buf, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *want = RH_IO_WRITE;
        return RHAI_EAGAIN;
    }
    return rh_error_set(err, RHAI_ECONN, "write: %s", strerror(errno));
}

void rh_xport_close(rh_xport *x)
{
    rh_tls_free(x->tls);
    x->tls = NULL;
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
}

/* ======================== handshake ======================== */

static int append_argv(rh_buf *out, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    int rc;

    if (n < 0 || cmd == NULL)
        return RHAI_ENOMEM;
    rc = rh_buf_append(out, cmd, (size_t)n);
    redisFreeCommand(cmd);
    return rc;
}

int rh_rconn_handshake_cmds(const rh_url *u, rh_buf *out, int steps[3])
{
    const char *argv[3];
    size_t lens[3];
    char db[16];
    int n = 0, k = 0;

    if (u->pass[0]) {
        argv[n] = "AUTH";
        if (u->user[0])
            argv[++n] = u->user;
        argv[++n] = u->pass;
        n++;
        for (int i = 0; i < n; i++)
            lens[i] = strlen(argv[i]);
        if (append_argv(out, n, argv, lens) != 0)
            return RHAI_ENOMEM;
        steps[k++] = RH_RCONN_FAIL_AUTH;
    }
    if (u->db != 0) {
        snprintf(db, sizeof db, "%d", u->db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        if (append_argv(out, 2, argv, lens) != 0)
            return RHAI_ENOMEM;
        steps[k++] = RH_RCONN_FAIL_SELECT;
    }
    argv[0] = "PING";
    lens[0] = 4;
    if (append_argv(out, 1, argv, lens) != 0)
        return RHAI_ENOMEM;
    steps[k++] = RH_RCONN_FAIL_NOT_READY;
    return k;
}

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int rh_rconn_handshake_check(const redisReply *r, int step, const char *where,
                             rhai_error *err)
{
    const char *e;
    char q[200];

    if (r->type != REDIS_REPLY_ERROR)
        return 0;
    e = r->str ? r->str : "?";
    rh_log_quote(q, sizeof q, e, 150);
    if (step == RH_RCONN_FAIL_AUTH || starts_with(e, "NOAUTH") || starts_with(e, "WRONGPASS") ||
        starts_with(e, "NOPERM")) {
        rh_error_set(err, RHAI_ECONN, "%s: AUTH refused: %s", where, q);
        return RH_RCONN_FAIL_AUTH;
    }
    if (step == RH_RCONN_FAIL_SELECT) {
        rh_error_set(err, RHAI_ECONN, "%s: SELECT refused: %s", where, q);
        return RH_RCONN_FAIL_SELECT;
    }
    rh_error_set(err, RHAI_ECONN, "%s: not ready: %s", where, q);
    return RH_RCONN_FAIL_NOT_READY;
}

/* ======================== sync connection ======================== */

struct rh_sconn {
    rh_xport     x;
    redisReader *reader;
    rh_buf       out;          /* encoded commands; bytes before opos written */
    size_t       opos;
    int64_t      io_ms;
    int          dead;         /* an error or timeout happened: refuse all */
    rhai_error   why;          /* the error that killed it */
    char         where[400];
};

/* Remember the first fatal error and repeat it to the caller. */
static int sconn_fail(rh_sconn *c, int code, const rhai_error *e, rhai_error *err)
{
    if (!c->dead) {
        c->dead = 1;
        c->why = *e;
        c->why.code = code;
    }
    if (err)
        *err = *e, err->code = code;
    return code;
}

static int sconn_poll(int fd, int want, int64_t deadline, const char *where, const char *what,
                      rhai_error *err)
{
    struct pollfd p = { .fd = fd, .events = 0 };
    int64_t left;
    int r;

    if (want & RH_IO_READ)
        p.events |= POLLIN;
    if (want & RH_IO_WRITE)
        p.events |= POLLOUT;
    for (;;) {
        left = deadline - rh_mono_ms();
        if (left <= 0)
            return rh_error_set(err, RHAI_ETIMEOUT, "%s: %s timed out", where, what);
        r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return rh_error_set(err, RHAI_ECONN, "%s: poll: %s", where, strerror(errno));
    }
}

/* Write what is buffered and read until a reply is complete (need_reply),
 * or until the buffer is written (!need_reply), by 'deadline'. A blocked
 * write reads meanwhile so a server answering a long pipeline never waits
 * on us. *out a new reply when need_reply. */
static int sconn_io(rh_sconn *c, int need_reply, int64_t deadline, const char *what,
                    redisReply **out, rhai_error *err)
{
    char buf[16384];
    rhai_error e;

    for (;;) {
        int want = 0, rw = 0;
        ssize_t n;

        if (need_reply) {
            void *r = NULL;
            if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
                rh_error_set(&e, RHAI_EPROTO, "%s: bad reply: %s", c->where, c->reader->errstr);
                return sconn_fail(c, RHAI_EPROTO, &e, err);
            }
            if (r) {
                *out = r;
                return 0;
            }
        }
        while (c->opos < rh_buf_len(&c->out)) {
            n = rh_xport_write(&c->x, c->out.data + c->opos, rh_buf_len(&c->out) - c->opos,
                               &want, &e);
            if (n == RHAI_EAGAIN) {
                rw |= want;
                break;
            }
            if (n < 0) {
                rhai_error e2;
                rh_error_set(&e2, (int)n, "%s: %s", c->where, e.msg);
                return sconn_fail(c, (int)n, &e2, err);
            }
            c->opos += (size_t)n;
        }
        rh_rconn_out_done(&c->out, &c->opos);
        if (!need_reply && rh_buf_len(&c->out) == 0)
            return 0;
        n = rh_xport_read(&c->x, buf, sizeof buf, &want, &e);
        if (n > 0) {
            if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
                rh_error_set(&e, RHAI_ENOMEM, "%s: out of memory reading a reply", c->where);
                return sconn_fail(c, RHAI_ENOMEM, &e, err);
            }
            continue;
        }
        if (n == 0) {
            rh_error_set(&e, RHAI_ECONN, "%s: connection closed by the server", c->where);
            return sconn_fail(c, RHAI_ECONN, &e, err);
        }
        if (n != RHAI_EAGAIN) {
            int code = (int)n;
            rhai_error e2;
            rh_error_set(&e2, code, "%s: %s", c->where, e.msg);
            return sconn_fail(c, code, &e2, err);
        }
        rw |= want;
        if (sconn_poll(c->x.fd, rw, deadline, c->where, what, &e) != 0)
            return sconn_fail(c, e.code, &e, err);
    }
}

int rh_sconn_open(const rh_redis_cfg *cfg, const char *where, rh_sconn **out,
                  rhai_error *err)
{
    int64_t deadline = rh_mono_ms() + cfg->connect_ms;
    rh_tls_ctx *tx = NULL;
    rh_sconn *c;
    rhai_error e;
    int steps[3], nsteps, rc = 0, inprog = 0, fd = -1;

    *out = NULL;
    if ((rc = rh_redis_cfg_check(cfg, err)) != 0)
        return rc;
    if ((c = rh_calloc(1, sizeof *c)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    c->x.fd = -1;
    c->io_ms = cfg->io_ms;
    rh_buf_init(&c->out);
    if (where)
        snprintf(c->where, sizeof c->where, "%s", where);
    else
        rh_redis_cfg_where(cfg, c->where, sizeof c->where);
    if ((c->reader = redisReaderCreate()) == NULL) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto fail;
    }
    /* Each address in turn (localhost: ::1 then 127.0.0.1), within the
     * one deadline. */
    e.code = 0;
    for (int idx = 0;; idx++) {
        rc = rh_xport_connect(&cfg->url, c->where, idx, &fd, &inprog, &e);
        if (rc == RHAI_ENOTFOUND) {     /* none resolved, or past the last: e says why */
            rc = e.code == 0 ? rh_error_set(err, RHAI_ECONN, "cannot connect to %s: no address",
                                            c->where)
                             : rh_error_set(err, e.code, "%s", e.msg);
            goto fail;
        }
        if (rc == 0 && inprog) {
            rc = sconn_poll(fd, RH_IO_WRITE, deadline, c->where, "connect", &e);
            if (rc == RHAI_ETIMEOUT) {
                close(fd);
                rh_error_set(err, rc, "cannot connect to %s: timed out after %lld ms",
                             c->where, (long long)cfg->connect_ms);
                goto fail;
            }
            if (rc == 0)
                rc = rh_xport_connected(fd, c->where, &e);
        }
        if (rc == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (rc == RHAI_ENOMEM || rc == RHAI_EINVAL || cfg->url.is_unix) {
            rh_error_set(err, rc, "%s", e.msg);
            goto fail;
        }
    }
    c->x.fd = fd;
    if (cfg->url.tls) {
        int want = 0;
        if ((rc = rh_tls_ctx_new(&cfg->url, &tx, &e)) != 0 ||
            (rc = rh_tls_new(tx, fd, &cfg->url, &c->x.tls, &e)) != 0) {
            rh_error_set(err, rc, "%s: %s", c->where, e.msg);
            goto fail;
        }
        while ((rc = rh_tls_handshake(c->x.tls, &want, &e)) == RHAI_EAGAIN)
            if ((rc = sconn_poll(fd, want, deadline, c->where, "TLS handshake", &e)) != 0) {
                /* e names where already; a plain port never answers a hello */
                rh_error_set(err, rc, "%s%s", e.msg, rc == RHAI_ETIMEOUT ?
                             " (does the server speak TLS on this port?)" : "");
                goto fail;
            }
        if (rc != 0) {
            rh_error_set(err, rc, "%s: %s", c->where, e.msg);
            goto fail;
        }
    }
    if ((nsteps = rh_rconn_handshake_cmds(&cfg->url, &c->out, steps)) < 0) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < nsteps; i++) {
        redisReply *r = NULL;
        if ((rc = sconn_io(c, 1, deadline, "connect", &r, &e)) != 0) {
            rh_error_set(err, rc, "%s%s", e.msg,
                         i == 0 && (rc == RHAI_ECONN || rc == RHAI_EPROTO)
                             ? rh_rconn_plain_hint(&cfg->url) : "");
            goto fail;
        }
        if (rh_rconn_handshake_check(r, steps[i], c->where, &e) != 0) {
            freeReplyObject(r);
            rc = rh_error_set(err, RHAI_ECONN, "%s", e.msg);
            goto fail;
        }
        freeReplyObject(r);
    }
    rh_tls_ctx_free(tx);        /* the session keeps what it needs (refcounted) */
    *out = c;
    return 0;
fail:
    rh_tls_ctx_free(tx);
    rh_sconn_free(c);
    return rc;
}

int rh_sconn_append_argv(rh_sconn *c, int argc, const char **argv, const size_t *lens,
                         rhai_error *err)
{
    if (c->dead) {
        if (err)
            *err = c->why;
        return RHAI_ECONN;
    }
    if (append_argv(&c->out, argc, argv, lens) != 0)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    return 0;
}

int rh_sconn_vappend(rh_sconn *c, rhai_error *err, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int n, rc;

    if (c->dead) {
        if (err)
            *err = c->why;
        return RHAI_ECONN;
    }
    n = redisvFormatCommand(&cmd, fmt, ap);
    if (n < 0 || cmd == NULL)
        return rh_error_set(err, n == -2 ? RHAI_EINVAL : RHAI_ENOMEM,
                            "cannot format the command '%.40s'", fmt);
    rc = rh_buf_append(&c->out, cmd, (size_t)n);
    redisFreeCommand(cmd);
    return rc ? rh_error_set(err, RHAI_ENOMEM, "out of memory") : 0;
}

int rh_sconn_append(rh_sconn *c, rhai_error *err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = rh_sconn_vappend(c, err, fmt, ap);
    va_end(ap);
    return rc;
}

int rh_sconn_get_reply(rh_sconn *c, redisReply **out, rhai_error *err)
{
    *out = NULL;
    if (c->dead) {
        if (err)
            *err = c->why, err->code = RHAI_ECONN;
        return RHAI_ECONN;
    }
    return sconn_io(c, 1, rh_mono_ms() + c->io_ms, "reply", out, err);
}

int rh_sconn_command_argv(rh_sconn *c, int argc, const char **argv, const size_t *lens,
                          redisReply **out, rhai_error *err)
{
    int rc;

    *out = NULL;
    if ((rc = rh_sconn_append_argv(c, argc, argv, lens, err)) != 0)
        return rc;
    return rh_sconn_get_reply(c, out, err);
}

int rh_sconn_command(rh_sconn *c, redisReply **out, rhai_error *err, const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    int n, rc;

    *out = NULL;
    if (c->dead) {
        if (err)
            *err = c->why, err->code = RHAI_ECONN;
        return RHAI_ECONN;
    }
    va_start(ap, fmt);
    n = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || cmd == NULL)
        return rh_error_set(err, n == -2 ? RHAI_EINVAL : RHAI_ENOMEM,
                            "cannot format the command '%.40s'", fmt);
    rc = rh_buf_append(&c->out, cmd, (size_t)n);
    redisFreeCommand(cmd);
    if (rc)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    return rh_sconn_get_reply(c, out, err);
}

int rh_sconn_fd(const rh_sconn *c)
{
    return c->dead ? -1 : c->x.fd;
}

int rh_sconn_read_some(rh_sconn *c, rhai_error *err)
{
    char buf[16384];
    rhai_error e, e2;

    if (c->dead) {
        if (err)
            *err = c->why, err->code = RHAI_ECONN;
        return RHAI_ECONN;
    }
    for (;;) {
        int want = 0;
        ssize_t n = rh_xport_read(&c->x, buf, sizeof buf, &want, &e);
        if (n > 0) {
            if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
                rh_error_set(&e2, RHAI_ENOMEM, "%s: out of memory reading a reply", c->where);
                return sconn_fail(c, RHAI_ENOMEM, &e2, err);
            }
            continue;
        }
        if (n == RHAI_EAGAIN)
            return 0;        /* a TLS read wanting to write: the next call retries */
        if (n == 0)
            rh_error_set(&e2, RHAI_ECONN, "%s: connection closed by the server", c->where);
        else
            rh_error_set(&e2, (int)n, "%s: %s", c->where, e.msg);
        return sconn_fail(c, e2.code, &e2, err);
    }
}

int rh_sconn_take_reply(rh_sconn *c, redisReply **out, rhai_error *err)
{
    void *r = NULL;
    rhai_error e;

    *out = NULL;
    if (c->dead) {
        if (err)
            *err = c->why, err->code = RHAI_ECONN;
        return RHAI_ECONN;
    }
    if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
        rh_error_set(&e, RHAI_EPROTO, "%s: bad reply: %s", c->where, c->reader->errstr);
        return sconn_fail(c, RHAI_EPROTO, &e, err);
    }
    *out = r;
    return 0;
}

void rh_sconn_set_io_ms(rh_sconn *c, int64_t ms)
{
    if (ms > 0)
        c->io_ms = ms;
}

int rh_sconn_ok(const rh_sconn *c)
{
    return !c->dead;
}

int rh_sconn_is_tls(const rh_sconn *c)
{
    return c->x.tls != NULL;
}

void rh_sconn_free(rh_sconn *c)
{
    if (c == NULL)
        return;
    rh_xport_close(&c->x);
    if (c->reader)
        redisReaderFree(c->reader);
    rh_buf_free(&c->out);
    rh_free(c);
}
