/* cmd_queue.c -- `rhaictl queue purge|requeue-dead|pause|resume`: queue
 * administration.
 *
 * `pause W` sets <prefix>:paused:{W} ({"by", "at"}): every take and claim
 * script of rhaid then takes nothing for W (docs/scheduling.md, "Pause");
 * `resume W` deletes it. Both publish an event on the events channel.
 *
 * `purge W` empties W's queue in one Lua script and answers every task it
 * held `cancelled`, exactly as rhai_cancel() answers one queued task (hash
 * fields, reply on reply_to, TTLs, a `finished` event), so no waiter is
 * left hanging; with --dry-run a read-only script counts and lists what it
 * would cancel instead. A worker id with no queue key and no instance in
 * the workers set is no queue at all: exit 7, not "cancelled 0".
 * `requeue-dead` runs the recovery script rhaid runs on every
 * heartbeat (rh_lua_recover in src/common), for when no live instance is
 * there to run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define QUEUE_TTL_DEFAULT_MS 86400000LL  /* rhaid's default result_ttl_ms */
#define QUEUE_TTL_MAX_MS (365LL * 86400000LL)
#define QUEUE_MAX_ATTEMPTS_DEFAULT 3     /* rhaid's default max_attempts */

static const char queue_help[] =
    "Usage: rhaictl queue purge W [--dry-run] [--ttl-ms MS]\n"
    "       rhaictl queue requeue-dead [W] [--max-attempts N] [--ttl-ms MS]\n"
    "       rhaictl queue pause W\n"
    "       rhaictl queue resume W\n"
    "\n"
    "purge         remove every task waiting in worker id W's queue, in one\n"
    "              atomic step, and answer each 'cancelled' (error_kind\n"
    "              cancelled) as 'rhaictl task cancel' would: its waiters get\n"
    "              the reply. Ids in the queue whose task is gone or no longer\n"
    "              queued are dropped without a reply. Tasks already taken by\n"
    "              an instance are not touched. Prints how many were cancelled.\n"
    "              A W with no queue and no instance (live or dead) is\n"
    "              refused: exit 7\n"
    "requeue-dead  recover the work of dead instances now (rhaid does it on\n"
    "              every heartbeat while any instance is alive): each task a\n"
    "              dead instance held goes back to the head of its queue, or,\n"
    "              after N runs, is answered error_kind crashed. Recovery\n"
    "              covers every dead instance; with W it runs only when W has\n"
    "              one. Prints what it did\n"
    "pause         stop W's instances taking tasks: running ones finish, queued\n"
    "              (and due delayed) ones wait in the queue; it survives\n"
    "              restarts. A W nothing knows yet may be paused (said)\n"
    "resume        let W's instances take tasks again (within 200 ms)\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run         purge: change nothing; print how many tasks would\n"
    "                        be cancelled and the first 20 ids (--json: up to\n"
    "                        1000), the next taken first\n"
    "  -a, --max-attempts N  requeue-dead: runs after which a task fails as\n"
    "                        crashed (default 3, as rhaid's max_attempts)\n"
    "  -t, --ttl-ms MS       lifetime of the replies and answered task hashes\n"
    "                        (default 86400000, as rhaid's result_ttl_ms)\n"
    "      --json            purge: {\"worker_id\", \"cancelled\", \"dropped\"};\n"
    "                        --dry-run: {\"worker_id\", \"dry_run\": true,\n"
    "                        \"would_cancel\", \"stale\", \"ids\": [...]};\n"
    "                        requeue-dead: {\"dead_instances\", \"requeued\",\n"
    "                        \"failed\", \"instances\":[\"{W}:INSTANCE\", ...]};\n"
    "                        pause/resume: {\"worker_id\", \"paused\", \"changed\",\n"
    "                        \"known\"}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* Purge one queue (docs/protocol.md, "Cancelling", applied to every id of
 * the queue). KEYS[1] the queue. ARGV[1] prefix, ARGV[2] now ms, ARGV[3]
 * ttl ms, ARGV[4] events channel. The per-task part is rhai_cancel()'s
 * script (src/client/client.c) for a queued task, with its reply fields and
 * JSON types. Oldest first, so replies and events come in queue order.
 * Returns {cancelled, dropped, the cancelled ids...}: their lookup hints
 * are in other slots (keys.c), given the result TTL by the caller. */
