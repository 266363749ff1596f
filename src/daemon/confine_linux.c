/* confine_linux.c -- what an executor gives up before its first task.
 *
 * The interpreter is the attack surface: a script that found a memory bug
 * in mujs runs its own code in the executor. So the executor, once it has
 * everything it needs and before it reads a task, makes that process
 * useless for anything but running scripts against the data directory:
 * hard resource limits, no capabilities, no new privileges, the file
 * system cut down to the data directory (Landlock, where the kernel has
 * it) and a system-call allow-list (seccomp-bpf, libseccomp). The uid
 * drop happens earlier, in rhaid's uv_spawn (pool.c, execuser.c), so an
 * executor never runs a single instruction as root unless the operator
 * asked for it. docs/security.md, "Executor confinement", is the contract.
 *
 * Test hook, compiled in only when the test suite is built
 * (RHAI_TEST_HOOKS): with RHAI_TEST_CONFINE_PROBE=PORT in its environment
 * an executor tries, once confined, each thing it must not be able to do
 * and logs one line with the outcome of each (wk_confine_probe). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "executor_entry.h"

/* Under AddressSanitizer the process reserves terabytes of shadow memory
 * up front, so an address-space limit would kill it at once. */
#if defined(__SANITIZE_ADDRESS__)
#define WK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WK_ASAN 1
#endif
#endif
#ifndef WK_ASAN
#define WK_ASAN 0
#endif

/* Descriptors an executor may hold: stdio, the pipe, and the store's
 * contexts (STORE_OPEN_MAX of them, each a database, its -wal and -shm). */
#define WK_CONFINE_NOFILE 64

/* ======================== resource limits ======================== */

static int limit_hard(int res, rlim_t value, const char *name, rhai_error *err)
{
    struct rlimit rl = { value, value };

    if (setrlimit(res, &rl) != 0)
        return rh_error_set(err, RHAI_EIO, "setrlimit %s: %s", name, strerror(errno));
    return 0;
}

/* Soft equals hard for each: the executor can lower them, never raise
 * them again. RLIMIT_NPROC 0: no process or thread can be created (as
 * root, with CAP_SYS_RESOURCE, the kernel ignores it; the filter does
 * not). */
static int confine_rlimits(size_t as_limit, rhai_error *err)
{
    struct rlimit nofile;
    rlim_t nf = WK_CONFINE_NOFILE;
    int rc;

    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max < nf)
        nf = nofile.rlim_max;
    if ((rc = limit_hard(RLIMIT_CORE, 0, "RLIMIT_CORE", err)) != 0 ||
        (rc = limit_hard(RLIMIT_NPROC, 0, "RLIMIT_NPROC", err)) != 0 ||
        (rc = limit_hard(RLIMIT_NOFILE, nf, "RLIMIT_NOFILE", err)) != 0 ||
        (rc = limit_hard(RLIMIT_MEMLOCK, 0, "RLIMIT_MEMLOCK", err)) != 0 ||
        (rc = limit_hard(RLIMIT_MSGQUEUE, 0, "RLIMIT_MSGQUEUE", err)) != 0)
        return rc;
    if (!WK_ASAN && as_limit > 0) {
        struct rlimit as;
        if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_max != RLIM_INFINITY &&
            (rlim_t)as_limit > as.rlim_max)
            as_limit = (size_t)as.rlim_max;
        return limit_hard(RLIMIT_AS, (rlim_t)as_limit, "RLIMIT_AS", err);
    }
    return 0;
}

/* ======================== capabilities ======================== */

/* An executor that kept uid 0 (executor_user = root) gives up every
 * capability: uid 0 still owns root's files, but cannot override file
 * modes, raise hard limits, signal other users' processes or chown. As
 * any other uid the set is empty already (the uid change cleared it). */
