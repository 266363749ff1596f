/* rhai/client.h -- synchronous client for rhailib workers.
 *
 * One rhai_client owns one blocking Redis connection (hiredis). It is not
 * thread-safe: use one client per thread, or serialise calls yourself.
 * Distinct clients are independent and may be used from different threads.
 * Every function that can fail returns 0 or a negative RHAI_E* code and, when
 * 'err' is not NULL, fills it with detail. Out-parameters are written only on
 * success, except owning out-pointers, which are set to NULL on failure. */
#ifndef RHAI_CLIENT_H
#define RHAI_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RHAI_ID_MAX 129        /* task ids: 1..128 chars of [A-Za-z0-9_.:@-] */
#define RHAI_DEFAULT_WORKER "default"

typedef struct rhai_client rhai_client;   /* opaque */
typedef struct rhai_task   rhai_task;     /* opaque task builder */
typedef struct rhai_result rhai_result;   /* opaque, immutable result */

typedef enum rhai_status {
    RHAI_STATUS_UNKNOWN = 0,
    RHAI_STATUS_QUEUED,
    RHAI_STATUS_RUNNING,
    RHAI_STATUS_DONE,
    RHAI_STATUS_ERROR,
    RHAI_STATUS_TIMEOUT,
    RHAI_STATUS_CANCELLED,
    RHAI_STATUS_CLAIMED     /* taken by an instance, not started yet */
} rhai_status;

/* ---- connection ---------------------------------------------------------
 * 'url': "redis://[user:pass@]host[:port][/db]" or "unix:///path/to.sock";
 * NULL means $RHAI_REDIS_URL, else redis://127.0.0.1:6379. 'prefix' is the
 * key prefix (NULL: "rhai"). On success *out is new, freed with
 * rhai_client_free(). Errors: RHAI_EINVAL (bad url), RHAI_ECONN, RHAI_ENOMEM.
 * A Redis that dies under a write is RHAI_ECONN, never a SIGPIPE: the
 * library blocks SIGPIPE in the calling thread around its writes (both
 * clients) and takes back one that a write raised; the process's own
 * SIGPIPE handling is left as it is. */
RHAI_API int rhai_client_connect(const char *url, const char *prefix,
                                 rhai_client **out, rhai_error *err);
RHAI_API void rhai_client_free(rhai_client *client);   /* NULL: no-op */

/* ---- task builder ------------------------------------------------------
 * A task is a script plus where and how to run it. Setters copy their
 * arguments. rhai_task_set_args() takes JSON text and rejects text that is
 * not valid JSON with RHAI_EINVAL. Ids are 1..128 of [A-Za-z0-9_.:@-]; a
 * context id at most 100 of them, not starting with '.', without "..";
 * others are RHAI_EINVAL. Defaults: worker "default", context
 * "default", caller "anonymous", args {}, timeout 30000 ms, id generated.
 * rhai_task_set_timeout() takes 1..86400000 ms, or 0 for none: the task
 * then carries no timeout_ms and the worker applies its own
 * default_timeout_ms (rhai_run() and the async submit then wait 30000 ms
 * plus their margin, as for the default). */
RHAI_API int  rhai_task_new(const char *script, rhai_task **out);
RHAI_API void rhai_task_free(rhai_task *task);          /* NULL: no-op */
RHAI_API int  rhai_task_set_worker(rhai_task *t, const char *worker_id);
RHAI_API int  rhai_task_set_context(rhai_task *t, const char *context_id);
RHAI_API int  rhai_task_set_caller(rhai_task *t, const char *caller_id);
RHAI_API int  rhai_task_set_args(rhai_task *t, const char *args_json);
RHAI_API int  rhai_task_set_timeout(rhai_task *t, int64_t timeout_ms);
RHAI_API int  rhai_task_set_id(rhai_task *t, const char *id);  /* optional */
RHAI_API int  rhai_task_set_reply_to(rhai_task *t, const char *list_key);
/* Record that this task retries task 'id' (a task name: 1..128 of
 * [A-Za-z0-9_.:@-]): each submit writes field retry_of = 'id' into the new
 * task's hash. Informational: workers ignore it; `rhaictl task show`
 * prints it. NULL forgets it. RHAI_EINVAL for a bad id, RHAI_ENOMEM. */
