/* ingest.c: the per-stream ingest thread.  See ingest.h.
 *
 * The thread owns its demuxer, decoder and scaler; each (re)connect starts
 * them afresh and frees them on the way out, so nothing accumulates across
 * reconnects.  States go to subscribers as `stream` events: up when the
 * first frame is decoded, down with the reason when it fails, reconnecting
 * with the delay, eof when a file (or a network source with a duration)
 * ends.  What time a frame has, and which frames sample_fps keeps, is the
 * stream clock's business (tsclock.h). */
#include "daemon/ingest.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/time.h>

#include "daemon/cause.h"
#include "daemon/evq.h"
#include "daemon/inflight.h"
#include "daemon/log.h"
#include "daemon/redact.h"
#include "daemon/retry.h"
#include "daemon/sched.h"
#include "daemon/sink.h"
#include "daemon/tsclock.h"
#include "daemon/util.h"
#include "media/scale.h"

#define INGEST_NICE 15          /* below the inference thread: see ing_main */

/* How a run of the stream ended. */
enum { RUN_STOP = 0, RUN_EOF = 1, RUN_ERROR = 2 };

typedef struct {
    lc_stream *s;
    int64_t deadline_us;       /* monotonic; 0 = none */
    int timed_out;
} io_guard;

static int should_interrupt(void *opaque)
{
    io_guard *g = opaque;
    int64_t now = lc_mono_us();
    __atomic_store_n(&g->s->heartbeat_us, now, __ATOMIC_RELAXED);
    if (__atomic_load_n(&g->s->stop, __ATOMIC_ACQUIRE))
        return 1;
    if (g->deadline_us && now > g->deadline_us) {
        g->timed_out = 1;
        return 1;
    }
    return 0;
}

static void av_msg(int ret, char *buf, size_t len)
{
    if (av_strerror(ret, buf, len) < 0)
        snprintf(buf, len, "error %d", ret);
}

/* libavformat often returns a bare EIO or EINVAL and says what really
 * happened (the resolver's answer, the server's status line) only in a log
 * message.  The log callback hands messages of error level here, already
 * scrubbed of every configured password; each ingest thread keeps the first
 * of its own, and uses it as the reason when opening fails. */
static __thread char av_last[200];
static __thread int av_listening;

void ing_note_av_log(int level, const char *text)
{
    /* the first message of an attempt is the cause, later ones its echoes */
    if (!av_listening || level > AV_LOG_ERROR || av_last[0])
        return;
    snprintf(av_last, sizeof av_last, "%s", text);
    size_t n = strlen(av_last);
    while (n && (av_last[n - 1] == '\n' || av_last[n - 1] == '.'))
        av_last[--n] = 0;
}

/* The URL libav opens: the configured one, with password_file's password
 * put in its userinfo.  NULL when out of memory; the caller frees it. */
static char *open_url(const lc_stream *s)
{
    char *u = NULL;
    if (!s->cfg.password)
        return strdup(s->cfg.url);
    if (rdx_url_with_password(&u, s->cfg.url, s->cfg.password) < 0)
        return NULL;
    return u;
}

/* err = what failed: libav's own words when it logged any, its code too;
 * returns the cause (ING_CAUSE_*).  The words are a server's as much as
 * libav's: they pass the redactor again with this stream's own passwords,
 * whatever the log callback did. */
static int open_reason(lc_stream *s, const char *what, int ret, char *err, size_t errlen)
{
    char said[sizeof av_last], *url = open_url(s);
    rdx_secret sec[3] = { { 0 } };
    int n = 0, r, oom = !url;
    if ((r = rdx_secret_from_url(&sec[n], s->cfg.url)) > 0)
        n++;
    oom |= r < 0;
    if (url && (r = rdx_secret_from_url(&sec[n], url)) > 0)
        n++;
    oom |= r < 0;
    if ((r = rdx_secret_from_plain(&sec[n], s->cfg.password)) > 0)
        n++;
    oom |= r < 0;
    /* out of memory for a secret: say nothing libav said rather than risk it */
    if (oom)
        av_last[0] = 0;
    rdx_scrub(said, sizeof said, av_last, sec, n);
    for (int i = 0; i < n; i++)
        rdx_secret_free(&sec[i]);
    free(url);
    int cause = ing_cause_of(&s->cfg, ret, said);
    ing_cause_reason(err, errlen, &s->cfg, cause, what, ret, said);
    return cause;
}

