/* f16.c: the lowered graph (ir.h) as XNNPACK's fp16 operators.
 *
 * Debian 12's XNNPACK (a 2022 snapshot) rewrites a subgraph for fp16 only
 * when every node is one it knows in fp16, and PP-LCNet's are not (no
 * fully connected or softmax, and HardSwish aborts): its operator API has
 * them, so fp16 runs as a list of operators here, set up once on fixed
 * buffers and run in order.  Activations are half precision; the graph's
 * inputs and outputs stay f32, converted at the edges.  Softmax, Sigmoid,
 * Sub and Div, which the snapshot has no fp16 operator for, run in f32
 * between two conversions, and so do the convolutions and fully connected
 * layers of one pixel (the classifier head and the SE blocks): a fraction
 * of the work, but long sums, which accumulated in fp16 are what moves a
 * top-1 label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/xnn/ir.h"

struct xf16 {
    xnn_operator_t *ops;         /* run in this order */
    int nops, capops;
    void **mem;                  /* buffers owned here */
    int nmem, capmem;
};

typedef struct {
    xf16 *f;
    const xir *ir;
    pthreadpool_t pool;
    uint16_t **h;                /* per value: its fp16 buffer */
    char *err;
    size_t errlen;
} fc;

/* IEEE half from float, rounded to nearest even; out of range to infinity. */
static uint16_t to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u)                                  /* inf, NaN */
        return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u)                                  /* rounds past 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (mag < 0x38800000u) {                                 /* subnormal half */
        float a = fabsf(f) * 16777216.0f;                    /* in units of 2^-24 */
        return (uint16_t)(sign | (uint32_t)nearbyintf(a));
    }
    uint32_t h = (mag - 0x38000000u) >> 13, rest = mag & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static void *own(fc *c, size_t bytes)
{
    xf16 *f = c->f;
    if (f->nmem == f->capmem) {
        int cap = f->capmem ? 2 * f->capmem : 128;
        void **m = realloc(f->mem, sizeof(void *) * (size_t)cap);
        if (!m)
            return NULL;
        f->mem = m;
        f->capmem = cap;
    }
    void *p = calloc(1, bytes + XNN_EXTRA_BYTES);
    if (p)
        f->mem[f->nmem++] = p;
    return p;
}

static int push(fc *c, xnn_operator_t op)
{
    xf16 *f = c->f;
    if (f->nops == f->capops) {
        int cap = f->capops ? 2 * f->capops : 128;
        xnn_operator_t *o = realloc(f->ops, sizeof(xnn_operator_t) * (size_t)cap);
        if (!o) {
            xnn_delete_operator(op);
            return -1;
        }
        f->ops = o;
        f->capops = cap;
    }
    f->ops[f->nops++] = op;
    return 0;
}

static size_t numel(const xir_val *v)
{
    size_t n = 1;
    for (int i = 0; i < v->nd; i++)
        n *= v->d[i];
    return n;
}

static size_t inner(const xir_val *v)
{
    return v->nd ? v->d[v->nd - 1] : 1;
}

static int fail(fc *c, enum xnn_status st, const char *what)
{
    snprintf(c->err, c->errlen, "XNNPACK fp16: %s: %s", what, xir_status(st));
    return st == xnn_status_out_of_memory ? ENG_ENOMEM : ENG_EUNSUP;
}

static int nomem(fc *c)
{
    snprintf(c->err, c->errlen, "XNNPACK fp16: out of memory");
    return ENG_ENOMEM;
}

/* The operator created by `st`, kept and set up by `setup`. */
#define OP(create, setup, what) do {                                                    \
        xnn_operator_t op_ = NULL;                                                      \
        enum xnn_status st_ = (create);                                                 \
        if (st_ != xnn_status_success)                                                  \
            return fail(c, st_, what);                                                  \
        if (push(c, op_) < 0)                                                           \
            return nomem(c);                                                            \
        if ((st_ = (setup)) != xnn_status_success)                                      \
            return fail(c, st_, what);                                                  \
    } while (0)

