/* int8_conv.c: Conv, and Gemm as a 1x1 convolution, on oneDNN's int8
 * kernels (see int8.h): weights quantised per output channel (or taken as
 * a QDQ file has them), the bias in accumulator units, the requantisation
 * and the fused activations in the primitive's attributes, and the same
 * bytes on every ISA (q8_exact below).  On AVX2 without VNNI the pointwise
 * and depthwise ones run on our own kernels instead (int8_gemm.h,
 * int8_dw.h: own_pointwise, own_depthwise). */
#include "engine/dnn/int8.h"
#include "engine/dnn/int8_col.h"
#include "engine/dnn/int8_dw.h"
#include "engine/dnn/int8_gemm.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/quant.h"

static void md_nhwc(dnnl_memory_desc_t *md, const int64_t *d, dnnl_data_type_t dt)
{
    dnnl_dims_t x = { d[0], d[1], d[2], d[3] };
    dnnl_memory_desc_init_by_tag(md, 4, x, dt, dnnl_acdb);
}

/* Weights as int8 with per-output-channel scales, and the bias as floats
 * (one per output channel) or NULL. */
static int q8_weights_for(q8_plan *p, const gr_node *n, const conv_params *cp,
                          const gemm_params *gp, const float *in_scale, int8_t **wq, float **ws,
                          float **bf, const char *where, char *err, size_t errlen)
{
    const gr_graph *g = p->pl.g;
    int gemm = n->op == OP_GEMM, ret;
    char e[256];
    if (in_scale)
        ret = q_fold_weights(g, n->in[1], cp, gemm && !gp->tb, in_scale, wq, ws, e, sizeof e);
    else
        ret = q_weights(g, n->in[1], cp->cout, gemm && !gp->tb, wq, ws, e, sizeof e);
    if (ret < 0) {
        snprintf(err, errlen, "%s: %s", where, e);
        return ret;
    }
    int64_t want = cp->cout * (cp->cin / cp->group) * cp->kh * cp->kw;
    if (gr_tensor_numel(&g->t[n->in[1]]) != want) {
        snprintf(err, errlen, "%s: weights '%s' hold %lld values, the shapes need %lld", where,
                 g->t[n->in[1]].name, (long long)gr_tensor_numel(&g->t[n->in[1]]), (long long)want);
        return ENG_EMODEL;
    }
    if (n->nin < 3 || n->in[2] < 0)
        return 0;
    int64_t nb = gr_tensor_numel(&g->t[n->in[2]]);
    float *b = q_const_floats(g, n->in[2]);
    if (!b || (nb != 1 && nb != cp->cout)) {
        snprintf(err, errlen, "%s: bias '%s' must be a constant of 1 or %lld values", where,
                 g->t[n->in[2]].name, (long long)cp->cout);
        free(b);
        return ENG_EMODEL;
    }
    if (!(*bf = malloc(sizeof(float) * (size_t)cp->cout))) {
        free(b);
        return ENG_ENOMEM;
    }
    for (int64_t c = 0; c < cp->cout; c++)
        (*bf)[c] = b[nb == 1 ? 0 : c];
    free(b);
    return 0;
}

typedef struct {
    dnnl_alg_kind_t alg;
    float a, b;
} qpost;

/* The node's activations, then a multiply by k (1 / output scale) when
 * k != 1, as eltwise post-ops, into l (m of them).  oneDNN 2.6's int8
 * kernels get a chain with two linear steps wrong (linear(0.5) then
 * linear(100) gives 0), so k is moved back through clips and ReLU and
 * merged into an earlier linear (hardsigmoid(x) * k = clip(x * k/6 + k/2,
 * 0, k)).  The same chain goes to oneDNN or to int8_gemm's kernel. */
