/* int8.c: int8 plans (see dnn.h).
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
 * per-channel multiply after its activations. */
#include "engine/dnn/dnn.h"

#include <float.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dnn/onednn.h"
#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/dnn/q8_elem.h"
#include "engine/graph/quant.h"

enum { S_PRIM, S_LUT, S_BIN, S_CMUL, S_MEAN, S_DEQ, S_SOFTMAX, S_QCH, S_PREP };

typedef struct {
    int dt;                      /* G_U8 (quantised bytes) or G_F32 */
    float s;
    int z;
    const float *cs;             /* per-channel scales (int8, zero 0), or NULL */
    int nd;
    int64_t d[G_MAX_DIMS];
    int alias;                   /* value whose storage this view shares, or -1 */
    int def, last;               /* defining step (-1: graph input), last reader */
    int live;                    /* computed by some step */
    size_t off;
} qval;

typedef struct {
    int kind, node;
    int a, b, y;                 /* values read and written (-1: none) */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t amd, ymd, smd;
    dnnl_memory_t am, ym, wm, bm, sm;   /* wm, bm: borrowed from the ctx */
    dnnl_memory_t fm;            /* per-channel output factors of a binary post-op */
    int fidx;                    /* that post-op's index */
    uint8_t lut[256];
    int op;                      /* S_BIN: 0 multiply, 1 add; S_PREP: copies of each group */
    uint8_t flip;                /* S_PREP: xor on every byte (int8 -> uint8 + 128) */
    int64_t outer, inner, c;
    char impl[40];
} qstep;

struct q8_plan {
    dnn_ctx *c;
    const gr_graph *g;
    int batch;
    qval *v;                     /* one per tensor, one per dequantised output, then
                                  * one float staging value per tensor (stage()), then
                                  * one prepared convolution source per tensor (prep()) */
    int nv;
    qstep *s;
    int ns, caps;
    int *out_v;
    unsigned char *absorbed;     /* HardSigmoid nodes folded into their Mul */
    int64_t (*dims)[G_MAX_DIMS];
    void *arena, *scratch;
    size_t arena_size, scratch_size;
};

/* ------------------------------------------------------------ values */

static int root(const q8_plan *p, int v)
{
    while (p->v[v].alias >= 0)
        v = p->v[v].alias;
    return v;
}

static void *vptr(const q8_plan *p, int v)
{
    return (char *)p->arena + p->v[root(p, v)].off;
}

static int64_t numel(const qval *v)
{
    return gr_numel(v->nd, v->d);
}

static size_t vbytes(const qval *v)
{
    size_t s = (size_t)numel(v) * (v->dt == G_U8 ? 1 : sizeof(float));
    return (s + ALIGN - 1) / ALIGN * ALIGN;
}

static void touch(q8_plan *p, int v, int step)
{
    p->v[v].last = step > p->v[v].last ? step : p->v[v].last;
    if (p->v[v].alias >= 0)
        touch(p, p->v[v].alias, step);
}

static qstep *step_new(q8_plan *p, int kind, int node, int a, int b, int y)
{
    if (p->ns == p->caps) {
        int cap = p->caps ? p->caps * 2 : 64;
        qstep *s = realloc(p->s, sizeof(*s) * (size_t)cap);
        if (!s)
            return NULL;
        p->s = s;
        p->caps = cap;
    }
    qstep *s = &p->s[p->ns];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->node = node;
    s->a = a;
    s->b = b;
    s->y = y;
    if (a >= 0)
        touch(p, a, p->ns);
    if (b >= 0)
        touch(p, b, p->ns);
    p->v[y].def = p->ns;
    p->v[y].last = p->ns;
    p->v[y].live = 1;
    p->ns++;
    return s;
}

/* A computed, quantised input of node n, or an error naming it. */
static int need_u8(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (t < 0 || !p->v[t].live) {
        snprintf(err, errlen, "%s: input '%s' is not computed", where, t >= 0 ? p->g->t[t].name : "?");
        return ENG_EMODEL;
    }
    if (p->v[t].dt != G_U8) {
        snprintf(err, errlen, "%s: input '%s' has no int8 parameters (neither a QDQ model "
                 "nor in the calibration file)", where, p->g->t[t].name);
        return ENG_EUNSUP;
    }
    return 0;
}

static int need_u8_out(const q8_plan *p, int t, const char *where, char *err, size_t errlen);

static float deq(const qval *v, int q)
{
    return v->s * (float)(q - v->z);
}

/* A byte of value v in channel c, as a real number (per-channel: int8). */
static float deq_c(const qval *v, uint8_t q, int64_t c)
{
    return v->cs ? v->cs[c] * (float)(int8_t)q : deq(v, q);
}

