/* main.c -- rhaictl: global options, the command table, shared helpers.
 *
 * `rhaictl [global options] COMMAND [options] [args]`. Global options are
 * parsed here up to the command name; the command's own getopt_long table
 * accepts them again, so `rhaictl submit x.js --json` works too. The
 * helpers at the end (scripts, results, errors) are used by every command
 * so that all of them print and exit the same way (exit codes: ctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "rhai/version.h"

static const ctl_cmd *const ctl_commands[] = {
    &ctl_cmd_submit,
    &ctl_cmd_run,
    &ctl_cmd_task,
    &ctl_cmd_keygen,
    &ctl_cmd_workers,
    &ctl_cmd_queues,
    &ctl_cmd_tasks,
    &ctl_cmd_queue,
    &ctl_cmd_top,
    &ctl_cmd_dsl,
    &ctl_cmd_context,
    &ctl_cmd_acl,
    &ctl_cmd_audit,
    NULL
};

/* ======================== top level ======================== */

static void main_usage(FILE *f)
{
    fprintf(f,
            "Usage: rhaictl [--redis-url URL] [--prefix P] [--json] COMMAND ...\n"
            "       rhaictl COMMAND --help | --help | --version\n"
            "\n"
            "Submit JavaScript (ES5) tasks to rhaid workers over Redis, run them\n"
            "locally in the same sandbox, and look after tasks.\n"
            "\n"
            "Commands:\n");
    for (int i = 0; ctl_commands[i]; i++)
        fprintf(f, "  %-8s %s\n  %-8s   rhaictl %s %s\n", ctl_commands[i]->name,
                ctl_commands[i]->summary, "", ctl_commands[i]->name, ctl_commands[i]->args);
    fprintf(f, "  %-8s %s\n", "help", "help of a command (rhaictl help submit)");
    fprintf(f, "\n" CTL_GLOBAL_HELP "  --version         print the version\n\n"
            CTL_EXIT_HELP);
}

static const ctl_cmd *main_find(const char *name)
{
    for (int i = 0; ctl_commands[i]; i++)
        if (strcmp(ctl_commands[i]->name, name) == 0)
            return ctl_commands[i];
    return NULL;
}