static int chain_of(const gr_node *n, float k, qpost l[G_MAX_POST + 1], int *nl)
{
    int m = 0, linears = 0;
    for (int i = 0; i < n->npost; i++) {
        qpost *q = &l[m++];
        if (dnn_eltwise_of(&n->post[i], &q->alg, &q->a, &q->b) < 0)
            return -1;
    }
    if (k != 1) {
        int i = m++;
        l[i] = (qpost){ dnnl_eltwise_linear, k, 0 };
        while (i > 0) {
            qpost *p = &l[i - 1];
            if (p->alg == dnnl_eltwise_linear) {
                p->a *= k;
                p->b *= k;
                memmove(&l[i], &l[i + 1], sizeof(qpost) * (size_t)(m - i - 1));
                m--;
                break;
            }
            if (p->alg != dnnl_eltwise_clip && !(p->alg == dnnl_eltwise_relu && p->a == 0))
                break;
            l[i] = *p;
            if (l[i].alg == dnnl_eltwise_clip) {
                l[i].a = l[i].a > -FLT_MAX ? l[i].a * k : l[i].a;
                l[i].b = l[i].b < FLT_MAX ? l[i].b * k : l[i].b;
            }
            l[i - 1] = (qpost){ dnnl_eltwise_linear, k, 0 };
            i--;
        }
    }
    for (int i = 0; i < m; i++)
        linears += l[i].alg == dnnl_eltwise_linear;
    *nl = m;
    return linears > 1 ? -1 : 0;
}

static int post_chain(const gr_node *n, float k, dnnl_post_ops_t po)
{
    qpost l[G_MAX_POST + 1];
    int m;
    if (chain_of(n, k, l, &m) < 0)
        return -1;
    for (int i = 0; i < m; i++)
        if (dnnl_post_ops_append_eltwise(po, 1.0f, l[i].alg, l[i].a, l[i].b) != dnnl_success)
            return -1;
    return 0;
}

/* The float staging value of tensor y: its shape, float. */
static int stage(q8_plan *p, int y)
{
    int t = p->pl.g->nt + p->pl.g->noutputs + y;
    p->q[t] = p->q[y];
    p->q[t].dt = G_F32;
    p->q[t].cs = NULL;
    return t;
}

/* Without VNNI, oneDNN's int8 convolutions (every x86 ISA below
 * avx512_core_vnni and avx2_vnni) multiply uint8 sources by int8 weights
 * and add each pair of products in int16 with saturation, so two weights
 * whose magnitudes add up to more than 128 can clip the sum; and they take
 * int8 sources by adding 128 and halving the weights, which drops the
 * weights' last bit.  Depthwise kernels widen first and are exact on uint8.
 * So on such a CPU a convolution reads uint8 only (an int8 source flipped
 * to uint8 with zero point 128 on the way), and where a pair of its weights
 * could clip, it reads its source twice, side by side, with each weight
 * split in two halves of at most 64: w = a + b adds up in int32 exactly as
 * w would on a VNNI CPU.  Results are the same bytes on every ISA. */
typedef struct {
    int flip;                    /* source is int8: read it as uint8 + 128 */
    int twice;                   /* source doubled, weights split */
} q8_exact;

/* Could two of an output channel's weights clip an int16 pair sum of
 * uint8 products?  Which weights oneDNN pairs depends on its layout, so
 * take the worst pair: the two largest of each sign. */
static int may_clip(const int8_t *w, int64_t oc, int64_t k)
{
    for (int64_t o = 0; o < oc; o++) {
        int p1 = 0, p2 = 0, n1 = 0, n2 = 0;
        for (int64_t i = 0; i < k; i++) {
            int v = w[o * k + i];
            if (v > p1)
                p2 = p1, p1 = v;
            else if (v > p2)
                p2 = v;
            if (v < n1)
                n2 = n1, n1 = v;
            else if (v < n2)
                n2 = v;
        }
        if (p1 + p2 > 128 || n1 + n2 < -128)
            return 1;
    }
    return 0;
}

/* [o][cin_g][khw] -> [o][2 cin_g][khw]: the first half a = floor(w / 2),
 * the second b = w - a, both in [-64, 64]. */
static int8_t *split_weights(const int8_t *w, int64_t oc, int64_t cin_g, int64_t khw)
{
    int64_t k = cin_g * khw;
    int8_t *o = malloc((size_t)(oc * 2 * k));
    if (!o)
        return NULL;
    for (int64_t c = 0; c < oc; c++)
        for (int64_t i = 0; i < k; i++) {
            int v = w[c * k + i], a = v >> 1;          /* arithmetic shift: floor */
            o[c * 2 * k + i] = (int8_t)a;
            o[c * 2 * k + k + i] = (int8_t)(v - a);
        }
    return o;
}

