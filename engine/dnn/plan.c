/* plan.c: values, steps, arena, binding and run of a compiled plan, the
 * same for every precision (see plan.h). */
#include "engine/dnn/plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/graph/passes.h"

int pl_init(pl_plan *p, dnn_ctx *c, const gr_graph *g, int batch, size_t ext_size, pl_loop_fn *loop)
{
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->g = g;
    p->batch = batch;
    p->ext_size = ext_size;
    p->loop = loop;
    if (!(p->dims = malloc(sizeof(*p->dims) * (size_t)(g->nt ? g->nt : 1))))
        return ENG_ENOMEM;
    gr_shapes_for_batch(g, batch, p->dims);
    return 0;
}

void pl_free(pl_plan *p)
{
    for (int i = 0; i < p->ns; i++) {
        dnnl_primitive_destroy(p->s[i].prim);
        dnnl_memory_destroy(p->s[i].scratch);
    }
    for (int i = 0; i < p->nv; i++)
        if (!p->v[i].is_const || p->v[i].owns_mem)
            dnnl_memory_destroy(p->v[i].mem);
    free(p->s);
    free(p->v);
    free(p->ext);
    free(p->dims);
    free(p->arena);
    free(p->scratch);
    free(p->step_ms);
}

/* ------------------------------------------------------------ values */

int pl_value_new(pl_plan *p, const dnnl_memory_desc_t *md, int def)
{
    if (p->nv == p->capv) {
        int cap = p->capv ? p->capv * 2 : 64;
        pl_value *v = realloc(p->v, sizeof(*v) * (size_t)cap);
        if (!v)
            return -1;
        p->v = v;
        p->capv = cap;
    }
    pl_value *v = &p->v[p->nv];
    memset(v, 0, sizeof(*v));
    if (md)
        v->md = *md;
    v->alias = -1;
    v->def = def;
    v->last = def;
    return p->nv++;
}

int pl_values_reserve(pl_plan *p, int n)
{
    for (int i = 0; i < n; i++)
        if (pl_value_new(p, NULL, PL_UNDEF) < 0)
            return -1;
    return 0;
}

int pl_view(pl_plan *p, int v, const dnnl_memory_desc_t *md)
{
    int nv = pl_value_new(p, md, p->v[v].def);
    if (nv >= 0)
        p->v[nv].alias = v;
    return nv;
}

int pl_const(pl_plan *p, const dnnl_memory_desc_t *md, dnnl_memory_t mem, int owned)
{
    int nv = pl_value_new(p, md, -1);
    if (nv < 0)
        return -1;
    p->v[nv].mem = mem;
    p->v[nv].is_const = 1;
    p->v[nv].owns_mem = owned;
    return nv;
}

int pl_root(const pl_plan *p, int v)
{
    while (p->v[v].alias >= 0)
        v = p->v[v].alias;
    return v;
}

void *pl_ptr(const pl_plan *p, int v)
{
    return (char *)p->arena + p->v[pl_root(p, v)].off;
}

void pl_read(pl_plan *p, int v, int i)
{
    if (p->v[v].last < i)
        p->v[v].last = i;
}

/* ------------------------------------------------------------- steps */

pl_step *pl_step_new(pl_plan *p, int node, const char *kind)
{
    if (p->ns == p->caps) {
        int cap = p->caps ? p->caps * 2 : 64;
        pl_step *s = realloc(p->s, sizeof(*s) * (size_t)cap);
        unsigned char *e = p->ext_size ? realloc(p->ext, p->ext_size * (size_t)cap) : NULL;
        if (s)
            p->s = s;
        if (e)
            p->ext = e;
        if (!s || (p->ext_size && !e))
            return NULL;
        p->caps = cap;
    }
    if (p->ext_size)
        memset(p->ext + p->ext_size * (size_t)p->ns, 0, p->ext_size);
    pl_step *s = &p->s[p->ns++];
    memset(s, 0, sizeof(*s));
    s->node = node;
    s->inplace_src = -1;
    s->dst = -1;
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    return s;
}

