/* test_web_api.c -- rhai-web's JSON API against a real redis-server, a
 * real rhaid (worker "default") and a real rhai-web, over plain sockets.
 *
 * One group fixture: redis, rhaid with its data dir, a context "shop"
 * made there with rhaictl (owner "web"), and rhai-web on port 0 (the
 * port read from its "listening on" line) with an admin and a read token
 * and the same data dir. Tests speak HTTP/1.1 with Connection: close and
 * check status codes, headers, access (roles, CSRF), bad input, each
 * endpoint's shape, the playground's output and error line, and the audit
 * rows of admin actions. The login rate limit runs last: it locks
 * 127.0.0.1 out of logins for the rest of the minute. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "harness.h"

#define ADMIN_TOKEN "admin-secret-0123456789abcdef"
#define READ_TOKEN "read-secret-0123456789abcdef"

typedef struct web_fx {
    th_redis redis;
    pid_t    rhaid, web;
    int      port;
    char     data[512];
    char     log[512];
} web_fx;

static web_fx *fx;
static int port_override;       /* another rhai-web than the fixture's */

/* ======================== a small HTTP client ======================== */

typedef struct hres {
    int    status;
    char  *head;            /* status line and headers */
    char  *body;
    json_t *json;           /* the body parsed, or NULL */
} hres;

