/* engine.c: the public face of the engine: load, compile per batch size, run.
 *
 * A model is compiled for batch 1 at load, so that every error a model can
 * cause shows up then, not on the first frame; other batch sizes compile on
 * first use and share the weights already reordered.  The backend that
 * compiles and runs them (pick.c chooses it) is a table of functions
 * (backend.h): nothing here knows which library computes. */
#include "engine/engine.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/backend.h"
#include "engine/graph/ops.h"
#include "engine/graph/passes.h"
#include "engine/graph/quant.h"
#include "engine/import/import.h"
#include "engine/pick.h"

#define MAX_BATCH ENG_MAX_BATCH

struct eng_model {
    gr_graph *g;
    be_choice use;            /* the backend, its context, the precision and why */
    be_plan *plan[MAX_BATCH + 1];
    int fixed_batch;          /* > 0 when the file fixes the batch */
    int classifier;           /* one image in, one row of scores out per item */
    eng_info info;
    eng_options opt;
    model_meta meta;
    eng_labels *labels;       /* from the model's metadata */
    float lut[3][256];        /* byte -> normalised value, per channel */
    int calibrating;          /* every activation is an output (eng_calib) */
    int noutputs;             /* the model's own outputs, before calibration's */
};

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

void eng_options_init(eng_options *o)
{
    memset(o, 0, sizeof(*o));
    o->precision = ENG_PREC_FP32;
    o->order = ENG_ORDER_MODEL;
}

const char *eng_precision_name(eng_precision p)
{
    switch (p) {
    case ENG_PREC_FP32: return "fp32";
    case ENG_PREC_BF16: return "bf16";
    case ENG_PREC_INT8: return "int8";
    case ENG_PREC_FP16: return "fp16";
    default: return "auto";
    }
}

const char *eng_backend_name(eng_backend b)
{
    switch (b) {
    case ENG_BACKEND_ONEDNN: return "onednn";
    case ENG_BACKEND_XNNPACK: return "xnnpack";
    default: return "auto";
    }
}

static void set_threads(const eng_model *m)
{
    if (m->opt.threads > 0)
        omp_set_num_threads(m->opt.threads);
}

static int bind_inputs(gr_graph *g, const eng_options *o, char *err, size_t errlen)
{
    for (int i = 0; i < o->nbind; i++) {
        const eng_binding *b = &o->bind[i];
        int t = gr_tensor_get(g, b->name, 0), k;
        for (k = 0; k < g->ninputs && g->inputs[k] != t; k++)
            ;
        if (t < 0 || k == g->ninputs) {
            snprintf(err, errlen, "binding: the model has no input '%s'", b->name);
            return ENG_EINVAL;
        }
        int64_t n = gr_numel(b->ndim, b->dims);
        size_t es = gr_dtype_size(b->dtype);
        if (n < 0 || !es || b->ndim > G_MAX_DIMS) {
            snprintf(err, errlen, "binding '%s': bad shape or type", b->name);
            return ENG_EINVAL;
        }
        void *d = malloc((size_t)(n ? n : 1) * es);
        if (!d)
            return ENG_ENOMEM;
        memcpy(d, b->data, (size_t)n * es);
        gr_tensor_new_const(g, b->name, b->dtype, b->ndim, b->dims, d);
        g->t[t].is_input = 0;
        memmove(&g->inputs[k], &g->inputs[k + 1], sizeof(int) * (size_t)(g->ninputs - k - 1));
        g->ninputs--;
    }
    return 0;
}

/* Does output 0 come out of a Softmax (through views)? */
static int ends_in_softmax(const gr_graph *g)
{
    int t = g->outputs[0];
    for (int hops = 0; hops < 8; hops++) {
        int p = g->t[t].producer;
        if (p < 0)
            return 0;
        const gr_node *n = &g->n[p];
        if (n->op == OP_SOFTMAX)
            return 1;
        if (n->op != OP_RESHAPE && n->op != OP_FLATTEN && n->op != OP_SQUEEZE &&
            n->op != OP_IDENTITY)
            return 0;
        t = n->in[0];
    }
    return 0;
}

static void build_lut(eng_model *m)
{
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            m->lut[c][v] = ((float)v * m->info.scale - m->info.mean[c]) / m->info.std[c];
}

