/* stream.h: one configured stream as the threads share it.
 *
 * The ingest thread owns the demuxer and decoder and writes frames; the
 * inference thread reads them; they meet only at the queue below, under the
 * stream's mutex.  The queue holds `depth` frames ([daemon] queue_frames,
 * 8 by default: a quarter second at 30 fps): long enough to absorb a burst
 * (an ingest thread, which runs at a lower priority than inference, kept
 * off a busy CPU for a moment catches up with several frames at once; with
 * 3 slots, 12-14 camera streams on 2 cores lost a frame now and then with a
 * third of the CPU idle), short enough that latency stays bounded; when it
 * is full the oldest frame is dropped and counted as skipped, since a late
 * label is worth less than a skipped one.  The depth + 2 slots are
 * allocated up front; a slot the queue never reached is never written, so
 * it is usually not resident either. */
#ifndef LCNETD_STREAM_H
#define LCNETD_STREAM_H

#include <pthread.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/engine.h"

struct evq;
struct sch;

typedef struct {
    uint8_t *pix;          /* h rows of w*3 bytes, the model's size and channel order */
    int64_t seq;           /* frame number in this stream, counting decoded frames */
    double pts;            /* seconds in the stream's time base */
    int64_t capture_us;    /* wall clock: the sender's (RTCP) when known, else decode time */
    int64_t decoded_us;    /* monotonic: when it left the decoder; latency starts here */
#ifdef LCNETD_TESTING
    /* monotonic stage times, for the latency breakdown of bench/e2e.py */
    int64_t scaled_us, infer_start_us, infer_end_us;
#endif
} lc_frame;

typedef struct lc_stream {
    cfg_stream cfg;        /* own copy */
    int w, h;
    eng_order order;       /* what the scaler writes: the model's */
    eng_resize mode;

    pthread_mutex_t m;
    pthread_cond_t cv;     /* a queued frame taken (back-pressure waits on it) */
    int depth;             /* queue length; f, fq and freel are sized from it */
    lc_frame *f;           /* depth + 2 */
    int spare, working;    /* indices into f: being filled, being classified */
    int *fq, fqhead, fqn;  /* queued, oldest first */
    int *freel, nfree;

    pthread_t thread;
    int started;
    int stop;              /* set by main; read by the thread and its I/O callback */
    int64_t heartbeat_us;  /* last sign of life from the ingest thread */
    cfg_cpus cpus;         /* decode CPUs; count 0 = not pinned */
    struct sch *sched;
    struct evq *q;

    double key_gap;        /* widest keyframe spacing seen (s); the ingest thread's */

    /* counters: written by one thread, read by main for stats.  They add
     * up (lcnetd(8), STATS): packets = decoded + decode_skipped + errors +
     * what the decoder holds; decoded = sampled_out + skipped + classified +
     * what the queue holds. */
    uint64_t decoded, sampled_out, skipped, classified, published, reconnects, errors;
    uint64_t packets;          /* video packets read */
    uint64_t decode_skipped;   /* packets that gave no frame: skipped for sample_fps, by us or
                                * the decoder, or left in it by a reconnect */
    uint64_t ts_discontinuities;   /* timestamp jumps the clock rebased over */
    uint64_t auth_failures;    /* opens the server refused the login of (401, 403) */
    int state;             /* LC_STREAM_*: through lc_stream_state/_set_state only */

    /* latency samples since the last stats event (ms), a ring under m;
     * nlat counts all of them, the ring keeps the newest 512 */
    float lat[512];
    int nlat;

    /* publish state: the inference thread's alone */
    int last_cls, cand_cls, cand_n;
    int64_t labels_sent;
} lc_stream;

/* Where a stream is, as subscribers hear it: the ingest thread sets it,
 * main reads it for status and the watchdog. */
enum { LC_STREAM_DOWN = 0, LC_STREAM_UP, LC_STREAM_ENDED };

int lc_stream_new(lc_stream **out, const cfg_stream *c, int w, int h, eng_order order, eng_resize mode,
                  int depth, char *err, size_t errlen);
void lc_stream_free(lc_stream *s);

/* Ingest side: the buffer to fill next, then hand it over.  With wait set,
 * blocks while the queue is full (files with realtime = no). */
lc_frame *lc_slot_spare(lc_stream *s);
void lc_slot_put(lc_stream *s, int wait);
/* Inference side: the oldest queued frame, or NULL; valid until the next take. */
lc_frame *lc_slot_take(lc_stream *s);
void lc_stream_latency(lc_stream *s, float ms);

static inline int lc_stream_state(const lc_stream *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}
static inline void lc_stream_set_state(lc_stream *s, int state)
{
    __atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
}

static inline void lc_count(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}
static inline uint64_t lc_read(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
