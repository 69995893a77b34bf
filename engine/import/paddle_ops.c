/* paddle_ops.c: Paddle operators to graph nodes with ONNX semantics.
 *
 * One function per operator family.  Paddle's conventions become ONNX's
 * here and nowhere else: paddings [top, bottom, left, right] become pads
 * [top, left, bottom, right]; an elementwise op's `axis` (Y's dims matched
 * to X's from that axis on) becomes plain right-aligned broadcasting by
 * giving Y trailing 1s; dropout's downscale_in_infer becomes a multiply by
 * 1 - p; Linear's [in, out] weight is already what MatMul wants.  What the
 * engine cannot compute is refused here with the op named, not later. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/import/paddle.h"

#define FAIL(code, ...) return op_fail(o, code, err, errlen, __VA_ARGS__)

static int op_fail(const pd_op *o, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int op_fail(const pd_op *o, int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(err, errlen, "op #%d (%.80s): ", o->idx, o->orig);
    if (k < 0 || (size_t)k >= errlen)
        return code;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------ attributes */

static const pd_attr *attr(const pd_op *o, const char *a, const char *b)
{
    for (int i = 0; i < o->nattrs; i++)
        if (strcmp(o->attrs[i].name, a) == 0 || (b && strcmp(o->attrs[i].name, b) == 0))
            return &o->attrs[i];
    return NULL;
}

static int64_t aint(const pd_op *o, const char *a, const char *b, int64_t def)
{
    const pd_attr *x = attr(o, a, b);
    return x && (x->kind == PA_INT || x->kind == PA_BOOL) ? x->i : def;
}

static double afloat(const pd_op *o, const char *a, const char *b, double def)
{
    const pd_attr *x = attr(o, a, b);
    return x && (x->kind == PA_FLOAT || x->kind == PA_INT) ? x->f : def;
}

static const char *astr(const pd_op *o, const char *a, const char *b, const char *def)
{
    const pd_attr *x = attr(o, a, b);
    return x && x->kind == PA_STR ? x->s : def;
}

/* Copies at most max ints; the count present, -1 when absent or not ints. */
static int aints(const pd_op *o, const char *a, const char *b, int64_t *v, int max)
{
    const pd_attr *x = attr(o, a, b);
    if (!x || x->kind != PA_INTS)
        return -1;
    for (int i = 0; i < x->n && i < max; i++)
        v[i] = x->ints[i];
    return x->n;
}

/* ------------------------------------------------------------- operands */

static int in_var(const pd_op *o, const char *slot, int k)
{
    for (int i = 0; i < o->nin; i++)
        if (strcmp(o->in[i].name, slot) == 0)
            return k < o->in[i].n ? o->in[i].v[k] : -1;
    return -1;
}

/* The graph tensor holding an input; -1 (with err set) when the slot is
 * empty and required, or names a variable nothing defined. */
static int in_t(pd_map *m, const pd_op *o, const char *slot, int required, char *err, size_t errlen)
{
    int v = in_var(o, slot, 0);
    if (v < 0) {
        if (required)
            op_fail(o, ENG_EMODEL, err, errlen, "input %s is missing", slot);
        return -1;
    }
    if (m->vt[v] < 0) {
        op_fail(o, ENG_EMODEL, err, errlen, "input %s '%.120s' is not defined by an earlier op, "
                "a parameter or a feed", slot, m->p->v[v].name);
        return -2;
    }
    return m->vt[v];
}

#define IN(var, slot) do { if ((var = in_t(m, o, slot, 1, err, errlen)) < 0) return ENG_EMODEL; } while (0)

/* Declared rank of an operand: the constant's, else what the program says. */
static int rank_of(pd_map *m, const pd_op *o, const char *slot)
{
    int v = in_var(o, slot, 0);
    if (v < 0)
        return -1;
    int t = m->vt[v];
    if (t >= 0 && m->g->t[t].known)
        return m->g->t[t].ndim;
    return m->p->v[v].ndim;
}

static const int64_t *decl_dims(pd_map *m, const pd_op *o, const char *slot)
{
    int v = in_var(o, slot, 0);
    if (v < 0)
        return NULL;
    int t = m->vt[v];
    if (t >= 0 && m->g->t[t].known)
        return m->g->t[t].dims;
    return m->p->v[v].ndim >= 0 ? m->p->v[v].dims : NULL;
}


/* ---------------------------------------------------------------- nodes */

static int nomem(const pd_op *o, char *err, size_t errlen)
{
    return op_fail(o, ENG_ENOMEM, err, errlen, "out of memory");
}

