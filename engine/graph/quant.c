/* quant.c: QDQ folding, calibration files, int8 weights (see quant.h). */
#include "engine/graph/quant.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/file.h"
#include "engine/graph/ops.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return ENG_EMODEL; } while (0)

int q_is_qdq(const gr_graph *g)
{
    for (int i = 0; i < g->nn; i++)
        if (!g->n[i].dead && g->n[i].op == OP_QUANTIZE && !gr_is_const(g, g->n[i].in[0]))
            return 1;
    return 0;
}

/* Scale and zero point of a Q or DQ node, as uint8 parameters. */
static int node_qparams(const gr_graph *g, const gr_node *n, float *s, int *z, char *err,
                        size_t errlen)
{
    char where[300];
    gr_node_desc(n, where, sizeof where);
    if (gr_tensor_numel(&g->t[n->in[1]]) != 1)
        FAIL("%s: per-axis scales on an activation are unsupported (one scale per tensor)", where);
    float *v = gr_const_floats(g, n->in[1]);
    if (!v)
        return ENG_ENOMEM;
    *s = v[0];
    free(v);
    if (!(*s > 0) || !isfinite(*s))
        FAIL("%s: scale %g must be positive and finite", where, *s);
    *z = 0;
    int dt = G_U8;
    if (n->nin > 2 && n->in[2] >= 0) {
        const gr_tensor *zt = &g->t[n->in[2]];
        if (gr_tensor_numel(zt) != 1)
            FAIL("%s: per-axis zero points on an activation are unsupported", where);
        dt = zt->dtype;
        *z = dt == G_I8 ? ((const int8_t *)zt->data)[0] : dt == G_U8 ? ((const uint8_t *)zt->data)[0] : 0;
        if (dt != G_I8 && dt != G_U8)
            FAIL("%s: zero point is %s; 8-bit activations only", where, gr_dtype_name(dt));
    }
    if (dt == G_I8)
        *z += 128;            /* int8 q with zero z == uint8 q+128 with zero z+128 */
    return 0;
}

int q_fold_qdq(gr_graph *g, char *err, size_t errlen)
{
    char where[300];
    int ret;
    for (int i = 0; i < g->nn; i++) {
        gr_node *q = &g->n[i];
        if (q->dead || q->op != OP_QUANTIZE || gr_is_const(g, q->in[0]))
            continue;
        int x = q->in[0], xq = q->out[0];
        float s;
        int z;
        gr_node_desc(q, where, sizeof where);
        if ((ret = node_qparams(g, q, &s, &z, err, errlen)) < 0)
            return ret;
        if (g->t[xq].is_output)
            FAIL("%s: a quantised tensor is a graph output; lcnetd returns floats "
                 "(end the graph with DequantizeLinear)", where);
        for (int k = 0; k < g->nn; k++) {
            gr_node *d = &g->n[k];
            if (d->dead || k == i)
                continue;
            for (int j = 0; j < d->nin; j++) {
                if (d->in[j] != xq)
                    continue;
                float ds;
                int dz;
                char dw[300];
                gr_node_desc(d, dw, sizeof dw);
                if (d->op != OP_DEQUANTIZE || j != 0)
                    FAIL("%s reads quantised '%s' directly; only DequantizeLinear may", dw,
                         g->t[xq].name);
                if ((ret = node_qparams(g, d, &ds, &dz, err, errlen)) < 0)
                    return ret;
                if (fabsf(ds - s) > 1e-6f * s || dz != z)
                    FAIL("%s dequantises '%s' with scale %g zero %d; it was quantised with "
                         "%g and %d", dw, g->t[xq].name, ds, dz, s, z);
                gr_replace_uses(g, d->out[0], x);
                if (g->t[d->out[0]].is_output)
                    g->t[x].is_output = 1;
                d->dead = 1;
            }
        }
        gr_tensor *t = &g->t[x];
        if (t->qset && (fabsf(t->qscale - s) > 1e-6f * s || t->qzero != z))
            FAIL("%s: '%s' is quantised twice with different parameters", where, t->name);
        t->qscale = s;
        t->qzero = z;
        t->qset = 1;
        q->dead = 1;
    }
    gr_recount(g);
    return 0;
}

