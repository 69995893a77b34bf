/* q8.c: int8 on XNNPACK (xnn.h: xnp_int8), after the same int8 graph pass
 * as oneDNN's (engine/pick.c): QDQ files, and calibrated float models
 * with one scale per tensor or per channel.
 *
 * The engine's quantised bytes are uint8 with a zero point; XNNPACK's are
 * int8: the same numbers less 128, so that a tensor's scale stays and its
 * zero point moves by 128, exactly.  Convolutions and the Gemm are qc8
 * convolutions (per-channel int8 weights, the bias in accumulator units);
 * the squeeze-excitation product, additions and global means are XNNPACK's
 * qs8 operators.  The activations XNNPACK has no qs8 form of (HardSwish,
 * HardSigmoid, x * HardSigmoid(x)) are 256-entry tables of ours between
 * operators, computed as oneDNN's int8 plan computes them: the real
 * function of each byte, quantised once.
 *
 * Per-channel activation scales (zero point 0) have no place in XNNPACK's
 * int8 operators but the weights': a convolution's input scales are
 * folded into its float weights, its output's divide the weight scales.
 * Activations fused into a convolution that are not bounds (HardSwish
 * and HardSigmoid) go through bytes of the result before them and a
 * table per channel; the SE product and the means are loops of ours
 * (q8_chan.c); the float tail (logits, Softmax) runs on XNNPACK's fp32
 * operators.  Everything is set up once, for the unit batch, on buffers
 * the model owns; q8_run.c runs the list. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/xnn/q8_cc.h"

/* ------------------------------------------------------- helpers */

void *q8c_own(xq8_model *m, size_t bytes)
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

void q8c_note(xq8_model *m, const char *what, const char *where)
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

qstep *q8c_step(q8cc *c, int kind)
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

int q8c_nomem(q8cc *c)
{
    snprintf(c->err, c->errlen, "%s: out of memory", c->where);
    return ENG_ENOMEM;
}

int q8c_unsup(q8cc *c, const char *why)
{
    snprintf(c->err, c->errlen, "%s: %s: use backend onednn for int8, or fp32/fp16 on XNNPACK",
             c->where, why);
    return ENG_EUNSUP;
}

int q8c_xfail(q8cc *c, enum xnn_status st, const char *what)
{
    snprintf(c->err, c->errlen, "%s: XNNPACK int8 %s: %s", c->where, what, xir_status(st));
    return st == xnn_status_out_of_memory ? ENG_ENOMEM : ENG_EUNSUP;
}

size_t q8c_numel(const qval *v)
{
    return (size_t)gr_numel(v->nd, v->d);
}

/* Input t computed and quantised, else an error naming it. */
int q8c_need(q8cc *c, int t)
{
    if (t < 0 || !c->v[t].buf) {
        snprintf(c->err, c->errlen, "%s: input '%s' is not computed", c->where,
                 t >= 0 ? c->g->t[t].name : "?");
        return ENG_EMODEL;
    }
    if (!c->v[t].q) {
        snprintf(c->err, c->errlen, "%s: input '%s' has no int8 parameters (neither a QDQ model "
                 "nor in the calibration file): calibrate again (lcnet-infer --calibrate), or run "
                 "fp32", c->where, c->g->t[t].name);
        return ENG_EUNSUP;
    }
    return 0;
}

int64_t q8c_channels(const qval *v)
{
    return v->nd >= 2 ? v->d[1] : 1;
}

/* Output t's parameters and buffer: one scale and zero point, or one
 * scale per channel (zero point 0), copied: the model outlives the graph. */
int q8c_make(q8cc *c, int t)
{
    const gr_tensor *gt = &c->g->t[t];
    qval *v = &c->v[t];
    if (!gt->qset) {
        snprintf(c->err, c->errlen, "%s: output '%s' has no int8 parameters (neither a QDQ "
                 "model nor in the calibration file)", c->where, gt->name);
        return ENG_EUNSUP;
    }
    v->q = 1;
    v->s = gt->qscale;
    v->z = gt->qzero - 128;
    if (gt->qch) {
        if (gt->nqch != q8c_channels(v)) {
            snprintf(c->err, c->errlen, "%s: '%s' has %d per-channel scales for %lld channels",
                     c->where, gt->name, gt->nqch, (long long)q8c_channels(v));
            return ENG_EMODEL;
        }
        float *cs = q8c_own(c->m, sizeof(float) * (size_t)gt->nqch);
        if (!cs)
            return q8c_nomem(c);
        memcpy(cs, gt->qch, sizeof(float) * (size_t)gt->nqch);
        v->cs = cs;
        v->s = 1.0f;
        v->z = 0;
    }
    if (!(v->buf = q8c_own(c->m, q8c_numel(v))))
        return q8c_nomem(c);
    return 0;
}

