/* onnx.c: an ONNX ModelProto (protobuf-c, generated from Debian's
 * onnx.proto at build time) to a graph.
 *
 * Everything in the file is untrusted: sizes are checked against the bytes
 * actually present, dims against G_MAX_ELEMS, names against what was defined
 * before them.  Constant nodes become constant tensors here. */
#include "engine/import/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/import/pb_depth.h"
#include "onnx/onnx.pb-c.h"

/* TensorProto -> owned buffer.  float16/float64 become float32, the rest keep
 * their type; the element count must match the bytes present exactly. */
static int tensor_data(const Onnx__TensorProto *tp, const char *what, int *dtype_out,
                       int *ndim, int64_t *dims, void **data, char *err, size_t errlen)
{
    int dt = tp->has_data_type ? tp->data_type : 0;
    size_t es = gr_dtype_size(dt);
    int64_t n;
    void *d = NULL;

    if (!es || dt == G_BF16) {
        /* ONNX's data types are small numbers; a large one is file bytes, not echoed */
        if (dt >= 0 && dt < 64)
            snprintf(err, errlen, "%s: data type %d (%s) unsupported", what, dt, gr_dtype_name(dt));
        else
            snprintf(err, errlen, "%s: data type unknown, unsupported", what);
        return ENG_EMODEL;
    }
    if (tp->n_dims > G_MAX_DIMS) {
        snprintf(err, errlen, "%s: %zu dims, at most %d supported", what, tp->n_dims, G_MAX_DIMS);
        return ENG_EMODEL;
    }
    for (size_t i = 0; i < tp->n_dims; i++)
        dims[i] = tp->dims[i];
    *ndim = (int)tp->n_dims;
    if ((n = gr_numel(*ndim, dims)) < 0) {
        char s[96];
        gr_dims_str(s, sizeof s, *ndim, dims);
        snprintf(err, errlen, "%s: dims %s negative or too large", what, s);
        return ENG_EMODEL;
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        snprintf(err, errlen, "%s: weights in an external file are unsupported; "
                 "export with the weights embedded", what);
        return ENG_EMODEL;
    }
    /* Count before allocating: the dims are the file's word, the bytes are not. */
    size_t have;
    int ragged = 0;
    if (tp->has_raw_data) {
        have = tp->raw_data.len / es;
        ragged = tp->raw_data.len % es != 0;
    } else {
        switch (dt) {
        case G_F32: have = tp->n_float_data; break;
        case G_F64: have = tp->n_double_data; break;
        case G_I64: have = tp->n_int64_data; break;
        /* ONNX packs these into int32_data, one element per entry */
        case G_I32: case G_U8: case G_I8: case G_BOOL: case G_F16: have = tp->n_int32_data; break;
        default: have = 0; ragged = 1; break;
        }
    }
    if (ragged || have != (size_t)n) {
        char s[96];
        gr_dims_str(s, sizeof s, *ndim, dims);
        snprintf(err, errlen, "%s: dims %s need %lld elements of %s, the file holds %zu",
                 what, s, (long long)n, gr_dtype_name(dt), have);
        return ENG_EMODEL;
    }
    int out_dt = (dt == G_F16 || dt == G_F64) ? G_F32 : dt;
    size_t out_es = gr_dtype_size(out_dt);
    if (!(d = calloc((size_t)(n ? n : 1), out_es))) {
        snprintf(err, errlen, "%s: out of memory", what);
        return ENG_ENOMEM;
    }

    if (tp->has_raw_data) {
        const uint8_t *r = tp->raw_data.data;
        if (dt == G_F16) {
            for (int64_t i = 0; i < n; i++) {
                uint16_t h = (uint16_t)(r[2 * i] | r[2 * i + 1] << 8);
                uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
                float f;
                if (e == 0)
                    f = (float)m / 16777216.0f;            /* subnormal: m * 2^-24 */
                else if (e == 31)
                    f = m ? __builtin_nanf("") : __builtin_inff();
                else {
                    uint32_t u = ((e + 112) << 23) | (m << 13);
                    memcpy(&f, &u, 4);
                }
                uint32_t u;
                memcpy(&u, &f, 4);
                u |= s;
                memcpy((float *)d + i, &u, 4);
            }
        } else if (dt == G_F64) {
            for (int64_t i = 0; i < n; i++) {
                double v;
                memcpy(&v, r + 8 * i, 8);
                ((float *)d)[i] = (float)v;
            }
        } else if (n) {                 /* an empty field may have no buffer */
            memcpy(d, r, (size_t)n * es);
        }
    } else {
        switch (dt) {
        case G_F32:
            if (n)
                memcpy(d, tp->float_data, (size_t)n * 4);
            break;
        case G_F64:
            for (int64_t i = 0; i < n; i++)
                ((float *)d)[i] = (float)tp->double_data[i];
            break;
        case G_I64:
            if (n)
                memcpy(d, tp->int64_data, (size_t)n * 8);
            break;
        default:
            for (int64_t i = 0; i < n; i++) {
                int32_t v = tp->int32_data[i];
                if (dt == G_I32)
                    ((int32_t *)d)[i] = v;
                else if (dt == G_U8 || dt == G_BOOL)
                    ((uint8_t *)d)[i] = (uint8_t)v;
                else if (dt == G_I8)
                    ((int8_t *)d)[i] = (int8_t)v;
                else
                    ((float *)d)[i] = (float)v;   /* float16 bits: rare, approximate */
            }
            break;
        }
    }
    *dtype_out = out_dt;
    *data = d;
    return 0;
}

