/* int8.c: int8 plans, the dnn_int8 backend (see dnn.h, int8.h).
 *
 * The rules that keep it exact to the graph's QDQ semantics: a tensor's
 * bytes mean scale * (q - zero); every step reads bytes and writes bytes
 * rounded to nearest even and saturated, as QuantizeLinear does.  A
 * convolution's bias is int32 in accumulator units (input scale times
 * weight scale), so oneDNN adds it before the one float multiply.
 *
 * Calibrated float models may instead carry one scale per channel (int8,
 * zero point 0): a few channels of a PP-LCNet tensor span ten times the
 * range of the rest, and one scale per tensor leaves those a handful of
 * steps.  A consumer convolution folds its input's channel scales into
 * its weights; a producer divides by its output's channel scales in a
 * per-channel multiply after its activations.
 *
 * Here: the plan, the element-wise operators (tables, two-tensor loops,
 * means, softmax, views); convolutions are in int8_conv.c, the loops that
 * run in int8_loops.c. */
#include "engine/dnn/int8.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/quant.h"

/* ------------------------------------------------------------- values */

static const char *const kinds[] = { "conv", "table", "binary", "chmul", "mean", "deq", "softmax",
                                     "quant", "prep", "conv", "conv", "im2col" };

q8_step *q8_step_new(q8_plan *p, int kind, int node, int a, int b, int y)
{
    pl_step *g = pl_step_new(&p->pl, node, kinds[kind]);
    if (!g)
        return NULL;
    int i = p->pl.ns - 1;
    q8_step *s = pl_ext(&p->pl, i);
    s->kind = kind;
    s->a = a;
    s->b = b;
    s->y = y;
    g->dst = y;
    if (a >= 0)
        pl_read(&p->pl, a, i);
    if (b >= 0)
        pl_read(&p->pl, b, i);
    p->pl.v[y].def = p->pl.v[y].last = i;
    p->q[y].live = 1;
    return s;
}

int q8_need_u8(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (t < 0 || !p->q[t].live) {
        snprintf(err, errlen, "%s: input '%s' is not computed", where, t >= 0 ? p->pl.g->t[t].name : "?");
        return ENG_EMODEL;
    }
    if (p->q[t].dt != G_U8) {
        snprintf(err, errlen, "%s: input '%s' has no int8 parameters (neither a QDQ model "
                 "nor in the calibration file)", where, p->pl.g->t[t].name);
        return ENG_EUNSUP;
    }
    return 0;
}

int q8_no_channels(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (t < 0 || !p->q[t].cs)
        return 0;
    snprintf(err, errlen, "%s: '%s' has per-channel int8 scales, which this operation does not "
             "take", where, p->pl.g->t[t].name);
    return ENG_EUNSUP;
}

/* ------------------------------------------------ elementwise tables */

/* The real function of a one-input activation node: its row's. */
static float act(const q8_plan *p, const gr_node *n, float v)
{
    return gr_op(n->op)->scalar(p->pl.g, n, v);
}

static int c_lut(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = q8_need_u8(p, x, where, err, errlen)) < 0 || (ret = q8_need_u8_out(p, y, where, err, errlen)) < 0 ||
        (ret = q8_no_channels(p, x, where, err, errlen)) < 0 || (ret = q8_no_channels(p, y, where, err, errlen)) < 0)
        return ret;
    q8_step *s = q8_step_new(p, S_LUT, ni, x, -1, y);
    if (!s)
        return ENG_ENOMEM;
    for (int q = 0; q < 256; q++)
        s->lut[q] = q_u8(act(p, n, q8_deq(&p->q[x], q)), p->q[y].s, p->q[y].z);
    snprintf(s->impl, sizeof s->impl, "table");
    return 0;
}

