/* sched.h: the inference thread.
 *
 * It owns the engines: loads every model on itself (so oneDNN's OpenMP team
 * is born pinned to inference_cpus, one team however many models), then
 * batches queued frames of up to max_batch sources of one model per call,
 * and turns the scores into label events by the publish rule (rule.h). */
#ifndef LCNETD_SCHED_H
#define LCNETD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/hist.h"
#include "daemon/rule.h"
#include "daemon/stream.h"
#include "engine/engine.h"

struct evq;
typedef struct sch sch;
/* A loaded model: the scheduler's, alive as long as the scheduler. */
typedef struct sch_mdl sch_mdl;

/* The name events and the publish rule give the [model] section's model. */
#define SCH_DEFAULT_MODEL "default"

typedef struct {
    int width, height, classes;
    eng_order order;          /* what the streams' scalers must produce */
    eng_resize mode;
    int max_batch;            /* the engine was prepared for 1..max_batch frames */
    char precision[8];
    char precision_reason[192];
    char isa[24];             /* the CPU's instruction set, as the engine names it */
    char backend[16];         /* "onednn" or "xnnpack" */
    char backend_reason[512];
    char model[256];          /* its path */
    const char *name;         /* SCH_DEFAULT_MODEL or the NAME of [model:NAME] */
} sch_model_info;

/* Start the thread and load the models on it; returns once loaded (or
 * failed, with the engine's message).  rules (the caller's, shared by the
 * schedulers a reload makes) keeps the publish state. */
int sch_start(sch **out, const cfg *c, struct evq *q, sch_rules *rules, char *err, size_t errlen);
/* The same without waiting: the models load on the new thread while the
 * caller goes on (a reload keeps serving subscribers meanwhile); poll with
 * sch_loaded. */
int sch_spawn(sch **out, const cfg *c, struct evq *q, sch_rules *rules, char *err, size_t errlen);
/* 0 still loading, 1 loaded, -1 failed (with the message; sch_stop it). */
int sch_loaded(sch *s, char *err, size_t errlen);
/* Finish the batch in flight and stop.  While the models still load it
 * returns at once: the thread frees itself when the load ends. */
void sch_stop(sch *s);
/* The default model's info, and any model's. */
void sch_model(const sch *s, sch_model_info *mi);
int sch_model_count(const sch *s);
sch_mdl *sch_model_at(const sch *s, int i);
sch_mdl *sch_model_find(const sch *s, const char *name);
void sch_mdl_info(const sch_mdl *m, sch_model_info *mi);

/* Register every source of st (their models must be s's).  -1 when the
 * table is full (the config allows no more than it holds). */
int sch_add(sch *s, lc_stream *st);
/* Returns once the inference thread no longer holds st's frames. */
void sch_remove(sch *s, lc_stream *st);
/* New frame somewhere: wake the thread. */
void sch_kick(sch *s);

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
