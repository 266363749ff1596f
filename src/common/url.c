/* url.c -- parse the Redis URLs every binary accepts.
 *
 *   redis://[[user]:password@]host[:port][/db]    host may be [v6]
 *   unix:///path/to/socket[?db=N]
 *   rediss://[[user]:password@]host[:port][/db][?ca=F&cert=F&key=F&sni=N&verify=yes|no]
 * No percent-decoding: a user or password is taken as written (it may hold
 * '@', ':' after the first and '/', not '?'), nor TLS option values with '&'. rediss:// is accepted only by
 * rh_url_parse_ex(RH_URL_TLS), for the connection layer that does TLS
 * itself (rconn.h); hiredis 0.14, under the older users, has none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int parse_int(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[16];
    char *end;
    long v;

    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -1;
    v = strtol(tmp, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int parse_unix(const char *rest, rh_url *u, rhai_error *err)
{
    const char *q = strchr(rest, '?');
    size_t plen = q ? (size_t)(q - rest) : strlen(rest);
    long db;

    if (plen == 0 || rest[0] != '/')
        return rh_error_set(err, RHAI_EINVAL, "unix url needs an absolute path");
    if (copy_part(u->path, sizeof u->path, rest, plen) != 0)
        return rh_error_set(err, RHAI_EINVAL, "unix socket path too long");
    if (q) {
        if (strncmp(q + 1, "db=", 3) != 0 ||
            parse_int(q + 4, strlen(q + 4), 0, 1 << 20, &db) != 0)
            return rh_error_set(err, RHAI_EINVAL, "unix url: bad query '%s' (want ?db=N)", q + 1);
        u->db = (int)db;
    }
    u->is_unix = 1;
    return 0;
}

/* One TLS option of a rediss:// query: "name=value". */
static int parse_tls_option(const char *s, size_t n, rh_url *u, unsigned *seen,
                            rhai_error *err)
{
    static const char *const names[] = { "ca", "cert", "key", "sni", "verify" };
    const char *eq = memchr(s, '=', n);
    size_t nl = eq ? (size_t)(eq - s) : n, vl = eq ? n - nl - 1 : 0;
    const char *v = eq ? eq + 1 : "";
    char *dst = NULL;
    size_t cap = 0;
    unsigned i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == nl && memcmp(names[i], s, nl) == 0)
            break;
    if (i == sizeof names / sizeof names[0] || !eq)
        return rh_error_set(err, RHAI_EINVAL,
                            "url: unknown option '%.*s' (want ca, cert, key, sni, verify)",
                            (int)(nl > 64 ? 64 : nl), s);
    if (*seen & (1u << i))
        return rh_error_set(err, RHAI_EINVAL, "url: option '%s' given twice", names[i]);
    *seen |= 1u << i;
    if (vl == 0)
        return rh_error_set(err, RHAI_EINVAL, "url: option '%s' is empty", names[i]);
    switch (i) {
    case 0: dst = u->tls_ca; cap = sizeof u->tls_ca; break;
    case 1: dst = u->tls_cert; cap = sizeof u->tls_cert; break;
    case 2: dst = u->tls_key; cap = sizeof u->tls_key; break;
    case 3: dst = u->tls_sni; cap = sizeof u->tls_sni; break;
    default:
        if (vl == 3 && memcmp(v, "yes", 3) == 0)
            u->tls_noverify = 0;
        else if (vl == 2 && memcmp(v, "no", 2) == 0)
            u->tls_noverify = 1;
        else
            return rh_error_set(err, RHAI_EINVAL, "url: verify must be yes or no");
        return 0;
    }
    if (memchr(v, '\0', vl) || copy_part(dst, cap, v, vl) != 0)
        return rh_error_set(err, RHAI_EINVAL, "url: option '%s' too long", names[i]);
    return 0;
}

static int parse_tls_query(const char *q, rh_url *u, rhai_error *err)
{
    unsigned seen = 0;
    int rc;

    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if ((rc = parse_tls_option(q, n, u, &seen, err)) != 0)
            return rc;
        if (!amp)
            break;
        q = amp + 1;
        if (*q == '\0')
            return rh_error_set(err, RHAI_EINVAL, "url: empty option after '&'");
    }
    return 0;
}