static void hres_free(hres *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request: 'headers' are extra "K: V\r\n" lines (may be NULL). The
 * answer read until the server closes (20 s at most). 0 / -1. */
static int http(const char *method, const char *path, const char *headers, const char *body,
                size_t body_len, hres *out)
{
    struct sockaddr_in sa;
    char *req = NULL, *buf = NULL, *sep;
    size_t len = 0, cap = 0;
    struct timeval tv = { 20, 0 };
    int fd, n;

    memset(out, 0, sizeof *out);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)(port_override ? port_override : fx->port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    if (body && body_len == 0)
        body_len = strlen(body);
    n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n%s%s\r\n", method, path, body ? body_len : 0,
                 body ? "Content-Type: application/json\r\n" : "", headers ? headers : "");
    if (n < 0 || write(fd, req, (size_t)n) != n ||
        (body && body_len > 0 && write(fd, body, body_len) != (ssize_t)body_len)) {
        /* a server that answers 413 early may close before all is sent */
    }
    free(req);
    for (;;) {
        ssize_t r;
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 16384;
            buf = realloc(buf, cap + 1);
        }
        r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (buf == NULL || len == 0) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    if ((sep = strstr(buf, "\r\n\r\n")) == NULL || sscanf(buf, "HTTP/1.1 %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    *sep = '\0';
    out->head = strdup(buf);
    out->body = strdup(sep + 4);
    out->json = json_loads(out->body, JSON_DECODE_ANY, NULL);
    free(buf);
    return 0;
}

/* The value of header 'name' (case-insensitive) into buf, or "". */
static const char *header(const hres *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    const char *s = r->head;

    buf[0] = '\0';
    while (s && (s = strstr(s, "\r\n")) != NULL) {
        s += 2;
        if (strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
            const char *v = s + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(buf, n, "%.*s", (int)(e ? (size_t)(e - v) : strlen(v)), v);
            return buf;
        }
    }
    return buf;
}

static int call(const char *method, const char *path, const char *auth, const char *body,
                hres *out)
{
    char h[512];

    snprintf(h, sizeof h, "%s%s%s", auth ? "Authorization: Bearer " : "", auth ? auth : "",
             auth ? "\r\n" : "");
    assert_int_equal(http(method, path, h, body, 0, out), 0);
    return out->status;
}

#define ADMIN ADMIN_TOKEN
#define READ READ_TOKEN

/* A cookie session: its cookie header line and csrf. */
typedef struct session {
    char cookie[400];
    char csrf[100];
} session;

static void login(const char *token, session *s)
{
    char body[200], sc[300];
    hres r;

    snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
    assert_int_equal(http("POST", "/api/login", NULL, body, 0, &r), 0);
    assert_int_equal(r.status, 200);
    header(&r, "Set-Cookie", sc, sizeof sc);
    assert_non_null(strstr(sc, "HttpOnly"));
    assert_non_null(strstr(sc, "SameSite=Strict"));
    assert_non_null(strstr(sc, "Path=/"));
    sc[strcspn(sc, ";")] = '\0';
    snprintf(s->cookie, sizeof s->cookie, "Cookie: %s\r\n", sc);
    snprintf(s->csrf, sizeof s->csrf, "%s", json_string_value(json_object_get(r.json, "csrf")));
    assert_int_equal(strlen(s->csrf), 64);
    hres_free(&r);
}

/* A request with the session's cookie, and its CSRF header when csrf
 * is not NULL. */
static int with_cookie(const session *s, const char *method, const char *path,
                       const char *csrf, const char *body, hres *out)
{
    char h[600];

    snprintf(h, sizeof h, "%s%s%s%s", s->cookie, csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "",
             csrf ? "\r\n" : "");
    assert_int_equal(http(method, path, h, body, 0, out), 0);
    return out->status;
}

/* ======================== fixture ======================== */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Start rhai-web on port 0 against the fixture's redis with 'args'
 * (NULL-terminated) appended, its output in 'log'; the port from its
 * "listening on" line into *port. Its pid, or -1 after saying why. */
static pid_t web_start(const char *const args[], const char *log, int *port)
{
    char bin[512], line[256];
    char *argv[32];
    int n = 0;
    int64_t deadline;
    pid_t pid;

    th_bin("rhai-web", bin, sizeof bin);
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--redis-url";
    argv[n++] = fx->redis.url;
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    for (int i = 0; args[i] && n < 30; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    if ((pid = th_spawn(argv, NULL, log)) < 0)
        return -1;
    /* its first stdout line names the port it got */
    *port = 0;
    for (deadline = rh_now_ms() + 10000; rh_now_ms() < deadline && *port == 0;) {
        FILE *f = fopen(log, "r");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "listening on http://127.0.0.1:%d", port) == 1)
                break;
        if (f)
            fclose(f);
        if (*port == 0) {
            struct pollfd none;
            poll(&none, 0, 20);            /* a bounded poll for a state, not a timing */
        }
    }
    if (*port == 0) {
        fprintf(stderr, "rhai-web did not start: see %s\n", log);
        th_sh("cat %s >&2", log);
        th_stop(pid, 5000);
        return -1;
    }
    return pid;
}

static int group_setup(void **state)
{
    char ctl[512], admin[600], readf[600];
    const char *extra[3];

    (void)state;
    fx = calloc(1, sizeof *fx);
    if (fx == NULL || th_redis_start(&fx->redis, 0) != 0)
        return -1;
    snprintf(fx->data, sizeof fx->data, "%s/data", fx->redis.dir);
    extra[0] = "--data-dir";
    extra[1] = fx->data;
    extra[2] = NULL;
    if ((fx->rhaid = th_rhaid_start(&fx->redis, "default", 2, extra)) < 0)
        return -1;
    th_bin("rhaictl", ctl, sizeof ctl);
    if (th_sh("%s context create shop --owner web --data-dir %s >/dev/null", ctl, fx->data) != 0)
        return -1;
    snprintf(admin, sizeof admin, "%s/admin.tokens", fx->redis.dir);
    snprintf(readf, sizeof readf, "%s/read.tokens", fx->redis.dir);
    if (write_file(admin, "# admins\nalice " ADMIN_TOKEN "\n") != 0 ||
        write_file(readf, READ_TOKEN "\n") != 0)
        return -1;
    snprintf(fx->log, sizeof fx->log, "%s/rhai-web.log", fx->redis.dir);
    {
        const char *args[] = { "--admin-token-file", admin, "--read-token-file", readf,
                               "--data-dir", fx->data, NULL };
        if ((fx->web = web_start(args, fx->log, &fx->port)) < 0)
            return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    int st = 0, rc = 0;

    (void)state;
    /* SIGTERM: rhai-web stops cleanly, exit 0, and the sanitizers of a
     * sanitized build found nothing (they would exit non-zero) */
    if (fx->web > 0)
        st = th_stop(fx->web, 10000);
    if (fx->web > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        fprintf(stderr, "rhai-web did not exit 0 (status 0x%x); its log:\n", st);
        th_sh("cat %s >&2", fx->log);
        rc = -1;
    }
    if (fx->rhaid > 0)
        th_stop(fx->rhaid, 10000);
    th_redis_stop(&fx->redis);
    free(fx);
    return rc;
}

/* ======================== console and headers ======================== */

static void test_web_serves_the_console_with_security_headers(void **state)
{
    char h[300];
    hres r;

    (void)state;
    assert_int_equal(call("GET", "/", NULL, NULL, &r), 200);
    assert_string_equal(header(&r, "Content-Type", h, sizeof h), "text/html; charset=utf-8");
    assert_non_null(strstr(header(&r, "Content-Security-Policy", h, sizeof h),
                           "default-src 'self'"));
    assert_string_equal(header(&r, "X-Content-Type-Options", h, sizeof h), "nosniff");
    assert_string_equal(header(&r, "X-Frame-Options", h, sizeof h), "DENY");
    assert_non_null(strstr(r.body, "<html"));
    hres_free(&r);
    assert_int_equal(call("GET", "/index.html", NULL, NULL, &r), 200);
    hres_free(&r);
    assert_int_equal(call("GET", "/no-such-file.js", NULL, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(call("POST", "/", NULL, "{}", &r), 405);
    hres_free(&r);
}

/* ======================== access ======================== */

static void test_web_login_gives_a_session_that_me_and_logout_use(void **state)
{
    session s;
    hres r;

    (void)state;
    login(ADMIN, &s);
    assert_int_equal(with_cookie(&s, "GET", "/api/me", NULL, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "role")), "admin");
    assert_string_equal(json_string_value(json_object_get(r.json, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(r.json, "csrf")), s.csrf);
    hres_free(&r);
    /* logout is a write: it needs the CSRF token too */
    assert_int_equal(with_cookie(&s, "POST", "/api/logout", NULL, NULL, &r), 403);
    hres_free(&r);
    assert_int_equal(with_cookie(&s, "POST", "/api/logout", s.csrf, NULL, &r), 200);
    hres_free(&r);
    assert_int_equal(with_cookie(&s, "GET", "/api/me", NULL, NULL, &r), 401);
    hres_free(&r);
}

static void test_web_refuses_the_api_without_credentials(void **state)
{
    hres r;

    (void)state;
    assert_int_equal(call("GET", "/api/me", NULL, NULL, &r), 401);
    assert_non_null(json_object_get(r.json, "error"));
    hres_free(&r);
    assert_int_equal(call("GET", "/api/queues", NULL, NULL, &r), 401);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/queues", "not-a-token-of-ours-123", NULL, &r), 401);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/login", NULL, "{\"token\":\"wrong-token-xxxxxxxx\"}",
                          &r), 401);
    hres_free(&r);
    {
        char h[200];
        assert_int_equal(http("GET", "/api/me", "Cookie: rhai_session=0123456789abcdef0123456789"
                              "abcdef0123456789abcdef0123456789abcdef\r\n", NULL, 0, &r), 0);
        assert_int_equal(r.status, 401);
        (void)h;
        hres_free(&r);
    }
}

static void test_web_read_role_is_refused_every_write(void **state)
{
    static const char *const writes[][2] = {
        { "/api/queues/default/pause", NULL },
        { "/api/queues/default/resume", NULL },
        { "/api/queues/default/purge", "{\"confirm\":\"default\"}" },
        { "/api/tasks/x1/cancel", NULL },
        { "/api/tasks/x1/retry", NULL },
        { "/api/dead/retry", "{\"worker\":\"default\",\"all\":true}" },
        { "/api/dead/delete", "{\"worker\":\"default\",\"all\":true}" },
        { "/api/schedules/default/nightly/run", NULL },
        { "/api/contexts/shop/grant", "{\"caller\":\"bob\",\"model\":\"*\",\"ops\":[\"read\"]}" },
        { "/api/contexts/shop/revoke", "{\"caller\":\"bob\",\"model\":\"*\"}" },
        { "/api/run", "{\"script\":\"1\"}" },
    };
    session s;
    hres r;

    (void)state;
    login(READ, &s);
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        assert_int_equal(call("POST", writes[i][0], READ, writes[i][1], &r), 403);
        hres_free(&r);
        assert_int_equal(with_cookie(&s, "POST", writes[i][0], s.csrf, writes[i][1], &r), 403);
        hres_free(&r);
    }
    /* reads work */
    assert_int_equal(call("GET", "/api/queues", READ, NULL, &r), 200);
    hres_free(&r);
    assert_int_equal(with_cookie(&s, "GET", "/api/me", NULL, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "role")), "read");
    hres_free(&r);
}

