/* rhai/log.h -- where librhai-client's log lines go.
 *
 * The library never writes to the host program's stdout or stderr. It
 * has a few things worth telling (the async client losing, failing to
 * reach, or regaining Redis; a malformed reply; the sync wait retrying)
 * and says them only to a callback installed here. Without one, nothing
 * is logged: errors that matter to a call reach it as its return code. */
#ifndef RHAI_LOG_H
#define RHAI_LOG_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RHAI_LOG_DEBUG  = 0,    /* retries and dropped late replies */
    RHAI_LOG_INFO   = 1,    /* a connection came back */
    RHAI_LOG_NOTICE = 2,    /* a connection went down or failed */
    RHAI_LOG_WARN   = 3,    /* a reply or a command was refused */
    RHAI_LOG_ERROR  = 4
};

/* One log line. 'level' is a RHAI_LOG_* at or above the installed minimum;
 * 'msg' is key=value fields then a sentence, without time, program name,
 * level or newline ("event=redis_down conn=cmd url=redis://h:6379 ..."),
 * borrowed for the call only. Urls in lines never carry a password. */
typedef void (*rhai_log_cb)(int level, const char *msg, void *data);

/* Send the library's log lines at 'min_level' (a RHAI_LOG_*) and above to
 * 'cb' with 'data'; cb NULL stops logging (the default: nothing is logged
 * anywhere). Process-wide: one callback for every client.
 *
 * Returns 0, RHAI_EINVAL when cb is set and min_level is not a
 * RHAI_LOG_*, or RHAI_ESTATE when called from inside the callback.
 *
 * Threads: the callback runs on the thread whose call logs (any thread
 * using a sync client, the loop's thread for an async one), one line at a
 * time under a process-wide lock, so it needs no locking of its own but
 * must be quick. A line logged by a rhai_* call made from inside the
 * callback is dropped. Once this function returns, the previous callback
 * is not running and will not be called again, so its 'data' may be
 * freed. Call it before threads start using the library, or accept that
 * a changed min_level may reach them late; cb and data change atomically. */
RHAI_API int rhai_set_log_cb(rhai_log_cb cb, int min_level, void *data);

#ifdef __cplusplus
}
#endif
#endif
