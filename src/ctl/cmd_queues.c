/* cmd_queues.c -- `rhaictl queues`: the queue of every worker id.
 *
 * Worker ids come from the queue keys (SCAN <prefix>:queue:*; an empty
 * queue has no key) and from the members of the workers set, so a served
 * but idle worker id shows too. For each: LLEN of its queue, the sum of
 * its instances' processing lists, the age of the task taken next (the
 * right end: workers take from the right) and the failures of the last
 * hour from the per-minute counters (docs/protocol.md). The loader is
 * shared with `top`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define QUEUES_FAILED_MINUTES 60        /* counters live 2 h; we sum 1 h */

static const char queues_help[] =
    "Usage: rhaictl queues [--json]\n"
    "\n"
    "For every worker id that has queued tasks or known instances: tasks\n"
    "queued, tasks taken by its instances (processing), the age of the task\n"
    "that runs next, tasks failed in the last hour (error, timeout,\n"
    "cancelled while running...), the tasks in its dead-letter set (DEAD,\n"
    "rhaictl dead list), whether it is PAUSED (rhaictl queue pause) and its\n"
    "live, draining (SIGTERM: they take no new task) and dead instances.\n"
    "\n"
    "Options:\n"
    "  --json   {\"queues\":[{worker_id, queued, processing, oldest_created_at,\n"
    "           oldest_age_ms, failed_1h, live_instances, draining_instances,\n"
    "           dead_instances, dead_letters, paused},\n"
    "           ...]}; no queued task: oldest_* null\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* ======================== loading ======================== */

/* A growing array of worker ids. */
typedef struct queues_ids {
    ctl_queue *v;
    size_t     n;
    size_t     cap;
} queues_ids;

static int queues_add(queues_ids *q, const char *w, size_t len)
{
    if (len == 0 || len > RH_NAME_MAX)
        return 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        ctl_queue *v = rh_realloc(q->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        q->v = v;
        q->cap = cap;
    }
    memset(&q->v[q->n], 0, sizeof q->v[q->n]);
    memcpy(q->v[q->n].worker_id, w, len);
    q->v[q->n].worker_id[len] = '\0';
    if (rh_name_valid(q->v[q->n].worker_id))
        q->n++;
    return 0;
}

static int queues_cmp(const void *a, const void *b)
{
    return strcmp(((const ctl_queue *)a)->worker_id, ((const ctl_queue *)b)->worker_id);
}

static int queues_add_name(void *u, const char *w)
{
    return queues_add(u, w, strlen(w));
}

/* Collect the W of every "<prefix>:KIND:{W}" key (queue, dead, paused).
 * 0 or an exit code. */
static int queues_scan(ctl_redis *r, queues_ids *q, const char *kind)
{
    return ctl_redis_scan_workers(r, kind, queues_add_name, q);
}

/* Queue the LLEN, LINDEX -1 and MGET of the failure counters of 'q'. */
static int queues_append(ctl_redis *r, const ctl_queue *q, long long minute)
{
    char key[RH_KEY_MAX];
    char fkeys[QUEUES_FAILED_MINUTES][RH_KEY_MAX];
    const char *argv[QUEUES_FAILED_MINUTES + 1];

    rh_key_queue(key, r->prefix, q->worker_id);
    if (ctl_redis_append(r, "LLEN %s", key) != 0 ||
        ctl_redis_append(r, "LINDEX %s -1", key) != 0)
        return -1;
    argv[0] = "MGET";
    for (int i = 0; i < QUEUES_FAILED_MINUTES; i++) {
        rh_key_failed(fkeys[i], r->prefix, q->worker_id, minute - i);
        argv[i + 1] = fkeys[i];
    }
    if (ctl_redis_append_argv(r, QUEUES_FAILED_MINUTES + 1, argv) != 0 ||
        ctl_redis_append(r, "ZCARD %s", rh_key_dead(key, r->prefix, q->worker_id)) != 0)
        return -1;
    return ctl_redis_append(r, "EXISTS %s", rh_key_paused(key, r->prefix, q->worker_id));
}

/* Read the replies of queues_append into 'q'; the next id (new, rh_free)
 * goes to *next, or NULL. 0 or an exit code. */
