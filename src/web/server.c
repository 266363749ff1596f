/* server.c -- libmicrohttpd glue: read a request, decide who it is from,
 * check access, run its handler, answer with the security headers.
 *
 * A request is: GET of an asset (public), POST /api/login (public, rate
 * limited), or an /api route of web_routes needing the read or admin role.
 * Identity comes from "Authorization: Bearer TOKEN" (scripts), else the
 * rhai_session cookie (the console). A write (POST) authenticated by the
 * cookie must carry X-CSRF-Token equal to its session's token: a page of
 * another site can make the browser send the cookie, never read the
 * token. Bodies are read up to WEB_BODY_MAX (413 past it). Each
 * connection has a thread; handlers run one at a time under web.mu.
 * Nothing secret is logged: not tokens, cookies, CSRF tokens nor bodies. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "web.h"

web_state web;

const web_route web_routes[] = {
    { WEB_POST, "/api/login", WEB_PUBLIC, web_api_login },
    { WEB_POST, "/api/logout", WEB_READ, web_api_logout },
    { WEB_GET, "/api/me", WEB_READ, web_api_me },
    { WEB_GET, "/api/overview", WEB_READ, web_api_overview },
    { WEB_GET, "/api/queues", WEB_READ, web_api_queues },
    { WEB_POST, "/api/queues/:w/pause", WEB_ADMIN, web_api_queue_pause },
    { WEB_POST, "/api/queues/:w/resume", WEB_ADMIN, web_api_queue_resume },
    { WEB_POST, "/api/queues/:w/purge", WEB_ADMIN, web_api_queue_purge },
    { WEB_GET, "/api/tasks", WEB_READ, web_api_tasks },
    { WEB_GET, "/api/tasks/:id", WEB_READ, web_api_task },
    { WEB_POST, "/api/tasks/:id/cancel", WEB_ADMIN, web_api_task_cancel },
    { WEB_POST, "/api/tasks/:id/retry", WEB_ADMIN, web_api_task_retry },
    { WEB_GET, "/api/dead", WEB_READ, web_api_dead },
    { WEB_POST, "/api/dead/retry", WEB_ADMIN, web_api_dead_retry },
    { WEB_POST, "/api/dead/delete", WEB_ADMIN, web_api_dead_delete },
    { WEB_GET, "/api/schedules", WEB_READ, web_api_schedules },
    { WEB_POST, "/api/schedules/:w/:name/:action", WEB_ADMIN, web_api_schedule_action },
    { WEB_GET, "/api/contexts", WEB_READ, web_api_contexts },
    { WEB_GET, "/api/contexts/:c", WEB_READ, web_api_context },
    { WEB_POST, "/api/contexts/:c/grant", WEB_ADMIN, web_api_grant },
    { WEB_POST, "/api/contexts/:c/revoke", WEB_ADMIN, web_api_revoke },
    { WEB_GET, "/api/contexts/:c/audit", WEB_READ, web_api_context_audit },
    { WEB_GET, "/api/dsl", WEB_READ, web_api_dsl },
    { WEB_POST, "/api/run", WEB_ADMIN, web_api_run },
    { 0, NULL, 0, NULL }
};

/* ======================== answers ======================== */

void web_reply(web_resp *rs, unsigned status, json_t *doc)
{
    json_decref(rs->json);
    rs->status = doc ? status : 500;
    rs->json = doc ? doc : json_pack("{s:s}", "error", "out of memory");
}

void web_error(web_resp *rs, unsigned status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    web_reply(rs, status, json_pack("{s:s}", "error", msg));
}

void web_ctl_error(web_resp *rs, int code)
{
    const char *msg = web.r.msg[0] ? web.r.msg : ctl_last_error();
    unsigned status;

    switch (code) {
    case CTL_EXIT_CONN: status = 503; break;
    case CTL_EXIT_NOTFOUND: status = 404; break;
    case CTL_EXIT_USAGE: status = 400; break;
    case CTL_EXIT_DENIED: status = 403; break;
    case CTL_EXIT_NOWORKER: status = 409; break;
    default: status = 500; break;
    }
    web_error(rs, status, "%s", msg && msg[0] ? msg : "failed");
}

