/* fakecpus.c: sched_getaffinity, answering a CPU set of the test's
 * choosing.  See fakecpus.h.  Defined in the test binary, it takes the
 * place of the C library's for every caller in it: the configuration's
 * defaults and the scheduler's pinning alike. */
#include "tests/fakecpus.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fake_cpus;

void fake_cpus_set(int n)
{
    fake_cpus = n;
}

int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
    memset(set, 0, size);
    if (fake_cpus) {
        for (int i = 0; i < fake_cpus; i++)
            CPU_SET_S((size_t)i, size, set);
        return 0;
    }
    return syscall(SYS_sched_getaffinity, pid, size, set) < 0 ? -1 : 0;
}