static int queues_read(ctl_redis *r, ctl_queue *q, char **next)
{
    redisReply *len, *idx, *failed;
    const char *id;

    *next = NULL;
    if ((len = ctl_redis_reply(r)) == NULL)
        return r->code;
    q->queued = ctl_reply_ll(len, 0);
    freeReplyObject(len);
    if ((idx = ctl_redis_reply(r)) == NULL)
        return r->code;
    id = ctl_reply_str(idx);
    if (id && rh_name_valid(id) && (*next = rh_strdup(id)) == NULL) {
        freeReplyObject(idx);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    }
    freeReplyObject(idx);
    if ((failed = ctl_redis_reply(r)) == NULL)
        return r->code;
    for (size_t i = 0; failed->type == REDIS_REPLY_ARRAY && i < failed->elements; i++)
        q->failed_1h += ctl_reply_ll(failed->element[i], 0);
    freeReplyObject(failed);
    if ((failed = ctl_redis_reply(r)) == NULL)
        return r->code;
    q->dead_letters = ctl_reply_ll(failed, 0);
    freeReplyObject(failed);
    if ((failed = ctl_redis_reply(r)) == NULL)
        return r->code;
    q->paused = ctl_reply_ll(failed, 0) > 0;
    freeReplyObject(failed);
    return 0;
}

int ctl_queues_load(ctl_redis *r, const ctl_instance *inst, size_t ninst,
                    ctl_queue **out, size_t *n)
{
    queues_ids q = { NULL, 0, 0 };
    char key[RH_KEY_MAX];
    char **next = NULL;
    long long minute = (long long)(rh_now_ms() / 60000);
    size_t k = 0;
    int code;

    *out = NULL;
    *n = 0;
    if ((code = queues_scan(r, &q, "queue")) != 0 ||
        (code = queues_scan(r, &q, "dead")) != 0 ||
        (code = queues_scan(r, &q, "paused")) != 0)
        goto out;
    for (size_t i = 0; i < ninst; i++)
        if (queues_add(&q, inst[i].worker_id, strlen(inst[i].worker_id)) != 0) {
            code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            goto out;
        }
    if (q.n > 1)
        qsort(q.v, q.n, sizeof *q.v, queues_cmp);
    for (size_t i = 0; i < q.n; i++)                /* unique */
        if (k == 0 || strcmp(q.v[k - 1].worker_id, q.v[i].worker_id) != 0)
            q.v[k++] = q.v[i];
    q.n = k;
    if (q.n == 0)
        goto out;
    if ((next = rh_calloc(q.n, sizeof *next)) == NULL) {
        code = ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        goto out;
    }

    /* Round trip 1: lengths, next ids, failure counters. */
    for (size_t i = 0; i < q.n; i++)
        if (queues_append(r, &q.v[i], minute) != 0) {
            code = r->code;
            goto out;
        }
    for (size_t i = 0; i < q.n; i++)
        if ((code = queues_read(r, &q.v[i], &next[i])) != 0)
            goto out;
    /* Round trip 2: created_at of each next task. */
    for (size_t i = 0; i < q.n; i++)
        if (next[i] && ctl_redis_append(r, "HGET %s created_at",
                                        rh_key_task(key, r->prefix, q.v[i].worker_id,
                                                    next[i])) != 0) {
            code = r->code;
            goto out;
        }
    for (size_t i = 0; i < q.n; i++) {
        redisReply *c;
        if (next[i] == NULL)
            continue;
        if ((c = ctl_redis_reply(r)) == NULL) {
            code = r->code;
            goto out;
        }
        q.v[i].oldest_created_at = ctl_reply_ll(c, 0);
        freeReplyObject(c);
    }
    for (size_t i = 0; i < q.n; i++)
        for (size_t j = 0; j < ninst; j++)
            if (strcmp(inst[j].worker_id, q.v[i].worker_id) == 0) {
                q.v[i].processing += inst[j].processing;
                if (!inst[j].live)
                    q.v[i].dead++;
                else if (inst[j].draining)      /* serves no new task */
                    q.v[i].draining++;
                else
                    q.v[i].live++;
            }
out:
    for (size_t i = 0; next && i < q.n; i++)
        rh_free(next[i]);
    rh_free(next);
    if (code != 0 || q.n == 0) {
        rh_free(q.v);
        return code;
    }
    *out = q.v;
    *n = q.n;
    return 0;
}