static int set_info(eng_model *m, const char *format, char *err, size_t errlen)
{
    const gr_graph *g = m->g;
    eng_info *in = &m->info;
    const gr_tensor *x = &g->t[g->inputs[0]], *y = &g->t[g->outputs[0]];
    const eng_options *o = &m->opt;

    in->format = format;
    in->ninputs = g->ninputs;
    in->noutputs = g->noutputs;
    if (x->ndim == 4) {
        in->channels = (int)x->dims[1];
        in->height = (int)x->dims[2];
        in->width = (int)x->dims[3];
    }
    m->fixed_batch = x->dims[0] > 0 ? (int)x->dims[0] : 0;
    /* A classifier keeps the batch as the output's first dimension; other
     * graphs (operator tests) are run whole through eng_run_tensors. */
    int64_t per = 1;
    int batched = y->ndim >= 1 && y->dims[0] == x->dims[0];
    for (int i = batched ? 1 : 0; i < y->ndim; i++)
        per *= y->dims[i];
    in->classes = (int)per;
    m->classifier = x->ndim == 4 && batched;
    in->ends_in_softmax = ends_in_softmax(g);

    const model_meta *mm = &m->meta;
    for (int c = 0; c < 3; c++) {
        in->mean[c] = o->std[0] > 0 ? o->mean[c] : mm->have_norm ? mm->mean[c] : imagenet_mean[c];
        in->std[c] = o->std[0] > 0 ? o->std[c] : mm->have_norm ? mm->std[c] : imagenet_std[c];
        if (!(in->std[c] > 0)) {
            snprintf(err, errlen, "std[%d] must be > 0", c);
            return ENG_EINVAL;
        }
    }
    in->scale = o->scale > 0 ? o->scale : mm->have_norm && mm->scale > 0 ? mm->scale : 1.0f / 255;
    in->order = o->order >= 0 ? o->order : mm->order >= 0 ? (eng_order)mm->order : ENG_ORDER_RGB;
    in->resize = o->resize ? o->resize : mm->resize ? (eng_resize)mm->resize : ENG_RESIZE_SHORT_CROP;
    build_lut(m);
    return 0;
}

/* Compiles the plan for this batch size on first use.  Sets this thread's
 * team size either way: the backends' input conversion, which comes next,
 * splits its work over the same team as the plan's layers. */
static int ensure_plan(eng_model *m, int batch, char *err, size_t errlen)
{
    set_threads(m);
    if (batch < 1 || batch > MAX_BATCH || (m->fixed_batch && batch != m->fixed_batch)) {
        snprintf(err, errlen, "batch %d not allowed (%s %d)", batch,
                 m->fixed_batch ? "the model fixes it at" : "at most",
                 m->fixed_batch ? m->fixed_batch : MAX_BATCH);
        return ENG_EINVAL;
    }
    if (m->plan[batch])
        return 0;
    return m->use.be->compile(&m->plan[batch], m->use.ctx, m->g, batch, m->use.prec, err, errlen);
}

static int run_plan(eng_model *m, int batch, char *err, size_t errlen)
{
    set_threads(m);
    return m->use.be->run(m->plan[batch], err, errlen);
}

static const float *plan_output(eng_model *m, int batch, int i)
{
    return m->use.be->output(m->plan[batch], i);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void eng_calib_default_path(const char *model, char *buf, size_t len)
{
    if (is_dir(model))
        snprintf(buf, len, "%s/inference.calib", model);
    else
        snprintf(buf, len, "%s.calib", model);
}

/* Calibration reads every activation: make each one a graph output (after
 * fusion, so that the tensors are the ones an int8 plan quantises). */
static int expose_activations(gr_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nn; i++)
        n += g->n[i].dead ? 0 : g->n[i].nout;
    int *o = realloc(g->outputs, sizeof(int) * (size_t)(g->noutputs + n + 1));
    if (!o)
        return ENG_ENOMEM;
    g->outputs = o;
    for (int i = 0; i < g->nn; i++)
        for (int k = 0; !g->n[i].dead && k < g->n[i].nout; k++) {
            int t = g->n[i].out[k];
            if (t < 0 || g->t[t].is_output || g->t[t].dtype != G_F32 || gr_is_const(g, t))
                continue;
            g->t[t].is_output = 1;
            g->outputs[g->noutputs++] = t;
        }
    gr_recount(g);
    return 0;
}

static int load(eng_model **out, const eng_options *opt, const char *path, int calibrating,
                char *err, size_t errlen);

int eng_load(eng_model **out, const eng_options *opt, const char *path, char *err, size_t errlen)
{
    return load(out, opt, path, 0, err, errlen);
}