static void emit_state(lc_stream *s, const char *state, const char *reason, double retry)
{
    evq_push(s->q, snk_state_new(s->cfg.name, state, reason, retry));
}

typedef struct {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    scl *scaler;
    int si;
    AVRational tb;
    int finite;                 /* a file, or a network source with a duration */
    tsc_clock *clk;             /* the stream's, kept across runs */
    ifl_queue ifl;              /* packets in the decoder */
    double first_sec;           /* of this run, for realtime pacing; NAN until set */
    int64_t start_us;           /* monotonic time the first frame was due */
    double next_keep;           /* sample_fps: the pts from which to keep */
    int got_frame;
    double last_key;           /* pts of the last keyframe packet */
    int keys_only;
    int64_t jump_log_us;        /* when a timestamp jump was last logged */
    int jumps_unlogged;
    int cause;                 /* ING_CAUSE_* of a failed open */
} run_ctx;

static void run_free(run_ctx *r)
{
    scl_free(r->scaler);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
}

static int open_input(lc_stream *s, run_ctx *r, io_guard *g, char *err, size_t errlen)
{
    const cfg_stream *c = &s->cfg;
    AVDictionary *o = NULL;
    const AVInputFormat *ifmt = NULL;
    const AVCodec *codec = NULL;
    char e[128];
    int ret;
    /* Our deadlines (the interrupt callback) must decide before the socket
     * timeout does: libav reports its own timeout as a bare EIO or as
     * invalid data, which says nothing about what happened.  The socket
     * timeout stays as a backstop for I/O the callback does not see. */
    int64_t sock_us = (int64_t)(fmax(c->open_timeout, c->stall_timeout) * 1e6) + 1000000;

    if (!(r->fmt = avformat_alloc_context())) {
        snprintf(err, errlen, "out of memory");
        return AVERROR(ENOMEM);
    }
    r->fmt->interrupt_callback = (AVIOInterruptCB){ should_interrupt, g };
    if (c->url_kind == CFG_URL_RTSP) {
        const char *t = c->rtsp_transport == CFG_TRANSPORT_UDP ? "udp" :
                        c->rtsp_transport == CFG_TRANSPORT_AUTO ? "udp+tcp" : "tcp";
        av_dict_set(&o, "rtsp_transport", t, 0);
        /* socket-level timeout too, for the I/O the callback does not see */
        av_dict_set_int(&o, "timeout", sock_us, 0);
    } else if (c->url_kind == CFG_URL_HTTP) {
        av_dict_set_int(&o, "rw_timeout", sock_us, 0);
    } else if (c->url_kind == CFG_URL_DEVICE) {
        ifmt = av_find_input_format("video4linux2");
    }
    g->deadline_us = lc_mono_us() + (int64_t)(c->open_timeout * 1e6);
    av_last[0] = 0;
    char *url = open_url(s);
    if (!url) {
        av_dict_free(&o);
        snprintf(err, errlen, "out of memory");
        return AVERROR(ENOMEM);
    }
    ret = avformat_open_input(&r->fmt, url, ifmt, &o);
    if (c->password)
        explicit_bzero(url, strlen(url));
    free(url);
    av_dict_free(&o);
    if (ret < 0) {
        if (g->timed_out)
            snprintf(err, errlen, "no answer within open_timeout (%.1f s)", c->open_timeout);
        else
            r->cause = open_reason(s, "", ret, err, errlen);
        return ret;
    }
    if ((ret = avformat_find_stream_info(r->fmt, NULL)) < 0) {
        if (g->timed_out)
            snprintf(err, errlen, "reading stream info: no answer within open_timeout (%.1f s)",
                     c->open_timeout);
        else
            r->cause = open_reason(s, "reading stream info: ", ret, err, errlen);
        return ret;
    }
    if ((ret = r->si = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0) {
        snprintf(err, errlen, "no decodable video stream");
        return ret;
    }
    AVStream *st = r->fmt->streams[r->si];
    r->tb = st->time_base;
    if (!(r->dec = avcodec_alloc_context3(codec)) || !(r->pkt = av_packet_alloc()) ||
        !(r->frame = av_frame_alloc())) {
        snprintf(err, errlen, "out of memory");
        return AVERROR(ENOMEM);
    }
    if ((ret = avcodec_parameters_to_context(r->dec, st->codecpar)) < 0)
        goto dec_fail;
    /* one decoding thread per stream: many streams share few cores */
    r->dec->thread_count = 1;
    /* Deblocking smooths 8x8 block edges that the scale to the model's input
     * averages away anyway; skipping it saves about a third of H.264
     * decoding.  The reference frames then drift from the encoder's until
     * the next keyframe, which the model does not notice (test_daemon checks
     * the labels of both test clips either way). */
    if (!s->cfg.deblock)
        r->dec->skip_loop_filter = AVDISCARD_ALL;
    if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0)
        goto dec_fail;
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if ((int)i != r->si)
            r->fmt->streams[i]->discard = AVDISCARD_ALL;
    if ((ret = scl_new(&r->scaler, s->w, s->h, s->mode, s->order)) < 0) {
        snprintf(err, errlen, "out of memory");
        return ret;
    }
    r->first_sec = NAN;
    return 0;
dec_fail:
    av_msg(ret, e, sizeof e);
    snprintf(err, errlen, "cannot open %s decoder: %s", codec->name, e);
    return ret;
}

