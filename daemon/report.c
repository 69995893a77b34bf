/* report.c: what the daemon tells its sinks about itself.  See report.h.
 *
 * Everything here runs on the event loop's thread and only reads the
 * daemon's state, but for each stream's counters at the last stats tick
 * (the rates are taken against them) and its latency samples, which a
 * stats tick takes (lc_stream_latency_take). */
#include "daemon/report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/events.h"
#include "daemon/util.h"

/* The socket's hooks (pub_hooks): a new subscriber's first line, and the
 * answer to `status`. */
static char *hello(void *arg)
{
    daemon_t *d = arg;
    sch_model_info mi;
    int nm = sch_model_count(d->sched);
    const char **names = calloc((size_t)d->nst + 1, sizeof(char *));
    ev_hello_model *models = calloc((size_t)nm + 1, sizeof *models);
    sch_model_info *infos = calloc((size_t)nm + 1, sizeof *infos);
    char *line = NULL;
    size_t len;
    if (!names || !models || !infos)
        goto end;
    for (int i = 0; i < d->nst; i++)
        names[i] = d->st[i].s->cfg.name;
    for (int i = 0; i < nm; i++) {
        sch_mdl_info(sch_model_at(d->sched, i), &infos[i]);
        models[i] = (ev_hello_model){ infos[i].name, infos[i].model, infos[i].precision,
                                      infos[i].classes, infos[i].width, infos[i].height,
                                      infos[i].backend };
    }
    sch_model(d->sched, &mi);
    ev_hello_t h = { LCNETD_VERSION, mi.model, mi.precision, mi.classes, mi.width, mi.height,
                     names, d->nst, mi.max_batch, mi.isa, mi.precision_reason, mi.backend,
                     mi.backend_reason, models, nm };
    line = ev_hello(&h, &len);
end:
    free(names);
    free(models);
    free(infos);
    return line;
}

static const char *state_of(const lc_stream *s)
{
    int st = lc_stream_state(s);
    return st == LC_STREAM_ENDED ? "eof" : st == LC_STREAM_UP ? "up" : "down";
}

/* A stream's sources, one entry per region and model; none for a stream
 * of one source that events do not name (its line stays as it was). */
static int source_stats(lc_stream *s, double secs, snk_source_stats *rv)
{
    int n = 0;
    if (s->nsrc == 1 && !s->src[0].region[0] && !s->src[0].model_in_events)
        return 0;
    for (int j = 0; j < s->nsrc; j++) {
        lc_source *src = &s->src[j];
        snk_source_stats *g = &rv[n++];
        *g = (snk_source_stats){ .region = src->region[0] ? src->region : NULL,
                                 .model = src->model_in_events ? src->model_name : NULL,
                                 .classified = lc_read(&src->classified),
                                 .published = lc_read(&src->published),
                                 .skipped = lc_read(&src->skipped),
                                 .outside = lc_read(&src->outside) };
        if (secs > 0) {
            g->classified_fps = (double)(g->classified - src->tick_classified) / secs;
            src->tick_classified = g->classified;
        }
    }
    return n;
}

static char *status(void *arg)
{
    daemon_t *d = arg;
    size_t nsrc = 0;
    for (int i = 0; i < d->nst; i++)
        nsrc += (size_t)d->st[i].s->nsrc;
    ev_status_stream *ss = calloc(1, sizeof(*ss) * ((size_t)d->nst + 1) +
                                         sizeof(snk_source_stats) * nsrc);
    snk_source_stats *rv = ss ? (snk_source_stats *)(ss + d->nst + 1) : NULL;
    json_buf extra = JSON_BUF_INIT;
    snk_counters sc;
    size_t len;
    if (!ss)
        return NULL;
    for (int i = 0; i < d->nst; i++) {
        lc_stream *s = d->st[i].s;
        ss[i] = (ev_status_stream){ s->cfg.name, state_of(s), lc_read(&s->decoded),
                                    lc_read(&s->classified), lc_read(&s->skipped),
                                    lc_read(&s->reconnects), source_stats(s, 0, rv), rv };
        rv += ss[i].nsources;
    }
    snk_set_counters(d->sinks, "socket", &sc);
    /* the sinks' own parts ("mqtt":{...}), after the members all had before */
    json_begin(&extra);
    snk_set_status(d->sinks, &extra);
    char *line = extra.failed ? NULL : ev_status(ss, d->nst, sc.clients, d->fps, evq_dropped(d->q),
                                                 extra.s + 1, &len);
    json_release(&extra);
    free(ss);
    return line;
}