static int c_binary(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    const gr_graph *g = p->pl.g;
    const gr_opdef *op = gr_op(n->op);
    int a = n->in[0], b = n->in[1], y = n->out[0], ret;
    float k;
    q8_step *s;
    if ((ret = q8_need_u8_out(p, y, where, err, errlen)) < 0)
        return ret;
    const q8_val *Y = &p->q[y];
    int chan = Y->cs || p->q[a].cs || p->q[b].cs;
    /* x * act(x): one table */
    for (int side = 0; op->bin == GB_MUL && side < 2; side++) {
        int x = side ? b : a, h = side ? a : b, hn = q_gate_of(p->pl.g, h, x);
        if (hn < 0 || !p->absorbed[hn] || chan)
            continue;
        if ((ret = q8_need_u8(p, x, where, err, errlen)) < 0)
            return ret;
        if (!g->t[h].qset) {
            snprintf(err, errlen, "%s: '%s' has no int8 parameters", where, g->t[h].name);
            return ENG_EUNSUP;
        }
        if (!(s = q8_step_new(p, S_LUT, ni, x, -1, y)))
            return ENG_ENOMEM;
        for (int q = 0; q < 256; q++) {
            float xr = q8_deq(&p->q[x], q);
            int hq = q_u8(act(p, &g->n[hn], xr), g->t[h].qscale, g->t[h].qzero);
            s->lut[q] = q_u8(xr * g->t[h].qscale * (float)(hq - g->t[h].qzero), Y->s, Y->z);
        }
        snprintf(s->impl, sizeof s->impl, "table (x*%s(x))", g->n[hn].op_type);
        return 0;
    }
    /* by a scalar constant: a table too */
    for (int side = 0; side < 2; side++) {
        int x = side ? b : a, c = side ? a : b;
        if (!gr_is_scalar_const(g, c, &k) || chan)
            continue;
        if ((ret = q8_need_u8(p, x, where, err, errlen)) < 0)
            return ret;
        if (!(s = q8_step_new(p, S_LUT, ni, x, -1, y)))
            return ENG_ENOMEM;
        for (int q = 0; q < 256; q++) {
            float xr = q8_deq(&p->q[x], q);
            float r = side ? op->scalar2(k, xr) : op->scalar2(xr, k);
            s->lut[q] = q_u8(r, Y->s, Y->z);
        }
        snprintf(s->impl, sizeof s->impl, "table");
        return 0;
    }
    if (op->bin != GB_MUL && op->bin != GB_ADD) {
        snprintf(err, errlen, "%s: int8 %s of two tensors is unsupported", where, n->op_type);
        return ENG_EUNSUP;
    }
    if ((ret = q8_need_u8(p, a, where, err, errlen)) < 0 || (ret = q8_need_u8(p, b, where, err, errlen)) < 0)
        return ret;
    const q8_val *A = &p->q[a], *B = &p->q[b];
    if (q8_numel(A) < q8_numel(B)) {
        const q8_val *t = A;
        A = B;
        B = t;
        int ti = a;
        a = b;
        b = ti;
    }
    if (q8_numel(A) == q8_numel(B) && A->nd == B->nd) {
        if ((ret = q8_no_channels(p, a, where, err, errlen)) < 0 ||
            (ret = q8_no_channels(p, b, where, err, errlen)) < 0 ||
            (ret = q8_no_channels(p, y, where, err, errlen)) < 0)
            return ret;
        if (!(s = q8_step_new(p, S_BIN, ni, a, b, y)))
            return ENG_ENOMEM;
        s->op = op->bin == GB_ADD;
        s->outer = q8_numel(A);
        snprintf(s->impl, sizeof s->impl, "loop");
        return 0;
    }
    /* [N, C, H, W] by [N, C, 1, 1] (squeeze-excitation): per-channel factors */
    if (op->bin == GB_MUL && A->nd == 4 && B->nd == 4 && B->d[0] == A->d[0] && B->d[1] == A->d[1] &&
        B->d[2] == 1 && B->d[3] == 1) {
        if (chan && (!A->cs || !B->cs || !Y->cs)) {
            snprintf(err, errlen, "%s: a per-channel multiply takes per-channel int8 scales on "
                     "both inputs and its output", where);
            return ENG_EUNSUP;
        }
        if (!(s = q8_step_new(p, S_CMUL, ni, a, b, y)))
            return ENG_ENOMEM;
        s->outer = A->d[0];
        s->inner = A->d[2] * A->d[3];
        s->c = A->d[1];
        snprintf(s->impl, sizeof s->impl, "loop (per channel)");
        return 0;
    }
    snprintf(err, errlen, "%s: int8 broadcasting of these shapes is unsupported", where);
    return ENG_EUNSUP;
}

