/* cmd_dead.c -- `rhaictl dead list|show|retry|delete`: the dead-letter
 * sets (docs/scheduling.md, "Dead letters").
 *
 * A task that crashed max_attempts times (or, with retries, exhausted
 * them) ends in its worker id's set <prefix>:dead:{W}, scored by the unix
 * ms it died, its hash kept without a TTL. `list` and `show` only read.
 * `retry` and `delete` change each id in a Lua script that checks, for
 * that id and atomically, that it is still in the set and still matches
 * the filter: two operators retrying at once queue one run, and an id
 * retried meanwhile is skipped, not run twice. Bulk work (--all) first
 * lists the ids that match (read only, as --dry-run prints them), then
 * changes them DEAD_BATCH per script call, so no call blocks Redis long. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define DEAD_TTL_DEFAULT_MS ((long long)RH_DEF_RESULT_TTL_MS)  /* rhaid's default result_ttl_ms */
#define DEAD_TTL_MAX_MS (365LL * 86400000LL)
#define DEAD_PAGE 500                   /* ids read per ZRANGEBYSCORE */
#define DEAD_BATCH 100                  /* ids changed per script call */
#define DEAD_LIST_DEFAULT 100           /* list: rows without --limit */
#define DEAD_ERROR_TEXT 60              /* list: bytes of error shown */

static const char dead_help[] =
    "Usage: rhaictl dead list [W] [--error-kind K] [--older-than DUR] [--limit N]\n"
    "       rhaictl dead show ID\n"
    "       rhaictl dead retry ID | --all [W] [--error-kind K] [--older-than DUR] [--dry-run]\n"
    "       rhaictl dead delete ID | --all [W] [--error-kind K] [--older-than DUR]\n"
    "                          [--dry-run] [--ttl-ms MS]\n"
    "\n"
    "Tasks that crashed max_attempts times, or exhausted their retries, wait\n"
    "in their worker id's dead-letter set with their history (errors, logs,\n"
    "attempts) until retried, deleted, or trimmed by rhaid (dead_max,\n"
    "dead_max_age_ms).\n"
    "\n"
    "list    the dead tasks of W (default: every worker id), oldest first\n"
    "show    one dead task: its fields and each failed attempt\n"
    "retry   run it again: the same task id goes back on its queue as queued\n"
    "        (attempts from 0, its errors kept); a task retried twice at once\n"
    "        is queued once. Prints the ids retried\n"
    "delete  drop it from the dead-letter set; its hash then expires after\n"
    "        --ttl-ms. Prints how many\n"
    "\n"
    "Options:\n"
    "  -a, --all              retry, delete: every dead task of W (default:\n"
    "                         every worker id) that the filters select\n"
    "  -k, --error-kind K     only tasks whose error_kind is K (a comma list\n"
    "                         or the option repeated: crashed,timeout)\n"
    "  -o, --older-than DUR   only tasks dead for longer than DUR (500ms, 90s,\n"
    "                         30m, 1h, 7d, 2w)\n"
    "  -l, --limit N          list: at most N rows (default 100; 0: all)\n"
    "  -n, --dry-run          retry, delete: change nothing, list what would be\n"
    "                         touched\n"
    "  -t, --ttl-ms MS        delete: lifetime left to the task hash (default\n"
    "                         " RH_DEF_STR(RH_DEF_RESULT_TTL_MS) ", as rhaid's result_ttl_ms)\n"
    "      --json             list: {\"dead\":[{id, worker_id, dead_at, attempts,\n"
    "                         error_kind, error}], \"count\", \"total\"}; show: the\n"
    "                         task's fields with \"errors\" parsed and \"dead\";\n"
    "                         retry/delete: {\"action\", \"dry_run\", \"matched\",\n"
    "                         \"changed\", \"skipped\", \"ids\":[...]}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* Selection of one id, shared by retry and delete: ok is true when the id
 * is in the dead set (KEYS[1]) and matches the filter: ARGV[2] kinds
 * (",a,b," or "" for any), ARGV[3] the latest dead_at selected ("" any). */
