/* sched.c: the inference thread.  See sched.h.
 *
 * DESIGN: streams register their slots here.  The thread sleeps on a
 * condition until some slot has a frame (or 200 ms pass, to beat its
 * heartbeat), takes the oldest queued frame of up to max_batch streams starting
 * after the stream served last (round robin: no stream starves), runs them
 * as one batch, and emits a label event per frame unless the stream's
 * publish rule holds it back.  Removal waits for the batch in flight, so a
 * stream's buffers are never freed under the engine.
 *
 * The model loads on the thread itself.  sch_start waits for it (start-up
 * has nothing else to do); a reload uses sch_spawn and polls sch_loaded so
 * the event loop goes on meanwhile, and a scheduler stopped while it still
 * loads is left to free itself, since its load may never return. */
#include "daemon/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/evq.h"
#include "daemon/log.h"
#include "daemon/sink.h"
#include "daemon/util.h"

#define MAX_STREAMS CFG_STREAMS_MAX   /* the config refuses more */

/* max_batch comes from the configuration, which keeps it to CFG_MAX_BATCH */
_Static_assert(CFG_MAX_BATCH <= ENG_MAX_BATCH, "a configured batch the engine cannot compile");

struct sch {
    pthread_t thread;
    pthread_mutex_t m;
    pthread_cond_t cv, idle;
    lc_stream **st;
    int nst, next;
    int kicked, stop, busy;
    int max_batch;              /* the engine's: prepared for it, fixed with it */
    int top_k;                  /* a reload's to change: atomic */
    struct evq *q;

    /* set up by the thread before it reports ready */
    eng_model *model;
    eng_labels *labels;
    sch_model_info info;
    int ready;                  /* 1 loaded, -1 failed */
    int abandoned;              /* stopped while loading: the thread frees s itself */
    int inited;
    char err[512];
    cfg_cpus cpus;
    eng_options opt;
    char *model_path, *labels_path, *calib_path;

    int64_t heartbeat_us;
    uint64_t classified;
    lc_hist infer;              /* each batch's inference time */
#ifdef LCNETD_TESTING
    int wedged;
#endif
};

static void sch_free(sch *s);

static int load_model(sch *s, char *err, size_t errlen)
{
#ifdef LCNETD_TESTING
    /* a model on a slow or hung file system, for the tests of reloading */
    const char *slow = getenv("LCNETD_TEST_SLOW_LOAD_MS"), *base = strrchr(s->model_path, '/');
    if (slow && strncmp(base ? base + 1 : s->model_path, "slow", 4) == 0)
        usleep((useconds_t)atoi(slow) * 1000);
#endif
    int ret = eng_load(&s->model, &s->opt, s->model_path, err, errlen);
    if (ret < 0)
        return ret;
    if (s->labels_path && s->labels_path[0] &&
        (ret = eng_labels_load(&s->labels, s->labels_path, err, errlen)) < 0)
        return ret;
    const eng_info *in = eng_get_info(s->model);
    if (in->channels != 3 || in->height < 8 || in->width < 8) {
        snprintf(err, errlen, "%s: not an image classifier (input %dx%dx%d)", s->model_path,
                 in->channels, in->height, in->width);
        return ENG_EMODEL;
    }
    s->info.width = in->width;
    s->info.height = in->height;
    s->info.classes = in->classes;
    s->info.order = in->order;
    s->info.mode = in->resize;
    snprintf(s->info.precision, sizeof s->info.precision, "%s", eng_precision_name(in->precision));
    snprintf(s->info.precision_reason, sizeof s->info.precision_reason, "%s", in->precision_reason);
    snprintf(s->info.isa, sizeof s->info.isa, "%s", in->isa);
    snprintf(s->info.backend, sizeof s->info.backend, "%s", in->backend);
    snprintf(s->info.backend_reason, sizeof s->info.backend_reason, "%s", in->backend_reason);
    snprintf(s->info.model, sizeof s->info.model, "%s", s->model_path);
    s->info.max_batch = s->max_batch;
    return 0;
}

