/* api_auth.c -- POST /api/login, POST /api/logout, GET /api/me.
 *
 * Login trades a token (of a token file) for a session: the rhai_session
 * cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age the session's
 * lifetime; Secure with cookie_secure) and a CSRF token in the answer,
 * which the console sends back as X-CSRF-Token on every write. Failed
 * logins are counted per client address (auth.c): past WEB_LOGIN_FAILS in
 * a minute the answer is 429 until the minute ends, right token or not. */
#include <stdio.h>
#include <string.h>

#include "web.h"

static const char *role_name(int role)
{
    return role == WEB_ADMIN ? "admin" : "read";
}

void web_api_login(web_req *rq, web_resp *rs)
{
    char user[WEB_USER_MAX + 1] = "";
    int64_t now = rh_now_ms();
    const char *token;
    web_session s;
    json_t *body;
    int role;

    if (!web_login_allowed(rq->addr, now)) {
        rh_log(RH_LOG_WARN, "event=login_limited addr=%s too many failed logins this minute",
               rq->addr);
        web_error(rs, 429, "too many failed logins: try again in a minute");
        return;
    }
    if ((body = web_body_object(rq, rs)) == NULL)
        return;
    token = json_string_value(json_object_get(body, "token"));
    if (token == NULL) {
        json_decref(body);
        web_error(rs, 400, "give {\"token\": \"...\"}");
        return;
    }
    role = web_auth_token(token, user);
    json_decref(body);              /* the token's copy goes with it */
    if (role == 0) {
        web_login_failed(rq->addr, now);
        rh_log(RH_LOG_NOTICE, "event=login_failed addr=%s wrong token", rq->addr);
        web_error(rs, 401, "wrong token");
        return;
    }
    web_session_new(user, role, web.cfg.session_ttl_ms, &s);
    snprintf(rs->set_cookie, sizeof rs->set_cookie,
             "rhai_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%lld%s", s.id,
             web.cfg.session_ttl_ms / 1000, web.cfg.cookie_secure ? "; Secure" : "");
    rh_log(RH_LOG_NOTICE, "event=login user=%s role=%s addr=%s", user, role_name(role),
           rq->addr);
    snprintf(rq->user, sizeof rq->user, "%s", user);
    web_reply(rs, 200, json_pack("{s:s, s:s, s:s}", "role", role_name(role), "user", user,
                                 "csrf", s.csrf));
}

void web_api_logout(web_req *rq, web_resp *rs)
{
    if (rq->via_cookie)
        web_session_drop(rq->session.id);
    snprintf(rs->set_cookie, sizeof rs->set_cookie,
             "rhai_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
             web.cfg.cookie_secure ? "; Secure" : "");
    rh_log(RH_LOG_NOTICE, "event=logout user=%s", rq->user);
    web_reply(rs, 200, json_pack("{s:b}", "ok", 1));
}

void web_api_me(web_req *rq, web_resp *rs)
{
    web_reply(rs, 200, json_pack("{s:s, s:s, s:s?, s:s, s:b}", "role", role_name(rq->role),
                                 "user", rq->user,
                                 "csrf", rq->via_cookie ? rq->session.csrf : NULL,
                                 "caller", web_caller(), "store", web.st != NULL));
}
