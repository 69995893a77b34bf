/* rtsp-replay: a lean live RTSP server for the end-to-end benchmark.
 *
 *   rtsp-replay --port PORT [--stagger S] [--stats FILE] [-v] NAME=FILE ...
 *
 * Serves each FILE's H.264 video at rtsp://127.0.0.1:PORT/NAME over RTSP
 * with interleaved RTP over TCP, like an IP camera: every mount plays in real
 * time at the file's own pace, looping forever, and a client sees the stream
 * from the next keyframe after its PLAY.  The files are read once at start
 * and cut into RTP packets then, so serving a frame costs one patch of the
 * packet headers and one send() a client.  Prints "READY <port>" on stdout
 * when it listens; SIGTERM and SIGINT end it with status 0.
 *
 * Time model: a mount's frame number k (counted from the server's start,
 * across loops) fixes its send time, RTP timestamp and sequence numbers, so
 * nothing jumps back at a loop and a mount nobody watches costs nothing: it
 * resumes where the clock says it is when a client comes.
 *
 * Protocol facts: RFC 2326 (RTSP 1.0), RFC 3550 (RTP, RTCP sender reports),
 * RFC 6184 (H.264 payload: single NAL unit and FU-A packets), RFC 6184's
 * SDP parameters (packetization-mode, profile-level-id, sprop-parameter-sets).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#define NS              1000000000LL
#define RTP_HZ          90000
#define MAX_PAYLOAD     1400            /* RTP payload bytes: one packet fits a 1500-byte MTU */
#define PKT_HEAD        16              /* '$' channel len16, then the 12-byte RTP header */
#define OUT_LIMIT       (4u << 20)      /* a client further behind than this is dropped */
#define IN_SIZE         8192            /* largest RTSP request head we accept */
#define SR_INTERVAL     (5 * NS)
#define SESSION_TIMEOUT 60              /* advertised only: a session ends with its connection */

/* ------------------------------------------------------------------ logging */

static int verbose;

static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rtsp-replay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int64_t units_to_ns(int64_t u)
{
    return u * (NS / 10000) / (RTP_HZ / 10000);
}

static uint32_t random32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        v = (uint32_t)mono_ns() ^ (uint32_t)getpid() << 16;
    return v;
}

/* ------------------------------------------------------------------ clips */

struct frame {
    uint8_t *buf;          /* the frame's RTP packets, each '$' 0 len16 header payload */
    size_t len;
    int npkts;
    int key;               /* an IDR: a client may start here */
    int64_t due;           /* send time, 90 kHz units after the first frame's */
    int64_t pts;           /* RTP timestamp, 90 kHz units after the first frame's send time */
    uint32_t first_pkt;    /* packets before this frame in one pass */
};

struct clip {
    char *path;
    struct frame *frames;
    int nframes;
    int64_t length;        /* one pass, 90 kHz units */
    uint32_t pkts;         /* packets in one pass */
    uint8_t *sps, *pps;    /* the first ones, for the SDP */
    size_t sps_len, pps_len;
    struct clip *next;
};

/* A growing byte buffer: frame packets while loading, client output later. */
struct buf {
    uint8_t *p;
    size_t head, len, cap; /* bytes [head, len) are pending */
};

