/* cmd_workers.c -- `rhaictl workers`: every rhaid instance and its load.
 *
 * Instances are the members `{W}:INSTANCE` of the workers set; each live
 * one refreshes its heartbeat hash (docs/protocol.md, "Heartbeats and
 * recovery"). A member whose heartbeat key has expired is dead: it is
 * shown as such, with what its processing list still holds, until a live
 * instance (or `rhaictl queue requeue-dead`) recovers it. The loader is
 * shared with `top`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char workers_help[] =
    "Usage: rhaictl workers [--worker W] [--json]\n"
    "\n"
    "List every rhaid instance known to Redis: worker id, instance, state,\n"
    "host, pid, uptime, executors (concurrency) and how many are busy, tasks\n"
    "done and failed since it started, its moving average of tasks/s, the\n"
    "age of its last heartbeat and its STORE (sqlite:up, postgres:down ...).\n"
    "An instance whose heartbeat expired is shown\n"
    "'dead', with the number of task ids it still holds, until its work is\n"
    "recovered (by any live instance within a heartbeat, or by\n"
    "'rhaictl queue requeue-dead').\n"
    "\n"
    "Options:\n"
    "  -w, --worker W   only the instances of worker id W\n"
    "      --json       {\"instances\":[{worker_id, instance, state (live,\n"
    "                   draining, dead), host, pid, version, protocol (the wire\n"
    "                   protocol it speaks: 2; 1 for an instance before it),\n"
    "                   started_at,\n"
    "                   uptime_ms, concurrency, busy, done, failed, tasks_per_s,\n"
    "                   heartbeat_at, heartbeat_age_ms, processing, store (up,\n"
    "                   down, unknown), backend (sqlite, postgres)}, ...],\n"
    "                   \"live\":N, \"dead\":N}; unknown values are null\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* ======================== loading ======================== */

/* Split a member "{W}:INSTANCE" into 'in'. 0, or -1 when it is not one. */
static int workers_parse_member(const char *m, ctl_instance *in)
{
    const char *close;
    size_t wlen;

    if (m[0] != '{' || (close = strchr(m, '}')) == NULL || close[1] != ':')
        return -1;
    wlen = (size_t)(close - m - 1);
    if (wlen == 0 || wlen > RH_NAME_MAX || strlen(close + 2) > RH_NAME_MAX)
        return -1;
    memcpy(in->worker_id, m + 1, wlen);
    in->worker_id[wlen] = '\0';
    strcpy(in->instance, close + 2);
    return rh_name_valid(in->worker_id) && rh_name_valid(in->instance) ? 0 : -1;
}

/* Fill the heartbeat fields of 'in' from an HGETALL reply. */
static void workers_fill(ctl_instance *in, const redisReply *h)
{
    in->live = h->type == REDIS_REPLY_ARRAY && h->elements > 0;
    for (size_t i = 0; in->live && i + 1 < h->elements; i += 2) {
        const char *k = ctl_reply_str(h->element[i]);
        const redisReply *v = h->element[i + 1];
        const char *s = ctl_reply_str(v);

        if (k == NULL || s == NULL)
            continue;
        if (strcmp(k, "host") == 0)
            snprintf(in->host, sizeof in->host, "%s", s);
        else if (strcmp(k, "version") == 0)
            snprintf(in->version, sizeof in->version, "%s", s);
        else if (strcmp(k, "protocol") == 0)
            in->protocol = ctl_reply_ll(v, 0);
        else if (strcmp(k, "pid") == 0)
            in->pid = ctl_reply_ll(v, -1);
        else if (strcmp(k, "started_at") == 0)
            in->started_at = ctl_reply_ll(v, 0);
        else if (strcmp(k, "heartbeat_at") == 0)
            in->heartbeat_at = ctl_reply_ll(v, 0);
        else if (strcmp(k, "concurrency") == 0)
            in->concurrency = ctl_reply_ll(v, -1);
        else if (strcmp(k, "busy") == 0)
            in->busy = ctl_reply_ll(v, -1);
        else if (strcmp(k, "done") == 0)
            in->done = ctl_reply_ll(v, -1);
        else if (strcmp(k, "failed") == 0)
            in->failed = ctl_reply_ll(v, -1);
        else if (strcmp(k, "draining") == 0)
            in->draining = ctl_reply_ll(v, 0) == 1;
        else if (strcmp(k, "tasks_per_s") == 0)
            in->tasks_per_s = strtod(s, NULL);
        else if (strcmp(k, "store") == 0)
            snprintf(in->store, sizeof in->store, "%s", s);
        else if (strcmp(k, "backend") == 0)
            snprintf(in->backend, sizeof in->backend, "%s", s);
    }
}

static int workers_cmp(const void *a, const void *b)
{
    const ctl_instance *x = a, *y = b;
    int c = strcmp(x->worker_id, y->worker_id);

    return c != 0 ? c : strcmp(x->instance, y->instance);
}