static int c_mean(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = q8_need_u8(p, x, where, err, errlen)) < 0)
        return ret;
    const q8_val *X = &p->q[x];
    unsigned mask = 3u << 2;
    int keep = 1;
    if (n->op == OP_REDUCEMEAN && (ret = reduce_axes(p->pl.g, n, X->nd, &mask, &keep, err, errlen)) < 0)
        return ret;
    if (X->nd != 4 || mask != (3u << 2)) {
        snprintf(err, errlen, "%s: int8 mean over other axes than height and width is unsupported",
                 where);
        return ENG_EUNSUP;
    }
    if (X->d[2] * X->d[3] >= (1 << 23)) {     /* the byte sums are int32 */
        snprintf(err, errlen, "%s: int8 mean over %" PRId64 " x %" PRId64 " positions is "
                 "unsupported (at most 2^23)", where, X->d[2], X->d[3]);
        return ENG_EUNSUP;
    }
    q8_step *s = q8_step_new(p, S_MEAN, ni, x, -1, y);
    if (!s)
        return ENG_ENOMEM;
    s->outer = X->d[0];
    s->inner = X->d[2] * X->d[3];
    s->c = X->d[1];
    snprintf(s->impl, sizeof s->impl, "loop");
    return 0;
}

static int c_softmax(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0];
    const q8_val *X = &p->q[x];
    if (!X->live || softmax_axis(p->pl.g, n, X->nd) != X->nd - 1 || p->q[y].dt != G_F32 ||
        (X->nd == 4 && X->d[2] * X->d[3] != 1)) {
        snprintf(err, errlen, "%s: int8 plans take Softmax over the last axis of a float tail only",
                 where);
        return ENG_EUNSUP;
    }
    q8_step *s = q8_step_new(p, S_SOFTMAX, ni, x, -1, y);
    if (!s)
        return ENG_ENOMEM;
    s->c = X->d[X->nd - 1];
    s->outer = q8_numel(X) / s->c;
    snprintf(s->impl, sizeof s->impl, "loop");
    return 0;
}

/* Reshape-like nodes share storage when NHWC bytes read the same as the
 * NCHW order they claim: no spatial extent, or the same shape. */
static int c_view(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0];
    q8_val *X = &p->q[x], *Y = &p->q[y];
    if (!X->live) {
        snprintf(err, errlen, "%s: input '%s' is not computed", where, p->pl.g->t[x].name);
        return ENG_EMODEL;
    }
    int same = X->nd == Y->nd && !memcmp(X->d, Y->d, sizeof(int64_t) * (size_t)X->nd);
    if (!same && X->nd == 4 && X->d[2] * X->d[3] != 1) {
        snprintf(err, errlen, "%s: int8 plans cannot flatten a tensor with height and width "
                 "(%s)", where, p->pl.g->t[x].name);
        return ENG_EUNSUP;
    }
    Y->dt = X->dt;
    Y->s = X->s;
    Y->z = X->z;
    Y->cs = X->cs;
    Y->live = 1;
    p->pl.v[y].alias = x;
    p->pl.v[y].def = p->pl.v[y].last = p->pl.v[x].def;
    return 0;
}

int q8_need_u8_out(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (p->q[t].dt == G_U8)
        return 0;
    snprintf(err, errlen, "%s: output '%s' has no int8 parameters (neither a QDQ model nor in the "
             "calibration file)", where, p->pl.g->t[t].name);
    return ENG_EUNSUP;
}


/* ------------------------------------------------------------ compile */

typedef int compile_fn(q8_plan *p, int ni, const char *where, char *err, size_t errlen);

/* What compiles a node, by its operator's class (ops.h). */
static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = q8_op_conv, [OPC_GEMM] = q8_op_conv, [OPC_ELTWISE] = c_lut,
    [OPC_BINARY] = c_binary, [OPC_MEAN] = c_mean, [OPC_SOFTMAX] = c_softmax, [OPC_VIEW] = c_view,
    [OPC_COPY] = c_view,
};

static int compile_node(q8_plan *p, int ni, char *err, size_t errlen)
{
    const gr_graph *g = p->pl.g;
    const gr_node *n = &g->n[ni];
    gr_opclass cls = gr_op(n->op)->cls;
    char where[300];
    gr_node_desc(n, where, sizeof where);
    if (n->op == OP_DEQUANTIZE && gr_is_const(g, n->in[0]))
        return 0;                       /* weights and biases: read through by their users */
    if (p->absorbed[ni])
        return 0;
    if (cls == OPC_QDQ) {
        snprintf(err, errlen, "%s: a quantise/dequantise that does not pair with its "
                 "counterpart (int8 plans take QuantizeLinear -> DequantizeLinear pairs)", where);
        return ENG_EUNSUP;
    }
    if (!by_class[cls]) {
        snprintf(err, errlen, "%s: not supported in int8", where);
        return ENG_EUNSUP;
    }
    return by_class[cls](p, ni, where, err, errlen);
}

