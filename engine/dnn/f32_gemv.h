/* f32_gemv.h: fp32 matrix-vector products (a fully connected layer, or a
 * 1x1 convolution of a single pixel, at batch 1) on AVX2 CPUs, our own
 * kernel (f32_gemv_avx2.c) instead of oneDNN's.  Such a layer does two
 * multiply-adds a weight, so its time is the time to stream its weights
 * in from the last-level cache, which they leave every frame: the
 * classifier's are several megabytes, whatever the model's scale, and
 * weigh most on the smallest models.  The weights are packed once so that
 * the product reads them as one forward stream, prefetched ahead, with
 * the output channels split over the OpenMP team.
 *
 * Private to engine/dnn/ and its tests. */
#ifndef LCNETD_DNN_F32_GEMV_H
#define LCNETD_DNN_F32_GEMV_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/int8_gemm.h"

/* What a layer is, for f32v_pack. */
typedef struct {
    int64_t k, n;                /* inputs, outputs */
    const float *w;              /* weight of output o, input i: w[o * k + i], or w[i * n + o] when kn */
    int kn;
    const float *bias;           /* [n], or NULL */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];     /* the activation chain (Q8G_RELU .. Q8G_HARDSWISH only) */
} f32v_desc;

/* Whether this CPU runs the kernel (AVX2 and FMA) and it takes the layer. */
int f32v_fits(const f32v_desc *d);
size_t f32v_size(const f32v_desc *d);
/* The layer, packed into blob (f32v_size bytes, 32-byte aligned). */
void f32v_pack(void *blob, const f32v_desc *d);
/* y[n] from x[k]; on the calling OpenMP team. */
void f32v_run(const void *blob, const float *x, float *y);

#endif
