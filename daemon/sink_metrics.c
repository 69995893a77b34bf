/* sink_metrics.c: GET /metrics in Prometheus' text format, served by
 * libmicrohttpd on [metrics] listen.
 *
 * The server's thread is libmicrohttpd's own, born on the loop's CPUs (off
 * the inference CPUs where there are others) with the loop's signals
 * blocked, so a scrape is answered while inference keeps its CPUs busy.  It
 * only ever renders metrics.c's copy of the numbers; the loop feeds that
 * copy from the events it hands every sink.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/sink.h"
#include "daemon/util.h"

enum { MAX_CONNECTIONS = 16, TIMEOUT_S = 10 };

typedef struct {
    met *m;
    struct MHD_Daemon *http;
    char *listen;
} metrics_sink;

static int metrics_wanted(const cfg *c)
{
    return c->metrics.listen && c->metrics.listen[0];
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state)
{
    metrics_sink *k = cls;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char bad_method[] = "only GET and HEAD\n";
    (void)version;
    (void)upload_data;
    (void)state;
    if (*upload_size)
        return MHD_NO;          /* a body is nothing we asked for */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad_method,
                     sizeof bad_method - 1, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof not_found - 1,
                     MHD_RESPMEM_PERSISTENT);
    size_t len = 0;
    char *text = met_render(k->m, &len);
    if (!text)
        return MHD_NO;
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
                 MHD_RESPMEM_MUST_FREE);
}

static void on_error(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    lc_log(LOG_WARNING, "metrics: %s", line);
}

/* [metrics] listen, already checked by the configuration: "A.B.C.D:P" or "[v6]:P". */
static int listen_on(metrics_sink *k, const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char host[64];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    int port = colon ? atoi(colon + 1) : 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&ss, 0, sizeof ss);
    if (hl >= 2 && addr[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        snprintf(host, sizeof host, "%.*s", (int)(hl - 2), addr + 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            goto bad;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        snprintf(host, sizeof host, "%.*s", (int)hl, addr);
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            goto bad;
    }
    errno = 0;
    k->http = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, k,
                               MHD_OPTION_EXTERNAL_LOGGER, on_error, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S,
                               MHD_OPTION_END);
    if (!k->http) {
        snprintf(err, errlen, "metrics: cannot listen on %s: %s (set [metrics] listen to an "
                 "address and free port of this host, or empty to turn the endpoint off)", addr,
                 errno ? strerror(errno) : "libmicrohttpd refused");
        return -1;
    }
    lc_log(LOG_INFO, "metrics on http://%s/metrics", addr);
    return 0;
bad:
    snprintf(err, errlen, "metrics: %s is not an address to listen on", addr);
    return -1;
}

static void metrics_close(void *self)
{
    metrics_sink *k = self;
    if (!k)
        return;
    if (k->http)
        MHD_stop_daemon(k->http);
    met_free(k->m);
    free(k->listen);
    free(k);
}

static int metrics_open(void **self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    metrics_sink *k = calloc(1, sizeof *k);
    *self = NULL;
    if (!k || !(k->m = met_new()) || !(k->listen = strdup(c->metrics.listen))) {
        metrics_close(k);
        snprintf(err, errlen, "metrics: out of memory");
        return -1;
    }
    met_info(k->m, env->version, env->model, env->precision, env->isa);
    if (listen_on(k, k->listen, err, errlen) < 0) {
        metrics_close(k);
        return -1;
    }
    *self = k;
    return 0;
}

/* A new address takes a new server; the numbers stay. */
static int metrics_reload(void *self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    metrics_sink *k = self;
    met_info(k->m, env->version, env->model, env->precision, env->isa);
    if (strcmp(k->listen, c->metrics.listen) == 0)
        return 0;
    char *addr = strdup(c->metrics.listen);
    struct MHD_Daemon *old = k->http;
    if (!addr) {
        snprintf(err, errlen, "metrics: out of memory");
        return -1;
    }
    /* the old address is let go first: the new one may be the same port
     * on another address */
    MHD_stop_daemon(old);
    k->http = NULL;
    if (listen_on(k, addr, err, errlen) < 0) {
        char again[256];
        /* back to where it was, so the endpoint is not lost to a typo */
        if (listen_on(k, k->listen, again, sizeof again) < 0)
            lc_log(LOG_ERR, "%s", again);
        free(addr);
        return -1;
    }
    free(k->listen);
    k->listen = addr;
    return 0;
}

static void metrics_event(void *self, const snk_event *e)
{
    metrics_sink *k = self;
    if (e->kind == SNK_STATS)
        met_stats(k->m, e);
    else if (e->kind == SNK_LABEL)
        met_latency(k->m, e->stream, e->region, e->model, lc_mono_us() - e->label.decoded_us);
}

static void metrics_sample(void *self, const snk_event *e)
{
    met_stats(((metrics_sink *)self)->m, e);
}

const snk_ops snk_metrics_ops = {
    .name = "metrics",
    .wanted = metrics_wanted,
    .open = metrics_open,
    .reload = metrics_reload,
    .event = metrics_event,
    .sample = metrics_sample,
    .close = metrics_close,
};
