/* web.h -- the one private header of rhai-web (prefix web_).
 *
 * rhai-web is a daemon of its own: an HTTP server (libmicrohttpd) that
 * serves the console's single-page app, compiled into the binary
 * (web_assets.c, generated at build time from src/web/assets/), and a JSON
 * API over the same Redis and store as rhaid and rhaictl. The files:
 *   http.c    pure request parsing: routes, cookies, query strings, the
 *             CSRF and token comparisons, error lines (unit tested, fuzzed);
 *   auth.c    credentials (token files), sessions, the login rate limit;
 *   config.c  options: table, config file, flags;
 *   server.c  libmicrohttpd glue: bodies, dispatch, access, headers;
 *   api_read.c, api_write.c  the endpoints; series.c the overview charts.
 * The queue, task, dead-letter and DSL logic is rhaictl's, linked from
 * rhai_ctl_core (src/ctl), never a second copy. */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/common.h"
#include "store/store.h"
#include "ctl/ctl.h"

/* ======================== limits ======================== */

#ifndef WEB_BODY_MAX
#define WEB_BODY_MAX (1024u * 1024u)    /* request body; past it: 413 */
#endif
#ifndef WEB_SESSIONS_MAX
#define WEB_SESSIONS_MAX 256            /* live sessions; the oldest goes first */
#endif
#ifndef WEB_TOKENS_MAX
#define WEB_TOKENS_MAX 64               /* tokens of both roles together */
#endif
#define WEB_TOKEN_MIN 16                /* shortest token accepted in a file */
#define WEB_TOKEN_MAX 512               /* longest */
#define WEB_USER_MAX 64                 /* name of a token's user */
#ifndef WEB_LOGIN_FAILS
#define WEB_LOGIN_FAILS 10              /* failed logins per address per minute */
#endif
#ifndef WEB_LOGIN_FAILS_ALL
#define WEB_LOGIN_FAILS_ALL 100         /* failed logins of all addresses per minute */
#endif
#define WEB_LOGIN_SLOTS 128             /* addresses the limiter remembers */
#define WEB_PARAMS_MAX 3                /* :params in one route */
#define WEB_QUERY_MAX 16                /* query arguments kept per request */
#define WEB_SESSION_HEX 64              /* 32 random bytes as hex */
#define WEB_SERIES_SLOTS 720            /* 1 h of 5 s samples */
#define WEB_SERIES_STEP_MS 5000
#define WEB_RUN_TIMEOUT_DEFAULT 10000   /* /api/run without timeout_ms */
#define WEB_CONNECTIONS 64

/* ======================== config (config.c) ======================== */

typedef struct web_config {
    char      listen[128];              /* ADDR:PORT, port 0: any free one */
    char      redis_url[1024];          /* "" : $RHAI_REDIS_URL, else local */
    char      prefix[RH_PREFIX_MAX + 1];
    char      admin_token_file[1024];
    char      read_token_file[1024];
    char      caller[257];              /* who admin actions run as */
    char      signing_key[1024];        /* file of an Ed25519 secret key, "" none */
    char      data_url[CTL_URL_MAX];    /* the store: contexts, grants, audit */
    char      data_dir[1024];
    long long session_ttl_ms;
    long long run_timeout_max_ms;       /* longest wait of /api/run */
    long long alert_queued_age_ms;      /* older queued task: an alert */
    long long cookie_secure;            /* 1: Secure cookies (behind TLS) */
    char      log_level[16];
    int       check_only;               /* --check-config: check, then exit */
} web_config;

/* Defaults, then the file named by --config (key = value lines), then
 * $RHAI_REDIS_URL / $RHAI_PREFIX when not set, then flags (--key value,
 * '-' for '_'). 0; 1 after printing --help / --version; 2 after printing a
 * usage or config error (naming file and line). */
int web_config_load(web_config *c, int argc, char **argv);
/* Split "ADDR:PORT" ("[::1]:80" too). 0 / -1. */
int web_listen_parse(const char *s, char *host, size_t n, int *port);

/* ======================== pure parsing (http.c) ======================== */

typedef enum web_method {
    WEB_GET = 1, WEB_POST = 2, WEB_HEAD = 4, WEB_OTHER = 8
} web_method;

web_method web_method_parse(const char *m);

/* Who may call a route. */
enum { WEB_PUBLIC = 0, WEB_READ = 1, WEB_ADMIN = 2 };

typedef struct web_req web_req;
typedef struct web_resp web_resp;
typedef void (*web_handler)(web_req *rq, web_resp *rs);

typedef struct web_route {
    web_method  method;
    const char *pattern;                /* "/api/queues/:w/pause" */
    int         access;                 /* WEB_PUBLIC, WEB_READ, WEB_ADMIN */
    web_handler fn;
} web_route;

extern const web_route web_routes[];    /* ends with a NULL pattern */