static void plan_free(be_plan *dp)
{
    q8_plan *p = (q8_plan *)dp;
    if (!p)
        return;
    pl_free(&p->pl);
    free(p->q);
    free(p->out_v);
    free(p->absorbed);
    free(p);
}

static int compile(q8_plan *p, const gr_graph *g, int batch, char *err, size_t errlen)
{
    int ret;
    p->nq = g->nt + g->noutputs + 2 * g->nt;
    p->q = calloc((size_t)p->nq, sizeof(q8_val));
    p->out_v = malloc(sizeof(int) * (size_t)(g->noutputs + 1));
    p->absorbed = calloc((size_t)(g->nn ? g->nn : 1), 1);
    if (!p->q || !p->out_v || !p->absorbed || pl_values_reserve(&p->pl, p->nq) < 0)
        goto nomem;
    for (int t = 0; t < g->nt; t++) {
        q8_val *v = &p->q[t];
        v->dt = g->t[t].qset ? G_U8 : G_F32;
        v->s = g->t[t].qscale;
        v->z = g->t[t].qzero;
        v->nd = g->t[t].ndim;
        memcpy(v->d, p->pl.dims[t], sizeof v->d);
        if (g->t[t].qset && g->t[t].qch) {
            if (g->t[t].nqch != q8_channels(v)) {
                snprintf(err, errlen, "'%s': %d per-channel scales for %lld channels", g->t[t].name,
                         g->t[t].nqch, (long long)q8_channels(v));
                return ENG_EMODEL;
            }
            v->cs = g->t[t].qch;
            v->z = 0;
        }
    }
    if (g->ninputs != 1) {
        snprintf(err, errlen, "int8 plans take one image input; the model has %d inputs", g->ninputs);
        return ENG_EUNSUP;
    }
    int in = g->inputs[0];
    if (p->q[in].dt != G_U8 || p->q[in].nd != 4) {
        snprintf(err, errlen, "input '%s' has no int8 parameters (neither a QDQ model nor in "
                 "the calibration file)", g->t[in].name);
        return ENG_EUNSUP;
    }
    p->q[in].live = 1;
    p->pl.v[in].def = p->pl.v[in].last = -1;
    q_find_gates(g, p->absorbed);
    for (int i = 0; i < g->nn; i++) {
        if (g->n[i].dead)
            continue;
        if ((ret = compile_node(p, i, err, errlen)) < 0)
            return ret;
    }
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        if (!p->q[t].live) {
            snprintf(err, errlen, "graph output '%s' is not computed", g->t[t].name);
            return ENG_EMODEL;
        }
        p->out_v[i] = t;
        if (p->q[t].dt == G_U8) {
            int o = g->nt + i;
            p->q[o] = p->q[t];
            p->q[o].dt = G_F32;
            if (!q8_step_new(p, S_DEQ, -1, t, -1, o))
                goto nomem;
            p->out_v[i] = o;
        }
        p->pl.v[p->out_v[i]].last = INT_MAX;
    }
    for (int i = 0; i < p->nq; i++)
        p->pl.v[i].bytes = (size_t)q8_numel(&p->q[i]) * (p->q[i].dt == G_U8 ? 1 : sizeof(float));
    if ((ret = pl_allocate(&p->pl, err, errlen)) < 0 || (ret = pl_bind(&p->pl, err, errlen)) < 0)
        return ret;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling int8 for batch %d", batch);
    return ENG_ENOMEM;
}

static int plan_compile(be_plan **out, be_ctx *bc, const gr_graph *g, int batch, be_prec prec,
                        char *err, size_t errlen)
{
    q8_plan *p = calloc(1, sizeof(*p));
    int ret;
    (void)prec;
    *out = NULL;
    if (!p || pl_init(&p->pl, (dnn_ctx *)bc, g, batch, sizeof(q8_step), q8_loop) < 0) {
        snprintf(err, errlen, "out of memory compiling int8 for batch %d", batch);
        ret = ENG_ENOMEM;
    } else {
        ret = compile(p, g, batch, err, errlen);
    }
    if (ret == ENG_EUNSUP) {    /* the graph itself is fine: say what still runs it */
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, "; precision fp32 or bf16 runs this model");
    }
    if (ret < 0) {
        plan_free((be_plan *)p);
        return ret;
    }
    *out = (be_plan *)p;
    return 0;
}

