/* fp32_ops.c: the fp32/bf16 compiler of each class of operator (see
 * fp32.h): convolution (bf16 where it pays, relaid out for its consumer),
 * eltwise, binary, pooling and reductions, matrix products, softmax,
 * batch normalisation, views and copies. */
#include "engine/dnn/fp32.h"

#include <float.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"

/* --------------------------------------------------------------- conv */

static int relayout(f32_plan *p, int v, const dnnl_memory_desc_t *md)
{
    pl_value *val = &p->pl.v[v];
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    if (val->def < 0 || val->alias >= 0 || val->last != val->def)
        return 0;
    pl_step *s = &p->pl.s[val->def];
    f32_ext *e = pl_ext(&p->pl, val->def);
    if (!e->attr || s->dst != v || s->node < 0)
        return 0;
    const gr_tensor *t = &p->pl.g->t[p->pl.g->n[s->node].out[0]];
    if (t->nuse != 1 || t->is_output)
        return 0;
    dnnl_convolution_desc_t cd = e->cd;
    cd.dst_desc = *md;
    if (dnnl_primitive_desc_create(&pd, &cd, e->attr, p->pl.c->eng, NULL) != dnnl_success)
        return 0;
    int ok = !dnn_is_ref(pd);
    /* the weights were reordered for the old choice: it must not change */
    const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    for (int k = 0; k < s->n; k++)
        if (s->key[k] == DNNL_ARG_WEIGHTS && !dnnl_memory_desc_equal(w, &p->pl.v[s->val[k]].md))
            ok = 0;
    if (ok && dnnl_primitive_create(&prim, pd) == dnnl_success) {
        dnnl_primitive_destroy(s->prim);
        s->prim = prim;
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(s->impl, sizeof s->impl, "%s", impl);
        pl_step_scratch(&p->pl, s, pd);
        e->cd = cd;
        val->md = *md;
    } else {
        ok = 0;
    }
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static int wants_bf16(const f32_plan *p, const gr_node *n)
{
    if (p->prec != BE_BF16 || n->op != OP_CONV)
        return 0;
    const gr_tensor *x = &p->pl.g->t[n->in[0]];
    /* The first layer sees the normalised image and the layers after global
     * pooling make the scores: both stay fp32, where bf16's 8-bit mantissa
     * would cost the most accuracy for the least time. */
    if (x->is_input || x->producer < 0)
        return 0;
    const int64_t *d = tdims(p, n->in[0]);
    return d[2] * d[3] > 1;
}

static int conv_matmul(f32_plan *p, int ni, const conv_params *cp, int x,
                       const_dnnl_primitive_desc_t conv_pd, int *out, const char *where, char *err,
                       size_t errlen);

int f32_op_conv(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    conv_params cp;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_memory_desc_t src, wei, bias, dst, wplain;
    int ret, x = p->tval[n->in[0]], w, b = -1, o;
    dnnl_status_t st;

    if ((ret = conv_get(p->pl.g, n, &cp, err, errlen)) < 0)
        return ret;
    dnnl_data_type_t dt = wants_bf16(p, n) ? dnnl_bf16 : dnnl_f32;
    const int64_t *xd = tdims(p, n->in[0]), *od = tdims(p, n->out[0]);
    int64_t wd[5];
    int wnd;
    if (cp.group > 1) {
        wd[0] = cp.group; wd[1] = cp.cout / cp.group; wd[2] = cp.cin / cp.group;
        wd[3] = cp.kh; wd[4] = cp.kw;
        wnd = 5;
    } else {
        wd[0] = cp.cout; wd[1] = cp.cin; wd[2] = cp.kh; wd[3] = cp.kw;
        wnd = 4;
    }
    src = p->pl.v[x].md;
    /* The first layer may read the image in whatever layout it likes best
     * (nhwc for the brgemm kernels): the engine writes pixels in either. */
    int from_input = p->pl.v[x].def == -1 && !p->pl.v[x].is_const && p->pl.v[x].alias < 0 &&
                     p->pl.g->t[n->in[0]].is_input && p->pl.g->t[n->in[0]].nuse == 1;
    if (src.data_type != dt || from_input)
        f32_md_any(&src, 4, xd, dt);
    f32_md_any(&wei, wnd, wd, dt);
    f32_md_plain(&wplain, wnd, wd, dnnl_f32);
    int has_b = n->nin > 2 && n->in[2] >= 0;
    f32_md_plain(&bias, 1, &cp.cout, dnnl_f32);
    f32_md_any(&dst, 4, od, dt);
    dnnl_dims_t strides = { cp.sh, cp.sw }, dil = { cp.dh - 1, cp.dw - 1 };
    dnnl_dims_t pl = { cp.pt, cp.pl }, pr = { cp.pb, cp.pr };
    if (!(attr = dnn_attr_new()) || dnn_post_ops(n, attr) < 0) {
        snprintf(err, errlen, "%s: cannot set post-ops", where);
        ret = ENG_EMODEL;
        goto end;
    }
    DNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
            dnnl_convolution_direct, &src, &wei, has_b ? &bias : NULL, &dst, strides, dil, pl, pr));
    st = dnnl_primitive_desc_create(&pd, &cd, attr, p->pl.c->eng, NULL);
    if (st == dnnl_unimplemented || (st == dnnl_success && dnn_is_ref(pd))) {
        /* The producer's layout is not one this conv takes, or only the
         * reference code does: let the conv choose, and pay one reorder. */
        dnnl_primitive_desc_t alt = NULL;
        f32_md_any(&src, 4, xd, dt);
        DNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                dnnl_convolution_direct, &src, &wei, has_b ? &bias : NULL, &dst, strides, dil, pl, pr));
        if (dnnl_primitive_desc_create(&alt, &cd, attr, p->pl.c->eng, NULL) == dnnl_success &&
            (!pd || !dnn_is_ref(alt))) {
            dnnl_primitive_desc_destroy(pd);
            pd = alt;
            st = dnnl_success;
        } else {
            dnnl_primitive_desc_destroy(alt);
        }
    }
    DNN_TRY(st);
    if ((ret = conv_matmul(p, ni, &cp, x, pd, &o, where, err, errlen)) != 0) {
        if (ret > 0) {
            p->tval[n->out[0]] = o;
            ret = 0;
        }
        goto end;
    }
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    if (from_input && want->data_type == dnnl_f32) {
        dnnl_memory_desc_t nhwc;
        dnnl_dims_t d4 = { xd[0], xd[1], xd[2], xd[3] };
        dnnl_memory_desc_init_by_tag(&nhwc, 4, d4, dnnl_f32, dnnl_acdb);
        if (dnnl_memory_desc_equal(want, &nhwc))
            p->pl.v[x].md = nhwc;
    }
    if (!dnnl_memory_desc_equal(&p->pl.v[x].md, want))
        relayout(p, x, want);
    if ((ret = f32_reorder_to(p, x, want, &x, where, err, errlen)) < 0)
        goto end;
    if ((ret = f32_weight(p, n->in[1], &wplain, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                      &w, where, err, errlen)) < 0)
        goto end;
    if (has_b && (ret = f32_weight(p, n->in[2], &bias, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                               &b, where, err, errlen)) < 0)
        goto end;
    f32_arg in[] = { { DNNL_ARG_SRC, x }, { DNNL_ARG_WEIGHTS, w }, { DNNL_ARG_BIAS, b } };
    if ((ret = f32_emit(p, pd, ni, "conv", in, has_b ? 3 : 2, DNNL_ARG_DST, -1, &o, where, err, errlen)) < 0)
        goto end;
    p->tval[n->out[0]] = o;
    /* keep the recipe for relayout; the desc's src/weights are the chosen ones */
    f32_ext *e = pl_ext(&p->pl, p->pl.ns - 1);
    e->cd = cd;
    e->cd.src_desc = *want;
    e->cd.weights_desc = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    e->cd.dst_desc = p->pl.v[o].md;
    dnnl_primitive_attr_clone(&e->attr, attr);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
}

