/* int8_dw_avx2.c: the exact AVX2 int8 depthwise kernel (see int8_dw.h).
 *
 * One output row at a time per thread: the kh source rows it reads are
 * widened to int16 with the zero point taken off (so padding is 0, the
 * real value 0), laid out with the padding columns and the channels
 * rounded up to 16.  Then, per 4 output pixels and 16 channels, two taps at a
 * time: their source vectors interleaved (unpacklo/hi) meet the two taps'
 * interleaved weights in vpmaddwd, which adds the two products into int32.
 * The interleave puts channels 0-3 and 8-11 in one accumulator and 4-7 and
 * 12-15 in the other; the bias, scales and multipliers are stored in that
 * order, and the final packs restore the channels' own.  A lone last tap
 * pairs with tap 0 under zero weights.
 *
 * |product| <= 255 * 128, so the sum over 49 taps stays below 2^24: the
 * float conversion is exact and only the bias, added as a float as oneDNN
 * does, rounds. */
#include "engine/dnn/int8_dw.h"

#include <float.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"
#endif

#define DW_PX 4                          /* output pixels a block computes together */

typedef struct {
    int64_t c, cp, h, w, oh, ow, wp;   /* cp: c rounded up to 16; wp: columns of a widened row */
    int kh, kw, sh, sw, pt, pl, npair;
    uint8_t flip;
    int zx, has_zy, dst, nops;
    float zy;
    q8g_op ops[Q8G_MAX_OPS];
    size_t wt, bias, scale, mul;       /* offsets in the blob; mul 0: none */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

static int64_t cp_of(int64_t c)
{
    return (c + 15) & ~(int64_t)15;
}

static int64_t wp_of(const q8d_desc *d)
{
    return (d->ow - 1) * d->sw + d->kw;
}

int q8d_fits(const q8d_desc *d)
{
    /* padding of less than a kernel on every side (out_row's ring keys) */
    return d->kh * d->kw <= Q8D_MAX_TAPS && d->kh > 0 && d->kw > 0 && d->pt < d->kh &&
           d->pl < d->kw && (d->oh - 1) * d->sh - d->pt < d->h &&
           (d->dst == Q8G_U8 || d->dst == Q8G_S8) &&
           (size_t)(d->kh * wp_of(d) * cp_of(d->c)) * sizeof(int16_t) <= Q8D_MAX_ROWS;
}

size_t q8d_size(const q8d_desc *d)
{
    int64_t cp = cp_of(d->c), npair = (d->kh * d->kw + 1) / 2;
    return up32(sizeof(layer)) + up32((size_t)(cp * npair * 2) * sizeof(int16_t)) +
           3 * up32((size_t)cp * sizeof(float));
}

/* Lane j (0-15) of a block's two accumulators holds channel perm(j). */
static int perm(int j)
{
    return j < 8 ? (j < 4 ? j : j + 4) : (j < 12 ? j - 4 : j);
}

void q8d_pack(void *blob, const q8d_desc *d)
{
    layer *L = blob;
    char *b = blob;
    memset(L, 0, sizeof *L);
    L->c = d->c, L->cp = cp_of(d->c), L->h = d->h, L->w = d->w, L->oh = d->oh, L->ow = d->ow;
    L->wp = wp_of(d);
    L->kh = d->kh, L->kw = d->kw, L->sh = d->sh, L->sw = d->sw, L->pt = d->pt, L->pl = d->pl;
    int ntap = d->kh * d->kw;
    L->npair = (ntap + 1) / 2;
    L->flip = d->flip;
    L->zx = d->zx;
    L->has_zy = d->zy != 0;
    L->zy = (float)d->zy;
    L->dst = d->dst;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof L->ops);
    size_t at = up32(sizeof(layer)), vec = up32((size_t)L->cp * sizeof(float));
    L->wt = at;
    at += up32((size_t)(L->cp * L->npair * 2) * sizeof(int16_t));
    L->bias = at, at += vec;
    L->scale = at, at += vec;
    L->mul = d->mul ? at : 0;

    int16_t *w = (int16_t *)(b + L->wt);
    float *bias = (float *)(b + L->bias), *scale = (float *)(b + L->scale);
    float *mul = d->mul ? (float *)(b + L->mul) : NULL;
    for (int64_t cb = 0; cb < L->cp / 16; cb++)
        for (int j = 0; j < 16; j++) {
            int64_t ch = cb * 16 + perm(j);
            int in = ch < d->c;
            bias[cb * 16 + j] = in ? (float)d->bias[ch] : 0.0f;
            scale[cb * 16 + j] = in ? d->scale[ch] : 0.0f;
            if (mul)
                mul[cb * 16 + j] = in ? d->mul[ch] : 0.0f;
            /* pair p: 16 int16 for the low accumulator, then 16 for the high
             * one; in each, lane (j % 8) holds tap 2p then tap 2p + 1 */
            for (int p = 0; p < L->npair; p++)
                for (int e = 0; e < 2; e++) {
                    int t = 2 * p + e;
                    int16_t v = in && t < ntap ? d->w8[ch * ntap + t] : 0;
                    w[((cb * L->npair + p) * 2 + j / 8) * 16 + (j % 8) * 2 + e] = v;
                }
        }
}