/* The uint8 source a convolution reads under `ex`: x itself, or a copy
 * with every group's channels twice and/or flipped to uint8.  One per
 * tensor: two convolutions that want it prepared differently are refused. */
static int prep(q8_plan *p, int ni, int x, int64_t groups, const q8_exact *ex, int *out,
                const char *where, char *err, size_t errlen)
{
    int t = p->pl.g->nt + p->pl.g->noutputs + p->pl.g->nt + x;
    q8_val *P = &p->q[t];
    if (!ex->flip && !ex->twice) {
        *out = x;
        return 0;
    }
    if (P->live) {
        const q8_step *s = pl_ext(&p->pl, p->pl.v[t].def);
        if (s->op == 1 + ex->twice && s->flip == (ex->flip ? 0x80 : 0) && s->outer == groups) {
            *out = t;
            return 0;
        }
        snprintf(err, errlen, "%s: '%s' is read by int8 convolutions of two kinds; on %s (no "
                 "VNNI) lcnetd cannot run both exactly", where, p->pl.g->t[x].name, eng_cpu_isa());
        return ENG_EUNSUP;
    }
    *P = p->q[x];
    P->cs = NULL;
    P->z = ex->flip ? 128 : p->q[x].z;
    P->d[1] *= 1 + ex->twice;
    q8_step *s = q8_step_new(p, S_PREP, ni, x, -1, t);
    if (!s)
        return ENG_ENOMEM;
    s->op = 1 + ex->twice;
    s->flip = ex->flip ? 0x80 : 0;
    s->outer = groups;
    s->c = q8_channels(&p->q[x]) / groups;
    s->inner = q8_numel(&p->q[x]) / q8_channels(&p->q[x]);
    snprintf(s->impl, sizeof s->impl, "loop (%s%s)", ex->twice ? "twice" : "",
             ex->flip ? ex->twice ? ", as uint8" : "as uint8" : "");
    *out = t;
    return 0;
}

/* What q8_op_conv has worked out for a layer, for own_pointwise. */
typedef struct {
    const int8_t *wq;
    const float *scales;
    const int32_t *b32;
    float k;                     /* the chain's final multiply (post_chain) */
    int binary, via_f32, to_u8;
} q8_layer;

/* The layer's post-ops for our kernels (int8_gemm.h): the chain oneDNN
 * would get, the per-channel multiply, the rounding before the zero point.
 * 1, with *mul the multipliers (caller frees) or NULL; 0: an activation
 * the kernels lack; -1: out of memory. */
static int own_ops(const gr_node *n, const q8_layer *ly, const q8_val *Y, int64_t oc,
                   q8g_op *ops, int *nops, float **mul)
{
    qpost l[G_MAX_POST + 1];
    int m;
    *mul = NULL;
    *nops = 0;
    if (chain_of(n, ly->k, l, &m) < 0)
        return 0;
    for (int i = 0; i < m; i++) {
        q8g_op *o = &ops[(*nops)++];
        *o = (q8g_op){ Q8G_RELU, l[i].a, l[i].b };
        if (l[i].alg == dnnl_eltwise_linear)
            o->kind = Q8G_LINEAR;
        else if (l[i].alg == dnnl_eltwise_clip)
            o->kind = Q8G_CLIP;
        else if (l[i].alg == dnnl_eltwise_hardswish)
            o->kind = Q8G_HARDSWISH;
        else if (l[i].alg != dnnl_eltwise_relu)
            return 0;
    }
    if (ly->binary) {
        if (!(*mul = malloc(sizeof(float) * (size_t)oc)))
            return -1;
        for (int64_t c = 0; c < oc; c++)
            (*mul)[c] = 1.0f / Y->cs[c];
        ops[(*nops)++] = (q8g_op){ Q8G_MUL, 0, 0 };
    }
    if (ly->to_u8 && Y->z)
        ops[(*nops)++] = (q8g_op){ Q8G_ROUND, 0, 0 };
    return 1;
}

/* size bytes for a packed layer, a constant of the plan's (freed with it);
 * NULL when out of memory. */