/* `rhaictl help [CMD]`: the same text as `rhaictl CMD --help`. */
static int main_help(ctl_global *g, int argc, char **argv)
{
    const ctl_cmd *cmd;
    char help[] = "--help";
    char *av[3];

    if (argc < 2) {
        main_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc > 2)
        return ctl_usage_error(NULL, "help takes one command name");
    if ((cmd = main_find(argv[1])) == NULL)
        return ctl_usage_error(NULL, "unknown command '%s'", argv[1]);
    av[0] = argv[1];
    av[1] = help;
    av[2] = NULL;
    ctl_getopt_reset();
    return cmd->exec(g, 2, av);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    ctl_global g = { NULL, NULL, 0 };
    const ctl_cmd *cmd;
    int c;

    /* Warnings of the code rhaictl runs in-process (the client library,
     * the store) go to stderr; below that is chatter. */
    rh_log_init("rhaictl");
    rh_log_level = RH_LOG_WARN;
    ctl_getopt_reset();
    /* '+': stop at the command name; its options are the command's. */
    while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
        if (ctl_global_option(&g, c, optarg))
            continue;
        switch (c) {
        case 'h':
        case CTL_OPT_HELP:
            main_usage(stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("rhaictl %s\n", RHAI_VERSION_STRING);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error(NULL, c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error(NULL, "no command given (rhaictl --help lists them)");
    argc -= optind;
    argv += optind;
    if (strcmp(argv[0], "help") == 0)
        return main_help(&g, argc, argv);
    if ((cmd = main_find(argv[0])) == NULL)
        return ctl_usage_error(NULL, "unknown command '%s'", argv[0]);
    ctl_getopt_reset();
    return cmd->exec(&g, argc, argv);
}

/* ======================== options ======================== */

int ctl_global_option(ctl_global *g, int c, const char *arg)
{
    switch (c) {
    case CTL_OPT_URL:
        g->url = arg;
        return 1;
    case CTL_OPT_PREFIX:
        g->prefix = arg;
        return 1;
    case CTL_OPT_JSON:
        g->json = 1;
        return 1;
    default:
        return 0;
    }
}

void ctl_getopt_reset(void)
{
    optind = 0;             /* glibc: full re-initialisation, rereads '+' */
    opterr = 0;             /* we word the errors ourselves */
}

static void ctl_vusage(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "rhaictl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'rhaictl%s%s --help'\n", cmd ? " " : "", cmd ? cmd : "");
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ctl_vusage(cmd, fmt, ap);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

int ctl_option_error(const char *cmd, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "?";

    if (c == ':') {
        if (optopt > 0 && optopt < 0x100)
            return ctl_usage_error(cmd, "option '-%c' needs a value", optopt);
        return ctl_usage_error(cmd, "option '%s' needs a value", opt);
    }
    if (optopt > 0 && optopt < 0x100)
        return ctl_usage_error(cmd, "unknown option '-%c'", optopt);
    if (optopt >= 0x100 || strchr(opt, '=') != NULL)
        return ctl_usage_error(cmd, "option '%s' takes no value", opt);
    return ctl_usage_error(cmd, "unknown option '%s'", opt);
}

void ctl_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "rhaictl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_parse_int(const char *s, long long min, long long max, int suffixes,
                  long long *out)
{
    long long v, mult = 1;
    char *end;

    if (s == NULL || *s < '0' || *s > '9')      /* no sign, no blanks */
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    if (*end && suffixes && end[1] == '\0') {
        switch (*end) {
        case 'k': case 'K': mult = 1024LL; break;
        case 'm': case 'M': mult = 1024LL * 1024; break;
        case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
        default: return -1;
        }
    } else if (*end) {
        return -1;
    }
    if (v > LLONG_MAX / mult)
        return -1;
    v *= mult;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ======================== scripts ======================== */

/* Read all of 'fd' into 'b', at most CTL_SCRIPT_MAX bytes. 0, 1 when the
 * input is longer, or -1 with errno. */
static int script_read_fd(int fd, rh_buf *b)
{
    char chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (b->len + (size_t)n > CTL_SCRIPT_MAX)
            return 1;
        if (rh_buf_append(b, chunk, (size_t)n) != 0) {
            errno = ENOMEM;
            return -1;
        }
    }
}

int ctl_sign_task(const char *cmd, rhai_task *t, const char *path)
{
    char key[160];
    FILE *f = fopen(path, "r");
    int rc = -1;

    if (f == NULL) {
        ctl_errorf(cmd, "--key %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(key, sizeof key, f) != NULL) {
        key[strcspn(key, "\r\n")] = '\0';
        rc = rhai_task_set_signing_key(t, key) == 0 ? 0 : -1;
    }
    fclose(f);
    memset(key, 0, sizeof key);
    if (rc != 0)
        ctl_errorf(cmd, "--key %s: not an Ed25519 secret key (128 hex; rhaictl keygen)",
                   path);
    return rc;
}

int ctl_script_load(const char *cmd, const char *path, const char *inline_src,
                    char **out, size_t *len)
{
    const char *name = path && strcmp(path, "-") != 0 ? path : "<stdin>";
    struct stat st;
    rh_buf b;
    int fd, r, e;

    *out = NULL;
    if (inline_src) {
        *len = strlen(inline_src);
        if (*len == 0)
            return ctl_usage_error(cmd, "the script given with -e is empty");
        if (*len > CTL_SCRIPT_MAX) {
            ctl_errorf(cmd, "the -e script is over the %u MiB limit",
                       CTL_SCRIPT_MAX >> 20);
            return CTL_EXIT_USAGE;
        }
        if ((*out = rh_strdup(inline_src)) == NULL) {
            ctl_errorf(cmd, "out of memory");
            return CTL_EXIT_FAILED;
        }
        return 0;
    }

    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else {
        do {
            fd = open(path, O_RDONLY | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            ctl_errorf(cmd, "cannot read '%s': %s", path, strerror(errno));
            return CTL_EXIT_USAGE;
        }
    }
    /* Refuse a large regular file before reading any of it. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > CTL_SCRIPT_MAX) {
        ctl_errorf(cmd, "'%s' is %lld bytes, over the %u MiB script limit", name,
                   (long long)st.st_size, CTL_SCRIPT_MAX >> 20);
        if (fd != STDIN_FILENO)
            close(fd);
        return CTL_EXIT_USAGE;
    }
    rh_buf_init(&b);
    r = script_read_fd(fd, &b);
    e = errno;
    if (fd != STDIN_FILENO)
        close(fd);
    if (r != 0) {
        if (r == 1)
            ctl_errorf(cmd, "'%s' is over the %u MiB script limit", name,
                       CTL_SCRIPT_MAX >> 20);
        else
            ctl_errorf(cmd, "cannot read '%s': %s", name, strerror(e));
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    if (b.len == 0) {
        ctl_errorf(cmd, "'%s' is empty", name);
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        ctl_errorf(cmd, "'%s' holds a NUL byte; scripts are text", name);
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    *out = b.data;          /* rh_buf memory comes from rh_malloc */
    *len = b.len;
    return 0;
}

int ctl_json_valid(const char *json)
{
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        return -1;
    json_decref(v);
    return 0;
}

/* ======================== results and errors ======================== */

int ctl_exit_for_result(rhai_status status, const char *kind)
{
    rh_error_kind k = kind ? rh_kind_parse(kind) : RH_EK_NONE;

    if (status == RHAI_STATUS_DONE)
        return CTL_EXIT_OK;
    if (status == RHAI_STATUS_TIMEOUT || k == RH_EK_TIMEOUT)
        return CTL_EXIT_TIMEOUT;
    if (status == RHAI_STATUS_CANCELLED || k == RH_EK_CANCELLED)
        return CTL_EXIT_CANCELLED;
    if (k == RH_EK_DENIED)
        return CTL_EXIT_DENIED;
    return CTL_EXIT_FAILED;    /* script, memory, crashed, invalid, internal */
}

int ctl_exit_for_rc(int rc)
{
    switch (rc) {
    case 0:
        return CTL_EXIT_OK;
    case RHAI_ECONN:
        return CTL_EXIT_CONN;
    case RHAI_ETIMEOUT:
        return CTL_EXIT_TIMEOUT;
    case RHAI_ENOTFOUND:
        return CTL_EXIT_NOTFOUND;
    case RHAI_EINVAL:
    case RHAI_ETOOBIG:
        return CTL_EXIT_USAGE;
    default:
        return CTL_EXIT_FAILED;
    }
}

int ctl_report_rc(int rc, const rhai_error *err)
{
    ctl_errorf(NULL, "%s", err && err->code != 0 && err->msg[0] ? err->msg : rhai_strerror(rc));
    return ctl_exit_for_rc(rc);
}

void ctl_print_logs(const char *logs)
{
    const char *p = logs, *nl;

    if (p == NULL || *p == '\0')
        return;
    while (*p) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            fprintf(stderr, "log: %s\n", p);
            break;
        }
        fprintf(stderr, "log: %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
}

int ctl_print_result(const ctl_global *g, rhai_status status, const char *kind,
                     const char *output, const char *error, const char *logs,
                     const char *json)
{
    int code = ctl_exit_for_result(status, kind);

    if (g->json) {
        printf("%s\n", json ? json : "null");
    } else {
        ctl_print_logs(logs);
        if (code == CTL_EXIT_OK)
            printf("%s\n", output && *output ? output : "null");
        else
            fprintf(stderr, "%s: %s\n",
                    kind && *kind ? kind : rh_status_str(status),
                    error && *error ? error : "(no message)");
    }
    if (fflush(stdout) != 0) {
        ctl_errorf(NULL, "cannot write the result: %s", strerror(errno));
        return code == CTL_EXIT_OK ? CTL_EXIT_FAILED : code;
    }
    return code;
}

int ctl_connect(const ctl_global *g, rhai_client **out)
{
    const char *prefix = g->prefix;
    rhai_error err = { 0, "" };
    int rc;

    if (prefix == NULL && (prefix = getenv("RHAI_PREFIX")) != NULL && *prefix == '\0')
        prefix = NULL;
    if ((rc = rhai_client_connect(g->url, prefix, out, &err)) != 0)
        return ctl_report_rc(rc, &err);
    return 0;
}

/* ======================== plain Redis ======================== */

#define CTL_REDIS_CONNECT_MS 5000
#define CTL_REDIS_IO_MS 10000

int ctl_redis_fail(ctl_redis *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->code = code;
    if (!r->quiet)
        ctl_errorf(r->cmd, "%s", r->msg);
    return code;
}

/* One setup command (AUTH, SELECT) on a new connection: 0 / -1. */
static int redis_setup(ctl_redis *r, redisContext *rc, int argc, const char **argv)
{
    size_t lens[3];
    redisReply *rep;
    int ok;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rep = redisCommandArgv(rc, argc, argv, lens);
    if (rep == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: %s failed: %s", r->where, argv[0],
                   rc->errstr[0] ? rc->errstr : "connection lost");
        return -1;
    }
    ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: %s refused: %s", r->where, argv[0], rep->str);
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

int ctl_redis_reopen(ctl_redis *r)
{
    struct timeval tv = { CTL_REDIS_CONNECT_MS / 1000, 0 };
    struct timeval io = { CTL_REDIS_IO_MS / 1000, 0 };
    const char *argv[3];
    char db[16];
    redisContext *rc;
    int n = 0;

    ctl_redis_close(r);
    rc = r->url.is_unix ? redisConnectUnixWithTimeout(r->url.path, tv)
                        : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory connecting to %s", r->where);
        return r->code;
    }
    if (rc->err) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "cannot connect to %s: %s", r->where, rc->errstr);
        redisFree(rc);
        return r->code;
    }
    if (redisSetTimeout(rc, io) != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: cannot set a socket timeout: %s", r->where,
                   rc->errstr);
        redisFree(rc);
        return r->code;
    }
    if (r->url.pass[0]) {
        argv[n++] = "AUTH";
        if (r->url.user[0])
            argv[n++] = r->url.user;
        argv[n++] = r->url.pass;
        if (redis_setup(r, rc, n, argv) != 0) {
            redisFree(rc);
            return r->code;
        }
    }
    if (r->url.db != 0) {
        snprintf(db, sizeof db, "%d", r->url.db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redis_setup(r, rc, 2, argv) != 0) {
            redisFree(rc);
            return r->code;
        }
    }
    r->rc = rc;
    return 0;
}