/* A tensor of the float tail (the graph's outputs and what feeds a
 * Softmax have no int8 parameters): floats, NHWC as the bytes are. */
int q8c_make_float(q8cc *c, int t)
{
    qval *v = &c->v[t];
    if (!(v->fbuf = q8c_own(c->m, sizeof(float) * q8c_numel(v))))
        return q8c_nomem(c);
    return 0;
}

/* Floats of t for a float operator: its own, or its bytes dequantised
 * into a buffer of the model's by a step. */
float *q8c_floats_of(q8cc *c, int t)
{
    qval *v = &c->v[t];
    if (v->fbuf)
        return v->fbuf;
    if (!v->buf || !v->q)
        return NULL;
    qstep *s = q8c_step(c, K_DEQ);
    float *f = q8c_own(c->m, sizeof(float) * q8c_numel(v));
    if (!s || !f)
        return NULL;
    s->x = v->buf;
    s->f = f;
    s->n = q8c_numel(v);
    s->c = (size_t)q8c_channels(v);
    s->cx = v->cs;
    s->s = v->s;
    s->z = v->z;
    q8c_note(c->m, "dequantise (ours)", c->where);
    return f;
}

/* ------------------------------------------------------- tables */

static float act(const q8cc *c, const gr_node *n, float v)
{
    return gr_op(n->op)->scalar(c->g, n, v);
}

/* A table step from bytes `from` to Y's: one table of 256 (chan 0), else
 * one per channel of Y; entry q of channel j is Y's byte for fn(j, q). */
int q8c_table_step(q8cc *c, const int8_t *from, const qval *Y, int chan, table_fn *fn,
                   const tab_arg *a, const char *what)
{
    size_t ch = chan ? (size_t)q8c_channels(Y) : 1;
    int8_t *tab = chan ? q8c_own(c->m, ch * 256) : NULL;
    qstep *s = q8c_step(c, chan ? K_LUTC : K_LUT);
    if (!s || (chan && !tab))
        return q8c_nomem(c);
    int8_t *t = chan ? tab : s->lut;
    for (size_t j = 0; j < ch; j++)
        for (int q = -128; q < 128; q++)
            t[j * 256 + (uint8_t)q] = xq8_s8c(Y, (int64_t)j, fn(c, a, j, q));
    s->x = from;
    s->y = Y->buf;
    s->n = q8c_numel(Y);
    s->c = ch;
    s->tab = tab;
    q8c_note(c->m, what, c->where);
    return 0;
}

static float act_fn(const q8cc *c, const tab_arg *a, size_t j, int q)
{
    return act(c, a->n, xq8_deqc(a->x, (int64_t)j, q));
}

static int c_act(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = q8c_need(c, x)) < 0 || (ret = q8c_make(c, y)) < 0)
        return ret;
    tab_arg a = { .n = n, .x = &c->v[x] };
    int chan = c->v[x].cs || c->v[y].cs;
    return q8c_table_step(c, c->v[x].buf, &c->v[y], chan, act_fn, &a,
                          chan ? "table per channel (ours)" : "table (ours)");
}

/* ------------------------------------------------------- XNNPACK operators */

