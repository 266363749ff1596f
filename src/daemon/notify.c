/* notify.c -- the systemd notify protocol (Type=notify), via libsystemd.
 *
 * sd_notify() is a no-op when $NOTIFY_SOCKET is unset, so these calls cost
 * nothing outside systemd. The watchdog interval comes from
 * $WATCHDOG_USEC; rhaid pings at half of it from its tick. */
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"

int64_t wk_notify_watchdog_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return (int64_t)(usec / 2000) > 0 ? (int64_t)(usec / 2000) : 1;
}

void wk_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sd_notify(0, msg);
}
