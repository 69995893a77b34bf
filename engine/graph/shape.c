/* shape.c: shape inference and load-time folding of shape arithmetic.
 *
 * Every node's inputs are checked here, once, so the compiler can trust
 * shapes.  The batch of a dynamic input travels as G_BATCH; anything that
 * would multiply it into another dimension is refused, so substituting the
 * real batch later is always exact. */
#include "engine/graph/ops.h"
#include "engine/graph/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

/* Concat and Gather of constants can grow them 64-fold a node; past this
 * many elements it is no longer shape arithmetic. */
#define FOLD_MAX_ELEMS ((int64_t)1 << 20)
/* What folding may allocate in all, beyond the constants the file holds. */
#define FOLD_SLACK_BYTES ((size_t)64 << 20)

#define FAIL(...) do { char d_[300]; snprintf(err, errlen, "%s: ", gr_node_desc(n, d_, sizeof d_)); \
        size_t l_ = strlen(err); snprintf(err + l_, errlen > l_ ? errlen - l_ : 0, __VA_ARGS__); \
        return ENG_EMODEL; } while (0)

static const gr_tensor *tin(const gr_graph *g, const gr_node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->t[n->in[i]] : NULL;
}

static int set_shape(gr_graph *g, int t, int dtype, int ndim, const int64_t *dims)
{
    gr_tensor *x = &g->t[t];
    x->dtype = dtype;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        x->dims[i] = dims[i];
    x->known = 1;
    return 0;
}


/* ------------------------------------------------------------- attributes */

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

/* --------------------------------------------------------------- helpers */

static int bcast_dim(int64_t a, int64_t b, int64_t *o)
{
    if (a == b)
        *o = a;
    else if (a == 1)
        *o = b;
    else if (b == 1)
        *o = a;
    else
        return -1;
    return 0;
}

static int bcast(const gr_tensor *a, const gr_tensor *b, int *nd, int64_t *d)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (bcast_dim(da, db, &d[i]) < 0)
            return -1;
    }
    *nd = r;
    return 0;
}

static int has_batch(int nd, const int64_t *d)
{
    for (int i = 0; i < nd; i++)
        if (d[i] == G_BATCH)
            return 1;
    return 0;
}

/* Product of dims treating G_BATCH as a unit that must stay alone. */
static int64_t prod_nobatch(int nd, const int64_t *d, int *nbatch)
{
    int64_t p = 1;
    *nbatch = 0;
    for (int i = 0; i < nd; i++) {
        if (d[i] == G_BATCH)
            (*nbatch)++;
        else
            p *= d[i];
    }
    return p;
}

static void *alloc_elems(int64_t n, int dtype)
{
    return calloc((size_t)(n ? n : 1), gr_dtype_size(dtype));
}

/* Make node n's single output a constant holding data; the node dies. */
static int fold_to(gr_graph *g, gr_node *n, int dtype, int nd, const int64_t *dims, void *data)
{
    int t = n->out[0];
    gr_tensor *x = &g->t[t];
    set_shape(g, t, dtype, nd, dims);
    free(x->data);
    x->data = data;
    x->producer = -1;
    n->dead = 1;
    return 0;
}

/* ----------------------------------------------------------- shape ops */

static int infer_reshape_target(gr_graph *g, gr_node *n, const gr_tensor *x,
                                int64_t *t, int k, int allowzero, int64_t *out,
                                char *err, size_t errlen)
{
    int neg = -1, nb_in, nb_out = 0;
    int64_t known = 1;
    int64_t pin = prod_nobatch(x->ndim, x->dims, &nb_in);
    (void)g;
    for (int i = 0; i < k; i++) {
        int64_t v = t[i];
        if (v == 0 && !allowzero) {
            if (i >= x->ndim)
                FAIL("shape entry %d is 0 (copy) but the input has rank %d", i, x->ndim);
            v = x->dims[i];
        }
        if (v == -1) {
            if (neg >= 0)
                FAIL("more than one -1 in the target shape");
            neg = i;
            out[i] = -1;
            continue;
        }
        if (v == G_BATCH) {
            nb_out++;
            out[i] = G_BATCH;
            continue;
        }
        if (v < 0)
            FAIL("target shape entry %lld is invalid", (long long)v);
        out[i] = v;
        if (v > G_MAX_ELEMS || (v && known > G_MAX_ELEMS / v))
            FAIL("target shape too large");
        known *= v;
    }
    if (nb_in != nb_out)
        FAIL("reshape would mix the dynamic batch with other dimensions; "
             "export with a fixed batch or keep dim 0");
    if (neg >= 0) {
        if (known == 0 || pin % known)
            FAIL("cannot infer -1: %lld elements do not divide into %lld", (long long)pin,
                 (long long)known);
        out[neg] = pin / known;
    } else if (known != pin) {
        FAIL("target shape holds %lld elements, the input %lld", (long long)known, (long long)pin);
    }
    return 0;
}

