/* lower.c: the graph lowered to XNNPACK's operations (ir.h), for xnn.c.
 *
 * The passes before it (shape folding, BatchNorm and bias folding, the
 * HardSwish pattern, activations as post-ops) are the same as for oneDNN;
 * here a node's post-ops become what XNNPACK fuses: clamps into the
 * producer's output bounds, a leading scale and shift into its weights and
 * bias (HardSigmoid's), and the rest as operations of their own.  Every 4-D
 * activation is NHWC; a view (Flatten, Reshape, Squeeze) is allowed where
 * NHWC and NCHW order agree, which is where one of H*W and C is 1.  fp32
 * runs the lowered graph as an XNNPACK subgraph, fp16 as operators. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/xnn/model.h"

#define NO_ID XIR_NONE

typedef struct {
    uint32_t id;
    int nhwc;                   /* a 4-D activation, stored NHWC */
} xval;

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

/* One line for the plans' dump: what XNNPACK runs, for which node. */
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

int xnp_lower(xnp_model *x, const gr_graph *g, xir *ir, char *err, size_t errlen)
{
    cc c = { .x = x, .g = g, .err = err, .errlen = errlen };
    int ret = ENG_ENOMEM;
    c.ir.nin = g->ninputs;
    c.ir.nout = g->noutputs;
    c.dims = malloc(sizeof(*c.dims) * (size_t)(g->nt ? g->nt : 1));
    c.val = malloc(sizeof(xval) * (size_t)(g->nt ? g->nt : 1));
    if (!c.dims || !c.val) {
        snprintf(err, errlen, "out of memory compiling for XNNPACK");
        goto end;
    }
    for (int i = 0; i < g->nt; i++)
        c.val[i] = (xval){ NO_ID, 0 };
    gr_shapes_for_batch(g, x->unit, c.dims);
    ret = build(&c, "XNNPACK");
end:
    free(c.dims);
    free(c.val);
    if (ret < 0) {
        free(c.ir.v);
        free(c.ir.op);
        c.ir = (xir){ 0 };
    }
    *ir = c.ir;
    return ret;
}