#define DEAD_LUA_SELECT \
    RH_LUA_KEYS \
    "local p, kinds = ARGV[1], ARGV[2]\n" \
    "local W = tag(KEYS[1])\n" \
    "local max = ARGV[3] == '' and math.huge or tonumber(ARGV[3])\n" \
    "local function selected(id, tk)\n" \
    "  local sc = redis.call('ZSCORE', KEYS[1], id)\n" \
    "  if not sc or tonumber(sc) >= max then return false end\n" \
    "  if kinds == '' then return true end\n" \
    "  local k = redis.call('HGET', tk, 'error_kind')\n" \
    "  return k and string.find(kinds, ',' .. k .. ',', 1, true) ~= nil\n" \
    "end\n"

/* Retry: KEYS[1] dead set, KEYS[2] queue; ARGV[1] prefix, ARGV[2..3] the
 * filter, ARGV[4..] ids. Each selected id leaves the set; its hash, if
 * any, becomes a queued task again (the result fields, dead_at, the
 * counted attempts and the retry state (attempt, run_at: it gets its
 * retries afresh) cleared; errors, logs and the submit fields kept; no
 * TTL) with its own old reply list dropped, and the id goes on the queue
 * as a submit puts it. Returns {{id retried, ...}, skipped, gone}. */
static const char dead_retry_lua[] =
    DEAD_LUA_SELECT
    "local done, skipped, gone = {}, 0, 0\n"
    "local function one(id)\n"
    "  local tk = k_task(p, W, id)\n"
    "  if not selected(id, tk) then skipped = skipped + 1; return end\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  if redis.call('EXISTS', tk) == 0 then gone = gone + 1; return end\n"
    "  redis.call('HDEL', tk, 'dead_at', 'finished_at', 'output', 'error', 'error_kind',\n"
    "             'started_at', 'instance', 'cancel_requested', 'attempt', 'run_at')\n"
    "  redis.call('HSET', tk, 'status', 'queued', 'attempts', '0')\n"
    "  redis.call('PERSIST', tk)\n"
    "  redis.call('DEL', k_reply(p, W, id))\n"
    "  redis.call('LPUSH', KEYS[2], id)\n"
    "  done[#done + 1] = id\n"
    "end\n"
    "for i = 4, #ARGV do\n"
    "  if not pcall(one, ARGV[i]) then skipped = skipped + 1 end\n"
    "end\n"
    "return {done, skipped, gone}\n";

/* Delete: KEYS[1] dead set; ARGV[1] prefix, ARGV[2..3] the filter,
 * ARGV[4] ttl ms, ARGV[5..] ids. Each selected id leaves the set and its
 * hash expires in ttl. Returns {{id deleted, ...}, skipped, 0}. */
static const char dead_delete_lua[] =
    DEAD_LUA_SELECT
    "local done, skipped = {}, 0\n"
    "local function one(id)\n"
    "  local tk = k_task(p, W, id)\n"
    "  if not selected(id, tk) then skipped = skipped + 1; return end\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  redis.call('PEXPIRE', tk, ARGV[4])\n"
    "  done[#done + 1] = id\n"
    "end\n"
    "for i = 5, #ARGV do\n"
    "  if not pcall(one, ARGV[i]) then skipped = skipped + 1 end\n"
    "end\n"
    "return {done, skipped, 0}\n";

/* One dead task as listed. */
typedef struct dead_entry {
    char      id[RH_NAME_MAX + 1];
    char      worker_id[RH_NAME_MAX + 1];
    long long dead_at;
    long long attempts;
    char      kind[16];
    char     *error;                  /* rh_free */
} dead_entry;

typedef struct dead_vec {
    dead_entry *v;
    size_t      n, cap;
} dead_vec;

typedef struct dead_opts {
    ctl_filter f;
    long long  limit;                 /* list: 0 all */
    long long  ttl;
    int        all, dry_run;
    const char *w;                    /* NULL: every worker id */
    const char *id;                   /* show, or a single retry/delete */
} dead_opts;