static void *plan_blob(q8_plan *p, size_t size)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t bd = { (int64_t)size };
    dnnl_memory_t bm = NULL;
    void *blob = NULL;
    dnnl_memory_desc_init_by_tag(&md, 1, bd, dnnl_u8, dnnl_x);
    if (dnnl_memory_create(&bm, &md, p->pl.c->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        return NULL;
    if (pl_const(&p->pl, &md, bm, 1) < 0) {
        dnnl_memory_destroy(bm);
        return NULL;
    }
    dnnl_memory_get_data_handle(bm, &blob);
    return blob;
}

/* A pointwise convolution or Gemm on int8_gemm's kernel, where this CPU
 * has AVX2 without VNNI and the layer fits it: each product once, where
 * oneDNN would read the source twice (q8_exact).  1: done; 0: not for
 * this layer (oneDNN takes it); < 0: an error. */
static int own_pointwise(q8_plan *p, int ni, const conv_params *cp, const q8_layer *ly,
                         const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0];
    const q8_val *X = &p->q[x], *Y = &p->q[y];
    if (!q8g_cpu_ok() || dnn_cpu_has_vnni() || cp->group != 1 || cp->kh != 1 || cp->kw != 1 ||
        cp->sh != 1 || cp->sw != 1 || cp->pt || cp->pl || cp->pb || cp->pr || cp->cin > Q8G_MAX_K)
        return 0;
    q8g_desc d = { .k = cp->cin, .oc = cp->cout, .w = ly->wq, .scale = ly->scales,
                   .bias = ly->b32, .zx = X->cs ? 128 : X->z, .flip = X->cs ? 0x80 : 0,
                   .zy = ly->to_u8 ? Y->z : 0,
                   .dst = !ly->to_u8 || ly->via_f32 ? Q8G_F32 : Y->cs ? Q8G_S8 : Q8G_U8 };
    float *mul = NULL;
    int r = own_ops(n, ly, Y, cp->cout, d.ops, &d.nops, &mul);
    if (r <= 0) {
        if (r < 0)
            goto nomem;
        return 0;
    }
    d.mul = mul;

    /* one tile of rows or less: each weight is read once a run, so read bytes */
    d.narrow = q8_numel(X) / cp->cin < Q8G_NARROW_ROWS;
    void *blob = plan_blob(p, q8g_size(d.k, d.oc, d.narrow));
    if (!blob)
        goto nomem;
    q8g_pack(blob, &d);
    free(mul);
    mul = NULL;

    int yw = ly->via_f32 ? stage(p, y) : y;
    q8_step *s = q8_step_new(p, S_GEMM, ni, x, -1, yw);
    if (!s)
        goto nomem;
    s->blob = blob;
    s->outer = q8_numel(X) / cp->cin;
    snprintf(s->impl, sizeof s->impl, "lcnetd_int8_1x1:avx2");
    if (ly->via_f32) {
        if (!(s = q8_step_new(p, S_QCH, ni, yw, -1, y)))
            goto nomem;
        snprintf(s->impl, sizeof s->impl, "loop (per channel)");
    }
    return 1;
nomem:
    free(mul);
    snprintf(err, errlen, "%s: out of memory", where);
    return ENG_ENOMEM;
}

/* A small dense convolution (the stem) on the pointwise kernel, its
 * windows laid out as rows first (int8_col.h), where this CPU has AVX2
 * without VNNI: each product once, where oneDNN would read a doubled copy
 * of the source.  It writes its rows into the tensor's prepared-source
 * slot, so it only takes a source no other convolution has prepared.
 * 1: done; 0: not for this layer; < 0: an error. */
