/* scale.c: frames to model input.  See scale.h.
 *
 * 8-bit YUV and RGB frames (every H.264/HEVC/MJPEG camera's output) are
 * resampled straight from their planes by resample.c and converted to RGB at
 * the model's size: the colour matrix then runs on 224x224 pixels instead
 * of a 720p frame.  Anything else goes through libswscale to packed RGB at
 * its own size first, then the same resampler, so every source format
 * meets one filter. */
#include "media/scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "media/resample.h"

/* YCbCr -> RGB for one matrix and range: R = ky (Y - oy) + rv Cr,
 * G = ky (Y - oy) - gu Cb - gv Cr, B = ky (Y - oy) + bu Cb. */
typedef struct yuv_matrix {
    float k[6];                 /* ky, oy, rv, gu, gv, bu: rsm_yuv_to_rgb's m */
} yuv_matrix;

struct scl {
    int out_w, out_h;
    eng_resize mode;
    eng_order order;

    /* the source geometry the axes were built for */
    int src_w, src_h, src_fmt, src_loc;
    rsm_axis ax[3], ay[3];
    float *work, *rows;         /* rsm_rows' work; RSM_ROWS output rows of each plane */

    /* formats the resampler does not read: whole frames to RGB24 */
    struct SwsContext *sws;
    uint8_t *rgb;
    int rgb_w, rgb_h, rgb_linesize;
};

int scl_new(scl **out, int out_w, int out_h, eng_resize mode, eng_order order)
{
    scl *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return AVERROR(ENOMEM);
    s->out_w = out_w;
    s->out_h = out_h;
    s->mode = mode;
    s->order = order;
    s->src_fmt = AV_PIX_FMT_NONE;
    if (!(s->rows = malloc(sizeof(float) * 3 * RSM_ROWS * (size_t)out_w))) {
        free(s);
        return AVERROR(ENOMEM);
    }
    *out = s;
    return 0;
}

static void drop_axes(scl *s)
{
    for (int c = 0; c < 3; c++) {
        rsm_axis_free(&s->ax[c]);
        rsm_axis_free(&s->ay[c]);
    }
    free(s->work);
    s->work = NULL;
    s->src_fmt = AV_PIX_FMT_NONE;
}

void scl_free(scl *s)
{
    if (!s)
        return;
    drop_axes(s);
    free(s->rows);
    sws_freeContext(s->sws);
    av_freep(&s->rgb);
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

/* Formats whose first three components are 8-bit samples the resampler can
 * address directly: planar, semi-planar and packed YUV, packed RGB. */
static int direct(const AVPixFmtDescriptor *d)
{
    if (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
                    AV_PIX_FMT_FLAG_BAYER | AV_PIX_FMT_FLAG_FLOAT))
        return 0;
    if (d->nb_components < 3)
        return 0;
    for (int c = 0; c < 3; c++)
        if (d->comp[c].depth != 8 || d->comp[c].shift != 0)
            return 0;
    if ((d->flags & AV_PIX_FMT_FLAG_RGB) && (d->log2_chroma_w || d->log2_chroma_h))
        return 0;
    return 1;
}

static int full_range(const AVFrame *f)
{
    switch (f->format) {
    case AV_PIX_FMT_YUVJ420P: case AV_PIX_FMT_YUVJ422P: case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P: case AV_PIX_FMT_YUVJ411P:
        return 1;
    default:
        return f->color_range == AVCOL_RANGE_JPEG;
    }
}

/* Where chroma samples sit relative to luma, in chroma samples: H.264 and
 * MPEG-2 put them on the left luma column unless the stream says
 * otherwise; JPEG centres them. */
static void chroma_offset(const AVFrame *f, int loc, double *dx, double *dy)
{
    if (loc == AVCHROMA_LOC_UNSPECIFIED)
        loc = full_range(f) ? AVCHROMA_LOC_CENTER : AVCHROMA_LOC_LEFT;
    *dx = loc == AVCHROMA_LOC_LEFT || loc == AVCHROMA_LOC_TOPLEFT || loc == AVCHROMA_LOC_BOTTOMLEFT ?
          0.25 : 0.0;
    *dy = loc == AVCHROMA_LOC_TOPLEFT || loc == AVCHROMA_LOC_TOP ? 0.25 :
          loc == AVCHROMA_LOC_BOTTOMLEFT || loc == AVCHROMA_LOC_BOTTOM ? -0.25 : 0.0;
}

