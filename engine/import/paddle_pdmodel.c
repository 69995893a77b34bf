/* paddle_pdmodel.c: Paddle 2.x's ProgramDesc (inference.pdmodel) to a pd_prog.
 *
 * The file is a protobuf ProgramDesc (paddle_framework.proto, generated
 * with protoc-c at build time).  Block 0 is the program: its VarDescs
 * declare every variable (type, shape, persistable), its OpDescs name their
 * inputs and outputs by slot ("Input", "Filter", "X", ...) and carry typed
 * attributes.  "feed" ops mark the inputs (ordered by their col attribute),
 * "fetch" ops the outputs; persistable LoD tensors are the parameters whose
 * values are in inference.pdiparams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/import/paddle_prog.h"
#include "engine/import/paddle_framework.pb-c.h"

typedef Paddle__Framework__Proto__ProgramDesc ProgramDesc;
typedef Paddle__Framework__Proto__BlockDesc BlockDesc;
typedef Paddle__Framework__Proto__OpDesc OpDesc;
typedef Paddle__Framework__Proto__OpDesc__Attr OpAttr;
typedef Paddle__Framework__Proto__VarDesc VarDesc;

enum { VT_LOD_TENSOR = 7 };

static int dtype_of(int t)
{
    switch (t) {
    case 0: return G_BOOL;
    case 2: return G_I32;
    case 3: return G_I64;
    case 4: return G_F16;
    case 5: return G_F32;
    case 6: return G_F64;
    case 20: return G_U8;
    case 21: return G_I8;
    case 22: return G_BF16;
    default: return 0;
    }
}

static int add_var(pd_prog *p, const VarDesc *vd, int i, char *err, size_t errlen)
{
    if (!vd->name || !vd->name[0]) {
        snprintf(err, errlen, "variable #%d has no name", i);
        return ENG_EMODEL;
    }
    if (pd_var_get(p, vd->name, 0) >= 0) {
        snprintf(err, errlen, "variable '%.120s' is declared twice", vd->name);
        return ENG_EMODEL;
    }
    int v = pd_var_get(p, vd->name, 1);
    if (v < 0) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    pd_var *x = &p->v[v];
    const Paddle__Framework__Proto__VarType *t = vd->type;
    if (!t || !t->has_type || (int)t->type != VT_LOD_TENSOR)
        return 0;                      /* feed / fetch holders and the like */
    const Paddle__Framework__Proto__VarType__TensorDesc *td = t->lod_tensor ? t->lod_tensor->tensor : NULL;
    if (td) {
        x->dtype = td->has_data_type ? dtype_of(td->data_type) : 0;
        if (td->n_dims <= G_MAX_DIMS) {
            x->ndim = (int)td->n_dims;
            for (size_t k = 0; k < td->n_dims; k++)
                x->dims[k] = td->dims[k] < -1 ? -1 : td->dims[k];
        }
    }
    x->param = vd->has_persistable && vd->persistable;
    if (x->param && x->ndim < 0) {
        snprintf(err, errlen, "parameter '%.120s' has no declared shape", vd->name);
        return ENG_EMODEL;
    }
    return 0;
}

