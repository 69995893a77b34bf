/* paddle_map.c: what every Paddle operator mapper (paddle_ops.c) speaks:
 * an op's attributes under their 2.x or PIR names, its operands as graph
 * tensors, new nodes, attributes and constants, and the error naming the
 * op (see paddle_map.h). */
#include "engine/import/paddle_map.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"

int pm_fail(const pd_op *o, int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(err, errlen, "op #%d (%.80s): ", o->idx, o->orig);
    if (k < 0 || (size_t)k >= errlen)
        return code;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------ attributes */

const pd_attr *pm_attr(const pd_op *o, const char *a, const char *b)
{
    for (int i = 0; i < o->nattrs; i++)
        if (strcmp(o->attrs[i].name, a) == 0 || (b && strcmp(o->attrs[i].name, b) == 0))
            return &o->attrs[i];
    return NULL;
}

int64_t pm_int(const pd_op *o, const char *a, const char *b, int64_t def)
{
    const pd_attr *x = pm_attr(o, a, b);
    return x && (x->kind == PA_INT || x->kind == PA_BOOL) ? x->i : def;
}

double pm_float(const pd_op *o, const char *a, const char *b, double def)
{
    const pd_attr *x = pm_attr(o, a, b);
    return x && (x->kind == PA_FLOAT || x->kind == PA_INT) ? x->f : def;
}

const char *pm_str(const pd_op *o, const char *a, const char *b, const char *def)
{
    const pd_attr *x = pm_attr(o, a, b);
    return x && x->kind == PA_STR ? x->s : def;
}

/* Copies at most max ints; the count present, -1 when absent or not ints. */
int pm_ints(const pd_op *o, const char *a, const char *b, int64_t *v, int max)
{
    const pd_attr *x = pm_attr(o, a, b);
    if (!x || x->kind != PA_INTS)
        return -1;
    for (int i = 0; i < x->n && i < max; i++)
        v[i] = x->ints[i];
    return x->n;
}

/* ------------------------------------------------------------- operands */

int pm_in_var(const pd_op *o, const char *slot, int k)
{
    for (int i = 0; i < o->nin; i++)
        if (strcmp(o->in[i].name, slot) == 0)
            return k < o->in[i].n ? o->in[i].v[k] : -1;
    return -1;
}

/* The graph tensor holding an input; -1 (with err set) when the slot is
 * empty and required, or names a variable nothing defined. */
int pm_in(pd_map *m, const pd_op *o, const char *slot, int required, char *err, size_t errlen)
{
    int v = pm_in_var(o, slot, 0);
    if (v < 0) {
        if (required)
            pm_fail(o, ENG_EMODEL, err, errlen, "input %s is missing", slot);
        return -1;
    }
    if (m->vt[v] < 0) {
        pm_fail(o, ENG_EMODEL, err, errlen, "input %s '%.120s' is not defined by an earlier op, "
                "a parameter or a feed", slot, m->p->v[v].name);
        return -2;
    }
    return m->vt[v];
}

/* Declared rank of an operand: the constant's, else what the program says. */
int pm_rank(pd_map *m, const pd_op *o, const char *slot)
{
    int v = pm_in_var(o, slot, 0);
    if (v < 0)
        return -1;
    int t = m->vt[v];
    if (t >= 0 && m->g->t[t].known)
        return m->g->t[t].ndim;
    return m->p->v[v].ndim;
}

const int64_t *pm_dims(pd_map *m, const pd_op *o, const char *slot)
{
    int v = pm_in_var(o, slot, 0);
    if (v < 0)
        return NULL;
    int t = m->vt[v];
    if (t >= 0 && m->g->t[t].known)
        return m->g->t[t].dims;
    return m->p->v[v].ndim >= 0 ? m->p->v[v].dims : NULL;
}


/* ---------------------------------------------------------------- nodes */

int pm_nomem(const pd_op *o, char *err, size_t errlen)
{
    return pm_fail(o, ENG_ENOMEM, err, errlen, "out of memory");
}

/* The op's result as a new graph tensor named for its variable. */
int pm_out(pd_map *m, const pd_op *o, char *err, size_t errlen)
{
    if (o->out0 < 0)
        return pm_fail(o, ENG_EMODEL, err, errlen, "has no output");
    const pd_var *v = &m->p->v[o->out0];
    if (m->vt[o->out0] >= 0 || gr_tensor_get(m->g, v->name, 0) >= 0)
        return pm_fail(o, ENG_EMODEL, err, errlen, "output '%.120s' is already defined elsewhere",
                       v->name);
    int t = gr_tensor_get(m->g, v->name, 1);
    if (t < 0)
        return pm_nomem(o, err, errlen);
    m->vt[o->out0] = t;
    return t;
}

/* An intermediate tensor between the nodes one op becomes. */
int pm_mid(pd_map *m, const pd_op *o, const char *what, char *err, size_t errlen)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%.200s/%s", o->out0 >= 0 ? m->p->v[o->out0].name : "?", what);
    if (gr_tensor_get(m->g, nm, 0) >= 0)
        return pm_fail(o, ENG_EMODEL, err, errlen, "tensor '%s' is already defined", nm);
    int t = gr_tensor_get(m->g, nm, 1);
    return t < 0 ? pm_nomem(o, err, errlen) : t;
}

