/* onednn.h: what the files of engine/dnn/ share (plan.c, the fp32/bf16
 * backend's fp32*.c, the int8 backend's int8*.c, common.c, cpu.c), and
 * the only door to dnnl.h: nothing outside engine/dnn/ includes this
 * header. */
#ifndef LCNETD_DNN_ONEDNN_H
#define LCNETD_DNN_ONEDNN_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#include "engine/graph/graph.h"
#include "engine/dnn/dnn.h"

#define ALIGN 64

/* A constant reordered into the layout a primitive wants, kept for the
 * life of the model so that the plans of every batch size share it. */
typedef struct {
    int tensor;
    int variant;                 /* same tensor may be needed in several layouts */
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    void *buf;
} wentry;

/* Both tables' be_ctx: the CPU engine and stream, and the weights
 * reordered once for every plan of the model. */
typedef struct dnn_ctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    wentry *w;
    int nw, capw;
    size_t wbytes;
} dnn_ctx;

/* be_backend.ctx_new and ctx_free of both tables: the graph, unit,
 * precision and threads are the plans' business (engine.c sizes
 * OpenMP's team per call). */
int dnn_ctx_new(be_ctx **out, const gr_graph *g, int unit, be_prec prec, int threads, char *err,
                size_t errlen);
void dnn_ctx_free(be_ctx *c);

/* Room in the ctx for one more weight entry; NULL when out of memory. */
wentry *dnn_weight_slot(dnn_ctx *c);
/* The constant (key, variant) kept in the ctx in layout want, or NULL. */
dnnl_memory_t dnn_weight_find(const dnn_ctx *c, int key, int variant, const dnnl_memory_desc_t *want);
/* ... found, or reordered from data (laid out as from) and kept for the
 * model's life.  *out is owned by the ctx. */
int dnn_weight(dnn_ctx *c, int key, int variant, const dnnl_memory_desc_t *from, const void *data,
               const dnnl_memory_desc_t *want, dnnl_memory_t *out, const char *where, char *err,
               size_t errlen);

/* Primitive attributes with a user scratchpad (one buffer per plan). */
dnnl_primitive_attr_t dnn_attr_new(void);

/* A oneDNN status as an engine error: "where: call: reason". */
int dnn_fail(dnnl_status_t st, const char *call, const char *where, char *err, size_t errlen);

#define DNN_TRY(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
        ret = dnn_fail(st_, #call, where, err, errlen); goto end; } } while (0)

/* A post-op of the graph's (gr_post, as an operator's row makes them) as
 * oneDNN's eltwise algorithm and parameters: the one place where the
 * graph's activations meet oneDNN's names.  -1 for the tensor kinds. */
int dnn_eltwise_of(const gr_post *q, dnnl_alg_kind_t *alg, float *a, float *b);

/* The node's fused activations (gr_post) as oneDNN eltwise post-ops. */
int dnn_post_ops(const gr_node *n, dnnl_primitive_attr_t attr);
/* Appends them to po (for callers adding more of their own). */
int dnn_post_ops_append(const gr_node *n, dnnl_post_ops_t po);

/* oneDNN's reference implementations: correct, and many times slower. */
int dnn_is_ref(const_dnnl_primitive_desc_t pd);

/* Activation arena planning: first fit among the live blocks, sorted by offset. */
typedef struct { size_t off, size; int v; } dnn_block;
size_t dnn_place(dnn_block *live, int *nlive, size_t size, int v, size_t *peak);
void dnn_unplace(dnn_block *live, int *nlive, int v);

#endif
