/* fp32.c: compile the fused graph into oneDNN 2.6 primitives (fp32, or bf16
 * where it pays) and run them.
 *
 * Per node: descs with format "any" where oneDNN may choose, a primitive
 * desc, the chosen layouts queried, weights reordered once into a cache the
 * plans of every batch size share.  Activations stay in whatever layout the
 * producing primitive chose; a reorder is inserted only where a consumer
 * cannot take that layout (counted in dnn_stats, so tests can hold us to it).
 * Buffers come from one arena, assigned by liveness; eltwise and binary
 * steps write over an input that dies there.  Scratchpads share one buffer.
 */
#include "engine/dnn/dnn.h"

#include <float.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "engine/dnn/onednn.h"
#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"

#define MAX_ARGS 10


typedef struct {
    dnnl_memory_desc_t md;
    int alias;                   /* value owning the storage, or -1 */
    int def, last;               /* defining step (-1: input), last reading step */
    size_t off;
    dnnl_memory_t mem;           /* arena memory, or a weight borrowed from the ctx */
    int is_const;
} dval;

typedef struct {
    dnnl_primitive_t prim;
    int n;
    int key[MAX_ARGS], val[MAX_ARGS];
    dnnl_memory_desc_t scratch_md;
    dnnl_memory_t scratch;
    int inplace_src;             /* value dst may share storage with, or -1 */
    int dst;
    int is_reorder;
    int node;
    char kind[24];
    char impl[40];
    dnnl_exec_arg_t args[MAX_ARGS + 1];
    /* convolutions keep what built them, to be rebuilt with another dst
     * layout when the next layer asks for one (see relayout) */
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr;
} dstep;

struct dnn_plan {
    dnn_ctx *c;
    const gr_graph *g;
    int batch;
    dnn_prec prec;
    dval *v;
    int nv, capv;
    dstep *s;
    int ns, caps;
    int *tval;
    int64_t (*dims)[G_MAX_DIMS];
    int *in_val, *out_val;
    void *arena, *scratch;
    size_t arena_size, scratch_size;
    int ninplace, nreorder;
};

/* ------------------------------------------------------------ errors */


/* ----------------------------------------------------------- helpers */

static dnnl_format_tag_t plain_tag(int nd)
{
    static const dnnl_format_tag_t t[] = { dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd,
                                           dnnl_abcde, dnnl_abcdef };
    return nd >= 1 && nd <= 6 ? t[nd] : dnnl_format_tag_undef;
}

static void dims_copy(dnnl_dims_t d, int nd, const int64_t *s)
{
    for (int i = 0; i < nd; i++)
        d[i] = s[i];
}

static int md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d;
    int64_t one = 1;
    if (nd == 0) {                /* scalars become [1] */
        nd = 1;
        dims = &one;
    }
    dims_copy(d, nd, dims);
    return dnnl_memory_desc_init_by_tag(md, nd, d, dt, plain_tag(nd)) == dnnl_success ? 0 : -1;
}

static int md_any(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d;
    dims_copy(d, nd, dims);
    return dnnl_memory_desc_init_by_tag(md, nd, d, dt, dnnl_format_tag_any) == dnnl_success ? 0 : -1;
}

/* Dense row-major with no blocking and no offset. */
static int is_plain(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks || md->offset0)
        return 0;
    dnnl_dim_t s = 1;
    for (int i = md->ndims - 1; i >= 0; i--) {
        if (md->padded_dims[i] != md->dims[i])
            return 0;
        if (md->dims[i] != 1 && md->format_desc.blocking.strides[i] != s)
            return 0;
        s *= md->dims[i];
    }
    return 1;
}

/* Where element idx lives in a blocked layout, in elements. */
static int64_t md_offset(const dnnl_memory_desc_t *md, const int64_t *idx)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t blk[DNNL_MAX_NDIMS], seen[DNNL_MAX_NDIMS], off = md->offset0, stride = 1;
    for (int d = 0; d < md->ndims; d++)
        blk[d] = seen[d] = 1;
    for (int j = 0; j < b->inner_nblks; j++)
        blk[b->inner_idxs[j]] *= b->inner_blks[j];
    for (int d = 0; d < md->ndims; d++)
        off += idx[d] / blk[d] * b->strides[d];
    for (int j = b->inner_nblks - 1; j >= 0; j--) {       /* the last block varies fastest */
        int d = (int)b->inner_idxs[j];
        off += idx[d] / seen[d] % b->inner_blks[j] * stride;
        seen[d] *= b->inner_blks[j];
        stride *= b->inner_blks[j];
    }
    return off;
}

/* Do two layouts put every element at the same place?  A blocked tensor
 * with no extent but its channels (the classifier's [N, C, 1, 1]) is laid
 * out as plain rows: a reorder between them would only copy. */
static int same_bytes(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    enum { MAX_CHECKED = 1 << 20 };     /* beyond that, let the reorder run */
    int64_t idx[DNNL_MAX_NDIMS] = { 0 }, n = 1;
    if (a->format_kind != dnnl_blocked || b->format_kind != dnnl_blocked ||
        a->data_type != b->data_type || a->ndims != b->ndims || a->extra.flags || b->extra.flags)
        return 0;
    for (int d = 0; d < a->ndims; d++) {
        if (a->dims[d] != b->dims[d] || a->padded_dims[d] != a->dims[d] ||
            b->padded_dims[d] != b->dims[d])
            return 0;
        n *= a->dims[d];
    }
    if (n > MAX_CHECKED)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        if (md_offset(a, idx) != md_offset(b, idx))
            return 0;
        for (int d = a->ndims - 1; d >= 0 && ++idx[d] == a->dims[d]; d--)
            idx[d] = 0;
    }
    return 1;
}

static int val_new(dnn_plan *p, const dnnl_memory_desc_t *md, int def)
{
    if (p->nv == p->capv) {
        int cap = p->capv ? p->capv * 2 : 64;
        dval *v = realloc(p->v, sizeof(*v) * (size_t)cap);
        if (!v)
            return -1;
        p->v = v;
        p->capv = cap;
    }
    dval *v = &p->v[p->nv];
    memset(v, 0, sizeof(*v));
    v->md = *md;
    v->alias = -1;
    v->def = def;
    v->last = def;
    return p->nv++;
}

