/* fp32_gemv.c: the fp32 plan's step for our own matrix-vector kernel
 * (f32_gemv.h): a loop step in place of oneDNN's convolution or matrix
 * product where a plan of batch 1 makes one of a single vector (the
 * classifier, the 1x1 convolutions after global pooling) and the kernel
 * takes it.  It reads its input plain and writes its output plain (a
 * convolution's, of one pixel, in the bytes of oneDNN's blocked layout). */
#include "engine/dnn/fp32.h"
#include "engine/dnn/f32_gemv.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

/* The node's activations as the kernel's ops; 0 when it has one the
 * kernel lacks. */
static int gemv_ops(const gr_node *n, f32v_desc *d)
{
    d->nops = 0;
    for (int i = 0; i < n->npost; i++) {
        dnnl_alg_kind_t alg;
        float a, b;
        if (d->nops == Q8G_MAX_OPS || dnn_eltwise_of(&n->post[i], &alg, &a, &b) < 0)
            return 0;
        q8g_opkind k;
        if (alg == dnnl_eltwise_relu)
            k = Q8G_RELU;
        else if (alg == dnnl_eltwise_linear)
            k = Q8G_LINEAR;
        else if (alg == dnnl_eltwise_clip)
            k = Q8G_CLIP;
        else if (alg == dnnl_eltwise_hardswish)
            k = Q8G_HARDSWISH;
        else
            return 0;
        d->ops[d->nops++] = (q8g_op){ k, a, b };
    }
    return 1;
}

/* The AVX2 tier only: on AVX-512 CPUs oneDNN's steps for these layers
 * stay, as this kernel was measured against the AVX2 tier's alone. */
static int tier_ok(void)
{
    return !(eng_cpu_features() & ENG_CPU_AVX512);
}

/* Node ni as the step reading value x (any layout, made plain) into a
 * new value of nd dims od; d has the weights. */
static int emit(f32_plan *p, int ni, const char *kind, int x, const f32v_desc *d, int nd,
                const int64_t *od, const char *where, char *err, size_t errlen)
{
    dnnl_memory_desc_t dst;
    int ret, xp;
    dnnl_dims_t d4 = { od[0], nd > 1 ? od[1] : 1, 1, 1 };
    /* A conv's channels in blocks of 8, as the AVX2 tier's layers take
     * them (an elementwise product with plain channels would run on
     * oneDNN's reference code): of one pixel, the bytes are the plain ones. */
    if (nd == 4 && d4[1] % 8 == 0) {
        if (dnnl_memory_desc_init_by_tag(&dst, 4, d4, dnnl_f32, dnnl_aBcd8b) != dnnl_success) {
            snprintf(err, errlen, "%s: bad shape for the matrix-vector kernel", where);
            return ENG_EMODEL;
        }
    } else if (f32_md_plain(&dst, nd, od, dnnl_f32) < 0) {
        snprintf(err, errlen, "%s: bad shape for the matrix-vector kernel", where);
        return ENG_EMODEL;
    }
    if ((ret = f32_to_plain(p, x, dnnl_f32, &xp, where, err, errlen)) < 0)
        return ret;
    void *blob = aligned_alloc(32, f32v_size(d));
    pl_step *s = blob ? pl_step_new(&p->pl, ni, kind) : NULL;
    if (!s) {
        free(blob);
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    f32_ext *e = pl_ext(&p->pl, p->pl.ns - 1);
    e->blob = blob;               /* the plan's from here: plan_free frees it */
    f32v_pack(blob, d);
    snprintf(s->impl, sizeof s->impl, "lcnetd_gemv:avx2");
    int o = pl_value_new(&p->pl, &dst, p->pl.ns - 1);
    if (o < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    s = &p->pl.s[p->pl.ns - 1];
    pl_step_arg(&p->pl, s, DNNL_ARG_SRC, xp);
    pl_step_arg(&p->pl, s, DNNL_ARG_DST, o);
    s->dst = o;
    p->tval[p->pl.g->n[ni].out[0]] = o;
    return 1;
}

/* Weights w and bias b (NULL: none) as borrowed by d, built and freed
 * around the step. */
static int emit_with(f32_plan *p, int ni, const char *kind, int x, f32v_desc *d, int tw, int tb,
                     int nd, const int64_t *od, const char *where, char *err, size_t errlen)
{
    float *w = gr_const_floats(p->pl.g, tw), *b = tb >= 0 ? gr_const_floats(p->pl.g, tb) : NULL;
    int ret;
    if (!w || (tb >= 0 && !b)) {
        snprintf(err, errlen, "%s: out of memory", where);
        ret = ENG_ENOMEM;
    } else {
        d->w = w;
        d->bias = b;
        ret = emit(p, ni, kind, x, d, nd, od, where, err, errlen);
    }
    free(w);
    free(b);
    return ret;
}

int f32_op_gemv_conv(f32_plan *p, int ni, const conv_params *cp, int x, const char *where,
                     char *err, size_t errlen)
{
    const gr_graph *g = p->pl.g;
    const gr_node *n = &g->n[ni];
    const int64_t *xd = tdims(p, n->in[0]), *od = tdims(p, n->out[0]);
    int tb = n->nin > 2 ? n->in[2] : -1;
    f32v_desc d = { .k = cp->cin, .n = cp->cout };
    if (tnd(p, n->in[0]) != 4 || xd[0] != 1 || xd[2] != 1 || xd[3] != 1 || cp->kh != 1 ||
        cp->kw != 1 || cp->group != 1 || cp->pt || cp->pl || cp->pb || cp->pr ||
        !gr_is_const(g, n->in[1]) || (tb >= 0 && !gr_is_const(g, tb)) || !gemv_ops(n, &d) ||
        !tier_ok() || !f32v_fits(&d))
        return 0;
    return emit_with(p, ni, "conv", x, &d, n->in[1], tb, 4, od, where, err, errlen);
}

int f32_op_gemv_gemm(f32_plan *p, int ni, const f32_gemm_shape *wg, const char *where, char *err,
                     size_t errlen)
{
    const gr_graph *g = p->pl.g;
    const gr_node *n = &g->n[ni];
    f32v_desc d = { .k = wg->k, .n = wg->n, .kn = !wg->tb };
    if (wg->m != 1 || wg->ta || wg->alpha != 1.0f || !gr_is_const(g, n->in[1]) ||
        (wg->tc >= 0 && (wg->beta != 1.0f || wg->cn != wg->n || !gr_is_const(g, wg->tc))) ||
        !gemv_ops(n, &d) || !tier_ok() || !f32v_fits(&d))
        return 0;
    int64_t od[2] = { 1, wg->n };
    return emit_with(p, ni, "matmul", p->tval[n->in[0]], &d, n->in[1], wg->tc, 2, od, where, err,
                     errlen);
}

void f32_loop(pl_plan *pl, int i)
{
    const pl_step *s = &pl->s[i];
    const f32_ext *e = pl_ext(pl, i);
    int x = -1;
    for (int k = 0; k < s->n; k++)
        if (s->key[k] == DNNL_ARG_SRC)
            x = s->val[k];
    f32v_run(e->blob, pl_ptr(pl, x), pl_ptr(pl, s->dst));
}
