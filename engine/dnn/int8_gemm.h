/* int8_gemm.h: exact int8 pointwise convolutions (1x1, stride 1, one
 * group) and Gemm on AVX2 CPUs without VNNI, our own kernel instead of
 * oneDNN's (int8_gemm_avx2.c).  oneDNN's int8 kernels on such a CPU add
 * pairs of uint8 x int8 products in int16 with saturation, so int8_conv.c
 * has them read every source twice with split weights; this kernel widens
 * the bytes to int16 and adds pairs of products in int32, where nothing
 * can clip, so each product is computed once.  It then requantises in the
 * order oneDNN's int8 kernels do (float conversion, zero-point and bias
 * terms, scale, post-ops, destination zero point, saturation), so its
 * bytes are those of oneDNN's exact paths on any other ISA.
 *
 * Private to engine/dnn/ and its tests. */
#ifndef LCNETD_DNN_INT8_GEMM_H
#define LCNETD_DNN_INT8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define Q8G_MAX_OPS 12           /* the graph's activations, a scale, a multiply, a rounding */
#define Q8G_EXACT 16777216       /* 2^24: every integer up to it is a float */
#define Q8G_MAX_K 4096           /* input channels a layer may have (a tile's rows live on the stack) */
#define Q8G_NARROW_ROWS 6        /* layers of fewer rows than this: one tile, narrow weights */

/* The post-ops the kernel evaluates, each as oneDNN 2.6's x86 kernels do. */
typedef enum {
    Q8G_RELU,                    /* x > 0 ? x : x * a */
    Q8G_LINEAR,                  /* fma(x, a, b) */
    Q8G_CLIP,                    /* min(max(x, a), b) */
    Q8G_HARDSWISH,               /* x * (min(max(x + 3, 0), 6) / 6) */
    Q8G_MUL,                     /* x * mul[channel] */
    Q8G_ROUND,                   /* to nearest, ties to even */
} q8g_opkind;

typedef struct {
    q8g_opkind kind;
    float a, b;
} q8g_op;

enum { Q8G_U8, Q8G_S8, Q8G_F32 };

/* What a layer is, for q8g_pack. */
typedef struct {
    int64_t k, oc;               /* input and output channels */
    const int8_t *w;             /* [oc][k] */
    const float *scale;          /* [oc]: one accumulator unit in output units */
    const int32_t *bias;         /* [oc], accumulator units */
    int zx;                      /* source zero point (after the flip) */
    uint8_t flip;                /* xor on each source byte (int8 -> uint8 + 128) */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];
    const float *mul;            /* [oc] for Q8G_MUL, else NULL */
    int zy;                      /* destination zero point */
    int dst;                     /* Q8G_U8, Q8G_S8 or Q8G_F32 */
    int narrow;                  /* weights kept as int8 and widened as read: for layers of
                                  * few rows (the head, squeeze-excitation), where reading
                                  * the weights, not multiplying, is the cost */
} q8g_desc;

/* Bytes q8g_pack writes for a layer of k inputs and oc outputs (narrow:
 * as q8g_desc's). */
size_t q8g_size(int64_t k, int64_t oc, int narrow);
/* The layer, packed into blob (q8g_size bytes, 32-byte aligned). */
void q8g_pack(void *blob, const q8g_desc *d);
/* y[rows][oc] from x[rows][k] (bytes, channels innermost); on the calling
 * OpenMP team. */
void q8g_run(const void *blob, const uint8_t *x, void *y, int64_t rows);
/* Whether this CPU runs the kernel (AVX2 and FMA). */
int q8g_cpu_ok(void);

#endif
