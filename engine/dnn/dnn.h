/* dnn.h: the graph compiled into oneDNN primitives for one batch size:
 * fp32/bf16 plans (fp32.c) and int8 plans (int8.c).  The rest of the
 * engine never sees oneDNN's types: onednn.h, private to this folder, is
 * the only door to dnnl.h.
 *
 * int8: activations are uint8, NHWC, one scale and zero point per tensor
 * (quant.h).  Convolutions (and Gemm, as a 1x1 convolution) run on
 * oneDNN's VNNI kernels with the requantisation in their attributes; the
 * cheap elementwise work between them (activations, SE scaling, pooling)
 * runs in plain loops, as 256-entry tables where it is a function of one
 * byte.
 *
 * engine/dnn/ includes engine/engine.h, engine/simd.h, engine/graph/ and
 * each other, never engine/import/; oneDNN only through onednn.h. */
#ifndef LCNETD_DNN_H
#define LCNETD_DNN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

typedef struct dnn_ctx dnn_ctx;     /* engine, stream, weights reordered once */
typedef struct dnn_plan dnn_plan;   /* primitives and buffers for one batch */

typedef enum { DNN_F32 = 0, DNN_BF16 = 1, DNN_INT8 = 2 } dnn_prec;

int dnn_ctx_new(dnn_ctx **out, char *err, size_t errlen);
void dnn_ctx_free(dnn_ctx *c);

int dnn_compile(dnn_plan **out, dnn_ctx *c, const gr_graph *g, int batch, dnn_prec prec,
                char *err, size_t errlen);
void dnn_plan_free(dnn_plan *p);

/* Graph input i as a float32 buffer inside the plan: plain row-major, or
 * NHWC when dnn_input_nhwc says so (the first layer chose it). */
float *dnn_input(dnn_plan *p, int i);
int dnn_input_nhwc(const dnn_plan *p, int i);
/* Graph output i, plain row-major float32, valid until the next run. */
const float *dnn_output(dnn_plan *p, int i);
int dnn_run(dnn_plan *p, char *err, size_t errlen);

/* Plan facts for tests and benchmarks. */
typedef struct {
    int steps;          /* primitives executed per run */
    int reorders;       /* of which layout/type changes between layers */
    int inplace;        /* steps writing over their input */
    size_t arena;       /* activation bytes */
    size_t weights;     /* reordered weight bytes (shared by plans) */
} dnn_stats;
void dnn_plan_stats(const dnn_plan *p, dnn_stats *s);
/* One line per step: kind, implementation, shapes; for verbose listings. */
void dnn_plan_dump(const dnn_plan *p, void (*line)(void *, const char *), void *arg);

typedef struct q8_plan q8_plan;

int q8_compile(q8_plan **out, dnn_ctx *c, const gr_graph *g, int batch, char *err, size_t errlen);
void q8_plan_free(q8_plan *p);

/* Graph input i: uint8 NHWC inside the plan, and how a real value maps to it. */
uint8_t *q8_input(q8_plan *p, int i);
/* The byte that real value v of channel c of input i is stored as. */
uint8_t q8_input_byte(const q8_plan *p, int i, int c, float v);
/* Graph output i: plain row-major float32, valid until the next run. */
const float *q8_output(q8_plan *p, int i);
int q8_run(q8_plan *p, char *err, size_t errlen);

void q8_plan_stats(const q8_plan *p, dnn_stats *s);
void q8_plan_dump(const q8_plan *p, void (*line)(void *, const char *), void *arg);

int dnn_cpu_has_bf16(void);
int dnn_cpu_has_vnni(void);

#endif
