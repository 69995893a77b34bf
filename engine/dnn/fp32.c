/* fp32.c: compile the fused graph into oneDNN 2.6 primitives (fp32, or bf16
 * where it pays) and run them: the dnn_float backend (dnn.h).
 *
 * Per node: descs with format "any" where oneDNN may choose, a primitive
 * desc, the chosen layouts queried, weights reordered once into a cache the
 * plans of every batch size share.  Activations stay in whatever layout the
 * producing primitive chose; a reorder is inserted only where a consumer
 * cannot take that layout (counted in be_stats, so tests can hold us to it).
 * Buffers come from one arena, assigned by liveness; eltwise and binary
 * steps write over an input that dies there.  Scratchpads share one buffer
 * (plan.c).  The compilers of each class of operator are in fp32_ops.c. */
#include "engine/dnn/fp32.h"
#include "engine/dnn/f32_pixels.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"

/* ------------------------------------------------------------ layouts */

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

int f32_md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt)
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

int f32_md_any(dnnl_memory_desc_t *md, int nd, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d;
    dims_copy(d, nd, dims);
    return dnnl_memory_desc_init_by_tag(md, nd, d, dt, dnnl_format_tag_any) == dnnl_success ? 0 : -1;
}

/* Dense row-major with no blocking and no offset. */
int f32_is_plain(const dnnl_memory_desc_t *md)
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
int f32_same_bytes(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
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

/* ------------------------------------------------------- plan pieces */

/* The step for pd, reading `in`, writing a new value laid out as the
 * primitive's destination (returned in *out).  inplace: an input the
 * output may share storage with when it dies there (-1: none). */
int f32_emit(f32_plan *p, dnnl_primitive_desc_t pd, int node, const char *kind,
                const f32_arg *in, int nin, int dst_key, int inplace, int *out,
                const char *where, char *err, size_t errlen)
{
    pl_step *s = pl_step_new(&p->pl, node, kind);
    int ret;
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    if ((ret = pl_step_prim(&p->pl, s, pd, where, err, errlen)) < 0)
        return ret;
    int o = pl_value_new(&p->pl, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), (int)(s - p->pl.s));
    if (o < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    for (int i = 0; i < nin; i++)
        pl_step_arg(&p->pl, s, in[i].key, in[i].val);
    pl_step_arg(&p->pl, s, dst_key, o);
    s->dst = o;
    if (inplace >= 0 && !p->pl.v[inplace].is_const && dnnl_memory_desc_equal(&p->pl.v[inplace].md, &p->pl.v[o].md))
        s->inplace_src = inplace;
    *out = o;
    return 0;
}

/* Reorder value v into layout md (new value), unless it already is, or
 * holds its bytes where md would. */
int f32_reorder_to(f32_plan *p, int v, const dnnl_memory_desc_t *md, int *out,
                      const char *where, char *err, size_t errlen)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int ret = 0;
    if (dnnl_memory_desc_equal(&p->pl.v[v].md, md)) {
        *out = v;
        return 0;
    }
    if (f32_same_bytes(&p->pl.v[v].md, md)) {
        if ((*out = pl_view(&p->pl, v, md)) < 0) {
            snprintf(err, errlen, "%s: out of memory", where);
            return ENG_ENOMEM;
        }
        return 0;
    }
    if (!(attr = dnn_attr_new())) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    DNN_TRY(dnnl_reorder_primitive_desc_create(&pd, &p->pl.v[v].md, p->pl.c->eng, md, p->pl.c->eng, attr));
    f32_arg in[] = { { DNNL_ARG_FROM, v } };
    if ((ret = f32_emit(p, pd, -1, "reorder", in, 1, DNNL_ARG_TO, -1, out, where, err, errlen)) < 0)
        goto end;
    p->nreorder++;
end:
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return ret;
}

