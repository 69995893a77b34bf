/* pool.c: what both XNNPACK tables (fp32/fp16 in xnn.c, int8 in
 * q8_run.c) do before they compile: XNNPACK initialised and the thread
 * pool sized as the OpenMP team is. */
#include <sched.h>
#include <stdio.h>

#include "engine/engine.h"
#include "engine/xnn/ir.h"

static int pool_threads(int threads)
{
    if (threads > 0)
        return threads;
    cpu_set_t set;
    /* as OpenMP sizes its team: the CPUs this thread may run on */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

int xir_start(int threads, pthreadpool_t *pool, char *err, size_t errlen)
{
    *pool = NULL;
    /* XNNPACK initialises itself once however often this is called */
    enum xnn_status st = xnn_initialize(NULL);
    if (st != xnn_status_success) {
        snprintf(err, errlen, "xnn_initialize: %s", xir_status(st));
        return ENG_EUNSUP;
    }
    int n = pool_threads(threads);
    if (n > 1 && !(*pool = pthreadpool_create((size_t)n))) {
        snprintf(err, errlen, "pthreadpool_create(%d): out of memory or threads", n);
        return ENG_ENOMEM;
    }
    return 0;
}
