/* fold.c: constant folding at load.  Shape arithmetic (Shape, Slice,
 * Concat, Gather, Cast, and Add/Sub/Mul/Div of constants) is computed here
 * once, so that a Reshape's target is a known constant by the time shapes
 * are inferred past it; views of constants fold to constants.  Folding
 * copies and grows constants: the caps here and in gr_infer keep a few KB
 * of file from becoming GBs of memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/infer.h"
#include "engine/graph/ops.h"

/* Concat and Gather of constants can grow them 64-fold a node; past this
 * many elements it is no longer shape arithmetic. */
#define FOLD_MAX_ELEMS ((int64_t)1 << 20)

#define FAIL(...) return gr_node_fail(n, err, errlen, __VA_ARGS__)

static void *alloc_elems(int64_t n, int dtype)
{
    return calloc((size_t)(n ? n : 1), gr_dtype_size(dtype));
}

/* Make node n's single output a constant holding data; the node dies. */
static int fold_to(gr_graph *g, gr_node *n, int dtype, int nd, const int64_t *dims, void *data)
{
    int t = n->out[0];
    gr_tensor *x = &g->t[t];
    gr_set_shape(g, t, dtype, nd, dims);
    free(x->data);
    x->data = data;
    x->producer = -1;
    n->dead = 1;
    return 0;
}

/* Reshape-like nodes on constants fold to a copy with the new shape. */
int gr_fold_view(gr_graph *g, gr_node *n)
{
    const gr_tensor *x = gr_in(g, n, 0);
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

/* Elementwise arithmetic on constants (shape math, scalar constants). */
int gr_fold_arith(gr_graph *g, gr_node *n, int nd, const int64_t *od, char *err, size_t errlen)
{
    const gr_tensor *a = gr_in(g, n, 0), *b = gr_in(g, n, 1);
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
                FAIL("integer overflow in %lld %s %lld", (long long)x, gr_op(n->op)->onnx, (long long)y);
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

/* ------------------------------------------------- shape arithmetic */

int gr_fold_shape(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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

int gr_fold_slice(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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

int gr_fold_concat(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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
        const gr_tensor *y = gr_in(g, n, i);
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
        const gr_tensor *y = gr_in(g, n, i);
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

int gr_fold_gather(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0), *ix = gr_in(g, n, 1);
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

int gr_fold_cast(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    int to = (int)gr_attr_int(n, "to", 0);
    if (!gr_is_const(g, n->in[0])) {
        if (to == x->dtype) {           /* a no-op cast on a computed tensor */
            n->op = OP_IDENTITY;
            gr_set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
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
