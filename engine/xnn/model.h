/* model.h: XNNPACK's be_ctx (xnn.c), which lower.c fills as it lowers the
 * graph.  Private to engine/xnn/. */
#ifndef LCNETD_XNN_MODEL_H
#define LCNETD_XNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/backend.h"
#include "engine/graph/graph.h"
#include "engine/xnn/ir.h"

typedef struct xnp_model xnp_model;

struct xnp_model {
    pthreadpool_t pool;
    xnn_runtime_t rt;           /* fp32 */
    xf16 *f16;                  /* fp16 */
    int unit;
    be_prec prec;               /* BE_F32 or BE_F16 */
    int nin, nout;
    float **rin, **rout;        /* the runtime's own buffers, one unit each */
    size_t *in_n, *out_n;       /* floats a unit */
    int *in_nhwc, *out_nhwc;    /* 4-D: stored NHWC (outputs are transposed back) */
    int64_t (*in_dims)[4], (*out_dims)[4];    /* 4-D ones, for a unit */
    void **keep;                /* weights in XNNPACK's layout: live as long as rt */
    int nkeep, capkeep;
    char **lines;               /* one per XNNPACK node, for the plans' dump */
    int nlines, caplines;
};

/* g lowered for x->unit items a run into *ir (caller frees ir->v and
 * ir->op): the weights in XNNPACK's layouts go to x->keep, a line per
 * operation to x->lines, the inputs' and outputs' sizes and layouts to
 * x's arrays, which the caller allocated for g's inputs and outputs.
 * ENG_EUNSUP, naming the node, when one has no XNNPACK form. */
int xnp_lower(xnp_model *x, const gr_graph *g, xir *ir, char *err, size_t errlen);

#endif