static int root(const dnn_plan *p, int v)
{
    while (p->v[v].alias >= 0)
        v = p->v[v].alias;
    return v;
}

static dstep *step_new(dnn_plan *p, int node, const char *kind)
{
    if (p->ns == p->caps) {
        int cap = p->caps ? p->caps * 2 : 64;
        dstep *s = realloc(p->s, sizeof(*s) * (size_t)cap);
        if (!s)
            return NULL;
        p->s = s;
        p->caps = cap;
    }
    dstep *s = &p->s[p->ns++];
    memset(s, 0, sizeof(*s));
    s->node = node;
    s->inplace_src = -1;
    s->dst = -1;
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    return s;
}

static void step_arg(dnn_plan *p, dstep *s, int key, int v)
{
    s->key[s->n] = key;
    s->val[s->n] = v;
    s->n++;
    int st = (int)(s - p->s);
    if (key != DNNL_ARG_DST && p->v[v].last < st)
        p->v[v].last = st;
}

/* Turn a primitive desc into a step (owning the primitive). */
static int step_from_pd(dnn_plan *p, dnnl_primitive_desc_t pd, int node, const char *kind,
                        dstep **out, const char *where, char *err, size_t errlen)
{
    int ret = 0;
    dstep *s = step_new(p, node, kind);
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    DNN_TRY(dnnl_primitive_create(&s->prim, pd));
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(s->impl, sizeof s->impl, "%s", impl);
    const dnnl_memory_desc_t *sm = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (sm && dnnl_memory_desc_get_size(sm) > 0) {
        s->scratch_md = *sm;
        size_t sz = dnnl_memory_desc_get_size(sm);
        if (sz > p->scratch_size)
            p->scratch_size = sz;
    }
    *out = s;
end:
    return ret;
}

typedef struct { int key, val; } arg;

/* The step for pd, reading `in`, writing a new value laid out as the
 * primitive's destination (returned in *out).  inplace: an input the
 * output may share storage with when it dies there (-1: none). */
static int emit(dnn_plan *p, dnnl_primitive_desc_t pd, int node, const char *kind,
                const arg *in, int nin, int dst_key, int inplace, int *out,
                const char *where, char *err, size_t errlen)
{
    dstep *s = NULL;
    int ret = step_from_pd(p, pd, node, kind, &s, where, err, errlen);
    if (ret < 0)
        return ret;
    int o = val_new(p, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), (int)(s - p->s));
    if (o < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    for (int i = 0; i < nin; i++)
        step_arg(p, s, in[i].key, in[i].val);
    step_arg(p, s, dst_key, o);
    s->dst = o;
    if (inplace >= 0 && !p->v[inplace].is_const && dnnl_memory_desc_equal(&p->v[inplace].md, &p->v[o].md))
        s->inplace_src = inplace;
    *out = o;
    return 0;
}

static int view(dnn_plan *p, int v, const dnnl_memory_desc_t *md);

/* Reorder value v into layout md (new value), unless it already is, or
 * holds its bytes where md would. */
static int reorder_to(dnn_plan *p, int v, const dnnl_memory_desc_t *md, int *out,
                      const char *where, char *err, size_t errlen)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int ret = 0;
    if (dnnl_memory_desc_equal(&p->v[v].md, md)) {
        *out = v;
        return 0;
    }
    if (same_bytes(&p->v[v].md, md)) {
        if ((*out = view(p, v, md)) < 0) {
            snprintf(err, errlen, "%s: out of memory", where);
            return ENG_ENOMEM;
        }
        return 0;
    }
    if (!(attr = dnn_attr_new())) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    DNN_TRY(dnnl_reorder_primitive_desc_create(&pd, &p->v[v].md, p->c->eng, md, p->c->eng, attr));
    arg in[] = { { DNNL_ARG_FROM, v } };
    if ((ret = emit(p, pd, -1, "reorder", in, 1, DNNL_ARG_TO, -1, out, where, err, errlen)) < 0)
        goto end;
    p->s[p->ns - 1].is_reorder = 1;
    p->nreorder++;
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
}

static int to_plain(dnn_plan *p, int v, dnnl_data_type_t dt, int *out, const char *where,
                    char *err, size_t errlen)
{
    const dnnl_memory_desc_t *m = &p->v[v].md;
    if (is_plain(m) && m->data_type == dt) {
        *out = v;
        return 0;
    }
    dnnl_memory_desc_t md;
    int64_t d[G_MAX_DIMS];
    for (int i = 0; i < m->ndims; i++)
        d[i] = m->dims[i];
    md_plain(&md, m->ndims, d, dt);
    return reorder_to(p, v, &md, out, where, err, errlen);
}

/* A value sharing v's storage, seen through md (same bytes). */
static int view(dnn_plan *p, int v, const dnnl_memory_desc_t *md)
{
    int nv = val_new(p, md, p->v[v].def);
    if (nv >= 0)
        p->v[nv].alias = v;
    return nv;
}

/* Constant tensor t laid out as `want`, reordered once from `from` (its
 * plain layout as this use sees it) and cached across plans. */