static void test_web_cookie_writes_need_the_csrf_token(void **state)
{
    session s;
    hres r;

    (void)state;
    login(ADMIN, &s);
    assert_int_equal(with_cookie(&s, "POST", "/api/queues/default/pause", NULL, NULL, &r), 403);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "error")), "CSRF"));
    hres_free(&r);
    assert_int_equal(with_cookie(&s, "POST", "/api/queues/default/pause",
                                 "0000000000000000000000000000000000000000000000000000000000000000",
                                 NULL, &r), 403);
    hres_free(&r);
    assert_int_equal(with_cookie(&s, "POST", "/api/queues/default/pause", s.csrf, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "paused")));
    hres_free(&r);
    /* a bearer token sends no cookie: no CSRF token needed */
    assert_int_equal(call("POST", "/api/queues/default/resume", ADMIN, NULL, &r), 200);
    assert_true(json_is_false(json_object_get(r.json, "paused")));
    assert_true(json_is_true(json_object_get(r.json, "changed")));
    hres_free(&r);
}

/* ======================== bad input ======================== */

static void test_web_rejects_bad_input(void **state)
{
    char *big;
    char h[100];
    hres r;

    (void)state;
    assert_int_equal(call("POST", "/api/login", NULL, "{\"token\":", &r), 400);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/run", ADMIN, "[1,2]", &r), 400);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/run", ADMIN, "{\"script\":\"1\",\"worker\":\"a b\"}", &r),
                     400);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/nothing", ADMIN, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/queues/default/pause", ADMIN, NULL, &r), 405);
    assert_string_equal(header(&r, "Allow", h, sizeof h), "POST");
    hres_free(&r);
    assert_int_equal(call("DELETE", "/api/queues", ADMIN, NULL, &r), 405);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks?limit=0", ADMIN, NULL, &r), 400);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks?status=sleeping", ADMIN, NULL, &r), 400);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks?worker=bad%20id", ADMIN, NULL, &r), 400);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks/bad%20id", ADMIN, NULL, &r), 400);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks/no-such-task", ADMIN, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/contexts/no-such-context", ADMIN, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/queues/default/purge", ADMIN, "{\"confirm\":\"other\"}",
                          &r), 400);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/dead/retry", ADMIN, "{\"worker\":\"default\"}", &r), 400);
    hres_free(&r);
    /* a body past 1 MiB */
    big = malloc(1100000);
    memset(big, ' ', 1100000);
    big[0] = '{';
    big[1099999] = '}';
    assert_int_equal(http("POST", "/api/run", "Authorization: Bearer " ADMIN "\r\n", big,
                          1100000, &r), 0);
    assert_int_equal(r.status, 413);
    hres_free(&r);
    free(big);
    /* a request line past what libmicrohttpd holds: 414, and its message
     * in our log format, not bare on stderr */
    big = malloc(100010);
    memcpy(big, "/api/tasks/", 11);
    memset(big + 11, 'x', 99990);
    big[100001] = '\0';
    assert_int_equal(http("GET", big, "Authorization: Bearer " ADMIN "\r\n", NULL, 0, &r), 0);
    assert_int_equal(r.status, 414);
    hres_free(&r);
    free(big);
    assert_int_equal(th_sh("grep -q 'event=http_error reason=\"Error processing request' %s",
                           fx->log), 0);
    assert_int_not_equal(th_sh("grep -q '^Error processing' %s", fx->log), 0);
}

