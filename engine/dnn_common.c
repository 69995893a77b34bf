/* dnn_common.c: helpers both oneDNN compilers use (see dnn_priv.h). */
#include "engine/dnn_priv.h"

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

int dnn_post_ops_append(const gr_node *n, dnnl_post_ops_t po)
{
    for (int i = 0; i < n->npost; i++) {
        const gr_post *q = &n->post[i];
        dnnl_alg_kind_t alg;
        float a = 0, b = 0;
        switch (q->kind) {
        case PO_RELU: alg = dnnl_eltwise_relu; break;
        case PO_HARDSWISH: alg = dnnl_eltwise_hardswish; break;
        case PO_SIGMOID: alg = dnnl_eltwise_logistic; break;
        case PO_LINEAR: alg = dnnl_eltwise_linear; a = q->alpha; b = q->beta; break;
        case PO_CLIP:
            alg = dnnl_eltwise_clip;
            a = q->alpha < -FLT_MAX ? -FLT_MAX : q->alpha;
            b = q->beta > FLT_MAX ? FLT_MAX : q->beta;
            break;
        default:
            return -1;
        }
        if (dnnl_post_ops_append_eltwise(po, 1.0f, alg, a, b) != dnnl_success)
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