static int add_const(gr_graph *g, const char *name, const Onnx__TensorProto *tp,
                     const char *what, char *err, size_t errlen)
{
    int dt, nd, ret;
    int64_t dims[G_MAX_DIMS];
    void *d = NULL;
    if ((ret = tensor_data(tp, what, &dt, &nd, dims, &d, err, errlen)) < 0)
        return ret;
    int t = gr_tensor_get(g, name, 0);
    if (t >= 0 && (g->t[t].data || g->t[t].producer >= 0)) {
        snprintf(err, errlen, "%s: tensor '%s' defined twice", what, name);
        free(d);
        return ENG_EMODEL;
    }
    if (gr_tensor_new_const(g, name, dt, nd, dims, d) < 0) {
        free(d);
        snprintf(err, errlen, "%s: out of memory", what);
        return ENG_ENOMEM;
    }
    return 0;
}

static int copy_attr(gr_graph *g, gr_node *n, const Onnx__AttributeProto *ap, const char *nd,
                     char *err, size_t errlen)
{
    gr_attrkind k;
    switch (ap->has_type ? ap->type : 0) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: k = A_INT; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: k = A_FLOAT; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: k = A_STRING; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: k = A_INTS; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: k = A_FLOATS; break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: k = A_TENSOR; break;
    default: k = A_OTHER; break;
    }
    gr_attr *a = gr_attr_add(n, ap->name ? ap->name : "", k);
    if (!a)
        goto nomem;
    switch (k) {
    case A_INT: a->i = ap->i; break;
    case A_FLOAT: a->f = ap->f; break;
    case A_STRING:
        if (!(a->s = malloc(ap->s.len + 1)))
            goto nomem;
        if (ap->s.len)                  /* protobuf-c leaves an empty string NULL */
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = 0;
        break;
    case A_INTS:
        if (ap->n_ints > 4096) {
            snprintf(err, errlen, "%s: attribute '%s' has %zu ints", nd, a->name, ap->n_ints);
            return ENG_EMODEL;
        }
        if (!(a->ints = malloc(sizeof(int64_t) * (ap->n_ints + 1))))
            goto nomem;
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
        a->n = (int)ap->n_ints;
        break;
    case A_FLOATS:
        if (ap->n_floats > 4096) {
            snprintf(err, errlen, "%s: attribute '%s' has %zu floats", nd, a->name, ap->n_floats);
            return ENG_EMODEL;
        }
        if (!(a->floats = malloc(sizeof(float) * (ap->n_floats + 1))))
            goto nomem;
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, sizeof(float) * ap->n_floats);
        a->n = (int)ap->n_floats;
        break;
    case A_TENSOR: {
        if (!ap->t) {
            snprintf(err, errlen, "%s: attribute '%s' has no tensor", nd, a->name);
            return ENG_EMODEL;
        }
        char what[300];
        snprintf(what, sizeof what, "%s attribute '%s'", nd, a->name);
        int dt, ndim, ret;
        int64_t dims[G_MAX_DIMS];
        void *d;
        if ((ret = tensor_data(ap->t, what, &dt, &ndim, dims, &d, err, errlen)) < 0)
            return ret;
        if ((a->tensor = gr_tensor_new_const(g, NULL, dt, ndim, dims, d)) < 0) {
            free(d);
            goto nomem;
        }
        break;
    }
    default:
        break;
    }
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", nd);
    return ENG_ENOMEM;
}