int f32_to_plain(f32_plan *p, int v, dnnl_data_type_t dt, int *out, const char *where,
                    char *err, size_t errlen)
{
    const dnnl_memory_desc_t *m = &p->pl.v[v].md;
    if (f32_is_plain(m) && m->data_type == dt) {
        *out = v;
        return 0;
    }
    dnnl_memory_desc_t md;
    int64_t d[G_MAX_DIMS];
    for (int i = 0; i < m->ndims; i++)
        d[i] = m->dims[i];
    f32_md_plain(&md, m->ndims, d, dt);
    return f32_reorder_to(p, v, &md, out, where, err, errlen);
}

/* Constant tensor t laid out as `want`, reordered once from `from` (its
 * plain layout as this use sees it) and cached across plans. */
int f32_weight(f32_plan *p, int t, const dnnl_memory_desc_t *from,
                  const dnnl_memory_desc_t *want, int *out, const char *where,
                  char *err, size_t errlen)
{
    const gr_tensor *x = &p->pl.g->t[t];
    dnnl_memory_t mem = dnn_weight_find(p->pl.c, t, 0, want);
    int ret = 0;

    if (!mem) {
        float *f = gr_const_floats(p->pl.g, t);
        if (!f) {
            snprintf(err, errlen, "%s: out of memory", where);
            return ENG_ENOMEM;
        }
        if (dnnl_memory_desc_get_size(from) != (size_t)gr_tensor_numel(x) * sizeof(float) &&
            gr_tensor_numel(x) != 0) {
            snprintf(err, errlen, "%s: constant '%s' does not fit its use", where, x->name);
            ret = ENG_EMODEL;
        } else {
            ret = dnn_weight(p->pl.c, t, 0, from, f, want, &mem, where, err, errlen);
        }
        free(f);
        if (ret < 0)
            return ret;
    }
    int nv = pl_const(&p->pl, want, mem, 0);
    if (nv < 0) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    *out = nv;
    return 0;
}


/* ------------------------------------------------------------ compile */

/* Does tensor t hold no element (a dimension of 0)? */
static int tensor_empty(const f32_plan *p, int t)
{
    for (int i = 0; i < tnd(p, t); i++)
        if (tdims(p, t)[i] == 0)
            return 1;
    return 0;
}

/* What compiles a node, by its operator's class (ops.h). */
static f32_op_fn *const by_class[OPC_COUNT_] = {
    [OPC_CONV] = f32_op_conv, [OPC_ELTWISE] = f32_op_eltwise, [OPC_BINARY] = f32_op_binary,
    [OPC_MEAN] = f32_op_reduce, [OPC_GEMM] = f32_op_gemm, [OPC_MATMUL] = f32_op_matmul,
    [OPC_SOFTMAX] = f32_op_softmax, [OPC_BATCHNORM] = f32_op_bnorm, [OPC_VIEW] = f32_op_view,
    [OPC_COPY] = f32_op_copy,
};

static int compile_node(f32_plan *p, int ni, char *err, size_t errlen)
{
    const gr_graph *g = p->pl.g;
    const gr_node *n = &g->n[ni];
    gr_opclass cls = gr_op(n->op)->cls;
    char where[300];
    gr_node_desc(n, where, sizeof where);
    for (int i = 0; i < n->nin; i++) {
        int t = n->in[i];
        if (t >= 0 && !gr_is_const(g, t) && p->tval[t] < 0) {
            snprintf(err, errlen, "%s: input '%s' is not computed", where, g->t[t].name);
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
                     g->t[t].name);
            return ENG_EUNSUP;
        }
    }
    /* Only matmul, gemm and binary take a constant first operand; the rest
     * read it as an activation (nothing folds them at load). */
    int const_ok = cls == OPC_GEMM || cls == OPC_MATMUL || cls == OPC_BINARY;
    if (!const_ok && n->nin > 0 && gr_is_const(g, n->in[0])) {
        snprintf(err, errlen, "%s: input '%s' is a constant; lcnetd computes %s only on "
                 "activations", where, g->t[n->in[0]].name, n->op_type);
        return ENG_EUNSUP;
    }
    if (!by_class[cls]) {
        snprintf(err, errlen, "%s: not supported by the oneDNN compiler", where);
        return ENG_EUNSUP;
    }
    return by_class[cls](p, ni, where, err, errlen);
}

