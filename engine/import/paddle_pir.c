/* paddle_pir.c: Paddle 3's PIR program (inference.json) to a pd_prog.
 *
 * The file is PIR's JSON serialisation:
 *   {"base_code": {"magic": "pir", "version": N, ...},
 *    "program": {"regions": [{"blocks": [{"args": [], "ops": [OP, ...]}]}]}}
 * An op is {"#": NAME, "I": [{"%": id}, ...], "O": [{"%": id, "TT": TYPE}, ...],
 * "A": [{"N": attr, "AT": {"#": kind, "D": value}}, ...]}, its name with the
 * dialect compressed to a number ("1.conv2d" is pd_op.conv2d, "0.x" builtin).
 * Values are numbered; id 0 is "none".  Parameters are the special op "p"
 * with A = [.., .., .., name] and a single result object, their names
 * suffixed _deepcopy_K.  "pd_op.data" is an input, "pd_op.fetch" an output.
 *
 * Inputs are given the 2.x slot names (batch_norm's x, mean, variance,
 * scale, bias become X, Mean, Variance, Scale, Bias) and ops the 2.x names,
 * so that paddle_ops.c maps one vocabulary. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/graph/ops.h"
#include "engine/import/paddle_prog.h"

typedef struct {
    const char *pir;        /* pd_op name, dialect prefix dropped */
    const char *type;       /* the 2.x name */
    const char *slots[5];   /* inputs by position */
} pir_op;

static const pir_op pir_ops[] = {
    { "conv2d", "conv2d", { "Input", "Filter" } },
    { "depthwise_conv2d", "depthwise_conv2d", { "Input", "Filter" } },
    { "batch_norm", "batch_norm", { "X", "Mean", "Variance", "Scale", "Bias" } },
    { "batch_norm_", "batch_norm", { "X", "Mean", "Variance", "Scale", "Bias" } },
    { "hardswish", "hard_swish", { "X" } },
    { "hardsigmoid", "hard_sigmoid", { "X" } },
    { "relu6", "relu6", { "X" } },
    { "pool2d", "pool2d", { "X", "KernelSize" } },
    { "add", "elementwise_add", { "X", "Y" } },
    { "add_", "elementwise_add", { "X", "Y" } },
    { "subtract", "elementwise_sub", { "X", "Y" } },
    { "multiply", "elementwise_mul", { "X", "Y" } },
    { "divide", "elementwise_div", { "X", "Y" } },
    { "flatten", "flatten_contiguous_range", { "X" } },
    { "reshape", "reshape2", { "X", "Shape" } },
    { "squeeze", "squeeze2", { "X", "Axes" } },
    { "unsqueeze", "unsqueeze2", { "X", "Axes" } },
    { "matmul", "matmul_v2", { "X", "Y" } },
    { "softmax", "softmax", { "X" } },
    { "dropout", "dropout", { "X", "Seed" } },
    { "scale", "scale", { "X", "ScaleTensor" } },
    { "full", "full", { "X" } },
    { "full_int_array", "full_int_array", { "X" } },
    { "assign", "assign", { "X" } },
};

static const char *const dialects[] = { "builtin", "pd_op", "cf", "custom_op", "dist_op" };

typedef struct {
    pd_prog *p;
    char *err;
    size_t errlen;
    int idx;
    char opname[96];
    /* value renames, applied once all ops are read */
    int *rn_var;
    char **rn_name;
    int nrn;
} pir;

static int pfail(pir *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pfail(pir *r, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(r->err, r->errlen, "op #%d (%s): ", r->idx, r->opname);
    if (k >= 0 && (size_t)k < r->errlen) {
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return ENG_EMODEL;
}

static int nomem(pir *r)
{
    pfail(r, "out of memory");
    return ENG_ENOMEM;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int as_int(const cJSON *j, int64_t *v)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double d = j->valuedouble;
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
        return -1;
    *v = (int64_t)d;
    return 0;
}

static const char *as_str(const cJSON *j)
{
    return cJSON_IsString(j) && j->valuestring ? j->valuestring : NULL;
}

/* A value's declared type: {"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [dims], ...]}. */
static void decl_type(pd_var *v, const cJSON *tt)
{
    static const struct { const char *n; int dt; } types[] = {
        { "0.t_f32", G_F32 }, { "0.t_f64", G_F64 }, { "0.t_f16", G_F16 }, { "0.t_bf16", G_BF16 },
        { "0.t_i8", G_I8 }, { "0.t_ui8", G_U8 }, { "0.t_i32", G_I32 }, { "0.t_i64", G_I64 },
        { "0.t_bool", G_BOOL },
    };
    const char *k = as_str(get(tt, "#"));
    const cJSON *d = get(tt, "D");
    v->ndim = -1;
    v->dtype = 0;
    if (!k || strcmp(k, "0.t_dtensor") != 0 || !cJSON_IsArray(d))
        return;
    const cJSON *e = d->child;
    const char *dt = e ? as_str(get(e, "#")) : NULL;
    for (size_t i = 0; dt && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].n, dt) == 0)
            v->dtype = types[i].dt;
    const cJSON *dims = e ? e->next : NULL, *x;
    if (!cJSON_IsArray(dims))
        return;
    int n = 0;
    cJSON_ArrayForEach(x, dims) {
        int64_t val;
        if (n >= G_MAX_DIMS || as_int(x, &val) < 0 || val < -1)
            return;
        v->dims[n++] = val;
    }
    v->ndim = n;
}

