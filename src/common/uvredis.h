/* uvredis.h -- attach a hiredis async context to a libuv loop.
 *
 * Replaces hiredis 0.14's adapters/libuv.h, whose poll callback returns
 * early on any error status: a socket that reports EPOLLERR/EPOLLHUP (a
 * server restarted under a pending write) then never reaches hiredis, the
 * disconnect callback never runs and the connection is a silent zombie
 * (seen: tests/integration/test_recovery.c, redis restart mid-run). Here an
 * error status makes hiredis read, find the error and disconnect.
 *
 * It also writes a connected context's commands from a uv_prepare right
 * before the loop polls, instead of arming WRITABLE for each: no epoll_ctl
 * and no extra poll round per command (see uvredis.c). */
#ifndef RH_UVREDIS_H
#define RH_UVREDIS_H

#include <uv.h>
#include <hiredis/async.h>

/* Attach 'ac' (borrowed: hiredis owns it) to 'loop'; call it before the
 * first command. 0, or -1 when ac already has event hooks, its socket
 * cannot be polled or memory runs out (then ac is untouched). The handles
 * are closed when hiredis cleans the context up and freed by their close
 * callbacks, so uv_run returns once every attached context is freed. Loop
 * thread only. */
int rh_uvredis_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* Write now what 'ac' has queued instead of in the prepare before the
 * poll: for a caller issuing commands from its own uv_prepare or uv_check,
 * where ours may already have run this iteration. No-op for a context not
 * attached here, not connected, or with nothing queued. Loop thread only. */
void rh_uvredis_flush(redisAsyncContext *ac);

#endif
