/* cmd_tasks.c -- `rhaictl tasks`: finished, queued, claimed and running
 * tasks.
 *
 * Finished tasks come from the bounded index rhaid keeps per worker id
 * (the sorted set <prefix>:tasks:{W}, scored by finished_at,
 * docs/protocol.md) newest first, in pages, with one pipelined HMGET of
 * each page's task hashes, so filters can look past the first page. Ids
 * whose hash expired (result_ttl_ms) are skipped. Queued tasks are peeked
 * from the queue list (LRANGE from its right end, the next taken first);
 * claimed and running ones from the processing lists of the worker id's
 * instances (live or dead), keeping those whose hash has that status. Both
 * are read in pages too, at most TASKS_SCAN_MAX ids per list. Several
 * worker ids are merged: finished newest first, the others oldest first. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define TASKS_LIMIT_DEFAULT 20
#define TASKS_LIMIT_MAX 1000
#define TASKS_PAGE 200                  /* index entries per round trip */
#define TASKS_SCAN_MAX 10000            /* ids read from one queue or list */

static const char tasks_help[] =
    "Usage: rhaictl tasks [--worker W] [--status S] [--error-kind K]\n"
    "                     [--caller C] [--context C] [--since T] [--until T]\n"
    "                     [--limit N] [--json]\n"
    "\n"
    "List tasks. By default, or with a final --status, recently finished ones,\n"
    "newest first, from the index rhaid keeps per worker id (the newest\n"
    "task_index_max, 10000 by default; ids whose result expired are left\n"
    "out). --status queued peeks at the queues, the next taken first;\n"
    "--status scheduled reads the delayed sets (delayed tasks and retries\n"
    "waiting), the next due first, with its due time (DUE; run_at in --json);\n"
    "--status claimed (taken by an instance, not started yet) and running\n"
    "read the processing lists of the instances, oldest first. Those read\n"
    "at most 10000 ids per list. For tasks not finished, RUN and LATENCY\n"
    "count up to now.\n"
    "\n"
    "Options:\n"
    "  -w, --worker W      only tasks of worker id W (default: every worker id)\n"
    "  -s, --status S      done, error, timeout, cancelled, queued, scheduled,\n"
    "                      claimed or running\n"
    "  -k, --error-kind K  only tasks whose error_kind is K (script, timeout,\n"
    "                      memory, denied, crashed, invalid, cancelled, internal)\n"
    "  -u, --caller C      only tasks submitted by caller C\n"
    "  -c, --context C     only tasks of context C\n"
    "      --since T       only tasks finished at or after T (not finished:\n"
    "                      created at or after T)\n"
    "      --until T       only tasks finished before T (not finished:\n"
    "                      created before T)\n"
    "                      T: unix ms, 2026-12-06T03:00:00Z, 2026-12-06, or\n"
    "                      an age: 90s, 15m, 2h, 3d (that long ago)\n"
    "  -n, --limit N       at most N tasks (default 20, at most 1000)\n"
    "      --json          {\"tasks\":[{id, worker_id, status, error_kind, error,\n"
    "                      attempts, instance, context_id, caller_id,\n"
    "                      created_at, started_at, finished_at}, ...],\n"
    "                      \"count\":N}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* The fields read for each task, in HMGET order. */
static const char *const tasks_fields[] = {
    "status", "error_kind", "error", "attempts", "instance", "created_at",
    "started_at", "finished_at", "caller_id", "context_id"
};
#define TASKS_NFIELDS (sizeof tasks_fields / sizeof tasks_fields[0])

typedef struct tasks_row {
    char      id[RH_NAME_MAX + 1];
    char      worker_id[RH_NAME_MAX + 1];
    char      status[16];
    char      error_kind[16];
    char     *error;                   /* new (rh_free) or NULL */
    char      instance[RH_NAME_MAX + 1];
    long long attempts;
    long long created_at;
    long long started_at;
    long long finished_at;
    char      caller[257];
    char      context[RH_NAME_MAX + 1];
    long long score;                   /* finished_at from the index */
    long long due;                     /* scheduled: due time from the delayed set */
} tasks_row;

