/* fuzz_onnx.c: libFuzzer entry point for the model loader.
 *
 * The bytes go the way a model file goes through eng_load: parsed into a
 * graph, shapes inferred and shape arithmetic folded, fused, then compiled
 * into oneDNN primitives for batch 1 and 2.  Nothing is run: the loader and
 * the passes are what read untrusted data, the compiler is what trusts
 * their result.  Compiling JITs kernels and reorders weights, so big graphs
 * stop after the passes to keep the exec rate up.
 * (fuzz_graph.h: the passes and compile both model fuzzers share.)
 *
 * Byte mutations rarely get a protobuf past the parser with a new graph
 * shape, so a custom mutator also edits the parsed model: swaps operator
 * types, rewires inputs, sets attributes and dims to edge values, drops and
 * adds nodes.  Half of the mutations are still libFuzzer's own. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_graph.h"
#include "engine/import/import.h"
#include "onnx/onnx.pb-c.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* ------------------------------------------------------------ target */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_need_onednn("fuzz_onnx");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_graph *g = NULL;
    char err[512];

    if (onnx_load_buffer(&g, data, size, "fuzz", err, sizeof err) < 0)
        goto end;
    fuzz_compile(g);
end:
    gr_free(g);
    return 0;
}

/* ----------------------------------------------------------- mutator */

/* The parsed model lives in an arena, so fields can point at static
 * strings or at each other's strings and all is freed at once. */
typedef struct chunk {
    struct chunk *next;
    max_align_t data[];
} chunk;

static void *ar_alloc(void *arena, size_t n)
{
    chunk *c = malloc(sizeof(chunk) + n);
    if (!c)
        return NULL;
    c->next = *(chunk **)arena;
    *(chunk **)arena = c;
    return c->data;
}

static void ar_free(void *arena, void *p)
{
    (void)arena;
    (void)p;
}

static void ar_release(chunk **arena)
{
    while (*arena) {
        chunk *n = (*arena)->next;
        free(*arena);
        *arena = n;
    }
}

static const char *const ops[] = {
    "Conv", "BatchNormalization", "Relu", "HardSwish", "HardSigmoid", "Clip", "Sigmoid", "Add",
    "Sub", "Mul", "Div", "GlobalAveragePool", "ReduceMean", "Gemm", "MatMul", "Softmax",
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Constant", "Shape",
    "Slice", "Concat", "Gather", "Cast",
};
static const char *const attr_names[] = {
    "axis", "axes", "keepdims", "group", "transA", "transB", "allowzero", "start", "end", "to",
    "alpha", "beta", "epsilon", "min", "max", "pads", "strides", "dilations", "kernel_shape",
};
static const char *const pad_modes[] = { "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER" };
static const int64_t ints[] = {
    -3, -2, -1, 0, 1, 2, 3, 4, 6, 7, 8, 16, 64, 255, 256, 1 << 20, (int64_t)1 << 28,
    (int64_t)1 << 31, INT64_MAX, INT64_MIN,
};

typedef struct {
    uint64_t s;
    chunk **arena;
    const char **names;      /* every tensor name in the graph */
    size_t nnames;
} mut;

static uint64_t rnd(mut *m, uint64_t n)
{
    m->s ^= m->s << 13;      /* xorshift64 */
    m->s ^= m->s >> 7;
    m->s ^= m->s << 17;
    return n ? m->s % n : 0;
}

#define PICK(m, a) ((a)[rnd(m, sizeof(a) / sizeof((a)[0]))])

static int64_t pick_int(mut *m)
{
    return rnd(m, 3) ? (int64_t)rnd(m, 9) - 1 : PICK(m, ints);
}

static float pick_float(mut *m)
{
    static const float f[] = { 0.0f, 1.0f, -1.0f, 0.5f, 1.0f / 6, 6.0f, 1e-5f, 1e30f, -1e30f };
    switch (rnd(m, 12)) {
    case 0: return INFINITY;
    case 1: return -INFINITY;
    case 2: return NAN;
    default: return PICK(m, f);
    }
}

