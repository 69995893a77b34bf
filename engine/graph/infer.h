/* infer.h: the shape functions the operator table (optab.c) points at:
 * compute operators' in shape.c, those of shape arithmetic, which fold to
 * constants, in fold.c.  Private to engine/graph/.
 *
 * Each is called by gr_infer after the checks every node passes (an
 * output; every input's shape known; the first input present, unless the
 * row says GR_OP_ANY_FIRST), sets the shape of the node's first output or
 * folds the node away, and names the node in any error.  A view's
 * (OPC_VIEW) sets the shape only: gr_infer folds views of constants. */
#ifndef LCNETD_INFER_H
#define LCNETD_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

static inline const gr_tensor *gr_in(const gr_graph *g, const gr_node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->t[n->in[i]] : NULL;
}

static inline int gr_set_shape(gr_graph *g, int t, int dtype, int ndim, const int64_t *dims)
{
    gr_tensor *x = &g->t[t];
    x->dtype = dtype;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        x->dims[i] = dims[i];
    x->known = 1;
    return 0;
}

typedef int gr_shape_fn(gr_graph *g, gr_node *n, char *err, size_t errlen);

/* shape.c */
gr_shape_fn gr_shape_conv, gr_shape_batchnorm, gr_shape_act, gr_shape_clip, gr_shape_same,
    gr_shape_dropout, gr_shape_binary, gr_shape_gap, gr_shape_reducemean, gr_shape_gemm,
    gr_shape_matmul, gr_shape_softmax, gr_shape_reshape, gr_shape_flatten, gr_shape_squeeze,
    gr_shape_unsqueeze, gr_shape_qdq;

/* fold.c */
gr_shape_fn gr_fold_shape, gr_fold_slice, gr_fold_concat, gr_fold_gather, gr_fold_cast;
/* A view (Reshape, ...) of a constant, whose output shape is set: the node
 * becomes a constant of that shape. */
int gr_fold_view(gr_graph *g, gr_node *n);
/* Add/Sub/Mul/Div of two constants, broadcast to od: folded when small
 * (the node dies), else left to run time; an error names the node. */
int gr_fold_arith(gr_graph *g, gr_node *n, int nd, const int64_t *od, char *err, size_t errlen);

#endif
