/* metrics.h: the numbers the Prometheus endpoint shows, and their text.
 *
 * The loop keeps them current (the counters four times a second, the rates
 * every stats_interval, a latency with each label); the HTTP server's
 * thread renders them on a scrape.  Both meet under the object's mutex,
 * held for copies and for the rendering, never for I/O.
 */
#ifndef LCNETD_METRICS_H
#define LCNETD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/sink.h"

typedef struct met met;

met *met_new(void);                     /* NULL: out of memory */
void met_free(met *m);
/* What lcnetd_build_info says. */
void met_info(met *m, const char *version, const char *model, const char *precision,
              const char *isa);
/* An SNK_STATS event: its counters (a sample, or a stats tick), and the
 * stream rates when it is a tick (seconds > 0).  Streams it lacks are gone. */
void met_stats(met *m, const snk_event *e);
/* A label reached the sinks, us after its frame was decoded. */
void met_latency(met *m, const char *stream, const char *region, const char *model, int64_t us);
/* The text exposition format (version 0.0.4), malloc'd; NULL: out of memory. */
char *met_render(met *m, size_t *len);

#endif
