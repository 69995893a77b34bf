/* Tests of the fp32 backend's pixel conversion (engine/dnn/f32_pixels.h):
 * interleaved RGB bytes through per-channel tables into planes or NHWC
 * rows, against a one-value-at-a-time reference, bit for bit.  Widths on
 * both sides of the vector path's 8-pixel steps (so its tail runs too),
 * row strides wider than the pixels (with bytes there that must not be
 * read into the output), tables whose entries are all distinct, and every
 * byte value, with the rows split over one thread and over several.  On
 * an AVX2 CPU this is the gathers' test; with the ISA capped below AVX2
 * (tests/run-isa.sh), the portable loop's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "engine/dnn/f32_pixels.h"

static uint32_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Distinct entries: a byte that went through the wrong channel's table,
 * or a neighbour's byte, gives a value no right lookup gives. */
static void make_lut(float lut[3][256])
{
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = (float)(c * 1000 + v) * 0.25f - 300.0f;
}

static void reference(float *dst, int h, int w, int nhwc, const uint8_t *src, int stride,
                      const float lut[3][256])
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                float v = lut[c][src[(size_t)y * (size_t)stride + 3 * (size_t)x + (size_t)c]];
                if (nhwc)
                    dst[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] = v;
                else
                    dst[((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] = v;
            }
}

static void check(int h, int w, int pad, int nhwc, uint64_t *seed)
{
    float lut[3][256];
    int stride = 3 * w + pad;
    size_t n = (size_t)h * (size_t)w * 3;
    uint8_t *src = malloc((size_t)h * (size_t)stride);
    float *got = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    assert_non_null(src);
    assert_non_null(got);
    assert_non_null(want);
    make_lut(lut);
    for (size_t i = 0; i < (size_t)h * (size_t)stride; i++)
        src[i] = (uint8_t)next(seed);
    src[0] = 0;
    src[(size_t)h * (size_t)stride - 1 - (size_t)pad] = 255;
    memset(got, 0xff, n * sizeof(float));          /* NaNs where nothing was written */
    reference(want, h, w, nhwc, src, stride, (const float (*)[256])lut);
    f32_pixels(got, h, w, nhwc, src, stride, (const float (*)[256])lut);
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s %dx%d (stride %d): value %zu is %g, want %g", nhwc ? "nhwc" : "planar", h, w,
                     stride, i, (double)got[i], (double)want[i]);
    free(src);
    free(got);
    free(want);
}

/* widths around the vector step of 8 pixels, padded strides, a full frame */
static void widths_in(int nhwc, uint64_t seed)
{
    static const int widths[] = { 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 224 };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        check(3, widths[i], 0, nhwc, &seed);
        check(2, widths[i], 5, nhwc, &seed);
    }
    check(224, 224, 0, nhwc, &seed);
}

static void test_planar_matches_reference(void **state)
{
    (void)state;
    widths_in(0, 1);
}

static void test_nhwc_matches_reference(void **state)
{
    (void)state;
    widths_in(1, 2);
}

/* Every byte through every channel's table, in both layouts. */
static void test_every_byte(void **state)
{
    (void)state;
    float lut[3][256], got[256 * 3], want[256 * 3];
    uint8_t src[256 * 3];
    make_lut(lut);
    for (int nhwc = 0; nhwc < 2; nhwc++)
        for (int shift = 0; shift < 3; shift++) {
            for (int i = 0; i < 256 * 3; i++)
                src[i] = (uint8_t)((i + shift * 85) / 3 + i % 3 * 7);
            reference(want, 1, 256, nhwc, src, 256 * 3, (const float (*)[256])lut);
            f32_pixels(got, 1, 256, nhwc, src, 256 * 3, (const float (*)[256])lut);
            assert_memory_equal(got, want, sizeof got);
        }
}

/* A frame big enough to be split over the team gives the same bits. */
static void test_split_over_threads(void **state)
{
    (void)state;
    uint64_t seed = 3;
    int before = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        check(224, 224, 0, 0, &seed);
        check(224, 224, 3, 1, &seed);
        check(97, 131, 1, 0, &seed);
    }
    omp_set_num_threads(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planar_matches_reference),
        cmocka_unit_test(test_nhwc_matches_reference),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_split_over_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
