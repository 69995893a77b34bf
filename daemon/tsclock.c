/* tsclock.c: the stream clock.  See tsclock.h. */
#include "daemon/tsclock.h"

#include <math.h>
#include <string.h>

void tsc_init(tsc_clock *c)
{
    memset(c, 0, sizeof *c);
    c->last = NAN;
    c->last_raw = NAN;
}

void tsc_run(tsc_clock *c, int live)
{
    c->live = live;
    c->fresh = 1;
    c->offset = 0;
    c->last_raw = NAN;
    c->win_n = -1;              /* the time across a reconnect is no frame interval */
}

void tsc_packet(tsc_clock *c, int64_t now_us)
{
    if (!c->live)
        return;
    if (c->win_n++ < 0) {
        c->win_us = now_us;
        c->win_n = 0;
        return;
    }
    if (now_us - c->win_us >= TSC_RATE_WINDOW_US) {
        c->live_step = (double)(now_us - c->win_us) / 1e6 / c->win_n;
        c->win_us = now_us;
        c->win_n = 0;
    }
}

double tsc_step(const tsc_clock *c, double declared)
{
    return c->live && c->live_step > 0 ? c->live_step : declared;
}

/* Whether the stream's own step from one frame to the next is a
 * discontinuity: back by more than a frame (a frame's worth is reordering
 * noise, clamped below), or forward by more than a pause could be. */
static int jumped(double d, double step, double slack)
{
    return d < -step || d > TSC_JUMP_S + slack;
}

double tsc_frame(tsc_clock *c, double raw, int64_t now_us, double step, double slack, int *jump)
{
    double out;
    *jump = 0;
    if (c->fresh) {
        c->fresh = 0;
        out = isnan(c->last) ? 0 : c->last + c->step;
        /* a file's first pass keeps its own time, so that a label points
         * into the recording; every later start continues the last one */
        if (!c->live && isnan(c->last) && !isnan(raw))
            out = raw;
        c->t0_us = now_us;
        c->t0 = out;
        if (!isnan(raw))
            c->offset = out - raw;
    } else if (c->live) {
        double arrived = c->t0 + (double)(now_us - c->t0_us) / 1e6;
        double adv = step;
        if (!isnan(raw) && !isnan(c->last_raw)) {
            double d = raw - c->last_raw;
            if (jumped(d, step, slack))
                *jump = 1;
            else
                adv = d > 0 ? d : 0;
        }
        /* Ahead of arrival, after a burst, the clock runs a little slow
         * until it meets arrival again: each hiccup of the network or of
         * this thread would otherwise leave its delay in the clock for
         * good, and enough of them would reach TSC_LEAD_S, where a burst
         * is no longer spread. */
        if (c->last + adv > arrived)
            adv *= 1 - TSC_CATCH_UP;
        out = fmax(c->last + adv, arrived);
        out = fmin(out, arrived + TSC_LEAD_S);
    } else if (isnan(raw)) {
        out = c->last + step;       /* no timestamps: count frames */
    } else {
        if (isnan(c->last_raw))
            c->offset = c->last + step - raw;
        else if (jumped(raw - c->last_raw, step, slack)) {
            *jump = 1;
            c->offset = c->last + step - raw;
        }
        out = raw + c->offset;
    }
    if (!isnan(c->last) && out < c->last)
        out = c->last;
    c->last = out;
    c->step = step;
    if (!isnan(raw))
        c->last_raw = raw;
    return out;
}
