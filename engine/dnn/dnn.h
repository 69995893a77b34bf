/* dnn.h: the graph compiled into oneDNN primitives for one batch size, by
 * one of two backends (engine/backend.h): fp32/bf16 (fp32.c) and int8
 * (int8.c).  engine/pick.c picks one per model, by precision.  The rest of
 * the engine never sees oneDNN's types: onednn.h, private to this folder,
 * is the only door to dnnl.h.
 *
 * engine/dnn/ includes engine/engine.h, engine/backend.h, engine/simd.h,
 * engine/graph/ and each other, never engine/import/ or engine/xnn/;
 * oneDNN only through onednn.h. */
#ifndef LCNETD_DNN_H
#define LCNETD_DNN_H

#include "engine/backend.h"

/* fp32 and bf16: oneDNN's float primitives (fp32.c). */
extern const be_backend dnn_float;
/* int8: activations uint8, NHWC, with a scale and zero point per tensor
 * (graph/quant.h) or int8 with one scale per channel.  Convolutions (and
 * Gemm, as a 1x1 convolution) run on oneDNN's int8 kernels with the
 * requantisation in their attributes; the cheap elementwise work between
 * them (activations, SE scaling, pooling) runs in plain loops, as
 * 256-entry tables where it is a function of one byte (int8.c). */
extern const be_backend dnn_int8;

/* Pixels from which a frame's conversion to the first layer's input is
 * split over the plan's team (f32_pixels.c, int8.c's put_pixels): below,
 * waking the team costs more than it saves; above, a frame is as much
 * work as a small layer. */
#define DNN_PAR_MIN_PIXELS (64 * 64)

int dnn_cpu_has_bf16(void);
int dnn_cpu_has_vnni(void);

#endif
