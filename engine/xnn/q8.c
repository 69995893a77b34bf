/* q8.c: int8 on XNNPACK (xnn.h: xnp_int8), for models whose activations
 * carry per-tensor int8 parameters (QDQ files; calibrated float models
 * without per-channel scales), after the same int8 graph pass as oneDNN's
 * (engine/pick.c).
 *
 * The engine's quantised bytes are uint8 with a zero point; XNNPACK's are
 * int8: the same numbers less 128, so that a tensor's scale stays and its
 * zero point moves by 128, exactly.  Convolutions and the Gemm are qc8
 * convolutions (per-channel int8 weights, the bias in accumulator units);
 * the squeeze-excitation product, additions and global means are XNNPACK's
 * qs8 operators.  The activations XNNPACK has no qs8 form of (HardSwish,
 * HardSigmoid, x * HardSigmoid(x)) are 256-entry tables of ours between
 * operators, computed as oneDNN's int8 plan computes them: the real
 * function of each byte, quantised once.  Everything is set up once, for
 * the unit batch, on buffers the model owns; q8_run.c runs the list. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/xnn/q8.h"

typedef struct {
    xq8_model *m;
    const gr_graph *g;
    qval *v;
    unsigned char *absorbed;
    char where[300];
    char *err;
    size_t errlen;
} cc;

/* ------------------------------------------------------- helpers */

static void *own(xq8_model *m, size_t bytes)
{
    if (m->nmem == m->capmem) {
        int cap = m->capmem ? 2 * m->capmem : 128;
        void **p = realloc(m->mem, sizeof(void *) * (size_t)cap);
        if (!p)
            return NULL;
        m->mem = p;
        m->capmem = cap;
    }
    void *p = calloc(1, bytes + XNN_EXTRA_BYTES);
    if (p)
        m->mem[m->nmem++] = p;
    return p;
}

static void note(xq8_model *m, const char *what, const char *where)
{
    if (m->nlines == m->caplines) {
        int cap = m->caplines ? 2 * m->caplines : 64;
        char **l = realloc(m->lines, sizeof(char *) * (size_t)cap);
        if (!l)
            return;
        m->lines = l;
        m->caplines = cap;
    }
    char buf[400];
    snprintf(buf, sizeof buf, "%3d %-24s %s", m->nlines, what, where);
    if ((m->lines[m->nlines] = strdup(buf)))
        m->nlines++;
}

