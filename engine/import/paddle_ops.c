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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/import/paddle.h"
#include "engine/import/paddle_map.h"

/* ------------------------------------------------------------ operators */

static int check_nchw(const pd_op *o, char *err, size_t errlen)
{
    const char *f = pm_str(o, "data_format", "data_layout", "NCHW");
    if (strcmp(f, "NCHW") && strcmp(f, "AnyLayout"))
        FAIL(ENG_EUNSUP, "data format %.40s unsupported (NCHW only)", f);
    return 0;
}

static int pair_attr(const pd_op *o, const char *name, int64_t *v, int64_t def, char *err, size_t errlen)
{
    int k = pm_ints(o, name, NULL, v, 4);
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
    if (pm_in_var(o, "Bias", 0) >= 0 || pm_in_var(o, "ResidualData", 0) >= 0)
        FAIL(ENG_EUNSUP, "fused bias / residual inputs unsupported");
    int64_t groups = pm_int(o, "groups", NULL, 1);
    const char *alg = pm_str(o, "padding_algorithm", NULL, "EXPLICIT");
    int k = pm_ints(o, "paddings", NULL, pd, 4);
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
    int y = pm_out(m, o, err, errlen), ins[2] = { x, w };
    if (y < 0)
        return y;
    int n = pm_node(m, o, OP_CONV, NULL, 2, ins, y, err, errlen);
    if (n < 0)
        return n;
    gr_graph *g = m->g;
    if (strcmp(alg, "SAME") == 0) {
        /* Paddle's SAME puts the odd pixel at the end and ignores dilation */
        dl[0] = dl[1] = 1;
        if (pm_set_str(g, n, "auto_pad", "SAME_UPPER") < 0)
            return pm_nomem(o, err, errlen);
    } else if (strcmp(alg, "VALID") == 0) {
        if (pm_set_str(g, n, "auto_pad", "VALID") < 0)
            return pm_nomem(o, err, errlen);
    } else if (strcmp(alg, "EXPLICIT") == 0) {
        if (pm_set_ints(g, n, "pads", pads, 4) < 0)
            return pm_nomem(o, err, errlen);
    } else {
        FAIL(ENG_EMODEL, "padding_algorithm '%.40s' unknown", alg);
    }
    if (pm_set_ints(g, n, "strides", st, 2) < 0 || pm_set_ints(g, n, "dilations", dl, 2) < 0 ||
        pm_set_int(g, n, "group", groups) < 0)
        return pm_nomem(o, err, errlen);
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
    if (!pm_int(o, "is_test", NULL, 1) && !pm_int(o, "use_global_stats", NULL, 0))
        FAIL(ENG_EMODEL, "batch statistics (is_test and use_global_stats false): "
             "a training program, not an inference one");
    double eps = pm_float(o, "epsilon", NULL, 1e-5);
    if (!(eps >= 0 && eps < 1))
        FAIL(ENG_EMODEL, "epsilon %g out of range", eps);
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = pm_node(m, o, OP_BATCHNORM, NULL, 5, ins, y, err, errlen);
    if (n < 0)
        return n;
    return pm_set_float(m->g, n, "epsilon", (float)eps) < 0 ? pm_nomem(o, err, errlen) : 0;
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
    if (!strcmp(t, "hard_swish")) {
        if (!near(pm_float(o, "threshold", NULL, 6), 6) || !near(pm_float(o, "scale", NULL, 6), 6) ||
            !near(pm_float(o, "offset", NULL, 3), 3))
            FAIL(ENG_EUNSUP, "threshold/scale/offset other than 6/6/3 unsupported");
        k = OP_HARDSWISH;
    } else if (!strcmp(t, "hard_sigmoid")) {
        k = OP_HARDSIGMOID;
    } else if (!strcmp(t, "relu6")) {
        k = OP_CLIP;
    } else {
        k = OP_IDENTITY;              /* assign */
    }
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int ins[3] = { x, -1, -1 }, nin = 1;
    if (k == OP_CLIP) {
        double thr = pm_float(o, "threshold", NULL, 6);
        if (!(thr > 0 && thr < 1e30))
            FAIL(ENG_EMODEL, "threshold %g out of range", thr);
        if ((ins[1] = pm_const_scalar(m->g, 0)) < 0 || (ins[2] = pm_const_scalar(m->g, (float)thr)) < 0)
            return pm_nomem(o, err, errlen);
        nin = 3;
    }
    int n = pm_node(m, o, k, NULL, nin, ins, y, err, errlen);
    if (n < 0)
        return n;
    if (k == OP_HARDSIGMOID) {
        double a = pm_float(o, "slope", NULL, 0.2), b = pm_float(o, "offset", NULL, 0.5);
        if (!(fabs(a) < 3e38) || !(fabs(b) < 3e38))
            FAIL(ENG_EMODEL, "slope %g / offset %g out of range", a, b);
        if (pm_set_float(m->g, n, "alpha", (float)a) < 0 || pm_set_float(m->g, n, "beta", (float)b) < 0)
            return pm_nomem(o, err, errlen);
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
    const char *type = pm_str(o, "pooling_type", NULL, "max");
    int global = (int)pm_int(o, "global_pooling", NULL, 0), adaptive = (int)pm_int(o, "adaptive", NULL, 0);
    int k = pm_ints(o, "ksize", "kernel_size", ks, 4);
    int kt = pm_in_var(o, "KernelSize", 0);
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
        const int64_t *d = pm_dims(m, o, "X");
        int pz = pm_ints(o, "paddings", NULL, v, 4), zero = 1;
        for (int i = 0; i < pz && i < 4; i++)
            zero &= v[i] == 0;
        if (global || (adaptive && k >= 0 && ks[0] == 1 && ks[1] == 1))
            is_gap = 1;
        /* a plain window as large as the (declared) feature map is global too */
        else if (!adaptive && k >= 0 && zero && d && pm_rank(m, o, "X") == 4 && d[2] == ks[0] &&
                 d[3] == ks[1] && !pm_int(o, "ceil_mode", NULL, 0))
            is_gap = 1;
    }
    if (!is_gap)
        FAIL(ENG_EUNSUP, "only global average pooling (global_pooling, or adaptive to 1x1) is "
             "supported, not %.10s pooling with kernel [%lld,%lld]%s", type, (long long)ks[0],
             (long long)ks[1], adaptive ? " adaptive" : "");
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = pm_node(m, o, OP_GAP, NULL, 1, &x, y, err, errlen);
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
        int ret = pm_charge(m, o, gr_tensor_numel(&g->t[t]), err, errlen);
        if (ret < 0)
            return ret;
        for (int i = 0; i < rank; i++)
            d[i] = i >= axis && i < axis + r ? g->t[t].dims[i - axis] : 1;
        int nt = pm_const_copy(g, t, rank, d, 0);
        return nt < 0 ? pm_nomem(o, err, errlen) : nt;
    }
    int64_t ax[G_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (i < axis || i >= axis + r)
            ax[k++] = i;
    int u = pm_mid(m, o, what, err, errlen);
    if (u < 0)
        return u;
    int n = pm_node(m, o, OP_UNSQUEEZE, what, 1, &t, u, err, errlen);
    if (n < 0)
        return n;
    return pm_set_ints(g, n, "axes", ax, k) < 0 ? pm_nomem(o, err, errlen) : u;
}