static int value_id(pir *r, const cJSON *j, int64_t *id)
{
    if (as_int(get(j, "%"), id) < 0)
        return pfail(r, "a value without a numeric id (\"%%\")");
    return 0;
}

static void id_name(char *buf, size_t len, int64_t id)
{
    snprintf(buf, len, "%%%lld", (long long)id);
}

/* The name of value j in nm: 1, or 0 for id 0 (none), or an error. */
static int value_name(pir *r, const cJSON *j, char *nm, size_t len)
{
    int64_t id = 0;
    int ret = value_id(r, j, &id);
    if (ret < 0)
        return ret;
    if (id == 0)
        return 0;
    id_name(nm, len, id);
    return 1;
}

/* A new result value; id 0 is a result nobody may use. */
static int new_value(pir *r, const cJSON *j, int *var)
{
    char nm[32];
    int ret = value_name(r, j, nm, sizeof nm);
    *var = -1;
    if (ret <= 0)
        return ret;
    if (pd_var_get(r->p, nm, 0) >= 0)
        return pfail(r, "value %s is defined twice", nm);
    if ((*var = pd_var_get(r->p, nm, 1)) < 0)
        return nomem(r);
    decl_type(&r->p->v[*var], get(j, "TT"));
    return 0;
}

/* An operand: an earlier op's result, or -1 for id 0 (none). */
static int use_value(pir *r, const cJSON *j, int *var)
{
    char nm[32];
    int ret = value_name(r, j, nm, sizeof nm);
    *var = -1;
    if (ret <= 0)
        return ret;
    if ((*var = pd_var_get(r->p, nm, 0)) < 0)
        return pfail(r, "input %s is not defined by an earlier op", nm);
    return 0;
}

static int rename_var(pir *r, int var, const char *name)
{
    char *s = strdup(name);
    if (!s || pd_list_add(&r->rn_var, &r->nrn, var) < 0) {
        free(s);
        return nomem(r);
    }
    char **v = realloc(r->rn_name, sizeof(char *) * (size_t)r->nrn);
    if (!v) {
        free(s);
        r->nrn--;
        return nomem(r);
    }
    r->rn_name = v;
    v[r->nrn - 1] = s;
    return 0;
}

/* ------------------------------------------------------------ attributes */

static int attr_kind_is(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(k, *list) == 0)
            return 1;
    return 0;
}

static const char *const int_kinds[] = { "0.a_i32", "0.a_i64", "0.a_index", NULL };
static const char *const float_kinds[] = { "0.a_f32", "0.a_f64", NULL };

