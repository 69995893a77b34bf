/* f32_stem_avx2.c: the fp32 AVX2 stem kernel (see f32_stem.h).
 *
 * Output channels go in groups of 16 (two blocks of 8; a lone last block
 * of 8 alone), and pixels in tiles along a row: 6 pixels of a group of 16,
 * 12 of a block of 8, so that either way 12 sums stay in registers.  For
 * each of the 27 taps (kernel row, column, channel) the group's weights
 * are loaded once, and each pixel's source value is broadcast against
 * them: a tap of pixel t sits 6 floats after pixel t - 1's, as the stride
 * is 2 and a pixel is 3 floats.  A row's pixels whose taps all fall inside
 * the image take the tiles; the one or two at each edge whose taps reach
 * into the padding take a loop that checks each tap.  Rows are split over
 * the OpenMP team; each does every group, so its three source rows stay
 * in the L1 cache. */
#include "engine/dnn/f32_stem.h"

#include <string.h>

#include "engine/engine.h"

#define TAPS 27                  /* 3 x 3 x 3 */

typedef struct {
    int64_t h, w, oh, ow, oc;
    int sh, pt, pl;              /* the stride across is 2, down 1 or 2 */
    int64_t o0, o1;              /* the row's pixels whose taps are all inside: [o0, o1) */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];
    size_t wt, bias;             /* offsets in the blob */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

int f32s_fits(const f32s_desc *d)
{
    unsigned f = eng_cpu_features();
    /* AVX-512 CPUs: oneDNN's own stem is the faster one there */
    if (!(f & ENG_CPU_AVX2) || (f & ENG_CPU_AVX512))
        return 0;
    if (d->kh != 3 || d->kw != 3 || d->sh < 1 || d->sh > 2 || d->sw != 2 || d->oc % 8 || d->oc <= 0 ||
        d->pt < 0 || d->pt > 2 || d->pl < 0 || d->pl > 2 || d->nops > Q8G_MAX_OPS)
        return 0;
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i].kind == Q8G_MUL || d->ops[i].kind == Q8G_ROUND)
            return 0;
    return 1;
}

size_t f32s_size(const f32s_desc *d)
{
    return up32(sizeof(layer)) + up32(sizeof(float) * (size_t)(TAPS * d->oc)) +
           up32(sizeof(float) * (size_t)d->oc);
}

void f32s_pack(void *blob, const f32s_desc *d)
{
    layer *L = blob;
    memset(L, 0, sizeof *L);
    L->h = d->h, L->w = d->w, L->oh = d->oh, L->ow = d->ow, L->oc = d->oc;
    L->sh = d->sh, L->pt = d->pt, L->pl = d->pl;
    /* pixel o reads columns 2o - pl .. 2o - pl + 2 */
    L->o0 = (d->pl + 1) / 2;
    L->o1 = d->w + d->pl - 3 >= 0 ? (d->w + d->pl - 3) / 2 + 1 : 0;
    if (L->o1 > d->ow)
        L->o1 = d->ow;
    if (L->o1 < L->o0)
        L->o1 = L->o0;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof(q8g_op) * (size_t)d->nops);
    L->wt = up32(sizeof(layer));
    L->bias = L->wt + up32(sizeof(float) * (size_t)(TAPS * d->oc));
    float *wt = (float *)((char *)blob + L->wt), *bias = (float *)((char *)blob + L->bias);
    /* group by group: [tap][8 or 16 channels], taps in source order
     * (kernel row, kernel column, channel), as the tiles walk them */
    for (int64_t ob = 0; ob < d->oc / 8;) {
        int nb = d->oc / 8 - ob >= 2 ? 2 : 1;
        float *g = wt + ob * 8 * TAPS;
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++)
                for (int c = 0; c < 3; c++)
                    for (int o = 0; o < 8 * nb; o++)
                        g[((kh * 3 + kw) * 3 + c) * 8 * nb + o] =
                            d->w32[(((ob * 8 + o) * 3 + c) * 3 + kh) * 3 + kw];
        ob += nb;
    }
    for (int64_t o = 0; o < d->oc; o++)
        bias[o] = d->bias ? d->bias[o] : 0.0f;
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"

/* T pixels of one group of NB blocks; r[kh] is kernel row kh's source row
 * at the tile's first pixel's first tap, or NULL (padding). */
AVX2_INLINE void tile(const layer *L, const float *const *r, const float *w, const float *b,
                      float *y, int64_t ys, int T, int NB)
{
    __m256 a[12];
#pragma GCC unroll 12
    for (int t = 0; t < T; t++)
        for (int k = 0; k < NB; k++)
            a[t * NB + k] = _mm256_loadu_ps(b + 8 * k);
    for (int kh = 0; kh < 3; kh++) {
        const float *s = r[kh];
        if (!s)
            continue;
#pragma GCC unroll 9
        for (int j = 0; j < 9; j++) {
            const float *wj = w + (kh * 9 + j) * 8 * NB;
            __m256 w0 = _mm256_loadu_ps(wj), w1 = NB > 1 ? _mm256_loadu_ps(wj + 8) : w0;
#pragma GCC unroll 12
            for (int t = 0; t < T; t++) {
                __m256 x = _mm256_broadcast_ss(s + t * 6 + j);
                a[t * NB] = _mm256_fmadd_ps(x, w0, a[t * NB]);
                if (NB > 1)
                    a[t * NB + 1] = _mm256_fmadd_ps(x, w1, a[t * NB + 1]);
            }
        }
    }
    q8p_ops(L->ops, L->nops, a, T * NB, NULL, 0);
#pragma GCC unroll 12
    for (int t = 0; t < T; t++)
        for (int k = 0; k < NB; k++)
            _mm256_storeu_ps(y + k * ys + t * 8, a[t * NB + k]);
}

