/* hist.h: a histogram of durations with fixed buckets, for the metrics
 * endpoint's histograms (Prometheus "le" buckets, cumulative there).
 *
 * lc_hist_add is lock-free, so the inference thread can count its batches
 * without a mutex; lc_hist_read copies one (each field is read atomically,
 * the whole is not a snapshot, which a scrape 0.25 s old tolerates). */
#ifndef LCNETD_HIST_H
#define LCNETD_HIST_H

#include <stdint.h>

enum { LC_HIST_BOUNDS = 14 };
/* Upper bounds of the buckets in seconds, rising; a last one is +Inf. */
extern const double lc_hist_bounds[LC_HIST_BOUNDS];

typedef struct lc_hist {
    uint64_t bucket[LC_HIST_BOUNDS + 1];   /* not cumulative; [LC_HIST_BOUNDS] is +Inf */
    uint64_t count;
    uint64_t sum_us;
} lc_hist;

void lc_hist_add(lc_hist *h, int64_t us);
void lc_hist_read(const lc_hist *h, lc_hist *out);

#endif