static const char queue_purge_lua[] =
    RH_LUA_KEYS
    RH_LUA_CANCEL_QUEUED
    "local qk, p, now, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
    "local W = tag(qk)\n"
    "local ids = redis.call('LRANGE', qk, 0, -1)\n"
    "redis.call('DEL', qk)\n"
    "local out = {0, 0}\n"
    "for i = #ids, 1, -1 do\n"
    "  local id = ids[i]\n"
    "  local tk = k_task(p, W, id)\n"
    "  local v = redis.call('HMGET', tk, " RH_LUA_CANCEL_FIELDS ")\n"
    "  if redis.call('EXISTS', tk) == 0 or (v[1] or 'queued') ~= 'queued' then\n"
    "    out[2] = out[2] + 1\n"
    "  else\n"
    "    cancel_queued(p, W, id, v, now, ttl, ARGV[4], 'cancelled by queue purge')\n"
    "    out[1] = out[1] + 1\n"
    "    out[#out + 1] = id\n"
    "  end\n"
    "end\n"
    "return out\n";

/* What purge would do, changing nothing. KEYS[1] the queue. ARGV[1]
 * prefix, ARGV[2] how many ids to list at most. The ids that would be
 * cancelled are listed oldest (next taken) first.
 * Returns {would_cancel, stale, {id, ...}}. */
static const char queue_purge_dry_lua[] =
    RH_LUA_KEYS
    "local qk, p, max = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"
    "local ids = redis.call('LRANGE', qk, 0, -1)\n"
    "local n, stale, list = 0, 0, {}\n"
    "for i = #ids, 1, -1 do\n"
    "  local tk = k_task(p, tag(qk), ids[i])\n"
    "  local ok, st = pcall(redis.call, 'HGET', tk, 'status')\n"
    "  if ok and redis.call('EXISTS', tk) == 1 and (st or 'queued') == 'queued' then\n"
    "    n = n + 1\n"
    "    if #list < max then list[#list + 1] = ids[i] end\n"
    "  else\n"
    "    stale = stale + 1\n"
    "  end\n"
    "end\n"
    "return {n, stale, list}\n";

#define QUEUE_DRY_LIST_TEXT 20
#define QUEUE_DRY_LIST_JSON 1000

/* The first n elements of Lua reply 'rep' (an array of at least n),
 * integers, into v[]. 0 / -1. */
static int queue_ints(const redisReply *rep, long long *v, size_t n)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
        v[i] = rep->element[i]->integer;
    }
    return 0;
}

/* 0 when W is a known queue: its queue key exists, or some member of the
 * workers set (live or dead) is an instance of W; else CTL_EXIT_NOTFOUND
 * after saying so (or another exit code). */
int ctl_queue_known(ctl_redis *r, const char *w)
{
    char qkey[RH_KEY_MAX];
    ctl_instance *inst = NULL;
    size_t n = 0;
    redisReply *rep;
    int code, known;

    if ((rep = ctl_redis_command(r, "EXISTS %s", rh_key_queue(qkey, r->prefix, w))) == NULL)
        return r->code;
    known = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    freeReplyObject(rep);
    if (!known) {
        if ((code = ctl_instances_load_of(r, w, &inst, &n)) != 0)
            return code;
        known = n > 0;                  /* W's instances only */
        rh_free(inst);
    }
    if (known)
        return 0;
    ctl_errorf("queue", "no queue '%s': no queued task and no instance (live or dead) of "
               "that worker id (rhaictl queues lists them)", w);
    return CTL_EXIT_NOTFOUND;
}