static void plan_free(be_plan *dp)
{
    f32_plan *p = (f32_plan *)dp;
    if (!p)
        return;
    for (int i = 0; i < p->pl.ns; i++) {
        f32_ext *e = pl_ext(&p->pl, i);
        if (e->attr)
            dnnl_primitive_attr_destroy(e->attr);
    }
    pl_free(&p->pl);
    free(p->tval);
    free(p->in_val);
    free(p->out_val);
    free(p);
}

static int compile(be_plan **out, be_ctx *bc, const gr_graph *g, int batch, be_prec prec,
                   char *err, size_t errlen)
{
    f32_plan *p = calloc(1, sizeof(*p));
    int ret = ENG_ENOMEM;
    *out = NULL;
    if (!p || pl_init(&p->pl, (dnn_ctx *)bc, g, batch, sizeof(f32_ext), NULL) < 0)
        goto nomem;
    p->prec = prec;
    p->tval = malloc(sizeof(int) * (size_t)(g->nt ? g->nt : 1));
    p->in_val = malloc(sizeof(int) * (size_t)(g->ninputs + 1));
    p->out_val = malloc(sizeof(int) * (size_t)(g->noutputs + 1));
    if (!p->tval || !p->in_val || !p->out_val)
        goto nomem;
    for (int i = 0; i < g->nt; i++)
        p->tval[i] = -1;
    for (int i = 0; i < g->ninputs; i++) {
        int t = g->inputs[i];
        dnnl_memory_desc_t md;
        if (g->t[t].dtype != G_F32) {
            snprintf(err, errlen, "graph input '%s' is %s; only float32 inputs can be fed",
                     g->t[t].name, gr_dtype_name(g->t[t].dtype));
            ret = ENG_EUNSUP;
            goto fail;
        }
        if (f32_md_plain(&md, g->t[t].ndim, p->pl.dims[t], dnnl_f32) < 0) {
            snprintf(err, errlen, "graph input '%s': bad shape", g->t[t].name);
            ret = ENG_EMODEL;
            goto fail;
        }
        if ((p->tval[t] = p->in_val[i] = pl_value_new(&p->pl, &md, -1)) < 0)
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
        if ((ret = f32_to_plain(p, v, dnnl_f32, &p->out_val[i], g->t[t].name, err, errlen)) < 0)
            goto fail;
    }
    for (int i = 0; i < g->noutputs; i++)
        p->pl.v[p->out_val[i]].last = INT_MAX;
    for (int i = 0; i < p->pl.nv; i++)
        p->pl.v[i].bytes = dnnl_memory_desc_get_size(&p->pl.v[i].md);
    if ((ret = pl_allocate(&p->pl, err, errlen)) < 0 || (ret = pl_bind(&p->pl, err, errlen)) < 0)
        goto fail;
    *out = (be_plan *)p;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling for batch %d", batch);
    ret = ENG_ENOMEM;
fail:
    plan_free((be_plan *)p);
    return ret;
}

/* ------------------------------------------------------------- inputs */

/* Did the first layer choose to read input i as NHWC? */
static int input_nhwc(const f32_plan *p, int i)
{
    const dnnl_memory_desc_t *m = &p->pl.v[p->in_val[i]].md;
    return m->ndims == 4 && !f32_is_plain(m) && m->format_desc.blocking.strides[1] == 1;
}

static float *input(const f32_plan *p, int i)
{
    return pl_ptr(&p->pl, p->in_val[i]);
}