/* ======================== reads ======================== */

static void test_web_read_endpoints_answer_their_shapes(void **state)
{
    hres r;
    json_t *q, *in;
    size_t i;
    int found = 0;

    (void)state;
    assert_int_equal(call("GET", "/api/overview", READ, NULL, &r), 200);
    in = json_array_get(json_object_get(r.json, "instances"), 0);
    assert_string_equal(json_string_value(json_object_get(in, "worker")), "default");
    assert_string_equal(json_string_value(json_object_get(in, "state")), "live");
    assert_int_equal(json_integer_value(json_object_get(in, "executors")), 2);
    assert_true(json_is_integer(json_object_get(in, "busy")));
    assert_true(json_is_integer(json_object_get(in, "last_beat_ms")));
    assert_true(json_is_array(json_object_get(r.json, "alerts")));
    assert_true(json_is_array(json_object_get(json_object_get(r.json, "series"), "t")));
    assert_true(json_is_array(json_object_get(json_object_get(r.json, "series"), "p99_ms")));
    hres_free(&r);

    assert_int_equal(call("GET", "/api/queues", READ, NULL, &r), 200);
    assert_true(json_is_array(r.json));
    json_array_foreach(r.json, i, q)
        if (strcmp(json_string_value(json_object_get(q, "worker")), "default") == 0) {
            found = 1;
            assert_true(json_is_integer(json_object_get(q, "queued")));
            assert_true(json_is_integer(json_object_get(q, "running")));
            assert_true(json_is_integer(json_object_get(q, "scheduled")));
            assert_true(json_is_integer(json_object_get(q, "dead")));
            assert_true(json_is_boolean(json_object_get(q, "paused")));
            assert_non_null(json_object_get(q, "oldest_age_ms"));
        }
    assert_true(found);
    hres_free(&r);

    assert_int_equal(call("GET", "/api/dead", READ, NULL, &r), 200);
    assert_true(json_is_array(r.json));
    hres_free(&r);
    assert_int_equal(call("GET", "/api/schedules?worker=default", READ, NULL, &r), 200);
    assert_true(json_is_array(r.json));
    hres_free(&r);

    assert_int_equal(call("GET", "/api/contexts", READ, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "id")),
                        "shop");
    assert_string_equal(json_string_value(json_array_get(json_object_get(
                            json_array_get(r.json, 0), "owners"), 0)), "web");
    hres_free(&r);
    assert_int_equal(call("GET", "/api/contexts/shop", READ, NULL, &r), 200);
    assert_true(json_is_array(json_object_get(r.json, "grants")));
    assert_true(json_is_array(json_object_get(r.json, "owners")));
    hres_free(&r);
    assert_int_equal(call("GET", "/api/contexts/shop/audit?limit=5", READ, NULL, &r), 200);
    assert_true(json_is_array(r.json));
    hres_free(&r);

    assert_int_equal(call("GET", "/api/dsl", READ, NULL, &r), 200);
    assert_true(json_array_size(json_object_get(r.json, "domains")) > 0);
    assert_true(json_array_size(json_object_get(r.json, "models")) > 0);
    assert_true(json_is_array(json_object_get(json_array_get(json_object_get(r.json, "models"),
                                                             0), "fields")));
    assert_true(json_array_size(json_object_get(r.json, "operations")) > 0);
    hres_free(&r);
}