/* ------------------------------------------------------------- inputs */

/* The byte that real value v of channel c of the input is stored as. */
static uint8_t input_byte(const q8_plan *p, int c, float v)
{
    const q8_val *x = &p->q[p->pl.g->inputs[0]];
    return x->cs ? q8_s8(v, x->cs[c]) : q_u8(v, x->s, x->z);
}

/* NCHW floats into the NHWC bytes of the (one) input. */
static void put_tensor(be_plan *dp, int i, const float *src)
{
    q8_plan *p = (q8_plan *)dp;
    const int64_t *d = p->pl.dims[p->pl.g->inputs[i]];
    int64_t n = d[0], c = d[1], hw = d[2] * d[3];
    uint8_t *dst = pl_ptr(&p->pl, p->pl.g->inputs[i]);
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < hw; k++)
            for (int64_t j = 0; j < c; j++)
                dst[(b * hw + k) * c + j] = input_byte(p, (int)j, src[(b * c + j) * hw + k]);
}

/* Pixels straight to input bytes through one table per channel: the
 * normalisation's, then the input's quantisation, composed once. */
static void put_pixels(be_plan *dp, int k, const uint8_t *src, int stride, const float (*lut)[256])
{
    q8_plan *p = (q8_plan *)dp;
    const int64_t *d = p->pl.dims[p->pl.g->inputs[0]];
    int h = (int)d[2], w = (int)d[3];
    if (p->lut_of != lut) {
        for (int c = 0; c < 3; c++)
            for (int v = 0; v < 256; v++)
                p->qlut[c][v] = input_byte(p, c, lut[c][v]);
        p->lut_of = lut;
    }
    uint8_t *dst = (uint8_t *)pl_ptr(&p->pl, p->pl.g->inputs[0]) + (size_t)h * (size_t)w * 3 * (size_t)k;
    /* rows over the plan's team, as fp32's (f32_pixels.c) */
#pragma omp parallel for schedule(static) if (h * w >= DNN_PAR_MIN_PIXELS)
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        uint8_t *o = dst + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < 3 * w; x += 3) {
            o[x] = p->qlut[0][row[x]];
            o[x + 1] = p->qlut[1][row[x + 1]];
            o[x + 2] = p->qlut[2][row[x + 2]];
        }
    }
}

/* ---------------------------------------------------------------- run */

static int run(be_plan *dp, char *err, size_t errlen)
{
    return pl_run(&((q8_plan *)dp)->pl, err, errlen);
}

static int time_steps(be_plan *dp, const double **ms)
{
    return pl_time_steps(&((q8_plan *)dp)->pl, ms);
}

static const float *output(const be_plan *dp, int i)
{
    const q8_plan *p = (const q8_plan *)dp;
    return pl_ptr(&p->pl, p->out_v[i]);
}

static void stats(const be_plan *dp, be_stats *s)
{
    const q8_plan *p = (const q8_plan *)dp;
    s->steps = p->pl.ns;
    s->reorders = 0;
    s->inplace = 0;
    s->arena = p->pl.arena_size;
    s->weights = p->pl.c->wbytes;
}

static void dump(const be_plan *dp, void (*line)(void *, const char *), void *arg)
{
    const q8_plan *p = (const q8_plan *)dp;
    char buf[512], shape[96];
    for (int i = 0; i < p->pl.ns; i++) {
        const q8_step *s = pl_ext(&p->pl, i);
        const q8_val *y = &p->q[s->y];
        int node = p->pl.s[i].node;
        gr_dims_str(shape, sizeof shape, y->nd, y->d);
        snprintf(buf, sizeof buf, "%3d %-8s %-28s %-4s %s -> %s", i, kinds[s->kind], s->impl,
                 y->dt == G_U8 ? "u8" : "f32", node >= 0 ? p->pl.g->n[node].name : "(output)",
                 shape);
        line(arg, buf);
    }
}

const be_backend dnn_int8 = {
    .ctx_new = dnn_ctx_new, .ctx_free = dnn_ctx_free,
    .compile = plan_compile, .free = plan_free, .put_tensor = put_tensor, .put_pixels = put_pixels,
    .run = run, .output = output, .stats = stats, .dump = dump,
    .time_steps = time_steps,
};