static yuv_matrix matrix_for(const AVFrame *f)
{
    double kr = 0.299, kb = 0.114;               /* BT.601, and what is unlabelled */
    switch (f->colorspace) {
    case AVCOL_SPC_BT709: kr = 0.2126; kb = 0.0722; break;
    case AVCOL_SPC_BT2020_NCL: case AVCOL_SPC_BT2020_CL: kr = 0.2627; kb = 0.0593; break;
    case AVCOL_SPC_SMPTE240M: kr = 0.212; kb = 0.087; break;
    case AVCOL_SPC_FCC: kr = 0.30; kb = 0.11; break;
    default: break;
    }
    double kg = 1.0 - kr - kb, ky = 1.0, oy = 0.0, kc = 1.0;
    if (!full_range(f)) {
        ky = 255.0 / 219.0;
        oy = 16.0;
        kc = 255.0 / 224.0;
    }
    yuv_matrix m = { { (float)ky, (float)oy, (float)(2 * (1 - kr) * kc), (float)(2 * kb * (1 - kb) / kg * kc),
                       (float)(2 * kr * (1 - kr) / kg * kc), (float)(2 * (1 - kb) * kc) } };
    return m;
}

/* The window's taps for each component of a w x h frame in format d. */
static int build_axes(scl *s, const AVFrame *f, const AVPixFmtDescriptor *d, int fmt, int w, int h)
{
    int x0 = 0, y0 = 0, cw = w, ch = h, ret = 0;
    size_t work = 0;
    double dx = 0, dy = 0;

    drop_axes(s);
    if (s->mode != ENG_RESIZE_STRETCH)
        scl_crop_window(w, h, s->out_w, s->out_h, 1, 1, &x0, &y0, &cw, &ch);
    if (!(d->flags & AV_PIX_FMT_FLAG_RGB))
        chroma_offset(f, (int)f->chroma_location, &dx, &dy);
    for (int c = 0; c < 3 && ret == 0; c++) {
        int sx = c && !(d->flags & AV_PIX_FMT_FLAG_RGB) ? d->log2_chroma_w : 0;
        int sy = c && !(d->flags & AV_PIX_FMT_FLAG_RGB) ? d->log2_chroma_h : 0;
        double ox = sx ? dx : 0.0, oy = sy ? dy : 0.0;
        if ((ret = rsm_axis_init(&s->ax[c], s->out_w, ldexp(x0, -sx) + ox, ldexp(cw, -sx),
                                 AV_CEIL_RSHIFT(w, sx))) < 0 ||
            (ret = rsm_axis_init(&s->ay[c], s->out_h, ldexp(y0, -sy) + oy, ldexp(ch, -sy),
                                 AV_CEIL_RSHIFT(h, sy))) < 0)
            break;
        if (rsm_work_floats(&s->ax[c]) > work)
            work = rsm_work_floats(&s->ax[c]);
    }
    if (ret == 0 && !(s->work = calloc(work, sizeof(float))))
        ret = -ENOMEM;
    if (ret < 0) {
        drop_axes(s);
        return AVERROR(-ret);
    }
    s->src_w = w;
    s->src_h = h;
    s->src_fmt = fmt;
    s->src_loc = (int)f->chroma_location;
    return 0;
}

/* The three components' planes of a direct format. */
static void planes_of(const AVPixFmtDescriptor *d, uint8_t *const data[], const int linesize[],
                      rsm_plane p[3])
{
    for (int c = 0; c < 3; c++) {
        const AVComponentDescriptor *k = &d->comp[c];
        p[c].data = data[k->plane] + k->offset;
        p[c].stride = linesize[k->plane];
        p[c].step = k->step;
    }
}

/* Row r of the three resampled planes to packed pixels in the model's
 * channel order. */
