/* main.c -- rhaid entry point: the worker daemon, or (with --executor,
 * when rhai-executor is missing) one executor process. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "executor_entry.h"

int main(int argc, char **argv)
{
    wk_config cfg;
    rhai_error err;
    int rc;

    /* rhai-executor is the usual executor; this is the fallback */
    if (argc >= 2 && strcmp(argv[1], "--executor") == 0)
        return wk_executor_entry(argc, argv);
    rh_log_init("rhaid");
    memset(&err, 0, sizeof err);
    rc = wk_config_load(&cfg, argc, argv, &err);
    if (rc == WK_CONFIG_EXIT_OK) {
        wk_config_free(&cfg);
        return 0;
    }
    if (rc != 0) {
        /* the one line a log shipper sees of a misconfigured rhaid: JSON
         * too when JSON was asked for, even if the error came first */
        if (wk_config_error_format(&cfg, argc, argv) == RH_LOG_FMT_JSON) {
            char q[600];
            rh_log_format = RH_LOG_FMT_JSON;
            rh_log(RH_LOG_ERROR, "event=config_error reason=\"%s\" rhaid exits 2",
                   rh_log_quote(q, sizeof q, err.msg, sizeof q));
        } else {
            fprintf(stderr, "rhaid: %s\n", err.msg);
        }
        wk_config_free(&cfg);
        return 2;
    }
    rh_log_level = cfg.log_level;
    rh_log_format = cfg.log_format;
    rc = wk_worker_run(&cfg, cfg.config_file);
    wk_config_free(&cfg);
    return rc;
}
