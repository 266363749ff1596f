/* url.c -- parse the Redis URLs every binary accepts.
 *
 *   redis://[[user]:password@]host[:port][/db]    host may be [v6]
 *   unix:///path/to/socket[?db=N]
 * No percent-decoding: credentials with '@' or '/' are not supported, and
 * rediss:// is refused because Debian's hiredis 0.14 has no TLS. */
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

int rh_url_parse(const char *url, rh_url *out, rhai_error *err)
{
    rh_url u;
    const char *p, *at, *hostend, *slash;
    long v;

    memset(&u, 0, sizeof u);
    strcpy(u.host, "127.0.0.1");
    u.port = 6379;
    if (url == NULL || *url == '\0') {
        *out = u;
        return 0;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        int rc = parse_unix(url + 7, &u, err);
        if (rc == 0)
            *out = u;
        return rc;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return rh_error_set(err, RHAI_EINVAL, "rediss:// (TLS) is not supported by this build");
    if (strncmp(url, "redis://", 8) != 0)
        return rh_error_set(err, RHAI_EINVAL, "url must start with redis:// or unix://");
    p = url + 8;
    slash = strchr(p, '/');
    at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
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
    hostend = slash ? slash : p + strlen(p);
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
        if (parse_int(p + 1, (size_t)(hostend - p - 1), 1, 65535, &v) != 0)
            return rh_error_set(err, RHAI_EINVAL, "url: bad port '%.*s'",
                                (int)(hostend - p - 1), p + 1);
        u.port = (int)v;
    }
    if (slash && slash[1] != '\0') {
        if (parse_int(slash + 1, strlen(slash + 1), 0, 1 << 20, &v) != 0)
            return rh_error_set(err, RHAI_EINVAL, "url: bad db number '%s'", slash + 1);
        u.db = (int)v;
    }
    *out = u;
    return 0;
}

void rh_url_format_safe(const rh_url *u, char *buf, size_t n)
{
    if (u->is_unix)
        snprintf(buf, n, "unix://%s?db=%d", u->path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(buf, n, "redis://%s%s[%s]:%d/%d", u->pass[0] ? "***" : "",
                 u->pass[0] ? "@" : "", u->host, u->port, u->db);
    else
        snprintf(buf, n, "redis://%s%s%s:%d/%d", u->pass[0] ? "***" : "",
                 u->pass[0] ? "@" : "", u->host, u->port, u->db);
}
