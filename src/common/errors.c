/* errors.c -- error codes, their names, and the rhai_error filler.
 *
 * Every module converts failures at the source into a negative RHAI_E* code
 * (see rhai/error.h); this file is the only place that names them. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} errtab[] = {
    { RHAI_OK,        "RHAI_OK",        "success" },
    { RHAI_EINVAL,    "RHAI_EINVAL",    "invalid argument" },
    { RHAI_ENOMEM,    "RHAI_ENOMEM",    "out of memory" },
    { RHAI_ECONN,     "RHAI_ECONN",     "connection error" },
    { RHAI_ETIMEOUT,  "RHAI_ETIMEOUT",  "timed out" },
    { RHAI_EPROTO,    "RHAI_EPROTO",    "protocol error" },
    { RHAI_ENOTFOUND, "RHAI_ENOTFOUND", "not found" },
    { RHAI_ESTATE,    "RHAI_ESTATE",    "invalid state for this operation" },
    { RHAI_ESTORE,    "RHAI_ESTORE",    "storage error" },
    { RHAI_EIO,       "RHAI_EIO",       "i/o error" },
    { RHAI_ETOOBIG,   "RHAI_ETOOBIG",   "too big" },
    { RHAI_EAGAIN,    "RHAI_EAGAIN",    "incomplete, try again" },
    { RHAI_ECANCELED, "RHAI_ECANCELED", "cancelled" },
    { RHAI_EINTERNAL, "RHAI_EINTERNAL", "internal error" },
    { RHAI_ETLS,      "RHAI_ETLS",      "TLS error" },
};

#define NERR (sizeof errtab / sizeof errtab[0])

RHAI_API const char *rhai_strerror(int code)
{
    for (size_t i = 0; i < NERR; i++)
        if (errtab[i].code == code)
            return errtab[i].text;
    return "unknown error";
}

RHAI_API const char *rhai_err_name(int code)
{
    for (size_t i = 0; i < NERR; i++)
        if (errtab[i].code == code)
            return errtab[i].name;
    return "RHAI_E?";
}

int rh_error_set(rhai_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rh_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "rhai: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