static int confine_caps(rhai_error *err)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];

    if (geteuid() != 0)
        return 0;
    for (int cap = 0; cap <= 63; cap++)     /* beyond the last: EINVAL, ignored */
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return rh_error_set(err, RHAI_EIO, "drop capability %d: %s", cap, strerror(errno));
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0)
        return rh_error_set(err, RHAI_EIO, "capset: %s", strerror(errno));
    return 0;
}

/* ======================== Landlock ======================== */

/* Debian 12's headers know ABI 2; newer rights by value (uapi landlock.h). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define WK_LL_RULE_NET_PORT 2
#define WK_LL_NET_BIND_TCP (1ULL << 0)
#define WK_LL_NET_CONNECT_TCP (1ULL << 1)
#define WK_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define WK_LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a prefix. */
typedef struct wk_ll_attr {
    uint64_t fs;
    uint64_t net;      /* ABI 4 */
    uint64_t scoped;   /* ABI 6 */
} wk_ll_attr;

#define WK_LL_FS_V1 (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
    LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
    LANDLOCK_ACCESS_FS_MAKE_SYM)

/* struct landlock_net_port_attr (ABI 4), packed as the uapi header has it. */
typedef struct __attribute__((packed)) wk_ll_port {
    uint64_t allowed_access;
    uint64_t port;
} wk_ll_port;

/* What the store does beneath the data dir: open, create and remove its
 * files (database, -wal, -shm, -journal), truncate them, list the dir. */
#define WK_LL_DATA (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* One rule; 0 or -1 with errno. */
static int ll_rule(int rfd, int type, const void *attr)
{
    return (int)syscall(SYS_landlock_add_rule, rfd, type, attr, 0);
}

/* A path_beneath rule for 'path' with 'access' (file-only rights on a
 * file, any on a dir). 0, or the errno. */
static int ll_path(int rfd, const char *path, uint64_t access, int dir)
{
    struct landlock_path_beneath_attr beneath;
    int fd = open(path, O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0)), e = 0;

    if (fd < 0)
        return errno;
    memset(&beneath, 0, sizeof beneath);
    beneath.allowed_access = access;
    beneath.parent_fd = fd;
    if (ll_rule(rfd, LANDLOCK_RULE_PATH_BENEATH, &beneath) != 0)
        e = errno;
    close(fd);
    return e;
}

/* Every file access, everywhere, is handled (denied) except WK_LL_DATA
 * beneath the data dir (sqlite) and reading c->read_file (a postgres
 * passfile); TCP bind and connect are denied except connecting to
 * c->ports (postgres over TCP). The rights a kernel knows grow with its
 * ABI; rights it does not know stay unrestricted, and are named in
 * docs/security.md. 0 with *abi the version applied, or 0 when the kernel
 * has no Landlock (ENOSYS: not built; EOPNOTSUPP: not enabled at boot;
 * EPERM: refused by a container's own filter): the caller logs that and
 * goes on. */
