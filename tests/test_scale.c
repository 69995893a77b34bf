/* test_scale.c: decoded frames to model input (media/scale.c) against
 * pictures computed without lcnetd (tests/fixtures/gen_scale_ref.py: PIL's
 * bilinear filter, the declared colour matrix), for H.264 4:2:0 (BT.601 and
 * BT.709), MJPEG 4:2:2 full range, NV12, YUYV, PNG RGB (down and up), an
 * output size that is not a multiple of 8, and 10-bit H.264 (the libswscale
 * route). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_portable_path_matches_reference),
        cmocka_unit_test(test_bgr_swaps_red_and_blue),
        cmocka_unit_test(test_one_scaler_follows_geometry_changes),
        cmocka_unit_test(test_unusable_frame_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