static int do_reshape(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t tgt[G_MAX_DIMS + 1], out[G_MAX_DIMS];
    int k;
    if (!x || n->nin < 2 || n->in[1] < 0)
        FAIL("needs data and shape inputs");
    if ((k = gr_const_ints(g, n->in[1], tgt, G_MAX_DIMS + 1)) < 0)
        FAIL("the shape input '%s' must be a constant (or computed from constants)",
             g->t[n->in[1]].name);
    if (k > G_MAX_DIMS)
        FAIL("target rank %d, at most %d", k, G_MAX_DIMS);
    int ret = infer_reshape_target(g, n, x, tgt, k, (int)gr_attr_int(n, "allowzero", 0), out,
                                   err, errlen);
    if (ret < 0)
        return ret;
    set_shape(g, n->out[0], x->dtype, k, out);
    return 0;
}

static int do_flatten(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t a = gr_attr_int(n, "axis", 1), d[2];
    if (a < 0)
        a += x->ndim;
    if (a < 0 || a > x->ndim)
        FAIL("axis %lld out of range for rank %d", (long long)gr_attr_int(n, "axis", 1), x->ndim);
    int nb0, nb1;
    int64_t p0 = prod_nobatch((int)a, x->dims, &nb0);
    int64_t p1 = prod_nobatch(x->ndim - (int)a, x->dims + a, &nb1);
    if (nb1 || (nb0 && p0 != 1))
        FAIL("flattening would fold the dynamic batch into another dimension");
    d[0] = nb0 ? G_BATCH : p0;
    d[1] = p1;
    set_shape(g, n->out[0], x->dtype, 2, d);
    return 0;
}

static int squeeze_axes(gr_graph *g, gr_node *n, int64_t *ax, char *err, size_t errlen)
{
    int k = gr_attr_ints(n, "axes", ax, G_MAX_DIMS + 1);
    if (k < 0 && n->nin > 1 && n->in[1] >= 0)
        if ((k = gr_const_ints(g, n->in[1], ax, G_MAX_DIMS + 1)) < 0)
            FAIL("axes must be a constant");
    return k;
}

static int do_squeeze(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t ax[G_MAX_DIMS + 1], d[G_MAX_DIMS];
    int k = squeeze_axes(g, n, ax, err, errlen), nd = 0;
    unsigned drop = 0;
    if (k < -1)
        return k;
    if (k < 0) {
        for (int i = 0; i < x->ndim; i++)
            if (x->dims[i] == 1)
                drop |= 1u << i;
    } else {
        for (int i = 0; i < k; i++) {
            int64_t a = ax[i] < 0 ? ax[i] + x->ndim : ax[i];
            if (a < 0 || a >= x->ndim || x->dims[a] != 1)
                FAIL("axis %lld is not a dimension of size 1", (long long)ax[i]);
            drop |= 1u << a;
        }
    }
    for (int i = 0; i < x->ndim; i++)
        if (!(drop & (1u << i)))
            d[nd++] = x->dims[i];
    set_shape(g, n->out[0], x->dtype, nd, d);
    return 0;
}

static int do_unsqueeze(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t ax[G_MAX_DIMS + 1], d[G_MAX_DIMS];
    int k = squeeze_axes(g, n, ax, err, errlen);
    if (k < -1)
        return k;
    if (k < 0)
        FAIL("needs axes");
    int r = x->ndim + k;
    if (r > G_MAX_DIMS)
        FAIL("result rank %d, at most %d", r, G_MAX_DIMS);
    unsigned add = 0;
    for (int i = 0; i < k; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r || (add & (1u << a)))
            FAIL("axis %lld invalid", (long long)ax[i]);
        add |= 1u << a;
    }
    for (int i = 0, j = 0; i < r; i++)
        d[i] = (add & (1u << i)) ? 1 : x->dims[j++];
    set_shape(g, n->out[0], x->dtype, r, d);
    return 0;
}

