/* fuzz_web_http.c -- rhai-web's request parsing (src/web/http.c) over
 * arbitrary text: every piece of a request a client controls (path,
 * Cookie and Authorization headers, X-CSRF-Token, query values, and the
 * error text of a task, which a script controls).
 *
 * Invariants: nothing reads or writes out of bounds (the sanitizers);
 * a matched route's params are NUL-terminated, non-empty, at most 256
 * bytes, never "." or "..", and hold no '/'; a 405 names at least one
 * method; a cookie or bearer value fits its buffer and a found bearer
 * token is non-empty; the CSRF rule accepts a cookie write only with the
 * exact token; a query integer is in its range; an error line is 0 or
 * positive. */
#include "fuzz.h"
#include "web/web.h"

static void fz_h(web_req *rq, web_resp *rs)
{
    (void)rq;
    (void)rs;
}

static const web_route fz_routes[] = {
    { WEB_GET, "/api/queues", WEB_READ, fz_h },
    { WEB_POST, "/api/queues/:w/pause", WEB_ADMIN, fz_h },
    { WEB_GET, "/api/tasks/:id", WEB_READ, fz_h },
    { WEB_POST, "/api/schedules/:w/:name/:action", WEB_ADMIN, fz_h },
    { WEB_GET, "/api/contexts/:c/audit", WEB_READ, fz_h },
    { 0, NULL, 0, NULL }
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    char params[WEB_PARAMS_MAX][257], small[8], big[300];
    static const web_method methods[] = { WEB_GET, WEB_POST, WEB_HEAD, WEB_OTHER };
    web_query q;
    unsigned allow;
    long long v;
    char why[120];
    int n, idx;

    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        memset(params, 0x5a, sizeof params);
        idx = web_route_match(fz_routes, methods[m], s, params, &n, &allow);
        FZ_CHECK(idx >= -2);
        if (idx >= 0) {
            FZ_CHECK(n >= 0 && n <= WEB_PARAMS_MAX);
            for (int i = 0; i < n; i++) {
                size_t len = strnlen(params[i], sizeof params[i]);
                FZ_CHECK(len > 0 && len <= 256);
                FZ_CHECK(strchr(params[i], '/') == NULL);
                FZ_CHECK(strcmp(params[i], ".") != 0 && strcmp(params[i], "..") != 0);
            }
        } else if (idx == -2) {
            FZ_CHECK(allow != 0);
        }
    }
    if (web_cookie_find(s, "rhai_session", small, sizeof small) == 0)
        FZ_CHECK(strlen(small) < sizeof small);
    if (web_cookie_find(s, "rhai_session", big, sizeof big) == 0)
        FZ_CHECK(strlen(big) < sizeof big);
    if (web_bearer_parse(s, big, sizeof big) == 0)
        FZ_CHECK(big[0] != '\0' && strlen(big) < sizeof big);
    FZ_CHECK(web_csrf_ok(1, "token", s) == (strcmp(s, "token") == 0));
    FZ_CHECK(web_csrf_ok(1, s, s) == (s[0] != '\0'));
    FZ_CHECK(web_csrf_ok(0, NULL, s) == 1);
    FZ_CHECK(web_error_line(s) >= 0);
    web_mime(s);

    /* a query of one argument whose value is the input */
    memset(&q, 0, sizeof q);
    q.v[0].key = "limit";
    q.v[0].value = s;
    q.n = 1;
    if (web_query_int(&q, "limit", 1, 1000, 50, &v, why, sizeof why) == 0)
        FZ_CHECK(v >= 1 && v <= 1000);
    else
        FZ_CHECK(why[0] != '\0');
    free(s);
    return 0;
}
