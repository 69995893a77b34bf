/* int8.h: what the files of the int8 backend share: int8.c (the plan, the
 * element-wise operators, the backend), int8_conv.c (convolutions and
 * Gemm on oneDNN's int8 kernels, or on int8_gemm.h's and int8_dw.h's
 * where those are exact and faster) and int8_loops.c (the steps that are loops of ours).
 * Private to them.
 *
 * Beside the plan's values (plan.h: storage, liveness) the int8 plan keeps
 * what each value means (q8_val): float32, or bytes with a scale and zero
 * point, or int8 with a scale per channel.  Its values are laid out by
 * index: one per graph tensor, one per dequantised graph output, then one
 * float staging value per tensor (q8_stage), then one prepared convolution
 * source per tensor (int8_conv.c); views for oneDNN's arguments follow. */
#ifndef LCNETD_DNN_INT8_H
#define LCNETD_DNN_INT8_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/dnn.h"
#include "engine/dnn/plan.h"
#include "engine/graph/graph.h"

/* Step kinds: a oneDNN convolution, then the loops (int8_loops.c). */
enum { S_PRIM, S_LUT, S_BIN, S_CMUL, S_MEAN, S_DEQ, S_SOFTMAX, S_QCH, S_PREP, S_GEMM, S_DW, S_COL };

typedef struct {
    int dt;                      /* G_U8 (quantised bytes) or G_F32 */
    float s;
    int z;
    const float *cs;             /* per-channel scales (int8, zero 0), or NULL */
    int nd;
    int64_t d[G_MAX_DIMS];
    int live;                    /* computed by some step */
} q8_val;

/* Each step's own (the plan's step extension). */
typedef struct {
    int kind;                    /* S_* */
    int a, b, y;                 /* values read and written (-1: none) */
    uint8_t lut[256];
    int op;                      /* S_BIN: 0 multiply, 1 add; S_PREP: copies of each group */
    uint8_t flip;                /* S_PREP: xor on every byte (int8 -> uint8 + 128) */
    int64_t outer, inner, c;     /* S_GEMM: outer = the source's rows; S_DW, S_COL: its images */
    const void *blob;            /* S_GEMM, S_DW: the packed layer (int8_gemm.h, int8_dw.h); S_COL:
                                  * its q8c_desc (int8_col.h); a plan constant */
    char impl[40];
} q8_step;

typedef struct {
    pl_plan pl;
    q8_val *q;                   /* the first nq values' meanings, by the index above */
    int nq;
    int *out_v;
    unsigned char *absorbed;     /* activation nodes folded into their Mul's table */
    const float (*lut_of)[256];  /* the pixel table qlut was made from */
    uint8_t qlut[3][256];        /* pixel byte -> input byte, per channel */
} q8_plan;

static inline int64_t q8_numel(const q8_val *v)
{
    return gr_numel(v->nd, v->d);
}

static inline int64_t q8_channels(const q8_val *v)
{
    return v->nd >= 2 ? v->d[1] : 1;
}

static inline float q8_deq(const q8_val *v, int q)
{
    return v->s * (float)(q - v->z);
}

/* A byte of value v in channel c, as a real number (per-channel: int8). */
static inline float q8_deq_c(const q8_val *v, uint8_t q, int64_t c)
{
    return v->cs ? v->cs[c] * (float)(int8_t)q : q8_deq(v, q);
}

static inline uint8_t q8_s8(float r, float scale)
{
    float q = nearbyintf(r / scale);
    return (uint8_t)(int8_t)(q <= -128 ? -128 : q >= 127 ? 127 : q);
}

/* A step of kind S_* for node (-1: none) reading a and b, writing y (all
 * values; -1: none); NULL when out of memory. */
q8_step *q8_step_new(q8_plan *p, int kind, int node, int a, int b, int y);
/* Input t computed and quantised / output t quantised / t without
 * per-channel scales; else an error naming node `where` and the tensor. */
int q8_need_u8(const q8_plan *p, int t, const char *where, char *err, size_t errlen);
int q8_need_u8_out(const q8_plan *p, int t, const char *where, char *err, size_t errlen);
int q8_no_channels(const q8_plan *p, int t, const char *where, char *err, size_t errlen);

/* int8_conv.c: Conv, or Gemm as a 1x1 convolution. */
int q8_op_conv(q8_plan *p, int ni, const char *where, char *err, size_t errlen);
/* int8_loops.c: runs loop step i. */
void q8_loop(pl_plan *pl, int i);

#endif