void *pl_ext(const pl_plan *p, int i)
{
    return p->ext + p->ext_size * (size_t)i;
}

void pl_step_arg(pl_plan *p, pl_step *s, int key, int v)
{
    s->key[s->n] = key;
    s->val[s->n] = v;
    s->n++;
    if (key != DNNL_ARG_DST)
        pl_read(p, v, (int)(s - p->s));
}

void pl_step_scratch(pl_plan *p, pl_step *s, const_dnnl_primitive_desc_t pd)
{
    const dnnl_memory_desc_t *sm = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    memset(&s->scratch_md, 0, sizeof s->scratch_md);
    if (sm && dnnl_memory_desc_get_size(sm) > 0) {
        s->scratch_md = *sm;
        if (dnnl_memory_desc_get_size(sm) > p->scratch_size)
            p->scratch_size = dnnl_memory_desc_get_size(sm);
    }
}

int pl_step_prim(pl_plan *p, pl_step *s, const_dnnl_primitive_desc_t pd, const char *where,
                 char *err, size_t errlen)
{
    int ret = 0;
    DNN_TRY(dnnl_primitive_create(&s->prim, pd));
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(s->impl, sizeof s->impl, "%s", impl);
    pl_step_scratch(p, s, pd);
end:
    return ret;
}

/* ------------------------------------------------------- allocation */

static size_t vsize(const pl_value *v)
{
    return (v->bytes + ALIGN - 1) / ALIGN * ALIGN;
}

int pl_allocate(pl_plan *p, char *err, size_t errlen)
{
    int nv = p->nv;
    int *rlast = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
    dnn_block *live = malloc(sizeof(dnn_block) * (size_t)(nv + 1));
    size_t peak = 0;
    int nlive = 0, ret = 0;
    if (!rlast || !live) {
        free(rlast);
        free(live);
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    /* a storage lives as long as the last reader of any view of it */
    for (int i = 0; i < nv; i++)
        rlast[i] = PL_UNDEF;
    for (int i = 0; i < nv; i++) {
        int r = pl_root(p, i);
        if (p->v[i].last > rlast[r])
            rlast[r] = p->v[i].last;
    }
    /* in-place: dst joins src's storage when src dies at that very step */
    for (int si = 0; si < p->ns; si++) {
        pl_step *s = &p->s[si];
        if (s->inplace_src < 0 || s->dst < 0)
            continue;
        int r = pl_root(p, s->inplace_src);
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

int pl_bind(pl_plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->nv; i++) {
        pl_value *v = &p->v[i];
        if (v->is_const || !v->md.ndims)
            continue;
        if (dnnl_memory_create(&v->mem, &v->md, p->c->eng, pl_ptr(p, i)) != dnnl_success) {
            snprintf(err, errlen, "cannot create memory for an activation");
            return ENG_ENOMEM;
        }
    }
    for (int si = 0; si < p->ns; si++) {
        pl_step *s = &p->s[si];
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

/* -------------------------------------------------------------- run */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

int pl_run(pl_plan *p, char *err, size_t errlen)
{
    double t0 = p->step_ms ? now_ms() : 0;
    for (int i = 0; i < p->ns; i++) {
        pl_step *s = &p->s[i];
        if (!s->prim) {
            /* a loop reads what the primitives before it wrote */
            dnnl_stream_wait(p->c->stream);
            p->loop(p, i);
        } else {
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
        if (p->step_ms) {
            dnnl_stream_wait(p->c->stream);
            double t1 = now_ms();
            p->step_ms[i] = t1 - t0;
            t0 = t1;
        }
    }
    dnnl_stream_wait(p->c->stream);
    return 0;
}

int pl_time_steps(pl_plan *p, const double **ms)
{
    if (!p->step_ms && !(p->step_ms = calloc((size_t)(p->ns ? p->ns : 1), sizeof(double))))
        return ENG_ENOMEM;
    *ms = p->step_ms;
    return p->ns;
}
