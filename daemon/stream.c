/* stream.c: the per-stream frame queue.  See stream.h. */
#include "daemon/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int lc_stream_new(lc_stream **out, const cfg_stream *c, int w, int h, eng_order order, eng_resize mode,
                  int depth, char *err, size_t errlen)
{
    lc_stream *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        goto nomem;
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->cfg = *c;
    s->cfg.name = dup_or_empty(c->name);
    s->cfg.url = dup_or_empty(c->url);
    s->cfg.password_file = NULL;    /* the config's, freed on reload; read already */
    s->cfg.password = NULL;
    if (!s->cfg.name || !s->cfg.url || (c->password && !(s->cfg.password = strdup(c->password))))
        goto nomem;
    s->w = w;
    s->h = h;
    s->order = order;
    s->mode = mode;
    s->depth = depth > 0 ? depth : 1;
    s->f = calloc((size_t)s->depth + 2, sizeof(*s->f));
    s->fq = calloc((size_t)s->depth, sizeof(*s->fq));
    s->freel = calloc((size_t)s->depth + 2, sizeof(*s->freel));
    if (!s->f || !s->fq || !s->freel)
        goto nomem;
    for (int i = 0; i < s->depth + 2; i++)
        if (!(s->f[i].pix = malloc((size_t)w * (size_t)h * 3)))
            goto nomem;
    s->spare = 0;
    s->working = 1;
    for (int i = 2; i < s->depth + 2; i++)
        s->freel[s->nfree++] = i;
    s->last_cls = s->cand_cls = -1;
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
    if (s->f)
        for (int i = 0; i < s->depth + 2; i++)
            free(s->f[i].pix);
    pthread_mutex_destroy(&s->m);
    pthread_cond_destroy(&s->cv);
    free(s->f);
    free(s->fq);
    free(s->freel);
    free(s->cfg.name);
    free(s->cfg.url);
    if (s->cfg.password) {
        explicit_bzero(s->cfg.password, strlen(s->cfg.password));
        free(s->cfg.password);
    }
    free(s);
}

lc_frame *lc_slot_spare(lc_stream *s)
{
    return &s->f[s->spare];     /* only the ingest thread touches spare */
}

void lc_slot_put(lc_stream *s, int wait)
{
    pthread_mutex_lock(&s->m);
    while (wait && s->fqn == s->depth && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        struct timespec ts = lc_deadline(200);
        pthread_cond_timedwait(&s->cv, &s->m, &ts);
        /* waiting on a slow consumer is progress, not a hang */
        __atomic_store_n(&s->heartbeat_us, lc_mono_us(), __ATOMIC_RELAXED);
    }
    if (s->fqn == s->depth) {
        lc_count(&s->skipped, 1);      /* the oldest goes, never seen by inference */
        s->freel[s->nfree++] = s->fq[s->fqhead];
        s->fqhead = (s->fqhead + 1) % s->depth;
        s->fqn--;
    }
    s->fq[(s->fqhead + s->fqn) % s->depth] = s->spare;
    s->fqn++;
    s->spare = s->freel[--s->nfree];
    pthread_mutex_unlock(&s->m);
}

lc_frame *lc_slot_take(lc_stream *s)
{
    lc_frame *f = NULL;
    pthread_mutex_lock(&s->m);
    if (s->fqn > 0) {
        s->freel[s->nfree++] = s->working;
        s->working = s->fq[s->fqhead];
        s->fqhead = (s->fqhead + 1) % s->depth;
        s->fqn--;
        f = &s->f[s->working];
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->m);
    return f;
}

void lc_stream_latency(lc_stream *s, float ms)
{
    pthread_mutex_lock(&s->m);
    /* a ring: stats read the newest samples of the interval */
    s->lat[s->nlat++ % (int)(sizeof s->lat / sizeof s->lat[0])] = ms;
    pthread_mutex_unlock(&s->m);
}
