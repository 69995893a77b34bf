/* hist.c: see hist.h. */
#include "daemon/hist.h"

/* From half a millisecond (a small model's batch) to 10 s (an event held up
 * behind a stalled loop). */
const double lc_hist_bounds[LC_HIST_BOUNDS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void lc_hist_add(lc_hist *h, int64_t us)
{
    int i = 0;
    if (us < 0)
        us = 0;
    while (i < LC_HIST_BOUNDS && (double)us > lc_hist_bounds[i] * 1e6)
        i++;
    __atomic_add_fetch(&h->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->sum_us, (uint64_t)us, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
}

void lc_hist_read(const lc_hist *h, lc_hist *out)
{
    for (int i = 0; i <= LC_HIST_BOUNDS; i++)
        out->bucket[i] = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
    out->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
    out->count = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
}
