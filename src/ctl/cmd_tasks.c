/* cmd_tasks.c -- `rhaictl tasks`: recently finished tasks.
 *
 * Reads the bounded index rhaid keeps per worker id (the sorted set
 * <prefix>:tasks:{W}, scored by finished_at, docs/protocol.md) newest
 * first, in pages, with one pipelined HMGET of each page's task hashes, so
 * a --status filter can look past the first page. Ids whose hash expired
 * (result_ttl_ms) are skipped. Several worker ids are merged by
 * finished_at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define TASKS_LIMIT_DEFAULT 20
#define TASKS_LIMIT_MAX 1000
#define TASKS_PAGE 200                  /* index entries per round trip */

static const char tasks_help[] =
    "Usage: rhaictl tasks [--worker W] [--status S] [--limit N] [--json]\n"
    "\n"
    "List recently finished tasks, newest first, from the index rhaid keeps\n"
    "per worker id (the newest task_index_max, 10000 by default; ids whose\n"
    "result expired are left out).\n"
    "\n"
    "Options:\n"
    "  -w, --worker W   only tasks of worker id W (default: every worker id)\n"
    "  -s, --status S   only tasks whose status is S: done, error, timeout or\n"
    "                   cancelled\n"
    "  -n, --limit N    at most N tasks (default 20, at most 1000)\n"
    "      --json       {\"tasks\":[{id, worker_id, status, error_kind, error,\n"
    "                   attempts, instance, created_at, started_at,\n"
    "                   finished_at}, ...], \"count\":N}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* The fields read for each task, in HMGET order. */
static const char *const tasks_fields[] = {
    "status", "error_kind", "error", "attempts", "instance", "created_at",
    "started_at", "finished_at"
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
    long long score;                   /* finished_at from the index */
} tasks_row;

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

/* The W of every "<prefix>:tasks:{W}" key, into 'ids' (names appended as
 * rows with only worker_id set). 0 or an exit code. */
static int tasks_scan_workers(ctl_redis *r, tasks_list *ids)
{
    char match[RH_KEY_MAX], cursor[32] = "0";
    size_t plen;
    redisReply *rep;

    snprintf(match, sizeof match, "%s:tasks:*", r->prefix);
    plen = strlen(match) - 1;
    do {
        if ((rep = ctl_redis_command(r, "SCAN %s MATCH %s COUNT 1000", cursor, match)) == NULL)
            return r->code;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            ctl_reply_str(rep->element[0]) == NULL ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "SCAN: unexpected reply");
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            const char *k = ctl_reply_str(rep->element[1]->element[i]);
            size_t klen = k ? strlen(k) : 0;
            tasks_row *row;

            if (klen < plen + 3 || k[plen] != '{' || k[klen - 1] != '}' ||
                klen - plen - 2 > RH_NAME_MAX)
                continue;
            if ((row = tasks_list_push(ids)) == NULL) {
                freeReplyObject(rep);
                return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            }
            memcpy(row->worker_id, k + plen + 1, klen - plen - 2);
            row->worker_id[klen - plen - 2] = '\0';
            if (!rh_name_valid(row->worker_id))
                ids->n--;
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
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
    return 0;
}

/* Append to 'out' up to 'limit' tasks of worker id 'w' whose status is
 * 'status' (NULL: any), newest first. 0 or an exit code. */
static int tasks_load_worker(ctl_redis *r, const char *w, const char *status, size_t limit,
                             tasks_list *out)
{
    char key[RH_KEY_MAX], tkey[RH_KEY_MAX];
    const char *argv[2 + TASKS_NFIELDS];
    size_t found = 0;
    long long start = 0;
    redisReply *page = NULL, *h = NULL;
    int code = 0;

    snprintf(key, sizeof key, "%s:tasks:{%s}", r->prefix, w);
    argv[0] = "HMGET";
    argv[1] = tkey;
    for (size_t i = 0; i < TASKS_NFIELDS; i++)
        argv[2 + i] = tasks_fields[i];
    while (found < limit) {
        size_t nids;

        if ((page = ctl_redis_command(r, "ZREVRANGE %s %lld %lld WITHSCORES", key, start,
                                      start + TASKS_PAGE - 1)) == NULL)
            return r->code;
        if (page->type != REDIS_REPLY_ARRAY || page->elements % 2 != 0) {
            code = ctl_redis_fail(r, CTL_EXIT_FAILED, "ZREVRANGE %s: unexpected reply", key);
            break;
        }
        nids = page->elements / 2;
        for (size_t i = 0; i < nids; i++) {
            const char *id = ctl_reply_str(page->element[2 * i]);
            rh_key_task(tkey, r->prefix, id && rh_name_valid(id) ? id : "-");
            if (ctl_redis_append_argv(r, 2 + (int)TASKS_NFIELDS, argv) != 0) {
                code = r->code;
                goto out;
            }
        }
        for (size_t i = 0; i < nids; i++) {
            const char *id = ctl_reply_str(page->element[2 * i]);
            tasks_row *row;
            int rc;

            if ((h = ctl_redis_reply(r)) == NULL) {
                code = r->code;
                goto out;
            }
            if (found >= limit || id == NULL || !rh_name_valid(id)) {
                freeReplyObject(h);
                h = NULL;
                continue;                     /* read every reply anyway */
            }
            if ((row = tasks_list_push(out)) == NULL) {
                code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
                goto out;
            }
            snprintf(row->id, sizeof row->id, "%s", id);
            snprintf(row->worker_id, sizeof row->worker_id, "%s", w);
            row->score = (long long)strtod(ctl_reply_str(page->element[2 * i + 1])
                                           ? page->element[2 * i + 1]->str : "0", NULL);
            rc = tasks_fill(r, row, h);
            freeReplyObject(h);
            h = NULL;
            if (rc < 0) {
                out->n--;
                code = r->code;
                goto out;
            }
            if (rc == 1 || (status && strcmp(row->status, status) != 0)) {
                rh_free(row->error);
                out->n--;                     /* gone, or filtered out */
                continue;
            }
            found++;
        }
        if (nids < TASKS_PAGE)
            break;                            /* the index is exhausted */
        start += TASKS_PAGE;
        freeReplyObject(page);
        page = NULL;
    }
out:
    if (h)
        freeReplyObject(h);
    if (page)
        freeReplyObject(page);
    return code;
}

