/* fuzz_config.c -- rhaid's config file parser (wk_config_load with
 * --config FILE) over arbitrary file contents.
 *
 * The file is an in-memory file (memfd) named by /proc/self/fd/N, so no
 * disk is touched. Invariants: 0 or RHAI_EINVAL with a message naming the
 * file (never --help's exit, never a crash); on success every option is
 * inside its documented range and --print-config output can be produced;
 * wk_config_free releases everything (ASan checks). */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "daemon/daemon.h"

static FILE *devnull;

static void init_once(void)
{
    static const char *const env[] = {
        "RHAID_CONFIG", "RHAI_REDIS_URL", "RHAI_PREFIX", "RHAI_WORKER_ID",
        "RHAI_CONCURRENCY", "RHAI_DATA_DIR", "RHAI_LOG_LEVEL", "RHAI_HEARTBEAT_MS",
        "RHAI_HEARTBEAT_TTL_MS", "RHAI_METRICS_LISTEN",
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        unsetenv(env[i]);       /* only the file speaks */
    devnull = fopen("/dev/null", "w");
    FZ_CHECK(devnull != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    char *argv[] = { (char *)"rhaid", (char *)"--config", path, NULL };
    wk_config cfg;
    rhai_error err;
    int fd, rc;

    if (devnull == NULL)
        init_once();
    fd = memfd_create("rhaid.conf", 0);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    memset(&err, 0, sizeof err);
    rc = wk_config_load(&cfg, 3, argv, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    if (rc != 0) {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
    } else {
        FZ_CHECK(cfg.concurrency >= 1 && cfg.concurrency <= 256);
        FZ_CHECK(cfg.heartbeat_ttl_ms > cfg.heartbeat_ms);
        FZ_CHECK(cfg.default_timeout_ms <= cfg.max_timeout_ms);
        FZ_CHECK(cfg.memory >= 1024 * 1024);
        FZ_CHECK(rh_name_valid(cfg.worker_id) && rh_name_valid(cfg.prefix));
        FZ_CHECK(cfg.redis_url && cfg.data_dir && cfg.metrics_listen);
        wk_config_print(&cfg, devnull);
    }
    wk_config_free(&cfg);
    close(fd);
    return 0;
}