static qstep *step_new(cc *c, int kind)
{
    xq8_model *m = c->m;
    if (m->ns == m->caps) {
        int cap = m->caps ? 2 * m->caps : 128;
        qstep *s = realloc(m->s, sizeof(qstep) * (size_t)cap);
        if (!s)
            return NULL;
        m->s = s;
        m->caps = cap;
    }
    qstep *s = &m->s[m->ns++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    return s;
}

static int nomem(cc *c)
{
    snprintf(c->err, c->errlen, "%s: out of memory", c->where);
    return ENG_ENOMEM;
}

static int unsup(cc *c, const char *why)
{
    snprintf(c->err, c->errlen, "%s: %s", c->where, why);
    return ENG_EUNSUP;
}

static int xfail(cc *c, enum xnn_status st, const char *what)
{
    snprintf(c->err, c->errlen, "%s: XNNPACK int8 %s: %s", c->where, what, xir_status(st));
    return st == xnn_status_out_of_memory ? ENG_ENOMEM : ENG_EUNSUP;
}

static float deq(const qval *v, int q8)
{
    return v->s * (float)(q8 - v->z);
}

static size_t numel(const qval *v)
{
    return (size_t)gr_numel(v->nd, v->d);
}

/* Input t computed and quantised, else an error naming it. */
static int need(cc *c, int t)
{
    if (t < 0 || !c->v[t].buf) {
        snprintf(c->err, c->errlen, "%s: input '%s' is not computed", c->where,
                 t >= 0 ? c->g->t[t].name : "?");
        return ENG_EMODEL;
    }
    if (!c->v[t].q)
        return unsup(c, "an input has no int8 parameters (neither a QDQ model nor in the "
                     "calibration file)");
    return 0;
}

/* Output t's parameters and buffer; per-channel scales are oneDNN's only. */
static int make(cc *c, int t)
{
    const gr_tensor *gt = &c->g->t[t];
    qval *v = &c->v[t];
    if (!gt->qset) {
        snprintf(c->err, c->errlen, "%s: output '%s' has no int8 parameters (neither a QDQ "
                 "model nor in the calibration file)", c->where, gt->name);
        return ENG_EUNSUP;
    }
    if (gt->qch) {
        snprintf(c->err, c->errlen, "%s: '%s' has per-channel int8 scales, which XNNPACK's "
                 "int8 operators do not take: use backend onednn for int8, or fp32/fp16 "
                 "on XNNPACK", c->where, gt->name);
        return ENG_EUNSUP;
    }
    v->q = 1;
    v->s = gt->qscale;
    v->z = gt->qzero - 128;
    if (!(v->buf = own(c->m, numel(v))))
        return nomem(c);
    return 0;
}

/* ------------------------------------------------------- tables */

static int is_act(gr_opkind op)
{
    return gr_op(op)->cls == OPC_ELTWISE && gr_op(op)->scalar;
}

static float act(const cc *c, const gr_node *n, float v)
{
    return gr_op(n->op)->scalar(c->g, n, v);
}

/* The activation node making t from x alone, used only by one Mul. */

/* A table step from x to y; its entries are filled by the caller. */
static qstep *lut_step(cc *c, int x, int y, const char *what)
{
    qstep *s = step_new(c, K_LUT);
    if (!s)
        return NULL;
    s->x = c->v[x].buf;
    s->y = c->v[y].buf;
    s->n = numel(&c->v[y]);
    note(c->m, what, c->where);
    return s;
}

static int c_act(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
        return ret;
    qstep *s = lut_step(c, x, y, "table (ours)");
    if (!s)
        return nomem(c);
    for (int q = -128; q < 128; q++)
        s->lut[(uint8_t)q] = xq8_s8(&c->v[y], act(c, n, deq(&c->v[x], q)));
    return 0;
}

/* ------------------------------------------------------- XNNPACK operators */

static int op_step(cc *c, xnn_operator_t op, const char *what)
{
    qstep *s = step_new(c, K_OP);
    if (!s) {
        xnn_delete_operator(op);
        return nomem(c);
    }
    s->op = op;
    note(c->m, what, c->where);
    return 0;
}

/* NHWC shape of a 4-D value as [N, H*W, C] (else its own), for the nd operators. */
static size_t shape3(const qval *v, size_t *d)
{
    if (v->nd == 4) {
        d[0] = (size_t)v->d[0];
        d[1] = (size_t)(v->d[2] * v->d[3]);
        d[2] = (size_t)v->d[1];
        return 3;
    }
    for (int i = 0; i < v->nd; i++)
        d[i] = (size_t)v->d[i];
    return (size_t)v->nd;
}

static int c_binary(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    const gr_graph *g = c->g;
    const gr_opdef *op = gr_op(n->op);
    int a = n->in[0], b = n->in[1], y = n->out[0], ret;
    float k;
    /* x * act(x): one table */
    for (int side = 0; op->bin == GB_MUL && side < 2; side++) {
        int x = side ? b : a, h = side ? a : b, hn = q_gate_of(c->g, h, x);
        if (hn < 0 || !c->absorbed[hn])
            continue;
        if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
            return ret;
        const gr_tensor *H = &g->t[h];
        qstep *s = lut_step(c, x, y, "table x*act(x) (ours)");
        if (!s)
            return nomem(c);
        for (int q = -128; q < 128; q++) {
            float xr = deq(&c->v[x], q);
            int hq = q_u8(act(c, &g->n[hn], xr), H->qscale, H->qzero);
            s->lut[(uint8_t)q] = xq8_s8(&c->v[y], xr * H->qscale * (float)(hq - H->qzero));
        }
        return 0;
    }
    /* by a scalar constant: a table too */
    for (int side = 0; side < 2; side++) {
        int x = side ? b : a, kc = side ? a : b;
        if (!gr_is_scalar_const(g, kc, &k))
            continue;
        if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
            return ret;
        qstep *s = lut_step(c, x, y, "table (ours)");
        if (!s)
            return nomem(c);
        for (int q = -128; q < 128; q++) {
            float xr = deq(&c->v[x], q);
            s->lut[(uint8_t)q] = xq8_s8(&c->v[y], side ? op->scalar2(k, xr) : op->scalar2(xr, k));
        }
        return 0;
    }
    if (op->bin != GB_MUL && op->bin != GB_ADD)
        return unsup(c, "int8 of two tensors other than Add and Mul is unsupported");
    if ((ret = need(c, a)) < 0 || (ret = need(c, b)) < 0 || (ret = make(c, y)) < 0)
        return ret;
    qval *A = &c->v[a], *B = &c->v[b], *Y = &c->v[y];
    size_t da[4], db[4];
    size_t na = shape3(A, da), nb = shape3(B, db);
    /* the same shapes, or one [N, C, 1, 1] over [N, C, H, W] (squeeze-excitation):
     * what [N, H*W, C] broadcasting means the same as NCHW's */
    int same = A->nd == B->nd && !memcmp(A->d, B->d, sizeof(int64_t) * (size_t)A->nd);
    const qval *small = numel(A) < numel(B) ? A : B, *big = small == A ? B : A;
    if (!same && !(A->nd == 4 && B->nd == 4 && na == nb && small->d[0] == big->d[0] &&
                   small->d[1] == big->d[1] && small->d[2] == 1 && small->d[3] == 1))
        return unsup(c, "int8 broadcasting of these shapes is unsupported");
    xnn_operator_t o = NULL;
    enum xnn_status st = op->bin == GB_ADD ?
        xnn_create_add_nd_qs8((int8_t)A->z, A->s, (int8_t)B->z, B->s, (int8_t)Y->z, Y->s, -128,
                              127, 0, &o) :
        xnn_create_multiply_nd_qs8((int8_t)A->z, A->s, (int8_t)B->z, B->s, (int8_t)Y->z, Y->s,
                                   -128, 127, 0, &o);
    if (st != xnn_status_success)
        return xfail(c, st, op->bin == GB_ADD ? "add" : "multiply");
    st = op->bin == GB_ADD ?
        xnn_setup_add_nd_qs8(o, na, da, nb, db, A->buf, B->buf, Y->buf, c->m->pool) :
        xnn_setup_multiply_nd_qs8(o, na, da, nb, db, A->buf, B->buf, Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return xfail(c, st, "setup");
    }
    return op_step(c, o, op->bin == GB_ADD ? "add_nd_qs8" : "multiply_nd_qs8");
}

static int c_mean(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret, keep = 1;
    unsigned mask = 3u << 2;
    if ((ret = need(c, x)) < 0)
        return ret;
    qval *X = &c->v[x];
    if (n->op == OP_REDUCEMEAN &&
        (ret = reduce_axes(c->g, n, X->nd, &mask, &keep, c->err, c->errlen)) < 0)
        return ret;
    if (X->nd != 4 || mask != (3u << 2))
        return unsup(c, "int8 mean over other axes than height and width is unsupported");
    if ((ret = make(c, y)) < 0)
        return ret;
    qval *Y = &c->v[y];
    xnn_operator_t o = NULL;
    size_t ch = (size_t)X->d[1];
    enum xnn_status st = xnn_create_global_average_pooling_nwc_qs8(
        ch, ch, ch, (int8_t)X->z, X->s, (int8_t)Y->z, Y->s, -128, 127, 0, &o);
    if (st != xnn_status_success)
        return xfail(c, st, "global average pooling");
    st = xnn_setup_global_average_pooling_nwc_qs8(o, (size_t)X->d[0], (size_t)(X->d[2] * X->d[3]),
                                                  X->buf, Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return xfail(c, st, "setup");
    }
    return op_step(c, o, "global_average_pooling_qs8");
}

/* Views share storage where NHWC bytes read as the NCHW order they claim. */
static int c_view(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0];
    qval *X = &c->v[x], *Y = &c->v[y];
    if (!X->buf) {
        snprintf(c->err, c->errlen, "%s: input '%s' is not computed", c->where, c->g->t[x].name);
        return ENG_EMODEL;
    }
    int same = X->nd == Y->nd && !memcmp(X->d, Y->d, sizeof(int64_t) * (size_t)X->nd);
    if (!same && ((X->nd == 4 && X->d[2] * X->d[3] != 1) || (Y->nd == 4 && Y->d[2] * Y->d[3] != 1)))
        return unsup(c, "int8 on XNNPACK cannot reshape a tensor with height and width");
    Y->buf = X->buf;
    Y->q = X->q;
    Y->s = X->s;
    Y->z = X->z;
    return 0;
}

