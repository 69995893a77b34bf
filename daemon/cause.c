/* cause.c: why a stream could not be opened.  See cause.h.
 *
 * libavformat reports a refused login as AVERROR_HTTP_UNAUTHORIZED or
 * _FORBIDDEN, for RTSP as for HTTP; an RTSP server that refuses every
 * transport it was offered (461) as a bare EPROTONOSUPPORT, with the status
 * line only in its log.  The log line is checked too, since a demuxer that
 * opens further URLs of its own (HLS segments) may end with another code. */
#include "daemon/cause.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libavutil/error.h>

#include "daemon/redact.h"

static int said_status(const char *said, const char *status)
{
    return said && strstr(said, status) != NULL;
}

int ing_cause_of(const cfg_stream *c, int averr, const char *said)
{
    if (averr == AVERROR_HTTP_UNAUTHORIZED || averr == AVERROR_HTTP_FORBIDDEN ||
        said_status(said, "401 Unauthorized") || said_status(said, "403 Forbidden"))
        return ING_CAUSE_AUTH;
    if (c->url_kind == CFG_URL_RTSP &&
        (averr == AVERROR(EPROTONOSUPPORT) || said_status(said, " 461 ")))
        return ING_CAUSE_TRANSPORT;
    if ((c->url_kind == CFG_URL_FILE || c->url_kind == CFG_URL_DEVICE) &&
        (averr == AVERROR(ENOENT) || averr == AVERROR(ENOTDIR)))
        return ING_CAUSE_MISSING;
    return ING_CAUSE_OTHER;
}

/* The host of a URL's authority ("[::1]" keeps its brackets), *n its length. */
static const char *url_host(const char *url, size_t *n)
{
    const char *a = strstr(url, "://");
    if (!a)
        return NULL;
    a += 3;
    size_t auth = strcspn(a, "/?#");
    for (size_t i = auth; i > 0; i--)        /* userinfo ends at the last '@' */
        if (a[i - 1] == '@') {
            a += i;
            auth -= i;
            break;
        }
    if (a[0] == '[') {
        const char *end = memchr(a, ']', auth);
        *n = end ? (size_t)(end - a) + 1 : auth;
    } else {
        const char *colon = memchr(a, ':', auth);
        *n = colon ? (size_t)(colon - a) : auth;
    }
    return a;
}

static const char *const inner_schemes[] = { "tcp://", "tls://", "udp://" };

/* Length of an inner URL starting at p (its scheme included), 0 if none. */
static size_t inner_url(const char *in, const char *p, int *connects)
{
    if (p > in && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                   (p[-1] >= '0' && p[-1] <= '9')))
        return 0;
    for (size_t i = 0; i < sizeof inner_schemes / sizeof inner_schemes[0]; i++)
        if (strncmp(p, inner_schemes[i], 6) == 0) {
            size_t n = strcspn(p, " \t\r\n'\"),;");
            while (n > 6 && (p[n - 1] == ':' || p[n - 1] == '.'))   /* the sentence's */
                n--;
            *connects = i < 2;
            return n;
        }
    return 0;
}

static void put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *o + 1 < outlen; i++)
        out[(*o)++] = s[i];
}

void ing_cause_public_urls(char *out, size_t outlen, const char *in, const char *url)
{
    char pub[512];
    size_t o = 0, hn = 0;
    const char *host = url_host(url, &hn);
    if (!outlen)
        return;
    rdx_url_public(pub, sizeof pub, url);
    for (const char *p = in; *p;) {
        int connects = 0;
        size_t n = inner_url(in, p, &connects);
        if (!n) {
            put(out, outlen, &o, p++, 1);
            continue;
        }
        /* host:port, without libav's options */
        const char *hp = p + 6;
        size_t hpn = strcspn(hp, "/?#");
        if (hpn > n - 6)
            hpn = n - 6;
        size_t ihn = 0;
        const char *ih = url_host(p, &ihn);
        if (connects && host && ih && ihn == hn && strncasecmp(ih, host, hn) == 0)
            put(out, outlen, &o, pub, strlen(pub));
        else
            put(out, outlen, &o, hp, hpn);
        p += n;
    }
    out[o] = '\0';
}

static const char *transport_name(int t)
{
    return t == CFG_TRANSPORT_UDP ? "UDP" : t == CFG_TRANSPORT_AUTO ? "both UDP and TCP" : "TCP";
}

static const char *transport_fix(int t)
{
    return t == CFG_TRANSPORT_UDP ? "set rtsp_transport = tcp or auto" :
           t == CFG_TRANSPORT_AUTO ? "enable RTP over TCP or UDP in the server's RTSP settings" :
                                     "set rtsp_transport = udp or auto";
}

void ing_cause_reason(char *err, size_t errlen, const cfg_stream *c, int cause, const char *what,
                      int averr, const char *said)
{
    char e[128], words[256], pub[256], shown[256];
    if (av_strerror(averr, e, sizeof e) < 0)
        snprintf(e, sizeof e, "error %d", averr);
    /* a known cause's status line says it all; libav's code would repeat it */
    if (said && said[0] && (strstr(said, e) || cause == ING_CAUSE_AUTH ||
                            cause == ING_CAUSE_TRANSPORT))
        snprintf(words, sizeof words, "%s", said);
    else if (said && said[0])
        snprintf(words, sizeof words, "%s (%s)", said, e);
    else
        snprintf(words, sizeof words, "%s", e);
    ing_cause_public_urls(shown, sizeof shown, words, c->url);
    rdx_url_public(pub, sizeof pub, c->url);
    switch (cause) {
    case ING_CAUSE_AUTH:
        snprintf(err, errlen, "%s%s refused the login: %s; check the credentials in the URL%s",
                 what, pub, shown, c->password ? " and in password_file" : "");
        break;
    case ING_CAUSE_TRANSPORT:
        snprintf(err, errlen, "%s%s refuses RTSP over %s: %s; %s", what, pub,
                 transport_name(c->rtsp_transport), shown, transport_fix(c->rtsp_transport));
        break;
    case ING_CAUSE_MISSING:
        snprintf(err, errlen, "%s%s%s%s: check the stream's url", what,
                 strstr(shown, c->url) ? "" : pub, strstr(shown, c->url) ? "" : ": ", shown);
        break;
    default:
        /* a file's other errors (permissions, a directory) name it too */
        if (c->url_kind == CFG_URL_FILE && !strstr(shown, c->url))
            snprintf(err, errlen, "%s%s: %s", what, pub, shown);
        else
            snprintf(err, errlen, "%s%s", what, shown);
    }
}