static void dead_vec_free(dead_vec *d)
{
    for (size_t i = 0; i < d->n; i++)
        rh_free(d->v[i].error);
    rh_free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static dead_entry *dead_vec_push(dead_vec *d)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        dead_entry *v = rh_realloc(d->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        d->v = v;
        d->cap = cap;
    }
    memset(&d->v[d->n], 0, sizeof d->v[d->n]);
    return &d->v[d->n++];
}

typedef struct dead_ids {
    char  **v;
    size_t  n, cap;
} dead_ids;

static int dead_add(void *u, const char *w)
{
    dead_ids *d = u;

    if (d->n == d->cap) {
        char **v = rh_realloc(d->v, (d->cap = d->cap ? d->cap * 2 : 8) * sizeof *v);
        if (v == NULL)
            return -1;
        d->v = v;
    }
    if ((d->v[d->n] = rh_strdup(w)) == NULL)
        return -1;
    d->n++;
    return 0;
}

/* The worker ids to look at: 'w', or every W with a dead set (SCAN).
 * *ids is a new array of new strings; 0 or an exit code. */
static int dead_workers(ctl_redis *r, const char *w, char ***ids, size_t *n)
{
    dead_ids d = { NULL, 0, 0 };
    int rc;

    rc = w ? (dead_add(&d, w) != 0 ? ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory") : 0)
           : ctl_redis_scan_workers(r, "dead", dead_add, &d);
    if (rc != 0) {
        for (size_t i = 0; i < d.n; i++)
            rh_free(d.v[i]);
        rh_free(d.v);
        d.v = NULL;
        d.n = 0;
    }
    *ids = d.v;
    *n = d.n;
    return rc;
}

static void dead_workers_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rh_free(ids[i]);
    rh_free(ids);
}

/* Append to d the dead tasks of 'w' the filter selects, oldest first,
 * until d holds 'limit' (0: no limit). Pages of DEAD_PAGE ids, each with
 * one pipelined HMGET per id. 0 or an exit code. */
static int dead_collect(ctl_redis *r, const char *w, const ctl_filter *f, long long limit,
                        long long now, dead_vec *d)
{
    char key[RH_KEY_MAX], tkey[RH_KEY_MAX], max[32];
    long long off = 0;

    rh_key_dead(key, r->prefix, w);
    if (f->older_than_ms > 0)
        snprintf(max, sizeof max, "(%lld", now - f->older_than_ms);
    else
        snprintf(max, sizeof max, "+inf");
    for (;;) {
        redisReply *page;
        size_t got;

        if ((page = ctl_redis_command(r, "ZRANGEBYSCORE %s -inf %s WITHSCORES LIMIT %lld %d",
                                      key, max, off, DEAD_PAGE)) == NULL)
            return r->code;
        if (page->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(page);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "ZRANGEBYSCORE: unexpected reply");
        }
        got = page->elements / 2;
        for (size_t i = 0; i < got; i++) {
            const char *id = ctl_reply_str(page->element[2 * i]);
            if (ctl_redis_append(r, "HMGET %s error_kind error attempts",
                                 rh_key_task(tkey, r->prefix, w,
                                             id && rh_name_valid(id) ? id : "-")) != 0) {
                freeReplyObject(page);
                return r->code;
            }
        }
        for (size_t i = 0; i < got; i++) {
            redisReply *h = ctl_redis_reply(r);
            const char *id = ctl_reply_str(page->element[2 * i]);
            long long at = ctl_reply_ll(page->element[2 * i + 1], 0);
            const char *kind;
            dead_entry *e;

            if (h == NULL) {
                freeReplyObject(page);
                return r->code;
            }
            kind = h->type == REDIS_REPLY_ARRAY && h->elements == 3
                   ? ctl_reply_str(h->element[0]) : NULL;
            if (id && rh_name_valid(id) && ctl_filter_match(f, kind, at, now) &&
                (limit <= 0 || (long long)d->n < limit)) {
                if ((e = dead_vec_push(d)) == NULL) {
                    freeReplyObject(h);
                    freeReplyObject(page);
                    return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
                }
                snprintf(e->id, sizeof e->id, "%s", id);
                snprintf(e->worker_id, sizeof e->worker_id, "%s", w);
                snprintf(e->kind, sizeof e->kind, "%s", kind ? kind : "");
                e->dead_at = at;
                if (h->type == REDIS_REPLY_ARRAY && h->elements == 3) {
                    const char *err = ctl_reply_str(h->element[1]);
                    e->error = err ? rh_strdup(err) : NULL;
                    e->attempts = ctl_reply_ll(h->element[2], 0);
                }
            }
            freeReplyObject(h);
        }
        freeReplyObject(page);
        if (got < DEAD_PAGE || (limit > 0 && (long long)d->n >= limit))
            return 0;
        off += DEAD_PAGE;
    }
}

