/* rhai/error.h -- error codes shared by every rhailib API.
 *
 * A function that can fail returns 0 or a negative RHAI_E* code;
 * rhai_strerror() names every code. Detail, when wanted, travels in a
 * caller-owned rhai_error; nothing is ever heap-allocated for it. */
#ifndef RHAI_ERROR_H
#define RHAI_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RHAI_BUILDING) && defined(__GNUC__)
#define RHAI_API __attribute__((visibility("default")))
#else
#define RHAI_API
#endif

enum {
    RHAI_OK        =  0,
    RHAI_EINVAL    = -1,   /* bad argument or malformed input */
    RHAI_ENOMEM    = -2,   /* allocation failed */
    RHAI_ECONN     = -3,   /* Redis unreachable or connection lost */
    RHAI_ETIMEOUT  = -4,   /* deadline passed */
    RHAI_EPROTO    = -5,   /* peer broke the wire or frame protocol */
    RHAI_ENOTFOUND = -6,   /* no such task (or it expired) */
    RHAI_ESTATE    = -7,   /* object not in a state that allows this */
    RHAI_ESTORE    = -8,   /* SQLite failure */
    RHAI_EIO       = -9,   /* system call failed */
    RHAI_ETOOBIG   = -10,  /* over a configured size cap */
    RHAI_EAGAIN    = -11,  /* incomplete input, try again with more */
    RHAI_ECANCELED = -12,  /* request abandoned (client closed) */
    RHAI_EINTERNAL = -13,  /* a bug of ours */
    RHAI_ETLS      = -14   /* TLS configuration, handshake or certificate
                              verification failed (rediss://) */
};

#define RHAI_ERRMSG_MAX 256

typedef struct rhai_error {
    int  code;                  /* one of RHAI_E*, 0 when no error */
    char msg[RHAI_ERRMSG_MAX];  /* human readable detail, NUL-terminated */
} rhai_error;

/* The status of a task (docs/protocol.md), here rather than in client.h
 * so that the internal code shared by every binary (src/common) needs no
 * client API. */
typedef enum rhai_status {
    RHAI_STATUS_UNKNOWN = 0,
    RHAI_STATUS_QUEUED,
    RHAI_STATUS_RUNNING,
    RHAI_STATUS_DONE,
    RHAI_STATUS_ERROR,
    RHAI_STATUS_TIMEOUT,
    RHAI_STATUS_CANCELLED,
    RHAI_STATUS_CLAIMED,    /* taken by an instance, not started yet */
    RHAI_STATUS_SCHEDULED   /* delayed (run_at ahead) or waiting for a retry */
} rhai_status;

/* Static, never NULL; "unknown error" for codes not listed above. */
RHAI_API const char *rhai_strerror(int code);
/* Static name of the code ("RHAI_ETIMEOUT"), never NULL. */
RHAI_API const char *rhai_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