void q_params(float lo, float hi, float *scale, int *zero)
{
    if (lo > 0)
        lo = 0;
    if (hi < 0)
        hi = 0;
    /* A tensor that never moved (a dead squeeze-excitation branch is all
     * zeros) still needs a scale a bias can be expressed in. */
    if (!(hi - lo > 1e-3f))
        hi = lo + 1;
    *scale = (hi - lo) / 255.0f;
    long z = lrintf(-lo / *scale);
    *zero = z < 0 ? 0 : z > 255 ? 255 : (int)z;
}

uint8_t q_u8(float v, float scale, int zero)
{
    float q = nearbyintf(v / scale) + (float)zero;
    return q <= 0 ? 0 : q >= 255 ? 255 : (uint8_t)q;
}

void q_hist_init(q_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->lo = INFINITY;
    h->hi = -INFINITY;
}

static void hist_widen(q_hist *h, float need)
{
    if (h->r == 0) {
        h->r = need > 0 ? need * 1.0001f : 1e-6f;
        return;
    }
    while (h->r <= need) {
        /* old bin i of [-r, r) lies in new bin N/4 + i/2 of [-2r, 2r) */
        double merged[Q_HIST_BINS] = { 0 };
        for (int i = 0; i < Q_HIST_BINS; i++)
            merged[Q_HIST_BINS / 4 + i / 2] += h->count[i];
        memcpy(h->count, merged, sizeof merged);
        h->r *= 2;
    }
}

void q_hist_add(q_hist *h, const float *v, int64_t n)
{
    float mx = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        h->lo = v[i] < h->lo ? v[i] : h->lo;
        h->hi = v[i] > h->hi ? v[i] : h->hi;
        mx = fabsf(v[i]) > mx ? fabsf(v[i]) : mx;
    }
    hist_widen(h, mx);
    float k = Q_HIST_BINS / (2 * h->r);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        int b = (int)((v[i] + h->r) * k);
        h->count[b < 0 ? 0 : b >= Q_HIST_BINS ? Q_HIST_BINS - 1 : b]++;
    }
}

void q_hist_range(const q_hist *h, float *lo, float *hi)
{
    *lo = h->lo < 0 ? h->lo : 0;
    *hi = h->hi > 0 ? h->hi : 0;
    if (!(h->r > 0) || !(*hi > 0))
        return;
    /* The top 0.01% of values go: on the shared photo classifier this kept
     * the int8 top-1 with fp32 far more often than the plain extremes did,
     * or a minimum-squared-error cut, which keeps the rare large values for
     * the large error clipping them costs (docs/int8.md has the counts). */
    double tot = 0, acc = 0;
    for (int i = 0; i < Q_HIST_BINS; i++)
        tot += h->count[i];
    for (int i = 0; i < Q_HIST_BINS; i++) {
        acc += h->count[i];
        if (acc >= 0.9999 * tot) {
            float edge = (float)(-h->r + (i + 1) * 2.0 * h->r / Q_HIST_BINS);
            *hi = edge < *hi ? edge : *hi;
            return;
        }
    }
}

/* Tensors that stay float: graph outputs and what feeds a Softmax. */
static int float_tail(const gr_graph *g, int t)
{
    if (g->t[t].is_output)
        return 1;
    for (int i = 0; i < g->nn; i++)
        if (!g->n[i].dead && g->n[i].op == OP_SOFTMAX && g->n[i].in[0] == t)
            return 1;
    return 0;
}

/* The optional fourth field: "a,b,c,..." the largest magnitude seen in
 * each channel, as int8 scales (magnitude / 127). */