/* Wall-clock capture time: the sender's clock (RTCP sender reports give
 * libavformat start_time_realtime) when there is one, else now. */
static int64_t capture_time(const run_ctx *r, int64_t pts)
{
    int64_t rt = r->fmt->start_time_realtime;
    AVStream *st = r->fmt->streams[r->si];
    if (rt != AV_NOPTS_VALUE && rt > 0 && pts != AV_NOPTS_VALUE) {
        int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
        return rt + av_rescale_q(pts - start, r->tb, AV_TIME_BASE_Q);
    }
    return lc_wall_us();
}

/* Seconds from one frame to the next, for streams without timestamps. */
static double frame_step(const run_ctx *r)
{
    AVRational fr = r->dec && r->dec->framerate.num > 0 ? r->dec->framerate :
                    r->fmt->streams[r->si]->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = r->fmt->streams[r->si]->r_frame_rate;
    return fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.04;
}

/* Realtime files play at their own rate, like a camera would.  The wait
 * is sliced so that the watchdog sees a thread waiting for a frame's time
 * as alive; the clock never steps further than TSC_JUMP_S and a keyframe
 * gap, so neither does a wait.  Returns nonzero when told to stop. */
static int pace(lc_stream *s, run_ctx *r, double sec)
{
    if (isnan(r->first_sec)) {
        r->first_sec = sec;
        r->start_us = lc_mono_us();
    }
    int64_t due = r->start_us + (int64_t)((sec - r->first_sec) * 1e6);
    for (;;) {
        int64_t wait = due - lc_mono_us();
        if (wait <= 0)
            return 0;
        if (lc_sleep_unless(wait > 1000000 ? 1000000 : wait, &s->stop))
            return 1;
        __atomic_store_n(&s->heartbeat_us, lc_mono_us(), __ATOMIC_RELAXED);
    }
}

/* One line per jump, but a stream whose every frame jumps gets one a
 * second, with the count of those not told. */
static void log_jump(lc_stream *s, run_ctx *r, double from, double to, double sec)
{
    int64_t now = lc_mono_us();
    if (r->jump_log_us && now - r->jump_log_us < 1000000) {
        r->jumps_unlogged++;
        return;
    }
    char more[48] = "";
    if (r->jumps_unlogged)
        snprintf(more, sizeof more, " (and %d more since the last one told)", r->jumps_unlogged);
    lc_log(LOG_INFO, "stream %s: timestamps jumped from %.3f s to %.3f s%s; pts runs on from %.3f",
           s->cfg.name, from, to, more, sec);
    r->jump_log_us = now;
    r->jumps_unlogged = 0;
}

