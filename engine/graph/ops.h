/* ops.h: the operators lcnetd computes, one row each in optab.c, as
 * config/keys.c is for the configuration's keys; and the attribute
 * accessors (ops.c) every pass and backend reads a node through.
 *
 * A row says everything about its operator that is not the structure of
 * one pass or backend: its names in the file formats, its shape function
 * (the checks of its inputs, and its folding when it is shape arithmetic),
 * its fusion role (the post-ops it becomes after a convolution or a
 * matrix product, which engine/dnn/ maps to oneDNN algorithms in one
 * table), and its real function, from which the int8 plan makes its byte
 * tables.  The passes (shape.c, fuse.c) and both backends (engine/dnn/)
 * dispatch on the row's class, never on the operator, so that an
 * element-wise operator is one row here.  README.md, "How the engine is
 * built", walks through adding one. */
#ifndef LCNETD_OPS_H
#define LCNETD_OPS_H

#include <stddef.h>

#include "engine/graph/graph.h"

/* What the backends compile a node as. */
typedef enum {
    OPC_NONE = 0,     /* known by name, not computed: refused with the node named */
    OPC_CONV,         /* Conv */
    OPC_ELTWISE,      /* one input to one output, element by element: .post and .scalar */
    OPC_BINARY,       /* two inputs, broadcast: .bin and .scalar2 */
    OPC_MEAN,         /* GlobalAveragePool, ReduceMean */
    OPC_GEMM,
    OPC_MATMUL,
    OPC_SOFTMAX,
    OPC_BATCHNORM,
    OPC_VIEW,         /* the same bytes under another shape (Reshape, Flatten, ...) */
    OPC_COPY,         /* Identity, Dropout: removed by fusion unless an output needs a copy */
    OPC_QDQ,          /* QuantizeLinear, DequantizeLinear: folded into int8 parameters */
    OPC_FOLD,         /* shape arithmetic: folded to constants at load, never compiled */
    OPC_COUNT_
} gr_opclass;

/* A binary operator's arithmetic, which engine/dnn/ maps to oneDNN's. */
typedef enum { GB_NONE = 0, GB_ADD, GB_SUB, GB_MUL, GB_DIV } gr_binop;

/* A float attribute a Paddle element-wise op carries under its own names:
 * the ONNX attribute it becomes, its Paddle 2.x and PIR names, and
 * Paddle's default. */
typedef struct {
    const char *onnx, *pd2, *pir;
    float def;
} gr_pdattr;

#define GR_OP_PDATTRS 2

/* Row flags */
enum {
    GR_OP_ANY_FIRST = 1 << 0,  /* the first input may be absent (Concat checks its own) */
};

typedef struct {
    gr_opkind op;
    const char *onnx;              /* ONNX op_type */
    gr_opclass cls;
    int flags;
    /* Shape inference of node n: sets its output's shape (or folds it to a
     * constant), after checking its inputs; an error names the node. */
    int (*shape)(gr_graph *g, gr_node *n, char *err, size_t errlen);
    /* Fusion role: the post-ops n becomes when the producer of its input t
     * absorbs it, written to po; how many (at most 2), 0 when it cannot. */
    int (*post)(const gr_graph *g, const gr_node *n, int t, gr_post *po);
    /* The real function of one input (OPC_ELTWISE), for the int8 tables. */
    float (*scalar)(const gr_graph *g, const gr_node *n, float x);
    /* OPC_BINARY: the arithmetic, and as a real function of two inputs. */
    gr_binop bin;
    float (*scalar2)(float a, float b);
    /* Paddle: the 2.x operator (PIR: the same name) that is this operator
     * with one input X and these float attributes, mapped by the Paddle
     * importers from this row alone; NULL when paddle_ops.c maps it. */
    const char *paddle;
    gr_pdattr pd_attrs[GR_OP_PDATTRS];
} gr_opdef;

/* The row of an operator kind (a row of class OPC_NONE for OP_NONE). */
const gr_opdef *gr_op(gr_opkind op);
/* Is op a real function of one input (an activation the int8 plans turn
 * into a byte table)? */
int gr_op_is_act(gr_opkind op);
/* The row an ONNX op_type or a Paddle operator names; NULL when none. */
const gr_opdef *gr_op_onnx(const char *op_type);
const gr_opdef *gr_op_paddle(const char *type);

/* ------------------------------------------------- attribute accessors */

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

#endif
