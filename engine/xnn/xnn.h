/* xnn.h: the graph compiled into an XNNPACK runtime: the engine's backend
 * for arm64 (Neon, FP16 arithmetic, dot products), beside oneDNN's, behind
 * the same table (engine/backend.h).
 *
 * Its be_ctx holds one runtime, compiled once for the model's unit batch
 * (1, or the batch the file fixes): an XNNPACK subgraph in fp32
 * (subgraph.c), a list of XNNPACK operators in fp16 (f16.c) or int8
 * (q8.c, from the graph after int8's pass rather than lower.c's); and the
 * thread pool it runs on, sized like the OpenMP team and created on the
 * calling thread, whose CPU affinity its workers inherit.  A plan for n
 * items runs it n / unit times, so that plans for every batch size share
 * one copy of the packed weights.  Activations are NHWC inside; inputs and
 * outputs are float32.  ctx_new fails with ENG_EUNSUP, naming the node,
 * when a node has no XNNPACK form.
 *
 * engine/xnn/ includes engine/engine.h, engine/backend.h, engine/graph/
 * and each other, never engine/import/ or engine/dnn/; XNNPACK only
 * through ir.h. */
#ifndef LCNETD_XNN_H
#define LCNETD_XNN_H

#include "engine/backend.h"

/* fp32 (BE_F32) and fp16 (BE_F16, on CPUs with FP16 arithmetic). */
extern const be_backend xnp_float;
/* int8 (BE_INT8) with per-tensor activation parameters (q8.c). */
extern const be_backend xnp_int8;

#endif
