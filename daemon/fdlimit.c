/* fdlimit.c: descriptor budget for subscribers.  See fdlimit.h. */
#include "daemon/fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The kernel's default fs.nr_open: the most a soft limit of "infinity" can mean. */
#define NOFILE_CEILING 1048576L

long lc_fd_raise_limit(char *err, size_t errlen)
{
    struct rlimit rl;
    err[0] = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "getrlimit RLIMIT_NOFILE: %s", strerror(errno));
        return 1024;
    }
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_CEILING ?
                  (rlim_t)NOFILE_CEILING : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = { want, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
        else
            snprintf(err, errlen, "raising RLIMIT_NOFILE from %llu to %llu: %s",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)want, strerror(errno));
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > NOFILE_CEILING ? NOFILE_CEILING :
           (long)rl.rlim_cur;
}

int lc_fd_open_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return 16;      /* no /proc: a guess of what start-up opens */
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;       /* the directory's own descriptor */
}

int lc_fd_subscriber_room(long limit, int base, int nstreams, int want)
{
    long room = limit - base - (long)nstreams * LC_FD_PER_STREAM - LC_FD_LOADER;
    if (room > want)
        room = want;
    return room < 1 ? 1 : (int)room;
}