/* What to keep (ctl.h). */
typedef ctl_tasks_filter tasks_filter;

/* 1 when 'row' passes 'f': the time range is on finished_at for a
 * finished task, on created_at for the others. */
static int tasks_keep(const tasks_row *row, const tasks_filter *f)
{
    long long t = rh_status_final(rh_status_parse(row->status)) ? row->finished_at
                                                                : row->created_at;

    return (f->status == NULL || strcmp(row->status, f->status) == 0) &&
           (f->error_kind == NULL || strcmp(row->error_kind, f->error_kind) == 0) &&
           (f->caller == NULL || strcmp(row->caller, f->caller) == 0) &&
           (f->context == NULL || strcmp(row->context, f->context) == 0) &&
           (f->since == 0 || t >= f->since) && (f->until == 0 || t < f->until);
}

typedef struct tasks_list {
    tasks_row *v;
    size_t     n;
    size_t     cap;
} tasks_list;

static void tasks_list_free(tasks_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        rh_free(l->v[i].error);
    rh_free(l->v);
    memset(l, 0, sizeof *l);
}

static tasks_row *tasks_list_push(tasks_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        tasks_row *v = rh_realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[l->n]);
    return &l->v[l->n++];
}

/* ======================== loading ======================== */

static int tasks_add_worker(void *u, const char *w)
{
    tasks_row *row = tasks_list_push(u);

    if (row == NULL)
        return -1;
    snprintf(row->worker_id, sizeof row->worker_id, "%s", w);
    return 0;
}

/* The W of every "<prefix>:tasks:{W}" key, into 'ids' (names appended as
 * rows with only worker_id set). 0 or an exit code. */
static int tasks_scan_workers(ctl_redis *r, tasks_list *ids)
{
    return ctl_redis_scan_workers(r, "tasks", tasks_add_worker, ids);
}

static void tasks_copy(char *dst, size_t n, const redisReply *e)
{
    const char *s = ctl_reply_str(e);
    snprintf(dst, n, "%s", s ? s : "");
}

/* Fill 'row' from one HMGET reply. 0, 1 when the hash is gone, or -1
 * (reported; r->code is the exit code). */
static int tasks_fill(ctl_redis *r, tasks_row *row, const redisReply *h)
{
    int any = 0;

    if (h->type != REDIS_REPLY_ARRAY || h->elements != TASKS_NFIELDS) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "HMGET: unexpected reply");
        return -1;
    }
    for (size_t i = 0; i < TASKS_NFIELDS; i++)
        any |= h->element[i]->type == REDIS_REPLY_STRING;
    if (!any)
        return 1;
    tasks_copy(row->status, sizeof row->status, h->element[0]);
    if (row->status[0] == '\0')
        snprintf(row->status, sizeof row->status, "queued");   /* protocol */
    tasks_copy(row->error_kind, sizeof row->error_kind, h->element[1]);
    if (ctl_reply_str(h->element[2]) && h->element[2]->len > 0 &&
        (row->error = rh_strdup(h->element[2]->str)) == NULL) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        return -1;
    }
    row->attempts = ctl_reply_ll(h->element[3], 0);
    tasks_copy(row->instance, sizeof row->instance, h->element[4]);
    row->created_at = ctl_reply_ll(h->element[5], 0);
    row->started_at = ctl_reply_ll(h->element[6], 0);
    row->finished_at = ctl_reply_ll(h->element[7], 0);
    tasks_copy(row->caller, sizeof row->caller, h->element[8]);
    tasks_copy(row->context, sizeof row->context, h->element[9]);
    if (row->caller[0] == '\0')
        snprintf(row->caller, sizeof row->caller, "anonymous");     /* protocol */
    if (row->context[0] == '\0')
        snprintf(row->context, sizeof row->context, "default");
    return 0;
}

/* Read the hashes of the ids ids[0..n) (reply strings; invalid ones are
 * skipped) of worker id 'w' in one pipeline, and append to 'out' the rows
 * 'f' keeps while *found < limit. scores[i] (NULL: none) is the index's
 * score of ids[i]. 0 or an exit code. */
