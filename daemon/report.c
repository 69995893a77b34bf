/* report.c: what the daemon tells its sinks about itself.  See report.h.
 *
 * Everything here runs on the event loop's thread and only reads the
 * daemon's state, but for each stream's counters at the last stats tick
 * (the rates are taken against them) and its latency samples, which a
 * stats tick takes. */
#include "daemon/report.h"

#include <pthread.h>
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
    const char **names = calloc((size_t)d->nst + 1, sizeof(char *));
    size_t len;
    if (!names)
        return NULL;
    for (int i = 0; i < d->nst; i++)
        names[i] = d->st[i].s->cfg.name;
    sch_model(d->sched, &mi);
    ev_hello_t h = { LCNETD_VERSION, mi.model, mi.precision, mi.classes, mi.width, mi.height,
                     names, d->nst, mi.max_batch, mi.isa, mi.precision_reason, mi.backend,
                     mi.backend_reason };
    char *line = ev_hello(&h, &len);
    free(names);
    return line;
}

static const char *state_of(const lc_stream *s)
{
    int st = lc_stream_state(s);
    return st == LC_STREAM_ENDED ? "eof" : st == LC_STREAM_UP ? "up" : "down";
}

static char *status(void *arg)
{
    daemon_t *d = arg;
    ev_status_stream *ss = calloc((size_t)d->nst + 1, sizeof(*ss));
    json_buf extra = JSON_BUF_INIT;
    snk_counters sc;
    size_t len;
    if (!ss)
        return NULL;
    for (int i = 0; i < d->nst; i++) {
        lc_stream *s = d->st[i].s;
        ss[i] = (ev_status_stream){ s->cfg.name, state_of(s), lc_read(&s->decoded),
                                    lc_read(&s->classified), lc_read(&s->skipped),
                                    lc_read(&s->reconnects) };
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
    snk_stream_stats *v = calloc((size_t)d->nst + 1, sizeof *v);
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
        if (secs <= 0)
            continue;
        float lat[sizeof s->lat / sizeof s->lat[0]];
        int n, most = (int)(sizeof lat / sizeof lat[0]);
        pthread_mutex_lock(&s->m);
        n = s->nlat < most ? s->nlat : most;
        memcpy(lat, s->lat, sizeof(float) * (size_t)n);
        s->nlat = 0;
        pthread_mutex_unlock(&s->m);
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
                      .hooks = { hello, status, d }, .version = LCNETD_VERSION,
                      .model = d->mi.model, .precision = d->mi.precision, .isa = d->mi.isa };
}
