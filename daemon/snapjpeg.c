/* snapjpeg.c: frames to JPEG with libavcodec's MJPEG encoder.  See
 * snapjpeg.h. */
#include "daemon/snapjpeg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* qscale 3: close to the source (see the PSNR bound of the integration
 * test) at a fraction of the size a lossless image would take. */
enum { JPEG_QSCALE = 3 };

struct snap_jpeg {
    AVCodecContext *enc;        /* for w x h */
    struct SwsContext *sws;
    int sws_key[5];             /* what sws was made for: w, h, format, range, matrix */
    AVFrame *view;              /* a reference to the source, cropped */
    AVFrame *yuv;               /* what the encoder takes */
    int w, h;
};

int snap_jpeg_new(snap_jpeg **out, char *err, size_t errlen)
{
    snap_jpeg *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j || !(j->view = av_frame_alloc())) {
        snprintf(err, errlen, "out of memory");
        snap_jpeg_free(j);
        return -1;
    }
    *out = j;
    return 0;
}

static void close_size(snap_jpeg *j)
{
    avcodec_free_context(&j->enc);
    av_frame_free(&j->yuv);
    j->w = j->h = 0;
}

void snap_jpeg_free(snap_jpeg *j)
{
    if (!j)
        return;
    close_size(j);
    sws_freeContext(j->sws);
    av_frame_free(&j->view);
    free(j);
}

static int av_fail(int ret, const char *what, char *err, size_t errlen)
{
    char msg[128];
    av_strerror(ret, msg, sizeof msg);
    snprintf(err, errlen, "%s: %s", what, msg);
    return -1;
}

static int open_size(snap_jpeg *j, int w, int h, char *err, size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    int ret;
    close_size(j);
    if (!codec) {
        snprintf(err, errlen, "this FFmpeg has no MJPEG encoder");
        return -1;
    }
    if (!(j->enc = avcodec_alloc_context3(codec)) || !(j->yuv = av_frame_alloc()))
        goto nomem;
    j->enc->width = w;
    j->enc->height = h;
    j->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    j->enc->color_range = AVCOL_RANGE_JPEG;
    j->enc->time_base = (AVRational){ 1, 25 };
    j->enc->flags |= AV_CODEC_FLAG_QSCALE;
    j->enc->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
    j->enc->thread_count = 1;
    if ((ret = avcodec_open2(j->enc, codec, NULL)) < 0) {
        av_fail(ret, "opening the MJPEG encoder", err, errlen);
        close_size(j);
        return -1;
    }
    j->yuv->format = AV_PIX_FMT_YUVJ420P;
    j->yuv->width = w;
    j->yuv->height = h;
    if ((ret = av_frame_get_buffer(j->yuv, 0)) < 0) {
        close_size(j);
        return av_fail(ret, "a frame for the encoder", err, errlen);
    }
    j->w = w;
    j->h = h;
    return 0;
nomem:
    close_size(j);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The J formats are the plain ones at full range: libswscale wants the
 * plain name and the range said apart (it warns about the J names). */
static int plain_format(int fmt, int *full)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    default: return fmt;
    }
}

/* A scaler for the view's size, format, range and matrix.  The ranges are
 * given before sws_init_context: set afterwards, a same-size YUV to YUV
 * conversion is a plain copy that ignores them. */