int q8c_op_step(q8cc *c, xnn_operator_t op, const char *what)
{
    qstep *s = q8c_step(c, K_OP);
    if (!s) {
        xnn_delete_operator(op);
        return q8c_nomem(c);
    }
    s->op = op;
    q8c_note(c->m, what, c->where);
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

/* x * act(x), with act's own rounding in the middle (the gate tensor h's) */
static float gate_fn(const q8cc *c, const tab_arg *a, size_t j, int q)
{
    float xr = xq8_deqc(a->x, (int64_t)j, q);
    int hq = q_u8(act(c, a->n, xr), a->h->qscale, a->h->qzero);
    return xr * a->h->qscale * (float)(hq - a->h->qzero);
}

static float const_fn(const q8cc *c, const tab_arg *a, size_t j, int q)
{
    float xr = xq8_deqc(a->x, (int64_t)j, q);
    (void)c;
    return a->side ? a->op->scalar2(a->k, xr) : a->op->scalar2(xr, a->k);
}

/* A loop of q8_chan.c over NCHW x (and g, [N, C, 1, 1]) into y, all with
 * per-channel scales. */
static int chan_step(q8cc *c, int kind, const qval *x, const qval *g, const qval *y,
                     const char *what)
{
    qstep *s = q8c_step(c, kind);
    if (!s)
        return q8c_nomem(c);
    s->x = x->buf;
    s->g = g ? g->buf : NULL;
    s->y = y->buf;
    s->n = q8c_numel(x);
    s->c = (size_t)x->d[1];
    s->hw = (size_t)(x->d[2] * x->d[3]);
    s->cx = x->cs;
    s->cg = g ? g->cs : NULL;
    s->cy = y->cs;
    q8c_note(c->m, what, c->where);
    return 0;
}

/* With per-channel scales, only the squeeze-excitation product: x [N, C,
 * H, W] by g [N, C, 1, 1], all three per channel, a loop of ours. */
static int chan_mul(q8cc *c, int se, const qval *x, const qval *g, const qval *y)
{
    if (!se || !x->cs || !g->cs || !y->cs)
        return q8c_unsup(c, "int8 with per-channel scales takes, of two-tensor operations, only "
                         "the squeeze-excitation Mul, per channel on both inputs and its output");
    return chan_step(c, K_CMUL, x, g, y, "multiply per channel (ours)");
}

static int c_binary(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    const gr_graph *g = c->g;
    const gr_opdef *op = gr_op(n->op);
    int a = n->in[0], b = n->in[1], y = n->out[0], ret;
    float k;
    int chan = c->v[a].cs || c->v[b].cs || g->t[y].qch;
    /* x * act(x): one table */
    for (int side = 0; op->bin == GB_MUL && side < 2; side++) {
        int x = side ? b : a, h = side ? a : b, hn = q_gate_of(c->g, h, x);
        if (hn < 0 || !c->absorbed[hn] || chan)
            continue;
        if ((ret = q8c_need(c, x)) < 0 || (ret = q8c_make(c, y)) < 0)
            return ret;
        tab_arg ta = { .n = &g->n[hn], .x = &c->v[x], .h = &g->t[h] };
        return q8c_table_step(c, c->v[x].buf, &c->v[y], 0, gate_fn, &ta, "table x*act(x) (ours)");
    }
    /* by a scalar constant: a table too */
    for (int side = 0; side < 2; side++) {
        int x = side ? b : a, kc = side ? a : b;
        if (!gr_is_scalar_const(g, kc, &k))
            continue;
        if ((ret = q8c_need(c, x)) < 0 || (ret = q8c_make(c, y)) < 0)
            return ret;
        tab_arg ta = { .x = &c->v[x], .op = op, .k = k, .side = side };
        return q8c_table_step(c, c->v[x].buf, &c->v[y], chan, const_fn, &ta,
                              chan ? "table per channel (ours)" : "table (ours)");
    }
    if (op->bin != GB_MUL && op->bin != GB_ADD)
        return q8c_unsup(c, "int8 of two tensors other than Add and Mul is unsupported");
    if ((ret = q8c_need(c, a)) < 0 || (ret = q8c_need(c, b)) < 0 || (ret = q8c_make(c, y)) < 0)
        return ret;
    qval *A = &c->v[a], *B = &c->v[b], *Y = &c->v[y];
    size_t da[4], db[4];
    size_t na = shape3(A, da), nb = shape3(B, db);
    /* the same shapes, or one [N, C, 1, 1] over [N, C, H, W] (squeeze-excitation):
     * what [N, H*W, C] broadcasting means the same as NCHW's */
    int same = A->nd == B->nd && !memcmp(A->d, B->d, sizeof(int64_t) * (size_t)A->nd);
    const qval *small = q8c_numel(A) < q8c_numel(B) ? A : B, *big = small == A ? B : A;
    int se = A->nd == 4 && B->nd == 4 && na == nb && small->d[0] == big->d[0] &&
             small->d[1] == big->d[1] && small->d[2] == 1 && small->d[3] == 1;
    if (!same && !se)
        return q8c_unsup(c, "int8 broadcasting of these shapes is unsupported");
    if (chan)
        return chan_mul(c, se && op->bin == GB_MUL, big, small, Y);
    xnn_operator_t o = NULL;
    enum xnn_status st = op->bin == GB_ADD ?
        xnn_create_add_nd_qs8((int8_t)A->z, A->s, (int8_t)B->z, B->s, (int8_t)Y->z, Y->s, -128,
                              127, 0, &o) :
        xnn_create_multiply_nd_qs8((int8_t)A->z, A->s, (int8_t)B->z, B->s, (int8_t)Y->z, Y->s,
                                   -128, 127, 0, &o);
    if (st != xnn_status_success)
        return q8c_xfail(c, st, op->bin == GB_ADD ? "add" : "multiply");
    st = op->bin == GB_ADD ?
        xnn_setup_add_nd_qs8(o, na, da, nb, db, A->buf, B->buf, Y->buf, c->m->pool) :
        xnn_setup_multiply_nd_qs8(o, na, da, nb, db, A->buf, B->buf, Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return q8c_xfail(c, st, "setup");
    }
    return q8c_op_step(c, o, op->bin == GB_ADD ? "add_nd_qs8" : "multiply_nd_qs8");
}

static int c_mean(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret, keep = 1;
    unsigned mask = 3u << 2;
    if ((ret = q8c_need(c, x)) < 0)
        return ret;
    qval *X = &c->v[x];
    if (n->op == OP_REDUCEMEAN &&
        (ret = reduce_axes(c->g, n, X->nd, &mask, &keep, c->err, c->errlen)) < 0)
        return ret;
    if (X->nd != 4 || mask != (3u << 2))
        return q8c_unsup(c, "int8 mean over other axes than height and width is unsupported");
    if ((ret = q8c_make(c, y)) < 0)
        return ret;
    qval *Y = &c->v[y];
    if (X->cs || Y->cs) {
        if (!X->cs || !Y->cs)
            return q8c_unsup(c, "an int8 mean takes per-channel scales on both its input and its "
                             "output, or on neither");
        return chan_step(c, K_MEAN, X, NULL, Y, "mean per channel (ours)");
    }
    xnn_operator_t o = NULL;
    size_t ch = (size_t)X->d[1];
    enum xnn_status st = xnn_create_global_average_pooling_nwc_qs8(
        ch, ch, ch, (int8_t)X->z, X->s, (int8_t)Y->z, Y->s, -128, 127, 0, &o);
    if (st != xnn_status_success)
        return q8c_xfail(c, st, "global average pooling");
    st = xnn_setup_global_average_pooling_nwc_qs8(o, (size_t)X->d[0], (size_t)(X->d[2] * X->d[3]),
                                                  X->buf, Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return q8c_xfail(c, st, "setup");
    }
    return q8c_op_step(c, o, "global_average_pooling_qs8");
}

/* Views share storage where NHWC bytes read as the NCHW order they claim. */
static int c_view(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0];
    qval *X = &c->v[x], *Y = &c->v[y];
    if (!X->buf && !X->fbuf) {
        snprintf(c->err, c->errlen, "%s: input '%s' is not computed", c->where, c->g->t[x].name);
        return ENG_EMODEL;
    }
    int same = X->nd == Y->nd && !memcmp(X->d, Y->d, sizeof(int64_t) * (size_t)X->nd);
    if (!same && ((X->nd == 4 && X->d[2] * X->d[3] != 1) || (Y->nd == 4 && Y->d[2] * Y->d[3] != 1)))
        return q8c_unsup(c, "int8 on XNNPACK cannot reshape a tensor with height and width");
    if (X->cs && q8c_channels(Y) != q8c_channels(X))
        return q8c_unsup(c, "int8 on XNNPACK cannot reshape the channels of a tensor with "
                         "per-channel scales");
    Y->buf = X->buf;
    Y->fbuf = X->fbuf;
    Y->q = X->q;
    Y->s = X->s;
    Y->z = X->z;
    Y->cs = X->cs;
    return 0;
}

