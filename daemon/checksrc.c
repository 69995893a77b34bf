/* checksrc.c: --check-config on one stream's source.
 *
 * A file is opened as the daemon opens it, with libav, and must hold a
 * video stream libav can decode: a missing, unreadable or non-video file
 * would only show once the stream starts, as a "down" event repeated at
 * every retry.  A device must exist as a character device the user may
 * read and write; it is not opened, since a camera in use elsewhere must
 * not be disturbed by a check.  A network source is not checked at all
 * (no network here), and said so with its credentials left out.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/check.h"
#include "daemon/redact.h"
#include "daemon/util.h"

/* A file on a hung network mount must not hang the check. */
static int past_deadline(void *opaque)
{
    return lc_mono_us() > *(const int64_t *)opaque;
}

/* 0 with what was found in `found`, or -1 with why. */
static int probe(const char *path, double timeout, char *found, size_t flen, char *why,
                 size_t len)
{
    AVFormatContext *fmt = NULL;
    const AVCodec *codec = NULL;
    int64_t deadline = lc_mono_us() + (int64_t)(timeout * 1e6);
    char e[128];
    int ret = -1, r;

    if (!(fmt = avformat_alloc_context())) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    fmt->interrupt_callback = (AVIOInterruptCB){ past_deadline, &deadline };
    if ((r = avformat_open_input(&fmt, path, NULL, NULL)) < 0) {
        av_strerror(r, e, sizeof e);
        snprintf(why, len, "FFmpeg cannot open it: %s", e);
        goto end;
    }
    if ((r = avformat_find_stream_info(fmt, NULL)) < 0) {
        av_strerror(r, e, sizeof e);
        snprintf(why, len, "FFmpeg cannot read its streams: %s", e);
        goto end;
    }
    r = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r == AVERROR_DECODER_NOT_FOUND) {
        snprintf(why, len, "its video stream has no decoder in this FFmpeg");
        goto end;
    }
    if (r < 0) {
        snprintf(why, len, "no video stream in it (%s)", fmt->iformat->name);
        goto end;
    }
    const AVCodecParameters *par = fmt->streams[r]->codecpar;
    snprintf(found, flen, "%s video %dx%d in %s", codec->name, par->width, par->height,
             fmt->iformat->name);
    ret = 0;
end:
    avformat_close_input(&fmt);
    return ret;
}

static void file_source(chk_report *r, const cfg_stream *s, const char *label)
{
    struct stat st;
    char why[512], found[160];

    int ret = chk_access(s->url, R_OK, &st, why, sizeof why);
    if (ret == CHK_PATH_MISSING) {
        chk_error(r, "[%s] url %s: %s (fix the path, or set enabled = no until the file is "
                  "there)", label, s->url, why);
        return;
    }
    if (ret < 0) {
        chk_error(r, "[%s] url %s: %s (let user %s read it: a group of its own with g+r, or "
                  "o+r on the file and o+x on its directories)", label, s->url, why, r->user);
        return;
    }
    if (S_ISFIFO(st.st_mode)) {
        chk_unchecked(r, "[%s] url %s: a FIFO, not opened (reading would take what its "
                      "writer sends)", label, s->url);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        chk_error(r, "[%s] url %s: a directory, not a video file", label, s->url);
        return;
    }
    if (probe(s->url, s->open_timeout, found, sizeof found, why, sizeof why) < 0) {
        chk_error(r, "[%s] url %s: %s (expected a video file this FFmpeg decodes)", label, s->url,
                  why);
        return;
    }
    chk_ok(r, "[%s] file %s: user %s may read it; %s", label, s->url, r->user, found);
    snprintf(why, sizeof why, "[%s] url", label);
    chk_sandbox(r, why, s->url);
}

static void device_source(chk_report *r, const cfg_stream *s, const char *label)
{
    struct stat st;
    char why[512];

    int ret = chk_access(s->url, R_OK | W_OK, &st, why, sizeof why);
    if (ret == CHK_PATH_MISSING) {
        chk_error(r, "[%s] device %s: %s (is the camera plugged in? ls -l /dev/video*)", label,
                  s->url, why);
        return;
    }
    if (ret < 0) {
        chk_error(r, "[%s] device %s: %s (V4L2 cameras belong to group video: usermod -aG "
                  "video %s)", label, s->url, why, r->user);
        return;
    }
    if (!S_ISCHR(st.st_mode)) {
        chk_error(r, "[%s] device %s: not a character device (expected a V4L2 device such "
                  "as /dev/video0)", label, s->url);
        return;
    }
    chk_ok(r, "[%s] device %s: a character device user %s may read and write (not opened)",
           label, s->url, r->user);
    snprintf(why, sizeof why, "[%s] url", label);
    chk_sandbox(r, why, s->url);
}

void chk_stream(chk_report *r, const cfg_stream *s)
{
    char label[80], shown[512];

    snprintf(label, sizeof label, "stream:%s", s->name);
    if (!s->enabled) {
        chk_unchecked(r, "[%s] enabled = no", label);
        return;
    }
    switch (s->url_kind) {
    case CFG_URL_FILE:
        file_source(r, s, label);
        break;
    case CFG_URL_DEVICE:
        device_source(r, s, label);
        break;
    default:
        rdx_url_public(shown, sizeof shown, s->url);
        chk_unchecked(r, "[%s] network source %s%s: reached only once the stream starts",
                      label, shown, strcmp(shown, s->url) != 0 ? " (credentials removed)" : "");
        break;
    }
}