/* Every selected dead task of o->w (or of every worker id). */
static int dead_select(ctl_redis *r, const dead_opts *o, long long limit, long long now,
                       dead_vec *d, long long *total)
{
    char **ids = NULL, key[RH_KEY_MAX];
    size_t n = 0;
    int code;

    *total = 0;
    if ((code = dead_workers(r, o->w, &ids, &n)) != 0)
        return code;
    for (size_t i = 0; i < n && code == 0; i++) {
        redisReply *c = ctl_redis_command(r, "ZCARD %s", rh_key_dead(key, r->prefix, ids[i]));
        if (c == NULL) {
            code = r->code;
            break;
        }
        *total += ctl_reply_ll(c, 0);
        freeReplyObject(c);
        code = dead_collect(r, ids[i], &o->f, limit, now, d);
    }
    dead_workers_free(ids, n);
    return code;
}

/* ======================== list and show ======================== */

/* The --json document of list: {"dead":[...], "count", "total"} (new;
 * NULL: out of memory). */
static json_t *dead_list_json(const dead_vec *d, long long total)
{
    json_t *doc = json_pack("{s:[], s:I, s:I}", "dead", "count", (json_int_t)d->n, "total",
                            (json_int_t)total);
    json_t *arr = doc ? json_object_get(doc, "dead") : NULL;

    for (size_t i = 0; arr && i < d->n; i++) {
        const dead_entry *e = &d->v[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:s?, s:s?}",
                              "id", e->id, "worker_id", e->worker_id,
                              "dead_at", (json_int_t)e->dead_at,
                              "attempts", (json_int_t)e->attempts,
                              "error_kind", e->kind[0] ? e->kind : NULL,
                              "error", e->error));
    }
    return doc;
}

int ctl_dead_query(ctl_redis *r, const char *w, long long limit, json_t **out)
{
    dead_vec d = { NULL, 0, 0 };
    dead_opts o;
    long long total;
    int code;

    *out = NULL;
    memset(&o, 0, sizeof o);
    o.w = w;
    if ((code = dead_select(r, &o, limit, (long long)rh_now_ms(), &d, &total)) == 0 &&
        (*out = dead_list_json(&d, total)) == NULL)
        code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    dead_vec_free(&d);
    return code;
}

