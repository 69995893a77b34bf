/* f32_pixels.c: RGB bytes to the first layer's floats through the
 * per-channel tables (see f32_pixels.h).
 *
 * Every value is a table entry, never recomputed, so the vector path and
 * the portable one write the same bits.  The vector path gathers eight
 * entries at a time: for planes it first picks each channel's eight bytes
 * out of 24 interleaved ones with two byte shuffles; for NHWC the bytes
 * stay in order and the channel is an offset into the three tables, laid
 * out one after another. */
#include "engine/dnn/f32_pixels.h"

#include <stddef.h>

#include "engine/dnn/dnn.h"
#include "engine/engine.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#endif

static void planar_row(float *d0, float *d1, float *d2, const uint8_t *row, int x, int w,
                       const float (*lut)[256])
{
    for (; x < w; x++) {
        d0[x] = lut[0][row[3 * x]];
        d1[x] = lut[1][row[3 * x + 1]];
        d2[x] = lut[2][row[3 * x + 2]];
    }
}

static void nhwc_row(float *o, const uint8_t *row, int j, int n, const float (*lut)[256])
{
    for (; j < n; j++)
        o[j] = lut[j % 3][row[j]];
}

#if defined(__x86_64__)

/* Pixels x.. of a row into three planes, 8 at a time while 24 bytes remain. */
AVX2 static int planar_row_avx2(float *d0, float *d1, float *d2, const uint8_t *row, int w,
                                const float (*lut)[256])
{
    /* channel c's bytes of 8 pixels sit at 3i + c: those below 16 come
     * from the first 16 bytes, the rest from the 16 starting at byte 8 */
    const __m128i lo0 = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i hi0 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i lo1 = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i hi1 = _mm_setr_epi8(-1, -1, -1, -1, -1, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i lo2 = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i hi2 = _mm_setr_epi8(-1, -1, -1, -1, -1, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    int x = 0;
    for (; x + 8 <= w; x += 8) {
        __m128i a = _mm_loadu_si128((const __m128i *)(row + 3 * x));
        __m128i b = _mm_loadu_si128((const __m128i *)(row + 3 * x + 8));
        __m256i i0 = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(a, lo0), _mm_shuffle_epi8(b, hi0)));
        __m256i i1 = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(a, lo1), _mm_shuffle_epi8(b, hi1)));
        __m256i i2 = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(a, lo2), _mm_shuffle_epi8(b, hi2)));
        _mm256_storeu_ps(d0 + x, _mm256_i32gather_ps(lut[0], i0, 4));
        _mm256_storeu_ps(d1 + x, _mm256_i32gather_ps(lut[1], i1, 4));
        _mm256_storeu_ps(d2 + x, _mm256_i32gather_ps(lut[2], i2, 4));
    }
    return x;
}

/* Bytes j.. of an interleaved row, 24 at a time (8 pixels), as floats in
 * the same order; returns where the portable loop takes over. */
AVX2 static int nhwc_row_avx2(float *o, const uint8_t *row, int n, const float (*lut)[256])
{
    /* byte j's channel is j % 3: table j % 3 starts 256 entries further on */
    const __m256i off0 = _mm256_setr_epi32(0, 256, 512, 0, 256, 512, 0, 256);
    const __m256i off1 = _mm256_setr_epi32(512, 0, 256, 512, 0, 256, 512, 0);
    const __m256i off2 = _mm256_setr_epi32(256, 512, 0, 256, 512, 0, 256, 512);
    const float *t = lut[0];
    int j = 0;
    for (; j + 24 <= n; j += 24) {
        __m256i i0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + j)));
        __m256i i1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + j + 8)));
        __m256i i2 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + j + 16)));
        _mm256_storeu_ps(o + j, _mm256_i32gather_ps(t, _mm256_add_epi32(i0, off0), 4));
        _mm256_storeu_ps(o + j + 8, _mm256_i32gather_ps(t, _mm256_add_epi32(i1, off1), 4));
        _mm256_storeu_ps(o + j + 16, _mm256_i32gather_ps(t, _mm256_add_epi32(i2, off2), 4));
    }
    return j;
}

static int use_avx2(void)
{
    return (eng_cpu_features() & ENG_CPU_AVX2) != 0;
}

#else

static int planar_row_avx2(float *d0, float *d1, float *d2, const uint8_t *row, int w,
                           const float (*lut)[256])
{
    (void)d0, (void)d1, (void)d2, (void)row, (void)w, (void)lut;
    return 0;
}

static int nhwc_row_avx2(float *o, const uint8_t *row, int n, const float (*lut)[256])
{
    (void)o, (void)row, (void)n, (void)lut;
    return 0;
}

static int use_avx2(void)
{
    return 0;
}

#endif

void f32_pixels(float *dst, int h, int w, int nhwc, const uint8_t *src, int stride,
                const float (*lut)[256])
{
    size_t plane = (size_t)h * (size_t)w;
    int vec = use_avx2();
    /* rows split over the team the layers after use, when it has more
     * than one thread: the frame is as much work as a small layer */
#pragma omp parallel for schedule(static) if (h * w >= DNN_PAR_MIN_PIXELS)
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        if (nhwc) {
            float *o = dst + (size_t)y * (size_t)w * 3;
            nhwc_row(o, row, vec ? nhwc_row_avx2(o, row, 3 * w, lut) : 0, 3 * w, lut);
            continue;
        }
        float *d0 = dst + (size_t)y * (size_t)w, *d1 = d0 + plane, *d2 = d1 + plane;
        planar_row(d0, d1, d2, row, vec ? planar_row_avx2(d0, d1, d2, row, w, lut) : 0, w, lut);
    }
}
