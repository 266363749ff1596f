/* rhai/client.h -- synchronous client for rhailib workers.
 *
 * One rhai_client owns one blocking Redis connection (hiredis). It is not
 * thread-safe: use one client per thread, or serialise calls yourself.
 * Distinct clients are independent and may be used from different threads.
 * Every function that can fail returns 0 or a negative RHAI_E* code and, when
 * 'err' is not NULL, fills it with detail. Out-parameters are written only on
 * success, except owning out-pointers, which are set to NULL on failure.
 * The library prints nothing; see rhai/log.h for its log lines. */
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

/* rhai_status is in error.h (shared with the internal code). */

/* ---- connection ---------------------------------------------------------
 * 'url': "redis://[user:pass@]host[:port][/db]",
 * "rediss://...[?ca=F&cert=F&key=F&sni=N&verify=no]" (TLS; the
 * RHAI_REDIS_TLS_* variables too: docs/operations.md, Redis over TLS) or
 * "unix:///path/to.sock[?db=N]"; NULL means $RHAI_REDIS_URL, else
 * redis://127.0.0.1:6379. 'prefix' is the key prefix (NULL: "rhai"; 1..64
 * of [A-Za-z0-9_.:@-]). Connects, AUTHs and SELECTs at once, blocking at
 * most 5 s. On success *out is new, freed with rhai_client_free(); on
 * failure *out is NULL. Errors: RHAI_EINVAL ('out' NULL, bad url or
 * prefix), RHAI_ECONN (unreachable or silent past the 5 s, or AUTH or
 * SELECT refused), RHAI_ETLS (a TLS file that cannot be loaded, a server
 * certificate not verified, a client certificate required), RHAI_ENOMEM.
 * Passwords never appear in error messages.
 * A Redis that dies under a write is RHAI_ECONN, never a SIGPIPE: the
 * library blocks SIGPIPE in the calling thread around its writes (both
 * clients) and takes back one that a write raised; the process's own
 * SIGPIPE handling is left as it is. */
RHAI_API int rhai_client_connect(const char *url, const char *prefix,
                                 rhai_client **out, rhai_error *err);
RHAI_API void rhai_client_free(rhai_client *client);   /* NULL: no-op */

/* ---- task builder ------------------------------------------------------
 * A task is a script plus where and how to run it. Nothing here talks to
 * Redis: a built task is valid for any client and can be submitted any
 * number of times. Setters validate and copy their arguments (the caller
 * keeps its strings); on any failure the task is left exactly as it was.
 * None of them takes an rhai_error: the code says it all. A task may be
 * read by several submits at once (it is const there), from any threads,
 * but not changed while another thread uses it.
 * Defaults: worker "default", context "default", caller "anonymous",
 * args {}, timeout 30000 ms, a fresh id at each submit, reply list
 * <prefix>:reply:{ID}, unsigned. */

/* A new task running 'script' (JavaScript ES5 source, copied; not parsed
 * here: a syntax error comes back as the result's error, kind "script").
 * On success *out is new, freed with rhai_task_free(); on failure *out is
 * NULL (when 'out' is not NULL). Errors: RHAI_EINVAL ('out' NULL, 'script'
 * NULL or ""), RHAI_ETOOBIG (longer than 64 MiB; a worker refuses scripts
 * over its max_script, 1 MiB by default, with error_kind "invalid"),
 * RHAI_ENOMEM. */
RHAI_API int  rhai_task_new(const char *script, rhai_task **out);
RHAI_API void rhai_task_free(rhai_task *task);          /* NULL: no-op */

