/* optab.c: the operator table (see ops.h): one row per operator lcnetd
 * knows, with the small functions that are its fusion role and its real
 * function.  An operator that is not here is refused by the importers,
 * naming it; one that is here with no shape function is refused by shape
 * inference. */
#include "engine/graph/ops.h"

#include <math.h>
#include <string.h>

#include "engine/graph/infer.h"

/* ------------------------------------------------- element-wise, one input */

static int post1(gr_post *po, gr_postkind kind, float alpha, float beta)
{
    po[0] = (gr_post){ kind, alpha, beta, -1 };
    return 1;
}

static int relu_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    (void)g; (void)n; (void)t;
    return post1(po, PO_RELU, 0, 0);
}

static float relu(const gr_graph *g, const gr_node *n, float v)
{
    (void)g; (void)n;
    return v > 0 ? v : 0;
}

static int hardswish_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    (void)g; (void)n; (void)t;
    return post1(po, PO_HARDSWISH, 0, 0);
}

static float hardswish(const gr_graph *g, const gr_node *n, float v)
{
    (void)g; (void)n;
    float r = v / 6 + 0.5f;
    return v * (r < 0 ? 0 : r > 1 ? 1 : r);
}

/* alpha * x + beta, clipped to [0, 1] */
static int hardsigmoid_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    (void)g; (void)t;
    po[0] = (gr_post){ PO_LINEAR, hardsigmoid_alpha(n), hardsigmoid_beta(n), -1 };
    po[1] = (gr_post){ PO_CLIP, 0, 1, -1 };
    return 2;
}

static float hardsigmoid(const gr_graph *g, const gr_node *n, float v)
{
    (void)g;
    float r = hardsigmoid_alpha(n) * v + hardsigmoid_beta(n);
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

static int sigmoid_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    (void)g; (void)n; (void)t;
    return post1(po, PO_SIGMOID, 0, 0);
}

static float sigmoid(const gr_graph *g, const gr_node *n, float v)
{
    (void)g; (void)n;
    return 1 / (1 + expf(-v));
}

static int clip_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    float lo, hi;
    char e[8];
    (void)t;
    return clip_bounds(g, n, &lo, &hi, e, sizeof e) < 0 ? 0 : post1(po, PO_CLIP, lo, hi);
}

static float clip(const gr_graph *g, const gr_node *n, float v)
{
    float lo, hi;
    char e[8];
    if (clip_bounds(g, n, &lo, &hi, e, sizeof e) < 0)
        return v;
    return v < lo ? lo : v > hi ? hi : v;
}

/* x below 0 times alpha: a ReLU with a slope */
static int leakyrelu_post(const gr_graph *g, const gr_node *n, int t, gr_post *po)
{
    (void)g; (void)t;
    return post1(po, PO_RELU, gr_attr_float(n, "alpha", 0.01f), 0);
}

static float leakyrelu(const gr_graph *g, const gr_node *n, float v)
{
    (void)g;
    return v < 0 ? gr_attr_float(n, "alpha", 0.01f) * v : v;
}

/* ------------------------------------------------------------ binary */

static float add(float a, float b) { return a + b; }
static float sub(float a, float b) { return a - b; }
static float mul(float a, float b) { return a * b; }
static float dvd(float a, float b) { return a / b; }

/* By a scalar constant, after a producer whose output is input t: a
 * linear post-op (alpha * y + beta). */
static int binary_post(const gr_graph *g, const gr_node *c, int t, gr_post *po)
{
    float v;
    int other = c->in[0] == t ? c->in[1] : c->in[0];
    if (!gr_is_scalar_const(g, other, &v) || g->t[other].ndim > g->t[t].ndim)
        return 0;
    switch (c->op) {
    case OP_MUL: return post1(po, PO_LINEAR, v, 0);
    case OP_ADD: return post1(po, PO_LINEAR, 1, v);
    case OP_SUB: return c->in[0] == t ? post1(po, PO_LINEAR, 1, -v) : post1(po, PO_LINEAR, -1, v);
    default: return c->in[0] == t && v != 0 ? post1(po, PO_LINEAR, 1 / v, 0) : 0;
    }
}

/* ------------------------------------------------------------- table */

#define ROW(kind, name, class, ...) [kind] = { .op = kind, .onnx = name, .cls = class, __VA_ARGS__ }
#define ELTWISE(fn) .post = fn##_post, .scalar = fn
#define BINARY(op, fn) .shape = gr_shape_binary, .post = binary_post, .bin = op, .scalar2 = fn