static int buf_reserve(struct buf *b, size_t more)
{
    if (b->head && b->len + more > b->cap) {
        memmove(b->p, b->p + b->head, b->len - b->head);
        b->len -= b->head;
        b->head = 0;
    }
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(struct buf *b, const void *p, size_t n)
{
    if (!n)   /* p may be NULL then, which memcpy does not allow */
        return 0;
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* Appends one RTP packet with zeroed sequence, timestamp and SSRC (patched
 * when sent); prefix is the FU indicator and header, or nothing. */
static int add_packet(struct buf *b, size_t *last, const uint8_t *prefix, size_t plen,
                      const uint8_t *data, size_t n)
{
    size_t rtp = 12 + plen + n;
    uint8_t h[PKT_HEAD] = { '$', 0, (uint8_t)(rtp >> 8), (uint8_t)rtp, 0x80, 96 };
    *last = b->len;
    if (buf_put(b, h, sizeof(h)) < 0 || buf_put(b, prefix, plen) < 0 || buf_put(b, data, n) < 0)
        return -1;
    return 1;
}

/* One NAL unit as RTP packets: whole if it fits, else FU-A fragments.
 * Returns the number of packets, or -1 when out of memory. */
static int add_nal(struct buf *b, size_t *last, const uint8_t *nal, size_t n)
{
    if (n <= MAX_PAYLOAD)
        return add_packet(b, last, NULL, 0, nal, n);
    uint8_t fu[2] = { (uint8_t)((nal[0] & 0xe0) | 28), (uint8_t)(0x80 | (nal[0] & 0x1f)) };
    int pkts = 0;
    for (size_t off = 1; off < n;) {
        size_t chunk = n - off > MAX_PAYLOAD - 2 ? MAX_PAYLOAD - 2 : n - off;
        if (off + chunk == n)
            fu[1] |= 0x40;
        if (add_packet(b, last, fu, 2, nal + off, chunk) < 0)
            return -1;
        fu[1] &= 0x7f;
        off += chunk;
        pkts++;
    }
    return pkts;
}

/* The next NAL unit in p[*pos..n): length-prefixed (lsize 1..4) as in MP4,
 * or Annex-B start codes when lsize is 0.  Returns 0 at the end. */
static int next_nal(const uint8_t *p, size_t n, int lsize, size_t *pos,
                    const uint8_t **nal, size_t *nlen)
{
    size_t i = *pos;
    if (lsize) {
        if (i + (size_t)lsize > n)
            return 0;
        size_t len = 0;
        for (int k = 0; k < lsize; k++)
            len = len << 8 | p[i + k];
        i += lsize;
        if (len > n - i)
            len = n - i;   /* truncated packet: keep what is there */
        *nal = p + i;
        *nlen = len;
        *pos = i + len;
        return len > 0 || *pos < n ? 1 : 0;
    }
    while (i + 3 <= n && !(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
        i++;
    if (i + 3 > n)
        return 0;
    i += 3;
    size_t end = i;
    while (end + 3 <= n && !(p[end] == 0 && p[end + 1] == 0 && p[end + 2] <= 1))
        end++;
    if (end + 3 > n)
        end = n;
    *pos = end;
    while (end > i && p[end - 1] == 0)   /* trailing_zero_8bits, 4-byte start codes */
        end--;
    *nal = p + i;
    *nlen = end - i;
    return 1;
}

static int keep_ps(uint8_t **dst, size_t *dlen, const uint8_t *nal, size_t n)
{
    if (*dst || n == 0)
        return 0;
    if (!(*dst = malloc(n)))
        return -1;
    memcpy(*dst, nal, n);
    *dlen = n;
    return 0;
}

/* SPS and PPS from the stream's extradata: an avcC record (MP4, Matroska)
 * or Annex-B NAL units (MPEG-TS).  Returns the NAL length size of the
 * packets (0 = Annex-B) or -1 on a broken avcC. */
static int read_extradata(struct clip *c, const uint8_t *x, size_t n)
{
    if (n >= 7 && x[0] == 1) {
        int lsize = (x[4] & 3) + 1;
        size_t i = 6;
        for (int set = 0; set < 2; set++) {
            int count = set == 0 ? x[5] & 0x1f : (i < n ? x[i++] : 0);
            for (int k = 0; k < count; k++) {
                if (i + 2 > n)
                    return -1;
                size_t len = (size_t)x[i] << 8 | x[i + 1];
                i += 2;
                if (i + len > n)
                    return -1;
                if (keep_ps(set ? &c->pps : &c->sps, set ? &c->pps_len : &c->sps_len, x + i, len) < 0)
                    return -1;
                i += len;
            }
        }
        return lsize;
    }
    size_t pos = 0, len;
    const uint8_t *nal;
    while (next_nal(x, n, 0, &pos, &nal, &len)) {
        if (len && (nal[0] & 0x1f) == 7 && keep_ps(&c->sps, &c->sps_len, nal, len) < 0)
            return -1;
        if (len && (nal[0] & 0x1f) == 8 && keep_ps(&c->pps, &c->pps_len, nal, len) < 0)
            return -1;
    }
    return 0;
}

/* Cuts one access unit into RTP packets; SPS and PPS go in front of an IDR
 * that does not carry them, so a client can start at any keyframe. */
static int build_frame(struct clip *c, struct frame *f, const uint8_t *p, size_t n, int lsize)
{
    struct buf b = { 0 };
    size_t pos = 0, len, last = 0;
    const uint8_t *nal;
    int has_sps = 0, has_pps = 0, idr = 0, pkts = 0, r;

    while (next_nal(p, n, lsize, &pos, &nal, &len)) {
        if (!len)
            continue;
        int t = nal[0] & 0x1f;
        has_sps |= t == 7;
        has_pps |= t == 8;
        idr |= t == 5;
        if ((t == 7 && keep_ps(&c->sps, &c->sps_len, nal, len) < 0) ||
            (t == 8 && keep_ps(&c->pps, &c->pps_len, nal, len) < 0))
            return -1;
    }
    if (idr && !has_sps && c->sps) {
        if ((r = add_nal(&b, &last, c->sps, c->sps_len)) < 0)
            goto oom;
        pkts += r;
    }
    if (idr && !has_pps && c->pps) {
        if ((r = add_nal(&b, &last, c->pps, c->pps_len)) < 0)
            goto oom;
        pkts += r;
    }
    pos = 0;
    while (next_nal(p, n, lsize, &pos, &nal, &len)) {
        /* access unit delimiters mean nothing in RTP, where the marker bit ends a frame */
        if (!len || (nal[0] & 0x1f) == 9)
            continue;
        if ((r = add_nal(&b, &last, nal, len)) < 0)
            goto oom;
        pkts += r;
    }
    if (!pkts) {
        free(b.p);
        return 0;
    }
    b.p[last + 5] |= 0x80;   /* marker: the last packet of the access unit */
    f->buf = b.p;
    f->len = b.len;
    f->npkts = pkts;
    f->key = idr;
    return 1;
oom:
    free(b.p);
    return -1;
}

static int load_packets(struct clip *c, AVFormatContext *fmt, int si, int lsize)
{
    AVStream *st = fmt->streams[si];
    AVRational hz = { 1, RTP_HZ };
    AVPacket *pkt = av_packet_alloc();
    int64_t first = AV_NOPTS_VALUE, prev = 0, step = 0, cap = 0;
    int ret = 0, err;

    if (!pkt)
        return -1;
    if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0)
        step = av_rescale_q(1, av_inv_q(st->avg_frame_rate), hz);
    if (step <= 0)
        step = RTP_HZ / 30;
    while ((err = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index != si || pkt->size <= 0) {
            av_packet_unref(pkt);
            continue;
        }
        if (c->nframes == cap) {
            cap = cap ? cap * 2 : 256;
            struct frame *fr = realloc(c->frames, cap * sizeof(*fr));
            if (!fr) {
                ret = -1;
                break;
            }
            c->frames = fr;
        }
        struct frame *f = &c->frames[c->nframes];
        memset(f, 0, sizeof(*f));
        int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        int64_t t = dts != AV_NOPTS_VALUE ? av_rescale_q(dts, st->time_base, hz) : AV_NOPTS_VALUE;
        int64_t pts = pkt->pts != AV_NOPTS_VALUE ? av_rescale_q(pkt->pts, st->time_base, hz) : t;
        if (t == AV_NOPTS_VALUE) {   /* raw streams: pace by the frame rate */
            t = c->nframes ? prev + step : 0;
            pts = t;
        }
        if (first == AV_NOPTS_VALUE)
            first = t;
        f->due = t - first;
        if (c->nframes && f->due < c->frames[c->nframes - 1].due)
            f->due = c->frames[c->nframes - 1].due;
        f->pts = pts - first;
        prev = t;
        if (pkt->duration > 0)
            c->length = f->due + av_rescale_q(pkt->duration, st->time_base, hz);
        else
            c->length = f->due + step;
        int r = build_frame(c, f, pkt->data, pkt->size, lsize);
        av_packet_unref(pkt);
        if (r < 0) {
            ret = -1;
            break;
        }
        if (r > 0) {
            f->first_pkt = c->pkts;
            c->pkts += f->npkts;
            c->nframes++;
        }
    }
    av_packet_free(&pkt);
    if (ret < 0)
        logmsg("%s: out of memory", c->path);
    else if (err != AVERROR_EOF)
        logmsg("%s: read error: %s (serving what was read)", c->path, av_err2str(err));
    return ret;
}

static int load_clip(struct clip *c)
{
    AVFormatContext *fmt = NULL;
    int err, ret = -1;

    if ((err = avformat_open_input(&fmt, c->path, NULL, NULL)) < 0) {
        logmsg("%s: %s", c->path, av_err2str(err));
        return -1;
    }
    if ((err = avformat_find_stream_info(fmt, NULL)) < 0) {
        logmsg("%s: %s", c->path, av_err2str(err));
        goto out;
    }
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (si < 0) {
        logmsg("%s: no video stream", c->path);
        goto out;
    }
    AVCodecParameters *par = fmt->streams[si]->codecpar;
    if (par->codec_id != AV_CODEC_ID_H264) {
        logmsg("%s: video is %s, only H.264 can be served", c->path, avcodec_get_name(par->codec_id));
        goto out;
    }
    int lsize = read_extradata(c, par->extradata, par->extradata ? par->extradata_size : 0);
    if (lsize < 0) {
        logmsg("%s: broken avcC extradata", c->path);
        goto out;
    }
    if (load_packets(c, fmt, si, lsize) < 0)
        goto out;
    int keys = 0;
    for (int i = 0; i < c->nframes; i++)
        keys += c->frames[i].key;
    if (!c->nframes || !keys)
        logmsg("%s: no %s in the H.264 stream", c->path, c->nframes ? "IDR frame" : "frames");
    else if (!c->sps || !c->pps)
        logmsg("%s: no SPS/PPS found", c->path);
    else
        ret = 0;
    if (!ret && verbose)
        logmsg("%s: %d frames, %d keyframes, %.2f s, %u RTP packets a pass", c->path, c->nframes, keys,
               (double)c->length / RTP_HZ, c->pkts);
out:
    avformat_close_input(&fmt);
    return ret;
}

static void free_clip(struct clip *c)
{
    for (int i = 0; i < c->nframes; i++)
        free(c->frames[i].buf);
    free(c->frames);
    free(c->sps);
    free(c->pps);
    free(c->path);
    free(c);
}

/* ------------------------------------------------------------------ server state */

enum { W_LISTEN, W_SIGNAL, W_PACE, W_STATS, W_CLIENT };

struct watch {
    int kind;
    int fd;
};

enum { C_INIT, C_READY, C_PLAYING };

struct mount;

struct client {
    struct watch w;            /* first: epoll hands back a pointer to it */
    char in[IN_SIZE];
    size_t in_len;
    size_t skip;               /* bytes of an interleaved packet still to discard */
    struct buf out;
    int polling_out;           /* EPOLLOUT is registered */
    int state;
    int waiting_key;           /* playing, but not sent anything until an IDR comes */
    int dead;
    char session[17];
    char url[512];             /* the SETUP URL, echoed in RTP-Info */
    struct mount *mount;
    struct client *mnext;      /* in mount->clients, while playing */
    struct client *next;       /* in server.clients, or server.dead */
};

struct mount {
    char *name;
    struct clip *clip;
    int64_t t0;                /* monotonic ns at which frame 0 is due */
    uint16_t seq0;
    uint32_t ts0, ssrc;
    int64_t next;              /* next frame number to send, while clients play */
    struct client *clients;
    int64_t next_sr;
    uint32_t sent_pkts, sent_octets;
};

struct server {
    int ep;
    struct watch lis, sig, pace, stats;
    struct mount *mounts;
    int nmounts;
    struct clip *clips;
    struct client *clients, *dead;
    int playing;
    long long frames;          /* frames the mounts sent (once a mount, however many clients) */
    const char *stats_path;
    int64_t armed;             /* pacing timer's deadline, 0 = off */
};

static void client_kill(struct server *s, struct client *c, const char *why, int loud);

/* ------------------------------------------------------------------ output */

static void want_out(struct server *s, struct client *c, int on)
{
    if (c->polling_out == on)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->w };
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->w.fd, &ev) == 0)
        c->polling_out = on;
}

