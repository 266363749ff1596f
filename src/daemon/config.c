/* config.c -- rhaid's options: one table drives file, environment and
 * flag parsing, --help and --print-config (redis static_configs style).
 *
 * Precedence: defaults < config file < environment < flags. The file is
 * `key = value` lines with # comments; keys are the option names. Errors
 * name the file and line, the variable or the flag. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "rhai/version.h"
#include "store/store.h"

/* OPT_BOOL is an int64_t 0/1; its flag alone (--dev-mode) means 1. */
/* OPT_LEVEL and OPT_LOGFMT are ints parsed by name (rh_log_*_parse). */
typedef enum { OPT_STR, OPT_INT, OPT_LEVEL, OPT_BOOL, OPT_LOGFMT } opt_type;

typedef struct opt {
    const char *name;       /* file key; flag is --name with '_' -> '-' */
    opt_type    type;
    size_t      off;        /* offset in wk_config */
    const char *def;        /* default as text; NULL: computed */
    int64_t     min, max;
    const char *env;        /* environment override, NULL: none */
    int         reloadable; /* applied on SIGHUP */
    const char *help;
} opt;

#define OFF(f) offsetof(wk_config, f)
#define KiB 1024LL
#define MiB (1024LL * 1024LL)

static const opt opts[] = {
    { "redis_url", OPT_STR, OFF(redis_url), "redis://127.0.0.1:6379", 0, 0,
      "RHAI_REDIS_URL", 0, "redis://[user:pass@]host:port[/db], rediss://... (TLS) or unix:///path; a Redis Cluster: any node (the seed)" },
    { "tls_ca", OPT_STR, OFF(tls_ca), "", 0, 0, "RHAI_REDIS_TLS_CA", 0,
      "rediss://: CA file the server certificate is verified against (empty: the system store)" },
    { "tls_cert", OPT_STR, OFF(tls_cert), "", 0, 0, "RHAI_REDIS_TLS_CERT", 0,
      "rediss://: client certificate file (PEM), for a server with tls-auth-clients" },
    { "tls_key", OPT_STR, OFF(tls_key), "", 0, 0, "RHAI_REDIS_TLS_KEY", 0,
      "rediss://: the client certificate's private key file (PEM)" },
    { "tls_sni", OPT_STR, OFF(tls_sni), "", 0, 0, "RHAI_REDIS_TLS_SNI", 0,
      "rediss://: server name sent and verified (empty: the URL's host)" },
    { "tls_verify", OPT_STR, OFF(tls_verify), "", 0, 0, "RHAI_REDIS_TLS_VERIFY", 0,
      "rediss://: yes (default) or no: no skips the certificate and name checks (tests only)" },
    { "prefix", OPT_STR, OFF(prefix), "rhai", 0, 0, "RHAI_PREFIX", 0,
      "key prefix of every Redis key" },
    { "worker_id", OPT_STR, OFF(worker_id), "default", 0, 0, "RHAI_WORKER_ID", 0,
      "worker id whose queue this instance serves" },
    { "concurrency", OPT_INT, OFF(concurrency), NULL, 1, 256, "RHAI_CONCURRENCY", 0,
      "executor processes (default: number of CPUs)" },
    { "data_url", OPT_STR, OFF(data_url), NULL, 0, 0, "RHAI_DATA_URL", 0,
      "the store: sqlite:///DIR (one SQLite file per context, one host) or postgres://user@host:port/db or a libpq conninfo (shared by every host); default sqlite://DATA_DIR" },
    { "data_dir", OPT_STR, OFF(data_dir), "/var/lib/rhaid", 0, 0, "RHAI_DATA_DIR", 0,
      "directory for per-context data: the shorthand of data_url = sqlite://DIR" },
    { "log_level", OPT_LEVEL, OFF(log_level), "info", 0, 0, "RHAI_LOG_LEVEL", 1,
      "debug, info, notice, warn or error" },
    { "log_format", OPT_LOGFMT, OFF(log_format), "kv", 0, 0, "RHAI_LOG_FORMAT", 0,
      "kv: key=value fields then a sentence; json: one JSON object per line" },
    { "default_timeout_ms", OPT_INT, OFF(default_timeout_ms), RH_DEF_STR(RH_DEF_TIMEOUT_MS), 1, RH_DEF_TIMEOUT_MAX_MS,
      "RHAI_DEFAULT_TIMEOUT_MS", 1, "timeout of a task that names none" },
    { "max_timeout_ms", OPT_INT, OFF(max_timeout_ms), RH_DEF_STR(RH_DEF_MAX_TIMEOUT_MS), 1, RH_DEF_TIMEOUT_MAX_MS,
      "RHAI_MAX_TIMEOUT_MS", 1, "longer task timeouts are cut to this" },
    { "memory_limit", OPT_INT, OFF(memory), "67108864", 1 * MiB, 4096 * MiB,
      "RHAI_MEMORY_LIMIT", 1, "bytes of JS heap per task (error_kind memory)" },
    { "max_script", OPT_INT, OFF(max_script), "1048576", 1, 64 * MiB,
      "RHAI_MAX_SCRIPT", 1, "bytes of script per task (error_kind invalid)" },
    { "max_args", OPT_INT, OFF(max_args), "1048576", 2, 16 * MiB,
      "RHAI_MAX_ARGS", 1, "bytes of args (JSON) per task (error_kind invalid)" },
    { "max_output", OPT_INT, OFF(max_output), "1048576", 16, 32 * MiB,
      "RHAI_MAX_OUTPUT", 1, "bytes of result JSON per task (error_kind memory)" },
    { "max_logs", OPT_INT, OFF(max_logs), "65536", 0, 16 * MiB,
      "RHAI_MAX_LOGS", 1, "bytes of print() output kept per task" },
    { "executor_as_limit", OPT_INT, OFF(executor_as_limit), "1073741824", 0, 1LL << 40,
      "RHAI_EXECUTOR_AS_LIMIT", 0, "RLIMIT_AS of executors, 0 for none (off under ASan)" },
    { "executor_user", OPT_STR, OFF(executor_user), "nobody", 0, 0, "RHAI_EXECUTOR_USER", 0,
      "user (name or uid) executors run as when rhaid starts as root; it is given the data dir; root: keep root (not recommended)" },
    { "executor_seccomp", OPT_BOOL, OFF(executor_seccomp), "1", 0, 1, "RHAI_EXECUTOR_SECCOMP", 0,
      "1: executors run under a system-call allow-list; 0 only to debug (strace)" },
    { "max_tasks_per_executor", OPT_INT, OFF(max_tasks_per_executor), "10000", 1,
      1LL << 40, "RHAI_MAX_TASKS_PER_EXECUTOR", 0, "an executor is recycled after this many" },
    { "result_ttl_ms", OPT_INT, OFF(result_ttl_ms), RH_DEF_STR(RH_DEF_RESULT_TTL_MS), 1000, 1LL << 40,
      "RHAI_RESULT_TTL_MS", 1, "lifetime of finished task hashes and replies" },
    { "heartbeat_ms", OPT_INT, OFF(heartbeat_ms), "1000", 50, 60000,
      "RHAI_HEARTBEAT_MS", 0, "heartbeat and recovery period" },
    { "heartbeat_ttl_ms", OPT_INT, OFF(heartbeat_ttl_ms), RH_DEF_STR(RH_DEF_HEARTBEAT_TTL_MS), 200, 600000,
      "RHAI_HEARTBEAT_TTL_MS", 0, "an instance silent this long is dead" },
    { "max_attempts", OPT_INT, OFF(max_attempts), "3", 1, 1000,
      "RHAI_MAX_ATTEMPTS", 1, "runs before a task of dead instances fails as crashed" },
    { "store_retry_ms", OPT_INT, OFF(store_retry_ms), "60000", 0, 86400000LL,
      "RHAI_STORE_RETRY_MS", 1, "a task whose store fails (read-only, full, I/O) runs again (250 ms doubling to 5 s) for this long before an internal error reply" },
    { "grace_ms", OPT_INT, OFF(grace_ms), "10000", 0, 3600000,
      "RHAI_GRACE_MS", 1, "on SIGTERM, time to finish running tasks" },
    { "reconnect_max_ms", OPT_INT, OFF(reconnect_max_ms), "1000", 100, 600000,
      "RHAI_RECONNECT_MAX_MS", 0, "ceiling of the Redis reconnect backoff (at most heartbeat_ttl_ms / 4 is used)" },
    { "prefetch", OPT_INT, OFF(prefetch), "64", 0, 1024, "RHAI_PREFETCH", 1,
      "at most, tasks taken ahead of free executors (claimed, waiting in memory): about 5 ms of work at the recent mean run, at least min(2, prefetch)" },
    { "pipeline_max_us", OPT_INT, OFF(pipeline_max_us), "1000", 0, 1LL << 40,
      "RHAI_PIPELINE_MAX_US", 1, "while the mean run is at most this (us), a task is queued behind each busy executor's, run back to back; 0: never" },
    { "start_defer_ms", OPT_INT, OFF(start_defer_ms), "0", 0, 60000,
      "RHAI_START_DEFER_MS", 1, "a task's start (running, started_at, attempts + 1, started event) is written to Redis this long after its executor began, or with its finish when it ends sooner; 0: at once" },
    { "require_signatures", OPT_INT, OFF(require_signatures), "0", 0, 1,
      "RHAI_REQUIRE_SIGNATURES", 1, "1: deny tasks without a valid Ed25519 signature" },
    { "dev_mode", OPT_BOOL, OFF(dev_mode), "0", 0, 1, "RHAI_DEV_MODE", 0,
      "1: a task's first DSL call creates its unknown context, owned by its caller" },
    { "signature_skew_ms", OPT_INT, OFF(signature_skew_ms), "300000", 1000, 86400000LL,
      "RHAI_SIGNATURE_SKEW_MS", 1, "signed tasks must be created within this of now" },
    { "task_index_max", OPT_INT, OFF(task_index_max), RH_DEF_STR(RH_DEF_TASK_INDEX_MAX), 0, 10000000,
      "RHAI_TASK_INDEX_MAX", 1, "recent finished task ids kept per worker id (rhaictl tasks)" },
    { "dead_max", OPT_INT, OFF(dead_max), RH_DEF_STR(RH_DEF_DEAD_MAX), 0, 10000000,
      "RHAI_DEAD_MAX", 1, "dead-letter tasks kept per worker id (oldest trimmed first; 0: none kept)" },
    { "dead_max_age_ms", OPT_INT, OFF(dead_max_age_ms), RH_DEF_STR(RH_DEF_DEAD_MAX_AGE_MS), 1000, 1LL << 40,
      "RHAI_DEAD_MAX_AGE_MS", 1, "dead-letter tasks older than this are trimmed" },
    { "event_depth_max", OPT_INT, OFF(event_depth_max), "8", 1, RH_EVENT_DEPTH_LIMIT,
      "RHAI_EVENT_DEPTH_MAX", 1, "longest event chain: an emit() in a task at this depth throws (docs/events.md)" },
    { "event_repair_ms", OPT_INT, OFF(event_repair_ms), "10000", 100, 1LL << 40,
      "RHAI_EVENT_REPAIR_MS", 1, "an outbox row unrelayed this long is relayed by the next task of its context (repair sweep)" },
    { "event_stream_max", OPT_INT, OFF(event_stream_max), "10000", 1, 100000000,
      "RHAI_EVENT_STREAM_MAX", 1, "events kept per context stream (XADD MAXLEN ~)" },
    { "metrics_listen", OPT_STR, OFF(metrics_listen), "", 0, 0, "RHAI_METRICS_LISTEN", 0,
      "HOST:PORT serving Prometheus /metrics, /healthz and /readyz (empty: off)" },
};
#define NOPTS (sizeof opts / sizeof opts[0])

