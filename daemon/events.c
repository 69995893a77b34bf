/* events.c: the JSON lines of the event socket.  See events.h; the
 * README's "Events" section documents every field. */
#include "daemon/events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/json.h"

static struct timespec ts_of(int64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    return ts;
}

static void time_now(json_buf *b)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_key(b, "time");
    json_time(b, &ts);
}

static void time_at(json_buf *b, int64_t us)
{
    struct timespec ts = ts_of(us);
    json_key(b, "time");
    json_time(b, &ts);
}

static char *finish(json_buf *b, size_t *len)
{
    json_end(b);
    *len = b->len;
    return json_take(b);
}

/* Appended, and only when set: a stream without regions or models of its
 * own keeps the lines it always had. */
static void source(json_buf *b, const snk_event *e)
{
    if (e->region) {
        json_key(b, "region");
        json_str(b, e->region);
    }
    if (e->model) {
        json_key(b, "model");
        json_str(b, e->model);
    }
}

char *ev_stream_state(const snk_event *e, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "stream");
    json_key(&b, "stream");
    json_str(&b, e->stream);
    json_key(&b, "state");
    json_str(&b, e->state.state);
    if (e->state.reason) {
        json_key(&b, "reason");
        json_str(&b, e->state.reason);
    }
    if (e->state.retry_s >= 0) {
        json_key(&b, "retry_in");
        json_num(&b, e->state.retry_s);
    }
    time_at(&b, e->time_us);
    source(&b, e);
    return finish(&b, len);
}

char *ev_label(const snk_event *e, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    struct timespec ts = ts_of(e->label.capture_us);
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "label");
    json_key(&b, "stream");
    json_str(&b, e->stream);
    json_key(&b, "seq");
    json_int(&b, e->label.seq);
    json_key(&b, "pts");
    json_num(&b, e->label.pts);
    json_key(&b, "time");
    json_time(&b, &ts);
    json_key(&b, "latency_ms");
    json_num(&b, e->label.latency_ms);
#ifdef LCNETD_TESTING
    /* latency_ms ends when inference does; with the stage times on the
     * monotonic clock a subscriber can measure the whole path and see where
     * it goes (bench/latsub.c).  Test builds only: not part of the event
     * format. */
    json_key(&b, "decoded_mono_us");
    json_int(&b, e->label.decoded_us);
    json_key(&b, "scaled_mono_us");
    json_int(&b, e->label.scaled_us);
    json_key(&b, "infer_start_mono_us");
    json_int(&b, e->label.infer_start_us);
    json_key(&b, "infer_end_mono_us");
    json_int(&b, e->label.infer_end_us);
#endif
    json_key(&b, "top");
    json_array_begin(&b);
    for (int i = 0; i < e->label.k; i++) {
        json_item(&b);
        json_begin(&b);
        json_key(&b, "class");
        json_int(&b, e->label.top[i].cls);
        json_key(&b, "label");
        json_str(&b, e->label.top[i].label);
        json_key(&b, "score");
        json_num(&b, e->label.top[i].score);
        json_end(&b);
    }
    json_array_end(&b);
    source(&b, e);
    if (e->label.snapshot) {
        json_key(&b, "snapshot");
        json_str(&b, e->label.snapshot);
    }
    return finish(&b, len);
}

char *ev_error(const snk_event *e, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "error");
    json_key(&b, "stream");
    json_str(&b, e->stream);
    json_key(&b, "source");
    json_str(&b, e->error.source);
    json_key(&b, "message");
    json_str(&b, e->error.message);
    time_at(&b, e->time_us);
    return finish(&b, len);
}

/* A stream's sources, each with its own counters; nothing for a stream
 * of one unnamed source (no regions, one model). */
static void sources(json_buf *b, const snk_source_stats *r, int n, int rate)
{
    if (!n)
        return;
    json_key(b, "sources");
    json_array_begin(b);
    for (int i = 0; i < n; i++) {
        const snk_source_stats *g = &r[i];
        json_item(b);
        json_begin(b);
        if (g->region) {
            json_key(b, "region");
            json_str(b, g->region);
        }
        if (g->model) {
            json_key(b, "model");
            json_str(b, g->model);
        }
        if (rate) {
            json_key(b, "classified_fps");
            json_num(b, g->classified_fps);
        }
        json_key(b, "classified");
        json_uint(b, g->classified);
        json_key(b, "skipped");
        json_uint(b, g->skipped);
        json_key(b, "outside");
        json_uint(b, g->outside);
        json_key(b, "published");
        json_uint(b, g->published);
        json_end(b);
    }
    json_array_end(b);
}

