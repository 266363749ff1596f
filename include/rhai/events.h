/* rhai/events.h -- read the events scripts emit (docs/events.md).
 *
 * Each context's events are appended, once each, to a Redis Stream
 * (<prefix>:stream:{CONTEXT}, at most about event_stream_max entries) after
 * the task that emitted them committed. C applications read it with
 * consumer groups: create a group, read new events as a consumer, ack what
 * was handled; an event read and not acked stays pending for the consumer
 * and is read again with pending = 1 (after a crash of the reader). These
 * calls use a connected rhai_client (same thread rules: not thread-safe)
 * and return 0 or a negative RHAI_E*, with detail in 'err' (may be NULL). */
#ifndef RHAI_EVENTS_H
#define RHAI_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One event. Strings are owned by the array (rhai_events_free). */
typedef struct rhai_event {
    char   *entry;       /* stream entry id ("1733472000000-0"): what rhai_events_ack takes */
    char   *id;          /* event id (unique, stable: TASKID.N) */
    char   *name;        /* "order.paid" */
    char   *payload;     /* JSON text */
    char   *context;
    char   *task;        /* the emitting task */
    char   *caller;      /* the emitting task's caller */
    char   *trace;       /* the root task of the chain */
    int64_t time;        /* unix ms at emit */
    int64_t depth;       /* 1: emitted by a root task */
} rhai_event;

/* Create consumer group 'group' (1..128 of [A-Za-z0-9_.:@-]) on the stream
 * of 'context', creating the stream when missing. 'from': "$" (NULL) new
 * events only, "0" every event the stream still holds, or an entry id.
 * A group that exists already is left as it is: 0. RHAI_EINVAL, RHAI_ECONN,
 * RHAI_EPROTO. */
RHAI_API int rhai_events_group(rhai_client *c, const char *context, const char *group,
                               const char *from, rhai_error *err);
/* Read at most 'max' (1..1000) events as 'consumer' of 'group': new ones,
 * waiting up to block_ms (0: do not wait; at most 5000) for the first; or
 * with 'pending' 1 the ones delivered to this consumer before and not yet
 * acked (no wait). *events is a new array of *n (0: nothing), freed with
 * rhai_events_free. RHAI_ENOTFOUND when the group does not exist,
 * RHAI_EINVAL, RHAI_ECONN, RHAI_EPROTO, RHAI_ENOMEM. */
RHAI_API int rhai_events_read(rhai_client *c, const char *context, const char *group,
                              const char *consumer, int max, int64_t block_ms, int pending,
                              rhai_event **events, size_t *n, rhai_error *err);
/* Acknowledge n entries (rhai_event.entry) of 'group': they leave its
 * pending list. *acked (may be NULL): how many were pending. */
RHAI_API int rhai_events_ack(rhai_client *c, const char *context, const char *group,
                             const char *const *entries, size_t n, long long *acked,
                             rhai_error *err);
/* Without a group: at most 'max' events after entry 'after' ("0": from the
 * oldest kept; "$": only events appended from now, waiting block_ms for
 * them), as XREAD does. Follow a stream by passing the last entry read. */
RHAI_API int rhai_events_after(rhai_client *c, const char *context, const char *after, int max,
                               int64_t block_ms, rhai_event **events, size_t *n,
                               rhai_error *err);
/* Free an array from rhai_events_read/after. NULL: no-op. */
RHAI_API void rhai_events_free(rhai_event *events, size_t n);

#ifdef __cplusplus
}
#endif

#endif
