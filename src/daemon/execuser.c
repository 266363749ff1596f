/* execuser.c -- who executors run as, and a data dir they can use.
 *
 * rhaid started as root starts its executors as `executor_user` (default
 * nobody): uv_spawn sets their uid and gid and clears supplementary groups
 * before exec, so no executor runs a single instruction as root. That user
 * needs the data dir, so at start rhaid (still root) hands it the data
 * dir and the files in it that root owns, the way systemd does for a
 * StateDirectory=, and then checks that the user can reach the dir and
 * read and write every file in it: if not, rhaid refuses to start and
 * says which path is wrong. Only a directory of rhaid's own is given
 * away: one that holds contexts' files only (a careless --data-dir /etc
 * must not hand /etc and its files to the executor user), and of the
 * files in it, only contexts' files. Started as any other user, rhaid cannot
 * change users and its executors keep its own. The confinement an
 * executor applies to itself is in confine_linux.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"

/* Mode bits 'want' (a mask of 4 r, 2 w, 1 x) for uid/gid on 'st', the way
 * the kernel decides without ACLs or supplementary groups (the executor
 * has none). Root is not special: the executor user is never root here. */
static int can(const struct stat *st, uid_t uid, gid_t gid, unsigned want)
{
    unsigned m = (unsigned)st->st_mode;
    unsigned have = st->st_uid == uid ? (m >> 6) & 7 : st->st_gid == gid ? (m >> 3) & 7 : m & 7;

    return (have & want) == want;
}

/* The user named 'name' (or a bare number, a uid without a passwd entry,
 * its gid the same number). */
static int user_lookup(const char *name, uid_t *uid, gid_t *gid, rhai_error *err)
{
    struct passwd pw, *res = NULL;
    char buf[4096], *end;
    long n;

    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res != NULL) {
        *uid = res->pw_uid;
        *gid = res->pw_gid;
        return 0;
    }
    errno = 0;
    n = strtol(name, &end, 10);
    if (*name && *end == '\0' && errno == 0 && n >= 0 && n < 0x7fffffffL) {
        *uid = (uid_t)n;
        *gid = (gid_t)n;
        return 0;
    }
    return rh_error_set(err, RHAI_EINVAL, "executor_user '%s': no such user", name);
}

/* Every ancestor of the absolute 'dir' must let uid/gid through. */
static int check_path(const char *dir, uid_t uid, gid_t gid, rhai_error *err)
{
    char p[4096];
    struct stat st;
    size_t n = strlen(dir);

    if (n >= sizeof p)
        return rh_error_set(err, RHAI_EINVAL, "data dir path too long");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        if (stat(p, &st) == 0 && !can(&st, uid, gid, 1))
            return rh_error_set(err, RHAI_EIO, "data dir %s: executor user (uid %d) cannot "
                                "reach it: %s is mode %03o, owner %d (give it o+x, or choose "
                                "another data_dir)", dir, (int)uid, p,
                                (unsigned)st.st_mode & 0777, (int)st.st_uid);
        p[i] = '/';
    }
    return 0;
}

/* Give a root-owned regular file to uid/gid, and check that it may read
 * and write it. The file is opened without following a link and changed
 * through that descriptor, and only when it has one link: a link planted
 * in the data dir by a compromised executor cannot make rhaid hand over
 * a file elsewhere. Other entries (dirs, links, sockets) are left alone;
 * the store makes none. */
static int adopt_file(int dfd, const char *dir, const char *name, uid_t uid, gid_t gid,
                      rhai_error *err)
{
    struct stat st;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int e;

    if (fd < 0)
        return errno == ELOOP || errno == ENOENT ? 0 :
               rh_error_set(err, RHAI_EIO, "%s/%s: %s", dir, name, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (st.st_uid == 0 && st.st_nlink == 1 && uid != 0) {
        if (fchown(fd, uid, gid) != 0) {
            e = errno;
            close(fd);
            return rh_error_set(err, RHAI_EIO, "chown %s/%s: %s", dir, name, strerror(e));
        }
        st.st_uid = uid;
        st.st_gid = gid;
    }
    close(fd);
    if (!can(&st, uid, gid, 6))
        return rh_error_set(err, RHAI_EIO, "%s/%s is mode %03o, owner %d: the executor user "
                            "(uid %d) cannot read and write it (chown it to that user)", dir,
                            name, (unsigned)st.st_mode & 0777, (int)st.st_uid, (int)uid);
    return 0;
}

/* A file the store makes in the data dir: <context>.db and SQLite's
 * -wal, -shm and -journal beside it. */
static int store_file(const char *name)
{
    static const char *const ends[] = { ".db", ".db-wal", ".db-shm", ".db-journal" };
    char ctx[RH_CONTEXT_MAX + 1];
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t e = strlen(ends[i]);
        if (n > e && n - e <= RH_CONTEXT_MAX && strcmp(name + n - e, ends[i]) == 0) {
            memcpy(ctx, name, n - e);
            ctx[n - e] = '\0';
            return rh_context_id_valid(ctx);
        }
    }
    return 0;
}

/* The first entry of the directory 'dfd' that is neither a store file,
 * the data id rhaid writes there (WK_DATA_ID_FILE, store_watch.c) nor
 * lost+found (a file system of its own), copied to 'name'; 0 when
 * there is none, -1 when the directory cannot be read. */
