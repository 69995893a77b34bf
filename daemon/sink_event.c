/* sink_event.c: the typed events the pipeline's threads queue for main.
 *
 * Each is one allocation holding the event, its top-k and copies of its
 * strings: the label names belong to a model that a reload may free before
 * the loop gets to the event. */
#include <stdlib.h>
#include <string.h>

#include "daemon/sink.h"
#include "daemon/util.h"

/* Room for s and its NUL at *at, moved on; returns the copy. */
static const char *put_str(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = *at;
    memcpy(d, s, n);
    *at += n;
    return d;
}

snk_event *snk_label_new(const char *stream, const snk_class *top, int k, int64_t seq, double pts,
                         int64_t capture_us, int64_t decoded_us, double latency_ms)
{
    size_t strs = strlen(stream) + 1;
    for (int i = 0; i < k; i++)
        strs += top[i].label ? strlen(top[i].label) + 1 : 0;
    size_t head = sizeof(snk_event) + sizeof(snk_class) * (size_t)k;
    snk_event *e = malloc(head + strs);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    snk_class *t = (snk_class *)(e + 1);
    char *at = (char *)e + head;
    e->kind = SNK_LABEL;
    e->stream = put_str(&at, stream);
    e->time_us = lc_wall_us();
    e->label.seq = seq;
    e->label.pts = pts;
    e->label.capture_us = capture_us;
    e->label.decoded_us = decoded_us;
    e->label.latency_ms = latency_ms;
    e->label.k = k;
    e->label.top = t;
    for (int i = 0; i < k; i++) {
        t[i] = top[i];
        if (top[i].label)
            t[i].label = put_str(&at, top[i].label);
    }
    return e;
}

snk_event *snk_state_new(const char *stream, const char *state, const char *reason,
                         double retry_s)
{
    size_t n = strlen(stream) + 1 + strlen(state) + 1 + (reason ? strlen(reason) + 1 : 0);
    snk_event *e = malloc(sizeof *e + n);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    char *at = (char *)(e + 1);
    e->kind = SNK_STATE;
    e->stream = put_str(&at, stream);
    e->time_us = lc_wall_us();
    e->state.state = put_str(&at, state);
    e->state.reason = reason ? put_str(&at, reason) : NULL;
    e->state.retry_s = retry_s;
    return e;
}
