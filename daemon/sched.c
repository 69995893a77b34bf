/* sched.c: the inference thread.  See sched.h.
 *
 * DESIGN: streams register their sources here, each a (stream, region,
 * model) with its own queue.  The thread sleeps on a condition until some
 * source has a frame (or 200 ms pass, to beat its heartbeat).  Then, from
 * the source after the one served first last time (round robin: no source
 * starves), the first with a frame picks the model, and the batch takes the
 * oldest queued frame of up to max_batch sources of that model: one engine
 * call per model, never a mixed batch.  Each frame's scores go through the
 * publish rule (rule.h) to a label event.  Removal waits for the batch in
 * flight, so a stream's buffers are never freed under the engine.
 *
 * The models load on the thread itself, one after the other.  sch_start
 * waits for them (start-up has nothing else to do); a reload uses
 * sch_spawn and polls sch_loaded so the event loop goes on meanwhile, and a
 * scheduler stopped while it still loads is left to free itself, since its
 * load may never return. */
#include "daemon/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/decide.h"
#include "daemon/evq.h"
#include "daemon/log.h"
#include "daemon/sink.h"
#include "daemon/snapshot.h"
#include "daemon/util.h"

/* Sources the table holds: the config refuses more. */
#define MAX_SOURCES CFG_SOURCES_MAX

/* max_batch comes from the configuration, which keeps it to CFG_MAX_BATCH */
_Static_assert(CFG_MAX_BATCH <= ENG_MAX_BATCH, "a configured batch the engine cannot compile");

/* One batch's arrays, max_batch long, the thread's own. */
typedef struct {
    lc_source **bs;
    lc_frame **bf;
    const uint8_t **frames;
    int *strides;
    float *raw, *probs;         /* classes per frame */
} batch;

struct sch_mdl {
    char *name;                 /* SCH_DEFAULT_MODEL or [model:NAME]'s */
    char *model_path, *labels_path, *calib_path;
    eng_options opt;
    int top_k;
    /* thresholds and ignore as written, with where, until the load */
    char *thresholds, *ignore, *file, *section;
    int thresholds_line, ignore_line;
    eng_model *model;
    eng_labels *labels;
    sch_decisions dec;
    sch_model_info info;
    batch b;
};

struct sch {
    pthread_t thread;
    pthread_mutex_t m;
    pthread_cond_t cv, idle;
    lc_source **src;
    int nsrc, next;
    int kicked, stop, busy;
    int max_batch;              /* the engines': prepared for it, fixed with them */
    struct evq *q;
    sch_rules *rules;           /* the caller's */

    sch_mdl **models;           /* [0] is [model]'s */
    int nmodels;
    int ready;                  /* 1 loaded, -1 failed */
    int abandoned;              /* stopped while loading: the thread frees s itself */
    int inited;
    char err[2048];
    cfg_cpus cpus;

    int64_t heartbeat_us;
    uint64_t classified;
    lc_hist infer;              /* each batch's inference time */
#ifdef LCNETD_TESTING
    int wedged;
#endif
};

static void sch_free(sch *s);

static int batch_alloc(batch *b, int n, int classes)
{
    b->bs = calloc((size_t)n, sizeof *b->bs);
    b->bf = calloc((size_t)n, sizeof *b->bf);
    b->frames = calloc((size_t)n, sizeof *b->frames);
    b->strides = calloc((size_t)n, sizeof *b->strides);
    b->raw = calloc((size_t)n * (size_t)classes, sizeof *b->raw);
    b->probs = calloc((size_t)n * (size_t)classes, sizeof *b->probs);
    return b->bs && b->bf && b->frames && b->strides && b->raw && b->probs ? 0 : -1;
}

static void batch_free(batch *b)
{
    free(b->bs);
    free(b->bf);
    free(b->frames);
    free(b->strides);
    free(b->raw);
    free(b->probs);
    memset(b, 0, sizeof *b);
}

static void mdl_free(sch_mdl *m)
{
    if (!m)
        return;
    batch_free(&m->b);
    sch_decisions_free(&m->dec);
    eng_labels_free(m->labels);
    eng_free(m->model);
    free(m->thresholds);
    free(m->ignore);
    free(m->file);
    free(m->section);
    free(m->name);
    free(m->model_path);
    free(m->labels_path);
    free(m->calib_path);
    free(m);
}

