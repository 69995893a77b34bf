/* int8_dw.h: exact int8 depthwise convolutions on AVX2 CPUs without VNNI,
 * our own kernel (int8_dw_avx2.c) instead of oneDNN's, which on such a CPU
 * is exact too but slow, and reads int8 sources only through a flipped
 * copy.  Sources widened to int16 with the zero point taken off, products
 * of two taps added in int32 by vpmaddwd: the sum is exact, and as it
 * stays far below 2^24 the requantisation (int8_gemm.h's post-ops, in
 * oneDNN's order: the sum to float, plus the bias, times the scale, the
 * post-ops, the destination zero point, saturation) gives oneDNN's bytes.
 *
 * Private to engine/dnn/ and its tests. */
#ifndef LCNETD_DNN_INT8_DW_H
#define LCNETD_DNN_INT8_DW_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/int8_gemm.h"

#define Q8D_MAX_TAPS 49          /* kernel height x width */
#define Q8D_MAX_ROWS (96 * 1024) /* bytes of a block's widened source rows a thread keeps on its stack */

/* What a layer is, for q8d_pack: NHWC, channels c in and out. */
typedef struct {
    int64_t c, h, w, oh, ow;     /* channels, source and output height and width */
    int kh, kw, sh, sw, pt, pl;  /* kernel, strides, top and left padding */
    const int8_t *w8;            /* [c][kh][kw] */
    const float *scale;          /* [c]: one accumulator unit in output units */
    const int32_t *bias;         /* [c], accumulator units */
    int zx;                      /* source zero point (after the flip) */
    uint8_t flip;                /* xor on each source byte (int8 -> uint8 + 128) */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];
    const float *mul;            /* [c] for Q8G_MUL, else NULL */
    int zy;
    int dst;                     /* Q8G_U8 or Q8G_S8 */
} q8d_desc;

/* Whether the kernel takes the layer (taps, and the rows a thread keeps). */
int q8d_fits(const q8d_desc *d);
size_t q8d_size(const q8d_desc *d);
/* The layer, packed into blob (q8d_size bytes, 32-byte aligned). */
void q8d_pack(void *blob, const q8d_desc *d);
/* y[n][oh][ow][c] from x[n][h][w][c]; on the calling OpenMP team. */
void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n);

#endif
