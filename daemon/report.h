/* report.h: what the daemon tells its sinks about itself: the env they
 * are opened and reloaded with (its hooks give a new subscriber's hello
 * and the `status` answer), the stats event every stats_interval and the
 * counters' sample every tick of the loop. */
#ifndef LCNETD_REPORT_H
#define LCNETD_REPORT_H

#include "daemon/lcnetd.h"

/* What the sinks are told of the daemon, at start and on every reload. */
void rpt_env(daemon_t *d, snk_env *env, int max_subscribers);

/* An SNK_STATS event to the sinks: the counters, and the rates and
 * latencies of the secs since the last one. */
void rpt_stats(daemon_t *d, double secs);

/* The counters alone, for the sinks that sample them (metrics). */
void rpt_sample(daemon_t *d);

#endif