static int load(eng_model **out, const eng_options *opt, const char *path, int calibrating,
                char *err, size_t errlen)
{
    eng_model *m = calloc(1, sizeof(*m));
    const char *format = "onnx";
    int ret;

    *out = NULL;
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    if (opt)
        m->opt = *opt;
    else
        eng_options_init(&m->opt);
    m->meta.order = -1;
    if (is_dir(path)) {
        ret = paddle_load_dir(&m->g, &m->meta, path, err, errlen);
    } else {
        ret = onnx_load_file(&m->g, path, err, errlen);
    }
    if (ret < 0)
        goto fail;
    if ((ret = bind_inputs(m->g, &m->opt, err, errlen)) < 0)
        goto fail;
    if (m->g->ninputs < 1) {
        snprintf(err, errlen, "%s: no input left to feed", path);
        ret = ENG_EINVAL;
        goto fail;
    }
    if ((ret = gr_infer(m->g, err, errlen)) < 0 || (ret = gr_fuse(m->g, err, errlen)) < 0)
        goto prefixed;
    if (m->meta.format)
        format = m->meta.format;
    if ((ret = set_info(m, format, err, errlen)) < 0)
        goto prefixed;

    m->noutputs = m->g->noutputs;
    m->calibrating = calibrating;
    if (calibrating) {
        m->opt.precision = ENG_PREC_FP32;
        if ((ret = expose_activations(m->g)) < 0)
            goto fail;
    }
    if ((ret = be_pick(&m->use, m->g, &m->opt, path, m->fixed_batch ? m->fixed_batch : 1,
                       calibrating, err, errlen)) < 0)
        goto prefixed;
    m->info.precision = be_prec_public(m->use.prec);
    m->info.precision_reason = m->use.reason;
    m->info.isa = eng_cpu_isa();
    m->info.backend = eng_backend_name(m->use.backend);
    m->info.backend_reason = m->use.breason;
    if ((ret = ensure_plan(m, m->fixed_batch ? m->fixed_batch : 1, err, errlen)) < 0)
        goto prefixed;
    if (m->meta.nlabels) {
        if ((ret = eng_labels_from_list(&m->labels, m->meta.labels, m->meta.nlabels)) < 0)
            goto fail;
    }
    *out = m;
    return 0;
prefixed:
    {
        /* name the file: the pass said which node */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", path, tmp);
    }
fail:
    eng_free(m);
    return ret;
}

void eng_free(eng_model *m)
{
    if (!m)
        return;
    for (int i = 0; m->use.be && i <= MAX_BATCH; i++)
        m->use.be->free(m->plan[i]);
    if (m->use.be)
        m->use.be->ctx_free(m->use.ctx);
    gr_free(m->g);
    model_meta_free(&m->meta);
    eng_labels_free(m->labels);
    free(m);
}

const eng_info *eng_get_info(const eng_model *m)
{
    return &m->info;
}

static int tensor_info(const gr_graph *g, int t, eng_tensor_info *ti)
{
    const gr_tensor *x = &g->t[t];
    ti->name = x->name;
    ti->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        ti->dims[i] = x->dims[i] == G_BATCH ? -1 : x->dims[i];
    return 0;
}

int eng_input_info(const eng_model *m, int i, eng_tensor_info *ti)
{
    if (i < 0 || i >= m->g->ninputs)
        return ENG_EINVAL;
    return tensor_info(m->g, m->g->inputs[i], ti);
}

int eng_output_info(const eng_model *m, int i, eng_tensor_info *ti)
{
    if (i < 0 || i >= m->g->noutputs)
        return ENG_EINVAL;
    return tensor_info(m->g, m->g->outputs[i], ti);
}

static int64_t per_item(const gr_graph *g, int t)
{
    const gr_tensor *x = &g->t[t];
    int64_t n = 1;
    for (int i = x->dims[0] == G_BATCH ? 1 : 0; i < x->ndim; i++)
        n *= x->dims[i];
    return n;
}

int eng_run_tensors(eng_model *m, int batch, const float *const *in, float *const *out,
                    char *err, size_t errlen)
{
    int b = m->fixed_batch ? m->fixed_batch : batch;
    int ret = ensure_plan(m, b, err, errlen);
    if (ret < 0)
        return ret;
    const gr_graph *g = m->g;
    for (int i = 0; i < g->ninputs; i++)
        m->use.be->put_tensor(m->plan[b], i, in[i]);
    if ((ret = run_plan(m, b, err, errlen)) < 0)
        return ret;
    for (int i = 0; i < m->noutputs; i++) {
        int t = g->outputs[i];
        int64_t n = per_item(g, t) * (g->t[t].dims[0] == G_BATCH ? b : 1);
        memcpy(out[i], plan_output(m, b, i), sizeof(float) * (size_t)n);
    }
    return 0;
}