static void opts_from(eng_options *o, const cfg *c, const cfg_model *cm)
{
    eng_options_init(o);
    o->precision = cm->precision;
    o->backend = cm->backend;
    o->threads = c->daemon.inference_cpus.count > 0 ? c->daemon.inference_cpus.count : 1;
    if (cm->mean.set && cm->std.set) {
        memcpy(o->mean, cm->mean.v, sizeof o->mean);
        memcpy(o->std, cm->std.v, sizeof o->std);
    }
    o->scale = (float)cm->scale;
    o->order = cm->channel_order;
    o->resize = cm->resize;
}

/* A model's settings, copied: the config may go before the thread reads them. */
static sch_mdl *mdl_new(const cfg *c, const cfg_model *cm)
{
    sch_mdl *m = calloc(1, sizeof *m);
    char section[128];
    snprintf(section, sizeof section, "model%s%s", cm->name ? ":" : "", cm->name ? cm->name : "");
    if (!m || !(m->name = strdup(cm->name ? cm->name : SCH_DEFAULT_MODEL)) ||
        !(m->model_path = strdup(cm->path)) ||
        !(m->labels_path = strdup(cm->labels ? cm->labels : "")) ||
        !(m->calib_path = strdup(cm->calibration ? cm->calibration : "")) ||
        !(m->thresholds = strdup(cm->thresholds ? cm->thresholds : "")) ||
        !(m->ignore = strdup(cm->ignore ? cm->ignore : "")) ||
        !(m->file = strdup(c->file ? c->file : "config")) || !(m->section = strdup(section))) {
        mdl_free(m);
        return NULL;
    }
    m->thresholds_line = cm->thresholds_line;
    m->ignore_line = cm->ignore_line;
    opts_from(&m->opt, c, cm);
    m->opt.calib_path = m->calib_path;
    m->top_k = cm->top_k;
    return m;
}

static const eng_labels *names_of(const sch_mdl *m)
{
    return m->labels ? m->labels : eng_model_labels(m->model);
}