static int add_attr(pir *r, pd_op *o, const char *name, const cJSON *at)
{
    const char *k = as_str(get(at, "#"));
    const cJSON *d = get(at, "D"), *x;
    int64_t iv;
    if (!k)
        return pfail(r, "attribute '%.60s' has no kind", name);
    if (!strcmp(name, "struct_name") || !strcmp(k, "1.a_place"))
        return 0;                      /* bookkeeping */
    pd_attr *a = pd_attr_add(o, name, PA_OTHER);
    if (!a)
        return o->nattrs >= PD_MAX_ATTRS ? pfail(r, "more than %d attributes", PD_MAX_ATTRS) : nomem(r);
    if (!strcmp(k, "0.a_bool")) {
        if (!cJSON_IsBool(d))
            return pfail(r, "attribute '%.60s' is not a bool", name);
        a->kind = PA_BOOL;
        a->i = cJSON_IsTrue(d);
        a->f = (double)a->i;
    } else if (attr_kind_is(k, int_kinds)) {
        if (as_int(d, &iv) < 0)
            return pfail(r, "attribute '%.60s' is not an integer", name);
        a->kind = PA_INT;
        a->i = iv;
        a->f = (double)iv;
    } else if (attr_kind_is(k, float_kinds) || !strcmp(k, "1.a_scalar")) {
        if (!strcmp(k, "1.a_scalar"))   /* [dtype, value] */
            d = cJSON_IsArray(d) && d->child ? d->child->next : NULL;
        if (cJSON_IsBool(d))
            a->f = cJSON_IsTrue(d);
        else if (cJSON_IsNumber(d))
            a->f = d->valuedouble;
        else
            return pfail(r, "attribute '%.60s' is not a number", name);
        a->kind = PA_FLOAT;
        if (as_int(d, &iv) == 0)
            a->i = iv;
    } else if (!strcmp(k, "0.a_str") || !strcmp(k, "1.a_dtype") || !strcmp(k, "1.a_layout")) {
        const char *s = as_str(d);
        if (!s)
            return pfail(r, "attribute '%.60s' is not a string", name);
        if (!(a->s = strdup(s)))
            return nomem(r);
        a->kind = PA_STR;
    } else if (!strcmp(k, "0.a_array") || !strcmp(k, "1.a_intarray")) {
        int n = 0, isint = 1, intarray = k[0] == '1';
        if (!cJSON_IsArray(d))
            return pfail(r, "attribute '%.60s' is not a list", name);
        cJSON_ArrayForEach(x, d) {
            if (++n > PD_MAX_LIST)
                return pfail(r, "attribute '%.60s' has more than %d values", name, PD_MAX_LIST);
        }
        if (!(a->ints = calloc((size_t)(n ? n : 1), sizeof(int64_t))) ||
            !(a->floats = calloc((size_t)(n ? n : 1), sizeof(double))))
            return nomem(r);
        n = 0;
        cJSON_ArrayForEach(x, d) {
            const cJSON *v = x;
            const char *ek = "0.a_i64";
            if (!intarray) {           /* elements are attributes themselves */
                ek = as_str(get(x, "#"));
                v = get(x, "D");
                if (!ek) {
                    a->kind = PA_OTHER;
                    return 0;
                }
            }
            if (!strcmp(ek, "0.a_bool") && cJSON_IsBool(v)) {
                a->ints[n] = cJSON_IsTrue(v);
                a->floats[n] = (double)a->ints[n];
            } else if ((attr_kind_is(ek, int_kinds) || attr_kind_is(ek, float_kinds)) && cJSON_IsNumber(v)) {
                a->floats[n] = v->valuedouble;
                if (as_int(v, &iv) == 0)
                    a->ints[n] = iv;
                else
                    isint = 0;
                if (attr_kind_is(ek, float_kinds))
                    isint = 0;
            } else {
                a->kind = PA_OTHER;    /* a list of strings or types: nothing we read */
                return 0;
            }
            n++;
        }
        a->n = n;
        a->kind = isint ? PA_INTS : PA_FLOATS;
    }
    return 0;
}

/* ----------------------------------------------------------------- ops */

static const char *attr_str(const cJSON *attrs, const char *name)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, attrs) {
        const char *n = as_str(get(x, "N"));
        if (n && strcmp(n, name) == 0)
            return as_str(get(get(x, "AT"), "D"));
    }
    return NULL;
}

/* Parameter names carry a _deepcopy_K suffix the weights file may not. */
static void strip_suffix(char *s)
{
    char *p = strstr(s, "_deepcopy_");
    while (p) {
        char *q = p + strlen("_deepcopy_");
        if (*q && strspn(q, "0123456789") == strlen(q)) {
            *p = 0;
            return;
        }
        p = strstr(p + 1, "_deepcopy_");
    }
}

static int param_op(pir *r, const cJSON *op, const char *pname)
{
    const cJSON *o = get(op, "O");
    if (cJSON_IsArray(o))
        o = o->child;
    if (!pname || !pname[0])
        return pfail(r, "a parameter without a name");
    if (!cJSON_IsObject(o))
        return pfail(r, "parameter '%.120s' has no result", pname);
    int v, ret = new_value(r, o, &v);
    if (ret < 0)
        return ret;
    if (v < 0)
        return pfail(r, "parameter '%.120s' has value id 0", pname);
    char *s = strdup(pname);
    if (!s)
        return nomem(r);
    strip_suffix(s);
    pd_var *pv = &r->p->v[v];
    pv->param = 1;
    if (!(pv->full = strdup(pname))) {
        free(s);
        return nomem(r);
    }
    ret = rename_var(r, v, s);
    free(s);
    return ret;
}

