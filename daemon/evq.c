/* evq.c: see evq.h. */
#include "daemon/evq.h"

#include "daemon/sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct item {
    struct item *next;
    snk_event *e;
} item;

struct evq {
    pthread_mutex_t m;
    item *head, *tail;
    int n, max;
    int fd;
    unsigned long long dropped;
};

int evq_new(evq **out, int max, char *err, size_t errlen)
{
    evq *q = calloc(1, sizeof(*q));
    *out = NULL;
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(q);
        return -1;
    }
    pthread_mutex_init(&q->m, NULL);
    q->max = max;
    *out = q;
    return 0;
}

static void item_free(item *it)
{
    free(it->e);
    free(it);
}

void evq_free(evq *q)
{
    if (!q)
        return;
    for (item *it = q->head, *nx; it; it = nx) {
        nx = it->next;
        item_free(it);
    }
    close(q->fd);
    pthread_mutex_destroy(&q->m);
    free(q);
}

int evq_fd(const evq *q)
{
    return q->fd;
}

void evq_push(evq *q, snk_event *e)
{
    item *it = e ? calloc(1, sizeof(*it)) : NULL;
    if (!it) {
        free(e);
        __atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    it->e = e;
    pthread_mutex_lock(&q->m);
    if (q->n >= q->max) {
        pthread_mutex_unlock(&q->m);
        item_free(it);
        __atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
    pthread_mutex_unlock(&q->m);
    uint64_t one = 1;
    if (write(q->fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, main is woken anyway */
    }
}

void evq_drain(evq *q, void (*fn)(void *, const snk_event *), void *arg)
{
    uint64_t v;
    if (read(q->fd, &v, sizeof v) < 0) {
        /* EAGAIN: nothing signalled; still look */
    }
    pthread_mutex_lock(&q->m);
    item *it = q->head;
    q->head = q->tail = NULL;
    q->n = 0;
    pthread_mutex_unlock(&q->m);
    for (item *nx; it; it = nx) {
        nx = it->next;
        fn(arg, it->e);
        item_free(it);
    }
}

unsigned long long evq_dropped(const evq *q)
{
    return __atomic_load_n(&q->dropped, __ATOMIC_RELAXED);
}
