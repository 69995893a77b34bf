/* int8_gemm_avx2.c: the exact AVX2 int8 pointwise kernel (see
 * int8_gemm.h).
 *
 * Weights are widened to int16 once, at load, in blocks of 8 output
 * channels by pairs of input channels, the layout vpmaddwd wants; a tile
 * of up to 6 source rows is widened to int16 per tile, and each pair of
 * its values, broadcast, meets two blocks of weights: 12 accumulators of 8
 * int32 each.  A uint8 x int8 product and the sum of two fit int32 with
 * room to spare, so the sum over any number of input channels below 2^15
 * is exact, as on a VNNI CPU.
 *
 * The requantisation repeats, operation for operation, what oneDNN 2.6's
 * x86 int8 convolution kernels do after their integer loop: the
 * accumulator to float, plus the source zero point's term (-zx * the
 * channel's weight sum, an int32 made float), plus the bias (int32 made
 * float), times the scale, then the post-ops in order, plus the
 * destination zero point, clamped and converted rounding to nearest even.
 * Any other order could move a value that lands within an ulp of a half
 * to the other byte, and the tests hold every ISA to the same bytes. */
#include "engine/dnn/int8_gemm.h"

#include <string.h>

#include "engine/engine.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"
#endif

#define MR Q8G_NARROW_ROWS       /* source rows per tile */

typedef struct {
    int64_t k, kp, oc, ocp;      /* kp: k rounded up to pairs; ocp: oc to 16 */
    uint8_t flip;
    int has_zpc, has_zy, dst, nops;
    int fold;                    /* sums start from the zero point's term and the bias (init) */
    int narrow;                  /* weights as int8 (q8g_desc) */
    float zy;
    q8g_op ops[Q8G_MAX_OPS];
    size_t w, zpc, bias, scale, init, mul;   /* offsets in the blob; mul 0: none */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

static void sizes(int64_t k, int64_t oc, int64_t *kp, int64_t *ocp)
{
    *kp = (k + 1) & ~(int64_t)1;
    *ocp = (oc + 15) & ~(int64_t)15;
}

size_t q8g_size(int64_t k, int64_t oc, int narrow)
{
    int64_t kp, ocp;
    sizes(k, oc, &kp, &ocp);
    return up32(sizeof(layer)) + up32((size_t)(kp * ocp) * (narrow ? 1 : sizeof(int16_t))) +
           5 * up32((size_t)ocp * sizeof(float));
}

void q8g_pack(void *blob, const q8g_desc *d)
{
    layer *L = blob;
    char *b = blob;
    memset(L, 0, sizeof *L);
    L->k = d->k;
    L->oc = d->oc;
    sizes(d->k, d->oc, &L->kp, &L->ocp);
    L->flip = d->flip;
    L->has_zpc = d->zx != 0;
    L->has_zy = d->zy != 0;
    L->zy = (float)d->zy;
    L->dst = d->dst;
    L->narrow = d->narrow != 0;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof L->ops);
    size_t at = up32(sizeof(layer)), vec = up32((size_t)L->ocp * sizeof(float));
    L->w = at;
    at += up32((size_t)(L->kp * L->ocp) * (L->narrow ? 1 : sizeof(int16_t)));
    L->zpc = at, at += vec;
    L->bias = at, at += vec;
    L->scale = at, at += vec;
    L->init = at, at += vec;
    L->mul = d->mul ? at : 0;

    int16_t *w = (int16_t *)(b + L->w);
    int8_t *w8 = (int8_t *)(b + L->w);
    int32_t *init = (int32_t *)(b + L->init);
    float *zpc = (float *)(b + L->zpc), *bias = (float *)(b + L->bias);
    float *scale = (float *)(b + L->scale), *mul = d->mul ? (float *)(b + L->mul) : NULL;
    /* The sums may start from the zero point's term and the bias, as
     * integers, where no value on oneDNN's way (the sum, the term, their
     * sum, the bias, all three) can leave the integers a float holds: then
     * its two float additions are exact, and so give the integer sum the
     * kernel converts.  |sum| and |term| are at most 255 x the weights'
     * magnitudes (a byte of at most 255, a zero point of at most 255). */
    L->fold = 1;
    for (int64_t o = 0; o < L->ocp; o++) {
        int32_t sum = 0;
        int64_t absw = 0;
        for (int64_t i = 0; i < L->kp; i++) {
            int v = o < d->oc && i < d->k ? d->w[o * d->k + i] : 0;
            /* block of 8 channels, pair of inputs, channel in block, input in pair */
            int64_t at8 = (o / 8) * L->kp * 8 + (i / 2) * 16 + (o % 8) * 2 + i % 2;
            if (L->narrow)
                w8[at8] = (int8_t)v;
            else
                w[at8] = (int16_t)v;
            sum += v;
            absw += v < 0 ? -v : v;
        }
        int in = o < d->oc;
        int64_t b32 = in ? d->bias[o] : 0;
        zpc[o] = (float)(int32_t)(-d->zx * sum);
        bias[o] = (float)b32;
        init[o] = (int32_t)(-d->zx * sum + b32);
        if (255 * absw + (b32 < 0 ? -b32 : b32) > Q8G_EXACT)
            L->fold = 0;
        scale[o] = in ? d->scale[o] : 0.0f;
        if (mul)
            mul[o] = in ? d->mul[o] : 0.0f;
    }
}

