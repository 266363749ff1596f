/* buf.c -- a growable byte buffer, always NUL-terminated once allocated. */
#include <stdio.h>
#include <string.h>

#include "common.h"

void rh_buf_init(rh_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void rh_buf_free(rh_buf *b)
{
    rh_free(b->data);
    rh_buf_init(b);
}

int rh_buf_reserve(rh_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return RHAI_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if ((p = rh_realloc(b->data, cap)) == NULL)
        return RHAI_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int rh_buf_append(rh_buf *b, const void *p, size_t n)
{
    if (rh_buf_reserve(b, n) != 0)
        return RHAI_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int rh_buf_appendf(rh_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || rh_buf_reserve(b, (size_t)n) != 0)
        return RHAI_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void rh_buf_consume(rh_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->cap)
        b->data[b->len] = '\0';
}