static int tasks_fetch(ctl_redis *r, const char *w, const redisReply *const *ids,
                       const redisReply *const *scores, size_t n, const tasks_filter *f,
                       size_t limit, size_t *found, tasks_list *out)
{
    char tkey[RH_KEY_MAX];
    const char *argv[2 + TASKS_NFIELDS];
    redisReply *h = NULL;
    int code = 0;

    argv[0] = "HMGET";
    argv[1] = tkey;
    for (size_t i = 0; i < TASKS_NFIELDS; i++)
        argv[2 + i] = tasks_fields[i];
    for (size_t i = 0; i < n; i++) {
        const char *id = ctl_reply_str(ids[i]);
        rh_key_task(tkey, r->prefix, w, id && rh_name_valid(id) ? id : "-");
        if (ctl_redis_append_argv(r, 2 + (int)TASKS_NFIELDS, argv) != 0)
            return r->code;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = ctl_reply_str(ids[i]);
        tasks_row *row;
        int rc;

        if ((h = ctl_redis_reply(r)) == NULL)
            return r->code;
        if (*found >= limit || id == NULL || !rh_name_valid(id)) {
            freeReplyObject(h);
            continue;                         /* read every reply anyway */
        }
        if ((row = tasks_list_push(out)) == NULL) {
            freeReplyObject(h);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        }
        snprintf(row->id, sizeof row->id, "%s", id);
        snprintf(row->worker_id, sizeof row->worker_id, "%s", w);
        if (scores)
            row->score = (long long)strtod(ctl_reply_str(scores[i]) ? scores[i]->str : "0",
                                           NULL);
        rc = tasks_fill(r, row, h);
        freeReplyObject(h);
        if (rc < 0) {
            out->n--;
            code = r->code;
            break;
        }
        if (rc == 1 || !tasks_keep(row, f)) {
            rh_free(row->error);
            out->n--;                         /* gone, or filtered out */
            continue;
        }
        if (!scores)
            row->score = row->created_at;
        else if (strcmp(row->status, "scheduled") == 0)
            row->due = row->score;
        (*found)++;
    }
    return code;
}

/* A reader of one page of ids of 'key' at 'start' into *page (new), and
 * ids[] (and scores[] when it has them) and *nids pointing into it. 0 or
 * an exit code. */
typedef int tasks_page_fn(ctl_redis *r, const char *key, const tasks_filter *f,
                          long long start, redisReply **page, const redisReply **ids,
                          const redisReply **scores, size_t *nids);

/* The index 'key', newest first, with the scores. */
static int tasks_page_index(ctl_redis *r, const char *key, const tasks_filter *f,
                            long long start, redisReply **page, const redisReply **ids,
                            const redisReply **scores, size_t *nids)
{
    redisReply *p;

    if (f->since > 0)                     /* scores below 'since' end the walk */
        p = ctl_redis_command(r, "ZREVRANGEBYSCORE %s +inf %lld WITHSCORES LIMIT %lld %d",
                              key, f->since, start, TASKS_PAGE);
    else
        p = ctl_redis_command(r, "ZREVRANGE %s %lld %lld WITHSCORES", key, start,
                              start + TASKS_PAGE - 1);
    if ((*page = p) == NULL)
        return r->code;
    if (p->type != REDIS_REPLY_ARRAY || p->elements % 2 != 0)
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "reading %s: unexpected reply", key);
    *nids = p->elements / 2;
    for (size_t i = 0; i < *nids; i++) {
        ids[i] = p->element[2 * i];
        scores[i] = p->element[2 * i + 1];
    }
    return 0;
}

/* A delayed set, the next due first, with the due times as scores. */
static int tasks_page_delayed(ctl_redis *r, const char *key, const tasks_filter *f,
                              long long start, redisReply **page, const redisReply **ids,
                              const redisReply **scores, size_t *nids)
{
    redisReply *p;

    (void)f;
    p = ctl_redis_command(r, "ZRANGE %s %lld %lld WITHSCORES", key, start,
                          start + TASKS_PAGE - 1);
    if ((*page = p) == NULL)
        return r->code;
    if (p->type != REDIS_REPLY_ARRAY || p->elements % 2 != 0)
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "reading %s: unexpected reply", key);
    *nids = p->elements / 2;
    for (size_t i = 0; i < *nids; i++) {
        ids[i] = p->element[2 * i];
        scores[i] = p->element[2 * i + 1];
    }
    return 0;
}