/* Writes at once what the socket takes and queues the rest: a frame is one
 * send() a client while the client keeps up. */
static void client_send(struct server *s, struct client *c, const void *p, size_t n)
{
    if (c->dead)
        return;
    if (c->out.len == c->out.head) {
        ssize_t w = send(c->w.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                client_kill(s, c, strerror(errno), 0);
                return;
            }
            w = 0;
        }
        p = (const uint8_t *)p + w;
        n -= (size_t)w;
        if (!n)
            return;
    }
    if (c->out.len - c->out.head + n > OUT_LIMIT) {
        client_kill(s, c, "client cannot keep up (output buffer full)", 1);
        return;
    }
    if (buf_put(&c->out, p, n) < 0) {
        client_kill(s, c, "out of memory", 1);
        return;
    }
    want_out(s, c, 1);
}

static void client_flush(struct server *s, struct client *c)
{
    while (c->out.head < c->out.len) {
        ssize_t w = send(c->w.fd, c->out.p + c->out.head, c->out.len - c->out.head,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_kill(s, c, strerror(errno), 0);
            return;
        }
        c->out.head += (size_t)w;
    }
    c->out.head = c->out.len = 0;
    want_out(s, c, 0);
}

/* ------------------------------------------------------------------ pacing */

static int64_t frame_due(const struct mount *m, int64_t k)
{
    const struct clip *c = m->clip;
    return m->t0 + units_to_ns(k / c->nframes * c->length + c->frames[k % c->nframes].due);
}

