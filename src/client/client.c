/* client.c -- the synchronous client: connect, submit, wait, run, status,
 * cancel (rhai/client.h).
 *
 * One blocking hiredis connection per rhai_client. A command that gets no
 * reply drops the connection and fails with RHAI_ECONN; the next call
 * connects again. rhai_wait alone retries by itself, with backoff, until its
 * deadline, because waiting is the one operation that is safe to repeat and
 * that must outlive a Redis restart. Key names and field lists are those of
 * docs/protocol.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "client_int.h"
#include "common/rlink.h"

struct rhai_client {
    rh_link      *link;             /* NULL while disconnected */
    rh_redis_cfg  cfg;
    char          prefix[RH_PREFIX_MAX + 1];
    char          where[400];         /* url without password, for messages */
    rhai__wcache  wcache;             /* worker ids of the ids submitted */
};

/* ======================== connection ======================== */

static void nap_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void client_drop(rhai_client *c)
{
    rh_link_free(c->link);
    c->link = NULL;
}

/* Connect (TLS, AUTH, SELECT, the slot map) within 'timeout_ms'. A server
 * that does not answer in time is unreachable: RHAI_ECONN, as documented,
 * not the layer's RHAI_ETIMEOUT, which callers read as a task's timeout
 * (rhaictl exited 3, "the task timed out", for a silent port). */
static int client_open(rhai_client *c, int64_t timeout_ms, rhai_error *err)
{
    rh_redis_cfg cfg = c->cfg;
    int rc;

    rh_assert(c->link == NULL);
    cfg.connect_ms = timeout_ms > 0 ? timeout_ms : 1;
    cfg.io_ms = RHAI__IO_TIMEOUT_MS;
    rc = rh_link_open(&cfg, &c->link, err);
    if (rc == RHAI_ETIMEOUT) {
        rc = RHAI_ECONN;
        if (err)
            err->code = rc;
    }
    return rc;
}

static int client_ensure(rhai_client *c, rhai_error *err)
{
    return c->link ? 0 : client_open(c, RHAI__CONNECT_TIMEOUT_MS, err);
}

/* A failure of the link: forget the connection, report RHAI_ECONN (the
 * layer's reason in the message). */
static int client_lost(rhai_client *c, int rc, const rhai_error *e, rhai_error *err)
{
    client_drop(c);
    if (rc == RHAI_ENOMEM || rc == RHAI_EINVAL)
        return rh_error_set(err, rc, "%s", e->msg);
    return rh_error_set(err, RHAI_ECONN, "connection to %s lost: %s", c->where, e->msg);
}

/* Append 'n' commands to the connection's output (connecting first if
 * need be); the first read writes them all. 0 or RHAI_ECONN. The argv
 * must stay valid until their replies were read. */
static int client_send(rhai_client *c, int n, const int *argcs, const char **const *argvs,
                       const size_t *const *lens, rhai_error *err)
{
    rhai_error e;
    int rc;

    if ((rc = client_ensure(c, err)) != 0)
        return rc;
    if ((rc = rh_link_send(c->link, n, argcs, argvs, lens, &e)) != 0)
        return client_lost(c, rc, &e, err);
    return 0;
}

/* Read the next 'n' replies into replies[] (new, freeReplyObject). Error
 * replies are returned as replies; a missing reply is RHAI_ECONN with
 * nothing returned. */
static int client_read(rhai_client *c, int n, redisReply **replies, rhai_error *err)
{
    rhai_error e;
    int rc;

    if (c->link == NULL)
        return rh_error_set(err, RHAI_ECONN, "connection to %s lost", c->where);
    if ((rc = rh_link_read(c->link, n, replies, &e)) != 0)
        return client_lost(c, rc, &e, err);
    return 0;
}

/* Send 'n' commands in one round trip (per node) and read their replies
 * (see client_read). */
static int client_pipeline(rhai_client *c, int n, const int *argcs,
                           const char **const *argvs, const size_t *const *lens,
                           redisReply **replies, rhai_error *err)
{
    int rc;

    if ((rc = client_send(c, n, argcs, argvs, lens, err)) != 0)
        return rc;
    return client_read(c, n, replies, err);
}

