/* test_scale.c: decoded frames to model input (media/scale.c) against
 * pictures computed without lcnetd (tests/fixtures/gen_scale_ref.py: PIL's
 * bilinear filter, the declared colour matrix), for H.264 4:2:0 (BT.601 and
 * BT.709), MJPEG 4:2:2 full range, NV12, YUYV, PNG RGB (down and up), an
 * output size that is not a multiple of 8, and 10-bit H.264 (the libswscale
 * route); and regions of interest (media/crop.c, scl_frame_rect): crops in
 * pixels at odd offsets, in percent and mixed, on 4:2:0, NV12, 4:2:2 and
 * RGB, against the same reference made over the crop's window, and crops
 * that do not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "media/crop.h"
#include "media/resample.h"
#include "media/scale.h"
#include "tests/testutil.h"

typedef struct ref_case {
    char name[64], file[64], mode[16];
    int w, h, tol;
} ref_case;

/* scale/manifest.txt: case file width height mode tolerance */
static int manifest_case(void *arg, int i, const char *line)
{
    ref_case *c = (ref_case *)arg + i;
    return sscanf(line, "%63s %63s %d %d %15s %d", c->name, c->file, &c->w, &c->h, c->mode, &c->tol) == 6;
}

static int cases(ref_case *c, int max)
{
    int n = read_manifest("scale/manifest.txt", manifest_case, c, max);
    if (n < 0)
        fail_msg("%s/scale/manifest.txt missing: make fixtures", fixdir());
    return n;
}

static uint8_t *load(const ref_case *c, eng_order order)
{
    char path[512], err[256];
    uint8_t *px = malloc((size_t)c->w * (size_t)c->h * 3);
    assert_non_null(px);
    snprintf(path, sizeof path, "%s/scale/%s", fixdir(), c->file);
    eng_resize mode = strcmp(c->mode, "stretch") == 0 ? ENG_RESIZE_STRETCH : ENG_RESIZE_SHORT_CROP;
    if (scl_load_image(path, c->w, c->h, mode, order, px, c->w * 3, err, sizeof err) < 0)
        fail_msg("%s: %s", c->name, err);
    return px;
}

/* Every value within the case's tolerance of the reference, and off by one
 * (float rounding at .5) for at most 1 % of them. */
static void matches_reference(void)
{
    ref_case cs[16];
    int n = cases(cs, 16);
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        const ref_case *c = &cs[i];
        char path[512];
        size_t len = 0, nv = (size_t)c->w * (size_t)c->h * 3;
        snprintf(path, sizeof path, "%s/scale/%s.rgb", fixdir(), c->name);
        uint8_t *ref = slurp(path, &len), *px = load(c, ENG_ORDER_RGB);
        assert_non_null(ref);
        assert_int_equal(len, nv);
        int worst = 0;
        size_t off = 0;
        double sum = 0;
        for (size_t k = 0; k < nv; k++) {
            int d = abs((int)px[k] - (int)ref[k]);
            worst = d > worst ? d : worst;
            off += d > 0;
            sum += d;
        }
        printf("  %-11s %3dx%-3d %-10s max diff %d, %5.2f %% differ, mean %.4f\n", c->name, c->w, c->h,
               c->mode, worst, 100.0 * (double)off / (double)nv, sum / (double)nv);
        if (worst > c->tol || (c->tol == 1 && off * 100 > nv))
            fail_msg("%s: max diff %d (tolerance %d), %zu of %zu values differ", c->name, worst, c->tol,
                     off, nv);
        free(ref);
        free(px);
    }
}

static void test_matches_reference(void **state)
{
    (void)state;
    matches_reference();
}

/* The pass other CPUs (without AVX2, or not x86) take. */
static void test_portable_path_matches_reference(void **state)
{
    (void)state;
    rsm_test_portable = 1;
    matches_reference();
    rsm_test_portable = 0;
}