static void put_tensor(be_plan *dp, int i, const float *src)
{
    f32_plan *p = (f32_plan *)dp;
    int t = p->pl.g->inputs[i];
    const int64_t *d = p->pl.dims[t];
    int64_t n = gr_numel(tnd(p, t), d);
    float *dst = input(p, i);
    if (!input_nhwc(p, i)) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
        return;
    }
    int64_t c = d[1], hw = d[2] * d[3];
    for (int64_t b = 0; b < n / (c * hw); b++)
        for (int64_t k = 0; k < hw; k++)
            for (int64_t j = 0; j < c; j++)
                dst[(b * hw + k) * c + j] = src[(b * c + j) * hw + k];
}

/* Bytes to normalised floats, straight into the input buffer in the layout
 * the first convolution reads: NHWC (the pixels' own order) or NCHW. */
static void put_pixels(be_plan *dp, int k, const uint8_t *src, int stride, const float (*lut)[256])
{
    f32_plan *p = (f32_plan *)dp;
    const int64_t *d = p->pl.dims[p->pl.g->inputs[0]];
    int h = (int)d[2], w = (int)d[3];
    size_t plane = (size_t)h * (size_t)w;
    f32_pixels(input(p, 0) + plane * 3 * (size_t)k, h, w, input_nhwc(p, 0), src, stride, lut);
}

/* ---------------------------------------------------------------- run */

static int run(be_plan *dp, char *err, size_t errlen)
{
    return pl_run(&((f32_plan *)dp)->pl, err, errlen);
}

static int time_steps(be_plan *dp, const double **ms)
{
    return pl_time_steps(&((f32_plan *)dp)->pl, ms);
}

static const float *output(const be_plan *dp, int i)
{
    const f32_plan *p = (const f32_plan *)dp;
    return pl_ptr(&p->pl, p->out_val[i]);
}

static void stats(const be_plan *dp, be_stats *s)
{
    const f32_plan *p = (const f32_plan *)dp;
    s->steps = p->pl.ns;
    s->reorders = p->nreorder;
    s->inplace = p->pl.ninplace;
    s->arena = p->pl.arena_size;
    s->weights = p->pl.c->wbytes;
}

static const char *dt_name(dnnl_data_type_t d)
{
    return d == dnnl_f32 ? "f32" : d == dnnl_bf16 ? "bf16" : d == dnnl_u8 ? "u8" :
           d == dnnl_s8 ? "s8" : d == dnnl_s32 ? "s32" : "?";
}

static void dump(const be_plan *dp, void (*line)(void *, const char *), void *arg)
{
    const f32_plan *p = (const f32_plan *)dp;
    char buf[512];
    for (int i = 0; i < p->pl.ns; i++) {
        const pl_step *s = &p->pl.s[i];
        const pl_value *d = s->dst >= 0 ? &p->pl.v[s->dst] : NULL;
        char shape[96] = "";
        if (d) {
            int64_t dd[G_MAX_DIMS];
            for (int k = 0; k < d->md.ndims; k++)
                dd[k] = d->md.dims[k];
            gr_dims_str(shape, sizeof shape, d->md.ndims, dd);
        }
        snprintf(buf, sizeof buf, "%3d %-8s %-28s %-12s %s%s -> %s %s", i, s->kind, s->impl,
                 d ? dt_name(d->md.data_type) : "", s->node >= 0 ? p->pl.g->n[s->node].name : "(inserted)",
                 d && d->alias >= 0 ? " [in place]" : "", shape,
                 d && f32_is_plain(&d->md) ? "plain" : "blocked");
        line(arg, buf);
    }
}

const be_backend dnn_float = {
    .ctx_new = dnn_ctx_new, .ctx_free = dnn_ctx_free,
    .compile = compile, .free = plan_free, .put_tensor = put_tensor, .put_pixels = put_pixels,
    .run = run, .output = output, .stats = stats, .dump = dump,
    .time_steps = time_steps,
};
