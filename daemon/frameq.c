/* frameq.c: the drop-oldest frame queue.  See frameq.h.
 *
 * Buffers move between four places, by index: the spare (the producer's),
 * the working one (the consumer's), the queue and the free list; they are
 * never copied. */
#include "daemon/frameq.h"

#include <pthread.h>
#include <stdlib.h>

#include <libavutil/frame.h>

#include "daemon/util.h"

struct lc_frameq {
    pthread_mutex_t m;
    pthread_cond_t cv;     /* a queued frame taken (back-pressure waits on it) */
    int depth;
    lc_frame *f;           /* depth + 2 */
    int spare, working;    /* indices into f: being filled, being classified */
    int *fq, head, n;      /* queued, oldest first */
    int *freel, nfree;
};

int lc_frameq_new(lc_frameq **out, int depth, size_t bytes, int refs)
{
    lc_frameq *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return -1;
    pthread_mutex_init(&q->m, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->depth = depth > 0 ? depth : 1;
    q->f = calloc((size_t)q->depth + 2, sizeof *q->f);
    q->fq = calloc((size_t)q->depth, sizeof *q->fq);
    q->freel = calloc((size_t)q->depth + 2, sizeof *q->freel);
    if (!q->f || !q->fq || !q->freel)
        goto nomem;
    for (int i = 0; i < q->depth + 2; i++)
        if (!(q->f[i].pix = malloc(bytes ? bytes : 1)) || (refs && !(q->f[i].src = av_frame_alloc())))
            goto nomem;
    q->spare = 0;
    q->working = 1;
    for (int i = 2; i < q->depth + 2; i++)
        q->freel[q->nfree++] = i;
    *out = q;
    return 0;
nomem:
    lc_frameq_free(q);
    return -1;
}

void lc_frameq_free(lc_frameq *q)
{
    if (!q)
        return;
    if (q->f)
        for (int i = 0; i < q->depth + 2; i++) {
            free(q->f[i].pix);
            av_frame_free(&q->f[i].src);
        }
    pthread_mutex_destroy(&q->m);
    pthread_cond_destroy(&q->cv);
    free(q->f);
    free(q->fq);
    free(q->freel);
    free(q);
}

/* A slot's decoded frame is let go as soon as nobody will snapshot it. */
static void release(lc_frame *f)
{
    if (f->src)
        av_frame_unref(f->src);
}

lc_frame *lc_frameq_spare(lc_frameq *q)
{
    lc_frame *f = &q->f[q->spare];      /* only the producer touches spare */
    release(f);                         /* what it held last time round */
    return f;
}

int lc_frameq_put(lc_frameq *q, int wait, const int *stop, int64_t *heartbeat_us)
{
    int dropped = 0;
    pthread_mutex_lock(&q->m);
    while (wait && q->n == q->depth && !(stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))) {
        struct timespec ts = lc_deadline(200);
        pthread_cond_timedwait(&q->cv, &q->m, &ts);
        if (heartbeat_us)
            __atomic_store_n(heartbeat_us, lc_mono_us(), __ATOMIC_RELAXED);
    }
    if (q->n == q->depth) {
        /* the oldest goes, never seen by the consumer */
        release(&q->f[q->fq[q->head]]);
        q->freel[q->nfree++] = q->fq[q->head];
        q->head = (q->head + 1) % q->depth;
        q->n--;
        dropped = 1;
    }
    q->fq[(q->head + q->n) % q->depth] = q->spare;
    q->n++;
    q->spare = q->freel[--q->nfree];
    pthread_mutex_unlock(&q->m);
    return dropped;
}

lc_frame *lc_frameq_take(lc_frameq *q)
{
    lc_frame *f = NULL;
    pthread_mutex_lock(&q->m);
    if (q->n > 0) {
        release(&q->f[q->working]);     /* classified: its snapshot was taken or not */
        q->freel[q->nfree++] = q->working;
        q->working = q->fq[q->head];
        q->head = (q->head + 1) % q->depth;
        q->n--;
        f = &q->f[q->working];
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->m);
    return f;
}

void lc_frameq_wake(lc_frameq *q)
{
    pthread_mutex_lock(&q->m);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->m);
}

int lc_frameq_count(lc_frameq *q)
{
    pthread_mutex_lock(&q->m);
    int n = q->n;
    pthread_mutex_unlock(&q->m);
    return n;
}