static void test_bgr_swaps_red_and_blue(void **state)
{
    (void)state;
    ref_case cs[16];
    int n = cases(cs, 16);
    assert_true(n > 0);
    uint8_t *rgb = load(&cs[0], ENG_ORDER_RGB), *bgr = load(&cs[0], ENG_ORDER_BGR);
    size_t np = (size_t)cs[0].w * (size_t)cs[0].h, same_rb = 0;
    for (size_t k = 0; k < np; k++) {
        assert_int_equal(rgb[3 * k], bgr[3 * k + 2]);
        assert_int_equal(rgb[3 * k + 1], bgr[3 * k + 1]);
        assert_int_equal(rgb[3 * k + 2], bgr[3 * k]);
        same_rb += rgb[3 * k] == rgb[3 * k + 2];
    }
    assert_true(same_rb < np / 2);     /* the picture has colour: the swap showed */
    free(rgb);
    free(bgr);
}

/* The first frame of a file, decoded. */
static AVFrame *decode_first(const char *path)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    const AVCodec *codec = NULL;
    int si, got = 0;
    assert_true(pkt && fr);
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    assert_true((si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) >= 0);
    assert_non_null(dec = avcodec_alloc_context3(codec));
    assert_true(avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar) >= 0);
    assert_true(avcodec_open2(dec, codec, NULL) >= 0);
    while (!got && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == si && avcodec_send_packet(dec, pkt) >= 0)
            got = avcodec_receive_frame(dec, fr) >= 0;
        av_packet_unref(pkt);
    }
    if (!got) {
        avcodec_send_packet(dec, NULL);
        got = avcodec_receive_frame(dec, fr) >= 0;
    }
    assert_true(got);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return fr;
}

/* One scaler across a change of size and format (a camera switching
 * resolution, a reconnect to another encoder) gives what a fresh one does. */
static void test_one_scaler_follows_geometry_changes(void **state)
{
    (void)state;
    ref_case cs[16];
    int n = cases(cs, 16), order[] = { 0, 2, 4, 7, 0, 5, 2 };
    scl *s = NULL;
    char err[256];
    assert_true(n == 9);
    assert_int_equal(scl_new(&s, 224, 224, ENG_RESIZE_SHORT_CROP, ENG_ORDER_RGB), 0);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        ref_case c = cs[order[i]];
        char path[512];
        snprintf(path, sizeof path, "%s/scale/%s", fixdir(), c.file);
        c.w = c.h = 224;
        snprintf(c.mode, sizeof c.mode, "short-crop");
        AVFrame *fr = decode_first(path);
        uint8_t *fresh = load(&c, ENG_ORDER_RGB), *px = malloc(224 * 224 * 3);
        assert_non_null(px);
        if (scl_frame(s, fr, px, 224 * 3, err, sizeof err) < 0)
            fail_msg("%s: %s", c.name, err);
        assert_memory_equal(px, fresh, 224 * 224 * 3);
        free(px);
        free(fresh);
        av_frame_free(&fr);
    }
    scl_free(s);
}

static void test_unusable_frame_is_an_error(void **state)
{
    (void)state;
    scl *s = NULL;
    char err[256] = "";
    uint8_t px[16 * 16 * 3];
    AVFrame *fr = av_frame_alloc();
    assert_non_null(fr);
    assert_int_equal(scl_new(&s, 16, 16, ENG_RESIZE_STRETCH, ENG_ORDER_RGB), 0);
    fr->format = AV_PIX_FMT_YUV420P;               /* no size, no data */
    assert_true(scl_frame(s, fr, px, 16 * 3, err, sizeof err) < 0);
    assert_non_null(strstr(err, "no usable format or size"));
    av_frame_free(&fr);
    scl_free(s);
}

/* ------------------------------------------------------------ regions */

/* "101,57,333,211" or "10%,0%,50%,100%": what the config would hold. */
static scl_crop parse_crop(const char *text)
{
    scl_crop c = { { 0, 0, 0, 0 }, 0 };
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        char *end;
        c.v[i] = strtod(p, &end);
        if (*end == '%') {
            c.pct |= 1u << i;
            end++;
        }
        p = end + (*end == ',');
    }
    return c;
}

typedef struct crop_case {
    ref_case c;
    char spec[64];
} crop_case;

/* scale/crops.txt: case file width height mode tolerance crop */
static int crop_line(void *arg, int i, const char *line)
{
    crop_case *c = (crop_case *)arg + i;
    return sscanf(line, "%63s %63s %d %d %15s %d %63s", c->c.name, c->c.file, &c->c.w, &c->c.h,
                  c->c.mode, &c->c.tol, c->spec) == 7;
}

