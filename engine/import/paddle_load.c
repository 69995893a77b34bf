/* paddle_load.c: PaddlePaddle inference folders to graphs.
 *
 * A folder holds the program (inference.json, Paddle 3's PIR; or
 * inference.pdmodel, Paddle 2.x's ProgramDesc), the weights
 * (inference.pdiparams) and optionally inference.yml (preprocessing,
 * labels).  The program is read into a pd_prog by its front end, the
 * weights are matched to its parameters by name order and shape, and the
 * ops become graph nodes (paddle_ops.c).  Nothing here runs Paddle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "engine/import/paddle.h"

void model_meta_free(model_meta *m)
{
    for (int i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    m->labels = NULL;
    m->nlabels = 0;
}

/* ------------------------------------------------------------ to graph */

static int add_feed(pd_map *m, int v, char *err, size_t errlen)
{
    const pd_var *x = &m->p->v[v];
    gr_graph *g = m->g;
    if (m->vt[v] >= 0)
        return 0;                      /* fed twice: one input */
    if (x->ndim < 1) {
        snprintf(err, errlen, "feed '%.120s' has no declared shape", x->name);
        return ENG_EMODEL;
    }
    if (x->dtype && x->dtype != G_F32) {
        snprintf(err, errlen, "feed '%.120s' is %s; only float32 inputs are supported", x->name,
                 gr_dtype_name(x->dtype));
        return ENG_EUNSUP;
    }
    int t = gr_tensor_get(g, x->name, 0);
    if (t >= 0) {
        snprintf(err, errlen, "feed '%.120s': the name is taken by a parameter or another feed", x->name);
        return ENG_EMODEL;
    }
    if ((t = gr_tensor_get(g, x->name, 1)) < 0)
        return ENG_ENOMEM;
    gr_tensor *gt = &g->t[t];
    gt->is_input = 1;
    gt->dtype = G_F32;
    gt->ndim = x->ndim;
    gt->known = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] > 0) {
            gt->dims[i] = x->dims[i];
        } else if (i == 0) {
            gt->dims[i] = G_BATCH;
        } else {
            snprintf(err, errlen, "feed '%.120s': dim %d is not a fixed size (%lld); only the "
                     "batch (dim 0) may vary", x->name, i, (long long)x->dims[i]);
            return ENG_EMODEL;
        }
    }
    int b = gt->dims[0] == G_BATCH;
    if (gr_numel(gt->ndim - b, gt->dims + b) < 0) {
        snprintf(err, errlen, "feed '%.120s' is too large", x->name);
        return ENG_EMODEL;
    }
    if (pd_list_add(&g->inputs, &g->ninputs, t) < 0)
        return ENG_ENOMEM;
    m->vt[v] = t;
    return 0;
}

