/* harness.c -- throwaway redis-server and rhaid processes for tests.
 *
 * Modelled on hiredis's test.sh: the server gets a temp dir and a port the
 * kernel found free, is waited for with a bounded PING loop, and is always
 * stopped and reaped. Nothing here sleeps for timing: every wait polls a
 * condition against a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "common/common.h"

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A TCP socket bound to a free port of 127.0.0.1: its fd and *port, or -1. */
static int bound_loopback(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int th_free_port(void)
{
    int port, fd = bound_loopback(&port);

    if (fd < 0)
        return -1;
    close(fd);
    return port;
}

int th_listen(int *port)
{
    int fd = bound_loopback(port);

    if (fd >= 0 && listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

const char *th_bin(const char *name, char *buf, size_t n)
{
    const char *dir = getenv("RHAI_TEST_BIN_DIR");
    snprintf(buf, n, "%s/%s", dir ? dir : TH_BIN_DIR, name);
    return buf;
}

const char *th_src(const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", TH_SOURCE_DIR, rel);
    return buf;
}

/* Every child we spawned, killed at exit if still running: a test that
 * fails an assertion leaves no server behind. */
static pid_t spawned[256];
static int nspawned;

static void kill_spawned(void)
{
    for (int i = 0; i < nspawned; i++)
        if (spawned[i] > 0 && kill(spawned[i], 0) == 0) {
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
        }
}

pid_t th_spawn(char *const argv[], char *const env[], const char *log_path)
{
    /* PR_SET_PDEATHSIG fires when the forking *thread* exits, so only
     * children of the main thread get it (they then also die with a test
     * killed by a ctest timeout); the rest rely on the atexit sweep. */
    int main_thread = gettid() == getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        for (size_t i = 0; env && env[i]; i++)
            putenv(env[i]);
        setpgid(0, 0);           /* a test's kill never hits the test runner */
        /* A test that dies (failed assertion, ctest timeout) takes its
         * servers and workers with it: nothing is left running. */
        if (main_thread)
            prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid > 0 && nspawned < (int)(sizeof spawned / sizeof spawned[0])) {
        if (nspawned == 0)
            atexit(kill_spawned);
        spawned[nspawned++] = pid;
    }
    return pid;
}

int th_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = rh_mono_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (rh_mono_ms() >= deadline)
            return -1;
        nap_ms(5);
    }
}

int th_stop(pid_t pid, int timeout_ms)
{
    int status;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    status = th_wait(pid, timeout_ms);
    if (status == -1) {
        kill(pid, SIGKILL);
        status = th_wait(pid, 5000);
    }
    return status;
}

redisContext *th_redis_connect(const th_redis *r)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int redis_ping_ok(const th_redis *r)
{
    redisContext *c = th_redis_connect(r);
    redisReply *rep;
    int ok = 0;
    if (c == NULL)
        return 0;
    rep = redisCommand(c, "PING");
    ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return ok;
}

static int redis_spawn(th_redis *r)
{
    char port[16], bus[16], log[300];
    char *argv[] = { TH_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1",
                     "--dir", r->dir, "--save", "", "--appendonly",
                     r->aof ? "yes" : "no", "--appendfsync", "always",
                     "--daemonize", "no", "--protected-mode", "yes",
                     r->cluster ? "--cluster-enabled" : NULL, "yes",
                     "--cluster-config-file", "nodes.conf",
                     /* its bus: port + 10000 may be past 65535 */
                     "--cluster-port", bus, NULL };
    int64_t deadline;

    snprintf(port, sizeof port, "%d", r->port);
    if (r->cluster && r->bus_port == 0)
        r->bus_port = th_free_port();
    snprintf(bus, sizeof bus, "%d", r->bus_port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    r->pid = th_spawn(argv, NULL, log);
    if (r->pid < 0)
        return -1;
    deadline = rh_mono_ms() + 10000;
    while (rh_mono_ms() < deadline) {
        if (redis_ping_ok(r))
            return 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            fprintf(stderr, "harness: redis-server exited early, see %s\n", log);
            r->pid = -1;
            return -1;
        }
        nap_ms(10);
    }
    fprintf(stderr, "harness: redis-server on port %d did not answer in 10 s\n", r->port);
    return -1;
}

