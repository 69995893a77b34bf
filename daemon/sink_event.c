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

snk_event *snk_label_new(const char *stream, const char *region, const char *model,
                         const snk_class *top, int k, int64_t seq, double pts, int64_t capture_us,
                         int64_t decoded_us, double latency_ms)
{
    size_t strs = strlen(stream) + 1 + (region ? strlen(region) + 1 : 0) +
                  (model ? strlen(model) + 1 : 0);
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
    e->region = region ? put_str(&at, region) : NULL;
    e->model = model ? put_str(&at, model) : NULL;
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
    return snk_region_state_new(stream, NULL, state, reason, retry_s);
}

snk_event *snk_region_state_new(const char *stream, const char *region, const char *state,
                                const char *reason, double retry_s)
{
    size_t n = strlen(stream) + 1 + strlen(state) + 1 + (reason ? strlen(reason) + 1 : 0) +
               (region ? strlen(region) + 1 : 0);
    snk_event *e = malloc(sizeof *e + n);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    char *at = (char *)(e + 1);
    e->kind = SNK_STATE;
    e->stream = put_str(&at, stream);
    e->region = region ? put_str(&at, region) : NULL;
    e->time_us = lc_wall_us();
    e->state.state = put_str(&at, state);
    e->state.reason = reason ? put_str(&at, reason) : NULL;
    e->state.retry_s = retry_s;
    return e;
}

/* Where a string of the block e starts, as an offset (0: NULL), and the
 * end of the block's strings so far. */
static size_t str_off(const snk_event *e, const char *str, size_t *used)
{
    if (!str)
        return 0;
    size_t off = (size_t)(str - (const char *)e);
    if (off + strlen(str) + 1 > *used)
        *used = off + strlen(str) + 1;
    return off;
}

static const char *str_at(const char *b, size_t off)
{
    return off ? b + off : NULL;
}

snk_event *snk_label_snapshot(snk_event *e, const char *snapshot)
{
    if (!e || !snapshot)
        return e;
    /* The event is one allocation, its strings last: grow it by the path.
     * The strings move with the block, so their places are kept as
     * offsets across realloc. */
    enum { MAX_K = 100 };
    size_t used = 0, off_label[MAX_K];
    size_t off_stream = str_off(e, e->stream, &used);
    size_t off_region = str_off(e, e->region, &used);
    size_t off_model = str_off(e, e->model, &used);
    int k = e->label.k < MAX_K ? e->label.k : MAX_K;
    for (int i = 0; i < k; i++)
        off_label[i] = str_off(e, e->label.top[i].label, &used);
    size_t n = strlen(snapshot) + 1;
    char *b = realloc(e, used + n);
    if (!b) {
        free(e);
        return NULL;
    }
    e = (snk_event *)b;
    e->stream = str_at(b, off_stream);
    e->region = str_at(b, off_region);
    e->model = str_at(b, off_model);
    snk_class *t = (snk_class *)(e + 1);
    e->label.top = t;
    for (int i = 0; i < k; i++)
        t[i].label = str_at(b, off_label[i]);
    char *at = b + used;
    e->label.snapshot = put_str(&at, snapshot);
    return e;
}

snk_event *snk_error_new(const char *stream, const char *source, const char *message)
{
    size_t n = strlen(stream) + 1 + strlen(source) + 1 + strlen(message) + 1;
    snk_event *e = malloc(sizeof *e + n);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    char *at = (char *)(e + 1);
    e->kind = SNK_ERROR;
    e->stream = put_str(&at, stream);
    e->time_us = lc_wall_us();
    e->error.source = put_str(&at, source);
    e->error.message = put_str(&at, message);
    return e;
}
