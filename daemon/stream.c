/* stream.c: a stream's sources, their queues and its latency ring.  See
 * stream.h. */
#include "daemon/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sched.h"
#include "daemon/util.h"

struct lc_stream_priv {
    pthread_mutex_t m;         /* the ring, and sched while it is handed over */
    /* latency samples since the last stats event (ms), a ring: nlat counts
     * all of them, the ring keeps the newest */
    float lat[LC_LATENCY_RING];
    int nlat;
};

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int lc_stream_new(lc_stream **out, const cfg_stream *c, const lc_source_spec *src, int nsrc,
                  int depth, char *err, size_t errlen)
{
    lc_stream *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s || !(s->priv = calloc(1, sizeof *s->priv)))
        goto nomem;
    pthread_mutex_init(&s->priv->m, NULL);
    /* the config is freed on reload: every string key is copied (a key
     * added to cfg_stream as char * must be added here and freed below) */
    s->cfg = *c;
    s->cfg.name = dup_or_empty(c->name);
    s->cfg.url = dup_or_empty(c->url);
    s->cfg.model = dup_or_empty(c->model);
    s->cfg.password_file = NULL;    /* the config's, freed on reload; read already */
    s->cfg.password = NULL;
    s->cfg.region_list = NULL;
    s->cfg.regions = NULL;
    if (!s->cfg.name || !s->cfg.url || !s->cfg.model ||
        (c->password && !(s->cfg.password = strdup(c->password))) ||
        !(s->cfg.region_list = dup_or_empty(c->region_list)) ||
        cfg_regions_dup(&s->cfg.regions, c->regions, c->nregions) < 0)
        goto nomem;
    if (nsrc < 1 || !(s->src = calloc((size_t)nsrc, sizeof *s->src)))
        goto nomem;
    s->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++) {
        lc_source *d = &s->src[i];
        d->stream = s;
        d->index = i;
        d->model = src[i].model;
        d->model_in_events = src[i].model_in_events;
        d->w = src[i].w;
        d->h = src[i].h;
        d->order = src[i].order;
        d->mode = src[i].mode;
        if (src[i].crop)
            d->crop = *src[i].crop;
        if (!(d->region = dup_or_empty(src[i].region)) ||
            !(d->model_name = dup_or_empty(src[i].model_name)) ||
            lc_frameq_new(&d->q, depth, (size_t)d->w * (size_t)d->h * 3, c->snapshot) < 0)
            goto nomem;
    }
    s->heartbeat_us = lc_mono_us();
    *out = s;
    return 0;
nomem:
    snprintf(err, errlen, "stream %s: out of memory", c->name);
    lc_stream_free(s);
    return -1;
}

void lc_stream_free(lc_stream *s)
{
    if (!s)
        return;
    for (int i = 0; s->src && i < s->nsrc; i++) {
        lc_frameq_free(s->src[i].q);
        free(s->src[i].region);
        free(s->src[i].model_name);
    }
    free(s->src);
    if (s->priv) {
        pthread_mutex_destroy(&s->priv->m);
        free(s->priv);
    }
    free(s->cfg.name);
    free(s->cfg.url);
    free(s->cfg.model);
    free(s->cfg.region_list);
    cfg_regions_free(s->cfg.regions, s->cfg.nregions);
    if (s->cfg.password) {
        explicit_bzero(s->cfg.password, strlen(s->cfg.password));
        free(s->cfg.password);
    }
    free(s);
}

lc_frame *lc_slot_spare(lc_source *src)
{
    return lc_frameq_spare(src->q);
}

void lc_slot_put(lc_source *src, int wait)
{
    lc_stream *s = src->stream;
    if (lc_frameq_put(src->q, wait, &s->stop, &s->heartbeat_us)) {
        lc_count(&src->skipped, 1);
        lc_count(&s->skipped, 1);
    }
}

lc_frame *lc_slot_take(lc_source *src)
{
    return lc_frameq_take(src->q);
}

void lc_stream_request_stop(lc_stream *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < s->nsrc; i++)
        lc_frameq_wake(s->src[i].q);
}

void lc_stream_latency(lc_stream *s, float ms)
{
    pthread_mutex_lock(&s->priv->m);
    s->priv->lat[s->priv->nlat++ % LC_LATENCY_RING] = ms;
    pthread_mutex_unlock(&s->priv->m);
}

int lc_stream_latency_take(lc_stream *s, float *out, int max)
{
    pthread_mutex_lock(&s->priv->m);
    int n = s->priv->nlat < LC_LATENCY_RING ? s->priv->nlat : LC_LATENCY_RING;
    if (n > max)
        n = max;
    /* order does not matter: the caller sorts them */
    memcpy(out, s->priv->lat, sizeof(float) * (size_t)n);
    s->priv->nlat = 0;
    pthread_mutex_unlock(&s->priv->m);
    return n;
}

void lc_stream_set_sched(lc_stream *s, struct sch *sc)
{
    pthread_mutex_lock(&s->priv->m);
    s->sched = sc;
    pthread_mutex_unlock(&s->priv->m);
}

void lc_stream_kick(lc_stream *s)
{
    /* under the lock: once a reload has handed the stream over, the old
     * scheduler, about to be freed, is never woken through it */
    pthread_mutex_lock(&s->priv->m);
    if (s->sched)
        sch_kick(s->sched);
    pthread_mutex_unlock(&s->priv->m);
}
