/* config.c -- rhai-web's options: one table drives the config file, the
 * flags and --help (as rhaid's config.c does).
 *
 * Order: defaults, the file of --config (key = value, '#' comments),
 * $RHAI_REDIS_URL and $RHAI_PREFIX for what the file left unset, then
 * flags (--key value or --key=value, '-' or '_' alike). Errors name the
 * file and line. Token files and the signing key are named here; their
 * secrets are read by auth.c and main.c, never printed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "rhai/version.h"

enum { OPT_STR, OPT_INT };

typedef struct web_opt {
    const char *name;
    int         type;
    size_t      off;                    /* in web_config */
    size_t      size;                   /* OPT_STR: buffer size */
    long long   min, max;               /* OPT_INT */
    const char *help;
} web_opt;

#define S(f) OPT_STR, offsetof(web_config, f), sizeof(((web_config *)0)->f), 0, 0
#define I(f, lo, hi) OPT_INT, offsetof(web_config, f), 0, lo, hi

static const web_opt web_opts[] = {
    { "listen", S(listen), "ADDR:PORT to serve on (port 0: any free one, printed)" },
    { "redis_url", S(redis_url), "Redis of the workers (default $RHAI_REDIS_URL, else "
      "redis://127.0.0.1:6379)" },
    { "prefix", S(prefix), "key prefix (default $RHAI_PREFIX, else rhai)" },
    { "admin_token_file", S(admin_token_file), "file of admin tokens, one per line "
      "('SECRET' or 'NAME SECRET')" },
    { "read_token_file", S(read_token_file), "file of read-only tokens, same format" },
    { "caller", S(caller), "caller id admin actions and playground tasks run as" },
    { "signing_key", S(signing_key), "file of an Ed25519 secret key (rhaictl keygen): "
      "sign submitted tasks; the caller is then its public key" },
    { "data_url", S(data_url), "the workers' store (contexts, grants, audit): "
      "sqlite:///DIR or postgres://..." },
    { "data_dir", S(data_dir), "the same as a sqlite data dir" },
    { "session_ttl_ms", I(session_ttl_ms, 60000, 30LL * 86400000), "session lifetime" },
    { "run_timeout_max_ms", I(run_timeout_max_ms, 1000, 600000),
      "longest wait of a playground run" },
    { "alert_queued_age_ms", I(alert_queued_age_ms, 1000, 30LL * 86400000),
      "a queued task older than this is an alert" },
    { "cookie_secure", I(cookie_secure, 0, 1), "1: mark the session cookie Secure "
      "(served behind TLS)" },
    { "log_level", S(log_level), "debug, info, notice, warn or error" },
    { NULL, 0, 0, 0, 0, 0, NULL }
};

static void config_defaults(web_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8470");
    snprintf(c->caller, sizeof c->caller, "web");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->session_ttl_ms = 12LL * 3600 * 1000;
    c->run_timeout_max_ms = 60000;
    c->alert_queued_age_ms = 300000;
}

