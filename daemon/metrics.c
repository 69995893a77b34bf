/* metrics.c: see metrics.h.  Every counter of the stats events is a
 * Prometheus counter here, under the name lcnetd(8) lists; each stream's
 * series carry the labels stream, region and model (region empty and model
 * the daemon's until streams have regions and models of their own). */
#include "daemon/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/strmap.h"

typedef struct mstream {
    snk_stream_stats st;        /* st.stream is not kept: the map's key is the name */
    const char *state;          /* a literal: "up", "down", "eof" */
    int gen;
} mstream;

typedef struct mlat {           /* event latency of one stream, region and model */
    char *stream, *region, *model;
    lc_hist h;
} mlat;

struct met {
    pthread_mutex_t m;
    lc_map *streams;            /* name -> mstream */
    lc_map *lat;                /* "stream\x1fregion\x1fmodel" -> mlat */
    int gen;
    char version[32], model[256], precision[16], isa[32];
    int subscribers, mqtt_on, mqtt_connected;
    unsigned long long mqtt_sent;
    snk_drops drops;
    lc_hist infer;
};

met *met_new(void)
{
    met *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->m, NULL);
    m->streams = lc_map_new();
    m->lat = lc_map_new();
    if (!m->streams || !m->lat) {
        met_free(m);
        return NULL;
    }
    return m;
}

static void lat_free(void *v)
{
    mlat *l = v;
    free(l->stream);
    free(l->region);
    free(l->model);
    free(l);
}

void met_free(met *m)
{
    if (!m)
        return;
    lc_map_free(m->streams, free);
    lc_map_free(m->lat, lat_free);
    pthread_mutex_destroy(&m->m);
    free(m);
}

void met_info(met *m, const char *version, const char *model, const char *precision,
              const char *isa)
{
    const char *base = model ? strrchr(model, '/') : NULL;
    pthread_mutex_lock(&m->m);
    snprintf(m->version, sizeof m->version, "%s", version ? version : "");
    snprintf(m->model, sizeof m->model, "%s", base ? base + 1 : model ? model : "");
    snprintf(m->precision, sizeof m->precision, "%s", precision ? precision : "");
    snprintf(m->isa, sizeof m->isa, "%s", isa ? isa : "");
    pthread_mutex_unlock(&m->m);
}

/* ------------------------------------------------------------ updates */

typedef struct {
    met *m;
    char **gone;
    int n, cap;
} sweep;

static void collect_stale(void *arg, const char *key, void *val)
{
    sweep *s = arg;
    mstream *ms = val;
    if (ms->gen == s->m->gen || s->n == s->cap)
        return;
    s->gone[s->n++] = strdup(key);
}

static void collect_lat(void *arg, const char *key, void *val)
{
    sweep *s = arg;
    mlat *l = val;
    if (lc_map_get(s->m->streams, l->stream) || s->n == s->cap)
        return;
    s->gone[s->n++] = strdup(key);
}

/* Streams a reload removed leave the scrape with their latencies. */
static void forget_stale(met *m)
{
    int cap = lc_map_count(m->streams) + lc_map_count(m->lat);
    sweep s = { m, calloc((size_t)cap + 1, sizeof(char *)), 0, cap };
    if (!s.gone)
        return;
    lc_map_each(m->streams, collect_stale, &s);
    for (int i = 0; i < s.n; i++) {
        if (s.gone[i])
            free(lc_map_del(m->streams, s.gone[i]));
        free(s.gone[i]);
    }
    s.n = 0;
    lc_map_each(m->lat, collect_lat, &s);
    for (int i = 0; i < s.n; i++) {
        mlat *l = s.gone[i] ? lc_map_del(m->lat, s.gone[i]) : NULL;
        if (l)
            lat_free(l);
        free(s.gone[i]);
    }
    free(s.gone);
}

void met_stats(met *m, const snk_event *e)
{
    pthread_mutex_lock(&m->m);
    m->gen++;
    for (int i = 0; i < e->stats.n; i++) {
        const snk_stream_stats *st = &e->stats.streams[i];
        mstream *ms = lc_map_get(m->streams, st->stream);
        if (!ms) {
            if (!(ms = calloc(1, sizeof *ms)) || lc_map_put(m->streams, st->stream, ms, NULL) < 0) {
                free(ms);
                continue;
            }
        }
        double dfps = ms->st.decoded_fps, cfps = ms->st.classified_fps;
        ms->st = *st;
        ms->st.stream = NULL;
        ms->state = st->state;
        ms->gen = m->gen;
        if (e->stats.seconds <= 0) {    /* a sample: the rates stay the last tick's */
            ms->st.decoded_fps = dfps;
            ms->st.classified_fps = cfps;
        }
    }
    forget_stale(m);
    m->subscribers = e->stats.subscribers;
    m->drops = e->stats.drops;
    m->infer = e->stats.infer;
    m->mqtt_on = e->stats.mqtt_on;
    m->mqtt_connected = e->stats.mqtt_connected;
    m->mqtt_sent = e->stats.mqtt_sent;
    pthread_mutex_unlock(&m->m);
}

