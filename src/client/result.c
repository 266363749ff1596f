/* result.c -- rhai_result: an immutable view of a task's final state.
 *
 * A result is an rh_task (the common task model) plus its reply JSON, built
 * either from a reply pushed by a worker or from the task hash. Both carry
 * the same fields (docs/protocol.md, "The reply"), so accessors do not care
 * where a result came from. */
#include <string.h>

#include "client_int.h"

const char *const rhai__reply_fields[] = {
    "id", "status", "output", "error", "error_kind", "logs", "worker_id",
    "instance", "attempts", "created_at", "started_at", "finished_at", NULL
};

int rhai__result_from_task(rh_task *t, rhai_result **out)
{
    rhai_result *r = rh_calloc(1, sizeof *r);

    if (r == NULL || (r->json = rh_task_reply_json(t)) == NULL) {
        rh_free(r);
        rh_task_clear(t);
        return RHAI_ENOMEM;
    }
    r->t = *t;                              /* steal every field */
    rh_task_init(t);
    *out = r;
    return 0;
}

int rhai__result_from_reply(const char *text, size_t len, rhai_result **out,
                            rhai_error *err)
{
    rh_task t;
    int rc;

    rhai_result *r;

    rh_task_init(&t);
    if ((rc = rh_task_from_reply(&t, text, len, err)) != 0) {
        rh_task_clear(&t);
        return rc;
    }
    /* The reply already is the JSON: keep it rather than build it again
     * (this is the async client's per-reply cost). */
    if ((r = rh_calloc(1, sizeof *r)) == NULL || (r->json = rh_strndup(text, len)) == NULL) {
        rh_free(r);
        rh_task_clear(&t);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    r->t = t;
    *out = r;
    return 0;
}

int rhai__result_from_pairs(const char *const *names, const char *const *vals,
                            const size_t *lens, size_t n, rhai_result **out,
                            rhai_error *err)
{
    rh_task t;
    int rc;

    rh_task_init(&t);
    t.status = RHAI_STATUS_QUEUED;          /* protocol: absent means queued */
    for (size_t i = 0; i < n; i++) {
        if (vals[i] == NULL)
            continue;                        /* HMGET: absent field */
        rc = rh_task_set_field(&t, names[i], vals[i], lens[i]);
        if (rc != 0) {
            rh_task_clear(&t);
            if (rc == RHAI_ENOMEM)
                return rh_error_set(err, rc, "out of memory");
            return rh_error_set(err, RHAI_EPROTO, "task field '%s' has a bad value '%.*s'",
                                names[i], (int)(lens[i] > 40 ? 40 : lens[i]), vals[i]);
        }
    }
    if ((rc = rhai__result_from_task(&t, out)) != 0)
        return rh_error_set(err, rc, "out of memory");
    return 0;
}

/* ======================== accessors ======================== */

RHAI_API void rhai_result_free(rhai_result *r)
{
    if (r == NULL)
        return;
    rh_task_clear(&r->t);
    rh_free(r->json);
    rh_free(r);
}

RHAI_API rhai_status rhai_result_status(const rhai_result *r)
{
    return r ? r->t.status : RHAI_STATUS_UNKNOWN;
}

RHAI_API const char *rhai_result_status_name(const rhai_result *r)
{
    return rh_status_str(rhai_result_status(r));
}

RHAI_API const char *rhai_result_id(const rhai_result *r)
{
    return r ? r->t.id : NULL;
}

RHAI_API const char *rhai_result_output(const rhai_result *r)
{
    return r ? r->t.output : NULL;
}

RHAI_API const char *rhai_result_error(const rhai_result *r)
{
    return r ? r->t.error : NULL;
}

RHAI_API const char *rhai_result_error_kind(const rhai_result *r)
{
    return r && r->t.error_kind != RH_EK_NONE ? rh_kind_str(r->t.error_kind) : NULL;
}

RHAI_API const char *rhai_result_logs(const rhai_result *r)
{
    return r ? r->t.logs : NULL;
}

RHAI_API const char *rhai_result_worker(const rhai_result *r)
{
    return r ? r->t.worker_id : NULL;
}

RHAI_API const char *rhai_result_instance(const rhai_result *r)
{
    return r ? r->t.instance : NULL;
}

RHAI_API int rhai_result_attempts(const rhai_result *r)
{
    return r ? r->t.attempts : 0;
}

RHAI_API int64_t rhai_result_created_at(const rhai_result *r)
{
    return r ? r->t.created_at : 0;
}

RHAI_API int64_t rhai_result_started_at(const rhai_result *r)
{
    return r ? r->t.started_at : 0;
}

RHAI_API int64_t rhai_result_finished_at(const rhai_result *r)
{
    return r ? r->t.finished_at : 0;
}

RHAI_API const char *rhai_result_json(const rhai_result *r)
{
    return r ? r->json : NULL;
}

RHAI_API const char *rhai_status_name(rhai_status s)
{
    return rh_status_str(s);
}