int q8g_cpu_ok(void)
{
    return (eng_cpu_features() & ENG_CPU_AVX2) != 0;
}

#if defined(__x86_64__)

/* mr rows of x (k bytes each, xor flip) as int16 rows of kp, zero padded;
 * rows mr..MR-1 zero. */
AVX2_INLINE void widen(const uint8_t *x, int64_t k, int64_t kp, uint8_t flip, int mr, int16_t *t)
{
    const __m128i f = _mm_set1_epi8((char)flip);
    for (int r = 0; r < MR; r++) {
        int16_t *o = t + r * kp;
        if (r >= mr) {
            memset(o, 0, sizeof(int16_t) * (size_t)kp);
            continue;
        }
        const uint8_t *s = x + r * k;
        int64_t i = 0;
        for (; i + 16 <= k; i += 16) {
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), f);
            _mm256_storeu_si256((__m256i *)(o + i), _mm256_cvtepu8_epi16(v));
        }
        if (i < k && k >= 16) {
            /* the last 16 bytes, overlapping ones already done (the same
             * values again): a vector instead of up to 15 bytes one by one */
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + k - 16)), f);
            _mm256_storeu_si256((__m256i *)(o + k - 16), _mm256_cvtepu8_epi16(v));
            i = k;
        } else if (i < k && k >= 8) {
            /* 8 to 15 inputs: the first 8 bytes and the last 8, overlapping */
            __m128i v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)s), f);
            _mm_storeu_si128((__m128i *)o, _mm_cvtepu8_epi16(v));
            v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(s + k - 8)), f);
            _mm_storeu_si128((__m128i *)(o + k - 8), _mm_cvtepu8_epi16(v));
            i = k;
        }
        for (; i < k; i++)
            o[i] = (uint8_t)(s[i] ^ flip);
        if (k < kp)
            o[k] = 0;
    }
}

/* acc[r][j] = the int32 sums of mr rows of t with blocks w0 (j = 0) and
 * w1 (j = 1) of 8 output channels, their weights int16 or, narrow, int8
 * widened as they are read; nb 1: block w0 alone (a layer's last 8 or
 * fewer channels, where w1 would be all zero weights).  Named accumulators,
 * not an array: GCC keeps an array that is indexed in memory, and the loop
 * then waits on stores. */
#define DOT_ROW(r)                                                                           \
    if (mr > r) {                                                                            \
        int32_t pair;                                                                        \
        memcpy(&pair, t + r * kp + 2 * p, sizeof pair);                                      \
        __m256i a = _mm256_set1_epi32(pair);                                                 \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(a, b0));                       \
        if (nb > 1)                                                                          \
            c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(a, b1));                   \
    }
