/* onednn_q8.h: a quantised graph (quant.h) compiled into int8 oneDNN
 * primitives for one batch size.
 *
 * Activations are uint8, NHWC, one scale and zero point per tensor.
 * Convolutions (and Gemm, as a 1x1 convolution) run on oneDNN's VNNI
 * kernels with the requantisation in their attributes; the cheap
 * elementwise work between them (activations, SE scaling, pooling) runs in
 * plain loops here, as 256-entry tables where it is a function of one byte. */
#ifndef LCNETD_ONEDNN_Q8_H
#define LCNETD_ONEDNN_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph.h"
#include "engine/onednn.h"

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

#endif
