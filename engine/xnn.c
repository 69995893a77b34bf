/* xnn.c: the graph lowered to XNNPACK's operations (see xnn.h, xnn_ir.h).
 *
 * The passes before it (shape folding, BatchNorm and bias folding, the
 * HardSwish pattern, activations as post-ops) are the same as for oneDNN;
 * here a node's post-ops become what XNNPACK fuses: clamps into the
 * producer's output bounds, a leading scale and shift into its weights and
 * bias (HardSigmoid's), and the rest as operations of their own.  Every 4-D
 * activation is NHWC; a view (Flatten, Reshape, Squeeze) is allowed where
 * NHWC and NCHW order agree, which is where one of H*W and C is 1.  fp32
 * runs the lowered graph as an XNNPACK subgraph, fp16 as operators. */
#include "engine/xnn.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/xnn_ir.h"

#define NO_ID XIR_NONE

typedef struct {
    uint32_t id;
    int nhwc;                   /* a 4-D activation, stored NHWC */
} xval;

struct xnp_model {
    pthreadpool_t pool;
    xnn_runtime_t rt;           /* fp32 */
    xf16 *f16;                  /* fp16 */
    int unit;
    xnp_prec prec;
    int nin, nout;
    float **rin, **rout;        /* the runtime's own buffers, one unit each */
    size_t *in_n, *out_n;       /* floats a unit */
    int *in_nhwc, *out_nhwc;    /* 4-D: stored NHWC (outputs are transposed back) */
    int64_t (*in_dims)[4], (*out_dims)[4];    /* 4-D ones, for a unit */
    void **keep;                /* weights in XNNPACK's layout: live as long as rt */
    int nkeep, capkeep;
    char **lines;               /* one per XNNPACK node, for xnp_plan_dump */
    int nlines, caplines;
};

struct xnp_plan {
    xnp_model *x;
    int batch;
    float **in, **out;
};

/* compile-time state */
typedef struct {
    xnp_model *x;
    const gr_graph *g;
    xir ir;
    int64_t (*dims)[G_MAX_DIMS];
    xval *val;                  /* per graph tensor */
    char *err;
    size_t errlen;
} cc;

const char *xir_status(enum xnn_status s)
{
    switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "not initialised";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported on this CPU";
    case xnn_status_out_of_memory: return "out of memory";
    default: return "unknown error";
    }
}

static int nomem(cc *c, const char *where)
{
    snprintf(c->err, c->errlen, "%s: out of memory", where);
    return ENG_ENOMEM;
}

/* ------------------------------------------------------- the IR */

static int val_add(cc *c, int nd, const size_t *d, const float *data, uint32_t ext, uint32_t *id)
{
    xir *ir = &c->ir;
    if (ir->nv == ir->capv) {
        int cap = ir->capv ? 2 * ir->capv : 256;
        xir_val *v = realloc(ir->v, sizeof(xir_val) * (size_t)cap);
        if (!v)
            return -1;
        ir->v = v;
        ir->capv = cap;
    }
    xir_val *v = &ir->v[ir->nv];
    memset(v, 0, sizeof(*v));
    v->nd = nd;
    memcpy(v->d, d, sizeof(size_t) * (size_t)nd);
    v->data = data;
    v->ext = ext;
    *id = (uint32_t)ir->nv++;
    return 0;
}

static int op_add(cc *c, const xir_op *o, const char *where)
{
    xir *ir = &c->ir;
    if (ir->nop == ir->capop) {
        int cap = ir->capop ? 2 * ir->capop : 128;
        xir_op *n = realloc(ir->op, sizeof(xir_op) * (size_t)cap);
        if (!n)
            return nomem(c, where);
        ir->op = n;
        ir->capop = cap;
    }
    ir->op[ir->nop++] = *o;
    return 0;
}

/* an operation on x (and y) into out, bounded to [lo, hi] */
static int op2(cc *c, xir_kind k, uint32_t x, uint32_t y, uint32_t out, float lo, float hi,
               const char *where)
{
    xir_op o = { .kind = k, .x = x, .y = y, .out = out, .w = NO_ID, .b = NO_ID, .lo = lo,
                 .hi = hi };
    return op_add(c, &o, where);
}

static int unsup(cc *c, const char *where, const char *why)
{
    snprintf(c->err, c->errlen, "%s: %s", where, why);
    return ENG_EUNSUP;
}

static void *keep(cc *c, size_t bytes)
{
    xnp_model *x = c->x;
    if (x->nkeep == x->capkeep) {
        int cap = x->capkeep ? 2 * x->capkeep : 64;
        void **k = realloc(x->keep, sizeof(void *) * (size_t)cap);
        if (!k)
            return NULL;
        x->keep = k;
        x->capkeep = cap;
    }
    void *p = calloc(1, bytes + XNN_EXTRA_BYTES);
    if (p)
        x->keep[x->nkeep++] = p;
    return p;
}

