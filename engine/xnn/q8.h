/* q8.h: the int8 XNNPACK plan's model, shared by q8.c (the graph
 * compiled into operators and loops) and q8_run.c (the backend table
 * that runs them).  Private to engine/xnn/. */
#ifndef LCNETD_XNN_Q8_H
#define LCNETD_XNN_Q8_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "engine/graph/quant.h"
#include "engine/xnn/ir.h"

/* K_OP: an XNNPACK operator; K_LUT: one byte table; K_LUTC: a table per
 * channel; K_DEQ: bytes to floats; K_MEAN: per-channel means over the
 * pixels; K_CMUL: pixels times a per-channel factor (squeeze-excitation) */
enum { K_OP, K_LUT, K_LUTC, K_DEQ, K_MEAN, K_CMUL };

typedef struct {
    int8_t *buf;                 /* NHWC for 4-D; NULL until computed */
    float *fbuf;                 /* a float tensor (the float tail): NHWC floats */
    float s;
    int z;                       /* int8 zero point: the engine's less 128 */
    const float *cs;             /* per-channel scales (zero point 0), else NULL */
    int q;                       /* quantised */
    int nd;
    int64_t d[G_MAX_DIMS];       /* NCHW, for the unit batch */
} qval;

typedef struct {
    int kind;
    xnn_operator_t op;
    const int8_t *x;
    const int8_t *g;             /* K_CMUL: the per-channel factors' bytes */
    int8_t *y;
    float *f;                    /* K_DEQ: float output */
    size_t n;                    /* bytes in all */
    size_t c, hw;                /* channels (innermost), pixels */
    float s;
    int z;
    const float *cx, *cg, *cy;   /* per-channel scales of x, g, y (K_DEQ: cx or s, z) */
    const int8_t *tab;           /* K_LUTC: c tables of 256, by the byte as uint8 */
    int8_t lut[256];             /* K_LUT: indexed by the byte as uint8 */
} qstep;

typedef struct {
    pthreadpool_t pool;
    int unit;
    qstep *s;
    int ns, caps;
    void **mem;                  /* buffers, packed weights: live as long as the operators */
    int nmem, capmem;
    char **lines;
    int nlines, caplines;
    int in_t;                    /* the graph input tensor */
    qval in;                     /* its parameters */
    size_t in_n;                 /* bytes a unit */
    int8_t *in_buf;
    int nout;
    float **out;                 /* one unit each */
    size_t *out_n;
} xq8_model;

/* The engine's quantisation of real r, as int8. */
static inline int8_t xq8_s8(const qval *v, float r)
{
    return (int8_t)((int)q_u8(r, v->s, v->z + 128) - 128);
}

/* Per channel c where v has per-channel scales (symmetric int8, as the
 * oneDNN plan quantises them), else as xq8_s8. */
static inline int8_t xq8_s8c(const qval *v, int64_t c, float r)
{
    if (!v->cs)
        return xq8_s8(v, r);
    float q = nearbyintf(r / v->cs[c]);
    return (int8_t)(q <= -128 ? -128 : q >= 127 ? 127 : q);
}

static inline float xq8_deqc(const qval *v, int64_t c, int q8)
{
    return v->cs ? v->cs[c] * (float)q8 : v->s * (float)(q8 - v->z);
}

/* g's operators and loops into m (m->unit and m->pool set): ENG_EUNSUP,
 * naming the node and what runs it instead, where XNNPACK's int8 cannot.
 * What it made is m's, freed with it even on failure. */
int xq8_compile(xq8_model *m, const gr_graph *g, char *err, size_t errlen);

#endif
