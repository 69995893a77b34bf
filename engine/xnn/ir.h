/* ir.h: the graph lowered to XNNPACK's operations (lower.c), before it
 * becomes a subgraph runtime (subgraph.c: fp32) or a list of operators
 * (f16.c: fp16, which the subgraph of Debian 12's XNNPACK cannot do
 * for PP-LCNet).  Private to engine/xnn/. */
#ifndef LCNETD_XNN_IR_H
#define LCNETD_XNN_IR_H

#include <stddef.h>
#include <stdint.h>

#include <xnnpack.h>

#include "engine/graph/graph.h"

#define XIR_NONE UINT32_MAX

typedef struct {
    int nd;
    size_t d[G_MAX_DIMS];        /* as stored: NHWC for 4-D activations */
    const float *data;           /* a static value (weights, constants), else NULL */
    uint32_t ext;                /* graph input i: i; output k: ninputs + k; else XIR_NONE */
} xir_val;

typedef enum {
    XO_CONV, XO_DWCONV, XO_FC, XO_CLAMP, XO_HARDSWISH, XO_SIGMOID, XO_ADD, XO_SUB, XO_MUL,
    XO_DIV, XO_GAP, XO_SOFTMAX, XO_RESHAPE,
} xir_kind;

typedef struct {
    xir_kind kind;
    uint32_t x, y, out;          /* operands (y: a binary op's second) and result */
    uint32_t w, b;               /* CONV, DWCONV, FC: weights and bias, static */
    uint32_t pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups;
    size_t ipg, opg;             /* channels a group, in and out */
    float lo, hi;                /* output bounds */
} xir_op;

typedef struct {
    xir_val *v;
    int nv, capv;
    xir_op *op;
    int nop, capop;
    int nin, nout;
} xir;

/* XNNPACK's status as words. */
const char *xir_status(enum xnn_status s);

/* XNNPACK initialised, and *pool made for `threads` (0: the CPUs this
 * thread may run on, as the OpenMP team); NULL for one thread. */
int xir_start(int threads, pthreadpool_t *pool, char *err, size_t errlen);

/* The subgraph runtime of ir (fp32), set up on the external buffers
 * in[i] and out[k]. */
int xir_runtime(xnn_runtime_t *rt, const xir *ir, pthreadpool_t pool, float *const *in,
                float *const *out, char *err, size_t errlen);

/* The same computation as fp16 operators: activations in half precision,
 * f32 at the edges.  Caller frees with xf16_free. */
typedef struct xf16 xf16;
int xf16_new(xf16 **out, const xir *ir, pthreadpool_t pool, float *const *in, float *const *outs,
             char *err, size_t errlen);
int xf16_run(xf16 *f, pthreadpool_t pool, char *err, size_t errlen);
int xf16_steps(const xf16 *f);
void xf16_free(xf16 *f);

#endif