static uint16_t frame_seq(const struct mount *m, int64_t k)
{
    const struct clip *c = m->clip;
    return (uint16_t)(m->seq0 + (uint64_t)(k / c->nframes) * c->pkts + c->frames[k % c->nframes].first_pkt);
}

static uint32_t frame_ts(const struct mount *m, int64_t k)
{
    const struct clip *c = m->clip;
    return (uint32_t)(m->ts0 + (uint64_t)(k / c->nframes * c->length + c->frames[k % c->nframes].pts));
}

/* The first frame not yet due at time now. */
static int64_t frame_at(const struct mount *m, int64_t now)
{
    const struct clip *c = m->clip;
    if (now <= m->t0)
        return 0;
    int64_t u = ((now - m->t0) * (RTP_HZ / 10000) + NS / 10000 - 1) / (NS / 10000);
    int64_t pass = u / c->length, r = u % c->length;
    int lo = 0, hi = c->nframes;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->frames[mid].due < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return pass * c->nframes + lo;
}

static int64_t next_key(const struct mount *m, int64_t k)
{
    const struct clip *c = m->clip;
    while (!c->frames[k % c->nframes].key)
        k++;
    return k;
}

/* RTCP sender report (RFC 3550 6.4.1) tying frame k's RTP time to the wall
 * clock at its send time, so a client can tell when a frame was "captured". */
static void send_sr(struct server *s, struct mount *m, int64_t k, int64_t now)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t wall = (int64_t)rt.tv_sec * NS + rt.tv_nsec - (now - frame_due(m, k));
    uint32_t sec = (uint32_t)(wall / NS + 2208988800LL);
    uint32_t frac = (uint32_t)(((uint64_t)(wall % NS) << 32) / NS);
    uint32_t w[7] = { htonl(0x80c80006), htonl(m->ssrc), htonl(sec), htonl(frac),
                      htonl(frame_ts(m, k)), htonl(m->sent_pkts), htonl(m->sent_octets) };
    uint8_t p[4 + sizeof(w)] = { '$', 1, 0, sizeof(w) };
    memcpy(p + 4, w, sizeof(w));
    for (struct client *c = m->clients, *nx; c; c = nx) {
        nx = c->mnext;
        if (!c->waiting_key)
            client_send(s, c, p, sizeof(p));
    }
}