static const char *pick_name(mut *m)
{
    return m->nnames ? m->names[rnd(m, m->nnames)] : "x";
}

static int collect_names(mut *m, const Onnx__GraphProto *g)
{
    size_t n = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++)
        n += g->node[i]->n_output;
    if (!(m->names = malloc(sizeof(char *) * (n + 1))))
        return -1;
    for (size_t i = 0; i < g->n_input; i++)
        if (g->input[i]->name)
            m->names[m->nnames++] = g->input[i]->name;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name)
            m->names[m->nnames++] = g->initializer[i]->name;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_output; k++)
            m->names[m->nnames++] = g->node[i]->output[k];
    return 0;
}

static void set_attr(mut *m, Onnx__AttributeProto *a)
{
    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->i = pick_int(m);
        a->has_i = 1;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->f = pick_float(m);
        a->has_f = 1;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        if (a->n_ints && rnd(m, 4))
            a->ints[rnd(m, a->n_ints)] = pick_int(m);
        else if (a->n_ints)
            a->n_ints = rnd(m, a->n_ints);         /* shorter list */
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        if (a->n_floats)
            a->floats[rnd(m, a->n_floats)] = pick_float(m);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        const char *s = PICK(m, pad_modes);
        a->s.data = (uint8_t *)s;
        a->s.len = strlen(s);
        a->has_s = 1;
        break;
    }
    default:
        break;
    }
}

/* A new attribute of a name the loader knows, as an INT or a pair of INTS. */
static int add_attr(mut *m, Onnx__NodeProto *n)
{
    Onnx__AttributeProto *a = ar_alloc(m->arena, sizeof(*a));
    Onnx__AttributeProto **v = ar_alloc(m->arena, sizeof(*v) * (n->n_attribute + 1));
    int64_t *iv = ar_alloc(m->arena, sizeof(int64_t) * 4);
    if (!a || !v || !iv)
        return -1;
    onnx__attribute_proto__init(a);
    a->name = (char *)PICK(m, attr_names);
    a->has_type = 1;
    if (rnd(m, 2)) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    } else {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->ints = iv;
        a->n_ints = 1 + rnd(m, 4);
        for (size_t i = 0; i < a->n_ints; i++)
            iv[i] = pick_int(m);
    }
    set_attr(m, a);
    if (n->n_attribute)
        memcpy(v, n->attribute, sizeof(*v) * n->n_attribute);
    v[n->n_attribute++] = a;
    n->attribute = v;
    return 0;
}

/* A node of a random type reading existing tensors, appended, its output
 * made a graph output so that it is not dead code. */
static int add_node(mut *m, Onnx__GraphProto *g)
{
    Onnx__NodeProto *n = ar_alloc(m->arena, sizeof(*n));
    Onnx__NodeProto **v = ar_alloc(m->arena, sizeof(*v) * (g->n_node + 1));
    char **in = ar_alloc(m->arena, sizeof(char *) * 3), **out = ar_alloc(m->arena, sizeof(char *));
    char *name = ar_alloc(m->arena, 24);
    if (!n || !v || !in || !out || !name || !g->n_output)
        return -1;
    onnx__node_proto__init(n);
    n->op_type = (char *)PICK(m, ops);
    n->n_input = 1 + rnd(m, 3);
    for (size_t i = 0; i < n->n_input; i++)
        in[i] = (char *)pick_name(m);
    n->input = in;
    snprintf(name, 24, "fz%u", (unsigned)rnd(m, 1000000));
    out[0] = name;
    n->output = out;
    n->n_output = 1;
    if (g->n_node)
        memcpy(v, g->node, sizeof(*v) * g->n_node);
    v[g->n_node++] = n;
    g->node = v;
    g->output[rnd(m, g->n_output)]->name = name;
    return 0;
}