int ctl_instances_load(ctl_redis *r, ctl_instance **out, size_t *n)
{
    return ctl_instances_load_of(r, NULL, out, n);
}

int ctl_instances_load_of(ctl_redis *r, const char *w, ctl_instance **out, size_t *n)
{
    char key[RH_KEY_MAX];
    redisReply *members, *h = NULL, *len = NULL;
    ctl_instance *v = NULL;
    size_t k = 0;
    int code = 0;

    *out = NULL;
    *n = 0;
    if ((members = ctl_redis_command(r, "SMEMBERS %s", rh_key_workers(key, r->prefix))) == NULL)
        return r->code;
    if (members->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(members);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "SMEMBERS: unexpected reply");
    }
    if (members->elements > 0 &&
        (v = rh_calloc(members->elements, sizeof *v)) == NULL) {
        freeReplyObject(members);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
    }
    /* One round trip: the heartbeat hash and the processing list of each. */
    for (size_t i = 0; i < members->elements; i++) {
        const char *m = ctl_reply_str(members->element[i]);
        ctl_instance *in = &v[k];

        if (m == NULL || workers_parse_member(m, in) != 0 ||
            (w != NULL && strcmp(in->worker_id, w) != 0))
            continue;
        in->pid = in->concurrency = in->busy = in->done = in->failed = -1;
        if (ctl_redis_append(r, "HGETALL %s",
                             rh_key_worker(key, r->prefix, in->worker_id, in->instance)) ||
            ctl_redis_append(r, "LLEN %s",
                             rh_key_processing(key, r->prefix, in->worker_id, in->instance)) ||
            ctl_redis_append(r, "EXISTS %s", rh_key_paused(key, r->prefix, in->worker_id))) {
            code = r->code;
            goto out;
        }
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        redisReply *p;
        if ((h = ctl_redis_reply(r)) == NULL || (len = ctl_redis_reply(r)) == NULL ||
            (p = ctl_redis_reply(r)) == NULL) {
            code = r->code;
            goto out;
        }
        workers_fill(&v[i], h);
        v[i].processing = ctl_reply_ll(len, 0);
        v[i].paused = ctl_reply_ll(p, 0) > 0;
        freeReplyObject(h);
        freeReplyObject(len);
        freeReplyObject(p);
        h = len = NULL;
    }
    if (k > 1)
        qsort(v, k, sizeof *v, workers_cmp);
