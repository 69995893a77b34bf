/* retry.h: how long a stream waits before it is opened again.
 *
 * Ordinary failures wait backoff_min, doubling up to backoff_max, with
 * jitter so that cameras behind one switch do not all come back in the same
 * instant.  A connection that delivered frames for longer than backoff_max
 * was healthy, however it ended (an error, a stall, a clean end of stream):
 * the next wait starts at backoff_min again.
 *
 * A refused login is another matter: many cameras lock the account after a
 * few wrong tries, and trying again soon cannot help until someone fixes the
 * credentials.  After one the wait is at least 30 s (auth_backoff_max if that
 * is less), doubling up to auth_backoff_max, until a connection gets in. */
#ifndef LCNETD_RETRY_H
#define LCNETD_RETRY_H

#include "config/config.h"

typedef struct ing_retry {
    double backoff;        /* the next ordinary wait, before jitter */
    double auth_backoff;   /* the last wait after a refused login; 0 = none yet */
    unsigned seed;         /* for the jitter (rand_r) */
} ing_retry;

void ing_retry_init(ing_retry *r, const cfg_stream *c, unsigned seed);
/* The wait in seconds before the next open, after a connection that
 * delivered frames for `delivered` seconds (0: none) and then ended, failing
 * with `cause` (ING_CAUSE_*, daemon/cause.h). */
double ing_retry_next(ing_retry *r, const cfg_stream *c, int cause, double delivered);

#endif
