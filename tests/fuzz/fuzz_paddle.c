/* fuzz_paddle.c: libFuzzer entry point for the Paddle inference-folder loader.
 *
 * One input is one folder's worth of files:
 *     byte 0          kind: 0 = PIR JSON program, 1 = ProgramDesc, 2 = yml only
 *     bytes 1..4      little-endian length N of the program
 *     N bytes         the program (inference.json / inference.pdmodel)
 *     the rest        the weights (inference.pdiparams)
 * (kind 2: everything after byte 0 is an inference.yml).  A length past the
 * end takes the rest as the program and no weights.  Splitting the input so
 * lets mutations reach both files while the seeds stay consistent pairs
 * (tests/fixtures/gen_paddle.py --fuzz-seeds); a fixed weights file would
 * stop nearly every mutated program at the first record.
 *
 * Like fuzz_onnx.c, a graph that loads goes through shape inference,
 * folding and fusion, then is compiled for batch 1 and 2 when small.
 *
 * Byte mutations seldom keep JSON or protobuf well formed, so half of the
 * mutations are structural: the program is parsed (cJSON, protobuf-c), an
 * op gets another operator name, an attribute an edge value, an input
 * another value, a declared dim another size, or an op is dropped, and the
 * program is written back in front of the unchanged weights. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_graph.h"
#include "engine/import/paddle.h"
#include "engine/import/paddle_framework.pb-c.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_need_onednn("fuzz_paddle");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_graph *g = NULL;
    model_meta meta;
    char err[512];

    memset(&meta, 0, sizeof meta);
    meta.order = -1;
    if (size < 1)
        return 0;
    int kind = data[0] % 3;
    if (kind == 2) {
        pd_yml_parse(&meta, data + 1, size - 1, "fuzz.yml", err, sizeof err);
        goto end;
    }
    if (size < 5)
        return 0;
    uint32_t plen;
    memcpy(&plen, data + 1, 4);
    size_t rest = size - 5;
    if (plen > rest)
        plen = (uint32_t)rest;
    if (paddle_load_mem(&g, &meta, kind, data + 5, plen, data + 5 + plen, rest - plen, NULL, 0,
                        "fuzz", err, sizeof err) < 0)
        goto end;
    fuzz_compile(g);
end:
    gr_free(g);
    model_meta_free(&meta);
    return 0;
}

/* ----------------------------------------------------------- mutator */

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    *s ^= *s << 13;          /* xorshift64 */
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return n ? *s % n : 0;
}

#define PICK(s, a) ((a)[rnd(s, sizeof(a) / sizeof((a)[0]))])

static const char *const pir_names[] = {
    "1.conv2d", "1.depthwise_conv2d", "1.batch_norm_", "1.hardswish", "1.hardsigmoid", "1.relu",
    "1.relu6", "1.sigmoid", "1.pool2d", "1.add", "1.subtract", "1.multiply", "1.divide", "1.flatten",
    "1.reshape", "1.squeeze", "1.unsqueeze", "1.matmul", "1.softmax", "1.dropout", "1.scale",
    "1.full", "1.full_int_array", "1.assign", "1.data", "1.fetch", "p", "0.parameter",
};
static const char *const pd2_names[] = {
    "conv2d", "depthwise_conv2d", "batch_norm", "hard_swish", "hard_sigmoid", "relu", "relu6",
    "sigmoid", "pool2d", "elementwise_add", "elementwise_sub", "elementwise_mul", "elementwise_div",
    "flatten_contiguous_range", "flatten2", "reshape2", "squeeze2", "unsqueeze2", "matmul",
    "matmul_v2", "mul", "softmax", "dropout", "scale", "fill_constant", "assign", "feed", "fetch",
};
static const char *const strs[] = {
    "NCHW", "NHWC", "SAME", "VALID", "EXPLICIT", "avg", "max", "upscale_in_train",
    "downscale_in_infer", "downgrade_in_infer", "float32", "int64", "int32", "",
};
static const int64_t ints[] = {
    -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 255, 256, 1 << 20, (int64_t)1 << 31, INT64_MAX, INT64_MIN,
};

static double pick_num(uint64_t *s)
{
    static const double f[] = { 0.0, 1.0, -1.0, 0.5, 1.0 / 6, 6.0, 1e-5, 0.2, 1e30, -1e30, 1e300 };
    switch (rnd(s, 4)) {
    case 0: return PICK(s, f);
    case 1: return (double)PICK(s, ints);
    default: return (double)rnd(s, 9) - 1;
    }
}

