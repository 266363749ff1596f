/* keys.c -- key names of the wire protocol (docs/protocol.md), ids.
 *
 * Names that go inside a hash tag must not contain braces, and names that
 * appear in key names, logs and file names are kept to a small alphabet. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"

int rh_name_valid(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '@' || c == '-'))
            return 0;
        if (n >= RH_NAME_MAX)
            return 0;
    }
    return n > 0;
}

int rh_context_id_valid(const char *s)
{
    /* no '/' either: rh_name_valid's alphabet has none */
    return rh_name_valid(s) && strlen(s) <= RH_CONTEXT_MAX && s[0] != '.' &&
           strstr(s, "..") == NULL;
}

int rh_id_generate(char out[37])
{
    uint8_t r[16];
    size_t got = 0;
    static const char hex[] = "0123456789abcdef";

    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return RHAI_EIO;
        }
        got += (size_t)n;
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);   /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);   /* variant 10 */
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[36] = '\0';
    return 0;
}

/* Key layout v2 (docs/protocol.md, "Keys"): every key of a worker id's
 * traffic carries its hash tag {W}, so that each script and MULTI touches
 * one hash slot. */
char *rh_key_task(char *buf, const char *prefix, const char *worker, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:task:{%s}:%s", prefix, worker, id);
    return buf;
}

char *rh_key_task_v1(char *buf, const char *prefix, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:task:{%s}", prefix, id);
    return buf;
}

char *rh_key_reply_v1(char *buf, const char *prefix, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:reply:{%s}", prefix, id);
    return buf;
}

int rh_reply_to_valid_v1(const char *prefix, const char *key)
{
    size_t n = strlen(prefix);

    return key != NULL && strncmp(key, prefix, n) == 0 && strncmp(key + n, ":reply:", 7) == 0 &&
           strlen(key) > n + 7 && strlen(key) < RH_KEY_MAX;
}

char *rh_key_taskw(char *buf, const char *prefix, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:taskw:{%s}", prefix, id);
    return buf;
}

char *rh_key_seen(char *buf, const char *prefix, const char *worker, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:seen:{%s}:%s", prefix, worker, id);
    return buf;
}

char *rh_key_reply_base(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:reply:{%s}:", prefix, worker);
    return buf;
}

char *rh_key_reply_client(char *buf, const char *prefix, const char *worker, const char *name)
{
    snprintf(buf, RH_KEY_MAX, "%s:reply:{%s}:client:%s", prefix, worker, name);
    return buf;
}

int rh_reply_to_valid(const char *prefix, const char *worker, const char *key)
{
    char base[RH_KEY_MAX];
    size_t n = strlen(rh_key_reply_base(base, prefix, worker));

    return key != NULL && strncmp(key, base, n) == 0 && strlen(key) > n &&
           strlen(key) < RH_KEY_MAX;
}

char *rh_key_instances(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:instances:{%s}", prefix, worker);
    return buf;
}

char *rh_key_tasks(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:tasks:{%s}", prefix, worker);
    return buf;
}

char *rh_key_member(char *buf, const char *worker, const char *instance)
{
    snprintf(buf, RH_KEY_MAX, "{%s}:%s", worker, instance);
    return buf;
}

int rh_member_worker(const char *member, char worker[RH_NAME_MAX + 1])
{
    const char *end;
    size_t n;

    if (member == NULL || member[0] != '{' || (end = strchr(member, '}')) == NULL ||
        end[1] != ':')
        return RHAI_EINVAL;
    n = (size_t)(end - member - 1);
    if (n == 0 || n > RH_NAME_MAX)
        return RHAI_EINVAL;
    memcpy(worker, member + 1, n);
    worker[n] = '\0';
    return rh_name_valid(worker) ? 0 : RHAI_EINVAL;
}

char *rh_key_queue(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:queue:{%s}", prefix, worker);
    return buf;
}

char *rh_key_processing(char *buf, const char *prefix, const char *worker,
                        const char *instance)
{
    snprintf(buf, RH_KEY_MAX, "%s:processing:{%s}:%s", prefix, worker, instance);
    return buf;
}

char *rh_key_reply(char *buf, const char *prefix, const char *worker, const char *id)
{
    snprintf(buf, RH_KEY_MAX, "%s:reply:{%s}:%s", prefix, worker, id);
    return buf;
}

