/* ops.c: operator attributes as the passes and backends read them: ONNX's
 * defaults and opset rules applied, checked against the node's inputs. */
#include "engine/graph/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...) return gr_node_fail(n, err, errlen, __VA_ARGS__)

static const gr_tensor *tin(const gr_graph *g, const gr_node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->t[n->in[i]] : NULL;
}

int conv_get(const gr_graph *g, const gr_node *n, conv_params *p, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0), *w = tin(g, n, 1);
    int64_t v[8];
    memset(p, 0, sizeof *p);
    if (!x || !w)
        FAIL("needs an input and weights");
    if (x->ndim != 4 || w->ndim != 4)
        FAIL("only 2-D convolution is supported (input rank %d, weights rank %d)", x->ndim, w->ndim);
    p->group = (int)gr_attr_int(n, "group", 1);
    p->cin = x->dims[1];
    p->cout = w->dims[0];
    p->kh = (int)w->dims[2];
    p->kw = (int)w->dims[3];
    if (p->group < 1 || p->cin % p->group || p->cout % p->group)
        FAIL("group %d does not divide %lld input / %lld output channels", p->group,
             (long long)p->cin, (long long)p->cout);
    if (w->dims[1] * p->group != p->cin)
        FAIL("weights expect %lld input channels, the input has %lld",
             (long long)(w->dims[1] * p->group), (long long)p->cin);
    int k = gr_attr_ints(n, "kernel_shape", v, 8);
    if (k >= 0 && (k != 2 || v[0] != p->kh || v[1] != p->kw))
        FAIL("kernel_shape disagrees with the weights' %dx%d", p->kh, p->kw);
    p->sh = p->sw = p->dh = p->dw = 1;
    if ((k = gr_attr_ints(n, "strides", v, 8)) >= 0) {
        if (k != 2 || v[0] < 1 || v[1] < 1 || v[0] > 64 || v[1] > 64)
            FAIL("strides must be two values in 1..64");
        p->sh = (int)v[0];
        p->sw = (int)v[1];
    }
    if ((k = gr_attr_ints(n, "dilations", v, 8)) >= 0) {
        if (k != 2 || v[0] < 1 || v[1] < 1 || v[0] > 64 || v[1] > 64)
            FAIL("dilations must be two values in 1..64");
        p->dh = (int)v[0];
        p->dw = (int)v[1];
    }
    if (p->kh < 1 || p->kw < 1 || p->kh > 64 || p->kw > 64)
        FAIL("kernel %dx%d out of range", p->kh, p->kw);
    const gr_attr *ap = gr_attr_find(n, "auto_pad");
    const char *mode = ap && ap->kind == A_STRING ? ap->s : "NOTSET";
    if (strcmp(mode, "NOTSET") == 0) {
        if ((k = gr_attr_ints(n, "pads", v, 8)) >= 0) {
            if (k != 4)
                FAIL("pads must have 4 values");
            for (int i = 0; i < 4; i++)
                if (v[i] < 0 || v[i] > 256)
                    FAIL("pad %lld out of range", (long long)v[i]);
            p->pt = (int)v[0]; p->pl = (int)v[1]; p->pb = (int)v[2]; p->pr = (int)v[3];
        }
    } else if (strcmp(mode, "VALID") == 0) {
        /* no padding */
    } else if (strcmp(mode, "SAME_UPPER") == 0 || strcmp(mode, "SAME_LOWER") == 0) {
        int64_t in[2] = { x->dims[2], x->dims[3] }, s[2] = { p->sh, p->sw };
        int64_t kk[2] = { (int64_t)(p->kh - 1) * p->dh + 1, (int64_t)(p->kw - 1) * p->dw + 1 };
        int lo[2], hi[2];
        for (int i = 0; i < 2; i++) {
            int64_t out = (in[i] + s[i] - 1) / s[i];
            int64_t tot = (out - 1) * s[i] + kk[i] - in[i];
            if (tot < 0)
                tot = 0;
            int small = (int)(tot / 2), big = (int)(tot - tot / 2);
            lo[i] = mode[5] == 'U' ? small : big;
            hi[i] = mode[5] == 'U' ? big : small;
        }
        p->pt = lo[0]; p->pl = lo[1]; p->pb = hi[0]; p->pr = hi[1];
    } else {
        FAIL("auto_pad '%s' unknown", mode);
    }
    return 0;
}

void gemm_get(const gr_node *n, gemm_params *p)
{
    p->alpha = gr_attr_float(n, "alpha", 1.0f);
    p->beta = gr_attr_float(n, "beta", 1.0f);
    p->ta = (int)gr_attr_int(n, "transA", 0);
    p->tb = (int)gr_attr_int(n, "transB", 0);
}

int softmax_axis(const gr_graph *g, const gr_node *n, int rank)
{
    int64_t a = gr_attr_int(n, "axis", g->opset >= 13 ? -1 : 1);
    if (a < 0)
        a += rank;
    return a >= 0 && a < rank ? (int)a : -1;
}

int reduce_axes(const gr_graph *g, const gr_node *n, int rank, unsigned *mask, int *keep,
                char *err, size_t errlen)
{
    int64_t v[G_MAX_DIMS + 1];
    int k = gr_attr_ints(n, "axes", v, G_MAX_DIMS + 1);
    if (k < 0 && n->nin > 1 && n->in[1] >= 0) {
        if ((k = gr_const_ints(g, n->in[1], v, G_MAX_DIMS + 1)) < 0)
            FAIL("axes must be a constant");
    }
    *keep = (int)gr_attr_int(n, "keepdims", 1);
    *mask = 0;
    if (k <= 0) {
        if (gr_attr_int(n, "noop_with_empty_axes", 0))
            FAIL("noop_with_empty_axes is unsupported");
        *mask = (1u << rank) - 1;
        return 0;
    }
    if (k > rank)
        FAIL("%d axes for a rank-%d input", k, rank);
    for (int i = 0; i < k; i++) {
        int64_t a = v[i] < 0 ? v[i] + rank : v[i];
        if (a < 0 || a >= rank)
            FAIL("axis %lld out of range for rank %d", (long long)v[i], rank);
        *mask |= 1u << a;
    }
    return 0;
}

float hardsigmoid_alpha(const gr_node *n) { return gr_attr_float(n, "alpha", 0.2f); }
float hardsigmoid_beta(const gr_node *n) { return gr_attr_float(n, "beta", 0.5f); }

int clip_bounds(const gr_graph *g, const gr_node *n, float *lo, float *hi, char *err, size_t errlen)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (g->opset < 11) {
        *lo = gr_attr_float(n, "min", -INFINITY);
        *hi = gr_attr_float(n, "max", INFINITY);
        return 0;
    }
    for (int i = 1; i <= 2; i++) {
        if (i >= n->nin || n->in[i] < 0)
            continue;
        float v;
        if (!gr_is_scalar_const(g, n->in[i], &v))
            FAIL("bound '%s' must be a constant scalar", g->t[n->in[i]].name);
        if (i == 1)
            *lo = v;
        else
            *hi = v;
    }
    return 0;
}