AVX2_INLINE void dot(const int16_t *t, int64_t kp, const void *w0, const void *w1, int narrow,
                     int nb, int mr, __m256i i0, __m256i i1, __m256i acc[MR][2])
{
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c10 = c20 = c30 = c40 = c50 = i0;
    c01 = c11 = c21 = c31 = c41 = c51 = i1;
    for (int64_t p = 0; p < kp / 2; p++) {
        __m256i b0, b1 = _mm256_setzero_si256();
        if (narrow) {
            const __m128i *n0 = (const __m128i *)((const int8_t *)w0 + p * 16);
            const __m128i *n1 = (const __m128i *)((const int8_t *)w1 + p * 16);
            b0 = _mm256_cvtepi8_epi16(_mm_load_si128(n0));
            if (nb > 1)
                b1 = _mm256_cvtepi8_epi16(_mm_load_si128(n1));
        } else {
            b0 = _mm256_load_si256((const __m256i *)((const int16_t *)w0 + p * 16));
            if (nb > 1)
                b1 = _mm256_load_si256((const __m256i *)((const int16_t *)w1 + p * 16));
        }
        DOT_ROW(0) DOT_ROW(1) DOT_ROW(2) DOT_ROW(3) DOT_ROW(4) DOT_ROW(5)
    }
    acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
    acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
    acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
}

/* Output channels o0 .. o0 + n - 1 (n <= 8) of mr rows, from their
 * accumulators: each step for all rows at once, so that its constants are
 * loaded and its kind decided once per block, not per vector. */
AVX2_INLINE void finish(const layer *L, const char *b, __m256i acc[MR][2], int j, int mr,
                        int64_t o0, int n, char *out, size_t stride)
{
    __m256 f[MR];
    const __m256 zpc = _mm256_load_ps((const float *)(b + L->zpc) + o0);
    const __m256 bias = _mm256_load_ps((const float *)(b + L->bias) + o0);
    const __m256 scale = _mm256_load_ps((const float *)(b + L->scale) + o0);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        f[r] = _mm256_cvtepi32_ps(acc[r][j]);
        if (!L->fold) {
            if (L->has_zpc)
                f[r] = _mm256_add_ps(f[r], zpc);
            f[r] = _mm256_add_ps(f[r], bias);
        }
        f[r] = _mm256_mul_ps(f[r], scale);
    }
    q8p_ops(L->ops, L->nops, f, mr, L->mul ? (const float *)(b + L->mul) + o0 : NULL, 0);
    const __m256 zy = _mm256_set1_ps(L->zy);
    const __m256 hi = _mm256_set1_ps(L->dst == Q8G_U8 ? 255.0f : 127.0f);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        char *o = out + (size_t)r * stride;
        if (L->has_zy)
            f[r] = _mm256_add_ps(f[r], zy);
        if (L->dst == Q8G_F32) {
            if (n == 8) {
                _mm256_storeu_ps((float *)o, f[r]);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, f[r]);
                memcpy(o, tmp, sizeof(float) * (size_t)n);
            }
            continue;
        }
        /* clamped at the top, the packs saturating the bottom (q8p_top):
         * the bytes of oneDNN's clamp to [0, 255] or below 127 */
        __m256i v = q8p_top(f[r], hi);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        __m128i q = L->dst == Q8G_U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
        if (n == 8) {
            _mm_storel_epi64((__m128i *)o, q);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, q);
            memcpy(o, tmp, (size_t)n);
        }
    }
}

/* Rows r0 .. r0 + mr - 1 by output channels o0 .. o0 + 15 (nb 1: o0 ..
 * o0 + 7, all the layer has from o0), from the rows already widened into t. */