/* `snapshot STREAM`: the newest file of a running stream that keeps them. */
static char *snapshot(void *arg, const char *stream, char *err, size_t errlen)
{
    daemon_t *d = arg;
    const lc_stream *s = NULL;
    char path[4400];
    for (int i = 0; i < d->nst && !s; i++)
        if (strcmp(d->st[i].s->cfg.name, stream) == 0)
            s = d->st[i].s;
    if (!s) {
        snprintf(err, errlen, "snapshot: no stream %s is running (the status command lists them)",
                 stream);
        return NULL;
    }
    if (!s->snap) {
        snprintf(err, errlen, "snapshot: stream %s keeps no snapshots (set snapshot = yes in "
                 "its section)", stream);
        return NULL;
    }
    if (snap_latest(d->snap, stream, path, sizeof path) < 0) {
        snprintf(err, errlen, "snapshot: stream %s has none yet (one is taken when its label "
                 "changes)", stream);
        return NULL;
    }
    json_buf b = JSON_BUF_INIT;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "snapshot");
    json_key(&b, "stream");
    json_str(&b, stream);
    json_key(&b, "path");
    json_str(&b, path);
    json_end(&b);
    return json_take(&b);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* An SNK_STATS event of the counters as they are now, in *e and its
 * streams in *out (the caller frees).  secs > 0: a stats tick, which also
 * takes the rates and latencies of the interval; 0: a sample of the
 * counters alone. */

static int stats_fill(daemon_t *d, double secs, snk_event *e, snk_stream_stats **out)
{
    /* one block: the streams, then every region of them */
    size_t nsrc = 0;
    for (int i = 0; i < d->nst; i++)
        nsrc += (size_t)d->st[i].s->nsrc;
    snk_stream_stats *v = calloc(1, sizeof *v * ((size_t)d->nst + 1) + sizeof(snk_source_stats) * nsrc);
    snk_source_stats *rv = v ? (snk_source_stats *)(v + d->nst + 1) : NULL;
    snk_counters sock, mqtt;
    *out = v;
    if (!v)
        return -1;
    for (int i = 0; i < d->nst; i++) {
        stream_ref *r = &d->st[i];
        lc_stream *s = r->s;
        snk_stream_stats *st = &v[i];
        *st = (snk_stream_stats){ .stream = s->cfg.name, .state = state_of(s), .p50_ms = -1,
                                  .p99_ms = -1 };
        st->decoded = lc_read(&s->decoded);
        st->sampled_out = lc_read(&s->sampled_out);
        st->skipped = lc_read(&s->skipped);
        st->classified = lc_read(&s->classified);
        st->published = lc_read(&s->published);
        st->reconnects = lc_read(&s->reconnects);
        st->decode_skipped = lc_read(&s->decode_skipped);
        st->packets = lc_read(&s->packets);
        st->decode_errors = lc_read(&s->errors);
        st->ts_discontinuities = lc_read(&s->ts_discontinuities);
        st->auth_failures = lc_read(&s->auth_failures);
        st->has_crop = s->cfg.crop.set;
        st->outside = s->nsrc ? lc_read(&s->src[0].outside) : 0;
        st->sources = rv;
        st->nsources = source_stats(s, secs, rv);
        rv += st->nsources;
        if (s->snap) {
            snap_counts sc;
            snap_counts_get(s->snap, &sc);
            st->snapshot = 1;
            st->snapshots = sc.saved;
            st->snapshot_errors = sc.errors;
            st->snapshot_dropped = sc.dropped;
        }
        if (secs <= 0)
            continue;
        float lat[LC_LATENCY_RING];
        int n = lc_stream_latency_take(s, lat, LC_LATENCY_RING);
        qsort(lat, (size_t)n, sizeof(float), cmp_float);
        st->decoded_fps = (double)(st->decoded - r->decoded) / secs;
        st->classified_fps = (double)(st->classified - r->classified) / secs;
        st->p50_ms = n ? lat[n / 2] : -1;
        st->p99_ms = n ? lat[n * 99 / 100] : -1;
        r->decoded = st->decoded;
        r->classified = st->classified;
    }
    snk_set_counters(d->sinks, "socket", &sock);
    snk_set_counters(d->sinks, "mqtt", &mqtt);
    *e = (snk_event){ .kind = SNK_STATS, .time_us = lc_wall_us() };
    e->stats.seconds = secs;
    e->stats.n = d->nst;
    e->stats.streams = v;
    e->stats.drops = (snk_drops){ evq_dropped(d->q), sock.dropped, mqtt.dropped };
    e->stats.subscribers = sock.clients;
    e->stats.mqtt_on = d->c->mqtt.host[0] != 0;
    e->stats.mqtt_connected = mqtt.clients;
    e->stats.mqtt_sent = mqtt.sent;
    e->stats.classified_fps = d->fps;
    sch_infer_times(d->sched, &e->stats.infer);
    return 0;
}

void rpt_stats(daemon_t *d, double secs)
{
    snk_event e;
    snk_stream_stats *v;
    if (stats_fill(d, secs, &e, &v) == 0)
        snk_set_event(d->sinks, &e);
    free(v);
}

void rpt_sample(daemon_t *d)
{
    snk_event e;
    snk_stream_stats *v;
    if (stats_fill(d, 0, &e, &v) == 0)
        snk_set_sample(d->sinks, &e);
    free(v);
}

void rpt_env(daemon_t *d, snk_env *env, int max_subscribers)
{
    sch_model(d->sched, &d->mi);
    *env = (snk_env){ .listen_fd = d->listen_fd, .max_subscribers = max_subscribers,
                      .hooks = { hello, status, snapshot, d }, .version = LCNETD_VERSION,
                      .model = d->mi.model, .precision = d->mi.precision, .isa = d->mi.isa };
}
