/* xnn.c: XNNPACK's backend table (xnn.h): the lowered graph (lower.c)
 * compiled once per model into a runtime (subgraph.c: fp32; f16.c: fp16)
 * with its thread pool, and a plan per batch size that runs it a unit at
 * a time. */
#include "engine/xnn/xnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/xnn/model.h"

typedef struct xnp_plan {
    xnp_model *x;
    int batch;
    float **in, **out;
} xnp_plan;

/* ------------------------------------------------------- model */

static void model_free(xnp_model *x);

/* be_backend.ctx_new: the graph lowered and compiled once, for the unit
 * batch, with the pool it runs on. */
static int model_new(be_ctx **out, const gr_graph *g, int unit, be_prec prec, int threads,
                     char *err, size_t errlen)
{
    xnp_model *x = calloc(1, sizeof(*x));
    xir ir = { 0 };
    int ret = ENG_ENOMEM;
    *out = NULL;
    if (!x)
        goto nomem;
    if ((ret = xir_start(threads, &x->pool, err, errlen)) < 0)
        goto fail;
    x->unit = unit;
    x->prec = prec;
    x->nin = g->ninputs;
    x->nout = g->noutputs;
    x->rin = calloc((size_t)x->nin + 1, sizeof(float *));
    x->rout = calloc((size_t)x->nout + 1, sizeof(float *));
    x->in_n = calloc((size_t)x->nin + 1, sizeof(size_t));
    x->out_n = calloc((size_t)x->nout + 1, sizeof(size_t));
    x->in_nhwc = calloc((size_t)x->nin + 1, sizeof(int));
    x->out_nhwc = calloc((size_t)x->nout + 1, sizeof(int));
    x->in_dims = calloc((size_t)x->nin + 1, sizeof(*x->in_dims));
    x->out_dims = calloc((size_t)x->nout + 1, sizeof(*x->out_dims));
    if (!x->rin || !x->rout || !x->in_n || !x->out_n || !x->in_nhwc || !x->out_nhwc ||
        !x->in_dims || !x->out_dims)
        goto nomem;
    if ((ret = xnp_lower(x, g, &ir, err, errlen)) < 0)
        goto fail;
    for (int i = 0; i < x->nin + x->nout; i++) {
        size_t n = i < x->nin ? x->in_n[i] : x->out_n[i - x->nin];
        float *b = calloc(1, sizeof(float) * n + XNN_EXTRA_BYTES);
        if (!b)
            goto nomem;
        if (i < x->nin)
            x->rin[i] = b;
        else
            x->rout[i - x->nin] = b;
    }
    if (prec == BE_F16)
        ret = xf16_new(&x->f16, &ir, x->pool, x->rin, x->rout, err, errlen);
    else
        ret = xir_runtime(&x->rt, &ir, x->pool, x->rin, x->rout, err, errlen);
    if (ret < 0)
        goto fail;
    free(ir.v);
    free(ir.op);
    *out = (be_ctx *)x;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling for XNNPACK");
    ret = ENG_ENOMEM;
fail:
    free(ir.v);
    free(ir.op);
    model_free(x);
    return ret;
}

static void model_free(xnp_model *x)
{
    if (!x)
        return;
    if (x->rt)
        xnn_delete_runtime(x->rt);
    xf16_free(x->f16);
    if (x->pool)
        pthreadpool_destroy(x->pool);
    for (int i = 0; x->rin && i < x->nin; i++)
        free(x->rin[i]);
    for (int i = 0; x->rout && i < x->nout; i++)
        free(x->rout[i]);
    for (int i = 0; i < x->nkeep; i++)
        free(x->keep[i]);
    for (int i = 0; i < x->nlines; i++)
        free(x->lines[i]);
    free(x->keep);
    free(x->lines);
    free(x->rin);
    free(x->rout);
    free(x->in_n);
    free(x->out_n);
    free(x->in_nhwc);
    free(x->out_nhwc);
    free(x->in_dims);
    free(x->out_dims);
    free(x);
}

/* ------------------------------------------------------- plans */

static void ctx_free(be_ctx *c)
{
    model_free((xnp_model *)c);
}

static void plan_free(be_plan *bp);

/* be_backend.compile: buffers for `batch` items (a multiple of the unit);
 * the runtime is the model's. */