/* ----------------------------------------------------------- eltwise */

static int eltwise(f32_plan *p, int ni, int x, dnnl_alg_kind_t alg, float a, float b, int *out,
                   const char *where, char *err, size_t errlen)
{
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr)
        goto nomem;
    DNN_TRY(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, &p->pl.v[x].md, a, b));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &ed, attr, p->pl.c->eng, NULL));
    f32_arg in[] = { { DNNL_ARG_SRC, x } };
    ret = f32_emit(p, pd, ni, "eltwise", in, 1, DNNL_ARG_DST, x, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

/* One eltwise step per post-op the operator's row makes of it (HardSigmoid:
 * a linear step, then a clip), each over the last one's output. */
int f32_op_eltwise(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    const gr_opdef *op = gr_op(n->op);
    gr_post po[2];
    int x = p->tval[n->in[0]], ret = 0;
    int k = op->post ? op->post(p->pl.g, n, n->in[0], po) : 0;
    if (k <= 0) {
        snprintf(err, errlen, "%s: not an eltwise op", where);
        return ENG_EMODEL;
    }
    for (int i = 0; i < k && ret == 0; i++) {
        dnnl_alg_kind_t alg;
        float a, b;
        if (dnn_eltwise_of(&po[i], &alg, &a, &b) < 0) {
            snprintf(err, errlen, "%s: not an eltwise op", where);
            return ENG_EMODEL;
        }
        ret = eltwise(p, ni, x, alg, a, b, &x, where, err, errlen);
    }
    if (ret == 0)
        p->tval[n->out[0]] = x;
    return ret;
}

/* ------------------------------------------------------------ binary */

/* Value for tensor t as a binary operand of rank nd (leading 1s added). */
static int operand(f32_plan *p, int t, int nd, int *out, const char *where, char *err, size_t errlen)
{
    const gr_tensor *x = &p->pl.g->t[t];
    int64_t d[G_MAX_DIMS];
    int k = nd - tnd(p, t);
    for (int i = 0; i < nd; i++)
        d[i] = i < k ? 1 : tdims(p, t)[i - k];
    if (gr_is_const(p->pl.g, t)) {
        dnnl_memory_desc_t md;
        f32_md_plain(&md, nd, d, dnnl_f32);      /* rank 0: md_plain makes it [1] */
        return f32_weight(p, t, &md, &md, out, where, err, errlen);
    }
    int v = p->tval[t];
    if (k == 0) {
        *out = v;
        return 0;
    }
    int ret = f32_to_plain(p, v, p->pl.v[v].md.data_type, &v, where, err, errlen);
    if (ret < 0)
        return ret;
    dnnl_memory_desc_t md;
    f32_md_plain(&md, nd, d, p->pl.v[v].md.data_type);
    if ((*out = pl_view(&p->pl, v, &md)) < 0)
        return ENG_ENOMEM;
    (void)x;
    return 0;
}

int f32_op_binary(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    static const dnnl_alg_kind_t algs[] = { [GB_ADD] = dnnl_binary_add, [GB_SUB] = dnnl_binary_sub,
                                            [GB_MUL] = dnnl_binary_mul, [GB_DIV] = dnnl_binary_div };
    const gr_node *n = &p->pl.g->n[ni];
    gr_binop bin = gr_op(n->op)->bin;
    int a = n->in[0], b = n->in[1], ret = 0, va, vb, o;
    dnnl_alg_kind_t alg = algs[bin];
    int nd = tnd(p, n->out[0]);
    const int64_t *od = tdims(p, n->out[0]);
    /* oneDNN broadcasts only the second operand: a must have the full shape */
    int64_t an = gr_numel(tnd(p, a), tdims(p, a)), on = gr_numel(nd, od);
    if (an != on || gr_is_const(p->pl.g, a)) {
        if (bin == GB_ADD || bin == GB_MUL) {
            int t = a; a = b; b = t;
            an = gr_numel(tnd(p, a), tdims(p, a));
        }
        if (an != on || gr_is_const(p->pl.g, a)) {
            snprintf(err, errlen, "%s: the first operand must be computed and have the "
                     "output's shape (oneDNN broadcasts only the second)", where);
            return ENG_EUNSUP;
        }
    }
    if ((ret = operand(p, a, nd, &va, where, err, errlen)) < 0 ||
        (ret = operand(p, b, nd, &vb, where, err, errlen)) < 0)
        return ret;

    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t dst = p->pl.v[va].md;
    dnnl_status_t st;
    if (!attr)
        goto nomem;
    DNN_TRY(dnnl_binary_desc_init(&bd, alg, &p->pl.v[va].md, &p->pl.v[vb].md, &dst));
    st = dnnl_primitive_desc_create(&pd, &bd, attr, p->pl.c->eng, NULL);
    if (st == dnnl_unimplemented) {
        /* mixed layouts or types: meet in plain f32 */
        if ((ret = f32_to_plain(p, va, dnnl_f32, &va, where, err, errlen)) < 0 ||
            (ret = f32_to_plain(p, vb, dnnl_f32, &vb, where, err, errlen)) < 0)
            goto end;
        dst = p->pl.v[va].md;
        DNN_TRY(dnnl_binary_desc_init(&bd, alg, &p->pl.v[va].md, &p->pl.v[vb].md, &dst));
        st = dnnl_primitive_desc_create(&pd, &bd, attr, p->pl.c->eng, NULL);
    }
    DNN_TRY(st);
    f32_arg in[] = { { DNNL_ARG_SRC_0, va }, { DNNL_ARG_SRC_1, vb } };
    if ((ret = f32_emit(p, pd, ni, "binary", in, 2, DNNL_ARG_DST, va, &o, where, err, errlen)) < 0)
        goto end;
    if (tnd(p, n->out[0]) != nd) {
        snprintf(err, errlen, "%s: rank mismatch", where);
        ret = ENG_EMODEL;
        goto end;
    }
    p->tval[n->out[0]] = o;
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

/* ----------------------------------------------------------- pooling */

/* Average over the trailing spatial dims (from dim 2), keeping them as 1s. */
static int avg_spatial(f32_plan *p, int ni, int x, int nd, const int64_t *xd, int *out,
                       const char *where, char *err, size_t errlen)
{
    dnnl_pooling_v2_desc_t pdsc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t dst;
    dnnl_dims_t k, s0, dl, pl, pr;
    int64_t od[G_MAX_DIMS];
    int ret = 0;
    if (!attr)
        goto nomem;
    for (int i = 0; i < nd; i++)
        od[i] = i < 2 ? xd[i] : 1;
    for (int i = 0; i < nd - 2; i++) {
        k[i] = xd[i + 2];
        s0[i] = xd[i + 2];
        dl[i] = pl[i] = pr[i] = 0;
    }
    /* pooled in fp32 even from bf16: the head after it is fp32 */
    f32_md_any(&dst, nd, od, dnnl_f32);
    DNN_TRY(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference,
            dnnl_pooling_avg_exclude_padding, &p->pl.v[x].md, &dst, s0, k, dl, pl, pr));
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &pdsc, attr, p->pl.c->eng, NULL);
    if (st == dnnl_unimplemented) {
        f32_md_any(&dst, nd, od, p->pl.v[x].md.data_type);
        DNN_TRY(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference,
                dnnl_pooling_avg_exclude_padding, &p->pl.v[x].md, &dst, s0, k, dl, pl, pr));
        st = dnnl_primitive_desc_create(&pd, &pdsc, attr, p->pl.c->eng, NULL);
    }
    DNN_TRY(st);
    f32_arg in[] = { { DNNL_ARG_SRC, x } };
    ret = f32_emit(p, pd, ni, "pool", in, 1, DNNL_ARG_DST, -1, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

int f32_op_reduce(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = p->tval[n->in[0]], nd = tnd(p, n->in[0]), ret = 0, o;
    const int64_t *xd = tdims(p, n->in[0]);
    unsigned mask = (1u << nd) - 1 - 3u;    /* GAP: every dim from 2 */
    int keep = 1;

    if (n->op == OP_REDUCEMEAN &&
        (ret = reduce_axes(p->pl.g, n, nd, &mask, &keep, err, errlen)) < 0)
        return ret;
    if (!(mask & 3u) && mask == ((1u << nd) - 1 - 3u) && nd >= 3 && nd <= 5) {
        /* the SE / head case: pooling knows blocked layouts best */
        if ((ret = avg_spatial(p, ni, x, nd, xd, &o, where, err, errlen)) < 0)
            return ret;
    } else {
        dnnl_reduction_desc_t rd;
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_attr_t attr = dnn_attr_new();
        dnnl_memory_desc_t dst;
        int64_t od[G_MAX_DIMS];
        if (!attr)
            return ENG_ENOMEM;
        for (int i = 0; i < nd; i++)
            od[i] = mask & (1u << i) ? 1 : xd[i];
        if ((ret = f32_to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
            goto end;
        f32_md_plain(&dst, nd, od, dnnl_f32);
        DNN_TRY(dnnl_reduction_desc_init(&rd, dnnl_reduction_mean, &p->pl.v[x].md, &dst, 0, 0));
        DNN_TRY(dnnl_primitive_desc_create(&pd, &rd, attr, p->pl.c->eng, NULL));
        f32_arg in[] = { { DNNL_ARG_SRC, x } };
        ret = f32_emit(p, pd, ni, "reduce", in, 1, DNNL_ARG_DST, -1, &o, where, err, errlen);
end:
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_attr_destroy(attr);
        if (ret < 0)
            return ret;
    }
    if (!keep || tnd(p, n->out[0]) != nd) {
        dnnl_memory_desc_t md;
        if ((ret = f32_to_plain(p, o, dnnl_f32, &o, where, err, errlen)) < 0)
            return ret;
        f32_md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
        if ((o = pl_view(&p->pl, o, &md)) < 0)
            return ENG_ENOMEM;
    }
    p->tval[n->out[0]] = o;
    return 0;
}

/* ------------------------------------------------------- matmul, gemm */

/* [rows, cols] view of a 2-D value, transposed when tr (storage is [cols, rows]). */
static void md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int tr, dnnl_data_type_t dt)
{
    dnnl_dims_t d = { rows, cols }, s;
    if (tr) {
        s[0] = 1;
        s[1] = rows;
    } else {
        s[0] = cols;
        s[1] = 1;
    }
    dnnl_memory_desc_init_by_strides(md, 2, d, dt, s);
}

static int matmul_step(f32_plan *p, int ni, int va, int vw, int vb, const dnnl_memory_desc_t *wmd_any,
                       int wconst_t, const dnnl_memory_desc_t *wfrom, const dnnl_memory_desc_t *dst,
                       float alpha, int with_post, int *out, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr || (with_post && dnn_post_ops(n, attr) < 0))
        goto nomem;
    if (alpha != 1.0f)
        dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    DNN_TRY(dnnl_matmul_desc_init(&md, &p->pl.v[va].md, wmd_any, vb >= 0 ? &p->pl.v[vb].md : NULL, dst));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &md, attr, p->pl.c->eng, NULL));
    if (wconst_t >= 0 && (ret = f32_weight(p, wconst_t, wfrom,
            dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &vw, where, err, errlen)) < 0)
        goto end;
    f32_arg in[] = { { DNNL_ARG_SRC, va }, { DNNL_ARG_WEIGHTS, vw }, { DNNL_ARG_BIAS, vb } };
    ret = f32_emit(p, pd, ni, "matmul", in, vb >= 0 ? 3 : 2, DNNL_ARG_DST, -1, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

/* A 1x1 convolution of a 1x1 image (the head's, an SE block's) is a
 * matrix-vector product over its weights, bound by reading them.  oneDNN's
 * 1x1 convolution kernel leaves it to one thread, its matmul splits the
 * output columns over the team: with more than one thread and weights big
 * enough to be worth splitting, the matmul.  Its input and output are
 * views with the convolution's layouts, so nothing around it changes.
 * Returns 1 when done (*out: the output), 0 when it does not apply. */
#define MATMUL_MIN_WEIGHTS (512 * 1024)     /* bytes; below, one thread is done first */

static int conv_matmul(f32_plan *p, int ni, const conv_params *cp, int x,
                       const_dnnl_primitive_desc_t conv_pd, int *out, const char *where, char *err,
                       size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    const int64_t *xd = tdims(p, n->in[0]), *od = tdims(p, n->out[0]);
    if (omp_get_max_threads() < 2 || cp->group != 1 || cp->kh != 1 || cp->kw != 1 ||
        xd[0] != 1 || xd[2] != 1 || xd[3] != 1 || od[2] != 1 || od[3] != 1 ||
        (size_t)cp->cin * (size_t)cp->cout * sizeof(float) < MATMUL_MIN_WEIGHTS)
        return 0;
    const dnnl_memory_desc_t *cdst = dnnl_primitive_desc_query_md(conv_pd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t x4, y4, x2, y2, wany, wfrom, b2;
    int64_t xs[2] = { 1, cp->cin }, ys[2] = { 1, cp->cout }, ws[2] = { cp->cin, cp->cout };
    f32_md_plain(&x4, 4, xd, dnnl_f32);
    f32_md_plain(&y4, 4, od, dnnl_f32);
    if (p->pl.v[x].md.data_type != dnnl_f32 || cdst->data_type != dnnl_f32 ||
        !f32_same_bytes(&p->pl.v[x].md, &x4) || !f32_same_bytes(cdst, &y4))
        return 0;
    f32_md_plain(&x2, 2, xs, dnnl_f32);
    f32_md_plain(&y2, 2, ys, dnnl_f32);
    f32_md_plain(&b2, 2, ys, dnnl_f32);
    f32_md_any(&wany, 2, ws, dnnl_f32);
    md_2d(&wfrom, cp->cin, cp->cout, 1, dnnl_f32);     /* [cout][cin] storage */
    int va = pl_view(&p->pl, x, &x2), vb = -1, o, ret;
    if (va < 0)
        return ENG_ENOMEM;
    if (n->nin > 2 && n->in[2] >= 0 &&
        (ret = f32_weight(p, n->in[2], &b2, &b2, &vb, where, err, errlen)) < 0)
        return ret;
    if ((ret = matmul_step(p, ni, va, -1, vb, &wany, n->in[1], &wfrom, &y2, 1.0f, 1, &o, where,
                           err, errlen)) < 0)
        return ret;
    if ((*out = pl_view(&p->pl, o, cdst)) < 0)
        return ENG_ENOMEM;
    return 1;
}

/* y = y + beta * C, with the node's post-ops when they could not go earlier. */
static int add_scaled(f32_plan *p, int ni, int y, int vc, float beta, int with_post, int *out,
                      const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr || (with_post && dnn_post_ops(n, attr) < 0))
        goto nomem;
    if (beta != 1.0f)
        DNN_TRY(dnnl_primitive_attr_set_scales(attr, DNNL_ARG_SRC_1, 1, 0, &beta));
    DNN_TRY(dnnl_binary_desc_init(&bd, dnnl_binary_add, &p->pl.v[y].md, &p->pl.v[vc].md, &p->pl.v[y].md));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &bd, attr, p->pl.c->eng, NULL));
    f32_arg in[] = { { DNNL_ARG_SRC_0, y }, { DNNL_ARG_SRC_1, vc } };
    ret = f32_emit(p, pd, ni, "binary", in, 2, DNNL_ARG_DST, y, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

int f32_op_gemm(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    gemm_params gp;
    int ret, va, vw = -1, vb = -1, vc = -1, o;
    int ta = n->in[0], tb = n->in[1], tc = n->nin > 2 ? n->in[2] : -1;
    gemm_get(n, &gp);
    const int64_t *ad = tdims(p, ta), *bd = tdims(p, tb);
    int64_t m = gp.ta ? ad[1] : ad[0], k = gp.ta ? ad[0] : ad[1];
    int64_t nn = gp.tb ? bd[0] : bd[1];
    dnnl_memory_desc_t amd, wmd, wany, dst, cmd;

    /* A: plain storage, seen transposed through strides when transA */
    if (gr_is_const(p->pl.g, ta)) {
        dnnl_memory_desc_t from;
        md_2d(&from, m, k, gp.ta, dnnl_f32);
        if ((ret = f32_weight(p, ta, &from, &from, &va, where, err, errlen)) < 0)
            return ret;
    } else {
        if ((ret = f32_to_plain(p, p->tval[ta], dnnl_f32, &va, where, err, errlen)) < 0)
            return ret;
        md_2d(&amd, m, k, gp.ta, dnnl_f32);
        if ((va = pl_view(&p->pl, va, &amd)) < 0)
            return ENG_ENOMEM;
    }
    md_2d(&wmd, k, nn, gp.tb, dnnl_f32);
    int wconst = gr_is_const(p->pl.g, tb);
    if (wconst) {
        int64_t wd[2] = { k, nn };
        f32_md_any(&wany, 2, wd, dnnl_f32);
    } else {
        if ((ret = f32_to_plain(p, p->tval[tb], dnnl_f32, &vw, where, err, errlen)) < 0)
            return ret;
        if ((vw = pl_view(&p->pl, vw, &wmd)) < 0)
            return ENG_ENOMEM;
        wany = wmd;
    }
    int64_t od[2] = { m, nn };
    f32_md_plain(&dst, 2, od, dnnl_f32);

    /* C as the matmul's bias when it is a plain bias: constant, beta 1, alpha 1 */
    int c_as_bias = 0;
    int64_t cd[2] = { 1, 1 };
    if (tc >= 0) {
        const gr_tensor *c = &p->pl.g->t[tc];
        const int64_t *cdims = tdims(p, tc);
        if (c->ndim == 2) {
            cd[0] = cdims[0];
            cd[1] = cdims[1];
        } else if (c->ndim == 1) {
            cd[1] = cdims[0];
        }
        c_as_bias = gr_is_const(p->pl.g, tc) && gp.beta == 1.0f && gp.alpha == 1.0f;
        if (gp.beta != 0.0f) {
            f32_md_plain(&cmd, 2, cd, dnnl_f32);
            if (gr_is_const(p->pl.g, tc)) {
                if ((ret = f32_weight(p, tc, &cmd, &cmd, &vc, where, err, errlen)) < 0)
                    return ret;
            } else {
                if ((ret = f32_to_plain(p, p->tval[tc], dnnl_f32, &vc, where, err, errlen)) < 0)
                    return ret;
                if ((vc = pl_view(&p->pl, vc, &cmd)) < 0)
                    return ENG_ENOMEM;
            }
        }
    }
    if (c_as_bias)
        vb = vc;
    int post_late = tc >= 0 && !c_as_bias && gp.beta != 0.0f;
    if ((ret = matmul_step(p, ni, va, vw, vb, &wany, wconst ? tb : -1, &wmd, &dst, gp.alpha,
                          !post_late, &o, where, err, errlen)) < 0)
        return ret;
    if (post_late && (ret = add_scaled(p, ni, o, vc, gp.beta, 1, &o, where, err, errlen)) < 0)
        return ret;
    p->tval[n->out[0]] = o;
    return 0;
}

int f32_op_matmul(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int nd = tnd(p, n->out[0]), va, vw, o, ret;
    dnnl_memory_desc_t dst;
    if (nd > 6) {
        snprintf(err, errlen, "%s: rank %d too large", where, nd);
        return ENG_EUNSUP;
    }
    if ((ret = operand(p, n->in[0], nd, &va, where, err, errlen)) < 0 ||
        (ret = operand(p, n->in[1], nd, &vw, where, err, errlen)) < 0)
        return ret;
    if ((ret = f32_to_plain(p, va, dnnl_f32, &va, where, err, errlen)) < 0 ||
        (ret = f32_to_plain(p, vw, dnnl_f32, &vw, where, err, errlen)) < 0)
        return ret;
    f32_md_plain(&dst, nd, tdims(p, n->out[0]), dnnl_f32);
    if ((ret = matmul_step(p, ni, va, vw, -1, &p->pl.v[vw].md, -1, NULL, &dst, 1.0f, 1, &o,
                           where, err, errlen)) < 0)
        return ret;
    p->tval[n->out[0]] = o;
    return 0;
}

/* --------------------------------------------------- softmax, bnorm */

int f32_op_softmax(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int nd = tnd(p, n->in[0]), axis = softmax_axis(p->pl.g, n, nd), x = p->tval[n->in[0]], ret = 0, o;
    const int64_t *xd = tdims(p, n->in[0]);
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t md;
    int coerce = p->pl.g->opset < 13 && axis != nd - 1;
    if (!attr)
        goto nomem;
    if ((ret = f32_to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
        goto end;
    if (coerce) {
        /* before opset 13: softmax over everything from axis on, as one row */
        int64_t d2[2] = { 1, 1 };
        for (int i = 0; i < nd; i++)
            d2[i < axis ? 0 : 1] *= xd[i];
        f32_md_plain(&md, 2, d2, dnnl_f32);
        if ((x = pl_view(&p->pl, x, &md)) < 0)
            goto nomem;
        axis = 1;
    }
    DNN_TRY(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, dnnl_softmax_accurate,
                                              &p->pl.v[x].md, &p->pl.v[x].md, axis));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &sd, attr, p->pl.c->eng, NULL));
    f32_arg in[] = { { DNNL_ARG_SRC, x } };
    if ((ret = f32_emit(p, pd, ni, "softmax", in, 1, DNNL_ARG_DST, x, &o, where, err, errlen)) < 0)
        goto end;
    if (coerce) {
        f32_md_plain(&md, nd, xd, dnnl_f32);
        if ((o = pl_view(&p->pl, o, &md)) < 0)
            goto nomem;
    }
    p->tval[n->out[0]] = o;
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

int f32_op_bnorm(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = p->tval[n->in[0]], ret = 0, o, v[4];
    int64_t c = tdims(p, n->in[0])[1];
    dnnl_batch_normalization_desc_t bd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t cmd;
    if (!attr)
        goto nomem;
    if (p->pl.v[x].md.data_type != dnnl_f32 && (ret = f32_to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
        goto end;
    f32_md_plain(&cmd, 1, &c, dnnl_f32);
    for (int i = 0; i < 4; i++)
        if ((ret = f32_weight(p, n->in[i + 1], &cmd, &cmd, &v[i], where, err, errlen)) < 0)
            goto end;
    DNN_TRY(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &p->pl.v[x].md,
            gr_attr_float(n, "epsilon", 1e-5f), dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &bd, attr, p->pl.c->eng, NULL));
    f32_arg in[] = { { DNNL_ARG_SRC, x }, { DNNL_ARG_SCALE, v[0] }, { DNNL_ARG_SHIFT, v[1] },
                 { DNNL_ARG_MEAN, v[2] }, { DNNL_ARG_VARIANCE, v[3] } };
    if ((ret = f32_emit(p, pd, ni, "bnorm", in, 5, DNNL_ARG_DST, x, &o, where, err, errlen)) < 0)
        goto end;
    p->tval[n->out[0]] = o;
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: the same bytes under a new shape. */
int f32_op_view(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x, ret;
    dnnl_memory_desc_t md;
    if ((ret = f32_to_plain(p, p->tval[n->in[0]], dnnl_f32, &x, where, err, errlen)) < 0)
        return ret;
    f32_md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
    if ((p->tval[n->out[0]] = pl_view(&p->pl, x, &md)) < 0)
        return ENG_ENOMEM;
    return 0;
}

int f32_op_copy(f32_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->pl.g->n[ni];
    int x = p->tval[n->in[0]], o, ret;
    dnnl_memory_desc_t md;
    f32_md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
    /* a copy even when layouts match: the output needs its own buffer */
    dnnl_primitive_desc_t pd = NULL;
    ret = 0;
    DNN_TRY(dnnl_reorder_primitive_desc_create(&pd, &p->pl.v[x].md, p->pl.c->eng, &md, p->pl.c->eng, NULL));
    f32_arg in[] = { { DNNL_ARG_FROM, x } };
    if ((ret = f32_emit(p, pd, ni, "copy", in, 1, DNNL_ARG_TO, -1, &o, where, err, errlen)) < 0)
        goto end;
    p->tval[n->out[0]] = o;
end:
    dnnl_primitive_desc_destroy(pd);
    return ret;
}