#if defined(__x86_64__)

/* Source row iy of image n, widened, into row (wp x cp int16s). */
AVX2_INLINE void widen_row(const layer *L, const uint8_t *x, int64_t n, int64_t iy, int16_t *row)
{
    const __m128i f = _mm_set1_epi8((char)L->flip);
    const __m256i z = _mm256_set1_epi16((short)L->zx);
    if (iy < 0 || iy >= L->h) {
        memset(row, 0, sizeof(int16_t) * (size_t)(L->wp * L->cp));
        return;
    }
    for (int64_t q = 0; q < L->wp; q++) {
        int64_t ix = q - L->pl;
        int16_t *o = row + q * L->cp;
        if (ix < 0 || ix >= L->w) {
            memset(o, 0, sizeof(int16_t) * (size_t)L->cp);
            continue;
        }
        const uint8_t *s = x + ((n * L->h + iy) * L->w + ix) * L->c;
        int64_t i = 0;
        for (; i + 16 <= L->c; i += 16) {
            __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), f);
            _mm256_store_si256((__m256i *)(o + i), _mm256_sub_epi16(_mm256_cvtepu8_epi16(v), z));
        }
        for (; i < L->c; i++)
            o[i] = (int16_t)((uint8_t)(s[i] ^ L->flip) - L->zx);
        for (; i < L->cp; i++)
            o[i] = 0;
    }
}

/* 16 channels from cb * 16 of np output pixels (out, out + c, ...), from
 * their accumulators.  Each step for every pixel at once, so that its
 * constants are loaded and its kind decided once per block of pixels. */
AVX2_INLINE void finish(const layer *L, const __m256i *lo, const __m256i *hi, int np, int64_t cb,
                        uint8_t *out)
{
    const char *b = (const char *)L;
    const float *bias = (const float *)(b + L->bias) + cb * 16;
    const float *scale = (const float *)(b + L->scale) + cb * 16;
    const float *mul = L->mul ? (const float *)(b + L->mul) + cb * 16 : NULL;
    __m256 fl[DW_PX], fh[DW_PX];
    const __m256 bl = _mm256_load_ps(bias), bh = _mm256_load_ps(bias + 8);
    const __m256 sl = _mm256_load_ps(scale), sh = _mm256_load_ps(scale + 8);
#pragma GCC unroll 4
    for (int i = 0; i < np; i++) {
        fl[i] = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(lo[i]), bl), sl);
        fh[i] = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(hi[i]), bh), sh);
    }
    q8p_ops(L->ops, L->nops, fl, np, mul, 0);
    q8p_ops(L->ops, L->nops, fh, np, mul ? mul + 8 : NULL, 0);
    const __m256 zlo = _mm256_set1_ps(L->dst == Q8G_U8 ? 0.0f : -FLT_MAX);
    const __m256 zhi = _mm256_set1_ps(L->dst == Q8G_U8 ? 255.0f : 127.0f);
    const __m256 zy = _mm256_set1_ps(L->zy);
    int64_t n = L->c - cb * 16;
#pragma GCC unroll 4
    for (int i = 0; i < np; i++) {
        if (L->has_zy) {
            fl[i] = _mm256_add_ps(fl[i], zy);
            fh[i] = _mm256_add_ps(fh[i], zy);
        }
        __m256i ql = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(fl[i], zlo), zhi));
        __m256i qh = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(fh[i], zlo), zhi));
        __m256i w = _mm256_packs_epi32(ql, qh);          /* channels in order again */
        __m256i v = L->dst == Q8G_U8 ? _mm256_packus_epi16(w, w) : _mm256_packs_epi16(w, w);
        __m128i bytes = _mm256_castsi256_si128(_mm256_permute4x64_epi64(v, 0x08));
        uint8_t *o = out + i * L->c;
        if (n >= 16) {
            _mm_storeu_si128((__m128i *)o, bytes);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, bytes);
            memcpy(o, tmp, (size_t)n);
        }
    }
}