/* ------------------------------------------------------- convolutions */

/* OIHW int8 -> XNNPACK's [O][kh][kw][I/group]. */
static void to_ohwi(int8_t *dst, const int8_t *src, int64_t oc, int64_t icg, int kh, int kw)
{
    for (int64_t o = 0; o < oc; o++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                for (int64_t ci = 0; ci < icg; ci++)
                    dst[((o * kh + i) * kw + j) * icg + ci] = src[((o * icg + ci) * kh + i) * kw + j];
}

/* The bounds the node's activations leave the int8 output in; -1 when
 * they are not bounds (HardSwish and the like: tables after it). */
static int post_bounds(cc *c, const gr_node *n, const qval *Y, int8_t *lo, int8_t *hi)
{
    *lo = -128;
    *hi = 127;
    for (int i = 0; i < n->npost; i++) {
        const gr_post *p = &n->post[i];
        float a = p->kind == PO_RELU ? 0.0f : p->alpha, b = p->kind == PO_RELU ? INFINITY : p->beta;
        if (!(p->kind == PO_RELU && p->alpha == 0.0f) && p->kind != PO_CLIP)
            return -1;
        int8_t l = xq8_s8(Y, a), h = isinf(b) ? 127 : xq8_s8(Y, b);
        *lo = l > *lo ? l : *lo;
        *hi = h < *hi ? h : *hi;
    }
    (void)c;
    return 0;
}

static int c_conv(cc *c, int ni)
{
    const gr_graph *g = c->g;
    const gr_node *n = &g->n[ni];
    int x = n->in[0], y = n->out[0], gemm = n->op == OP_GEMM, ret;
    conv_params cp;
    gemm_params gp = { 1.0f, 1.0f, 0, 1 };
    int8_t *wq = NULL, *w = NULL, lo, hi;
    float *ws = NULL, *bf = NULL, *ks = NULL;
    int32_t *b32 = NULL;
    char e[256];
    if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
        return ret;
    qval *X = &c->v[x], *Y = &c->v[y];
    if (gemm) {
        gemm_get(n, &gp);
        if (gp.ta)
            return unsup(c, "int8 Gemm with transA is unsupported");
        memset(&cp, 0, sizeof cp);
        cp.kh = cp.kw = cp.sh = cp.sw = cp.dh = cp.dw = cp.group = 1;
        cp.cin = X->d[X->nd - 1];
        cp.cout = Y->d[Y->nd - 1];
        if (X->nd == 4)
            cp.cin = X->d[1] * X->d[2] * X->d[3];
    } else if ((ret = conv_get(g, n, &cp, c->err, c->errlen)) < 0) {
        return ret;
    }
    if (post_bounds(c, n, Y, &lo, &hi) < 0)
        return unsup(c, "a fused activation other than ReLU or Clip, whose input has no int8 "
                     "range: use backend onednn for int8, or fp32/fp16 on XNNPACK");
    if ((ret = q_weights(g, n->in[1], cp.cout, gemm && !gp.tb, &wq, &ws, e, sizeof e)) < 0) {
        snprintf(c->err, c->errlen, "%s: %s", c->where, e);
        return ret;
    }
    int64_t icg = cp.cin / cp.group, k = icg * cp.kh * cp.kw, oc = cp.cout;
    if (gr_tensor_numel(&g->t[n->in[1]]) != oc * k) {
        snprintf(c->err, c->errlen, "%s: weights '%s' hold %lld values, the shapes need %lld",
                 c->where, g->t[n->in[1]].name, (long long)gr_tensor_numel(&g->t[n->in[1]]),
                 (long long)(oc * k));
        ret = ENG_EMODEL;
        goto end;
    }
    int64_t nb = 0;
    if (n->nin >= 3 && n->in[2] >= 0) {
        nb = gr_tensor_numel(&g->t[n->in[2]]);
        if (!(bf = q_const_floats(g, n->in[2])) || (nb != 1 && nb != oc)) {
            snprintf(c->err, c->errlen, "%s: bias '%s' must be a constant of 1 or %lld values",
                     c->where, g->t[n->in[2]].name, (long long)oc);
            ret = ENG_EMODEL;
            goto end;
        }
    }
    /* XNNPACK packs its own copy of these when it creates the operator */
    w = malloc((size_t)(oc * k));
    b32 = malloc(sizeof(int32_t) * (size_t)oc);
    ks = malloc(sizeof(float) * (size_t)oc);
    if (!w || !b32 || !ks) {
        ret = nomem(c);
        goto end;
    }
    for (int64_t o = 0; o < oc; o++) {
        float bo = bf ? gp.beta * bf[nb == 1 ? 0 : o] : 0.0f;
        /* A channel whose weights are all but zero gets a scale so fine
         * that its bias overflows int32 in accumulator units: coarsen it
         * until the bias fits, as oneDNN's int8 plan does. */
        double need_s = fabs((double)bo) / ((double)gp.alpha * X->s * (1 << 30));
        if (ws[o] < need_s) {
            for (int64_t i = 0; i < k; i++)
                wq[o * k + i] = (int8_t)lrint(wq[o * k + i] * ws[o] / need_s);
            ws[o] = (float)need_s;
        }
        ks[o] = gp.alpha * ws[o];
        double acc = (double)bo / ((double)X->s * ks[o]);
        b32[o] = acc > INT_MAX ? INT_MAX : acc < INT_MIN ? INT_MIN : (int32_t)lrint(acc);
    }
    to_ohwi(w, wq, oc, icg, cp.kh, cp.kw);
    size_t ih = X->nd == 4 && !gemm ? (size_t)X->d[2] : 1, iw = X->nd == 4 && !gemm ? (size_t)X->d[3] : 1;
    xnn_operator_t o = NULL;
    enum xnn_status st = xnn_create_convolution2d_nhwc_qc8(
        (uint32_t)cp.pt, (uint32_t)cp.pr, (uint32_t)cp.pb, (uint32_t)cp.pl, (uint32_t)cp.kh,
        (uint32_t)cp.kw, (uint32_t)cp.sh, (uint32_t)cp.sw, (uint32_t)cp.dh, (uint32_t)cp.dw,
        (uint32_t)cp.group, (size_t)icg, (size_t)(oc / cp.group), (size_t)cp.cin, (size_t)oc,
        (int8_t)X->z, X->s, ks, w, b32, (int8_t)Y->z, Y->s, lo, hi, 0, &o);
    if (st != xnn_status_success) {
        ret = xfail(c, st, "convolution");
        goto end;
    }
    st = xnn_setup_convolution2d_nhwc_qc8(o, (size_t)X->d[0], ih, iw, X->buf, Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        ret = xfail(c, st, "setup");
        goto end;
    }
    ret = op_step(c, o, cp.group > 1 && icg == 1 ? "convolution_qc8 (depthwise)" :
                  "convolution_qc8");
end:
    free(wq);
    free(ws);
    free(bf);
    free(w);
    free(b32);
    free(ks);
    return ret;
}

typedef int compile_fn(cc *c, int ni);

static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = c_conv, [OPC_GEMM] = c_conv, [OPC_ELTWISE] = c_act, [OPC_BINARY] = c_binary,
    [OPC_MEAN] = c_mean, [OPC_VIEW] = c_view, [OPC_COPY] = c_view,
};