static int load_model(sch_mdl *m, int max_batch, char *err, size_t errlen)
{
#ifdef LCNETD_TESTING
    /* a model on a slow or hung file system, for the tests of reloading */
    const char *slow = getenv("LCNETD_TEST_SLOW_LOAD_MS"), *base = strrchr(m->model_path, '/');
    if (slow && strncmp(base ? base + 1 : m->model_path, "slow", 4) == 0)
        usleep((useconds_t)atoi(slow) * 1000);
#endif
    char why[1024];
    int ret = eng_load(&m->model, &m->opt, m->model_path, why, sizeof why);
    if (ret == 0 && m->labels_path[0])
        ret = eng_labels_load(&m->labels, m->labels_path, why, sizeof why);
    const eng_info *in = ret == 0 ? eng_get_info(m->model) : NULL;
    if (in && (in->channels != 3 || in->height < 8 || in->width < 8)) {
        snprintf(why, sizeof why, "%s: not an image classifier (input %dx%dx%d)", m->model_path,
                 in->channels, in->height, in->width);
        ret = ENG_EMODEL;
    }
    if (ret < 0) {
        /* the default model's messages are what they always were */
        if (strcmp(m->name, SCH_DEFAULT_MODEL) == 0)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "[%s] %s", m->section, why);
        return ret;
    }
    sch_decisions_src ds = { m->thresholds, m->ignore, m->file, m->section, m->thresholds_line,
                             m->ignore_line };
    if ((ret = sch_decisions_load(&m->dec, &ds, names_of(m), in->classes, err, errlen)) < 0)
        return ret;
    sch_model_info *i = &m->info;
    i->width = in->width;
    i->height = in->height;
    i->classes = in->classes;
    i->order = in->order;
    i->mode = in->resize;
    snprintf(i->precision, sizeof i->precision, "%s", eng_precision_name(in->precision));
    snprintf(i->precision_reason, sizeof i->precision_reason, "%s", in->precision_reason);
    snprintf(i->isa, sizeof i->isa, "%s", in->isa);
    snprintf(i->backend, sizeof i->backend, "%s", in->backend);
    snprintf(i->backend_reason, sizeof i->backend_reason, "%s", in->backend_reason);
    snprintf(i->model, sizeof i->model, "%s", m->model_path);
    i->max_batch = max_batch;
    i->name = m->name;
    /* every batch size now, not when a burst first asks for it: compiling
     * one mid-stream held inference up long enough to skip frames */
    if ((ret = eng_prepare(m->model, max_batch, err, errlen)) < 0)
        return ret;
    if (batch_alloc(&m->b, max_batch, i->classes) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Scores to events, by the source's publish rule. */
static void publish(sch *s, sch_mdl *m, lc_source *src, const lc_frame *f, const float *probs,
                    int64_t now)
{
    lc_stream *st = src->stream;
    eng_top top[100];
    int k = eng_topk(probs, m->info.classes, m->top_k, top);
    float ms = (float)(now - f->decoded_us) / 1000.0f;
    lc_stream_latency(st, ms);
    lc_count(&src->classified, 1);
    lc_count(&st->classified, 1);
    if (k < 1)
        return;
    sch_rule_params p = { st->cfg.min_score, st->cfg.publish == CFG_PUBLISH_CHANGE,
                          st->cfg.hysteresis, m->info.classes, m->dec.thresholds,
                          m->dec.ignore };
    sch_rule_result r;
    if (sch_rules_apply(s->rules, st->cfg.name, src->region, m->name, &p, top[0].cls,
                        top[0].score, &r) < 0)
        return;
    /* r.changed: this frame confirmed a new top-1 of the source r names,
     * whatever publish says (what wants every change of state hooks in here) */
    if (!r.publish)
        return;
    /* the snapshot hook: the frame that changed it, cropped as it was
     * classified (an ignored label's change has no event to name one) */
    char shot[4400];
    const snap_rect crop = { f->crop_x, f->crop_y, f->crop_w, f->crop_h };
    int snapped = r.changed && st->snap &&
                  snap_take(st->snap, f->src, f->crop_w ? &crop : NULL, f->seq, shot, sizeof shot) == 0;
    /* a typed event: the sinks format it on the loop, off these CPUs */
    snk_class cls[100];
    for (int i = 0; i < k; i++)
        cls[i] = (snk_class){ top[i].cls, top[i].score, eng_label(names_of(m), top[i].cls) };
    snk_event *e = snk_label_new(st->cfg.name, src->region[0] ? src->region : NULL,
                                 src->model_in_events ? m->name : NULL, cls, k, f->seq, f->pts,
                                 f->capture_us, f->decoded_us, ms);
#ifdef LCNETD_TESTING
    if (e) {
        e->label.scaled_us = f->scaled_us;
        e->label.infer_start_us = f->infer_start_us;
        e->label.infer_end_us = f->infer_end_us;
    }
#endif
    if (snapped)
        e = snk_label_snapshot(e, shot);
    if (e) {
        lc_count(&src->published, 1);
        lc_count(&st->published, 1);
    }
    evq_push(s->q, e);
}

static void run_batch(sch *s, sch_mdl *m, int n)
{
    char err[512];
    batch *b = &m->b;
    for (int i = 0; i < n; i++) {
        b->frames[i] = b->bf[i]->pix;
        b->strides[i] = b->bs[i]->w * 3;
    }
    int64_t t0 = lc_mono_us();
    if (eng_run_pixels(m->model, b->frames, b->strides, n, b->raw, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "inference failed: model %s: %s", m->name, err);
        return;
    }
    eng_probs(m->model, b->raw, n, b->probs);
    int64_t now = lc_mono_us();
    lc_hist_add(&s->infer, now - t0);
    for (int i = 0; i < n; i++) {
#ifdef LCNETD_TESTING
        b->bf[i]->infer_start_us = t0;
        b->bf[i]->infer_end_us = now;
#endif
        publish(s, m, b->bs[i], b->bf[i], b->probs + (size_t)i * (size_t)m->info.classes, now);
    }
    __atomic_add_fetch(&s->classified, (uint64_t)n, __ATOMIC_RELAXED);
}

/* Under s->m: the next batch, all of one model, or NULL when no source has
 * a frame. */
static sch_mdl *gather(sch *s, int *count)
{
    sch_mdl *m = NULL;
    int n = 0, first = -1;
    for (int i = 0; i < s->nsrc && (!m || n < m->info.max_batch); i++) {
        int at = (s->next + i) % s->nsrc;
        lc_source *src = s->src[at];
        if (m && src->model != m)
            continue;
        lc_frame *f = lc_slot_take(src);
        if (!f)
            continue;
        if (!m) {
            m = src->model;
            first = at;
        }
        m->b.bs[n] = src;
        m->b.bf[n++] = f;
    }
    if (m)
        s->next = (first + 1) % s->nsrc;
    *count = n;
    return m;
}

static void *sch_main(void *arg)
{
    sch *s = arg;
    char err[512];
    int ret = 0;

    pthread_setname_np(pthread_self(), "lcnetd-infer");
    lc_block_signals();
    if (lc_pin_self(&s->cpus, err, sizeof err) < 0)
        lc_log(LOG_WARNING, "inference unpinned: %s", err);
    for (int i = 0; i < s->nmodels && ret == 0; i++)
        ret = load_model(s->models[i], s->max_batch, s->err, sizeof s->err);
    pthread_mutex_lock(&s->m);
    s->ready = ret == 0 ? 1 : -1;
    pthread_cond_broadcast(&s->idle);
    /* set only while ready was 0: final from here on */
    int abandoned = s->abandoned;
    pthread_mutex_unlock(&s->m);
    if (ret < 0 || abandoned)
        goto end;

    pthread_mutex_lock(&s->m);
    while (!s->stop) {
        __atomic_store_n(&s->heartbeat_us, lc_mono_us(), __ATOMIC_RELAXED);
#ifdef LCNETD_TESTING
        while (s->wedged && !s->stop)
            pthread_cond_wait(&s->cv, &s->m);
#endif
        int n;
        sch_mdl *m = gather(s, &n);
        if (!m) {
            struct timespec ts = lc_deadline(200);
            if (!s->kicked)
                pthread_cond_timedwait(&s->cv, &s->m, &ts);
            s->kicked = 0;
            continue;
        }
        s->kicked = 0;
        s->busy = 1;
        pthread_mutex_unlock(&s->m);
        run_batch(s, m, n);
        pthread_mutex_lock(&s->m);
        s->busy = 0;
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->m);
end:
    /* the engines go on the thread that made them */
    for (int i = 0; i < s->nmodels; i++) {
        batch_free(&s->models[i]->b);
        sch_decisions_free(&s->models[i]->dec);
        eng_labels_free(s->models[i]->labels);
        s->models[i]->labels = NULL;
        eng_free(s->models[i]->model);
        s->models[i]->model = NULL;
    }
    /* nobody waits for this thread any more (sch_stop while loading) */
    if (abandoned)
        sch_free(s);
    return NULL;
}

static void sch_free(sch *s)
{
    if (!s)
        return;
    if (s->inited) {
        pthread_mutex_destroy(&s->m);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->idle);
    }
    for (int i = 0; i < s->nmodels; i++)
        mdl_free(s->models[i]);
    free(s->models);
    free(s->src);
    free(s);
}

