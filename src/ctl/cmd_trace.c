/* cmd_trace.c -- `rhaictl trace ID`: the tree of tasks an event chain made.
 *
 * Every task started by an event records parent_id (the emitting task),
 * trace_id (the chain's root task) and depth; rhaid adds each subscriber
 * task, and the emitting task, to the trace's index <prefix>:trace:{CONTEXT}:
 * TRACE (a zset of task ids, docs/protocol.md "Events"). The tree is built
 * from that index and the task hashes' parent_id; a task whose hash expired
 * (result_ttl_ms) is shown as "expired". ctl_trace_load is shared with
 * `task show`, which lists a task's parent and children. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define TRACE_MAX 10000               /* tasks of one trace read at most */

static const char trace_help[] =
    "Usage: rhaictl trace ID\n"
    "\n"
    "Print the tree of tasks the event chain of task ID made: from its root\n"
    "task (ID itself, or the root of the chain ID belongs to), each task with\n"
    "its status, worker id, run time and the event that started it, and how\n"
    "long after its parent finished it started. --json: {\"trace\", \"context\",\n"
    "\"tasks\": [{\"id\", \"parent\", \"status\", \"worker\", \"depth\", \"event\",\n"
    "\"event_id\", \"subscription\", \"created_at\", \"started_at\",\n"
    "\"finished_at\"}...]}. Exit 7 when the task is unknown or expired.\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

static const char *const node_fields[] = {
    "status", "worker_id", "parent_id", "depth", "created_at", "started_at", "finished_at",
    "event", "subscription", "context_id", "trace_id"
};
enum { N_STATUS, N_WORKER, N_PARENT, N_DEPTH, N_CREATED, N_STARTED, N_FINISHED, N_EVENT,
       N_SUB, N_CONTEXT, N_TRACE, N_FIELDS };

/* One task as a node; its hash fields from 'h' (NULL or all nil: expired). */
static json_t *node_of(const char *id, const redisReply *h)
{
    json_t *n = json_object(), *ev = NULL;
    const char *st = h ? ctl_reply_str(h->element[N_STATUS]) : NULL;

    if (n == NULL)
        return NULL;
    json_object_set_new(n, "id", json_string(id));
    json_object_set_new(n, "status", json_string(st ? st : "expired"));
    if (h == NULL || st == NULL)
        return n;
    if (ctl_reply_str(h->element[N_EVENT]))
        ev = json_loads(h->element[N_EVENT]->str, 0, NULL);
#define S(k, i) json_object_set_new(n, k, ctl_reply_str(h->element[i]) ? \
                json_string(h->element[i]->str) : json_null())
#define I(k, i) json_object_set_new(n, k, json_integer(ctl_reply_ll(h->element[i], 0)))
    S("worker", N_WORKER);
    S("parent", N_PARENT);
    S("subscription", N_SUB);
    I("depth", N_DEPTH);
    I("created_at", N_CREATED);
    I("started_at", N_STARTED);
    I("finished_at", N_FINISHED);
#undef S
#undef I
    json_object_set_new(n, "event", json_is_object(ev) && json_object_get(ev, "name") ?
                        json_incref(json_object_get(ev, "name")) : json_null());
    json_object_set_new(n, "event_id", json_is_object(ev) && json_object_get(ev, "id") ?
                        json_incref(json_object_get(ev, "id")) : json_null());
    json_decref(ev);
    return n;
}

static redisReply *hmget(ctl_redis *r, const char *id)
{
    char key[RH_KEY_MAX], worker[RH_NAME_MAX + 1];
    const char *argv[2 + N_FIELDS];
    redisReply *h;
    int code;

    /* no such task: its HMGET under worker id "-" reads nothing */
    if ((code = ctl_task_worker(r, id, worker)) > 1)
        return NULL;
    argv[0] = "HMGET";
    argv[1] = rh_key_task(key, r->prefix, code == 0 ? worker : "-", id);
    for (int i = 0; i < N_FIELDS; i++)
        argv[2 + i] = node_fields[i];
    if (ctl_redis_append_argv(r, 2 + N_FIELDS, argv) != 0 || (h = ctl_redis_reply(r)) == NULL)
        return NULL;
    if (h->type != REDIS_REPLY_ARRAY || h->elements != N_FIELDS) {
        freeReplyObject(h);
        ctl_redis_fail(r, CTL_EXIT_FAILED, "HMGET: unexpected reply");
        return NULL;
    }
    return h;
}