void met_latency(met *m, const char *stream, const char *region, const char *model, int64_t us)
{
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s", stream, region ? region : "", model ? model : "");
    pthread_mutex_lock(&m->m);
    mlat *l = lc_map_get(m->lat, key);
    if (!l && (l = calloc(1, sizeof *l))) {
        l->stream = strdup(stream);
        l->region = strdup(region ? region : "");
        l->model = model ? strdup(model) : NULL;      /* NULL: the daemon's */
        if (!l->stream || !l->region || (model && !l->model) ||
            lc_map_put(m->lat, key, l, NULL) < 0) {
            lat_free(l);
            l = NULL;
        }
    }
    if (l)
        lc_hist_add(&l->h, us);
    pthread_mutex_unlock(&m->m);
}

/* ------------------------------------------------------------ text */

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (t->failed)
            return;
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* A label value: backslash, quote and newline escaped. */
static void put_value(text *t, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            put(t, "\\%c", *v);
        else if (*v == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *v);
    }
}

static void labels(text *t, const char *stream, const char *region, const char *model)
{
    put(t, "{stream=\"");
    put_value(t, stream);
    put(t, "\",region=\"");
    put_value(t, region);
    put(t, "\",model=\"");
    put_value(t, model);
    put(t, "\"");
}

static void head(text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram's labels, without the closing brace: a stream's, or (stream
 * NULL) the model's alone. */
static void hist_labels(text *t, const char *stream, const char *region, const char *model)
{
    if (stream) {
        labels(t, stream, region, model);
        return;
    }
    put(t, "{model=\"");
    put_value(t, model);
    put(t, "\"");
}

static void put_hist(text *t, const char *name, const lc_hist *h, const char *stream,
                     const char *region, const char *model)
{
    unsigned long long cum = 0;
    for (int i = 0; i <= LC_HIST_BOUNDS; i++) {
        cum += h->bucket[i];
        put(t, "%s_bucket", name);
        hist_labels(t, stream, region, model);
        if (i < LC_HIST_BOUNDS)
            put(t, ",le=\"%g\"} %llu\n", lc_hist_bounds[i], cum);
        else
            put(t, ",le=\"+Inf\"} %llu\n", cum);
    }
    /* count is the +Inf bucket: lc_hist_read's fields are not one snapshot */
    put(t, "%s_sum", name);
    hist_labels(t, stream, region, model);
    put(t, "} %.6f\n%s_count", (double)h->sum_us / 1e6, name);
    hist_labels(t, stream, region, model);
    put(t, "} %llu\n", cum);
}

typedef struct {
    const char **v;
    int n;
} names;

static void collect_name(void *arg, const char *key, void *val)
{
    names *n = arg;
    (void)val;
    n->v[n->n++] = key;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum { C_DECODED, C_CLASSIFIED, C_SKIPPED, C_SAMPLED, C_DSKIP, C_PUBLISHED, C_PACKETS, C_DERR, C_TSDISC,
       C_AUTH, C_RECONNECTS };

static const struct {
    const char *name, *help;
} counters[] = {
    { "lcnetd_frames_decoded_total", "Frames decoded." },
    { "lcnetd_frames_classified_total", "Frames classified." },
    { "lcnetd_frames_skipped_total",
      "Decoded frames dropped unclassified because the stream's queue was full." },
    { "lcnetd_frames_sampled_out_total", "Decoded frames left out by sample_fps." },
    { "lcnetd_packets_decode_skipped_total",
      "Packets not even decoded because sample_fps would leave them out." },
    { "lcnetd_events_published_total", "Label events published." },
    { "lcnetd_packets_total", "Video packets read from the source." },
    { "lcnetd_packets_decode_errors_total", "Video packets the decoder refused." },
    { "lcnetd_timestamp_discontinuities_total",
      "Jumps in the source's timestamps that the stream's clock rebased over." },
    { "lcnetd_stream_auth_failures_total",
      "Connections the source refused for its credentials (401/403)." },
    { "lcnetd_stream_reconnects_total", "Times the stream was opened again after a failure." },
};

static uint64_t counter_of(const snk_stream_stats *st, int i)
{
    switch (i) {
    case C_DECODED: return st->decoded;
    case C_CLASSIFIED: return st->classified;
    case C_SKIPPED: return st->skipped;
    case C_SAMPLED: return st->sampled_out;
    case C_DSKIP: return st->decode_skipped;
    case C_PUBLISHED: return st->published;
    case C_PACKETS: return st->packets;
    case C_DERR: return st->decode_errors;
    case C_TSDISC: return st->ts_discontinuities;
    case C_AUTH: return st->auth_failures;
    default: return st->reconnects;
    }
}

static void render(met *m, text *t, names *nm)
{
    head(t, "lcnetd_build_info", "gauge", "The running version and model; always 1.");
    put(t, "lcnetd_build_info{version=\"");
    put_value(t, m->version);
    put(t, "\",model=\"");
    put_value(t, m->model);
    put(t, "\",precision=\"");
    put_value(t, m->precision);
    put(t, "\",isa=\"");
    put_value(t, m->isa);
    put(t, "\"} 1\n");

    for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
        head(t, counters[c].name, "counter", counters[c].help);
        for (int i = 0; i < nm->n; i++) {
            const mstream *s = lc_map_get(m->streams, nm->v[i]);
            put(t, "%s", counters[c].name);
            labels(t, nm->v[i], "", m->model);
            put(t, "} %llu\n", (unsigned long long)counter_of(&s->st, (int)c));
        }
    }
    head(t, "lcnetd_stream_up", "gauge", "1 while the stream delivers frames, else 0.");
    for (int i = 0; i < nm->n; i++) {
        const mstream *s = lc_map_get(m->streams, nm->v[i]);
        put(t, "lcnetd_stream_up");
        labels(t, nm->v[i], "", m->model);
        put(t, "} %d\n", s->state && strcmp(s->state, "up") == 0);
    }
    head(t, "lcnetd_stream_decoded_fps", "gauge",
         "Frames decoded per second over the last stats interval.");
    for (int i = 0; i < nm->n; i++) {
        const mstream *s = lc_map_get(m->streams, nm->v[i]);
        put(t, "lcnetd_stream_decoded_fps");
        labels(t, nm->v[i], "", m->model);
        put(t, "} %.3f\n", s->st.decoded_fps);
    }
    head(t, "lcnetd_stream_classified_fps", "gauge",
         "Frames classified per second over the last stats interval.");
    for (int i = 0; i < nm->n; i++) {
        const mstream *s = lc_map_get(m->streams, nm->v[i]);
        put(t, "lcnetd_stream_classified_fps");
        labels(t, nm->v[i], "", m->model);
        put(t, "} %.3f\n", s->st.classified_fps);
    }

    head(t, "lcnetd_event_latency_seconds", "histogram",
         "From a frame's decoding to its label event reaching the outputs.");
    lc_hist zero = { { 0 }, 0, 0 };
    for (int i = 0; i < nm->n; i++) {
        char key[600];
        snprintf(key, sizeof key, "%s\x1f\x1f", nm->v[i]);
        const mlat *l = lc_map_get(m->lat, key);
        put_hist(t, "lcnetd_event_latency_seconds", l ? &l->h : &zero, nm->v[i], "", m->model);
    }
    head(t, "lcnetd_inference_seconds", "histogram", "Time of each batch's inference.");
    put_hist(t, "lcnetd_inference_seconds", &m->infer, NULL, NULL, m->model);

    head(t, "lcnetd_subscribers", "gauge", "Subscribers connected to the event socket.");
    put(t, "lcnetd_subscribers %d\n", m->subscribers);
    head(t, "lcnetd_events_dropped_total", "counter",
         "Events the pipeline's threads could not hand to the outputs (queue full).");
    put(t, "lcnetd_events_dropped_total %llu\n", m->drops.queue);
    head(t, "lcnetd_socket_dropped_total", "counter",
         "Event lines that slow subscribers of the socket did not get.");
    put(t, "lcnetd_socket_dropped_total %llu\n", m->drops.socket);
    if (m->mqtt_on) {
        head(t, "lcnetd_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
        put(t, "lcnetd_mqtt_connected %d\n", m->mqtt_connected);
        head(t, "lcnetd_mqtt_sent_total", "counter", "MQTT messages the broker took.");
        put(t, "lcnetd_mqtt_sent_total %llu\n", m->mqtt_sent);
        head(t, "lcnetd_mqtt_dropped_total", "counter",
             "MQTT messages dropped while the broker was slow or away.");
        put(t, "lcnetd_mqtt_dropped_total %llu\n", m->drops.mqtt);
    }
}

char *met_render(met *m, size_t *len)
{
    text t = { 0 };
    pthread_mutex_lock(&m->m);
    names nm = { calloc((size_t)lc_map_count(m->streams) + 1, sizeof(char *)), 0 };
    if (nm.v) {
        lc_map_each(m->streams, collect_name, &nm);
        qsort(nm.v, (size_t)nm.n, sizeof *nm.v, cmp_str);
        render(m, &t, &nm);
    }
    pthread_mutex_unlock(&m->m);
    free(nm.v);
    if (!nm.v || t.failed) {
        free(t.s);
        return NULL;
    }
    *len = t.len;
    return t.s;
}
