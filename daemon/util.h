/* util.h: clocks, CPU pinning, thread set-up shared by the daemon's threads. */
#ifndef LCNETD_UTIL_H
#define LCNETD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"

int64_t lc_mono_us(void);            /* CLOCK_MONOTONIC */
int64_t lc_wall_us(void);            /* CLOCK_REALTIME, since the epoch */
/* CLOCK_REALTIME ms from now, for pthread_cond_timedwait. */
struct timespec lc_deadline(int ms);
/* Pin the calling thread to cpus; count 0 = leave it alone. */
int lc_pin_self(const cfg_cpus *cpus, char *err, size_t errlen);
/* Block the signals main handles, so they reach main's signalfd only. */
void lc_block_signals(void);
/* Write "<what>: strerror(errno)" into err, keep errno, return ret. */
int lc_syserr(int ret, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sleep up to us microseconds; returns early (nonzero) once *stop is set. */
int lc_sleep_unless(int64_t us, const volatile int *stop);

#endif