static const pir_op *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof pir_ops / sizeof pir_ops[0]; i++)
        if (strcmp(pir_ops[i].pir, name) == 0)
            return &pir_ops[i];
    return NULL;
}

/* An element-wise operator of the operator table (ops.h) by its Paddle name,
 * which PIR shares (an in-place variant adds '_'): its one input is X. */
static const gr_opdef *table_op(const char *name)
{
    char base[64];
    size_t n = strlen(name);
    if (n >= sizeof base)
        return NULL;
    memcpy(base, name, n + 1);
    if (n > 1 && base[n - 1] == '_')
        base[n - 1] = 0;
    return gr_op_paddle(base);
}

static int one_op(pir *r, const cJSON *op)
{
    const char *nm = as_str(get(op, "#"));
    const cJSON *ins = get(op, "I"), *outs = get(op, "O"), *attrs = get(op, "A"), *x;
    int ret;
    if (!nm)
        return pfail(r, "an op without a name (\"#\")");
    if (!strcmp(nm, "p")) {
        snprintf(r->opname, sizeof r->opname, "builtin.parameter");
        const cJSON *last = NULL;
        cJSON_ArrayForEach(x, attrs)
            last = x;
        return param_op(r, op, as_str(last));
    }
    /* the dialect: a number before the dot stands for its name */
    const char *dot = strchr(nm, '.'), *dialect = "", *short_nm = nm;
    if (dot) {
        size_t dl = (size_t)(dot - nm);
        for (size_t i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
            if (dl == 1 && nm[0] == (char)('0' + i))
                dialect = dialects[i];
        short_nm = dot + 1;
        if (!dialect[0])
            snprintf(r->opname, sizeof r->opname, "%.80s", nm);
        else
            snprintf(r->opname, sizeof r->opname, "%s.%.70s", dialect, short_nm);
    } else {
        snprintf(r->opname, sizeof r->opname, "%.80s", nm);
    }
    if ((ins && !cJSON_IsArray(ins)) || (outs && !cJSON_IsArray(outs)) || (attrs && !cJSON_IsArray(attrs)))
        return pfail(r, "\"I\", \"O\" and \"A\" must be lists");
    if (!strcmp(dialect, "builtin") && !strcmp(short_nm, "parameter"))
        return param_op(r, op, attr_str(attrs, "parameter_name"));
    int is_pd = !strcmp(dialect, "pd_op");
    if (is_pd && !strcmp(short_nm, "data")) {
        const char *name = attr_str(attrs, "name");
        int v;
        if (!name || !name[0] || !outs || !outs->child)
            return pfail(r, "a data op needs a name and a result");
        if ((ret = new_value(r, outs->child, &v)) < 0)
            return ret;
        if (v < 0)
            return pfail(r, "data '%.120s' has value id 0", name);
        if (pd_list_add(&r->p->feeds, &r->p->nfeeds, v) < 0)
            return pfail(r, "too many data ops");
        return rename_var(r, v, name);
    }
    if ((is_pd && !strcmp(short_nm, "fetch")) ||
        (!strcmp(dialect, "builtin") && !strcmp(short_nm, "shadow_output"))) {
        const char *name = attr_str(attrs, is_pd ? "name" : "output_name");
        int v;
        if (!name || !name[0] || !ins || !ins->child)
            return pfail(r, "a fetch needs a name and an input");
        if ((ret = use_value(r, ins->child, &v)) < 0)
            return ret;
        if (v < 0)
            return pfail(r, "fetch '%.120s' of value id 0", name);
        if (pd_list_add(&r->p->fetches, &r->p->nfetches, v) < 0)
            return pfail(r, "too many fetch ops");
        /* the output keeps the name the program gives it, unless that value is
         * already named (a parameter or an input fetched as it is) */
        for (int i = 0; i < r->nrn; i++)
            if (r->rn_var[i] == v)
                return 0;
        return rename_var(r, v, name);
    }
    const pir_op *po = is_pd ? find_op(short_nm) : NULL;
    const gr_opdef *row = is_pd && !po ? table_op(short_nm) : NULL;
    pd_op *o = pd_op_add(r->p, po ? po->type : row ? row->paddle : r->opname, r->opname, r->idx);
    if (!o)
        return r->p->nop >= G_MAX_NODES ? pfail(r, "more than %d ops", G_MAX_NODES) : nomem(r);
    int k = 0;
    cJSON_ArrayForEach(x, ins) {
        char slot[16];
        const char *sn = po && k < 5 && po->slots[k] ? po->slots[k] : row && k == 0 ? "X" : NULL;
        if (!sn) {
            snprintf(slot, sizeof slot, "In%d", k);
            sn = slot;
        }
        pd_slot *s = pd_slot_add(o, 0, sn, 1);
        if (!s)
            return o->nin >= PD_MAX_ARGS ? pfail(r, "more than %d inputs", PD_MAX_ARGS) : nomem(r);
        if ((ret = use_value(r, x, &s->v[0])) < 0)
            return ret;
        k++;
    }
    k = 0;
    cJSON_ArrayForEach(x, outs) {
        char slot[16];
        snprintf(slot, sizeof slot, "Out%d", k);
        pd_slot *s = pd_slot_add(o, 1, slot, 1);
        if (!s)
            return o->nout >= PD_MAX_ARGS ? pfail(r, "more than %d results", PD_MAX_ARGS) : nomem(r);
        if ((ret = new_value(r, x, &s->v[0])) < 0)
            return ret;
        if (k == 0)
            o->out0 = s->v[0];
        k++;
    }
    cJSON_ArrayForEach(x, attrs) {
        const char *an = as_str(get(x, "N"));
        if (!an)
            return pfail(r, "an attribute without a name (\"N\")");
        if ((ret = add_attr(r, o, an, get(x, "AT"))) < 0)
            return ret;
    }
    return 0;
}

static void where(const uint8_t *buf, size_t len, const char *end, size_t *off, int *line)
{
    *off = end && end >= (const char *)buf && end <= (const char *)buf + len ?
           (size_t)(end - (const char *)buf) : 0;
    *line = 1;
    for (size_t i = 0; i < *off; i++)
        *line += buf[i] == '\n';
}

int pd_pir_parse(pd_prog *p, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
    pir r = { p, err, errlen, -1, "", NULL, NULL, 0 };
    int ret = ENG_EMODEL;

    p->format = "paddle-pir";
    if (!root) {
        size_t off;
        int line;
        where(buf, len, end, &off, &line);
        snprintf(err, errlen, "not valid JSON: syntax error at byte %zu of %zu (line %d)", off, len,
                 line);
        return ENG_EMODEL;
    }
    const cJSON *bc = get(root, "base_code"), *x;
    const char *magic = as_str(get(bc, "magic"));
    if (!magic || strcmp(magic, "pir") != 0) {
        snprintf(err, errlen, "not a PIR program: base_code.magic is %s", magic ? "not \"pir\"" : "absent");
        goto end;
    }
    const cJSON *regions = get(get(root, "program"), "regions");
    if (!cJSON_IsArray(regions) || !regions->child || regions->child->next) {
        snprintf(err, errlen, "program.regions must be a list of one region");
        goto end;
    }
    const cJSON *blocks = get(regions->child, "blocks");
    if (!cJSON_IsArray(blocks) || !blocks->child || blocks->child->next) {
        snprintf(err, errlen, "the program's region must hold one block (control flow is unsupported)");
        goto end;
    }
    const cJSON *ops = get(blocks->child, "ops");
    if (!cJSON_IsArray(ops)) {
        snprintf(err, errlen, "the block has no \"ops\" list");
        goto end;
    }
    r.idx = 0;
    cJSON_ArrayForEach(x, ops) {
        if (r.idx >= G_MAX_NODES) {
            snprintf(err, errlen, "more than %d ops", G_MAX_NODES);
            goto end;
        }
        r.opname[0] = 0;
        if (!cJSON_IsObject(x)) {
            ret = pfail(&r, "not an object");
            goto end;
        }
        if ((ret = one_op(&r, x)) < 0)
            goto end;
        r.idx++;
    }
    /* values take the names the program gives them: parameters, data, fetch */
    for (int i = 0; i < r.nrn; i++) {
        pd_var *v = &p->v[r.rn_var[i]];
        free(v->name);
        v->name = r.rn_name[i];
        r.rn_name[i] = NULL;
    }
    free(p->hash);                    /* names changed; lookups are over */
    p->hash = NULL;
    p->hcap = 0;
    ret = 0;
end:
    for (int i = 0; i < r.nrn; i++)
        free(r.rn_name[i]);
    free(r.rn_name);
    free(r.rn_var);
    cJSON_Delete(root);
    return ret;
}