static void crops_match_reference(void)
{
    crop_case cs[16];
    char path[512], err[256];
    int n = read_manifest("scale/crops.txt", crop_line, cs, 16);
    if (n < 0)
        fail_msg("%s/scale/crops.txt missing: make fixtures", fixdir());
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        const ref_case *c = &cs[i].c;
        size_t len = 0, nv = (size_t)c->w * (size_t)c->h * 3;
        snprintf(path, sizeof path, "%s/scale/%s", fixdir(), c->file);
        AVFrame *fr = decode_first(path);
        scl_crop crop = parse_crop(cs[i].spec);
        scl_rect r;
        if (scl_crop_resolve(&crop, fr->width, fr->height, c->name, &r, err, sizeof err) < 0)
            fail_msg("%s", err);
        scl *s = NULL;
        uint8_t *px = malloc(nv);
        assert_non_null(px);
        eng_resize mode = strcmp(c->mode, "stretch") == 0 ? ENG_RESIZE_STRETCH : ENG_RESIZE_SHORT_CROP;
        assert_int_equal(scl_new(&s, c->w, c->h, mode, ENG_ORDER_RGB), 0);
        if (scl_frame_rect(s, fr, &r, px, c->w * 3, err, sizeof err) < 0)
            fail_msg("%s: %s", c->name, err);
        snprintf(path, sizeof path, "%s/scale/%s.rgb", fixdir(), c->name);
        uint8_t *ref = slurp(path, &len);
        assert_non_null(ref);
        assert_int_equal(len, nv);
        int worst = 0;
        size_t off = 0;
        for (size_t k = 0; k < nv; k++) {
            int d = abs((int)px[k] - (int)ref[k]);
            worst = d > worst ? d : worst;
            off += d > 0;
        }
        printf("  %-15s %-18s %dx%d at %d,%d: max diff %d, %5.2f %% differ\n", c->name, cs[i].spec,
               r.w, r.h, r.x, r.y, worst, 100.0 * (double)off / (double)nv);
        if (worst > c->tol || (c->tol == 1 && off * 100 > nv))
            fail_msg("%s: max diff %d (tolerance %d), %zu of %zu values differ", c->name, worst,
                     c->tol, off, nv);
        free(ref);
        free(px);
        scl_free(s);
        av_frame_free(&fr);
    }
}

static void test_crops_match_reference(void **state)
{
    (void)state;
    crops_match_reference();
}

static void test_crops_portable_path_match_reference(void **state)
{
    (void)state;
    rsm_test_portable = 1;
    crops_match_reference();
    rsm_test_portable = 0;
}

static void test_crop_resolve(void **state)
{
    (void)state;
    char err[256];
    scl_rect r;
    scl_crop px = parse_crop("101,57,333,211"), half = parse_crop("50%,0%,50%,100%");
    assert_int_equal(scl_crop_resolve(&px, 640, 360, "gate", &r, err, sizeof err), 0);
    assert_true(r.x == 101 && r.y == 57 && r.w == 333 && r.h == 211);
    /* percent rounds at both edges: thirds of 640 tile it without a gap */
    scl_crop t[3] = { parse_crop("0%,0%,33.3333%,100%"), parse_crop("33.3333%,0%,33.3333%,100%"),
                      parse_crop("66.6667%,0%,33.3333%,100%") };
    int end = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(scl_crop_resolve(&t[i], 640, 360, "third", &r, err, sizeof err), 0);
        assert_int_equal(r.x, end);
        end = r.x + r.w;
    }
    assert_int_equal(end, 640);
    assert_int_equal(scl_crop_resolve(&half, 641, 361, "right", &r, err, sizeof err), 0);
    assert_true(r.x == 321 && r.w == 320 && r.y == 0 && r.h == 361);
    /* mixed: a pixel offset, a percent size */
    scl_crop mixed = parse_crop("7,10%,25%,30");
    assert_int_equal(scl_crop_resolve(&mixed, 640, 360, "m", &r, err, sizeof err), 0);
    assert_true(r.x == 7 && r.y == 36 && r.w == 160 && r.h == 30);
    /* whole frame */
    scl_crop all = parse_crop("0,0,100%,100%");
    assert_int_equal(scl_crop_resolve(&all, 1920, 1080, "all", &r, err, sizeof err), 0);
    assert_true(r.x == 0 && r.y == 0 && r.w == 1920 && r.h == 1080);
}