static void *field(wk_config *c, const opt *o)
{
    return (char *)c + o->off;
}

static int set_value(wk_config *c, const opt *o, const char *val, char *why, size_t n)
{
    if (o->type == OPT_STR) {
        char **dst = field(c, o);
        char *copy = rh_strdup(val);
        if (copy == NULL) {
            snprintf(why, n, "out of memory");
            return -1;
        }
        rh_free(*dst);
        *dst = copy;
        return 0;
    }
    if (o->type == OPT_BOOL) {
        static const char *const on[] = { "1", "true", "yes", "on" };
        static const char *const off[] = { "0", "false", "no", "off" };
        for (size_t i = 0; i < 4; i++)
            if (strcmp(val, on[i]) == 0 || strcmp(val, off[i]) == 0) {
                *(int64_t *)field(c, o) = strcmp(val, on[i]) == 0;
                return 0;
            }
        snprintf(why, n, "'%s' is not a boolean (1, 0, true, false, yes, no, on, off)", val);
        return -1;
    }
    if (o->type == OPT_LEVEL) {
        int lv = rh_log_level_parse(val);
        if (lv < 0) {
            snprintf(why, n, "unknown log level '%s'", val);
            return -1;
        }
        *(int *)field(c, o) = lv;
        return 0;
    }
    if (o->type == OPT_LOGFMT) {
        int f = rh_log_format_parse(val);
        if (f < 0) {
            snprintf(why, n, "unknown log format '%s' (kv or json)", val);
            return -1;
        }
        *(int *)field(c, o) = f;
        return 0;
    }
    {
        char *end;
        long long v, mult = 1;
        errno = 0;
        v = strtoll(val, &end, 10);
        if (end != val && (*end == 'k' || *end == 'K')) mult = KiB, end++;
        else if (end != val && (*end == 'm' || *end == 'M')) mult = MiB, end++;
        else if (end != val && (*end == 'g' || *end == 'G')) mult = 1024 * MiB, end++;
        if (errno || end == val || *end || v > INT64_MAX / mult) {
            snprintf(why, n, "'%s' is not an integer", val);
            return -1;
        }
        v *= mult;
        if (v < o->min || v > o->max) {
            snprintf(why, n, "%lld is out of range [%lld, %lld]", v, (long long)o->min,
                     (long long)o->max);
            return -1;
        }
        if (o->off == OFF(concurrency))
            *(int *)field(c, o) = (int)v;
        else
            *(int64_t *)field(c, o) = v;
        return 0;
    }
}

