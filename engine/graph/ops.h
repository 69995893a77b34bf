/* ops.h: per-operator facts shared by the passes and the compiler:
 * attribute normalisation, shape inference, folding of shape arithmetic. */
#ifndef LCNETD_OPS_H
#define LCNETD_OPS_H

#include <stddef.h>

#include "engine/graph/graph.h"

typedef struct {
    int kh, kw, sh, sw, dh, dw;
    int pt, pl, pb, pr;
    int group;
    int64_t cin, cout;
} conv_params;

typedef struct {
    float alpha, beta;
    int ta, tb;
} gemm_params;

/* Conv attributes made concrete (auto_pad resolved) for the node's input shape. */
int conv_get(const gr_graph *g, const gr_node *n, conv_params *p, char *err, size_t errlen);
void gemm_get(const gr_node *n, gemm_params *p);
/* Softmax axis, resolved against rank (opset rules); -1 if out of range. */
int softmax_axis(const gr_graph *g, const gr_node *n, int rank);
/* ReduceMean axes as a bitmask over rank dims; keepdims through *keep. */
int reduce_axes(const gr_graph *g, const gr_node *n, int rank, unsigned *mask, int *keep,
                char *err, size_t errlen);
float hardsigmoid_alpha(const gr_node *n);
float hardsigmoid_beta(const gr_node *n);
/* Clip bounds (attributes before opset 11, constant inputs after). */
int clip_bounds(const gr_graph *g, const gr_node *n, float *lo, float *hi, char *err, size_t errlen);

/* Infer every tensor's shape (batch kept as G_BATCH) and fold nodes whose
 * inputs are all constant shape arithmetic.  Checks every node's inputs. */
int gr_infer(gr_graph *g, char *err, size_t errlen);

/* Shape inference again with G_BATCH replaced by `batch`, into dims[][]
 * (one row per tensor).  Used when compiling for one batch size. */
int gr_shapes_for_batch(const gr_graph *g, int batch, int64_t (*dims)[G_MAX_DIMS],
                       char *err, size_t errlen);

/* Does a shape still hold the symbolic batch? */
int gr_has_batch(const gr_tensor *t);

/* Graph rewrites: no-op removal, BN and bias folding, HardSwish patterns,
 * activations into post-ops, dead nodes. */
int gr_fuse(gr_graph *g, char *err, size_t errlen);

#endif
