/* shape.c: shape inference, node by node in file order, through each
 * operator's shape function (its row in optab.c; those of shape arithmetic,
 * which fold, are in fold.c).
 *
 * Every node's inputs are checked here, once, so the compiler can trust
 * shapes.  The batch of a dynamic input travels as G_BATCH; anything that
 * would multiply it into another dimension is refused, so substituting the
 * real batch later is always exact. */
#include "engine/graph/passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/infer.h"
#include "engine/graph/ops.h"
#include "engine/graph/quant.h"

/* What folding may allocate in all, beyond the constants the file holds. */
#define FOLD_SLACK_BYTES ((size_t)64 << 20)

#define FAIL(...) return gr_node_fail(n, err, errlen, __VA_ARGS__)

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


/* ---------------------------------------------------------------- views */

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

int gr_shape_reshape(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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
    gr_set_shape(g, n->out[0], x->dtype, k, out);
    return 0;
}

int gr_shape_flatten(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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
    gr_set_shape(g, n->out[0], x->dtype, 2, d);
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

int gr_shape_squeeze(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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
    gr_set_shape(g, n->out[0], x->dtype, nd, d);
    return 0;
}

int gr_shape_unsqueeze(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
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
    gr_set_shape(g, n->out[0], x->dtype, r, d);
    return 0;
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

/* Every shape function below runs after infer_node's checks: an output,
 * every input's shape known, the first input present (but for Concat). */

int gr_shape_conv(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    int64_t d[G_MAX_DIMS];
    conv_params p;
    int ret;
    if (x->dtype != G_F32)
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
    return gr_set_shape(g, n->out[0], G_F32, 4, d);
}

int gr_shape_batchnorm(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    int ret;
    if (x->dtype != G_F32 || x->ndim < 2)
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
    return gr_set_shape(g, n->out[0], G_F32, x->ndim, x->dims);
}

/* An activation: float32 in, the same shape out. */
int gr_shape_act(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    if (x->dtype != G_F32)
        FAIL("input must be float32, not %s", gr_dtype_name(x->dtype));
    return gr_set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
}

int gr_shape_clip(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    float lo, hi;
    int ret = clip_bounds(g, n, &lo, &hi, err, errlen);
    return ret < 0 ? ret : gr_shape_act(g, n, err, errlen);
}

int gr_shape_same(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    (void)err; (void)errlen;
    return gr_set_shape(g, n->out[0], x->dtype, x->ndim, x->dims);
}

int gr_shape_dropout(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    if (n->nin > 2 && n->in[2] >= 0) {
        float v;
        if (!gr_is_scalar_const(g, n->in[2], &v) || v != 0)
            FAIL("training_mode must be a constant false");
    }
    return gr_shape_same(g, n, err, errlen);
}

int gr_shape_binary(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0), *y = gr_in(g, n, 1);
    int64_t d[G_MAX_DIMS];
    int nd, ret;
    if (!y)
        FAIL("needs two inputs");
    if (bcast(x, y, &nd, d) < 0) {
        char a[96], b[96];
        gr_dims_str(a, sizeof a, x->ndim, x->dims);
        gr_dims_str(b, sizeof b, y->ndim, y->dims);
        FAIL("shapes %s and %s do not broadcast", a, b);
    }
    if (gr_is_const(g, n->in[0]) && gr_is_const(g, n->in[1])) {
        if ((ret = gr_fold_arith(g, n, nd, d, err, errlen)) < 0)
            return ret;
        if (n->dead)
            return 0;
    }
    if (x->dtype != y->dtype)
        FAIL("inputs differ in type (%s, %s)", gr_dtype_name(x->dtype), gr_dtype_name(y->dtype));
    return gr_set_shape(g, n->out[0], x->dtype, nd, d);
}

int gr_shape_gap(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    int64_t d[G_MAX_DIMS];
    if (x->dtype != G_F32 || x->ndim < 3)
        FAIL("input must be float32 of rank >= 3");
    for (int i = 0; i < x->ndim; i++)
        d[i] = i < 2 ? x->dims[i] : 1;
    return gr_set_shape(g, n->out[0], G_F32, x->ndim, d);
}

int gr_shape_reducemean(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    int64_t d[G_MAX_DIMS];
    unsigned mask;
    int keep, nd = 0, ret;
    if (x->dtype != G_F32)
        FAIL("input must be float32");
    if ((ret = reduce_axes(g, n, x->ndim, &mask, &keep, err, errlen)) < 0)
        return ret;
    if ((mask & 1) && x->dims[0] == G_BATCH)
        FAIL("reducing over the dynamic batch is unsupported");
    for (int i = 0; i < x->ndim; i++) {
        if (!(mask & (1u << i)))
            d[nd++] = x->dims[i];
        else if (keep)
            d[nd++] = 1;
    }
    return gr_set_shape(g, n->out[0], G_F32, nd, d);
}

int gr_shape_gemm(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0), *b = gr_in(g, n, 1), *c = gr_in(g, n, 2);
    int64_t d[G_MAX_DIMS];
    gemm_params p;
    int nd;
    gemm_get(n, &p);
    if (!b || x->ndim != 2 || b->ndim != 2 || x->dtype != G_F32 || b->dtype != G_F32)
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
    return gr_set_shape(g, n->out[0], G_F32, 2, d);
}