/* Scores to events, by the stream's publish rule. */
static void publish(sch *s, lc_stream *st, const lc_frame *f, const float *probs, int64_t now)
{
    eng_top top[100];
    int k = eng_topk(probs, s->info.classes, __atomic_load_n(&s->top_k, __ATOMIC_RELAXED), top);
    float ms = (float)(now - f->decoded_us) / 1000.0f;
    lc_stream_latency(st, ms);
    lc_count(&st->classified, 1);
    if (k < 1 || top[0].score < st->cfg.min_score)
        return;
    if (st->cfg.publish == CFG_PUBLISH_CHANGE) {
        /* hysteresis: a new top-1 must hold for that many frames in a row */
        int c = top[0].cls;
        if (c == st->last_cls) {
            st->cand_n = 0;
            return;
        }
        st->cand_n = c == st->cand_cls ? st->cand_n + 1 : 1;
        st->cand_cls = c;
        if (st->cand_n < st->cfg.hysteresis)
            return;
        st->last_cls = c;
        st->cand_n = 0;
    }
    /* a typed event: the sinks format it on the loop, off these CPUs */
    const eng_labels *names = s->labels ? s->labels : eng_model_labels(s->model);
    snk_class cls[100];
    for (int i = 0; i < k; i++)
        cls[i] = (snk_class){ top[i].cls, top[i].score, eng_label(names, top[i].cls) };
    snk_event *e = snk_label_new(st->cfg.name, cls, k, f->seq, f->pts, f->capture_us,
                                 f->decoded_us, ms);
#ifdef LCNETD_TESTING
    if (e) {
        e->label.scaled_us = f->scaled_us;
        e->label.infer_start_us = f->infer_start_us;
        e->label.infer_end_us = f->infer_end_us;
    }
#endif
    if (e)
        lc_count(&st->published, 1);
    evq_push(s->q, e);
}

/* One batch's arrays, max_batch long, the thread's own. */
typedef struct {
    lc_stream **bs;
    lc_frame **bf;
    const uint8_t **frames;
    int *strides;
    float *raw, *probs;         /* classes per frame */
} batch;

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
}

static void run_batch(sch *s, const batch *b, int n)
{
    char err[512];
    for (int i = 0; i < n; i++) {
        b->frames[i] = b->bf[i]->pix;
        b->strides[i] = b->bs[i]->w * 3;
    }
    int64_t t0 = lc_mono_us();
    if (eng_run_pixels(s->model, b->frames, b->strides, n, b->raw, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "inference failed: %s", err);
        return;
    }
    eng_probs(s->model, b->raw, n, b->probs);
    int64_t now = lc_mono_us();
    lc_hist_add(&s->infer, now - t0);
    for (int i = 0; i < n; i++) {
#ifdef LCNETD_TESTING
        b->bf[i]->infer_start_us = t0;
        b->bf[i]->infer_end_us = now;
#endif
        publish(s, b->bs[i], b->bf[i], b->probs + (size_t)i * (size_t)s->info.classes, now);
    }
    __atomic_add_fetch(&s->classified, (uint64_t)n, __ATOMIC_RELAXED);
}

