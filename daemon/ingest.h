/* ingest.h: one thread per stream: open, read, decode, scale into the slot.
 *
 * Every libav call that can block is bounded by an interrupt callback with a
 * deadline, so no read waits forever.  A stream that fails or stalls is
 * reopened with exponential backoff and jitter; files, and network sources
 * with a duration, end (or loop). */
#ifndef LCNETD_INGEST_H
#define LCNETD_INGEST_H

#include <stddef.h>

#include "daemon/stream.h"

/* Start s's thread.  s->sched and s->q must be set. */
int ing_start(lc_stream *s, char *err, size_t errlen);
/* Ask the thread to stop (returns at once); ing_join waits for it. */
void ing_request_stop(lc_stream *s);
void ing_join(lc_stream *s);
/* For the libav log callback: notes an error message of the calling
 * ingest thread, its reason should opening fail (a no-op elsewhere).
 * text must already be scrubbed of passwords (rdx_known_scrub). */
void ing_note_av_log(int level, const char *text);

#endif