static int weight(dnn_plan *p, int t, const dnnl_memory_desc_t *from,
                  const dnnl_memory_desc_t *want, int *out, const char *where,
                  char *err, size_t errlen)
{
    const gr_tensor *x = &p->g->t[t];
    dnnl_memory_t mem = dnn_weight_find(p->c, t, 0, want);
    int ret = 0;

    if (!mem) {
        float *f = gr_const_floats(p->g, t);
        if (!f) {
            snprintf(err, errlen, "%s: out of memory", where);
            return ENG_ENOMEM;
        }
        if (dnnl_memory_desc_get_size(from) != (size_t)gr_tensor_numel(x) * sizeof(float) &&
            gr_tensor_numel(x) != 0) {
            snprintf(err, errlen, "%s: constant '%s' does not fit its use", where, x->name);
            ret = ENG_EMODEL;
        } else {
            ret = dnn_weight(p->c, t, 0, from, f, want, &mem, where, err, errlen);
        }
        free(f);
        if (ret < 0)
            return ret;
    }
    int nv = val_new(p, want, -1);
    if (nv < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    p->v[nv].mem = mem;
    p->v[nv].is_const = 1;
    *out = nv;
    return 0;
}

static const int64_t *tdims(const dnn_plan *p, int t) { return p->dims[t]; }
static int tnd(const dnn_plan *p, int t) { return p->g->t[t].ndim; }

/* --------------------------------------------------------------- conv */


static int relayout(dnn_plan *p, int v, const dnnl_memory_desc_t *md)
{
    dval *val = &p->v[v];
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    if (val->def < 0 || val->alias >= 0 || val->last != val->def)
        return 0;
    dstep *s = &p->s[val->def];
    if (!s->attr || s->dst != v || s->node < 0)
        return 0;
    const gr_tensor *t = &p->g->t[p->g->n[s->node].out[0]];
    if (t->nuse != 1 || t->is_output)
        return 0;
    dnnl_convolution_desc_t cd = s->cd;
    cd.dst_desc = *md;
    if (dnnl_primitive_desc_create(&pd, &cd, s->attr, p->c->eng, NULL) != dnnl_success)
        return 0;
    int ok = !dnn_is_ref(pd);
    /* the weights were reordered for the old choice: it must not change */
    const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    for (int k = 0; k < s->n; k++)
        if (s->key[k] == DNNL_ARG_WEIGHTS && !dnnl_memory_desc_equal(w, &p->v[s->val[k]].md))
            ok = 0;
    if (ok && dnnl_primitive_create(&prim, pd) == dnnl_success) {
        dnnl_primitive_destroy(s->prim);
        s->prim = prim;
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(s->impl, sizeof s->impl, "%s", impl);
        const dnnl_memory_desc_t *sm = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        memset(&s->scratch_md, 0, sizeof s->scratch_md);
        if (sm && dnnl_memory_desc_get_size(sm) > 0) {
            s->scratch_md = *sm;
            if (dnnl_memory_desc_get_size(sm) > p->scratch_size)
                p->scratch_size = dnnl_memory_desc_get_size(sm);
        }
        s->cd = cd;
        val->md = *md;
    } else {
        ok = 0;
    }
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static int wants_bf16(const dnn_plan *p, const gr_node *n)
{
    if (p->prec != DNN_BF16 || n->op != OP_CONV)
        return 0;
    const gr_tensor *x = &p->g->t[n->in[0]];
    /* The first layer sees the normalised image and the layers after global
     * pooling make the scores: both stay fp32, where bf16's 8-bit mantissa
     * would cost the most accuracy for the least time. */
    if (x->is_input || x->producer < 0)
        return 0;
    const int64_t *d = tdims(p, n->in[0]);
    return d[2] * d[3] > 1;
}

static int c_conv(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    conv_params cp;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_memory_desc_t src, wei, bias, dst, wplain;
    int ret, x = p->tval[n->in[0]], w, b = -1, o;
    dnnl_status_t st;

    if ((ret = conv_get(p->g, n, &cp, err, errlen)) < 0)
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
    src = p->v[x].md;
    /* The first layer may read the image in whatever layout it likes best
     * (nhwc for the brgemm kernels): the engine writes pixels in either. */
    int from_input = p->v[x].def == -1 && !p->v[x].is_const && p->v[x].alias < 0 &&
                     p->g->t[n->in[0]].is_input && p->g->t[n->in[0]].nuse == 1;
    if (src.data_type != dt || from_input)
        md_any(&src, 4, xd, dt);
    md_any(&wei, wnd, wd, dt);
    md_plain(&wplain, wnd, wd, dnnl_f32);
    int has_b = n->nin > 2 && n->in[2] >= 0;
    md_plain(&bias, 1, &cp.cout, dnnl_f32);
    md_any(&dst, 4, od, dt);
    dnnl_dims_t strides = { cp.sh, cp.sw }, dil = { cp.dh - 1, cp.dw - 1 };
    dnnl_dims_t pl = { cp.pt, cp.pl }, pr = { cp.pb, cp.pr };
    if (!(attr = dnn_attr_new()) || dnn_post_ops(n, attr) < 0) {
        snprintf(err, errlen, "%s: cannot set post-ops", where);
        ret = ENG_EMODEL;
        goto end;
    }
    DNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
            dnnl_convolution_direct, &src, &wei, has_b ? &bias : NULL, &dst, strides, dil, pl, pr));
    st = dnnl_primitive_desc_create(&pd, &cd, attr, p->c->eng, NULL);
    if (st == dnnl_unimplemented || (st == dnnl_success && dnn_is_ref(pd))) {
        /* The producer's layout is not one this conv takes, or only the
         * reference code does: let the conv choose, and pay one reorder. */
        dnnl_primitive_desc_t alt = NULL;
        md_any(&src, 4, xd, dt);
        DNN_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                dnnl_convolution_direct, &src, &wei, has_b ? &bias : NULL, &dst, strides, dil, pl, pr));
        if (dnnl_primitive_desc_create(&alt, &cd, attr, p->c->eng, NULL) == dnnl_success &&
            (!pd || !dnn_is_ref(alt))) {
            dnnl_primitive_desc_destroy(pd);
            pd = alt;
            st = dnnl_success;
        } else {
            dnnl_primitive_desc_destroy(alt);
        }
    }
    DNN_TRY(st);
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    if (from_input && want->data_type == dnnl_f32) {
        dnnl_memory_desc_t nhwc;
        dnnl_dims_t d4 = { xd[0], xd[1], xd[2], xd[3] };
        dnnl_memory_desc_init_by_tag(&nhwc, 4, d4, dnnl_f32, dnnl_acdb);
        if (dnnl_memory_desc_equal(want, &nhwc))
            p->v[x].md = nhwc;
    }
    if (!dnnl_memory_desc_equal(&p->v[x].md, want))
        relayout(p, x, want);
    if ((ret = reorder_to(p, x, want, &x, where, err, errlen)) < 0)
        goto end;
    if ((ret = weight(p, n->in[1], &wplain, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                      &w, where, err, errlen)) < 0)
        goto end;
    if (has_b && (ret = weight(p, n->in[2], &bias, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
                               &b, where, err, errlen)) < 0)
        goto end;
    arg in[] = { { DNNL_ARG_SRC, x }, { DNNL_ARG_WEIGHTS, w }, { DNNL_ARG_BIAS, b } };
    if ((ret = emit(p, pd, ni, "conv", in, has_b ? 3 : 2, DNNL_ARG_DST, -1, &o, where, err, errlen)) < 0)
        goto end;
    p->tval[n->out[0]] = o;
    /* keep the recipe for relayout; the desc's src/weights are the chosen ones */
    dstep *s = &p->s[p->ns - 1];
    s->cd = cd;
    s->cd.src_desc = *want;
    s->cd.weights_desc = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    s->cd.dst_desc = p->v[o].md;
    dnnl_primitive_attr_clone(&s->attr, attr);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
}

