/* test_store_readonly.c -- a data dir that is read-only for a while.
 *
 * SQLite opens a file it may not write read-only, without an error, and
 * such a connection never becomes writable again. The store caches open
 * contexts for the life of the process (an executor), so a context first
 * opened while the data dir was read-only must be opened again once it
 * is writable: found by the chaos suite's "readonly" variant, where tasks
 * kept failing with "attempt to write a readonly database" after the dir
 * was writable again.
 *
 * File modes do not stop root, so the scenario runs in a child process
 * that, when we are root, first becomes "nobody". */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"

static const store_field item[] = {
    { "name", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item, 1 },
};
static const store_schema schema = { models, 1, "ro1" };

static char dir[128];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-store-ro-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[400];

    (void)state;
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Write bits off (or the owner's back on) the dir and its files. */
static int set_writable(const char *d, int on)
{
    static const char *const files[] = { "c.db", "c.db-wal", "c.db-shm" };
    char path[300];

    if (!on && chmod(d, 0500) != 0)
        return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", d, files[i]);
        if (chmod(path, on ? 0600 : 0400) != 0 && errno != ENOENT)
            return -1;
    }
    return on ? chmod(d, 0700) : 0;
}

static int insert_one(store *s, const char *name, rhai_error *err)
{
    store_db *db;
    json_t *v = json_pack("{s:s}", "name", name);
    int64_t id;
    int rc;

    if ((rc = store_open(s, "c", &db, err)) == 0 && (rc = store_begin(db, err)) == 0) {
        if ((rc = store_insert(db, &models[0], v, &id, err)) == 0)
            rc = store_commit(db, err);
        else
            store_rollback(db);
    }
    json_decref(v);
    return rc;
}

/* The scenario; the exit status names the step that went wrong. */
static int scenario(const char *d)
{
    store *keeper = NULL, *s = NULL;
    store_db *db;
    rhai_error err;

    memset(&err, 0, sizeof err);
    /* 'keeper' holds the context open, as other executors do: its WAL
     * files stay, and its connection keeps writing whatever the modes */
    if (store_new(d, &schema, &keeper, &err) != 0 || insert_one(keeper, "a", &err) != 0)
        return 10;
    if (set_writable(d, 0) != 0)
        return 11;
    if (store_new(d, &schema, &s, &err) != 0)
        return 12;
    if (store_open(s, "c", &db, &err) == 0 && insert_one(s, "b", &err) == 0)
        return 13;                      /* a read-only dir must refuse the write */
    if (insert_one(keeper, "c", &err) != 0)
        return 14;                      /* an open connection keeps writing */
    if (set_writable(d, 1) != 0)
        return 15;
    if (insert_one(s, "d", &err) != 0) {
        fprintf(stderr, "after the dir is writable again: %s\n", err.msg);
        return 16;                      /* the regression: still read-only */
    }
    store_free(s);
    store_free(keeper);
    return 0;
}

static void test_a_context_opened_read_only_is_written_once_the_dir_is_writable(void **state)
{
    const struct passwd *pw = NULL;
    pid_t pid;
    int st;

    (void)state;
    if (geteuid() == 0) {
        if ((pw = getpwnam("nobody")) == NULL) {
            fprintf(stderr, "skipped: running as root without a user 'nobody'\n");
            skip();
        }
        assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (pw && (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
                   setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0))
            _exit(2);
        _exit(scenario(dir));
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_context_opened_read_only_is_written_once_the_dir_is_writable, dir_setup,
            dir_teardown),
    };
    return cmocka_run_group_tests_name("store_readonly", tests, NULL, NULL);
}
