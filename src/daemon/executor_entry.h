/* executor_entry.h -- the executor process's main, shared by rhaid
 * (--executor) and rhai-executor, and the confinement it applies to
 * itself; see executor_entry.c and confine_linux.c. */
#ifndef WK_EXECUTOR_ENTRY_H
#define WK_EXECUTOR_ENTRY_H

#include <stddef.h>

#include "common/common.h"

/* argv as the pool passes it (argv[1] is "--executor"); the exit code. */

int wk_executor_entry(int argc, char **argv);

/* The executable the pool starts executors from. */
#define WK_EXECUTOR_NAME "rhai-executor"

/* What an executor confines itself to (docs/security.md). */
#define WK_CONFINE_PORTS 8

typedef struct wk_confine {
    const char *data_dir;   /* absolute; the only files it may touch (Landlock);
                               NULL with a postgres store */
    const char *read_file;  /* a file it may read besides (a postgres passfile) */
    int         net_unix;   /* postgres over a unix socket: AF_UNIX sockets */
    int         net_tcp;    /* postgres over TCP: AF_INET/6 stream sockets, */
    int         ports[WK_CONFINE_PORTS];   /* connecting to these ports only */
    int         nports;     /* (Landlock ABI >= 4) */
    size_t      as_limit;   /* RLIMIT_AS, soft = hard; 0: none (none under ASan) */
    int         seccomp;    /* 1: the system-call allow-list (executor_seccomp) */
} wk_confine;

/* Parse a --store-net value ("unix", "tcp:5432", "unix,tcp:5432,tcp:5433")
 * into c's net fields. 0, or -1 (the executor then refuses to start). */
int wk_confine_net_parse(const char *spec, wk_confine *c);

/* Confine the calling process for good, in this order: hard rlimits
 * (core 0, nproc 0, nofile, memlock 0, msgqueue 0, as), no_new_privs,
 * every capability dropped when uid 0, Landlock (file access beneath
 * data_dir only, TCP and signals out of the domain denied, as far as the
 * kernel's ABI goes), then the seccomp allow-list. Call it once, single-
 * threaded, before the first task. 0 with *landlock_abi the Landlock ABI
 * applied, 0 when the kernel has none (not an error: the caller logs it);
 * or RHAI_EIO / RHAI_ENOMEM, 'err' naming the step: the process must then
 * exit without running a task (it may be confined in part). */
int wk_confine_apply(const wk_confine *c, int *landlock_abi, rhai_error *err);

#ifdef RHAI_TEST_HOOKS
/* Test builds only, with RHAI_TEST_CONFINE_PROBE=<redis port> set: before
 * confinement, open a TCP socket for the probe (-1 when not probing);
 * after it, try each forbidden operation and log its outcome (stderr). */
int  wk_confine_probe_prepare(void);
void wk_confine_probe(int sock, const wk_confine *c, int landlock_abi);
#endif

#endif
