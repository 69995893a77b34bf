/* svc.c: see svc.h.  sd_notify's result is ignored throughout: outside
 * systemd there is no one to tell, and inside it a lost datagram only
 * delays a status line. */
#include "daemon/svc.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include <systemd/sd-daemon.h>


int svc_listen_fd(char *err, size_t errlen)
{
    int n = sd_listen_fds(1);
    if (n < 0) {
        snprintf(err, errlen, "sd_listen_fds failed");
        return -2;
    }
    if (n == 0)
        return -1;
    if (n > 1) {
        snprintf(err, errlen, "systemd passed %d sockets; lcnetd takes one (ListenStream=)", n);
        return -2;
    }
    int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
        snprintf(err, errlen, "the socket systemd passed is not a listening Unix stream socket");
        return -2;
    }
    return fd;
}

void svc_ready(void)
{
    sd_notify(0, "READY=1");
}

void svc_reloading(void)
{
    struct timespec ts;
    char buf[64];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    sd_notify(0, buf);
}

void svc_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void svc_status(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "STATUS=");
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    sd_notify(0, buf);
}

uint64_t svc_watchdog_usec(void)
{
    uint64_t us = 0;
    return sd_watchdog_enabled(0, &us) > 0 ? us : 0;
}

void svc_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}
