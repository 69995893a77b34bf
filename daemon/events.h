/* events.h: the JSON objects of the event socket, one line each; the MQTT
 * sink sends the same objects.  Each returns a malloc'd line without its
 * newline (length in *len), or NULL when out of memory. */
#ifndef LCNETD_EVENTS_H
#define LCNETD_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/sink.h"

/* {"event":"stream",...} of an SNK_STATE event */
char *ev_stream_state(const snk_event *e, size_t *len);
/* {"event":"label",...} of an SNK_LABEL event */
char *ev_label(const snk_event *e, size_t *len);
/* {"event":"error","stream":...,"source":...,"message":...} of an SNK_ERROR event */
char *ev_error(const snk_event *e, size_t *len);
/* {"event":"stats",...} of one stream; seconds: the interval the rates cover */
char *ev_stats(const snk_stream_stats *st, double seconds, int64_t time_us, size_t *len);
/* The members of that object after "event", for objects that embed it. */
void ev_stats_members(json_buf *b, const snk_stream_stats *st, double seconds);

/* One entry of hello's `models`. */
typedef struct {
    const char *name, *path, *precision;
    int classes, width, height;
    const char *backend;        /* "onednn" or "xnnpack" */
} ev_hello_model;

typedef struct {
    const char *version, *model, *precision;   /* the default model's, as before `models` */
    int classes, width, height;
    const char *const *streams;
    int nstreams;
    int max_batch;                /* frames per inference at most */
    const char *isa, *precision_reason;
    const char *backend, *backend_reason;
    const ev_hello_model *models; /* every model, the default first */
    int nmodels;
} ev_hello_t;
char *ev_hello(const ev_hello_t *h, size_t *len);
typedef struct {
    const char *name, *state;
    uint64_t decoded, classified, skipped, reconnects;
    int nsources;                 /* 0: one source, unnamed (nothing added to the line) */
    const snk_source_stats *sources;
} ev_status_stream;
/* events_dropped: events the threads' queue to the loop had to drop;
 * extra: more "key":value members before "time" (the sinks'), or NULL */
char *ev_status(const ev_status_stream *st, int n, int subscribers, double classified_fps,
                unsigned long long events_dropped, const char *extra, size_t *len);
/* {"event":EVENT,"message":MESSAGE} */
char *ev_simple(const char *event, const char *message, size_t *len);

#endif