static int handle_frame(lc_stream *s, run_ctx *r, char *err, size_t errlen)
{
    const cfg_stream *c = &s->cfg;
    AVFrame *fr = r->frame;
    int64_t pts = fr->best_effort_timestamp;
    double raw = pts != AV_NOPTS_VALUE ? pts * av_q2d(r->tb) : NAN;
    double before = r->clk->last_raw;
    int jump;

    lc_count(&s->decoded, 1);
    /* Raw H.264 and the like carry no timestamps: the clock counts frames
     * instead, so that pts still advances, sample_fps still thins and
     * realtime still paces. */
    double sec = tsc_frame(r->clk, raw, lc_mono_us(), tsc_step(r->clk, frame_step(r)),
                           r->keys_only ? s->key_gap : 0, &jump);
    if (jump) {
        lc_count(&s->ts_discontinuities, 1);
        log_jump(s, r, before, raw, sec);
    }
    if (!r->got_frame) {
        r->got_frame = 1;
        if (lc_stream_state(s) != LC_STREAM_UP) {   /* a looping file stays up across loops */
            lc_stream_set_state(s, LC_STREAM_UP);
            emit_state(s, "up", NULL, -1);
        }
    }
    if (r->finite && c->realtime && pace(s, r, sec))
        return 0;
    if (c->sample_fps > 0) {
        if (sec + 1e-6 < r->next_keep) {
            lc_count(&s->sampled_out, 1);
            return 0;
        }
        double step = 1.0 / c->sample_fps;
        /* keep the phase, but never fall behind by more than one step */
        r->next_keep = r->next_keep + step > sec ? r->next_keep + step : sec + step;
    }
    lc_frame *f = lc_slot_spare(s);
    /* latency counts the scaling too: it is part of what a frame costs */
    f->decoded_us = lc_mono_us();
    int ret = scl_frame(r->scaler, fr, f->pix, s->w * 3, err, errlen);
    if (ret < 0)
        return ret;
#ifdef LCNETD_TESTING
    f->scaled_us = lc_mono_us();
#endif
    f->seq = (int64_t)lc_read(&s->decoded);
    f->pts = sec;
    f->capture_us = capture_time(r, pts);
    /* finite sources not in realtime are read as fast as inference takes
     * them: every frame classified, back-pressure instead of skips */
    lc_slot_put(s, r->finite && !c->realtime);
    sch_kick(s->sched);
    return 0;
}

/* Every packet handed over is answered once, as a frame or as a drop (see
 * inflight.h), so that the counters add up once the decoder is empty. */
static int decode_packet(lc_stream *s, run_ctx *r, AVPacket *pkt, char *err, size_t errlen)
{
    int ret = avcodec_send_packet(r->dec, pkt);
    if (pkt && ret >= 0)
        lc_count(&s->decode_skipped, (uint64_t)ifl_sent(&r->ifl, pkt->pts, pkt->dts));
    /* a corrupt packet, or one the decoder could not take: count it and
     * carry on, the decoder resyncs */
    if (ret < 0 && pkt)
        lc_count(&s->errors, 1);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
        return 0;
    for (;;) {
        ret = avcodec_receive_frame(r->dec, r->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            lc_count(&s->errors, 1);
            ifl_error(&r->ifl);
            return 0;
        }
        lc_count(&s->decode_skipped, (uint64_t)ifl_frame(&r->ifl, r->frame->pts));
        ret = handle_frame(s, r, err, errlen);
        av_frame_unref(r->frame);
        if (ret < 0)
            return ret;
        if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
            return 0;
    }
}

/* Frames sample_fps would throw away need not be decoded.  When one sample
 * period spans at least a GOP, keyframes alone carry every frame kept: the
 * other packets are not even handed to the decoder.  Below that, a decoder
 * may still skip non-reference (B) frames.  The keyframe spacing is learnt
 * from the stream's timestamps and kept across reconnects and loops (a gap
 * longer than TSC_JUMP_S is a jump in the timestamps, not a GOP); the switch
 * happens at a keyframe, where decoding can start cleanly.  Whether the
 * frame rate is high enough to skip B-frames is judged on the measured rate
 * for a live source, whose container may state any rate. */
static int skip_packet(lc_stream *s, run_ctx *r, const AVPacket *pkt)
{
    const cfg_stream *c = &s->cfg;
    if (c->decode_skip != CFG_SKIP_AUTO || c->sample_fps <= 0)
        return 0;
    int key = pkt->flags & AV_PKT_FLAG_KEY;
    if (key && pkt->pts != AV_NOPTS_VALUE) {
        double t = pkt->pts * av_q2d(r->tb);
        if (r->last_key >= 0 && t > r->last_key && t - r->last_key <= TSC_JUMP_S)
            s->key_gap = fmax(s->key_gap, t - r->last_key);
        r->last_key = t;
        r->keys_only = s->key_gap > 0 && 1.0 / c->sample_fps >= s->key_gap * 0.999;
        double step = tsc_step(r->clk, r->dec && r->dec->framerate.num > 0 ?
                                       av_q2d(av_inv_q(r->dec->framerate)) : 0);
        if (r->dec && step > 0 && c->sample_fps * 2 * step < 1)
            r->dec->skip_frame = AVDISCARD_NONREF;
    }
    if (r->keys_only && !key) {
        lc_count(&s->decode_skipped, 1);
        return 1;
    }
    return 0;
}