static int confine_landlock(const wk_confine *c, int *abi, rhai_error *err)
{
    wk_ll_attr attr;
    size_t size = sizeof attr.fs;
    long v;
    int rfd, e;

    *abi = 0;
    v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (v <= 0)
        return 0;
    memset(&attr, 0, sizeof attr);
    attr.fs = WK_LL_FS_V1;
    if (v >= 2)
        attr.fs |= LANDLOCK_ACCESS_FS_REFER;
    if (v >= 3)
        attr.fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (v >= 4) {                   /* TCP bind and connect: no rule, none */
        attr.net = WK_LL_NET_BIND_TCP | WK_LL_NET_CONNECT_TCP;
        size = offsetof(wk_ll_attr, net) + sizeof attr.net;
    }
    if (v >= 5)
        attr.fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    if (v >= 6) {                   /* signals and abstract sockets: own domain only */
        attr.scoped = WK_LL_SCOPE_ABSTRACT_UNIX | WK_LL_SCOPE_SIGNAL;
        size = sizeof attr;
    }
    rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rfd < 0)
        return rh_error_set(err, RHAI_EIO, "landlock ruleset (ABI %ld): %s", v,
                            strerror(errno));
    /* Without a data dir, no rule: no file anywhere. */
    if (c->data_dir && *c->data_dir &&
        (e = ll_path(rfd, c->data_dir, WK_LL_DATA & attr.fs, 1)) != 0) {
        close(rfd);
        return rh_error_set(err, RHAI_EIO, "landlock: data dir %s: %s", c->data_dir,
                            strerror(e));
    }
    /* A passfile it cannot open (yet) is libpq's to report at connect. */
    if (c->read_file && *c->read_file &&
        (e = ll_path(rfd, c->read_file, LANDLOCK_ACCESS_FS_READ_FILE, 0)) != 0 &&
        e != ENOENT && e != EACCES) {
        close(rfd);
        return rh_error_set(err, RHAI_EIO, "landlock: %s: %s", c->read_file, strerror(e));
    }
    for (int i = 0; v >= 4 && i < c->nports; i++) {
        wk_ll_port np = { WK_LL_NET_CONNECT_TCP, (uint64_t)c->ports[i] };
        if (ll_rule(rfd, WK_LL_RULE_NET_PORT, &np) != 0) {
            e = errno;
            close(rfd);
            return rh_error_set(err, RHAI_EIO, "landlock: port %d: %s", c->ports[i],
                                strerror(e));
        }
    }
    if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
        e = errno;
        close(rfd);
        return rh_error_set(err, RHAI_EIO, "landlock: %s", strerror(e));
    }
    close(rfd);
    *abi = (int)v;
    return 0;
}

/* ======================== seccomp ======================== */

/* The system calls a running executor makes, found by tracing the test
 * suite's executors (strace -f), under AddressSanitizer too. Each one is
 * here for a reason named beside it; everything else fails with EPERM. */
static const int allow_plain[] = {
    /* the pipe to rhaid, stderr, and SQLite's files */
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(close),
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(fcntl), SCMP_SYS(fsync),
    SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fchmod),
    SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
    SCMP_SYS(fstat), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(newfstatat),
    SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
    SCMP_SYS(getcwd), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
    /* memory: the js arena, malloc, SQLite's -shm mapping */
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    /* time, randomness, sleeping in SQLite's busy handler */
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
    SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
    /* the process itself */
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid),
    SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(futex),
    SCMP_SYS(sched_yield), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(getrlimit),
    SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* One argument comparison, spelled out: libseccomp's SCMP_A* macros leave
 * a field to its default, which clang's -Wmissing-field-initializers
 * reports. */
static struct scmp_arg_cmp arg(unsigned int n, enum scmp_compare op, scmp_datum_t a,
                               scmp_datum_t b)
{
    struct scmp_arg_cmp c;

    c.arg = n;
    c.op = op;
    c.datum_a = a;
    c.datum_b = b;
    return c;
}

/* A postgres store's connection (libpq): its sockets, their options and
 * traffic, and waiting on them. */
static const int allow_net[] = {
    SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
    SCMP_SYS(getpeername), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg), SCMP_SYS(shutdown), SCMP_SYS(poll), SCMP_SYS(ppoll),
};

