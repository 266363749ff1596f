/* alloc.c -- the allocation layer every module of ours goes through.
 *
 * Like redis's zmalloc: a size header in front of each block lets us count
 * live bytes for metrics; calloc checks nmemb*size for overflow; a test hook
 * makes the n-th allocation fail so out-of-memory paths can be exercised.
 * Failure returns NULL: callers turn it into RHAI_ENOMEM. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* max_align_t-sized header keeps the user pointer suitably aligned. */
typedef union { size_t size; max_align_t align; } hdr;

/* Atomic: distinct rhai_client objects may live on different threads. */
static _Atomic size_t live_bytes;
static _Atomic unsigned long fail_countdown;

void rh_alloc_fail_after(unsigned long n) { fail_countdown = n; }
size_t rh_alloc_live_bytes(void) { return live_bytes; }

static int should_fail(void)
{
    unsigned long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

void *rh_malloc(size_t size)
{
    hdr *h;
    if (should_fail() || size > SIZE_MAX - sizeof(hdr))
        return NULL;
    if ((h = malloc(sizeof(hdr) + size)) == NULL)
        return NULL;
    h->size = size;
    live_bytes += size;
    return h + 1;
}

void *rh_calloc(size_t nmemb, size_t size)
{
    void *p;
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    if ((p = rh_malloc(nmemb * size)) != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

void *rh_realloc(void *ptr, size_t size)
{
    hdr *h, *n;
    size_t old;
    if (ptr == NULL)
        return rh_malloc(size);
    if (should_fail() || size > SIZE_MAX - sizeof(hdr))
        return NULL;
    h = (hdr *)ptr - 1;
    old = h->size;
    if ((n = realloc(h, sizeof(hdr) + size)) == NULL)
        return NULL;
    n->size = size;
    live_bytes += size;
    live_bytes -= old;
    return n + 1;
}

void rh_free(void *ptr)
{
    hdr *h;
    if (ptr == NULL)
        return;
    h = (hdr *)ptr - 1;
    live_bytes -= h->size;
    free(h);
}

char *rh_strndup(const char *s, size_t n)
{
    char *p;
    if (s == NULL || n == SIZE_MAX || (p = rh_malloc(n + 1)) == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rh_strdup(const char *s)
{
    return s ? rh_strndup(s, strlen(s)) : NULL;
}

char *rh_sprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (p = rh_malloc((size_t)n + 1)) == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