/* ======================== playground, tasks ======================== */

static void test_web_run_returns_output_and_the_error_line(void **state)
{
    char path[300];
    hres r, t;

    (void)state;
    assert_int_equal(call("POST", "/api/run", ADMIN,
                          "{\"script\":\"print('hi ' + args.who); 40 + args.n\","
                          "\"args\":{\"who\":\"web\",\"n\":2},\"timeout_ms\":5000}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "done");
    assert_int_equal(json_integer_value(json_object_get(r.json, "output")), 42);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "logs")), "hi web"));
    assert_true(json_is_null(json_object_get(r.json, "line")));

    /* the task page of that run: script, args, output, caller, timings */
    snprintf(path, sizeof path, "/api/tasks/%s", json_string_value(json_object_get(r.json, "id")));
    assert_int_equal(call("GET", path, READ, NULL, &t), 200);
    assert_non_null(strstr(json_string_value(json_object_get(t.json, "script")), "args.who"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.json, "args"),
                                                          "who")), "web");
    assert_int_equal(json_integer_value(json_object_get(t.json, "output")), 42);
    assert_string_equal(json_string_value(json_object_get(t.json, "caller_id")), "web");
    assert_true(json_is_object(json_object_get(t.json, "timings")));
    assert_true(json_is_array(json_object_get(t.json, "errors")));
    hres_free(&t);
    hres_free(&r);

    assert_int_equal(call("POST", "/api/run", ADMIN,
                          "{\"script\":\"var a = 1;\\nnosuch(a);\"}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(r.json, "error_kind")), "script");
    assert_int_equal(json_integer_value(json_object_get(r.json, "line")), 2);
    hres_free(&r);

    /* tasks list, filtered */
    assert_int_equal(call("GET", "/api/tasks?worker=default&status=error&limit=5", READ, NULL,
                          &r), 200);
    assert_true(json_array_size(r.json) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "status")),
                        "error");
    assert_non_null(json_object_get(json_array_get(r.json, 0), "created_at"));
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks?caller=web&since=1h", READ, NULL, &r), 200);
    assert_true(json_array_size(r.json) >= 2);
    hres_free(&r);

    /* no instance for that worker id: said at once */
    assert_int_equal(call("POST", "/api/run", ADMIN, "{\"script\":\"1\",\"worker\":\"nobody\"}",
                          &r), 409);
    hres_free(&r);
}