/* What the retry policy needs to know of a connection that ended. */
typedef struct {
    int cause;                 /* ING_CAUSE_* */
    double delivered;          /* seconds from the first frame to the last packet; 0 = no frame */
} run_end;

/* Whether the source ends: a file, or a network source whose demuxer
 * reports a duration (HLS with ENDLIST, a file over HTTP, an RTSP server
 * playing a recording).  realtime, loop and eof apply to it as to a file,
 * and its end is no failure to retry. */
static int is_finite(const lc_stream *s, const run_ctx *r)
{
    if (s->cfg.url_kind == CFG_URL_FILE)
        return 1;
    if (s->cfg.url_kind == CFG_URL_DEVICE)
        return 0;
    return r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0;
}

/* One connection: open, then read and decode until the end, an error, a
 * stall or a stop.  Everything it allocated is freed before it returns.
 * *finite says what this source turned out to be (is_finite). */
static int run_once(lc_stream *s, tsc_clock *clk, int *finite, run_end *out, char *err,
                    size_t errlen)
{
    const cfg_stream *c = &s->cfg;
    run_ctx r = { 0 };
    io_guard g = { s, 0, 0 };
    char e[128];
    int ret, how = RUN_ERROR;
    int64_t stall_us = (int64_t)(c->stall_timeout * 1e6);
    int64_t first_us = 0, last_us = 0;

    r.clk = clk;
    ifl_reset(&r.ifl);
    r.next_keep = -1e300;
    r.last_key = -1;
    av_listening = 1;
    if (open_input(s, &r, &g, err, errlen) < 0)
        goto end;
    r.finite = is_finite(s, &r);
    if (r.finite != *finite)
        lc_log(LOG_INFO, "stream %s: %s", c->name, r.finite ?
               "has a duration: read like a file (realtime, loop and eof apply)" :
               "has no duration: read as a live stream");
    *finite = r.finite;
    tsc_run(clk, !r.finite);
    g.deadline_us = lc_mono_us() + stall_us;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        ret = av_read_frame(r.fmt, r.pkt);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(r.fmt->pb) && !g.timed_out)) {
            decode_packet(s, &r, NULL, err, errlen);     /* flush */
            if (!r.got_frame) {
                /* not an end but a failure: a looping file would
                 * otherwise be read again at once, for ever, silently */
                open_reason(s, "ended before any frame could be decoded: ", AVERROR_INVALIDDATA,
                            err, errlen);
                goto end;
            }
            how = RUN_EOF;
            snprintf(err, errlen, "end of stream");
            goto end;
        }
        if (ret < 0) {
            av_msg(ret, e, sizeof e);
            if (g.timed_out)
                snprintf(err, errlen, "stalled: no frame for %.1f s", c->stall_timeout);
            else
                snprintf(err, errlen, "read: %s", e);
            goto end;
        }
        ret = 0;
        int64_t now = lc_mono_us();
        if (r.pkt->stream_index == r.si) {
            lc_count(&s->packets, 1);
            tsc_packet(clk, now);
            if (!skip_packet(s, &r, r.pkt))
                ret = decode_packet(s, &r, r.pkt, err, errlen);
            /* Every video packet that arrives shows the source alive,
             * decoded or not, kept by sample_fps or not: a long sample
             * interval is no stall.  The stall clock starts after the
             * decoding. */
            now = lc_mono_us();
            g.deadline_us = now + stall_us;
        }
        av_packet_unref(r.pkt);
        if (r.got_frame) {
            last_us = now;
            if (!first_us)
                first_us = last_us;
        }
        if (ret < 0)
            goto end;
    }
    how = RUN_STOP;