static int queue_purge_dry(const ctl_global *g, ctl_redis *r, const char *w)
{
    char qkey[RH_KEY_MAX], max[16];
    redisReply *rep, *ids;
    json_t *doc, *arr;
    long long v[2];

    snprintf(max, sizeof max, "%d", g->json ? QUEUE_DRY_LIST_JSON : QUEUE_DRY_LIST_TEXT);
    if ((rep = ctl_redis_command(r, "EVAL %s 1 %s %s %s", queue_purge_dry_lua,
                                 rh_key_queue(qkey, r->prefix, w), r->prefix, max)) == NULL)
        return r->code;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER ||
        rep->element[2]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "purge --dry-run script: unexpected reply");
    }
    v[0] = rep->element[0]->integer;
    v[1] = rep->element[1]->integer;
    ids = rep->element[2];
    if (g->json) {
        doc = json_pack("{s:s, s:b, s:I, s:I, s:[]}", "worker_id", w, "dry_run", 1,
                        "would_cancel", (json_int_t)v[0], "stale", (json_int_t)v[1], "ids");
        arr = doc ? json_object_get(doc, "ids") : NULL;
        for (size_t i = 0; arr && i < ids->elements; i++)
            if (ctl_reply_str(ids->element[i]))
                json_array_append_new(arr, json_string(ids->element[i]->str));
        freeReplyObject(rep);
        return ctl_print_json(doc);
    }
    printf("dry run: purging %s would cancel %lld queued task%s", w, v[0],
           v[0] == 1 ? "" : "s");
    if (v[1] > 0)
        printf(" and drop %lld stale id%s", v[1], v[1] == 1 ? "" : "s");
    printf("; nothing changed\n");
    for (size_t i = 0; i < ids->elements; i++)
        if (ctl_reply_str(ids->element[i]))
            printf("  %s\n", ids->element[i]->str);
    if (v[0] > (long long)ids->elements)
        printf("  ... and %lld more\n", v[0] - (long long)ids->elements);
    freeReplyObject(rep);
    return ctl_print_flush();
}

/* The lookup hints (rhai:taskw:{ID}, 7 days from the submit) of the
 * tasks a purge cancelled get the hash's TTL, as rhaid gives an answered
 * task's: pipelined, PURGE_HINTS_BATCH at a time, best effort (a hint
 * left keeps its own TTL; a lost connection is the caller's next error). */
#define PURGE_HINTS_BATCH 256

static void purge_hints_expire(ctl_redis *r, const redisReply *rep, size_t first,
                               const char *ttl)
{
    char key[RH_KEY_MAX];

    for (size_t i = first; i < rep->elements;) {
        size_t sent = 0;
        for (; i < rep->elements && sent < PURGE_HINTS_BATCH; i++) {
            const redisReply *id = rep->element[i];
            if (id->type != REDIS_REPLY_STRING || !rh_name_valid(id->str))
                continue;
            if (ctl_redis_append(r, "PEXPIRE %s %s", rh_key_taskw(key, r->prefix, id->str),
                                 ttl) != 0)
                break;
            sent++;
        }
        for (; sent > 0; sent--) {
            redisReply *x = ctl_redis_reply(r);
            if (x == NULL)
                return;
            freeReplyObject(x);
        }
    }
}

int ctl_queue_purge_run(ctl_redis *r, const char *w, long long ttl, long long v[2])
{
    char qkey[RH_KEY_MAX], events[RH_KEY_MAX], now[24], ttls[24];
    redisReply *rep;

    rh_key_queue(qkey, r->prefix, w);
    rh_key_events(events, r->prefix);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(ttls, sizeof ttls, "%lld", ttl);
    if ((rep = ctl_redis_command(r, "EVAL %s 1 %s %s %s %s %s", queue_purge_lua, qkey,
                                 r->prefix, now, ttls, events)) == NULL)
        return r->code;
    if (queue_ints(rep, v, 2) != 0) {
        freeReplyObject(rep);
        return ctl_redis_fail(r, CTL_EXIT_FAILED, "purge script: unexpected reply");
    }
    purge_hints_expire(r, rep, 2, ttls);
    freeReplyObject(rep);
    return 0;
}