static int tasks_cmp(const void *a, const void *b)
{
    const tasks_row *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;    /* newest first */
    return strcmp(x->id, y->id);
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
        json_object_set_new(o, "created_at", json_integer(t->created_at));
        json_object_set_new(o, "started_at", json_integer(t->started_at));
        json_object_set_new(o, "finished_at", json_integer(t->finished_at));
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
           "KIND", "TRIES", "FINISHED", "RUN", "LATENCY");
    for (size_t i = 0; i < l->n; i++) {
        const tasks_row *t = &l->v[i];

        ctl_fmt_duration(t->finished_at > 0 ? now - t->finished_at : -1, ago, sizeof ago);
        ctl_fmt_duration(t->started_at > 0 && t->finished_at >= t->started_at
                         ? t->finished_at - t->started_at : -1, run, sizeof run);
        ctl_fmt_duration(t->created_at > 0 && t->finished_at >= t->created_at
                         ? t->finished_at - t->created_at : -1, lat, sizeof lat);
        printf("%-*s  %-*s  %-9s  %-9s  %5lld  %9s  %8s  %8s\n", wi, t->id, ww, t->worker_id,
               t->status, t->error_kind[0] ? t->error_kind : "-", t->attempts, ago, run, lat);
    }
}

/* ======================== command ======================== */

static int tasks_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "worker", required_argument, NULL, 'w' },
        { "status", required_argument, NULL, 's' },
        { "limit", required_argument, NULL, 'n' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *worker = NULL, *status = NULL;
    long long limit = TASKS_LIMIT_DEFAULT;
    tasks_list ids = { NULL, 0, 0 }, rows = { NULL, 0, 0 };
    ctl_redis r;
    int c, code;

    while ((c = getopt_long(argc, argv, ":w:s:n:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'w':
            worker = optarg;
            break;
        case 's':
            status = optarg;
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
    if (status && rh_status_parse(status) == RHAI_STATUS_UNKNOWN)
        return ctl_usage_error("tasks", "unknown status '%s' (done, error, timeout, "
                               "cancelled, queued, running)", status);

    if ((code = ctl_redis_open(g, "tasks", &r)) != 0)
        return code;
    if (worker) {
        tasks_row *row = tasks_list_push(&ids);
        if (row == NULL)
            code = ctl_redis_fail(&r, CTL_EXIT_FAILED, "out of memory");
        else
            snprintf(row->worker_id, sizeof row->worker_id, "%s", worker);
    } else {
        code = tasks_scan_workers(&r, &ids);
    }
    for (size_t i = 0; code == 0 && i < ids.n; i++)
        code = tasks_load_worker(&r, ids.v[i].worker_id, status, (size_t)limit, &rows);
    ctl_redis_close(&r);
    tasks_list_free(&ids);
    if (code == 0) {
        if (rows.n > 1)
            qsort(rows.v, rows.n, sizeof *rows.v, tasks_cmp);
        while (rows.n > (size_t)limit)
            rh_free(rows.v[--rows.n].error);
        if (g->json) {
            code = ctl_print_json(tasks_json(&rows));
        } else {
            tasks_table(&rows, rh_now_ms());
            code = ctl_flush();
        }
    }
    tasks_list_free(&rows);
    return code;
}

const ctl_cmd ctl_cmd_tasks = {
    "tasks",
    "[--worker W] [--status S] [--limit N]",
    "recently finished tasks, newest first",
    tasks_exec
};