/* Note where data_dir or data_url was given (a file line, a variable, a
 * flag): the two name one store, and a conflict names both sources. */
static void note_source(wk_config *c, const opt *o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_source(wk_config *c, const opt *o, const char *fmt, ...)
{
    char *dst = o->off == OFF(data_dir) ? c->data_dir_from :
                o->off == OFF(data_url) ? c->data_url_from : NULL;
    va_list ap;

    if (dst == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, sizeof c->data_dir_from, fmt, ap);
    va_end(ap);
}

static const opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *a = opts[i].name;
        size_t j = 0;
        for (; j < len && a[j]; j++) {
            char x = name[j] == '-' ? '_' : name[j];
            if (x != a[j])
                break;
        }
        if (j == len && a[j] == '\0')
            return &opts[i];
    }
    return NULL;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(wk_config *c, const char *path, rhai_error *err)
{
    FILE *f = fopen(path, "r");
    char line[4096], why[256];
    int lineno = 0;

    if (f == NULL)
        return rh_error_set(err, RHAI_EINVAL, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line), *eq, *key, *val;
        const opt *o;
        lineno++;
        if (*s == '\0' || *s == '#')
            continue;
        if ((eq = strchr(s, '=')) == NULL) {
            fclose(f);
            return rh_error_set(err, RHAI_EINVAL, "%s:%d: expected 'key = value'", path, lineno);
        }
        *eq = '\0';
        key = trim(s);
        val = trim(eq + 1);
        if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
            val[strlen(val) - 1] = '\0';
            val++;
        }
        if ((o = find_opt(key, strlen(key))) == NULL) {
            fclose(f);
            return rh_error_set(err, RHAI_EINVAL, "%s:%d: unknown option '%s'", path, lineno, key);
        }
        if (set_value(c, o, val, why, sizeof why) != 0) {
            fclose(f);
            return rh_error_set(err, RHAI_EINVAL, "%s:%d: %s: %s", path, lineno, key, why);
        }
        note_source(c, o, "%s:%d", path, lineno);
    }
    fclose(f);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: rhaid [OPTIONS]\n"
        "Worker daemon of rhailib: takes tasks from Redis, runs each script in a\n"
        "sandboxed executor process and publishes the result.\n\n"
        "Options (file key / environment variable / default):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        size_t j;
        for (j = 0; opts[i].name[j] && j < sizeof flag - 1; j++)
            flag[j] = opts[i].name[j] == '_' ? '-' : opts[i].name[j];
        flag[j] = '\0';
        fprintf(f, "  --%-24s %s\n  %-26s (%s, $%s, default %s%s)\n", flag, opts[i].help, "",
                opts[i].name, opts[i].env, opts[i].def ? opts[i].def : "computed",
                opts[i].reloadable ? ", reloaded on SIGHUP" : "");
    }
    fprintf(f,
        "  --config FILE              config file (default $RHAID_CONFIG, else none)\n"
        "  --print-config             print the effective configuration and exit\n"
        "  --help, --version\n\n"
        "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config (file,\n"
        "environment, then these flags again).\n");
}