void ev_stats_members(json_buf *b, const snk_stream_stats *st, double seconds)
{
    json_key(b, "stream");
    json_str(b, st->stream);
    json_key(b, "state");
    json_str(b, st->state);
    json_key(b, "interval_s");
    json_num(b, seconds);
    json_key(b, "decoded_fps");
    json_num(b, st->decoded_fps);
    json_key(b, "classified_fps");
    json_num(b, st->classified_fps);
    json_key(b, "packets");
    json_uint(b, st->packets);
    json_key(b, "decoded");
    json_uint(b, st->decoded);
    json_key(b, "classified");
    json_uint(b, st->classified);
    json_key(b, "skipped");
    json_uint(b, st->skipped);
    json_key(b, "sampled_out");
    json_uint(b, st->sampled_out);
    json_key(b, "decode_skipped");
    json_uint(b, st->decode_skipped);
    json_key(b, "decode_errors");
    json_uint(b, st->decode_errors);
    json_key(b, "ts_discontinuities");
    json_uint(b, st->ts_discontinuities);
    json_key(b, "published");
    json_uint(b, st->published);
    json_key(b, "reconnects");
    json_uint(b, st->reconnects);
    json_key(b, "auth_failures");
    json_uint(b, st->auth_failures);
    json_key(b, "latency_p50_ms");
    if (st->p50_ms >= 0)
        json_num(b, st->p50_ms);
    else
        json_null(b);
    json_key(b, "latency_p99_ms");
    if (st->p99_ms >= 0)
        json_num(b, st->p99_ms);
    else
        json_null(b);
    /* appended where they apply: other streams' lines stay as they were */
    if (st->has_crop) {
        json_key(b, "outside");
        json_uint(b, st->outside);
    }
    sources(b, st->sources, st->nsources, 1);
    /* only for streams that keep snapshots: the others' lines stay as
     * they were */
    if (st->snapshot) {
        json_key(b, "snapshots");
        json_uint(b, st->snapshots);
        json_key(b, "snapshot_errors");
        json_uint(b, st->snapshot_errors);
        json_key(b, "snapshot_dropped");
        json_uint(b, st->snapshot_dropped);
    }
}


char *ev_stats(const snk_stream_stats *st, double seconds, int64_t time_us, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "stats");
    ev_stats_members(&b, st, seconds);
    time_at(&b, time_us);
    return finish(&b, len);
}

char *ev_hello(const ev_hello_t *h, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "hello");
    json_key(&b, "version");
    json_str(&b, h->version);
    json_key(&b, "model");
    json_str(&b, h->model);
    json_key(&b, "precision");
    json_str(&b, h->precision);
    json_key(&b, "classes");
    json_int(&b, h->classes);
    json_key(&b, "input");
    json_array_begin(&b);
    json_item(&b);
    json_int(&b, h->width);
    json_item(&b);
    json_int(&b, h->height);
    json_array_end(&b);
    json_key(&b, "max_batch");
    json_int(&b, h->max_batch);
    json_key(&b, "streams");
    json_array_begin(&b);
    for (int i = 0; i < h->nstreams; i++) {
        json_item(&b);
        json_str(&b, h->streams[i]);
    }
    json_array_end(&b);
    json_key(&b, "isa");
    json_str(&b, h->isa);
    json_key(&b, "precision_reason");
    json_str(&b, h->precision_reason);
    json_key(&b, "backend");
    json_str(&b, h->backend);
    json_key(&b, "backend_reason");
    json_str(&b, h->backend_reason);
    time_now(&b);
    /* appended: the members above are the ones hello always had */
    json_key(&b, "models");
    json_array_begin(&b);
    for (int i = 0; i < h->nmodels; i++) {
        const ev_hello_model *m = &h->models[i];
        json_item(&b);
        json_begin(&b);
        json_key(&b, "name");
        json_str(&b, m->name);
        json_key(&b, "path");
        json_str(&b, m->path);
        json_key(&b, "precision");
        json_str(&b, m->precision);
        json_key(&b, "classes");
        json_int(&b, m->classes);
        json_key(&b, "input");
        json_array_begin(&b);
        json_item(&b);
        json_int(&b, m->width);
        json_item(&b);
        json_int(&b, m->height);
        json_array_end(&b);
        json_key(&b, "backend");
        json_str(&b, m->backend);
        json_end(&b);
    }
    json_array_end(&b);
    return finish(&b, len);
}

char *ev_status(const ev_status_stream *st, int n, int subscribers, double classified_fps,
                unsigned long long events_dropped, const char *extra, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "status");
    json_key(&b, "subscribers");
    json_int(&b, subscribers);
    json_key(&b, "classified_fps");
    json_num(&b, classified_fps);
    json_key(&b, "events_dropped");
    json_uint(&b, events_dropped);
    json_key(&b, "streams");
    json_array_begin(&b);
    for (int i = 0; i < n; i++) {
        json_item(&b);
        json_begin(&b);
        json_key(&b, "stream");
        json_str(&b, st[i].name);
        json_key(&b, "state");
        json_str(&b, st[i].state);
        json_key(&b, "decoded");
        json_uint(&b, st[i].decoded);
        json_key(&b, "classified");
        json_uint(&b, st[i].classified);
        json_key(&b, "skipped");
        json_uint(&b, st[i].skipped);
        json_key(&b, "reconnects");
        json_uint(&b, st[i].reconnects);
        sources(&b, st[i].sources, st[i].nsources, 0);
        json_end(&b);
    }
    json_array_end(&b);
    if (extra && *extra) {
        json_raw(&b, ",", 1);
        json_raw(&b, extra, strlen(extra));
    }
    time_now(&b);
    return finish(&b, len);
}

char *ev_simple(const char *event, const char *message, size_t *len)
{
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, event);
    if (message) {
        json_key(&b, "message");
        json_str(&b, message);
    }
    time_now(&b);
    return finish(&b, len);
}
