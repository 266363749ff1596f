/* uvredis.h -- attach a hiredis async context to a libuv loop.
 *
 * Replaces hiredis 0.14's adapters/libuv.h, whose poll callback returns
 * early on any error status: a socket that reports EPOLLERR/EPOLLHUP (a
 * server restarted under a pending write) then never reaches hiredis, the
 * disconnect callback never runs and the connection is a silent zombie
 * (seen: tests/integration/test_recovery.c, redis restart mid-run). Here an
 * error status makes hiredis read, find the error and disconnect. */
#ifndef RH_UVREDIS_H
#define RH_UVREDIS_H

#include <uv.h>
#include <hiredis/async.h>

/* 0, or -1 when ac already has event hooks or memory runs out. The poll
 * handle is closed and freed when hiredis cleans the context up. */
int rh_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
