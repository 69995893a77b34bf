/* tsclock.h: the stream clock: the pts a decoded frame is published with,
 * which is also the time sample_fps and realtime pacing go by.
 *
 * A file (or a network source with a duration) goes by its own timestamps.
 * A live source (a network stream without an end, a device) goes by when its
 * frames arrive: a camera's container may invent timestamps (FFmpeg's MJPEG
 * over HTTP reader stamps every frame as if at 25 fps), while arrival time
 * cannot lie about the rate.  Frames that arrive together (a burst after a
 * network hiccup, a live HLS segment) are spread out by their own
 * timestamps, so a burst is not one instant.
 *
 * Either way the published pts never goes backward: a timestamp that jumps
 * back, or forward by more than TSC_JUMP_S, is a discontinuity (concatenated
 * recordings, an encoder restart) and the clock rebases over it; a new run
 * (reconnect, loop) continues from the last pts plus one frame step.
 * Pure arithmetic on the caller's numbers: no libav, no clock reads. */
#ifndef LCNETD_TSCLOCK_H
#define LCNETD_TSCLOCK_H

#include <stdint.h>

/* A forward step longer than this is a discontinuity, not a pause: a file
 * in realtime never waits longer than this for its next frame. */
#define TSC_JUMP_S 10.0
/* How far a live source's clock may run ahead of arrival while it spreads a
 * burst: more would let timestamps that run fast drift without bound. */
#define TSC_LEAD_S 10.0
/* A live clock ahead of arrival advances this much slower than the
 * timestamps say, so that it meets arrival again. */
#define TSC_CATCH_UP 0.01
/* Live frame rate: measured over windows of at least this long. */
#define TSC_RATE_WINDOW_US 2000000

typedef struct {
    /* kept across runs */
    double last;            /* published pts of the last frame; NAN before any */
    double step;            /* frame step at the last frame, to continue with */
    double live_step;       /* measured from arrivals (live); 0 = not yet */
    /* this run */
    int live;
    int fresh;              /* no frame yet in this run */
    double offset;          /* files: published = stream pts + offset */
    double last_raw;        /* stream pts of the last frame that had one; NAN: none yet */
    int64_t t0_us;          /* live: arrival of the run's first frame, and its pts */
    double t0;
    int64_t win_us;         /* live: the rate window's start, and packets since */
    int win_n;              /* (-1: no window yet) */
} tsc_clock;

void tsc_init(tsc_clock *c);
/* A run (connection, or a file's pass) starts; live: arrival time rules. */
void tsc_run(tsc_clock *c, int live);
/* A video packet arrived at now_us (monotonic): measures a live rate. */
void tsc_packet(tsc_clock *c, int64_t now_us);
/* The frame step to use: the measured one for a live source once there is
 * one, else declared (the stream's nominal rate). */
double tsc_step(const tsc_clock *c, double declared);
/* A decoded frame: raw is its pts in seconds (NAN when it has none), now_us
 * when it arrived, step from tsc_step, slack what else may legitimately
 * separate two frames (the keyframe spacing when only keyframes are
 * decoded).  Returns its pts to publish; *jump = 1 when the timestamps
 * jumped and the clock rebased over it. */
double tsc_frame(tsc_clock *c, double raw, int64_t now_us, double step, double slack, int *jump);

#endif
