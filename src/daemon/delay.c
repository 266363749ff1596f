/* delay.c -- delayed tasks and retries inside rhaid (docs/scheduling.md).
 *
 * Two things: every instance promotes the due tasks of its worker id from
 * the delayed set to the queue (wk_lua_promote, on a timer), so no single
 * scheduler can be lost and the ZREM of the script decides who moves a
 * task; and the finish of a failed run decides whether the task is retried
 * (wk_lua_finish mode 3: back to `scheduled` in the delayed set at now +
 * backoff, no reply), answered with its retries exhausted (mode 2: the
 * reply, and the id in the dead set) or answered as before. */
#include <string.h>
#include <sys/random.h>

#include "daemon.h"

/* ======================== promotion ======================== */

static void promote_send(wk_worker *w);

static void on_promote_timer(uv_timer_t *t)
{
    wk_worker *w = t->data;

    if (!w->promoting && w->cmd.up && !w->stopping)
        promote_send(w);
}

/* The answer: the next call comes WK_PROMOTE_MS after this one (the
 * repeating timer), or sooner: at once when the batch was full, at the
 * due time of the earliest task left when that is nearer. */
static void on_promote(rh_aconn *ac, redisReply *r, void *priv)
{
    static rh_log_limit limit;
    redisReply *reply = r;
    wk_worker *w = priv;
    int64_t next = -1;
    (void)ac;

    w->promoting = 0;
    if (reply == NULL || w->stopping)
        return;                        /* connection lost: the timer goes on */
    if (wk_is_noscript(reply)) {
        wk_scripts_load(w);
        next = 0;                      /* again, as EVAL */
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
               reply->element[0]->type == REDIS_REPLY_INTEGER &&
               reply->element[1]->type == REDIS_REPLY_INTEGER &&
               reply->element[2]->type == REDIS_REPLY_INTEGER) {
        if (reply->element[0]->integer > 0)
            rh_log(RH_LOG_DEBUG, "event=promoted tasks=%lld", reply->element[0]->integer);
        if (reply->element[1]->integer >= WK_PROMOTE_BATCH)
            next = 0;                  /* more are due */
        else if (reply->element[2]->integer >= 0)
            next = reply->element[2]->integer - rh_now_ms();
        if (next < 0 && reply->element[2]->integer >= 0)
            next = 0;
    } else if (rh_log_limit_pass(&limit, "promote", rh_mono_ms(), 30000, NULL)) {
        rh_log(RH_LOG_ERROR, "event=promote_failed reason=\"%s\"",
               RH_LOG_Q(reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
    }
    if (next >= 0 && next < WK_PROMOTE_MS)
        uv_timer_start(&w->promote, on_promote_timer, (uint64_t)next, WK_PROMOTE_MS);
}

static void promote_send(wk_worker *w)
{
    char now[24], batch[16];
    const char *argv[8];
    size_t lens[8];

    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    snprintf(batch, sizeof batch, "%d", WK_PROMOTE_BATCH);
    argv[2] = "2";
    argv[3] = w->k_delayed;
    argv[4] = w->k_queue;
    argv[5] = w->cfg->prefix;
    argv[6] = now;
    argv[7] = batch;
    for (int i = 2; i < 8; i++)
        lens[i] = strlen(argv[i]);
    wk_script_args(w->sha_promote, wk_lua_promote, argv, lens);
    if (wk_conn_argv(&w->cmd, on_promote, w, 8, argv, lens) == 0)
        w->promoting = 1;
}

void wk_delay_init(wk_worker *w)
{
    rh_key_delayed(w->k_delayed, w->cfg->prefix, w->cfg->worker_id);
    if (getrandom(&w->rand_state, sizeof w->rand_state, 0) != sizeof w->rand_state)
        w->rand_state = (uint64_t)rh_mono_us() ^ (uint64_t)rh_now_ms() << 20;
    w->rand_state |= 1;
    uv_timer_init(w->loop, &w->promote);
    w->promote.data = w;
    uv_timer_start(&w->promote, on_promote_timer, WK_PROMOTE_MS, WK_PROMOTE_MS);
}

void wk_delay_close(wk_worker *w, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&w->promote, cb);
}

/* ======================== retries ======================== */

int wk_delay_retryable(rh_error_kind kind)
{
    return kind == RH_EK_SCRIPT || kind == RH_EK_TIMEOUT || kind == RH_EK_MEMORY;
}

/* xorshift64*: the jitter needs spread, not secrecy. */
static uint64_t rand_next(wk_worker *w)
{
    uint64_t x = w->rand_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rand_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Bytes of an attempt's error message kept in 'errors'. */
#define ATTEMPT_ERROR_MAX 1000

/* {"attempt":N,"error_kind":K,"error":E,"at":MS}, E cut to
 * ATTEMPT_ERROR_MAX bytes on a UTF-8 boundary. New, or NULL. */
static char *attempt_entry(const rh_task *t, int attempt, rh_error_kind kind)
{
    char cut[ATTEMPT_ERROR_MAX + 1];
    size_t n = t->error ? strlen(t->error) : 0;
    rh_buf b;
    int bad = 0;

    if (n > ATTEMPT_ERROR_MAX) {
        n = ATTEMPT_ERROR_MAX;
        while (n > 0 && ((unsigned char)t->error[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(cut, t->error, n);
    cut[n] = '\0';
    rh_buf_init(&b);
    bad |= rh_buf_appendf(&b, "{\"attempt\":%d,\"error_kind\":\"%s\",\"error\":", attempt,
                          rh_kind_str(kind));
    bad |= rh_json_str_append(&b, cut);
    bad |= rh_buf_appendf(&b, ",\"at\":%lld}", (long long)t->finished_at);
    if (bad) {
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

int wk_delay_finish_mode(wk_job *j, rh_error_kind kind)
{
    rh_task *t = &j->task;
    int attempt = t->attempt > 0 ? t->attempt : 1;
    rh_backoff b;

    j->fin_mode = t->status == RHAI_STATUS_DONE ? 0 : 1;
    j->retry_due = 0;
    rh_free(j->attempt_error);
    j->attempt_error = NULL;
    if (j->fin_mode == 0 || t->retries <= 0)
        return 0;
    if ((j->attempt_error = attempt_entry(t, attempt, kind)) == NULL)
        return RHAI_ENOMEM;
    if (!wk_delay_retryable(kind) || j->cancelled)
        return 0;                     /* answered as it is: not a retry's matter */
    if (attempt > t->retries) {
        j->fin_mode = 2;              /* retries exhausted: the dead set too */
        return 0;
    }
    /* validated at the claim (rh_task_validate): the default otherwise */
    if (rh_backoff_parse(t->backoff, &b, NULL) != 0)
        rh_backoff_parse(NULL, &b, NULL);
    j->retry_due = t->finished_at + rh_backoff_delay(&b, attempt, rand_next(j->w));
    j->fin_mode = 3;
    return 0;
}
