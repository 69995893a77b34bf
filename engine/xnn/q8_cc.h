/* q8_cc.h: the int8 XNNPACK compiler's context and helpers, shared by
 * q8.c (element-wise work, means, views, the walk over the graph) and
 * q8_conv.c (convolutions).  Private to engine/xnn/. */
#ifndef LCNETD_XNN_Q8_CC_H
#define LCNETD_XNN_Q8_CC_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/ops.h"
#include "engine/xnn/q8.h"

typedef struct {
    xq8_model *m;
    const gr_graph *g;
    qval *v;                     /* per tensor: parameters and buffer */
    unsigned char *absorbed;     /* activation nodes a gate table took in */
    char where[300];             /* the node being compiled, for messages */
    char *err;
    size_t errlen;
} q8cc;

/* A zeroed buffer of bytes (plus XNNPACK's slack) that the model owns */
void *q8c_own(xq8_model *m, size_t bytes);
/* A line of the plan (--plan) */
void q8c_note(xq8_model *m, const char *what, const char *where);
/* A new step of kind K_* at the end of the list, zeroed; NULL when out of memory */
qstep *q8c_step(q8cc *c, int kind);
/* Errors naming c->where: out of memory, unsupported (why, then the way out:
 * oneDNN for int8, or a float precision on XNNPACK), XNNPACK's failure */
int q8c_nomem(q8cc *c);
int q8c_unsup(q8cc *c, const char *why);
int q8c_xfail(q8cc *c, enum xnn_status st, const char *what);
size_t q8c_numel(const qval *v);
int64_t q8c_channels(const qval *v);
/* Input t computed and quantised, else an error naming it */
int q8c_need(q8cc *c, int t);
/* Output t's int8 parameters (per tensor or per channel) and bytes */
int q8c_make(q8cc *c, int t);
/* Output t as floats (the float tail) */
int q8c_make_float(q8cc *c, int t);
/* t's floats: its own, or its bytes dequantised by a step; NULL when out of memory */
float *q8c_floats_of(q8cc *c, int t);
/* A step running XNNPACK operator op (deleted here on failure) */
int q8c_op_step(q8cc *c, xnn_operator_t op, const char *what);

/* What a table's entry stands for: the real value for byte q of channel
 * j, from one of the functions below and their arguments. */
typedef struct {
    const gr_node *n;            /* the activation, or the convolution's posts */
    const qval *x;               /* the source's parameters */
    const gr_tensor *h;          /* x * act(x): the gate's parameters */
    const gr_opdef *op;          /* by a constant: the operation, */
    float k;                     /* the constant */
    int side;                    /* and which operand it is */
    const struct pre_act *pa;    /* a convolution's bytes before its activations */
} tab_arg;

typedef float table_fn(const q8cc *c, const tab_arg *a, size_t j, int q);

/* A table step from bytes `from` to Y's: one table of 256 (chan 0), else
 * one per channel of Y; entry q of channel j is Y's byte for fn(j, q). */
int q8c_table_step(q8cc *c, const int8_t *from, const qval *Y, int chan, table_fn *fn,
                   const tab_arg *a, const char *what);

/* A Conv or Gemm node (q8_conv.c) */
int q8c_conv(q8cc *c, int ni);

#endif