/* A Constant node's value, in whichever attribute it came. */
static int constant_node(gr_graph *g, const Onnx__NodeProto *np, const char *nd,
                         char *err, size_t errlen)
{
    if (np->n_output != 1 || np->n_attribute != 1 || !np->output[0][0]) {
        snprintf(err, errlen, "%s: a Constant needs one output and one value attribute", nd);
        return ENG_EMODEL;
    }
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *an = ap->name ? ap->name : "";
    const char *out = np->output[0];
    int64_t dims[1];
    void *d;
    int dt, nd1;

    if (strcmp(an, "value") == 0 && ap->t) {
        char what[300];
        snprintf(what, sizeof what, "%s value", nd);
        return add_const(g, out, ap->t, what, err, errlen);
    } else if (strcmp(an, "value_float") == 0) {
        dt = G_F32; nd1 = 0;
        if (!(d = malloc(4)))
            goto nomem;
        *(float *)d = ap->f;
    } else if (strcmp(an, "value_int") == 0) {
        dt = G_I64; nd1 = 0;
        if (!(d = malloc(8)))
            goto nomem;
        *(int64_t *)d = ap->i;
    } else if (strcmp(an, "value_floats") == 0 && ap->n_floats <= 65536) {
        dt = G_F32; nd1 = 1; dims[0] = (int64_t)ap->n_floats;
        if (!(d = malloc(4 * (ap->n_floats + 1))))
            goto nomem;
        if (ap->n_floats)
            memcpy(d, ap->floats, 4 * ap->n_floats);
    } else if (strcmp(an, "value_ints") == 0 && ap->n_ints <= 65536) {
        dt = G_I64; nd1 = 1; dims[0] = (int64_t)ap->n_ints;
        if (!(d = malloc(8 * (ap->n_ints + 1))))
            goto nomem;
        if (ap->n_ints)
            memcpy(d, ap->ints, 8 * ap->n_ints);
    } else {
        snprintf(err, errlen, "%s: Constant attribute '%s' unsupported", nd, an);
        return ENG_EMODEL;
    }
    int t = gr_tensor_get(g, out, 0);
    if (t >= 0 && (g->t[t].data || g->t[t].producer >= 0)) {
        free(d);
        snprintf(err, errlen, "%s: tensor '%s' defined twice", nd, out);
        return ENG_EMODEL;
    }
    if (gr_tensor_new_const(g, out, dt, nd1, dims, d) < 0) {
        free(d);
        goto nomem;
    }
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", nd);
    return ENG_ENOMEM;
}

static int add_node(gr_graph *g, const Onnx__NodeProto *np, int idx, char *err, size_t errlen)
{
    char nd[256];
    const char *op_type = np->op_type ? np->op_type : "";
    if (np->name && np->name[0])
        snprintf(nd, sizeof nd, "node '%.120s' (%.60s)", np->name, op_type);
    else
        snprintf(nd, sizeof nd, "node #%d (%.60s)", idx, op_type);

    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0) {
        snprintf(err, errlen, "%s: operator domain '%.60s' unsupported", nd, np->domain);
        return ENG_EUNSUP;
    }
    const gr_opdef *def = gr_op_onnx(op_type);
    gr_opkind op = def ? def->op : OP_NONE;
    if (op == OP_NONE) {
        snprintf(err, errlen, "%s: operator %.60s is not in lcnetd's supported set", nd, op_type);
        return ENG_EUNSUP;
    }
    if (op == OP_CONSTANT)
        return constant_node(g, np, nd, err, errlen);
    if (np->n_input > 64 || np->n_output > 16) {
        snprintf(err, errlen, "%s: %zu inputs / %zu outputs", nd, np->n_input, np->n_output);
        return ENG_EMODEL;
    }
    int ni = gr_node_add(g, np->name, op_type, op, (int)np->n_input, (int)np->n_output);
    if (ni < 0)
        goto nomem;
    for (size_t i = 0; i < np->n_input; i++) {
        const char *in = np->input[i];
        if (!in[0])
            continue;                   /* optional input left out */
        int t = gr_tensor_get(g, in, 0);
        if (t < 0 || (!g->t[t].data && !g->t[t].is_input && g->t[t].producer < 0)) {
            snprintf(err, errlen, "%s: input '%.120s' is not defined by an earlier node, "
                     "an initializer or a graph input", nd, in);
            return ENG_EMODEL;
        }
        g->n[ni].in[i] = t;
    }
    for (size_t i = 0; i < np->n_output; i++) {
        const char *o = np->output[i];
        if (!o[0])
            continue;
        int t = gr_tensor_get(g, o, 1);
        if (t < 0)
            goto nomem;
        if (g->t[t].producer >= 0 || g->t[t].data || g->t[t].is_input) {
            snprintf(err, errlen, "%s: output '%.120s' is already defined elsewhere", nd, o);
            return ENG_EMODEL;
        }
        g->t[t].producer = ni;
        g->n[ni].out[i] = t;
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        int ret = copy_attr(g, &g->n[ni], np->attribute[i], nd, err, errlen);
        if (ret < 0)
            return ret;
    }
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", nd);
    return ENG_ENOMEM;
}