/* A new "AT" value of the same kind as before, or an edge of another. */
static void json_attr(uint64_t *s, cJSON *at)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(at, "D");
    cJSON *n = NULL;
    if (cJSON_IsArray(d) && d->child && rnd(s, 3)) {
        cJSON *e = d->child;
        for (uint64_t k = rnd(s, 4); k && e->next; k--)
            e = e->next;
        cJSON *ed = cJSON_GetObjectItemCaseSensitive(e, "D");
        if (ed && cJSON_IsNumber(ed))
            cJSON_SetNumberHelper(ed, pick_num(s));
        else if (cJSON_IsNumber(e))
            cJSON_SetNumberHelper(e, pick_num(s));
        else if (rnd(s, 2))
            cJSON_DeleteItemFromArray(d, 0);
        return;
    }
    switch (rnd(s, 4)) {
    case 0: n = cJSON_CreateNumber(pick_num(s)); break;
    case 1: n = cJSON_CreateBool((int)rnd(s, 2)); break;
    case 2: n = cJSON_CreateString(PICK(s, strs)); break;
    default: n = cJSON_CreateArray();
        for (uint64_t k = rnd(s, 5); n && k; k--)
            cJSON_AddItemToArray(n, cJSON_CreateNumber(pick_num(s)));
        break;
    }
    if (n && !cJSON_ReplaceItemInObjectCaseSensitive(at, "D", n))
        cJSON_Delete(n);
}

static cJSON *nth(cJSON *arr, int k)
{
    return cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, k) : NULL;
}

static char *mutate_json(uint64_t *s, const uint8_t *p, size_t n)
{
    cJSON *root = cJSON_ParseWithLength((const char *)p, n);
    char *out = NULL;
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(
        nth(cJSON_GetObjectItemCaseSensitive(nth(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(root, "program"), "regions"), 0), "blocks"), 0), "ops");
    int nops = cJSON_IsArray(ops) ? cJSON_GetArraySize(ops) : 0;
    if (!nops)
        goto end;
    for (int rounds = 1 + (int)rnd(s, 3); rounds > 0; rounds--) {
        int k = (int)rnd(s, (uint64_t)nops);
        cJSON *op = cJSON_GetArrayItem(ops, k), *x;
        if (!op)
            break;
        switch (rnd(s, 7)) {
        case 0:                                 /* another operator */
            if ((x = cJSON_CreateString(PICK(s, pir_names))) &&
                !cJSON_ReplaceItemInObjectCaseSensitive(op, "#", x))
                cJSON_Delete(x);
            break;
        case 1: {                               /* an attribute's value */
            cJSON *a = nth(cJSON_GetObjectItemCaseSensitive(op, "A"),
                           (int)rnd(s, 6));
            cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "AT");
            if (at)
                json_attr(s, at);
            break;
        }
        case 2: {                               /* an input from elsewhere */
            cJSON *in = nth(cJSON_GetObjectItemCaseSensitive(op, "I"), (int)rnd(s, 3));
            cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "%");
            if (cJSON_IsNumber(id))
                cJSON_SetNumberHelper(id, rnd(s, 8) ? (double)rnd(s, 400) : pick_num(s));
            break;
        }
        case 3: {                               /* a declared dim */
            cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "O");
            if (cJSON_IsArray(o))
                o = o->child;
            cJSON *dims = nth(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(o, "TT"), "D"), 1);
            cJSON *d = nth(dims, (int)rnd(s, 4));
            if (cJSON_IsNumber(d))
                cJSON_SetNumberHelper(d, rnd(s, 2) ? (double)rnd(s, 9) - 1 : pick_num(s));
            else if (cJSON_IsArray(dims) && dims->child)
                cJSON_DeleteItemFromArray(dims, 0);
            break;
        }
        case 4:                                 /* one op fewer */
            cJSON_DeleteItemFromArray(ops, k);
            nops--;
            break;
        case 5:                                 /* an op twice */
            if ((x = cJSON_Duplicate(op, 1)))
                cJSON_AddItemToArray(ops, x), nops++;
            break;
        default: {                              /* an attribute fewer */
            cJSON *a = cJSON_GetObjectItemCaseSensitive(op, "A");
            if (cJSON_IsArray(a) && a->child)
                cJSON_DeleteItemFromArray(a, (int)rnd(s, (uint64_t)cJSON_GetArraySize(a)));
            break;
        }
        }
        if (!nops)
            break;
    }
    out = cJSON_PrintUnformatted(root);
end:
    cJSON_Delete(root);
    return out;
}

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