static int mutate_graph(mut *m, Onnx__ModelProto *mp)
{
    Onnx__GraphProto *g = mp->graph;
    if (!g)
        return -1;
    Onnx__NodeProto *n = g->n_node ? g->node[rnd(m, g->n_node)] : NULL;
    switch (rnd(m, 10)) {
    case 0:                                      /* another operator */
        if (!n)
            return -1;
        n->op_type = (char *)PICK(m, ops);
        return 0;
    case 1:                                      /* another input */
        if (!n || !n->n_input)
            return -1;
        n->input[rnd(m, n->n_input)] = rnd(m, 8) ? (char *)pick_name(m) : "";
        return 0;
    case 2:                                      /* another graph output */
        if (!g->n_output)
            return -1;
        g->output[rnd(m, g->n_output)]->name = (char *)pick_name(m);
        return 0;
    case 3:                                      /* an attribute's value */
        if (!n || !n->n_attribute)
            return -1;
        set_attr(m, n->attribute[rnd(m, n->n_attribute)]);
        return 0;
    case 4:
        return n ? add_attr(m, n) : -1;
    case 5: {                                    /* a graph input's dim */
        if (!g->n_input)
            return -1;
        Onnx__ValueInfoProto *vi = g->input[rnd(m, g->n_input)];
        Onnx__TypeProto__Tensor *tt = vi->type && vi->type->value_case ==
            ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? vi->type->tensor_type : NULL;
        Onnx__TensorShapeProto *sh = tt ? tt->shape : NULL;
        if (!sh || !sh->n_dim)
            return -1;
        if (!rnd(m, 6)) {
            sh->n_dim = rnd(m, sh->n_dim);           /* lower rank */
            return 0;
        }
        Onnx__TensorShapeProto__Dimension *d = sh->dim[rnd(m, sh->n_dim)];
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = rnd(m, 4) ? (int64_t)rnd(m, 9) : pick_int(m);
        return 0;
    }
    case 6: {                                    /* an initializer's dims, same count */
        if (!g->n_initializer)
            return -1;
        Onnx__TensorProto *t = g->initializer[rnd(m, g->n_initializer)];
        if (t->n_dims < 2)
            return -1;
        size_t a = rnd(m, t->n_dims), b = rnd(m, t->n_dims);
        int64_t x = t->dims[a];
        t->dims[a] = t->dims[b];
        t->dims[b] = x;
        return 0;
    }
    case 7:                                      /* one node fewer */
        if (!n)
            return -1;
        for (size_t i = 0; i < g->n_node; i++)
            if (g->node[i] == n) {
                memmove(&g->node[i], &g->node[i + 1], sizeof(n) * (g->n_node - i - 1));
                break;
            }
        g->n_node--;
        return 0;
    case 8:
        return add_node(m, g);
    default:                                     /* opset */
        if (!mp->n_opset_import)
            return -1;
        mp->opset_import[0]->version = 6 + (int64_t)rnd(m, 16);
        mp->opset_import[0]->has_version = 1;
        return 0;
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    chunk *arena = NULL;
    ProtobufCAllocator al = { ar_alloc, ar_free, &arena };
    mut m = { (uint64_t)seed * 0x9E3779B97F4A7C15ull + 1, &arena, NULL, 0 };
    uint8_t *buf = NULL;
    size_t out = 0;

    if (rnd(&m, 2))
        return LLVMFuzzerMutate(data, size, max_size);
    char err[256];
    /* a deeply nested input in the corpus would overflow protobuf-c here */
    Onnx__ModelProto *mp = onnx_check_depth(data, size, "fuzz", err, sizeof err) < 0 ? NULL :
                           onnx__model_proto__unpack(&al, size, data);
    if (!mp || !mp->graph || collect_names(&m, mp->graph) < 0)
        goto end;
    for (int k = 1 + (int)rnd(&m, 3); k > 0; k--)
        mutate_graph(&m, mp);
    size_t n = onnx__model_proto__get_packed_size(mp);
    if (n <= max_size && (buf = malloc(n ? n : 1)) && onnx__model_proto__pack(mp, buf) == n) {
        memcpy(data, buf, n);
        out = n;
    }
end:
    free(buf);
    free(m.names);
    ar_release(&arena);
    return out ? out : LLVMFuzzerMutate(data, size, max_size);
}