out:
    if (h)
        freeReplyObject(h);
    freeReplyObject(members);
    if (code != 0) {
        rh_free(v);
        return code;
    }
    if (k == 0) {
        rh_free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

/* ======================== output ======================== */

static const char *workers_state(const ctl_instance *in)
{
    return !in->live ? "dead" : in->draining ? "draining" : in->paused ? "paused" : "live";
}

/* A count, or null when the heartbeat did not carry it. */
static json_t *workers_num(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *workers_json(const ctl_instance *v, size_t n, int64_t now)
{
    json_t *doc = json_object(), *arr = json_array();
    int live = 0, dead = 0;

    if (doc == NULL || arr == NULL) {
        json_decref(doc);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const ctl_instance *in = &v[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(doc);
            json_decref(arr);
            return NULL;
        }
        in->live ? live++ : dead++;
        json_object_set_new(o, "worker_id", json_string(in->worker_id));
        json_object_set_new(o, "instance", json_string(in->instance));
        json_object_set_new(o, "state", json_string(workers_state(in)));
        json_object_set_new(o, "host", in->host[0] ? json_string(in->host) : json_null());
        json_object_set_new(o, "pid", workers_num(in->pid));
        json_object_set_new(o, "version",
                            in->version[0] ? json_string(in->version) : json_null());
        /* an instance without the field speaks protocol 1 */
        json_object_set_new(o, "protocol", in->live ? json_integer(in->protocol > 0
                                                                  ? in->protocol : 1)
                                                    : json_null());
        json_object_set_new(o, "started_at", in->started_at > 0
                            ? json_integer(in->started_at) : json_null());
        json_object_set_new(o, "uptime_ms", in->started_at > 0
                            ? json_integer(now - in->started_at) : json_null());
        json_object_set_new(o, "concurrency", workers_num(in->concurrency));
        json_object_set_new(o, "busy", workers_num(in->busy));
        json_object_set_new(o, "done", workers_num(in->done));
        json_object_set_new(o, "failed", workers_num(in->failed));
        json_object_set_new(o, "tasks_per_s", in->live ? json_real(in->tasks_per_s)
                                                       : json_null());
        json_object_set_new(o, "heartbeat_at", in->heartbeat_at > 0
                            ? json_integer(in->heartbeat_at) : json_null());
        json_object_set_new(o, "heartbeat_age_ms", in->heartbeat_at > 0
                            ? json_integer(now - in->heartbeat_at) : json_null());
        json_object_set_new(o, "processing", json_integer(in->processing));
        json_object_set_new(o, "paused", json_boolean(in->paused));
        json_object_set_new(o, "store", in->store[0] ? json_string(in->store) : json_null());
        json_object_set_new(o, "backend",
                            in->backend[0] ? json_string(in->backend) : json_null());
    }
    json_object_set_new(doc, "instances", arr);
    json_object_set_new(doc, "live", json_integer(live));
    json_object_set_new(doc, "dead", json_integer(dead));
    return doc;
}

/* "-" for an unknown count. */
static const char *workers_ll(long long v, char *buf, size_t n)
{
    if (v < 0)
        return "-";
    snprintf(buf, n, "%lld", v);
    return buf;
}

static void workers_table(const ctl_instance *v, size_t n, int64_t now)
{
    int ww = 6, wi = 8, wh = 4;
    char up[32], beat[32], pid[24], conc[24], busy[24], done[24], failed[24], rate[32];
    char st[40];

    if (n == 0) {
        printf("no worker instances\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(v[i].worker_id), b = (int)strlen(v[i].instance);
        int c = (int)strlen(v[i].host);
        ww = a > ww ? a : ww;
        wi = b > wi ? b : wi;
        wh = c > wh ? c : wh;
    }
    printf("%-*s  %-*s  %-8s  %-*s  %7s  %7s  %4s  %4s  %8s  %7s  %7s  %6s  %-13s  %s\n", ww,
           "WORKER", wi, "INSTANCE", "STATE", wh, "HOST", "PID", "UPTIME", "CONC", "BUSY",
           "DONE", "FAILED", "TASKS/S", "BEAT", "STORE", "PROTO");
    for (size_t i = 0; i < n; i++) {
        const ctl_instance *in = &v[i];

        if (!in->live) {
            printf("%-*s  %-*s  %-8s  holds %lld task id%s until recovered\n", ww,
                   in->worker_id, wi, in->instance, "dead", in->processing,
                   in->processing == 1 ? "" : "s");
            continue;
        }
        ctl_fmt_duration(in->started_at > 0 ? now - in->started_at : -1, up, sizeof up);
        ctl_fmt_duration(in->heartbeat_at > 0 ? now - in->heartbeat_at : -1, beat,
                         sizeof beat);
        snprintf(rate, sizeof rate, "%.1f", in->tasks_per_s);
        if (in->store[0])                   /* "sqlite:up", "postgres:down" */
            snprintf(st, sizeof st, "%s:%s", in->backend[0] ? in->backend : "?", in->store);
        else
            snprintf(st, sizeof st, "-");
        printf("%-*s  %-*s  %-8s  %-*s  %7s  %7s  %4s  %4s  %8s  %7s  %7s  %6s  %-13s  %lld\n", ww,
               in->worker_id, wi, in->instance, workers_state(in), wh,
               in->host[0] ? in->host : "-", workers_ll(in->pid, pid, sizeof pid), up,
               workers_ll(in->concurrency, conc, sizeof conc),
               workers_ll(in->busy, busy, sizeof busy),
               workers_ll(in->done, done, sizeof done),
               workers_ll(in->failed, failed, sizeof failed), rate, beat, st,
               in->protocol > 0 ? in->protocol : 1LL);
    }
}

/* ======================== command ======================== */

static int workers_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "worker", required_argument, NULL, 'w' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *only = NULL;
    ctl_instance *v = NULL;
    ctl_redis r;
    size_t n = 0, k = 0;
    int c, code;

    while ((c = getopt_long(argc, argv, ":w:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'w') {
            only = optarg;
            continue;
        }
        if (c == 'h' || c == CTL_OPT_HELP) {
            fputs(workers_help, stdout);
            return CTL_EXIT_OK;
        }
        return ctl_option_error("workers", c, argv);
    }
    if (optind < argc)
        return ctl_usage_error("workers", "unexpected argument '%s'", argv[optind]);
    if (only && !rh_name_valid(only))
        return ctl_usage_error("workers", "invalid worker id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", only, RH_NAME_MAX);

    if ((code = ctl_redis_open(g, "workers", &r)) != 0)
        return code;
    code = ctl_instances_load(&r, &v, &n);
    ctl_redis_close(&r);
    if (code != 0)
        return code;
    for (size_t i = 0; i < n; i++)          /* keep the chosen worker id */
        if (only == NULL || strcmp(v[i].worker_id, only) == 0)
            v[k++] = v[i];
    if (g->json) {
        code = ctl_print_json(workers_json(v, k, rh_now_ms()));
    } else {
        workers_table(v, k, rh_now_ms());
        code = ctl_print_flush();
    }
    rh_free(v);
    return code;
}

const ctl_cmd ctl_cmd_workers = {
    "workers",
    "[--worker W]",
    "list rhaid instances: load, counts, heartbeats, dead ones",
    workers_exec
};
