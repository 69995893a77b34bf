/* graph.c: storage for the model graph: tensors, nodes, attributes. */
#include "engine/graph/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

gr_graph *gr_new(void)
{
    return calloc(1, sizeof(gr_graph));
}

static void attr_free(gr_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
}

void gr_free(gr_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nt; i++) {
        free(g->t[i].name);
        free(g->t[i].data);
        free(g->t[i].qch);
    }
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        for (int k = 0; k < n->nattrs; k++)
            attr_free(&n->attrs[k]);
        free(n->attrs);
    }
    free(g->t);
    free(g->n);
    free(g->inputs);
    free(g->outputs);
    free(g->hash);
    free(g);
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;          /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Open addressing; the table stays at most half full. */
static int hash_grow(gr_graph *g)
{
    int cap = g->hcap ? g->hcap * 2 : 256;
    int *h = malloc(sizeof(int) * (size_t)cap);
    if (!h)
        return -1;
    for (int i = 0; i < cap; i++)
        h[i] = -1;
    for (int i = 0; i < g->nt; i++) {
        uint32_t k = hash_str(g->t[i].name) & (uint32_t)(cap - 1);
        while (h[k] >= 0)
            k = (k + 1) & (uint32_t)(cap - 1);
        h[k] = i;
    }
    free(g->hash);
    g->hash = h;
    g->hcap = cap;
    return 0;
}

int gr_tensor_get(gr_graph *g, const char *name, int create)
{
    if (g->hcap) {
        uint32_t k = hash_str(name) & (uint32_t)(g->hcap - 1);
        while (g->hash[k] >= 0) {
            if (strcmp(g->t[g->hash[k]].name, name) == 0)
                return g->hash[k];
            k = (k + 1) & (uint32_t)(g->hcap - 1);
        }
    }
    if (!create || g->nt >= G_MAX_TENSORS)
        return -1;
    if (g->nt == g->capt) {
        int cap = g->capt ? g->capt * 2 : 64;
        gr_tensor *t = realloc(g->t, sizeof(*t) * (size_t)cap);
        if (!t)
            return -1;
        g->t = t;
        g->capt = cap;
    }
    if ((g->nt + 1) * 2 > g->hcap && hash_grow(g) < 0)
        return -1;
    gr_tensor *t = &g->t[g->nt];
    memset(t, 0, sizeof(*t));
    if (!(t->name = strdup(name)))
        return -1;
    t->producer = -1;
    uint32_t k = hash_str(name) & (uint32_t)(g->hcap - 1);
    while (g->hash[k] >= 0)
        k = (k + 1) & (uint32_t)(g->hcap - 1);
    g->hash[k] = g->nt;
    return g->nt++;
}

int gr_tensor_new_const(gr_graph *g, const char *name, int dtype, int ndim,
                       const int64_t *dims, void *data)
{
    char buf[64];
    if (!name) {
        snprintf(buf, sizeof buf, "#const%d", g->nt);
        name = buf;
    }
    int t = gr_tensor_get(g, name, 1);
    if (t < 0)
        return -1;
    gr_tensor *x = &g->t[t];
    free(x->data);
    x->dtype = dtype;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        x->dims[i] = dims[i];
    x->known = 1;
    x->data = data;
    return t;
}

int gr_node_add(gr_graph *g, const char *name, const char *op_type, gr_opkind op,
               int nin, int nout)
{
    if (g->nn >= G_MAX_NODES)
        return -1;
    if (g->nn == g->capn) {
        int cap = g->capn ? g->capn * 2 : 64;
        gr_node *n = realloc(g->n, sizeof(*n) * (size_t)cap);
        if (!n)
            return -1;
        g->n = n;
        g->capn = cap;
    }
    gr_node *n = &g->n[g->nn];
    memset(n, 0, sizeof(*n));
    n->name = strdup(name ? name : "");
    n->op_type = strdup(op_type);
    n->in = malloc(sizeof(int) * (size_t)(nin ? nin : 1));
    n->out = malloc(sizeof(int) * (size_t)(nout ? nout : 1));
    if (!n->name || !n->op_type || !n->in || !n->out) {
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        return -1;
    }
    n->op = op;
    n->nin = nin;
    n->nout = nout;
    for (int i = 0; i < nin; i++)
        n->in[i] = -1;
    for (int i = 0; i < nout; i++)
        n->out[i] = -1;
    return g->nn++;
}

gr_attr *gr_attr_add(gr_node *n, const char *name, gr_attrkind kind)
{
    gr_attr *a = realloc(n->attrs, sizeof(*a) * (size_t)(n->nattrs + 1));
    if (!a)
        return NULL;
    n->attrs = a;
    a = &n->attrs[n->nattrs];
    memset(a, 0, sizeof(*a));
    if (!(a->name = strdup(name)))
        return NULL;
    a->kind = kind;
    a->tensor = -1;
    n->nattrs++;
    return a;
}