/* Reshape-like nodes on constants fold to a copy with the new shape. */
static int fold_view(gr_graph *g, gr_node *n)
{
    const gr_tensor *x = tin(g, n, 0);
    gr_tensor *o = &g->t[n->out[0]];
    size_t bytes = (size_t)gr_tensor_numel(x) * gr_dtype_size(x->dtype);
    void *d = malloc(bytes ? bytes : 1);
    if (!d)
        return ENG_ENOMEM;
    memcpy(d, x->data, bytes);
    int64_t dims[G_MAX_DIMS];
    memcpy(dims, o->dims, sizeof dims);
    return fold_to(g, n, x->dtype, o->ndim, dims, d);
}

static int do_shape(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t start = gr_attr_int(n, "start", 0), end = gr_attr_int(n, "end", x->ndim);
    (void)err; (void)errlen;
    if (start < 0) start += x->ndim;
    if (end < 0) end += x->ndim;
    if (start < 0) start = 0;
    if (end > x->ndim) end = x->ndim;
    int64_t k = end > start ? end - start : 0;
    int64_t *d = alloc_elems(k, G_I64);
    if (!d)
        return ENG_ENOMEM;
    for (int64_t i = 0; i < k; i++)
        d[i] = x->dims[start + i];
    return fold_to(g, n, G_I64, 1, &k, d);
}

static int do_slice(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int64_t st[G_MAX_DIMS], en[G_MAX_DIMS], ax[G_MAX_DIMS], sp[G_MAX_DIMS];
    int k, k2, k3 = -1, k4 = -1;
    if (!gr_is_const(g, n->in[0]))
        FAIL("Slice is supported on constants (shape arithmetic) only");
    if (g->opset < 10) {
        k = gr_attr_ints(n, "starts", st, G_MAX_DIMS);
        k2 = gr_attr_ints(n, "ends", en, G_MAX_DIMS);
        k3 = gr_attr_ints(n, "axes", ax, G_MAX_DIMS);
    } else {
        k = n->nin > 1 ? gr_const_ints(g, n->in[1], st, G_MAX_DIMS) : -1;
        k2 = n->nin > 2 ? gr_const_ints(g, n->in[2], en, G_MAX_DIMS) : -1;
        if (n->nin > 3 && n->in[3] >= 0 && (k3 = gr_const_ints(g, n->in[3], ax, G_MAX_DIMS)) < 0)
            FAIL("axes must be constant");
        if (n->nin > 4 && n->in[4] >= 0 && (k4 = gr_const_ints(g, n->in[4], sp, G_MAX_DIMS)) < 0)
            FAIL("steps must be constant");
    }
    if (k < 0 || k2 != k || (k3 >= 0 && k3 != k) || (k4 >= 0 && k4 != k))
        FAIL("starts/ends/axes/steps must be constants of equal length");
    int64_t lo[G_MAX_DIMS], step[G_MAX_DIMS], od[G_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        lo[i] = 0;
        step[i] = 1;
        od[i] = x->dims[i];
    }
    for (int i = 0; i < k; i++) {
        int64_t a = k3 >= 0 ? ax[i] : i;
        if (a < 0)
            a += x->ndim;
        if (a < 0 || a >= x->ndim)
            FAIL("axis out of range");
        int64_t dim = x->dims[a], s = k4 >= 0 ? sp[i] : 1, b = st[i], e = en[i];
        if (s == 0)
            FAIL("step 0");
        /* a step past the whole axis takes one element at most: the same as
         * dim + 1, which keeps the arithmetic below from overflowing */
        if (s > dim + 1) s = dim + 1;
        if (s < -dim - 1) s = -dim - 1;
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (s > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            od[a] = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            od[a] = b > e ? (b - e - s - 1) / -s : 0;
        }
        lo[a] = b;
        step[a] = s;
    }
    int64_t cnt = gr_numel(x->ndim, od);
    size_t es = gr_dtype_size(x->dtype);
    uint8_t *d = alloc_elems(cnt, x->dtype);
    if (!d)
        return ENG_ENOMEM;
    for (int64_t o = 0; o < cnt; o++) {
        int64_t rem = o, src = 0, mul = 1;
        for (int i = x->ndim - 1; i >= 0; i--) {
            int64_t c = od[i] ? rem % od[i] : 0;
            rem = od[i] ? rem / od[i] : 0;
            src += (lo[i] + c * step[i]) * mul;
            mul *= x->dims[i];
        }
        memcpy(d + o * es, (const uint8_t *)x->data + src * es, es);
    }
    return fold_to(g, n, x->dtype, x->ndim, od, d);
}

