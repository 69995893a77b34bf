/* common.c: what both backends use (see onednn.h): the ctx with its cache
 * of reordered weights, oneDNN errors as the engine's, post-ops, and the
 * arena's first-fit placement. */
#include "engine/dnn/onednn.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int dnn_fail(dnnl_status_t st, const char *call, const char *where, char *err, size_t errlen)
{
    const char *s;
    switch (st) {
    case dnnl_out_of_memory: s = "out of memory"; break;
    case dnnl_invalid_arguments: s = "invalid arguments"; break;
    case dnnl_unimplemented: s = "no implementation for this configuration"; break;
    case dnnl_runtime_error: s = "runtime error"; break;
    default: s = "failure"; break;
    }
    snprintf(err, errlen, "%s: %s: %s", where, call, s);
    if (st == dnnl_out_of_memory)
        return ENG_ENOMEM;
    return st == dnnl_unimplemented ? ENG_EUNSUP : ENG_EMODEL;
}

int dnn_eltwise_of(const gr_post *q, dnnl_alg_kind_t *alg, float *a, float *b)
{
    static const dnnl_alg_kind_t algs[] = {
        [PO_RELU] = dnnl_eltwise_relu,          /* alpha: the slope below 0 */
        [PO_HARDSWISH] = dnnl_eltwise_hardswish,
        [PO_LINEAR] = dnnl_eltwise_linear,
        [PO_CLIP] = dnnl_eltwise_clip,
        [PO_SIGMOID] = dnnl_eltwise_logistic,
    };
    if ((int)q->kind < 1 || (size_t)q->kind >= sizeof algs / sizeof algs[0] || !algs[q->kind])
        return -1;
    *alg = algs[q->kind];
    *a = q->alpha;
    *b = q->beta;
    if (q->kind == PO_CLIP) {           /* oneDNN wants finite bounds */
        *a = q->alpha < -FLT_MAX ? -FLT_MAX : q->alpha;
        *b = q->beta > FLT_MAX ? FLT_MAX : q->beta;
    }
    return 0;
}

int dnn_post_ops_append(const gr_node *n, dnnl_post_ops_t po)
{
    for (int i = 0; i < n->npost; i++) {
        dnnl_alg_kind_t alg;
        float a, b;
        if (dnn_eltwise_of(&n->post[i], &alg, &a, &b) < 0 ||
            dnnl_post_ops_append_eltwise(po, 1.0f, alg, a, b) != dnnl_success)
            return -1;
    }
    return 0;
}

int dnn_post_ops(const gr_node *n, dnnl_primitive_attr_t attr)
{
    dnnl_post_ops_t po = NULL;
    if (!n->npost)
        return 0;
    if (dnnl_post_ops_create(&po) != dnnl_success)
        return -1;
    int ok = dnn_post_ops_append(n, po) == 0 &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    dnnl_post_ops_destroy(po);
    return ok ? 0 : -1;
}

int dnn_is_ref(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
           impl && strncmp(impl, "ref", 3) == 0;
}

size_t dnn_place(dnn_block *live, int *nlive, size_t size, int v, size_t *peak)
{
    size_t at = 0;
    int i;
    for (i = 0; i < *nlive; i++) {
        if (live[i].off >= at + size)
            break;
        size_t end = live[i].off + live[i].size;
        if (end > at)
            at = end;
    }
    memmove(&live[i + 1], &live[i], sizeof(dnn_block) * (size_t)(*nlive - i));
    live[i] = (dnn_block){ at, size, v };
    (*nlive)++;
    if (at + size > *peak)
        *peak = at + size;
    return at;
}

void dnn_unplace(dnn_block *live, int *nlive, int v)
{
    for (int i = 0; i < *nlive; i++)
        if (live[i].v == v) {
            memmove(&live[i], &live[i + 1], sizeof(dnn_block) * (size_t)(*nlive - i - 1));
            (*nlive)--;
            return;
        }
}

wentry *dnn_weight_slot(dnn_ctx *c)
{
    if (c->nw == c->capw) {
        int cap = c->capw ? c->capw * 2 : 64;
        wentry *w = realloc(c->w, sizeof(*w) * (size_t)cap);
        if (!w)
            return NULL;
        c->w = w;
        c->capw = cap;
    }
    memset(&c->w[c->nw], 0, sizeof(c->w[c->nw]));
    return &c->w[c->nw];
}

dnnl_primitive_attr_t dnn_attr_new(void)
{
    dnnl_primitive_attr_t a = NULL;
    if (dnnl_primitive_attr_create(&a) != dnnl_success)
        return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
    return a;
}

dnnl_memory_t dnn_weight_find(const dnn_ctx *c, int key, int variant, const dnnl_memory_desc_t *want)
{
    for (int i = 0; i < c->nw; i++)
        if (c->w[i].tensor == key && c->w[i].variant == variant &&
            dnnl_memory_desc_equal(&c->w[i].md, want))
            return c->w[i].mem;
    return NULL;
}

int dnn_weight(dnn_ctx *c, int key, int variant, const dnnl_memory_desc_t *from, const void *data,
               const dnnl_memory_desc_t *want, dnnl_memory_t *out, const char *where, char *err,
               size_t errlen)
{
    dnnl_memory_t src = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    void *buf = NULL;
    int ret = 0;

    if ((*out = dnn_weight_find(c, key, variant, want)))
        return 0;
    wentry *w = dnn_weight_slot(c);
    size_t sz = dnnl_memory_desc_get_size(want);
    if (!w || !(buf = aligned_alloc(ALIGN, (sz + ALIGN - 1) / ALIGN * ALIGN))) {
        snprintf(err, errlen, "%s: out of memory", where);
        return ENG_ENOMEM;
    }
    memset(buf, 0, sz);
    DNN_TRY(dnnl_memory_create(&src, from, c->eng, (void *)data));
    DNN_TRY(dnnl_memory_create(&w->mem, want, c->eng, buf));
    DNN_TRY(dnnl_reorder_primitive_desc_create(&pd, from, c->eng, want, c->eng, NULL));
    DNN_TRY(dnnl_primitive_create(&r, pd));
    dnnl_exec_arg_t a[2] = { { DNNL_ARG_FROM, src }, { DNNL_ARG_TO, w->mem } };
    DNN_TRY(dnnl_primitive_execute(r, c->stream, 2, a));
    DNN_TRY(dnnl_stream_wait(c->stream));
    w->tensor = key;
    w->variant = variant;
    w->md = *want;
    w->buf = buf;
    buf = NULL;
    c->nw++;
    c->wbytes += sz;
    *out = w->mem;
end:
    if (ret < 0 && w->mem) {
        dnnl_memory_destroy(w->mem);
        w->mem = NULL;
    }
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(src);
    free(buf);
    return ret;
}

/* ------------------------------------------------------------ context */

int dnn_ctx_new(be_ctx **out, const gr_graph *g, int unit, be_prec prec, int threads, char *err,
                size_t errlen)
{
    dnn_ctx *c = calloc(1, sizeof(*c));
    (void)g;
    (void)unit;
    (void)prec;
    (void)threads;
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(err, errlen, "cannot create the oneDNN CPU engine");
        dnn_ctx_free((be_ctx *)c);
        return ENG_EUNSUP;
    }
    *out = (be_ctx *)c;
    return 0;
}

void dnn_ctx_free(be_ctx *bc)
{
    dnn_ctx *c = (dnn_ctx *)bc;
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
