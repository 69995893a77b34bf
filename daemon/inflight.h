/* inflight.h: the packets handed to a decoder whose frame has not come out.
 *
 * A decoder told to skip non-reference frames (decode_skip = auto) drops
 * them without a word: a packet goes in and no frame comes out.  To count
 * those, the ingest thread notes each packet it hands over and each frame
 * it gets back.  Frames come out in presentation order, each with the pts of
 * its own packet (libavcodec copies it), so once a frame is out, any packet
 * of its run with an earlier pts that is still waiting never will be: the
 * decoder dropped it.  A run ends where the decode timestamps step back (the
 * frames of the old one come out first).  Every packet is answered exactly
 * once, as a frame or as a drop, so that the counters add up.
 * No libav here: timestamps are plain numbers, IFL_NONE for none. */
#ifndef LCNETD_INFLIGHT_H
#define LCNETD_INFLIGHT_H

#include <stdint.h>

#define IFL_NONE INT64_MIN      /* the value of AV_NOPTS_VALUE */
/* More than any decoder's reordering delay; beyond, the oldest is dropped. */
#define IFL_MAX 64

typedef struct {
    struct {
        int64_t pts;
        unsigned run;
    } e[IFL_MAX];
    int n;                  /* oldest first */
    unsigned run;
    int64_t last_dts;
} ifl_queue;

void ifl_reset(ifl_queue *q);
/* The decoder took a packet.  Returns how many earlier packets this drops
 * for want of room (0 or 1). */
int ifl_sent(ifl_queue *q, int64_t pts, int64_t dts);
/* A frame came out with this pts.  Returns how many packets are now known
 * to have been dropped by the decoder. */
int ifl_frame(ifl_queue *q, int64_t pts);
/* The decoder failed on a packet of its own accord: the oldest is answered. */
void ifl_error(ifl_queue *q);
/* The run is over (flushed, or abandoned on a reconnect): returns how many
 * packets never gave a frame, and empties the queue. */
int ifl_drain(ifl_queue *q);
/* Packets waiting (for the counters' invariant in tests and docs). */
int ifl_waiting(const ifl_queue *q);

#endif