/* np output pixels from column ox, 16 channels from cb * 16: the weights
 * of a pair of taps loaded once for all of them. */
AVX2_INLINE void px_block(const layer *L, const int16_t *const *tap, const int16_t *w, uint8_t *yr,
                          int64_t ox, int64_t cb, int np)
{
    const int16_t *wb = w + cb * L->npair * 32;
    __m256i lo[DW_PX], hi[DW_PX];
#pragma GCC unroll 4
    for (int i = 0; i < np; i++)
        lo[i] = hi[i] = _mm256_setzero_si256();
    for (int p = 0; p < L->npair; p++) {
        const __m256i wl = _mm256_load_si256((const __m256i *)(wb + p * 32));
        const __m256i wh = _mm256_load_si256((const __m256i *)(wb + p * 32 + 16));
        const int16_t *t0 = tap[2 * p] + cb * 16, *t1 = tap[2 * p + 1] + cb * 16;
#pragma GCC unroll 4
        for (int i = 0; i < np; i++) {
            int64_t o = (ox + i) * L->sw * L->cp;
            __m256i a = _mm256_load_si256((const __m256i *)(t0 + o));
            __m256i c = _mm256_load_si256((const __m256i *)(t1 + o));
            lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_unpacklo_epi16(a, c), wl));
            hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_unpackhi_epi16(a, c), wh));
        }
    }
    finish(L, lo, hi, np, cb, yr + ox * L->c + cb * 16);
}

/* The block for a pixel count known at compile time, so that each count
 * gets its loops unrolled with its accumulators in registers. */
AVX2 static void px_block4(const layer *L, const int16_t *const *tap, const int16_t *w, uint8_t *yr,
                           int64_t ox, int64_t cb)
{
    px_block(L, tap, w, yr, ox, cb, 4);
}

AVX2 static void px_block1(const layer *L, const int16_t *const *tap, const int16_t *w, uint8_t *yr,
                           int64_t ox, int64_t cb)
{
    px_block(L, tap, w, yr, ox, cb, 1);
}

/* Output row oy of image n.  The source rows it reads are kept in t, a
 * ring of kh widened rows (slot iy mod kh, have[slot] = which row it holds):
 * consecutive output rows share all but sh of theirs, so each source row
 * is widened about once, not kh times. */
AVX2 static void out_row(const layer *L, const uint8_t *x, uint8_t *y, int64_t n, int64_t oy,
                         int16_t *t, int64_t *have)
{
    const int16_t *w = (const int16_t *)((const char *)L + L->wt);
    const int16_t *tap[Q8D_MAX_TAPS + 1];
    int64_t rowsz = L->wp * L->cp;
    for (int r = 0; r < L->kh; r++) {
        int64_t iy = oy * L->sh - L->pt + r, slot = ((iy % L->kh) + L->kh) % L->kh;
        int16_t *row = t + slot * rowsz;
        int64_t key = n * (L->h + 2 * L->kh) + L->kh + iy;   /* > 0, one per (n, iy): pads < kh */
        if (have[slot] != key) {
            widen_row(L, x, n, iy, row);
            have[slot] = key;
        }
        for (int c = 0; c < L->kw; c++)
            tap[r * L->kw + c] = row + c * L->cp;
    }
    tap[L->kh * L->kw] = tap[0];       /* the lone last tap's partner: weights 0 */
    uint8_t *yr = y + (n * L->oh + oy) * L->ow * L->c;
    int64_t ox = 0;
    for (; ox + DW_PX <= L->ow; ox += DW_PX)
        for (int64_t cb = 0; cb < L->cp / 16; cb++)
            px_block4(L, tap, w, yr, ox, cb);
    for (; ox < L->ow; ox++)
        for (int64_t cb = 0; cb < L->cp / 16; cb++)
            px_block1(L, tap, w, yr, ox, cb);
}

void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n)
{
    const layer *L = blob;
    int64_t rows = n * L->oh;
    #pragma omp parallel
    {
        /* <= Q8D_MAX_ROWS bytes (q8d_fits) */
        int16_t t[L->kh * L->wp * L->cp] __attribute__((aligned(32)));
        int64_t have[L->kh];
        for (int r = 0; r < L->kh; r++)
            have[r] = 0;                      /* no row */
        #pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            out_row(L, x, y, r / L->oh, r % L->oh, t, have);
    }
}

#else

void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n)
{
    (void)blob, (void)x, (void)y, (void)n;
}

#endif