/* A static value in half precision. */
static uint16_t *halves(fc *c, const xir_val *v)
{
    size_t n = numel(v);
    uint16_t *h = own(c, n * 2);
    for (size_t i = 0; h && i < n; i++)
        h[i] = to_half(v->data[i]);
    return h;
}

static int convert_to_f32(fc *c, const uint16_t *src, float *dst, size_t n)
{
    OP(xnn_create_convert_nc_f16_f32(n, n, n, 0, &op_),
       xnn_setup_convert_nc_f16_f32(op_, 1, src, dst, c->pool), "convert to f32");
    return 0;
}

static int convert_to_f16(fc *c, const float *src, uint16_t *dst, size_t n)
{
    OP(xnn_create_convert_nc_f32_f16(n, n, n, 0, &op_),
       xnn_setup_convert_nc_f32_f16(op_, 1, src, dst, c->pool), "convert to f16");
    return 0;
}

/* An operand as f32: the static value itself, or a converted copy. */
static const float *operand_f32(fc *c, uint32_t id)
{
    const xir_val *v = &c->ir->v[id];
    if (v->data)
        return v->data;
    float *s = own(c, numel(v) * sizeof(float));
    if (!s || convert_to_f32(c, c->h[id], s, numel(v)) < 0)
        return NULL;
    return s;
}

static int in_f32(const xir *ir, const xir_op *o)
{
    const xir_val *vx = &ir->v[o->x];
    switch (o->kind) {
    case XO_SOFTMAX: case XO_SIGMOID: case XO_SUB: case XO_DIV: case XO_FC: return 1;
    case XO_CONV: case XO_DWCONV: return vx->nd == 4 && vx->d[1] * vx->d[2] == 1;
    default: return 0;
    }
}

/* In f32, between conversions: see the top of the file. */
static int island(fc *c, const xir_op *o, float *const *outs)
{
    const xir_val *vx = &c->ir->v[o->x], *vo = &c->ir->v[o->out];
    const float *x = operand_f32(c, o->x), *y = NULL;
    if (!x || (o->y != XIR_NONE && !(y = operand_f32(c, o->y))))
        return c->err[0] ? ENG_EUNSUP : nomem(c);
    int ext_out = vo->ext != XIR_NONE && (int)vo->ext >= c->ir->nin;
    float *r = ext_out ? outs[vo->ext - (uint32_t)c->ir->nin] : own(c, numel(vo) * sizeof(float));
    if (!r)
        return nomem(c);
    size_t ch = inner(vx), rows = numel(vx) / (ch ? ch : 1);
    if (o->kind == XO_CONV || o->kind == XO_DWCONV) {
        const float *w = c->ir->v[o->w].data, *b = c->ir->v[o->b].data;
        size_t cin = (size_t)o->groups * o->ipg, cout = (size_t)o->groups * o->opg;
        OP(xnn_create_convolution2d_nhwc_f32(o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh,
                                             o->sw, o->dh, o->dw, o->groups, o->ipg, o->opg, cin,
                                             cout, w, b, o->lo, o->hi,
                                             o->kind == XO_DWCONV ? XNN_FLAG_DEPTHWISE_CONVOLUTION
                                                                  : 0, &op_),
           xnn_setup_convolution2d_nhwc_f32(op_, vx->d[0], vx->d[1], vx->d[2], x, r, c->pool),
           "convolution");
    } else if (o->kind == XO_FC) {
        OP(xnn_create_fully_connected_nc_f32(o->ipg, o->opg, o->ipg, o->opg, c->ir->v[o->w].data,
                                             c->ir->v[o->b].data, o->lo, o->hi, 0, &op_),
           xnn_setup_fully_connected_nc_f32(op_, numel(vx) / o->ipg, x, r, c->pool),
           "fully connected");
    } else if (o->kind == XO_SOFTMAX) {
        OP(xnn_create_softmax_nc_f32(ch, ch, ch, 0, &op_),
           xnn_setup_softmax_nc_f32(op_, rows, x, r, c->pool), "softmax");
    } else if (o->kind == XO_SIGMOID) {
        OP(xnn_create_sigmoid_nc_f32(ch, ch, ch, 0, &op_),
           xnn_setup_sigmoid_nc_f32(op_, rows, x, r, c->pool), "sigmoid");
    } else {
        const xir_val *vy = &c->ir->v[o->y];
        if (o->kind == XO_SUB)
            OP(xnn_create_subtract_nd_f32(o->lo, o->hi, 0, &op_),
               xnn_setup_subtract_nd_f32(op_, (size_t)vx->nd, vx->d, (size_t)vy->nd, vy->d, x, y, r,
                                         c->pool), "subtract");
        else
            OP(xnn_create_divide_nd_f32(o->lo, o->hi, 0, &op_),
               xnn_setup_divide_nd_f32(op_, (size_t)vx->nd, vx->d, (size_t)vy->nd, vy->d, x, y, r,
                                       c->pool), "divide");
    }
    return convert_to_f16(c, r, c->h[o->out], numel(vo));
}