static int parse_channels(const char *s, gr_tensor *t)
{
    int n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    float *q = malloc(sizeof(float) * (size_t)n);
    if (!q)
        return ENG_ENOMEM;
    for (int i = 0; i < n; i++) {
        char *end;
        float v = strtof(s, &end);
        if (end == s || !isfinite(v) || v < 0 || (*end != ',' && *end != '\0' && *end != '\n')) {
            free(q);
            return ENG_EMODEL;
        }
        /* a channel that never moved: any scale holds its zeros */
        q[i] = v > 1e-6f ? v / 127.0f : 1.0f / 127.0f;
        s = end + (*end == ',');
    }
    if (t->known && t->ndim >= 2 && t->dims[1] > 0 && t->dims[1] != n) {
        free(q);
        return ENG_EMODEL;
    }
    free(t->qch);
    t->qch = q;
    t->nqch = n;
    return 0;
}

/* Does a convolution that mixes channels (not depthwise), or a Gemm, read t? */
static int mixed_by_dense(const gr_graph *g, int t)
{
    for (int i = 0; i < g->nn; i++) {
        const gr_node *n = &g->n[i];
        if (n->dead || n->nin < 1 || n->in[0] != t)
            continue;
        if (n->op == OP_GEMM || n->op == OP_MATMUL)
            return 1;
        if (n->op == OP_CONV && gr_attr_int(n, "group", 1) < g->t[t].nqch)
            return 1;
    }
    return 0;
}

/* A dense convolution folds its input's channel scales into its weights and
 * quantises each output's row once: a row then spans the largest scale
 * times the largest weight, and the weights of quiet channels round to a
 * few steps.  Meeting halfway (the geometric mean of each channel's scale
 * and the tensor's largest) shares the loss between activations and
 * weights: on the shared photo classifier, halfway agrees with fp32 more
 * often than either the channel scales as seen or one scale for all
 * (docs/int8.md has the counts).  Depthwise consumers fold exactly. */
static void share_dense_scales(gr_graph *g)
{
    for (int t = 0; t < g->nt; t++) {
        gr_tensor *x = &g->t[t];
        if (!x->qch || !mixed_by_dense(g, t))
            continue;
        float mx = 0;
        for (int c = 0; c < x->nqch; c++)
            mx = x->qch[c] > mx ? x->qch[c] : mx;
        for (int c = 0; c < x->nqch; c++)
            x->qch[c] = sqrtf(x->qch[c] * mx);
    }
}

int q_calib_apply(gr_graph *g, const char *path, char *err, size_t errlen)
{
    int ret = 0;
    FILE *f = eng_file_fopen(path, &ret, err, errlen);
    char *line = NULL;
    size_t cap = 0;
    int ln = 0, n = 0;
    if (!f) {
        size_t l = strlen(err);
        snprintf(err + l, errlen > l ? errlen - l : 0,
                 " (make it with: lcnet-infer --model MODEL --calibrate DIR)");
        return ret;
    }
    while (getline(&line, &cap, f) > 0) {
        char name[512];
        float lo, hi;
        int used = 0;
        ln++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%511[^\t]\t%f\t%f%n", name, &lo, &hi, &used) != 3 || !isfinite(lo) ||
            !isfinite(hi) || lo > hi) {
            snprintf(err, errlen, "%s:%d: expected 'tensor<TAB>min<TAB>max[<TAB>per-channel "
                     "magnitudes]'", path, ln);
            ret = ENG_EMODEL;
            break;
        }
        int t = gr_tensor_get(g, name, 0);
        if (t < 0) {
            snprintf(err, errlen, "%s:%d: the model has no tensor '%s' (calibrated for "
                     "another model?)", path, ln, name);
            ret = ENG_EMODEL;
            break;
        }
        if (float_tail(g, t))
            continue;
        q_params(lo, hi, &g->t[t].qscale, &g->t[t].qzero);
        g->t[t].qset = 1;
        if (line[used] == '\t' && (ret = parse_channels(line + used + 1, &g->t[t])) < 0) {
            if (ret == ENG_ENOMEM)
                snprintf(err, errlen, "%s:%d: out of memory", path, ln);
            else
                snprintf(err, errlen, "%s:%d: '%s': expected one magnitude per channel (%lld), "
                         "comma-separated (calibrate again with lcnet-infer --calibrate)", path, ln,
                         name, (long long)g->t[t].dims[1]);
            break;
        }
        n++;
    }
    free(line);
    fclose(f);
    if (ret == 0 && !n) {
        snprintf(err, errlen, "%s: no calibration ranges in the file", path);
        ret = ENG_EMODEL;
    }
    if (ret == 0)
        share_dense_scales(g);
    return ret;
}