int ctl_trace_load(ctl_redis *r, const char *id, json_t **out, char *trace, size_t trace_n,
                   char *context, size_t context_n)
{
    char key[RH_KEY_MAX];
    redisReply *h, *z;
    json_t *nodes = json_array();
    int found_self = 0;

    *out = NULL;
    if (nodes == NULL)
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    if ((h = hmget(r, id)) == NULL) {
        json_decref(nodes);
        return r->code;
    }
    if (ctl_reply_str(h->element[N_STATUS]) == NULL) {
        freeReplyObject(h);
        json_decref(nodes);
        ctl_errorf(r->cmd, "no task %s (unknown, or expired)", id);
        return CTL_EXIT_NOTFOUND;
    }
    snprintf(trace, trace_n, "%s", ctl_reply_str(h->element[N_TRACE]) ?
             h->element[N_TRACE]->str : id);
    snprintf(context, context_n, "%s", ctl_reply_str(h->element[N_CONTEXT]) ?
             h->element[N_CONTEXT]->str : "default");
    freeReplyObject(h);
    if (!rh_name_valid(trace) || !rh_context_id_valid(context)) {
        json_decref(nodes);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "task %s has an invalid trace or context", id);
    }
    rh_key_trace(key, r->prefix, context, trace);
    if ((z = ctl_redis_command(r, "ZRANGE %s 0 %d", key, TRACE_MAX - 1)) == NULL) {
        json_decref(nodes);
        return r->code;
    }
    for (size_t i = 0; z->type == REDIS_REPLY_ARRAY && i <= z->elements; i++) {
        /* the index's tasks, then the task itself when it is not in it
         * (a root with no event relayed yet, or an expired index) */
        const char *tid = i < z->elements ? ctl_reply_str(z->element[i]) : (found_self ? NULL : id);
        if (tid == NULL || !rh_name_valid(tid))
            continue;
        found_self |= strcmp(tid, id) == 0;
        if ((h = hmget(r, tid)) == NULL) {
            freeReplyObject(z);
            json_decref(nodes);
            return r->code;
        }
        json_array_append_new(nodes, node_of(tid, h));
        freeReplyObject(h);
    }
    freeReplyObject(z);
    *out = nodes;
    return 0;
}

static json_t *node_find(json_t *nodes, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
        if (id && strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
            return n;
    return NULL;
}

static void node_print(json_t *nodes, json_t *n, json_t *parent, int level)
{
    char run[32] = "", after[80] = "";
    const char *id = json_string_value(json_object_get(n, "id"));
    json_int_t st = json_integer_value(json_object_get(n, "started_at"));
    json_int_t fi = json_integer_value(json_object_get(n, "finished_at"));
    json_int_t pfi = parent ? json_integer_value(json_object_get(parent, "finished_at")) : 0;
    size_t i;
    json_t *c;

    if (st > 0 && fi >= st)
        ctl_fmt_duration(fi - st, run, sizeof run);
    if (pfi > 0 && st > 0) {
        char d[32];
        ctl_fmt_duration(st - pfi, d, sizeof d);
        snprintf(after, sizeof after, "  started %s after parent finished", d);
    }
    printf("%*s%s%s%s%s%s  %s  worker=%s%s%s%s\n", level * 4, "", level ? "└─ " : "",
           json_is_string(json_object_get(n, "event")) ? "[" : "",
           json_is_string(json_object_get(n, "event")) ?
           json_string_value(json_object_get(n, "event")) : "",
           json_is_string(json_object_get(n, "event")) ? "] " : "",
           id, json_string_value(json_object_get(n, "status")),
           json_is_string(json_object_get(n, "worker")) ?
           json_string_value(json_object_get(n, "worker")) : "-",
           run[0] ? "  run=" : "", run, after);
    json_array_foreach(nodes, i, c) {
        const char *p = json_string_value(json_object_get(c, "parent"));
        if (p && strcmp(p, id) == 0 && level < RH_EVENT_DEPTH_LIMIT + 1)
            node_print(nodes, c, n, level + 1);
    }
}

static int trace_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    char trace[RH_NAME_MAX + 1], context[RH_NAME_MAX + 1];
    const char *id;
    json_t *nodes = NULL, *n;
    ctl_redis r;
    size_t i;
    int c, code;

    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'h' || c == CTL_OPT_HELP) {
            fputs(trace_help, stdout);
            return CTL_EXIT_OK;
        }
        return ctl_option_error("trace", c, argv);
    }
    if (optind >= argc)
        return ctl_usage_error("trace", "missing task ID");
    id = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("trace", "unexpected argument '%s'", argv[optind]);
    if (!rh_name_valid(id))
        return ctl_usage_error("trace", "invalid task id '%s'", id);
    if ((code = ctl_redis_open(g, "trace", &r)) != 0)
        return code;
    code = ctl_trace_load(&r, id, &nodes, trace, sizeof trace, context, sizeof context);
    ctl_redis_close(&r);
    if (code != 0)
        return code;
    if (g->json)
        return ctl_print_json(json_pack("{s:s, s:s, s:o}", "trace", trace, "context", context,
                                        "tasks", nodes));
    printf("trace %s in context %s: %zu task%s\n", trace, context, json_array_size(nodes),
           json_array_size(nodes) == 1 ? "" : "s");
    json_array_foreach(nodes, i, n) {
        /* roots: no parent, or a parent not in the index (expired) */
        if (node_find(nodes, json_string_value(json_object_get(n, "parent"))) == NULL)
            node_print(nodes, n, NULL, 0);
    }
    json_decref(nodes);
    return ctl_print_flush();
}

const ctl_cmd ctl_cmd_trace = {
    "trace",
    "ID",
    "the tree of tasks an event chain made (status, worker, timings, events)",
    trace_exec
};