static int do_concat(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    if (!x)
        FAIL("no inputs");
    int r = x->ndim;
    int64_t a = gr_attr_int(n, "axis", 0);
    if (a < 0)
        a += r;
    if (a < 0 || a >= r)
        FAIL("axis out of range");
    int64_t od[G_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    od[a] = 0;
    int allc = 1;
    for (int i = 0; i < n->nin; i++) {
        const gr_tensor *y = tin(g, n, i);
        if (!y || y->ndim != r || y->dtype != x->dtype)
            FAIL("inputs differ in rank or type");
        for (int j = 0; j < r; j++)
            if (j != a && y->dims[j] != x->dims[j])
                FAIL("inputs differ in dim %d", j);
        od[a] += y->dims[a];
        allc &= gr_is_const(g, n->in[i]);
    }
    if (!allc)
        FAIL("Concat is supported on constants (shape arithmetic) only");
    int64_t cnt = gr_numel(r, od);
    if (cnt < 0 || cnt > FOLD_MAX_ELEMS)
        FAIL("the result has more than the %lld elements lcnetd folds", (long long)FOLD_MAX_ELEMS);
    size_t es = gr_dtype_size(x->dtype);
    int64_t outer = 1, inner_out = od[a];
    for (int j = 0; j < a; j++)
        outer *= od[j];
    for (int j = (int)a + 1; j < r; j++)
        inner_out *= od[j];
    uint8_t *d = alloc_elems(cnt, x->dtype);
    if (!d)
        return ENG_ENOMEM;
    int64_t off = 0;
    for (int i = 0; i < n->nin && cnt; i++) {     /* empty: outer may be 2^28 for nothing */
        const gr_tensor *y = tin(g, n, i);
        int64_t inner = y->dims[a];
        for (int j = (int)a + 1; j < r; j++)
            inner *= y->dims[j];
        for (int64_t o = 0; o < outer; o++)
            memcpy(d + (o * inner_out + off) * (int64_t)es,
                   (const uint8_t *)y->data + o * inner * (int64_t)es, (size_t)inner * es);
        off += inner;
    }
    return fold_to(g, n, x->dtype, r, od, d);
}

static int do_gather(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0), *ix = tin(g, n, 1);
    int64_t idx[64];
    if (!x || !ix || !gr_is_const(g, n->in[0]))
        FAIL("Gather is supported on constants (shape arithmetic) only");
    int k = gr_const_ints(g, n->in[1], idx, 64);
    if (k < 0)
        FAIL("indices must be a small constant");
    int64_t a = gr_attr_int(n, "axis", 0);
    if (a < 0)
        a += x->ndim;
    if (a < 0 || a >= x->ndim || x->ndim + ix->ndim - 1 > G_MAX_DIMS)
        FAIL("axis out of range");
    int64_t od[G_MAX_DIMS];
    int r = 0;
    for (int j = 0; j < a; j++)
        od[r++] = x->dims[j];
    for (int j = 0; j < ix->ndim; j++)
        od[r++] = ix->dims[j];
    for (int j = (int)a + 1; j < x->ndim; j++)
        od[r++] = x->dims[j];
    int64_t cnt = gr_numel(r, od);
    if (cnt < 0 || cnt > FOLD_MAX_ELEMS)
        FAIL("the result has more than the %lld elements lcnetd folds", (long long)FOLD_MAX_ELEMS);
    int64_t outer = 1, inner = 1, dim = x->dims[a];
    for (int j = 0; j < a; j++)
        outer *= x->dims[j];
    for (int j = (int)a + 1; j < x->ndim; j++)
        inner *= x->dims[j];
    size_t es = gr_dtype_size(x->dtype);
    uint8_t *d = alloc_elems(cnt, x->dtype);
    if (!d)
        return ENG_ENOMEM;
    for (int64_t o = 0; o < outer && cnt; o++)
        for (int i = 0; i < k; i++) {
            int64_t s = idx[i] < 0 ? idx[i] + dim : idx[i];
            if (s < 0 || s >= dim) {
                free(d);
                FAIL("index %lld out of range", (long long)idx[i]);
            }
            memcpy(d + ((o * k + i) * inner) * (int64_t)es,
                   (const uint8_t *)x->data + ((o * dim + s) * inner) * (int64_t)es,
                   (size_t)inner * es);
        }
    return fold_to(g, n, x->dtype, r, od, d);
}

