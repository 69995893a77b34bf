/* sink_socket.c: the event socket as a sink.
 *
 * Each event becomes the JSON line it always was (events.c) and goes to the
 * subscribers whose filter takes its stream (publish.c).  A label nobody
 * subscribed to is not formatted at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/events.h"
#include "daemon/publish.h"
#include "daemon/sink.h"
#include "daemon/util.h"

typedef struct {
    pub_server *pub;
} sock_sink;

static int sock_wanted(const cfg *c)
{
    (void)c;
    return 1;
}

static int sock_open(void **self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    sock_sink *k = calloc(1, sizeof *k);
    *self = NULL;
    if (!k) {
        snprintf(err, errlen, "event socket: out of memory");
        return -1;
    }
    if (pub_new(&k->pub, env->listen_fd, (size_t)c->daemon.subscriber_buffer,
                c->daemon.max_subscribers, &env->hooks, err, errlen) < 0) {
        free(k);
        return -1;
    }
    pub_set_limits(k->pub, (size_t)c->daemon.subscriber_buffer, env->max_subscribers);
    *self = k;
    return 0;
}

static int sock_reload(void *self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    sock_sink *k = self;
    if (pub_set_limits(k->pub, (size_t)c->daemon.subscriber_buffer, env->max_subscribers) < 0) {
        snprintf(err, errlen, "event socket: subscriber_buffer %d or max_subscribers %d (after "
                 "the descriptor limit) refused", c->daemon.subscriber_buffer, env->max_subscribers);
        return -1;
    }
    return 0;
}

/* Broadcast line (malloc'd, or NULL when out of memory) and free it. */
static void send_line(sock_sink *k, const char *stream, char *line, const size_t *len)
{
    if (!line)
        return;
    pub_broadcast(k->pub, stream, line, *len);
    free(line);
}

static void sock_event(void *self, const snk_event *e)
{
    sock_sink *k = self;
    size_t len = 0;
    switch (e->kind) {
    case SNK_LABEL: {
        if (!pub_wanted(k->pub, e->stream))
            return;
        char *line = ev_label(e, &len);
#ifdef LCNETD_TESTING
        /* Test builds stamp label lines as they go to the subscribers'
         * sockets: a Unix socket's line is readable from the moment send()
         * returns, and the subscriber's own wake-up is then measured apart
         * (bench/latsub.c). */
        char *t = NULL;
        if (line && len > 1 && (t = malloc(len + 48))) {
            int n = snprintf(t, len + 48, "%.*s,\"sent_mono_us\":%" PRId64 "}", (int)(len - 1),
                             line, lc_mono_us());
            free(line);
            line = t;
            len = (size_t)n;
        }
#endif
        send_line(k, e->stream, line, &len);
        return;
    }
    case SNK_STATE:
        send_line(k, e->stream, ev_stream_state(e, &len), &len);
        return;
    case SNK_STATS:
        for (int i = 0; i < e->stats.n; i++) {
            const snk_stream_stats *st = &e->stats.streams[i];
            send_line(k, st->stream, ev_stats(st, e->stats.seconds, e->time_us, &len), &len);
        }
        return;
    }
}

static int sock_fd(void *self)
{
    return pub_fd(((sock_sink *)self)->pub);
}

static void sock_dispatch(void *self)
{
    pub_dispatch(((sock_sink *)self)->pub);
}

static void sock_counters(void *self, snk_counters *out)
{
    pub_stats ps;
    pub_get_stats(((sock_sink *)self)->pub, &ps);
    out->clients = ps.clients;
    out->sent = ps.lines;
    out->dropped = ps.dropped;
}

static void sock_close(void *self)
{
    sock_sink *k = self;
    size_t len;
    char *bye = ev_simple("shutdown", "lcnetd is stopping", &len);
    if (bye) {
        pub_goodbye(k->pub, bye, 1000);
        free(bye);
    }
    pub_free(k->pub);
    free(k);
}

const snk_ops snk_socket_ops = {
    .name = "socket",
    .wanted = sock_wanted,
    .open = sock_open,
    .reload = sock_reload,
    .event = sock_event,
    .fd = sock_fd,
    .dispatch = sock_dispatch,
    .counters = sock_counters,
    .close = sock_close,
};