static int dead_list(const ctl_global *g, ctl_redis *r, const dead_opts *o)
{
    dead_vec d = { NULL, 0, 0 };
    long long now = (long long)rh_now_ms(), total;
    int code;

    if ((code = dead_select(r, o, o->limit, now, &d, &total)) != 0) {
        dead_vec_free(&d);
        return code;
    }
    if (g->json) {
        json_t *doc = dead_list_json(&d, total);
        dead_vec_free(&d);
        return ctl_print_json(doc);
    }
    if (d.n == 0) {
        printf("no dead tasks%s%s (of %lld in the dead-letter set%s)\n",
               o->w ? " for " : "", o->w ? o->w : "", total, total == 1 ? "" : "s");
    } else {
        int ww = 6;
        for (size_t i = 0; i < d.n; i++)
            ww = (int)strlen(d.v[i].worker_id) > ww ? (int)strlen(d.v[i].worker_id) : ww;
        printf("%-36s  %-*s  %8s  %8s  %-9s  %s\n", "ID", ww, "WORKER", "DIED", "ATTEMPTS",
               "KIND", "ERROR");
        for (size_t i = 0; i < d.n; i++) {
            const dead_entry *e = &d.v[i];
            char ago[32];
            ctl_fmt_duration(now - e->dead_at, ago, sizeof ago);
            printf("%-36s  %-*s  %8s  %8lld  %-9s  %.*s\n", e->id, ww, e->worker_id, ago,
                   e->attempts, e->kind[0] ? e->kind : "-", DEAD_ERROR_TEXT,
                   e->error ? e->error : "");
        }
        if ((long long)d.n < total)
            printf("(%zu shown of %lld dead)\n", d.n, total);
    }
    dead_vec_free(&d);
    return ctl_print_flush();
}

/* The worker id of task 'id' (key layout v2: the one its keys carry)
 * into w. 0, CTL_EXIT_NOTFOUND after saying so, or another exit code. */
static int dead_task_worker(ctl_redis *r, const char *cmd, const char *id, char *w, size_t n)
{
    char worker[RH_NAME_MAX + 1];
    int code = ctl_task_worker(r, id, worker);

    if (code == 1) {
        ctl_errorf(cmd, "no task %s (unknown or expired)", id);
        return CTL_EXIT_NOTFOUND;
    }
    if (code == 0)
        snprintf(w, n, "%s", worker);
    return code;
}

static int dead_show(const ctl_global *g, ctl_redis *r, const char *id)
{
    char w[RH_NAME_MAX + 1], key[RH_KEY_MAX];
    redisReply *h, *sc;
    json_t *errors = NULL;
    const char *errs = NULL;
    long long dead_at;
    int code;

    if ((code = dead_task_worker(r, "dead", id, w, sizeof w)) != 0)
        return code;
    if ((sc = ctl_redis_command(r, "ZSCORE %s %s", rh_key_dead(key, r->prefix, w), id)) == NULL)
        return r->code;
    dead_at = ctl_reply_ll(sc, -1);
    freeReplyObject(sc);
    if (dead_at < 0) {
        ctl_errorf("dead", "task %s is not in the dead-letter set of %s (retried, deleted "
                   "or trimmed; rhaictl task show %s)", id, w, id);
        return CTL_EXIT_NOTFOUND;
    }
    if ((h = ctl_redis_command(r, "HGETALL %s", rh_key_task(key, r->prefix, w, id))) == NULL)
        return r->code;
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (strcmp(ctl_reply_str(h->element[i]) ? h->element[i]->str : "", "errors") == 0)
            errs = ctl_reply_str(h->element[i + 1]);
    if (errs)
        errors = json_loads(errs, 0, NULL);
    if (g->json) {
        json_t *doc = json_object();
        for (size_t i = 0; doc && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
            const char *k = ctl_reply_str(h->element[i]), *v = ctl_reply_str(h->element[i + 1]);
            if (k && v && strcmp(k, "errors") != 0)
                json_object_set_new(doc, k, json_string(v));
        }
        if (doc) {
            json_object_set_new(doc, "id", json_string(id));
            json_object_set_new(doc, "dead", json_true());
            json_object_set_new(doc, "dead_at", json_integer(dead_at));
            json_object_set_new(doc, "errors", errors ? json_incref(errors) : json_array());
        }
        json_decref(errors);
        freeReplyObject(h);
        return ctl_print_json(doc);
    }
    printf("%-12s %s\n", "id:", id);
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const char *k = ctl_reply_str(h->element[i]), *v = ctl_reply_str(h->element[i + 1]);
        char label[64];
        if (!k || !v || strcmp(k, "errors") == 0 || strcmp(k, "script") == 0 ||
            strcmp(k, "signature") == 0)
            continue;
        snprintf(label, sizeof label, "%s:", k);
        printf("%-12s %.300s\n", label, v);
    }
    if (json_is_array(errors)) {
        size_t i;
        json_t *e;
        printf("failed attempts:\n");
        json_array_foreach(errors, i, e) {
            printf("  attempt %lld  %s  at %lld  %s\n",
                   (long long)json_integer_value(json_object_get(e, "attempt")),
                   json_string_value(json_object_get(e, "error_kind"))
                       ? json_string_value(json_object_get(e, "error_kind")) : "-",
                   (long long)json_integer_value(json_object_get(e, "at")),
                   json_string_value(json_object_get(e, "error"))
                       ? json_string_value(json_object_get(e, "error")) : "");
        }
    }
    json_decref(errors);
    freeReplyObject(h);
    return ctl_print_flush();
}

