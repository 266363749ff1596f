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

/* Completion of one submitted task. 'status' is 0 with 'res' set, or a
 * negative RHAI_E* with 'res' NULL: RHAI_ETIMEOUT (no reply within the
 * request's wait timeout), RHAI_ECONN (connection lost and not recovered in
 * time), RHAI_ECANCELED (rhai_async_close() was called). 'res' is borrowed:
 * valid only during the callback. Runs exactly once per accepted submit. */
typedef void (*rhai_done_cb)(rhai_async *a, int status, const rhai_result *res,
                             void *data);
/* Called once when close has finished and the object is freed. */
typedef void (*rhai_close_cb)(rhai_async *a, void *data);

/* Create a client on 'loop' and start connecting. url/prefix as in
 * rhai_client_connect(). *out is new; release it with rhai_async_close().
 * Errors: RHAI_EINVAL, RHAI_ECONN (first connect failed), RHAI_ENOMEM. */
RHAI_API int rhai_async_new(uv_loop_t *loop, const char *url,
                            const char *prefix, rhai_async **out,
                            rhai_error *err);

/* Submit 't' and call 'cb' when its result arrives or 'wait_ms' passes
 * (<= 0: the task's timeout plus 5 s). The task's reply_to is replaced by
 * this client's shared reply list. On error the callback never runs. */
RHAI_API int rhai_async_submit(rhai_async *a, const rhai_task *t,
                               int64_t wait_ms, rhai_done_cb cb, void *data,
                               rhai_error *err);

/* Number of requests submitted and not yet completed. */
RHAI_API size_t rhai_async_pending(const rhai_async *a);

/* Fail every pending request with RHAI_ECANCELED, close the connections,
 * free 'a' and then call 'cb' (may be NULL). */
RHAI_API void rhai_async_close(rhai_async *a, rhai_close_cb cb, void *data);

#ifdef __cplusplus
}
#endif
#endif