static int client_command(rhai_client *c, int argc, const char **argv,
                          const size_t *lens, redisReply **reply, rhai_error *err)
{
    return client_pipeline(c, 1, &argc, &argv, &lens, reply, err);
}

/* An error reply or a reply of the wrong type: the server is not speaking
 * the protocol we expect (Redis < 6.2 has no BLMOVE, a key of another
 * type...). */
static int reply_unexpected(const rhai_client *c, const redisReply *r, const char *what,
                            rhai_error *err)
{
    if (r->type == REDIS_REPLY_ERROR)
        return rh_error_set(err, RHAI_EPROTO, "%s: %s: %s", c->where, what, r->str);
    return rh_error_set(err, RHAI_EPROTO, "%s: %s: unexpected reply type %d", c->where,
                        what, r->type);
}

RHAI_API int rhai_client_connect(const char *url, const char *prefix,
                                 rhai_client **out, rhai_error *err)
{
    rhai_client *c;
    int rc;

    if (out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "out is NULL");
    *out = NULL;
    if ((c = rh_calloc(1, sizeof *c)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if ((rc = rh_link_config(url, prefix, &c->cfg, c->prefix, err)) != 0) {
        rh_free(c);
        return rc;
    }
    rh_redis_cfg_where(&c->cfg, c->where, sizeof c->where);
    if ((rc = client_open(c, RHAI__CONNECT_TIMEOUT_MS, err)) != 0) {
        rh_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

RHAI_API void rhai_client_free(rhai_client *c)
{
    if (c == NULL)
        return;
    client_drop(c);
    rh_free(c);
}

/* ======================== the reply list ======================== */

/* The BLMOVE of the reply list onto itself for at most 'slice_ms', in
 * argv/lens with 'secs' as its timeout's buffer. */
#define BLOCK_ARGC 6
static void block_args(const char *reply_key, int64_t slice_ms, char secs[32],
                       const char *argv[BLOCK_ARGC], size_t lens[BLOCK_ARGC])
{
    argv[0] = "BLMOVE";
    argv[1] = argv[2] = reply_key;
    argv[3] = "RIGHT";
    argv[4] = "LEFT";
    argv[5] = secs;
    snprintf(secs, 32, "%lld.%03lld", (long long)(slice_ms / 1000),
             (long long)(slice_ms % 1000));
    for (int i = 0; i < BLOCK_ARGC; i++)
        lens[i] = strlen(argv[i]);
}

/* The reply of that BLMOVE (freed): 0 with *out, 1 when nothing arrived. */
static int block_reply(rhai_client *c, redisReply *r, const char *reply_key, const char *id,
                       rhai_result **out, rhai_error *err)
{
    int rc;

    if (r->type == REDIS_REPLY_NIL) {
        rc = 1;
    } else if (r->type != REDIS_REPLY_STRING) {
        rc = reply_unexpected(c, r, "BLMOVE", err);
    } else if ((rc = rhai__result_from_reply(r->str, r->len, out, err)) != 0) {
        rh_error_set(err, rc, "malformed reply in %s", reply_key);
    } else if (strcmp(rhai_result_id(*out), id) != 0) {
        rh_error_set(err, RHAI_EPROTO, "%s holds the reply of another task (%s)",
                     reply_key, rhai_result_id(*out));
        rhai_result_free(*out);
        *out = NULL;
        rc = RHAI_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

/* ======================== submit ======================== */

/* Add what a failed submit means for its task to err's message. */
static int submit_note(rhai_error *err, int rc, const char *fmt, const char *id)
{
    char msg[RHAI_ERRMSG_MAX], note[RHAI_ID_MAX + 40];

    if (err == NULL)
        return rc;
    snprintf(note, sizeof note, fmt, id);
    snprintf(msg, sizeof msg, "%s", err->msg);
    return rh_error_set(err, rc, "%s; %s", note, msg);
}

/* Submit 't' and, when 'block_ms' > 0, send behind the submit in the same
 * write the first BLMOVE of its default reply list for at most 'block_ms'
 * (rhai_run: the answer of a short task comes back in one round trip).
 * The submit's replies are read first: if it failed, the connection is
 * dropped with the BLMOVE unread. Then *out is the answer (0), or NULL
 * when none came in time or the BLMOVE's connection broke (0: rhai_wait
 * takes over), or the BLMOVE's error (the task is queued all the same). */
static int submit_and_block(rhai_client *c, const rhai_task *t, char id_out[RHAI_ID_MAX],
                            int64_t block_ms, rhai_result **out, rhai_error *err)
{
    rhai__submit s;
    redisReply *rep[3];
    int argcs[4];
    const char **argvs[4];
    const size_t *lens[4];
    const char *bargv[BLOCK_ARGC];
    size_t blens[BLOCK_ARGC];
    char secs[32], reply_key[RH_KEY_MAX];
    int rc, n = 3;

    if (c == NULL || t == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client or task is NULL");
    if ((rc = rhai__submit_prepare(&s, t, c->prefix, NULL, rh_now_ms(), err)) != 0)
        return rc;
    argcs[0] = s.hset_argc;
    argvs[0] = s.hset_argv;
    lens[0] = s.hset_lens;
    argcs[1] = s.lpush_argc;
    argvs[1] = s.lpush_argv;
    lens[1] = s.lpush_lens;
    argcs[2] = s.hint_argc;
    argvs[2] = s.hint_argv;
    lens[2] = s.hint_lens;
    if (block_ms > 0) {
        rh_key_reply(reply_key, c->prefix, t->worker_id, s.id);
        block_args(reply_key, block_ms, secs, bargv, blens);
        argcs[3] = BLOCK_ARGC;
        argvs[3] = bargv;
        lens[3] = blens;
        n = 4;
    }
    /* A failure to send means the task is not queued; a failure to read
     * the replies, that it may be: the caller can look with
     * rhai_task_status() when it set the id itself. err says which. */
    if ((rc = client_send(c, n, argcs, argvs, lens, err)) != 0)
        return submit_note(err, rc, "task %s was not sent", s.id);
    if ((rc = client_read(c, 3, rep, err)) != 0)
        return submit_note(err, rc, "task %s may have been queued", s.id);
    if (rep[0]->type != REDIS_REPLY_INTEGER)
        rc = reply_unexpected(c, rep[0], "HSET", err);
    else if (rep[1]->type != REDIS_REPLY_INTEGER)
        rc = reply_unexpected(c, rep[1], "LPUSH", err);
    else if (rep[2]->type != REDIS_REPLY_STATUS)
        rc = reply_unexpected(c, rep[2], "SET", err);
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    freeReplyObject(rep[2]);
    if (rc != 0 && n == 4)
        client_drop(c);                 /* with the BLMOVE we no longer want */
    if (rc != 0)
        return rc;
    memcpy(id_out, s.id, strlen(s.id) + 1);
    rhai__wcache_put(&c->wcache, s.id, t->worker_id);
    if (n == 4 && client_read(c, 1, rep, NULL) == 0) {
        rc = block_reply(c, rep[0], reply_key, s.id, out, err);
        return rc == 1 ? 0 : rc;
    }
    return 0;
}

RHAI_API int rhai_submit(rhai_client *c, const rhai_task *t, char id_out[RHAI_ID_MAX],
                         rhai_error *err)
{
    char id[RHAI_ID_MAX];
    int rc = submit_and_block(c, t, id, 0, NULL, err);

    if (rc == 0 && id_out)
        memcpy(id_out, id, strlen(id) + 1);
    return rc;
}

/* ======================== the worker id of an id ======================== */

/* Key layout v2: a task's keys carry its worker id. An id this client
 * submitted is remembered; any other is looked up in its hint
 * rhai:taskw:{ID}, written by the submit. 0 with 'worker' filled,
 * RHAI_ENOTFOUND when there is no hint (unknown, expired, or created
 * without one: by rhaid's cron or events, whose ids rhaictl finds by
 * searching), or the command's error. */
static int worker_of(rhai_client *c, const char *id, char worker[RH_NAME_MAX + 1],
                     rhai_error *err)
{
    char key[RH_KEY_MAX];
    const char *argv[2] = { "GET", key };
    size_t lens[2];
    redisReply *r;
    int rc = 0;

    if (rhai__wcache_get(&c->wcache, id, worker))
        return 0;
    rh_key_taskw(key, c->prefix, id);
    lens[0] = 3;
    lens[1] = strlen(key);
    if ((rc = client_command(c, 2, argv, lens, &r, err)) != 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING && r->len <= RH_NAME_MAX && rh_name_valid(r->str)) {
        memcpy(worker, r->str, r->len + 1);
        rhai__wcache_put(&c->wcache, id, worker);
    } else if (r->type == REDIS_REPLY_NIL) {
        rc = rh_error_set(err, RHAI_ENOTFOUND, "no task %s (unknown or expired: no worker id "
                          "known for it)", id);
    } else {
        rc = reply_unexpected(c, r, "GET", err);
    }
    freeReplyObject(r);
    return rc;
}

/* ======================== wait ======================== */

/* Look at the hash: RHAI_ENOTFOUND when it is gone, 1 when the task is not
 * final yet, 0 with *out built from the hash when it is (the reply was
 * pushed in the same atomic step, maybe taken by someone else since).
 * HMGET of the reply fields and reply_to only: the script may be large.
 * *elsewhere tells whether the task replies to a list other than
 * 'reply_key' (then only the hash tells when it ends). */
static int wait_check(rhai_client *c, const char *task_key, const char *reply_key,
                      int *elsewhere, rhai_result **out, rhai_error *err)
{
    const char *exists[2] = { "EXISTS", task_key };
    size_t exists_len[2] = { 6, strlen(task_key) };
    const char *hmget[3 + RHAI__REPLY_NFIELDS];
    size_t hmget_len[3 + RHAI__REPLY_NFIELDS];
    const char **argvs[2] = { exists, hmget };
    const size_t *lens[2] = { exists_len, hmget_len };
    int argcs[2] = { 2, 3 + RHAI__REPLY_NFIELDS };
    const char *vals[RHAI__REPLY_NFIELDS];
    size_t vlens[RHAI__REPLY_NFIELDS];
    redisReply *rep[2], *st;
    int rc;

    hmget[0] = "HMGET";
    hmget_len[0] = 5;
    hmget[1] = task_key;
    hmget_len[1] = strlen(task_key);
    for (int i = 0; i < RHAI__REPLY_NFIELDS; i++) {
        hmget[2 + i] = rhai__reply_fields[i];
        hmget_len[2 + i] = strlen(rhai__reply_fields[i]);
    }
    hmget[2 + RHAI__REPLY_NFIELDS] = "reply_to";
    hmget_len[2 + RHAI__REPLY_NFIELDS] = 8;
    if ((rc = client_pipeline(c, 2, argcs, argvs, lens, rep, err)) != 0)
        return rc;
    if (rep[0]->type != REDIS_REPLY_INTEGER) {
        rc = reply_unexpected(c, rep[0], "EXISTS", err);
    } else if (rep[1]->type != REDIS_REPLY_ARRAY ||
               rep[1]->elements != RHAI__REPLY_NFIELDS + 1) {
        rc = reply_unexpected(c, rep[1], "HMGET", err);
    } else if (rep[0]->integer == 0) {
        rc = rh_error_set(err, RHAI_ENOTFOUND, "no task %s (unknown or expired)",
                          task_key);
    } else {
        redisReply *rt = rep[1]->element[RHAI__REPLY_NFIELDS];
        *elsewhere = rt->type == REDIS_REPLY_STRING && strcmp(rt->str, reply_key) != 0;
        st = rep[1]->element[1];              /* "status"; absent means queued */
        if (st->type != REDIS_REPLY_STRING || !rh_status_final(rh_status_parse(st->str))) {
            rc = 1;
        } else {
            for (int i = 0; i < RHAI__REPLY_NFIELDS; i++) {
                redisReply *e = rep[1]->element[i];
                vals[i] = e->type == REDIS_REPLY_STRING ? e->str : NULL;
                vlens[i] = e->type == REDIS_REPLY_STRING ? e->len : 0;
            }
            rc = rhai__result_from_pairs(rhai__reply_fields, vals, vlens,
                                         RHAI__REPLY_NFIELDS, out, err);
        }
    }
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return rc;
}

/* One BLMOVE of the reply list onto itself for at most 'slice_ms': 0 with
 * *out, 1 when nothing arrived. */
static int wait_block(rhai_client *c, const char *reply_key, const char *id,
                      int64_t slice_ms, rhai_result **out, rhai_error *err)
{
    char secs[32];
    const char *argv[BLOCK_ARGC];
    size_t lens[BLOCK_ARGC];
    redisReply *r;
    int rc;

    block_args(reply_key, slice_ms, secs, argv, lens);
    if ((rc = client_command(c, BLOCK_ARGC, argv, lens, &r, err)) != 0)
        return rc;
    return block_reply(c, r, reply_key, id, out, err);
}

/* rhai_wait: look at the hash, block on the reply list for a slice,
 * again until the deadline; a lost connection is retried with backoff. */
static int wait_for(rhai_client *c, const char *id, int64_t timeout_ms,
                    rhai_result **out, rhai_error *err)
{
    char task_key[RH_KEY_MAX], reply_key[RH_KEY_MAX], worker[RH_NAME_MAX + 1];
    int64_t deadline, now, backoff = RHAI__BACKOFF_MIN_MS;
    rhai_result *res = NULL;
    int rc, elsewhere = 0;

    if (out)
        *out = NULL;
    if (c == NULL || out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client or out is NULL");
    if (!rh_name_valid(id))
        return rh_error_set(err, RHAI_EINVAL, "invalid task id");
    deadline = timeout_ms > 0 ? rh_mono_ms() + timeout_ms : INT64_MAX;
    worker[0] = '\0';

    for (;;) {
        if (worker[0] == '\0') {
            /* the worker id first (a lost connection is retried below) */
            rc = worker_of(c, id, worker, err);
            if (rc == 0) {
                rh_key_task(task_key, c->prefix, worker, id);
                rh_key_reply(reply_key, c->prefix, worker, id);
            } else if (rc != RHAI_ECONN) {
                return rc;
            }
            if (rc != 0)
                goto lost;
        }
        now = rh_mono_ms();
        if (c->link == NULL && deadline - now < RHAI__CONNECT_TIMEOUT_MS)
            rc = client_open(c, deadline - now > 1 ? deadline - now : 1, err);
        else
            rc = 0;                         /* wait_check connects if need be */
        if (rc == 0)
            rc = wait_check(c, task_key, reply_key, &elsewhere, &res, err);
        if (rc == 1) {
            /* A task replying to another list (a shared one) never answers
             * on the default list: poll its hash more often instead. */
            int64_t slice = elsewhere ? RHAI__WAIT_POLL_MS : RHAI__WAIT_SLICE_MS;
            backoff = RHAI__BACKOFF_MIN_MS;
            now = rh_mono_ms();
            if (now >= deadline)
                return rh_error_set(err, RHAI_ETIMEOUT, "no result for task %s within %lld ms",
                                    id, (long long)timeout_ms);
            rc = wait_block(c, reply_key, id, deadline - now < slice ? deadline - now : slice,
                            &res, err);
            if (rc == 1)
                continue;                   /* look at the hash again */
        }
        if (rc == 0) {
            *out = res;
            return 0;
        }
        if (rc != RHAI_ECONN)
            return rc;
    lost:
        /* Connection lost or refused: keep trying until the deadline. */
        now = rh_mono_ms();
        if (now >= deadline)
            return rc;                      /* err says what failed last */
        rh_log(RH_LOG_DEBUG, "event=wait_retry task=%s backoff_ms=%lld %s", id,
               (long long)backoff, err ? err->msg : "");
        nap_ms(deadline - now < backoff ? deadline - now : backoff);
        backoff = backoff * 2 > RHAI__BACKOFF_MAX_MS ? RHAI__BACKOFF_MAX_MS : backoff * 2;
    }
}

RHAI_API int rhai_wait(rhai_client *c, const char *id, int64_t timeout_ms,
                       rhai_result **out, rhai_error *err)
{
    return wait_for(c, id, timeout_ms, out, err);
}

/* A task with the default reply list is submitted with the first BLMOVE
 * of its answer behind it, in one write: a short task's answer comes back
 * in one round trip. When that slice passes without one (or its
 * connection broke), rhai_wait takes over until the deadline. */
RHAI_API int rhai_run(rhai_client *c, const rhai_task *t, int64_t extra_ms,
                      rhai_result **out, rhai_error *err)
{
    char id[RHAI_ID_MAX];
    int64_t timeout, t0 = rh_mono_ms();
    int rc;

    if (out)
        *out = NULL;
    if (t == NULL || out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "task or out is NULL");
    /* a delayed or retried task answers later: its delay and retries count */
    timeout = rhai__task_wait(t, extra_ms > 0 ? extra_ms : 0, rh_now_ms());
    rc = submit_and_block(c, t, id,
                          t->reply_to != NULL ? 0 :
                          timeout < RHAI__WAIT_SLICE_MS ? timeout : RHAI__WAIT_SLICE_MS,
                          out, err);
    if (rc != 0 || *out != NULL)
        return rc;
    timeout -= rh_mono_ms() - t0;
    return wait_for(c, id, timeout > 1 ? timeout : 1, out, err);
}

/* ======================== status ======================== */

RHAI_API int rhai_task_status(rhai_client *c, const char *id, rhai_result **out,
                              rhai_error *err)
{
    char key[RH_KEY_MAX], worker[RH_NAME_MAX + 1];
    const char *argv[2] = { "HGETALL", key };
    size_t lens[2];
    const char **names = NULL, **vals = NULL;
    size_t *vlens = NULL, n;
    redisReply *r;
    int rc;

    if (out)
        *out = NULL;
    if (c == NULL || out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client or out is NULL");
    if (!rh_name_valid(id))
        return rh_error_set(err, RHAI_EINVAL, "invalid task id");
    if ((rc = worker_of(c, id, worker, err)) != 0)
        return rc;
    rh_key_task(key, c->prefix, worker, id);
    lens[0] = 7;
    lens[1] = strlen(key);
    if ((rc = client_command(c, 2, argv, lens, &r, err)) != 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        rc = reply_unexpected(c, r, "HGETALL", err);
        goto out;
    }
    if (r->elements == 0) {
        rc = rh_error_set(err, RHAI_ENOTFOUND, "no task %s (unknown or expired)", id);
        goto out;
    }
    n = r->elements / 2;
    names = rh_calloc(n, sizeof *names);
    vals = rh_calloc(n, sizeof *vals);
    vlens = rh_calloc(n, sizeof *vlens);
    if (!names || !vals || !vlens) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *k = r->element[2 * i], *v = r->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            rc = reply_unexpected(c, k->type != REDIS_REPLY_STRING ? k : v, "HGETALL", err);
            goto out;
        }
        names[i] = k->str;
        vals[i] = v->str;
        vlens[i] = v->len;
    }
    rc = rhai__result_from_pairs(names, vals, vlens, n, out, err);
out:
    rh_free(names);
    rh_free(vals);
    rh_free(vlens);
    freeReplyObject(r);
    return rc;
}

/* ======================== cancel ======================== */

/* docs/protocol.md, "Cancelling a queued task", in one atomic step. The
 * reply has the fields and JSON types of the worker's (rh_task_reply_json):
 * strings or null, numbers for attempts and timestamps, null output.
 * KEYS[1] task hash. ARGV[1] prefix, ARGV[2] id, ARGV[3] now ms, ARGV[4]
 * ttl ms, ARGV[5] events channel. A scheduled task (delayed, or waiting
 * for a retry) leaves the delayed set of its worker id and is cancelled as
 * a queued one is. Returns 1 (cancelled), 2 (running: the
 * worker is asked to kill it), 0 (no such task) or the status that refuses
 * the cancel. */
static const char cancel_lua[] =
    RH_LUA_KEYS
    RH_LUA_CANCEL_QUEUED
    "local tk, p, id = KEYS[1], ARGV[1], ARGV[2]\n"
    "if redis.call('EXISTS', tk) == 0 then return 0 end\n"
    "local v = redis.call('HMGET', tk, " RH_LUA_CANCEL_FIELDS ")\n"
    "local st = v[1] or 'queued'\n"
    "if st == 'running' or st == 'claimed' then\n"
    "  redis.call('HSET', tk, 'cancel_requested', ARGV[3])\n"
    "  return 2\n"
    "end\n"
    "if st == 'scheduled' then\n"
    "  redis.call('ZREM', k_delayed(p, tag(tk)), id)\n"
    "elseif st ~= 'queued' then\n"
    "  return st\n"
    "else\n"
    "  redis.call('LREM', k_queue(p, tag(tk)), 0, id)\n"
    "end\n"
    "cancel_queued(p, tag(tk), id, v, tonumber(ARGV[3]), ARGV[4], ARGV[5], 'cancelled by client')\n"
    "return 1\n";

/* A task cancelled here is final: its lookup hint gets the hash's TTL
 * (as rhaid does for the tasks it answers), not the submit's 7 days.
 * Another slot: a command of its own, best effort (the cancel stands
 * whatever it answers). */
static void hint_follows(rhai_client *c, const char *id, const char *ttl)
{
    char key[RH_KEY_MAX];
    const char *argv[3] = { "PEXPIRE", key, ttl };
    size_t lens[3];
    redisReply *r = NULL;
    rhai_error e;

    rh_key_taskw(key, c->prefix, id);
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    if (client_command(c, 3, argv, lens, &r, &e) == 0)
        freeReplyObject(r);
}

RHAI_API int rhai_cancel(rhai_client *c, const char *id, rhai_error *err)
{
    char key[RH_KEY_MAX], events[RH_KEY_MAX], now[24], ttl[24], worker[RH_NAME_MAX + 1];
    const char *argv[9] = { "EVAL", cancel_lua, "1", key, NULL, id, now, ttl, events };
    size_t lens[9];
    redisReply *r;
    int rc;

    if (c == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client is NULL");
    if (!rh_name_valid(id))
        return rh_error_set(err, RHAI_EINVAL, "invalid task id");
    argv[4] = c->prefix;
    if ((rc = worker_of(c, id, worker, err)) != 0)
        return rc;
    rh_key_task(key, c->prefix, worker, id);
    rh_key_events(events, c->prefix);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(ttl, sizeof ttl, "%lld", (long long)RHAI__CANCEL_TTL_MS);
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    if ((rc = client_command(c, 9, argv, lens, &r, err)) != 0)
        return rc;
    if (r->type == REDIS_REPLY_INTEGER && (r->integer == 1 || r->integer == 2))
        rc = 0;
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        rc = rh_error_set(err, RHAI_ENOTFOUND, "no task %s (unknown or expired)", id);
    else if (r->type == REDIS_REPLY_STRING)
        rc = rh_error_set(err, RHAI_ESTATE, "task %s is %s, only queued or running "
                          "tasks can be cancelled (or scheduled ones)", id, r->str);
    else
        rc = reply_unexpected(c, r, "cancel script", err);
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        hint_follows(c, id, ttl);           /* cancelled here: final now */
    freeReplyObject(r);
    return rc;
}

/* ======================== for the other files of the library ======================== */

int rhai__client_command(rhai_client *c, int argc, const char **argv, const size_t *lens,
                         redisReply **reply, rhai_error *err)
{
    return client_command(c, argc, argv, lens, reply, err);
}

RHAI_API int rhai_client_remember(rhai_client *c, const char *id, const char *worker_id)
{
    if (c == NULL || !rh_name_valid(id) || !rh_name_valid(worker_id))
        return RHAI_EINVAL;
    rhai__wcache_put(&c->wcache, id, worker_id);
    return 0;
}

void rhai__client_remember(rhai_client *c, const char *id, const char *worker, int64_t delay_ms)
{
    char key[RH_KEY_MAX], ttl[24];
    const char *argv[5] = { "SET", key, worker, "PX", ttl };
    size_t lens[5];
    redisReply *r;

    rhai__wcache_put(&c->wcache, id, worker);
    rh_key_taskw(key, c->prefix, id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)RH_TASKW_TTL_MS + (long long)delay_ms);
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    if (client_command(c, 5, argv, lens, &r, NULL) == 0)
        freeReplyObject(r);               /* best effort: the hint only helps lookups */
}

const char *rhai__client_prefix(const rhai_client *c)
{
    return c->prefix;
}