static uint8_t q_s8(float r, float scale)
{
    float q = nearbyintf(r / scale);
    return (uint8_t)(int8_t)(q <= -128 ? -128 : q >= 127 ? 127 : q);
}

static int64_t channels(const qval *v)
{
    return v->nd >= 2 ? v->d[1] : 1;
}

static int no_channels(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (t < 0 || !p->v[t].cs)
        return 0;
    snprintf(err, errlen, "%s: '%s' has per-channel int8 scales, which this operation does not "
             "take", where, p->g->t[t].name);
    return ENG_EUNSUP;
}

/* ------------------------------------------------------- convolution */

static void md_nhwc(dnnl_memory_desc_t *md, const int64_t *d, dnnl_data_type_t dt)
{
    dnnl_dims_t x = { d[0], d[1], d[2], d[3] };
    dnnl_memory_desc_init_by_tag(md, 4, x, dt, dnnl_acdb);
}

/* Float weights times their input channel's scale, quantised per output
 * channel: the convolution then reads int8 inputs as they are. */
static int fold_weights(const gr_graph *g, int t, const conv_params *cp, int transpose,
                        const float *in_scale, int8_t **wq, float **ws, char *err, size_t errlen)
{
    int64_t n = cp->cout, k = cp->cin / cp->group * cp->kh * cp->kw;
    int64_t per_group = cp->cout / cp->group, cin_g = cp->cin / cp->group, khw = cp->kh * cp->kw;
    float *f = q_const_floats(g, t), *v = malloc(sizeof(float) * (size_t)(n * k));
    int8_t *q = malloc((size_t)(n * k));
    float *s = malloc(sizeof(float) * (size_t)n);
    if (!f || !v || !q || !s) {
        snprintf(err, errlen, "weights '%s' are not constant (or out of memory)", g->t[t].name);
        free(f);
        free(v);
        free(q);
        free(s);
        return f ? ENG_ENOMEM : ENG_EMODEL;
    }
    for (int64_t o = 0; o < n; o++) {
        float mx = 0;
        for (int64_t i = 0; i < k; i++) {
            int64_t ci = o / per_group * cin_g + i / khw;
            float w = (transpose ? f[i * n + o] : f[o * k + i]) * in_scale[ci];
            v[o * k + i] = w;
            mx = fabsf(w) > mx ? fabsf(w) : mx;
        }
        s[o] = mx > 0 ? mx / 127.0f : 1.0f;
        for (int64_t i = 0; i < k; i++) {
            float r = nearbyintf(v[o * k + i] / s[o]);
            q[o * k + i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
        }
    }
    free(f);
    free(v);
    *wq = q;
    *ws = s;
    return 0;
}

/* Weights as int8 with per-output-channel scales, and the bias as floats
 * (one per output channel) or NULL. */
static int q8_weights_for(q8_plan *p, const gr_node *n, const conv_params *cp,
                          const gemm_params *gp, const float *in_scale, int8_t **wq, float **ws,
                          float **bf, const char *where, char *err, size_t errlen)
{
    const gr_graph *g = p->g;
    int gemm = n->op == OP_GEMM, ret;
    char e[256];
    if (in_scale)
        ret = fold_weights(g, n->in[1], cp, gemm && !gp->tb, in_scale, wq, ws, e, sizeof e);
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
 * k != 1, as eltwise post-ops.  oneDNN 2.6's int8 kernels get a chain with
 * two linear steps wrong (linear(0.5) then linear(100) gives 0), so k is
 * moved back through clips and ReLU and merged into an earlier linear
 * (hardsigmoid(x) * k = clip(x * k/6 + k/2, 0, k)). */
static int post_chain(const gr_node *n, float k, dnnl_post_ops_t po)
{
    qpost l[G_MAX_POST + 1];
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
    for (int i = 0; i < m; i++) {
        linears += l[i].alg == dnnl_eltwise_linear;
        if (dnnl_post_ops_append_eltwise(po, 1.0f, l[i].alg, l[i].a, l[i].b) != dnnl_success)
            return -1;
    }
    return linears > 1 ? -1 : 0;
}

/* The float staging value of tensor y: its shape, float. */
static int stage(q8_plan *p, int y)
{
    int t = p->g->nt + p->g->noutputs + y;
    p->v[t] = p->v[y];
    p->v[t].dt = G_F32;
    p->v[t].cs = NULL;
    p->v[t].alias = -1;
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
    int t = p->g->nt + p->g->noutputs + p->g->nt + x;
    qval *P = &p->v[t];
    if (!ex->flip && !ex->twice) {
        *out = x;
        return 0;
    }
    if (P->live) {
        const qstep *s = &p->s[P->def];
        if (s->op == 1 + ex->twice && s->flip == (ex->flip ? 0x80 : 0) && s->outer == groups) {
            *out = t;
            return 0;
        }
        snprintf(err, errlen, "%s: '%s' is read by int8 convolutions of two kinds; on %s (no "
                 "VNNI) lcnetd cannot run both exactly", where, p->g->t[x].name, eng_cpu_isa());
        return ENG_EUNSUP;
    }
    *P = p->v[x];
    P->alias = -1;
    P->cs = NULL;
    P->z = ex->flip ? 128 : p->v[x].z;
    P->d[1] *= 1 + ex->twice;
    qstep *s = step_new(p, S_PREP, ni, x, -1, t);
    if (!s)
        return ENG_ENOMEM;
    s->op = 1 + ex->twice;
    s->flip = ex->flip ? 0x80 : 0;
    s->outer = groups;
    s->c = channels(&p->v[x]) / groups;
    s->inner = numel(&p->v[x]) / channels(&p->v[x]);
    snprintf(s->impl, sizeof s->impl, "loop (%s%s)", ex->twice ? "twice" : "",
             ex->flip ? ex->twice ? ", as uint8" : "as uint8" : "");
    *out = t;
    return 0;
}

/* Conv, or Gemm as a 1x1 conv over [N, K, 1, 1]. */
static int c_conv(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int gemm = n->op == OP_GEMM, x = n->in[0], y = n->out[0], ret;
    conv_params cp;
    gemm_params gp = { 1, 1, 0, 0 };
    int8_t *wq = NULL;
    float *ws = NULL, *bf = NULL, *scales = NULL;
    int32_t *b32 = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    qstep *s;

    if ((ret = need_u8(p, x, where, err, errlen)) < 0)
        return ret;
    const qval *X = &p->v[x];
    qval *Y = &p->v[y];
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
        cp.cout = p->dims[y][1];
        int64_t s4[4] = { X->d[0], X->d[1], 1, 1 }, o4[4] = { X->d[0], cp.cout, 1, 1 };
        memcpy(sd, s4, sizeof sd);
        memcpy(od, o4, sizeof od);
    } else {
        if ((ret = conv_get(p->g, n, &cp, err, errlen)) < 0)
            return ret;
        memcpy(sd, X->d, sizeof sd);
        memcpy(od, p->dims[y], sizeof od);
    }
    int post = n->npost > 0, to_u8 = Y->dt == G_U8;
    if (to_u8 && !X->cs != !Y->cs) {
        snprintf(err, errlen, "%s: '%s' and '%s' must both have per-channel int8 scales, or "
                 "neither", where, p->g->t[x].name, p->g->t[y].name);
        return ENG_EUNSUP;
    }
    if (X->cs && (cp.cin != channels(X) || cp.group < 1 || cp.cout % cp.group)) {
        snprintf(err, errlen, "%s: %lld per-channel scales for %lld input channels", where,
                 (long long)channels(X), (long long)cp.cin);
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
    if (post_chain(n, to_u8 && post && !Y->cs ? 1.0f / Y->s : 1.0f, po) < 0) {
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
    DNN_TRY(dnnl_primitive_desc_create(&pd, &cd, attr, p->c->eng, NULL));

    int yw = via_f32 ? stage(p, y) : y;
    if (!(s = step_new(p, S_PRIM, ni, xr, -1, yw)))
        goto nomem;
    s->amd = src;
    s->ymd = dst;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(s->impl, sizeof s->impl, "%s", impl);
    const dnnl_memory_desc_t *sm = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (sm && dnnl_memory_desc_get_size(sm) > 0) {
        s->smd = *sm;
        if (dnnl_memory_desc_get_size(sm) > p->scratch_size)
            p->scratch_size = dnnl_memory_desc_get_size(sm);
    }
    DNN_TRY(dnnl_primitive_create(&s->prim, pd));
    if (fidx >= 0) {
        float *f;
        s->fidx = fidx;
        DNN_TRY(dnnl_memory_create(&s->fm, &fmd, p->c->eng, DNNL_MEMORY_ALLOCATE));
        DNN_TRY(dnnl_memory_get_data_handle(s->fm, (void **)&f));
        for (int64_t c = 0; c < oc; c++)
            f[c] = 1.0f / Y->cs[c];
    }
    /* keyed by node: weights (0) and bias (1) in accumulator units are the node's own */
    if ((ret = dnn_weight(p->c, ni, 0, &wplain, wq, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                          &s->wm, where, err, errlen)) < 0 ||
        (ret = dnn_weight(p->c, ni, 1, &bias, b32, &bias, &s->bm, where, err, errlen)) < 0)
        goto end;
    if (via_f32) {
        if (!(s = step_new(p, S_QCH, ni, yw, -1, y)))
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

/* ------------------------------------------------ elementwise tables */

/* The real function of a one-input activation node: its row's. */
static float act(const q8_plan *p, const gr_node *n, float v)
{
    return gr_op(n->op)->scalar(p->g, n, v);
}

static int is_act(gr_opkind op)
{
    return gr_op(op)->cls == OPC_ELTWISE && gr_op(op)->scalar;
}

static int c_lut(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = need_u8(p, x, where, err, errlen)) < 0 || (ret = need_u8_out(p, y, where, err, errlen)) < 0 ||
        (ret = no_channels(p, x, where, err, errlen)) < 0 || (ret = no_channels(p, y, where, err, errlen)) < 0)
        return ret;
    qstep *s = step_new(p, S_LUT, ni, x, -1, y);
    if (!s)
        return ENG_ENOMEM;
    for (int q = 0; q < 256; q++)
        s->lut[q] = q_u8(act(p, n, deq(&p->v[x], q)), p->v[y].s, p->v[y].z);
    snprintf(s->impl, sizeof s->impl, "table");
    return 0;
}

/* HardSigmoid node producing t from x alone, used only here: x * h(x) is a
 * function of x's byte, with h's own rounding kept. */
static int gate_of(const q8_plan *p, int t, int x)
{
    int pr = p->g->t[t].producer;
    if (pr < 0 || !is_act(p->g->n[pr].op) || p->g->n[pr].in[0] != x || p->g->t[t].nuse != 1 ||
        p->g->t[t].is_output)
        return -1;
    return pr;
}

static int c_binary(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    const gr_graph *g = p->g;
    const gr_opdef *op = gr_op(n->op);
    int a = n->in[0], b = n->in[1], y = n->out[0], ret;
    float k;
    qstep *s;
    if ((ret = need_u8_out(p, y, where, err, errlen)) < 0)
        return ret;
    const qval *Y = &p->v[y];
    int chan = Y->cs || p->v[a].cs || p->v[b].cs;
    /* x * act(x): one table */
    for (int side = 0; op->bin == GB_MUL && side < 2; side++) {
        int x = side ? b : a, h = side ? a : b, hn = gate_of(p, h, x);
        if (hn < 0 || !p->absorbed[hn] || chan)
            continue;
        if ((ret = need_u8(p, x, where, err, errlen)) < 0)
            return ret;
        if (!g->t[h].qset) {
            snprintf(err, errlen, "%s: '%s' has no int8 parameters", where, g->t[h].name);
            return ENG_EUNSUP;
        }
        if (!(s = step_new(p, S_LUT, ni, x, -1, y)))
            return ENG_ENOMEM;
        for (int q = 0; q < 256; q++) {
            float xr = deq(&p->v[x], q);
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
        if ((ret = need_u8(p, x, where, err, errlen)) < 0)
            return ret;
        if (!(s = step_new(p, S_LUT, ni, x, -1, y)))
            return ENG_ENOMEM;
        for (int q = 0; q < 256; q++) {
            float xr = deq(&p->v[x], q);
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
    if ((ret = need_u8(p, a, where, err, errlen)) < 0 || (ret = need_u8(p, b, where, err, errlen)) < 0)
        return ret;
    const qval *A = &p->v[a], *B = &p->v[b];
    if (numel(A) < numel(B)) {
        const qval *t = A;
        A = B;
        B = t;
        int ti = a;
        a = b;
        b = ti;
    }
    if (numel(A) == numel(B) && A->nd == B->nd) {
        if ((ret = no_channels(p, a, where, err, errlen)) < 0 ||
            (ret = no_channels(p, b, where, err, errlen)) < 0 ||
            (ret = no_channels(p, y, where, err, errlen)) < 0)
            return ret;
        if (!(s = step_new(p, S_BIN, ni, a, b, y)))
            return ENG_ENOMEM;
        s->op = op->bin == GB_ADD;
        s->outer = numel(A);
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
        if (!(s = step_new(p, S_CMUL, ni, a, b, y)))
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
    const gr_node *n = &p->g->n[ni];
    int x = n->in[0], y = n->out[0], ret;
    if ((ret = need_u8(p, x, where, err, errlen)) < 0)
        return ret;
    const qval *X = &p->v[x];
    unsigned mask = 3u << 2;
    int keep = 1;
    if (n->op == OP_REDUCEMEAN && (ret = reduce_axes(p->g, n, X->nd, &mask, &keep, err, errlen)) < 0)
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
    qstep *s = step_new(p, S_MEAN, ni, x, -1, y);
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
    const gr_node *n = &p->g->n[ni];
    int x = n->in[0], y = n->out[0];
    const qval *X = &p->v[x];
    if (!X->live || softmax_axis(p->g, n, X->nd) != X->nd - 1 || p->v[y].dt != G_F32 ||
        (X->nd == 4 && X->d[2] * X->d[3] != 1)) {
        snprintf(err, errlen, "%s: int8 plans take Softmax over the last axis of a float tail only",
                 where);
        return ENG_EUNSUP;
    }
    qstep *s = step_new(p, S_SOFTMAX, ni, x, -1, y);
    if (!s)
        return ENG_ENOMEM;
    s->c = X->d[X->nd - 1];
    s->outer = numel(X) / s->c;
    snprintf(s->impl, sizeof s->impl, "loop");
    return 0;
}

/* Reshape-like nodes share storage when NHWC bytes read the same as the
 * NCHW order they claim: no spatial extent, or the same shape. */
static int c_view(q8_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x = n->in[0], y = n->out[0];
    qval *X = &p->v[x], *Y = &p->v[y];
    if (!X->live) {
        snprintf(err, errlen, "%s: input '%s' is not computed", where, p->g->t[x].name);
        return ENG_EMODEL;
    }
    int same = X->nd == Y->nd && !memcmp(X->d, Y->d, sizeof(int64_t) * (size_t)X->nd);
    if (!same && X->nd == 4 && X->d[2] * X->d[3] != 1) {
        snprintf(err, errlen, "%s: int8 plans cannot flatten a tensor with height and width "
                 "(%s)", where, p->g->t[x].name);
        return ENG_EUNSUP;
    }
    Y->dt = X->dt;
    Y->s = X->s;
    Y->z = X->z;
    Y->cs = X->cs;
    Y->alias = x;
    Y->live = 1;
    Y->def = X->def;
    Y->last = X->def;
    return 0;
}

static int need_u8_out(const q8_plan *p, int t, const char *where, char *err, size_t errlen)
{
    if (p->v[t].dt == G_U8)
        return 0;
    snprintf(err, errlen, "%s: output '%s' has no int8 parameters (neither a QDQ model nor in the "
             "calibration file)", where, p->g->t[t].name);
    return ENG_EUNSUP;
}

/* ------------------------------------------------------------ compile */

typedef int compile_fn(q8_plan *p, int ni, const char *where, char *err, size_t errlen);

/* What compiles a node, by its operator's class (ops.h). */
static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = c_conv, [OPC_GEMM] = c_conv, [OPC_ELTWISE] = c_lut, [OPC_BINARY] = c_binary,
    [OPC_MEAN] = c_mean, [OPC_SOFTMAX] = c_softmax, [OPC_VIEW] = c_view, [OPC_COPY] = c_view,
};

static int compile_node(q8_plan *p, int ni, char *err, size_t errlen)
{
    const gr_graph *g = p->g;
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

/* Mul(x, act(x)) with act used nowhere else becomes one table (see c_binary). */
static void find_gates(q8_plan *p)
{
    const gr_graph *g = p->g;
    for (int i = 0; i < g->nn; i++) {
        const gr_node *m = &g->n[i];
        if (m->dead || gr_op(m->op)->bin != GB_MUL || m->nin != 2)
            continue;
        for (int side = 0; side < 2; side++) {
            int hn = gate_of(p, m->in[side], m->in[1 - side]);
            if (hn >= 0 && g->t[m->in[side]].qset && !g->t[m->in[side]].qch) {
                p->absorbed[hn] = 1;
                break;
            }
        }
    }
}

static int allocate(q8_plan *p, char *err, size_t errlen)
{
    dnn_block *live = malloc(sizeof(dnn_block) * (size_t)(p->nv + 1));
    size_t peak = 0;
    int nlive = 0;
    if (!live)
        goto nomem;
    for (int si = -1; si < p->ns; si++) {
        for (int i = 0; i < p->nv; i++)
            if (p->v[i].live && p->v[i].alias < 0 && p->v[i].def == si)
                p->v[i].off = dnn_place(live, &nlive, vbytes(&p->v[i]), i, &peak);
        for (int i = 0; i < p->nv; i++)
            if (p->v[i].live && p->v[i].alias < 0 && p->v[i].last == si && si >= 0)
                dnn_unplace(live, &nlive, i);
    }
    free(live);
    p->arena_size = peak;
    if (!(p->arena = aligned_alloc(ALIGN, peak ? peak : ALIGN)))
        goto nomem;
    memset(p->arena, 0, peak ? peak : ALIGN);
    if (p->scratch_size &&
        !(p->scratch = aligned_alloc(ALIGN, (p->scratch_size + ALIGN - 1) / ALIGN * ALIGN)))
        goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory for int8 activations");
    return ENG_ENOMEM;
}

static int bind(q8_plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->ns; i++) {
        qstep *s = &p->s[i];
        if (s->kind != S_PRIM)
            continue;
        if (dnnl_memory_create(&s->am, &s->amd, p->c->eng, vptr(p, s->a)) != dnnl_success ||
            dnnl_memory_create(&s->ym, &s->ymd, p->c->eng, vptr(p, s->y)) != dnnl_success ||
            (s->smd.ndims &&
             dnnl_memory_create(&s->sm, &s->smd, p->c->eng, p->scratch) != dnnl_success)) {
            snprintf(err, errlen, "cannot create int8 memory objects");
            return ENG_ENOMEM;
        }
    }
    return 0;
}

int q8_compile(q8_plan **out, dnn_ctx *c, const gr_graph *g, int batch, char *err, size_t errlen)
{
    q8_plan *p = calloc(1, sizeof(*p));
    int ret = ENG_ENOMEM;
    *out = NULL;
    if (!p)
        goto nomem;
    p->c = c;
    p->g = g;
    p->batch = batch;
    p->nv = g->nt + g->noutputs + 2 * g->nt;
    p->v = calloc((size_t)p->nv, sizeof(qval));
    p->dims = malloc(sizeof(*p->dims) * (size_t)(g->nt ? g->nt : 1));
    p->out_v = malloc(sizeof(int) * (size_t)(g->noutputs + 1));
    p->absorbed = calloc((size_t)(g->nn ? g->nn : 1), 1);
    if (!p->v || !p->dims || !p->out_v || !p->absorbed)
        goto nomem;
    if ((ret = gr_shapes_for_batch(g, batch, p->dims, err, errlen)) < 0)
        goto fail;
    for (int t = 0; t < p->nv; t++) {
        qval *v = &p->v[t];
        v->alias = -1;
        v->def = v->last = -2;
        if (t >= g->nt)
            continue;
        v->dt = g->t[t].qset ? G_U8 : G_F32;
        v->s = g->t[t].qscale;
        v->z = g->t[t].qzero;
        v->nd = g->t[t].ndim;
        memcpy(v->d, p->dims[t], sizeof v->d);
        if (g->t[t].qset && g->t[t].qch) {
            if (g->t[t].nqch != channels(v)) {
                snprintf(err, errlen, "'%s': %d per-channel scales for %lld channels", g->t[t].name,
                         g->t[t].nqch, (long long)channels(v));
                ret = ENG_EMODEL;
                goto fail;
            }
            v->cs = g->t[t].qch;
            v->z = 0;
        }
    }
    if (g->ninputs != 1) {
        snprintf(err, errlen, "int8 plans take one image input; the model has %d inputs", g->ninputs);
        ret = ENG_EUNSUP;
        goto fail;
    }
    int in = g->inputs[0];
    if (p->v[in].dt != G_U8 || p->v[in].nd != 4) {
        snprintf(err, errlen, "input '%s' has no int8 parameters (neither a QDQ model nor in "
                 "the calibration file)", g->t[in].name);
        ret = ENG_EUNSUP;
        goto fail;
    }
    p->v[in].live = 1;
    p->v[in].def = p->v[in].last = -1;
    find_gates(p);
    for (int i = 0; i < g->nn; i++) {
        if (g->n[i].dead)
            continue;
        if ((ret = compile_node(p, i, err, errlen)) < 0)
            goto fail;
    }
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i];
        if (!p->v[t].live) {
            snprintf(err, errlen, "graph output '%s' is not computed", g->t[t].name);
            ret = ENG_EMODEL;
            goto fail;
        }
        p->out_v[i] = t;
        if (p->v[t].dt == G_U8) {
            int o = g->nt + i;
            p->v[o] = p->v[t];
            p->v[o].dt = G_F32;
            p->v[o].alias = -1;
            if (!step_new(p, S_DEQ, -1, t, -1, o))
                goto nomem;
            p->out_v[i] = o;
        }
        p->v[p->out_v[i]].last = INT_MAX;
        touch(p, p->out_v[i], INT_MAX);
    }
    if ((ret = allocate(p, err, errlen)) < 0 || (ret = bind(p, err, errlen)) < 0)
        goto fail;
    *out = p;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling int8 for batch %d", batch);
    ret = ENG_ENOMEM;
fail:
    q8_plan_free(p);
    return ret;
}

void q8_plan_free(q8_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ns; i++) {
        dnnl_primitive_destroy(p->s[i].prim);
        dnnl_memory_destroy(p->s[i].am);
        dnnl_memory_destroy(p->s[i].ym);
        dnnl_memory_destroy(p->s[i].sm);
        dnnl_memory_destroy(p->s[i].fm);
    }
    free(p->s);
    free(p->v);
    free(p->dims);
    free(p->out_v);
    free(p->absorbed);
    free(p->arena);
    free(p->scratch);
    free(p);
}

/* ---------------------------------------------------------------- run */

/* A 256-byte table lookup, 64 bytes at a time: two two-register byte
 * permutes cover the low and high halves of the table, the index's top
 * bit picks between them.  A scalar loop runs ~2 cycles a byte, and the
 * tables would otherwise cost as much as all the convolutions. */
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static void lut_vbmi(const uint8_t *lut, const uint8_t *x, uint8_t *y, int64_t n)
{
    __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
    __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i v = _mm512_loadu_si512(x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        __mmask64 top = _mm512_movepi8_mask(v);
        _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(top, lo, hi));
    }
    for (; i < n; i++)
        y[i] = lut[x[i]];
}
#endif

static void run_lut(const qstep *s, const uint8_t *x, uint8_t *y, int64_t n)
{
#if defined(__x86_64__)
    if (eng_cpu_features() & ENG_CPU_VBMI) {
        lut_vbmi(s->lut, x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        y[i] = s->lut[x[i]];
}

static uint8_t requant(float r, float inv, int z)
{
    float q = nearbyintf(r * inv) + (float)z;
    return q <= 0 ? 0 : q >= 255 ? 255 : (uint8_t)q;
}

static void run_bin(const q8_plan *p, const qstep *s)
{
    const qval *A = &p->v[s->a], *B = &p->v[s->b], *Y = &p->v[s->y];
    const uint8_t *a = vptr(p, s->a), *b = vptr(p, s->b);
    uint8_t *y = vptr(p, s->y);
    float inv = 1.0f / Y->s;
    int64_t n = s->outer;
    #pragma omp parallel for if (n > (1 << 16)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float ar = A->s * (float)(a[i] - A->z), br = B->s * (float)(b[i] - B->z);
        y[i] = requant(s->op ? ar + br : ar * br, inv, Y->z);
    }
}

/* y[n, hw, c] = x[n, hw, c] * g[n, c], NHWC; uint8 with zero points, or
 * int8 with per-channel scales on all three */
static void run_cmul(const q8_plan *p, const qstep *s)
{
    const qval *A = &p->v[s->a], *B = &p->v[s->b], *Y = &p->v[s->y];
    const uint8_t *a = vptr(p, s->a), *b = vptr(p, s->b);
    uint8_t *y = vptr(p, s->y);
    int64_t C = s->c;
    int chan = A->cs != NULL;
    float f[C > 0 ? C : 1], za = chan ? 0 : (float)A->z, zy = chan ? 0 : (float)Y->z;
    for (int64_t n = 0; n < s->outer; n++) {
        for (int64_t c = 0; c < C; c++)
            f[c] = chan ? B->cs[c] * (float)(int8_t)b[n * C + c] * A->cs[c] / Y->cs[c]
                        : B->s * (float)(b[n * C + c] - B->z) * A->s / Y->s;
        q8e_chmul(a + n * s->inner * C, f, s->inner, C, chan, za, zy, y + n * s->inner * C);
    }
}

static void run_mean(const q8_plan *p, const qstep *s)
{
    const qval *A = &p->v[s->a], *Y = &p->v[s->y];
    const uint8_t *a = vptr(p, s->a);
    int64_t C = s->c;
    int32_t sum[C > 0 ? C : 1];
    for (int64_t n = 0; n < s->outer; n++) {
        q8e_colsum(a + n * s->inner * C, s->inner, C, A->cs != NULL, sum);
        for (int64_t c = 0; c < C; c++) {
            float r = A->cs ? A->cs[c] * (float)sum[c] / (float)s->inner
                            : A->s * ((float)sum[c] / (float)s->inner - (float)A->z);
            if (Y->dt == G_U8 && Y->cs)
                ((uint8_t *)vptr(p, s->y))[n * C + c] = q_s8(r, Y->cs[c]);
            else if (Y->dt == G_U8)
                ((uint8_t *)vptr(p, s->y))[n * C + c] = q_u8(r, Y->s, Y->z);
            else
                ((float *)vptr(p, s->y))[n * C + c] = r;
        }
    }
}

static void run_deq(const q8_plan *p, const qstep *s)
{
    const qval *A = &p->v[s->a];
    const uint8_t *a = vptr(p, s->a);
    float *y = vptr(p, s->y);
    int64_t C = channels(A);
    for (int64_t i = 0, n = numel(A); i < n; i++)
        y[i] = deq_c(A, a[i], i % C);       /* NHWC: channels innermost */
}

static void run_qch(const q8_plan *p, const qstep *s)
{
    const qval *Y = &p->v[s->y];
    const float *x = vptr(p, s->a);
    uint8_t *y = vptr(p, s->y);
    int64_t C = channels(Y);
    for (int64_t i = 0, n = numel(Y); i < n; i++)
        y[i] = q_s8(x[i], Y->cs[i % C]);
}

/* n bytes, each xor flip: eight at a time, as most rows are multiples. */
static void copy_flip(uint8_t *restrict y, const uint8_t *restrict x, int64_t n, uint8_t flip)
{
    if (!flip) {
        memcpy(y, x, (size_t)n);
        return;
    }
    const uint64_t f = 0x0101010101010101ull * flip;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, x + i, 8);
        v ^= f;
        memcpy(y + i, &v, 8);
    }
    for (; i < n; i++)
        y[i] = x[i] ^ flip;
}

/* Each group's channels copied op times (1 or 2), every byte xor flip. */
static void run_prep(const q8_plan *p, const qstep *s)
{
    const uint8_t *x = vptr(p, s->a);
    uint8_t *y = vptr(p, s->y);
    int64_t rows = s->inner * s->outer, cg = s->c;
    if (s->op == 1) {                       /* the same layout: one pass */
        copy_flip(y, x, rows * cg, s->flip);
        return;
    }
    #pragma omp parallel for if (rows * cg > (1 << 16)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        copy_flip(y + r * 2 * cg, x + r * cg, cg, s->flip);
        memcpy(y + r * 2 * cg + cg, y + r * 2 * cg, (size_t)cg);
    }
}

