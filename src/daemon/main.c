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
        fprintf(stderr, "rhaid: %s\n", err.msg);
        wk_config_free(&cfg);
        return 2;
    }
    rh_log_level = cfg.log_level;
    rh_log_format = cfg.log_format;
    rc = wk_worker_run(&cfg, cfg.config_file);
    wk_config_free(&cfg);
    return rc;
}
