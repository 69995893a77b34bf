/* stream.h: one configured stream as the threads share it.
 *
 * The ingest thread owns the demuxer and decoder and writes frames; the
 * inference thread reads them.  A stream is classified as one or more
 * sources, each a (region, model) of it: the whole frame for a stream
 * without regions, once for each model it names.  Each source has its own
 * drop-oldest queue (frameq.h) of frames scaled to its model's input, so a
 * slow model skips its own frames, not another's.  The queues and the
 * latency ring are stream.c's: the threads reach them through the
 * functions below, never by locking them themselves. */
#ifndef LCNETD_STREAM_H
#define LCNETD_STREAM_H

#include <pthread.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/frameq.h"
#include "engine/engine.h"

struct evq;
struct sch;
struct sch_mdl;
struct lc_stream_priv;
struct snap_stream;

/* What a source is: the caller's to fill for lc_stream_new, copied. */
typedef struct lc_source_spec {
    const char *region;        /* "" = the whole frame, the stream has no regions */
    const cfg_crop *crop;      /* NULL or unset = the whole frame */
    struct sch_mdl *model;     /* the scheduler's; outlives the stream */
    const char *model_name;    /* its name (SCH_DEFAULT_MODEL for [model]'s) */
    int model_in_events;       /* label events name the model (several are configured) */
    int w, h;                  /* the model's input */
    eng_order order;           /* what the scaler writes: the model's */
    eng_resize mode;
} lc_source_spec;

typedef struct lc_source {
    char *region, *model_name;
    int model_in_events;
    cfg_crop crop;             /* set: the part of the frame classified, made a
                                  rectangle for each frame size (media/crop.h) */
    int crop_failed;           /* the ingest thread's: the crop did not fit the
                                  last frame size, and the error was told */
    struct sch_mdl *model;
    int w, h;
    eng_order order;
    eng_resize mode;
    struct lc_stream *stream;
    int index;                 /* in its stream's sources */
    /* counters: skipped and outside (frames its crop did not fit) by
     * ingest; classified, published by inference */
    uint64_t skipped, outside, classified, published;
    uint64_t tick_classified;  /* main's: classified at the last stats tick */
    lc_frameq *q;              /* stream.c's: through lc_slot_* only */
} lc_source;

typedef struct lc_stream {
    cfg_stream cfg;        /* own copy */
    lc_source *src;
    int nsrc;

    pthread_t thread;
    int started;
    int stop;              /* set through lc_stream_request_stop; read by the thread and its I/O callback */
    int64_t heartbeat_us;  /* last sign of life from the ingest thread */
    cfg_cpus cpus;         /* decode CPUs; count 0 = not pinned */
    struct sch *sched;     /* through lc_stream_set_sched and lc_stream_kick */
    struct evq *q;
    struct snap_stream *snap;   /* snapshot = yes: the writer's (snapshot.h); else NULL */

    double key_gap;        /* widest keyframe spacing seen (s); the ingest thread's */

    /* counters: written by one thread, read by main for stats.  They add
     * up (lcnetd(8), STATS): packets = decoded + decode_skipped + errors +
     * what the decoder holds; for each of the nsrc sources, decoded =
     * sampled_out + its skipped + its outside + its classified + what its
     * queue holds,
     * and the stream's skipped, classified and published are the sums over
     * its sources. */
    uint64_t decoded, sampled_out, skipped, classified, published, reconnects, errors;
    uint64_t packets;          /* video packets read */
    uint64_t decode_skipped;   /* packets that gave no frame: skipped for sample_fps, by us or
                                * the decoder, or left in it by a reconnect */
    uint64_t ts_discontinuities;   /* timestamp jumps the clock rebased over */
    uint64_t auth_failures;    /* opens the server refused the login of (401, 403) */
    int state;             /* LC_STREAM_*: through lc_stream_state/_set_state only */

    struct lc_stream_priv *priv;   /* stream.c's: the latency ring */
} lc_stream;

/* The scheduler a stream's frames go to: a reload may hand a stream it
 * keeps to a new one while its ingest thread runs, so the ingest thread
 * wakes it through the stream, never by a pointer it keeps. */
void lc_stream_set_sched(lc_stream *s, struct sch *sc);
void lc_stream_kick(lc_stream *s);

/* Where a stream is, as subscribers hear it: the ingest thread sets it,
 * main reads it for status and the watchdog. */
enum { LC_STREAM_DOWN = 0, LC_STREAM_UP, LC_STREAM_ENDED };

/* A stream of nsrc >= 1 sources, each with a queue of `depth` frames. */
int lc_stream_new(lc_stream **out, const cfg_stream *c, const lc_source_spec *src, int nsrc,
                  int depth, char *err, size_t errlen);
void lc_stream_free(lc_stream *s);

/* Ingest side: the buffer of a source to fill next, then hand it over.
 * With wait set, blocks while its queue is full (files with realtime =
 * no), until a frame is taken or the stream is asked to stop. */
lc_frame *lc_slot_spare(lc_source *src);
void lc_slot_put(lc_source *src, int wait);
/* Inference side: the source's oldest queued frame, or NULL; valid until
 * its next take. */
lc_frame *lc_slot_take(lc_source *src);

/* Main: ask the ingest thread to stop, waking it if it waits on a queue. */
void lc_stream_request_stop(lc_stream *s);
static inline int lc_stream_stopping(const lc_stream *s)
{
    return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

/* Inference: one frame's latency (ms).  Stats: the samples since the last
 * call, newest `max` of them, into out; returns how many. */
void lc_stream_latency(lc_stream *s, float ms);
int lc_stream_latency_take(lc_stream *s, float *out, int max);
enum { LC_LATENCY_RING = 512 };

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