const gr_attr *gr_attr_find(const gr_node *n, const char *name)
{
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t gr_attr_int(const gr_node *n, const char *name, int64_t def)
{
    const gr_attr *a = gr_attr_find(n, name);
    return a && a->kind == A_INT ? a->i : def;
}

float gr_attr_float(const gr_node *n, const char *name, float def)
{
    const gr_attr *a = gr_attr_find(n, name);
    if (!a)
        return def;
    if (a->kind == A_FLOAT)
        return a->f;
    if (a->kind == A_INT)
        return (float)a->i;
    return def;
}

int gr_attr_ints(const gr_node *n, const char *name, int64_t *v, int max)
{
    const gr_attr *a = gr_attr_find(n, name);
    if (!a || a->kind != A_INTS)
        return -1;
    for (int i = 0; i < a->n && i < max; i++)
        v[i] = a->ints[i];
    return a->n;
}

size_t gr_dtype_size(int dtype)
{
    switch (dtype) {
    case G_F32: case G_I32: return 4;
    case G_U8: case G_I8: case G_BOOL: return 1;
    case G_I64: case G_F64: return 8;
    case G_F16: case G_BF16: return 2;
    default: return 0;
    }
}

const char *gr_dtype_name(int dtype)
{
    switch (dtype) {
    case G_F32: return "float32";
    case G_U8: return "uint8";
    case G_I8: return "int8";
    case G_I32: return "int32";
    case G_I64: return "int64";
    case G_BOOL: return "bool";
    case G_F16: return "float16";
    case G_F64: return "float64";
    case G_BF16: return "bfloat16";
    default: return "unknown";
    }
}

int64_t gr_numel(int ndim, const int64_t *dims)
{
    int64_t n = 1;
    int empty = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] == 0) {          /* [0, 2^62, 2^62] holds nothing, yet its loops overflow */
            empty = 1;
            continue;
        }
        if (n > G_MAX_ELEMS / dims[i])
            return -1;
        n *= dims[i];
    }
    return empty ? 0 : n;
}

int64_t gr_tensor_numel(const gr_tensor *t)
{
    return gr_numel(t->ndim, t->dims);
}

void gr_dims_str(char *buf, size_t len, int ndim, const int64_t *dims)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < ndim && o < len; i++) {
        if (dims[i] == G_BATCH)
            o += (size_t)snprintf(buf + o, len - o, "%sN", i ? "," : "");
        else
            o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

void gr_recount(gr_graph *g)
{
    for (int i = 0; i < g->nt; i++)
        g->t[i].nuse = 0;
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                g->t[n->in[k]].nuse++;
        for (int k = 0; k < n->npost; k++)
            if (n->post[k].kind == PO_MUL_T || n->post[k].kind == PO_ADD_T)
                g->t[n->post[k].tensor].nuse++;
    }
    for (int i = 0; i < g->noutputs; i++)
        g->t[g->outputs[i]].nuse++;
}

void gr_replace_uses(gr_graph *g, int from, int to)
{
    for (int i = 0; i < g->nn; i++) {
        gr_node *n = &g->n[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == from)
                n->in[k] = to;
        for (int k = 0; k < n->npost; k++)
            if ((n->post[k].kind == PO_MUL_T || n->post[k].kind == PO_ADD_T) &&
                n->post[k].tensor == from)
                n->post[k].tensor = to;
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

int gr_is_const(const gr_graph *g, int t)
{
    return t >= 0 && g->t[t].data != NULL;
}

int gr_const_ints(const gr_graph *g, int t, int64_t *v, int max)
{
    if (!gr_is_const(g, t))
        return -1;
    const gr_tensor *x = &g->t[t];
    int64_t n = gr_tensor_numel(x);
    if (n < 0 || n > max)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        if (x->dtype == G_I64)
            v[i] = ((const int64_t *)x->data)[i];
        else if (x->dtype == G_I32)
            v[i] = ((const int32_t *)x->data)[i];
        else
            return -1;
    }
    return (int)n;
}

float *gr_const_floats(const gr_graph *g, int t)
{
    if (!gr_is_const(g, t))
        return NULL;
    const gr_tensor *x = &g->t[t];
    int64_t n = gr_tensor_numel(x);
    if (n < 0)
        return NULL;
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!v)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        switch (x->dtype) {
        case G_F32: v[i] = ((const float *)x->data)[i]; break;
        case G_F64: v[i] = (float)((const double *)x->data)[i]; break;
        case G_I64: v[i] = (float)((const int64_t *)x->data)[i]; break;
        case G_I32: v[i] = (float)((const int32_t *)x->data)[i]; break;
        case G_U8: v[i] = ((const uint8_t *)x->data)[i]; break;
        case G_I8: v[i] = ((const int8_t *)x->data)[i]; break;
        default: free(v); return NULL;
        }
    }
    return v;
}

int gr_is_scalar_const(const gr_graph *g, int t, float *v)
{
    if (!gr_is_const(g, t) || gr_tensor_numel(&g->t[t]) != 1)
        return 0;
    float *f = gr_const_floats(g, t);
    if (!f)
        return 0;
    *v = f[0];
    free(f);
    return 1;
}

const char *gr_node_desc(const gr_node *n, char *buf, size_t len)
{
    if (n->name && n->name[0])
        snprintf(buf, len, "node '%s' (%s)", n->name, n->op_type);
    else
        snprintf(buf, len, "unnamed %s node", n->op_type);
    return buf;
}

int gr_node_fail(const gr_node *n, char *err, size_t errlen, const char *fmt, ...)
{
    char d[300];
    va_list ap;
    snprintf(err, errlen, "%s: ", gr_node_desc(n, d, sizeof d));
    size_t l = strlen(err);
    va_start(ap, fmt);
    vsnprintf(err + l, errlen > l ? errlen - l : 0, fmt, ap);
    va_end(ap);
    return ENG_EMODEL;
}