int ctl_redis_open(const ctl_global *g, const char *cmd, ctl_redis *r)
{
    const char *url = g->url, *prefix = g->prefix;
    rhai_error err = { 0, "" };

    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    if (url == NULL)
        url = getenv("RHAI_REDIS_URL");          /* NULL or "": the default */
    if (prefix == NULL && (prefix = getenv("RHAI_PREFIX")) != NULL && *prefix == '\0')
        prefix = NULL;
    if (prefix == NULL)
        prefix = "rhai";
    if (rh_url_parse(url, &r->url, &err) != 0) {
        ctl_redis_fail(r, CTL_EXIT_USAGE, "%s", err.msg[0] ? err.msg : "invalid Redis URL");
        return r->code;
    }
    if (strlen(prefix) > RH_PREFIX_MAX || !rh_name_valid(prefix)) {
        ctl_redis_fail(r, CTL_EXIT_USAGE, "invalid key prefix '%.64s' (1..%d of "
                   "[A-Za-z0-9_.:@-])", prefix, RH_PREFIX_MAX);
        return r->code;
    }
    memcpy(r->prefix, prefix, strlen(prefix) + 1);
    rh_url_format_safe(&r->url, r->where, sizeof r->where);
    return ctl_redis_reopen(r);
}

void ctl_redis_close(ctl_redis *r)
{
    if (r->rc)
        redisFree(r->rc);
    r->rc = NULL;
}