/* Parameters: read in file order, each becomes a constant tensor. */
static int add_params(pd_map *m, const uint8_t *buf, size_t len, const char *file,
                      char *err, size_t errlen)
{
    pd_prog *p = m->p;
    int n = 0, ret = ENG_ENOMEM;
    for (int i = 0; i < p->nv; i++)
        n += p->v[i].param;
    size_t cnt = (size_t)(n ? n : 1);
    pd_param *par = calloc(cnt, sizeof *par);
    int *which = calloc(cnt, sizeof(int)), *nd = calloc(cnt, sizeof(int));
    float **data = calloc(cnt, sizeof(float *));
    int64_t (*dims)[G_MAX_DIMS] = calloc(cnt, sizeof *dims);
    if (!par || !which || !nd || !data || !dims) {
        snprintf(err, errlen, "out of memory");
        goto end;
    }
    for (int i = 0, k = 0; i < p->nv; i++) {
        const pd_var *v = &p->v[i];
        if (!v->param)
            continue;
        par[k].name = v->name;
        par[k].alt = v->full;
        par[k].ndim = v->ndim;
        par[k].dims = v->dims;
        which[k++] = i;
    }
    if ((ret = pd_params_read(buf, len, file, par, n, data, nd, dims, err, errlen)) < 0)
        goto end;
    for (int k = 0; k < n; k++) {
        const pd_var *v = &p->v[which[k]];
        if (v->dtype && v->dtype != G_F32) {
            snprintf(err, errlen, "%s: parameter '%.120s': the program declares it %s; only "
                     "float32 weights are supported", file, v->name, gr_dtype_name(v->dtype));
            ret = ENG_EUNSUP;
            goto end;
        }
        if (gr_tensor_get(m->g, v->name, 0) >= 0) {
            snprintf(err, errlen, "%s: parameter '%.120s' defined twice", file, v->name);
            ret = ENG_EMODEL;
            goto end;
        }
        int t = gr_tensor_new_const(m->g, v->name, G_F32, nd[k], dims[k], data[k]);
        if (t < 0) {
            snprintf(err, errlen, "out of memory");
            ret = ENG_ENOMEM;
            goto end;
        }
        data[k] = NULL;
        m->vt[which[k]] = t;
        m->budget += gr_tensor_numel(&m->g->t[t]);
    }
    ret = 0;
end:
    for (int k = 0; data && k < n; k++)
        free(data[k]);
    free(par);
    free(which);
    free(nd);
    free(data);
    free(dims);
    return ret;
}