/* The list 'key' from its right end (the oldest, taken next); no scores. */
static int tasks_page_list(ctl_redis *r, const char *key, const tasks_filter *f,
                           long long start, redisReply **page, const redisReply **ids,
                           const redisReply **scores, size_t *nids)
{
    redisReply *p;

    (void)f;
    (void)scores;
    p = ctl_redis_command(r, "LRANGE %s %lld %lld", key, -start - TASKS_PAGE, -start - 1);
    if ((*page = p) == NULL)
        return r->code;
    if (p->type != REDIS_REPLY_ARRAY)
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "LRANGE %s: unexpected reply", key);
    *nids = p->elements;
    for (size_t i = 0; i < *nids; i++)
        ids[i] = p->element[*nids - 1 - i];       /* oldest first */
    return 0;
}

/* Append to 'out' up to 'limit' tasks of worker id 'w' that 'f' keeps,
 * read page by page with 'page_fn' from at most 'max' ids of 'key'
 * (scores: whether the pages have them). 0 or an exit code. */
static int tasks_load_pages(ctl_redis *r, const char *w, const char *key,
                            tasks_page_fn *page_fn, int scored, long long max,
                            const tasks_filter *f, size_t limit, tasks_list *out)
{
    const redisReply *ids[TASKS_PAGE], *scores[TASKS_PAGE];
    size_t found = 0, nids = 0;
    long long start = 0;
    redisReply *page = NULL;
    int code = 0;

    while (found < limit && start < max) {
        if ((code = page_fn(r, key, f, start, &page, ids, scores, &nids)) != 0)
            break;
        if ((code = tasks_fetch(r, w, ids, scored ? scores : NULL, nids, f, limit, &found,
                                out)) != 0)
            break;
        if (nids < TASKS_PAGE)
            break;                            /* the index or list is exhausted */
        start += TASKS_PAGE;
        freeReplyObject(page);
        page = NULL;
    }
    if (page)
        freeReplyObject(page);
    return code;
}

/* Append to 'out' up to 'limit' finished tasks of worker id 'w' that 'f'
 * keeps, newest first, from the index. 0 or an exit code. */
static int tasks_load_worker(ctl_redis *r, const char *w, const tasks_filter *f, size_t limit,
                             tasks_list *out)
{
    char key[RH_KEY_MAX];

    rh_key_tasks(key, r->prefix, w);
    return tasks_load_pages(r, w, key, tasks_page_index, 1, LLONG_MAX, f, limit, out);
}

/* Append to 'out' up to 'limit' tasks of the list 'key' (a queue, or a
 * processing list) of worker id 'w' that 'f' keeps, from its right end
 * (the oldest, taken next), at most TASKS_SCAN_MAX ids. 0 or an exit code. */
static int tasks_load_list(ctl_redis *r, const char *w, const char *key, const tasks_filter *f,
                           size_t limit, tasks_list *out)
{
    return tasks_load_pages(r, w, key, tasks_page_list, 0, TASKS_SCAN_MAX, f, limit, out);
}

/* Tasks not finished: queued ones from the queues of 'worker' (NULL:
 * every worker id with a queue or an instance), claimed or running ones
 * from the processing lists of its instances. 0 or an exit code. */