/* The directory of a sqlite store url ("sqlite:///abs", "sqlite:rel", a
 * bare path), as store_new reads it; NULL for a postgres one. */
static const char *sqlite_dir(const char *url)
{
    if (store_url_is_postgres(url))
        return NULL;
    if (strncmp(url, "sqlite://", 9) == 0)
        return url + 9;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url + 7;
    return url;
}

/* 1 when two directory names are the same text but for trailing '/'. */
static int same_dir(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

/* data_dir is data_url's shorthand: make the two agree. data_url given:
 * a sqlite one sets data_dir to its directory, a postgres one leaves no
 * data dir (""); data_url not given: sqlite://data_dir. Both given and
 * naming two stores is an error naming where each came from, whatever
 * the sources' order: a --data-dir left in a unit beside a postgres
 * data_url in the file must not quietly split the data. */
static int store_settle(wk_config *c, rhai_error *err)
{
    const char *dir;
    char *v;

    if (c->data_url == NULL || *c->data_url == '\0') {
        if (c->data_dir == NULL || *c->data_dir == '\0')
            return rh_error_set(err, RHAI_EINVAL, "data_dir is empty: name a directory "
                                "(or a store with data_url)");
        v = rh_sprintf("%s%s", c->data_dir[0] == '/' ? "sqlite://" : "sqlite:", c->data_dir);
        if (v == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        rh_free(c->data_url);
        c->data_url = v;
        return 0;
    }
    dir = sqlite_dir(c->data_url);
    if (c->data_dir_from[0] && (dir == NULL || !same_dir(dir, c->data_dir))) {
        char masked[512];
        store_url_mask(c->data_url, masked, sizeof masked);
        return rh_error_set(err, RHAI_EINVAL, "data_dir %s (%s) and data_url %s (%s) name "
                            "two different stores: give one of them (data_dir DIR is "
                            "data_url sqlite://DIR)", c->data_dir, c->data_dir_from, masked,
                            c->data_url_from);
    }
    if (dir != NULL && *dir == '\0')
        return rh_error_set(err, RHAI_EINVAL, "data_url %s names no directory", c->data_url);
    if ((v = rh_strdup(dir ? dir : "")) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rh_free(c->data_dir);
    c->data_dir = v;
    return 0;
}

static int default_concurrency(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

int wk_config_load(wk_config *c, int argc, char **argv, rhai_error *err)
{
    char why[256];
    const char *file = getenv("RHAID_CONFIG");
    int print = 0, rc;

    memset(c, 0, sizeof *c);
    /* Kept for SIGHUP, which applies the same flags again: a reload that
     * forgot them (issue 16) dropped --log-level debug and the like. */
    if ((c->argv = rh_calloc((size_t)argc + 1, sizeof *c->argv)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (c->argc = 0; c->argc < argc; c->argc++)
        if ((c->argv[c->argc] = rh_strdup(argv[c->argc])) == NULL)
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].def && set_value(c, &opts[i], opts[i].def, why, sizeof why) != 0)
            return rh_error_set(err, RHAI_EINTERNAL, "default of %s: %s", opts[i].name, why);
    c->concurrency = default_concurrency();

    /* The file comes first, so find --config before anything else. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file) {
        if ((rc = load_file(c, file, err)) != 0)
            return rc;
        c->config_file = rh_strdup(file);
    }
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && set_value(c, &opts[i], v, why, sizeof why) != 0)
            return rh_error_set(err, RHAI_EINVAL, "$%s: %s", opts[i].env, why);
        if (v)
            note_source(c, &opts[i], "$%s", opts[i].env);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val, *eq;
        const opt *o;
        size_t len;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return WK_CONFIG_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("rhaid %s\n", RHAI_VERSION_STRING);
            return WK_CONFIG_EXIT_OK;
        }
        if (strcmp(a, "--print-config") == 0) {
            print = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return rh_error_set(err, RHAI_EINVAL, "unexpected argument '%s' (see --help)", a);
        a += 2;
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        if (len == 6 && strncmp(a, "config", 6) == 0) {
            if (!eq)
                i++;
            continue;
        }
        if ((o = find_opt(a, len)) == NULL)
            return rh_error_set(err, RHAI_EINVAL, "unknown option '--%.*s' (see --help)",
                                (int)len, a);
        if (eq) {
            val = eq + 1;
        } else if (o->type == OPT_BOOL &&
                   (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            val = "1";
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return rh_error_set(err, RHAI_EINVAL, "option '--%s' needs a value", a);
        }
        if (set_value(c, o, val, why, sizeof why) != 0)
            return rh_error_set(err, RHAI_EINVAL, "--%.*s: %s", (int)len, a, why);
        note_source(c, o, "--%.*s", (int)len, a);
    }
    if ((rc = store_settle(c, err)) != 0)
        return rc;
    if (!rh_name_valid(c->worker_id))
        return rh_error_set(err, RHAI_EINVAL, "worker_id '%s': use 1..128 of [A-Za-z0-9_.:@-]",
                            c->worker_id);
    if (!rh_name_valid(c->prefix) || strlen(c->prefix) > RH_PREFIX_MAX)
        return rh_error_set(err, RHAI_EINVAL, "prefix '%s' is not a valid name", c->prefix);
    {
        rh_redis_cfg rc_cfg;
        if ((rc = wk_config_redis(c, &rc_cfg, err)) != 0)
            return rc;
    }
    if (c->heartbeat_ttl_ms <= c->heartbeat_ms)
        return rh_error_set(err, RHAI_EINVAL, "heartbeat_ttl_ms (%lld) must exceed heartbeat_ms (%lld)",
                            (long long)c->heartbeat_ttl_ms, (long long)c->heartbeat_ms);
    if (c->default_timeout_ms > c->max_timeout_ms)
        c->default_timeout_ms = c->max_timeout_ms;
    if (c->max_script + c->max_args + RH_LIM_FIXED + RH_LIM_EVENT > (int64_t)RH_FRAME_MAX)
        return rh_error_set(err, RHAI_EINVAL, "max_script (%lld) + max_args (%lld) must leave "
                            "%d bytes of an executor frame (%u bytes)",
                            (long long)c->max_script, (long long)c->max_args,
                            RH_LIM_FIXED + RH_LIM_EVENT,
                            (unsigned)RH_FRAME_MAX);
    if (print) {
        wk_config_print(c, stdout);
        return WK_CONFIG_EXIT_OK;
    }
    return 0;
}

int wk_config_error_format(const wk_config *partial, int argc, char **argv)
{
    const char *env = getenv("RHAI_LOG_FORMAT");
    int format = partial->log_format, f;

    /* the file's value is in 'partial' when it was read before the error */
    if (env && (f = rh_log_format_parse(env)) >= 0)
        format = f;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--log-format=", 13) == 0)
            v = argv[i] + 13;
        if (v && (f = rh_log_format_parse(v)) >= 0)
            format = f;
    }
    return format;
}

void wk_config_print(const wk_config *c, FILE *f)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const void *p = (const char *)c + opts[i].off;
        if (opts[i].off == OFF(data_url)) {
            char safe[1024];
            store_url_mask(c->data_url ? c->data_url : "", safe, sizeof safe);
            fprintf(f, "%s = %s\n", opts[i].name, safe);
        } else if (opts[i].off == OFF(redis_url)) {
            rh_url u;
            char safe[512];
            if (rh_url_parse_ex(c->redis_url, RH_URL_TLS, &u, NULL) == 0) {
                rh_url_format_safe(&u, safe, sizeof safe);
                fprintf(f, "%s = %s\n", opts[i].name, safe);
            }
        } else if (opts[i].type == OPT_STR)
            fprintf(f, "%s = %s\n", opts[i].name, *(char *const *)p);
        else if (opts[i].type == OPT_LEVEL)
            fprintf(f, "%s = %s\n", opts[i].name, rh_log_level_name(*(const int *)p));
        else if (opts[i].type == OPT_LOGFMT)
            fprintf(f, "%s = %s\n", opts[i].name, rh_log_format_name(*(const int *)p));
        else if (opts[i].off == OFF(concurrency))
            fprintf(f, "%s = %d\n", opts[i].name, *(const int *)p);
        else
            fprintf(f, "%s = %lld\n", opts[i].name, (long long)*(const int64_t *)p);
    }
}

int wk_config_redis(const wk_config *c, rh_redis_cfg *out, rhai_error *err)
{
    static const struct { const char *name; size_t off; } tls[] = {
        { "tls_ca", OFF(tls_ca) }, { "tls_cert", OFF(tls_cert) }, { "tls_key", OFF(tls_key) },
        { "tls_sni", OFF(tls_sni) }, { "tls_verify", OFF(tls_verify) },
    };
    rhai_error e;
    int rc;

    if ((rc = rh_redis_cfg_init(out, c->redis_url, &e)) != 0)
        return rh_error_set(err, rc, "redis_url: %s", e.msg);
    for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
        const char *v = *(char *const *)((const char *)c + tls[i].off);
        if (v && v[0] && (rc = rh_redis_cfg_set(out, tls[i].name, v, &e)) != 0)
            return rh_error_set(err, rc, "%s: %s", tls[i].name, e.msg);
    }
    if ((rc = rh_redis_cfg_check(out, &e)) != 0)
        return rh_error_set(err, rc, "redis_url and tls_*: %s", e.msg);
    return 0;
}

