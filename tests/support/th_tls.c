/* th_tls.c -- a TLS redis-server for tests (th_tls.h).
 *
 * Readiness is read from the server's log ("Ready to accept connections"),
 * not probed with a TLS client: the client under test is the layer
 * (src/common/rconn.c), and the harness must not depend on it. Every wait
 * is bounded; nothing sleeps for timing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "th_tls.h"
#include "common/common.h"

const char *th_tls_file(const th_tls *t, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", t->pki, name);
    return buf;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* 1 when 'path' holds 'needle' after byte 'from'. */
static int log_has(const char *path, long from, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int found = 0;

    if (f == NULL)
        return 0;
    if (fseek(f, from, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int tls_spawn(th_tls *t)
{
    char port[16], log[300], crt[400], key[400], ca[400];
    char *argv[48];
    int n = 0;
    long from;
    int64_t deadline;
    struct timespec ms10 = { 0, 10000000L };

    snprintf(port, sizeof port, "%d", t->r.port);
    snprintf(log, sizeof log, "%s/redis.log", t->r.dir);
    snprintf(crt, sizeof crt, "%s/%s.crt", t->pki, t->cert);
    th_tls_file(t, "server.key", key, sizeof key);
    th_tls_file(t, "ca.crt", ca, sizeof ca);
    argv[n++] = TH_REDIS_SERVER;
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--tls-port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--tls-cert-file";
    argv[n++] = crt;
    argv[n++] = "--tls-key-file";
    argv[n++] = key;
    argv[n++] = "--tls-ca-cert-file";
    argv[n++] = ca;
    argv[n++] = "--tls-auth-clients";
    argv[n++] = t->auth_clients;
    argv[n++] = "--dir";
    argv[n++] = t->r.dir;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    for (int i = 0; i < 10 && t->extra[i][0]; i++)
        argv[n++] = t->extra[i];
    argv[n] = NULL;
    from = file_size(log);
    t->r.pid = th_spawn(argv, NULL, log);
    if (t->r.pid < 0)
        return -1;
    deadline = rh_mono_ms() + 10000;
    while (rh_mono_ms() < deadline) {
        if (log_has(log, from, "Ready to accept connections"))
            return 0;
        if (waitpid(t->r.pid, NULL, WNOHANG) == t->r.pid) {
            fprintf(stderr, "th_tls: redis-server exited early, see %s\n", log);
            t->r.pid = -1;
            return -1;
        }
        nanosleep(&ms10, NULL);
    }
    fprintf(stderr, "th_tls: redis-server on TLS port %d not ready in 10 s\n", t->r.port);
    return -1;
}

int th_tls_start(th_tls *t, const char *cert, const char *auth, const char *const extra[])
{
    const char *tmp = getenv("TMPDIR");

    memset(t, 0, sizeof *t);
    snprintf(t->cert, sizeof t->cert, "%s", cert);
    snprintf(t->auth_clients, sizeof t->auth_clients, "%s", auth);
    for (int i = 0; extra && extra[i]; i++) {
        if (i >= 10) {
            fprintf(stderr, "th_tls: more than 10 extra args\n");
            return -1;
        }
        snprintf(t->extra[i], sizeof t->extra[i], "%s", extra[i]);
    }
    snprintf(t->r.dir, sizeof t->r.dir, "%s/rhai-tls-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(t->r.dir) == NULL) {
        fprintf(stderr, "th_tls: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    snprintf(t->pki, sizeof t->pki, "%s/pki", t->r.dir);
    if (th_sh("'%s/tests/support/tls-pki.sh' '%s'", TH_SOURCE_DIR, t->pki) != 0) {
        fprintf(stderr, "th_tls: tls-pki.sh failed\n");
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {     /* port races are rare */
        t->r.port = th_free_port();
        snprintf(t->r.url, sizeof t->r.url, "rediss://127.0.0.1:%d", t->r.port);
        if (t->r.port > 0 && tls_spawn(t) == 0)
            return 0;
    }
    return -1;
}

int th_tls_restart(th_tls *t)
{
    th_redis_stop_keep(&t->r);
    return tls_spawn(t);
}

pid_t th_redis_start_unix(const char *sock, const char *log)
{
    char *argv[] = { TH_REDIS_SERVER, "--port", "0", "--unixsocket", (char *)sock,
                     "--save", "", "--appendonly", "no", "--daemonize", "no", NULL };
    struct timespec ms10 = { 0, 10000000L };
    struct timeval tv = { 1, 0 };
    int64_t deadline = rh_mono_ms() + 10000;
    pid_t pid = th_spawn(argv, NULL, log);

    if (pid < 0)
        return -1;
    while (rh_mono_ms() < deadline) {
        redisContext *c = redisConnectUnixWithTimeout(sock, tv);
        int ok = c && !c->err;
        redisFree(c);
        if (ok)
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "th_redis_start_unix: redis-server exited early, see %s\n", log);
            return -1;
        }
        nanosleep(&ms10, NULL);
    }
    fprintf(stderr, "th_redis_start_unix: no answer on %s in 10 s\n", sock);
    th_stop(pid, 5000);
    return -1;
}
