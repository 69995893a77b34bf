/* util.c: see util.h. */
#include "daemon/util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int64_t lc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t lc_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec lc_deadline(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

int lc_pin_self(const cfg_cpus *cpus, char *err, size_t errlen)
{
    if (!cpus || cpus->count == 0)
        return 0;
    int e = pthread_setaffinity_np(pthread_self(), sizeof(cpus->set), &cpus->set);
    if (e) {
        snprintf(err, errlen, "pthread_setaffinity_np: %s", strerror(e));
        return -1;
    }
    return 0;
}

void lc_block_signals(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int lc_sleep_unless(int64_t us, const volatile int *stop)
{
    int64_t end = lc_mono_us() + us;
    while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
        int64_t left = end - lc_mono_us();
        if (left <= 0)
            return 0;
        struct timespec ts = { 0, (left > 50000 ? 50000 : left) * 1000 };
        nanosleep(&ts, NULL);
    }
    return 1;
}

int lc_syserr(int ret, char *err, size_t errlen, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    if (errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, ": %s", strerror(e));
    }
    errno = e;
    return ret;
}