int sch_spawn(sch **out, const cfg *c, struct evq *q, sch_rules *rules, char *err, size_t errlen)
{
    sch *s = calloc(1, sizeof(*s));
    int e;
    *out = NULL;
    int max_batch = c->daemon.max_batch > 0 ? c->daemon.max_batch : 1;
    if (!s || !(s->src = calloc(MAX_SOURCES, sizeof(lc_source *))) ||
        !(s->models = calloc((size_t)c->nmodels + 1, sizeof(sch_mdl *))))
        goto nomem;
    /* every model the file defines, used or not: hello lists them, and a
     * stream a reload adds may name one */
    for (int i = 0; i <= c->nmodels; i++) {
        if (!(s->models[i] = mdl_new(c, i ? &c->models[i - 1] : &c->model)))
            goto nomem;
        s->nmodels++;
    }
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->inited = 1;
    s->q = q;
    s->rules = rules;
    s->cpus = c->daemon.inference_cpus;
    s->max_batch = max_batch;
    s->heartbeat_us = lc_mono_us();
    if (max_batch < c->daemon.inference_cpus.count)
        lc_log(LOG_INFO, "inference: batches of up to %d frames on %d CPUs (max_batch)",
               max_batch, c->daemon.inference_cpus.count);
    if ((e = pthread_create(&s->thread, NULL, sch_main, s))) {
        snprintf(err, errlen, "pthread_create: %s", strerror(e));
        sch_free(s);
        return -1;
    }
    *out = s;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    sch_free(s);
    return -1;
}