int eng_run_pixels(eng_model *m, const uint8_t *const *frames, const int *stride, int n,
                   float *out, char *err, size_t errlen)
{
    if (!m->classifier || m->info.channels != 3 || m->g->ninputs != 1) {
        snprintf(err, errlen, "the model does not take one 3-channel image input");
        return ENG_EINVAL;
    }
    int chunk = m->fixed_batch ? m->fixed_batch : MAX_BATCH;
    for (int done = 0; done < n;) {
        int b = n - done < chunk ? n - done : chunk, run = m->fixed_batch ? m->fixed_batch : b;
        int ret = ensure_plan(m, run, err, errlen);
        if (ret < 0)
            return ret;
        for (int i = 0; i < b; i++)
            m->use.be->put_pixels(m->plan[run], i, frames[done + i], stride[done + i],
                                  (const float (*)[256])m->lut);
        if ((ret = run_plan(m, run, err, errlen)) < 0)
            return ret;
        memcpy(out + (size_t)done * (size_t)m->info.classes, plan_output(m, run, 0),
               sizeof(float) * (size_t)b * (size_t)m->info.classes);
        done += b;
    }
    return 0;
}

void eng_probs(const eng_model *m, const float *raw, int n, float *probs)
{
    int k = m->info.classes;
    for (int i = 0; i < n; i++) {
        const float *r = raw + (size_t)i * (size_t)k;
        float *p = probs + (size_t)i * (size_t)k;
        if (m->info.ends_in_softmax) {
            memcpy(p, r, sizeof(float) * (size_t)k);
            continue;
        }
        float mx = r[0], sum = 0;
        for (int c = 1; c < k; c++)
            if (r[c] > mx)
                mx = r[c];
        for (int c = 0; c < k; c++)
            sum += (p[c] = expf(r[c] - mx));
        for (int c = 0; c < k; c++)
            p[c] /= sum;
    }
}

int eng_topk(const float *scores, int classes, int k, eng_top *top)
{
    int n = 0;
    if (k > classes)
        k = classes;
    /* insertion into a short sorted list: k is small, classes up to ~10^4 */
    for (int c = 0; c < classes; c++) {
        float s = scores[c];
        if (n == k && !(s > top[n - 1].score))
            continue;
        int i = n < k ? n++ : k - 1;
        while (i > 0 && s > top[i - 1].score) {
            top[i] = top[i - 1];
            i--;
        }
        top[i] = (eng_top){ c, s };
    }
    return n;
}

eng_labels *eng_model_labels(eng_model *m)
{
    return m->labels;
}