static void run_softmax(const q8_plan *p, const qstep *s)
{
    const qval *A = &p->v[s->a];
    float *y = vptr(p, s->y);
    for (int64_t r = 0; r < s->outer; r++) {
        float *row = y + r * s->c, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < s->c; c++) {
            int64_t i = r * s->c + c;
            row[c] = A->dt == G_U8 ? deq_c(A, ((const uint8_t *)vptr(p, s->a))[i], c)
                                   : ((const float *)vptr(p, s->a))[i];
            mx = row[c] > mx ? row[c] : mx;
        }
        for (int64_t c = 0; c < s->c; c++)
            sum += (row[c] = expf(row[c] - mx));
        for (int64_t c = 0; c < s->c; c++)
            row[c] /= sum;
    }
}

int q8_run(q8_plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->ns; i++) {
        qstep *s = &p->s[i];
        if (s->kind == S_PRIM) {
            dnnl_exec_arg_t a[6] = { { DNNL_ARG_SRC, s->am }, { DNNL_ARG_WEIGHTS, s->wm },
                                     { DNNL_ARG_BIAS, s->bm }, { DNNL_ARG_DST, s->ym } };
            int na = 4;
            if (s->sm)
                a[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, s->sm };
            if (s->fm)
                a[na++] = (dnnl_exec_arg_t){ DNNL_ARG_ATTR_MULTIPLE_POST_OP(s->fidx) | DNNL_ARG_SRC_1,
                                             s->fm };
            dnnl_status_t st = dnnl_primitive_execute(s->prim, p->c->stream, na, a);
            if (st != dnnl_success) {
                char where[300];
                gr_node_desc(&p->g->n[s->node], where, sizeof where);
                return dnn_fail(st, "execute", where, err, errlen);
            }
            continue;
        }
        dnnl_stream_wait(p->c->stream);
        switch (s->kind) {
        case S_LUT: run_lut(s, vptr(p, s->a), vptr(p, s->y), numel(&p->v[s->a])); break;
        case S_BIN: run_bin(p, s); break;
        case S_CMUL: run_cmul(p, s); break;
        case S_MEAN: run_mean(p, s); break;
        case S_DEQ: run_deq(p, s); break;
        case S_SOFTMAX: run_softmax(p, s); break;
        case S_QCH: run_qch(p, s); break;
        case S_PREP: run_prep(p, s); break;
        }
    }
    dnnl_stream_wait(p->c->stream);
    return 0;
}

