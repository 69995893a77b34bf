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

static int64_t channels(const qval *v)
{
    return v->nd >= 2 ? v->d[1] : 1;
}

/* Output t's parameters and buffer: one scale and zero point, or one
 * scale per channel (zero point 0), copied: the model outlives the graph. */
static int make(cc *c, int t)
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
        if (gt->nqch != channels(v)) {
            snprintf(c->err, c->errlen, "%s: '%s' has %d per-channel scales for %lld channels",
                     c->where, gt->name, gt->nqch, (long long)channels(v));
            return ENG_EMODEL;
        }
        float *cs = own(c->m, sizeof(float) * (size_t)gt->nqch);
        if (!cs)
            return nomem(c);
        memcpy(cs, gt->qch, sizeof(float) * (size_t)gt->nqch);
        v->cs = cs;
        v->s = 1.0f;
        v->z = 0;
    }
    if (!(v->buf = own(c->m, numel(v))))
        return nomem(c);
    return 0;
}

/* A tensor of the float tail (the graph's outputs and what feeds a
 * Softmax have no int8 parameters): floats, NHWC as the bytes are. */
static int make_float(cc *c, int t)
{
    qval *v = &c->v[t];
    if (!(v->fbuf = own(c->m, sizeof(float) * numel(v))))
        return nomem(c);
    return 0;
}

/* Floats of t for a float operator: its own, or its bytes dequantised
 * into a buffer of the model's by a step. */