static int foreign_entry(int dfd, char *name, size_t n)
{
    struct dirent *de;
    DIR *d = fdopendir(dup(dfd));
    int found = 0;

    if (d == NULL)
        return -1;
    while (!found && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "lost+found") == 0 ||
            strcmp(de->d_name, WK_DATA_ID_FILE) == 0 || store_file(de->d_name))
            continue;
        snprintf(name, n, "%s", de->d_name);
        found = 1;
    }
    rewinddir(d);           /* the offset is dfd's too (dup) */
    closedir(d);
    return found;
}

/* Hand the data dir and the root-owned store files in it to uid/gid;
 * fail naming the first path the user still cannot use. A root-owned
 * dir that holds anything else is not rhaid's (the operator named a
 * directory of the system): refused, nothing changed. */
static int adopt_dir(const char *dir, uid_t uid, gid_t gid, rhai_error *err)
{
    char other[256];
    struct stat st;
    struct dirent *de;
    DIR *d;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (dfd < 0)
        return rh_error_set(err, RHAI_EIO, "data dir %s: %s", dir, strerror(errno));
    if (fstat(dfd, &st) != 0) {
        rc = errno;
        close(dfd);
        return rh_error_set(err, RHAI_EIO, "data dir %s: %s", dir, strerror(rc));
    }
    if (st.st_uid == 0 && (rc = foreign_entry(dfd, other, sizeof other)) != 0) {
        close(dfd);
        if (rc < 0)
            return rh_error_set(err, RHAI_EIO, "data dir %s: %s", dir, strerror(errno));
        return rh_error_set(err, RHAI_EINVAL, "data dir %s holds '%s', which is no "
                            "context's file: rhaid gives its data dir to the executor user "
                            "(uid %d), so it must be a directory of its own (empty, or "
                            "only CONTEXT.db files)", dir, other, (int)uid);
    }
    if (st.st_uid == 0 && fchown(dfd, uid, gid) == 0) {
        st.st_uid = uid;
        st.st_gid = gid;
    }
    if (!can(&st, uid, gid, 7)) {
        close(dfd);
        return rh_error_set(err, RHAI_EIO, "data dir %s is mode %03o, owner %d: the executor "
                            "user (uid %d) cannot write it (chown it to that user)", dir,
                            (unsigned)st.st_mode & 0777, (int)st.st_uid, (int)uid);
    }
    if ((d = fdopendir(dup(dfd))) == NULL) {
        close(dfd);
        return rh_error_set(err, RHAI_EIO, "data dir %s: %s", dir, strerror(errno));
    }
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (store_file(de->d_name))     /* anything else is not rhaid's */
            rc = adopt_file(dfd, dir, de->d_name, uid, gid, err);
    closedir(d);
    close(dfd);
    return rc;
}

/* mkdir -p: the data dir itself 0700, the parents it needs 0755 (as
 * mkdir -p makes them), so that the executor user can get through. */
static int make_dir(const char *dir, rhai_error *err)
{
    char p[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof p)
        return rh_error_set(err, RHAI_EINVAL, "data dir '%s': empty or too long", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, c ? 0755 : 0700) != 0 && errno != EEXIST)
                return rh_error_set(err, RHAI_EIO, "data dir %s: %s", p, strerror(errno));
            p[i] = c;
        }
    }
    return 0;
}

int wk_execuser_landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

    return v > 0 ? (int)v : 0;
}

int wk_execuser_prepare(const char *user, const char *data_dir, wk_execuser *out,
                        rhai_error *err)
{
    char *abs;
    int rc;

    memset(out, 0, sizeof *out);
    out->uid = getuid();
    out->gid = getgid();
    if (data_dir && *data_dir) {
        if ((rc = make_dir(data_dir, err)) != 0)
            return rc;
        if ((abs = realpath(data_dir, NULL)) == NULL)
            return rh_error_set(err, RHAI_EIO, "data dir %s: %s", data_dir, strerror(errno));
        if (strlen(abs) >= sizeof out->data_dir) {
            free(abs);
            return rh_error_set(err, RHAI_EINVAL, "data dir path too long");
        }
        memcpy(out->data_dir, abs, strlen(abs) + 1);
        free(abs);
    }
    if (geteuid() != 0) {
        rh_log(RH_LOG_INFO, "event=executor_user uid=%d rhaid is not root: executors run as "
               "its user", (int)out->uid);
        return 0;
    }
    if (user == NULL || *user == '\0')
        user = "nobody";
    if ((rc = user_lookup(user, &out->uid, &out->gid, err)) != 0)
        return rc;
    if (out->uid == 0) {
        rh_log(RH_LOG_WARN, "event=executor_user user=%s uid=0 executors keep root (without "
               "capabilities): set executor_user to an unprivileged user", user);
        return 0;
    }
    out->drop = 1;
    if (out->data_dir[0] &&
        ((rc = adopt_dir(out->data_dir, out->uid, out->gid, err)) != 0 ||
         (rc = check_path(out->data_dir, out->uid, out->gid, err)) != 0))
        return rc;
    rh_log(RH_LOG_INFO, "event=executor_user user=%s uid=%d gid=%d executors drop root",
           user, (int)out->uid, (int)out->gid);
    return 0;
}
