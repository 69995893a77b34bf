/* retry.c: the wait before a stream is opened again.  See retry.h. */
#include "daemon/retry.h"

#include <math.h>
#include <stdlib.h>

#include "daemon/cause.h"

/* Seconds at least between two logins after one was refused. */
#define AUTH_FLOOR 30.0

void ing_retry_init(ing_retry *r, const cfg_stream *c, unsigned seed)
{
    r->backoff = c->backoff_min;
    r->auth_backoff = 0;
    r->seed = seed;
}

static double unit(ing_retry *r)
{
    return (double)rand_r(&r->seed) / RAND_MAX;
}

double ing_retry_next(ing_retry *r, const cfg_stream *c, int cause, double delivered)
{
    if (delivered > c->backoff_max)
        r->backoff = c->backoff_min;
    /* frames came: the server took the credentials */
    if (delivered > 0)
        r->auth_backoff = 0;
    if (cause == ING_CAUSE_AUTH) {
        double floor_s = fmin(AUTH_FLOOR, c->auth_backoff_max);
        r->auth_backoff = r->auth_backoff > 0 ? fmin(r->auth_backoff * 2, c->auth_backoff_max)
                                              : floor_s;
        /* jitter only downwards, and never below the floor */
        return fmax(floor_s, r->auth_backoff * (0.9 + 0.1 * unit(r)));
    }
    double delay = r->backoff * (0.5 + 0.5 * unit(r));
    r->backoff = fmin(r->backoff * 2, c->backoff_max);
    return delay;
}
