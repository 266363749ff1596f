/* time.c -- wall and monotonic clocks in the units the protocol uses. */
#include <time.h>

#include "common.h"

int64_t rh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rh_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rh_mono_ms(void)
{
    return rh_mono_us() / 1000;
}
