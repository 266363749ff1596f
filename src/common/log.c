/* log.c -- leveled key=value logging to stderr, or one JSON object a line.
 *
 * Under systemd (stderr is the stream $JOURNAL_STREAM names) each line
 * starts with a <N> syslog priority and carries no timestamp, since
 * journald adds its own;
 * otherwise lines carry an ISO time, the program name and the pid. With
 * rh_log_format JSON the same line is turned into an object: its leading
 * key=value fields become members and the sentence after them "msg".
 * Writing to stderr is the program's choice (rh_log_init): librhai-client
 * holds this code too and must not write to its host's stderr, so there
 * lines go to a sink (rhai_set_log_cb) or nowhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "utf8.h"

int rh_log_level = RH_LOG_INFO;
int rh_log_format = RH_LOG_FMT_KV;

static const char *log_ident = "rhai";
static int log_journal;
static int log_stderr;                  /* rh_log_init was called */
static _Atomic(rh_log_sink_fn) log_sink;

static const char *const level_names[] = { "debug", "info", "notice", "warn", "error" };
static const int level_prio[] = { 7, 6, 5, 4, 3 };   /* syslog priorities */
static const char *const format_names[] = { "kv", "json" };

/* A line as written is at most LOG_BODY bytes; as JSON each byte may
 * become 6 (\u00XX), plus the fixed members: LOG_LINE always holds it. */
#define LOG_BODY 2048
#define LOG_LINE (LOG_BODY * 6 + 512)

/* 1 when stderr is the stream systemd connected to the journal. The
 * variable is inherited by children whose stderr was redirected (a
 * script run by a unit, `rhaid 2>file`), so as sd_journal_stream_fd(3)
 * says, it counts only when its "device:inode" is stderr's. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int used = 0;

    if (js == NULL || sscanf(js, "%llu:%llu%n", &dev, &ino, &used) != 2 ||
        js[used] != '\0' || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void rh_log_init(const char *ident)
{
    if (ident)
        log_ident = ident;
    log_journal = stderr_is_journal();
    log_stderr = 1;
}

void rh_log_set_sink(rh_log_sink_fn fn)
{
    log_sink = fn;
}

int rh_log_level_parse(const char *name)
{
    for (int i = 0; i <= RH_LOG_ERROR; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    if (name && strcasecmp(name, "warning") == 0)
        return RH_LOG_WARN;
    return -1;
}

const char *rh_log_level_name(int level)
{
    return level >= 0 && level <= RH_LOG_ERROR ? level_names[level] : "?";
}

int rh_log_format_parse(const char *name)
{
    for (int i = 0; i <= RH_LOG_FMT_JSON; i++)
        if (name && strcasecmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

const char *rh_log_format_name(int format)
{
    return format >= 0 && format <= RH_LOG_FMT_JSON ? format_names[format] : "?";
}

/* ======================== UTF-8 and escaping ======================== */

/* A bounded writer: appends what fits, always NUL-terminated. */
typedef struct lw {
    char  *p;
    size_t len, cap;               /* cap >= 1 */
} lw;

