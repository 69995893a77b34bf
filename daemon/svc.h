/* svc.h: systemd glue: readiness, status, watchdog, reload and stop
 * notifications (sd_notify), and the socket systemd may pass us. */
#ifndef LCNETD_SVC_H
#define LCNETD_SVC_H

#include <stddef.h>
#include <stdint.h>

/* The listening socket systemd passed, or -1 (none); < -1 on a bad one. */
int svc_listen_fd(char *err, size_t errlen);
void svc_ready(void);
void svc_reloading(void);
void svc_stopping(void);
void svc_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog interval in microseconds, 0 when systemd does not watch us. */
uint64_t svc_watchdog_usec(void);
void svc_watchdog(void);

#endif