static const web_opt *config_find(const char *name, size_t len)
{
    char key[64];

    if (len >= sizeof key)
        return NULL;
    for (size_t i = 0; i < len; i++)
        key[i] = name[i] == '-' ? '_' : name[i];
    key[len] = '\0';
    for (const web_opt *o = web_opts; o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

/* Set o to 'val'. 0, or -1 with 'why'. */
static int config_set(web_config *c, const web_opt *o, const char *val, char *why, size_t n)
{
    char *end;
    long long v;

    if (o->type == OPT_STR) {
        if (strlen(val) >= o->size) {
            snprintf(why, n, "%s is too long", o->name);
            return -1;
        }
        snprintf((char *)c + o->off, o->size, "%s", val);
        return 0;
    }
    errno = 0;
    v = strtoll(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0' || v < o->min || v > o->max) {
        snprintf(why, n, "%s '%.40s' is not a number in %lld..%lld", o->name, val, o->min,
                 o->max);
        return -1;
    }
    *(long long *)(void *)((char *)c + o->off) = v;
    return 0;
}

static int config_file(web_config *c, const char *path)
{
    char line[8192], why[200];
    int lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "rhai-web: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *s = line, *eq, *k_end, *v, *v_end;
        const web_opt *o;

        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        if ((eq = strchr(s, '=')) == NULL) {
            fprintf(stderr, "rhai-web: %s:%d: expected 'key = value'\n", path, lineno);
            goto fail;
        }
        k_end = eq;
        while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            k_end--;
        v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v_end = v + strlen(v);
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        *v_end = '\0';
        if ((o = config_find(s, (size_t)(k_end - s))) == NULL) {
            fprintf(stderr, "rhai-web: %s:%d: unknown option '%.*s'\n", path, lineno,
                    (int)(k_end - s), s);
            goto fail;
        }
        if (config_set(c, o, v, why, sizeof why) != 0) {
            fprintf(stderr, "rhai-web: %s:%d: %s\n", path, lineno, why);
            goto fail;
        }
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    return -1;
}

static void config_help(void)
{
    printf("Usage: rhai-web [--config FILE] [--OPTION VALUE ...]\n"
           "\n"
           "The web console of rhailib: a single-page app and a JSON API over the\n"
           "workers' Redis and store (docs/web.md).\n"
           "\n"
           "Options (also 'option = value' lines of the config file):\n");
    for (const web_opt *o = web_opts; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        printf("  %-24s %s\n", flag, o->help);
    }
    printf("  %-24s %s\n  %-24s %s\n  %-24s %s\n  %-24s %s\n", "--config FILE",
           "read options from FILE first", "--check-config", "check the options, token files, "
           "signing key and store, then exit (0: fine, 2: not)", "--help", "this help",
           "--version", "print the version");
}

int web_listen_parse(const char *s, char *host, size_t n, int *port)
{
    const char *colon;
    char *end;
    long p;
    size_t hl;

    if (s == NULL || (colon = strrchr(s, ':')) == NULL)
        return -1;
    if (s[0] == '[') {                      /* [v6]:port */
        if (colon == s || colon[-1] != ']')
            return -1;
        hl = (size_t)(colon - s - 2);
        if (hl == 0 || hl >= n)
            return -1;
        memcpy(host, s + 1, hl);
    } else {
        hl = (size_t)(colon - s);
        if (hl == 0 || hl >= n || memchr(s, ':', hl) != NULL)
            return -1;
        memcpy(host, s, hl);
    }
    host[hl] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || errno != 0 || *end != '\0' || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int web_config_load(web_config *c, int argc, char **argv)
{
    const char *cfg = NULL, *env;
    char why[200], host[64];
    int port;

    config_defaults(c);
    /* --config first, wherever it is, so flags override the file */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_help();
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("rhai-web %s\n", RHAI_VERSION_STRING);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cfg = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            cfg = argv[i] + 9;
    }
    if (cfg && config_file(c, cfg) != 0)
        return 2;
    if (c->redis_url[0] == '\0' && (env = getenv("RHAI_REDIS_URL")) != NULL)
        snprintf(c->redis_url, sizeof c->redis_url, "%s", env);
    if (c->prefix[0] == '\0' && (env = getenv("RHAI_PREFIX")) != NULL)
        snprintf(c->prefix, sizeof c->prefix, "%s", env);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *val;
        const web_opt *o;

        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "rhai-web: unexpected argument '%s' (rhai-web --help)\n", a);
            return 2;
        }
        a += 2;
        eq = strchr(a, '=');
        if (strcmp(a, "check-config") == 0) {
            c->check_only = 1;
            continue;
        }
        if (strncmp(a, "config", 6) == 0 && (a[6] == '\0' || a[6] == '=')) {
            i += eq ? 0 : 1;
            continue;
        }
        if ((o = config_find(a, eq ? (size_t)(eq - a) : strlen(a))) == NULL) {
            fprintf(stderr, "rhai-web: unknown option '%s' (rhai-web --help)\n", argv[i]);
            return 2;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "rhai-web: option '%s' needs a value\n", argv[i]);
            return 2;
        }
        if (config_set(c, o, val, why, sizeof why) != 0) {
            fprintf(stderr, "rhai-web: %s\n", why);
            return 2;
        }
    }
    if (web_listen_parse(c->listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "rhai-web: listen '%s' is not ADDR:PORT\n", c->listen);
        return 2;
    }
    if (c->data_url[0] && c->data_dir[0]) {
        fprintf(stderr, "rhai-web: give data_url or data_dir, not both\n");
        return 2;
    }
    if (!ctl_caller_valid(c->caller)) {
        fprintf(stderr, "rhai-web: caller '%s': 1..256 printable ASCII, no spaces\n",
                c->caller);
        return 2;
    }
    if (rh_log_level_parse(c->log_level) < 0) {
        fprintf(stderr, "rhai-web: log_level '%s': debug, info, notice, warn or error\n",
                c->log_level);
        return 2;
    }
    if (c->admin_token_file[0] == '\0' && c->read_token_file[0] == '\0') {
        fprintf(stderr, "rhai-web: no credentials: give admin_token_file and/or "
                "read_token_file\n");
        return 2;
    }
    return 0;
}