int th_redis_start_cluster(th_redis *r)
{
    redisContext *c;
    redisReply *rep;
    int64_t deadline;
    int ok = 0;

    if (th_redis_start_as(r, 0, 1) != 0)
        return -1;
    if ((c = th_redis_connect(r)) == NULL)
        return -1;
    rep = redisCommand(c, "CLUSTER ADDSLOTSRANGE 0 16383");
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "harness: CLUSTER ADDSLOTSRANGE: %s\n", rep ? rep->str : "no reply");
        if (rep)
            freeReplyObject(rep);
        redisFree(c);
        return -1;
    }
    freeReplyObject(rep);
    deadline = rh_mono_ms() + 10000;
    while (!ok && rh_mono_ms() < deadline) {
        rep = redisCommand(c, "CLUSTER INFO");
        ok = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "cluster_state:ok");
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            nap_ms(20);
    }
    redisFree(c);
    if (!ok)
        fprintf(stderr, "harness: the one-node cluster on port %d never became ok\n", r->port);
    return ok ? 0 : -1;
}

int th_cluster_mode(void)
{
    const char *n = getenv("RHAI_TEST_CLUSTER_NODES");
    return n != NULL && *n != '\0';
}

/* th_redis_start on a cluster: the seed node (the first of
 * RHAI_TEST_CLUSTER_NODES) as r's port and url, every node flushed (a
 * replica refuses: READONLY, and follows its master), so each test case
 * starts from an empty cluster as it would from a new server. */
static int cluster_hand_out(th_redis *r)
{
    char nodes[512], *save = NULL;
    int first = 1;

    snprintf(nodes, sizeof nodes, "%s", getenv("RHAI_TEST_CLUSTER_NODES"));
    r->pid = -1;
    for (char *n = strtok_r(nodes, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        const char *colon = strrchr(n, ':');
        th_redis node;
        redisContext *c;
        redisReply *rep;

        if (colon == NULL)
            continue;
        memset(&node, 0, sizeof node);
        node.port = atoi(colon + 1);
        if (first) {
            r->port = node.port;
            snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
            first = 0;
        }
        if ((c = th_redis_connect(&node)) == NULL)
            continue;                       /* a node a test killed */
        rep = redisCommand(c, "FLUSHALL");
        if (rep)
            freeReplyObject(rep);
        rep = redisCommand(c, "SCRIPT FLUSH");
        if (rep)
            freeReplyObject(rep);
        redisFree(c);
    }
    if (first) {
        fprintf(stderr, "harness: RHAI_TEST_CLUSTER_NODES names no node\n");
        return -1;
    }
    return 0;
}

int th_redis_start(th_redis *r, int aof)
{
    return th_redis_start_as(r, aof, 0);
}

int th_redis_start_as(th_redis *r, int aof, int cluster)
{
    const char *tmp = getenv("TMPDIR");
    memset(r, 0, sizeof *r);
    r->aof = aof;
    r->cluster = cluster;
    snprintf(r->dir, sizeof r->dir, "%s/rhai-test-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(r->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    /* Run as root, rhaid starts executors as nobody: they must get
     * through this dir to the data dirs inside (execuser.c). */
    (void)chmod(r->dir, 0711);
    if (!cluster && th_cluster_mode())
        return cluster_hand_out(r);
    for (int attempt = 0; attempt < 5; attempt++) {    /* port races are rare */
        r->port = th_free_port();
        r->bus_port = 0;
        snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
        if (r->port > 0 && redis_spawn(r) == 0)
            return 0;
    }
    return -1;
}

static void redis_kill(th_redis *r)
{
    if (r->pid > 0) {
        th_stop(r->pid, 5000);
        r->pid = -1;
    }
}

void th_redis_stop_keep(th_redis *r)
{
    redis_kill(r);
}

void th_redis_stop(th_redis *r)
{
    redis_kill(r);
    if (r->dir[0])
        th_sh("rm -rf '%s'", r->dir);
    r->dir[0] = '\0';
}

void th_redis_kill_from_child(const th_redis *r)
{
    struct timespec ms = { 0, 1000000L }, fin = { 0, 50000000L };

    kill(r->pid, SIGKILL);
    for (redisContext *probe; (probe = th_redis_connect(r)) != NULL; ) {
        redisFree(probe);
        nanosleep(&ms, NULL);
    }
    nanosleep(&fin, NULL);
}

char *th_big_script(size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL || n < 4) {
        free(s);
        return NULL;
    }
    memset(s, ' ', n);
    memcpy(s + n - 4, "1+1;", 4);
    s[n] = '\0';
    return s;
}

int th_child_status(pid_t child)
{
    int st;

    while (waitpid(child, &st, 0) < 0)
        if (errno != EINTR)
            return -1000;
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "child %d killed by signal %d\n", (int)child, WTERMSIG(st));
        return -WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

int th_redis_restart(th_redis *r)
{
    if (th_cluster_mode() && !r->cluster) {
        fprintf(stderr, "harness: th_redis_restart: not on a cluster (RHAI_TEST_CLUSTER_NODES)\n");
        return -1;
    }
    redis_kill(r);
    return redis_spawn(r);
}

int th_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int rhaid_seq;

int th_rhaid_ready(const th_redis *r, const char *worker, pid_t pid, const char *log)
{
    int64_t deadline = rh_mono_ms() + 10000;
    redisContext *c;

    while (rh_mono_ms() < deadline) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "harness: rhaid exited early, see %s\n", log);
            return -1;
        }
        if ((c = th_redis_connect(r)) != NULL) {
            redisReply *rep = redisCommand(c, "KEYS rhai:worker:{%s}:*", worker);
            int found = 0;
            for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
                redisReply *p = redisCommand(c, "HGET %s pid", rep->element[i]->str);
                if (p && p->type == REDIS_REPLY_STRING && atoi(p->str) == (int)pid)
                    found = 1;
                if (p)
                    freeReplyObject(p);
            }
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            if (found)
                return 0;
        }
        nap_ms(10);
    }
    fprintf(stderr, "harness: rhaid gave no heartbeat in 10 s, see %s\n", log);
    th_stop(pid, 2000);
    return -1;
}