static int emit(fc *c, const xir_op *o, float *const *outs)
{
    const xir *ir = c->ir;
    const xir_val *vx = &ir->v[o->x], *vo = &ir->v[o->out];
    const uint16_t *x = c->h[o->x];
    uint16_t *y = c->h[o->out];
    size_t ch = inner(vx), rows = numel(vx) / (ch ? ch : 1);
    if (in_f32(ir, o))
        return island(c, o, outs);
    switch (o->kind) {
    case XO_CONV: case XO_DWCONV: {
        const uint16_t *w = c->h[o->w], *b = c->h[o->b];
        size_t cin = (size_t)o->groups * o->ipg, cout = (size_t)o->groups * o->opg;
        OP(xnn_create_convolution2d_nhwc_f16(o->pt, o->pr, o->pb, o->pl, o->kh, o->kw, o->sh,
                                             o->sw, o->dh, o->dw, o->groups, o->ipg, o->opg, cin,
                                             cout, w, b, o->lo, o->hi,
                                             o->kind == XO_DWCONV ? XNN_FLAG_DEPTHWISE_CONVOLUTION
                                                                  : 0, &op_),
           xnn_setup_convolution2d_nhwc_f16(op_, vx->d[0], vx->d[1], vx->d[2], x, y, c->pool),
           "convolution");
        return 0;
    }
    case XO_FC: {
        const uint16_t *w = c->h[o->w], *b = c->h[o->b];
        OP(xnn_create_fully_connected_nc_f16(o->ipg, o->opg, o->ipg, o->opg, w, b, o->lo, o->hi,
                                             0, &op_),
           xnn_setup_fully_connected_nc_f16(op_, numel(vx) / o->ipg, x, y, c->pool),
           "fully connected");
        return 0;
    }
    case XO_CLAMP:
        OP(xnn_create_clamp_nc_f16(ch, ch, ch, o->lo, o->hi, 0, &op_),
           xnn_setup_clamp_nc_f16(op_, rows, x, y, c->pool), "clamp");
        return 0;
    case XO_HARDSWISH:
        OP(xnn_create_hardswish_nc_f16(ch, ch, ch, 0, &op_),
           xnn_setup_hardswish_nc_f16(op_, rows, x, y, c->pool), "hardswish");
        return 0;
    case XO_GAP:
        OP(xnn_create_global_average_pooling_nwc_f16(ch, ch, ch, o->lo, o->hi, 0, &op_),
           xnn_setup_global_average_pooling_nwc_f16(op_, vx->d[0], vx->d[1] * vx->d[2], x, y,
                                                    c->pool), "global average pool");
        return 0;
    case XO_ADD: case XO_MUL: {
        const xir_val *vy = &ir->v[o->y];
        const uint16_t *yy = c->h[o->y];
        if (o->kind == XO_ADD)
            OP(xnn_create_add_nd_f16(o->lo, o->hi, 0, &op_),
               xnn_setup_add_nd_f16(op_, (size_t)vx->nd, vx->d, (size_t)vy->nd, vy->d, x, yy, y,
                                    c->pool), "add");
        else
            OP(xnn_create_multiply_nd_f16(o->lo, o->hi, 0, &op_),
               xnn_setup_multiply_nd_f16(op_, (size_t)vx->nd, vx->d, (size_t)vy->nd, vy->d, x, yy,
                                         y, c->pool), "multiply");
        return 0;
    }
    case XO_RESHAPE:
        return 0;                /* the same buffer (see xf16_new) */
    default:
        (void)vo;
        return island(c, o, outs);
    }
}