typedef void tile_fn(const layer *, const float *const *, const float *, const float *, float *,
                     int64_t);
#define TILE(T, NB)                                                                          \
    AVX2 static void tile_##T##_##NB(const layer *L, const float *const *r, const float *w,  \
                                     const float *b, float *y, int64_t ys)                   \
    {                                                                                        \
        tile(L, r, w, b, y, ys, T, NB);                                                      \
    }
TILE(1, 1) TILE(2, 1) TILE(3, 1) TILE(4, 1) TILE(5, 1) TILE(6, 1)
TILE(7, 1) TILE(8, 1) TILE(9, 1) TILE(10, 1) TILE(11, 1) TILE(12, 1)
TILE(1, 2) TILE(2, 2) TILE(3, 2) TILE(4, 2) TILE(5, 2) TILE(6, 2)

static tile_fn *const tiles1[13] = { NULL, tile_1_1, tile_2_1, tile_3_1, tile_4_1, tile_5_1, tile_6_1,
                                     tile_7_1, tile_8_1, tile_9_1, tile_10_1, tile_11_1, tile_12_1 };
static tile_fn *const tiles2[7] = { NULL, tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2 };

/* Pixel o of row oh, group of nb blocks, each tap checked. */
AVX2 static void edge(const layer *L, const float *x, int64_t oh, int64_t o, const float *w,
                      const float *b, float *y, int64_t ys, int nb)
{
    __m256 a[2] = { _mm256_loadu_ps(b), nb > 1 ? _mm256_loadu_ps(b + 8) : _mm256_setzero_ps() };
    for (int kh = 0; kh < 3; kh++) {
        int64_t ih = oh * L->sh - L->pt + kh;
        if (ih < 0 || ih >= L->h)
            continue;
        for (int kw = 0; kw < 3; kw++) {
            int64_t iw = o * 2 - L->pl + kw;
            if (iw < 0 || iw >= L->w)
                continue;
            const float *s = x + (ih * L->w + iw) * 3;
            for (int c = 0; c < 3; c++) {
                const float *wj = w + ((kh * 3 + kw) * 3 + c) * 8 * nb;
                __m256 v = _mm256_broadcast_ss(s + c);
                for (int k = 0; k < nb; k++)
                    a[k] = _mm256_fmadd_ps(v, _mm256_loadu_ps(wj + 8 * k), a[k]);
            }
        }
    }
    q8p_ops(L->ops, L->nops, a, nb, NULL, 0);
    for (int k = 0; k < nb; k++)
        _mm256_storeu_ps(y + k * ys, a[k]);
}

/* Output row oh of one image: every group. */
AVX2 static void row(const layer *L, const float *x, int64_t oh, float *y)
{
    const float *wt = (const float *)((const char *)L + L->wt);
    const float *bias = (const float *)((const char *)L + L->bias);
    const int64_t ys = L->oh * L->ow * 8;
    const float *r[3];
    for (int kh = 0; kh < 3; kh++) {
        int64_t ih = oh * L->sh - L->pt + kh;
        /* at the first inside pixel's first tap */
        r[kh] = ih < 0 || ih >= L->h ? NULL : x + (ih * L->w + L->o0 * 2 - L->pl) * 3;
    }
    for (int64_t ob = 0; ob < L->oc / 8;) {
        int nb = L->oc / 8 - ob >= 2 ? 2 : 1, tmax = nb > 1 ? 6 : 12;
        const float *w = wt + ob * 8 * TAPS, *b = bias + ob * 8;
        float *yb = y + ob * ys + oh * L->ow * 8;
        for (int64_t o = 0; o < L->o0; o++)
            edge(L, x, oh, o, w, b, yb + o * 8, ys, nb);
        for (int64_t o = L->o0; o < L->o1; o += tmax) {
            int T = (int)(L->o1 - o < tmax ? L->o1 - o : tmax);
            const float *rt[3];
            for (int kh = 0; kh < 3; kh++)
                rt[kh] = r[kh] ? r[kh] + (o - L->o0) * 6 : NULL;
            (nb > 1 ? tiles2 : tiles1)[T](L, rt, w, b, yb + o * 8, ys);
        }
        for (int64_t o = L->o1; o < L->ow; o++)
            edge(L, x, oh, o, w, b, yb + o * 8, ys, nb);
        ob += nb;
    }
}

void f32s_run(const void *blob, const float *x, float *y, int64_t n)
{
    const layer *L = blob;
    int64_t rows = n * L->oh;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; i++) {
        int64_t b = i / L->oh;
        row(L, x + b * L->h * L->w * 3, i % L->oh, y + b * L->oc * L->oh * L->ow);
    }
}

#else

void f32s_run(const void *blob, const float *x, float *y, int64_t n)
{
    (void)blob, (void)x, (void)y, (void)n;
}

#endif
