/* main.c -- rhai-web: options, credentials, the store, the server, and
 * waiting for SIGINT or SIGTERM.
 *
 * Startup prints "listening on http://HOST:PORT" on stdout (line
 * buffered) once the socket is bound, so a test or a script that asked
 * for port 0 reads which port it got. Exit codes: 0 stopped by a signal,
 * 1 a runtime failure (cannot listen), 2 a configuration error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include <sodium.h>

#include "web.h"
#include "common/rlink.h"

/* Read the signing key file into web.signing_key and derive the caller
 * (its public key) by signing nothing: rhai_task_set_signing_key checks
 * the key. 0 / -1 after printing why. */
static int main_signing_key(const char *path)
{
    FILE *f;
    rhai_task *t = NULL;
    unsigned char sk[64];
    size_t len = 0;

    if (path[0] == '\0')
        return 0;
    if ((f = fopen(path, "r")) == NULL) {
        perror(path);
        return -1;
    }
    if (fgets(web.signing_key, sizeof web.signing_key, f) == NULL)
        web.signing_key[0] = '\0';
    fclose(f);
    web.signing_key[strcspn(web.signing_key, "\r\n")] = '\0';
    if (rhai_task_new("0", &t) != 0 || rhai_task_set_signing_key(t, web.signing_key) != 0 ||
        sodium_hex2bin(sk, sizeof sk, web.signing_key, strlen(web.signing_key), NULL, &len,
                       NULL) != 0 || len != sizeof sk) {
        rhai_task_free(t);
        sodium_memzero(web.signing_key, sizeof web.signing_key);
        fprintf(stderr, "rhai-web: %s: not an Ed25519 secret key (rhaictl keygen makes one)\n",
                path);
        return -1;
    }
    rhai_task_free(t);
    /* libsodium's 64-byte secret key ends with its public key */
    sodium_bin2hex(web.key_caller, sizeof web.key_caller, sk + 32, 32);
    sodium_memzero(sk, sizeof sk);
    return 0;
}

/* The store of contexts, grants and audit, when one is configured. */
static int main_store(void)
{
    ctl_where w;
    const char *url = web.cfg.data_url[0] ? web.cfg.data_url : NULL;
    const char *dir = web.cfg.data_dir[0] ? web.cfg.data_dir : NULL;

    if (url == NULL && dir == NULL)
        return 0;
    if (ctl_where_resolve("web", url, dir, &w) != 0 || ctl_store_new("web", &w, &web.st) != 0) {
        fprintf(stderr, "rhai-web: store: %s\n", ctl_last_error());
        return -1;
    }
    return 0;
}

/* The Redis URL, prefix and RHAI_REDIS_TLS_* settings as every request
 * will take them (rh_link_config): one that cannot work is a
 * configuration error now, not a 503 on every request. Nothing connects. */
static int main_redis(void)
{
    rh_redis_cfg cfg;
    char prefix[RH_PREFIX_MAX + 1];
    rhai_error err = { 0, "" };

    /* the URL is checked first, then the prefix; the message names which */
    if (rh_link_config(web.g.url, web.g.prefix, &cfg, prefix, &err) != 0) {
        fprintf(stderr, "rhai-web: %s\n", err.msg[0] ? err.msg : "invalid Redis URL or prefix");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char host[64];
    int port, bound = 0, sig, rc;
    struct MHD_Daemon *d;
    sigset_t set;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rh_log_init("rhai-web");
    if ((rc = web_config_load(&web.cfg, argc, argv)) != 0)
        return rc == 1 ? 0 : 2;
    rh_log_level = rh_log_level_parse(web.cfg.log_level);
    ctl_errors_quiet(1);                    /* rhai_ctl_core's messages go into answers */
    web.g.url = web.cfg.redis_url[0] ? web.cfg.redis_url : NULL;
    web.g.prefix = web.cfg.prefix[0] ? web.cfg.prefix : NULL;
    if (main_redis() != 0)
        return 2;
    if (web_auth_load(web.cfg.admin_token_file, web.cfg.read_token_file) != 0 ||
        main_signing_key(web.cfg.signing_key) != 0) {
        ctl_errors_quiet(0);
        return 2;
    }
    if (main_store() != 0)
        return 2;
    if (web.cfg.check_only) {
        printf("configuration ok\n");
        store_free(web.st);
        web_auth_free();
        sodium_memzero(web.signing_key, sizeof web.signing_key);
        return 0;
    }
    pthread_mutex_init(&web.mu, NULL);
    web_listen_parse(web.cfg.listen, host, sizeof host, &port);

    /* Signals are waited for here; every other thread (libmicrohttpd's,
     * the sampler) inherits the mask and never sees them. SIGPIPE: a
     * client gone mid-answer is an error return, not a death. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((d = web_server_start(host, port, &bound)) == NULL)
        return 1;
    web_series_start();
    rh_log(RH_LOG_NOTICE, "event=start listen=%s:%d caller=%s store=%s signing=%s rhai-web "
           "started", host, bound, web_caller(), web.st ? store_backend_name(web.st) : "none",
           web.signing_key[0] ? "yes" : "no");
    printf("listening on http://%s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", bound);

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
    }
    rh_log(RH_LOG_NOTICE, "event=stop signal=%d rhai-web stopping", sig);
    MHD_stop_daemon(d);
    web_series_stop();
    pthread_mutex_lock(&web.mu);
    if (web.r_open)
        ctl_redis_close(&web.r);
    rhai_client_free(web.client);
    store_free(web.st);
    web_auth_free();
    sodium_memzero(web.signing_key, sizeof web.signing_key);
    pthread_mutex_unlock(&web.mu);
    return 0;
}
