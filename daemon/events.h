/* events.h: the JSON lines subscribers read.  Each returns a malloc'd line
 * without its newline (length in *len), or NULL when out of memory. */
#ifndef LCNETD_EVENTS_H
#define LCNETD_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/stream.h"
#include "engine/engine.h"

/* state: "up", "down", "reconnecting", "eof", "stopped"; retry_s < 0: none */
char *ev_stream_state(const char *stream, const char *state, const char *reason, double retry_s,
                      size_t *len);
char *ev_label(const lc_stream *s, const lc_frame *f, double latency_ms, const eng_top *top, int k,
               const eng_labels *labels, size_t *len);

typedef struct {
    double seconds;                 /* interval the rates cover */
    uint64_t decoded, sampled_out, skipped, classified, published, reconnects, decode_skipped;
    double decoded_fps, classified_fps;
    double p50_ms, p99_ms;          /* < 0: no samples */
    const char *state;
} ev_stats_t;
char *ev_stats(const char *stream, const ev_stats_t *st, size_t *len);

typedef struct {
    const char *version, *model, *precision;
    int classes, width, height;
    const char *const *streams;
    int nstreams;
    int max_batch;                /* frames per inference at most */
    const char *isa, *precision_reason;
    const char *backend, *backend_reason;
} ev_hello_t;
char *ev_hello(const ev_hello_t *h, size_t *len);
typedef struct {
    const char *name, *state;
    uint64_t decoded, classified, skipped, reconnects;
} ev_status_stream;
/* events_dropped: lines the threads' queue to the publisher had to drop */
char *ev_status(const ev_status_stream *st, int n, int subscribers, double classified_fps,
                unsigned long long events_dropped, size_t *len);
/* {"event":EVENT,"message":MESSAGE} */
char *ev_simple(const char *event, const char *message, size_t *len);

#endif
