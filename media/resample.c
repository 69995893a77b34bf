/* resample.c: one plane, triangle filter.  See resample.h. */
#include "media/resample.h"

#include <errno.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/simd.h"

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
SIMD_TWICE(vertical, (const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row,
                     float *restrict tmp), (p, ax, ay, row, tmp))
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

/* Horizontal pass, one row: a dot product of ax->taps (a
 * multiple of 8) per output, zero-weighted past its own taps.  Past this
 * plane's span tmp holds zeros or another plane's row: finite values the
 * zero weights cancel. */
static void horizontal(const rsm_axis *ax, const float *restrict tmp, float *restrict dst)
{
    for (int i = 0; i < ax->n; i++) {
        const float *restrict w = ax->w + (size_t)i * (size_t)ax->taps;
        const float *restrict t = tmp + (ax->first[i] - ax->lo);
        float acc[8] = { 0 };
        for (int k = 0; k < ax->taps; k += 8)
            for (int j = 0; j < 8; j++)
                acc[j] += w[k + j] * t[k + j];
        dst[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    }
}

/* Work: RSM_ROWS vertical rows of `pitch` floats, the same transposed
 * (pitch x RSM_ROWS), then the outputs transposed (n8 x RSM_ROWS). */
static size_t pitch_of(const rsm_axis *ax)
{
    return ((size_t)ax->span + (size_t)ax->taps + 7) & ~(size_t)7;
}

size_t rsm_work_floats(const rsm_axis *ax)
{
    size_t n8 = ((size_t)ax->n + 7) & ~(size_t)7;
    return 2 * RSM_ROWS * pitch_of(ax) + RSM_ROWS * n8;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The vertical pass of a planar row with every tap's sum held in registers
 * (32 columns at a time) and stored once, where the portable loop reads and
 * writes the row once per tap.  Same products, same order: the same sums. */
__attribute__((target("avx2,fma")))
static void vertical_planar(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row,
                            float *restrict tmp)
{
    const float *wy = ay->w + (size_t)row * (size_t)ay->taps;
    const uint8_t *s0 = p->data + (ptrdiff_t)ay->first[row] * p->stride + ax->lo;
    int n = ax->span, taps = ay->count[row], x = 0;
#define LOAD8(q) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q))))
    for (; x + 32 <= n; x += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < taps; k++) {
            const uint8_t *q = s0 + (ptrdiff_t)k * p->stride + x;
            __m256 w = _mm256_broadcast_ss(wy + k);
            a0 = _mm256_fmadd_ps(w, LOAD8(q), a0);
            a1 = _mm256_fmadd_ps(w, LOAD8(q + 8), a1);
            a2 = _mm256_fmadd_ps(w, LOAD8(q + 16), a2);
            a3 = _mm256_fmadd_ps(w, LOAD8(q + 24), a3);
        }
        _mm256_storeu_ps(tmp + x, a0);
        _mm256_storeu_ps(tmp + x + 8, a1);
        _mm256_storeu_ps(tmp + x + 16, a2);
        _mm256_storeu_ps(tmp + x + 24, a3);
    }
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_setzero_ps();
        for (int k = 0; k < taps; k++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(wy + k), LOAD8(s0 + (ptrdiff_t)k * p->stride + x), a);
        _mm256_storeu_ps(tmp + x, a);
    }
#undef LOAD8
    /* the last few columns: no 8-byte load past the window's end */
    for (; x < n; x++) {
        float a = 0.0f;
        for (int k = 0; k < taps; k++)
            a = fmaf(wy[k], (float)s0[(ptrdiff_t)k * p->stride + x], a);
        tmp[x] = a;
    }
}

/* Eight rows at once, so that the horizontal pass needs no sums across a
 * vector: with the vertical rows transposed, one output column of all
 * eight rows is a multiply-add of a broadcast weight per tap, over the
 * output's own taps only (not the axis's rounded-up count).  A row at a
 * time, each output was a dot product summed across lanes, which cost
 * more than the multiplies (about 5 % of a stream's CPU at 720p). */
__attribute__((target("avx2,fma")))
static void rows_avx2(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row, int n,
                      float *work, float *dst, ptrdiff_t dst_stride)
{
    size_t pitch = pitch_of(ax);
    int span8 = (ax->span + 7) & ~7;
    float *rows = work, *tt = work + RSM_ROWS * pitch, *ot = tt + RSM_ROWS * pitch;
    __m256 v[8];

    /* rows past n keep whatever finite values they hold; their outputs
     * are not stored */
    for (int r = 0; r < n; r++) {
        if (p->step == 1)
            vertical_planar(p, ax, ay, row + r, rows + (size_t)r * pitch);
        else
            vertical(p, ax, ay, row + r, rows + (size_t)r * pitch);
    }
    for (int x = 0; x < span8; x += 8) {
        for (int r = 0; r < 8; r++)
            v[r] = _mm256_loadu_ps(rows + (size_t)r * pitch + x);
        transpose8(v);
        for (int j = 0; j < 8; j++)
            _mm256_storeu_ps(tt + (size_t)(x + j) * 8, v[j]);
    }
    /* locals, not ax->...: the stores to ot would make the compiler reload
     * them on every tap */
    const int *first = ax->first, *count = ax->count, lo = ax->lo, nout = ax->n;
    const float *wt = ax->w;
    size_t taps = (size_t)ax->taps;
    for (int i = 0; i < nout; i++) {
        const float *w = wt + (size_t)i * taps;
        const float *t = tt + (size_t)(first[i] - lo) * 8;
        int c = count[i];
        __m256 acc = _mm256_mul_ps(_mm256_broadcast_ss(w), _mm256_loadu_ps(t));
        for (int k = 1; k < c; k++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k), _mm256_loadu_ps(t + 8 * k), acc);
        _mm256_storeu_ps(ot + (size_t)i * 8, acc);
    }
    for (int i = 0; i < ax->n; i += 8) {
        for (int j = 0; j < 8; j++)
            v[j] = _mm256_loadu_ps(ot + (size_t)(i + j) * 8);
        transpose8(v);
        int m = ax->n - i < 8 ? ax->n - i : 8;
        for (int r = 0; r < n; r++) {
            float *d = dst + (ptrdiff_t)r * dst_stride + i;
            if (m == 8) {
                _mm256_storeu_ps(d, v[r]);
            } else {
                float lane[8];
                _mm256_storeu_ps(lane, v[r]);
                memcpy(d, lane, sizeof(float) * (size_t)m);
            }
        }
    }
}
#endif

#ifdef LCNETD_TESTING
int rsm_test_portable;
#else
enum { rsm_test_portable = 0 };
#endif

void rsm_rows(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row, int n, float *work,
              float *dst, ptrdiff_t dst_stride)
{
#if defined(__x86_64__)
    if (!rsm_test_portable && (eng_cpu_features() & ENG_CPU_AVX2)) {
        rows_avx2(p, ax, ay, row, n, work, dst, dst_stride);
        return;
    }
#endif
    for (int r = 0; r < n; r++) {
        vertical(p, ax, ay, row + r, work);
        horizontal(ax, work, dst + (ptrdiff_t)r * dst_stride);
    }
}

SIMD_TWICE(yuv_to_rgb, (float *restrict y, float *restrict u, float *restrict v, int n,
                       const float m[6]), (y, u, v, n, m))
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
SIMD_TWICE(pack, (const float *restrict p0, const float *restrict p1, const float *restrict p2,
                 int n, uint8_t *restrict out), (p0, p1, p2, n, out))
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
