/* frameq.h: the drop-oldest frame queue between an ingest thread and the
 * inference thread.
 *
 * It holds `depth` frames ([daemon] queue_frames, 8 by default: a quarter
 * second at 30 fps): long enough to absorb a burst (an ingest thread, which
 * runs at a lower priority than inference, kept off a busy CPU for a moment
 * catches up with several frames at once; with 3 slots, camera streams on a
 * loaded machine lost a frame now and then with CPU to spare), short enough
 * that latency stays bounded.  When it is full the oldest frame is dropped,
 * since a late label is worth less than a skipped one.  The depth + 2
 * buffers are allocated up front: one being filled, one being classified;
 * a buffer the queue never reached is never written, so it is usually not
 * resident either.
 *
 * One producer, one consumer.  Only daemon/stream.c holds these: the other
 * threads reach a stream's queues through stream.h. */
#ifndef LCNETD_FRAMEQ_H
#define LCNETD_FRAMEQ_H

#include <stddef.h>
#include <stdint.h>

struct AVFrame;

typedef struct lc_frame {
    uint8_t *pix;          /* h rows of w*3 bytes, the model's size and channel order */
    int64_t seq;           /* frame number in this stream, counting decoded frames */
    double pts;            /* seconds in the stream's time base */
    int64_t capture_us;    /* wall clock: the sender's (RTCP) when known, else decode time */
    int64_t decoded_us;    /* monotonic: when it left the decoder; latency starts here */
    /* snapshot = yes only: a reference to the decoded frame (its pixels are
     * the decoder's, not copied), for a snapshot of it; let go when the slot
     * is dropped or filled again.  NULL: snapshots off. */
    struct AVFrame *src;
    int crop_x, crop_y, crop_w, crop_h;    /* of src that was classified; crop_w 0: all */
#ifdef LCNETD_TESTING
    /* monotonic stage times, for the latency breakdown of bench/e2e.py */
    int64_t scaled_us, infer_start_us, infer_end_us;
#endif
} lc_frame;

typedef struct lc_frameq lc_frameq;

/* depth >= 1 frames of `bytes` each; refs set: each with an empty src to
 * hold a decoded frame.  -1: out of memory. */
int lc_frameq_new(lc_frameq **out, int depth, size_t bytes, int refs);
void lc_frameq_free(lc_frameq *q);

/* Producer: the buffer to fill next (the same until put); src, if any,
 * holds nothing. */
lc_frame *lc_frameq_spare(lc_frameq *q);
/* Queue the spare buffer.  With wait set, first blocks while the queue is
 * full, until the consumer takes one or *stop is set; *heartbeat_us (may be
 * NULL) is touched while it waits, since waiting on a slow consumer is
 * progress.  Returns 1 when the oldest frame was dropped to make room. */
int lc_frameq_put(lc_frameq *q, int wait, const int *stop, int64_t *heartbeat_us);
/* Consumer: the oldest queued frame, or NULL; valid until the next take. */
lc_frame *lc_frameq_take(lc_frameq *q);
/* Wake a producer waiting in put (it rechecks *stop). */
void lc_frameq_wake(lc_frameq *q);
/* Frames queued now. */
int lc_frameq_count(lc_frameq *q);

#endif