/* ======================== retry and delete ======================== */

/* Run the retry or delete script on ids[0..n) of worker id w, DEAD_BATCH
 * per call; the ids changed are appended to 'changed' (a JSON array, may
 * be NULL) and counted. 0 or an exit code. */
static int dead_apply(ctl_redis *r, int retry, const dead_opts *o, long long now,
                      const char *w, const char **ids, size_t n, json_t *changed,
                      long long *nchanged, long long *nskipped)
{
    char dkey[RH_KEY_MAX], qkey[RH_KEY_MAX], kinds[CTL_FILTER_KINDS * 17 + 2], max[32], ttl[24];
    const char *argv[DEAD_BATCH + 10];

    rh_key_dead(dkey, r->prefix, w);
    rh_key_queue(qkey, r->prefix, w);
    ctl_kinds_arg(&o->f, kinds, sizeof kinds);
    if (o->f.older_than_ms > 0)
        snprintf(max, sizeof max, "%lld", now - o->f.older_than_ms);
    else
        max[0] = '\0';
    snprintf(ttl, sizeof ttl, "%lld", o->ttl);
    for (size_t at = 0; at < n; at += DEAD_BATCH) {
        size_t k = n - at < DEAD_BATCH ? n - at : DEAD_BATCH;
        int argc = 0;
        redisReply *rep;

        argv[argc++] = "EVAL";
        argv[argc++] = retry ? dead_retry_lua : dead_delete_lua;
        argv[argc++] = retry ? "2" : "1";
        argv[argc++] = dkey;
        if (retry)
            argv[argc++] = qkey;
        argv[argc++] = r->prefix;
        argv[argc++] = kinds;
        argv[argc++] = max;
        if (!retry)
            argv[argc++] = ttl;
        for (size_t i = 0; i < k; i++)
            argv[argc++] = ids[at + i];
        if (ctl_redis_append_argv(r, argc, argv) != 0 || (rep = ctl_redis_reply(r)) == NULL)
            return r->code;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
            rep->element[0]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "dead %s script: unexpected reply",
                                  retry ? "retry" : "delete");
        }
        for (size_t i = 0; i < rep->element[0]->elements; i++) {
            const char *id = ctl_reply_str(rep->element[0]->element[i]);
            if (id && changed)
                json_array_append_new(changed, json_string(id));
            (*nchanged)++;
        }
        *nskipped += ctl_reply_ll(rep->element[1], 0) + ctl_reply_ll(rep->element[2], 0);
        freeReplyObject(rep);
    }
    return 0;
}

int ctl_dead_apply(ctl_redis *r, int retry, const ctl_filter *f, long long ttl_ms,
                   const char *w, const char **ids, size_t n, json_t *changed,
                   long long *nchanged, long long *nskipped)
{
    dead_opts o;

    memset(&o, 0, sizeof o);
    if (f)
        o.f = *f;
    o.ttl = ttl_ms > 0 ? ttl_ms : DEAD_TTL_DEFAULT_MS;
    return dead_apply(r, retry, &o, (long long)rh_now_ms(), w, ids, n, changed, nchanged,
                      nskipped);
}

