/* fp32_stem.c: the fp32 plan's step for our own stem kernel (f32_stem.h):
 * a loop step in place of oneDNN's convolution where the kernel takes the
 * layer, reading the image as NHWC (put_pixels writes the pixels' own
 * order) and writing the blocked layout the next layer reads. */
#include "engine/dnn/fp32.h"
#include "engine/dnn/f32_stem.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

/* The node's activations as the kernel's ops; 0 when it lacks one. */
static int stem_ops(const gr_node *n, f32s_desc *d)
{
    d->nops = 0;
    for (int i = 0; i < n->npost; i++) {
        dnnl_alg_kind_t alg;
        float a, b;
        if (d->nops == Q8G_MAX_OPS || dnn_eltwise_of(&n->post[i], &alg, &a, &b) < 0)
            return 0;
        q8g_opkind k = alg == dnnl_eltwise_relu ? Q8G_RELU : alg == dnnl_eltwise_linear ? Q8G_LINEAR :
                       alg == dnnl_eltwise_clip ? Q8G_CLIP : alg == dnnl_eltwise_hardswish ? Q8G_HARDSWISH :
                       Q8G_MUL;
        if (k == Q8G_MUL)
            return 0;
        d->ops[d->nops++] = (q8g_op){ k, a, b };
    }
    return 1;
}

int f32_op_stem(f32_plan *p, int ni, const conv_params *cp, int x, const char *where, char *err,
                size_t errlen)
{
    const gr_graph *g = p->pl.g;
    const gr_node *n = &g->n[ni];
    const int64_t *xd = tdims(p, n->in[0]), *od = tdims(p, n->out[0]);
    f32s_desc d = { 0 };
    if (cp->group != 1 || cp->cin != 3 || cp->dh != 1 || cp->dw != 1 || tnd(p, n->in[0]) != 4 ||
        p->pl.v[x].md.data_type != dnnl_f32 || !gr_is_const(g, n->in[1]) ||
        (n->nin > 2 && n->in[2] >= 0 && !gr_is_const(g, n->in[2])) || !stem_ops(n, &d))
        return 0;
    d.h = xd[2], d.w = xd[3], d.oh = od[2], d.ow = od[3], d.oc = cp->cout;
    d.kh = cp->kh, d.kw = cp->kw, d.sh = cp->sh, d.sw = cp->sw, d.pt = cp->pt, d.pl = cp->pl;
    d.w32 = gr_const_floats(g, n->in[1]);
    d.bias = n->nin > 2 && n->in[2] >= 0 ? gr_const_floats(g, n->in[2]) : NULL;
    if (!d.w32 || !f32s_fits(&d))
        return 0;

    void *blob = aligned_alloc(32, f32s_size(&d));
    pl_step *s = blob ? pl_step_new(&p->pl, ni, "conv") : NULL;
    if (!s) {
        free(blob);
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    f32_ext *e = pl_ext(&p->pl, p->pl.ns - 1);
    e->blob = blob;               /* the plan's from here: plan_free frees it */
    f32s_pack(blob, &d);
    snprintf(s->impl, sizeof s->impl, "lcnetd_stem:avx2");

    dnnl_memory_desc_t nhwc, dst;
    dnnl_dims_t d4 = { xd[0], xd[1], xd[2], xd[3] }, o4 = { od[0], od[1], od[2], od[3] };
    if (dnnl_memory_desc_init_by_tag(&nhwc, 4, d4, dnnl_f32, dnnl_acdb) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&dst, 4, o4, dnnl_f32, dnnl_aBcd8b) != dnnl_success) {
        snprintf(err, errlen, "%s: bad shape for the stem kernel", where);
        return ENG_EMODEL;
    }
    p->pl.v[x].md = nhwc;         /* the engine writes pixels in either order */
    int o = pl_value_new(&p->pl, &dst, p->pl.ns - 1);
    if (o < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    s = &p->pl.s[p->pl.ns - 1];
    pl_step_arg(&p->pl, s, DNNL_ARG_SRC, x);
    pl_step_arg(&p->pl, s, DNNL_ARG_DST, o);
    s->dst = o;
    p->tval[n->out[0]] = o;
    return 1;
}

void f32_loop(pl_plan *pl, int i)
{
    const pl_step *s = &pl->s[i];
    const f32_ext *e = pl_ext(pl, i);
    int x = -1;
    for (int k = 0; k < s->n; k++)
        if (s->key[k] == DNNL_ARG_SRC)
            x = s->val[k];
    f32s_run(e->blob, pl_ptr(pl, x), pl_ptr(pl, s->dst), pl->v[x].md.dims[0]);
}