static int tasks_load_live(ctl_redis *r, const char *worker, const tasks_filter *f,
                           size_t limit, tasks_list *out)
{
    char key[RH_KEY_MAX];
    ctl_instance *inst = NULL;
    ctl_queue *q = NULL;
    size_t ninst = 0, nq = 0;
    int code;

    if ((code = ctl_instances_load_of(r, worker, &inst, &ninst)) != 0)
        return code;
    if (strcmp(f->status, "scheduled") == 0) {
        if (worker) {
            code = tasks_load_pages(r, worker, rh_key_delayed(key, r->prefix, worker),
                                    tasks_page_delayed, 1, TASKS_SCAN_MAX, f, limit, out);
        } else if ((code = ctl_queues_load(r, inst, ninst, &q, &nq)) == 0) {
            for (size_t i = 0; code == 0 && i < nq; i++)
                code = tasks_load_pages(r, q[i].worker_id,
                                        rh_key_delayed(key, r->prefix, q[i].worker_id),
                                        tasks_page_delayed, 1, TASKS_SCAN_MAX, f, limit, out);
        }
    } else if (strcmp(f->status, "queued") == 0) {
        if (worker) {
            code = tasks_load_list(r, worker, rh_key_queue(key, r->prefix, worker), f, limit,
                                   out);
        } else if ((code = ctl_queues_load(r, inst, ninst, &q, &nq)) == 0) {
            for (size_t i = 0; code == 0 && i < nq; i++)
                code = tasks_load_list(r, q[i].worker_id,
                                       rh_key_queue(key, r->prefix, q[i].worker_id), f,
                                       limit, out);
        }
    } else {
        for (size_t i = 0; code == 0 && i < ninst; i++)
            if (worker == NULL || strcmp(inst[i].worker_id, worker) == 0)
                code = tasks_load_list(r, inst[i].worker_id,
                                       rh_key_processing(key, r->prefix, inst[i].worker_id,
                                                         inst[i].instance), f, limit, out);
    }
    rh_free(q);
    rh_free(inst);
    return code;
}

static int tasks_cmp(const void *a, const void *b)
{
    const tasks_row *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;    /* newest first */
    return strcmp(x->id, y->id);
}

static int tasks_cmp_oldest(const void *a, const void *b)
{
    return -tasks_cmp(a, b);
}

/* A time for --since/--until: unix ms, an ISO date (2026-12-06 or
 * 2026-12-06T03:00[:00]Z, UTC), or an age ("90s", "15m", "2h", "3d") before
 * 'now'. 0 / -1. */
static int tasks_parse_time(const char *s, int64_t now, long long *out)
{
    static const struct { char unit; long long ms; } units[] = {
        { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 }
    };
    static const char *const formats[] = { "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ",
                                           "%Y-%m-%d" };
    struct tm tm;
    char *end;
    long long v;

    if (s[0] >= '0' && s[0] <= '9') {
        v = strtoll(s, &end, 10);
        if (*end == '\0' && v > 0) {
            *out = v;
            return 0;
        }
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (end[0] == units[i].unit && end[1] == '\0' && v <= 100000 * 366LL) {
                *out = now - v * units[i].ms;
                return 0;
            }
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            *out = (long long)timegm(&tm) * 1000;
            return 0;
        }
    }
    return -1;
}

/* ======================== output ======================== */

/* A string that came from a script: JSON null for none, and a marker for
 * bytes that are not UTF-8 (jansson refuses them). */
static json_t *tasks_json_text(const char *s)
{
    json_t *v;

    if (s == NULL)
        return json_null();
    v = json_string(s);
    return v ? v : json_string("(not UTF-8)");
}

