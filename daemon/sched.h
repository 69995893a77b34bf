/* sched.h: the inference thread.
 *
 * It owns the engine: loads the model on itself (so oneDNN's OpenMP team is
 * born pinned to inference_cpus), then batches the newest pending frame of
 * up to max_batch streams per call, and turns the scores into label events. */
#ifndef LCNETD_SCHED_H
#define LCNETD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/hist.h"
#include "daemon/stream.h"
#include "engine/engine.h"

struct evq;
typedef struct sch sch;

typedef struct {
    int width, height, classes;
    eng_order order;          /* what the streams' scalers must produce */
    eng_resize mode;
    int max_batch;            /* the engine was prepared for 1..max_batch frames */
    char precision[8];
    char precision_reason[192];
    char isa[24];             /* the CPU's instruction set, as the engine names it */
    char backend[16];         /* "onednn" or "xnnpack" */
    char backend_reason[256];
    char model[256];
} sch_model_info;

/* Start the thread and load the model on it; returns once loaded (or failed,
 * with the engine's message). */
int sch_start(sch **out, const cfg *c, struct evq *q, char *err, size_t errlen);
/* The same without waiting: the model loads on the new thread while the
 * caller goes on (a reload keeps serving subscribers meanwhile); poll with
 * sch_loaded. */
int sch_spawn(sch **out, const cfg *c, struct evq *q, char *err, size_t errlen);
/* 0 still loading, 1 loaded, -1 failed (with the message; sch_stop it). */
int sch_loaded(sch *s, char *err, size_t errlen);
/* Finish the batch in flight and stop.  While the model still loads it
 * returns at once: the thread frees itself when the load ends. */
void sch_stop(sch *s);
void sch_model(const sch *s, sch_model_info *mi);

/* -1 when the table is full (the config allows no more than it holds). */
int sch_add(sch *s, lc_stream *st);
/* Returns once the inference thread no longer holds st's frames. */
void sch_remove(sch *s, lc_stream *st);
/* New frame somewhere: wake the thread. */
void sch_kick(sch *s);
/* Live settings from a reload: top_k.  The batch size is the engine's,
 * fixed at sch_start. */
void sch_configure(sch *s, const cfg *c);

/* Monotonic time of the thread's last loop: stale means wedged. */
int64_t sch_heartbeat(const sch *s);
uint64_t sch_classified(const sch *s);
/* How long each batch's inference took, since start. */
void sch_infer_times(const sch *s, lc_hist *out);

#ifdef LCNETD_TESTING
/* Test-only fault: the thread stops making progress until released. */
void sch_test_wedge(sch *s, int on);
#endif

#endif
