/* nopipe.c -- keep a write to a dead Redis from killing the process with
 * SIGPIPE (see common.h). The technique: block the signal in this thread
 * around the write; a SIGPIPE the write raised is then pending on the
 * thread, and sigtimedwait takes it before the old mask comes back. A
 * caller that blocks SIGPIPE itself keeps its pending ones. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common.h"

/* Set by rh_sigpipe_ignore before any connection exists (rhaid's start). */
static volatile sig_atomic_t ignored;

void rh_sigpipe_ignore(void)
{
    signal(SIGPIPE, SIG_IGN);
    ignored = 1;
}

static void pipe_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGPIPE);
}

void rh_nopipe_begin(rh_nopipe *g)
{
    sigset_t pipe;

    g->active = 0;
    if (ignored)
        return;
    pipe_set(&pipe);
    if (pthread_sigmask(SIG_BLOCK, &pipe, &g->old) != 0)
        return;
    /* Blocked by the caller already: its pending signals are its own.
     * Otherwise none can be pending: unblocked, it was delivered. */
    if (sigismember(&g->old, SIGPIPE))
        return;
    g->active = 1;
}

void rh_nopipe_end(rh_nopipe *g)
{
    static const struct timespec zero = { 0, 0 };
    sigset_t pipe, pending;
    int saved = errno;

    if (!g->active)
        return;
    pipe_set(&pipe);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    g->active = 0;
    errno = saved;
}
