/* graph.h: the engine's model graph, between the file loaders and oneDNN.
 *
 * Loaders (engine/import/) turn a file into nodes with ONNX semantics; the
 * passes here (shape.c, fuse.c, quant.c) fold constants, infer shapes, fuse
 * and quantise; then engine/dnn/ compiles what is left.  Tensors and nodes
 * are referred to by index.
 *
 * engine/graph/ is plain C over this structure: its files include
 * engine/engine.h (error codes), engine/file.h and each other, never
 * engine/import/, engine/dnn/ or a library's header. */
#ifndef LCNETD_GRAPH_H
#define LCNETD_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define G_MAX_DIMS 6
/* The batch dimension of a dynamic input, carried symbolically through shape
 * arithmetic so that Shape -> Slice -> Concat -> Reshape folds at load. */
#define G_BATCH (-2)
/* Caps on what a file may ask for: a model is a few MB to a few hundred. */
#define G_MAX_ELEMS ((int64_t)1 << 28)
#define G_MAX_NODES 100000
#define G_MAX_TENSORS 400000

/* ONNX TensorProto data type numbers. */
enum { G_F32 = 1, G_U8 = 2, G_I8 = 3, G_I32 = 6, G_I64 = 7, G_BOOL = 9, G_F16 = 10,
       G_F64 = 11, G_BF16 = 16 };

typedef enum {
    OP_NONE = 0,
    /* compute */
    OP_CONV, OP_BATCHNORM, OP_RELU, OP_HARDSWISH, OP_HARDSIGMOID, OP_CLIP, OP_SIGMOID, OP_LEAKYRELU,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_GAP, OP_REDUCEMEAN, OP_GEMM, OP_MATMUL,
    OP_SOFTMAX, OP_RESHAPE, OP_FLATTEN, OP_SQUEEZE, OP_UNSQUEEZE, OP_IDENTITY,
    OP_DROPOUT, OP_QUANTIZE, OP_DEQUANTIZE, OP_AVGPOOL, OP_MAXPOOL,
    /* shape arithmetic, folded at load */
    OP_CONSTANT, OP_SHAPE, OP_SLICE, OP_CONCAT, OP_GATHER, OP_CAST,
    OP_COUNT_
} gr_opkind;

typedef enum {
    A_INT = 1, A_FLOAT, A_STRING, A_INTS, A_FLOATS, A_TENSOR, A_OTHER
} gr_attrkind;

typedef struct {
    char *name;
    gr_attrkind kind;
    int64_t i;
    float f;
    char *s;
    int64_t *ints;
    float *floats;
    int n;          /* ints / floats count */
    int tensor;     /* A_TENSOR: index of a constant tensor */
} gr_attr;

typedef struct {
    char *name;
    int dtype;
    int ndim;
    int64_t dims[G_MAX_DIMS];
    int known;       /* shape inferred */
    void *data;      /* constant value (owned), else NULL */
    int producer;    /* node index, -1 for inputs and constants */
    int nuse;        /* consuming node inputs, plus one if a graph output */
    int is_input, is_output;
    /* int8: quantisation parameters of an activation (QDQ models, calibration) */
    float qscale;
    int qzero;
    int qset;
    /* calibrated float models: int8 with zero point 0 and one scale per
     * channel (axis 1), nqch of them (owned); NULL: per tensor as above */
    float *qch;
    int nqch;
} gr_tensor;

/* Elementwise work fused after a conv / matmul (oneDNN post-ops). */
typedef enum { PO_RELU = 1, PO_HARDSWISH, PO_LINEAR, PO_CLIP, PO_SIGMOID, PO_MUL_T,
               PO_ADD_T } gr_postkind;
typedef struct {
    gr_postkind kind;
    float alpha, beta;      /* RELU: alpha*x below 0; LINEAR: alpha*x+beta; CLIP: [alpha,beta] */
    int tensor;             /* MUL_T / ADD_T: the other operand */
} gr_post;
#define G_MAX_POST 8

typedef struct {
    char *name;
    char *op_type;          /* as written in the file, for messages */
    gr_opkind op;
    int nin, nout;
    int *in, *out;          /* tensor indices; -1 = optional input omitted */
    gr_attr *attrs;
    int nattrs;
    int dead;               /* removed by a pass */
    gr_post post[G_MAX_POST];
    int npost;
} gr_node;

typedef struct {
    gr_tensor *t;
    int nt, capt;
    gr_node *n;
    int nn, capn;
    int *inputs, ninputs;   /* graph inputs, in file order, constants excluded */
    int *outputs, noutputs;
    int opset;
    /* name -> tensor index */
    int *hash;
    int hcap;
} gr_graph;

gr_graph *gr_new(void);
void gr_free(gr_graph *g);

/* Tensor by name, created when absent (create != 0); -1 when absent or out of memory. */
int gr_tensor_get(gr_graph *g, const char *name, int create);
int gr_tensor_new_const(gr_graph *g, const char *name, int dtype, int ndim,
                       const int64_t *dims, void *data);
int gr_node_add(gr_graph *g, const char *name, const char *op_type, gr_opkind op,
               int nin, int nout);
gr_attr *gr_attr_add(gr_node *n, const char *name, gr_attrkind kind);

const gr_attr *gr_attr_find(const gr_node *n, const char *name);
int64_t gr_attr_int(const gr_node *n, const char *name, int64_t def);
float gr_attr_float(const gr_node *n, const char *name, float def);
/* Copies at most max ints; returns the count present, -1 when absent. */
int gr_attr_ints(const gr_node *n, const char *name, int64_t *v, int max);

size_t gr_dtype_size(int dtype);
const char *gr_dtype_name(int dtype);
/* Product of dims; -1 for a negative dim or when the nonzero dims multiply
 * past G_MAX_ELEMS (so no partial product overflows, even in an empty tensor). */
int64_t gr_numel(int ndim, const int64_t *dims);
int64_t gr_tensor_numel(const gr_tensor *t);
void gr_dims_str(char *buf, size_t len, int ndim, const int64_t *dims);

/* Recount nuse after passes rewired edges. */
void gr_recount(gr_graph *g);
/* Replace every use of tensor `from` by `to` (node inputs and graph outputs). */
void gr_replace_uses(gr_graph *g, int from, int to);

/* Constant tensor as float (converting int types); caller frees.  NULL if not constant. */
float *gr_const_floats(const gr_graph *g, int t);
int gr_is_const(const gr_graph *g, int t);
/* Values of a constant int64/int32 tensor of at most max elements (shape
 * arithmetic); the count, or -1 when not such a constant. */
int gr_const_ints(const gr_graph *g, int t, int64_t *v, int max);
int gr_is_scalar_const(const gr_graph *g, int t, float *v);

/* Node description for messages: "node 'name' (OpType)". */
const char *gr_node_desc(const gr_node *n, char *buf, size_t len);
/* "<node description>: <message>" into err; returns ENG_EMODEL. */
int gr_node_fail(const gr_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
