/* sink.h: the output seam.
 *
 * The pipeline emits typed events: a label with its top-k (the inference
 * thread), a stream's state change (its ingest thread, or main when a
 * reload stops it), and every stats_interval the stats of each stream with
 * the daemon's dropped counts (main).  Main's loop hands each event to every
 * sink: the event socket, MQTT, Prometheus metrics.  A sink formats its own
 * payload, on the loop: the inference CPUs write no JSON, and a sink nobody
 * listens to formats nothing.
 *
 * Adding a sink is one file that defines a snk_ops, a row in the table of
 * sinks.c and its keys in config/keys.c.
 *
 * Streams will have regions and several models (another issue): events
 * carry `region` and `model` already, NULL until then, and sinks put them
 * into topics and metric labels when set.
 */
#ifndef LCNETD_SINK_H
#define LCNETD_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/hist.h"
#include "daemon/json.h"
#include "daemon/publish.h"

typedef enum { SNK_LABEL = 1, SNK_STATE, SNK_STATS } snk_kind;

typedef struct snk_class {
    int cls;
    float score;
    const char *label;          /* NULL: the model has no name for it */
} snk_class;

/* One stream's counters, as in its stats event. */
typedef struct snk_stream_stats {
    const char *stream;
    const char *state;          /* "up", "down", "eof" */
    uint64_t decoded, sampled_out, skipped, classified, published, reconnects, decode_skipped;
    uint64_t packets, decode_errors, ts_discontinuities, auth_failures;
    double decoded_fps, classified_fps;    /* over the interval */
    double p50_ms, p99_ms;      /* < 0: no samples in the interval */
} snk_stream_stats;

/* What was lost on the way out, daemon-wide, since start. */
typedef struct snk_drops {
    unsigned long long queue;   /* events the threads' queue to the loop dropped */
    unsigned long long socket;  /* lines subscribers of the socket did not get */
    unsigned long long mqtt;    /* MQTT messages dropped: the broker was slow or away */
} snk_drops;

typedef struct snk_event {
    snk_kind kind;
    const char *stream;         /* NULL for SNK_STATS, which covers them all */
    const char *region, *model; /* NULL: the stream's only region and model */
    int64_t time_us;            /* wall clock: when it happened */
    union {
        struct {
            int64_t seq;
            double pts;
            int64_t capture_us;     /* wall clock: the frame's capture */
            int64_t decoded_us;     /* monotonic: latency starts here */
            double latency_ms;      /* decode to the end of inference */
            int k;
            const snk_class *top;
#ifdef LCNETD_TESTING
            int64_t scaled_us, infer_start_us, infer_end_us;   /* monotonic */
#endif
        } label;
        struct {
            const char *state;      /* "up", "down", "reconnecting", "eof", "stopped" */
            const char *reason;     /* NULL: none */
            double retry_s;         /* < 0: none */
        } state;
        struct {
            double seconds;         /* the interval the rates cover */
            int n;
            const snk_stream_stats *streams;
            snk_drops drops;
            int subscribers;
            double classified_fps;  /* every stream's */
            lc_hist infer;          /* inference time of each batch, since start */
            int mqtt_on, mqtt_connected;
            unsigned long long mqtt_sent;
        } stats;
    };
} snk_event;

/* Events made on the pipeline's threads for the queue to main (evq): one
 * allocation each, strings copied in, freed with free().  NULL: out of
 * memory. */
snk_event *snk_label_new(const char *stream, const snk_class *top, int k, int64_t seq, double pts,
                         int64_t capture_us, int64_t decoded_us, double latency_ms);
snk_event *snk_state_new(const char *stream, const char *state, const char *reason,
                         double retry_s);

/* What the daemon gives the sinks at start and on every reload. */
typedef struct snk_env {
    int listen_fd;              /* the event socket, listening (the caller owns it) */
    int max_subscribers;        /* max_subscribers after the descriptor limit */
    pub_hooks hooks;            /* a new subscriber's hello; the status answer */
    const char *version;
    const char *model;          /* the model's name, for metrics' build info */
    const char *precision, *isa;
} snk_env;

/* What a sink reports of itself, for status, stats and metrics. */
typedef struct snk_counters {
    int clients;                    /* subscribers connected now (socket) */
    unsigned long long sent;        /* lines or messages handed on */
    unsigned long long dropped;     /* lost at this sink */
} snk_counters;

typedef struct snk_ops {
    const char *name;
    /* Does c turn this sink on? */
    int (*wanted)(const cfg *c);
    /* --check-config: what the file names that the loader does not read
     * (a password file, certificates).  NULL: nothing. */
    int (*check)(const cfg *c, const char *path, char *err, size_t errlen);
    int (*open)(void **self, const cfg *c, const snk_env *env, char *err, size_t errlen);
    /* SIGHUP: apply c; on failure the sink runs on as it was. */
    int (*reload)(void *self, const cfg *c, const snk_env *env, char *err, size_t errlen);
    void (*event)(void *self, const snk_event *e);
    /* Every tick of the loop (4 a second), the counters as they are now: an
     * SNK_STATS event whose rates and latencies are not filled in.  NULL: not
     * wanted. */
    void (*sample)(void *self, const snk_event *e);
    /* An fd to poll for EPOLLIN, and what to do then; -1 / NULL: none. */
    int (*fd)(void *self);
    void (*dispatch)(void *self);
    /* NULL: nothing to report (zeros). */
    void (*counters)(void *self, snk_counters *out);
    /* Its part of the `status` answer: "key":value pairs.  NULL: none. */
    void (*status)(void *self, json_buf *b);
    /* Goodbye (flushed within a bound), then free. */
    void (*close)(void *self);
} snk_ops;

extern const snk_ops snk_socket_ops, snk_mqtt_ops, snk_metrics_ops;

/* The sinks c turns on, as one object for main's loop. */
typedef struct snk_set snk_set;

int snk_set_open(snk_set **out, const cfg *c, const snk_env *env, char *err, size_t errlen);
/* Readable when some sink has work: then snk_set_dispatch. */
int snk_set_fd(const snk_set *s);
void snk_set_dispatch(snk_set *s);
void snk_set_event(snk_set *s, const snk_event *e);
void snk_set_sample(snk_set *s, const snk_event *e);
/* Sinks c turns on start, those it turns off close, the rest reload.
 * Failures are logged; the streams are never touched. */
void snk_set_reload(snk_set *s, const cfg *c, const snk_env *env);
/* The named sink's counters; zeros if it is off. */
void snk_set_counters(snk_set *s, const char *name, snk_counters *out);
void snk_set_status(snk_set *s, json_buf *b);
/* Goodbye to every sink, then free.  NULL is fine. */
void snk_set_close(snk_set *s);
/* --check-config: every sink's check. */
int snk_set_check(const cfg *c, const char *path, char *err, size_t errlen);

#endif
