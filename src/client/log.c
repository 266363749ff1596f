/* log.c -- rhai_set_log_cb: the library's log lines go to the host's
 * callback, or nowhere (rhai/log.h).
 *
 * Library code logs with rh_log() like every other module. In the library
 * nothing calls rh_log_init(), so common/log.c writes nothing to stderr;
 * with a callback installed it hands each line to client_sink() below,
 * which calls the host's callback under a lock. */
#include <pthread.h>

#include "rhai/log.h"
#include "client_int.h"

_Static_assert((int)RHAI_LOG_DEBUG == (int)RH_LOG_DEBUG &&
               (int)RHAI_LOG_INFO == (int)RH_LOG_INFO &&
               (int)RHAI_LOG_NOTICE == (int)RH_LOG_NOTICE &&
               (int)RHAI_LOG_WARN == (int)RH_LOG_WARN &&
               (int)RHAI_LOG_ERROR == (int)RH_LOG_ERROR, "public log levels are rh_log's");

/* The lock guards the three fields below and is held while the callback
 * runs: that is what lets rhai_set_log_cb promise the old callback is done. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static rhai_log_cb log_cb;              /* NULL: no sink installed */
static void *log_data;
static int log_min;
static int log_saved_level;             /* rh_log_level before the first cb */
static _Thread_local int log_in_cb;     /* this thread is inside log_cb */

static void client_sink(int level, const char *msg)
{
    if (log_in_cb)
        return;                         /* a rhai_* call from the callback */
    pthread_mutex_lock(&log_mu);
    if (log_cb != NULL && level >= log_min) {
        log_in_cb = 1;
        log_cb(level, msg, log_data);
        log_in_cb = 0;
    }
    pthread_mutex_unlock(&log_mu);
}

RHAI_API int rhai_set_log_cb(rhai_log_cb cb, int min_level, void *data)
{
    if (cb != NULL && (min_level < RHAI_LOG_DEBUG || min_level > RHAI_LOG_ERROR))
        return RHAI_EINVAL;
    if (log_in_cb)
        return RHAI_ESTATE;             /* we hold log_mu: it would deadlock */
    pthread_mutex_lock(&log_mu);
    if (cb != NULL && log_cb == NULL)
        log_saved_level = rh_log_level;
    if (cb != NULL)
        rh_log_level = min_level;       /* rh_log() skips lower lines unformatted */
    else if (log_cb != NULL)
        rh_log_level = log_saved_level;
    log_cb = cb;
    log_data = cb ? data : NULL;
    log_min = min_level;
    rh_log_set_sink(cb ? client_sink : NULL);
    pthread_mutex_unlock(&log_mu);
    return 0;
}