/* The op's result as a new graph tensor named for its variable. */
static int out_t(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    if (o->out0 < 0)
        return op_fail(o, ENG_EMODEL, err, errlen, "has no output");
    const pd_var *v = &m->p->v[o->out0];
    if (m->vt[o->out0] >= 0 || gr_tensor_get(m->g, v->name, 0) >= 0)
        return op_fail(o, ENG_EMODEL, err, errlen, "output '%.120s' is already defined elsewhere",
                       v->name);
    int t = gr_tensor_get(m->g, v->name, 1);
    if (t < 0)
        return nomem(o, err, errlen);
    m->vt[o->out0] = t;
    return t;
}

/* An intermediate tensor between the nodes one op becomes. */
static int mid_t(pd_map *m, const pd_op *o, const char *what, char *err, size_t errlen)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%.200s/%s", o->out0 >= 0 ? m->p->v[o->out0].name : "?", what);
    if (gr_tensor_get(m->g, nm, 0) >= 0)
        return op_fail(o, ENG_EMODEL, err, errlen, "tensor '%s' is already defined", nm);
    int t = gr_tensor_get(m->g, nm, 1);
    return t < 0 ? nomem(o, err, errlen) : t;
}

/* A node reading ins[] and writing tensor out; its index, or < 0. */
static int node(pd_map *m, const pd_op *o, gr_opkind op, const char *suffix, int nin,
                const int *ins, int out, char *err, size_t errlen)
{
    char name[200];
    snprintf(name, sizeof name, "#%d %.80s%s%s", o->idx, o->orig, suffix ? "/" : "", suffix ? suffix : "");
    int n = gr_node_add(m->g, name, gr_opname(op), op, nin, 1);
    if (n < 0)
        return nomem(o, err, errlen);
    for (int i = 0; i < nin; i++)
        m->g->n[n].in[i] = ins[i];
    m->g->n[n].out[0] = out;
    m->g->t[out].producer = n;
    return n;
}

static int set_ints(gr_graph *g, int n, const char *name, const int64_t *v, int k)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_INTS);
    if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)(k ? k : 1))))
        return -1;
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
    a->n = k;
    return 0;
}

static int set_int(gr_graph *g, int n, const char *name, int64_t v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_INT);
    if (!a)
        return -1;
    a->i = v;
    return 0;
}

static int set_float(gr_graph *g, int n, const char *name, float v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_FLOAT);
    if (!a)
        return -1;
    a->f = v;
    return 0;
}

static int set_str(gr_graph *g, int n, const char *name, const char *v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_STRING);
    return a && (a->s = strdup(v)) ? 0 : -1;
}

/* A new constant: a float scalar, or int64 values. */
static int const_scalar(gr_graph *g, float v)
{
    float *d = malloc(sizeof(float));
    if (!d)
        return -1;
    *d = v;
    int t = gr_tensor_new_const(g, NULL, G_F32, 0, NULL, d);
    if (t < 0)
        free(d);
    return t;
}

static int const_i64(gr_graph *g, const int64_t *v, int k)
{
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(k ? k : 1)), dim = k;
    if (!d)
        return -1;
    memcpy(d, v, sizeof(int64_t) * (size_t)k);
    int t = gr_tensor_new_const(g, NULL, G_I64, 1, &dim, d);
    if (t < 0)
        free(d);
    return t;
}

/* Constants ops make (copies, fills) are charged to a budget, so that a
 * program cannot multiply its weights or ask for fills without end. */
static int charge(pd_map *m, const pd_op *o, int64_t n, char *err, size_t errlen)
{
    if (n < 0 || n > m->budget)
        return op_fail(o, ENG_EUNSUP, err, errlen, "constants made by the program's ops would "
                       "exceed the weights' size plus 2^24 elements");
    m->budget -= n;
    return 0;
}

/* A copy of constant t with other dims (same element count) or transposed. */
static int const_copy(gr_graph *g, int t, int nd, const int64_t *dims, int transpose)
{
    const gr_tensor *x = &g->t[t];
    int64_t n = gr_tensor_numel(x);
    size_t es = gr_dtype_size(x->dtype);
    void *d = malloc((size_t)(n ? n : 1) * es);
    if (!d)
        return -1;
    if (transpose) {
        int64_t r = x->dims[0], c = x->dims[1];
        for (int64_t i = 0; i < r; i++)
            for (int64_t k = 0; k < c; k++)
                memcpy((char *)d + (size_t)(k * r + i) * es, (const char *)x->data + (size_t)(i * c + k) * es, es);
    } else {
        memcpy(d, x->data, (size_t)n * es);
    }
    int nt = gr_tensor_new_const(g, NULL, x->dtype, nd, dims, d);
    if (nt < 0)
        free(d);
    return nt;
}

/* ------------------------------------------------------------ operators */