static int plan_new(be_plan **out, be_ctx *bc, const gr_graph *g, int batch, be_prec prec,
                    char *err, size_t errlen)
{
    xnp_model *x = (xnp_model *)bc;
    xnp_plan *p = calloc(1, sizeof(*p));
    (void)g;
    (void)prec;
    *out = NULL;
    if (batch % x->unit) {
        free(p);
        snprintf(err, errlen, "batch %d is not a multiple of %d", batch, x->unit);
        return ENG_EINVAL;
    }
    if (!p || !(p->in = calloc((size_t)x->nin + 1, sizeof(float *))) ||
        !(p->out = calloc((size_t)x->nout + 1, sizeof(float *))))
        goto nomem;
    p->x = x;
    p->batch = batch;
    int runs = batch / x->unit;
    for (int i = 0; i < x->nin; i++)
        if (!(p->in[i] = calloc(x->in_n[i] * (size_t)runs, sizeof(float))))
            goto nomem;
    for (int i = 0; i < x->nout; i++)
        if (!(p->out[i] = calloc(x->out_n[i] * (size_t)runs, sizeof(float))))
            goto nomem;
    *out = (be_plan *)p;
    return 0;
nomem:
    plan_free((be_plan *)p);
    snprintf(err, errlen, "out of memory for a batch of %d", batch);
    return ENG_ENOMEM;
}

static void plan_free(be_plan *bp)
{
    xnp_plan *p = (xnp_plan *)bp;
    if (!p)
        return;
    for (int i = 0; p->in && i < p->x->nin; i++)
        free(p->in[i]);
    for (int i = 0; p->out && i < p->x->nout; i++)
        free(p->out[i]);
    free(p->in);
    free(p->out);
    free(p);
}

static void put_tensor(be_plan *bp, int i, const float *src)
{
    xnp_plan *p = (xnp_plan *)bp;
    const xnp_model *x = p->x;
    size_t n = x->in_n[i] * (size_t)(p->batch / x->unit);
    float *dst = p->in[i];
    if (!x->in_nhwc[i]) {
        memcpy(dst, src, sizeof(float) * n);
        return;
    }
    const int64_t *d = x->in_dims[i];
    int64_t c = d[1], hw = d[2] * d[3];
    for (int64_t b = 0; b < (int64_t)n / (c * hw); b++)
        for (int64_t k = 0; k < hw; k++)
            for (int64_t j = 0; j < c; j++)
                dst[(b * hw + k) * c + j] = src[(b * c + j) * hw + k];
}

static void put_pixels(be_plan *bp, int k, const uint8_t *src, int stride, const float (*lut)[256])
{
    xnp_plan *p = (xnp_plan *)bp;
    const int64_t *d = p->x->in_dims[0];
    int h = (int)d[2], w = (int)d[3];
    float *dst = p->in[0] + (size_t)h * (size_t)w * 3 * (size_t)k;
    /* the input is NHWC (4-D inputs always are here): the pixels' own order */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        float *o = dst + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < 3 * w; x += 3) {
            o[x] = lut[0][row[x]];
            o[x + 1] = lut[1][row[x + 1]];
            o[x + 2] = lut[2][row[x + 2]];
        }
    }
}

static const float *output(const be_plan *bp, int i)
{
    return ((const xnp_plan *)bp)->out[i];
}

/* NHWC -> NCHW, for a 4-D graph output */
static void to_nchw(float *dst, const float *src, const int64_t *d)
{
    int64_t hw = d[2] * d[3];
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t i = 0; i < hw; i++)
            for (int64_t ch = 0; ch < d[1]; ch++)
                dst[(b * d[1] + ch) * hw + i] = src[(b * hw + i) * d[1] + ch];
}

static int run(be_plan *bp, char *err, size_t errlen)
{
    xnp_plan *p = (xnp_plan *)bp;
    xnp_model *x = p->x;
    for (int r = 0; r < p->batch / x->unit; r++) {
        for (int i = 0; i < x->nin; i++)
            memcpy(x->rin[i], p->in[i] + x->in_n[i] * (size_t)r, sizeof(float) * x->in_n[i]);
        if (x->f16) {
            int ret = xf16_run(x->f16, x->pool, err, errlen);
            if (ret < 0)
                return ret;
        } else {
            enum xnn_status st = xnn_invoke_runtime(x->rt);
            if (st != xnn_status_success) {
                snprintf(err, errlen, "xnn_invoke_runtime: %s", xir_status(st));
                return ENG_EMODEL;
            }
        }
        for (int i = 0; i < x->nout; i++) {
            float *dst = p->out[i] + x->out_n[i] * (size_t)r;
            if (x->out_nhwc[i])
                to_nchw(dst, x->rout[i], x->out_dims[i]);
            else
                memcpy(dst, x->rout[i], sizeof(float) * x->out_n[i]);
        }
    }
    return 0;
}

static void stats(const be_plan *bp, be_stats *s)
{
    const xnp_plan *p = (const xnp_plan *)bp;
    memset(s, 0, sizeof(*s));
    s->steps = p->x->nlines;
}

static void dump(const be_plan *bp, void (*line)(void *, const char *), void *arg)
{
    const xnp_plan *p = (const xnp_plan *)bp;
    for (int i = 0; i < p->x->nlines; i++)
        line(arg, p->x->lines[i]);
}

const be_backend xnp_float = {
    .ctx_new = model_new, .ctx_free = ctx_free, .compile = plan_new, .free = plan_free,
    .put_tensor = put_tensor, .put_pixels = put_pixels, .run = run, .output = output,
    .stats = stats, .dump = dump,
};