void wk_config_free(wk_config *c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].type == OPT_STR) {
            char **p = field(c, &opts[i]);
            rh_free(*p);
            *p = NULL;
        }
    rh_free(c->instance);
    rh_free(c->config_file);
    c->instance = c->config_file = NULL;
    for (int i = 0; c->argv && i < c->argc; i++)
        rh_free(c->argv[i]);
    rh_free(c->argv);
    c->argv = NULL;
    c->argc = 0;
}

/* 1 when option o has the same value in a and b. */
static int same_value(const opt *o, wk_config *a, wk_config *b)
{
    if (o->type == OPT_STR) {
        const char *x = *(char **)field(a, o), *y = *(char **)field(b, o);
        return (x == NULL && y == NULL) || (x && y && strcmp(x, y) == 0);
    }
    if (o->type == OPT_LEVEL || o->type == OPT_LOGFMT || o->off == OFF(concurrency))
        return *(int *)field(a, o) == *(int *)field(b, o);
    return *(int64_t *)field(a, o) == *(int64_t *)field(b, o);
}

/* Append ",name" (or "name" first) to list; one that does not fit ends
 * the list with "..." (n of at least 4). */
static void list_add(char *list, size_t n, const char *name)
{
    size_t len = strlen(list), need = (len ? 1 : 0) + strlen(name);

    if (n < 4 || (len >= 3 && strcmp(list + len - 3, "...") == 0))
        return;
    if (len + need < n) {
        snprintf(list + len, n - len, "%s%s", len ? "," : "", name);
        return;
    }
    if (len + 3 >= n)
        len = n - 4;                            /* over the tail */
    memcpy(list + len, "...", 4);
}

