/* uvredis.c -- hiredis async context <-> libuv poll handle (see uvredis.h
 * for why this is not hiredis's own adapter).
 *
 * Write before poll. On a connected context a new command does not arm
 * WRITABLE: it marks the context pending and starts a uv_prepare_t, whose
 * callback writes right before the loop blocks in epoll_wait (what Redis's
 * ae does in beforeSleep/handleClientsWithPendingWrites). Every command
 * issued in one loop iteration, from any callback, goes out in one write,
 * with no epoll_ctl and no extra poll round. Only when the socket buffer is
 * full (hiredis asks for a write again from inside that flush) is the real
 * WRITABLE poll armed. While connecting, WRITABLE is armed as before:
 * hiredis learns that connect(2) finished from the first WRITABLE event.
 *
 * Why uv_prepare and not uv_check: prepare runs after timers, idle and
 * pending callbacks and just before the poll, and libuv computes the poll
 * timeout after it. A uv_check runs after the poll, so a command issued by
 * a timer (or before uv_run) would wait, unsent, through a blocking poll.
 * A command issued from another uv_prepare callback that runs after ours
 * in the same iteration waits one iteration; we have none. */
#include <assert.h>

#include "common.h"
#include "uvredis.h"

/* One per attached context, freed by the second close callback.
 *
 * Invariants (uvredis_check):
 * - 'events' is the mask 'poll' is started with, 0 when it is stopped, so
 *   an unchanged mask costs no uv_poll_start (each one is an epoll_ctl in
 *   libuv 1.44, two when the fd was registered before).
 * - 'pending' is set only on a live context and then 'prepare' is active;
 *   'prepare' is stopped whenever nothing is pending, so an idle loop still
 *   blocks, and uv_run returns once the last context is freed.
 * - A pending context has no WRITABLE armed: a context waiting on WRITABLE
 *   is written from on_poll, never from the prepare.
 * - After cleanup ('ac' NULL) nothing is pending and both handles are
 *   closing; 'open_handles' counts those whose close callback is to come. */
typedef struct uvredis {
    redisAsyncContext *ac;           /* NULL once hiredis cleaned up */
    uv_poll_t          poll;
    uv_prepare_t       prepare;      /* active iff pending */
    int                events;       /* UV_READABLE|UV_WRITABLE armed */
    int                pending;      /* a write waits for the prepare */
    int                flushing;     /* inside the prepare's write */
    int                open_handles; /* initialised, close cb not yet run */
} uvredis;

#ifndef NDEBUG
static int uvredis_check(const uvredis *p)
{
    if (p->pending && (p->ac == NULL || !uv_is_active((uv_handle_t *)&p->prepare)))
        return 0;
    if (!p->pending && uv_is_active((uv_handle_t *)&p->prepare))
        return 0;
    if (p->pending && (p->events & UV_WRITABLE))
        return 0;
    if (p->ac == NULL && p->events != 0)
        return 0;
    return 1;
}
#endif

static void on_poll(uv_poll_t *h, int status, int events);

/* hiredis writes with write(2): keep a dead peer's SIGPIPE from killing an
 * application that did not ignore it (common.h, rh_nopipe). */
static void handle_write(redisAsyncContext *ac)
{
    rh_nopipe g;

    rh_nopipe_begin(&g);
    redisAsyncHandleWrite(ac);
    rh_nopipe_end(&g);
}

static void update(uvredis *p, int add, int del)
{
    int events = (p->events | add) & ~del;

    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    uvredis *p = h->data;
    if (status < 0) {
        /* libuv stopped the poll; hiredis finds the error on read. Any
         * hook hiredis calls now must really start the poll again. */
        p->events = 0;
        if (p->ac)
            redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        handle_write(p->ac);
}

/* Runs right before the loop polls: write what the iteration queued. */
static void on_prepare(uv_prepare_t *h)
{
    uvredis *p = h->data;

    assert(uvredis_check(p));
    p->pending = 0;
    uv_prepare_stop(h);
    if (p->ac == NULL)
        return;
    /* hiredis may free the context in here (a write error disconnects);
     * then cleanup() ran and p lives on until the close callbacks. */
    p->flushing = 1;
    handle_write(p->ac);
    p->flushing = 0;
    assert(uvredis_check(p));
}

static void add_read(void *d)  { update(d, UV_READABLE, 0); }
static void del_read(void *d)  { update(d, 0, UV_READABLE); }
static void del_write(void *d) { update(d, 0, UV_WRITABLE); }

static void add_write(void *d)
{
    uvredis *p = d;

    /* Connecting: hiredis waits for WRITABLE to see connect(2) finish.
     * WRITABLE armed: on_poll writes. Inside the flush: the socket took
     * only part, so wait for room as before. */
    if (!(p->ac->c.flags & REDIS_CONNECTED) || (p->events & UV_WRITABLE) ||
        p->flushing) {
        update(p, UV_WRITABLE, 0);
        return;
    }
    if (!p->pending) {
        p->pending = 1;
        uv_prepare_start(&p->prepare, on_prepare);
    }
}

/* Write now what the iteration queued (see uvredis.h). */
void rh_uvredis_flush(redisAsyncContext *ac)
{
    uvredis *p;

    if (ac == NULL || ac->ev.addWrite != add_write || (p = ac->ev.data) == NULL ||
        p->ac == NULL || !p->pending || p->flushing)
        return;
    on_prepare(&p->prepare);
}

static void on_close(uv_handle_t *h)
{
    uvredis *p = h->data;
    if (--p->open_handles == 0)
        rh_free(p);
}

/* Called by hiredis as it frees the context, possibly from inside on_poll
 * or on_prepare: only mark and close, the close callbacks free. */
static void cleanup(void *d)
{
    uvredis *p = d;
    p->ac = NULL;
    p->pending = 0;
    p->events = 0;
    uv_close((uv_handle_t *)&p->poll, on_close);      /* stops it */
    uv_close((uv_handle_t *)&p->prepare, on_close);   /* stops it */
}

int rh_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    uvredis *p;

    if (ac->ev.data != NULL)
        return -1;
    if ((p = rh_calloc(1, sizeof *p)) == NULL)
        return -1;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        rh_free(p);                  /* a failed init leaves no handle */
        return -1;
    }
    uv_prepare_init(loop, &p->prepare);                 /* cannot fail */
    p->open_handles = 2;
    p->ac = ac;
    p->poll.data = p;
    p->prepare.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return 0;
}
