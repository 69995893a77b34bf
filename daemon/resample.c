/* resample.c: one plane, triangle filter.  See resample.h. */
#include "daemon/resample.h"

#include <errno.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* AVX2 and FMA copies of the hot loops beside the baseline ones, picked
 * at load time.  Only static functions get them: clang 14 does not resolve
 * a cloned function called from another file. */
#if defined(__x86_64__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

void rsm_axis_free(rsm_axis *a)
{
    free(a->first);
    free(a->count);
    free(a->w);
    memset(a, 0, sizeof *a);
}

static double tri(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

int rsm_axis_init(rsm_axis *a, int out, double x0, double len, int size)
{
    double scale = len / out;
    double fs = scale > 1.0 ? scale : 1.0;     /* the filter widens on reduction only */
    double support = fs;                      /* the triangle's half-width is 1 */

    memset(a, 0, sizeof *a);
    if (out <= 0 || size <= 0 || !(len > 0))
        return -EINVAL;
    a->n = out;
    /* in whole blocks of 8, zero-weighted past each output's own: the
     * horizontal pass is then one vector multiply per block */
    a->taps = ((int)ceil(support) * 2 + 1 + 7) & ~7;
    a->first = malloc(sizeof(int) * (size_t)out);
    a->count = malloc(sizeof(int) * (size_t)out);
    a->w = calloc((size_t)out * (size_t)a->taps, sizeof(float));
    if (!a->first || !a->count || !a->w) {
        rsm_axis_free(a);
        return -ENOMEM;
    }
    int lo = size, hi = 0;
    for (int i = 0; i < out; i++) {
        double c = x0 + (i + 0.5) * scale;
        int xmin = (int)floor(c - support + 0.5), xmax = (int)floor(c + support + 0.5);
        if (xmin < 0)
            xmin = 0;
        if (xmax > size)
            xmax = size;
        if (xmax <= xmin) {                   /* a window off the plane: nearest edge */
            xmin = c < 0 ? 0 : size - 1;
            xmax = xmin + 1;
        }
        if (xmax - xmin > a->taps)
            xmax = xmin + a->taps;
        float *w = a->w + (size_t)i * (size_t)a->taps;
        double sum = 0;
        for (int x = xmin; x < xmax; x++)
            sum += tri((x + 0.5 - c) / fs);
        for (int x = xmin; x < xmax; x++)
            w[x - xmin] = sum > 0 ? (float)(tri((x + 0.5 - c) / fs) / sum) : 1.0f / (float)(xmax - xmin);
        a->first[i] = xmin;
        a->count[i] = xmax - xmin;
        if (xmin < lo)
            lo = xmin;
        if (xmax > hi)
            hi = xmax;
    }
    a->lo = lo;
    a->span = hi - lo;
    return 0;
}

/* Vertical pass: whole rows, contiguous for planar data, a loop the
 * compiler vectorises (the Makefile builds this file at -O3; x86-64-v3's
 * AVX2 and FMA double its width where the CPU has them). */
CLONES
static void vertical(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row, float *restrict tmp)
{
    const float *wy = ay->w + (size_t)row * (size_t)ay->taps;
    int n = ax->span, step = p->step;

    for (int k = 0; k < ay->count[row]; k++) {
        const uint8_t *restrict s = p->data + (ptrdiff_t)(ay->first[row] + k) * p->stride +
                                    (ptrdiff_t)ax->lo * step;
        float wk = wy[k];
        if (k == 0 && step == 1)
            for (int x = 0; x < n; x++)
                tmp[x] = wk * (float)s[x];
        else if (k == 0)
            for (int x = 0; x < n; x++)
                tmp[x] = wk * (float)s[(ptrdiff_t)x * step];
        else if (step == 1)
            for (int x = 0; x < n; x++)
                tmp[x] += wk * (float)s[x];
        else
            for (int x = 0; x < n; x++)
                tmp[x] += wk * (float)s[(ptrdiff_t)x * step];
    }
}

/* Horizontal pass, outputs [from, ax->n): a dot product of ax->taps (a
 * multiple of 8) per output, zero-weighted past its own taps.  Past this
 * plane's span tmp holds zeros or another plane's row: finite values the
 * zero weights cancel. */
static void horizontal(const rsm_axis *ax, const float *restrict tmp, int from, float *restrict dst)
{
    for (int i = from; i < ax->n; i++) {
        const float *restrict w = ax->w + (size_t)i * (size_t)ax->taps;
        const float *restrict t = tmp + (ax->first[i] - ax->lo);
        float acc[8] = { 0 };
        for (int k = 0; k < ax->taps; k += 8)
            for (int j = 0; j < 8; j++)
                acc[j] += w[k + j] * t[k + j];
        dst[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
}

#if defined(__x86_64__)
/* Eight outputs at a time: their eight product vectors are summed across
 * together (a tree of hadds) instead of one by one, which is most of what
 * the pass costs otherwise. */
__attribute__((target("avx2,fma")))
static void horizontal_avx2(const rsm_axis *ax, const float *restrict tmp, float *restrict dst)
{
    int i = 0, taps = ax->taps;
    for (; i + 8 <= ax->n; i += 8) {
        __m256 v[8];
        for (int o = 0; o < 8; o++) {
            const float *w = ax->w + (size_t)(i + o) * (size_t)taps;
            const float *t = tmp + (ax->first[i + o] - ax->lo);
            __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(w), _mm256_loadu_ps(t));
            for (int k = 8; k < taps; k += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(t + k), acc);
            v[o] = acc;
        }
        __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
        __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
        __m256 lo = _mm256_permute2f128_ps(a, b, 0x20), hi = _mm256_permute2f128_ps(a, b, 0x31);
        _mm256_storeu_ps(dst + i, _mm256_add_ps(lo, hi));
    }
    horizontal(ax, tmp, i, dst);
}
#endif

#ifdef LCNETD_TESTING
int rsm_test_portable;
#else
enum { rsm_test_portable = 0 };
#endif

void rsm_row(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row, float *restrict tmp,
             float *restrict dst)
{
    vertical(p, ax, ay, row, tmp);
#if defined(__x86_64__)
    if (!rsm_test_portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        horizontal_avx2(ax, tmp, dst);
        return;
    }
#endif
    horizontal(ax, tmp, 0, dst);
}

CLONES
static void yuv_to_rgb(float *restrict y, float *restrict u, float *restrict v, int n, const float m[6])
{
    for (int x = 0; x < n; x++) {
        float l = m[0] * (y[x] - m[1]), cb = u[x] - 128.0f, cr = v[x] - 128.0f;
        y[x] = l + m[2] * cr;
        u[x] = l - m[3] * cb - m[4] * cr;
        v[x] = l + m[5] * cb;
    }
}

/* Clamping and rounding vectorise; the byte interleave is a plain store
 * loop after them. */
CLONES
static void pack(const float *restrict p0, const float *restrict p1, const float *restrict p2, int n,
                 uint8_t *restrict out)
{
    int32_t q[3][64];
    for (int x0 = 0; x0 < n; x0 += 64) {
        int m = n - x0 < 64 ? n - x0 : 64;
        const float *src[3] = { p0 + x0, p1 + x0, p2 + x0 };
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < m; x++) {
                /* round, then clamp as integers: the same result as
                 * clamping first, and a shape that vectorises */
                int32_t v = (int32_t)(src[c][x] + 0.5f);
                v = v > 0 ? v : 0;
                q[c][x] = v < 255 ? v : 255;
            }
        uint8_t *o = out + 3 * (ptrdiff_t)x0;
        for (int x = 0; x < m; x++) {
            o[3 * x] = (uint8_t)q[0][x];
            o[3 * x + 1] = (uint8_t)q[1][x];
            o[3 * x + 2] = (uint8_t)q[2][x];
        }
    }
}

void rsm_yuv_to_rgb(float *y, float *u, float *v, int n, const float m[6])
{
    yuv_to_rgb(y, u, v, n, m);
}

void rsm_pack(const float *p0, const float *p1, const float *p2, int n, uint8_t *out)
{
    pack(p0, p1, p2, n, out);
}
