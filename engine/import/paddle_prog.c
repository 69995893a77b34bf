/* paddle_prog.c: the description both Paddle front ends fill (pd_prog, see
 * paddle_prog.h): variables by name, ops with their slots and attributes.
 * The front ends call in here; nothing here calls them. */
#include "engine/import/paddle_prog.h"

#include <stdlib.h>
#include <string.h>

static void attr_free(pd_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
}

static void op_free(pd_op *o)
{
    free(o->type);
    free(o->orig);
    for (int i = 0; i < o->nin; i++) {
        free(o->in[i].name);
        free(o->in[i].v);
    }
    for (int i = 0; i < o->nout; i++) {
        free(o->out[i].name);
        free(o->out[i].v);
    }
    free(o->in);
    free(o->out);
    for (int i = 0; i < o->nattrs; i++)
        attr_free(&o->attrs[i]);
    free(o->attrs);
}

void pd_prog_free(pd_prog *p)
{
    for (int i = 0; i < p->nv; i++) {
        free(p->v[i].name);
        free(p->v[i].full);
    }
    for (int i = 0; i < p->nop; i++)
        op_free(&p->op[i]);
    free(p->v);
    free(p->op);
    free(p->feeds);
    free(p->fetches);
    free(p->hash);
    memset(p, 0, sizeof *p);
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;          /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int hash_grow(pd_prog *p)
{
    int cap = p->hcap ? p->hcap * 2 : 256;
    int *h = malloc(sizeof(int) * (size_t)cap);
    if (!h)
        return -1;
    for (int i = 0; i < cap; i++)
        h[i] = -1;
    for (int i = 0; i < p->nv; i++) {
        uint32_t k = hash_str(p->v[i].name) & (uint32_t)(cap - 1);
        while (h[k] >= 0)
            k = (k + 1) & (uint32_t)(cap - 1);
        h[k] = i;
    }
    free(p->hash);
    p->hash = h;
    p->hcap = cap;
    return 0;
}

int pd_var_get(pd_prog *p, const char *name, int create)
{
    if (p->hcap) {
        uint32_t k = hash_str(name) & (uint32_t)(p->hcap - 1);
        while (p->hash[k] >= 0) {
            if (strcmp(p->v[p->hash[k]].name, name) == 0)
                return p->hash[k];
            k = (k + 1) & (uint32_t)(p->hcap - 1);
        }
    }
    if (!create || p->nv >= G_MAX_TENSORS)
        return -1;
    if (p->nv == p->capv) {
        int cap = p->capv ? p->capv * 2 : 64;
        pd_var *v = realloc(p->v, sizeof(*v) * (size_t)cap);
        if (!v)
            return -1;
        p->v = v;
        p->capv = cap;
    }
    if ((p->nv + 1) * 2 > p->hcap && hash_grow(p) < 0)
        return -1;
    pd_var *v = &p->v[p->nv];
    memset(v, 0, sizeof *v);
    v->ndim = -1;
    if (!(v->name = strdup(name)))
        return -1;
    uint32_t k = hash_str(name) & (uint32_t)(p->hcap - 1);
    while (p->hash[k] >= 0)
        k = (k + 1) & (uint32_t)(p->hcap - 1);
    p->hash[k] = p->nv;
    return p->nv++;
}

pd_op *pd_op_add(pd_prog *p, const char *type, const char *orig, int idx)
{
    if (p->nop >= G_MAX_NODES)
        return NULL;
    if (p->nop == p->capop) {
        int cap = p->capop ? p->capop * 2 : 64;
        pd_op *o = realloc(p->op, sizeof(*o) * (size_t)cap);
        if (!o)
            return NULL;
        p->op = o;
        p->capop = cap;
    }
    pd_op *o = &p->op[p->nop];
    memset(o, 0, sizeof *o);
    o->idx = idx;
    o->out0 = -1;
    o->type = strdup(type);
    o->orig = strdup(orig);
    if (!o->type || !o->orig) {
        free(o->type);
        free(o->orig);
        return NULL;
    }
    p->nop++;
    return o;
}

pd_slot *pd_slot_add(pd_op *o, int out, const char *name, int n)
{
    pd_slot **list = out ? &o->out : &o->in;
    int *cnt = out ? &o->nout : &o->nin;
    if (n < 0 || n > PD_MAX_ARGS || *cnt >= PD_MAX_ARGS)
        return NULL;
    pd_slot *s = realloc(*list, sizeof(*s) * (size_t)(*cnt + 1));
    if (!s)
        return NULL;
    *list = s;
    s = &s[*cnt];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    s->v = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!s->name || !s->v) {
        free(s->name);
        free(s->v);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        s->v[i] = -1;
    s->n = n;
    (*cnt)++;
    return s;
}

pd_attr *pd_attr_add(pd_op *o, const char *name, pd_attrkind kind)
{
    if (o->nattrs >= PD_MAX_ATTRS)
        return NULL;
    pd_attr *a = realloc(o->attrs, sizeof(*a) * (size_t)(o->nattrs + 1));
    if (!a)
        return NULL;
    o->attrs = a;
    a = &a[o->nattrs];
    memset(a, 0, sizeof *a);
    if (!(a->name = strdup(name)))
        return NULL;
    a->kind = kind;
    o->nattrs++;
    return a;
}

int pd_list_add(int **v, int *n, int x)
{
    if (*n >= 1024)
        return -1;
    int *w = realloc(*v, sizeof(int) * (size_t)(*n + 1));
    if (!w)
        return -1;
    *v = w;
    w[(*n)++] = x;
    return 0;
}