/* Count the audit rows of context shop whose op is 'op'. */
static int audit_count(const char *op)
{
    hres r;
    json_t *row;
    size_t i;
    int n = 0;

    assert_int_equal(call("GET", "/api/contexts/shop/audit?limit=1000", READ, NULL, &r), 200);
    json_array_foreach(r.json, i, row)
        if (strcmp(json_string_value(json_object_get(row, "op")), op) == 0) {
            assert_non_null(strstr(json_string_value(json_object_get(row, "reason")),
                                   "rhai-web alice (admin)"));
            n++;
        }
    hres_free(&r);
    return n;
}

static void test_web_admin_actions_land_in_the_audit_log(void **state)
{
    redisContext *c = th_redis_connect(&fx->redis);
    char path[300], id[200];
    hres r;

    (void)state;
    assert_non_null(c);
    /* grant and revoke */
    assert_int_equal(call("POST", "/api/contexts/shop/grant", ADMIN,
                          "{\"caller\":\"bob\",\"model\":\"*\",\"ops\":[\"read\",\"create\"]}", &r),
                     200);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/contexts/shop", READ, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(r.json, "grants"), 0), "caller")), "bob");
    hres_free(&r);
    assert_int_equal(audit_count("grant"), 1);
    assert_int_equal(call("POST", "/api/contexts/shop/revoke", ADMIN,
                          "{\"caller\":\"bob\",\"model\":\"*\"}", &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "changed")), 1);
    hres_free(&r);
    assert_int_equal(audit_count("revoke"), 1);
    assert_int_equal(call("POST", "/api/contexts/shop/grant", ADMIN,
                          "{\"caller\":\"bob\",\"model\":\"no_such_model\",\"ops\":[\"read\"]}",
                          &r), 400);
    hres_free(&r);

    /* a run in the context */
    assert_int_equal(call("POST", "/api/run", ADMIN,
                          "{\"script\":\"7\",\"context\":\"shop\"}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "done");
    hres_free(&r);
    assert_int_equal(audit_count("run"), 1);

    /* cancel a queued task of the context (worker id with no instance) */
    assert_int_equal(th_submit_as(c, "idle", "web-cancel-1", "shop", "bob", "1", NULL, 0, NULL),
                     0);
    assert_int_equal(call("POST", "/api/tasks/web-cancel-1/cancel", ADMIN, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "audited")));
    hres_free(&r);
    assert_string_equal(th_task_field(c, "web-cancel-1", "status", id, sizeof id), "cancelled");
    assert_int_equal(audit_count("cancel"), 1);
    /* finished: cancelling again is a conflict */
    assert_int_equal(call("POST", "/api/tasks/web-cancel-1/cancel", ADMIN, NULL, &r), 409);
    hres_free(&r);

    /* retry it: a new task with retry_of */
    assert_int_equal(call("POST", "/api/tasks/web-cancel-1/retry", ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "retry_of")), "web-cancel-1");
    snprintf(path, sizeof path, "/api/tasks/%s", json_string_value(json_object_get(r.json, "id")));
    hres_free(&r);
    assert_int_equal(call("GET", path, READ, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "retry_of")), "web-cancel-1");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "queued");
    hres_free(&r);
    assert_int_equal(audit_count("retry"), 1);
    redisFree(c);
}

/* A dead task of worker id 'w' in context shop, as rhaid leaves one:
 * hash kept without TTL, id in <prefix>:dead:{W} scored by dead_at. */
static void make_dead(redisContext *c, const char *w, const char *id)
{
    char key[200];
    redisReply *rep;

    assert_int_equal(th_submit_as(c, w, id, "shop", "bob", "throw 1", NULL, 0, NULL), 0);
    rep = redisCommand(c, "LREM rhai:queue:{%s} 0 %s", w, id);
    freeReplyObject(rep);
    snprintf(key, sizeof key, "rhai:task:{%s}:%s", w, id);
    rep = redisCommand(c, "HSET %s status error error_kind crashed error dead finished_at 1 "
                       "dead_at 1 attempts 3", key);
    freeReplyObject(rep);
    rep = redisCommand(c, "ZADD rhai:dead:{%s} %lld %s", w, (long long)rh_now_ms() - 1000, id);
    freeReplyObject(rep);
}

