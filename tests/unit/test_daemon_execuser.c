/* test_daemon_execuser.c -- wk_execuser_prepare: as root, the executor
 * user is given the data dir and the root-owned files in it, never a file
 * reached through a link, and rhaid refuses to start when that user still
 * could not use a file or reach the dir. Needs root; skips otherwise. */
#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon.h"

typedef struct fx {
    char           top[256];   /* mkdtemp, 0711 */
    char           data[300];  /* top/data */
    struct passwd  nobody;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    struct passwd *pw = getpwnam("nobody");

    if (f == NULL)
        return -1;
    snprintf(f->top, sizeof f->top, "%s/rhai-execuser-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->top) == NULL || chmod(f->top, 0711) != 0)
        return -1;
    snprintf(f->data, sizeof f->data, "%s/data", f->top);
    if (pw)
        f->nobody = *pw;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf %s", f->top);
    (void)system(cmd);
    free(f);
    return 0;
}

static void make_file(const char *dir, const char *name, mode_t mode, uid_t uid)
{
    char path[400];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
    assert_int_equal(chown(path, uid, uid), 0);
}

static uid_t owner(const char *dir, const char *name)
{
    char path[400];
    struct stat st;

    int n = snprintf(path, sizeof path, "%s%s%s", dir, name ? "/" : "", name ? name : "");

    assert_true(n > 0 && (size_t)n < sizeof path);
    assert_int_equal(lstat(path, &st), 0);
    return st.st_uid;
}

static void need_root(const fx *f)
{
    if (geteuid() != 0 || f->nobody.pw_name == NULL)
        skip();
}

static void test_root_gives_the_data_dir_and_its_root_files_to_the_executor_user(void **state)
{
    fx *f = *state;
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(mkdir(f->data, 0700), 0);
    make_file(f->data, "acme.db", 0600, 0);
    make_file(f->data, "acme.db-wal", 0600, 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), 0);
    assert_int_equal(u.drop, 1);
    assert_int_equal(u.uid, f->nobody.pw_uid);
    assert_int_equal(u.gid, f->nobody.pw_gid);
    assert_string_equal(u.data_dir, f->data);
    assert_int_equal(owner(f->data, NULL), f->nobody.pw_uid);
    assert_int_equal(owner(f->data, "acme.db"), f->nobody.pw_uid);
    assert_int_equal(owner(f->data, "acme.db-wal"), f->nobody.pw_uid);
}

static void test_a_missing_data_dir_is_made_and_given_away(void **state)
{
    fx *f = *state;
    char deep[400];
    wk_execuser u;
    rhai_error err;

    need_root(f);
    snprintf(deep, sizeof deep, "%s/x", f->data);
    assert_int_equal(wk_execuser_prepare(NULL, deep, &u, &err), 0);   /* default nobody */
    assert_int_equal(u.uid, f->nobody.pw_uid);
    assert_int_equal(owner(deep, NULL), f->nobody.pw_uid);
}

/* A link planted in the data dir (by a compromised executor, which owns
 * the dir) must not make root chown what it points at. */
static void test_links_in_the_data_dir_are_never_followed_or_changed(void **state)
{
    fx *f = *state;
    char target[600], sym[400], hard[400], other[400];
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(mkdir(f->data, 0700), 0);
    snprintf(other, sizeof other, "%s/other", f->top);
    assert_int_equal(mkdir(other, 0700), 0);
    make_file(other, "secret", 0644, 0);
    snprintf(target, sizeof target, "%s/secret", other);
    snprintf(sym, sizeof sym, "%s/sym.db", f->data);
    snprintf(hard, sizeof hard, "%s/hard.db", f->data);
    assert_int_equal(symlink(target, sym), 0);
    assert_int_equal(link(target, hard), 0);
    err.msg[0] = '\0';
    /* the hard link is root's and not the user's to write: refused */
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), RHAI_EIO);
    assert_non_null(strstr(err.msg, "hard.db"));
    assert_int_equal(owner(other, "secret"), 0);
    assert_int_equal(owner(f->data, "sym.db"), 0);      /* the link itself, too */
    assert_int_equal(unlink(hard), 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), 0);
    assert_int_equal(owner(other, "secret"), 0);
}