static int add_input(gr_graph *g, const Onnx__ValueInfoProto *vi, char *err, size_t errlen)
{
    const char *name = vi->name ? vi->name : "";
    int t = gr_tensor_get(g, name, 0);
    if (t >= 0 && g->t[t].data)
        return 0;                      /* an initializer listed as input: a constant */
    if (t >= 0) {
        snprintf(err, errlen, "graph input '%.120s' listed twice", name);
        return ENG_EMODEL;
    }
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        snprintf(err, errlen, "graph input '%.120s' is not a tensor", name);
        return ENG_EMODEL;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    const Onnx__TensorShapeProto *sh = tt->shape;
    if (!sh) {
        snprintf(err, errlen, "graph input '%.120s' has no shape", name);
        return ENG_EMODEL;
    }
    if (sh->n_dim > G_MAX_DIMS) {
        snprintf(err, errlen, "graph input '%.120s' has %zu dims, at most %d supported",
                 name, sh->n_dim, G_MAX_DIMS);
        return ENG_EMODEL;
    }
    if ((t = gr_tensor_get(g, name, 1)) < 0) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    gr_tensor *x = &g->t[t];
    x->is_input = 1;
    x->dtype = tt->has_elem_type ? tt->elem_type : G_F32;
    x->ndim = (int)sh->n_dim;
    x->known = 1;
    for (size_t i = 0; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0) {
            x->dims[i] = d->dim_value;
        } else if (i == 0) {
            x->dims[i] = G_BATCH;      /* symbolic or unset batch */
        } else {
            snprintf(err, errlen, "graph input '%.120s': dim %zu is not a fixed size; "
                     "only the batch (dim 0) may vary", name, i);
            return ENG_EMODEL;
        }
    }
    int b = x->ndim > 0 && x->dims[0] == G_BATCH;  /* per item, whatever the batch */
    if (gr_numel(x->ndim - b, x->dims + b) < 0) {
        snprintf(err, errlen, "graph input '%.120s' is too large", name);
        return ENG_EMODEL;
    }
    int *in = realloc(g->inputs, sizeof(int) * (size_t)(g->ninputs + 1));
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    g->inputs = in;
    g->inputs[g->ninputs++] = t;
    return 0;
}

static int load_model(gr_graph *g, const Onnx__ModelProto *mp, char *err, size_t errlen)
{
    const Onnx__GraphProto *gp = mp->graph;
    int ret;

    if (!gp) {
        snprintf(err, errlen, "the file holds no graph");
        return ENG_EMODEL;
    }
    g->opset = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version)
            g->opset = (int)o->version;
    }
    if (g->opset <= 0) {
        snprintf(err, errlen, "no opset version for the default ONNX domain");
        return ENG_EMODEL;
    }
    if (g->opset > 21) {
        snprintf(err, errlen, "opset %d is newer than lcnetd knows (up to 21)", g->opset);
        return ENG_EUNSUP;
    }
    if (gp->n_node > G_MAX_NODES || gp->n_initializer > G_MAX_TENSORS) {
        snprintf(err, errlen, "%zu nodes / %zu initializers: too many", gp->n_node, gp->n_initializer);
        return ENG_EMODEL;
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        char what[200];
        snprintf(what, sizeof what, "initializer '%.120s'", tp->name ? tp->name : "");
        if (!tp->name || !tp->name[0]) {
            snprintf(err, errlen, "initializer #%zu has no name", i);
            return ENG_EMODEL;
        }
        if ((ret = add_const(g, tp->name, tp, what, err, errlen)) < 0)
            return ret;
    }
    for (size_t i = 0; i < gp->n_input; i++)
        if ((ret = add_input(g, gp->input[i], err, errlen)) < 0)
            return ret;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((ret = add_node(g, gp->node[i], (int)i, err, errlen)) < 0)
            return ret;
    if (gp->n_output == 0 || gp->n_output > 16) {
        snprintf(err, errlen, "the graph has %zu outputs", gp->n_output);
        return ENG_EMODEL;
    }
    if (!(g->outputs = malloc(sizeof(int) * gp->n_output)))
        return ENG_ENOMEM;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        int t = gr_tensor_get(g, name, 0);
        if (t < 0) {
            snprintf(err, errlen, "graph output '%.120s' is produced by no node", name);
            return ENG_EMODEL;
        }
        g->t[t].is_output = 1;
        g->outputs[g->noutputs++] = t;
    }
    if (g->ninputs == 0) {
        snprintf(err, errlen, "the graph has no inputs");
        return ENG_EMODEL;
    }
    return 0;
}