/* A node reading ins[] and writing tensor out; its index, or < 0. */
int pm_node(pd_map *m, const pd_op *o, gr_opkind op, const char *suffix, int nin,
                const int *ins, int out, char *err, size_t errlen)
{
    char name[200];
    snprintf(name, sizeof name, "#%d %.80s%s%s", o->idx, o->orig, suffix ? "/" : "", suffix ? suffix : "");
    int n = gr_node_add(m->g, name, gr_op(op)->onnx, op, nin, 1);
    if (n < 0)
        return pm_nomem(o, err, errlen);
    for (int i = 0; i < nin; i++)
        m->g->n[n].in[i] = ins[i];
    m->g->n[n].out[0] = out;
    m->g->t[out].producer = n;
    return n;
}

int pm_set_ints(gr_graph *g, int n, const char *name, const int64_t *v, int k)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_INTS);
    if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)(k ? k : 1))))
        return -1;
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
    a->n = k;
    return 0;
}

int pm_set_int(gr_graph *g, int n, const char *name, int64_t v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_INT);
    if (!a)
        return -1;
    a->i = v;
    return 0;
}

int pm_set_float(gr_graph *g, int n, const char *name, float v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_FLOAT);
    if (!a)
        return -1;
    a->f = v;
    return 0;
}

int pm_set_str(gr_graph *g, int n, const char *name, const char *v)
{
    gr_attr *a = gr_attr_add(&g->n[n], name, A_STRING);
    return a && (a->s = strdup(v)) ? 0 : -1;
}

/* A new constant: a float scalar, or int64 values. */
int pm_const_scalar(gr_graph *g, float v)
{
    float *d = malloc(sizeof(float));
    if (!d)
        return -1;
    *d = v;
    int t = gr_tensor_new_const(g, NULL, G_F32, 0, NULL, d);
    if (t < 0)
        free(d);
    return t;
}

int pm_const_i64(gr_graph *g, const int64_t *v, int k)
{
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(k ? k : 1)), dim = k;
    if (!d)
        return -1;
    memcpy(d, v, sizeof(int64_t) * (size_t)k);
    int t = gr_tensor_new_const(g, NULL, G_I64, 1, &dim, d);
    if (t < 0)
        free(d);
    return t;
}

/* Constants ops make (copies, fills) are charged to a budget, so that a
 * program cannot multiply its weights or ask for fills without end. */
int pm_charge(pd_map *m, const pd_op *o, int64_t n, char *err, size_t errlen)
{
    if (n < 0 || n > m->budget)
        return pm_fail(o, ENG_EUNSUP, err, errlen, "constants made by the program's ops would "
                       "exceed the weights' size plus 2^24 elements");
    m->budget -= n;
    return 0;
}

/* A copy of constant t with other dims (same element count) or transposed. */
int pm_const_copy(gr_graph *g, int t, int nd, const int64_t *dims, int transpose)
{
    const gr_tensor *x = &g->t[t];
    int64_t n = gr_tensor_numel(x);
    size_t es = gr_dtype_size(x->dtype);
    void *d = malloc((size_t)(n ? n : 1) * es);
    if (!d)
        return -1;
    if (transpose) {
        int64_t r = x->dims[0], c = x->dims[1];
        for (int64_t i = 0; i < r; i++)
            for (int64_t k = 0; k < c; k++)
                memcpy((char *)d + (size_t)(k * r + i) * es, (const char *)x->data + (size_t)(i * c + k) * es, es);
    } else {
        memcpy(d, x->data, (size_t)n * es);
    }
    int nt = gr_tensor_new_const(g, NULL, x->dtype, nd, dims, d);
    if (nt < 0)
        free(d);
    return nt;
}