int rh_url_parse_ex(const char *url, int flags, rh_url *out, rhai_error *err)
{
    rh_url u;
    const char *p, *at, *hostend, *slash, *query, *dbend;
    long v;
    int rc;

    memset(&u, 0, sizeof u);
    strcpy(u.host, "127.0.0.1");
    u.port = 6379;
    if (url == NULL || *url == '\0') {
        *out = u;
        return 0;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        rc = parse_unix(url + 7, &u, err);
        if (rc == 0)
            *out = u;
        return rc;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        if (!(flags & RH_URL_TLS))
            return rh_error_set(err, RHAI_EINVAL,
                                "rediss:// (TLS) is not supported by this build");
        u.tls = 1;
        p = url + 9;
    } else if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else {
        return rh_error_set(err, RHAI_EINVAL,
                            (flags & RH_URL_TLS)
                                ? "url must start with redis://, rediss:// or unix://"
                                : "url must start with redis:// or unix://");
    }
    /* The credentials end at the last '@' before any '?': a password may
     * hold '@', ':' and '/' (openssl rand -base64 makes '/'), and no part
     * of it is ever taken for the host or the port (whose errors are
     * printed). A TLS file path after '?' may hold '@'. */
    query = strchr(p, '?');
    at = NULL;
    for (const char *s = p, *e = query ? query : p + strlen(p); s < e; s++)
        if (*s == '@')
            at = s;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (copy_part(u.user, sizeof u.user, p, (size_t)(colon - p)) != 0 ||
                copy_part(u.pass, sizeof u.pass, colon + 1, (size_t)(at - colon - 1)) != 0)
                return rh_error_set(err, RHAI_EINVAL, "url credentials too long");
        } else if (copy_part(u.pass, sizeof u.pass, p, (size_t)(at - p)) != 0) {
            return rh_error_set(err, RHAI_EINVAL, "url password too long");
        }
        p = at + 1;
    }
    /* After the credentials: host[:port][/db][?query]. A '/' inside the
     * query (a file path) is not the db's. */
    query = (flags & RH_URL_TLS) ? strchr(p, '?') : NULL;
    slash = strchr(p, '/');
    if (slash && query && slash > query)
        slash = NULL;
    hostend = slash ? slash : query ? query : p + strlen(p);
    dbend = query ? query : p + strlen(p);
    if (*p == '[') {                                   /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(hostend - p));
        if (!rb || copy_part(u.host, sizeof u.host, p + 1, (size_t)(rb - p - 1)) != 0 ||
            rb == p + 1)
            return rh_error_set(err, RHAI_EINVAL, "url: bad [ipv6] host");
        p = rb + 1;
        if (p < hostend && *p != ':')
            return rh_error_set(err, RHAI_EINVAL, "url: junk after ]");
    } else {
        const char *colon = memchr(p, ':', (size_t)(hostend - p));
        const char *e = colon ? colon : hostend;
        if (e == p)
            return rh_error_set(err, RHAI_EINVAL, "url: missing host");
        if (copy_part(u.host, sizeof u.host, p, (size_t)(e - p)) != 0)
            return rh_error_set(err, RHAI_EINVAL, "url: host too long");
        p = e;
    }
    if (p < hostend && *p == ':') {
        /* user:pa?ss@host: the '?' started the options, so the user was
         * taken for the host and part of the password for the port: not
         * printed */
        if (parse_int(p + 1, (size_t)(hostend - p - 1), 1, 65535, &v) != 0)
            return !at && query && strchr(query, '@')
                       ? rh_error_set(err, RHAI_EINVAL, "url: bad port, or a password holding "
                                      "'?' (it starts the options: a password may not hold it)")
                       : rh_error_set(err, RHAI_EINVAL, "url: bad port '%.*s'",
                                      (int)(hostend - p - 1), p + 1);
        u.port = (int)v;
    }
    if (slash && slash + 1 < dbend) {
        if (parse_int(slash + 1, (size_t)(dbend - slash - 1), 0, 1 << 20, &v) != 0)
            return rh_error_set(err, RHAI_EINVAL, "url: bad db number '%.*s'",
                                (int)(dbend - slash - 1), slash + 1);
        u.db = (int)v;
    }
    if (query && !u.tls)
        return rh_error_set(err, RHAI_EINVAL,
                            "url: options '?%.64s' are TLS options: use rediss://", query + 1);
    if (query && (rc = parse_tls_query(query + 1, &u, err)) != 0)
        return rc;
    *out = u;
    return 0;
}

int rh_url_parse(const char *url, rh_url *out, rhai_error *err)
{
    return rh_url_parse_ex(url, 0, out, err);
}

/* TLS options are not repeated (file paths make long log lines); the
 * scheme says TLS, and the name checked when it is not the host. */
void rh_url_format_safe(const rh_url *u, char *buf, size_t n)
{
    const char *scheme = u->tls ? "rediss" : "redis";
    const char *sni = u->tls && u->tls_sni[0] ? "?sni=" : "";
    const char *sniv = u->tls && u->tls_sni[0] ? u->tls_sni : "";

    if (u->is_unix)
        snprintf(buf, n, "unix://%s?db=%d", u->path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(buf, n, "%s://%s%s[%s]:%d/%d%s%s", scheme, u->pass[0] ? "***" : "",
                 u->pass[0] ? "@" : "", u->host, u->port, u->db, sni, sniv);
    else
        snprintf(buf, n, "%s://%s%s%s:%d/%d%s%s", scheme, u->pass[0] ? "***" : "",
                 u->pass[0] ? "@" : "", u->host, u->port, u->db, sni, sniv);
}