static int dead_change(const ctl_global *g, ctl_redis *r, int retry, const dead_opts *o)
{
    const char *verb = retry ? "retried" : "deleted";
    long long now = (long long)rh_now_ms(), total = 0, nchanged = 0, nskipped = 0;
    json_t *changed = json_array();
    dead_vec d = { NULL, 0, 0 };
    int code = 0;

    if (changed == NULL)
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    if (o->id) {
        char w[RH_NAME_MAX + 1];
        dead_entry *e;
        if ((code = dead_task_worker(r, "dead", o->id, w, sizeof w)) != 0)
            goto out;
        if ((e = dead_vec_push(&d)) == NULL) {
            code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            goto out;
        }
        snprintf(e->id, sizeof e->id, "%s", o->id);
        snprintf(e->worker_id, sizeof e->worker_id, "%s", w);
    } else if ((code = dead_select(r, o, 0, now, &d, &total)) != 0) {
        goto out;
    }
    if (o->dry_run) {
        if (g->json) {
            json_t *doc = json_pack("{s:s, s:b, s:I, s:[]}", "action", retry ? "retry" : "delete",
                                    "dry_run", 1, "matched", (json_int_t)d.n, "ids");
            json_t *arr = doc ? json_object_get(doc, "ids") : NULL;
            for (size_t i = 0; arr && i < d.n; i++)
                json_array_append_new(arr, json_string(d.v[i].id));
            code = ctl_print_json(doc);
        } else {
            printf("dry run: would %s %zu dead task%s; nothing changed\n",
                   retry ? "retry" : "delete", d.n, d.n == 1 ? "" : "s");
            for (size_t i = 0; i < d.n; i++)
                printf("  %s  %s  %s\n", d.v[i].id, d.v[i].worker_id,
                       d.v[i].kind[0] ? d.v[i].kind : "-");
            code = ctl_print_flush();
        }
        goto out;
    }
    /* The ids of one worker id go together, in batches. */
    for (size_t i = 0; i < d.n;) {
        size_t j = i, k = 0;
        const char **ids;
        while (j < d.n && strcmp(d.v[j].worker_id, d.v[i].worker_id) == 0)
            j++;
        if ((ids = rh_calloc(j - i, sizeof *ids)) == NULL) {
            code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            goto out;
        }
        for (size_t m = i; m < j; m++)
            ids[k++] = d.v[m].id;
        code = dead_apply(r, retry, o, now, d.v[i].worker_id, ids, k, changed, &nchanged,
                          &nskipped);
        rh_free(ids);
        if (code != 0)
            goto out;
        i = j;
    }
    if (o->id && nchanged == 0) {
        ctl_errorf("dead", "task %s is not in the dead-letter set of %s (retried, deleted "
                   "or trimmed already?)", o->id, d.v[0].worker_id);
        code = CTL_EXIT_NOTFOUND;
        goto out;
    }
    if (g->json) {
        json_t *doc = json_pack("{s:s, s:b, s:I, s:I, s:I, s:O}", "action",
                                retry ? "retry" : "delete", "dry_run", 0,
                                "matched", (json_int_t)d.n, "changed", (json_int_t)nchanged,
                                "skipped", (json_int_t)nskipped, "ids", changed);
        code = ctl_print_json(doc);
    } else {
        if (o->id) {
            printf("%s %s\n", verb, o->id);
        } else {
            printf("%s %lld dead task%s", verb, nchanged, nchanged == 1 ? "" : "s");
            if (nskipped > 0)
                printf(" (%lld skipped: changed meanwhile)", nskipped);
            putchar('\n');
            if (retry)
                for (size_t i = 0; i < json_array_size(changed); i++)
                    printf("  %s\n", json_string_value(json_array_get(changed, i)));
        }
        code = ctl_print_flush();
    }
out:
    json_decref(changed);
    dead_vec_free(&d);
    return code;
}

/* ======================== command ======================== */