static int do_cast(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = tin(g, n, 0);
    int to = (int)gr_attr_int(n, "to", 0);
    if (!gr_is_const(g, n->in[0])) {
        if (to == x->dtype) {           /* a no-op cast on a computed tensor */
            n->op = OP_IDENTITY;
            set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
            return 0;
        }
        FAIL("Cast is supported on constants only");
    }
    if (to != G_F32 && to != G_I64 && to != G_I32)
        FAIL("Cast to %s unsupported", gr_dtype_name(to));
    int64_t cnt = gr_tensor_numel(x);
    float *f = gr_const_floats(g, n->in[0]);
    if (!f)
        FAIL("Cast from %s unsupported", gr_dtype_name(x->dtype));
    void *d = alloc_elems(cnt, to);
    if (!d) {
        free(f);
        return ENG_ENOMEM;
    }
    for (int64_t i = 0; i < cnt; i++) {
        int64_t iv = 0;
        if (x->dtype == G_I64)
            iv = ((const int64_t *)x->data)[i];
        else if (x->dtype == G_I32)
            iv = ((const int32_t *)x->data)[i];
        else if (to != G_F32) {
            /* float to integer out of range (inf, nan, 1e30) is undefined, in C as in ONNX */
            if (!(f[i] > -9.2e18f && f[i] < 9.2e18f)) {
                float v = f[i];
                free(f);
                free(d);
                FAIL("value %g does not fit %s", (double)v, gr_dtype_name(to));
            }
            iv = (int64_t)f[i];
        }
        if (to == G_F32)
            ((float *)d)[i] = f[i];
        else if (to == G_I64)
            ((int64_t *)d)[i] = iv;
        else
            ((int32_t *)d)[i] = (int32_t)iv;
    }
    free(f);
    int64_t dims[G_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    return fold_to(g, n, to, x->ndim, dims, d);
}

/* Elementwise arithmetic on constants (shape math, scalar constants). */
static int fold_arith(gr_graph *g, gr_node *n, int nd, const int64_t *od, char *err, size_t errlen)
{
    const gr_tensor *a = tin(g, n, 0), *b = tin(g, n, 1);
    int64_t cnt = gr_numel(nd, od);
    int isint = a->dtype == G_I64 && b->dtype == G_I64;
    if (cnt < 0 || cnt > 1 << 20)
        return 0;                        /* leave big ones to run time */
    void *d = alloc_elems(cnt, isint ? G_I64 : G_F32);
    float *fa = NULL, *fb = NULL;
    if (!d)
        return ENG_ENOMEM;
    if (!isint && (!(fa = gr_const_floats(g, n->in[0])) || !(fb = gr_const_floats(g, n->in[1])))) {
        free(fa);
        free(d);
        FAIL("arithmetic on %s and %s constants unsupported", gr_dtype_name(a->dtype),
             gr_dtype_name(b->dtype));
    }
    for (int64_t o = 0; o < cnt; o++) {
        int64_t rem = o, ia = 0, ib = 0, ma = 1, mb = 1;
        for (int i = nd - 1; i >= 0; i--) {
            int64_t c = rem % od[i];
            rem /= od[i];
            int ja = i - (nd - a->ndim), jb = i - (nd - b->ndim);
            if (ja >= 0) {
                ia += (a->dims[ja] == 1 ? 0 : c) * ma;
                ma *= a->dims[ja];
            }
            if (jb >= 0) {
                ib += (b->dims[jb] == 1 ? 0 : c) * mb;
                mb *= b->dims[jb];
            }
        }
        if (isint) {
            int64_t x = ((const int64_t *)a->data)[ia], y = ((const int64_t *)b->data)[ib], r;
            if (x == G_BATCH || y == G_BATCH) {
                free(d);
                FAIL("arithmetic on the dynamic batch size is unsupported");
            }
            int ovf;
            switch (n->op) {
            case OP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
            case OP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
            case OP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
            default:
                if (y == 0) {
                    free(d);
                    FAIL("integer division by zero");
                }
                ovf = x == INT64_MIN && y == -1;
                r = ovf ? 0 : x / y;
                break;
            }
            if (ovf) {
                free(d);
                FAIL("integer overflow in %lld %s %lld", (long long)x, gr_opname(n->op), (long long)y);
            }
            ((int64_t *)d)[o] = r;
        } else {
            float x = fa[ia], y = fb[ib], r;
            switch (n->op) {
            case OP_ADD: r = x + y; break;
            case OP_SUB: r = x - y; break;
            case OP_MUL: r = x * y; break;
            default: r = x / y; break;
            }
            ((float *)d)[o] = r;
        }
    }
    free(fa);
    free(fb);
    return fold_to(g, n, isint ? G_I64 : G_F32, nd, od, d);
}

/* ---------------------------------------------------------- compute ops */

static int need_const(gr_graph *g, gr_node *n, int i, const char *what, char *err, size_t errlen)
{
    if (i >= n->nin || n->in[i] < 0)
        FAIL("%s is missing", what);
    if (q_const_dq(g, n->in[i]))
        return 0;                 /* int8 weights of a QDQ model */
    if (!gr_is_const(g, n->in[i]))
        FAIL("%s '%s' must be a constant", what, g->t[n->in[i]].name);
    if (g->t[n->in[i]].dtype != G_F32)
        FAIL("%s '%s' must be float32, not %s", what, g->t[n->in[i]].name,
             gr_dtype_name(g->t[n->in[i]].dtype));
    return 0;
}

static int infer_node(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    int64_t d[G_MAX_DIMS];
    int nd, ret;
    const gr_tensor *x = tin(g, n, 0);

    if (n->nout < 1 || n->out[0] < 0)
        FAIL("has no output");
    if (n->op != OP_CONCAT && !x)
        FAIL("first input missing");
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0 && !g->t[n->in[i]].known)
            FAIL("input '%s' has no known shape", g->t[n->in[i]].name);
    /* Only the first output of any node we run may be used. */
    for (int i = 1; i < n->nout; i++)
        if (n->out[i] >= 0 && g->t[n->out[i]].nuse > 0)
            FAIL("output %d ('%s') is used; only the first output is supported "
                 "(training-mode outputs?)", i, g->t[n->out[i]].name);
    int isfloat = x && x->dtype == G_F32;

    switch (n->op) {
    case OP_CONV: {
        conv_params p;
        if (!isfloat)
            FAIL("input must be float32");
        if ((ret = need_const(g, n, 1, "weights", err, errlen)) < 0)
            return ret;
        if (n->nin > 2 && n->in[2] >= 0) {
            if ((ret = need_const(g, n, 2, "bias", err, errlen)) < 0)
                return ret;
            if (gr_tensor_numel(&g->t[n->in[2]]) != g->t[n->in[1]].dims[0])
                FAIL("bias has %lld values for %lld output channels",
                     (long long)gr_tensor_numel(&g->t[n->in[2]]), (long long)g->t[n->in[1]].dims[0]);
        }
        if ((ret = conv_get(g, n, &p, err, errlen)) < 0)
            return ret;
        int64_t eh = (int64_t)(p.kh - 1) * p.dh + 1, ew = (int64_t)(p.kw - 1) * p.dw + 1;
        int64_t oh = (x->dims[2] + p.pt + p.pb - eh) / p.sh + 1;
        int64_t ow = (x->dims[3] + p.pl + p.pr - ew) / p.sw + 1;
        if (x->dims[2] + p.pt + p.pb < eh || x->dims[3] + p.pl + p.pr < ew || oh < 1 || ow < 1)
            FAIL("kernel larger than the padded input");
        d[0] = x->dims[0]; d[1] = p.cout; d[2] = oh; d[3] = ow;
        return set_shape(g, n->out[0], G_F32, 4, d);
    }
    case OP_BATCHNORM:
        if (!isfloat || x->ndim < 2)
            FAIL("input must be float32 with a channel axis");
        if (gr_attr_int(n, "training_mode", 0))
            FAIL("training_mode is unsupported");
        for (int i = 1; i <= 4; i++) {
            static const char *nm[] = { "", "scale", "bias", "mean", "var" };
            if ((ret = need_const(g, n, i, nm[i], err, errlen)) < 0)
                return ret;
            if (gr_tensor_numel(&g->t[n->in[i]]) != x->dims[1])
                FAIL("%s has %lld values for %lld channels", nm[i],
                     (long long)gr_tensor_numel(&g->t[n->in[i]]), (long long)x->dims[1]);
        }
        return set_shape(g, n->out[0], G_F32, x->ndim, x->dims);
    case OP_CLIP: {
        float lo, hi;
        if ((ret = clip_bounds(g, n, &lo, &hi, err, errlen)) < 0)
            return ret;
    }
        /* fall through */
    case OP_RELU: case OP_HARDSWISH: case OP_HARDSIGMOID: case OP_SIGMOID:
        if (!isfloat)
            FAIL("input must be float32, not %s", gr_dtype_name(x->dtype));
        /* fall through */
    case OP_IDENTITY:
        return set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
    case OP_DROPOUT:
        if (n->nin > 2 && n->in[2] >= 0) {
            float v;
            if (!gr_is_scalar_const(g, n->in[2], &v) || v != 0)
                FAIL("training_mode must be a constant false");
        }
        return set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: {
        const gr_tensor *y = tin(g, n, 1);
        if (!y)
            FAIL("needs two inputs");
        if (bcast(x, y, &nd, d) < 0) {
            char a[96], b[96];
            gr_dims_str(a, sizeof a, x->ndim, x->dims);
            gr_dims_str(b, sizeof b, y->ndim, y->dims);
            FAIL("shapes %s and %s do not broadcast", a, b);
        }
        if (gr_is_const(g, n->in[0]) && gr_is_const(g, n->in[1])) {
            if ((ret = fold_arith(g, n, nd, d, err, errlen)) < 0)
                return ret;
            if (n->dead)
                return 0;
        }
        if (x->dtype != y->dtype)
            FAIL("inputs differ in type (%s, %s)", gr_dtype_name(x->dtype), gr_dtype_name(y->dtype));
        return set_shape(g, n->out[0], x->dtype, nd, d);
    }
    case OP_GAP:
        if (!isfloat || x->ndim < 3)
            FAIL("input must be float32 of rank >= 3");
        for (int i = 0; i < x->ndim; i++)
            d[i] = i < 2 ? x->dims[i] : 1;
        return set_shape(g, n->out[0], G_F32, x->ndim, d);
    case OP_REDUCEMEAN: {
        unsigned mask;
        int keep;
        if (!isfloat)
            FAIL("input must be float32");
        if ((ret = reduce_axes(g, n, x->ndim, &mask, &keep, err, errlen)) < 0)
            return ret;
        if ((mask & 1) && x->dims[0] == G_BATCH)
            FAIL("reducing over the dynamic batch is unsupported");
        nd = 0;
        for (int i = 0; i < x->ndim; i++) {
            if (!(mask & (1u << i)))
                d[nd++] = x->dims[i];
            else if (keep)
                d[nd++] = 1;
        }
        return set_shape(g, n->out[0], G_F32, nd, d);
    }
    case OP_GEMM: {
        gemm_params p;
        const gr_tensor *b = tin(g, n, 1), *c = tin(g, n, 2);
        gemm_get(n, &p);
        if (!b || x->ndim != 2 || b->ndim != 2 || !isfloat || b->dtype != G_F32)
            FAIL("A and B must be float32 matrices");
        int64_t m = p.ta ? x->dims[1] : x->dims[0], k = p.ta ? x->dims[0] : x->dims[1];
        int64_t kb = p.tb ? b->dims[1] : b->dims[0], nn = p.tb ? b->dims[0] : b->dims[1];
        if (k != kb || k == G_BATCH || nn == G_BATCH || (p.ta && m == G_BATCH))
            FAIL("A is %lldx%lld, B %lldx%lld: inner sizes differ", (long long)m, (long long)k,
                 (long long)kb, (long long)nn);
        d[0] = m; d[1] = nn;
        if (c) {
            gr_tensor mn = { 0 };
            int64_t cd[G_MAX_DIMS];
            mn.ndim = 2; mn.dims[0] = m; mn.dims[1] = nn;
            if (c->dtype != G_F32 || bcast(&mn, c, &nd, cd) < 0 || nd != 2 || cd[0] != m || cd[1] != nn)
                FAIL("C does not broadcast to %lldx%lld", (long long)m, (long long)nn);
        }
        return set_shape(g, n->out[0], G_F32, 2, d);
    }
    case OP_MATMUL: {
        const gr_tensor *b = tin(g, n, 1);
        if (!b || !isfloat || b->dtype != G_F32 || x->ndim < 2 || b->ndim < 2)
            FAIL("inputs must be float32 of rank >= 2");
        int64_t k = x->dims[x->ndim - 1];
        if (k != b->dims[b->ndim - 2])
            FAIL("inner sizes differ (%lld, %lld)", (long long)k, (long long)b->dims[b->ndim - 2]);
        gr_tensor ba = *x, bb = *b;
        ba.ndim -= 2;
        bb.ndim -= 2;
        if (bcast(&ba, &bb, &nd, d) < 0)
            FAIL("batch dimensions do not broadcast");
        d[nd] = x->dims[x->ndim - 2];
        d[nd + 1] = b->dims[b->ndim - 1];
        return set_shape(g, n->out[0], G_F32, nd + 2, d);
    }
    case OP_SOFTMAX:
        if (!isfloat || softmax_axis(g, n, x->ndim) < 0)
            FAIL("needs float32 input and a valid axis");
        return set_shape(g, n->out[0], G_F32, x->ndim, x->dims);
    case OP_RESHAPE:
        if ((ret = do_reshape(g, n, err, errlen)) < 0)
            return ret;
        return gr_is_const(g, n->in[0]) ? fold_view(g, n) : 0;
    case OP_FLATTEN:
        if ((ret = do_flatten(g, n, err, errlen)) < 0)
            return ret;
        return gr_is_const(g, n->in[0]) ? fold_view(g, n) : 0;
    case OP_SQUEEZE:
        if ((ret = do_squeeze(g, n, err, errlen)) < 0)
            return ret;
        return gr_is_const(g, n->in[0]) ? fold_view(g, n) : 0;
    case OP_UNSQUEEZE:
        if ((ret = do_unsqueeze(g, n, err, errlen)) < 0)
            return ret;
        return gr_is_const(g, n->in[0]) ? fold_view(g, n) : 0;
    case OP_QUANTIZE: case OP_DEQUANTIZE: {
        const gr_tensor *s = tin(g, n, 1);
        if (!s || !gr_is_const(g, n->in[1]))
            FAIL("scale must be a constant");
        if (n->nin > 2 && n->in[2] >= 0 && !gr_is_const(g, n->in[2]))
            FAIL("zero point must be a constant");
        int odt = G_F32;
        if (n->op == OP_QUANTIZE)
            odt = n->nin > 2 && n->in[2] >= 0 ? g->t[n->in[2]].dtype : G_U8;
        if (n->op == OP_QUANTIZE && odt != G_U8 && odt != G_I8)
            FAIL("quantising to %s unsupported", gr_dtype_name(odt));
        return set_shape(g, n->out[0], odt, x->ndim, x->dims);
    }
    case OP_SHAPE:
        return do_shape(g, n, err, errlen);
    case OP_SLICE:
        return do_slice(g, n, err, errlen);
    case OP_CONCAT:
        return do_concat(g, n, err, errlen);
    case OP_GATHER:
        return do_gather(g, n, err, errlen);
    case OP_CAST:
        return do_cast(g, n, err, errlen);
    default:
        FAIL("operator is not supported by lcnetd's compiler");
    }
}

