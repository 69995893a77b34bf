/* xnn.h: the graph compiled into an XNNPACK runtime: the engine's backend
 * for arm64 (Neon, FP16 arithmetic, dot products), beside oneDNN's.
 *
 * The door to xnnpack.h (xnn_ir.h is its private one).  One xnp_model
 * holds one runtime, compiled once for the model's unit batch (1, or the
 * batch the file fixes): an XNNPACK subgraph in fp32, a list of XNNPACK
 * operators in fp16 (xnn_f16.c); and the thread pool it runs on.  A plan
 * for n items runs it n / unit times, so that plans for every batch size
 * share one copy of the packed weights.  Activations are NHWC inside;
 * inputs and outputs are float32. */
#ifndef LCNETD_XNN_H
#define LCNETD_XNN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "engine/dnn/dnn.h"

typedef struct xnp_model xnp_model;
typedef struct xnp_plan xnp_plan;

typedef enum { XNP_F32 = 0, XNP_F16 = 1 } xnp_prec;

/* Compile g for `unit` items a run, on a pool of `threads` threads created
 * here (0: one per CPU this thread may run on), which inherit the calling
 * thread's CPU affinity.  ENG_EUNSUP, naming the node, when a node has no
 * XNNPACK form.  Caller frees with xnp_model_free. */
int xnp_model_new(xnp_model **out, const gr_graph *g, int unit, xnp_prec prec, int threads,
                  char *err, size_t errlen);
void xnp_model_free(xnp_model *x);

/* Buffers for `batch` items (a multiple of the unit). */
int xnp_plan_new(xnp_plan **out, xnp_model *x, int batch, char *err, size_t errlen);
void xnp_plan_free(xnp_plan *p);

/* Graph input i from the caller's float32 NCHW values, the whole batch;
 * item k of graph input 0 from a picture, 3 bytes a pixel, rows `stride`
 * bytes apart, byte v of channel c standing for lut[c][v]. */
void xnp_put_tensor(xnp_plan *p, int i, const float *nchw);
void xnp_put_pixels(xnp_plan *p, int k, const uint8_t *rows, int stride, const float (*lut)[256]);
/* Graph output i, plain row-major float32, valid until the next run. */
const float *xnp_output(xnp_plan *p, int i);
int xnp_run(xnp_plan *p, char *err, size_t errlen);

void xnp_plan_stats(const xnp_plan *p, dnn_stats *s);
void xnp_plan_dump(const xnp_plan *p, void (*line)(void *, const char *), void *arg);

#endif
