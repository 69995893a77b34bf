/* backend.h: what engine.c asks of the library that computes.  A backend
 * is a table of functions: oneDNN's fp32/bf16 (dnn_float) and int8
 * (dnn_int8) in engine/dnn/, XNNPACK's fp32/fp16 (xnp_float) and int8
 * (xnp_int8) in engine/xnn/.  engine/pick.c chooses one per model, once, at load; from
 * then on engine.c calls through it and never asks which it is.
 *
 * A backend keeps its own state behind be_ctx (oneDNN's engine and the
 * weights it reordered; XNNPACK's runtime and thread pool) and compiles
 * one be_plan per batch size on it.  Both are opaque here; each backend
 * casts them to its own types. */
#ifndef LCNETD_BACKEND_H
#define LCNETD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

typedef struct be_ctx be_ctx;     /* the backend's state for one model, shared by its plans */
typedef struct be_plan be_plan;   /* steps and buffers for one batch size */

typedef enum { BE_F32 = 0, BE_BF16, BE_INT8, BE_F16, BE_NPREC } be_prec;

/* Plan facts for tests and benchmarks. */
typedef struct {
    int steps;          /* primitives, operators and loops executed per run */
    int reorders;       /* of which layout/type changes between layers */
    int inplace;        /* steps writing over their input */
    size_t arena;       /* activation bytes */
    size_t weights;     /* reordered weight bytes (shared by plans) */
} be_stats;

typedef struct {
    /* The state every plan of g shares, for `unit` items a run (1, or the
     * batch the file fixes) in precision prec, on `threads` threads (0:
     * one per CPU the calling thread may use; the workers inherit its CPU
     * affinity).  ENG_EUNSUP, naming the node, when this backend cannot
     * run g.  Caller frees with ctx_free. */
    int (*ctx_new)(be_ctx **out, const gr_graph *g, int unit, be_prec prec, int threads,
                   char *err, size_t errlen);
    void (*ctx_free)(be_ctx *c);
    /* A plan of graph g at this batch; errors name the node.  Caller
     * frees with free. */
    int (*compile)(be_plan **out, be_ctx *c, const gr_graph *g, int batch, be_prec prec,
                   char *err, size_t errlen);
    void (*free)(be_plan *p);
    /* Graph input i from the caller's float32 NCHW values, the whole batch. */
    void (*put_tensor)(be_plan *p, int i, const float *nchw);
    /* Item k of graph input 0 from a picture: its rows `stride` bytes
     * apart, 3 bytes a pixel, byte v of channel c standing for lut[c][v]
     * (the model's normalisation; the same table for every call). */
    void (*put_pixels)(be_plan *p, int k, const uint8_t *rows, int stride,
                       const float (*lut)[256]);
    int (*run)(be_plan *p, char *err, size_t errlen);
    /* Graph output i, plain row-major float32, valid until the next run. */
    const float *(*output)(const be_plan *p, int i);
    void (*stats)(const be_plan *p, be_stats *s);
    /* One line per step: kind, implementation, shapes; for verbose listings. */
    void (*dump)(const be_plan *p, void (*line)(void *, const char *), void *arg);
    /* Time each step from the next run on; the step count, -1 out of
     * memory.  NULL: the backend cannot (XNNPACK runs one subgraph). */
    int (*time_steps)(be_plan *p, const double **ms);
} be_backend;

#endif
