/* script.c -- what a command sends: the script, its --args, its --key.
 *
 * submit and run read a script from a file, from stdin ("-") or from -e,
 * refusing an empty one, one over CTL_SCRIPT_MAX or one holding a NUL byte
 * before anything is sent; check the --args JSON; and sign the task with a
 * key file (also used by the remote admin calls of admin.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

/* Read all of 'fd' into 'b', at most CTL_SCRIPT_MAX bytes. 0, 1 when the
 * input is longer, or -1 with errno. */
static int script_read_fd(int fd, rh_buf *b)
{
    char chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (b->len + (size_t)n > CTL_SCRIPT_MAX)
            return 1;
        if (rh_buf_append(b, chunk, (size_t)n) != 0) {
            errno = ENOMEM;
            return -1;
        }
    }
}

int ctl_script_load(const char *cmd, const char *path, const char *inline_src,
                    char **out, size_t *len)
{
    const char *name = path && strcmp(path, "-") != 0 ? path : "<stdin>";
    struct stat st;
    rh_buf b;
    int fd, r, e;

    *out = NULL;
    if (inline_src) {
        *len = strlen(inline_src);
        if (*len == 0)
            return ctl_usage_error(cmd, "the script given with -e is empty");
        if (*len > CTL_SCRIPT_MAX) {
            ctl_errorf(cmd, "the -e script is over the %u MiB limit",
                       CTL_SCRIPT_MAX >> 20);
            return CTL_EXIT_USAGE;
        }
        if ((*out = rh_strdup(inline_src)) == NULL) {
            ctl_errorf(cmd, "out of memory");
            return CTL_EXIT_FAILED;
        }
        return 0;
    }

    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else {
        do {
            fd = open(path, O_RDONLY | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            ctl_errorf(cmd, "cannot read '%s': %s", path, strerror(errno));
            return CTL_EXIT_USAGE;
        }
    }
    /* Refuse a large regular file before reading any of it. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > CTL_SCRIPT_MAX) {
        ctl_errorf(cmd, "'%s' is %lld bytes, over the %u MiB script limit", name,
                   (long long)st.st_size, CTL_SCRIPT_MAX >> 20);
        if (fd != STDIN_FILENO)
            close(fd);
        return CTL_EXIT_USAGE;
    }
    rh_buf_init(&b);
    r = script_read_fd(fd, &b);
    e = errno;
    if (fd != STDIN_FILENO)
        close(fd);
    if (r != 0) {
        if (r == 1)
            ctl_errorf(cmd, "'%s' is over the %u MiB script limit", name,
                       CTL_SCRIPT_MAX >> 20);
        else
            ctl_errorf(cmd, "cannot read '%s': %s", name, strerror(e));
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    if (b.len == 0) {
        ctl_errorf(cmd, "'%s' is empty", name);
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        ctl_errorf(cmd, "'%s' holds a NUL byte; scripts are text", name);
        rh_buf_free(&b);
        return CTL_EXIT_USAGE;
    }
    *out = b.data;          /* rh_buf memory comes from rh_malloc */
    *len = b.len;
    return 0;
}

int ctl_script_args_valid(const char *json)
{
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        return -1;
    json_decref(v);
    return 0;
}

int ctl_script_sign(const char *cmd, rhai_task *t, const char *path)
{
    char key[160];
    FILE *f = fopen(path, "r");
    int rc = -1;

    if (f == NULL) {
        ctl_errorf(cmd, "--key %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(key, sizeof key, f) != NULL) {
        key[strcspn(key, "\r\n")] = '\0';
        rc = rhai_task_set_signing_key(t, key) == 0 ? 0 : -1;
    }
    fclose(f);
    memset(key, 0, sizeof key);
    if (rc != 0)
        ctl_errorf(cmd, "--key %s: not an Ed25519 secret key (128 hex; rhaictl keygen)",
                   path);
    return rc;
}