static int map_elementwise(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x, y;
    IN(x, "X");
    IN(y, "Y");
    gr_opkind k = !strcmp(o->type, "elementwise_add") ? OP_ADD : !strcmp(o->type, "elementwise_sub") ? OP_SUB :
                  !strcmp(o->type, "elementwise_mul") ? OP_MUL : OP_DIV;
    int64_t axis = pm_int(o, "axis", NULL, -1);
    int rx = pm_rank(m, o, "X"), ry = pm_rank(m, o, "Y");
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
    int out = pm_out(m, o, err, errlen), ins[2] = { x, y };
    if (out < 0)
        return out;
    int n = pm_node(m, o, k, NULL, 2, ins, out, err, errlen);
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
        int n = pm_node(m, o, OP_IDENTITY, NULL, 1, &x, out, err, errlen);
        return n < 0 ? n : 0;
    }
    if (s != 1) {
        int c = pm_const_scalar(m->g, (float)s), dst = b != 0 ? pm_mid(m, o, "scaled", err, errlen) : out;
        if (c < 0)
            return pm_nomem(o, err, errlen);
        if (dst < 0)
            return dst;
        int ins[2] = { t, c };
        int n = pm_node(m, o, OP_MUL, b != 0 ? "mul" : NULL, 2, ins, dst, err, errlen);
        if (n < 0)
            return n;
        t = dst;
    }
    if (b != 0) {
        int c = pm_const_scalar(m->g, (float)b);
        if (c < 0)
            return pm_nomem(o, err, errlen);
        int ins[2] = { t, c };
        int n = pm_node(m, o, OP_ADD, s != 1 ? "add" : NULL, 2, ins, out, err, errlen);
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
        tx = (int)pm_int(o, "transpose_X", "transpose_x", 0);
        ty = (int)pm_int(o, "transpose_Y", "transpose_y", 0);
        alpha = pm_float(o, "alpha", NULL, 1);
    } else {
        tx = (int)pm_int(o, "trans_x", "transpose_x", 0);
        ty = (int)pm_int(o, "trans_y", "transpose_y", 0);
    }
    if (tx)
        FAIL(ENG_EUNSUP, "a transposed first operand is unsupported");
    if (ty) {
        const gr_tensor *w = &g->t[y];
        if (!w->data || w->ndim != 2)
            FAIL(ENG_EUNSUP, "a transposed second operand must be a 2-D constant");
        int64_t d[2] = { w->dims[1], w->dims[0] };
        int ret = pm_charge(m, o, gr_tensor_numel(w), err, errlen);
        if (ret < 0)
            return ret;
        if ((y = pm_const_copy(g, y, 2, d, 1)) < 0)
            return pm_nomem(o, err, errlen);
    }
    int out = pm_out(m, o, err, errlen);
    if (out < 0)
        return out;
    int mm = alpha != 1 ? pm_mid(m, o, "matmul", err, errlen) : out, ins[2] = { x, y };
    if (mm < 0)
        return mm;
    int n = pm_node(m, o, OP_MATMUL, alpha != 1 ? "matmul" : NULL, 2, ins, mm, err, errlen);
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
    int64_t xc = pm_int(o, "x_num_col_dims", NULL, 1), yc = pm_int(o, "y_num_col_dims", NULL, 1);
    int rx = pm_rank(m, o, "X");
    if (yc != 1 || m->g->t[y].ndim != 2)
        FAIL(ENG_EUNSUP, "only a 2-D Y (y_num_col_dims 1) is supported");
    if (rx < 0)
        FAIL(ENG_EMODEL, "the rank of X is not declared");
    if (xc < 1 || xc >= rx + (rx == 1))
        FAIL(ENG_EMODEL, "x_num_col_dims %lld out of range for rank %d", (long long)xc, rx);
    if (rx != 2) {
        int f = pm_mid(m, o, "flat", err, errlen);
        if (f < 0)
            return f;
        int n = pm_node(m, o, OP_FLATTEN, "flatten", 1, &x, f, err, errlen);
        if (n < 0)
            return n;
        if (pm_set_int(m->g, n, "axis", xc) < 0)
            return pm_nomem(o, err, errlen);
        x = f;
    }
    int out = pm_out(m, o, err, errlen), ins[2] = { x, y };
    if (out < 0)
        return out;
    int n = pm_node(m, o, OP_MATMUL, NULL, 2, ins, out, err, errlen);
    return n < 0 ? n : 0;
}