static int copy_attr(pd_op *o, const OpAttr *a, char *err, size_t errlen)
{
    const char *nm = a->name ? a->name : "";
    size_t n = 0;
    pd_attrkind k;
    switch (a->has_type ? (int)a->type : -1) {
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__INT:
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__LONG: k = PA_INT; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__BOOLEAN: k = PA_BOOL; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOAT:
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOAT64: k = PA_FLOAT; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__STRING: k = PA_STR; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__INTS: k = PA_INTS; n = a->n_ints; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__LONGS: k = PA_INTS; n = a->n_longs; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__BOOLEANS: k = PA_INTS; n = a->n_bools; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOATS: k = PA_FLOATS; n = a->n_floats; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOAT64S: k = PA_FLOATS; n = a->n_float64s; break;
    default: k = PA_OTHER; break;
    }
    if (n > PD_MAX_LIST) {
        snprintf(err, errlen, "attribute '%.60s' has %zu values, more than %d", nm, n, PD_MAX_LIST);
        return ENG_EMODEL;
    }
    pd_attr *x = pd_attr_add(o, nm, k);
    if (!x) {
        snprintf(err, errlen, o->nattrs >= PD_MAX_ATTRS ? "more than 256 attributes" : "out of memory");
        return o->nattrs >= PD_MAX_ATTRS ? ENG_EMODEL : ENG_ENOMEM;
    }
    switch (a->has_type ? (int)a->type : -1) {
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__INT: x->i = a->i; x->f = a->i; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__LONG: x->i = a->l; x->f = (double)a->l; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__BOOLEAN: x->i = a->b != 0; x->f = (double)x->i; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOAT: x->f = a->f; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOAT64: x->f = a->float64; break;
    case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__STRING:
        if (!(x->s = strdup(a->s ? a->s : "")))
            goto nomem;
        break;
    default:
        break;
    }
    if (k == PA_INTS || k == PA_FLOATS) {
        if (!(x->ints = calloc(n ? n : 1, sizeof(int64_t))) || !(x->floats = calloc(n ? n : 1, sizeof(double))))
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            switch (a->type) {
            case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__INTS: x->ints[i] = a->ints[i]; break;
            case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__LONGS: x->ints[i] = a->longs[i]; break;
            case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__BOOLEANS: x->ints[i] = a->bools[i] != 0; break;
            case PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__FLOATS: x->floats[i] = a->floats[i]; break;
            default: x->floats[i] = a->float64s[i]; break;
            }
            if (k == PA_INTS)
                x->floats[i] = (double)x->ints[i];
        }
        x->n = (int)n;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return ENG_ENOMEM;
}

static int64_t col_of(const OpDesc *od)
{
    for (size_t i = 0; i < od->n_attrs; i++) {
        const OpAttr *a = od->attrs[i];
        if (a->name && strcmp(a->name, "col") == 0 && a->has_type && a->type == PADDLE__FRAMEWORK__PROTO__ATTR_TYPE__INT)
            return a->i;
    }
    return 0;
}

/* The single variable of a feed's Out or a fetch's X. */
static const char *only_arg(const OpDesc *od, int out, const char *slot)
{
    size_t n = out ? od->n_outputs : od->n_inputs;
    Paddle__Framework__Proto__OpDesc__Var **v = out ? od->outputs : od->inputs;
    for (size_t i = 0; i < n; i++)
        if (v[i]->parameter && strcmp(v[i]->parameter, slot) == 0 && v[i]->n_arguments == 1)
            return v[i]->arguments[0];
    return NULL;
}

/* Insert var into list, ordered by col. */
static int add_ordered(int **list, int *n, int64_t **cols, int v, int64_t col)
{
    if (pd_list_add(list, n, v) < 0)
        return -1;
    int64_t *c = realloc(*cols, sizeof(int64_t) * (size_t)*n);
    if (!c)
        return -1;
    *cols = c;
    int i = *n - 1;
    for (; i > 0 && c[i - 1] > col; i--) {
        c[i] = c[i - 1];
        (*list)[i] = (*list)[i - 1];
    }
    c[i] = col;
    (*list)[i] = v;
    return 0;
}

