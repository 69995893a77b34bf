/* onednn.h: the graph compiled into oneDNN primitives for one batch size.
 * The only door to dnnl.h: the rest of the engine never sees its types. */
#ifndef LCNETD_ONEDNN_H
#define LCNETD_ONEDNN_H

#include <stddef.h>

#include "engine/graph.h"

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

int dnn_cpu_has_bf16(void);
int dnn_cpu_has_vnni(void);

#endif