end:
    /* what the decoder still held never became a frame: the counters must
     * add up across a reconnect too */
    lc_count(&s->decode_skipped, (uint64_t)ifl_drain(&r.ifl));
    if (how == RUN_ERROR && !r.got_frame && !err[0])
        snprintf(err, errlen, "failed");
    out->cause = r.cause;
    out->delivered = first_us ? (double)(last_us - first_us) / 1e6 : 0;
    run_free(&r);
    return how;
}

static void *ing_main(void *arg)
{
    lc_stream *s = arg;
    const cfg_stream *c = &s->cfg;
    char name[16], err[256];
    tsc_clock clk;              /* pts runs on across reconnects and loops */
    int finite = c->url_kind == CFG_URL_FILE;
    double looped = 0;          /* seconds of frames of a looping source's passes */
    ing_retry retry;

    snprintf(name, sizeof name, "in:%s", c->name);
    pthread_setname_np(pthread_self(), name);
    lc_block_signals();
    if (lc_pin_self(&s->cpus, err, sizeof err) < 0)
        lc_log(LOG_WARNING, "stream %s: ingest unpinned: %s", c->name, err);
    tsc_init(&clk);
    /* Every stream waits on the one inference thread, and decoders share its
     * CPUs unless decode_cpus keeps them apart: on a busy box the scheduler's
     * fair share would leave it a slice among a dozen decoders, and frames
     * would be overwritten while it waits.  SCHED_IDLE rather than a nice
     * value alone: a waking inference thread or event loop preempts an idle-
     * policy thread at once, but may wait out a nice +15 decoder's slice
     * (event latency p99 at 8 streams 6.1-6.8 ms with nice alone, 4.3-4.8
     * with SCHED_IDLE).  Lowering our own priority needs no privilege; the
     * nice value stays as the fallback. */
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (errno == 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), nice_now + INGEST_NICE) < 0)
        lc_log(LOG_DEBUG, "stream %s: setpriority: %s", c->name, strerror(errno));
    struct sched_param idle = { 0 };
    int e = pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    if (e)
        lc_log(LOG_DEBUG, "stream %s: SCHED_IDLE: %s", c->name, strerror(e));

    ing_retry_init(&retry, c, (unsigned)lc_mono_us() ^ (unsigned)(uintptr_t)s);
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        err[0] = 0;
        run_end end = { ING_CAUSE_OTHER, 0 };
        int how = run_once(s, &clk, &finite, &end, err, sizeof err);
        if (how == RUN_STOP || __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
            break;
        if (how != RUN_EOF || !finite || !c->loop)
            lc_stream_set_state(s, LC_STREAM_DOWN);
        if (how == RUN_EOF && finite) {
            if (!c->loop) {
                emit_state(s, "eof", NULL, -1);
                lc_log(LOG_INFO, "stream %s: end of %s", c->name,
                       c->url_kind == CFG_URL_FILE ? "file" : "stream");
                lc_stream_set_state(s, LC_STREAM_ENDED);
                break;
            }
            /* loop: start again at once; the passes are one run to the retry policy */
            looped += end.delivered;
            continue;
        }
        if (end.cause == ING_CAUSE_AUTH)
            lc_count(&s->auth_failures, 1);
        emit_state(s, "down", err, -1);
        double delay = ing_retry_next(&retry, c, end.cause, looped + end.delivered);
        looped = 0;
        lc_log(LOG_WARNING, "stream %s: %s; retry in %.1f s", c->name, err, delay);
        emit_state(s, "reconnecting", err, delay);
        lc_count(&s->reconnects, 1);
        if (lc_sleep_unless((int64_t)(delay * 1e6), &s->stop))
            break;
    }
    if (lc_stream_state(s) != LC_STREAM_ENDED)
        lc_stream_set_state(s, LC_STREAM_DOWN);
    __atomic_store_n(&s->heartbeat_us, lc_mono_us(), __ATOMIC_RELAXED);
    return NULL;
}

int ing_start(lc_stream *s, char *err, size_t errlen)
{
    int e = pthread_create(&s->thread, NULL, ing_main, s);
    if (e) {
        snprintf(err, errlen, "stream %s: pthread_create: %s", s->cfg.name, strerror(e));
        return -1;
    }
    s->started = 1;
    return 0;
}

void ing_request_stop(lc_stream *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&s->m);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->m);
}

void ing_join(lc_stream *s)
{
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = 0;
    }
}