static int own_dense(q8_plan *p, int ni, const conv_params *cp, const q8_layer *ly,
                     const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0];
    int t = p->pl.g->nt + p->pl.g->noutputs + p->pl.g->nt + x;
    const q8_val *X = &p->q[x], *Y = &p->q[y];
    int64_t k = cp->cin * cp->kh * cp->kw;
    /* the rows take k bytes per output pixel: only where the window is
     * small, as in a stem over 3 colour channels */
    if (!q8g_cpu_ok() || dnn_cpu_has_vnni() || cp->group != 1 || cp->kh * cp->kw == 1 ||
        cp->dh != 1 || cp->dw != 1 || k > 64 || !ly->to_u8 || ly->via_f32 || X->nd != 4 ||
        p->q[t].live)
        return 0;
    const int64_t *od = p->pl.dims[y];
    q8c_desc c = { .c = cp->cin, .h = X->d[2], .w = X->d[3], .oh = od[2], .ow = od[3],
                   .kh = (int)cp->kh, .kw = (int)cp->kw, .sh = (int)cp->sh, .sw = (int)cp->sw,
                   .pt = (int)cp->pt, .pl = (int)cp->pl, .fill = X->cs ? 0 : (uint8_t)X->z };
    int8_t *wr = q8c_weights(&c, ly->wq, cp->cout);
    q8g_desc d = { .k = k, .oc = cp->cout, .w = wr, .scale = ly->scales,
                   .bias = ly->b32, .zx = X->cs ? 128 : X->z, .flip = X->cs ? 0x80 : 0,
                   .zy = Y->z, .dst = Y->cs ? Q8G_S8 : Q8G_U8 };
    float *mul = NULL;
    if (!wr)
        goto nomem;
    int r = own_ops(n, ly, Y, cp->cout, d.ops, &d.nops, &mul);
    if (r <= 0) {
        free(wr);
        if (r < 0)
            goto nomem;
        return 0;
    }
    d.mul = mul;
    void *blob = plan_blob(p, q8g_size(d.k, d.oc, 0)), *cblob = plan_blob(p, sizeof c);
    if (!blob || !cblob) {
        free(wr);
        goto nomem;
    }
    q8g_pack(blob, &d);
    memcpy(cblob, &c, sizeof c);
    free(wr);
    free(mul);
    mul = NULL;

    q8_val *P = &p->q[t];
    *P = *X;
    P->cs = NULL;
    P->nd = 2;
    P->d[0] = X->d[0] * c.oh * c.ow;
    P->d[1] = k;
    q8_step *s = q8_step_new(p, S_COL, ni, x, -1, t);
    if (!s)
        goto nomem;
    s->blob = cblob;
    s->outer = X->d[0];
    snprintf(s->impl, sizeof s->impl, "loop (windows as rows)");
    if (!(s = q8_step_new(p, S_GEMM, ni, t, -1, y)))
        goto nomem;
    s->blob = blob;
    s->outer = P->d[0];
    snprintf(s->impl, sizeof s->impl, "lcnetd_int8_dense:avx2");
    return 1;
nomem:
    free(mul);
    snprintf(err, errlen, "%s: out of memory", where);
    return ENG_ENOMEM;
}

/* A depthwise convolution on int8_dw's kernel, where this CPU has AVX2
 * without VNNI and the layer fits it.  1: done; 0: not for this layer;
 * < 0: an error. */
static int own_depthwise(q8_plan *p, int ni, const conv_params *cp, const q8_layer *ly,
                         const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = n->in[0], y = n->out[0];
    const q8_val *X = &p->q[x], *Y = &p->q[y];
    if (!q8g_cpu_ok() || dnn_cpu_has_vnni() || cp->group != cp->cin || cp->cout != cp->cin ||
        cp->dh != 1 || cp->dw != 1 || !ly->to_u8 || ly->via_f32 || X->nd != 4)
        return 0;
    const int64_t *od = p->pl.dims[y];
    q8d_desc d = { .c = cp->cin, .h = X->d[2], .w = X->d[3], .oh = od[2], .ow = od[3],
                   .kh = (int)cp->kh, .kw = (int)cp->kw, .sh = (int)cp->sh, .sw = (int)cp->sw,
                   .pt = (int)cp->pt, .pl = (int)cp->pl, .w8 = ly->wq, .scale = ly->scales,
                   .bias = ly->b32, .zx = X->cs ? 128 : X->z, .flip = X->cs ? 0x80 : 0,
                   .zy = Y->z, .dst = Y->cs ? Q8G_S8 : Q8G_U8 };
    if (!q8d_fits(&d))
        return 0;
    float *mul = NULL;
    int r = own_ops(n, ly, Y, cp->cout, d.ops, &d.nops, &mul);
    if (r <= 0) {
        if (r < 0)
            goto nomem;
        return 0;
    }
    d.mul = mul;
    void *blob = plan_blob(p, q8d_size(&d));
    if (!blob)
        goto nomem;
    q8d_pack(blob, &d);
    free(mul);
    mul = NULL;
    q8_step *s = q8_step_new(p, S_DW, ni, x, -1, y);
    if (!s)
        goto nomem;
    s->blob = blob;
    s->outer = X->d[0];
    snprintf(s->impl, sizeof s->impl, "lcnetd_int8_dw:avx2");
    return 1;
nomem:
    free(mul);
    snprintf(err, errlen, "%s: out of memory", where);
    return ENG_ENOMEM;
}