int q_calib_save(const char *path, const char *model, int frames, const char *const *names,
                 const float *lo, const float *hi, const float *const *chmax, const int *nch,
                 int n, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return ENG_EIO;
    }
    fprintf(f, "# lcnetd int8 calibration of %s over %d frames\n", model, frames);
    fprintf(f, "# range to quantise each activation to: tensor<TAB>min<TAB>max, then the\n"
            "# largest magnitude seen in each channel, comma-separated\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\t%.9g\t%.9g", names[i], lo[i], hi[i]);
        for (int c = 0; chmax && c < nch[i]; c++)
            fprintf(f, "%c%.6g", c ? ',' : '\t', chmax[i][c]);
        fputc('\n', f);
    }
    /* written whole or not at all: a daemon may be reading the old one */
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return ENG_EIO;
    }
    return 0;
}

const gr_node *q_const_dq(const gr_graph *g, int t)
{
    int p = t >= 0 ? g->t[t].producer : -1;
    if (p < 0 || g->n[p].op != OP_DEQUANTIZE || !gr_is_const(g, g->n[p].in[0]) ||
        !gr_is_const(g, g->n[p].in[1]))
        return NULL;
    if (g->n[p].nin > 2 && g->n[p].in[2] >= 0 && !gr_is_const(g, g->n[p].in[2]))
        return NULL;
    return &g->n[p];
}

float *q_const_floats(const gr_graph *g, int t)
{
    if (gr_is_const(g, t))
        return gr_const_floats(g, t);
    const gr_node *d = q_const_dq(g, t);
    if (!d)
        return NULL;
    const gr_tensor *x = &g->t[d->in[0]];
    int64_t n = gr_tensor_numel(x);
    int64_t ns = gr_tensor_numel(&g->t[d->in[1]]);
    int axis = (int)gr_attr_int(d, "axis", 1);
    if (axis < 0)
        axis += x->ndim;
    int64_t inner = 1;
    for (int i = axis + 1; i < x->ndim; i++)
        inner *= x->dims[i];
    float *v = gr_const_floats(g, d->in[0]), *s = gr_const_floats(g, d->in[1]);
    float *z = d->nin > 2 && d->in[2] >= 0 ? gr_const_floats(g, d->in[2]) : NULL;
    if (!v || !s || (d->nin > 2 && d->in[2] >= 0 && !z) || axis < 0 || (ns > 1 && axis >= x->ndim) ||
        (ns > 1 && x->dims[axis] != ns)) {
        free(v);
        v = NULL;
        goto end;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = ns > 1 ? (i / inner) % ns : 0;
        v[i] = (v[i] - (z ? z[c] : 0)) * s[c];
    }
end:
    free(s);
    free(z);
    return v;
}

