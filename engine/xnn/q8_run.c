/* q8_run.c: the int8 XNNPACK backend's table (xnn.h: xnp_int8): the
 * model q8.c compiles, with its thread pool, and a plan per batch size
 * that feeds it bytes and runs it a unit at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/xnn/q8.h"
#include "engine/xnn/q8_chan.h"
#include "engine/xnn/q8_lut.h"
#include "engine/xnn/xnn.h"

typedef struct {
    xq8_model *m;
    int batch;
    int8_t *in;
    float **out;
    const float (*lut_of)[256];
    int8_t qlut[3][256];
} xq8_plan;

/* ------------------------------------------------------- the model */

static void model_free(xq8_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ns; i++)
        if (m->s[i].op)
            xnn_delete_operator(m->s[i].op);
    if (m->pool)
        pthreadpool_destroy(m->pool);
    for (int i = 0; i < m->nmem; i++)
        free(m->mem[i]);
    for (int i = 0; i < m->nlines; i++)
        free(m->lines[i]);
    free(m->s);
    free(m->mem);
    free(m->lines);
    free(m->out);
    free(m->out_n);
    free(m);
}

static int model_new(be_ctx **out, const gr_graph *g, int unit, be_prec prec, int threads,
                     char *err, size_t errlen)
{
    xq8_model *m = calloc(1, sizeof(*m));
    int ret;
    (void)prec;
    *out = NULL;
    if (!m) {
        snprintf(err, errlen, "out of memory compiling int8 for XNNPACK");
        return ENG_ENOMEM;
    }
    m->unit = unit;
    if ((ret = xir_start(threads, &m->pool, err, errlen)) == 0)
        ret = xq8_compile(m, g, err, errlen);
    if (ret < 0) {
        model_free(m);
        return ret;
    }
    *out = (be_ctx *)m;
    return 0;
}

static void ctx_free(be_ctx *bc)
{
    model_free((xq8_model *)bc);
}

/* ------------------------------------------------------- plans */

static void plan_free(be_plan *bp)
{
    xq8_plan *p = (xq8_plan *)bp;
    if (!p)
        return;
    for (int i = 0; p->out && i < p->m->nout; i++)
        free(p->out[i]);
    free(p->out);
    free(p->in);
    free(p);
}

static int plan_new(be_plan **out, be_ctx *bc, const gr_graph *g, int batch, be_prec prec,
                    char *err, size_t errlen)
{
    xq8_model *m = (xq8_model *)bc;
    xq8_plan *p = calloc(1, sizeof(*p));
    (void)g;
    (void)prec;
    *out = NULL;
    if (batch % m->unit) {
        free(p);
        snprintf(err, errlen, "batch %d is not a multiple of %d", batch, m->unit);
        return ENG_EINVAL;
    }
    int runs = batch / m->unit;
    if (!p || !(p->out = calloc((size_t)m->nout + 1, sizeof(float *))))
        goto nomem;
    p->m = m;
    p->batch = batch;
    if (!(p->in = calloc(m->in_n, (size_t)runs)))
        goto nomem;
    for (int i = 0; i < m->nout; i++)
        if (!(p->out[i] = calloc(m->out_n[i] * (size_t)runs, sizeof(float))))
            goto nomem;
    *out = (be_plan *)p;
    return 0;
nomem:
    plan_free((be_plan *)p);
    snprintf(err, errlen, "out of memory for a batch of %d", batch);
    return ENG_ENOMEM;
}

/* NCHW floats into the NHWC bytes of the input. */
static void put_tensor(be_plan *bp, int i, const float *src)
{
    xq8_plan *p = (xq8_plan *)bp;
    const qval *x = &p->m->in;
    int64_t n = (int64_t)(p->batch / p->m->unit) * x->d[0], ch = x->d[1], hw = x->d[2] * x->d[3];
    (void)i;
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < hw; k++)
            for (int64_t j = 0; j < ch; j++)
                p->in[(b * hw + k) * ch + j] = xq8_s8c(x, j, src[(b * ch + j) * hw + k]);
}

/* Pixels to input bytes through one table per channel: the model's
 * normalisation, then the input's quantisation, composed once. */
static void put_pixels(be_plan *bp, int k, const uint8_t *src, int stride, const float (*lut)[256])
{
    xq8_plan *p = (xq8_plan *)bp;
    const qval *x = &p->m->in;
    int h = (int)x->d[2], w = (int)x->d[3];
    if (p->lut_of != lut) {
        for (int c = 0; c < 3; c++)
            for (int v = 0; v < 256; v++)
                p->qlut[c][v] = xq8_s8c(x, c, lut[c][v]);
        p->lut_of = lut;
    }
    int8_t *dst = p->in + (size_t)h * (size_t)w * 3 * (size_t)k;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        int8_t *o = dst + (size_t)y * (size_t)w * 3;
        for (int i = 0; i < 3 * w; i += 3) {
            o[i] = p->qlut[0][row[i]];
            o[i + 1] = p->qlut[1][row[i + 1]];
            o[i + 2] = p->qlut[2][row[i + 2]];
        }
    }
}

static int run_steps(xq8_model *m, char *err, size_t errlen)
{
    for (int i = 0; i < m->ns; i++) {
        const qstep *s = &m->s[i];
        switch (s->kind) {
        case K_OP: {
            enum xnn_status st = xnn_run_operator(s->op, m->pool);
            if (st != xnn_status_success) {
                snprintf(err, errlen, "XNNPACK int8 step %d: %s", i, xir_status(st));
                return ENG_EMODEL;
            }
            break;
        }
        case K_LUT:
            xq8_lut(s->x, s->y, s->n, s->lut);
            break;
        case K_LUTC:
            xq8_lutc(s->x, s->y, s->n, s->c, s->tab);
            break;
        case K_MEAN:
            xq8_mean(s->x, s->y, s->n, s->hw, s->c, s->cx, s->cy);
            break;
        case K_CMUL:
            xq8_cmul(s->x, s->g, s->y, s->n, s->hw, s->c, s->cx, s->cg, s->cy);
            break;
        default:
            xq8_deq(s->x, s->f, s->n, s->c, s->cx, s->s, s->z);
            break;
        }
    }
    return 0;
}

static int run(be_plan *bp, char *err, size_t errlen)
{
    xq8_plan *p = (xq8_plan *)bp;
    xq8_model *m = p->m;
    for (int r = 0; r < p->batch / m->unit; r++) {
        memcpy(m->in_buf, p->in + m->in_n * (size_t)r, m->in_n);
        int ret = run_steps(m, err, errlen);
        if (ret < 0)
            return ret;
        for (int i = 0; i < m->nout; i++)
            memcpy(p->out[i] + m->out_n[i] * (size_t)r, m->out[i], sizeof(float) * m->out_n[i]);
    }
    return 0;
}

static const float *output(const be_plan *bp, int i)
{
    return ((const xq8_plan *)bp)->out[i];
}

static void stats(const be_plan *bp, be_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->steps = ((const xq8_plan *)bp)->m->ns;
}

static void dump(const be_plan *bp, void (*line)(void *, const char *), void *arg)
{
    const xq8_model *m = ((const xq8_plan *)bp)->m;
    for (int i = 0; i < m->nlines; i++)
        line(arg, m->lines[i]);
}

const be_backend xnp_int8 = {
    .ctx_new = model_new, .ctx_free = ctx_free, .compile = plan_new, .free = plan_free,
    .put_tensor = put_tensor, .put_pixels = put_pixels, .run = run, .output = output,
    .stats = stats, .dump = dump,
};