static int check_nchw(const pd_op *o, char *err, size_t errlen)
{
    const char *f = astr(o, "data_format", "data_layout", "NCHW");
    if (strcmp(f, "NCHW") && strcmp(f, "AnyLayout"))
        FAIL(ENG_EUNSUP, "data format %.40s unsupported (NCHW only)", f);
    return 0;
}

static int pair_attr(const pd_op *o, const char *name, int64_t *v, int64_t def, char *err, size_t errlen)
{
    int k = aints(o, name, NULL, v, 4);
    if (k < 0) {
        v[0] = v[1] = def;
        return 0;
    }
    if (k == 1)
        v[1] = v[0];
    else if (k != 2)
        FAIL(ENG_EMODEL, "%s has %d values, expected 2", name, k);
    return 0;
}

static int map_conv(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, w, ret;
    int64_t st[4], dl[4], pd[4] = { 0, 0, 0, 0 }, pads[4];
    IN(x, "Input");
    IN(w, "Filter");
    if ((ret = check_nchw(o, err, errlen)) < 0 || (ret = pair_attr(o, "strides", st, 1, err, errlen)) < 0 ||
        (ret = pair_attr(o, "dilations", dl, 1, err, errlen)) < 0)
        return ret;
    if (in_var(o, "Bias", 0) >= 0 || in_var(o, "ResidualData", 0) >= 0)
        FAIL(ENG_EUNSUP, "fused bias / residual inputs unsupported");
    int64_t groups = aint(o, "groups", NULL, 1);
    const char *alg = astr(o, "padding_algorithm", NULL, "EXPLICIT");
    int k = aints(o, "paddings", NULL, pd, 4);
    if (k == 2 || k == 1) {
        int64_t ph = pd[0], pw = k == 2 ? pd[1] : pd[0];
        pads[0] = pads[2] = ph;
        pads[1] = pads[3] = pw;
    } else if (k == 4) {            /* Paddle: top, bottom, left, right */
        pads[0] = pd[0]; pads[2] = pd[1]; pads[1] = pd[2]; pads[3] = pd[3];
    } else if (k < 0) {
        pads[0] = pads[1] = pads[2] = pads[3] = 0;
    } else {
        FAIL(ENG_EMODEL, "paddings has %d values, expected 2 or 4", k);
    }
    for (int i = 0; i < 4; i++)
        if (pads[i] < 0)
            FAIL(ENG_EMODEL, "negative padding %lld", (long long)pads[i]);
    int y = out_t(m, o, err, errlen), ins[2] = { x, w };
    if (y < 0)
        return y;
    int n = node(m, o, OP_CONV, NULL, 2, ins, y, err, errlen);
    if (n < 0)
        return n;
    gr_graph *g = m->g;
    if (strcmp(alg, "SAME") == 0) {
        /* Paddle's SAME puts the odd pixel at the end and ignores dilation */
        dl[0] = dl[1] = 1;
        if (set_str(g, n, "auto_pad", "SAME_UPPER") < 0)
            return nomem(o, err, errlen);
    } else if (strcmp(alg, "VALID") == 0) {
        if (set_str(g, n, "auto_pad", "VALID") < 0)
            return nomem(o, err, errlen);
    } else if (strcmp(alg, "EXPLICIT") == 0) {
        if (set_ints(g, n, "pads", pads, 4) < 0)
            return nomem(o, err, errlen);
    } else {
        FAIL(ENG_EMODEL, "padding_algorithm '%.40s' unknown", alg);
    }
    if (set_ints(g, n, "strides", st, 2) < 0 || set_ints(g, n, "dilations", dl, 2) < 0 ||
        set_int(g, n, "group", groups) < 0)
        return nomem(o, err, errlen);
    return 0;
}

static int map_bn(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int ins[5], ret;
    static const char *const slots[5] = { "X", "Scale", "Bias", "Mean", "Variance" };
    for (int i = 0; i < 5; i++)
        IN(ins[i], slots[i]);
    if ((ret = check_nchw(o, err, errlen)) < 0)
        return ret;
    if (!aint(o, "is_test", NULL, 1) && !aint(o, "use_global_stats", NULL, 0))
        FAIL(ENG_EMODEL, "batch statistics (is_test and use_global_stats false): "
             "a training program, not an inference one");
    double eps = afloat(o, "epsilon", NULL, 1e-5);
    if (!(eps >= 0 && eps < 1))
        FAIL(ENG_EMODEL, "epsilon %g out of range", eps);
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = node(m, o, OP_BATCHNORM, NULL, 5, ins, y, err, errlen);
    if (n < 0)
        return n;
    return set_float(m->g, n, "epsilon", (float)eps) < 0 ? nomem(o, err, errlen) : 0;
}