static void test_web_dead_tasks_are_retried_and_deleted(void **state)
{
    redisContext *c = th_redis_connect(&fx->redis);
    char buf[64];
    hres r;

    (void)state;
    make_dead(c, "idle", "dead-1");
    make_dead(c, "idle", "dead-2");
    make_dead(c, "idle", "dead-3");
    assert_int_equal(call("GET", "/api/dead?worker=idle", READ, NULL, &r), 200);
    assert_int_equal(json_array_size(r.json), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0),
                                                          "error_kind")), "crashed");
    hres_free(&r);
    assert_int_equal(call("GET", "/api/tasks/dead-1", READ, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "dead")));
    hres_free(&r);

    assert_int_equal(call("POST", "/api/dead/retry", ADMIN,
                          "{\"worker\":\"idle\",\"ids\":[\"dead-1\"]}", &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "changed")), 1);
    hres_free(&r);
    assert_string_equal(th_task_field(c, "dead-1", "status", buf, sizeof buf), "queued");
    assert_int_equal(th_cmd_int(c, "LLEN rhai:queue:{idle}"), 2);   /* dead-1, the retry above */
    /* the task's own retry route on a dead task: back under its own id */
    assert_int_equal(call("POST", "/api/tasks/dead-2/retry", ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "dead-2");
    assert_true(json_is_true(json_object_get(r.json, "dead")));
    hres_free(&r);
    assert_int_equal(call("POST", "/api/dead/delete", ADMIN, "{\"worker\":\"idle\",\"all\":true}",
                          &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "changed")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "ids"), 0)),
                        "dead-3");
    hres_free(&r);
    assert_int_equal(th_cmd_int(c, "ZCARD rhai:dead:{idle}"), 0);
    assert_int_equal(audit_count("dead_retry"), 2);
    assert_int_equal(audit_count("dead_delete"), 1);

    /* purge: every queued task of idle ends cancelled */
    assert_int_equal(call("POST", "/api/queues/idle/purge", ADMIN, "{\"confirm\":\"idle\"}", &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "cancelled")), 3);
    hres_free(&r);
    assert_string_equal(th_task_field(c, "dead-1", "status", buf, sizeof buf), "cancelled");
    assert_int_equal(call("POST", "/api/queues/nobody-here/purge", ADMIN,
                          "{\"confirm\":\"nobody-here\"}", &r), 404);
    hres_free(&r);
    redisFree(c);
}

static void test_web_schedules_pause_resume_and_run(void **state)
{
    char ctl[512], script[600];
    hres r;

    (void)state;
    th_bin("rhaictl", ctl, sizeof ctl);
    snprintf(script, sizeof script, "%s/nightly.js", fx->redis.dir);
    assert_int_equal(write_file(script, "1 + 1"), 0);
    assert_int_equal(th_sh("%s --redis-url %s cron add nightly --cron '0 3 * * *' --worker "
                           "default --script %s --context shop --caller web >/dev/null", ctl,
                           fx->redis.url, script), 0);
    assert_int_equal(call("GET", "/api/schedules", READ, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "name")),
                        "nightly");
    hres_free(&r);
    assert_int_equal(call("POST", "/api/schedules/default/nightly/pause", ADMIN, NULL, &r), 200);
    hres_free(&r);
    assert_int_equal(call("GET", "/api/schedules?worker=default", READ, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(json_array_get(r.json, 0), "paused")));
    hres_free(&r);
    assert_int_equal(call("POST", "/api/schedules/default/nightly/resume", ADMIN, NULL, &r), 200);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/schedules/default/nightly/run", ADMIN, NULL, &r), 200);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "id")), "cron:nightly:now"));
    hres_free(&r);
    assert_int_equal(call("POST", "/api/schedules/default/nightly/explode", ADMIN, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/schedules/default/nosuch/run", ADMIN, NULL, &r), 404);
    hres_free(&r);
    assert_int_equal(audit_count("schedule_pause"), 2);
    assert_int_equal(audit_count("schedule_run"), 1);
}

/* With signing_key, tasks rhai-web submits are signed (its caller the
 * key's public key): a worker with require_signatures runs them, and
 * refuses the unsigned ones of the fixture's rhai-web. */
static void test_web_signs_tasks_with_the_configured_key(void **state)
{
    char ctl[512], key[600], pub[200] = "", log[600], admin[600], path[300];
    const char *rhaid_extra[] = { "--require-signatures", "1", NULL };
    pid_t rhaid, web2;
    int port2;
    FILE *p;
    hres r;

    (void)state;
    th_bin("rhaictl", ctl, sizeof ctl);
    snprintf(key, sizeof key, "%s/web.key", fx->redis.dir);
    {
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "%s keygen --out %s", ctl, key);
        assert_non_null(p = popen(cmd, "r"));
        assert_non_null(fgets(pub, sizeof pub, p));
        assert_int_equal(pclose(p), 0);
        pub[strcspn(pub, "\n")] = '\0';
        assert_int_equal(strlen(pub), 64);
    }
    assert_true((rhaid = th_rhaid_start(&fx->redis, "signed", 1, rhaid_extra)) > 0);
    snprintf(admin, sizeof admin, "%s/admin.tokens", fx->redis.dir);
    snprintf(log, sizeof log, "%s/rhai-web-signed.log", fx->redis.dir);
    {
        const char *args[] = { "--admin-token-file", admin, "--signing-key", key, NULL };
        assert_true((web2 = web_start(args, log, &port2)) > 0);
    }
    port_override = port2;
    assert_int_equal(call("GET", "/api/me", ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "caller")), pub);
    hres_free(&r);
    assert_int_equal(call("POST", "/api/run", ADMIN, "{\"script\":\"6 * 7\",\"worker\":\"signed\"}",
                          &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "done");
    assert_int_equal(json_integer_value(json_object_get(r.json, "output")), 42);
    snprintf(path, sizeof path, "/api/tasks/%s", json_string_value(json_object_get(r.json, "id")));
    hres_free(&r);
    assert_int_equal(call("GET", path, READ_TOKEN, NULL, &r), 401);    /* no read file here */
    hres_free(&r);
    assert_int_equal(call("GET", path, ADMIN, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "caller_id")), pub);
    assert_null(json_object_get(r.json, "signature"));                 /* not shown */
    hres_free(&r);
    port_override = 0;
    /* the unsigned rhai-web: denied by that worker */
    assert_int_equal(call("POST", "/api/run", ADMIN, "{\"script\":\"1\",\"worker\":\"signed\"}",
                          &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "error_kind")), "denied");
    hres_free(&r);
    {
        int st = th_stop(web2, 10000);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    th_stop(rhaid, 10000);
}