char *rh_key_worker(char *buf, const char *prefix, const char *worker,
                    const char *instance)
{
    snprintf(buf, RH_KEY_MAX, "%s:worker:{%s}:%s", prefix, worker, instance);
    return buf;
}

char *rh_key_workers(char *buf, const char *prefix)
{
    snprintf(buf, RH_KEY_MAX, "%s:workers", prefix);
    return buf;
}

char *rh_key_events(char *buf, const char *prefix)
{
    snprintf(buf, RH_KEY_MAX, "%s:events", prefix);
    return buf;
}

char *rh_key_cron(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:cron:{%s}", prefix, worker);
    return buf;
}

char *rh_key_cron_next(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:cron:next:{%s}", prefix, worker);
    return buf;
}

char *rh_key_cron_runs(char *buf, const char *prefix, const char *worker, const char *name)
{
    snprintf(buf, RH_KEY_MAX, "%s:cron:runs:{%s}:%s", prefix, worker, name);
    return buf;
}

char *rh_key_cron_workers(char *buf, const char *prefix)
{
    snprintf(buf, RH_KEY_MAX, "%s:cron:workers", prefix);
    return buf;
}

char *rh_key_delayed(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:delayed:{%s}", prefix, worker);
    return buf;
}

char *rh_key_dead(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:dead:{%s}", prefix, worker);
    return buf;
}

char *rh_key_paused(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:paused:{%s}", prefix, worker);
    return buf;
}

/* ---- events (docs/events.md) ---- */

char *rh_key_evstream(char *buf, const char *prefix, const char *context)
{
    snprintf(buf, RH_KEY_MAX, "%s:stream:{%s}", prefix, context);
    return buf;
}

char *rh_key_evseen(char *buf, const char *prefix, const char *context)
{
    snprintf(buf, RH_KEY_MAX, "%s:evseen:{%s}", prefix, context);
    return buf;
}

char *rh_key_evsubs(char *buf, const char *prefix, const char *worker)
{
    snprintf(buf, RH_KEY_MAX, "%s:evsubs:{%s}", prefix, worker);
    return buf;
}

char *rh_key_trace(char *buf, const char *prefix, const char *context, const char *trace)
{
    snprintf(buf, RH_KEY_MAX, "%s:trace:{%s}:%s", prefix, context, trace);
    return buf;
}

/* FNV-1a, 64 bits, over 'n' bytes from 'h': the short form of a long id. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int rh_event_task_id(char out[RH_NAME_MAX + 1], const char *event_id, const char *sub)
{
    size_t ne, ns;
    uint64_t h1, h2;

    if (!rh_name_valid(event_id) || !rh_name_valid(sub))
        return RHAI_EINVAL;
    ne = strlen(event_id);
    ns = strlen(sub);
    if (3 + ne + 1 + ns <= RH_NAME_MAX) {
        /* memcpy, not snprintf: the length is checked just above */
        memcpy(out, "ev:", 3);
        memcpy(out + 3, event_id, ne);
        out[3 + ne] = ':';
        memcpy(out + 4 + ne, sub, ns + 1);
        return 0;
    }
    /* Too long for a name: keep a readable head, then two independent
     * 64-bit hashes of the whole pair (the '\n' cannot occur in a name,
     * so ("a:b","c") and ("a","b:c") differ). */
    h1 = fnv1a(0xcbf29ce484222325ULL, event_id, ne);
    h1 = fnv1a(h1, "\n", 1);
    h1 = fnv1a(h1, sub, ns);
    h2 = fnv1a(0x84222325cbf29ce4ULL, sub, ns);
    h2 = fnv1a(h2, "\n", 1);
    h2 = fnv1a(h2, event_id, ne);
    snprintf(out, RH_NAME_MAX + 1, "ev:%.*s:%016llx%016llx", 128 - 3 - 1 - 32 - 1,
             event_id, (unsigned long long)h1, (unsigned long long)h2);
    /* a trailing '.'/':' of the cut head is harmless: ids allow them */
    return 0;
}

char *rh_key_failed(char *buf, const char *prefix, const char *worker, long long minute)
{
    snprintf(buf, RH_KEY_MAX, "%s:failed:{%s}:%lld", prefix, worker, minute);
    return buf;
}