/* The message types of onnx.proto that can hold themselves, by way of the
 * fields below (field numbers are onnx.proto's): a graph in a node's
 * attribute, a type in a sequence, map or optional type, a graph in a
 * training step or a function's nodes.  Tensors and the other leaves cannot
 * nest and are skipped. */
enum { PB_MODEL, PB_GRAPH, PB_NODE, PB_ATTR, PB_VALUE, PB_TYPE, PB_TYPE_ELEM, PB_TYPE_MAP,
       PB_TRAINING, PB_FUNCTION };
static const pb_edge e_model[] = { { 7, PB_GRAPH }, { 20, PB_TRAINING }, { 25, PB_FUNCTION } };
static const pb_edge e_graph[] = { { 1, PB_NODE }, { 11, PB_VALUE }, { 12, PB_VALUE }, { 13, PB_VALUE } };
static const pb_edge e_node[] = { { 5, PB_ATTR } };
static const pb_edge e_attr[] = { { 6, PB_GRAPH }, { 11, PB_GRAPH }, { 14, PB_TYPE }, { 15, PB_TYPE } };
static const pb_edge e_value[] = { { 2, PB_TYPE } };
static const pb_edge e_type[] = { { 4, PB_TYPE_ELEM }, { 5, PB_TYPE_MAP }, { 9, PB_TYPE_ELEM } };
static const pb_edge e_elem[] = { { 1, PB_TYPE } };
static const pb_edge e_map[] = { { 2, PB_TYPE } };
static const pb_edge e_training[] = { { 1, PB_GRAPH }, { 2, PB_GRAPH } };
static const pb_edge e_function[] = { { 7, PB_NODE } };
#define EDGES(e) { e, (int)(sizeof e / sizeof e[0]) }
static const pb_msg onnx_schema[] = {
    [PB_MODEL] = EDGES(e_model), [PB_GRAPH] = EDGES(e_graph), [PB_NODE] = EDGES(e_node),
    [PB_ATTR] = EDGES(e_attr), [PB_VALUE] = EDGES(e_value), [PB_TYPE] = EDGES(e_type),
    [PB_TYPE_ELEM] = EDGES(e_elem), [PB_TYPE_MAP] = EDGES(e_map),
    [PB_TRAINING] = EDGES(e_training), [PB_FUNCTION] = EDGES(e_function),
};

int onnx_check_depth(const uint8_t *buf, size_t len, const char *name, char *err, size_t errlen)
{
    int depth;
    if (pb_depth_check(buf, len, onnx_schema, PB_MODEL, PB_MAX_DEPTH, &depth) < 0) {
        snprintf(err, errlen, "%s: messages nested %d levels deep or more (graphs inside node "
                 "attributes, or types inside types); at most %d are accepted", name, depth,
                 PB_MAX_DEPTH);
        return ENG_EMODEL;
    }
    return 0;
}

int onnx_load_buffer(gr_graph **out, const uint8_t *buf, size_t len, const char *name,
                     char *err, size_t errlen)
{
    Onnx__ModelProto *mp = NULL;
    gr_graph *g = NULL;
    char e[400] = "";
    int ret;

    *out = NULL;
    /* before protobuf-c, whose unpack recurses without a limit */
    if ((ret = onnx_check_depth(buf, len, name, err, errlen)) < 0)
        return ret;
    if (!(mp = onnx__model_proto__unpack(NULL, len, buf))) {
        snprintf(err, errlen, "%s: not an ONNX model (protobuf does not parse: "
                 "truncated or corrupt)", name);
        return ENG_EMODEL;
    }
    if (!(g = gr_new())) {
        ret = ENG_ENOMEM;
        snprintf(e, sizeof e, "out of memory");
        goto end;
    }
    if ((ret = load_model(g, mp, e, sizeof e)) < 0)
        goto end;
    *out = g;
    g = NULL;
end:
    if (ret < 0)
        snprintf(err, errlen, "%s: %s", name, e);
    gr_free(g);
    onnx__model_proto__free_unpacked(mp, NULL);
    return ret;
}

int onnx_load_file(gr_graph **out, const char *path, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    int ret = read_file(path, LOADER_MAX_FILE, &buf, &len, err, errlen);
    if (ret < 0)
        return ret;
    ret = onnx_load_buffer(out, buf, len, path, err, errlen);
    free(buf);
    return ret;
}