AVX2_INLINE void tile(const layer *L, char *y, int64_t r0, int mr, int narrow, int nb, int64_t o0,
                      const int16_t *t)
{
    const char *b = (const char *)L, *w = b + L->w;
    size_t wsz = narrow ? 1 : sizeof(int16_t);
    size_t osz = L->dst == Q8G_F32 ? sizeof(float) : 1;
    __m256i acc[MR][2], i0 = _mm256_setzero_si256(), i1 = i0;
    if (L->fold) {
        i0 = _mm256_load_si256((const __m256i *)((const int32_t *)(b + L->init) + o0));
        i1 = _mm256_load_si256((const __m256i *)((const int32_t *)(b + L->init) + o0 + 8));
    }
    dot(t, L->kp, w + (size_t)((o0 / 8) * L->kp * 8) * wsz,
        w + (size_t)((o0 / 8 + 1) * L->kp * 8) * wsz, narrow, nb, mr, i0, i1, acc);
    for (int j = 0; j < nb; j++) {
        int64_t o = o0 + 8 * j;
        if (o >= L->oc)
            break;
        int n = L->oc - o < 8 ? (int)(L->oc - o) : 8;
        finish(L, b, acc, j, mr, o, n, y + (r0 * L->oc + o) * osz, (size_t)L->oc * osz);
    }
}

/* The tile for a row count, a weight width and a count of blocks known at
 * compile time, so that each gets its loop unrolled with its accumulators
 * in registers. */
#define TILE_FOR(n, nw, nb)                                                           \
    AVX2 static void tile##n##_##nw##_##nb(const layer *L, char *y, int64_t r0, int64_t o0, \
                                           const int16_t *t)                          \
    { tile(L, y, r0, n, nw, nb, o0, t); }
#define TILES(nw, nb)                                                                 \
    TILE_FOR(1, nw, nb) TILE_FOR(2, nw, nb) TILE_FOR(3, nw, nb) TILE_FOR(4, nw, nb)   \
    TILE_FOR(5, nw, nb) TILE_FOR(6, nw, nb)
TILES(0, 1)
TILES(0, 2)
TILES(1, 1)
TILES(1, 2)

typedef void tile_fn(const layer *, char *, int64_t, int64_t, const int16_t *);
#define TILE_ROW(nw, nb)                                                              \
    { NULL, tile1_##nw##_##nb, tile2_##nw##_##nb, tile3_##nw##_##nb, tile4_##nw##_##nb, \
      tile5_##nw##_##nb, tile6_##nw##_##nb }
/* [narrow][blocks - 1][rows] */
static tile_fn *const tiles[2][2][MR + 1] = {
    { TILE_ROW(0, 1), TILE_ROW(0, 2) },
    { TILE_ROW(1, 1), TILE_ROW(1, 2) },
};

AVX2 static void widen_rows(const layer *L, const uint8_t *x, int64_t r0, int mr, int16_t *t)
{
    widen(x + r0 * L->k, L->k, L->kp, L->flip, mr, t);
}

void q8g_run(const void *blob, const uint8_t *x, void *y, int64_t rows)
{
    const layer *L = blob;
    int64_t nrb = (rows + MR - 1) / MR, nob = L->ocp / 16;
    /* row tiles outer, output-channel blocks inner: a thread's share of
     * the (tile, block) pairs is contiguous, so it widens a tile of source
     * rows once for all the blocks it computes from it, not once per block */
    #pragma omp parallel
    {
        int16_t t[MR * L->kp] __attribute__((aligned(32)));    /* kp <= Q8G_MAX_K: 48 KB at most */
        int64_t have = -1;
        #pragma omp for collapse(2) schedule(static)
        for (int64_t rb = 0; rb < nrb; rb++)
            for (int64_t ob = 0; ob < nob; ob++) {
                int64_t r0 = rb * MR;
                int mr = rows - r0 < MR ? (int)(rows - r0) : MR;
                if (have != rb) {
                    widen_rows(L, x, r0, mr, t);
                    have = rb;
                }
                tiles[L->narrow][L->oc - ob * 16 > 8][mr](L, y, r0, ob * 16, t);
            }
    }
}

#else

void q8g_run(const void *blob, const uint8_t *x, void *y, int64_t rows)
{
    (void)blob, (void)x, (void)y, (void)rows;
}

#endif