static void *sch_main(void *arg)
{
    sch *s = arg;
    char err[512];
    batch b = { 0 };

    pthread_setname_np(pthread_self(), "lcnetd-infer");
    lc_block_signals();
    if (lc_pin_self(&s->cpus, err, sizeof err) < 0)
        lc_log(LOG_WARNING, "inference unpinned: %s", err);
    int ret = load_model(s, s->err, sizeof s->err);
    /* every batch size now, not when a burst first asks for it: compiling
     * one mid-stream held inference up long enough to skip frames */
    if (ret == 0)
        ret = eng_prepare(s->model, s->max_batch, s->err, sizeof s->err);
    if (ret == 0 && batch_alloc(&b, s->max_batch, s->info.classes) < 0) {
        snprintf(s->err, sizeof s->err, "out of memory");
        ret = -1;
    }
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
        int n = 0;
        for (int i = 0; i < s->nst && n < s->max_batch; i++) {
            lc_stream *st = s->st[(s->next + i) % s->nst];
            lc_frame *f = lc_slot_take(st);
            if (f) {
                b.bs[n] = st;
                b.bf[n++] = f;
            }
        }
        if (n == 0) {
            struct timespec ts = lc_deadline(200);
            if (!s->kicked)
                pthread_cond_timedwait(&s->cv, &s->m, &ts);
            s->kicked = 0;
            continue;
        }
        if (s->nst)
            s->next = (s->next + 1) % s->nst;
        s->kicked = 0;
        s->busy = 1;
        pthread_mutex_unlock(&s->m);
        run_batch(s, &b, n);
        pthread_mutex_lock(&s->m);
        s->busy = 0;
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->m);
end:
    batch_free(&b);
    eng_labels_free(s->labels);
    s->labels = NULL;
    eng_free(s->model);
    s->model = NULL;
    /* nobody waits for this thread any more (sch_stop while loading) */
    if (abandoned)
        sch_free(s);
    return NULL;
}

static void opts_from(eng_options *o, const cfg *c)
{
    eng_options_init(o);
    o->precision = c->model.precision;
    o->backend = c->model.backend;
    o->threads = c->daemon.inference_cpus.count > 0 ? c->daemon.inference_cpus.count : 1;
    if (c->model.mean.set && c->model.std.set) {
        memcpy(o->mean, c->model.mean.v, sizeof o->mean);
        memcpy(o->std, c->model.std.v, sizeof o->std);
    }
    o->scale = (float)c->model.scale;
    o->order = c->model.channel_order;
    o->resize = c->model.resize;
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
    free(s->st);
    free(s->model_path);
    free(s->labels_path);
    free(s->calib_path);
    free(s);
}

int sch_spawn(sch **out, const cfg *c, struct evq *q, char *err, size_t errlen)
{
    sch *s = calloc(1, sizeof(*s));
    int e;
    *out = NULL;
    int max_batch = c->daemon.max_batch > 0 ? c->daemon.max_batch : 1;
    if (!s || !(s->st = calloc(MAX_STREAMS, sizeof(lc_stream *))) ||
        !(s->model_path = strdup(c->model.path)) ||
        !(s->labels_path = strdup(c->model.labels ? c->model.labels : "")) ||
        !(s->calib_path = strdup(c->model.calibration ? c->model.calibration : ""))) {
        snprintf(err, errlen, "out of memory");
        sch_free(s);
        return -1;
    }
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->inited = 1;
    s->q = q;
    s->cpus = c->daemon.inference_cpus;
    s->max_batch = max_batch;
    s->top_k = c->model.top_k;
    opts_from(&s->opt, c);
    s->opt.calib_path = s->calib_path;
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

int sch_start(sch **out, const cfg *c, struct evq *q, char *err, size_t errlen)
{
    sch *s;
    *out = NULL;
    if (sch_spawn(&s, c, q, err, errlen) < 0)
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
    *mi = s->info;
}

int sch_add(sch *s, lc_stream *st)
{
    int ret = -1;
    pthread_mutex_lock(&s->m);
    if (s->nst < MAX_STREAMS) {
        s->st[s->nst++] = st;
        ret = 0;
    }
    pthread_mutex_unlock(&s->m);
    return ret;
}

void sch_remove(sch *s, lc_stream *st)
{
    pthread_mutex_lock(&s->m);
    for (int i = 0; i < s->nst; i++)
        if (s->st[i] == st) {
            memmove(&s->st[i], &s->st[i + 1], sizeof(lc_stream *) * (size_t)(s->nst - i - 1));
            s->nst--;
            break;
        }
    if (s->next >= s->nst)
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

void sch_configure(sch *s, const cfg *c)
{
    /* max_batch is not among them: the engine was prepared for its own, and
     * a new one comes with a new engine (sch_start) */
    __atomic_store_n(&s->top_k, c->model.top_k, __ATOMIC_RELAXED);
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