static void mount_send(struct server *s, struct mount *m, int64_t k, int64_t now)
{
    struct frame *f = &m->clip->frames[k % m->clip->nframes];
    int any = 0;
    for (struct client *c = m->clients; c; c = c->mnext) {
        if (c->waiting_key && f->key)
            c->waiting_key = 0;
        any |= !c->waiting_key;
    }
    if (!any)
        return;
    /* The clip's packets are shared by the mounts that play it: patch them
     * for this mount, send, and let the next mount patch them again. */
    uint16_t seq = frame_seq(m, k);
    uint32_t ts = htonl(frame_ts(m, k)), ssrc = htonl(m->ssrc);
    for (size_t i = 0; i < f->len; seq++) {
        uint8_t *h = f->buf + i + 4;
        h[2] = (uint8_t)(seq >> 8);
        h[3] = (uint8_t)seq;
        memcpy(h + 4, &ts, 4);
        memcpy(h + 8, &ssrc, 4);
        i += 4 + ((size_t)f->buf[i + 2] << 8 | f->buf[i + 3]);
    }
    for (struct client *c = m->clients, *nx; c; c = nx) {
        nx = c->mnext;
        if (!c->waiting_key)
            client_send(s, c, f->buf, f->len);
    }
    m->sent_pkts += (uint32_t)f->npkts;
    m->sent_octets += (uint32_t)(f->len - (size_t)f->npkts * PKT_HEAD);
    s->frames++;
    if (now >= m->next_sr) {
        send_sr(s, m, k, now);
        m->next_sr = now + SR_INTERVAL;
    }
}

