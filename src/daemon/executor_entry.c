/* executor_entry.c -- what an executor process runs: `rhai-executor`, or
 * `rhaid --executor` where that binary is missing.
 *
 * The pool starts executors as `EXE --executor --executor-as-limit N
 * --data-dir DIR [--dev-mode]`. rhai-executor links only the engine, the
 * DSL and the store: not libuv, hiredis, libmicrohttpd (and its TLS
 * stack) or libsystemd, so an idle executor maps half the pages of an
 * rhaid one (docs/performance.md). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "engine/engine.h"
#include "dsl/dsl.h"
#include "executor_entry.h"

int wk_executor_entry(int argc, char **argv)
{
    long long as = 0;
    rhai_error derr;

    if (argc < 2 || strcmp(argv[1], "--executor") != 0)
        return 2;
    if (argc >= 4 && strcmp(argv[2], "--executor-as-limit") == 0)
        as = atoll(argv[3]);
    rh_log_init("rhaid-executor");
    /* The DSL's contexts live under the daemon's data_dir; without one,
     * scripts run without the DSL. */
    if (argc >= 6 && strcmp(argv[4], "--data-dir") == 0 && dsl_install(argv[5], &derr) != 0)
        rh_log(RH_LOG_WARN, "event=dsl_unavailable reason=\"%s\"", derr.msg);
    /* dev_mode: unknown contexts are created by their first task */
    if (argc >= 7 && strcmp(argv[6], "--dev-mode") == 0)
        dsl_set_dev_mode(1);
    /* Started from an open file (/proc/self/fd/N, see pool.c), the
     * process would be named "N": name it after its binary. */
    prctl(PR_SET_NAME, strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    /* An executor must not outlive its daemon (kill -9 of rhaid would
     * otherwise leave a `while(true){}` spinning forever). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    return eng_executor_main(0, 0, as > 0 ? (size_t)as : 0);
}