void web_rc_error(web_resp *rs, int rc, const rhai_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : rhai_strerror(rc);
    unsigned status;

    switch (rc) {
    case RHAI_ECONN: status = 503; break;
    case RHAI_ENOTFOUND: status = 404; break;
    case RHAI_EINVAL: case RHAI_ETOOBIG: status = 400; break;
    case RHAI_ESTATE: status = 409; break;
    case RHAI_ETIMEOUT: status = 504; break;
    default: status = 500; break;
    }
    web_error(rs, status, "%s", msg);
}

json_t *web_body_object(web_req *rq, web_resp *rs)
{
    json_error_t je;
    json_t *doc;

    if (rq->body_len == 0) {
        web_error(rs, 400, "a JSON object is expected in the body");
        return NULL;
    }
    if ((doc = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
        web_error(rs, 400, "bad JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        web_error(rs, 400, "a JSON object is expected in the body");
        return NULL;
    }
    return doc;
}

/* ======================== shared connections ======================== */

ctl_redis *web_redis(web_resp *rs)
{
    web.r.msg[0] = '\0';
    if (web.r_open && ctl_redis_up(&web.r))
        return &web.r;
    if (web.r_open ? ctl_redis_reopen(&web.r) != 0 : ctl_redis_open(&web.g, "web", &web.r) != 0) {
        web_error(rs, 503, "redis: %s", web.r.msg[0] ? web.r.msg : ctl_last_error());
        return NULL;
    }
    web.r_open = 1;
    web.r.quiet = 1;
    return &web.r;
}

rhai_client *web_client(web_resp *rs)
{
    rhai_error err = { 0, "" };
    int rc;

    if (web.client)
        return web.client;
    if ((rc = rhai_client_connect(web.g.url, web.g.prefix, &web.client, &err)) != 0) {
        web_rc_error(rs, rc, &err);
        return NULL;
    }
    return web.client;
}

const char *web_caller(void)
{
    return web.signing_key[0] ? web.key_caller : web.cfg.caller;
}

int web_audit(const web_req *rq, const char *context, const char *op, const char *model,
              const char *task_id, const char *detail)
{
    char reason[900];
    rhai_error err = { 0, "" };
    store_db *db = NULL;
    store_audit a;
    int rc;

    if (context == NULL || context[0] == '\0' || web.st == NULL)
        return 0;
    snprintf(reason, sizeof reason, "rhai-web %s (%s): %s", rq->user,
             rq->role == WEB_ADMIN ? "admin" : "read", detail);
    memset(&a, 0, sizeof a);
    a.at = rh_now_ms();
    a.task_id = task_id;
    a.caller = web_caller();
    a.op = op;
    a.model = model;
    a.decision = "allowed";
    a.reason = reason;
    if (store_context_exists(web.st, context) != 1) {
        rh_log(RH_LOG_WARN, "event=audit_skipped context=%s op=%s user=%s no such context in "
               "the store: nothing audited", context, op, rq->user);
        return 0;
    }
    if ((rc = store_open(web.st, context, &db, &err)) != 0 ||
        (rc = store_audit_put(db, &a, &err)) != 0) {
        rh_log(RH_LOG_ERROR, "event=audit_failed context=%s op=%s user=%s %s", context, op,
               rq->user, err.msg[0] ? err.msg : rhai_strerror(rc));
        return -1;
    }
    return 1;
}

/* ======================== requests ======================== */

typedef struct web_conn {
    rh_buf body;
    int    too_big;
} web_conn;

static enum MHD_Result web_query_add(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    web_query *q = cls;

    (void)kind;
    if (q->n >= WEB_QUERY_MAX) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->v[q->n].key = key;
    q->v[q->n].value = value ? value : "";
    q->n++;
    return MHD_YES;
}

static void web_headers(struct MHD_Response *resp, int api)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                            "form-action 'self'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", api ? "no-store" : "no-cache");
}