static int map_flatten(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    int r = pm_rank(m, o, "X");
    const int64_t *d = pm_dims(m, o, "X");
    if (!strcmp(o->type, "flatten2") || !strcmp(o->type, "flatten")) {
        int64_t axis = pm_int(o, "axis", NULL, 1);
        int y = pm_out(m, o, err, errlen);
        if (y < 0)
            return y;
        int n = pm_node(m, o, OP_FLATTEN, NULL, 1, &x, y, err, errlen);
        if (n < 0)
            return n;
        return pm_set_int(m->g, n, "axis", axis) < 0 ? pm_nomem(o, err, errlen) : 0;
    }
    if (r < 0 || !d)
        FAIL(ENG_EMODEL, "the rank of X is not declared");
    int64_t s = pm_int(o, "start_axis", NULL, 1), e = pm_int(o, "stop_axis", NULL, -1);
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    if (r == 0)
        s = e = 0;
    if (s < 0 || e >= (r ? r : 1) || s > e)
        FAIL(ENG_EMODEL, "start_axis %lld / stop_axis %lld invalid for rank %d",
             (long long)pm_int(o, "start_axis", NULL, 1), (long long)pm_int(o, "stop_axis", NULL, -1), r);
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    if (s == 1 && e == r - 1) {
        int n = pm_node(m, o, OP_FLATTEN, NULL, 1, &x, y, err, errlen);
        if (n < 0)
            return n;
        return pm_set_int(m->g, n, "axis", 1) < 0 ? pm_nomem(o, err, errlen) : 0;
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
    int c = pm_const_i64(m->g, tgt, k), ins[2] = { x, c };
    if (c < 0)
        return pm_nomem(o, err, errlen);
    int n = pm_node(m, o, OP_RESHAPE, NULL, 2, ins, y, err, errlen);
    return n < 0 ? n : 0;
}

static int map_reshape(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    int64_t tgt[G_MAX_DIMS + 1];
    IN(x, "X");
    int k = -1, sv = pm_in_var(o, "Shape", 0);
    if (sv >= 0) {
        if (m->vt[sv] < 0 || (k = gr_const_ints(m->g, m->vt[sv], tgt, G_MAX_DIMS + 1)) < 0)
            FAIL(ENG_EUNSUP, "the target shape must be a constant");
    } else if (pm_in_var(o, "ShapeTensor", 0) >= 0) {
        FAIL(ENG_EUNSUP, "a target shape from tensors (ShapeTensor) is unsupported");
    } else {
        k = pm_ints(o, "shape", NULL, tgt, G_MAX_DIMS + 1);
    }
    if (k < 0)
        FAIL(ENG_EMODEL, "no target shape");
    if (k > G_MAX_DIMS)
        FAIL(ENG_EUNSUP, "target rank %d, at most %d", k, G_MAX_DIMS);
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int c = pm_const_i64(m->g, tgt, k), ins[2] = { x, c };
    if (c < 0)
        return pm_nomem(o, err, errlen);
    int n = pm_node(m, o, OP_RESHAPE, NULL, 2, ins, y, err, errlen);
    return n < 0 ? n : 0;
}

static int map_squeeze(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    int64_t ax[G_MAX_DIMS + 1];
    IN(x, "X");
    int unsq = !strcmp(o->type, "unsqueeze2");
    int k = pm_ints(o, "axes", NULL, ax, G_MAX_DIMS + 1), av = pm_in_var(o, "Axes", 0);
    if (k < 0 && av >= 0 && (m->vt[av] < 0 || (k = gr_const_ints(m->g, m->vt[av], ax, G_MAX_DIMS + 1)) < 0))
        FAIL(ENG_EUNSUP, "the axes must be a constant");
    if (k > G_MAX_DIMS)
        FAIL(ENG_EMODEL, "%d axes", k);
    if (unsq && k <= 0)
        FAIL(ENG_EMODEL, "no axes");
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = pm_node(m, o, unsq ? OP_UNSQUEEZE : OP_SQUEEZE, NULL, 1, &x, y, err, errlen);
    if (n < 0)
        return n;
    return k > 0 && pm_set_ints(m->g, n, "axes", ax, k) < 0 ? pm_nomem(o, err, errlen) : 0;
}

static int map_softmax(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = pm_node(m, o, OP_SOFTMAX, NULL, 1, &x, y, err, errlen);
    if (n < 0)
        return n;
    return pm_set_int(m->g, n, "axis", pm_int(o, "axis", NULL, -1)) < 0 ? pm_nomem(o, err, errlen) : 0;
}

static int map_dropout(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    if (!pm_int(o, "is_test", NULL, 1))
        FAIL(ENG_EMODEL, "is_test is false: a training program drops at random; "
             "export the model for inference");
    const char *mode = pm_str(o, "dropout_implementation", "mode", "downgrade_in_infer");
    double p = pm_float(o, "dropout_prob", "p", 0.5);
    int y = pm_out(m, o, err, errlen);
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
    double s = pm_float(o, "scale", NULL, 1), b = pm_float(o, "bias", NULL, 0);
    int sv = pm_in_var(o, "ScaleTensor", 0);
    if (sv >= 0) {
        float v;
        if (m->vt[sv] < 0 || !gr_is_scalar_const(m->g, m->vt[sv], &v))
            FAIL(ENG_EUNSUP, "the scale must be a constant scalar");
        s = v;
    }
    if (!pm_int(o, "bias_after_scale", NULL, 1))
        b *= s;                      /* s * (x + b) */
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    return affine(m, o, x, s, b, y, err, errlen);
}

/* Data types as the two formats write them: PIR a name, 2.x a VarType number. */
static int const_dtype(const pd_op *o)
{
    const pd_attr *a = pm_attr(o, "dtype", NULL);
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
        const pd_attr *a = pm_attr(o, "value", NULL);
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
        if (pm_in_var(o, "ShapeTensor", 0) >= 0 || pm_in_var(o, "ValueTensor", 0) >= 0)
            FAIL(ENG_EUNSUP, "shape or value from a tensor is unsupported");
        nd = pm_ints(o, "shape", NULL, shape, G_MAX_DIMS + 1);
        if (nd < 0)
            nd = 0;
        if (nd > G_MAX_DIMS)
            FAIL(ENG_EUNSUP, "rank %d, at most %d", nd, G_MAX_DIMS);
        const char *sv = pm_str(o, "str_value", NULL, "");
        value = sv[0] ? strtod(sv, NULL) : pm_float(o, "value", NULL, 0);
    }
    int64_t n = gr_numel(nd, shape);
    if (n < 0 || n > (1 << 20))
        FAIL(ENG_EUNSUP, "constant of %lld elements: negative or too large", (long long)n);
    int ret = pm_charge(m, o, n, err, errlen);
    if (ret < 0)
        return ret;
    if (dt != G_F32 ? !(value > -9.2e18 && value < 9.2e18) : !(fabs(value) <= 3.4e38))
        FAIL(ENG_EMODEL, "value %g does not fit %s", value, gr_dtype_name(dt));
    void *d = calloc((size_t)(n ? n : 1), gr_dtype_size(dt));
    if (!d)
        return pm_nomem(o, err, errlen);
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
    int y = pm_out(m, o, err, errlen);
    if (y < 0) {
        free(d);
        return y;
    }
    gr_tensor_new_const(m->g, m->g->t[y].name, dt, nd, shape, d);
    return 0;
}

