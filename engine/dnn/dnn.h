/* dnn.h: the graph compiled into oneDNN primitives for one batch size, by
 * one of two backends behind one interface: fp32/bf16 (fp32.c) and int8
 * (int8.c).  engine.c picks the backend once, by precision, and from then
 * on calls through it.  The rest of the engine never sees oneDNN's types:
 * onednn.h, private to this folder, is the only door to dnnl.h.
 *
 * engine/dnn/ includes engine/engine.h, engine/simd.h, engine/graph/ and
 * each other, never engine/import/; oneDNN only through onednn.h. */
#ifndef LCNETD_DNN_H
#define LCNETD_DNN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

typedef struct dnn_ctx dnn_ctx;     /* engine, stream, weights reordered once */
typedef struct dnn_plan dnn_plan;   /* primitives and buffers for one batch, either backend's */

typedef enum { DNN_F32 = 0, DNN_BF16 = 1, DNN_INT8 = 2 } dnn_prec;

int dnn_ctx_new(dnn_ctx **out, char *err, size_t errlen);
void dnn_ctx_free(dnn_ctx *c);

/* Plan facts for tests and benchmarks. */
typedef struct {
    int steps;          /* primitives and loops executed per run */
    int reorders;       /* of which layout/type changes between layers */
    int inplace;        /* steps writing over their input */
    size_t arena;       /* activation bytes */
    size_t weights;     /* reordered weight bytes (shared by plans) */
} dnn_stats;

typedef struct {
    /* A plan of graph g at this batch; errors name the node.  Caller
     * frees with free.  The int8 backend ignores prec. */
    int (*compile)(dnn_plan **out, dnn_ctx *c, const gr_graph *g, int batch, dnn_prec prec,
                   char *err, size_t errlen);
    void (*free)(dnn_plan *p);
    /* Graph input i from the caller's float32 NCHW values, the whole batch. */
    void (*put_tensor)(dnn_plan *p, int i, const float *nchw);
    /* Item k of graph input 0 from a picture: its rows `stride` bytes
     * apart, 3 bytes a pixel, byte v of channel c standing for lut[c][v]
     * (the model's normalisation; the same table for every call). */
    void (*put_pixels)(dnn_plan *p, int k, const uint8_t *rows, int stride,
                       const float (*lut)[256]);
    int (*run)(dnn_plan *p, char *err, size_t errlen);
    /* Graph output i, plain row-major float32, valid until the next run. */
    const float *(*output)(const dnn_plan *p, int i);
    void (*stats)(const dnn_plan *p, dnn_stats *s);
    /* One line per step: kind, implementation, shapes; for verbose listings. */
    void (*dump)(const dnn_plan *p, void (*line)(void *, const char *), void *arg);
    /* Time each step from the next run on (pl_time_steps); the step count. */
    int (*time_steps)(dnn_plan *p, const double **ms);
} dnn_backend;

/* fp32 and bf16: oneDNN's float primitives (fp32.c). */
extern const dnn_backend dnn_float;
/* int8: activations uint8, NHWC, with a scale and zero point per tensor
 * (graph/quant.h) or int8 with one scale per channel.  Convolutions (and
 * Gemm, as a 1x1 convolution) run on oneDNN's int8 kernels with the
 * requantisation in their attributes; the cheap elementwise work between
 * them (activations, SE scaling, pooling) runs in plain loops, as
 * 256-entry tables where it is a function of one byte (int8.c). */
extern const dnn_backend dnn_int8;

int dnn_cpu_has_bf16(void);
int dnn_cpu_has_vnni(void);

#endif