int gr_shape_matmul(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0), *b = gr_in(g, n, 1);
    int64_t d[G_MAX_DIMS];
    int nd;
    if (!b || x->dtype != G_F32 || b->dtype != G_F32 || x->ndim < 2 || b->ndim < 2)
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
    return gr_set_shape(g, n->out[0], G_F32, nd + 2, d);
}

int gr_shape_softmax(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0);
    if (x->dtype != G_F32 || softmax_axis(g, n, x->ndim) < 0)
        FAIL("needs float32 input and a valid axis");
    return gr_set_shape(g, n->out[0], G_F32, x->ndim, x->dims);
}

int gr_shape_qdq(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_tensor *x = gr_in(g, n, 0), *s = gr_in(g, n, 1);
    if (!s || !gr_is_const(g, n->in[1]))
        FAIL("scale must be a constant");
    if (n->nin > 2 && n->in[2] >= 0 && !gr_is_const(g, n->in[2]))
        FAIL("zero point must be a constant");
    int odt = G_F32;
    if (n->op == OP_QUANTIZE)
        odt = n->nin > 2 && n->in[2] >= 0 ? g->t[n->in[2]].dtype : G_U8;
    if (n->op == OP_QUANTIZE && odt != G_U8 && odt != G_I8)
        FAIL("quantising to %s unsupported", gr_dtype_name(odt));
    return gr_set_shape(g, n->out[0], odt, x->ndim, x->dims);
}

/* The checks every node passes, then its row's shape function. */
static int infer_node(gr_graph *g, gr_node *n, char *err, size_t errlen)
{
    const gr_opdef *op = gr_op(n->op);
    const gr_tensor *x = gr_in(g, n, 0);

    if (n->nout < 1 || n->out[0] < 0)
        FAIL("has no output");
    if (!(op->flags & GR_OP_ANY_FIRST) && !x)
        FAIL("first input missing");
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0 && !g->t[n->in[i]].known)
            FAIL("input '%s' has no known shape", g->t[n->in[i]].name);
    /* Only the first output of any node we run may be used. */
    for (int i = 1; i < n->nout; i++)
        if (n->out[i] >= 0 && g->t[n->out[i]].nuse > 0)
            FAIL("output %d ('%s') is used; only the first output is supported "
                 "(training-mode outputs?)", i, g->t[n->out[i]].name);
    if (!op->shape)
        FAIL("operator is not supported by lcnetd's compiler");
    int ret = op->shape(g, n, err, errlen);
    /* a view (Reshape, ...) of a constant is a constant of its new shape */
    if (ret == 0 && op->cls == OPC_VIEW && gr_is_const(g, n->in[0]))
        return gr_fold_view(g, n);
    return ret;
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

void gr_shapes_for_batch(const gr_graph *g, int batch, int64_t (*dims)[G_MAX_DIMS])
{
    for (int i = 0; i < g->nt; i++)
        for (int k = 0; k < G_MAX_DIMS; k++)
            dims[i][k] = k < g->t[i].ndim && g->t[i].dims[k] == G_BATCH ? batch : g->t[i].dims[k];
}

int gr_has_batch(const gr_tensor *t)
{
    return has_batch(t->ndim, t->dims);
}
