/* subgraph.c: the lowered graph (ir.h) as an XNNPACK subgraph, made
 * into a runtime set up on the model's fp32 buffers.  One IR operation is
 * one subgraph node; XNNPACK picks the kernels for the CPU it runs on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "engine/xnn/ir.h"

#define TRY(call) do { enum xnn_status st_ = (call); if (st_ != xnn_status_success) { \
        snprintf(err, errlen, "XNNPACK: %s: %s", #call, xir_status(st_));             \
        ret = st_ == xnn_status_out_of_memory ? ENG_ENOMEM : ENG_EUNSUP;             \
        goto end; } } while (0)

static enum xnn_status define_op(xnn_subgraph_t sg, const xir_op *o, const uint32_t *id)
{
    uint32_t x = id[o->x], y = o->y != XIR_NONE ? id[o->y] : XIR_NONE, out = id[o->out];
    switch (o->kind) {
    case XO_CONV:
        return xnn_define_convolution_2d(sg, o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh, o->sw,
                                         o->dh, o->dw, o->groups, o->ipg, o->opg, o->lo, o->hi, x,
                                         id[o->w], id[o->b], out, 0);
    case XO_DWCONV:
        return xnn_define_depthwise_convolution_2d(sg, o->pt, o->pr, o->pb, o->pl, o->kh, o->kw,
                                                   o->sh, o->sw, o->dh, o->dw, (uint32_t)o->opg,
                                                   (size_t)o->groups, o->lo, o->hi, x, id[o->w],
                                                   id[o->b], out, 0);
    case XO_FC: return xnn_define_fully_connected(sg, o->lo, o->hi, x, id[o->w], id[o->b], out, 0);
    case XO_CLAMP: return xnn_define_clamp(sg, o->lo, o->hi, x, out, 0);
    case XO_HARDSWISH: return xnn_define_hardswish(sg, x, out, 0);
    case XO_SIGMOID: return xnn_define_sigmoid(sg, x, out, 0);
    case XO_ADD: return xnn_define_add2(sg, o->lo, o->hi, x, y, out, 0);
    case XO_SUB: return xnn_define_subtract(sg, o->lo, o->hi, x, y, out, 0);
    case XO_MUL: return xnn_define_multiply2(sg, o->lo, o->hi, x, y, out, 0);
    case XO_DIV: return xnn_define_divide(sg, o->lo, o->hi, x, y, out, 0);
    case XO_GAP: return xnn_define_global_average_pooling_2d(sg, o->lo, o->hi, x, out, 0);
    case XO_SOFTMAX: return xnn_define_softmax(sg, x, out, 0);
    default: return xnn_status_invalid_parameter;
    }
}

int xir_runtime(xnn_runtime_t *rt, const xir *ir, pthreadpool_t pool, float *const *in,
                float *const *out, char *err, size_t errlen)
{
    xnn_subgraph_t sg = NULL;
    uint32_t *id = malloc(sizeof(uint32_t) * (size_t)(ir->nv ? ir->nv : 1));
    struct xnn_external_value *ev = calloc((size_t)(ir->nin + ir->nout) + 1, sizeof(*ev));
    int ret = 0;
    *rt = NULL;
    if (!id || !ev) {
        snprintf(err, errlen, "XNNPACK: out of memory");
        ret = ENG_ENOMEM;
        goto end;
    }
    TRY(xnn_create_subgraph((uint32_t)(ir->nin + ir->nout), 0, &sg));
    for (int i = 0; i < ir->nv; i++) {
        const xir_val *v = &ir->v[i];
        uint32_t flags = v->ext == XIR_NONE ? 0 : (int)v->ext < ir->nin ?
                         XNN_VALUE_FLAG_EXTERNAL_INPUT : XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
        TRY(xnn_define_tensor_value(sg, xnn_datatype_fp32, (size_t)v->nd, v->d, v->data, v->ext,
                                    flags, &id[i]));
    }
    for (int i = 0; i < ir->nop; i++) {
        const xir_op *o = &ir->op[i];
        if (o->kind == XO_RESHAPE) {
            const xir_val *v = &ir->v[o->out];
            TRY(xnn_define_static_reshape(sg, (size_t)v->nd, v->d, id[o->x], id[o->out], 0));
            continue;
        }
        TRY(define_op(sg, o, id));
    }
    TRY(xnn_create_runtime_v2(sg, pool, 0, rt));
    for (int i = 0; i < ir->nin + ir->nout; i++)
        ev[i] = (struct xnn_external_value){ (uint32_t)i, i < ir->nin ? in[i] : out[i - ir->nin] };
    TRY(xnn_setup_runtime(*rt, (size_t)(ir->nin + ir->nout), ev));
end:
    if (ret < 0 && *rt) {
        xnn_delete_runtime(*rt);
        *rt = NULL;
    }
    if (sg)
        xnn_delete_subgraph(sg);
    free(id);
    free(ev);
    return ret;
}