/* Spawn 'pre' (NULL-terminated, may be NULL: rhaid runs itself), then
 * rhaid for 'worker' against r with 'concurrency' executors, 'more' and
 * 'extra' appended (each NULL-terminated, may be NULL), logging to 'log';
 * wait for its heartbeat. pid or -1. */
static pid_t rhaid_launch(const th_redis *r, const char *const pre[], const char *worker,
                          int concurrency, const char *const more[], const char *const extra[],
                          const char *log)
{
    char bin[512], conc[16];
    char *argv[64];
    int argc = 0;
    pid_t pid;

    snprintf(conc, sizeof conc, "%d", concurrency);
    for (size_t i = 0; pre && pre[i]; i++)
        argv[argc++] = (char *)pre[i];
    argv[argc++] = (char *)th_bin("rhaid", bin, sizeof bin);
    argv[argc++] = "--redis-url";
    argv[argc++] = (char *)r->url;
    argv[argc++] = "--worker-id";
    argv[argc++] = (char *)worker;
    argv[argc++] = "--concurrency";
    argv[argc++] = conc;
    for (size_t i = 0; more && more[i]; i++)
        argv[argc++] = (char *)more[i];
    for (size_t i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    if ((pid = th_spawn(argv, NULL, log)) < 0)
        return -1;
    return th_rhaid_ready(r, worker, pid, log) == 0 ? pid : -1;
}

pid_t th_rhaid_start(const th_redis *r, const char *worker, int concurrency,
                     const char *const extra[])
{
    char log[300], datadir[300];
    const char *more[] = { "--data-dir", datadir, NULL };
    int seq = ++rhaid_seq, own = 0;

    for (size_t i = 0; extra && extra[i]; i++)   /* a store of the caller's */
        own |= strcmp(extra[i], "--data-url") == 0 || strcmp(extra[i], "--data-dir") == 0;
    snprintf(log, sizeof log, "%s/rhaid-%d.log", r->dir, seq);
    /* one data dir per worker id: its instances share it, as the split
     * guard asks of a sqlite store (a dir each would be refused) */
    snprintf(datadir, sizeof datadir, "%s/data-%s", r->dir, worker);
    return rhaid_launch(r, NULL, worker, concurrency, own ? NULL : more, extra, log);
}

pid_t th_rhaid_start_as(const th_redis *r, const char *worker, int concurrency, uid_t uid,
                        gid_t gid, const char *const extra[])
{
    char suid[16], sgid[16], log[300];
    /* --pdeathsig: credentials changed, so set it again */
    const char *pre[] = { TH_SETPRIV, "--reuid", suid, "--regid", sgid, "--clear-groups",
                          "--pdeathsig", "KILL", "--", NULL };

    snprintf(suid, sizeof suid, "%d", (int)uid);
    snprintf(sgid, sizeof sgid, "%d", (int)gid);
    snprintf(log, sizeof log, "%s/rhaid-as-%d.log", r->dir, ++rhaid_seq);
    return rhaid_launch(r, pre, worker, concurrency, NULL, extra, log);
}

/* ======================== raw protocol helpers ======================== */

long long th_vcmd_int(redisContext *c, const char *fmt, va_list ap)
{
    redisReply *r = redisvCommand(c, fmt, ap);
    long long v = -1;

    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    if (r)
        freeReplyObject(r);
    return v;
}

long long th_cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    long long v;

    va_start(ap, fmt);
    v = th_vcmd_int(c, fmt, ap);
    va_end(ap);
    return v;
}