static uint8_t *mutate_pdmodel(uint64_t *s, const uint8_t *p, size_t n, size_t *outlen)
{
    chunk *arena = NULL;
    ProtobufCAllocator al = { ar_alloc, ar_free, &arena };
    uint8_t *buf = NULL;
    Paddle__Framework__Proto__ProgramDesc *pd = paddle__framework__proto__program_desc__unpack(&al, n, p);
    if (!pd || !pd->n_blocks || !pd->blocks[0]->n_ops)
        goto end;
    Paddle__Framework__Proto__BlockDesc *b = pd->blocks[0];
    for (int rounds = 1 + (int)rnd(s, 3); rounds > 0 && b->n_ops; rounds--) {
        size_t k = rnd(s, b->n_ops);
        Paddle__Framework__Proto__OpDesc *op = b->ops[k];
        switch (rnd(s, 6)) {
        case 0:
            op->type = (char *)PICK(s, pd2_names);
            break;
        case 1: {
            if (!op->n_attrs)
                break;
            Paddle__Framework__Proto__OpDesc__Attr *a = op->attrs[rnd(s, op->n_attrs)];
            switch (rnd(s, 5)) {
            case 0: a->i = (int32_t)PICK(s, ints); a->has_i = 1; break;
            case 1: a->f = (float)pick_num(s); a->has_f = 1; break;
            case 2: a->s = (char *)PICK(s, strs); break;
            case 3: a->b = (protobuf_c_boolean)rnd(s, 2); a->has_b = 1; break;
            default:
                if (a->n_ints)
                    a->ints[rnd(s, a->n_ints)] = (int32_t)PICK(s, ints);
                else if (a->n_floats)
                    a->floats[rnd(s, a->n_floats)] = (float)pick_num(s);
                break;
            }
            if (!rnd(s, 4))
                a->type = (Paddle__Framework__Proto__AttrType)rnd(s, 16);
            break;
        }
        case 2: {                               /* an argument renamed to another variable */
            if (!op->n_inputs || !b->n_vars)
                break;
            Paddle__Framework__Proto__OpDesc__Var *v = op->inputs[rnd(s, op->n_inputs)];
            const char *nm = b->vars[rnd(s, b->n_vars)]->name;
            if (v->n_arguments && nm)           /* a repeated string may not be NULL */
                v->arguments[rnd(s, v->n_arguments)] = (char *)nm;
            break;
        }
        case 3: {                               /* a declared dim */
            Paddle__Framework__Proto__VarDesc *v = b->n_vars ? b->vars[rnd(s, b->n_vars)] : NULL;
            Paddle__Framework__Proto__VarType__TensorDesc *t =
                v && v->type && v->type->lod_tensor ? v->type->lod_tensor->tensor : NULL;
            if (t && t->n_dims)
                t->dims[rnd(s, t->n_dims)] = rnd(s, 2) ? (int64_t)rnd(s, 9) - 1 : PICK(s, ints);
            break;
        }
        case 4:                                 /* one op fewer */
            memmove(&b->ops[k], &b->ops[k + 1], sizeof(op) * (b->n_ops - k - 1));
            b->n_ops--;
            break;
        default:                                /* a variable not persistable, or persistable */
            if (b->n_vars) {
                Paddle__Framework__Proto__VarDesc *v = b->vars[rnd(s, b->n_vars)];
                v->persistable = !v->persistable;
                v->has_persistable = 1;
            }
            break;
        }
    }
    *outlen = paddle__framework__proto__program_desc__get_packed_size(pd);
    if ((buf = malloc(*outlen ? *outlen : 1)) &&
        paddle__framework__proto__program_desc__pack(pd, buf) != *outlen) {
        free(buf);
        buf = NULL;
    }
end:
    while (arena) {
        chunk *c = arena->next;
        free(arena);
        arena = c;
    }
    return buf;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 1;
    if (rnd(&s, 2) || size < 5 || data[0] % 3 == 2)
        return LLVMFuzzerMutate(data, size, max_size);
    uint32_t plen;
    memcpy(&plen, data + 1, 4);
    if (plen > size - 5)
        return LLVMFuzzerMutate(data, size, max_size);
    uint8_t *prog = NULL;
    size_t nlen = 0;
    if (data[0] % 3 == 0) {
        char *j = mutate_json(&s, data + 5, plen);
        prog = (uint8_t *)j;
        nlen = j ? strlen(j) : 0;
    } else {
        prog = mutate_pdmodel(&s, data + 5, plen, &nlen);
    }
    size_t params = size - 5 - plen, out = 0;
    if (prog && 5 + nlen + params <= max_size) {
        memmove(data + 5 + nlen, data + 5 + plen, params);
        memcpy(data + 5, prog, nlen);
        uint32_t l = (uint32_t)nlen;
        memcpy(data + 1, &l, 4);
        out = 5 + nlen + params;
    }
    free(prog);
    return out ? out : LLVMFuzzerMutate(data, size, max_size);
}