/* ----------------------------------------------------------- eltwise */

static int eltwise(dnn_plan *p, int ni, int x, dnnl_alg_kind_t alg, float a, float b, int *out,
                   const char *where, char *err, size_t errlen)
{
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr)
        goto nomem;
    DNN_TRY(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, &p->v[x].md, a, b));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &ed, attr, p->c->eng, NULL));
    arg in[] = { { DNNL_ARG_SRC, x } };
    ret = emit(p, pd, ni, "eltwise", in, 1, DNNL_ARG_DST, x, out, where, err, errlen);
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
static int c_eltwise(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    const gr_opdef *op = gr_op(n->op);
    gr_post po[2];
    int x = p->tval[n->in[0]], ret = 0;
    int k = op->post ? op->post(p->g, n, n->in[0], po) : 0;
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
static int operand(dnn_plan *p, int t, int nd, int *out, const char *where, char *err, size_t errlen)
{
    const gr_tensor *x = &p->g->t[t];
    int64_t d[G_MAX_DIMS];
    int k = nd - tnd(p, t);
    for (int i = 0; i < nd; i++)
        d[i] = i < k ? 1 : tdims(p, t)[i - k];
    if (gr_is_const(p->g, t)) {
        dnnl_memory_desc_t md;
        md_plain(&md, nd, d, dnnl_f32);      /* rank 0: md_plain makes it [1] */
        return weight(p, t, &md, &md, out, where, err, errlen);
    }
    int v = p->tval[t];
    if (k == 0) {
        *out = v;
        return 0;
    }
    int ret = to_plain(p, v, p->v[v].md.data_type, &v, where, err, errlen);
    if (ret < 0)
        return ret;
    dnnl_memory_desc_t md;
    md_plain(&md, nd, d, p->v[v].md.data_type);
    if ((*out = view(p, v, &md)) < 0)
        return ENG_ENOMEM;
    (void)x;
    return 0;
}

static int c_binary(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    static const dnnl_alg_kind_t algs[] = { [GB_ADD] = dnnl_binary_add, [GB_SUB] = dnnl_binary_sub,
                                            [GB_MUL] = dnnl_binary_mul, [GB_DIV] = dnnl_binary_div };
    const gr_node *n = &p->g->n[ni];
    gr_binop bin = gr_op(n->op)->bin;
    int a = n->in[0], b = n->in[1], ret = 0, va, vb, o;
    dnnl_alg_kind_t alg = algs[bin];
    int nd = tnd(p, n->out[0]);
    const int64_t *od = tdims(p, n->out[0]);
    /* oneDNN broadcasts only the second operand: a must have the full shape */
    int64_t an = gr_numel(tnd(p, a), tdims(p, a)), on = gr_numel(nd, od);
    if (an != on || gr_is_const(p->g, a)) {
        if (bin == GB_ADD || bin == GB_MUL) {
            int t = a; a = b; b = t;
            an = gr_numel(tnd(p, a), tdims(p, a));
        }
        if (an != on || gr_is_const(p->g, a)) {
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
    dnnl_memory_desc_t dst = p->v[va].md;
    dnnl_status_t st;
    if (!attr)
        goto nomem;
    DNN_TRY(dnnl_binary_desc_init(&bd, alg, &p->v[va].md, &p->v[vb].md, &dst));
    st = dnnl_primitive_desc_create(&pd, &bd, attr, p->c->eng, NULL);
    if (st == dnnl_unimplemented) {
        /* mixed layouts or types: meet in plain f32 */
        if ((ret = to_plain(p, va, dnnl_f32, &va, where, err, errlen)) < 0 ||
            (ret = to_plain(p, vb, dnnl_f32, &vb, where, err, errlen)) < 0)
            goto end;
        dst = p->v[va].md;
        DNN_TRY(dnnl_binary_desc_init(&bd, alg, &p->v[va].md, &p->v[vb].md, &dst));
        st = dnnl_primitive_desc_create(&pd, &bd, attr, p->c->eng, NULL);
    }
    DNN_TRY(st);
    arg in[] = { { DNNL_ARG_SRC_0, va }, { DNNL_ARG_SRC_1, vb } };
    if ((ret = emit(p, pd, ni, "binary", in, 2, DNNL_ARG_DST, va, &o, where, err, errlen)) < 0)
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
static int avg_spatial(dnn_plan *p, int ni, int x, int nd, const int64_t *xd, int *out,
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
    md_any(&dst, nd, od, dnnl_f32);
    DNN_TRY(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference,
            dnnl_pooling_avg_exclude_padding, &p->v[x].md, &dst, s0, k, dl, pl, pr));
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &pdsc, attr, p->c->eng, NULL);
    if (st == dnnl_unimplemented) {
        md_any(&dst, nd, od, p->v[x].md.data_type);
        DNN_TRY(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference,
                dnnl_pooling_avg_exclude_padding, &p->v[x].md, &dst, s0, k, dl, pl, pr));
        st = dnnl_primitive_desc_create(&pd, &pdsc, attr, p->c->eng, NULL);
    }
    DNN_TRY(st);
    arg in[] = { { DNNL_ARG_SRC, x } };
    ret = emit(p, pd, ni, "pool", in, 1, DNNL_ARG_DST, -1, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

static int c_reduce(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x = p->tval[n->in[0]], nd = tnd(p, n->in[0]), ret = 0, o;
    const int64_t *xd = tdims(p, n->in[0]);
    unsigned mask = (1u << nd) - 1 - 3u;    /* GAP: every dim from 2 */
    int keep = 1;

    if (n->op == OP_REDUCEMEAN &&
        (ret = reduce_axes(p->g, n, nd, &mask, &keep, err, errlen)) < 0)
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
        if ((ret = to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
            goto end;
        md_plain(&dst, nd, od, dnnl_f32);
        DNN_TRY(dnnl_reduction_desc_init(&rd, dnnl_reduction_mean, &p->v[x].md, &dst, 0, 0));
        DNN_TRY(dnnl_primitive_desc_create(&pd, &rd, attr, p->c->eng, NULL));
        arg in[] = { { DNNL_ARG_SRC, x } };
        ret = emit(p, pd, ni, "reduce", in, 1, DNNL_ARG_DST, -1, &o, where, err, errlen);
end:
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_attr_destroy(attr);
        if (ret < 0)
            return ret;
    }
    if (!keep || tnd(p, n->out[0]) != nd) {
        dnnl_memory_desc_t md;
        if ((ret = to_plain(p, o, dnnl_f32, &o, where, err, errlen)) < 0)
            return ret;
        md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
        if ((o = view(p, o, &md)) < 0)
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

static int matmul_step(dnn_plan *p, int ni, int va, int vw, int vb, const dnnl_memory_desc_t *wmd_any,
                       int wconst_t, const dnnl_memory_desc_t *wfrom, const dnnl_memory_desc_t *dst,
                       float alpha, int with_post, int *out, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr || (with_post && dnn_post_ops(n, attr) < 0))
        goto nomem;
    if (alpha != 1.0f)
        dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    DNN_TRY(dnnl_matmul_desc_init(&md, &p->v[va].md, wmd_any, vb >= 0 ? &p->v[vb].md : NULL, dst));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &md, attr, p->c->eng, NULL));
    if (wconst_t >= 0 && (ret = weight(p, wconst_t, wfrom,
            dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &vw, where, err, errlen)) < 0)
        goto end;
    arg in[] = { { DNNL_ARG_SRC, va }, { DNNL_ARG_WEIGHTS, vw }, { DNNL_ARG_BIAS, vb } };
    ret = emit(p, pd, ni, "matmul", in, vb >= 0 ? 3 : 2, DNNL_ARG_DST, -1, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

/* y = y + beta * C, with the node's post-ops when they could not go earlier. */
static int add_scaled(dnn_plan *p, int ni, int y, int vc, float beta, int with_post, int *out,
                      const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    dnnl_binary_desc_t bd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    int ret = 0;
    if (!attr || (with_post && dnn_post_ops(n, attr) < 0))
        goto nomem;
    if (beta != 1.0f)
        DNN_TRY(dnnl_primitive_attr_set_scales(attr, DNNL_ARG_SRC_1, 1, 0, &beta));
    DNN_TRY(dnnl_binary_desc_init(&bd, dnnl_binary_add, &p->v[y].md, &p->v[vc].md, &p->v[y].md));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &bd, attr, p->c->eng, NULL));
    arg in[] = { { DNNL_ARG_SRC_0, y }, { DNNL_ARG_SRC_1, vc } };
    ret = emit(p, pd, ni, "binary", in, 2, DNNL_ARG_DST, y, out, where, err, errlen);
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
nomem:
    snprintf(err, errlen, "%s: out of memory", where);
    ret = ENG_ENOMEM;
    goto end;
}

static int c_gemm(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    gemm_params gp;
    int ret, va, vw = -1, vb = -1, vc = -1, o;
    int ta = n->in[0], tb = n->in[1], tc = n->nin > 2 ? n->in[2] : -1;
    gemm_get(n, &gp);
    const int64_t *ad = tdims(p, ta), *bd = tdims(p, tb);
    int64_t m = gp.ta ? ad[1] : ad[0], k = gp.ta ? ad[0] : ad[1];
    int64_t nn = gp.tb ? bd[0] : bd[1];
    dnnl_memory_desc_t amd, wmd, wany, dst, cmd;

    /* A: plain storage, seen transposed through strides when transA */
    if (gr_is_const(p->g, ta)) {
        dnnl_memory_desc_t from;
        md_2d(&from, m, k, gp.ta, dnnl_f32);
        if ((ret = weight(p, ta, &from, &from, &va, where, err, errlen)) < 0)
            return ret;
    } else {
        if ((ret = to_plain(p, p->tval[ta], dnnl_f32, &va, where, err, errlen)) < 0)
            return ret;
        md_2d(&amd, m, k, gp.ta, dnnl_f32);
        if ((va = view(p, va, &amd)) < 0)
            return ENG_ENOMEM;
    }
    md_2d(&wmd, k, nn, gp.tb, dnnl_f32);
    int wconst = gr_is_const(p->g, tb);
    if (wconst) {
        int64_t wd[2] = { k, nn };
        md_any(&wany, 2, wd, dnnl_f32);
    } else {
        if ((ret = to_plain(p, p->tval[tb], dnnl_f32, &vw, where, err, errlen)) < 0)
            return ret;
        if ((vw = view(p, vw, &wmd)) < 0)
            return ENG_ENOMEM;
        wany = wmd;
    }
    int64_t od[2] = { m, nn };
    md_plain(&dst, 2, od, dnnl_f32);

    /* C as the matmul's bias when it is a plain bias: constant, beta 1, alpha 1 */
    int c_as_bias = 0;
    int64_t cd[2] = { 1, 1 };
    if (tc >= 0) {
        const gr_tensor *c = &p->g->t[tc];
        const int64_t *cdims = tdims(p, tc);
        if (c->ndim == 2) {
            cd[0] = cdims[0];
            cd[1] = cdims[1];
        } else if (c->ndim == 1) {
            cd[1] = cdims[0];
        }
        c_as_bias = gr_is_const(p->g, tc) && gp.beta == 1.0f && gp.alpha == 1.0f;
        if (gp.beta != 0.0f) {
            md_plain(&cmd, 2, cd, dnnl_f32);
            if (gr_is_const(p->g, tc)) {
                if ((ret = weight(p, tc, &cmd, &cmd, &vc, where, err, errlen)) < 0)
                    return ret;
            } else {
                if ((ret = to_plain(p, p->tval[tc], dnnl_f32, &vc, where, err, errlen)) < 0)
                    return ret;
                if ((vc = view(p, vc, &cmd)) < 0)
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

static int c_matmul(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int nd = tnd(p, n->out[0]), va, vw, o, ret;
    dnnl_memory_desc_t dst;
    if (nd > 6) {
        snprintf(err, errlen, "%s: rank %d too large", where, nd);
        return ENG_EUNSUP;
    }
    if ((ret = operand(p, n->in[0], nd, &va, where, err, errlen)) < 0 ||
        (ret = operand(p, n->in[1], nd, &vw, where, err, errlen)) < 0)
        return ret;
    if ((ret = to_plain(p, va, dnnl_f32, &va, where, err, errlen)) < 0 ||
        (ret = to_plain(p, vw, dnnl_f32, &vw, where, err, errlen)) < 0)
        return ret;
    md_plain(&dst, nd, tdims(p, n->out[0]), dnnl_f32);
    if ((ret = matmul_step(p, ni, va, vw, -1, &p->v[vw].md, -1, NULL, &dst, 1.0f, 1, &o,
                           where, err, errlen)) < 0)
        return ret;
    p->tval[n->out[0]] = o;
    return 0;
}

/* --------------------------------------------------- softmax, bnorm */

static int c_softmax(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int nd = tnd(p, n->in[0]), axis = softmax_axis(p->g, n, nd), x = p->tval[n->in[0]], ret = 0, o;
    const int64_t *xd = tdims(p, n->in[0]);
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t md;
    int coerce = p->g->opset < 13 && axis != nd - 1;
    if (!attr)
        goto nomem;
    if ((ret = to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
        goto end;
    if (coerce) {
        /* before opset 13: softmax over everything from axis on, as one row */
        int64_t d2[2] = { 1, 1 };
        for (int i = 0; i < nd; i++)
            d2[i < axis ? 0 : 1] *= xd[i];
        md_plain(&md, 2, d2, dnnl_f32);
        if ((x = view(p, x, &md)) < 0)
            goto nomem;
        axis = 1;
    }
    DNN_TRY(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, dnnl_softmax_accurate,
                                              &p->v[x].md, &p->v[x].md, axis));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &sd, attr, p->c->eng, NULL));
    arg in[] = { { DNNL_ARG_SRC, x } };
    if ((ret = emit(p, pd, ni, "softmax", in, 1, DNNL_ARG_DST, x, &o, where, err, errlen)) < 0)
        goto end;
    if (coerce) {
        md_plain(&md, nd, xd, dnnl_f32);
        if ((o = view(p, o, &md)) < 0)
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

static int c_bnorm(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x = p->tval[n->in[0]], ret = 0, o, v[4];
    int64_t c = tdims(p, n->in[0])[1];
    dnnl_batch_normalization_desc_t bd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = dnn_attr_new();
    dnnl_memory_desc_t cmd;
    if (!attr)
        goto nomem;
    if (p->v[x].md.data_type != dnnl_f32 && (ret = to_plain(p, x, dnnl_f32, &x, where, err, errlen)) < 0)
        goto end;
    md_plain(&cmd, 1, &c, dnnl_f32);
    for (int i = 0; i < 4; i++)
        if ((ret = weight(p, n->in[i + 1], &cmd, &cmd, &v[i], where, err, errlen)) < 0)
            goto end;
    DNN_TRY(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &p->v[x].md,
            gr_attr_float(n, "epsilon", 1e-5f), dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift));
    DNN_TRY(dnnl_primitive_desc_create(&pd, &bd, attr, p->c->eng, NULL));
    arg in[] = { { DNNL_ARG_SRC, x }, { DNNL_ARG_SCALE, v[0] }, { DNNL_ARG_SHIFT, v[1] },
                 { DNNL_ARG_MEAN, v[2] }, { DNNL_ARG_VARIANCE, v[3] } };
    if ((ret = emit(p, pd, ni, "bnorm", in, 5, DNNL_ARG_DST, x, &o, where, err, errlen)) < 0)
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
static int c_view(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x, ret;
    dnnl_memory_desc_t md;
    if ((ret = to_plain(p, p->tval[n->in[0]], dnnl_f32, &x, where, err, errlen)) < 0)
        return ret;
    md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
    if ((p->tval[n->out[0]] = view(p, x, &md)) < 0)
        return ENG_ENOMEM;
    return 0;
}

static int c_copy(dnn_plan *p, int ni, const char *where, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    int x = p->tval[n->in[0]], o, ret;
    dnnl_memory_desc_t md;
    md_plain(&md, tnd(p, n->out[0]), tdims(p, n->out[0]), dnnl_f32);
    /* a copy even when layouts match: the output needs its own buffer */
    dnnl_primitive_desc_t pd = NULL;
    ret = 0;
    DNN_TRY(dnnl_reorder_primitive_desc_create(&pd, &p->v[x].md, p->c->eng, &md, p->c->eng, NULL));
    arg in[] = { { DNNL_ARG_FROM, x } };
    if ((ret = emit(p, pd, ni, "copy", in, 1, DNNL_ARG_TO, -1, &o, where, err, errlen)) < 0)
        goto end;
    p->tval[n->out[0]] = o;
end:
    dnnl_primitive_desc_destroy(pd);
    return ret;
}

/* ------------------------------------------------------ allocation */

static size_t vsize(const dval *v)
{
    size_t s = dnnl_memory_desc_get_size(&v->md);
    return (s + ALIGN - 1) / ALIGN * ALIGN;
}

static int allocate(dnn_plan *p, char *err, size_t errlen)
{
    int nv = p->nv;
    int *rlast = malloc(sizeof(int) * (size_t)nv);
    dnn_block *live = malloc(sizeof(dnn_block) * (size_t)(nv + 1));
    size_t peak = 0;
    int nlive = 0, ret = 0;
    if (!rlast || !live) {
        free(rlast);
        free(live);
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    for (int i = 0; i < p->g->noutputs; i++)
        p->v[p->out_val[i]].last = INT_MAX;
    /* in-place: dst joins src's storage when src dies at that very step */
    for (int i = 0; i < nv; i++)
        rlast[i] = -2;
    for (int i = 0; i < nv; i++) {
        int r = root(p, i);
        if (p->v[i].last > rlast[r])
            rlast[r] = p->v[i].last;
    }
    for (int si = 0; si < p->ns; si++) {
        dstep *s = &p->s[si];
        if (s->inplace_src < 0 || s->dst < 0)
            continue;
        int r = root(p, s->inplace_src);
        if (p->v[r].is_const || rlast[r] != si || p->v[s->dst].alias >= 0)
            continue;
        if (vsize(&p->v[s->dst]) != vsize(&p->v[r]))
            continue;
        /* fold dst's own aliases' lifetimes into r */
        int dl = rlast[s->dst];
        p->v[s->dst].alias = r;
        rlast[r] = dl;
        p->ninplace++;
    }
    /* walk the steps: define, then free what dies */
    for (int si = -1; si < p->ns; si++) {
        for (int i = 0; i < nv; i++)
            if (p->v[i].alias < 0 && !p->v[i].is_const && p->v[i].def == si)
                p->v[i].off = dnn_place(live, &nlive, vsize(&p->v[i]), i, &peak);
        for (int i = 0; i < nv; i++)
            if (p->v[i].alias < 0 && !p->v[i].is_const && rlast[i] == si && si >= 0)
                dnn_unplace(live, &nlive, i);
        /* a value nobody reads dies where it is made */
        for (int i = 0; i < nv; i++)
            if (p->v[i].alias < 0 && !p->v[i].is_const && p->v[i].def == si && rlast[i] < si)
                dnn_unplace(live, &nlive, i);
    }
    p->arena_size = peak;
    if (!(p->arena = aligned_alloc(ALIGN, peak ? peak : ALIGN))) {
        snprintf(err, errlen, "out of memory for %zu bytes of activations", peak);
        ret = ENG_ENOMEM;
    } else {
        memset(p->arena, 0, peak ? peak : ALIGN);
    }
    if (ret == 0 && p->scratch_size &&
        !(p->scratch = aligned_alloc(ALIGN, (p->scratch_size + ALIGN - 1) / ALIGN * ALIGN))) {
        snprintf(err, errlen, "out of memory for the scratchpad");
        ret = ENG_ENOMEM;
    }
    free(rlast);
    free(live);
    return ret;
}

static int bind(dnn_plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->nv; i++) {
        dval *v = &p->v[i];
        if (v->is_const)
            continue;
        char *base = (char *)p->arena + p->v[root(p, i)].off;
        if (dnnl_memory_create(&v->mem, &v->md, p->c->eng, base) != dnnl_success) {
            snprintf(err, errlen, "cannot create memory for an activation");
            return ENG_ENOMEM;
        }
    }
    for (int si = 0; si < p->ns; si++) {
        dstep *s = &p->s[si];
        for (int k = 0; k < s->n; k++)
            s->args[k] = (dnnl_exec_arg_t){ s->key[k], p->v[s->val[k]].mem };
        if (s->scratch_md.ndims) {
            if (dnnl_memory_create(&s->scratch, &s->scratch_md, p->c->eng, p->scratch) != dnnl_success) {
                snprintf(err, errlen, "cannot create scratchpad memory");
                return ENG_ENOMEM;
            }
            s->args[s->n] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, s->scratch };
        }
    }
    return 0;
}

/* ---------------------------------------------------------- compile */

/* Does tensor t hold no element (a dimension of 0)? */
static int tensor_empty(const dnn_plan *p, int t)
{
    for (int i = 0; i < tnd(p, t); i++)
        if (tdims(p, t)[i] == 0)
            return 1;
    return 0;
}

typedef int compile_fn(dnn_plan *p, int ni, const char *where, char *err, size_t errlen);

/* What compiles a node, by its operator's class (ops.h). */
static compile_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = c_conv, [OPC_ELTWISE] = c_eltwise, [OPC_BINARY] = c_binary,
    [OPC_MEAN] = c_reduce, [OPC_GEMM] = c_gemm, [OPC_MATMUL] = c_matmul,
    [OPC_SOFTMAX] = c_softmax, [OPC_BATCHNORM] = c_bnorm, [OPC_VIEW] = c_view, [OPC_COPY] = c_copy,
};

static int compile_node(dnn_plan *p, int ni, char *err, size_t errlen)
{
    const gr_node *n = &p->g->n[ni];
    gr_opclass cls = gr_op(n->op)->cls;
    char where[300];
    gr_node_desc(n, where, sizeof where);
    for (int i = 0; i < n->nin; i++) {
        int t = n->in[i];
        if (t >= 0 && !gr_is_const(p->g, t) && p->tval[t] < 0) {
            snprintf(err, errlen, "%s: input '%s' is not computed", where, p->g->t[t].name);
            return ENG_EMODEL;
        }
    }
    /* oneDNN divides by a zero dimension in places (a MatMul of two empty
     * tensors raised SIGFPE in primitive creation): nothing empty reaches
     * it.  A view's shape or axes input may be empty (a reshape to a
     * scalar); it is read here, not by oneDNN. */
    int nchk = cls == OPC_VIEW ? 1 : n->nin;
    for (int i = -1; i < nchk; i++) {
        int t = i < 0 ? n->out[0] : n->in[i];
        if (t >= 0 && tensor_empty(p, t)) {
            snprintf(err, errlen, "%s: tensor '%s' is empty (a dimension of 0); unsupported", where,
                     p->g->t[t].name);
            return ENG_EUNSUP;
        }
    }
    /* Only matmul, gemm and binary take a constant first operand; the rest
     * read it as an activation (nothing folds them at load). */
    int const_ok = cls == OPC_GEMM || cls == OPC_MATMUL || cls == OPC_BINARY;
    if (!const_ok && n->nin > 0 && gr_is_const(p->g, n->in[0])) {
        snprintf(err, errlen, "%s: input '%s' is a constant; lcnetd computes %s only on "
                 "activations", where, p->g->t[n->in[0]].name, n->op_type);
        return ENG_EUNSUP;
    }
    if (!by_class[cls]) {
        snprintf(err, errlen, "%s: not supported by the oneDNN compiler", where);
        return ENG_EUNSUP;
    }
    return by_class[cls](p, ni, where, err, errlen);
}

int dnn_compile(dnn_plan **out, dnn_ctx *c, const gr_graph *g, int batch, dnn_prec prec,
                char *err, size_t errlen)
{
    dnn_plan *p = calloc(1, sizeof(*p));
    int ret = ENG_ENOMEM;
    *out = NULL;
    if (!p)
        goto nomem;
    p->c = c;
    p->g = g;
    p->batch = batch;
    p->prec = prec;
    p->tval = malloc(sizeof(int) * (size_t)(g->nt ? g->nt : 1));
    p->dims = malloc(sizeof(*p->dims) * (size_t)(g->nt ? g->nt : 1));
    p->in_val = malloc(sizeof(int) * (size_t)(g->ninputs + 1));
    p->out_val = malloc(sizeof(int) * (size_t)(g->noutputs + 1));
    if (!p->tval || !p->dims || !p->in_val || !p->out_val)
        goto nomem;
    for (int i = 0; i < g->nt; i++)
        p->tval[i] = -1;
    gr_shapes_for_batch(g, batch, p->dims, err, errlen);
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        dnnl_memory_desc_t md;
        if (g->t[t].dtype != G_F32) {
            snprintf(err, errlen, "graph input '%s' is %s; only float32 inputs can be fed",
                     g->t[t].name, gr_dtype_name(g->t[t].dtype));
            ret = ENG_EUNSUP;
            goto fail;
        }
        if (md_plain(&md, g->t[t].ndim, p->dims[t], dnnl_f32) < 0) {
            snprintf(err, errlen, "graph input '%s': bad shape", g->t[t].name);
            ret = ENG_EMODEL;
            goto fail;
        }
        if ((p->tval[t] = p->in_val[i] = val_new(p, &md, -1)) < 0)
            goto nomem;
    }
    for (int i = 0; i < g->nn; i++) {
        if (g->n[i].dead)
            continue;
        if ((ret = compile_node(p, i, err, errlen)) < 0)
            goto fail;
    }
    for (int i = 0; i < g->noutputs; i++) {
        int t = g->outputs[i], v = p->tval[t];
        if (v < 0 && gr_is_const(g, t)) {
            snprintf(err, errlen, "graph output '%s' is a constant", g->t[t].name);
            ret = ENG_EUNSUP;
            goto fail;
        }
        if (v < 0) {
            snprintf(err, errlen, "graph output '%s' is not computed", g->t[t].name);
            ret = ENG_EMODEL;
            goto fail;
        }
        if ((ret = to_plain(p, v, dnnl_f32, &p->out_val[i], g->t[t].name, err, errlen)) < 0)
            goto fail;
    }
    if ((ret = allocate(p, err, errlen)) < 0 || (ret = bind(p, err, errlen)) < 0)
        goto fail;
    *out = p;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling for batch %d", batch);
    ret = ENG_ENOMEM;
fail:
    dnn_plan_free(p);
    return ret;
}

void dnn_plan_free(dnn_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ns; i++) {
        dnnl_primitive_destroy(p->s[i].prim);
        dnnl_memory_destroy(p->s[i].scratch);
        if (p->s[i].attr)
            dnnl_primitive_attr_destroy(p->s[i].attr);
    }
    for (int i = 0; i < p->nv; i++)
        if (!p->v[i].is_const)
            dnnl_memory_destroy(p->v[i].mem);
    free(p->s);
    free(p->v);
    free(p->tval);
    free(p->dims);
    free(p->in_val);
    free(p->out_val);
    free(p->arena);
    free(p->scratch);
    free(p);
}

int dnn_input_nhwc(const dnn_plan *p, int i)
{
    const dnnl_memory_desc_t *m = &p->v[p->in_val[i]].md;
    return m->ndims == 4 && !is_plain(m) && m->format_desc.blocking.strides[1] == 1;
}

float *dnn_input(dnn_plan *p, int i)
{
    return (float *)((char *)p->arena + p->v[root(p, p->in_val[i])].off);
}

const float *dnn_output(dnn_plan *p, int i)
{
    return (const float *)((char *)p->arena + p->v[root(p, p->out_val[i])].off);
}

int dnn_run(dnn_plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->ns; i++) {
        dstep *s = &p->s[i];
        int n = s->n + (s->scratch ? 1 : 0);
        dnnl_status_t st = dnnl_primitive_execute(s->prim, p->c->stream, n, s->args);
        if (st != dnnl_success) {
            char where[300];
            if (s->node >= 0)
                gr_node_desc(&p->g->n[s->node], where, sizeof where);
            else
                snprintf(where, sizeof where, "reorder");
            return dnn_fail(st, "execute", where, err, errlen);
        }
    }
    dnnl_stream_wait(p->c->stream);
    return 0;
}

void dnn_plan_stats(const dnn_plan *p, dnn_stats *s)
{
    s->steps = p->ns;
    s->reorders = p->nreorder;
    s->inplace = p->ninplace;
    s->arena = p->arena_size;
    s->weights = p->c->wbytes;
}

static const char *dt_name(dnnl_data_type_t d)
{
    return d == dnnl_f32 ? "f32" : d == dnnl_bf16 ? "bf16" : d == dnnl_u8 ? "u8" :
           d == dnnl_s8 ? "s8" : d == dnnl_s32 ? "s32" : "?";
}

void dnn_plan_dump(const dnn_plan *p, void (*line)(void *, const char *), void *arg)
{
    char buf[512];
    for (int i = 0; i < p->ns; i++) {
        const dstep *s = &p->s[i];
        const dval *d = s->dst >= 0 ? &p->v[s->dst] : NULL;
        char shape[96] = "";
        if (d) {
            int64_t dd[G_MAX_DIMS];
            for (int k = 0; k < d->md.ndims; k++)
                dd[k] = d->md.dims[k];
            gr_dims_str(shape, sizeof shape, d->md.ndims, dd);
        }
        snprintf(buf, sizeof buf, "%3d %-8s %-28s %-12s %s%s -> %s %s", i, s->kind, s->impl,
                 d ? dt_name(d->md.data_type) : "", s->node >= 0 ? p->g->n[s->node].name : "(inserted)",
                 d && d->alias >= 0 ? " [in place]" : "", shape,
                 d && is_plain(&d->md) ? "plain" : "blocked");
        line(arg, buf);
    }
}

/* ------------------------------------------------------------- context */

int dnn_ctx_new(dnn_ctx **out, char *err, size_t errlen)
{
    dnn_ctx *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(err, errlen, "cannot create the oneDNN CPU engine");
        dnn_ctx_free(c);
        return ENG_EUNSUP;
    }
    *out = c;
    return 0;
}

void dnn_ctx_free(dnn_ctx *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nw; i++) {
        dnnl_memory_destroy(c->w[i].mem);
        free(c->w[i].buf);
    }
    free(c->w);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    if (c->eng)
        dnnl_engine_destroy(c->eng);
    free(c);
}