static int compile_node(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    gr_opclass cls = gr_op(n->op)->cls;
    gr_node_desc(n, c->where, sizeof c->where);
    if (n->op == OP_DEQUANTIZE && gr_is_const(c->g, n->in[0]))
        return 0;                       /* weights and biases: read through by their users */
    if (c->absorbed[ni])
        return 0;
    if (cls == OPC_QDQ)
        return unsup(c, "a quantise/dequantise that does not pair with its counterpart (int8 "
                     "plans take QuantizeLinear -> DequantizeLinear pairs)");
    if (cls == OPC_ELTWISE && !is_act(n->op))
        return unsup(c, "not supported in int8 on XNNPACK");
    if (!by_class[cls])
        return unsup(c, cls == OPC_SOFTMAX ? "int8 on XNNPACK has no float tail (Softmax) yet: "
                     "use backend onednn for int8, or precision fp32/fp16" :
                     "not supported in int8 on XNNPACK");
    return by_class[cls](c, ni);
}

static int lower(cc *c)
{
    const gr_graph *g = c->g;
    xq8_model *m = c->m;
    int64_t (*dims)[G_MAX_DIMS] = malloc(sizeof(*dims) * (size_t)(g->nt ? g->nt : 1));
    int ret;
    if (!dims)
        return nomem(c);
    gr_shapes_for_batch(g, m->unit, dims);
    for (int t = 0; t < g->nt; t++) {
        c->v[t].nd = g->t[t].ndim;
        memcpy(c->v[t].d, dims[t], sizeof c->v[t].d);
    }
    free(dims);
    snprintf(c->where, sizeof c->where, "int8 on XNNPACK");
    if (g->ninputs != 1)
        return unsup(c, "int8 plans take one image input");
    int in = g->inputs[0];
    snprintf(c->where, sizeof c->where, "input '%s'", g->t[in].name);
    if (c->v[in].nd != 4)
        return unsup(c, "int8 plans take a 4-D image input");
    if ((ret = make(c, in)) < 0)
        return ret;
    m->in_t = in;
    m->in = c->v[in];
    m->in_buf = c->v[in].buf;
    m->in_n = numel(&c->v[in]);
    q_find_gates(c->g, c->absorbed);
    for (int i = 0; i < g->nn; i++)
        if (!g->n[i].dead && (ret = compile_node(c, i)) < 0)
            return ret;
    m->nout = g->noutputs;
    if (!(m->out = calloc((size_t)m->nout + 1, sizeof(float *))) ||
        !(m->out_n = calloc((size_t)m->nout + 1, sizeof(size_t))))
        return nomem(c);
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        qval *v = &c->v[t];
        snprintf(c->where, sizeof c->where, "graph output '%s'", g->t[t].name);
        if (!v->buf || !v->q)
            return unsup(c, "not computed in int8 on XNNPACK");
        if (v->nd == 4 && v->d[2] * v->d[3] != 1)
            return unsup(c, "int8 on XNNPACK gives outputs without height and width only");
        qstep *s = step_new(c, K_DEQ);
        if (!s)
            return nomem(c);
        m->out_n[i] = numel(v);
        if (!(m->out[i] = own(m, sizeof(float) * m->out_n[i])))
            return nomem(c);
        s->x = v->buf;
        s->f = m->out[i];
        s->n = m->out_n[i];
        s->s = v->s;
        s->z = v->z;
        note(m, "dequantise (ours)", c->where);
    }
    return 0;
}

int xq8_compile(xq8_model *m, const gr_graph *g, char *err, size_t errlen)
{
    cc c = { .m = m, .g = g, .err = err, .errlen = errlen };
    int ret;
    c.v = calloc((size_t)g->nt + 1, sizeof(qval));
    c.absorbed = calloc((size_t)g->nn + 1, 1);
    if (!c.v || !c.absorbed) {
        snprintf(err, errlen, "out of memory compiling int8 for XNNPACK");
        ret = ENG_ENOMEM;
    } else {
        ret = lower(&c);
    }
    free(c.v);
    free(c.absorbed);
    return ret;
}
