/* q8_conv.c: the int8 XNNPACK plan's convolutions and Gemms (see q8.c):
 * qc8 convolutions with the weights' per-channel scales carrying the
 * activations' where those have one per channel, the bytes before an
 * activation that is not a bound (HardSwish, HardSigmoid) and the table
 * after them, and the float tail's fully connected operator. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/quant.h"
#include "engine/xnn/q8_cc.h"

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
    /* post_eval says NAN for a chain that reads another tensor */
    if (n->npost < 1 || isnan(post_eval(n, 0.0f)))
        return -1;
    const gr_post *p = &n->post[0];
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

static int pre_plan(q8cc *c, const gr_node *n, const qval *Y, int64_t oc, pre_act *pa)
{
    float lo;
    if (flat_below(n, &lo) < 0)
        return q8c_unsup(c, "a fused activation without a floor (HardSwish, HardSigmoid, ReLU and "
                         "Clip have one) has no int8 form on XNNPACK");
    pa->t = q8c_own(c->m, sizeof(float) * (size_t)oc);
    pa->z = q8c_own(c->m, sizeof(int) * (size_t)oc);
    pa->gap = q8c_own(c->m, (size_t)oc);
    pa->buf = q8c_own(c->m, q8c_numel(Y));
    if (!pa->t || !pa->z || !pa->gap || !pa->buf)
        return q8c_nomem(c);
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

static float pre_fn(const q8cc *c, const tab_arg *a, size_t j, int q)
{
    (void)c;
    return pre_value(a->n, a->pa, j, q);
}

static int pre_table(q8cc *c, const gr_node *n, const pre_act *pa, qval *Y)
{
    tab_arg ta = { .n = n, .pa = pa };
    return q8c_table_step(c, pa->buf, Y, Y->cs != NULL, pre_fn, &ta,
                          Y->cs ? "table per channel (ours)" : "table (ours)");
}

/* The node's bias as floats (*bf, *nb of them: 1 or oc), or none. */
static int bias_of(q8cc *c, const gr_node *n, int64_t oc, float **bf, int64_t *nb)
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
static int conv_float(q8cc *c, int ni)
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
        ic = X->nd == 4 ? X->d[1] : X->d[X->nd - 1];
        oc = Y->d[Y->nd - 1];
        rows = (int64_t)q8c_numel(X) / ic;
    } else {
        if ((ret = conv_get(g, n, &cp, c->err, c->errlen)) < 0)
            return ret;
        if (cp.kh != 1 || cp.kw != 1 || cp.group != 1 || X->nd != 4 || X->d[2] * X->d[3] != 1)
            return q8c_unsup(c, "a convolution with float output runs on XNNPACK's int8 plan only "
                             "as a 1x1 convolution of a 1x1 image");
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
            return q8c_unsup(c, "a float tail with an activation other than ReLU or Clip is "
                             "unsupported in int8 on XNNPACK");
        }
    }
    if (!X->fbuf && (ret = q8c_need(c, x)) < 0)
        return ret;
    float *xf = q8c_floats_of(c, x), *w = q_const_floats(g, n->in[1]), *wt = NULL, *bf = NULL,
          *bias = NULL;
    if (!xf || (ret = q8c_make_float(c, y)) < 0) {
        free(w);
        return xf ? ret : q8c_nomem(c);
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
        ret = q8c_nomem(c);
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
        ret = q8c_xfail(c, st, "float fully connected");
        goto end;
    }
    st = xnn_setup_fully_connected_nc_f32(op, (size_t)rows, xf, Y->fbuf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(op);
        ret = q8c_xfail(c, st, "setup");
        goto end;
    }
    ret = q8c_op_step(c, op, "fully_connected_f32 (float tail)");
end:
    free(w);
    free(wt);
    free(bf);
    free(bias);
    return ret;
}

int q8c_conv(q8cc *c, int ni)
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
    qval *X = &c->v[x], *Y = &c->v[y];
    /* the bytes are NHWC: only without height and width are they the
     * NCHW flattening a Gemm reads */
    if (gemm && X->nd == 4 && X->d[2] * X->d[3] != 1)
        return q8c_unsup(c, "int8 on XNNPACK takes a Gemm of a tensor without height and width");
    if (gemm) {
        gemm_get(n, &gp);
        if (gp.ta)
            return q8c_unsup(c, "int8 Gemm with transA is unsupported on XNNPACK");
    }
    if (!g->t[y].qset)
        return conv_float(c, ni);
    if ((ret = q8c_need(c, x)) < 0 || (ret = q8c_make(c, y)) < 0)
        return ret;
    if (!X->cs != !Y->cs) {
        snprintf(c->err, c->errlen, "%s: '%s' and '%s' must both have per-channel int8 scales, "
                 "or neither", c->where, g->t[x].name, g->t[y].name);
        return ENG_EUNSUP;
    }
    if (gemm) {
        memset(&cp, 0, sizeof cp);
        cp.kh = cp.kw = cp.sh = cp.sw = cp.dh = cp.dw = cp.group = 1;
        cp.cin = X->nd == 4 ? X->d[1] : X->d[X->nd - 1];
        cp.cout = Y->d[Y->nd - 1];
    } else if ((ret = conv_get(g, n, &cp, c->err, c->errlen)) < 0) {
        return ret;
    }
    if (X->cs && (cp.cin != q8c_channels(X) || cp.group < 1 || cp.cout % cp.group)) {
        snprintf(c->err, c->errlen, "%s: %lld per-channel scales for %lld input channels",
                 c->where, (long long)q8c_channels(X), (long long)cp.cin);
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
        ret = q8c_nomem(c);
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
        ret = q8c_xfail(c, st, "convolution");
        goto end;
    }
    st = xnn_setup_convolution2d_nhwc_qc8(o, (size_t)X->d[0], ih, iw, X->buf,
                                          pa.on ? pa.buf : Y->buf, c->m->pool);
    if (st != xnn_status_success) {
        xnn_delete_operator(o);
        ret = q8c_xfail(c, st, "setup");
        goto end;
    }
    ret = q8c_op_step(c, o, cp.group > 1 && icg == 1 ? "convolution_qc8 (depthwise)" :
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