/* An element-wise operator of the operator table (ops.h) by its Paddle
 * name: X in, one node, its float attributes renamed as its row says. */
static int map_row(pd_map *m, const pd_op *o, const gr_opdef *row, char *err, size_t errlen)
{
    int x;
    IN(x, "X");
    int y = pm_out(m, o, err, errlen);
    if (y < 0)
        return y;
    int n = pm_node(m, o, row->op, NULL, 1, &x, y, err, errlen);
    if (n < 0)
        return n;
    for (int i = 0; i < GR_OP_PDATTRS && row->pd_attrs[i].onnx; i++) {
        const gr_pdattr *a = &row->pd_attrs[i];
        double v = pm_float(o, a->pd2, a->pir, a->def);
        if (!(fabs(v) < 3e38))
            FAIL(ENG_EMODEL, "%s %g out of range", a->pd2, v);
        if (pm_set_float(m->g, n, a->onnx, (float)v) < 0)
            return pm_nomem(o, err, errlen);
    }
    return 0;
}

typedef int (*map_fn)(pd_map *, const pd_op *, char *, size_t);
static const struct { const char *type; map_fn fn; } mappers[] = {
    { "conv2d", map_conv }, { "depthwise_conv2d", map_conv },
    { "batch_norm", map_bn },
    { "hard_swish", map_act }, { "hard_sigmoid", map_act }, { "relu6", map_act },
    { "assign", map_act },
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
    const gr_opdef *row = gr_op_paddle(o->type);
    if (row)
        return map_row(m, o, row, err, errlen);
    FAIL(ENG_EUNSUP, "operator not supported");
}