static size_t const_bytes(const gr_tensor *t)
{
    int64_t n = t->data ? gr_tensor_numel(t) : 0;
    return n > 0 ? (size_t)n * gr_dtype_size(t->dtype) : 0;
}

int gr_infer(gr_graph *g, char *err, size_t errlen)
{
    /* Folding copies constants (Reshape of a weight) and grows them (Concat,
     * Gather): a few KB of file must not become GBs of memory. */
    size_t budget = FOLD_SLACK_BYTES, spent = 0;
    for (int i = 0; i < g->nt; i++)
        budget += const_bytes(&g->t[i]);
    gr_recount(g);
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        if (n->dead)
            continue;
        int ret = infer_node(g, n, err, errlen);
        if (ret < 0)
            return ret;
        /* Every shape stays within G_MAX_ELEMS per batch item, zero dims
         * aside, so that no product of dims later (here, in fusion, in the
         * compiler) overflows: broadcasting inputs against each other could
         * otherwise reach 2^84. */
        const gr_tensor *o = &g->t[n->out[0]];
        int64_t per = 1;
        for (int k = 0; k < o->ndim && per >= 0; k++) {
            int64_t d = o->dims[k] == G_BATCH ? 1 : o->dims[k];
            per = d < 0 || (d && per > G_MAX_ELEMS / d) ? -1 : d ? per * d : per;
        }
        char d_[300];
        if (per < 0) {
            char s[96];
            gr_dims_str(s, sizeof s, o->ndim, o->dims);
            snprintf(err, errlen, "%s: output shape %s is negative or too large",
                     gr_node_desc(n, d_, sizeof d_), s);
            return ENG_EMODEL;
        }
        if (n->dead && (spent += const_bytes(o)) > budget) {
            snprintf(err, errlen, "%s: folding constants takes more than %zu MB",
                     gr_node_desc(n, d_, sizeof d_), budget >> 20);
            return ENG_EMODEL;
        }
    }
    for (int i = 0; i < g->noutputs; i++) {
        const gr_tensor *o = &g->t[g->outputs[i]];
        if (!o->known) {
            snprintf(err, errlen, "graph output '%s' has no known shape", o->name);
            return ENG_EMODEL;
        }
    }
    gr_recount(g);
    return 0;
}

int gr_shapes_for_batch(const gr_graph *g, int batch, int64_t (*dims)[G_MAX_DIMS],
                       char *err, size_t errlen)
{
    (void)err; (void)errlen;
    for (int i = 0; i < g->nt; i++)
        for (int k = 0; k < G_MAX_DIMS; k++)
            dims[i][k] = k < g->t[i].ndim && g->t[i].dims[k] == G_BATCH ? batch : g->t[i].dims[k];
    return 0;
}

int gr_has_batch(const gr_tensor *t)
{
    return has_batch(t->ndim, t->dims);
}