/* Softmax over the last axis of the float tail: XNNPACK's fp32 operator. */
static int c_softmax(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    qval *X = &c->v[x];
    if (!X->fbuf || c->g->t[y].qset || softmax_axis(c->g, n, X->nd) != X->nd - 1 ||
        (X->nd == 4 && X->d[2] * X->d[3] != 1))
        return q8c_unsup(c, "int8 plans take Softmax over the last axis of a float tail only");
    if ((ret = q8c_make_float(c, y)) < 0)
        return ret;
    size_t ch = (size_t)X->d[X->nd - 1], rows = q8c_numel(X) / ch;
    xnn_operator_t o = NULL;
    enum xnn_status st = xnn_create_softmax_nc_f32(ch, ch, ch, 0, &o);
    if (st != xnn_status_success)
        return q8c_xfail(c, st, "softmax");
    st = xnn_setup_softmax_nc_f32(o, rows, X->fbuf, c->v[y].fbuf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return q8c_xfail(c, st, "setup");
    }
    return q8c_op_step(c, o, "softmax_f32 (float tail)");
}

typedef int compile_fn(q8cc *c, int ni);

static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = q8c_conv, [OPC_GEMM] = q8c_conv, [OPC_ELTWISE] = c_act, [OPC_BINARY] = c_binary,
    [OPC_MEAN] = c_mean, [OPC_SOFTMAX] = c_softmax, [OPC_VIEW] = c_view, [OPC_COPY] = c_view,
};