static int build(gr_graph *g, pd_prog *p, const uint8_t *params, size_t parlen, const char *pfile,
                 char *err, size_t errlen, int *in_prog)
{
    pd_map m = { p, g, NULL, (int64_t)1 << 24 };
    int ret;
    *in_prog = 1;
    if (!(m.vt = malloc(sizeof(int) * (size_t)(p->nv ? p->nv : 1)))) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    for (int i = 0; i < p->nv; i++)
        m.vt[i] = -1;
    g->opset = 13;
    if (p->nfeeds == 0) {
        snprintf(err, errlen, "the program has no feed (data) op: no input");
        ret = ENG_EMODEL;
        goto end;
    }
    if (p->nfetches == 0) {
        snprintf(err, errlen, "the program has no fetch op: no output");
        ret = ENG_EMODEL;
        goto end;
    }
    if (p->nfetches > 16) {
        snprintf(err, errlen, "the program has %d fetch ops", p->nfetches);
        ret = ENG_EMODEL;
        goto end;
    }
    *in_prog = 0;
    if ((ret = add_params(&m, params, parlen, pfile, err, errlen)) < 0)
        goto end;
    *in_prog = 1;
    for (int i = 0; i < p->nfeeds; i++)
        if ((ret = add_feed(&m, p->feeds[i], err, errlen)) < 0)
            goto end;
    for (int i = 0; i < p->nop; i++)
        if ((ret = pd_map_op(&m, &p->op[i], err, errlen)) < 0)
            goto end;
    if (!(g->outputs = malloc(sizeof(int) * (size_t)p->nfetches))) {
        ret = ENG_ENOMEM;
        goto end;
    }
    for (int i = 0; i < p->nfetches; i++) {
        int t = m.vt[p->fetches[i]];
        if (t < 0) {
            snprintf(err, errlen, "fetch '%.120s' is produced by no op", p->v[p->fetches[i]].name);
            ret = ENG_EMODEL;
            goto end;
        }
        g->t[t].is_output = 1;
        g->outputs[g->noutputs++] = t;
    }
    ret = 0;
end:
    free(m.vt);
    return ret;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Loads from memory; names[] are the three files' paths for messages. */
static int load_mem(gr_graph **out, model_meta *meta, int kind, const uint8_t *prog, size_t plen,
                    const uint8_t *params, size_t parlen, const uint8_t *yml, size_t ylen,
                    const char *const names[3], char *err, size_t errlen)
{
    pd_prog p;
    gr_graph *g = NULL;
    char e[600] = "";
    int ret, in_prog = 1;

    memset(&p, 0, sizeof p);
    *out = NULL;
    p.file = base(names[0]);
    if (yml && (ret = pd_yml_parse(meta, yml, ylen, names[2], err, errlen)) < 0)
        return ret;
    if (plen > PD_MAX_PROGRAM) {
        snprintf(err, errlen, "%s: %zu bytes, more than the %zu a program may have", names[0],
                 plen, PD_MAX_PROGRAM);
        return ENG_EMODEL;
    }
    ret = kind == 0 ? pd_pir_parse(&p, prog, plen, e, sizeof e) : pd_pdmodel_parse(&p, prog, plen, e, sizeof e);
    if (ret < 0)
        goto end;
    if (!(g = gr_new())) {
        snprintf(e, sizeof e, "out of memory");
        ret = ENG_ENOMEM;
        goto end;
    }
    if ((ret = build(g, &p, params, parlen, names[1], e, sizeof e, &in_prog)) < 0)
        goto end;
    *out = g;
    g = NULL;
end:
    if (ret < 0) {
        if (in_prog)
            snprintf(err, errlen, "%s: %s", names[0], e);
        else
            snprintf(err, errlen, "%s", e);   /* names the weights file itself */
    }
    gr_free(g);
    pd_prog_free(&p);
    return ret;
}

int paddle_load_mem(gr_graph **out, model_meta *meta, int kind, const uint8_t *prog, size_t plen,
                    const uint8_t *params, size_t parlen, const uint8_t *yml, size_t ylen,
                    const char *dir, char *err, size_t errlen)
{
    char n[3][600];
    const char *names[3] = { n[0], n[1], n[2] };
    snprintf(n[0], sizeof n[0], "%s/inference.%s", dir, kind == 0 ? "json" : "pdmodel");
    snprintf(n[1], sizeof n[1], "%s/inference.pdiparams", dir);
    snprintf(n[2], sizeof n[2], "%s/inference.yml", dir);
    return load_mem(out, meta, kind, prog, plen, params, parlen, yml, ylen, names, err, errlen);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int paddle_load_dir(gr_graph **out, model_meta *meta, const char *dir, char *err, size_t errlen)
{
    char n[3][600];
    const char *names[3] = { n[0], n[1], n[2] };
    uint8_t *prog = NULL, *params = NULL, *yml = NULL;
    size_t plen = 0, parlen = 0, ylen = 0;
    int kind, ret;

    *out = NULL;
    snprintf(n[0], sizeof n[0], "%s/inference.json", dir);
    kind = 0;
    if (!exists(n[0])) {
        snprintf(n[0], sizeof n[0], "%s/inference.pdmodel", dir);
        kind = 1;
        if (!exists(n[0])) {
            snprintf(err, errlen, "%s: neither inference.json (Paddle 3) nor inference.pdmodel "
                     "(Paddle 2.x) is there: not a Paddle inference folder", dir);
            return ENG_EIO;
        }
    }
    snprintf(n[1], sizeof n[1], "%s/inference.pdiparams", dir);
    snprintf(n[2], sizeof n[2], "%s/inference.yml", dir);
    if ((ret = read_file(n[0], PD_MAX_PROGRAM, &prog, &plen, err, errlen)) < 0 ||
        (ret = read_file(n[1], LOADER_MAX_FILE, &params, &parlen, err, errlen)) < 0)
        goto end;
    /* inference.yml is optional: without it the engine's defaults apply */
    if (exists(n[2]) && (ret = read_file(n[2], PD_MAX_YML, &yml, &ylen, err, errlen)) < 0)
        goto end;
    ret = load_mem(out, meta, kind, prog, plen, params, parlen, yml, ylen, names, err, errlen);
    if (ret == 0)
        meta->format = kind == 0 ? "paddle-pir" : "paddle-pdmodel";
end:
    free(prog);
    free(params);
    free(yml);
    if (ret < 0)
        model_meta_free(meta);
    return ret;
}