RHAI_API int  rhai_task_set_retry_of(rhai_task *t, const char *id);
/* Sign the task with an Ed25519 secret key (128 hex characters, as
 * rhai_keygen() makes): its caller becomes the key's public key (64 hex)
 * and each submit adds a signature over (id, worker, context, caller,
 * sha256 of script, sha256 of args, created_at). Workers configured with
 * require_signatures refuse unsigned, tampered, wrong-key, expired and
 * replayed tasks (error_kind denied). NULL removes the key. The key is
 * copied, and wiped when the task is freed. RHAI_EINVAL for a bad key. */
RHAI_API int rhai_task_set_signing_key(rhai_task *t, const char *secret_key_hex);
/* A new Ed25519 key pair as lowercase hex. 0 or RHAI_EINTERNAL. */
RHAI_API int rhai_keygen(char public_hex[65], char secret_hex[129]);

/* The id set with rhai_task_set_id(), or NULL: a task without one gets a
 * fresh id at each rhai_submit() (returned in id_out, and by
 * rhai_result_id()), so one builder can submit many tasks. Borrowed, valid
 * until the task is freed or its id is set again. */
RHAI_API const char *rhai_task_id(const rhai_task *t);

/* ---- sync operations ---------------------------------------------------- */

/* Queue 't' (one pipelined round trip: HSET task hash, LPUSH its id). On
 * success copies the id into 'id_out' (RHAI_ID_MAX bytes, may be NULL). */
RHAI_API int rhai_submit(rhai_client *c, const rhai_task *t,
                         char id_out[RHAI_ID_MAX], rhai_error *err);

/* Block up to 'timeout_ms' (<= 0: forever) for the final result of task
 * 'id'. Waiting does not consume the reply: several waiters, or a second
 * wait, all see it. Survives Redis reconnects within the deadline.
 * *out is new (rhai_result_free). RHAI_ETIMEOUT when the deadline passes,
 * RHAI_ENOTFOUND when the task does not exist. */
RHAI_API int rhai_wait(rhai_client *c, const char *id, int64_t timeout_ms,
                       rhai_result **out, rhai_error *err);

/* Submit + wait; waits the task's own timeout plus 'extra_ms'. */
RHAI_API int rhai_run(rhai_client *c, const rhai_task *t, int64_t extra_ms,
                      rhai_result **out, rhai_error *err);

/* Current state of a task, final or not. *out is new. RHAI_ENOTFOUND. */
RHAI_API int rhai_task_status(rhai_client *c, const char *id,
                              rhai_result **out, rhai_error *err);

/* Cancel a task. A queued task ends "cancelled" at once, with a reply. A
 * running task is marked; its worker kills the executor at its next
 * heartbeat (heartbeat_ms, default 1 s) and answers it "cancelled"; wait
 * for that reply with rhai_wait(). RHAI_ESTATE when the task already
 * finished, RHAI_ENOTFOUND when it does not exist. */
RHAI_API int rhai_cancel(rhai_client *c, const char *id, rhai_error *err);

/* ---- results ------------------------------------------------------------
 * Accessors return borrowed strings valid until rhai_result_free(); NULL
 * when the field is absent. */
RHAI_API void        rhai_result_free(rhai_result *r);   /* NULL: no-op */
RHAI_API rhai_status rhai_result_status(const rhai_result *r);
RHAI_API const char *rhai_result_status_name(const rhai_result *r);
RHAI_API const char *rhai_result_id(const rhai_result *r);
RHAI_API const char *rhai_result_output(const rhai_result *r); /* JSON text */
RHAI_API const char *rhai_result_error(const rhai_result *r);
RHAI_API const char *rhai_result_error_kind(const rhai_result *r);
RHAI_API const char *rhai_result_logs(const rhai_result *r);
RHAI_API const char *rhai_result_worker(const rhai_result *r);
RHAI_API const char *rhai_result_instance(const rhai_result *r);
RHAI_API int         rhai_result_attempts(const rhai_result *r);
RHAI_API int64_t     rhai_result_created_at(const rhai_result *r);
RHAI_API int64_t     rhai_result_started_at(const rhai_result *r);
RHAI_API int64_t     rhai_result_finished_at(const rhai_result *r);
/* The whole result as one JSON object (the reply of docs/protocol.md). */
RHAI_API const char *rhai_result_json(const rhai_result *r);

RHAI_API const char *rhai_status_name(rhai_status s);

#ifdef __cplusplus
}
#endif
#endif