/* Conv, or Gemm as a 1x1 conv over [N, K, 1, 1]. */
int q8_op_conv(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int gemm = n->op == OP_GEMM, x = n->in[0], y = n->out[0], ret;
    conv_params cp;
    gemm_params gp = { 1, 1, 0, 0 };
    int8_t *wq = NULL;
    float *ws = NULL, *bf = NULL, *scales = NULL;
    int32_t *b32 = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    q8_step *s;

    if ((ret = q8_need_u8(p, x, where, err, errlen)) < 0)
        return ret;
    const q8_val *X = &p->q[x];
    q8_val *Y = &p->q[y];
    int64_t sd[4], od[4];
    if (gemm) {
        gemm_get(n, &gp);
        if (gp.ta || X->nd != 2) {
            snprintf(err, errlen, "%s: int8 Gemm takes a plain [N, K] input", where);
            return ENG_EUNSUP;
        }
        memset(&cp, 0, sizeof cp);
        cp.kh = cp.kw = cp.sh = cp.sw = cp.dh = cp.dw = cp.group = 1;
        cp.cin = X->d[1];
        cp.cout = p->pl.dims[y][1];
        int64_t s4[4] = { X->d[0], X->d[1], 1, 1 }, o4[4] = { X->d[0], cp.cout, 1, 1 };
        memcpy(sd, s4, sizeof sd);
        memcpy(od, o4, sizeof od);
    } else {
        if ((ret = conv_get(p->pl.g, n, &cp, err, errlen)) < 0)
            return ret;
        memcpy(sd, X->d, sizeof sd);
        memcpy(od, p->pl.dims[y], sizeof od);
    }
    int post = n->npost > 0, to_u8 = Y->dt == G_U8;
    if (to_u8 && !X->cs != !Y->cs) {
        snprintf(err, errlen, "%s: '%s' and '%s' must both have per-channel int8 scales, or "
                 "neither", where, p->pl.g->t[x].name, p->pl.g->t[y].name);
        return ENG_EUNSUP;
    }
    if (X->cs && (cp.cin != q8_channels(X) || cp.group < 1 || cp.cout % cp.group)) {
        snprintf(err, errlen, "%s: %lld per-channel scales for %lld input channels", where,
                 (long long)q8_channels(X), (long long)cp.cin);
        return ENG_EMODEL;
    }
    if ((ret = q8_weights_for(p, n, &cp, &gp, X->cs, &wq, &ws, &bf, where, err, errlen)) < 0)
        goto end;
    int64_t oc = cp.cout;
    float xs = X->cs ? 1.0f : X->s;         /* folded into the weights */
    /* Per-channel output scales: through ReLU (or no activation) they fold
     * into the output scales; after other activations they take a binary
     * multiply, except on a 1x1 output (squeeze-excitation, the head) where
     * oneDNN 2.6 has only its reference kernel for that: there the result
     * goes out as floats and a loop quantises it. */
    int homog = 1;
    for (int i = 0; i < n->npost; i++)
        homog &= n->post[i].kind == PO_RELU;
    int chan_out = to_u8 && Y->cs && post && !homog;
    int via_f32 = chan_out && od[2] * od[3] == 1, binary = chan_out && !via_f32;
    int fold_out = to_u8 && !chan_out && (!post || (Y->cs && homog));
    if (!(scales = malloc(sizeof(float) * (size_t)oc)) || !(b32 = calloc((size_t)oc, sizeof(int32_t))))
        goto nomem;
    int64_t k = cp.cin / cp.group * cp.kh * cp.kw;
    for (int64_t c = 0; bf && c < oc; c++) {
        /* A channel whose weights are all but zero (a dead branch) gets a
         * scale so fine that its bias overflows int32 in accumulator units:
         * coarsen it until the bias fits; such weights round to nothing. */
        double need = fabs((double)gp.beta * bf[c]) / ((double)gp.alpha * xs * (1 << 30));
        if (ws[c] >= need)
            continue;
        for (int64_t i = 0; i < k; i++)
            wq[c * k + i] = (int8_t)lrint(wq[c * k + i] * ws[c] / need);
        ws[c] = (float)need;
    }
    for (int64_t c = 0; c < oc; c++) {
        float acc = gp.alpha * xs * ws[c];       /* one accumulator unit, in real terms */
        scales[c] = fold_out ? acc / (Y->cs ? Y->cs[c] : Y->s) : acc;
        if (bf) {
            double b = (double)gp.beta * bf[c] / acc;
            b32[c] = b > INT_MAX ? INT_MAX : b < INT_MIN ? INT_MIN : (int32_t)lrint(b);
        }
    }
    q8_layer ly = { wq, scales, b32, to_u8 && post && !Y->cs ? 1.0f / Y->s : 1.0f, binary, via_f32,
                    to_u8 };
    if ((ret = own_pointwise(p, ni, &cp, &ly, where, err, errlen)) != 0 ||
        (ret = own_depthwise(p, ni, &cp, &ly, where, err, errlen)) != 0 ||
        (ret = own_dense(p, ni, &cp, &ly, where, err, errlen)) != 0) {
        ret = ret > 0 ? 0 : ret;
        goto end;
    }
    int64_t cin_g = cp.cin / cp.group, khw = cp.kh * cp.kw;
    q8_exact ex = { 0, 0 };
    if (!dnn_cpu_has_vnni()) {
        ex.flip = X->cs != NULL;
        ex.twice = !(cin_g == 1 && cp.cout == cp.group) && may_clip(wq, oc, k);
    }
    if (ex.twice) {
        int8_t *w2 = split_weights(wq, oc, cin_g, khw);
        if (!w2)
            goto nomem;
        free(wq);
        wq = w2;
        cp.cin *= 2;
        sd[1] *= 2;
    }
    int xr;
    if ((ret = prep(p, ni, x, cp.group, &ex, &xr, where, err, errlen)) < 0)
        goto end;
    if (!(attr = dnn_attr_new()) || dnnl_post_ops_create(&po) != dnnl_success)
        goto nomem;
    if (post_chain(n, ly.k, po) < 0) {
        snprintf(err, errlen, "%s: cannot express its activations as int8 post-ops", where);
        ret = ENG_EUNSUP;
        goto end;
    }
    /* after the activations, each channel by 1 / its scale */
    dnnl_memory_desc_t fmd;
    int fidx = -1;
    if (binary) {
        dnnl_dims_t fd = { 1, oc, 1, 1 };
        dnnl_memory_desc_init_by_tag(&fmd, 4, fd, dnnl_f32, dnnl_abcd);
        DNN_TRY(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &fmd));
        fidx = dnnl_post_ops_len(po) - 1;
    }
    /* oneDNN adds the zero point before it rounds; in float32 near 255 that
     * moves values within 4e-6 of a half to the wrong side.  QuantizeLinear
     * rounds first: so do we. */
    if (to_u8 && Y->z)
        DNN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_round, 0, 0));
    DNN_TRY(dnnl_primitive_attr_set_post_ops(attr, po));
    DNN_TRY(dnnl_primitive_attr_set_output_scales(attr, oc, 1 << 1, scales));
    int32_t zx = ex.flip ? 128 : X->z, zy = Y->z;
    if (zx)
        DNN_TRY(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &zx));
    if (to_u8 && zy)
        DNN_TRY(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &zy));

    dnnl_memory_desc_t src, wei, wplain, bias, dst;
    int64_t wd[5];
    int wnd;
    if (cp.group > 1) {
        int64_t w5[5] = { cp.group, cp.cout / cp.group, cp.cin / cp.group, cp.kh, cp.kw };
        memcpy(wd, w5, sizeof w5);
        wnd = 5;
    } else {
        int64_t w4[4] = { cp.cout, cp.cin, cp.kh, cp.kw };
        memcpy(wd, w4, sizeof w4);
        wnd = 4;
    }
    dnnl_dims_t dw;
    for (int i = 0; i < wnd; i++)
        dw[i] = wd[i];
    md_nhwc(&src, sd, X->cs && !ex.flip ? dnnl_s8 : dnnl_u8);
    md_nhwc(&dst, od, !to_u8 || via_f32 ? dnnl_f32 : Y->cs ? dnnl_s8 : dnnl_u8);
    dnnl_memory_desc_init_by_tag(&wei, wnd, dw, dnnl_s8, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&wplain, wnd, dw, dnnl_s8, wnd == 5 ? dnnl_goihw : dnnl_oihw);
    dnnl_dims_t bd = { oc };
    dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_s32, dnnl_x);
    dnnl_dims_t strides = { cp.sh, cp.sw }, dil = { cp.dh - 1, cp.dw - 1 };
    dnnl_dims_t pl = { cp.pt, cp.pl }, pr = { cp.pb, cp.pr };
    dnnl_convolution_desc_t cd;
    DNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
            dnnl_convolution_direct, &src, &wei, &bias, &dst, strides, dil, pl, pr));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, p->pl.c->eng, NULL));

    int yw = via_f32 ? stage(p, y) : y;
    if (!(s = q8_step_new(p, S_PRIM, ni, xr, -1, yw)))
        goto nomem;
    /* the source and destination as the primitive sees their bytes */
    pl_step *st = &p->pl.s[p->pl.ns - 1];
    int vx = pl_view(&p->pl, xr, &src), vy = pl_view(&p->pl, yw, &dst), vw, vb, vf = -1;
    dnnl_memory_t wm, bm;
    if (vx < 0 || vy < 0)
        goto nomem;
    if ((ret = pl_step_prim(&p->pl, st, pd, where, err, errlen)) < 0)
        goto end;
    snprintf(s->impl, sizeof s->impl, "%s", st->impl);
    if (fidx >= 0) {
        dnnl_memory_t fm = NULL;
        float *f;
        DNN_TRY(dnnl_memory_create(&fm, &fmd, p->pl.c->eng, DNNL_MEMORY_ALLOCATE));
        if ((vf = pl_const(&p->pl, &fmd, fm, 1)) < 0) {
            dnnl_memory_destroy(fm);
            goto nomem;
        }
        DNN_TRY(dnnl_memory_get_data_handle(fm, (void **)&f));
        for (int64_t c = 0; c < oc; c++)
            f[c] = 1.0f / Y->cs[c];
    }
    /* keyed by node: weights (0) and bias (1) in accumulator units are the node's own */
    if ((ret = dnn_weight(p->pl.c, ni, 0, &wplain, wq, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                          &wm, where, err, errlen)) < 0 ||
        (ret = dnn_weight(p->pl.c, ni, 1, &bias, b32, &bias, &bm, where, err, errlen)) < 0)
        goto end;
    if ((vw = pl_const(&p->pl, NULL, wm, 0)) < 0 || (vb = pl_const(&p->pl, NULL, bm, 0)) < 0)
        goto nomem;
    pl_step_arg(&p->pl, st, DNNL_ARG_SRC, vx);
    pl_step_arg(&p->pl, st, DNNL_ARG_WEIGHTS, vw);
    pl_step_arg(&p->pl, st, DNNL_ARG_BIAS, vb);
    pl_step_arg(&p->pl, st, DNNL_ARG_DST, vy);
    if (vf >= 0)
        pl_step_arg(&p->pl, st, DNNL_ARG_ATTR_MULTIPLE_POST_OP(fidx) | DNNL_ARG_SRC_1, vf);
    if (via_f32) {
        if (!(s = q8_step_new(p, S_QCH, ni, yw, -1, y)))
            goto nomem;
        snprintf(s->impl, sizeof s->impl, "loop (per channel)");
    }
end:
    dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    free(wq);
    free(ws);
    free(bf);
    free(scales);
    free(b32);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

