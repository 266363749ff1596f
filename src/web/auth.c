/* auth.c -- who may use rhai-web: tokens, sessions, the login rate limit.
 *
 * Credentials are token files (admin_token_file, read_token_file): one
 * secret per line, optionally led by a user name. Only a BLAKE2b hash of
 * each secret is kept in memory, and a presented token is hashed and
 * compared with every entry in constant time (sodium_memcmp), so neither
 * the comparison's time nor a core dump gives a secret away. A login
 * creates a session: 32 random bytes of id (the rhai_session cookie) and
 * 32 of CSRF token, both hex, kept here until they expire or the table is
 * full (then the oldest goes). A login that fails counts against its
 * client address; WEB_LOGIN_FAILS in one minute and that address is
 * refused until the minute ends; WEB_LOGIN_FAILS_ALL from all addresses
 * together in one minute and every address is. Everything here is called under web.mu
 * (server.c), so nothing locks on its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>

#include "web.h"

typedef struct auth_token {
    unsigned char hash[32];               /* BLAKE2b-256 of the secret */
    char          user[WEB_USER_MAX + 1];
    int           role;
} auth_token;

typedef struct auth_fail {
    char    addr[64];
    int64_t minute;                        /* now_ms / 60000 of the count */
    int     count;
} auth_fail;

static auth_token auth_tokens[WEB_TOKENS_MAX];
static int auth_ntokens;
static web_session auth_sessions[WEB_SESSIONS_MAX];
static auth_fail auth_fails[WEB_LOGIN_SLOTS];
static auth_fail auth_all;               /* every address together */