/* The route of (method, path) in 'table': its index, with the :params
 * copied into params[0..*nparams) (each at most RH_NAME_MAX... bytes in
 * 'pbuf'); -1 when no pattern matches the path (404); -2 when one does
 * but not with this method (405, *allow gets the methods that do). A
 * segment may not be empty, ".", ".." or longer than 256 bytes. HEAD
 * matches GET routes. */
int web_route_match(const web_route *table, web_method method, const char *path,
                    char params[WEB_PARAMS_MAX][257], int *nparams, unsigned *allow);

/* The value of cookie 'name' in a Cookie header into buf (n bytes). 0;
 * -1 when absent, or when too long for buf. */
int web_cookie_find(const char *header, const char *name, char *buf, size_t n);
/* The token of "Bearer TOKEN" (case-insensitive scheme) into buf. 0 / -1. */
int web_bearer_parse(const char *header, char *buf, size_t n);
/* Equal strings, in time independent of where they differ (CSRF tokens,
 * session ids). NULL never equals. */
int web_secret_equal(const char *a, const char *b);
/* The CSRF rule: a write authenticated by a session cookie needs header
 * X-CSRF-Token equal to the session's token. 1 allowed, 0 refused. */
int web_csrf_ok(int via_cookie, const char *session_csrf, const char *header);

/* Query arguments (MHD splits and decodes them). */
typedef struct web_kv {
    const char *key, *value;            /* borrowed from the connection */
} web_kv;
typedef struct web_query {
    web_kv v[WEB_QUERY_MAX];
    int    n;
    int    overflow;                    /* more than WEB_QUERY_MAX given */
} web_query;
/* The value of 'key' ("" counts as absent): NULL when absent. */
const char *web_query_get(const web_query *q, const char *key);
/* An integer argument in [min, max], 'def' when absent. 0, or -1 (and
 * 'why' says so) when not a decimal number in range. */
int web_query_int(const web_query *q, const char *key, long long min, long long max,
                  long long def, long long *out, char *why, size_t n);
/* The script line of an error text: N of its last "(line N)" or "line N",
 * 0 when none. */
int web_error_line(const char *error);

/* ======================== auth (auth.c) ======================== */

typedef struct web_session {
    char    id[WEB_SESSION_HEX + 1];
    char    csrf[WEB_SESSION_HEX + 1];
    char    user[WEB_USER_MAX + 1];
    int     role;                       /* WEB_READ or WEB_ADMIN */
    int64_t expires_at;                 /* unix ms; 0: slot free */
    int64_t created_at;
} web_session;

/* Read the token files ("" : none). Each non-empty line that is not a
 * '#' comment is "SECRET" or "NAME SECRET"; a secret is WEB_TOKEN_MIN..
 * WEB_TOKEN_MAX printable characters without spaces. 0, or -1 after
 * printing why (file and line, never the secret). */
int  web_auth_load(const char *admin_file, const char *read_file);
void web_auth_free(void);                /* wipes the secrets */
/* The role (WEB_READ, WEB_ADMIN) and user of a token, or 0. */
int  web_auth_token(const char *token, char user[WEB_USER_MAX + 1]);
/* New session for (user, role), expiring in ttl_ms: a copy in *out. 0 / -1. */
int  web_session_new(const char *user, int role, int64_t ttl_ms, web_session *out);
/* The live session of 'id' copied into *out. 0 / -1 (none or expired). */
int  web_session_get(const char *id, web_session *out);
void web_session_drop(const char *id);
/* May address 'addr' try a login now? 1 yes, 0 no (WEB_LOGIN_FAILS
 * failures of that address, or WEB_LOGIN_FAILS_ALL of all, in the minute
 * of now_ms). web_login_failed counts one failure. */
int  web_login_allowed(const char *addr, int64_t now_ms);
void web_login_failed(const char *addr, int64_t now_ms);

/* ======================== requests (server.c) ======================== */

struct web_req {
    struct MHD_Connection *conn;
    web_method method;
    const char *path;
    char       params[WEB_PARAMS_MAX][257];
    int        nparams;
    web_query  query;
    const char *body;                   /* NUL-terminated, may be "" */
    size_t     body_len;
    char       addr[64];                /* client address, for the login limit */
    /* who: filled by the dispatcher before the handler runs */
    int        role;                    /* 0: not logged in */
    char       user[WEB_USER_MAX + 1];
    int        via_cookie;
    web_session session;                /* with via_cookie */
};

struct web_resp {
    unsigned    status;
    json_t     *json;                   /* stolen; the body */
    char        set_cookie[512];        /* "" none */
};