/* One line for xnp_plan_dump: what XNNPACK runs, for which node. */
static void note(cc *c, const char *what, const char *where)
{
    xnp_model *x = c->x;
    if (x->nlines == x->caplines) {
        int cap = x->caplines ? 2 * x->caplines : 64;
        char **l = realloc(x->lines, sizeof(char *) * (size_t)cap);
        if (!l)
            return;
        x->lines = l;
        x->caplines = cap;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s  %s", what, where);
    if ((x->lines[x->nlines] = strdup(buf)))
        x->nlines++;
}

/* A tensor's dims as stored: NCHW -> NHWC for 4-D activations. */
static size_t stored_dims(int nd, const int64_t *d, int nhwc, size_t *out)
{
    if (nhwc && nd == 4) {
        out[0] = (size_t)d[0];
        out[1] = (size_t)d[2];
        out[2] = (size_t)d[3];
        out[3] = (size_t)d[1];
    } else {
        for (int i = 0; i < nd; i++)
            out[i] = (size_t)d[i];
    }
    return (size_t)nd;
}

/* NHWC and NCHW hold the same order: any view of it is a plain reshape. */
static int order_agrees(int nd, const int64_t *d)
{
    return nd != 4 || d[1] == 1 || d[2] * d[3] == 1;
}

static int out_index(const gr_graph *g, int t)
{
    for (int k = 0; k < g->noutputs; k++)
        if (g->outputs[k] == t)
            return k;
    return -1;
}

/* A new activation value; tensor t >= 0 makes it that tensor's (an
 * external output when t is a graph output), t < 0 an internal one with
 * the dims of `like`. */
static int value(cc *c, int t, int like, uint32_t *id, const char *where)
{
    int src = t >= 0 ? t : like;
    int nd = c->g->t[src].ndim, nhwc = nd == 4;
    size_t d[G_MAX_DIMS];
    stored_dims(nd, c->dims[src], nhwc, d);
    uint32_t ext = NO_ID;
    int k = t >= 0 && c->g->t[t].is_output ? out_index(c->g, t) : -1;
    if (k >= 0)
        ext = (uint32_t)(c->x->nin + k);
    if (val_add(c, nd, d, NULL, ext, id) < 0)
        return nomem(c, where);
    if (t >= 0)
        c->val[t] = (xval){ *id, nhwc };
    return 0;
}

/* A constant as a static value, laid out as an activation of its rank
 * would be (a 4-D [1,C,1,1] per-channel factor becomes [1,1,1,C]);
 * `rank` > its own rank pads it with leading 1s, as broadcasting does. */
static int constant(cc *c, int t, int rank, uint32_t *id, const char *where)
{
    const gr_tensor *x = &c->g->t[t];
    int64_t d[G_MAX_DIMS];
    int nd = x->ndim > rank ? x->ndim : rank;
    for (int i = 0; i < nd; i++)
        d[i] = i < nd - x->ndim ? 1 : x->dims[i - (nd - x->ndim)];
    int64_t n = gr_numel(nd, d);
    float *v = gr_const_floats(c->g, t);
    float *s = v && n >= 0 ? keep(c, sizeof(float) * (size_t)(n ? n : 1)) : NULL;
    if (!s) {
        free(v);
        snprintf(c->err, c->errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    if (nd == 4) {
        for (int64_t b = 0; b < d[0]; b++)
            for (int64_t ch = 0; ch < d[1]; ch++)
                for (int64_t i = 0; i < d[2] * d[3]; i++)
                    s[(b * d[2] * d[3] + i) * d[1] + ch] = v[(b * d[1] + ch) * d[2] * d[3] + i];
    } else {
        memcpy(s, v, sizeof(float) * (size_t)n);
    }
    free(v);
    size_t sd[G_MAX_DIMS];
    stored_dims(nd, d, 1, sd);
    return val_add(c, nd, sd, s, NO_ID, id) < 0 ? nomem(c, where) : 0;
}

static int scalar(cc *c, float v, uint32_t *id, const char *where)
{
    float *s = keep(c, sizeof(float));
    size_t one = 1;
    if (!s) {
        snprintf(c->err, c->errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    *s = v;
    return val_add(c, 1, &one, s, NO_ID, id) < 0 ? nomem(c, where) : 0;
}

/* ------------------------------------------------------- post-ops */

/* y = a * x + b as two nodes, for a scale and shift no producer absorbs */
static int affine(cc *c, uint32_t x, int like, float a, float b, uint32_t *y, const char *where)
{
    uint32_t k, t = x;
    int ret;
    if (a != 1.0f) {
        if ((ret = scalar(c, a, &k, where)) < 0 || (ret = value(c, -1, like, &t, where)) < 0)
            return ret;
        if ((ret = op2(c, XO_MUL, x, k, t, -INFINITY, INFINITY, where)) < 0)
            return ret;
        note(c, "multiply (scale)", where);
    }
    if (b != 0.0f) {
        uint32_t u;
        if ((ret = scalar(c, b, &k, where)) < 0 || (ret = value(c, -1, like, &u, where)) < 0)
            return ret;
        if ((ret = op2(c, XO_ADD, t, k, u, -INFINITY, INFINITY, where)) < 0)
            return ret;
        note(c, "add (shift)", where);
        t = u;
    }
    *y = t;
    return 0;
}

/* The node's post-ops from post[first] on, after value x (the producer's
 * output, clamped to [*lo, *hi] by the producer itself when `clamp_in`),
 * ending in the value of tensor `out`. */
typedef struct {
    float lo, hi;               /* bounds the producer applies */
} bounds;

/* How far the producer's own output bounds reach: clamps and ReLUs right
 * after it (and after a leading scale folded into its weights). */
static int producer_posts(const gr_node *n, int first, bounds *b)
{
    int i = first;
    b->lo = -INFINITY;
    b->hi = INFINITY;
    for (; i < n->npost; i++) {
        const gr_post *q = &n->post[i];
        if (q->kind == PO_RELU) {
            b->lo = fmaxf(b->lo, 0.0f);
            b->hi = fmaxf(b->hi, 0.0f);
        } else if (q->kind == PO_CLIP) {
            b->lo = fminf(fmaxf(b->lo, q->alpha), q->beta);
            b->hi = fmaxf(fminf(b->hi, q->beta), q->alpha);
        } else {
            break;
        }
    }
    return i;
}

/* A leading run of LINEAR posts, composed: a * x + b. */
static int leading_linear(const gr_node *n, float *a, float *b)
{
    int i = 0;
    *a = 1.0f;
    *b = 0.0f;
    for (; i < n->npost && n->post[i].kind == PO_LINEAR; i++) {
        *a *= n->post[i].alpha;
        *b = *b * n->post[i].alpha + n->post[i].beta;
    }
    return i;
}

static int rest_posts(cc *c, const gr_node *n, int first, uint32_t x, const char *where)
{
    int out = n->out[0], ret;
    for (int i = first; i < n->npost; i++) {
        const gr_post *q = &n->post[i];
        int last = i == n->npost - 1;
        uint32_t y;
        if (q->kind == PO_RELU || q->kind == PO_CLIP) {
            bounds b;
            int j = producer_posts(n, i, &b);
            last = j == n->npost;
            if ((ret = value(c, last ? out : -1, out, &y, where)) < 0)
                return ret;
            if ((ret = op2(c, XO_CLAMP, x, NO_ID, y, b.lo, b.hi, where)) < 0)
                return ret;
            note(c, "clamp", where);
            i = j - 1;
        } else if (q->kind == PO_HARDSWISH || q->kind == PO_SIGMOID) {
            if ((ret = value(c, last ? out : -1, out, &y, where)) < 0)
                return ret;
            if ((ret = op2(c, q->kind == PO_HARDSWISH ? XO_HARDSWISH : XO_SIGMOID, x, NO_ID, y,
                           -INFINITY, INFINITY, where)) < 0)
                return ret;
            note(c, q->kind == PO_HARDSWISH ? "hardswish" : "sigmoid", where);
        } else if (q->kind == PO_LINEAR) {
            uint32_t t;
            if ((ret = affine(c, x, out, q->alpha, q->beta, &t, where)) < 0)
                return ret;
            if (!last) {
                x = t;
                continue;
            }
            if ((ret = value(c, out, out, &y, where)) < 0 ||
                (ret = op2(c, XO_CLAMP, t, NO_ID, y, -INFINITY, INFINITY, where)) < 0)
                return ret;
        } else {
            return unsup(c, where, "a fused operation XNNPACK has no form for");
        }
        x = y;
    }
    return 0;
}

/* The producer's output value: the tensor's own when no post-op follows
 * the ones it applies itself. */
static int producer_out(cc *c, const gr_node *n, int next, uint32_t *y, const char *where)
{
    return value(c, next == n->npost ? n->out[0] : -1, n->out[0], y, where);
}

/* ------------------------------------------------------- operators */

static int c_conv(cc *c, const gr_node *n, const char *where)
{
    conv_params cp;
    int ret;
    if ((ret = conv_get(c->g, n, &cp, c->err, c->errlen)) < 0)
        return ret;
    if (!gr_is_const(c->g, n->in[1]))
        return unsup(c, where, "weights must be a constant");
    if (c->g->t[n->in[0]].ndim != 4)
        return unsup(c, where, "only 2-D convolutions run on XNNPACK");
    int dw = cp.group > 1 && cp.group == cp.cin;
    int64_t opg = cp.cout / cp.group, ipg = cp.cin / cp.group, khw = (int64_t)cp.kh * cp.kw;
    float *w = gr_const_floats(c->g, n->in[1]);
    float *bias = n->nin > 2 && n->in[2] >= 0 ? gr_const_floats(c->g, n->in[2]) : NULL;
    float *kw = keep(c, sizeof(float) * (size_t)(cp.cout * ipg * khw));
    float *kb = keep(c, sizeof(float) * (size_t)cp.cout);
    if (!w || !kw || !kb || (n->nin > 2 && n->in[2] >= 0 && !bias)) {
        free(w);
        free(bias);
        snprintf(c->err, c->errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    float a, b;
    int next = leading_linear(n, &a, &b);
    /* ONNX OIHW -> XNNPACK OHWI, or 1HWO for a depthwise convolution */
    for (int64_t o = 0; o < cp.cout; o++) {
        for (int64_t i = 0; i < ipg; i++)
            for (int64_t k = 0; k < khw; k++) {
                float v = a * w[(o * ipg + i) * khw + k];
                if (dw)
                    kw[k * cp.cout + o] = v;
                else
                    kw[(o * khw + k) * ipg + i] = v;
            }
        kb[o] = a * (bias ? bias[o] : 0.0f) + b;
    }
    free(w);
    free(bias);
    bounds bd;
    next = producer_posts(n, next, &bd);
    size_t wd[4], bdim = (size_t)cp.cout;
    if (dw) {
        wd[0] = 1; wd[1] = (size_t)cp.kh; wd[2] = (size_t)cp.kw; wd[3] = (size_t)cp.cout;
    } else {
        wd[0] = (size_t)cp.cout; wd[1] = (size_t)cp.kh; wd[2] = (size_t)cp.kw; wd[3] = (size_t)ipg;
    }
    uint32_t wid, bid, y;
    if (val_add(c, 4, wd, kw, NO_ID, &wid) < 0 || val_add(c, 1, &bdim, kb, NO_ID, &bid) < 0)
        return nomem(c, where);
    if ((ret = producer_out(c, n, next, &y, where)) < 0)
        return ret;
    xir_op o = { .kind = dw ? XO_DWCONV : XO_CONV, .x = c->val[n->in[0]].id, .y = NO_ID, .out = y,
                 .w = wid, .b = bid, .pt = (uint32_t)cp.pt, .pr = (uint32_t)cp.pr,
                 .pb = (uint32_t)cp.pb, .pl = (uint32_t)cp.pl, .kh = (uint32_t)cp.kh,
                 .kw = (uint32_t)cp.kw, .sh = (uint32_t)cp.sh, .sw = (uint32_t)cp.sw,
                 .dh = (uint32_t)cp.dh, .dw = (uint32_t)cp.dw, .groups = (uint32_t)cp.group,
                 .ipg = (size_t)ipg, .opg = (size_t)opg, .lo = bd.lo, .hi = bd.hi };
    if ((ret = op_add(c, &o, where)) < 0)
        return ret;
    char what[96];
    snprintf(what, sizeof what, "%s %dx%d s%d g%d", dw ? "dwconv" : "conv", cp.kh, cp.kw, cp.sh,
             cp.group);
    note(c, what, where);
    return rest_posts(c, n, next, y, where);
}

static int c_gemm(cc *c, const gr_node *n, const char *where)
{
    gemm_params gp;
    int ret;
    gemm_get(n, &gp);
    int ta = n->in[0], tb = n->in[1], tc = n->nin > 2 ? n->in[2] : -1;
    if (gr_is_const(c->g, ta) || !gr_is_const(c->g, tb) || gp.ta)
        return unsup(c, where, "XNNPACK runs a Gemm of an activation by constant weights only");
    if (tc >= 0 && !gr_is_const(c->g, tc))
        return unsup(c, where, "the Gemm's C must be a constant");
    const int64_t *bd = c->dims[tb];
    int64_t k = gp.tb ? bd[1] : bd[0], nn = gp.tb ? bd[0] : bd[1];
    float *w = gr_const_floats(c->g, tb), *cv = tc >= 0 ? gr_const_floats(c->g, tc) : NULL;
    float *kw = keep(c, sizeof(float) * (size_t)(k * nn)), *kb = keep(c, sizeof(float) * (size_t)nn);
    if (!w || !kw || !kb || (tc >= 0 && !cv)) {
        free(w);
        free(cv);
        snprintf(c->err, c->errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    int64_t cn = tc >= 0 ? gr_tensor_numel(&c->g->t[tc]) : 0;
    if (tc >= 0 && cn != 1 && cn != nn) {
        free(w);
        free(cv);
        return unsup(c, where, "the Gemm's C must be a vector or a scalar");
    }
    float a, b;
    int next = leading_linear(n, &a, &b);
    /* XNNPACK's filter is [N, K]: B as given when transposed, else swapped */
    for (int64_t o = 0; o < nn; o++) {
        for (int64_t i = 0; i < k; i++)
            kw[o * k + i] = a * gp.alpha * (gp.tb ? w[o * k + i] : w[i * nn + o]);
        kb[o] = a * (cv ? gp.beta * cv[cn == 1 ? 0 : o] : 0.0f) + b;
    }
    free(w);
    free(cv);
    bounds bb;
    next = producer_posts(n, next, &bb);
    size_t wd[2] = { (size_t)nn, (size_t)k }, bdim = (size_t)nn;
    uint32_t wid, bid, y;
    if (val_add(c, 2, wd, kw, NO_ID, &wid) < 0 || val_add(c, 1, &bdim, kb, NO_ID, &bid) < 0)
        return nomem(c, where);
    if ((ret = producer_out(c, n, next, &y, where)) < 0)
        return ret;
    xir_op o = { .kind = XO_FC, .x = c->val[ta].id, .y = NO_ID, .out = y, .w = wid, .b = bid,
                 .ipg = (size_t)k, .opg = (size_t)nn, .lo = bb.lo, .hi = bb.hi };
    if ((ret = op_add(c, &o, where)) < 0)
        return ret;
    note(c, "fully connected", where);
    return rest_posts(c, n, next, y, where);
}

static int c_unary(cc *c, const gr_node *n, const char *where)
{
    uint32_t x = c->val[n->in[0]].id, y;
    int ret;
    float lo = 0, hi = INFINITY;
    if (n->op == OP_HARDSIGMOID) {
        uint32_t t;
        if ((ret = affine(c, x, n->out[0], hardsigmoid_alpha(n), hardsigmoid_beta(n), &t,
                          where)) < 0)
            return ret;
        x = t;
        hi = 1;
    } else if (n->op == OP_CLIP &&
               (ret = clip_bounds(c->g, n, &lo, &hi, c->err, c->errlen)) < 0) {
        return ret;
    }
    if ((ret = value(c, n->out[0], n->out[0], &y, where)) < 0)
        return ret;
    xir_kind k = n->op == OP_HARDSWISH ? XO_HARDSWISH : n->op == OP_SIGMOID ? XO_SIGMOID : XO_CLAMP;
    if (k != XO_CLAMP)
        lo = -INFINITY, hi = INFINITY;
    if ((ret = op2(c, k, x, NO_ID, y, lo, hi, where)) < 0)
        return ret;
    note(c, n->op_type, where);
    return rest_posts(c, n, 0, y, where);
}

static int c_binary(cc *c, const gr_node *n, const char *where)
{
    int a = n->in[0], b = n->in[1], ret;
    int rank = c->g->t[n->out[0]].ndim;
    uint32_t ia, ib, y;
    if (gr_is_const(c->g, a) && gr_is_const(c->g, b))
        return unsup(c, where, "both operands are constants");
    /* a lower-rank activation would need its own broadcast layout */
    for (int s = 0; s < 2; s++) {
        int t = s ? b : a;
        if (!gr_is_const(c->g, t) && c->g->t[t].ndim != rank)
            return unsup(c, where, "operands of different ranks");
    }
    if (gr_is_const(c->g, a))
        ret = constant(c, a, rank, &ia, where);
    else
        ia = c->val[a].id, ret = 0;
    if (ret < 0)
        return ret;
    if (gr_is_const(c->g, b))
        ret = constant(c, b, rank, &ib, where);
    else
        ib = c->val[b].id, ret = 0;
    if (ret < 0 || (ret = value(c, n->out[0], n->out[0], &y, where)) < 0)
        return ret;
    xir_kind k = n->op == OP_ADD ? XO_ADD : n->op == OP_SUB ? XO_SUB : n->op == OP_MUL ? XO_MUL :
                 XO_DIV;
    if ((ret = op2(c, k, ia, ib, y, -INFINITY, INFINITY, where)) < 0)
        return ret;
    note(c, n->op_type, where);
    return 0;
}

/* Mean over H and W of a 4-D tensor: GlobalAveragePool, ReduceMean(2,3) */
static int c_reduce(cc *c, const gr_node *n, const char *where)
{
    int x = n->in[0], ret;
    if (c->g->t[x].ndim != 4)
        return unsup(c, where, "XNNPACK averages 4-D tensors only");
    if (n->op == OP_REDUCEMEAN) {
        unsigned mask;
        int keepd;
        if ((ret = reduce_axes(c->g, n, 4, &mask, &keepd, c->err, c->errlen)) < 0)
            return ret;
        if (mask != 0xcu)
            return unsup(c, where, "XNNPACK averages over H and W only");
        if (!keepd) {
            uint32_t t, y;
            size_t d4[4] = { (size_t)c->dims[x][0], 1, 1, (size_t)c->dims[x][1] };
            if (val_add(c, 4, d4, NULL, NO_ID, &t) < 0)
                return nomem(c, where);
            if ((ret = op2(c, XO_GAP, c->val[x].id, NO_ID, t, -INFINITY, INFINITY, where)) < 0 ||
                (ret = value(c, n->out[0], n->out[0], &y, where)) < 0 ||
                (ret = op2(c, XO_RESHAPE, t, NO_ID, y, 0, 0, where)) < 0)
                return ret;
            note(c, "global average pool", where);
            return 0;
        }
    }
    uint32_t y;
    if ((ret = value(c, n->out[0], n->out[0], &y, where)) < 0 ||
        (ret = op2(c, XO_GAP, c->val[x].id, NO_ID, y, -INFINITY, INFINITY, where)) < 0)
        return ret;
    note(c, "global average pool", where);
    return 0;
}

static int c_softmax(cc *c, const gr_node *n, const char *where)
{
    int x = n->in[0], nd = c->g->t[x].ndim, ret;
    int axis = softmax_axis(c->g, n, nd);
    /* the axis XNNPACK reduces is the innermost stored one; a 4-D one
     * only where H and W are 1 (opsets before 13 flatten from the axis on) */
    int inner = nd == 4 ? axis == 1 && c->dims[x][2] * c->dims[x][3] == 1 : axis == nd - 1;
    if (!inner)
        return unsup(c, where, "XNNPACK's softmax is over the innermost axis only");
    uint32_t y;
    if ((ret = value(c, n->out[0], n->out[0], &y, where)) < 0 ||
        (ret = op2(c, XO_SOFTMAX, c->val[x].id, NO_ID, y, -INFINITY, INFINITY, where)) < 0)
        return ret;
    note(c, "softmax", where);
    return 0;
}

static int c_view(cc *c, const gr_node *n, const char *where)
{
    int x = n->in[0], o = n->out[0], ret;
    const gr_tensor *tx = &c->g->t[x], *to = &c->g->t[o];
    if (!order_agrees(tx->ndim, c->dims[x]) || !order_agrees(to->ndim, c->dims[o]))
        return unsup(c, where, "a view that would reorder NHWC data");
    uint32_t y;
    if ((ret = value(c, o, o, &y, where)) < 0 ||
        (ret = op2(c, XO_RESHAPE, c->val[x].id, NO_ID, y, 0, 0, where)) < 0)
        return ret;
    note(c, "reshape", where);
    return 0;
}

static int compile_node(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    char where[300];
    gr_node_desc(n, where, sizeof where);
    for (int i = 0; i < n->nin; i++) {
        int t = n->in[i];
        if (t >= 0 && !gr_is_const(c->g, t) && c->val[t].id == NO_ID) {
            snprintf(c->err, c->errlen, "%s: input '%s' is not computed", where, c->g->t[t].name);
            return ENG_EMODEL;
        }
        if (t >= 0 && !gr_is_const(c->g, t) && c->g->t[t].dtype != G_F32)
            return unsup(c, where, "XNNPACK computes float tensors only");
    }
    for (int i = 0; i < c->g->t[n->out[0]].ndim; i++)
        if (c->dims[n->out[0]][i] == 0)
            return unsup(c, where, "an empty tensor");
    int const_ok = n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL || n->op == OP_DIV;
    if (!const_ok && n->nin > 0 && gr_is_const(c->g, n->in[0]))
        return unsup(c, where, "its first input is a constant");
    switch (n->op) {
    case OP_CONV: return c_conv(c, n, where);
    case OP_GEMM: return c_gemm(c, n, where);
    case OP_RELU: case OP_HARDSWISH: case OP_HARDSIGMOID: case OP_CLIP: case OP_SIGMOID:
        return c_unary(c, n, where);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        return c_binary(c, n, where);
    case OP_GAP: case OP_REDUCEMEAN: return c_reduce(c, n, where);
    case OP_SOFTMAX: return c_softmax(c, n, where);
    case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE:
    case OP_IDENTITY: case OP_DROPOUT:
        return c_view(c, n, where);
    default:
        return unsup(c, where, "not supported by the XNNPACK compiler");
    }
}

/* ------------------------------------------------------- model */

static int pool_threads(int threads)
{
    if (threads > 0)
        return threads;
    cpu_set_t set;
    /* as OpenMP sizes its team: the CPUs this thread may run on */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

static int build(cc *c, const char *where)
{
    const gr_graph *g = c->g;
    xnp_model *x = c->x;
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        if (g->t[t].dtype != G_F32) {
            snprintf(c->err, c->errlen, "graph input '%s' is %s; only float32 inputs can be fed",
                     g->t[t].name, gr_dtype_name(g->t[t].dtype));
            return ENG_EUNSUP;
        }
        size_t d[G_MAX_DIMS];
        int nhwc = g->t[t].ndim == 4;
        size_t nd = stored_dims(g->t[t].ndim, c->dims[t], nhwc, d);
        uint32_t id;
        if (val_add(c, (int)nd, d, NULL, (uint32_t)i, &id) < 0)
            return nomem(c, where);
        c->val[t] = (xval){ id, nhwc };
        x->in_nhwc[i] = nhwc;
        x->in_n[i] = (size_t)gr_numel(g->t[t].ndim, c->dims[t]);
        for (int j = 0; j < 4 && j < g->t[t].ndim; j++)
            x->in_dims[i][j] = c->dims[t][j];
    }
    for (int i = 0; i < g->nn; i++) {
        if (g->n[i].dead)
            continue;
        int ret = compile_node(c, i);
        if (ret < 0)
            return ret;
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        if (c->val[t].id == NO_ID || c->ir.v[c->val[t].id].ext != (uint32_t)(x->nin + k)) {
            snprintf(c->err, c->errlen, "graph output '%s' is %s", g->t[t].name,
                     gr_is_const(g, t) ? "a constant" : "a graph input or not computed");
            return ENG_EUNSUP;
        }
        x->out_n[k] = (size_t)gr_numel(g->t[t].ndim, c->dims[t]);
        x->out_nhwc[k] = g->t[t].ndim == 4 && !order_agrees(4, c->dims[t]);
        for (int j = 0; j < 4 && j < g->t[t].ndim; j++)
            x->out_dims[k][j] = c->dims[t][j];
    }
    return 0;
}

int xnp_model_new(xnp_model **out, const gr_graph *g, int unit, xnp_prec prec, int threads,
                  char *err, size_t errlen)
{
    xnp_model *x = calloc(1, sizeof(*x));
    cc c = { .x = x, .g = g, .err = err, .errlen = errlen };
    int ret = ENG_ENOMEM;
    const char *where = "XNNPACK";
    *out = NULL;
    /* XNNPACK initialises itself once however often this is called */
    enum xnn_status init_status = xnn_initialize(NULL);
    if (init_status != xnn_status_success) {
        snprintf(err, errlen, "xnn_initialize: %s", xir_status(init_status));
        free(x);
        return ENG_EUNSUP;
    }
    if (!x)
        goto nomem;
    x->unit = unit;
    x->prec = prec;
    x->nin = c.ir.nin = g->ninputs;
    x->nout = c.ir.nout = g->noutputs;
    c.dims = malloc(sizeof(*c.dims) * (size_t)(g->nt ? g->nt : 1));
    c.val = malloc(sizeof(xval) * (size_t)(g->nt ? g->nt : 1));
    x->rin = calloc((size_t)x->nin + 1, sizeof(float *));
    x->rout = calloc((size_t)x->nout + 1, sizeof(float *));
    x->in_n = calloc((size_t)x->nin + 1, sizeof(size_t));
    x->out_n = calloc((size_t)x->nout + 1, sizeof(size_t));
    x->in_nhwc = calloc((size_t)x->nin + 1, sizeof(int));
    x->out_nhwc = calloc((size_t)x->nout + 1, sizeof(int));
    x->in_dims = calloc((size_t)x->nin + 1, sizeof(*x->in_dims));
    x->out_dims = calloc((size_t)x->nout + 1, sizeof(*x->out_dims));
    if (!c.dims || !c.val || !x->rin || !x->rout || !x->in_n || !x->out_n || !x->in_nhwc ||
        !x->out_nhwc || !x->in_dims || !x->out_dims)
        goto nomem;
    for (int i = 0; i < g->nt; i++)
        c.val[i] = (xval){ NO_ID, 0 };
    gr_shapes_for_batch(g, unit, c.dims);
    if ((ret = build(&c, where)) < 0)
        goto fail;
    for (int i = 0; i < x->nin + x->nout; i++) {
        size_t n = i < x->nin ? x->in_n[i] : x->out_n[i - x->nin];
        float *b = calloc(1, sizeof(float) * n + XNN_EXTRA_BYTES);
        if (!b)
            goto nomem;
        if (i < x->nin)
            x->rin[i] = b;
        else
            x->rout[i - x->nin] = b;
    }
    int nthreads = pool_threads(threads);
    if (nthreads > 1 && !(x->pool = pthreadpool_create((size_t)nthreads))) {
        snprintf(err, errlen, "pthreadpool_create(%d): out of memory or threads", nthreads);
        ret = ENG_ENOMEM;
        goto fail;
    }
    if (prec == XNP_F16)
        ret = xf16_new(&x->f16, &c.ir, x->pool, x->rin, x->rout, err, errlen);
    else
        ret = xir_runtime(&x->rt, &c.ir, x->pool, x->rin, x->rout, err, errlen);
    if (ret < 0)
        goto fail;
    free(c.ir.v);
    free(c.ir.op);
    free(c.dims);
    free(c.val);
    *out = x;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling for XNNPACK");
    ret = ENG_ENOMEM;
fail:
    free(c.ir.v);
    free(c.ir.op);
    free(c.dims);
    free(c.val);
    xnp_model_free(x);
    return ret;
}

void xnp_model_free(xnp_model *x)
{
    if (!x)
        return;
    if (x->rt)
        xnn_delete_runtime(x->rt);
    xf16_free(x->f16);
    if (x->pool)
        pthreadpool_destroy(x->pool);
    for (int i = 0; x->rin && i < x->nin; i++)
        free(x->rin[i]);
    for (int i = 0; x->rout && i < x->nout; i++)
        free(x->rout[i]);
    for (int i = 0; i < x->nkeep; i++)
        free(x->keep[i]);
    for (int i = 0; i < x->nlines; i++)
        free(x->lines[i]);
    free(x->keep);
    free(x->lines);
    free(x->rin);
    free(x->rout);
    free(x->in_n);
    free(x->out_n);
    free(x->in_nhwc);
    free(x->out_nhwc);
    free(x->in_dims);
    free(x->out_dims);
    free(x);
}

/* ------------------------------------------------------- plans */

int xnp_plan_new(xnp_plan **out, xnp_model *x, int batch, char *err, size_t errlen)
{
    xnp_plan *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (batch % x->unit) {
        free(p);
        snprintf(err, errlen, "batch %d is not a multiple of %d", batch, x->unit);
        return ENG_EINVAL;
    }
    if (!p || !(p->in = calloc((size_t)x->nin + 1, sizeof(float *))) ||
        !(p->out = calloc((size_t)x->nout + 1, sizeof(float *))))
        goto nomem;
    p->x = x;
    p->batch = batch;
    int runs = batch / x->unit;
    for (int i = 0; i < x->nin; i++)
        if (!(p->in[i] = calloc(x->in_n[i] * (size_t)runs, sizeof(float))))
            goto nomem;
    for (int i = 0; i < x->nout; i++)
        if (!(p->out[i] = calloc(x->out_n[i] * (size_t)runs, sizeof(float))))
            goto nomem;
    *out = p;
    return 0;
nomem:
    xnp_plan_free(p);
    snprintf(err, errlen, "out of memory for a batch of %d", batch);
    return ENG_ENOMEM;
}

void xnp_plan_free(xnp_plan *p)
{
    if (!p)
        return;
    for (int i = 0; p->in && i < p->x->nin; i++)
        free(p->in[i]);
    for (int i = 0; p->out && i < p->x->nout; i++)
        free(p->out[i]);
    free(p->in);
    free(p->out);
    free(p);
}

void xnp_put_tensor(xnp_plan *p, int i, const float *src)
{
    const xnp_model *x = p->x;
    size_t n = x->in_n[i] * (size_t)(p->batch / x->unit);
    float *dst = p->in[i];
    if (!x->in_nhwc[i]) {
        memcpy(dst, src, sizeof(float) * n);
        return;
    }
    const int64_t *d = x->in_dims[i];
    int64_t c = d[1], hw = d[2] * d[3];
    for (int64_t b = 0; b < (int64_t)n / (c * hw); b++)
        for (int64_t k = 0; k < hw; k++)
            for (int64_t j = 0; j < c; j++)
                dst[(b * hw + k) * c + j] = src[(b * c + j) * hw + k];
}

void xnp_put_pixels(xnp_plan *p, int k, const uint8_t *src, int stride, const float (*lut)[256])
{
    const int64_t *d = p->x->in_dims[0];
    int h = (int)d[2], w = (int)d[3];
    float *dst = p->in[0] + (size_t)h * (size_t)w * 3 * (size_t)k;
    /* the input is NHWC (4-D inputs always are here): the pixels' own order */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        float *o = dst + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < 3 * w; x += 3) {
            o[x] = lut[0][row[x]];
            o[x + 1] = lut[1][row[x + 1]];
            o[x + 2] = lut[2][row[x + 2]];
        }
    }
}

const float *xnp_output(xnp_plan *p, int i)
{
    return p->out[i];
}

/* NHWC -> NCHW, for a 4-D graph output */
static void to_nchw(float *dst, const float *src, const int64_t *d)
{
    int64_t hw = d[2] * d[3];
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t i = 0; i < hw; i++)
            for (int64_t ch = 0; ch < d[1]; ch++)
                dst[(b * d[1] + ch) * hw + i] = src[(b * hw + i) * d[1] + ch];
}

int xnp_run(xnp_plan *p, char *err, size_t errlen)
{
    xnp_model *x = p->x;
    for (int r = 0; r < p->batch / x->unit; r++) {
        for (int i = 0; i < x->nin; i++)
            memcpy(x->rin[i], p->in[i] + x->in_n[i] * (size_t)r, sizeof(float) * x->in_n[i]);
        if (x->f16) {
            int ret = xf16_run(x->f16, x->pool, err, errlen);
            if (ret < 0)
                return ret;
        } else {
            enum xnn_status st = xnn_invoke_runtime(x->rt);
            if (st != xnn_status_success) {
                snprintf(err, errlen, "xnn_invoke_runtime: %s", xir_status(st));
                return ENG_EMODEL;
            }
        }
        for (int i = 0; i < x->nout; i++) {
            float *dst = p->out[i] + x->out_n[i] * (size_t)r;
            if (x->out_nhwc[i])
                to_nchw(dst, x->rout[i], x->out_dims[i]);
            else
                memcpy(dst, x->rout[i], sizeof(float) * x->out_n[i]);
        }
    }
    return 0;
}

void xnp_plan_stats(const xnp_plan *p, dnn_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->steps = p->x->nlines;
}

void xnp_plan_dump(const xnp_plan *p, void (*line)(void *, const char *), void *arg)
{
    for (int i = 0; i < p->x->nlines; i++)
        line(arg, p->x->lines[i]);
}