static int queue_purge(const ctl_global *g, ctl_redis *r, const char *w, long long ttl,
                       int dry_run)
{
    long long v[2];
    json_t *doc;
    int code;

    if ((code = ctl_queue_known(r, w)) != 0)
        return code;
    if (dry_run)
        return queue_purge_dry(g, r, w);
    if ((code = ctl_queue_purge_run(r, w, ttl, v)) != 0)
        return code;
    if (g->json) {
        doc = json_pack("{s:s, s:I, s:I}", "worker_id", w, "cancelled", (json_int_t)v[0],
                        "dropped", (json_int_t)v[1]);
        return ctl_print_json(doc);
    }
    printf("purged %s: cancelled %lld queued task%s", w, v[0], v[0] == 1 ? "" : "s");
    if (v[1] > 0)
        printf(", dropped %lld stale id%s", v[1], v[1] == 1 ? "" : "s");
    putchar('\n');
    return ctl_print_flush();
}

static int queue_requeue_dead(const ctl_global *g, ctl_redis *r, const char *w,
                              long long max_attempts, long long ttl)
{
    char events[RH_KEY_MAX], k_reg[RH_KEY_MAX], member[RH_KEY_MAX];
    ctl_instance *inst = NULL;
    size_t ninst = 0;
    long long v[3] = { 0, 0, 0 };
    redisReply *rep;
    json_t *doc, *names;
    int code, wanted = w == NULL;

    /* Who is dead now, for the report and for W. */
    if ((code = ctl_instances_load_of(r, w, &inst, &ninst)) != 0)
        return code;
    for (size_t i = 0; i < ninst; i++)
        if (!inst[i].live && w && strcmp(inst[i].worker_id, w) == 0)
            wanted = 1;
    /* One recovery script per worker id with a dead instance (W alone
     * when given), in W's slot, as rhaid runs it; "": no instance exempt.
     * The instances it recovered leave the registry after it. */
    rh_key_events(events, r->prefix);
    for (size_t i = 0; wanted && i < ninst; i++) {
        rh_recover_cmd c;
        const char *first_name[1];
        int first = 1;

        if (inst[i].live || (w && strcmp(inst[i].worker_id, w) != 0))
            continue;
        for (size_t k = 0; k < i; k++)
            if (!inst[k].live && strcmp(inst[k].worker_id, inst[i].worker_id) == 0)
                first = 0;
        if (!first)
            continue;
        first_name[0] = inst[i].instance;
        rh_recover_argv(&c, r->prefix, inst[i].worker_id, rh_now_ms(), max_attempts, ttl,
                        events, "", RH_DEF_TASK_INDEX_MAX, first_name, 1);
        for (size_t k = i + 1; k < ninst && c.argc < RH_RECOVER_ARGC_MAX; k++)
            if (!inst[k].live && strcmp(inst[k].worker_id, inst[i].worker_id) == 0) {
                c.argv[c.argc] = inst[k].instance;
                c.lens[c.argc++] = strlen(inst[k].instance);
            }
        if (ctl_redis_append_argv(r, c.argc, c.argv) != 0 || (rep = ctl_redis_reply(r)) == NULL) {
            rh_free(inst);
            return r->code;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
            rep->element[0]->type != REDIS_REPLY_INTEGER ||
            rep->element[1]->type != REDIS_REPLY_INTEGER ||
            rep->element[2]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(rep);
            rh_free(inst);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "recovery script: unexpected reply");
        }
        for (size_t k = 3; k < rep->elements; k++) {
            redisReply *s;
            if (ctl_reply_str(rep->element[k]) &&
                (s = ctl_redis_command(r, "SREM %s %s", rh_key_workers(k_reg, r->prefix),
                                       rh_key_member(member, inst[i].worker_id,
                                                     rep->element[k]->str))) != NULL)
                freeReplyObject(s);
        }
        for (int k = 0; k < 3; k++)
            v[k] += rep->element[k]->integer;
        freeReplyObject(rep);
    }
    if (g->json) {
        doc = json_pack("{s:I, s:I, s:I, s:[]}", "dead_instances", (json_int_t)v[0],
                        "requeued", (json_int_t)v[1], "failed", (json_int_t)v[2],
                        "instances");
        names = doc ? json_object_get(doc, "instances") : NULL;
        for (size_t i = 0; wanted && names && i < ninst; i++) {
            char m[2 * RH_NAME_MAX + 8];
            if (inst[i].live)
                continue;
            snprintf(m, sizeof m, "{%s}:%s", inst[i].worker_id, inst[i].instance);
            json_array_append_new(names, json_string(m));
        }
        rh_free(inst);
        return ctl_print_json(doc);
    }
    if (!wanted) {
        printf("no dead instance of %s: nothing to recover\n", w);
    } else {
        for (size_t i = 0; i < ninst; i++)
            if (!inst[i].live) {
                printf("dead: {%s}:%s (held %lld)\n", inst[i].worker_id, inst[i].instance,
                       inst[i].processing);
            }
        printf("recovered %lld dead instance%s: requeued %lld task%s, failed %lld as crashed\n",
               v[0], v[0] == 1 ? "" : "s", v[1], v[1] == 1 ? "" : "s", v[2]);
    }
    rh_free(inst);
    return ctl_print_flush();
}