int eng_prepare(eng_model *m, int max_batch, char *err, size_t errlen)
{
    for (int b = 1; b <= max_batch && b <= MAX_BATCH; b++) {
        if (m->fixed_batch && b != m->fixed_batch)
            continue;
        int ret = ensure_plan(m, b, err, errlen);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int eng_plan_stats(eng_model *m, int batch, int *steps, int *reorders, size_t *arena, char *err,
                   size_t errlen)
{
    be_stats s;
    int ret = ensure_plan(m, batch, err, errlen);
    if (ret < 0)
        return ret;
    m->use.be->stats(m->plan[batch], &s);
    *steps = s.steps;
    *reorders = s.reorders;
    *arena = s.arena;
    return 0;
}

void eng_plan_dump(eng_model *m, int batch, void (*line)(void *, const char *), void *arg)
{
    char err[256];
    if (ensure_plan(m, batch, err, sizeof err) < 0)
        return;
    m->use.be->dump(m->plan[batch], line, arg);
}

int eng_plan_time_steps(eng_model *m, int batch, const double **ms, char *err, size_t errlen)
{
    int ret = ensure_plan(m, batch, err, errlen);
    if (ret < 0)
        return ret;
    if (!m->use.be->time_steps) {
        snprintf(err, errlen, "step times: the %s backend does not time its steps",
                 eng_backend_name(m->use.backend));
        return ENG_EUNSUP;
    }
    ret = m->use.be->time_steps(m->plan[batch], ms);
    if (ret < 0)
        snprintf(err, errlen, "out of memory for step times");
    return ret;
}

/* ---------------------------------------------------------- calibration */

struct eng_calib {
    eng_model *m;
    int frames;
    q_hist *h;                /* per graph output (the model's own first), then the input */
    float **chmax;            /* the same tensors: largest magnitude in each channel */
    int *nch;
    int n;
};

static int tensor_channels(const gr_graph *g, int t)
{
    const gr_tensor *x = &g->t[t];
    return x->ndim >= 2 && x->dims[1] > 0 ? (int)x->dims[1] : 1;
}

/* NCHW values of one or more items: each channel's largest magnitude */
static void chmax_add(float *mx, int c, const float *v, int64_t n)
{
    int64_t hw = n / c;
    if (hw <= 0)
        return;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(v[i]);
        int k = (int)(i / hw % c);
        if (a > mx[k])
            mx[k] = a;
    }
}

int eng_calib_new(eng_calib **out, const eng_options *opt, const char *path, char *err,
                  size_t errlen)
{
    eng_calib *c = calloc(1, sizeof(*c));
    int ret;
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    if ((ret = load(&c->m, opt, path, 1, err, errlen)) < 0) {
        free(c);
        return ret;
    }
    if (!c->m->classifier || c->m->info.channels != 3) {
        snprintf(err, errlen, "%s: calibration takes a model with one 3-channel image input", path);
        eng_calib_free(c);
        return ENG_EINVAL;
    }
    const gr_graph *g = c->m->g;
    c->n = g->noutputs + 1;         /* and the input, last */
    c->h = malloc(sizeof(q_hist) * (size_t)c->n);
    c->chmax = calloc((size_t)c->n, sizeof(float *));
    c->nch = calloc((size_t)c->n, sizeof(int));
    for (int i = 0; c->h && c->chmax && c->nch && i < c->n; i++) {
        c->nch[i] = tensor_channels(g, i < g->noutputs ? g->outputs[i] : g->inputs[0]);
        if (!(c->chmax[i] = calloc((size_t)c->nch[i], sizeof(float))))
            break;
        q_hist_init(&c->h[i]);
    }
    if (!c->h || !c->chmax || !c->nch || !c->chmax[c->n - 1]) {
        eng_calib_free(c);
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    /* The input's range is every value a pixel can take, seen or not. */
    for (int ch = 0; ch < 3; ch++) {
        q_hist_add(&c->h[c->n - 1], c->m->lut[ch], 256);
        chmax_add(&c->chmax[c->n - 1][ch], 1, c->m->lut[ch], 256);
    }
    *out = c;
    return 0;
}

const eng_info *eng_calib_info(const eng_calib *c)
{
    return &c->m->info;
}

int eng_calib_add(eng_calib *c, const uint8_t *frame, int stride, char *err, size_t errlen)
{
    eng_model *m = c->m;
    int b = m->fixed_batch ? m->fixed_batch : 1;
    int ret = ensure_plan(m, b, err, errlen);
    if (ret < 0)
        return ret;
    m->use.be->put_pixels(m->plan[b], 0, frame, stride, (const float (*)[256])m->lut);
    if ((ret = run_plan(m, b, err, errlen)) < 0)
        return ret;
    const gr_graph *g = m->g;
    for (int i = 0; i < g->noutputs; i++) {
        const float *y = m->use.be->output(m->plan[b], i);
        int64_t n = per_item(g, g->outputs[i]) * (gr_has_batch(&g->t[g->outputs[i]]) ? b : 1);
        q_hist_add(&c->h[i], y, n);
        chmax_add(c->chmax[i], c->nch[i], y, n);
    }
    c->frames++;
    return 0;
}

int eng_calib_save(eng_calib *c, const char *path, const char *model, char *err, size_t errlen)
{
    const gr_graph *g = c->m->g;
    const char **names = malloc(sizeof(char *) * (size_t)c->n);
    float *lo = malloc(sizeof(float) * (size_t)c->n), *hi = malloc(sizeof(float) * (size_t)c->n);
    if (!names || !lo || !hi) {
        free(lo);
        free(hi);
        free(names);
        snprintf(err, errlen, "out of memory");
        return ENG_ENOMEM;
    }
    if (!c->frames) {
        free(lo);
        free(hi);
        free(names);
        snprintf(err, errlen, "no frames were calibrated");
        return ENG_EINVAL;
    }
    for (int i = 0; i < g->noutputs; i++)
        names[i] = g->t[g->outputs[i]].name;
    names[c->n - 1] = g->t[g->inputs[0]].name;
    for (int i = 0; i < c->n; i++)
        q_hist_range(&c->h[i], &lo[i], &hi[i]);
    /* the input keeps every value a pixel can take */
    lo[c->n - 1] = c->h[c->n - 1].lo;
    hi[c->n - 1] = c->h[c->n - 1].hi;
    int ret = q_calib_save(path, model, c->frames, names, lo, hi, (const float *const *)c->chmax,
                           c->nch, c->n, err, errlen);
    free(lo);
    free(hi);
    free(names);
    return ret;
}

void eng_calib_free(eng_calib *c)
{
    if (!c)
        return;
    eng_free(c->m);
    free(c->h);
    for (int i = 0; c->chmax && i < c->n; i++)
        free(c->chmax[i]);
    free(c->chmax);
    free(c->nch);
    free(c);
}