/* ======================== output ======================== */

static json_t *queues_json(const ctl_queue *v, size_t n, int64_t now)
{
    json_t *doc = json_object(), *arr = json_array();

    if (doc == NULL || arr == NULL) {
        json_decref(doc);
        json_decref(arr);
        return NULL;
    }
    json_object_set_new(doc, "queues", arr);
    for (size_t i = 0; i < n; i++) {
        const ctl_queue *q = &v[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(o, "worker_id", json_string(q->worker_id));
        json_object_set_new(o, "queued", json_integer(q->queued));
        json_object_set_new(o, "processing", json_integer(q->processing));
        json_object_set_new(o, "oldest_created_at", q->oldest_created_at > 0
                            ? json_integer(q->oldest_created_at) : json_null());
        json_object_set_new(o, "oldest_age_ms", q->oldest_created_at > 0
                            ? json_integer(now - q->oldest_created_at) : json_null());
        json_object_set_new(o, "failed_1h", json_integer(q->failed_1h));
        json_object_set_new(o, "live_instances", json_integer(q->live));
        json_object_set_new(o, "draining_instances", json_integer(q->draining));
        json_object_set_new(o, "dead_instances", json_integer(q->dead));
        json_object_set_new(o, "dead_letters", json_integer(q->dead_letters));
        json_object_set_new(o, "paused", json_boolean(q->paused));
    }
    return doc;
}

static void queues_table(const ctl_queue *v, size_t n, int64_t now)
{
    int ww = 6;
    char age[32];

    if (n == 0) {
        printf("no queues and no worker instances\n");
        return;
    }
    for (size_t i = 0; i < n; i++)
        ww = (int)strlen(v[i].worker_id) > ww ? (int)strlen(v[i].worker_id) : ww;
    printf("%-*s  %8s  %10s  %8s  %9s  %6s  %s\n", ww, "WORKER", "QUEUED", "PROCESSING",
           "OLDEST", "FAILED/1H", "DEAD", "INSTANCES");
    for (size_t i = 0; i < n; i++) {
        const ctl_queue *q = &v[i];

        ctl_fmt_duration(q->oldest_created_at > 0 ? now - q->oldest_created_at : -1, age,
                         sizeof age);
        printf("%-*s  %8lld  %10lld  %8s  %9lld  %6lld  %d live", ww, q->worker_id, q->queued,
               q->processing, age, q->failed_1h, q->dead_letters, q->live);
        if (q->draining)
            printf(", %d draining", q->draining);
        if (q->dead)
            printf(", %d dead", q->dead);
        if (q->paused)
            printf("  PAUSED");
        putchar('\n');
    }
}

/* ======================== command ======================== */

static int queues_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    ctl_instance *inst = NULL;
    ctl_queue *v = NULL;
    ctl_redis r;
    size_t ninst = 0, n = 0;
    int c, code;

    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'h' || c == CTL_OPT_HELP) {
            fputs(queues_help, stdout);
            return CTL_EXIT_OK;
        }
        return ctl_option_error("queues", c, argv);
    }
    if (optind < argc)
        return ctl_usage_error("queues", "unexpected argument '%s'", argv[optind]);

    if ((code = ctl_redis_open(g, "queues", &r)) != 0)
        return code;
    if ((code = ctl_instances_load(&r, &inst, &ninst)) == 0)
        code = ctl_queues_load(&r, inst, ninst, &v, &n);
    ctl_redis_close(&r);
    rh_free(inst);
    if (code != 0)
        return code;
    if (g->json) {
        code = ctl_print_json(queues_json(v, n, rh_now_ms()));
    } else {
        queues_table(v, n, rh_now_ms());
        code = ctl_print_flush();
    }
    rh_free(v);
    return code;
}

const ctl_cmd ctl_cmd_queues = {
    "queues",
    "[--json]",
    "per worker id: queued, processing, oldest age, failed in the last hour",
    queues_exec
};