int ctl_queue_pause_set(ctl_redis *r, const char *w, int pause, const char *by,
                        int *changed_out, int *known_out)
{
    char key[RH_KEY_MAX], events[RH_KEY_MAX], *val, *ev;
    long long now = (long long)rh_now_ms(), changed;
    ctl_instance *inst = NULL;
    size_t ninst = 0;
    redisReply *rep;
    int known = 0, code;

    rh_key_paused(key, r->prefix, w);
    rh_key_events(events, r->prefix);
    if ((code = ctl_instances_load_of(r, w, &inst, &ninst)) != 0)
        return code;
    known = ninst > 0;                  /* W's instances only */
    rh_free(inst);
    if (!known) {
        char qkey[RH_KEY_MAX];
        if ((rep = ctl_redis_command(r, "EXISTS %s", rh_key_queue(qkey, r->prefix, w))) == NULL)
            return r->code;
        known = ctl_reply_ll(rep, 0) > 0;
        freeReplyObject(rep);
    }
    if (pause) {
        json_t *v = json_pack("{s:s, s:I}", "by", by, "at", (json_int_t)now);
        val = v ? json_dumps(v, JSON_COMPACT) : NULL;
        json_decref(v);
        if (val == NULL)
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        rep = ctl_redis_command(r, "SET %s %s NX", key, val);
        free(val);
        if (rep == NULL)
            return r->code;
        changed = rep->type == REDIS_REPLY_STATUS;
    } else {
        if ((rep = ctl_redis_command(r, "DEL %s", key)) == NULL)
            return r->code;
        changed = ctl_reply_ll(rep, 0) > 0;
    }
    freeReplyObject(rep);
    if (changed) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:I}", "event", pause ? "paused" : "resumed",
                              "worker_id", w, "by", by, "at", (json_int_t)now);
        if (e && (ev = json_dumps(e, JSON_COMPACT)) != NULL) {
            if ((rep = ctl_redis_command(r, "PUBLISH %s %s", events, ev)) != NULL)
                freeReplyObject(rep);
            free(ev);
        }
        json_decref(e);
    }
    *changed_out = (int)changed;
    *known_out = known;
    return 0;
}