/* socket(family, SOCK_STREAM[|flags], ...) for one family. */
static int allow_socket(scmp_filter_ctx f, int family)
{
    return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
                            arg(0, SCMP_CMP_EQ, (scmp_datum_t)family, 0),
                            arg(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
}

static int confine_seccomp(const wk_confine *c, rhai_error *err)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    pid_t self = getpid();
    int rc = 0;

    if (f == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "seccomp_init failed");
    for (size_t i = 0; i < sizeof allow_plain / sizeof allow_plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow_plain[i], 0);
    /* Sockets only for a postgres store, of its families only: a sqlite
     * store's executor has none, as before. */
    for (size_t i = 0; (c->net_unix || c->net_tcp) && rc == 0 &&
                       i < sizeof allow_net / sizeof allow_net[0]; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allow_net[i], 0);
    if (rc == 0 && c->net_unix)
        rc = allow_socket(f, AF_UNIX);
    if (rc == 0 && c->net_tcp)
        rc = allow_socket(f, AF_INET);
    if (rc == 0 && c->net_tcp)
        rc = allow_socket(f, AF_INET6);
    /* No executable memory after start: no new code can be mapped. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                              arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* getrlimit and setrlimit (prlimit64) on ourselves: every limit is
     * hard already, and without CAP_SYS_RESOURCE none can be raised. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                              arg(0, SCMP_CMP_EQ, 0, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setrlimit), 0);
    /* prctl: no_new_privs again (the engine sets it too), nothing else. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                              arg(0, SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0));
    /* abort() and raise(): signals to ourselves only. */
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              arg(0, SCMP_CMP_EQ, (scmp_datum_t)self, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              arg(0, SCMP_CMP_EQ, (scmp_datum_t)self, 0));
    if (rc == 0)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 1,
                              arg(0, SCMP_CMP_EQ, (scmp_datum_t)self, 0));
    if (rc == 0)
        rc = seccomp_load(f);
    seccomp_release(f);
    if (rc != 0)
        return rh_error_set(err, RHAI_EIO, "seccomp: %s", strerror(-rc));
    return 0;
}

/* ======================== public ======================== */

int wk_confine_apply(const wk_confine *c, int *landlock_abi, rhai_error *err)
{
    int rc;

    *landlock_abi = 0;
    /* Read now what is read lazily later from outside the data dir: the
     * time zone (glibc keeps it and later only stat()s /etc/localtime,
     * which Landlock allows). */
    tzset();
    if ((rc = confine_rlimits(c->as_limit, err)) != 0)
        return rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return rh_error_set(err, RHAI_EIO, "no_new_privs: %s", strerror(errno));
    if ((rc = confine_caps(err)) != 0)
        return rc;
    if ((rc = confine_landlock(c, landlock_abi, err)) != 0)
        return rc;
    if (c->seccomp && (rc = confine_seccomp(c, err)) != 0)
        return rc;
    return 0;
}

