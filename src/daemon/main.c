/* main.c -- rhaid entry point: the worker daemon, or (with --executor, as
 * the pool starts it) one executor process. */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon.h"
#include "dsl/dsl.h"

int main(int argc, char **argv)
{
    wk_config cfg;
    rhai_error err;
    int rc;

    if (argc >= 2 && strcmp(argv[1], "--executor") == 0) {
        long long as = 0;
        rhai_error derr;
        if (argc >= 4 && strcmp(argv[2], "--executor-as-limit") == 0)
            as = atoll(argv[3]);
        rh_log_init("rhaid-executor");
        /* The DSL's contexts live under the daemon's data_dir; without
         * one, scripts run without the DSL. */
        if (argc >= 6 && strcmp(argv[4], "--data-dir") == 0 &&
            dsl_install(argv[5], &derr) != 0)
            rh_log(RH_LOG_WARN, "event=dsl_unavailable reason=\"%s\"", derr.msg);
        /* dev_mode: unknown contexts are created by their first task */
        if (argc >= 7 && strcmp(argv[6], "--dev-mode") == 0)
            dsl_set_dev_mode(1);
        /* An executor must not outlive its daemon (kill -9 of rhaid would
         * otherwise leave a `while(true){}` spinning forever). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            return 1;
        return eng_executor_main(0, 0, as > 0 ? (size_t)as : 0);
    }
    rh_log_init("rhaid");
    memset(&err, 0, sizeof err);
    rc = wk_config_load(&cfg, argc, argv, &err);
    if (rc == WK_CONFIG_EXIT_OK) {
        wk_config_free(&cfg);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "rhaid: %s\n", err.msg);
        wk_config_free(&cfg);
        return 2;
    }
    rh_log_level = cfg.log_level;
    rc = wk_worker_run(&cfg, cfg.config_file);
    wk_config_free(&cfg);
    return rc;
}
