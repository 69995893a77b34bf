/* scale.c: frames to model input with libswscale.  See scale.h. */
#include "daemon/scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

struct scl {
    int out_w, out_h;
    scl_mode mode;
    enum AVPixelFormat dst_fmt;
    struct SwsContext *sws;
};

int scl_new(scl **out, int out_w, int out_h, scl_mode mode, scl_order order)
{
    scl *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return AVERROR(ENOMEM);
    s->out_w = out_w;
    s->out_h = out_h;
    s->mode = mode;
    s->dst_fmt = order == SCL_BGR ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;
    *out = s;
    return 0;
}

void scl_free(scl *s)
{
    if (!s)
        return;
    sws_freeContext(s->sws);
    free(s);
}

/* PaddleClas resizes the short side to 256 then crops 224: for another
 * input size the same ratio holds.  The window is aligned down so that
 * chroma planes start on a whole sample. */
void scl_crop_window(int w, int h, int out_w, int out_h, int align_x, int align_y,
                     int *x0, int *y0, int *cw, int *ch)
{
    double short_out = (out_w < out_h ? out_w : out_h) * 256.0 / 224.0;
    double s = short_out / (w < h ? w : h);          /* source -> resized */
    int ww = (int)(out_w / s + 0.5), hh = (int)(out_h / s + 0.5);
    if (ww > w)
        ww = w;
    if (hh > h)
        hh = h;
    int x = (w - ww) / 2, y = (h - hh) / 2;
    x -= x % align_x;
    y -= y % align_y;
    *x0 = x;
    *y0 = y;
    *cw = ww;
    *ch = hh;
}

int scl_frame(scl *s, const AVFrame *f, uint8_t *dst, int stride, char *err, size_t errlen)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    const uint8_t *src[4] = { 0 };
    int x0 = 0, y0 = 0, w = f->width, h = f->height;

    if (!d || w <= 0 || h <= 0) {
        snprintf(err, errlen, "frame has no usable format or size");
        return AVERROR(EINVAL);
    }
    if (s->mode == SCL_SHORT_CROP && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL))
        scl_crop_window(f->width, f->height, s->out_w, s->out_h, 1 << d->log2_chroma_w,
                        1 << d->log2_chroma_h, &x0, &y0, &w, &h);
    /* offset each plane to the window's corner */
    for (int p = 0; p < 4 && f->data[p]; p++) {
        int sx = p == 1 || p == 2 ? d->log2_chroma_w : 0, sy = p == 1 || p == 2 ? d->log2_chroma_h : 0;
        int bpp = d->comp[0].step;
        for (int c = 0; c < d->nb_components; c++)
            if (d->comp[c].plane == p)
                bpp = d->comp[c].step;
        src[p] = f->data[p] + (ptrdiff_t)(y0 >> sy) * f->linesize[p] + (ptrdiff_t)(x0 >> sx) * bpp;
    }
    s->sws = sws_getCachedContext(s->sws, w, h, f->format, s->out_w, s->out_h, s->dst_fmt,
                                  SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws) {
        snprintf(err, errlen, "no conversion from %s %dx%d", d->name, w, h);
        return AVERROR(EINVAL);
    }
    uint8_t *dp[4] = { dst, 0, 0, 0 };
    int ds[4] = { stride, 0, 0, 0 };
    if (sws_scale(s->sws, src, f->linesize, 0, h, dp, ds) != s->out_h) {
        snprintf(err, errlen, "scaling %dx%d to %dx%d failed", w, h, s->out_w, s->out_h);
        return AVERROR(EINVAL);
    }
    return 0;
}

int scl_load_image(const char *path, int out_w, int out_h, scl_mode mode, scl_order order,
                   uint8_t *dst, int stride, char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    scl *s = NULL;
    const AVCodec *codec = NULL;
    int ret, si, got = 0;
    char e[AV_ERROR_MAX_STRING_SIZE];

    if ((ret = avformat_open_input(&fmt, path, NULL, NULL)) < 0) {
        av_strerror(ret, e, sizeof e);
        snprintf(err, errlen, "%s: %s", path, e);
        goto end;
    }
    if ((ret = avformat_find_stream_info(fmt, NULL)) < 0 ||
        (ret = si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0) {
        av_strerror(ret, e, sizeof e);
        snprintf(err, errlen, "%s: no picture: %s", path, e);
        goto end;
    }
    if (!(dec = avcodec_alloc_context3(codec)) || !(pkt = av_packet_alloc()) ||
        !(frame = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        snprintf(err, errlen, "out of memory");
        goto end;
    }
    if ((ret = avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar)) < 0 ||
        (ret = avcodec_open2(dec, codec, NULL)) < 0) {
        av_strerror(ret, e, sizeof e);
        snprintf(err, errlen, "%s: cannot open decoder: %s", path, e);
        goto end;
    }
    while (!got && (ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == si && avcodec_send_packet(dec, pkt) >= 0)
            got = avcodec_receive_frame(dec, frame) >= 0;
        av_packet_unref(pkt);
    }
    if (!got) {                        /* drain: some decoders hold the frame */
        avcodec_send_packet(dec, NULL);
        got = avcodec_receive_frame(dec, frame) >= 0;
    }
    if (!got) {
        ret = AVERROR_INVALIDDATA;
        snprintf(err, errlen, "%s: no frame could be decoded", path);
        goto end;
    }
    if ((ret = scl_new(&s, out_w, out_h, mode, order)) < 0 ||
        (ret = scl_frame(s, frame, dst, stride, err, errlen)) < 0)
        goto end;
    ret = 0;
end:
    scl_free(s);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return ret;
}
