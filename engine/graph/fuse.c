/* fuse.c: rewrite the graph into fewer, fatter primitives.
 *
 * What exporters spell in several nodes oneDNN does in one: BatchNorm and
 * bias adds go into conv weights, activations and scalar multiplies become
 * post-ops, x*HardSigmoid(x) is HardSwish.  A tensor that is a graph output
 * is never fused away. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph/passes.h"
#include "engine/engine.h"
#include "engine/graph/ops.h"

/* The one node consuming tensor t, or -1 if it has other uses. */
static int sole_user(const gr_graph *g, int t)
{
    if (t < 0 || g->t[t].nuse != 1 || g->t[t].is_output)
        return -1;
    for (int i = 0; i < g->nn; i++) {
        const gr_node *n = &g->n[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == t)
                return i;
    }
    return -1;
}

static void remove_noops(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        if (n->dead || gr_op(n->op)->cls != OPC_COPY)
            continue;
        int in = n->in[0], out = n->out[0];
        n->dead = 1;
        if (g->t[out].is_output && g->t[in].is_input) {
            n->dead = 0;               /* keep: an output must be its own buffer */
            n->op = OP_IDENTITY;
            continue;
        }
        gr_replace_uses(g, out, in);
        if (g->t[out].is_output)
            g->t[in].is_output = 1;
    }
    gr_recount(g);
}

/* A private, writable copy of constant t when others share it. */
static int own_const(gr_graph *g, int t)
{
    if (g->t[t].nuse <= 1)
        return t;
    size_t bytes = (size_t)gr_tensor_numel(&g->t[t]) * gr_dtype_size(g->t[t].dtype);
    void *d = malloc(bytes ? bytes : 1);
    if (!d)
        return -1;
    memcpy(d, g->t[t].data, bytes);
    int64_t dims[G_MAX_DIMS];
    memcpy(dims, g->t[t].dims, sizeof dims);
    int nt = gr_tensor_new_const(g, NULL, g->t[t].dtype, g->t[t].ndim, dims, d);
    if (nt < 0)
        free(d);
    return nt;
}

/* Give conv/gemm node p a bias tensor of `len` zeros if it has none. */
static int ensure_bias(gr_graph *g, gr_node *p, int64_t len)
{
    int bi = p->op == OP_CONV ? 2 : 2;
    if (p->nin > bi && p->in[bi] >= 0) {
        int t = own_const(g, p->in[bi]);
        if (t < 0)
            return -1;
        p->in[bi] = t;
        g->t[t].nuse = 1;
        return t;
    }
    float *z = calloc((size_t)len, sizeof(float));
    if (!z)
        return -1;
    int t = gr_tensor_new_const(g, NULL, G_F32, 1, &len, z);
    if (t < 0) {
        free(z);
        return -1;
    }
    if (p->nin <= bi) {
        int *in = realloc(p->in, sizeof(int) * (size_t)(bi + 1));
        if (!in)
            return -1;
        p->in = in;
        for (int k = p->nin; k <= bi; k++)
            p->in[k] = -1;
        p->nin = bi + 1;
    }
    p->in[bi] = t;
    g->t[t].nuse = 1;
    return t;
}

static int fold_bn(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *c = &g->n[i];
        if (c->dead || c->op != OP_CONV || c->npost)
            continue;
        int u = sole_user(g, c->out[0]);
        if (u < 0 || g->n[u].op != OP_BATCHNORM)
            continue;
        gr_node *bn = &g->n[u];
        if (g->t[c->in[1]].dims[0] < 1)
            continue;                  /* no channels: nothing to fold, no size per channel */
        float eps = gr_attr_float(bn, "epsilon", 1e-5f);
        float *sc = gr_const_floats(g, bn->in[1]), *bi = gr_const_floats(g, bn->in[2]);
        float *mu = gr_const_floats(g, bn->in[3]), *va = gr_const_floats(g, bn->in[4]);
        int wt = own_const(g, c->in[1]);
        int64_t cout = g->t[c->in[1]].dims[0];
        int bt = -1;
        if (sc && bi && mu && va && wt >= 0) {
            c = &g->n[i];
            c->in[1] = wt;
            g->t[wt].nuse = 1;
            bt = ensure_bias(g, c, cout);
        }
        if (bt < 0) {
            free(sc); free(bi); free(mu); free(va);
            return ENG_ENOMEM;
        }
        float *w = g->t[wt].data, *b = g->t[bt].data;
        int64_t per = gr_tensor_numel(&g->t[wt]) / cout;
        for (int64_t o = 0; o < cout; o++) {
            float s = sc[o] / sqrtf(va[o] + eps);
            for (int64_t k = 0; k < per; k++)
                w[o * per + k] *= s;
            b[o] = (b[o] - mu[o]) * s + bi[o];
        }
        free(sc); free(bi); free(mu); free(va);
        c->out[0] = bn->out[0];
        g->t[bn->out[0]].producer = i;
        bn->dead = 1;
        gr_recount(g);
    }
    return 0;
}