int sch_loaded(sch *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->m);
    int r = s->ready;
    pthread_mutex_unlock(&s->m);
    if (r < 0)
        snprintf(err, errlen, "%s", s->err);
    return r;
}

int sch_start(sch **out, const cfg *c, struct evq *q, sch_rules *rules, char *err, size_t errlen)
{
    sch *s;
    *out = NULL;
    if (sch_spawn(&s, c, q, rules, err, errlen) < 0)
        return -1;
    pthread_mutex_lock(&s->m);
    while (!s->ready)
        pthread_cond_wait(&s->idle, &s->m);
    pthread_mutex_unlock(&s->m);
    if (s->ready < 0) {
        snprintf(err, errlen, "%s", s->err);
        sch_stop(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sch_stop(sch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->m);
    if (!s->ready) {
        /* Still loading, maybe from a file system that does not answer:
         * joining could wait forever, so the thread is left to finish and
         * free itself. */
        s->abandoned = 1;
        pthread_mutex_unlock(&s->m);
        pthread_detach(s->thread);
        return;
    }
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->m);
    pthread_join(s->thread, NULL);
    sch_free(s);
}

void sch_model(const sch *s, sch_model_info *mi)
{
    *mi = s->models[0]->info;
}

int sch_model_count(const sch *s)
{
    return s->nmodels;
}

sch_mdl *sch_model_at(const sch *s, int i)
{
    return i >= 0 && i < s->nmodels ? s->models[i] : NULL;
}

sch_mdl *sch_model_find(const sch *s, const char *name)
{
    for (int i = 0; i < s->nmodels; i++)
        if (strcmp(s->models[i]->name, name) == 0)
            return s->models[i];
    return NULL;
}

void sch_mdl_info(const sch_mdl *m, sch_model_info *mi)
{
    *mi = m->info;
}

int sch_add(sch *s, lc_stream *st)
{
    int ret = -1;
    pthread_mutex_lock(&s->m);
    if (s->nsrc + st->nsrc <= MAX_SOURCES) {
        for (int i = 0; i < st->nsrc; i++)
            s->src[s->nsrc++] = &st->src[i];
        ret = 0;
    }
    pthread_mutex_unlock(&s->m);
    return ret;
}

void sch_remove(sch *s, lc_stream *st)
{
    pthread_mutex_lock(&s->m);
    int k = 0;
    for (int i = 0; i < s->nsrc; i++)
        if (s->src[i]->stream != st)
            s->src[k++] = s->src[i];
    s->nsrc = k;
    if (s->next >= s->nsrc)
        s->next = 0;
    while (s->busy)
        pthread_cond_wait(&s->idle, &s->m);
    pthread_mutex_unlock(&s->m);
}

void sch_kick(sch *s)
{
    pthread_mutex_lock(&s->m);
    s->kicked = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->m);
}

int64_t sch_heartbeat(const sch *s)
{
    return __atomic_load_n(&s->heartbeat_us, __ATOMIC_RELAXED);
}

uint64_t sch_classified(const sch *s)
{
    return __atomic_load_n(&s->classified, __ATOMIC_RELAXED);
}

void sch_infer_times(const sch *s, lc_hist *out)
{
    lc_hist_read(&s->infer, out);
}

#ifdef LCNETD_TESTING
void sch_test_wedge(sch *s, int on)
{
    pthread_mutex_lock(&s->m);
    s->wedged = on;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->m);
}
#endif