static int compile_node(q8cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    gr_opclass cls = gr_op(n->op)->cls;
    gr_node_desc(n, c->where, sizeof c->where);
    if (n->op == OP_DEQUANTIZE && gr_is_const(c->g, n->in[0]))
        return 0;                       /* weights and biases: read through by their users */
    if (c->absorbed[ni])
        return 0;
    if (cls == OPC_QDQ)
        return q8c_unsup(c, "a quantise/dequantise that does not pair with its counterpart (int8 "
                         "plans take QuantizeLinear -> DequantizeLinear pairs)");
    if (cls == OPC_ELTWISE && !gr_op_is_act(n->op))
        return q8c_unsup(c, "not supported in int8 on XNNPACK");
    if (!by_class[cls])
        return q8c_unsup(c, "not supported in int8 on XNNPACK");
    return by_class[cls](c, ni);
}

static int lower(q8cc *c)
{
    const gr_graph *g = c->g;
    xq8_model *m = c->m;
    int64_t (*dims)[G_MAX_DIMS] = malloc(sizeof(*dims) * (size_t)(g->nt ? g->nt : 1));
    int ret;
    if (!dims)
        return q8c_nomem(c);
    gr_shapes_for_batch(g, m->unit, dims);
    for (int t = 0; t < g->nt; t++) {
        c->v[t].nd = g->t[t].ndim;
        memcpy(c->v[t].d, dims[t], sizeof c->v[t].d);
    }
    free(dims);
    snprintf(c->where, sizeof c->where, "int8 on XNNPACK");
    if (g->ninputs != 1)
        return q8c_unsup(c, "int8 plans take one image input");
    int in = g->inputs[0];
    snprintf(c->where, sizeof c->where, "input '%s'", g->t[in].name);
    if (c->v[in].nd != 4)
        return q8c_unsup(c, "int8 plans take a 4-D image input");
    if ((ret = q8c_make(c, in)) < 0)
        return ret;
    m->in_t = in;
    m->in = c->v[in];
    m->in_buf = c->v[in].buf;
    m->in_n = q8c_numel(&c->v[in]);
    q_find_gates(c->g, c->absorbed);
    for (int i = 0; i < g->nn; i++)
        if (!g->n[i].dead && (ret = compile_node(c, i)) < 0)
            return ret;
    m->nout = g->noutputs;
    if (!(m->out = calloc((size_t)m->nout + 1, sizeof(float *))) ||
        !(m->out_n = calloc((size_t)m->nout + 1, sizeof(size_t))))
        return q8c_nomem(c);
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        qval *v = &c->v[t];
        snprintf(c->where, sizeof c->where, "graph output '%s'", g->t[t].name);
        if (v->fbuf) {
            m->out_n[i] = q8c_numel(v);
            m->out[i] = v->fbuf;
            continue;
        }
        if (!v->buf || !v->q)
            return q8c_unsup(c, "not computed in int8 on XNNPACK");
        if (v->nd == 4 && v->d[2] * v->d[3] != 1)
            return q8c_unsup(c, "int8 on XNNPACK gives outputs without height and width only");
        qstep *s = q8c_step(c, K_DEQ);
        if (!s)
            return q8c_nomem(c);
        m->out_n[i] = q8c_numel(v);
        if (!(m->out[i] = q8c_own(m, sizeof(float) * m->out_n[i])))
            return q8c_nomem(c);
        s->x = v->buf;
        s->f = m->out[i];
        s->n = m->out_n[i];
        s->s = v->s;
        s->z = v->z;
        s->c = (size_t)q8c_channels(v);
        s->cx = v->cs;
        q8c_note(m, "dequantise (ours)", c->where);
    }
    return 0;
}

int xq8_compile(xq8_model *m, const gr_graph *g, char *err, size_t errlen)
{
    q8cc c = { .m = m, .g = g, .err = err, .errlen = errlen };
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
