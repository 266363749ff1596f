/* events.c -- rhai/events.h: a context's event stream read with consumer
 * groups (docs/events.md, docs/protocol.md "Events").
 *
 * rhaid appends each committed event once to <prefix>:stream:{CONTEXT}
 * (fields id name payload context task caller time trace depth); this file
 * only reads: XGROUP CREATE MKSTREAM, XREADGROUP, XACK, XREAD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "rhai/events.h"

#define READ_MAX  1000
#define BLOCK_MAX 5000            /* below the client's socket timeout */

static int run(rhai_client *c, int argc, const char **argv, redisReply **reply,
               rhai_error *err)
{
    size_t lens[16];
    int rc;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rc = rhai__client_command(c, argc, argv, lens, reply, err);
    if (rc == 0 && (*reply)->type == REDIS_REPLY_ERROR) {
        rc = strncmp((*reply)->str, "NOGROUP", 7) == 0 ? RHAI_ENOTFOUND : RHAI_EPROTO;
        rh_error_set(err, rc, "redis: %s", (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
    }
    return rc;
}

static int check(const char *context, const char *group, const char *consumer,
                 rhai_error *err)
{
    if (!rh_context_id_valid(context))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id: use " RH_CONTEXT_RULE);
    if (group && !rh_name_valid(group))
        return rh_error_set(err, RHAI_EINVAL, "group must be 1..128 of [A-Za-z0-9_.:@-]");
    if (consumer && !rh_name_valid(consumer))
        return rh_error_set(err, RHAI_EINVAL, "consumer must be 1..128 of [A-Za-z0-9_.:@-]");
    return 0;
}

/* An entry id: "$", or digits with one optional '-digits'. */
static int entry_valid(const char *s)
{
    size_t i = 0;
    if (s == NULL || strcmp(s, "$") == 0)
        return s != NULL;
    for (; s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == 0 || i > 20)
        return 0;
    if (s[i] == '\0')
        return 1;
    if (s[i++] != '-')
        return 0;
    for (size_t k = i; s[k]; k++)
        if (s[k] < '0' || s[k] > '9' || k - i >= 20)
            return 0;
    return s[i] != '\0';
}

RHAI_API int rhai_events_group(rhai_client *c, const char *context, const char *group,
                               const char *from, rhai_error *err)
{
    char key[RH_KEY_MAX];
    const char *argv[6];
    redisReply *r = NULL;
    int rc;

    if (c == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no client");
    if ((rc = check(context, group, NULL, err)) != 0)
        return rc;
    if (from == NULL)
        from = "$";
    if (!entry_valid(from))
        return rh_error_set(err, RHAI_EINVAL, "from must be $, 0 or a stream entry id");
    rh_key_evstream(key, rhai__client_prefix(c), context);
    argv[0] = "XGROUP"; argv[1] = "CREATE"; argv[2] = key; argv[3] = group;
    argv[4] = from; argv[5] = "MKSTREAM";
    rc = run(c, 6, argv, &r, err);
    if (rc == RHAI_EPROTO && err && strstr(err->msg, "BUSYGROUP")) {
        memset(err, 0, sizeof *err);
        return 0;                     /* exists: left as it is */
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

RHAI_API void rhai_events_free(rhai_event *ev, size_t n)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        rh_free(ev[i].entry);
        rh_free(ev[i].id);
        rh_free(ev[i].name);
        rh_free(ev[i].payload);
        rh_free(ev[i].context);
        rh_free(ev[i].task);
        rh_free(ev[i].caller);
        rh_free(ev[i].trace);
    }
    rh_free(ev);
}

/* One entry [id, [f, v, ...]] into e. 0, RHAI_EPROTO, RHAI_ENOMEM. */
static int entry_parse(const redisReply *x, rhai_event *e)
{
    const redisReply *fv;

    if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
        x->element[0]->type != REDIS_REPLY_STRING)
        return RHAI_EPROTO;
    if ((e->entry = rh_strdup(x->element[0]->str)) == NULL)
        return RHAI_ENOMEM;
    fv = x->element[1];
    if (fv->type == REDIS_REPLY_NIL)
        return 0;                     /* deleted (trimmed) while pending */
    if (fv->type != REDIS_REPLY_ARRAY)
        return RHAI_EPROTO;
    for (size_t i = 0; i + 1 < fv->elements; i += 2) {
        const char *f = fv->element[i]->str, *v = fv->element[i + 1]->str;
        char **dst = NULL;
        if (f == NULL || v == NULL)
            return RHAI_EPROTO;
        if (strcmp(f, "id") == 0) dst = &e->id;
        else if (strcmp(f, "name") == 0) dst = &e->name;
        else if (strcmp(f, "payload") == 0) dst = &e->payload;
        else if (strcmp(f, "context") == 0) dst = &e->context;
        else if (strcmp(f, "task") == 0) dst = &e->task;
        else if (strcmp(f, "caller") == 0) dst = &e->caller;
        else if (strcmp(f, "trace") == 0) dst = &e->trace;
        else if (strcmp(f, "time") == 0) e->time = strtoll(v, NULL, 10);
        else if (strcmp(f, "depth") == 0) e->depth = strtoll(v, NULL, 10);
        if (dst && *dst == NULL && (*dst = rh_strdup(v)) == NULL)
            return RHAI_ENOMEM;
    }
    return 0;
}

/* An XREAD/XREADGROUP reply: nil, or [[key, [entry...]]]. */
static int entries_parse(const redisReply *r, rhai_event **out, size_t *n, rhai_error *err)
{
    const redisReply *list;
    rhai_event *ev;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_ARRAY && r->elements == 0))
        return 0;
    if (r->type != REDIS_REPLY_ARRAY || r->element[0]->type != REDIS_REPLY_ARRAY ||
        r->element[0]->elements != 2 || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        return rh_error_set(err, RHAI_EPROTO, "unexpected stream reply");
    list = r->element[0]->element[1];
    if (list->elements == 0)
        return 0;
    if ((ev = rh_calloc(list->elements, sizeof *ev)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    for (size_t i = 0; i < list->elements && rc == 0; i++)
        rc = entry_parse(list->element[i], &ev[i]);
    if (rc != 0) {
        rhai_events_free(ev, list->elements);
        return rh_error_set(err, rc, rc == RHAI_ENOMEM ? "out of memory" :
                            "unexpected stream entry");
    }
    *out = ev;
    *n = list->elements;
    return 0;
}

static int read_common(rhai_client *c, int argc, const char **argv, rhai_event **events,
                       size_t *n, rhai_error *err)
{
    redisReply *r = NULL;
    int rc = run(c, argc, argv, &r, err);

    if (rc == 0)
        rc = entries_parse(r, events, n, err);
    if (r)
        freeReplyObject(r);
    return rc;
}

RHAI_API int rhai_events_read(rhai_client *c, const char *context, const char *group,
                              const char *consumer, int max, int64_t block_ms, int pending,
                              rhai_event **events, size_t *n, rhai_error *err)
{
    char key[RH_KEY_MAX], count[16], block[24];
    const char *argv[12];
    int argc = 0, rc;

    if (events)
        *events = NULL;
    if (n)
        *n = 0;
    if (c == NULL || events == NULL || n == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no client or no out pointers");
    if ((rc = check(context, group, consumer, err)) != 0)
        return rc;
    if (max < 1 || max > READ_MAX || block_ms < 0 || block_ms > BLOCK_MAX)
        return rh_error_set(err, RHAI_EINVAL, "max 1..%d, block_ms 0..%d", READ_MAX,
                            BLOCK_MAX);
    rh_key_evstream(key, rhai__client_prefix(c), context);
    snprintf(count, sizeof count, "%d", max);
    snprintf(block, sizeof block, "%lld", (long long)block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = group;
    argv[argc++] = consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (!pending && block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = key;
    argv[argc++] = pending ? "0" : ">";
    return read_common(c, argc, argv, events, n, err);
}

RHAI_API int rhai_events_after(rhai_client *c, const char *context, const char *after, int max,
                               int64_t block_ms, rhai_event **events, size_t *n,
                               rhai_error *err)
{
    char key[RH_KEY_MAX], count[16], block[24];
    const char *argv[10];
    int argc = 0, rc;

    if (events)
        *events = NULL;
    if (n)
        *n = 0;
    if (c == NULL || events == NULL || n == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no client or no out pointers");
    if ((rc = check(context, NULL, NULL, err)) != 0)
        return rc;
    if (!entry_valid(after) || max < 1 || max > READ_MAX || block_ms < 0 ||
        block_ms > BLOCK_MAX)
        return rh_error_set(err, RHAI_EINVAL, "after $, 0 or an entry id; max 1..%d, "
                            "block_ms 0..%d", READ_MAX, BLOCK_MAX);
    rh_key_evstream(key, rhai__client_prefix(c), context);
    snprintf(count, sizeof count, "%d", max);
    snprintf(block, sizeof block, "%lld", (long long)block_ms);
    argv[argc++] = "XREAD";
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = key;
    argv[argc++] = after;
    return read_common(c, argc, argv, events, n, err);
}

RHAI_API int rhai_events_ack(rhai_client *c, const char *context, const char *group,
                             const char *const *entries, size_t n, long long *acked,
                             rhai_error *err)
{
    char key[RH_KEY_MAX];
    const char **argv;
    size_t *lens;
    redisReply *r = NULL;
    int rc;

    if (c == NULL || (n > 0 && entries == NULL))
        return rh_error_set(err, RHAI_EINVAL, "no client or no entries");
    if ((rc = check(context, group, NULL, err)) != 0)
        return rc;
    if (n == 0) {
        if (acked)
            *acked = 0;
        return 0;
    }
    if (n > READ_MAX)
        return rh_error_set(err, RHAI_EINVAL, "at most %d entries per ack", READ_MAX);
    for (size_t i = 0; i < n; i++)
        if (!entry_valid(entries[i]) || strcmp(entries[i], "$") == 0)
            return rh_error_set(err, RHAI_EINVAL, "not a stream entry id");
    argv = rh_calloc(n + 3, sizeof *argv);
    lens = rh_calloc(n + 3, sizeof *lens);
    if (argv == NULL || lens == NULL) {
        rh_free(argv);
        rh_free(lens);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    rh_key_evstream(key, rhai__client_prefix(c), context);
    argv[0] = "XACK";
    argv[1] = key;
    argv[2] = group;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = entries[i];
    for (size_t i = 0; i < n + 3; i++)
        lens[i] = strlen(argv[i]);
    rc = rhai__client_command(c, (int)n + 3, argv, lens, &r, err);
    if (rc == 0 && r->type != REDIS_REPLY_INTEGER)
        rc = rh_error_set(err, RHAI_EPROTO, "redis: %s", r->type == REDIS_REPLY_ERROR ?
                          r->str : "unexpected reply");
    else if (rc == 0 && acked)
        *acked = r->integer;
    if (r)
        freeReplyObject(r);
    rh_free(argv);
    rh_free(lens);
    return rc;
}