static const gr_opdef rows[OP_COUNT_] = {
    ROW(OP_NONE, "", OPC_NONE),
    /* compute */
    ROW(OP_CONV, "Conv", OPC_CONV, .shape = gr_shape_conv),
    ROW(OP_BATCHNORM, "BatchNormalization", OPC_BATCHNORM, .shape = gr_shape_batchnorm),
    ROW(OP_RELU, "Relu", OPC_ELTWISE, .shape = gr_shape_act, ELTWISE(relu), .paddle = "relu"),
    ROW(OP_HARDSWISH, "HardSwish", OPC_ELTWISE, .shape = gr_shape_act, ELTWISE(hardswish)),
    ROW(OP_HARDSIGMOID, "HardSigmoid", OPC_ELTWISE, .shape = gr_shape_act, ELTWISE(hardsigmoid)),
    ROW(OP_CLIP, "Clip", OPC_ELTWISE, .shape = gr_shape_clip, ELTWISE(clip)),
    ROW(OP_SIGMOID, "Sigmoid", OPC_ELTWISE, .shape = gr_shape_act, ELTWISE(sigmoid), .paddle = "sigmoid"),
    ROW(OP_LEAKYRELU, "LeakyRelu", OPC_ELTWISE, .shape = gr_shape_act, ELTWISE(leakyrelu),
        .paddle = "leaky_relu", .pd_attrs = { { "alpha", "alpha", "negative_slope", 0.02f } }),
    ROW(OP_ADD, "Add", OPC_BINARY, BINARY(GB_ADD, add)),
    ROW(OP_SUB, "Sub", OPC_BINARY, BINARY(GB_SUB, sub)),
    ROW(OP_MUL, "Mul", OPC_BINARY, BINARY(GB_MUL, mul)),
    ROW(OP_DIV, "Div", OPC_BINARY, BINARY(GB_DIV, dvd)),
    ROW(OP_GAP, "GlobalAveragePool", OPC_MEAN, .shape = gr_shape_gap),
    ROW(OP_REDUCEMEAN, "ReduceMean", OPC_MEAN, .shape = gr_shape_reducemean),
    ROW(OP_GEMM, "Gemm", OPC_GEMM, .shape = gr_shape_gemm),
    ROW(OP_MATMUL, "MatMul", OPC_MATMUL, .shape = gr_shape_matmul),
    ROW(OP_SOFTMAX, "Softmax", OPC_SOFTMAX, .shape = gr_shape_softmax),
    ROW(OP_RESHAPE, "Reshape", OPC_VIEW, .shape = gr_shape_reshape),
    ROW(OP_FLATTEN, "Flatten", OPC_VIEW, .shape = gr_shape_flatten),
    ROW(OP_SQUEEZE, "Squeeze", OPC_VIEW, .shape = gr_shape_squeeze),
    ROW(OP_UNSQUEEZE, "Unsqueeze", OPC_VIEW, .shape = gr_shape_unsqueeze),
    ROW(OP_IDENTITY, "Identity", OPC_COPY, .shape = gr_shape_same),
    ROW(OP_DROPOUT, "Dropout", OPC_COPY, .shape = gr_shape_dropout),
    ROW(OP_QUANTIZE, "QuantizeLinear", OPC_QDQ, .shape = gr_shape_qdq),
    ROW(OP_DEQUANTIZE, "DequantizeLinear", OPC_QDQ, .shape = gr_shape_qdq),
    /* named, so that their refusal comes from shape inference; PP-LCNet pools globally */
    ROW(OP_AVGPOOL, "AveragePool", OPC_NONE),
    ROW(OP_MAXPOOL, "MaxPool", OPC_NONE),
    /* shape arithmetic, folded at load; Constant nodes become constants in the ONNX importer */
    ROW(OP_CONSTANT, "Constant", OPC_FOLD),
    ROW(OP_SHAPE, "Shape", OPC_FOLD, .shape = gr_fold_shape),
    ROW(OP_SLICE, "Slice", OPC_FOLD, .shape = gr_fold_slice),
    ROW(OP_CONCAT, "Concat", OPC_FOLD, .shape = gr_fold_concat, .flags = GR_OP_ANY_FIRST),
    ROW(OP_GATHER, "Gather", OPC_FOLD, .shape = gr_fold_gather),
    ROW(OP_CAST, "Cast", OPC_FOLD, .shape = gr_fold_cast),
};

const gr_opdef *gr_op(gr_opkind op)
{
    return op > OP_NONE && op < OP_COUNT_ && rows[op].onnx ? &rows[op] : &rows[OP_NONE];
}

int gr_op_is_act(gr_opkind op)
{
    return gr_op(op)->cls == OPC_ELTWISE && gr_op(op)->scalar;
}

const gr_opdef *gr_op_onnx(const char *op_type)
{
    for (int i = OP_NONE + 1; i < OP_COUNT_; i++)
        if (rows[i].onnx && strcmp(rows[i].onnx, op_type) == 0)
            return &rows[i];
    return NULL;
}

const gr_opdef *gr_op_paddle(const char *type)
{
    for (int i = OP_NONE + 1; i < OP_COUNT_; i++)
        if (rows[i].paddle && strcmp(rows[i].paddle, type) == 0)
            return &rows[i];
    return NULL;
}
