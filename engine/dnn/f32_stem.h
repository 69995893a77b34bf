/* f32_stem.h: the first convolution of a PP-LCNet (three input channels,
 * 3x3, stride 2 across and 1 or 2 down) in fp32 on AVX2 CPUs, our own kernel (f32_stem_avx2.c)
 * instead of oneDNN's.  There oneDNN reads three-channel images only as
 * planes, by a direct kernel that runs far below the FMA peak, and the
 * layer is a fixed cost a frame that weighs most on the smallest models.
 * Ours reads the image as the pixels come (NHWC), broadcasts each of a
 * pixel's 27 taps against 8 or 16 output channels' weights, and writes
 * oneDNN's blocked layout (nChw8c) for the depthwise layer after it.
 *
 * Private to engine/dnn/ and its tests. */
#ifndef LCNETD_DNN_F32_STEM_H
#define LCNETD_DNN_F32_STEM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/int8_gemm.h"

/* What a layer is, for f32s_pack. */
typedef struct {
    int64_t h, w, oh, ow, oc;    /* source and output height and width, output channels */
    int kh, kw, sh, sw, pt, pl;  /* kernel, strides, top and left padding */
    const float *w32;            /* [oc][3][kh][kw], as the graph holds it */
    const float *bias;           /* [oc], or NULL */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];     /* the activation chain (Q8G_RELU .. Q8G_HARDSWISH only) */
} f32s_desc;

/* Whether this CPU runs the kernel, and the kernel takes the layer. */
int f32s_fits(const f32s_desc *d);
size_t f32s_size(const f32s_desc *d);
/* The layer, packed into blob (f32s_size bytes, 32-byte aligned). */
void f32s_pack(void *blob, const f32s_desc *d);
/* y[n][oc / 8][oh][ow][8] from x[n][h][w][3]; on the calling OpenMP team. */
void f32s_run(const void *blob, const float *x, float *y, int64_t n);

#endif