static int scaler(snap_jpeg *j, int fmt, int full, int cs, char *err, size_t errlen)
{
    const AVFrame *v = j->view;
    int key[5] = { v->width, v->height, fmt, full, cs };
    if (j->sws && memcmp(key, j->sws_key, sizeof key) == 0)
        return 0;
    sws_freeContext(j->sws);
    if (!(j->sws = sws_alloc_context()))
        goto fail;
    av_opt_set_int(j->sws, "srcw", v->width, 0);
    av_opt_set_int(j->sws, "srch", v->height, 0);
    av_opt_set_int(j->sws, "src_format", fmt, 0);
    av_opt_set_int(j->sws, "dstw", j->w, 0);
    av_opt_set_int(j->sws, "dsth", j->h, 0);
    av_opt_set_int(j->sws, "dst_format", AV_PIX_FMT_YUV420P, 0);
    av_opt_set_int(j->sws, "src_range", full, 0);
    av_opt_set_int(j->sws, "dst_range", 1, 0);
    av_opt_set_int(j->sws, "sws_flags", SWS_BICUBIC, 0);
    if (sws_init_context(j->sws, NULL, NULL) < 0)
        goto fail;
    sws_setColorspaceDetails(j->sws, sws_getCoefficients(cs), full,
                             sws_getCoefficients(SWS_CS_ITU601), 1, 0, 1 << 16, 1 << 16);
    memcpy(j->sws_key, key, sizeof key);
    return 0;
fail:
    sws_freeContext(j->sws);
    j->sws = NULL;
    const char *name = av_get_pix_fmt_name(v->format);
    snprintf(err, errlen, "cannot convert %s frames to JPEG", name ? name : "these");
    return -1;
}

/* The view's planes to the encoder's format: full range, BT.601 as JFIF
 * says, from whatever range and matrix the decoder reported. */
static int convert(snap_jpeg *j, char *err, size_t errlen)
{
    const AVFrame *v = j->view;
    int full = v->color_range == AVCOL_RANGE_JPEG;
    int fmt = plain_format(v->format, &full);
    int cs = v->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    if (scaler(j, fmt, full, cs, err, errlen) < 0)
        return -1;
    int ret = av_frame_make_writable(j->yuv);
    if (ret < 0)
        return av_fail(ret, "a frame for the encoder", err, errlen);
    /* YUV420P filled at full range is YUVJ420P's layout */
    sws_scale(j->sws, (const uint8_t *const *)v->data, v->linesize, 0, v->height, j->yuv->data,
              j->yuv->linesize);
    return 0;
}

int snap_jpeg_encode(snap_jpeg *j, const AVFrame *fr, const snap_rect *r, AVPacket *pkt,
                     char *err, size_t errlen)
{
    int ret = -1, x = 0, y = 0, w = fr->width, h = fr->height;

    if (r && r->w > 0) {
        if (r->x < 0 || r->y < 0 || r->h <= 0 || r->x + r->w > fr->width ||
            r->y + r->h > fr->height) {
            snprintf(err, errlen, "region %dx%d at %d,%d is outside the %dx%d frame", r->w, r->h,
                     r->x, r->y, fr->width, fr->height);
            return -1;
        }
        x = r->x & ~1;
        y = r->y & ~1;
        w = r->w + (r->x - x);
        h = r->h + (r->y - y);
    }
    if ((ret = av_frame_ref(j->view, fr)) < 0)
        return av_fail(ret, "referencing the frame", err, errlen);
    j->view->crop_left = (size_t)x;
    j->view->crop_top = (size_t)y;
    j->view->crop_right = (size_t)(fr->width - x - w);
    j->view->crop_bottom = (size_t)(fr->height - y - h);
    if ((ret = av_frame_apply_cropping(j->view, AV_FRAME_CROP_UNALIGNED)) < 0) {
        ret = av_fail(ret, "cropping the frame", err, errlen);
        goto end;
    }
    ret = -1;
    if ((j->w != w || j->h != h) && open_size(j, w, h, err, errlen) < 0)
        goto end;
    if (convert(j, err, errlen) < 0)
        goto end;
    if ((ret = avcodec_send_frame(j->enc, j->yuv)) < 0 ||
        (ret = avcodec_receive_packet(j->enc, pkt)) < 0) {
        av_fail(ret, "encoding the JPEG", err, errlen);
        ret = -1;
        /* the encoder may hold the frame: start afresh next time */
        close_size(j);
        goto end;
    }
    ret = 0;
end:
    av_frame_unref(j->view);
    return ret;
}