static int add_op(pd_prog *p, const OpDesc *od, int idx, int64_t **fcols, int64_t **tcols,
                  char *err, size_t errlen)
{
    const char *type = od->type ? od->type : "";
    int ret;
#define OPERR(...) do { int k_ = snprintf(err, errlen, "op #%d (%.60s): ", idx, type); \
        if (k_ >= 0 && (size_t)k_ < errlen) snprintf(err + k_, errlen - (size_t)k_, __VA_ARGS__); } while (0)
    if (!type[0]) {
        OPERR("an op without a type");
        return ENG_EMODEL;
    }
    if (!strcmp(type, "feed") || !strcmp(type, "fetch")) {
        int feed = strcmp(type, "feed") == 0;
        const char *nm = only_arg(od, feed, feed ? "Out" : "X");
        if (!nm) {
            OPERR("needs exactly one variable in %s", feed ? "Out" : "X");
            return ENG_EMODEL;
        }
        int v = pd_var_get(p, nm, 0);
        if (v < 0) {
            OPERR("variable '%.120s' is not declared", nm);
            return ENG_EMODEL;
        }
        if (feed ? add_ordered(&p->feeds, &p->nfeeds, fcols, v, col_of(od)) < 0
                 : add_ordered(&p->fetches, &p->nfetches, tcols, v, col_of(od)) < 0) {
            OPERR("too many %s ops, or out of memory", type);
            return ENG_EMODEL;
        }
        return 0;
    }
    pd_op *o = pd_op_add(p, type, type, idx);
    if (!o) {
        OPERR("out of memory, or more than %d ops", G_MAX_NODES);
        return ENG_ENOMEM;
    }
    for (int out = 0; out < 2; out++) {
        size_t n = out ? od->n_outputs : od->n_inputs;
        Paddle__Framework__Proto__OpDesc__Var **vars = out ? od->outputs : od->inputs;
        for (size_t i = 0; i < n; i++) {
            const Paddle__Framework__Proto__OpDesc__Var *sv = vars[i];
            if (sv->n_arguments > PD_MAX_ARGS) {
                OPERR("slot %.40s has %zu variables", sv->parameter ? sv->parameter : "?", sv->n_arguments);
                return ENG_EMODEL;
            }
            pd_slot *s = pd_slot_add(o, out, sv->parameter ? sv->parameter : "", (int)sv->n_arguments);
            if (!s) {
                OPERR("more than %d slots, or out of memory", PD_MAX_ARGS);
                return ENG_EMODEL;
            }
            for (size_t k = 0; k < sv->n_arguments; k++) {
                const char *an = sv->arguments[k];
                if (!an || !an[0])
                    continue;
                /* an undeclared variable is let in; if nothing defines it the
                 * op that reads it is refused, naming it */
                if ((s->v[k] = pd_var_get(p, an, 1)) < 0) {
                    OPERR("out of memory, or too many variables");
                    return ENG_ENOMEM;
                }
            }
        }
    }
    static const char *const main_out[] = { "Out", "Output", "Y" };
    for (size_t k = 0; k < 3 && o->out0 < 0; k++)
        for (int i = 0; i < o->nout; i++)
            if (!strcmp(o->out[i].name, main_out[k]) && o->out[i].n > 0)
                o->out0 = o->out[i].v[0];
    if (o->out0 < 0 && o->nout > 0 && o->out[0].n > 0)
        o->out0 = o->out[0].v[0];
    for (size_t i = 0; i < od->n_attrs; i++) {
        char e[200];
        if ((ret = copy_attr(o, od->attrs[i], e, sizeof e)) < 0) {
            OPERR("%s", e);
            return ret;
        }
    }
#undef OPERR
    return 0;
}

int pd_pdmodel_parse(pd_prog *p, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    ProgramDesc *pd = paddle__framework__proto__program_desc__unpack(NULL, len, buf);
    int64_t *fcols = NULL, *tcols = NULL;
    int ret = ENG_EMODEL;

    p->format = "paddle-pdmodel";
    if (!pd) {
        snprintf(err, errlen, "not a Paddle ProgramDesc (protobuf does not parse: truncated or corrupt)");
        return ENG_EMODEL;
    }
    if (pd->n_blocks == 0) {
        snprintf(err, errlen, "the program has no blocks");
        goto end;
    }
    const BlockDesc *b = pd->blocks[0];
    if (b->n_vars > G_MAX_TENSORS || b->n_ops > G_MAX_NODES) {
        snprintf(err, errlen, "%zu variables / %zu ops: too many", b->n_vars, b->n_ops);
        goto end;
    }
    for (size_t i = 0; i < b->n_vars; i++)
        if ((ret = add_var(p, b->vars[i], (int)i, err, errlen)) < 0)
            goto end;
    for (size_t i = 0; i < b->n_ops; i++)
        if ((ret = add_op(p, b->ops[i], (int)i, &fcols, &tcols, err, errlen)) < 0)
            goto end;
    ret = 0;
end:
    free(fcols);
    free(tcols);
    paddle__framework__proto__program_desc__free_unpacked(pd, NULL);
    return ret;
}