static void auth_hash(const char *secret, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

/* One token file. 0 / -1 after printing why. */
static int auth_load_file(const char *path, int role)
{
    char line[WEB_TOKEN_MAX + WEB_USER_MAX + 8];
    int lineno = 0, n = 0, rc = 0;
    struct stat sb;
    FILE *f;

    if (path == NULL || path[0] == '\0')
        return 0;
    if ((f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "rhai-web: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 0007) != 0)
        fprintf(stderr, "rhai-web: warning: %s is readable by others: chmod 600 it\n", path);
    while (fgets(line, sizeof line, f) != NULL) {
        char *s = line, *user = NULL, *secret, *sp;
        size_t len;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            fprintf(stderr, "rhai-web: %s:%d: line too long\n", path, lineno);
            rc = -1;
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        len = strlen(line);
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';            /* trailing blanks are no field */
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        secret = s;
        if ((sp = strpbrk(s, " \t")) != NULL) {
            *sp++ = '\0';
            while (*sp == ' ' || *sp == '\t')
                sp++;
            user = s;
            secret = sp;
            secret[strcspn(secret, " \t")] = '\0';
        }
        len = strlen(secret);
        if (len < WEB_TOKEN_MIN || len > WEB_TOKEN_MAX) {
            fprintf(stderr, "rhai-web: %s:%d: a token is %d..%d characters\n", path, lineno,
                    WEB_TOKEN_MIN, WEB_TOKEN_MAX);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)secret[i] <= ' ' || (unsigned char)secret[i] >= 0x7f) {
                fprintf(stderr, "rhai-web: %s:%d: a token is printable ASCII\n", path, lineno);
                rc = -1;
                break;
            }
        if (rc != 0)
            break;
        if (user && (strlen(user) > WEB_USER_MAX || !ctl_caller_valid(user))) {
            fprintf(stderr, "rhai-web: %s:%d: user name: 1..%d printable characters\n", path,
                    lineno, WEB_USER_MAX);
            rc = -1;
            break;
        }
        if (auth_ntokens >= WEB_TOKENS_MAX) {
            fprintf(stderr, "rhai-web: %s:%d: more than %d tokens\n", path, lineno,
                    WEB_TOKENS_MAX);
            rc = -1;
            break;
        }
        n++;
        auth_hash(secret, auth_tokens[auth_ntokens].hash);
        if (user)
            snprintf(auth_tokens[auth_ntokens].user, WEB_USER_MAX + 1, "%.64s", user);
        else
            snprintf(auth_tokens[auth_ntokens].user, WEB_USER_MAX + 1, "%s-%d",
                     role == WEB_ADMIN ? "admin" : "read", n);
        auth_tokens[auth_ntokens].role = role;
        auth_ntokens++;
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

int web_auth_load(const char *admin_file, const char *read_file)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "rhai-web: libsodium does not start\n");
        return -1;
    }
    web_auth_free();
    if (auth_load_file(admin_file, WEB_ADMIN) != 0 || auth_load_file(read_file, WEB_READ) != 0) {
        web_auth_free();
        return -1;
    }
    return 0;
}

void web_auth_free(void)
{
    sodium_memzero(auth_tokens, sizeof auth_tokens);
    sodium_memzero(auth_sessions, sizeof auth_sessions);
    auth_ntokens = 0;
}

int web_auth_token(const char *token, char user[WEB_USER_MAX + 1])
{
    unsigned char h[32];
    int role = 0;

    if (token == NULL || token[0] == '\0' || strlen(token) > WEB_TOKEN_MAX)
        return 0;
    auth_hash(token, h);
    /* every entry is compared: the time does not tell which one matched */
    for (int i = 0; i < auth_ntokens; i++)
        if (sodium_memcmp(h, auth_tokens[i].hash, sizeof h) == 0 && role == 0) {
            role = auth_tokens[i].role;
            snprintf(user, WEB_USER_MAX + 1, "%s", auth_tokens[i].user);
        }
    sodium_memzero(h, sizeof h);
    return role;
}

/* ======================== sessions ======================== */

static void auth_random_hex(char out[WEB_SESSION_HEX + 1])
{
    unsigned char b[WEB_SESSION_HEX / 2];

    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, WEB_SESSION_HEX + 1, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

int web_session_new(const char *user, int role, int64_t ttl_ms, web_session *out)
{
    int64_t now = rh_now_ms();
    web_session *s = NULL;

    for (int i = 0; i < WEB_SESSIONS_MAX; i++) {
        web_session *c = &auth_sessions[i];
        if (c->expires_at <= now) {        /* free or expired */
            s = c;
            break;
        }
        if (s == NULL || c->created_at < s->created_at)
            s = c;                          /* else the oldest goes */
    }
    memset(s, 0, sizeof *s);
    auth_random_hex(s->id);
    auth_random_hex(s->csrf);
    snprintf(s->user, sizeof s->user, "%s", user);
    s->role = role;
    s->created_at = now;
    s->expires_at = now + ttl_ms;
    *out = *s;
    return 0;
}

int web_session_get(const char *id, web_session *out)
{
    int64_t now = rh_now_ms();
    int found = -1;

    if (id == NULL || strlen(id) != WEB_SESSION_HEX)
        return -1;
    for (int i = 0; i < WEB_SESSIONS_MAX; i++) {
        web_session *s = &auth_sessions[i];
        if (s->expires_at > now && web_secret_equal(s->id, id) && found < 0) {
            *out = *s;
            found = 0;
        }
    }
    return found;
}

void web_session_drop(const char *id)
{
    for (int i = 0; id && i < WEB_SESSIONS_MAX; i++)
        if (auth_sessions[i].expires_at != 0 && web_secret_equal(auth_sessions[i].id, id))
            sodium_memzero(&auth_sessions[i], sizeof auth_sessions[i]);
}

/* ======================== login rate limit ======================== */

static auth_fail *auth_fail_slot(const char *addr, int64_t minute, int create)
{
    auth_fail *spare = NULL;

    for (int i = 0; i < WEB_LOGIN_SLOTS; i++) {
        auth_fail *f = &auth_fails[i];
        if (f->count > 0 && f->minute == minute && strcmp(f->addr, addr) == 0)
            return f;
        if (spare == NULL && (f->count == 0 || f->minute != minute))
            spare = f;                      /* free, or counts of a past minute */
    }
    if (!create)
        return NULL;
    /* Every slot counts this minute: many addresses are failing at once.
     * They share the last slot, so they are limited together. */
    if (spare == NULL)
        return &auth_fails[WEB_LOGIN_SLOTS - 1];
    memset(spare, 0, sizeof *spare);
    snprintf(spare->addr, sizeof spare->addr, "%s", addr);
    spare->minute = minute;
    return spare;
}

int web_login_allowed(const char *addr, int64_t now_ms)
{
    auth_fail *f = auth_fail_slot(addr ? addr : "?", now_ms / 60000, 0);

    /* many addresses guessing at once are limited together too */
    if (auth_all.minute == now_ms / 60000 && auth_all.count >= WEB_LOGIN_FAILS_ALL)
        return 0;
    return f == NULL || f->count < WEB_LOGIN_FAILS;
}

void web_login_failed(const char *addr, int64_t now_ms)
{
    auth_fail *f = auth_fail_slot(addr ? addr : "?", now_ms / 60000, 1);

    if (f->count < WEB_LOGIN_FAILS * 1000)
        f->count++;
    if (auth_all.minute != now_ms / 60000) {
        auth_all.minute = now_ms / 60000;
        auth_all.count = 0;
    }
    if (auth_all.count < WEB_LOGIN_FAILS_ALL * 1000)
        auth_all.count++;
}
