/* fp32.h: what the two halves of the fp32/bf16 compiler share: fp32.c (the
 * plan: layouts, reorders, weights, the walk over the graph, the backend)
 * and fp32_ops.c (a compiler per class of operator).  Private to them. */
#ifndef LCNETD_DNN_FP32_H
#define LCNETD_DNN_FP32_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/dnn.h"
#include "engine/dnn/plan.h"

/* Per step: a convolution keeps what built it, to be rebuilt with another
 * dst layout when the next layer asks for one (relayout in fp32_ops.c). */
typedef struct {
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr;
} f32_ext;

typedef struct {
    pl_plan pl;
    be_prec prec;
    int *tval;                   /* tensor -> value holding it, -1 until computed */
    int *in_val, *out_val;       /* graph inputs' and outputs' values */
    int nreorder;                /* reorders inserted between layers */
} f32_plan;

typedef struct { int key, val; } f32_arg;

static inline const int64_t *tdims(const f32_plan *p, int t) { return p->pl.dims[t]; }
static inline int tnd(const f32_plan *p, int t) { return p->pl.g->t[t].ndim; }

/* Layouts: plain row-major (rank 0 becomes [1]), oneDNN's choice, and
 * whether one is dense row-major. */
int f32_md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt);
int f32_md_any(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt);
int f32_is_plain(const dnnl_memory_desc_t *md);
/* Do two layouts put every element at the same place (a view will do)? */
int f32_same_bytes(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);

/* The step for pd, reading in[], writing a new value laid out as the
 * primitive's destination (*out).  inplace: an input the output may share
 * storage with when it dies there (-1: none). */
int f32_emit(f32_plan *p, dnnl_primitive_desc_t pd, int node, const char *kind, const f32_arg *in,
             int nin, int dst_key, int inplace, int *out, const char *where, char *err, size_t errlen);
/* Value v in layout md (a reorder when it is not, a view when its bytes
 * already sit where md wants them), or plain of type dt. */
int f32_reorder_to(f32_plan *p, int v, const dnnl_memory_desc_t *md, int *out, const char *where,
                   char *err, size_t errlen);
int f32_to_plain(f32_plan *p, int v, dnnl_data_type_t dt, int *out, const char *where, char *err,
                 size_t errlen);
/* Constant tensor t laid out as want, reordered once from `from` (its
 * plain layout as this use sees it) and kept in the ctx across plans. */
int f32_weight(f32_plan *p, int t, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *want,
               int *out, const char *where, char *err, size_t errlen);

/* fp32_ops.c: node ni of the graph as steps, its output in tval. */
typedef int f32_op_fn(f32_plan *p, int ni, const char *where, char *err, size_t errlen);
f32_op_fn f32_op_conv, f32_op_eltwise, f32_op_binary, f32_op_reduce, f32_op_gemm, f32_op_matmul,
    f32_op_softmax, f32_op_bnorm, f32_op_view, f32_op_copy;

#endif
