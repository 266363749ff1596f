/* uvredis.c -- hiredis async context <-> libuv poll handle (see uvredis.h
 * for why this is not hiredis's own adapter). */
#include "common.h"
#include "uvredis.h"

typedef struct uvredis {
    redisAsyncContext *ac;     /* NULL once hiredis cleaned up */
    uv_poll_t          poll;
    int                events;
} uvredis;

static void on_poll(uv_poll_t *h, int status, int events)
{
    uvredis *p = h->data;
    if (status < 0) {
        /* libuv stopped the poll; hiredis finds the error on read */
        if (p->ac)
            redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void update(uvredis *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events)
        uv_poll_start(&p->poll, p->events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void add_read(void *d)  { update(d, UV_READABLE, 0); }
static void del_read(void *d)  { update(d, 0, UV_READABLE); }
static void add_write(void *d) { update(d, UV_WRITABLE, 0); }
static void del_write(void *d) { update(d, 0, UV_WRITABLE); }

static void on_close(uv_handle_t *h)
{
    rh_free(h->data);
}

static void cleanup(void *d)
{
    uvredis *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_close);
}

int rh_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    uvredis *p;

    if (ac->ev.data != NULL)
        return -1;
    if ((p = rh_calloc(1, sizeof *p)) == NULL)
        return -1;
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        rh_free(p);
        return -1;
    }
    p->ac = ac;
    p->poll.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return 0;
}