/* Last: it locks 127.0.0.1 out of logins until the minute ends. */
static void test_web_login_is_rate_limited(void **state)
{
    int limited = 0;
    time_t limited_minute;
    hres r;

    (void)state;
    for (int i = 0; i < 20 && !limited; i++) {
        call("POST", "/api/login", NULL, "{\"token\":\"guess-guess-guess\"}", &r);
        assert_true(r.status == 401 || r.status == 429);
        limited = r.status == 429;
        hres_free(&r);
    }
    assert_true(limited);
    limited_minute = time(NULL) / 60;
    /* the right token too, until the minute ends (the only way it is let
     * in here is that the minute ended meanwhile); bearer tokens work */
    call("POST", "/api/login", NULL, "{\"token\":\"" ADMIN "\"}", &r);
    assert_true(r.status == 429 || (r.status == 200 && time(NULL) / 60 != limited_minute));
    hres_free(&r);
    assert_int_equal(call("GET", "/api/me", ADMIN, NULL, &r), 200);
    hres_free(&r);
}

/* The log never holds a secret. */
static void test_web_logs_no_secret(void **state)
{
    char buf[4096];
    FILE *f = fopen(fx->log, "r");

    (void)state;
    assert_non_null(f);
    while (fgets(buf, sizeof buf, f)) {
        assert_null(strstr(buf, ADMIN_TOKEN));
        assert_null(strstr(buf, READ_TOKEN));
        assert_null(strstr(buf, "rhai_session="));
    }
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_serves_the_console_with_security_headers),
        cmocka_unit_test(test_web_login_gives_a_session_that_me_and_logout_use),
        cmocka_unit_test(test_web_refuses_the_api_without_credentials),
        cmocka_unit_test(test_web_read_role_is_refused_every_write),
        cmocka_unit_test(test_web_cookie_writes_need_the_csrf_token),
        cmocka_unit_test(test_web_rejects_bad_input),
        cmocka_unit_test(test_web_read_endpoints_answer_their_shapes),
        cmocka_unit_test(test_web_run_returns_output_and_the_error_line),
        cmocka_unit_test(test_web_admin_actions_land_in_the_audit_log),
        cmocka_unit_test(test_web_dead_tasks_are_retried_and_deleted),
        cmocka_unit_test(test_web_schedules_pause_resume_and_run),
        cmocka_unit_test(test_web_signs_tasks_with_the_configured_key),
        cmocka_unit_test(test_web_login_is_rate_limited),
        cmocka_unit_test(test_web_logs_no_secret),
    };
    return cmocka_run_group_tests_name("web_api", tests, group_setup, group_teardown);
}