int xf16_new(xf16 **out, const xir *ir, pthreadpool_t pool, float *const *in, float *const *outs,
             char *err, size_t errlen)
{
    fc c = { .ir = ir, .pool = pool, .err = err, .errlen = errlen };
    int ret = ENG_ENOMEM;
    *out = NULL;
    err[0] = '\0';
    if (!(c.f = calloc(1, sizeof(xf16))) ||
        !(c.h = calloc((size_t)(ir->nv ? ir->nv : 1), sizeof(uint16_t *))))
        goto nomem;
    /* a buffer per activation; a reshape's result is its operand's */
    for (int i = 0; i < ir->nop; i++)
        if (ir->op[i].kind == XO_RESHAPE)
            c.h[ir->op[i].out] = (uint16_t *)-1;
    for (int i = 0; i < ir->nv; i++) {
        const xir_val *v = &ir->v[i];
        if (c.h[i] == (uint16_t *)-1) {
            c.h[i] = NULL;
            continue;
        }
        if (v->data)
            c.h[i] = halves(&c, v);
        else
            c.h[i] = own(&c, numel(v) * 2);
        if (!c.h[i])
            goto nomem;
    }
    for (int i = 0; i < ir->nv; i++)
        if (ir->v[i].ext != XIR_NONE && (int)ir->v[i].ext < ir->nin &&
            (ret = convert_to_f16(&c, in[ir->v[i].ext], c.h[i], numel(&ir->v[i]))) < 0)
            goto fail;
    for (int i = 0; i < ir->nop; i++) {
        if (ir->op[i].kind == XO_RESHAPE)
            c.h[ir->op[i].out] = c.h[ir->op[i].x];
        if ((ret = emit(&c, &ir->op[i], outs)) < 0)
            goto fail;
    }
    /* outputs an f32 island did not write itself */
    for (int i = 0; i < ir->nv; i++) {
        const xir_val *v = &ir->v[i];
        if (v->ext == XIR_NONE || (int)v->ext < ir->nin)
            continue;
        int by_island = 0;
        for (int k = 0; k < ir->nop; k++)
            if (ir->op[k].out == (uint32_t)i && in_f32(ir, &ir->op[k]))
                by_island = 1;
        if (!by_island &&
            (ret = convert_to_f32(&c, c.h[i], outs[v->ext - (uint32_t)ir->nin], numel(v))) < 0)
            goto fail;
    }
    free(c.h);
    *out = c.f;
    return 0;
nomem:
    snprintf(err, errlen, "XNNPACK fp16: out of memory");
    ret = ENG_ENOMEM;
fail:
    free(c.h);
    xf16_free(c.f);
    return ret;
}

int xf16_run(xf16 *f, pthreadpool_t pool, char *err, size_t errlen)
{
    for (int i = 0; i < f->nops; i++) {
        enum xnn_status st = xnn_run_operator(f->ops[i], pool);
        if (st != xnn_status_success) {
            snprintf(err, errlen, "XNNPACK fp16: operator %d: %s", i, xir_status(st));
            return ENG_EMODEL;
        }
    }
    return 0;
}

int xf16_steps(const xf16 *f)
{
    return f->nops;
}

void xf16_free(xf16 *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->nops; i++)
        xnn_delete_operator(f->ops[i]);
    for (int i = 0; i < f->nmem; i++)
        free(f->mem[i]);
    free(f->ops);
    free(f->mem);
    free(f);
}