uint8_t *q8_input(q8_plan *p, int i)
{
    return vptr(p, p->g->inputs[i]);
}

uint8_t q8_input_byte(const q8_plan *p, int i, int c, float v)
{
    const qval *x = &p->v[p->g->inputs[i]];
    return x->cs ? q_s8(v, x->cs[c]) : q_u8(v, x->s, x->z);
}

const float *q8_output(q8_plan *p, int i)
{
    return vptr(p, p->out_v[i]);
}

void q8_plan_stats(const q8_plan *p, dnn_stats *s)
{
    s->steps = p->ns;
    s->reorders = 0;
    s->inplace = 0;
    s->arena = p->arena_size;
    s->weights = p->c->wbytes;
}

void q8_plan_dump(const q8_plan *p, void (*line)(void *, const char *), void *arg)
{
    static const char *kinds[] = { "conv", "table", "binary", "chmul", "mean", "deq", "softmax",
                                   "quant", "prep" };
    char buf[512], shape[96];
    for (int i = 0; i < p->ns; i++) {
        const qstep *s = &p->s[i];
        const qval *y = &p->v[s->y];
        gr_dims_str(shape, sizeof shape, y->nd, y->d);
        snprintf(buf, sizeof buf, "%3d %-8s %-28s %-4s %s -> %s", i, kinds[s->kind], s->impl,
                 y->dt == G_U8 ? "u8" : "f32", s->node >= 0 ? p->g->n[s->node].name : "(output)",
                 shape);
        line(arg, buf);
    }
}