int q_weights(const gr_graph *g, int t, int64_t n, int transpose, int8_t **qout, float **sout,
              char *err, size_t errlen)
{
    const gr_node *d = q_const_dq(g, t);
    const gr_tensor *w = d ? &g->t[d->in[0]] : &g->t[t];
    int64_t total = gr_tensor_numel(w);
    if (n <= 0 || total <= 0 || total % n) {
        snprintf(err, errlen, "weights '%s' do not split into %lld output channels", w->name,
                 (long long)n);
        return ENG_EMODEL;
    }
    int64_t k = total / n;
    int8_t *q = malloc((size_t)total);
    float *s = malloc(sizeof(float) * (size_t)n);
    float *f = NULL;
    int ret = 0;
    if (!q || !s)
        goto nomem;
    if (d && w->dtype == G_I8) {
        int64_t ns = gr_tensor_numel(&g->t[d->in[1]]);
        float *sc = gr_const_floats(g, d->in[1]);
        float *zp = d->nin > 2 && d->in[2] >= 0 ? gr_const_floats(g, d->in[2]) : NULL;
        int axis = (int)gr_attr_int(d, "axis", 1);
        int want_axis = transpose ? 1 : 0;
        if (!sc) {
            free(zp);
            goto nomem;
        }
        if ((ns != 1 && ns != n) || (ns > 1 && axis != want_axis && axis != want_axis - w->ndim)) {
            snprintf(err, errlen, "weights '%s': %lld scales on axis %d; lcnetd takes one per "
                     "tensor or one per output channel", w->name, (long long)ns, axis);
            ret = ENG_EUNSUP;
        }
        for (int64_t i = 0; zp && ret == 0 && i < gr_tensor_numel(&g->t[d->in[2]]); i++)
            if (zp[i] != 0) {
                snprintf(err, errlen, "weights '%s': zero point %g; int8 weights must be "
                         "symmetric (zero point 0)", w->name, zp[i]);
                ret = ENG_EUNSUP;
            }
        for (int64_t c = 0; ret == 0 && c < n; c++)
            s[c] = sc[ns > 1 ? c : 0];
        free(sc);
        free(zp);
        if (ret < 0)
            goto end;
        const int8_t *src = w->data;
        for (int64_t o = 0; o < n; o++)
            for (int64_t i = 0; i < k; i++)
                q[o * k + i] = transpose ? src[i * n + o] : src[o * k + i];
    } else {
        if (!(f = q_const_floats(g, t))) {
            snprintf(err, errlen, "weights '%s' are not constant", w->name);
            ret = ENG_EMODEL;
            goto end;
        }
        for (int64_t o = 0; o < n; o++) {
            float mx = 0;
            for (int64_t i = 0; i < k; i++) {
                float v = fabsf(transpose ? f[i * n + o] : f[o * k + i]);
                if (v > mx)
                    mx = v;
            }
            s[o] = mx > 0 ? mx / 127.0f : 1.0f;
            for (int64_t i = 0; i < k; i++) {
                float v = nearbyintf((transpose ? f[i * n + o] : f[o * k + i]) / s[o]);
                q[o * k + i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
        }
    }
    *qout = q;
    *sout = s;
    q = NULL;
    s = NULL;
end:
    free(q);
    free(s);
    free(f);
    return ret;
nomem:
    snprintf(err, errlen, "out of memory quantising '%s'", w->name);
    ret = ENG_ENOMEM;
    goto end;
}

int q_gate_of(const gr_graph *g, int t, int x)
{
    int pr = g->t[t].producer;
    if (pr < 0 || !gr_op_is_act(g->n[pr].op) || g->n[pr].in[0] != x || g->t[t].nuse != 1 ||
        g->t[t].is_output)
        return -1;
    return pr;
}

void q_find_gates(const gr_graph *g, unsigned char *absorbed)
{
    for (int i = 0; i < g->nn; i++) {
        const gr_node *m = &g->n[i];
        if (m->dead || gr_op(m->op)->bin != GB_MUL || m->nin != 2)
            continue;
        for (int side = 0; side < 2; side++) {
            int hn = q_gate_of(g, m->in[side], m->in[1 - side]);
            if (hn >= 0 && g->t[m->in[side]].qset && !g->t[m->in[side]].qch) {
                absorbed[hn] = 1;
                break;
            }
        }
    }
}

int q_fold_weights(const gr_graph *g, int t, const conv_params *cp, int transpose,
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