/* Answer 'doc' (stolen; NULL: out of memory -> 500) with 'status'. */
void web_reply(web_resp *rs, unsigned status, json_t *doc);
/* Answer {"error": message} with 'status'. */
void web_error(web_resp *rs, unsigned status, const char *fmt, ...) RH_PRINTF(3, 4);
/* Answer the failure of an rhai_ctl_core call: its exit code as a status
 * (CONN 503, NOTFOUND 404, USAGE 400, DENIED 403, else 500) with its
 * message. */
void web_ctl_error(web_resp *rs, int code);
/* Answer the failure of a library/store call (RHAI_E* rc, err). */
void web_rc_error(web_resp *rs, int rc, const rhai_error *err);
/* The JSON object of the body, or NULL after answering 400. */
json_t *web_body_object(web_req *rq, web_resp *rs);

/* Listen on host:port (IPv4 or IPv6 literal; port 0: any free one, the
 * port bound into *bound). NULL after printing why. */
struct MHD_Daemon;
struct MHD_Daemon *web_server_start(const char *host, int port, int *bound);

/* ======================== shared state (server.c) ======================== */

/* Everything the handlers share. The handlers run one at a time under
 * 'mu' (libmicrohttpd gives each connection a thread): rhai_ctl_core keeps
 * its last error in a static and one Redis connection serves all; only
 * /api/run waits for its task outside the lock, on its own connection. */
typedef struct web_state {
    web_config      cfg;
    pthread_mutex_t mu;
    ctl_global      g;                  /* url, prefix for rhai_ctl_core */
    ctl_redis       r;                  /* under mu; reopened when lost */
    int             r_open;
    rhai_client    *client;             /* under mu; NULL until first use */
    store          *st;                 /* NULL: no store configured */
    char            signing_key[160];   /* hex, "" none */
    char            key_caller[65];     /* its public key */
    int             stopping;
} web_state;

extern web_state web;

/* The shared Redis connection, open (reopened after a loss). NULL after
 * answering 503. Under web.mu. */
ctl_redis *web_redis(web_resp *rs);
/* The shared client. NULL after answering 503. Under web.mu. */
rhai_client *web_client(web_resp *rs);
/* The caller admin actions run as (the signing key's public key when one
 * is configured). */
const char *web_caller(void);

/* Append an audit row of an admin action to context 'context' (NULL or
 * "": nothing, returns 0): caller web_caller(), decision allowed, reason
 * "rhai-web USER (ROLE): DETAIL". 1 written, 0 nothing to write (no
 * context or no store configured), -1 failed (logged). */
int web_audit(const web_req *rq, const char *context, const char *op, const char *model,
              const char *task_id, const char *detail);

/* ======================== endpoints ======================== */

void web_api_login(web_req *rq, web_resp *rs);
void web_api_logout(web_req *rq, web_resp *rs);
void web_api_me(web_req *rq, web_resp *rs);
void web_api_overview(web_req *rq, web_resp *rs);
void web_api_queues(web_req *rq, web_resp *rs);
void web_api_tasks(web_req *rq, web_resp *rs);
void web_api_task(web_req *rq, web_resp *rs);
void web_api_dead(web_req *rq, web_resp *rs);
void web_api_schedules(web_req *rq, web_resp *rs);
void web_api_contexts(web_req *rq, web_resp *rs);
void web_api_context(web_req *rq, web_resp *rs);
void web_api_context_audit(web_req *rq, web_resp *rs);
void web_api_dsl(web_req *rq, web_resp *rs);
void web_api_queue_pause(web_req *rq, web_resp *rs);
void web_api_queue_resume(web_req *rq, web_resp *rs);
void web_api_queue_purge(web_req *rq, web_resp *rs);
void web_api_task_cancel(web_req *rq, web_resp *rs);
void web_api_task_retry(web_req *rq, web_resp *rs);
void web_api_dead_retry(web_req *rq, web_resp *rs);
void web_api_dead_delete(web_req *rq, web_resp *rs);
void web_api_schedule_action(web_req *rq, web_resp *rs);
void web_api_grant(web_req *rq, web_resp *rs);
void web_api_revoke(web_req *rq, web_resp *rs);
void web_api_run(web_req *rq, web_resp *rs);

/* ======================== overview series (series.c) ======================== */

/* Start the sampler thread (every WEB_SERIES_STEP_MS, 1 h kept), after a
 * backfill of the last hour from the task index. 0 / -1. */
int  web_series_start(void);
void web_series_stop(void);
/* {"t":[...], "done":[...], "failed":[...], "p50_ms":[...], "p99_ms":[...]}
 * (new), oldest first. */
json_t *web_series_json(void);

/* ======================== assets (web_assets.c, generated) ========================
 * Every file of src/web/assets/, by its path under it ("index.html"). */
typedef struct web_asset {
    const char          *path;
    const unsigned char *data;
    size_t               len;
} web_asset;
extern const web_asset web_assets[];    /* ends with a NULL path */
/* The Content-Type of a file name by its extension. */
const char *web_mime(const char *path);

#endif