int th_submit(redisContext *c, const char *worker, const char *id, const char *script,
              const char *args, long timeout_ms, const char *reply_to)
{
    return th_submit_as(c, worker, id, NULL, NULL, script, args, timeout_ms, reply_to);
}

int th_submit_as(redisContext *c, const char *worker, const char *id, const char *ctx,
                 const char *caller, const char *script, const char *args, long timeout_ms,
                 const char *reply_to)
{
    char key[RH_KEY_MAX], tmo[24], now[24];
    const char *argv[32];
    int argc = 0;
    redisReply *r;

    snprintf(tmo, sizeof tmo, "%ld", timeout_ms);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    argv[argc++] = "HSET";
    argv[argc++] = rh_key_task(key, "rhai", worker, id);
    argv[argc++] = "id";          argv[argc++] = id;
    argv[argc++] = "worker_id";   argv[argc++] = worker;
    argv[argc++] = "status";      argv[argc++] = "queued";
    argv[argc++] = "created_at";  argv[argc++] = now;
    argv[argc++] = "attempts";    argv[argc++] = "0";
    if (script) { argv[argc++] = "script"; argv[argc++] = script; }
    if (args) { argv[argc++] = "args"; argv[argc++] = args; }
    if (timeout_ms > 0) { argv[argc++] = "timeout_ms"; argv[argc++] = tmo; }
    if (reply_to) { argv[argc++] = "reply_to"; argv[argc++] = reply_to; }
    if (ctx) { argv[argc++] = "context_id"; argv[argc++] = ctx; }
    if (caller) { argv[argc++] = "caller_id"; argv[argc++] = caller; }
    r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SET %s %s", rh_key_taskw(key, "rhai", id), worker);   /* the hint */
    if (r)
        freeReplyObject(r);
    r = redisCommand(c, "LPUSH %s %s", rh_key_queue(key, "rhai", worker), id);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

const char *th_worker_of(redisContext *c, const char *id, char worker[RH_NAME_MAX + 1])
{
    char key[RH_KEY_MAX];
    redisReply *r = redisCommand(c, "GET %s", rh_key_taskw(key, "rhai", id));

    snprintf(worker, RH_NAME_MAX + 1, "%s", r && r->type == REDIS_REPLY_STRING &&
             rh_name_valid(r->str) ? r->str : "default");
    if (r)
        freeReplyObject(r);
    return worker;
}

char *th_task_key(redisContext *c, const char *id, char key[RH_KEY_MAX])
{
    char w[RH_NAME_MAX + 1];
    return rh_key_task(key, "rhai", th_worker_of(c, id, w), id);
}

int th_reply(redisContext *c, const char *list, const char *id, int timeout_s, rh_task *out)
{
    char key[RH_KEY_MAX], w[RH_NAME_MAX + 1];
    redisReply *r;
    int rc = -1;

    if (list == NULL)
        list = rh_key_reply(key, "rhai", th_worker_of(c, id, w), id);
    r = redisCommand(c, "BLPOP %s %d", list, timeout_s);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        rc = rh_task_from_reply(out, r->element[1]->str, r->element[1]->len, NULL) == 0 ? 0 : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

const char *th_task_field(redisContext *c, const char *id, const char *field, char *buf,
                          size_t n)
{
    char key[RH_KEY_MAX];
    redisReply *r = redisCommand(c, "HGET %s %s", th_task_key(c, id, key), field);
    buf[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(buf, n, "%s", r->str);
    if (r)
        freeReplyObject(r);
    return buf;
}

/* GET path from 127.0.0.1:port; returns the whole response (new) or NULL. */
char *th_http_get(int port, const char *path)
{
    struct sockaddr_in sa;
    char req[256];
    rh_buf b;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return NULL;
    }
    rh_buf_init(&b);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        rh_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    return b.data;
}

/* Value of the first line starting with 'series ', or -1. */
long long th_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

char *th_metrics_wait(int port, const char *series, long long min, int timeout_ms)
{
    int64_t deadline = rh_mono_ms() + timeout_ms;
    char *body = NULL;

    for (;;) {
        char *b = th_http_get(port, "/metrics");
        if (b) {
            rh_free(body);
            body = b;
            if (th_metric(body, series) >= min)
                break;
        }
        if (rh_mono_ms() >= deadline)
            break;
        nap_ms(20);
    }
    return body;
}

/* ======================== exposition format check ======================== */

typedef struct fam {
    char name[128];
    char type[16];
    int  help, samples;
} fam;

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static fam *fam_find(fam *f, int nf, const char *name, size_t len)
{
    for (int i = 0; i < nf; i++)
        if (strlen(f[i].name) == len && strncmp(f[i].name, name, len) == 0)
            return &f[i];
    return NULL;
}

#define CHECK_FAIL(...) do { snprintf(why, n, __VA_ARGS__); goto out; } while (0)

int th_metrics_check(const char *body, char *why, size_t n)
{
    static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
    enum { MAXF = 256, MAXS = 2048 };
    fam *f = rh_calloc(MAXF, sizeof *f);
    char **series = rh_calloc(MAXS, sizeof *series);
    int nf = 0, ns = 0, rc = -1, lineno = 0;
    const char *p = body, *hdr = strstr(body, "\r\n\r\n");

    if (f == NULL || series == NULL)
        CHECK_FAIL("out of memory");
    if (hdr)
        p = hdr + 4;
    while (*p) {
        const char *eol = strchr(p, '\n'), *q;
        size_t len;
        char line[1024];

        lineno++;
        if (eol == NULL)
            CHECK_FAIL("line %d: no final newline", lineno);
        len = (size_t)(eol - p);
        if (len >= sizeof line)
            CHECK_FAIL("line %d: too long", lineno);
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol + 1;
        if (len == 0)
            continue;
        if (line[0] == '#') {
            char kind[8], name[128], rest[900];
            fam *x;
            if (sscanf(line, "# %7s %127s %899[^\n]", kind, name, rest) < 3)
                CHECK_FAIL("line %d: bad comment: %s", lineno, line);
            if (strcmp(kind, "HELP") != 0 && strcmp(kind, "TYPE") != 0)
                continue;
            for (q = name; *q; q++)
                if (!name_char(*q, q == name))
                    CHECK_FAIL("line %d: bad metric name %s", lineno, name);
            if ((x = fam_find(f, nf, name, strlen(name))) == NULL) {
                if (nf == MAXF)
                    CHECK_FAIL("too many families");
                x = &f[nf++];
                snprintf(x->name, sizeof x->name, "%s", name);
            }
            if (x->samples)
                CHECK_FAIL("line %d: %s %s after its samples", lineno, kind, name);
            if (strcmp(kind, "HELP") == 0) {
                if (x->help++)
                    CHECK_FAIL("line %d: second HELP of %s", lineno, name);
            } else {
                int ok = 0;
                if (x->type[0])
                    CHECK_FAIL("line %d: second TYPE of %s", lineno, name);
                for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
                    ok |= strcmp(rest, types[i]) == 0;
                if (!ok)
                    CHECK_FAIL("line %d: unknown type %s", lineno, rest);
                snprintf(x->type, sizeof x->type, "%.15s", rest);
            }
            continue;
        }
        {   /* a sample: name{labels} value */
            const char *s = line, *end;
            size_t nlen;
            fam *x;
            char *v;
            double d;

            while (name_char(*s, s == line))
                s++;
            nlen = (size_t)(s - line);
            if (nlen == 0)
                CHECK_FAIL("line %d: no metric name: %s", lineno, line);
            if (*s == '{') {
                s++;
                while (*s != '}') {
                    const char *l = s;
                    while (name_char(*s, s == l) && *s != ':')
                        s++;
                    if (s == l || *s != '=' || s[1] != '"')
                        CHECK_FAIL("line %d: bad label: %s", lineno, line);
                    s += 2;
                    while (*s && *s != '"') {
                        if (*s == '\\') {
                            if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                                CHECK_FAIL("line %d: bad escape in label: %s", lineno, line);
                            s++;
                        }
                        s++;
                    }
                    if (*s != '"')
                        CHECK_FAIL("line %d: unterminated label: %s", lineno, line);
                    s++;
                    if (*s == ',')
                        s++;
                    else if (*s != '}')
                        CHECK_FAIL("line %d: bad label list: %s", lineno, line);
                }
                s++;
            }
            end = s;
            if (*s != ' ')
                CHECK_FAIL("line %d: no space before the value: %s", lineno, line);
            s++;
            if (strcmp(s, "+Inf") && strcmp(s, "-Inf") && strcmp(s, "NaN")) {
                d = strtod(s, &v);
                (void)d;
                if (v == s || (*v != '\0' && *v != ' '))
                    CHECK_FAIL("line %d: bad value: %s", lineno, line);
            }
            x = fam_find(f, nf, line, nlen);
            if (x == NULL) {            /* a histogram's or summary's own series */
                static const char *const suf[] = { "_bucket", "_sum", "_count" };
                for (size_t i = 0; i < 3 && x == NULL; i++) {
                    size_t sl = strlen(suf[i]);
                    if (nlen > sl && strncmp(line + nlen - sl, suf[i], sl) == 0)
                        x = fam_find(f, nf, line, nlen - sl);
                }
                if (x && strcmp(x->type, "histogram") != 0 && strcmp(x->type, "summary") != 0)
                    x = NULL;
            } else if (strcmp(x->type, "histogram") == 0) {
                x = NULL;               /* a histogram has no bare samples */
            }
            if (x == NULL)
                CHECK_FAIL("line %d: sample of no declared family: %s", lineno, line);
            if (!x->help || !x->type[0])
                CHECK_FAIL("line %d: %s lacks HELP or TYPE", lineno, x->name);
            x->samples++;
            for (int i = 0; i < ns; i++)
                if (strlen(series[i]) == (size_t)(end - line) &&
                    strncmp(series[i], line, (size_t)(end - line)) == 0)
                    CHECK_FAIL("line %d: series twice: %s", lineno, series[i]);
            if (ns == MAXS)
                CHECK_FAIL("too many series");
            series[ns++] = rh_strndup(line, (size_t)(end - line));
        }
    }
    for (int i = 0; i < nf; i++)
        if (!f[i].help || !f[i].type[0])
            CHECK_FAIL("%s lacks HELP or TYPE", f[i].name);
    rc = 0;
out:
    for (int i = 0; series && i < ns; i++)
        rh_free(series[i]);
    rh_free(series);
    rh_free(f);
    return rc;
}
