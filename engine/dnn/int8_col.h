/* int8_col.h: a small dense convolution (a network's stem: few input
 * channels, a 3x3 window) as rows for the pointwise kernel (int8_gemm.h):
 * for each output pixel, the source bytes its window covers, in NHWC's
 * order (kernel row, kernel column, channel: whole window rows are one
 * copy each), a padded position holding the source's zero point so that
 * it adds nothing.  The weights must be in the same order (q8c_weights).  The pointwise
 * kernel then computes each product once and exactly, where oneDNN's
 * kernels without VNNI would read the source twice (int8_conv.c).
 *
 * Private to engine/dnn/. */
#ifndef LCNETD_DNN_INT8_COL_H
#define LCNETD_DNN_INT8_COL_H

#include <stdint.h>

/* NHWC source of c channels; the window, strides and top/left padding. */
typedef struct {
    int64_t c, h, w, oh, ow;
    int kh, kw, sh, sw, pt, pl;
    uint8_t fill;                /* a padded position's byte: the zero point as stored */
} q8c_desc;

/* Bytes per row: c x kh x kw. */
int64_t q8c_k(const q8c_desc *d);
/* w[oc][c][kh][kw] (ONNX's order) as [oc][kh][kw][c]: a new array, or
 * NULL when out of memory. */
int8_t *q8c_weights(const q8c_desc *d, const int8_t *w, int64_t oc);
/* col[n][oh][ow][k] from x[n][h][w][c]; on the calling OpenMP team. */
void q8c_run(const q8c_desc *d, const uint8_t *x, uint8_t *col, int64_t n);

#endif