void wk_config_apply_reloadable(wk_config *cur, wk_config *fresh, char *changed,
                                size_t changed_n, char *restart, size_t restart_n)
{
    if (changed_n)
        changed[0] = '\0';
    if (restart_n)
        restart[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &opts[i];
        if (same_value(o, cur, fresh))
            continue;
        list_add(changed, changed_n, o->name);
        if (!o->reloadable) {
            list_add(restart, restart_n, o->name);
            continue;
        }
        if (o->type == OPT_STR) {               /* moved: no copy to fail */
            char **to = field(cur, o), **from = field(fresh, o);
            rh_free(*to);
            *to = *from;
            *from = NULL;
        } else if (o->type == OPT_LEVEL || o->type == OPT_LOGFMT || o->off == OFF(concurrency)) {
            *(int *)field(cur, o) = *(int *)field(fresh, o);
        } else {
            *(int64_t *)field(cur, o) = *(int64_t *)field(fresh, o);
        }
    }
}

int wk_config_reload(wk_config *cur, char *changed, size_t changed_n, char *restart,
                     size_t restart_n, rhai_error *err)
{
    wk_config fresh;
    int rc = wk_config_load(&fresh, cur->argc, cur->argv, err);

    if (rc == WK_CONFIG_EXIT_OK)                /* --help in argv: not a daemon's */
        rc = rh_error_set(err, RHAI_EINVAL, "the command line asks for no daemon");
    if (rc == 0)
        wk_config_apply_reloadable(cur, &fresh, changed, changed_n, restart, restart_n);
    wk_config_free(&fresh);
    return rc;
}

void wk_config_limits(const wk_config *c, eng_limits *lim)
{
    lim->memory = (size_t)c->memory;
    lim->max_script = (size_t)c->max_script;
    lim->max_output = (size_t)c->max_output;
    lim->max_logs = (size_t)c->max_logs;
}