static int near(double a, double b)
{
    return fabs(a - b) < 1e-6;
}

static int map_act(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    const char *t = o->type;
    gr_opkind k;
    if (!strcmp(t, "relu")) {
        k = OP_RELU;
    } else if (!strcmp(t, "sigmoid")) {
        k = OP_SIGMOID;
    } else if (!strcmp(t, "hard_swish")) {
        if (!near(afloat(o, "threshold", NULL, 6), 6) || !near(afloat(o, "scale", NULL, 6), 6) ||
            !near(afloat(o, "offset", NULL, 3), 3))
            FAIL(ENG_EUNSUP, "threshold/scale/offset other than 6/6/3 unsupported");
        k = OP_HARDSWISH;
    } else if (!strcmp(t, "hard_sigmoid")) {
        k = OP_HARDSIGMOID;
    } else if (!strcmp(t, "relu6")) {
        k = OP_CLIP;
    } else {
        k = OP_IDENTITY;              /* assign */
    }
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int ins[3] = { x, -1, -1 }, nin = 1;
    if (k == OP_CLIP) {
        double thr = afloat(o, "threshold", NULL, 6);
        if (!(thr > 0 && thr < 1e30))
            FAIL(ENG_EMODEL, "threshold %g out of range", thr);
        if ((ins[1] = const_scalar(m->g, 0)) < 0 || (ins[2] = const_scalar(m->g, (float)thr)) < 0)
            return nomem(o, err, errlen);
        nin = 3;
    }
    int n = node(m, o, k, NULL, nin, ins, y, err, errlen);
    if (n < 0)
        return n;
    if (k == OP_HARDSIGMOID) {
        double a = afloat(o, "slope", NULL, 0.2), b = afloat(o, "offset", NULL, 0.5);
        if (!(fabs(a) < 3e38) || !(fabs(b) < 3e38))
            FAIL(ENG_EMODEL, "slope %g / offset %g out of range", a, b);
        if (set_float(m->g, n, "alpha", (float)a) < 0 || set_float(m->g, n, "beta", (float)b) < 0)
            return nomem(o, err, errlen);
    }
    return 0;
}

static int map_pool(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, ret;
    int64_t ks[4] = { 0, 0 }, v[4];
    IN(x, "X");
    if ((ret = check_nchw(o, err, errlen)) < 0)
        return ret;
    const char *type = astr(o, "pooling_type", NULL, "max");
    int global = (int)aint(o, "global_pooling", NULL, 0), adaptive = (int)aint(o, "adaptive", NULL, 0);
    int k = aints(o, "ksize", "kernel_size", ks, 4);
    int kt = in_var(o, "KernelSize", 0);
    if (k < 0 && kt >= 0) {
        int t = m->vt[kt];
        if (t < 0 || (k = gr_const_ints(m->g, t, ks, 4)) < 0)
            FAIL(ENG_EUNSUP, "the kernel size must be a constant");
    }
    if (k == 1)
        ks[1] = ks[0];
    else if (k >= 0 && k != 2 && !global)
        FAIL(ENG_EMODEL, "kernel size has %d values, expected 2", k);
    int is_gap = 0;
    if (strcmp(type, "avg") == 0) {
        const int64_t *d = decl_dims(m, o, "X");
        int pz = aints(o, "paddings", NULL, v, 4), zero = 1;
        for (int i = 0; i < pz && i < 4; i++)
            zero &= v[i] == 0;
        if (global || (adaptive && k >= 0 && ks[0] == 1 && ks[1] == 1))
            is_gap = 1;
        /* a plain window as large as the (declared) feature map is global too */
        else if (!adaptive && k >= 0 && zero && d && rank_of(m, o, "X") == 4 && d[2] == ks[0] &&
                 d[3] == ks[1] && !aint(o, "ceil_mode", NULL, 0))
            is_gap = 1;
    }
    if (!is_gap)
        FAIL(ENG_EUNSUP, "only global average pooling (global_pooling, or adaptive to 1x1) is "
             "supported, not %.10s pooling with kernel [%lld,%lld]%s", type, (long long)ks[0],
             (long long)ks[1], adaptive ? " adaptive" : "");
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = node(m, o, OP_GAP, NULL, 1, &x, y, err, errlen);
    return n < 0 ? n : 0;
}

/* Give operand t (in slot) `rank` dims by Paddle's axis rule: its own dims
 * start at `axis`, 1s around them.  Constants are copied reshaped, others
 * go through an Unsqueeze. */