/* Is constant t a per-channel vector for axis `axis` of a rank-`rank` output? */
static int per_channel(const gr_graph *g, int t, int rank, int axis, int64_t c)
{
    const gr_tensor *x = &g->t[t];
    if (!gr_is_const(g, t) || x->dtype != G_F32 || gr_tensor_numel(x) != c || x->ndim > rank)
        return 0;
    /* right-aligned broadcast: the c-sized dim must land on `axis` */
    for (int i = 0; i < x->ndim; i++) {
        int a = i + rank - x->ndim;
        if (x->dims[i] != (a == axis ? c : 1))
            return 0;
    }
    return 1;
}

static int matmul_to_gemm(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        if (n->dead || n->op != OP_MATMUL)
            continue;
        if (g->t[n->in[0]].ndim != 2 || !gr_is_const(g, n->in[1]) || g->t[n->in[1]].ndim != 2)
            continue;
        n->op = OP_GEMM;            /* default attributes: alpha 1, no transposes */
    }
    return 0;
}

static int fold_bias_add(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *p = &g->n[i];
        if (p->dead || (p->op != OP_CONV && p->op != OP_GEMM) || p->npost)
            continue;
        if (p->op == OP_GEMM) {
            gemm_params gp;
            gemm_get(p, &gp);
            if (gp.alpha != 1.0f || (p->nin > 2 && p->in[2] >= 0))
                continue;
        }
        int u = sole_user(g, p->out[0]);
        if (u < 0 || g->n[u].op != OP_ADD)
            continue;
        gr_node *a = &g->n[u];
        int other = a->in[0] == p->out[0] ? a->in[1] : a->in[0];
        const gr_tensor *o = &g->t[p->out[0]];
        int axis = 1;
        int64_t c = o->dims[axis];
        if (!per_channel(g, other, o->ndim, axis, c))
            continue;
        float *add = gr_const_floats(g, other);
        int bt = add ? ensure_bias(g, p, c) : -1;
        if (bt < 0) {
            free(add);
            return ENG_ENOMEM;
        }
        p = &g->n[i];
        float *b = g->t[bt].data;
        for (int64_t k = 0; k < c; k++)
            b[k] += add[k];
        free(add);
        p->out[0] = a->out[0];
        g->t[a->out[0]].producer = i;
        a->dead = 1;
        gr_recount(g);
    }
    return 0;
}

static int near(float a, float b)
{
    return fabsf(a - b) < 1e-4f;
}

/* x * HardSigmoid(x) with slope 1/6 and offset 1/2 is HardSwish. */
static void hardswish_pattern(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *m = &g->n[i];
        if (m->dead || m->op != OP_MUL || m->nin != 2)
            continue;
        for (int side = 0; side < 2; side++) {
            int hs_t = m->in[side], x = m->in[1 - side];
            int p = g->t[hs_t].producer;
            if (p < 0 || g->n[p].op != OP_HARDSIGMOID || g->n[p].in[0] != x ||
                g->t[hs_t].nuse != 1 || g->t[hs_t].is_output)
                continue;
            if (!near(hardsigmoid_alpha(&g->n[p]), 1.0f / 6) || !near(hardsigmoid_beta(&g->n[p]), 0.5f))
                continue;
            g->n[p].dead = 1;
            m->op = OP_HARDSWISH;
            m->nin = 1;
            m->in[0] = x;
            break;
        }
    }
    gr_recount(g);
}

/* Map one consumer node of p's output t onto post-ops of p, as its row
 * says; 0 if it cannot be. */
static int as_post(gr_graph *g, gr_node *p, const gr_node *c, int t)
{
    const gr_opdef *op = gr_op(c->op);
    gr_post po[2];
    if (p->npost + 2 > G_MAX_POST || !op->post)
        return 0;
    int k = op->post(g, c, t, po);
    for (int i = 0; i < k; i++)
        p->post[p->npost++] = po[i];
    return k > 0;
}

static void fuse_post(gr_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *p = &g->n[i];
        gr_opclass cls = gr_op(p->op)->cls;
        if (p->dead || (cls != OPC_CONV && cls != OPC_GEMM && cls != OPC_MATMUL))
            continue;
        for (;;) {
            int t = p->out[0], u = sole_user(g, t);
            if (u < 0 || !as_post(g, p, &g->n[u], t))
                break;
            gr_node *c = &g->n[u];
            p->out[0] = c->out[0];
            g->t[c->out[0]].producer = i;
            c->dead = 1;
            gr_recount(g);
        }
    }
}

static void dce(gr_graph *g)
{
    for (int changed = 1; changed;) {
        changed = 0;
        gr_recount(g);
        for (int i = g->nn - 1; i >= 0; i--) {
            gr_node *n = &g->n[i];
            if (n->dead)
                continue;
            int used = 0;
            for (int k = 0; k < n->nout; k++)
                if (n->out[k] >= 0 && g->t[n->out[k]].nuse > 0)
                    used = 1;
            if (!used) {
                n->dead = 1;
                changed = 1;
            }
        }
    }
}

int gr_fuse(gr_graph *g, char *err, size_t errlen)
{
    int ret;
    remove_noops(g);
    dce(g);
    if ((ret = fold_bn(g)) < 0 || (ret = matmul_to_gemm(g)) < 0 || (ret = fold_bias_add(g)) < 0) {
        snprintf(err, errlen, "out of memory while fusing");
        return ret;
    }
    hardswish_pattern(g);
    fuse_post(g);
    dce(g);
    return 0;
}