/* Sends every frame that is due and arms the timer for the next one. */
static void pace(struct server *s)
{
    int64_t now = mono_ns(), next = 0;
    for (int i = 0; i < s->nmounts; i++) {
        struct mount *m = &s->mounts[i];
        if (!m->clients)
            continue;
        int64_t due = 0;
        while (m->clients && (due = frame_due(m, m->next)) <= now)
            mount_send(s, m, m->next++, now);
        if (m->clients && (!next || due < next))
            next = due;
    }
    if (next == s->armed)
        return;
    struct itimerspec its = { .it_value = { .tv_sec = next / NS, .tv_nsec = next % NS } };
    if (timerfd_settime(s->pace.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        s->armed = next;
}

/* ------------------------------------------------------------------ clients */

static void mount_detach(struct server *s, struct client *c)
{
    if (c->state != C_PLAYING)
        return;
    for (struct client **pp = &c->mount->clients; *pp; pp = &(*pp)->mnext) {
        if (*pp == c) {
            *pp = c->mnext;
            break;
        }
    }
    c->mnext = NULL;
    c->state = C_READY;
    s->playing--;
}

/* Closes at once; the memory waits for the end of the epoll batch, whose
 * later events may still point at it. */
static void client_kill(struct server *s, struct client *c, const char *why, int loud)
{
    if (c->dead)
        return;
    if (verbose || loud)
        logmsg("client %d%s%s: %s", c->w.fd, c->mount ? " on " : "", c->mount ? c->mount->name : "",
               why ? why : "closed");
    mount_detach(s, c);
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->w.fd, NULL);
    close(c->w.fd);
    c->dead = 1;
    for (struct client **pp = &s->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->next = s->dead;
    s->dead = c;
}

static void reap(struct server *s)
{
    while (s->dead) {
        struct client *c = s->dead;
        s->dead = c->next;
        free(c->out.p);
        free(c);
    }
}

static void accept_clients(struct server *s)
{
    for (;;) {
        int fd = accept4(s->lis.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                logmsg("accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->w.kind = W_CLIENT;
        c->w.fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->w };
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            logmsg("epoll_ctl: %s", strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->next = s->clients;
        s->clients = c;
        if (verbose)
            logmsg("client %d connected", fd);
    }
}

/* ------------------------------------------------------------------ RTSP */

struct request {
    char *method, *url, *version;
    int cseq;                  /* -1: missing */
    const char *session, *transport;
};

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 454: return "Session Not Found";
    case 455: return "Method Not Valid in This State";
    case 461: return "Unsupported Transport";
    case 501: return "Not Implemented";
    case 505: return "RTSP Version not supported";
    default: return "Error";
    }
}

static void reply(struct server *s, struct client *c, int code, int cseq, const char *headers,
                  const char *body)
{
    char msg[4096];
    int n = snprintf(msg, sizeof(msg), "RTSP/1.0 %d %s\r\n", code, reason(code));
    if (cseq >= 0)
        n += snprintf(msg + n, sizeof(msg) - n, "CSeq: %d\r\n", cseq);
    n += snprintf(msg + n, sizeof(msg) - n, "Server: rtsp-replay\r\n");
    if (c->session[0])
        n += snprintf(msg + n, sizeof(msg) - n, "Session: %s;timeout=%d\r\n", c->session, SESSION_TIMEOUT);
    if (body)
        n += snprintf(msg + n, sizeof(msg) - n, "Content-Length: %zu\r\n", strlen(body));
    n += snprintf(msg + n, sizeof(msg) - n, "%s\r\n%s", headers ? headers : "", body ? body : "");
    if (n >= (int)sizeof(msg)) {
        logmsg("reply too long");
        n = (int)sizeof(msg) - 1;
    }
    client_send(s, c, msg, (size_t)n);
}

/* The mount a URL names: rtsp://host[:port]/NAME[/stream=0], or NULL. */
static struct mount *find_mount(struct server *s, const char *url)
{
    const char *p = url;
    if (!strncasecmp(p, "rtsp://", 7)) {
        p = strchr(p + 7, '/');
        if (!p)
            return NULL;
    }
    while (*p == '/')
        p++;
    size_t n = strcspn(p, "/?");
    for (int i = 0; i < s->nmounts; i++)
        if (strlen(s->mounts[i].name) == n && !memcmp(s->mounts[i].name, p, n))
            return &s->mounts[i];
    return NULL;
}

static void base64(char *dst, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *dst++ = tab[v >> 18 & 63];
        *dst++ = tab[v >> 12 & 63];
        *dst++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *dst++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *dst = 0;
}

static void do_describe(struct server *s, struct client *c, const struct request *r)
{
    struct mount *m = find_mount(s, r->url);
    if (!m) {
        reply(s, c, 404, r->cseq, NULL, NULL);
        return;
    }
    struct clip *cl = m->clip;
    char *sps = malloc(cl->sps_len * 4 / 3 + 5), *pps = malloc(cl->pps_len * 4 / 3 + 5);
    size_t blen = 1024 + cl->sps_len * 2 + cl->pps_len * 2;
    char *body = malloc(blen);
    if (!sps || !pps || !body) {
        free(sps);
        free(pps);
        free(body);
        client_kill(s, c, "out of memory", 1);
        return;
    }
    base64(sps, cl->sps, cl->sps_len);
    base64(pps, cl->pps, cl->pps_len);
    const uint8_t *q = cl->sps;
    snprintf(body, blen,
             "v=0\r\n"
             "o=- %u 1 IN IP4 127.0.0.1\r\n"
             "s=%s\r\n"
             "c=IN IP4 0.0.0.0\r\n"
             "t=0 0\r\n"
             "a=control:*\r\n"
             "a=range:npt=now-\r\n"
             "m=video 0 RTP/AVP 96\r\n"
             "a=rtpmap:96 H264/90000\r\n"
             "a=fmtp:96 packetization-mode=1;profile-level-id=%02X%02X%02X;sprop-parameter-sets=%s,%s\r\n"
             "a=control:stream=0\r\n",
             m->ssrc, m->name, cl->sps_len > 3 ? q[1] : 0x42, cl->sps_len > 3 ? q[2] : 0,
             cl->sps_len > 3 ? q[3] : 0x1f, sps, pps);
    char hdr[700];
    size_t ul = strlen(r->url);
    snprintf(hdr, sizeof(hdr), "Content-Type: application/sdp\r\nContent-Base: %s%s\r\n", r->url,
             ul && r->url[ul - 1] == '/' ? "" : "/");
    reply(s, c, 200, r->cseq, hdr, body);
    free(sps);
    free(pps);
    free(body);
}

static void do_setup(struct server *s, struct client *c, const struct request *r)
{
    struct mount *m = find_mount(s, r->url);
    if (!m) {
        reply(s, c, 404, r->cseq, NULL, NULL);
        return;
    }
    if (c->state == C_PLAYING && m != c->mount) {
        reply(s, c, 455, r->cseq, NULL, NULL);
        return;
    }
    if (r->session && c->session[0] && strncmp(r->session, c->session, strlen(c->session))) {
        reply(s, c, 454, r->cseq, NULL, NULL);
        return;
    }
    /* Interleaved TCP only, on channels 0-1: the benchmark's clients ask for
     * nothing else, and one shared packet buffer carries the channel byte. */
    const char *t = r->transport;
    const char *il = t ? strstr(t, "interleaved=") : NULL;
    int lo = 0, hi = 1;
    if (il && sscanf(il + 12, "%d-%d", &lo, &hi) < 1)
        lo = -1;
    if (!t || !strstr(t, "RTP/AVP/TCP") || lo != 0 || hi != 1) {
        reply(s, c, 461, r->cseq, NULL, NULL);
        return;
    }
    if (!c->session[0])
        snprintf(c->session, sizeof(c->session), "%08X%08X", random32(), random32());
    c->mount = m;
    snprintf(c->url, sizeof(c->url), "%s", r->url);
    if (c->state == C_INIT)
        c->state = C_READY;
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=%08X\r\n", m->ssrc);
    reply(s, c, 200, r->cseq, hdr, NULL);
}

static int session_ok(struct server *s, struct client *c, const struct request *r)
{
    if (c->session[0] && r->session && !strncmp(r->session, c->session, strlen(c->session)))
        return 1;
    reply(s, c, c->session[0] ? 454 : 455, r->cseq, NULL, NULL);
    return 0;
}

static void do_play(struct server *s, struct client *c, const struct request *r)
{
    if (!session_ok(s, c, r))
        return;
    struct mount *m = c->mount;
    int64_t now = mono_ns();
    if (c->state != C_PLAYING) {
        if (!m->clients) {   /* the mount wakes up where its clock is */
            m->next = frame_at(m, now);
            m->next_sr = now;
        }
        c->state = C_PLAYING;
        c->waiting_key = 1;
        c->mnext = m->clients;
        m->clients = c;
        s->playing++;
    }
    /* A waiting client's first packet is the mount's next keyframe. */
    int64_t k = next_key(m, m->next);
    char hdr[700];
    snprintf(hdr, sizeof(hdr), "Range: npt=now-\r\nRTP-Info: url=%s;seq=%u;rtptime=%u\r\n", c->url,
             frame_seq(m, k), frame_ts(m, k));
    reply(s, c, 200, r->cseq, hdr, NULL);
    pace(s);
}

static void do_request(struct server *s, struct client *c, struct request *r)
{
    if (verbose)
        logmsg("client %d: %s %s", c->w.fd, r->method, r->url);
    if (!strcmp(r->method, "OPTIONS"))
        reply(s, c, 200, r->cseq, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n", NULL);
    else if (!strcmp(r->method, "DESCRIBE"))
        do_describe(s, c, r);
    else if (!strcmp(r->method, "SETUP"))
        do_setup(s, c, r);
    else if (!strcmp(r->method, "PLAY"))
        do_play(s, c, r);
    else if (!strcmp(r->method, "GET_PARAMETER") || !strcmp(r->method, "SET_PARAMETER")) {
        if (!r->session || session_ok(s, c, r))
            reply(s, c, 200, r->cseq, NULL, NULL);
    } else if (!strcmp(r->method, "TEARDOWN")) {
        if (session_ok(s, c, r)) {
            mount_detach(s, c);
            reply(s, c, 200, r->cseq, NULL, NULL);
            c->session[0] = 0;
            c->state = C_INIT;
            c->mount = NULL;
        }
    } else
        reply(s, c, 501, r->cseq, "Allow: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n", NULL);
}

/* Splits a request head (NUL-terminated, in place).  Returns 0, or the
 * status to answer a request that cannot be served. */
static int parse_request(char *head, struct request *r)
{
    char *save, *line = strtok_r(head, "\n", &save);
    memset(r, 0, sizeof(*r));
    r->cseq = -1;
    if (!line)
        return 400;
    line[strcspn(line, "\r")] = 0;
    r->method = strtok(line, " ");
    r->url = strtok(NULL, " ");
    r->version = strtok(NULL, " ");
    if (!r->method || !r->url || !r->version || strtok(NULL, " "))
        return 400;
    for (char *m = r->method; *m; m++)
        if (!isupper((unsigned char)*m) && *m != '_')
            return 400;
    if (strncmp(r->version, "RTSP/", 5))
        return 400;
    while ((line = strtok_r(NULL, "\n", &save))) {
        line[strcspn(line, "\r")] = 0;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!strcasecmp(line, "CSeq")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || n < 0 || n > 0x7fffffff)
                return 400;
            r->cseq = (int)n;
        } else if (!strcasecmp(line, "Session"))
            r->session = v;
        else if (!strcasecmp(line, "Transport"))
            r->transport = v;
    }
    if (r->cseq < 0)
        return 400;
    if (strcmp(r->version, "RTSP/1.0"))
        return 505;
    return 0;
}

static size_t content_length(const char *head, size_t n)
{
    for (const char *p = head; p < head + n; p++) {
        if ((p == head || p[-1] == '\n') && !strncasecmp(p, "Content-Length:", 15))
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

static void drop_input(struct client *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* Handles every complete request in the input; interleaved packets from
 * the client (RTCP receiver reports) are skipped. */
static void client_input(struct server *s, struct client *c)
{
    while (c->in_len && !c->dead) {
        if (c->skip) {
            size_t n = c->skip < c->in_len ? c->skip : c->in_len;
            drop_input(c, n);
            c->skip -= n;
            continue;
        }
        if (c->in[0] == '$') {
            if (c->in_len < 4)
                return;
            c->skip = 4 + ((size_t)(uint8_t)c->in[2] << 8 | (uint8_t)c->in[3]);
            continue;
        }
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) {
            if (c->in_len == sizeof(c->in)) {
                reply(s, c, 400, -1, NULL, NULL);
                client_flush(s, c);
                client_kill(s, c, "request head too long", 1);
            }
            return;
        }
        size_t hlen = (size_t)(end - c->in) + 4;
        char head[IN_SIZE + 1];
        memcpy(head, c->in, hlen);
        head[hlen] = 0;
        size_t body = content_length(head, hlen);
        drop_input(c, hlen);
        c->skip = body;
        struct request r;
        int code = parse_request(head, &r);
        if (code) {
            reply(s, c, code, r.cseq, NULL, NULL);
            if (code == 400) {   /* no telling where the next request starts */
                client_flush(s, c);
                client_kill(s, c, "malformed request", 1);
            }
            continue;
        }
        do_request(s, c, &r);
    }
}

static void client_event(struct server *s, struct client *c, uint32_t events)
{
    if (events & EPOLLOUT)
        client_flush(s, c);
    if (c->dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        if (c->in_len == sizeof(c->in)) {
            client_input(s, c);
            if (c->dead || c->in_len == sizeof(c->in))
                return;
        }
        ssize_t n = recv(c->w.fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n == 0) {
            client_kill(s, c, "closed", 0);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_kill(s, c, strerror(errno), 0);
            return;
        }
        c->in_len += (size_t)n;
        client_input(s, c);
        if (c->dead)
            return;
    }
}

/* ------------------------------------------------------------------ setup and loop */

static void write_stats(struct server *s)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        logmsg("%s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, "%d %lld\n", s->playing, s->frames);
    if (fclose(f) != 0 || rename(tmp, s->stats_path) != 0)
        logmsg("%s: %s", s->stats_path, strerror(errno));
}

static int watch(struct server *s, struct watch *w, int kind, int fd)
{
    w->kind = kind;
    w->fd = fd;
    if (fd < 0)
        return -1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int open_listener(struct server *s, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 256) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0 || watch(s, &s->lis, W_LISTEN, fd) < 0) {
        close(fd);
        return -1;
    }
    return ntohs(a.sin_port);
}

static int open_timers(struct server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        watch(s, &s->sig, W_SIGNAL, signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        watch(s, &s->pace, W_PACE, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
        return -1;
    if (!s->stats_path)
        return 0;
    struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
    if (watch(s, &s->stats, W_STATS, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
        timerfd_settime(s->stats.fd, 0, &its, NULL) < 0)
        return -1;
    return 0;
}

static void drain(int fd)
{
    uint8_t b[256];
    while (read(fd, b, sizeof(b)) > 0)
        ;
}

static int run(struct server *s)
{
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(s->ep, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            logmsg("epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            switch (w->kind) {
            case W_LISTEN:
                accept_clients(s);
                break;
            case W_SIGNAL:
                return 0;
            case W_PACE:
                drain(w->fd);
                s->armed = 0;   /* fired: pace() must arm it again */
                break;
            case W_STATS:
                drain(w->fd);
                write_stats(s);
                break;
            case W_CLIENT:
                client_event(s, (struct client *)w, evs[i].events);
                break;
            }
        }
        pace(s);
        reap(s);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rtsp-replay --port PORT [--stagger S] [--stats FILE] [-v] NAME=FILE ...\n"
        "  serves FILE's H.264 video, looped in real time, at rtsp://127.0.0.1:PORT/NAME\n"
        "  (RTP over the RTSP connection only); --port 0 picks a free port\n"
        "  --stagger S  mount N (from 0) is phased by N*S seconds modulo 1 s\n"
        "  --stats FILE once a second, write \"<clients playing> <frames sent>\" there\n");
}

static struct clip *get_clip(struct server *s, const char *path)
{
    char *real = realpath(path, NULL);
    if (!real) {
        logmsg("%s: %s", path, strerror(errno));
        return NULL;
    }
    for (struct clip *c = s->clips; c; c = c->next) {
        if (!strcmp(c->path, real)) {
            free(real);
            return c;
        }
    }
    struct clip *c = calloc(1, sizeof(*c));
    if (!c) {
        free(real);
        return NULL;
    }
    c->path = real;
    c->next = s->clips;
    s->clips = c;
    return load_clip(c) < 0 ? NULL : c;
}

static int add_mounts(struct server *s, char **args, int n, double stagger)
{
    int64_t start = mono_ns();
    if (!(s->mounts = calloc((size_t)n, sizeof(*s->mounts))))
        return -1;
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq || eq == args[i] || !eq[1] || memchr(args[i], '/', (size_t)(eq - args[i]))) {
            logmsg("bad mount '%s': want NAME=FILE", args[i]);
            return -1;
        }
        struct mount *m = &s->mounts[s->nmounts++];
        if (!(m->name = strndup(args[i], (size_t)(eq - args[i]))) || !(m->clip = get_clip(s, eq + 1)))
            return -1;
        double phase = i * stagger - (long)(i * stagger);
        m->t0 = start + (int64_t)(phase * NS);
        m->seq0 = (uint16_t)random32();
        m->ts0 = random32();
        m->ssrc = random32();
    }
    return 0;
}

static void cleanup(struct server *s)
{
    while (s->clients)
        client_kill(s, s->clients, NULL, 0);
    reap(s);
    for (int i = 0; i < s->nmounts; i++)
        free(s->mounts[i].name);
    free(s->mounts);
    while (s->clips) {
        struct clip *c = s->clips;
        s->clips = c->next;
        free_clip(c);
    }
    int fds[] = { s->lis.fd, s->sig.fd, s->pace.fd, s->stats.fd, s->ep };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },
        { "stagger", required_argument, NULL, 's' },
        { "stats", required_argument, NULL, 'S' },
        { "loop", no_argument, NULL, 'l' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct server s = { .ep = -1, .lis.fd = -1, .sig.fd = -1, .pace.fd = -1, .stats.fd = -1 };
    int port = -1, opt, ret = 1;
    double stagger = 0;
    char *end;

    while ((opt = getopt_long(argc, argv, "p:s:S:lvh", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            port = (int)strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535)
                port = -2;
            break;
        case 's':
            stagger = strtod(optarg, &end);
            if (*end || !(stagger >= 0 && stagger < 1)) {
                logmsg("--stagger must be in [0, 1)");
                return 2;
            }
            break;
        case 'S':
            s.stats_path = optarg;
            break;
        case 'l':   /* always loops; accepted like the GStreamer test server's flag */
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (port < 0 || optind == argc) {
        usage(stderr);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    if ((s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || open_timers(&s) < 0) {
        logmsg("setup: %s", strerror(errno));
        goto out;
    }
    if (add_mounts(&s, argv + optind, argc - optind, stagger) < 0)
        goto out;
    int bound = open_listener(&s, port);
    if (bound < 0) {
        logmsg("cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        goto out;
    }
    printf("READY %d\n", bound);
    fflush(stdout);
    if (s.stats_path)
        write_stats(&s);
    ret = run(&s) < 0 ? 1 : 0;
out:
    cleanup(&s);
    return ret;
}