static json_t *tasks_json(const tasks_list *l)
{
    json_t *doc = json_object(), *arr = json_array();

    if (doc == NULL || arr == NULL) {
        json_decref(doc);
        json_decref(arr);
        return NULL;
    }
    json_object_set_new(doc, "tasks", arr);
    for (size_t i = 0; i < l->n; i++) {
        const tasks_row *t = &l->v[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(o, "id", json_string(t->id));
        json_object_set_new(o, "worker_id", json_string(t->worker_id));
        json_object_set_new(o, "status", json_string(t->status));
        json_object_set_new(o, "error_kind", t->error_kind[0] ? json_string(t->error_kind)
                                                              : json_null());
        json_object_set_new(o, "error", tasks_json_text(t->error));
        json_object_set_new(o, "attempts", json_integer(t->attempts));
        json_object_set_new(o, "instance", t->instance[0] ? json_string(t->instance)
                                                          : json_null());
        json_object_set_new(o, "context_id", json_string(t->context));
        json_object_set_new(o, "caller_id", tasks_json_text(t->caller));
        json_object_set_new(o, "created_at", json_integer(t->created_at));
        json_object_set_new(o, "started_at", json_integer(t->started_at));
        json_object_set_new(o, "finished_at", json_integer(t->finished_at));
        if (t->due)
            json_object_set_new(o, "run_at", json_integer(t->due));
    }
    json_object_set_new(doc, "count", json_integer((json_int_t)l->n));
    return doc;
}

static void tasks_table(const tasks_list *l, int64_t now)
{
    int wi = 2, ww = 6;
    char ago[32], run[32], lat[32];

    if (l->n == 0) {
        printf("no tasks\n");
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        int a = (int)strlen(l->v[i].id), b = (int)strlen(l->v[i].worker_id);
        wi = a > wi ? a : wi;
        ww = b > ww ? b : ww;
    }
    printf("%-*s  %-*s  %-9s  %-9s  %5s  %9s  %8s  %8s\n", wi, "ID", ww, "WORKER", "STATUS",
           "KIND", "TRIES", l->v[0].due ? "DUE" : "FINISHED", "RUN", "LATENCY");
    for (size_t i = 0; i < l->n; i++) {
        const tasks_row *t = &l->v[i];
        int final = rh_status_final(rh_status_parse(t->status));
        int64_t end = final ? t->finished_at : now;     /* not finished: up to now */

        ctl_fmt_duration(final && t->finished_at > 0 ? now - t->finished_at : -1, ago,
                         sizeof ago);
        if (t->due) {                 /* scheduled: when it is due */
            char in[24];
            ctl_fmt_duration(t->due > now ? t->due - now : 0, in, sizeof in);
            snprintf(ago, sizeof ago, "in %s", in);
        }
        ctl_fmt_duration(t->started_at > 0 && end >= t->started_at &&
                         (final || strcmp(t->status, "running") == 0)
                         ? end - t->started_at : -1, run, sizeof run);
        ctl_fmt_duration(t->created_at > 0 && end >= t->created_at
                         ? end - t->created_at : -1, lat, sizeof lat);
        printf("%-*s  %-*s  %-9s  %-9s  %5lld  %9s  %8s  %8s\n", wi, t->id, ww, t->worker_id,
               t->status, t->error_kind[0] ? t->error_kind : "-", t->attempts, ago, run, lat);
    }
}

/* ======================== command ======================== */

enum { TASKS_OPT_SINCE = 0x300, TASKS_OPT_UNTIL };

static int tasks_load(ctl_redis *r, const char *worker, const tasks_filter *fp,
                          long long limit, tasks_list *rows);

static int tasks_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "worker", required_argument, NULL, 'w' },
        { "status", required_argument, NULL, 's' },
        { "error-kind", required_argument, NULL, 'k' },
        { "caller", required_argument, NULL, 'u' },
        { "context", required_argument, NULL, 'c' },
        { "since", required_argument, NULL, TASKS_OPT_SINCE },
        { "until", required_argument, NULL, TASKS_OPT_UNTIL },
        { "limit", required_argument, NULL, 'n' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *worker = NULL;
    tasks_filter f;
    long long limit = TASKS_LIMIT_DEFAULT;
    tasks_list rows = { NULL, 0, 0 };
    int64_t now = rh_now_ms();
    rhai_status st = RHAI_STATUS_UNKNOWN;
    ctl_redis r;
    int c, code;

    memset(&f, 0, sizeof f);
    while ((c = getopt_long(argc, argv, ":w:s:k:u:c:n:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'w':
            worker = optarg;
            break;
        case 's':
            f.status = optarg;
            break;
        case 'k':
            f.error_kind = optarg;
            break;
        case 'u':
            f.caller = optarg;
            break;
        case 'c':
            f.context = optarg;
            break;
        case TASKS_OPT_SINCE:
        case TASKS_OPT_UNTIL:
            if (tasks_parse_time(optarg, now, c == TASKS_OPT_SINCE ? &f.since : &f.until) != 0)
                return ctl_usage_error("tasks", "%s '%s' is not a time (unix ms, "
                                       "2026-12-06T03:00:00Z, 2026-12-06, or an age: "
                                       "90s, 15m, 2h, 3d)",
                                       c == TASKS_OPT_SINCE ? "--since" : "--until", optarg);
            break;
        case 'n':
            if (ctl_parse_int(optarg, 1, TASKS_LIMIT_MAX, 0, &limit) != 0)
                return ctl_usage_error("tasks", "--limit '%s' is not a number in 1..%d",
                                       optarg, TASKS_LIMIT_MAX);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(tasks_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("tasks", c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error("tasks", "unexpected argument '%s'", argv[optind]);
    if (worker && !rh_name_valid(worker))
        return ctl_usage_error("tasks", "invalid worker id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               worker, RH_NAME_MAX);
    if (f.status && (st = rh_status_parse(f.status)) == RHAI_STATUS_UNKNOWN)
        return ctl_usage_error("tasks", "unknown status '%s' (done, error, timeout, "
                               "cancelled, queued, scheduled, claimed, running)", f.status);
    if (f.error_kind && rh_kind_parse(f.error_kind) == RH_EK_NONE)
        return ctl_usage_error("tasks", "unknown error kind '%s' (script, timeout, memory, "
                               "denied, crashed, invalid, cancelled, internal)",
                               f.error_kind);
    if (f.since && f.until && f.since >= f.until)
        return ctl_usage_error("tasks", "--since is not before --until");

    if ((code = ctl_redis_open(g, "tasks", &r)) != 0)
        return code;
    code = tasks_load(&r, worker, &f, limit, &rows);
    ctl_redis_close(&r);
    if (code == 0) {
        if (g->json) {
            code = ctl_print_json(tasks_json(&rows));
        } else {
            tasks_table(&rows, now);
            code = ctl_print_flush();
        }
    }
    tasks_list_free(&rows);
    return code;
}

/* The selected rows, sorted and cut to 'limit', into *rows. */
static int tasks_load(ctl_redis *r, const char *worker, const tasks_filter *fp,
                          long long limit, tasks_list *rows)
{
    tasks_filter f = *fp;
    tasks_list ids = { NULL, 0, 0 };
    rhai_status st = f.status ? rh_status_parse(f.status) : RHAI_STATUS_UNKNOWN;
    int code = 0;

    if (f.status && !rh_status_final(st)) {
        code = tasks_load_live(r, worker, &f, (size_t)limit, rows);
    } else {
        if (worker) {
            tasks_row *row = tasks_list_push(&ids);
            if (row == NULL)
                code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            else
                snprintf(row->worker_id, sizeof row->worker_id, "%s", worker);
        } else {
            code = tasks_scan_workers(r, &ids);
        }
        for (size_t i = 0; code == 0 && i < ids.n; i++)
            code = tasks_load_worker(r, ids.v[i].worker_id, &f, (size_t)limit, rows);
    }
    tasks_list_free(&ids);
    if (code == 0) {
        if (rows->n > 1)
            qsort(rows->v, rows->n, sizeof *rows->v,
                  f.status && !rh_status_final(st) ? tasks_cmp_oldest : tasks_cmp);
        while (rows->n > (size_t)limit)
            rh_free(rows->v[--rows->n].error);
    }
    return code;
}

int ctl_tasks_query(ctl_redis *r, const char *worker, const ctl_tasks_filter *f,
                    long long limit, json_t **out)
{
    tasks_list rows = { NULL, 0, 0 };
    int code;

    *out = NULL;
    if ((code = tasks_load(r, worker, f, limit, &rows)) == 0 &&
        (*out = tasks_json(&rows)) == NULL)
        code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    tasks_list_free(&rows);
    return code;
}

int ctl_tasks_parse_time(const char *s, int64_t now, long long *out)
{
    return tasks_parse_time(s, now, out);
}

const ctl_cmd ctl_cmd_tasks = {
    "tasks",
    "[--worker W] [--status S] [--error-kind K] [--caller C] [--context C] "
    "[--since T] [--until T] [--limit N]",
    "finished tasks (newest first), or queued, claimed, running ones",
    tasks_exec
};