/* Each setter returns 0, RHAI_EINVAL ('t' NULL or a value outside the rule
 * given), or RHAI_ENOMEM.
 * worker_id:  the queue the task goes to; 1..128 of [A-Za-z0-9_.:@-].
 * context_id: the same characters, at most 100, not starting with '.',
 *             without "..".
 * caller_id:  1..256 printable ASCII characters other than space.
 *             RHAI_ESTATE on a signed task, whose caller is its key's
 *             public key, for any other caller.
 * args_json:  any JSON value (object, array, string, number...), kept as
 *             given and exposed to the script as 'args'. Not bounded here;
 *             a worker answers args over its max_args (1 MiB by default)
 *             with error_kind "invalid".
 * timeout_ms: wall-clock limit of one run, 1..86400000; a worker cuts it
 *             to its max_timeout_ms (1 hour by default). 0: none sent, the
 *             worker applies its default_timeout_ms. rhai_run and
 *             rhai_async_submit wait by it (30000 ms for 0, as for the
 *             default: raise their margin if the worker's is longer).
 * id:         1..128 of [A-Za-z0-9_.:@-], or NULL to go back to a fresh
 *             random id per submit. Set one to follow a task after a
 *             failed submit (see rhai_submit). Ids must be unique: a
 *             context refuses a second task with an id it recorded
 *             (docs/protocol.md), and submitting an id whose task hash
 *             still exists overwrites that hash (not detected here).
 * list_key:   the list the worker pushes the reply to, printable ASCII
 *             without spaces and shorter than RH_KEY_MAX (512); NULL
 *             restores the default. It must start with "<prefix>:reply:"
 *             of the client that submits: rhai_submit checks (EINVAL). */
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
/* Delayed tasks and retries (docs/scheduling.md).
 * rhai_task_set_run_at: run the task no sooner than 'run_at_ms' (unix ms).
 *   A submit whose run_at is ahead writes the task with status `scheduled`
 *   into the worker's delayed set (<prefix>:delayed:{W}) instead of its
 *   queue; rhaid instances move it to the queue once due (within
 *   about 100 ms, docs/scheduling.md). A past run_at, or 0 (the default,
 *   which also forgets an earlier one), is an ordinary task. Replaces a
 *   delay set before. RHAI_EINVAL when negative or past year 9999.
 * rhai_task_set_delay_ms: the same, 'delay_ms' after each submit (0: none).
 *   RHAI_EINVAL when negative or over 366 days.
 * rhai_task_set_retries: run the task up to 'retries' more times (0..100,
 *   default 0) after an attempt that failed with error_kind script, timeout
 *   or memory (never denied, invalid, cancelled, crashed, internal). Each
 *   retry is a delayed re-run of the same task id after the backoff; the
 *   reply comes once, after the last attempt, and the task hash keeps each
 *   attempt's error (field errors). The script sees its attempt number in
 *   ctx.attempt (1-based). A task whose retries ran out goes to the
 *   worker's dead set (<prefix>:dead:{W}). RHAI_EINVAL when out of range.
 * rhai_task_set_backoff: the pause before each retry, "fixed:MS" or
 *   "exp:BASE:CAP" (ms: min(CAP, BASE * 2^(k-1)) before retry k, drawn in
 *   [d/2, d]); NULL: the default "exp:1000:60000". Every number is at most
 *   7 days. RHAI_EINVAL for any other text, RHAI_ENOMEM. */
RHAI_API int  rhai_task_set_run_at(rhai_task *t, int64_t run_at_ms);
RHAI_API int  rhai_task_set_delay_ms(rhai_task *t, int64_t delay_ms);
RHAI_API int  rhai_task_set_retries(rhai_task *t, int retries);
RHAI_API int  rhai_task_set_backoff(rhai_task *t, const char *spec);
/* Sign the task with an Ed25519 secret key (128 hex characters, as
 * rhai_keygen() makes): its caller becomes the key's public key (64 hex)
 * and each submit adds a signature over (id, worker, context, caller,
 * sha256 of script, sha256 of args, created_at). Workers configured with
 * require_signatures refuse unsigned, tampered, wrong-key, expired and
 * replayed tasks (error_kind denied). NULL removes the key (the caller
 * stays the public key until set again). The key is copied, and its copy
 * wiped when it is replaced, removed or the task freed. RHAI_EINVAL ('t'
 * NULL or a bad key), RHAI_ENOMEM. */
RHAI_API int rhai_task_set_signing_key(rhai_task *t, const char *secret_key_hex);
/* A new Ed25519 key pair as lowercase hex, NUL-terminated, into the
 * caller's buffers. 0, or RHAI_EINTERNAL when libsodium cannot start. */
RHAI_API int rhai_keygen(char public_hex[65], char secret_hex[129]);

/* The id set with rhai_task_set_id(), or NULL: a task without one gets a
 * fresh id at each rhai_submit() (returned in id_out, and by
 * rhai_result_id()), so one builder can submit many tasks. Borrowed, valid
 * until the task is freed or its id is set again. */
RHAI_API const char *rhai_task_id(const rhai_task *t);

/* ---- sync operations ----------------------------------------------------
 * Each blocks the calling thread on the client's connection: connecting
 * (when the last call lost it) takes at most 5 s, one command at most 10 s
 * without an answer. Only rhai_wait (and the wait of rhai_run) retries a
 * lost connection by itself; every other call fails with RHAI_ECONN and
 * the next call connects again. RHAI_EPROTO means Redis answered with an
 * error or something unexpected (a refused command, Redis < 6.2, a key of
 * another type); RHAI_EINVAL a NULL client, task or out, or a bad id.
 * On failure 'err' (may be NULL) holds the detail and rhai_result out
 * pointers are NULL. */

