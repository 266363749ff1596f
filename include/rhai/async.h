/* rhai/async.h -- asynchronous client on a caller-provided libuv loop.
 *
 * One rhai_async holds two Redis connections on the loop: one for submits
 * (pipelined) and one that BLPOPs a reply list private to this client, to
 * which every task it submits replies; replies are matched to requests by
 * task id, so any number of requests can be in flight. All calls must be
 * made from the loop's thread; no function here is thread-safe. */
#ifndef RHAI_ASYNC_H
#define RHAI_ASYNC_H

#include <uv.h>
#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rhai_async rhai_async;     /* opaque */

/* Completion of one submitted task, called on the loop's thread, exactly
 * once per submit that returned 0. 'status' is 0 with 'res' set to the
 * final result, whatever its status (a script that threw is 0 here, with
 * status "error"), or a negative RHAI_E* with 'res' NULL:
 *   RHAI_ETIMEOUT   no reply within the submit's wait_ms; the task is
 *                   queued and may still run (it is not cancelled);
 *   RHAI_ECONN      the submit's own HSET/LPUSH got no answer (the
 *                   connection was lost or never came up): the task may
 *                   or may not be queued, as for rhai_submit(). A
 *                   connection lost after that does not end a request:
 *                   replies wait in Redis, and after a reconnect every
 *                   pending task's hash is read once, so the request ends
 *                   with its result, or RHAI_ETIMEOUT;
 *   RHAI_EPROTO     Redis refused the HSET or the LPUSH;
 *   RHAI_ECANCELED  rhai_async_close() was called.
 * 'res' is borrowed: valid only during the callback. The callback may call
 * rhai_async_submit() and rhai_async_close() on 'a'. */
typedef void (*rhai_done_cb)(rhai_async *a, int status, const rhai_result *res,
                             void *data);
/* Called once when close has finished, on the loop's thread. 'a' is only
 * an identity there: its memory is freed right after the callback. */
typedef void (*rhai_close_cb)(rhai_async *a, void *data);

/* Create a client on 'loop' and start connecting both connections; nothing
 * blocks. url/prefix as in rhai_client_connect(). On success *out is new;
 * release it with rhai_async_close() and keep running the loop until that
 * finishes. On failure *out is NULL. Errors: RHAI_EINVAL ('loop' or 'out'
 * NULL, bad url or prefix), RHAI_ECONN (a connection failed at once, e.g.
 * a missing unix socket), RHAI_ETLS (a TLS file that cannot be loaded),
 * RHAI_EIO (no random name for the reply list), RHAI_ENOMEM. A TCP
 * connect that fails later is retried in the background (100 ms doubling
 * to 1 s), a TLS handshake or an AUTH/SELECT refused from 1 s doubling to
 * 30 s: submits in flight then end with RHAI_ECONN, and until the command
 * connection is back rhai_async_submit() returns RHAI_ECONN, its message
 * saying why. */
RHAI_API int rhai_async_new(uv_loop_t *loop, const char *url,
                            const char *prefix, rhai_async **out,
                            rhai_error *err);

/* Submit 't' (HSET + LPUSH, pipelined with other submits) and call 'cb'
 * with 'data' once its result arrives or 'wait_ms' passes (<= 0: the
 * task's timeout plus 5 s, plus its delay and, with retries, one more
 * such wait and the backoff's cap per retry). A delayed task goes to the
 * delayed set (ZADD) instead of the queue. The task's reply_to is replaced by this
 * client's reply list; 't' is read during the call only and may be freed
 * or reused right after. Returns 0, after which 'cb' runs exactly once
 * (never from inside this call), or an error, after which it never runs:
 * RHAI_EINVAL ('a', 't' or 'cb' NULL), RHAI_ESTATE (the client is closing,
 * or a task with the same id is in flight on it), RHAI_ECONN (the command
 * connection is down: nothing was sent, retry after it reconnects),
 * RHAI_ENOMEM, RHAI_EIO (no random id), a signing failure (RHAI_EINVAL). */
RHAI_API int rhai_async_submit(rhai_async *a, const rhai_task *t,
                               int64_t wait_ms, rhai_done_cb cb, void *data,
                               rhai_error *err);

/* Number of requests submitted and not yet completed (0 for NULL). */
RHAI_API size_t rhai_async_pending(const rhai_async *a);

/* Fail every pending request with RHAI_ECANCELED (their callbacks run
 * before this returns), close the connections, then, from the loop, free
 * 'a' and call 'cb' (may be NULL). 'a' must not be used after this call.
 * May be called from a done callback. NULL, or a second call: no-op.
 * Replies still on the way are left in Redis (the reply list expires with
 * the workers' result TTL). */
RHAI_API void rhai_async_close(rhai_async *a, rhai_close_cb cb, void *data);

#ifdef __cplusplus
}
#endif
#endif