#ifdef RHAI_TEST_HOOKS
/* ======================== test hook ======================== */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* Append " name=ok" or " name=ERRNO" (the errno's symbolic text). */
static void probe_note(char *line, size_t n, const char *name, int ok, int e)
{
    size_t len = strlen(line);

    if (len < n)
        snprintf(line + len, n - len, " %s=%s", name, ok ? "ok" : strerrorname_np(e) ?
                 strerrorname_np(e) : "?");
}

#define PROBE(line, name, expr)                                         \
    do {                                                                \
        int ok_;                                                        \
        errno = 0;                                                      \
        ok_ = (expr);                                                   \
        probe_note(line, sizeof line, name, ok_, errno);                \
    } while (0)

int wk_confine_probe_prepare(void)
{
    const char *port = getenv("RHAI_TEST_CONFINE_PROBE");

    if (port == NULL || *port == '\0')
        return -1;
    /* A socket made while still unconfined: what connect() may do with
     * one an attacker found is the question, not socket() alone. */
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

void wk_confine_probe(int sock, const wk_confine *c, int landlock_abi)
{
    const char *port = getenv("RHAI_TEST_CONFINE_PROBE");
    char line[2048], path[4200];
    struct sockaddr_in sa;
    struct rlimit rl;
    int fd;

    if (port == NULL || *port == '\0')
        return;
    snprintf(line, sizeof line, "event=confine_probe uid=%d gid=%d landlock=%d",
             (int)getuid(), (int)getgid(), landlock_abi);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PROBE(line, "connect_redis", connect(sock, (struct sockaddr *)&sa, sizeof sa) == 0);
    PROBE(line, "socket_inet", (fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 && close(fd) == 0);
    PROBE(line, "socket_unix", (fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 && close(fd) == 0);
    PROBE(line, "socket_udp", (fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0 && close(fd) == 0);
    if (getenv("RHAI_TEST_CONFINE_STORE")) {  /* a postgres store's port: reachable */
        struct sockaddr_in st = sa;
        st.sin_port = htons((uint16_t)atoi(getenv("RHAI_TEST_CONFINE_STORE")));
        fd = socket(AF_INET, SOCK_STREAM, 0);
        PROBE(line, "connect_store", fd >= 0 && connect(fd, (struct sockaddr *)&st,
                                                        sizeof st) == 0);
        if (fd >= 0)
            close(fd);
    }
    {
        pid_t pid = fork();
        int e = errno;
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            (void)waitpid(pid, NULL, 0);
        probe_note(line, sizeof line, "fork", pid >= 0, e);
    }
    {
        /* Seized, the parent keeps running; an unconfined probe lets go. */
        pid_t pp = getppid();
        int ok = ptrace(PTRACE_SEIZE, pp, NULL, NULL) == 0, e = errno, st;
        if (ok && ptrace(PTRACE_INTERRUPT, pp, NULL, NULL) == 0 &&
            waitpid(pp, &st, __WALL) == pp)
            (void)ptrace(PTRACE_DETACH, pp, NULL, NULL);
        probe_note(line, sizeof line, "ptrace_parent", ok, e);
    }
    PROBE(line, "kill_parent", kill(getppid(), 0) == 0);
    PROBE(line, "read_etc_passwd", (fd = open("/etc/passwd", O_RDONLY)) >= 0 && close(fd) == 0);
    snprintf(path, sizeof path, "%s/rhai-confine-probe-%d", getenv("TMPDIR") ?
             getenv("TMPDIR") : "/tmp", (int)getpid());
    PROBE(line, "write_outside", (fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0 &&
          close(fd) == 0 && unlink(path) == 0);
    if (c->data_dir) {
        snprintf(path, sizeof path, "%s/confine-probe-%d", c->data_dir, (int)getpid());
        PROBE(line, "write_data_dir", (fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0
              && close(fd) == 0 && unlink(path) == 0);
    }
    PROBE(line, "setuid_root", setuid(0) == 0);
    PROBE(line, "unshare_user", unshare(CLONE_NEWUSER) == 0);
    PROBE(line, "mmap_exec", mmap(NULL, 4096, PROT_READ | PROT_EXEC,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED);
    rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    PROBE(line, "raise_nofile", setrlimit(RLIMIT_NOFILE, &rl) == 0);
    PROBE(line, "raise_nproc", setrlimit(RLIMIT_NPROC, &rl) == 0);
    PROBE(line, "raise_core", setrlimit(RLIMIT_CORE, &rl) == 0);
    PROBE(line, "raise_as", setrlimit(RLIMIT_AS, &rl) == 0);    /* no-op when none */
    if (getrlimit(RLIMIT_AS, &rl) == 0) {
        size_t len = strlen(line);
        snprintf(line + len, sizeof line - len, " as_soft=%lld as_hard=%lld",
                 rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur,
                 rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
    }
    if (getrlimit(RLIMIT_NPROC, &rl) == 0) {
        size_t len = strlen(line);
        snprintf(line + len, sizeof line - len, " nproc_hard=%lld",
                 rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
    }
    if (sock >= 0)
        close(sock);
    rh_log(RH_LOG_WARN, "%s", line);
    {
        /* Last: where it works, nothing after it runs. */
        char *const argv[] = { "/bin/true", NULL };
        char *const envp[] = { NULL };
        snprintf(line, sizeof line, "event=confine_probe_exec");
        PROBE(line, "execve", execve("/bin/true", argv, envp) == 0);
        rh_log(RH_LOG_WARN, "%s", line);
    }
}
#endif