static void test_a_file_of_another_user_stops_the_start_naming_it(void **state)
{
    fx *f = *state;
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(mkdir(f->data, 0700), 0);
    make_file(f->data, "theirs.db", 0600, 4242);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), RHAI_EIO);
    assert_non_null(strstr(err.msg, "theirs.db"));
    assert_non_null(strstr(err.msg, "cannot read and write it"));
    assert_int_equal(owner(f->data, "theirs.db"), 4242);
}

static void test_a_closed_parent_dir_stops_the_start_naming_it(void **state)
{
    fx *f = *state;
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(chmod(f->top, 0700), 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), RHAI_EIO);
    assert_non_null(strstr(err.msg, "cannot reach it"));
    assert_non_null(strstr(err.msg, f->top));
}

/* A careless --data-dir (/etc, /root, /var/lib) must not hand a
 * directory of the system, and the files in it, to the executor user:
 * a directory rhaid would give away holds contexts' files only. */
static void test_a_data_dir_holding_other_files_is_never_given_away(void **state)
{
    fx *f = *state;
    char sub[400], lf[400];
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(mkdir(f->data, 0755), 0);
    make_file(f->data, "shadow", 0600, 0);
    make_file(f->data, "acme.db", 0600, 0);
    err.msg[0] = '\0';
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "shadow"));
    assert_int_equal(owner(f->data, NULL), 0);
    assert_int_equal(owner(f->data, "shadow"), 0);
    assert_int_equal(owner(f->data, "acme.db"), 0);

    /* a directory of the system holds directories: refused as well */
    assert_int_equal(unlink(strcat(strcpy(sub, f->data), "/shadow")), 0);
    snprintf(sub, sizeof sub, "%s/lib", f->data);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "lib"));
    assert_int_equal(owner(f->data, NULL), 0);

    /* a file system of its own: lost+found is no obstacle */
    snprintf(lf, sizeof lf, "%s/lost+found", f->data);
    assert_int_equal(rename(sub, lf), 0);
    make_file(f->data, "acme.db-wal", 0600, 0);
    make_file(f->data, "acme.db-shm", 0600, 0);
    make_file(f->data, "acme.db-journal", 0600, 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), 0);
    assert_int_equal(owner(f->data, NULL), f->nobody.pw_uid);
    assert_int_equal(owner(f->data, "acme.db-journal"), f->nobody.pw_uid);
    assert_int_equal(owner(f->data, "lost+found"), 0);

    /* given away already, it is the executor user's: a root file put
     * there later that is no context's is left as it is */
    make_file(f->data, "notes.txt", 0600, 0);
    assert_int_equal(wk_execuser_prepare("nobody", f->data, &u, &err), 0);
    assert_int_equal(owner(f->data, "notes.txt"), 0);
}

static void test_executor_user_root_keeps_root_and_an_unknown_user_is_refused(void **state)
{
    fx *f = *state;
    wk_execuser u;
    rhai_error err;

    need_root(f);
    assert_int_equal(wk_execuser_prepare("root", f->data, &u, &err), 0);
    assert_int_equal(u.drop, 0);
    assert_int_equal(owner(f->data, NULL), 0);              /* left alone */
    assert_int_equal(wk_execuser_prepare("no-such-user-rhai", f->data, &u, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "no such user"));
    assert_int_equal(wk_execuser_prepare("4243", f->data, &u, &err), 0);  /* a bare uid */
    assert_int_equal(u.uid, 4243);
    assert_int_equal(u.gid, 4243);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
        T(test_root_gives_the_data_dir_and_its_root_files_to_the_executor_user),
        T(test_a_missing_data_dir_is_made_and_given_away),
        T(test_links_in_the_data_dir_are_never_followed_or_changed),
        T(test_a_file_of_another_user_stops_the_start_naming_it),
        T(test_a_closed_parent_dir_stops_the_start_naming_it),
        T(test_a_data_dir_holding_other_files_is_never_given_away),
        T(test_executor_user_root_keeps_root_and_an_unknown_user_is_refused),
#undef T
    };
    return cmocka_run_group_tests_name("daemon_execuser", tests, NULL, NULL);
}