static void convert_row(const scl *s, int r, int is_rgb, const yuv_matrix *m, uint8_t *o)
{
    size_t plane = RSM_ROWS * (size_t)s->out_w;
    float *a = s->rows + (size_t)r * (size_t)s->out_w, *b = a + plane, *c = b + plane;
    if (!is_rgb)
        rsm_yuv_to_rgb(a, b, c, s->out_w, m->k);
    if (s->order == ENG_ORDER_BGR)
        rsm_pack(c, b, a, s->out_w, o);
    else
        rsm_pack(a, b, c, s->out_w, o);
}

/* Whole frame to packed RGB24 for the formats the resampler cannot read. */
static int to_rgb(scl *s, const AVFrame *f, char *err, size_t errlen)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (s->rgb_w != f->width || s->rgb_h != f->height) {
        av_freep(&s->rgb);
        s->rgb_w = s->rgb_h = 0;
        s->rgb_linesize = FFALIGN(f->width * 3, 64);
        if (!(s->rgb = av_malloc((size_t)s->rgb_linesize * (size_t)f->height))) {
            snprintf(err, errlen, "out of memory");
            return AVERROR(ENOMEM);
        }
        s->rgb_w = f->width;
        s->rgb_h = f->height;
    }
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
    if (!s->sws) {
        snprintf(err, errlen, "no conversion from %s %dx%d", d ? d->name : "?", f->width, f->height);
        return AVERROR(EINVAL);
    }
    if (d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components >= 3) {
        const int *coef = sws_getCoefficients(f->colorspace);
        sws_setColorspaceDetails(s->sws, coef, full_range(f), coef, 1, 0, 1 << 16, 1 << 16);
    }
    uint8_t *dp[4] = { s->rgb, 0, 0, 0 };
    int ds[4] = { s->rgb_linesize, 0, 0, 0 };
    if (sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dp, ds) != f->height) {
        snprintf(err, errlen, "converting %s %dx%d to RGB failed", d ? d->name : "?", f->width, f->height);
        return AVERROR(EINVAL);
    }
    return 0;
}

int scl_frame(scl *s, const AVFrame *f, uint8_t *dst, int stride, char *err, size_t errlen)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    rsm_plane p[3];
    int ret, fmt = f->format;

    if (!d || f->width <= 0 || f->height <= 0 || (d->flags & AV_PIX_FMT_FLAG_HWACCEL)) {
        snprintf(err, errlen, "frame has no usable format or size");
        return AVERROR(EINVAL);
    }
    if (direct(d)) {
        planes_of(d, f->data, f->linesize, p);
    } else {
        if ((ret = to_rgb(s, f, err, errlen)) < 0)
            return ret;
        fmt = AV_PIX_FMT_RGB24;
        d = av_pix_fmt_desc_get(fmt);
        uint8_t *data[4] = { s->rgb, 0, 0, 0 };
        int ls[4] = { s->rgb_linesize, 0, 0, 0 };
        planes_of(d, data, ls, p);
    }
    if ((fmt != s->src_fmt || f->width != s->src_w || f->height != s->src_h ||
         (int)f->chroma_location != s->src_loc) &&
        (ret = build_axes(s, f, d, fmt, f->width, f->height)) < 0) {
        snprintf(err, errlen, "out of memory");
        return ret;
    }
    yuv_matrix m = matrix_for(f);
    for (int y = 0; y < s->out_h; y += RSM_ROWS) {
        int n = s->out_h - y < RSM_ROWS ? s->out_h - y : RSM_ROWS;
        for (int c = 0; c < 3; c++)
            rsm_rows(&p[c], &s->ax[c], &s->ay[c], y, n, s->work,
                     s->rows + (size_t)c * RSM_ROWS * (size_t)s->out_w, s->out_w);
        for (int r = 0; r < n; r++)
            convert_row(s, r, !!(d->flags & AV_PIX_FMT_FLAG_RGB), &m, dst + (ptrdiff_t)(y + r) * stride);
    }
    return 0;
}
int scl_load_image(const char *path, int out_w, int out_h, eng_resize mode, eng_order order,
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