static enum MHD_Result web_send(struct MHD_Connection *conn, unsigned status, const char *type,
                                const void *data, size_t len, int copy, int api,
                                const char *set_cookie, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
                                           copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    web_headers(resp, api);
    MHD_add_response_header(resp, "Content-Type", type);
    if (set_cookie && set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", set_cookie);
    if (allow && allow[0])
        MHD_add_response_header(resp, "Allow", allow);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result web_send_json(struct MHD_Connection *conn, web_resp *rs,
                                     const char *allow)
{
    char *text = rs->json ? json_dumps(rs->json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    enum MHD_Result ret;

    if (text == NULL)
        return web_send(conn, 500, "application/json", "{\"error\":\"out of memory\"}", 25, 0, 1,
                        NULL, NULL);
    ret = web_send(conn, rs->status ? rs->status : 200, "application/json", text, strlen(text),
                   1, 1, rs->set_cookie, allow);
    free(text);
    return ret;
}

static enum MHD_Result web_send_error(struct MHD_Connection *conn, unsigned status,
                                      const char *msg, const char *allow)
{
    web_resp rs;
    enum MHD_Result ret;

    memset(&rs, 0, sizeof rs);
    web_error(&rs, status, "%s", msg);
    ret = web_send_json(conn, &rs, allow);
    json_decref(rs.json);
    return ret;
}

/* GET of an asset: "/" is index.html. */
static enum MHD_Result web_asset_send(struct MHD_Connection *conn, const char *url)
{
    const char *path = strcmp(url, "/") == 0 ? "index.html" : url + 1;

    for (const web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return web_send(conn, 200, web_mime(a->path), a->data, a->len, 0, 0, NULL, NULL);
    return web_send_error(conn, 404, "not found", NULL);
}

static void web_allow_text(unsigned allow, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", allow & WEB_GET ? "GET, HEAD" : "",
             (allow & WEB_GET) && (allow & WEB_POST) ? ", " : "", allow & WEB_POST ? "POST" : "");
}

/* Who sent it: 0 when nobody we know (rq->role stays 0), -1 after a bad
 * bearer token (answer 401). */
static int web_identify(web_req *rq)
{
    const char *auth = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
    const char *cookie = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Cookie");
    char token[WEB_TOKEN_MAX + 1], sid[WEB_SESSION_HEX + 1];
    int role;

    if (auth) {
        if (web_bearer_parse(auth, token, sizeof token) != 0 ||
            (role = web_auth_token(token, rq->user)) == 0) {
            memset(token, 0, sizeof token);
            return -1;
        }
        memset(token, 0, sizeof token);
        rq->role = role;
        return 0;
    }
    if (cookie && web_cookie_find(cookie, "rhai_session", sid, sizeof sid) == 0 &&
        web_session_get(sid, &rq->session) == 0) {
        rq->role = rq->session.role;
        rq->via_cookie = 1;
        snprintf(rq->user, sizeof rq->user, "%s", rq->session.user);
    }
    return 0;
}

static void web_client_addr(struct MHD_Connection *conn, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, n, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)n);
}

static enum MHD_Result web_api(struct MHD_Connection *conn, web_method m, const char *url,
                               web_conn *wc)
{
    web_req rq;
    web_resp rs;
    char allow[32] = "";
    unsigned allowed;
    int idx, who;
    enum MHD_Result ret;

    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.conn = conn;
    rq.method = m;
    rq.path = url;
    idx = web_route_match(web_routes, m, url, rq.params, &rq.nparams, &allowed);
    if (idx == -1)
        return web_send_error(conn, 404, "no such API route", NULL);
    if (idx == -2) {
        web_allow_text(allowed, allow, sizeof allow);
        return web_send_error(conn, 405, "method not allowed", allow);
    }
    if (wc->too_big)
        return web_send_error(conn, 413, "request body too large", NULL);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, web_query_add, &rq.query);
    if (rq.query.overflow)
        return web_send_error(conn, 400, "too many query arguments", NULL);
    rq.body = wc->body.data ? wc->body.data : "";     /* rh_buf: NUL-terminated */
    rq.body_len = wc->body.len;
    web_client_addr(conn, rq.addr, sizeof rq.addr);

    pthread_mutex_lock(&web.mu);
    who = web_identify(&rq);
    if (who < 0) {
        web_error(&rs, 401, "bad token");
    } else if (web_routes[idx].access != WEB_PUBLIC && rq.role == 0) {
        web_error(&rs, 401, "not logged in");
    } else if (m == WEB_POST && web_routes[idx].access != WEB_PUBLIC &&
               !web_csrf_ok(rq.via_cookie, rq.session.csrf,
                            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token"))) {
        web_error(&rs, 403, "missing or wrong X-CSRF-Token");
    } else if (web_routes[idx].access == WEB_ADMIN && rq.role != WEB_ADMIN) {
        web_error(&rs, 403, "this needs the admin role");
    } else {
        web_routes[idx].fn(&rq, &rs);   /* /api/run unlocks web.mu while it waits */
    }
    pthread_mutex_unlock(&web.mu);
    if (rs.json == NULL)
        web_reply(&rs, 500, NULL);
    rh_log(rs.status >= 500 ? RH_LOG_WARN : RH_LOG_INFO,
           "event=request method=%s path=%s status=%u user=%s", m == WEB_POST ? "POST" : "GET",
           url, rs.status, rq.user[0] ? rq.user : "-");
    ret = web_send_json(conn, &rs, NULL);
    json_decref(rs.json);
    return ret;
}

static enum MHD_Result web_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    web_method m = web_method_parse(method);
    web_conn *wc = *con_cls;

    (void)cls;
    (void)version;
    if (wc == NULL) {                       /* first call: headers only */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if ((wc = rh_calloc(1, sizeof *wc)) == NULL)
            return MHD_NO;
        rh_buf_init(&wc->body);
        *con_cls = wc;
        if (cl && strtoull(cl, NULL, 10) > WEB_BODY_MAX)
            wc->too_big = 1;                /* 413 once the body is drained */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!wc->too_big && wc->body.len + *upload_data_size <= WEB_BODY_MAX) {
            if (rh_buf_append(&wc->body, upload_data, *upload_data_size) != 0)
                return MHD_NO;
        } else {
            wc->too_big = 1;
            rh_buf_free(&wc->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0)
        return web_api(conn, m, url, wc);
    if (m != WEB_GET && m != WEB_HEAD)
        return web_send_error(conn, 405, "method not allowed", "GET, HEAD");
    return web_asset_send(conn, url);
}

static void web_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    web_conn *wc = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (wc) {
        rh_buf_free(&wc->body);
        rh_free(wc);
        *con_cls = NULL;
    }
}

/* ======================== start and stop ======================== */

/* libmicrohttpd's own messages (a request it refused, a socket error) as
 * our log lines, not bare text on stderr. Called from its threads. */
RH_PRINTF(2, 0)
static void web_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    rh_log(RH_LOG_NOTICE, "event=http_error reason=\"%s\"",
           rh_log_quote(q, sizeof q, msg, 300));
}

struct MHD_Daemon *web_server_start(const char *host, int port, int *bound)
{
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *di;

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        len = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        len = sizeof(struct sockaddr_in6);
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "rhai-web: listen address '%s' is not an IP address\n", host);
        return NULL;
    }
    (void)len;
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, web_on_request, NULL,
                         MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(WEB_CONNECTIONS / 2),
                         MHD_OPTION_NOTIFY_COMPLETED, web_on_completed, NULL,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "rhai-web: cannot listen on %s:%d\n", host, port);
        return NULL;
    }
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = di ? (int)di->port : port;
    return d;
}
