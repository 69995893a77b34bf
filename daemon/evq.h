/* evq.h: typed events (sink.h) from the ingest and inference threads to main.
 *
 * Producers push events; main, woken by the eventfd, drains them into the
 * sinks, which format them there.  Bounded: if main ever fell that far
 * behind, events are dropped and counted rather than queued without end. */
#ifndef LCNETD_EVQ_H
#define LCNETD_EVQ_H

#include <stddef.h>

struct snk_event;

typedef struct evq evq;

int evq_new(evq **out, int max, char *err, size_t errlen);
void evq_free(evq *q);
int evq_fd(const evq *q);                       /* readable when events wait */
/* Takes ownership of e (one allocation, freed with free()); NULL, an event
 * that could not be made, counts as dropped. */
void evq_push(evq *q, struct snk_event *e);
/* Calls fn for each waiting event in order; fn must not keep the pointer. */
void evq_drain(evq *q, void (*fn)(void *arg, const struct snk_event *e), void *arg);
unsigned long long evq_dropped(const evq *q);

#endif