/* A reply just read: NULL means the connection broke; an error reply is
 * reported and freed. */
static redisReply *redis_check(ctl_redis *r, redisReply *rep)
{
    if (rep == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "connection to %s lost: %s", r->where,
                   r->rc && r->rc->errstr[0] ? r->rc->errstr : "no reply");
        ctl_redis_close(r);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "%s: %s", r->where, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisReply *ctl_redis_command(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    va_start(ap, fmt);
    rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    return redis_check(r, rep);
}

int ctl_redis_append(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    va_start(ap, fmt);
    rc = redisvAppendCommand(r->rc, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "cannot queue a command: %s", r->rc->errstr);
        return -1;
    }
    return 0;
}

int ctl_redis_append_argv(ctl_redis *r, int argc, const char **argv)
{
    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    /* NULL lengths: every argument is a C string */
    if (redisAppendCommandArgv(r->rc, argc, argv, NULL) != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "cannot queue a command: %s", r->rc->errstr);
        return -1;
    }
    return 0;
}

redisReply *ctl_redis_reply(ctl_redis *r)
{
    void *rep = NULL;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    if (redisGetReply(r->rc, &rep) != REDIS_OK)
        rep = NULL;
    return redis_check(r, rep);
}

long long ctl_reply_ll(const redisReply *e, long long def)
{
    long long v;
    char *end;

    if (e == NULL)
        return def;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type != REDIS_REPLY_STRING || e->len == 0)
        return def;
    errno = 0;
    v = strtoll(e->str, &end, 10);
    return errno == 0 && *end == '\0' ? v : def;
}

const char *ctl_reply_str(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

/* ======================== output ======================== */

void ctl_fmt_duration(int64_t ms, char *buf, size_t n)
{
    int64_t s = ms / 1000;

    if (ms < 0)
        snprintf(buf, n, "-");
    else if (ms < 1000)
        snprintf(buf, n, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

int ctl_flush(void)
{
    if (fflush(stdout) != 0) {
        ctl_errorf(NULL, "cannot write to stdout: %s", strerror(errno));
        return CTL_EXIT_FAILED;
    }
    return CTL_EXIT_OK;
}

int ctl_print_json(json_t *doc)
{
    char *text;

    if (doc == NULL) {
        ctl_errorf(NULL, "out of memory");
        return CTL_EXIT_FAILED;
    }
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL) {
        ctl_errorf(NULL, "out of memory");
        return CTL_EXIT_FAILED;
    }
    printf("%s\n", text);
    free(text);                         /* jansson's allocator: malloc */
    return ctl_flush();
}