/* Queue 't': one round trip of HSET <prefix>:task:{ID} (every field of
 * docs/protocol.md) and LPUSH <prefix>:queue:{W} ID, pipelined. On success
 * copies the id into 'id_out' (RHAI_ID_MAX bytes, may be NULL), which is
 * not written on failure. Success means Redis holds the task; a worker of
 * 't''s worker id takes it when one runs (none may: see rhaictl workers).
 * Errors:
 *   RHAI_EINVAL  NULL client or task, or a reply_to outside
 *                "<prefix>:reply:" of this client;
 *   RHAI_ECONN   the task was not sent (no connection: err->msg begins
 *                "task ID was not sent"), or it was sent and no answer
 *                came ("task ID may have been queued"): then it may be
 *                queued and run. To find out, set the id yourself first;
 *                rhai_task_status() then answers RHAI_ENOTFOUND when the
 *                task was not queued. Do not resubmit the same id blindly:
 *                a task queued twice may run twice;
 *   RHAI_EPROTO  Redis refused HSET or LPUSH (e.g. OOM, NOAUTH, a queue
 *                key of another type). If only LPUSH was refused the hash
 *                exists, status "queued", on no queue: cancel it;
 *   RHAI_ENOMEM; RHAI_EIO (no random id: getrandom failed); a signing
 *   failure (RHAI_EINVAL, RHAI_ENOMEM). */
RHAI_API int rhai_submit(rhai_client *c, const rhai_task *t,
                         char id_out[RHAI_ID_MAX], rhai_error *err);

/* Block up to 'timeout_ms' (<= 0: forever) for the final result of task
 * 'id' (done, error, timeout or cancelled: a failed script is a success
 * here, with the failure in the result). Waiting does not consume the
 * reply: several waiters, or a second wait, all see it. A lost or refused
 * connection is retried with backoff (100 ms doubling to 1 s) until the
 * deadline. On success *out is new (rhai_result_free). Errors:
 * RHAI_ETIMEOUT (the deadline passed; the task goes on), RHAI_ENOTFOUND
 * (no such task, or its hash expired: result_ttl_ms, 1 day by default),
 * RHAI_ECONN (still no connection at the deadline), RHAI_EPROTO,
 * RHAI_EINVAL, RHAI_ENOMEM. */
RHAI_API int rhai_wait(rhai_client *c, const char *id, int64_t timeout_ms,
                       rhai_result **out, rhai_error *err);

/* rhai_submit() then rhai_wait() for the task's timeout_ms plus 'extra_ms'
 * (<= 0: plus nothing) in all, counted from the call, plus a delayed
 * task's delay and, for a task with retries, one more timeout and the
 * backoff's cap per retry (docs/scheduling.md). With the default
 * reply list the first second of waiting travels in the submit's round
 * trip. On success *out is new and holds the final result, whatever its
 * status (a script that threw is 0 here, with status "error"). Errors are
 * rhai_submit's (the task is not, or maybe, queued) and rhai_wait's (it
 * is queued: with RHAI_ETIMEOUT or RHAI_ECONN it may still run; it is not
 * cancelled). Only a task whose id you set can be followed up after a
 * failure, with rhai_wait(), rhai_task_status() or rhai_cancel(). */
RHAI_API int rhai_run(rhai_client *c, const rhai_task *t, int64_t extra_ms,
                      rhai_result **out, rhai_error *err);

/* Current state of task 'id', final or not (queued, claimed, running:
 * the result fields not yet set are NULL or 0). One HGETALL. *out is new.
 * Errors:
 * RHAI_ENOTFOUND (no such task, or expired), RHAI_ECONN, RHAI_EPROTO (also
 * a field whose number does not parse), RHAI_EINVAL, RHAI_ENOMEM. */
RHAI_API int rhai_task_status(rhai_client *c, const char *id,
                              rhai_result **out, rhai_error *err);

/* Cancel a task. A queued task ends "cancelled" at once, with a reply. A
 * running or claimed task is marked; its worker kills the executor at its next
 * heartbeat (heartbeat_ms, default 1 s) and answers it "cancelled"; wait
 * for that reply with rhai_wait(). 0 says the cancel was applied or
 * requested, not that the task has ended. RHAI_ESTATE when the task already
 * finished, RHAI_ENOTFOUND when it does not exist, RHAI_ECONN, RHAI_EPROTO,
 * RHAI_EINVAL. */
RHAI_API int rhai_cancel(rhai_client *c, const char *id, rhai_error *err);

/* Tell 'c' that task 'id' belongs to worker id 'worker_id' (protocol 2: a
 * task's keys carry its worker id). rhai_wait, rhai_task_status and
 * rhai_cancel with an id alone know the worker of the ids this client
 * submitted, and look any other up in the hint the submit wrote
 * (docs/protocol.md, "Finding a task by id"); this is for an id that has
 * none (expired, or made by other means). RHAI_EINVAL for invalid names. */
RHAI_API int rhai_client_remember(rhai_client *c, const char *id, const char *worker_id);

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
