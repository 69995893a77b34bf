/* evq.h: event lines from the ingest and inference threads to main.
 *
 * Producers push finished JSON lines; main, woken by the eventfd, drains
 * them into the publisher.  Bounded: if main ever fell that far behind,
 * lines are dropped and counted rather than queued without end. */
#ifndef LCNETD_EVQ_H
#define LCNETD_EVQ_H

#include <stddef.h>

typedef struct evq evq;

int evq_new(evq **out, int max, char *err, size_t errlen);
void evq_free(evq *q);
int evq_fd(const evq *q);                       /* readable when lines wait */
/* Takes ownership of line (malloc'd, no newline); stream may be NULL. */
void evq_push(evq *q, const char *stream, char *line, size_t len);
/* Calls fn for each waiting line in order; fn must not keep the pointers. */
void evq_drain(evq *q, void (*fn)(void *arg, const char *stream, const char *line, size_t len),
               void *arg);
unsigned long long evq_dropped(const evq *q);

#endif