/* pause (1) or resume (0) worker id w. */
static int queue_pause(const ctl_global *g, ctl_redis *r, const char *w, int pause)
{
    char host[128] = "?", by[300];
    const char *user = getenv("USER");
    int known = 0, changed = 0, code;

    gethostname(host, sizeof host - 1);
    snprintf(by, sizeof by, "%s@%s", user && *user ? user : "rhaictl", host);
    if ((code = ctl_queue_pause_set(r, w, pause, by, &changed, &known)) != 0)
        return code;
    if (g->json)
        return ctl_print_json(json_pack("{s:s, s:b, s:b, s:b}", "worker_id", w, "paused", pause,
                                        "changed", (int)changed, "known", known));
    if (pause)
        printf(changed ? "paused %s: its instances take no new task until 'rhaictl queue "
                         "resume %s'\n" : "%s was paused already (rhaictl queue resume %s)\n",
               w, w);
    else
        printf(changed ? "resumed %s%s\n" : "%s was not paused%s\n", w, "");
    if (!known)
        printf("note: no instance and no queue of %s yet: its instances will start %s\n", w,
               pause ? "paused" : "taking tasks");
    return ctl_print_flush();
}

static int queue_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "max-attempts", required_argument, NULL, 'a' },
        { "ttl-ms", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'n' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    long long max_attempts = QUEUE_MAX_ATTEMPTS_DEFAULT, ttl = QUEUE_TTL_DEFAULT_MS;
    const char *sub, *w = NULL;
    int c, code, purge, pause, resume, set_attempts = 0, dry_run = 0;
    ctl_redis r;

    while ((c = getopt_long(argc, argv, ":a:t:nh", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'n':
            dry_run = 1;
            break;
        case 'a':
            if (ctl_parse_int(optarg, 1, 1000000, 0, &max_attempts) != 0)
                return ctl_usage_error("queue", "--max-attempts '%s' is not a number in "
                                       "1..1000000", optarg);
            set_attempts = 1;
            break;
        case 't':
            if (ctl_parse_int(optarg, 1, QUEUE_TTL_MAX_MS, 0, &ttl) != 0)
                return ctl_usage_error("queue", "--ttl-ms '%s' is not a number of "
                                       "milliseconds in 1..%lld", optarg, QUEUE_TTL_MAX_MS);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(queue_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("queue", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("queue", "missing subcommand: purge, requeue-dead, pause or "
                               "resume");
    sub = argv[optind++];
    purge = strcmp(sub, "purge") == 0;
    pause = strcmp(sub, "pause") == 0;
    resume = strcmp(sub, "resume") == 0;
    if (!purge && !pause && !resume && strcmp(sub, "requeue-dead") != 0)
        return ctl_usage_error("queue", "unknown subcommand '%s' (purge, requeue-dead, pause, "
                               "resume)", sub);
    if (optind < argc)
        w = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("queue", "unexpected argument '%s'", argv[optind]);
    if ((purge || pause || resume) && w == NULL)
        return ctl_usage_error("queue", "%s: missing worker id W", sub);
    if ((pause || resume) && (set_attempts || dry_run))
        return ctl_usage_error("queue", "%s takes no option but the global ones", sub);
    if (purge && set_attempts)
        return ctl_usage_error("queue", "--max-attempts goes with requeue-dead");
    if (!purge && !pause && !resume && dry_run)
        return ctl_usage_error("queue", "--dry-run goes with purge");
    if (w && !rh_name_valid(w))
        return ctl_usage_error("queue", "invalid worker id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                               w, RH_NAME_MAX);

    if ((code = ctl_redis_open(g, "queue", &r)) != 0)
        return code;
    code = pause || resume ? queue_pause(g, &r, w, pause)
           : purge ? queue_purge(g, &r, w, ttl, dry_run)
                   : queue_requeue_dead(g, &r, w, max_attempts, ttl);
    ctl_redis_close(&r);
    return code;
}

const ctl_cmd ctl_cmd_queue = {
    "queue",
    "purge W [--dry-run] | requeue-dead [W] | pause W | resume W",
    "empty a queue (its tasks end cancelled), recover dead instances now, pause/resume",
    queue_exec
};