/* Outside the frame: the region, the crop and both sizes in the message,
 * no rectangle; also once the same crop meets a smaller frame. */
static void test_crop_outside_frame_is_an_error(void **state)
{
    (void)state;
    char err[256] = "";
    scl_rect r = { -1, -1, -1, -1 };
    scl_crop c = parse_crop("600,0,100,360");
    assert_int_equal(scl_crop_resolve(&c, 640, 360, "region door", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "region door"));
    assert_non_null(strstr(err, "100x360 at 600,0"));
    assert_non_null(strstr(err, "640x360 frame"));
    assert_int_equal(r.x, -1);
    scl_crop fits = parse_crop("0,0,640,360");
    assert_int_equal(scl_crop_resolve(&fits, 640, 360, "region door", &r, err, sizeof err), 0);
    /* the camera drops to 320x240 */
    assert_int_equal(scl_crop_resolve(&fits, 320, 240, "region door", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "(640x360 at 0,0) is outside the 320x240 frame"));
    scl_crop tiny = parse_crop("0,0,0.01%,10");
    assert_int_equal(scl_crop_resolve(&tiny, 640, 360, "region tiny", &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "region tiny: crop 0,0,0.01%,10 is less than a pixel of the 640x360"));
}

/* The scaler refuses a rectangle outside the frame rather than read past
 * its planes, and one scaler follows rectangle changes like a fresh one. */
static void test_rect_outside_and_changes(void **state)
{
    (void)state;
    ref_case cs[16];
    char path[512], err[256] = "";
    int n = cases(cs, 16);
    assert_true(n > 0);
    snprintf(path, sizeof path, "%s/scale/%s", fixdir(), cs[0].file);
    AVFrame *fr = decode_first(path);
    scl *s = NULL, *fresh = NULL;
    uint8_t *a = malloc(64 * 64 * 3), *b = malloc(64 * 64 * 3);
    assert_true(a && b);
    assert_int_equal(scl_new(&s, 64, 64, ENG_RESIZE_STRETCH, ENG_ORDER_RGB), 0);
    scl_rect out = { fr->width - 10, 0, 11, 10 };
    assert_true(scl_frame_rect(s, fr, &out, a, 64 * 3, err, sizeof err) < 0);
    assert_non_null(strstr(err, "outside the"));
    scl_rect rects[] = { { 0, 0, 100, 100 }, { 33, 21, 200, 99 }, { 0, 0, 100, 100 } };
    for (size_t i = 0; i < sizeof rects / sizeof rects[0]; i++) {
        assert_int_equal(scl_new(&fresh, 64, 64, ENG_RESIZE_STRETCH, ENG_ORDER_RGB), 0);
        assert_int_equal(scl_frame_rect(s, fr, &rects[i], a, 64 * 3, err, sizeof err), 0);
        assert_int_equal(scl_frame_rect(fresh, fr, &rects[i], b, 64 * 3, err, sizeof err), 0);
        assert_memory_equal(a, b, 64 * 64 * 3);
        scl_free(fresh);
    }
    /* and the whole frame differs from a part of it */
    assert_int_equal(scl_frame_rect(s, fr, NULL, b, 64 * 3, err, sizeof err), 0);
    assert_memory_not_equal(a, b, 64 * 64 * 3);
    free(a);
    free(b);
    scl_free(s);
    av_frame_free(&fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_portable_path_matches_reference),
        cmocka_unit_test(test_bgr_swaps_red_and_blue),
        cmocka_unit_test(test_one_scaler_follows_geometry_changes),
        cmocka_unit_test(test_unusable_frame_is_an_error),
        cmocka_unit_test(test_crops_match_reference),
        cmocka_unit_test(test_crops_portable_path_match_reference),
        cmocka_unit_test(test_crop_resolve),
        cmocka_unit_test(test_crop_outside_frame_is_an_error),
        cmocka_unit_test(test_rect_outside_and_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