static int dead_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "all", no_argument, NULL, 'a' },
        { "error-kind", required_argument, NULL, 'k' },
        { "older-than", required_argument, NULL, 'o' },
        { "limit", required_argument, NULL, 'l' },
        { "dry-run", no_argument, NULL, 'n' },
        { "ttl-ms", required_argument, NULL, 't' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    dead_opts o;
    const char *sub, *arg = NULL;
    int c, code, list, show, retry, del, set_limit = 0, set_ttl = 0;
    ctl_redis r;

    memset(&o, 0, sizeof o);
    o.limit = DEAD_LIST_DEFAULT;
    o.ttl = DEAD_TTL_DEFAULT_MS;
    while ((c = getopt_long(argc, argv, ":ak:o:l:nt:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'a':
            o.all = 1;
            break;
        case 'k':
            if (ctl_kinds_parse(optarg, &o.f) != 0)
                return ctl_usage_error("dead", "--error-kind '%s': give error kinds such as "
                                       "crashed or crashed,timeout (script, timeout, memory, "
                                       "crashed, denied, invalid, cancelled, internal)", optarg);
            break;
        case 'o':
            if (ctl_duration_parse(optarg, &o.f.older_than_ms) != 0)
                return ctl_usage_error("dead", "--older-than '%s': give a duration such as "
                                       "500ms, 90s, 30m, 1h, 7d, 2w", optarg);
            break;
        case 'l':
            if (ctl_parse_int(optarg, 0, 10000000, 0, &o.limit) != 0)
                return ctl_usage_error("dead", "--limit '%s' is not a number in 0..10000000",
                                       optarg);
            set_limit = 1;
            break;
        case 'n':
            o.dry_run = 1;
            break;
        case 't':
            if (ctl_parse_int(optarg, 1, DEAD_TTL_MAX_MS, 0, &o.ttl) != 0)
                return ctl_usage_error("dead", "--ttl-ms '%s' is not a number of "
                                       "milliseconds in 1..%lld", optarg, DEAD_TTL_MAX_MS);
            set_ttl = 1;
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(dead_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("dead", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("dead", "missing subcommand: list, show, retry or delete");
    sub = argv[optind++];
    list = strcmp(sub, "list") == 0;
    show = strcmp(sub, "show") == 0;
    retry = strcmp(sub, "retry") == 0;
    del = strcmp(sub, "delete") == 0;
    if (!list && !show && !retry && !del)
        return ctl_usage_error("dead", "unknown subcommand '%s' (list, show, retry, delete)",
                               sub);
    if (optind < argc)
        arg = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("dead", "unexpected argument '%s'", argv[optind]);
    if (arg && !rh_name_valid(arg))
        return ctl_usage_error("dead", "invalid %s '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               list || o.all ? "worker id" : "task id", arg, RH_NAME_MAX);
    if (set_limit && !list)
        return ctl_usage_error("dead", "--limit goes with list");
    if (set_ttl && !del)
        return ctl_usage_error("dead", "--ttl-ms goes with delete");
    if (o.dry_run && !retry && !del)
        return ctl_usage_error("dead", "--dry-run goes with retry and delete");
    if (o.all && !retry && !del)
        return ctl_usage_error("dead", "--all goes with retry and delete");
    if (show && arg == NULL)
        return ctl_usage_error("dead", "show: missing task id");
    if ((retry || del) && !o.all && arg == NULL)
        return ctl_usage_error("dead", "%s: give a task id, or --all (with filters)", sub);
    if ((show || ((retry || del) && !o.all)) && (o.f.nkinds || o.f.older_than_ms))
        return ctl_usage_error("dead", "--error-kind and --older-than select tasks for list "
                               "and --all");
    if (list || o.all)
        o.w = arg;
    else
        o.id = arg;

    if ((code = ctl_redis_open(g, "dead", &r)) != 0)
        return code;
    code = list ? dead_list(g, &r, &o) : show ? dead_show(g, &r, o.id)
                                             : dead_change(g, &r, retry, &o);
    ctl_redis_close(&r);
    return code;
}

const ctl_cmd ctl_cmd_dead = {
    "dead",
    "list [W] | show ID | retry ID|--all | delete ID|--all",
    "the dead-letter sets: list, inspect, run again or drop crashed tasks",
    dead_exec
};