static void lw_put(lw *w, const char *s, size_t n)
{
    if (w->len + 1 >= w->cap)
        return;
    if (n > w->cap - 1 - w->len)
        n = w->cap - 1 - w->len;
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void lw_puts(lw *w, const char *s)
{
    lw_put(w, s, strlen(s));
}

const char *rh_log_quote(char *out, size_t n, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t len, i = 0;
    lw w = { out, 0, n };

    if (n == 0)
        return out;
    out[0] = '\0';
    if (s == NULL)
        return out;
    len = strlen(s);
    while (i < len && i < max) {
        size_t k = rh_utf8_seq_len(u + i, len - i);
        char esc[4] = { '\\', 0, 0, 0 };

        /* each unit is written whole or not at all, so a cut never
         * leaves half an escape that would end the quoted field */
        if (k > 1) {
            if (i + k > max || w.len + k + 4 >= n)
                break;
            lw_put(&w, s + i, k);
            i += k;
            continue;
        }
        if (k == 1 && u[i] >= 0x20 && u[i] != 0x7f && u[i] != '"' && u[i] != '\\') {
            if (w.len + 1 + 4 >= n)
                break;
            lw_put(&w, s + i, 1);
            i++;
            continue;
        }
        if (u[i] == '"' || u[i] == '\\')
            esc[1] = (char)u[i];
        else if (u[i] == '\n')
            esc[1] = 'n';
        else if (u[i] == '\r')
            esc[1] = 'r';
        else if (u[i] == '\t')
            esc[1] = 't';
        if (w.len + (esc[1] ? 2 : 4) + 4 >= n)
            break;
        if (esc[1]) {
            lw_put(&w, esc, 2);
        } else {
            char x[4] = { '\\', 'x', hex[u[i] >> 4], hex[u[i] & 15] };
            lw_put(&w, x, 4);
        }
        i++;
    }
    if (i < len)
        lw_puts(&w, "...");
    return out;
}

/* s[0..n) as a JSON string, quotes included. */
static void json_str(lw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;

    lw_put(w, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = rh_utf8_seq_len(u + i, n - i);
        if (k > 1) {
            lw_put(w, s + i, k);
            i += k;
            continue;
        }
        if (k == 0)
            lw_puts(w, "\\ufffd");
        else if (u[i] == '"')
            lw_puts(w, "\\\"");
        else if (u[i] == '\\')
            lw_puts(w, "\\\\");
        else if (u[i] == '\n')
            lw_puts(w, "\\n");
        else if (u[i] == '\r')
            lw_puts(w, "\\r");
        else if (u[i] == '\t')
            lw_puts(w, "\\t");
        else if (u[i] < 0x20 || u[i] == 0x7f) {
            char x[7] = { '\\', 'u', '0', '0', hex[u[i] >> 4], hex[u[i] & 15], 0 };
            lw_puts(w, x);
        } else
            lw_put(w, s + i, 1);
        i++;
    }
    lw_put(w, "\"", 1);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode the quoted value starting after its opening quote at s into
 * out (the escapes of rh_log_quote); returns the position after the
 * closing quote, or NULL when there is none. out holds strlen(s) bytes. */
static const char *unquote(const char *s, char *out, size_t *outn)
{
    size_t n = 0;

    for (; *s; s++) {
        if (*s == '"') {
            *outn = n;
            return s + 1;
        }
        if (*s != '\\' || s[1] == '\0') {
            out[n++] = *s;
            continue;
        }
        s++;
        if (*s == 'n')
            out[n++] = '\n';
        else if (*s == 'r')
            out[n++] = '\r';
        else if (*s == 't')
            out[n++] = '\t';
        else if (*s == 'x' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            out[n++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else
            out[n++] = *s;           /* \" \\ and anything else: itself */
    }
    return NULL;
}

/* A bare value that JSON can carry as a number: an integer of at most
 * 15 digits, without a leading zero. */
static int is_int(const char *s, size_t n)
{
    size_t i = s[0] == '-' ? 1 : 0;
    if (n <= i || n - i > 15 || (s[i] == '0' && n - i > 1))
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Member names of one JSON line, so none is written twice: strict
 * parsers (jq --seq, Go, jansson's JSON_REJECT_DUPLICATES) refuse a line
 * with a repeated name, lenient ones keep only one of the values. */
#define LOG_NAMES 64
#define LOG_NAME_MAX 64
typedef struct log_names {
    char name[LOG_NAMES][LOG_NAME_MAX];
    int  n;
} log_names;

static int names_has(const log_names *ns, const char *k, size_t klen)
{
    for (int i = 0; i < ns->n; i++)
        if (strlen(ns->name[i]) == klen && memcmp(ns->name[i], k, klen) == 0)
            return 1;
    return 0;
}

/* The name field 'k' is written under: k itself, or when taken (a fixed
 * member such as "pid", or a field named twice) k_2, k_3, ... Its length
 * into *outlen; 0 when no name is left (the field then ends the fields). */
static int names_claim(log_names *ns, const char *k, size_t klen, char *out, size_t *outlen)
{
    if (ns->n == LOG_NAMES || klen + 4 >= LOG_NAME_MAX)
        return 0;
    memcpy(out, k, klen);
    out[klen] = '\0';
    *outlen = klen;
    for (int i = 2; names_has(ns, out, *outlen) && i < 100; i++)
        *outlen = klen + (size_t)snprintf(out + klen, LOG_NAME_MAX - klen, "_%d", i);
    if (names_has(ns, out, *outlen))
        return 0;
    memcpy(ns->name[ns->n++], out, *outlen + 1);
    return 1;
}

/* The members of 'body': leading key=value fields, then "msg". */
static void json_body(lw *w, const char *body)
{
    static const char *const fixed[] = { "ts", "level", "prog", "pid", "msg" };
    char val[LOG_BODY], name[LOG_NAME_MAX];
    const char *p = body;
    log_names ns;

    ns.n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        snprintf(ns.name[ns.n++], LOG_NAME_MAX, "%s", fixed[i]);

    for (;;) {
        const char *k = p, *v, *end;
        size_t klen, vlen;

        while (*k == ' ')
            k++;
        p = k;                       /* the message starts here unless a field does */
        v = k;
        if (!((*v >= 'a' && *v <= 'z') || *v == '_'))
            break;
        while ((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '_')
            v++;
        if (*v != '=')
            break;
        klen = (size_t)(v - k);
        v++;
        if (*v == '"') {
            if (strlen(v) >= sizeof val || (end = unquote(v + 1, val, &vlen)) == NULL ||
                (*end != ' ' && *end != '\0') || !names_claim(&ns, k, klen, name, &klen))
                break;               /* not a field after all: the rest is msg */
            lw_put(w, ",", 1);
            json_str(w, name, klen);
            lw_put(w, ":", 1);
            json_str(w, val, vlen);
        } else {
            if (!names_claim(&ns, k, klen, name, &klen))
                break;
            end = v;
            while (*end && *end != ' ')
                end++;
            vlen = (size_t)(end - v);
            lw_put(w, ",", 1);
            json_str(w, name, klen);
            lw_put(w, ":", 1);
            if (is_int(v, vlen))
                lw_put(w, v, vlen);
            else
                json_str(w, v, vlen);
        }
        p = end;
    }
    while (*p == ' ')
        p++;
    lw_puts(w, ",\"msg\":");
    json_str(w, p, strlen(p));
}

size_t rh_log_render(int format, int level, const char *body, char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];
    lw w = { out, 0, n };

    if (n == 0)
        return 0;
    out[0] = '\0';
    if (level < RH_LOG_DEBUG)
        level = RH_LOG_DEBUG;
    if (level > RH_LOG_ERROR)
        level = RH_LOG_ERROR;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + strlen(ts), sizeof ts - strlen(ts), ".%03dZ", (int)(tv.tv_usec / 1000));
    if (format == RH_LOG_FMT_JSON) {
        char pid[24];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        lw_puts(&w, "{\"ts\":\"");
        lw_puts(&w, ts);
        lw_puts(&w, "\",\"level\":\"");
        lw_puts(&w, level_names[level]);
        lw_puts(&w, "\",\"prog\":");
        json_str(&w, log_ident, strlen(log_ident));
        lw_puts(&w, ",\"pid\":");
        lw_puts(&w, pid);
        json_body(&w, body);
        lw_puts(&w, "}");
    } else {
        char head[128];
        if (log_journal)
            snprintf(head, sizeof head, "level=%s ", level_names[level]);
        else
            snprintf(head, sizeof head, "%s %s[%d] level=%s ", ts, log_ident,
                     (int)getpid(), level_names[level]);
        lw_puts(&w, head);
        lw_puts(&w, body);
    }
    /* the newline always fits: cut the line to make room */
    if (w.len > n - 2 && n >= 2)
        w.len = n - 2;
    if (n >= 2) {
        out[w.len++] = '\n';
        out[w.len] = '\0';
    }
    return w.len;
}

void rh_log_write(int level, const char *fmt, ...)
{
    char body[LOG_BODY];
    char line[LOG_LINE + 8];
    size_t off = 0;
    va_list ap;
    rh_log_sink_fn sink = log_sink;

    if (level < RH_LOG_DEBUG)
        level = RH_LOG_DEBUG;
    if (level > RH_LOG_ERROR)
        level = RH_LOG_ERROR;
    if (sink == NULL && !log_stderr)
        return;                         /* a library with no sink: nowhere */
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (sink) {
        sink(level, body);
        return;
    }
    if (log_journal)
        off = (size_t)snprintf(line, sizeof line, "<%d>", level_prio[level]);
    off += rh_log_render(rh_log_format, level, body, line + off, sizeof line - off);
    /* one write per line so lines from executors and the daemon interleave whole */
    fwrite(line, 1, off, stderr);
    fflush(stderr);
}

/* ======================== rate limit ======================== */

int rh_log_limit_pass(rh_log_limit *l, const char *key, int64_t now_ms, int64_t window_ms,
                      uint64_t *suppressed)
{
    int free_slot = -1, oldest = 0;

    for (int i = 0; i < RH_LOG_LIMIT_SLOTS; i++) {
        if (!l->slot[i].used) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strncmp(l->slot[i].key, key, RH_LOG_LIMIT_KEY - 1) == 0) {
            if (now_ms - l->slot[i].since_ms < window_ms) {
                l->slot[i].suppressed++;
                return 0;
            }
            if (suppressed)
                *suppressed = l->slot[i].suppressed;
            l->slot[i].suppressed = 0;
            l->slot[i].since_ms = now_ms;
            return 1;
        }
        if (l->slot[i].since_ms < l->slot[oldest].since_ms)
            oldest = i;
    }
    if (free_slot < 0)
        free_slot = oldest;          /* forget the quietest key */
    snprintf(l->slot[free_slot].key, sizeof l->slot[free_slot].key, "%s", key);
    l->slot[free_slot].since_ms = now_ms;
    l->slot[free_slot].suppressed = 0;
    l->slot[free_slot].used = 1;
    if (suppressed)
        *suppressed = 0;
    return 1;
}

void rh_log_limit_reset(rh_log_limit *l)
{
    memset(l, 0, sizeof *l);
}
