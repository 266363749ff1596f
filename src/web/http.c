/* http.c -- the pure parts of reading a request: routes, cookies, bearer
 * tokens, CSRF and secret comparison, query arguments, error lines.
 *
 * Nothing here touches a socket, Redis or the clock, so
 * tests/unit/test_web_http.c checks each rule and tests/fuzz/fuzz_web_http.c
 * feeds them arbitrary input. Every input is outside input: bounded
 * copies, no assumption about lengths or characters. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

web_method web_method_parse(const char *m)
{
    if (m == NULL)
        return WEB_OTHER;
    if (strcmp(m, "GET") == 0)
        return WEB_GET;
    if (strcmp(m, "POST") == 0)
        return WEB_POST;
    if (strcmp(m, "HEAD") == 0)
        return WEB_HEAD;
    return WEB_OTHER;
}

/* ======================== routes ======================== */

/* Match one pattern against path. 1 when it does (params copied), 0. */
static int route_one(const char *pattern, const char *path, char params[WEB_PARAMS_MAX][257],
                     int *nparams)
{
    const char *p = pattern, *s = path;
    int np = 0;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), sl = se ? (size_t)(se - s) : strlen(s);

        if (pl > 0 && p[0] == ':') {
            if (sl == 0 || sl > 256 || np >= WEB_PARAMS_MAX ||
                (sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.'))
                return 0;
            memcpy(params[np], s, sl);
            params[np][sl] = '\0';
            np++;
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return 0;
        }
        p += pl;
        s += sl;
    }
    if (*p || *s)
        return 0;
    *nparams = np;
    return 1;
}

int web_route_match(const web_route *table, web_method method, const char *path,
                    char params[WEB_PARAMS_MAX][257], int *nparams, unsigned *allow)
{
    web_method m = method == WEB_HEAD ? WEB_GET : method;
    unsigned seen = 0;
    int np;

    *nparams = 0;
    if (allow)
        *allow = 0;
    if (path == NULL || path[0] != '/')
        return -1;
    for (int i = 0; table[i].pattern; i++) {
        if (!route_one(table[i].pattern, path, params, &np))
            continue;
        if (table[i].method == m) {
            *nparams = np;
            return i;
        }
        seen |= (unsigned)table[i].method;
    }
    if (seen == 0)
        return -1;
    if (allow)
        *allow = seen;
    return -2;
}

/* ======================== cookies and tokens ======================== */

int web_cookie_find(const char *header, const char *name, char *buf, size_t n)
{
    size_t nl = name ? strlen(name) : 0;
    const char *s = header;

    if (header == NULL || nl == 0 || n == 0)
        return -1;
    /* cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265), but
     * browsers and proxies vary: any blanks around ';' and '='. */
    while (*s) {
        const char *end = strchr(s, ';'), *eq;
        size_t len;

        if (end == NULL)
            end = s + strlen(s);
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        eq = memchr(s, '=', (size_t)(end - s));
        if (eq) {
            const char *k_end = eq;
            while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
                k_end--;
            if ((size_t)(k_end - s) == nl && memcmp(s, name, nl) == 0) {
                const char *v = eq + 1, *v_end = end;
                while (v < v_end && (*v == ' ' || *v == '\t'))
                    v++;
                while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
                    v_end--;
                if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
                    v++;
                    v_end--;
                }
                len = (size_t)(v_end - v);
                if (len + 1 > n)
                    return -1;
                memcpy(buf, v, len);
                buf[len] = '\0';
                return 0;
            }
        }
        s = *end ? end + 1 : end;
    }
    return -1;
}

int web_bearer_parse(const char *header, char *buf, size_t n)
{
    const char *s = header;
    size_t len;

    if (s == NULL || n == 0 || strncasecmp(s, "Bearer", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
        return -1;
    s += 6;
    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len + 1 > n)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

int web_secret_equal(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char diff = 0;

    if (a == NULL || b == NULL)
        return 0;
    la = strlen(a);
    lb = strlen(b);
    /* Compare over the longer length so the time says nothing of where
     * they differ; the lengths themselves are not secret (fixed hex). */
    for (size_t i = 0; i < (la > lb ? la : lb); i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0 && la == lb;
}

int web_csrf_ok(int via_cookie, const char *session_csrf, const char *header)
{
    if (!via_cookie)
        return 1;               /* a bearer token is not sent by browsers on their own */
    if (session_csrf == NULL || session_csrf[0] == '\0' || header == NULL)
        return 0;
    return web_secret_equal(session_csrf, header);
}

/* ======================== query ======================== */

const char *web_query_get(const web_query *q, const char *key)
{
    for (int i = 0; q && i < q->n; i++)
        if (q->v[i].key && strcmp(q->v[i].key, key) == 0)
            return q->v[i].value && q->v[i].value[0] ? q->v[i].value : NULL;
    return NULL;
}

int web_query_int(const web_query *q, const char *key, long long min, long long max,
                  long long def, long long *out, char *why, size_t n)
{
    const char *s = web_query_get(q, key);
    long long v;
    char *end;

    if (s == NULL) {
        *out = def;
        return 0;
    }
    if ((*s < '0' || *s > '9') && !(*s == '-' && min < 0))
        goto bad;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    snprintf(why, n, "%s '%.40s' is not a number in %lld..%lld", key, s, min, max);
    return -1;
}

/* ======================== error lines ======================== */

int web_error_line(const char *error)
{
    const char *s = error, *hit = NULL;
    long v;

    if (error == NULL)
        return 0;
    /* mujs and the engine say "... (line N)"; take the last mention. */
    while ((s = strstr(s, "line ")) != NULL) {
        if (s[5] >= '0' && s[5] <= '9')
            hit = s + 5;
        s += 5;
    }
    if (hit == NULL)
        return 0;
    errno = 0;
    v = strtol(hit, NULL, 10);
    return errno == 0 && v > 0 && v < 100000000 ? (int)v : 0;
}

/* ======================== content types ======================== */

const char *web_mime(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".woff2", "font/woff2" },
    };
    const char *dot = path ? strrchr(path, '.') : NULL;

    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}
