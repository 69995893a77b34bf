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

#include "daemon/events.h"
#include "daemon/evq.h"
#include "daemon/log.h"
#include "daemon/scale.h"
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
    int cap;                    /* the batch arrays' size: max_batch at start, never exceeded */
    lc_stream **bs;
    lc_frame **bf;
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
    s->info.order = in->order == ENG_ORDER_BGR ? SCL_BGR : SCL_RGB;
    s->info.mode = in->resize == ENG_RESIZE_STRETCH ? SCL_STRETCH : SCL_SHORT_CROP;
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
    size_t len;
    char *line = ev_label(st, f, ms, top, k, s->labels ? s->labels : eng_model_labels(s->model), &len);
    if (line) {
        evq_push(s->q, st->cfg.name, line, len);
        lc_count(&st->published, 1);
    }
}

static void run_batch(sch *s, lc_stream **bs, lc_frame **bf, int n, float *raw, float *probs,
                      const uint8_t **frames, int *strides)
{
    char err[512];
    for (int i = 0; i < n; i++) {
        frames[i] = bf[i]->pix;
        strides[i] = bs[i]->w * 3;
    }
#ifdef LCNETD_TESTING
    int64_t t0 = lc_mono_us();
#endif
    if (eng_run_pixels(s->model, frames, strides, n, raw, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "inference failed: %s", err);
        return;
    }
    eng_probs(s->model, raw, n, probs);
    int64_t now = lc_mono_us();
    for (int i = 0; i < n; i++) {
#ifdef LCNETD_TESTING
        bf[i]->infer_start_us = t0;
        bf[i]->infer_end_us = now;
#endif
        publish(s, bs[i], bf[i], probs + (size_t)i * (size_t)s->info.classes, now);
    }
    __atomic_add_fetch(&s->classified, (uint64_t)n, __ATOMIC_RELAXED);
}

static void *sch_main(void *arg)
{
    sch *s = arg;
    char err[512];
    float *raw = NULL, *probs = NULL;
    const uint8_t **frames = NULL;
    int *strides = NULL;
    lc_stream **bs = s->bs;
    lc_frame **bf = s->bf;

    pthread_setname_np(pthread_self(), "lcnetd-infer");
    lc_block_signals();
    if (lc_pin_self(&s->cpus, err, sizeof err) < 0)
        lc_log(LOG_WARNING, "inference unpinned: %s", err);
    int ret = load_model(s, s->err, sizeof s->err);
    /* every batch size now, not when a burst first asks for it: compiling
     * one mid-stream held inference up long enough to skip frames */
    if (ret == 0)
        ret = eng_prepare(s->model, s->max_batch, s->err, sizeof s->err);
    if (ret == 0) {
        raw = malloc(sizeof(float) * (size_t)s->info.classes * (size_t)s->cap);
        probs = malloc(sizeof(float) * (size_t)s->info.classes * (size_t)s->cap);
        frames = malloc(sizeof(*frames) * (size_t)s->cap);
        strides = malloc(sizeof(*strides) * (size_t)s->cap);
        if (!raw || !probs || !frames || !strides) {
            snprintf(s->err, sizeof s->err, "out of memory");
            ret = -1;
        }
    }
    pthread_mutex_lock(&s->m);
    s->ready = ret == 0 ? 1 : -1;
    pthread_cond_broadcast(&s->idle);
    if (s->abandoned) {
        /* nobody waits for this thread any more (sch_stop while loading) */
        pthread_mutex_unlock(&s->m);
        free(raw);
        free(probs);
        free(frames);
        free(strides);
        eng_labels_free(s->labels);
        eng_free(s->model);
        sch_free(s);
        return NULL;
    }
    pthread_mutex_unlock(&s->m);
    if (ret < 0)
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
                bs[n] = st;
                bf[n++] = f;
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
        run_batch(s, bs, bf, n, raw, probs, frames, strides);
        pthread_mutex_lock(&s->m);
        s->busy = 0;
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->m);
end:
    free(raw);
    free(probs);
    free(frames);
    free(strides);
    eng_labels_free(s->labels);
    s->labels = NULL;
    eng_free(s->model);
    s->model = NULL;
    return NULL;
}

static void opts_from(eng_options *o, const cfg *c)
{
    eng_options_init(o);
    o->precision = (eng_precision)c->model.precision;
    o->backend = c->model.backend == CFG_BACKEND_XNNPACK ? ENG_BACKEND_XNNPACK :
                 c->model.backend == CFG_BACKEND_ONEDNN ? ENG_BACKEND_ONEDNN : ENG_BACKEND_AUTO;
    o->threads = c->daemon.inference_cpus.count > 0 ? c->daemon.inference_cpus.count : 1;
    if (c->model.mean.set && c->model.std.set) {
        memcpy(o->mean, c->model.mean.v, sizeof o->mean);
        memcpy(o->std, c->model.std.v, sizeof o->std);
    }
    o->scale = (float)c->model.scale;
    o->order = c->model.channel_order;
    o->resize = c->model.resize == CFG_RESIZE_STRETCH ? ENG_RESIZE_STRETCH :
                c->model.resize == CFG_RESIZE_SHORT_CROP ? ENG_RESIZE_SHORT_CROP : ENG_RESIZE_DEFAULT;
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
    free(s->bs);
    free(s->bf);
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
    /* the batch arrays are sized here, once: a later sch_configure may
     * lower max_batch but never raise it past them */
    int cap = c->daemon.max_batch > 0 ? c->daemon.max_batch : 1;
    if (!s || !(s->st = calloc(MAX_STREAMS, sizeof(lc_stream *))) ||
        !(s->bs = calloc((size_t)cap, sizeof(lc_stream *))) ||
        !(s->bf = calloc((size_t)cap, sizeof(lc_frame *))) ||
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
    s->cap = s->max_batch = cap;
    s->top_k = c->model.top_k;
    opts_from(&s->opt, c);
    s->opt.calib_path = s->calib_path;
    s->heartbeat_us = lc_mono_us();
    if (cap < c->daemon.inference_cpus.count)
        lc_log(LOG_INFO, "inference: batches of up to %d frames on %d CPUs (max_batch)", cap,
               c->daemon.inference_cpus.count);
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

#ifdef LCNETD_TESTING
void sch_test_wedge(sch *s, int on)
{
    pthread_mutex_lock(&s->m);
    s->wedged = on;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->m);
}
#endif