static int align_axis(pd_map *m, const pd_op *o, int t, int r, int rank, int axis, const char *what,
                      char *err, size_t errlen)
{
    gr_graph *g = m->g;
    if (axis < 0 || axis + r > rank)
        FAIL(ENG_EMODEL, "axis %d does not fit a rank-%d operand into rank %d", axis, r, rank);
    if (g->t[t].data) {
        int64_t d[G_MAX_DIMS];
        int ret = charge(m, o, gr_tensor_numel(&g->t[t]), err, errlen);
        if (ret < 0)
            return ret;
        for (int i = 0; i < rank; i++)
            d[i] = i >= axis && i < axis + r ? g->t[t].dims[i - axis] : 1;
        int nt = const_copy(g, t, rank, d, 0);
        return nt < 0 ? nomem(o, err, errlen) : nt;
    }
    int64_t ax[G_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (i < axis || i >= axis + r)
            ax[k++] = i;
    int u = mid_t(m, o, what, err, errlen);
    if (u < 0)
        return u;
    int n = node(m, o, OP_UNSQUEEZE, what, 1, &t, u, err, errlen);
    if (n < 0)
        return n;
    return set_ints(g, n, "axes", ax, k) < 0 ? nomem(o, err, errlen) : u;
}

static int map_elementwise(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, y;
    IN(x, "X");
    IN(y, "Y");
    gr_opkind k = !strcmp(o->type, "elementwise_add") ? OP_ADD : !strcmp(o->type, "elementwise_sub") ? OP_SUB :
                  !strcmp(o->type, "elementwise_mul") ? OP_MUL : OP_DIV;
    int64_t axis = aint(o, "axis", NULL, -1);
    int rx = rank_of(m, o, "X"), ry = rank_of(m, o, "Y");
    if (axis != -1 && rx != ry) {
        if (rx < 0 || ry < 0)
            FAIL(ENG_EMODEL, "axis %lld given but the operands' ranks are not declared", (long long)axis);
        if (axis < 0 || axis > G_MAX_DIMS)
            FAIL(ENG_EMODEL, "axis %lld out of range", (long long)axis);
        /* the operand of lower rank is the one placed at `axis` */
        if (ry < rx)
            y = align_axis(m, o, y, ry, rx, (int)axis, "y", err, errlen);
        else
            x = align_axis(m, o, x, rx, ry, (int)axis, "x", err, errlen);
        if (x < 0 || y < 0)
            return x < 0 ? x : y;
    }
    int out = out_t(m, o, err, errlen), ins[2] = { x, y };
    if (out < 0)
        return out;
    int n = node(m, o, k, NULL, 2, ins, out, err, errlen);
    return n < 0 ? n : 0;
}

/* Multiply (then add) by constants, for scale, dropout and matmul's alpha:
 * the last node writes `out`. */
static int affine(pd_map *m, const pd_op *o, int x, double s, double b, int out, char *err, size_t errlen)
{
    int t = x;
    if (!isfinite(s) || !isfinite(b) || fabs(s) > 3e38 || fabs(b) > 3e38)
        FAIL(ENG_EMODEL, "scale %g / bias %g not finite", s, b);
    if (s == 1 && b == 0) {
        int n = node(m, o, OP_IDENTITY, NULL, 1, &x, out, err, errlen);
        return n < 0 ? n : 0;
    }
    if (s != 1) {
        int c = const_scalar(m->g, (float)s), dst = b != 0 ? mid_t(m, o, "scaled", err, errlen) : out;
        if (c < 0)
            return nomem(o, err, errlen);
        if (dst < 0)
            return dst;
        int ins[2] = { t, c };
        int n = node(m, o, OP_MUL, b != 0 ? "mul" : NULL, 2, ins, dst, err, errlen);
        if (n < 0)
            return n;
        t = dst;
    }
    if (b != 0) {
        int c = const_scalar(m->g, (float)b);
        if (c < 0)
            return nomem(o, err, errlen);
        int ins[2] = { t, c };
        int n = node(m, o, OP_ADD, s != 1 ? "add" : NULL, 2, ins, out, err, errlen);
        if (n < 0)
            return n;
    }
    return 0;
}

static int map_matmul(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, y;
    IN(x, "X");
    IN(y, "Y");
    gr_graph *g = m->g;
    int tx, ty;
    double alpha = 1;
    if (!strcmp(o->type, "matmul")) {
        tx = (int)aint(o, "transpose_X", "transpose_x", 0);
        ty = (int)aint(o, "transpose_Y", "transpose_y", 0);
        alpha = afloat(o, "alpha", NULL, 1);
    } else {
        tx = (int)aint(o, "trans_x", "transpose_x", 0);
        ty = (int)aint(o, "trans_y", "transpose_y", 0);
    }
    if (tx)
        FAIL(ENG_EUNSUP, "a transposed first operand is unsupported");
    if (ty) {
        const gr_tensor *w = &g->t[y];
        if (!w->data || w->ndim != 2)
            FAIL(ENG_EUNSUP, "a transposed second operand must be a 2-D constant");
        int64_t d[2] = { w->dims[1], w->dims[0] };
        int ret = charge(m, o, gr_tensor_numel(w), err, errlen);
        if (ret < 0)
            return ret;
        if ((y = const_copy(g, y, 2, d, 1)) < 0)
            return nomem(o, err, errlen);
    }
    int out = out_t(m, o, err, errlen);
    if (out < 0)
        return out;
    int mm = alpha != 1 ? mid_t(m, o, "matmul", err, errlen) : out, ins[2] = { x, y };
    if (mm < 0)
        return mm;
    int n = node(m, o, OP_MATMUL, alpha != 1 ? "matmul" : NULL, 2, ins, mm, err, errlen);
    if (n < 0)
        return n;
    return alpha != 1 ? affine(m, o, mm, alpha, 0, out, err, errlen) : 0;
}

/* The old fully connected op: X flattened to 2-D at x_num_col_dims, times Y. */
static int map_mul(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, y;
    IN(x, "X");
    IN(y, "Y");
    int64_t xc = aint(o, "x_num_col_dims", NULL, 1), yc = aint(o, "y_num_col_dims", NULL, 1);
    int rx = rank_of(m, o, "X");
    if (yc != 1 || m->g->t[y].ndim != 2)
        FAIL(ENG_EUNSUP, "only a 2-D Y (y_num_col_dims 1) is supported");
    if (rx < 0)
        FAIL(ENG_EMODEL, "the rank of X is not declared");
    if (xc < 1 || xc >= rx + (rx == 1))
        FAIL(ENG_EMODEL, "x_num_col_dims %lld out of range for rank %d", (long long)xc, rx);
    if (rx != 2) {
        int f = mid_t(m, o, "flat", err, errlen);
        if (f < 0)
            return f;
        int n = node(m, o, OP_FLATTEN, "flatten", 1, &x, f, err, errlen);
        if (n < 0)
            return n;
        if (set_int(m->g, n, "axis", xc) < 0)
            return nomem(o, err, errlen);
        x = f;
    }
    int out = out_t(m, o, err, errlen), ins[2] = { x, y };
    if (out < 0)
        return out;
    int n = node(m, o, OP_MATMUL, NULL, 2, ins, out, err, errlen);
    return n < 0 ? n : 0;
}

static int map_flatten(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    int r = rank_of(m, o, "X");
    const int64_t *d = decl_dims(m, o, "X");
    if (!strcmp(o->type, "flatten2") || !strcmp(o->type, "flatten")) {
        int64_t axis = aint(o, "axis", NULL, 1);
        int y = out_t(m, o, err, errlen);
        if (y < 0)
            return y;
        int n = node(m, o, OP_FLATTEN, NULL, 1, &x, y, err, errlen);
        if (n < 0)
            return n;
        return set_int(m->g, n, "axis", axis) < 0 ? nomem(o, err, errlen) : 0;
    }
    if (r < 0 || !d)
        FAIL(ENG_EMODEL, "the rank of X is not declared");
    int64_t s = aint(o, "start_axis", NULL, 1), e = aint(o, "stop_axis", NULL, -1);
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    if (r == 0)
        s = e = 0;
    if (s < 0 || e >= (r ? r : 1) || s > e)
        FAIL(ENG_EMODEL, "start_axis %lld / stop_axis %lld invalid for rank %d",
             (long long)aint(o, "start_axis", NULL, 1), (long long)aint(o, "stop_axis", NULL, -1), r);
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    if (s == 1 && e == r - 1) {
        int n = node(m, o, OP_FLATTEN, NULL, 1, &x, y, err, errlen);
        if (n < 0)
            return n;
        return set_int(m->g, n, "axis", 1) < 0 ? nomem(o, err, errlen) : 0;
    }
    /* dims before start copied (0), the range merged (-1), the rest as declared */
    int64_t tgt[G_MAX_DIMS];
    int k = 0;
    for (int64_t i = 0; i < s; i++)
        tgt[k++] = 0;
    tgt[k++] = -1;
    for (int64_t i = e + 1; i < r; i++) {
        if (d[i] <= 0)
            FAIL(ENG_EUNSUP, "dim %lld after stop_axis is not a fixed size", (long long)i);
        tgt[k++] = d[i];
    }
    int c = const_i64(m->g, tgt, k), ins[2] = { x, c };
    if (c < 0)
        return nomem(o, err, errlen);
    int n = node(m, o, OP_RESHAPE, NULL, 2, ins, y, err, errlen);
    return n < 0 ? n : 0;
}

static int map_reshape(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    int64_t tgt[G_MAX_DIMS + 1];
    IN(x, "X");
    int k = -1, sv = in_var(o, "Shape", 0);
    if (sv >= 0) {
        if (m->vt[sv] < 0 || (k = gr_const_ints(m->g, m->vt[sv], tgt, G_MAX_DIMS + 1)) < 0)
            FAIL(ENG_EUNSUP, "the target shape must be a constant");
    } else if (in_var(o, "ShapeTensor", 0) >= 0) {
        FAIL(ENG_EUNSUP, "a target shape from tensors (ShapeTensor) is unsupported");
    } else {
        k = aints(o, "shape", NULL, tgt, G_MAX_DIMS + 1);
    }
    if (k < 0)
        FAIL(ENG_EMODEL, "no target shape");
    if (k > G_MAX_DIMS)
        FAIL(ENG_EUNSUP, "target rank %d, at most %d", k, G_MAX_DIMS);
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int c = const_i64(m->g, tgt, k), ins[2] = { x, c };
    if (c < 0)
        return nomem(o, err, errlen);
    int n = node(m, o, OP_RESHAPE, NULL, 2, ins, y, err, errlen);
    return n < 0 ? n : 0;
}

static int map_squeeze(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    int64_t ax[G_MAX_DIMS + 1];
    IN(x, "X");
    int unsq = !strcmp(o->type, "unsqueeze2");
    int k = aints(o, "axes", NULL, ax, G_MAX_DIMS + 1), av = in_var(o, "Axes", 0);
    if (k < 0 && av >= 0 && (m->vt[av] < 0 || (k = gr_const_ints(m->g, m->vt[av], ax, G_MAX_DIMS + 1)) < 0))
        FAIL(ENG_EUNSUP, "the axes must be a constant");
    if (k > G_MAX_DIMS)
        FAIL(ENG_EMODEL, "%d axes", k);
    if (unsq && k <= 0)
        FAIL(ENG_EMODEL, "no axes");
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = node(m, o, unsq ? OP_UNSQUEEZE : OP_SQUEEZE, NULL, 1, &x, y, err, errlen);
    if (n < 0)
        return n;
    return k > 0 && set_ints(m->g, n, "axes", ax, k) < 0 ? nomem(o, err, errlen) : 0;
}

static int map_softmax(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = node(m, o, OP_SOFTMAX, NULL, 1, &x, y, err, errlen);
    if (n < 0)
        return n;
    return set_int(m->g, n, "axis", aint(o, "axis", NULL, -1)) < 0 ? nomem(o, err, errlen) : 0;
}

static int map_dropout(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    if (!aint(o, "is_test", NULL, 1))
        FAIL(ENG_EMODEL, "is_test is false: a training program drops at random; "
             "export the model for inference");
    const char *mode = astr(o, "dropout_implementation", "mode", "downgrade_in_infer");
    double p = afloat(o, "dropout_prob", "p", 0.5);
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    if (!strcmp(mode, "upscale_in_train"))
        return affine(m, o, x, 1, 0, y, err, errlen);
    if (strcmp(mode, "downgrade_in_infer") && strcmp(mode, "downscale_in_infer"))
        FAIL(ENG_EUNSUP, "dropout mode '%.40s' unknown", mode);
    if (!(p >= 0 && p <= 1))
        FAIL(ENG_EMODEL, "dropout probability %g out of [0, 1]", p);
    /* downscale_in_infer: kept activations were not scaled up while training,
     * so at inference all are scaled down by the keep probability */
    return affine(m, o, x, 1 - p, 0, y, err, errlen);
}

static int map_scale(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    double s = afloat(o, "scale", NULL, 1), b = afloat(o, "bias", NULL, 0);
    int sv = in_var(o, "ScaleTensor", 0);
    if (sv >= 0) {
        float v;
        if (m->vt[sv] < 0 || !gr_is_scalar_const(m->g, m->vt[sv], &v))
            FAIL(ENG_EUNSUP, "the scale must be a constant scalar");
        s = v;
    }
    if (!aint(o, "bias_after_scale", NULL, 1))
        b *= s;                      /* s * (x + b) */
    int y = out_t(m, o, err, errlen);
    if (y < 0)
        return y;
    return affine(m, o, x, s, b, y, err, errlen);
}

/* Data types as the two formats write them: PIR a name, 2.x a VarType number. */
static int const_dtype(const pd_op *o)
{
    const pd_attr *a = attr(o, "dtype", NULL);
    if (!a)
        return !strcmp(o->type, "full_int_array") ? G_I64 : G_F32;
    if (a->kind == PA_STR)
        return !strcmp(a->s, "float32") ? G_F32 : !strcmp(a->s, "int64") ? G_I64 :
               !strcmp(a->s, "int32") ? G_I32 : 0;
    if (a->kind == PA_INT)
        return a->i == 5 ? G_F32 : a->i == 3 ? G_I64 : a->i == 2 ? G_I32 : 0;
    return 0;
}

/* full / fill_constant / full_int_array: a constant tensor. */
static int map_const(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int64_t shape[G_MAX_DIMS + 1], vals[PD_MAX_LIST];
    int dt = const_dtype(o), nd = 1, nv = 0;
    double value = 0;
    if (!dt)
        FAIL(ENG_EUNSUP, "constant data type unsupported (float32, int32, int64 only)");
    if (!strcmp(o->type, "full_int_array")) {
        const pd_attr *a = attr(o, "value", NULL);
        if (a && a->kind == PA_INTS) {
            nv = a->n > PD_MAX_LIST ? PD_MAX_LIST : a->n;
            for (int i = 0; i < nv; i++)
                vals[i] = a->ints[i];
        } else if (a && a->kind == PA_FLOATS) {
            FAIL(ENG_EMODEL, "value must be integers");
        } else if (a) {
            FAIL(ENG_EMODEL, "value is not a list");
        }
        shape[0] = nv;
    } else {
        if (in_var(o, "ShapeTensor", 0) >= 0 || in_var(o, "ValueTensor", 0) >= 0)
            FAIL(ENG_EUNSUP, "shape or value from a tensor is unsupported");
        nd = aints(o, "shape", NULL, shape, G_MAX_DIMS + 1);
        if (nd < 0)
            nd = 0;
        if (nd > G_MAX_DIMS)
            FAIL(ENG_EUNSUP, "rank %d, at most %d", nd, G_MAX_DIMS);
        const char *sv = astr(o, "str_value", NULL, "");
        value = sv[0] ? strtod(sv, NULL) : afloat(o, "value", NULL, 0);
    }
    int64_t n = gr_numel(nd, shape);
    if (n < 0 || n > (1 << 20))
        FAIL(ENG_EUNSUP, "constant of %lld elements: negative or too large", (long long)n);
    int ret = charge(m, o, n, err, errlen);
    if (ret < 0)
        return ret;
    if (dt != G_F32 ? !(value > -9.2e18 && value < 9.2e18) : !(fabs(value) <= 3.4e38))
        FAIL(ENG_EMODEL, "value %g does not fit %s", value, gr_dtype_name(dt));
    void *d = calloc((size_t)(n ? n : 1), gr_dtype_size(dt));
    if (!d)
        return nomem(o, err, errlen);
    for (int64_t i = 0; i < n; i++) {
        if (dt == G_F32) {
            ((float *)d)[i] = nv ? (float)vals[i] : (float)value;
            continue;
        }
        int64_t iv = nv ? vals[i] : (int64_t)value;
        if (dt == G_I64)
            ((int64_t *)d)[i] = iv;
        else
            ((int32_t *)d)[i] = (int32_t)iv;
    }
    int y = out_t(m, o, err, errlen);
    if (y < 0) {
        free(d);
        return y;
    }
    gr_tensor_new_const(m->g, m->g->t[y].name, dt, nd, shape, d);
    return 0;
}

typedef int (*map_fn)(pd_map *, const pd_op *, char *, size_t);
static const struct { const char *type; map_fn fn; } mappers[] = {
    { "conv2d", map_conv }, { "depthwise_conv2d", map_conv },
    { "batch_norm", map_bn },
    { "relu", map_act }, { "sigmoid", map_act }, { "hard_swish", map_act },
    { "hard_sigmoid", map_act }, { "relu6", map_act }, { "assign", map_act },
    { "pool2d", map_pool },
    { "elementwise_add", map_elementwise }, { "elementwise_sub", map_elementwise },
    { "elementwise_mul", map_elementwise }, { "elementwise_div", map_elementwise },
    { "matmul", map_matmul }, { "matmul_v2", map_matmul }, { "mul", map_mul },
    { "flatten_contiguous_range", map_flatten }, { "flatten2", map_flatten }, { "flatten", map_flatten },
    { "reshape2", map_reshape }, { "reshape", map_reshape },
    { "squeeze2", map_squeeze }, { "unsqueeze2", map_squeeze },
    { "softmax", map_softmax }, { "dropout", map_dropout }, { "scale", map_scale },
    { "full", map_const }, { "fill_constant", map_const }, { "full_int_array", map_const },
};

int pd_map_op(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof mappers / sizeof mappers[0]; i++)
        if (strcmp(mappers[i].type, o->type) == 0)
            return mappers[i].fn(m, o, err, errlen);
    FAIL(ENG_EUNSUP, "operator not supported");
}