static float *floats_of(cc *c, int t)
{
    qval *v = &c->v[t];
    if (v->fbuf)
        return v->fbuf;
    if (!v->buf || !v->q)
        return NULL;
    qstep *s = step_new(c, K_DEQ);
    float *f = own(c->m, sizeof(float) * numel(v));
    if (!s || !f)
        return NULL;
    s->x = v->buf;
    s->f = f;
    s->n = numel(v);
    s->c = (size_t)channels(v);
    s->cx = v->cs;
    s->s = v->s;
    s->z = v->z;
    note(c->m, "dequantise (ours)", c->where);
    return f;
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

typedef float table_fn(const cc *c, const tab_arg *a, size_t j, int q);

/* A table step from bytes `from` to Y's: one table of 256 (chan 0), else
 * one per channel of Y; entry q of channel j is Y's byte for fn(j, q). */
static int table_step(cc *c, const int8_t *from, const qval *Y, int chan, table_fn *fn,
                      const tab_arg *a, const char *what)
{
    size_t ch = chan ? (size_t)channels(Y) : 1;
    int8_t *tab = chan ? own(c->m, ch * 256) : NULL;
    qstep *s = step_new(c, chan ? K_LUTC : K_LUT);
    if (!s || (chan && !tab))
        return nomem(c);
    int8_t *t = chan ? tab : s->lut;
    for (size_t j = 0; j < ch; j++)
        for (int q = -128; q < 128; q++)
            t[j * 256 + (uint8_t)q] = xq8_s8c(Y, (int64_t)j, fn(c, a, j, q));
    s->x = from;
    s->y = Y->buf;
    s->n = numel(Y);
    s->c = ch;
    s->tab = tab;
    note(c->m, what, c->where);
    return 0;
}

static float act_fn(const cc *c, const tab_arg *a, size_t j, int q)
{
    return act(c, a->n, xq8_deqc(a->x, (int64_t)j, q));
}

static int c_act(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
        return ret;
    tab_arg a = { .n = n, .x = &c->v[x] };
    int chan = c->v[x].cs || c->v[y].cs;
    return table_step(c, c->v[x].buf, &c->v[y], chan, act_fn, &a,
                      chan ? "table per channel (ours)" : "table (ours)");
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

/* x * act(x), with act's own rounding in the middle (the gate tensor h's) */
static float gate_fn(const cc *c, const tab_arg *a, size_t j, int q)
{
    float xr = xq8_deqc(a->x, (int64_t)j, q);
    int hq = q_u8(act(c, a->n, xr), a->h->qscale, a->h->qzero);
    return xr * a->h->qscale * (float)(hq - a->h->qzero);
}

static float const_fn(const cc *c, const tab_arg *a, size_t j, int q)
{
    float xr = xq8_deqc(a->x, (int64_t)j, q);
    (void)c;
    return a->side ? a->op->scalar2(a->k, xr) : a->op->scalar2(xr, a->k);
}

/* A loop of q8_chan.c over NCHW x (and g, [N, C, 1, 1]) into y, all with
 * per-channel scales. */
static int chan_step(cc *c, int kind, const qval *x, const qval *g, const qval *y,
                     const char *what)
{
    qstep *s = step_new(c, kind);
    if (!s)
        return nomem(c);
    s->x = x->buf;
    s->g = g ? g->buf : NULL;
    s->y = y->buf;
    s->n = numel(x);
    s->c = (size_t)x->d[1];
    s->hw = (size_t)(x->d[2] * x->d[3]);
    s->cx = x->cs;
    s->cg = g ? g->cs : NULL;
    s->cy = y->cs;
    note(c->m, what, c->where);
    return 0;
}

/* With per-channel scales, only the squeeze-excitation product: x [N, C,
 * H, W] by g [N, C, 1, 1], all three per channel, a loop of ours. */
static int chan_mul(cc *c, int se, const qval *x, const qval *g, const qval *y)
{
    if (!se || !x->cs || !g->cs || !y->cs)
        return unsup(c, "int8 with per-channel scales takes, of two-tensor operations, only "
                     "the squeeze-excitation Mul, per channel on both inputs and its output: "
                     "use backend onednn for int8, or fp32/fp16 on XNNPACK");
    return chan_step(c, K_CMUL, x, g, y, "multiply per channel (ours)");
}

static int c_binary(cc *c, int ni)
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
        if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
            return ret;
        tab_arg ta = { .n = &g->n[hn], .x = &c->v[x], .h = &g->t[h] };
        return table_step(c, c->v[x].buf, &c->v[y], 0, gate_fn, &ta, "table x*act(x) (ours)");
    }
    /* by a scalar constant: a table too */
    for (int side = 0; side < 2; side++) {
        int x = side ? b : a, kc = side ? a : b;
        if (!gr_is_scalar_const(g, kc, &k))
            continue;
        if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
            return ret;
        tab_arg ta = { .x = &c->v[x], .op = op, .k = k, .side = side };
        return table_step(c, c->v[x].buf, &c->v[y], chan, const_fn, &ta,
                          chan ? "table per channel (ours)" : "table (ours)");
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
    int se = A->nd == 4 && B->nd == 4 && na == nb && small->d[0] == big->d[0] &&
             small->d[1] == big->d[1] && small->d[2] == 1 && small->d[3] == 1;
    if (!same && !se)
        return unsup(c, "int8 broadcasting of these shapes is unsupported");
    if (chan)
        return chan_mul(c, se && op->bin == GB_MUL, big, small, Y);
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
    if (X->cs || Y->cs) {
        if (!X->cs || !Y->cs)
            return unsup(c, "an int8 mean takes per-channel scales on both its input and its "
                         "output, or on neither");
        return chan_step(c, K_MEAN, X, NULL, Y, "mean per channel (ours)");
    }
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
    if (!X->buf && !X->fbuf) {
        snprintf(c->err, c->errlen, "%s: input '%s' is not computed", c->where, c->g->t[x].name);
        return ENG_EMODEL;
    }
    int same = X->nd == Y->nd && !memcmp(X->d, Y->d, sizeof(int64_t) * (size_t)X->nd);
    if (!same && ((X->nd == 4 && X->d[2] * X->d[3] != 1) || (Y->nd == 4 && Y->d[2] * Y->d[3] != 1)))
        return unsup(c, "int8 on XNNPACK cannot reshape a tensor with height and width");
    if (X->cs && channels(Y) != channels(X))
        return unsup(c, "int8 on XNNPACK cannot reshape the channels of a tensor with "
                     "per-channel scales");
    Y->buf = X->buf;
    Y->fbuf = X->fbuf;
    Y->q = X->q;
    Y->s = X->s;
    Y->z = X->z;
    Y->cs = X->cs;
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
 * they are not bounds (HardSwish and the like: a table after it). */
static int post_bounds(const gr_node *n, const qval *Y, int8_t *lo, int8_t *hi)
{
    *lo = -128;
    *hi = 127;
    for (int i = 0; i < n->npost; i++) {
        const gr_post *p = &n->post[i];
        float a = p->kind == PO_RELU ? 0.0f : p->alpha, b = p->kind == PO_RELU ? INFINITY : p->beta;
        if (!(p->kind == PO_RELU && p->alpha == 0.0f) && (p->kind != PO_CLIP || Y->cs))
            return -1;
        int8_t l = xq8_s8(Y, a), h = isinf(b) ? 127 : xq8_s8(Y, b);
        *lo = l > *lo ? l : *lo;
        *hi = h < *hi ? h : *hi;
    }
    return 0;
}

/* The real function of the node's fused activations; NAN for one that
 * reads another tensor. */
static float post_eval(const gr_node *n, float x)
{
    for (int i = 0; i < n->npost; i++) {
        const gr_post *p = &n->post[i];
        float r;
        switch (p->kind) {
        case PO_RELU: x = x < 0 ? p->alpha * x : x; break;
        case PO_HARDSWISH:
            r = x + 3.0f;
            r = r < 0 ? 0 : r > 6 ? 6 : r;
            x = x * r / 6.0f;
            break;
        case PO_LINEAR: x = p->alpha * x + p->beta; break;
        case PO_CLIP: x = x < p->alpha ? p->alpha : x > p->beta ? p->beta : x; break;
        case PO_SIGMOID: x = 1.0f / (1.0f + expf(-x)); break;
        default: return NAN;
        }
    }
    return x;
}

/* Where the activations stop changing below (HardSwish under -3,
 * HardSigmoid's and Clip's floor, ReLU under 0): a convolution's output
 * need not be told apart under it.  -1 for chains without such a floor. */
static int flat_below(const gr_node *n, float *at)
{
    const gr_post *p = &n->post[0];
    for (int i = 0; i < n->npost; i++)
        if (isnan(post_eval(n, 0.0f)) || n->post[i].kind == PO_MUL_T || n->post[i].kind == PO_ADD_T)
            return -1;
    if (n->npost < 1)
        return -1;
    if (p->kind == PO_HARDSWISH)
        *at = -3.0f;
    else if (p->kind == PO_RELU && p->alpha == 0.0f)
        *at = 0.0f;
    else if (p->kind == PO_CLIP)
        *at = p->alpha;
    else if (p->kind == PO_LINEAR && p->alpha > 0 && n->npost > 1 && n->post[1].kind == PO_CLIP)
        *at = (n->post[1].alpha - p->beta) / p->alpha;
    else
        return -1;
    return 0;
}

/* The least input from lo on at which the activations reach top (or
 * their own ceiling): beyond it the output saturates.  From the floor up
 * these chains only cross top once, so bisection finds it. */
static float reach(const gr_node *n, float lo, float top)
{
    float hi = 1e6f, ceil_ = post_eval(n, hi), t = top < ceil_ ? top : ceil_;
    if (!(t > post_eval(n, lo)))
        return lo + 1.0f;
    for (int i = 0; i < 64; i++) {
        float mid = 0.5f * (lo + hi);
        if (post_eval(n, mid) >= t)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* A convolution whose activations are not bounds writes its result before
 * them as bytes, over [floor, where the output saturates]: per channel
 * where the output's scales are (the zero point then rides on the bias,
 * as XNNPACK's is one per tensor), else one range.  A table per channel,
 * or one, then applies the activations and the output's quantisation. */
typedef struct pre_act {
    int on;
    float *t;                    /* per output channel: the step */
    int *z;                      /* and the zero point */
    unsigned char *gap;          /* byte -128 is the activations' floor, not its own value */
    float floor_;                /* that floor */
    int8_t *buf;
} pre_act;

static int pre_plan(cc *c, const gr_node *n, const qval *Y, int64_t oc, pre_act *pa)
{
    float lo;
    if (flat_below(n, &lo) < 0)
        return unsup(c, "a fused activation without a floor (HardSwish, HardSigmoid, ReLU and "
                     "Clip have one) has no int8 form on XNNPACK: use backend onednn for int8, "
                     "or fp32/fp16 on XNNPACK");
    pa->t = own(c->m, sizeof(float) * (size_t)oc);
    pa->z = own(c->m, sizeof(int) * (size_t)oc);
    pa->gap = own(c->m, (size_t)oc);
    pa->buf = own(c->m, numel(Y));
    if (!pa->t || !pa->z || !pa->gap || !pa->buf)
        return nomem(c);
    pa->floor_ = post_eval(n, lo);
    for (int64_t o = 0; o < oc; o++) {
        if (o > 0 && !Y->cs) {
            pa->t[o] = pa->t[0];
            pa->z[o] = pa->z[0];
            pa->gap[o] = pa->gap[0];
            continue;
        }
        float top = Y->cs ? 127.0f * Y->cs[o] : Y->s * (float)(127 - Y->z);
        float bottom = Y->cs ? -128.0f * Y->cs[o] : Y->s * (float)(-128 - Y->z);
        float hi = reach(n, lo, top), from = lo;
        /* HardSwish dips to -0.375 at -1.5 and comes back to 0 at -3.  For
         * a quiet channel, whose output bottoms out well above the dip,
         * the bytes start where HardSwish falls to that bottom on the dip's
         * right, and the step under it stands for the floor's 0 (pa->gap):
         * a finer step for the values seen, at the price of whatever lies
         * on the dip's left wall, which calibration saw little of.  Where
         * the output reaches lower than two thirds of the dip that wall
         * grows too wide: measured on both shared models, the outputs'
         * mean distance from fp32 is least with this bound. */
        pa->gap[o] = 0;
        if (n->npost == 1 && n->post[0].kind == PO_HARDSWISH && bottom > -0.25f) {
            float right = (-3.0f + sqrtf(9.0f + 24.0f * bottom)) / 2.0f;
            if (right < hi) {
                float t = (hi - right) / 254.0f;
                from = right - t;
                pa->gap[o] = 1;
            }
        }
        pa->t[o] = (hi - from) / 255.0f;
        long z = -128 - lrintf(from / pa->t[o]);
        pa->z[o] = z < -128 ? -128 : z > 127 ? 127 : (int)z;
    }
    pa->on = 1;
    return 0;
}

/* The activations of pre-activation byte q of channel j */
static float pre_value(const gr_node *n, const pre_act *pa, size_t j, int q)
{
    if (q == -128 && pa->gap[j])
        return pa->floor_;
    return post_eval(n, pa->t[j] * (float)(q - pa->z[j]));
}

static float pre_fn(const cc *c, const tab_arg *a, size_t j, int q)
{
    (void)c;
    return pre_value(a->n, a->pa, j, q);
}

static int pre_table(cc *c, const gr_node *n, const pre_act *pa, qval *Y)
{
    tab_arg ta = { .n = n, .pa = pa };
    return table_step(c, pa->buf, Y, Y->cs != NULL, pre_fn, &ta,
                      Y->cs ? "table per channel (ours)" : "table (ours)");
}

/* The node's bias as floats (*bf, *nb of them: 1 or oc), or none. */
static int bias_of(cc *c, const gr_node *n, int64_t oc, float **bf, int64_t *nb)
{
    const gr_graph *g = c->g;
    *bf = NULL;
    *nb = 0;
    if (n->nin < 3 || n->in[2] < 0)
        return 0;
    *nb = gr_tensor_numel(&g->t[n->in[2]]);
    if (!(*bf = q_const_floats(g, n->in[2])) || (*nb != 1 && *nb != oc)) {
        snprintf(c->err, c->errlen, "%s: bias '%s' must be a constant of 1 or %lld values",
                 c->where, g->t[n->in[2]].name, (long long)oc);
        return ENG_EMODEL;
    }
    return 0;
}

/* The float tail: a Gemm, or a 1x1 convolution of a 1x1 image, with
 * float output (the logits) runs on XNNPACK's fp32 fully connected
 * operator with the model's float weights, after its input's bytes are
 * dequantised. */
static int conv_float(cc *c, int ni)
{
    const gr_graph *g = c->g;
    const gr_node *n = &g->n[ni];
    int x = n->in[0], y = n->out[0], gemm = n->op == OP_GEMM, ret;
    gemm_params gp = { 1.0f, 1.0f, 0, 1 };
    conv_params cp;
    qval *X = &c->v[x], *Y = &c->v[y];
    int64_t ic, oc, rows = X->d[0];
    if (gemm) {
        gemm_get(n, &gp);
        if (gp.ta)
            return unsup(c, "a float Gemm with transA is unsupported in int8 on XNNPACK");
        if (X->nd == 4 && X->d[2] * X->d[3] != 1)
            return unsup(c, "int8 on XNNPACK takes a Gemm of a tensor without height and width");
        ic = X->nd == 4 ? X->d[1] : X->d[X->nd - 1];
        oc = Y->d[Y->nd - 1];
        rows = (int64_t)numel(X) / ic;
    } else {
        if ((ret = conv_get(g, n, &cp, c->err, c->errlen)) < 0)
            return ret;
        if (cp.kh != 1 || cp.kw != 1 || cp.group != 1 || X->nd != 4 || X->d[2] * X->d[3] != 1)
            return unsup(c, "a convolution with float output runs on XNNPACK's int8 plan only "
                         "as a 1x1 convolution of a 1x1 image: use backend onednn for int8, or "
                         "fp32/fp16 on XNNPACK");
        ic = cp.cin;
        oc = cp.cout;
    }
    float lo = -INFINITY, hi = INFINITY;
    for (int i = 0; i < n->npost; i++) {
        const gr_post *p = &n->post[i];
        if (p->kind == PO_RELU && p->alpha == 0.0f)
            lo = lo > 0 ? lo : 0;
        else if (p->kind == PO_CLIP) {
            lo = lo > p->alpha ? lo : p->alpha;
            hi = hi < p->beta ? hi : p->beta;
        } else {
            return unsup(c, "a float tail with an activation other than ReLU or Clip is "
                         "unsupported in int8 on XNNPACK");
        }
    }
    if (!X->fbuf && (ret = need(c, x)) < 0)
        return ret;
    float *xf = floats_of(c, x), *w = q_const_floats(g, n->in[1]), *wt = NULL, *bf = NULL,
          *bias = NULL;
    if (!xf || (ret = make_float(c, y)) < 0) {
        free(w);
        return xf ? ret : nomem(c);
    }
    if (!w || gr_tensor_numel(&g->t[n->in[1]]) != ic * oc) {
        snprintf(c->err, c->errlen, "%s: weights '%s' must be constants of %lld values",
                 c->where, g->t[n->in[1]].name, (long long)(ic * oc));
        free(w);
        return ENG_EMODEL;
    }
    int64_t nb = 0;
    if ((ret = bias_of(c, n, oc, &bf, &nb)) < 0)
        goto end;
    wt = malloc(sizeof(float) * (size_t)(ic * oc));
    bias = malloc(sizeof(float) * (size_t)oc);
    if (!wt || !bias) {
        ret = nomem(c);
        goto end;
    }
    /* XNNPACK's kernel is [output][input]; a Gemm without transB holds [input][output] */
    for (int64_t o = 0; o < oc; o++) {
        for (int64_t i = 0; i < ic; i++)
            wt[o * ic + i] = gp.alpha * (gemm && !gp.tb ? w[i * oc + o] : w[o * ic + i]);
        bias[o] = bf ? gp.beta * bf[nb == 1 ? 0 : o] : 0.0f;
    }
    xnn_operator_t op = NULL;
    enum xnn_status st = xnn_create_fully_connected_nc_f32((size_t)ic, (size_t)oc, (size_t)ic,
                                                           (size_t)oc, wt, bias, lo, hi, 0, &op);
    if (st != xnn_status_success) {
        ret = xfail(c, st, "float fully connected");
        goto end;
    }
    st = xnn_setup_fully_connected_nc_f32(op, (size_t)rows, xf, Y->fbuf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(op);
        ret = xfail(c, st, "setup");
        goto end;
    }
    ret = op_step(c, op, "fully_connected_f32 (float tail)");
end:
    free(w);
    free(wt);
    free(bf);
    free(bias);
    return ret;
}

static int c_conv(cc *c, int ni)
{
    const gr_graph *g = c->g;
    const gr_node *n = &g->n[ni];
    int x = n->in[0], y = n->out[0], gemm = n->op == OP_GEMM, ret;
    conv_params cp;
    gemm_params gp = { 1.0f, 1.0f, 0, 1 };
    int8_t *wq = NULL, *w = NULL, lo = -128, hi = 127;
    float *ws = NULL, *bf = NULL, *ks = NULL;
    int32_t *b32 = NULL;
    pre_act pa = { 0, NULL, NULL, NULL, 0, NULL };
    char e[256];
    if (!g->t[y].qset)
        return conv_float(c, ni);
    if ((ret = need(c, x)) < 0 || (ret = make(c, y)) < 0)
        return ret;
    qval *X = &c->v[x], *Y = &c->v[y];
    if (!X->cs != !Y->cs) {
        snprintf(c->err, c->errlen, "%s: '%s' and '%s' must both have per-channel int8 scales, "
                 "or neither", c->where, g->t[x].name, g->t[y].name);
        return ENG_EUNSUP;
    }
    if (gemm) {
        gemm_get(n, &gp);
        if (gp.ta)
            return unsup(c, "int8 Gemm with transA is unsupported");
        memset(&cp, 0, sizeof cp);
        cp.kh = cp.kw = cp.sh = cp.sw = cp.dh = cp.dw = cp.group = 1;
        if (X->nd == 4 && X->d[2] * X->d[3] != 1)
            return unsup(c, "int8 on XNNPACK takes a Gemm of a tensor without height and width");
        cp.cin = X->nd == 4 ? X->d[1] : X->d[X->nd - 1];
        cp.cout = Y->d[Y->nd - 1];
    } else if ((ret = conv_get(g, n, &cp, c->err, c->errlen)) < 0) {
        return ret;
    }
    if (X->cs && (cp.cin != channels(X) || cp.group < 1 || cp.cout % cp.group)) {
        snprintf(c->err, c->errlen, "%s: %lld per-channel scales for %lld input channels",
                 c->where, (long long)channels(X), (long long)cp.cin);
        return ENG_EMODEL;
    }
    int64_t oc = cp.cout;
    if (post_bounds(n, Y, &lo, &hi) < 0) {
        if ((ret = pre_plan(c, n, Y, oc, &pa)) < 0)
            return ret;
        lo = -128;
        hi = 127;
    }
    ret = X->cs ? q_fold_weights(g, n->in[1], &cp, gemm && !gp.tb, X->cs, &wq, &ws, e, sizeof e)
                : q_weights(g, n->in[1], cp.cout, gemm && !gp.tb, &wq, &ws, e, sizeof e);
    if (ret < 0) {
        snprintf(c->err, c->errlen, "%s: %s", c->where, e);
        return ret;
    }
    int64_t icg = cp.cin / cp.group, k = icg * cp.kh * cp.kw;
    if (gr_tensor_numel(&g->t[n->in[1]]) != oc * k) {
        snprintf(c->err, c->errlen, "%s: weights '%s' hold %lld values, the shapes need %lld",
                 c->where, g->t[n->in[1]].name, (long long)gr_tensor_numel(&g->t[n->in[1]]),
                 (long long)(oc * k));
        ret = ENG_EMODEL;
        goto end;
    }
    int64_t nb = 0;
    if ((ret = bias_of(c, n, oc, &bf, &nb)) < 0)
        goto end;
    /* XNNPACK packs its own copy of these when it creates the operator */
    w = malloc((size_t)(oc * k));
    b32 = malloc(sizeof(int32_t) * (size_t)oc);
    ks = malloc(sizeof(float) * (size_t)oc);
    if (!w || !b32 || !ks) {
        ret = nomem(c);
        goto end;
    }
    /* Inputs with per-channel scales have them in the weights: scale 1.
     * Outputs with per-channel scales (or pre-activation steps) divide
     * the per-channel weight scales: XNNPACK's output scale is then 1. */
    float xs = X->cs ? 1.0f : X->s, ys = Y->cs ? 1.0f : pa.on ? pa.t[0] : Y->s;
    int yz = Y->cs ? 0 : pa.on ? pa.z[0] : Y->z;
    for (int64_t o = 0; o < oc; o++) {
        float bo = bf ? gp.beta * bf[nb == 1 ? 0 : o] : 0.0f;
        float shift = pa.on && Y->cs ? (float)pa.z[o] * pa.t[o] : 0.0f;
        float div = !Y->cs ? 1.0f : pa.on ? pa.t[o] : Y->cs[o];
        /* A channel whose weights are all but zero gets a scale so fine
         * that its bias overflows int32 in accumulator units: coarsen it
         * until the bias fits, as oneDNN's int8 plan does. */
        double need_s = (fabs((double)bo) + fabs((double)shift)) /
                        ((double)gp.alpha * xs * (1 << 30));
        if (ws[o] < need_s) {
            for (int64_t i = 0; i < k; i++)
                wq[o * k + i] = (int8_t)lrint(wq[o * k + i] * ws[o] / need_s);
            ws[o] = (float)need_s;
        }
        float unit = gp.alpha * ws[o];
        ks[o] = unit / div;
        double acc = ((double)bo + shift) / ((double)xs * unit);
        b32[o] = acc > INT_MAX ? INT_MAX : acc < INT_MIN ? INT_MIN : (int32_t)lrint(acc);
    }
    to_ohwi(w, wq, oc, icg, cp.kh, cp.kw);
    size_t ih = X->nd == 4 && !gemm ? (size_t)X->d[2] : 1, iw = X->nd == 4 && !gemm ? (size_t)X->d[3] : 1;
    xnn_operator_t o = NULL;
    enum xnn_status st = xnn_create_convolution2d_nhwc_qc8(
        (uint32_t)cp.pt, (uint32_t)cp.pr, (uint32_t)cp.pb, (uint32_t)cp.pl, (uint32_t)cp.kh,
        (uint32_t)cp.kw, (uint32_t)cp.sh, (uint32_t)cp.sw, (uint32_t)cp.dh, (uint32_t)cp.dw,
        (uint32_t)cp.group, (size_t)icg, (size_t)(oc / cp.group), (size_t)cp.cin, (size_t)oc,
        (int8_t)(X->cs ? 0 : X->z), xs, ks, w, b32, (int8_t)yz, ys, lo, hi, 0, &o);
    if (st != xnn_status_success) {
        ret = xfail(c, st, "convolution");
        goto end;
    }
    st = xnn_setup_convolution2d_nhwc_qc8(o, (size_t)X->d[0], ih, iw, X->buf,
                                          pa.on ? pa.buf : Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        ret = xfail(c, st, "setup");
        goto end;
    }
    ret = op_step(c, o, cp.group > 1 && icg == 1 ? "convolution_qc8 (depthwise)" :
                  "convolution_qc8");
    if (ret == 0 && pa.on)
        ret = pre_table(c, n, &pa, Y);
end:
    free(wq);
    free(ws);
    free(bf);
    free(w);
    free(b32);
    free(ks);
    return ret;
}

/* Softmax over the last axis of the float tail: XNNPACK's fp32 operator. */
static int c_softmax(cc *c, int ni)
{
    const gr_node *n = &c->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    qval *X = &c->v[x];
    if (!X->fbuf || c->g->t[y].qset || softmax_axis(c->g, n, X->nd) != X->nd - 1 ||
        (X->nd == 4 && X->d[2] * X->d[3] != 1))
        return unsup(c, "int8 plans take Softmax over the last axis of a float tail only");
    if ((ret = make_float(c, y)) < 0)
        return ret;
    size_t ch = (size_t)X->d[X->nd - 1], rows = numel(X) / ch;
    xnn_operator_t o = NULL;
    enum xnn_status st = xnn_create_softmax_nc_f32(ch, ch, ch, 0, &o);
    if (st != xnn_status_success)
        return xfail(c, st, "softmax");
    st = xnn_setup_softmax_nc_f32(o, rows, X->fbuf, c->v[y].fbuf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        return xfail(c, st, "setup");
    }
    return op_step(c, o, "softmax_f32 (float tail)");
}

typedef int compile_fn(cc *c, int ni);

static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = c_conv, [OPC_GEMM] = c_conv, [OPC_ELTWISE] = c_act, [OPC_BINARY] = c_binary,
    [OPC_MEAN] = c_mean, [OPC_SOFTMAX] = c_softmax, [OPC_VIEW] = c_view, [OPC_COPY] = c_view,
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
        return unsup(c, "not supported in int8 on XNNPACK");
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
        if (v->fbuf) {
            m->out_n[i] = numel(v);
            m->out[i] = v->fbuf;
            continue;
        }
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
        s->c = (size_t)channels(v);
        s->cx = v->cs;
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
