/* int8_dw_avx2.c: the exact AVX2 int8 depthwise kernel (see int8_dw.h).
 *
 * Sources widened to int16 with the zero point taken off (so padding is 0,
 * the real value 0), products of two taps added in int32 by vpmaddwd: the
 * sum is exact, and as it stays far below 2^24 the float conversion is
 * too.  The two taps of a pair are neighbours in a kernel row (a lone last
 * one pairs with a weight of 0), so their sources are neighbouring columns:
 * each widened row is kept with every column interleaved with the next,
 * once, and the multiply-adds read their pairs as they are, with no
 * shuffle per tap.  The interleave (unpacklo/hi, within 128-bit lanes)
 * puts channels 0-3 and 8-11 of a block of 16 in one accumulator and 4-7
 * and 12-15 in the other; the bias, scales and multipliers are stored in
 * that order, and the final packs restore the channels' own.
 *
 * One output row at a time per thread: the kh source rows it reads are
 * kept in a ring so that each is widened about once, laid out by blocks of
 * 16 channels ([block][column][32]) so that a block's neighbouring pixels
 * and taps are fixed offsets apart; channels are taken in chunks of blocks
 * small enough for the chunk's rows to stay in the L1 cache.  Per block, up
 * to 6 output pixels at a time, their sums in registers: each pair of
 * taps' weights loaded once for all of them; a row's blocks as even as
 * they come, each run of equal ones in one call.
 *
 * A layer of at most 8 channels is one half block: the interleave of a
 * column's 8 channels with the next column's (unpacklo/hi of two xmm) fills
 * one ymm, channels 0-3 in its low lane and 4-7 in its high one, so each
 * pair of taps costs one vpmaddwd per pixel, not two of which half would
 * meet weights of 0, and the sums come out in the channels' own order.
 * With one accumulator a pixel, up to 12 pixels keep theirs in registers. */
#include "engine/dnn/int8_dw.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"
#endif

#define DW_RING (32 * 1024)      /* bytes of source rows a chunk of channels aims to fit */
#define DW_PX 6                  /* output pixels a block computes at most */
#define DW_PXH 12                /* the same for a half block (one accumulator a pixel) */

typedef struct {
    int64_t c, ncb, h, w, oh, ow, wp;  /* ncb: blocks of 16 channels; wp: a widened row's columns */
    int64_t chunk;                     /* blocks of channels a pass keeps rows of */
    int kh, kw, sh, sw, pt, pl, npr;   /* npr: pairs of taps in a kernel row */
    uint8_t flip;
    int half;                          /* c <= 8: one half block (see above) */
    int zx, fold, has_zy, dst, nops;   /* fold: sums start from the bias */
    float zy;
    q8g_op ops[Q8G_MAX_OPS];
    size_t wt, init, bias, scale, mul; /* offsets in the blob; mul 0: none */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

static int64_t ncb_of(int64_t c)
{
    return (c + 15) / 16;
}

static int64_t wp_of(const q8d_desc *d)
{
    return (d->ow - 1) * d->sw + d->kw;
}

/* Bytes of one block of 16 channels' source rows (kh rows of wp columns,
 * each 16 channels of it beside 16 of the next, int16). */
static size_t block_rows(const q8d_desc *d)
{
    return (size_t)(d->kh * wp_of(d) * (d->c <= 8 ? 16 : 32)) * sizeof(int16_t);
}

int q8d_fits(const q8d_desc *d)
{
    /* padding of less than a kernel on every side (out_row's ring keys) */
    return d->kh * d->kw <= Q8D_MAX_TAPS && d->kh > 0 && d->kw > 0 && d->pt < d->kh &&
           d->pl < d->kw && (d->oh - 1) * d->sh - d->pt < d->h &&
           (d->dst == Q8G_U8 || d->dst == Q8G_S8) && block_rows(d) <= Q8D_MAX_ROWS;
}

size_t q8d_size(const q8d_desc *d)
{
    int64_t ncb = ncb_of(d->c), npr = (d->kw + 1) / 2;
    return up32(sizeof(layer)) + up32((size_t)(ncb * d->kh * npr * 32) * sizeof(int16_t)) +
           4 * up32((size_t)(ncb * 16) * sizeof(float));
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
    L->c = d->c, L->ncb = ncb_of(d->c), L->h = d->h, L->w = d->w, L->oh = d->oh, L->ow = d->ow;
    L->wp = wp_of(d);
    L->chunk = DW_RING / block_rows(d);
    L->chunk = L->chunk < 1 ? 1 : L->chunk > L->ncb ? L->ncb : L->chunk;
    L->kh = d->kh, L->kw = d->kw, L->sh = d->sh, L->sw = d->sw, L->pt = d->pt, L->pl = d->pl;
    L->npr = (d->kw + 1) / 2;
    L->flip = d->flip;
    L->half = d->c <= 8;
    L->zx = d->zx;
    L->has_zy = d->zy != 0;
    L->zy = (float)d->zy;
    L->dst = d->dst;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof L->ops);
    size_t at = up32(sizeof(layer)), vec = up32((size_t)(L->ncb * 16) * sizeof(float));
    L->wt = at;
    at += up32((size_t)(L->ncb * L->kh * L->npr * 32) * sizeof(int16_t));
    L->init = at, at += vec;
    L->bias = at, at += vec;
    L->scale = at, at += vec;
    L->mul = d->mul ? at : 0;

    int16_t *w = (int16_t *)(b + L->wt);
    int32_t *init = (int32_t *)(b + L->init);
    float *bias = (float *)(b + L->bias), *scale = (float *)(b + L->scale);
    float *mul = d->mul ? (float *)(b + L->mul) : NULL;
    /* The sums may start from the bias where, with it, the sum stays within
     * the integers a float holds: then converting the sum with the bias in
     * it gives what adding the bias to the converted sum gives, as that
     * addition is exact too. */
    int maxsrc = d->zx > 255 - d->zx ? d->zx : 255 - d->zx, ntap = d->kh * d->kw;
    L->fold = 1;
    for (int64_t cb = 0; cb < L->ncb; cb++)
        for (int j = 0; j < 16; j++) {
            int64_t ch = L->half ? j : cb * 16 + perm(j), absw = 0;
            int in = ch < d->c;
            for (int t = 0; in && t < ntap; t++)
                absw += abs(d->w8[ch * ntap + t]);
            init[cb * 16 + j] = in ? d->bias[ch] : 0;
            bias[cb * 16 + j] = in ? (float)d->bias[ch] : 0.0f;
            scale[cb * 16 + j] = in ? d->scale[ch] : 0.0f;
            if (mul)
                mul[cb * 16 + j] = in ? d->mul[ch] : 0.0f;
            if (in && llabs((long long)d->bias[ch]) + (long long)maxsrc * absw > Q8G_EXACT)
                L->fold = 0;
            /* kernel row ky, pair p: 16 int16 for the low accumulator, then
             * 16 for the high one; in each, lane (j % 8) holds tap 2p, then
             * tap 2p + 1 (0 past the row's end) */
            for (int ky = 0; ky < d->kh; ky++)
                for (int p = 0; p < L->npr; p++)
                    for (int e = 0; e < 2; e++) {
                        int kx = 2 * p + e;
                        int16_t v = in && kx < d->kw ? d->w8[ch * ntap + ky * d->kw + kx] : 0;
                        int64_t at = ((cb * d->kh + ky) * L->npr + p) * 2 + j / 8;
                        if (!L->half)
                            w[at * 16 + (j % 8) * 2 + e] = v;
                        else if (j < 8)  /* half: kernel row ky, pair p: 8 channels' pairs */
                            w[(ky * L->npr + p) * 16 + j * 2 + e] = v;
                    }
        }
}

#if defined(__x86_64__)

/* Source row iy of image n, blocks cb0 .. cb0 + nb - 1 of its channels,
 * widened into row ([nb][wp][32] int16: column q's 16 channels interleaved
 * with column q + 1's).  Two passes over a block: each column widened into
 * the second half of its own slot, in a plain loop over the image's columns;
 * then each slot filled with its pair, in order, so that a column is read
 * again (as slot q's partner) before slot q + 1 is overwritten. */
AVX2_INLINE void widen_row(const layer *L, const uint8_t *x, int64_t n, int64_t iy, int64_t cb0,
                           int64_t nb, int16_t *row)
{
    if (iy < 0 || iy >= L->h) {
        memset(row, 0, sizeof(int16_t) * (size_t)(nb * L->wp * 32));
        return;
    }
    const uint8_t *s = x + (n * L->h + iy) * L->w * L->c;
    int sx = L->flip == 0x80 && L->zx == 128;      /* int8 as it is: sign-extended */
    int64_t q0 = L->pl, q1 = L->w + L->pl < L->wp ? L->w + L->pl : L->wp, c = L->c;
    const __m128i f = _mm_set1_epi8((char)L->flip);
    const __m256i z = _mm256_set1_epi16((short)L->zx);
    for (int64_t cb = 0; cb < nb; cb++) {
        int64_t ch = (cb0 + cb) * 16;
        int16_t *o = row + cb * L->wp * 32;
        for (int64_t q = 0; q < q0; q++)
            _mm256_store_si256((__m256i *)(o + q * 32 + 16), _mm256_setzero_si256());
        for (int64_t q = q1; q < L->wp; q++)
            _mm256_store_si256((__m256i *)(o + q * 32 + 16), _mm256_setzero_si256());
        const uint8_t *p = s + (q0 - L->pl) * c + ch;
        int16_t *d = o + q0 * 32 + 16;
        if (ch + 16 > c) {
            /* the channels past c meet weights of 0, so any value does there */
            for (int64_t q = q0; q < q1; q++, p += c, d += 32) {
                uint8_t tmp[16] = { 0 };
                memcpy(tmp, p, (size_t)(c - ch));
                __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)tmp), f);
                _mm256_store_si256((__m256i *)d, _mm256_sub_epi16(_mm256_cvtepu8_epi16(v), z));
            }
        } else if (sx) {
            for (int64_t q = q0; q < q1; q++, p += c, d += 32)
                _mm256_store_si256((__m256i *)d,
                                   _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)));
        } else {
            for (int64_t q = q0; q < q1; q++, p += c, d += 32) {
                __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), f);
                _mm256_store_si256((__m256i *)d, _mm256_sub_epi16(_mm256_cvtepu8_epi16(v), z));
            }
        }
        /* an even stride reads pairs from even columns only (ox * sw + 2p):
         * the odd ones' are never read, and not written; column wp, past
         * the last, meets only weights of 0: 0 */
        int64_t step = L->sw % 2 == 0 ? 2 : 1;
        for (int64_t q = 0; q < L->wp; q += step) {
            __m256i a = _mm256_load_si256((const __m256i *)(o + q * 32 + 16));
            __m256i nx = q + 1 < L->wp ? _mm256_load_si256((const __m256i *)(o + q * 32 + 48))
                                       : _mm256_setzero_si256();
            _mm256_store_si256((__m256i *)(o + q * 32), _mm256_unpacklo_epi16(a, nx));
            _mm256_store_si256((__m256i *)(o + q * 32 + 16), _mm256_unpackhi_epi16(a, nx));
        }
    }
}

/* 16 channels from block cb of np output pixels (out, out + c, ...), from
 * their sums.  Each step for every pixel at once, so that its constants
 * are loaded and its kind decided once per block of pixels. */
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
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        fl[i] = _mm256_cvtepi32_ps(lo[i]);
        fh[i] = _mm256_cvtepi32_ps(hi[i]);
        if (!L->fold) {
            fl[i] = _mm256_add_ps(fl[i], bl);
            fh[i] = _mm256_add_ps(fh[i], bh);
        }
        fl[i] = _mm256_mul_ps(fl[i], sl);
        fh[i] = _mm256_mul_ps(fh[i], sh);
    }
    q8p_ops(L->ops, L->nops, fl, np, mul, 0);
    q8p_ops(L->ops, L->nops, fh, np, mul ? mul + 8 : NULL, 0);
    const __m256 zhi = _mm256_set1_ps(L->dst == Q8G_U8 ? 255.0f : 127.0f);
    const __m256 zy = _mm256_set1_ps(L->zy);
    int64_t n = L->c - cb * 16;
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        if (L->has_zy) {
            fl[i] = _mm256_add_ps(fl[i], zy);
            fh[i] = _mm256_add_ps(fh[i], zy);
        }
        __m256i ql = q8p_top(fl[i], zhi);
        __m256i qh = q8p_top(fh[i], zhi);
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

/* np output pixels from column ox, channel block cb of the chunk's
 * (global block gcb): each pair of taps' weights loaded once for all of
 * them.  sw is the stride, a constant where the caller knows it, so that
 * the pixels' and taps' sources are fixed offsets from one pointer. */
AVX2_INLINE void px_block(const layer *L, int16_t *const *rows, int64_t cb, int64_t gcb,
                          uint8_t *yr, int64_t ox, int np, int sw)
{
    const char *b = (const char *)L;
    const int16_t *w = (const int16_t *)(b + L->wt) + gcb * L->kh * L->npr * 32;
    __m256i lo[DW_PX], hi[DW_PX], il = _mm256_setzero_si256(), ih = il;
    if (L->fold) {
        il = _mm256_load_si256((const __m256i *)((const int32_t *)(b + L->init) + gcb * 16));
        ih = _mm256_load_si256((const __m256i *)((const int32_t *)(b + L->init) + gcb * 16 + 8));
    }
#pragma GCC unroll 8
    for (int i = 0; i < np; i++)
        lo[i] = il, hi[i] = ih;
    for (int ky = 0; ky < L->kh; ky++) {
        const int16_t *s = rows[ky] + (cb * L->wp + ox * sw) * 32;
        for (int p = 0; p < L->npr; p++, s += 64, w += 32) {
            /* s made opaque: else GCC may carry sources over from pair to
             * pair in registers, run out of them and keep sums in memory */
            __asm__("" : "+r"(s));
            const __m256i wl = _mm256_load_si256((const __m256i *)w);
            const __m256i wh = _mm256_load_si256((const __m256i *)(w + 16));
#pragma GCC unroll 8
            for (int i = 0; i < np; i++) {
                const __m256i *t = (const __m256i *)(s + i * sw * 32);
                lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_load_si256(t), wl));
                hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_load_si256(t + 1), wh));
            }
        }
    }
    finish(L, lo, hi, np, gcb, yr + ox * L->c + gcb * 16);
}

/* The block for a pixel count and a stride known at compile time (stride 0:
 * the layer's), so that each gets its loops unrolled with its sums in
 * registers. */
#define PX_FOR(np, s)                                                                             \
    AVX2 static void px##np##_s##s(const layer *L, int16_t *const *rows, int64_t cb, int64_t gcb, \
                                   uint8_t *yr, int64_t ox, int64_t nblk)                         \
    {                                                                                             \
        for (int64_t k = 0; k < nblk; k++, ox += np)                                              \
            px_block(L, rows, cb, gcb, yr, ox, np, s ? s : L->sw);                                \
    }
#define PX_STRIDE(s) PX_FOR(1, s) PX_FOR(2, s) PX_FOR(3, s) PX_FOR(4, s) PX_FOR(5, s) PX_FOR(6, s)
PX_STRIDE(1)
PX_STRIDE(2)
PX_STRIDE(0)

typedef void px_fn(const layer *, int16_t *const *, int64_t, int64_t, uint8_t *, int64_t, int64_t);
#define PX_ROW(s) { px1_s##s, px2_s##s, px3_s##s, px4_s##s, px5_s##s, px6_s##s }
/* [stride 1, 2, other][pixels - 1] */
static px_fn *const pxs[3][DW_PX] = { PX_ROW(1), PX_ROW(2), PX_ROW(0) };

/* Column q of a source row of exactly 8 channels, widened (0 outside the
 * image's columns q0 .. q1 - 1). */
AVX2_INLINE __m128i col8(const uint8_t *s, int64_t q, int64_t q0, int64_t q1, int64_t pl,
                         __m128i f, __m128i z)
{
    if (q < q0 || q >= q1)
        return _mm_setzero_si128();
    __m128i v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)(s + (q - pl) * 8)), f);
    return _mm_sub_epi16(_mm_cvtepu8_epi16(v), z);
}

/* widen_row for a half block: row is [wp][16] int16, slot q holding
 * channels 0-3 of column q interleaved with those of q + 1, then 4-7
 * likewise.  With exactly 8 channels, columns q and q + 1 are 16
 * neighbouring bytes: one load, the two columns' bytes interleaved by one
 * shuffle, and the widening gives the slot as it is; only the slots at the
 * image's edges, whose partner is padding, are built from their columns.
 * Fewer channels: the same two passes as widen_row. */
AVX2_INLINE void widen_half(const layer *L, const uint8_t *x, int64_t n, int64_t iy, int16_t *row)
{
    if (iy < 0 || iy >= L->h) {
        memset(row, 0, sizeof(int16_t) * (size_t)(L->wp * 16));
        return;
    }
    const uint8_t *s = x + (n * L->h + iy) * L->w * L->c;
    int64_t q0 = L->pl, q1 = L->w + L->pl < L->wp ? L->w + L->pl : L->wp, c = L->c;
    const __m128i f = _mm_set1_epi8((char)L->flip), z = _mm_set1_epi16((short)L->zx);
    int64_t step = L->sw % 2 == 0 ? 2 : 1;   /* as in widen_row */
    if (c == 8) {
        const __m128i il = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        const __m256i z2 = _mm256_set1_epi16((short)L->zx);
        for (int64_t q = 0; q < L->wp; q += step) {
            if (q >= q0 && q + 1 < q1) {
                const __m128i *src = (const __m128i *)(s + (q - L->pl) * 8);
                __m128i v = _mm_xor_si128(_mm_loadu_si128(src), f);
                __m256i w = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(v, il)), z2);
                _mm256_store_si256((__m256i *)(row + q * 16), w);
            } else {
                __m128i a = col8(s, q, q0, q1, L->pl, f, z);
                __m128i nx = col8(s, q + 1, q0, q1, L->pl, f, z);
                _mm_store_si128((__m128i *)(row + q * 16), _mm_unpacklo_epi16(a, nx));
                _mm_store_si128((__m128i *)(row + q * 16 + 8), _mm_unpackhi_epi16(a, nx));
            }
        }
        return;
    }
    for (int64_t q = 0; q < q0; q++)
        _mm_store_si128((__m128i *)(row + q * 16 + 8), _mm_setzero_si128());
    for (int64_t q = q1; q < L->wp; q++)
        _mm_store_si128((__m128i *)(row + q * 16 + 8), _mm_setzero_si128());
    const uint8_t *p = s + (q0 - L->pl) * c;
    int16_t *d = row + q0 * 16 + 8;
    /* the channels past c meet weights of 0, so any value does there */
    for (int64_t q = q0; q < q1; q++, p += c, d += 16) {
        uint8_t tmp[8] = { 0 };
        memcpy(tmp, p, (size_t)c);
        __m128i v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)tmp), f);
        _mm_store_si128((__m128i *)d, _mm_sub_epi16(_mm_cvtepu8_epi16(v), z));
    }
    for (int64_t q = 0; q < L->wp; q += step) {
        __m128i a = _mm_load_si128((const __m128i *)(row + q * 16 + 8));
        __m128i nx = q + 1 < L->wp ? _mm_load_si128((const __m128i *)(row + q * 16 + 24))
                                   : _mm_setzero_si128();
        _mm_store_si128((__m128i *)(row + q * 16), _mm_unpacklo_epi16(a, nx));
        _mm_store_si128((__m128i *)(row + q * 16 + 8), _mm_unpackhi_epi16(a, nx));
    }
}

/* finish for a half block: one vector of the 8 channels, in order, a pixel. */
AVX2_INLINE void finish_half(const layer *L, __m256i *acc, int np, uint8_t *out)
{
    const char *b = (const char *)L;
    const float *mul = L->mul ? (const float *)(b + L->mul) : NULL;
    __m256 f[DW_PXH];
    const __m256 bias = _mm256_load_ps((const float *)(b + L->bias));
    const __m256 scale = _mm256_load_ps((const float *)(b + L->scale));
#pragma GCC unroll 12
    for (int i = 0; i < np; i++) {
        f[i] = _mm256_cvtepi32_ps(acc[i]);
        if (!L->fold)
            f[i] = _mm256_add_ps(f[i], bias);
        f[i] = _mm256_mul_ps(f[i], scale);
    }
    q8p_ops(L->ops, L->nops, f, np, mul, 0);
    const __m256 zhi = _mm256_set1_ps(L->dst == Q8G_U8 ? 255.0f : 127.0f);
    const __m256 zy = _mm256_set1_ps(L->zy);
#pragma GCC unroll 12
    for (int i = 0; i < np; i++) {
        if (L->has_zy)
            f[i] = _mm256_add_ps(f[i], zy);
        __m256i v = q8p_top(f[i], zhi);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        __m128i q = L->dst == Q8G_U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
        uint8_t *o = out + i * L->c;
        if (L->c == 8) {
            _mm_storel_epi64((__m128i *)o, q);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, q);
            memcpy(o, tmp, (size_t)L->c);
        }
    }
}

/* px_block for a half block. */
AVX2_INLINE void px_half(const layer *L, int16_t *const *rows, uint8_t *yr, int64_t ox, int np,
                         int sw)
{
    const char *b = (const char *)L;
    const int16_t *w = (const int16_t *)(b + L->wt);
    __m256i acc[DW_PXH], init = _mm256_setzero_si256();
    if (L->fold)
        init = _mm256_load_si256((const __m256i *)(b + L->init));
#pragma GCC unroll 12
    for (int i = 0; i < np; i++)
        acc[i] = init;
    for (int ky = 0; ky < L->kh; ky++) {
        const int16_t *s = rows[ky] + ox * sw * 16;
        for (int p = 0; p < L->npr; p++, s += 32, w += 16) {
            __asm__("" : "+r"(s));    /* as in px_block */
            const __m256i wv = _mm256_load_si256((const __m256i *)w);
#pragma GCC unroll 12
            for (int i = 0; i < np; i++) {
                const __m256i *t = (const __m256i *)(s + i * sw * 16);
                acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_load_si256(t), wv));
            }
        }
    }
    finish_half(L, acc, np, yr + ox * L->c);
}

#define PXH_FOR(np, s)                                                                            \
    AVX2 static void pxh##np##_s##s(const layer *L, int16_t *const *rows, int64_t cb,             \
                                    int64_t gcb, uint8_t *yr, int64_t ox, int64_t nblk)           \
    {                                                                                             \
        (void)cb, (void)gcb;                                                                      \
        for (int64_t k = 0; k < nblk; k++, ox += np)                                              \
            px_half(L, rows, yr, ox, np, s ? s : L->sw);                                          \
    }
#define PXH_STRIDE(s)                                                                             \
    PXH_FOR(1, s) PXH_FOR(2, s) PXH_FOR(3, s) PXH_FOR(4, s) PXH_FOR(5, s) PXH_FOR(6, s)           \
    PXH_FOR(7, s) PXH_FOR(8, s) PXH_FOR(9, s) PXH_FOR(10, s) PXH_FOR(11, s) PXH_FOR(12, s)
PXH_STRIDE(1)
PXH_STRIDE(2)
PXH_STRIDE(0)
#define PXH_ROW(s) { pxh1_s##s, pxh2_s##s, pxh3_s##s, pxh4_s##s, pxh5_s##s, pxh6_s##s, pxh7_s##s, \
                     pxh8_s##s, pxh9_s##s, pxh10_s##s, pxh11_s##s, pxh12_s##s }
static px_fn *const pxhs[3][DW_PXH] = { PXH_ROW(1), PXH_ROW(2), PXH_ROW(0) };

/* Output row oy of image n, channel blocks cb0 .. cb0 + nb - 1.  The source
 * rows it reads are kept in t, a ring of kh widened rows (slot iy mod kh,
 * have[slot] = which row it holds): consecutive output rows share all but
 * sh of theirs, so each source row is widened about once, not kh times. */
AVX2 static void out_row(const layer *L, const uint8_t *x, uint8_t *y, int64_t n, int64_t oy,
                         int64_t cb0, int64_t nb, int16_t *t, int64_t *have)
{
    int16_t *rows[Q8D_MAX_TAPS];
    int64_t rowsz = nb * L->wp * (L->half ? 16 : 32);
    for (int r = 0; r < L->kh; r++) {
        int64_t iy = oy * L->sh - L->pt + r, slot = ((iy % L->kh) + L->kh) % L->kh;
        int16_t *row = t + slot * rowsz;
        int64_t key = n * (L->h + 2 * L->kh) + L->kh + iy;   /* > 0, one per (n, iy): pads < kh */
        if (have[slot] != key) {
            if (L->half)
                widen_half(L, x, n, iy, row);
            else
                widen_row(L, x, n, iy, cb0, nb, row);
            have[slot] = key;
        }
        rows[r] = row;
    }
    int si = L->sw == 1 ? 0 : L->sw == 2 ? 1 : 2, maxpx = L->half ? DW_PXH : DW_PX;
    px_fn *const *px = L->half ? pxhs[si] : pxs[si];
    uint8_t *yr = y + (n * L->oh + oy) * L->ow * L->c;
    /* the row in blocks of at most maxpx pixels, as even as they come */
    int64_t nblk = (L->ow + maxpx - 1) / maxpx, np = L->ow / nblk, big = L->ow % nblk;
    for (int64_t cb = 0; cb < nb; cb++) {
        /* big blocks of np + 1 pixels, then the rest of np: one call each */
        if (big)
            px[np](L, rows, cb, cb0 + cb, yr, 0, big);
        px[np - 1](L, rows, cb, cb0 + cb, yr, big * (np + 1), nblk - big);
    }
}

void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n)
{
    const layer *L = blob;
    int64_t rows = n * L->oh;
    #pragma omp parallel
    {
        /* <= max(DW_RING, Q8D_MAX_ROWS) bytes (q8d_pack, q8d_fits) */
        int16_t t[L->kh * L->wp * L->chunk * (L->half ? 16 : 32)] __attribute__((aligned(32)));
        int64_t have[L->kh];
        for (int64_t cb0 = 0; cb0 < L->ncb; cb0 += L->chunk) {
            int64_t nb = L->ncb - cb0 < L->chunk ? L->ncb - cb0 : L->chunk;
            for (int r = 0; r < L->kh; r++)
                have[r] = 0;                  /* no row */
            /* each chunk writes its own channels: no thread waits for another */
            #pragma omp for schedule(static) nowait
            for (int64_t r = 0; r < rows; r++)
                out_row(L, x, y, r / L->oh, r % L->oh, cb0, nb, t, have);
        }
    }
}

#else

void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n)
{
    (void)blob, (void)x, (void)y, (void)n;
}

#endif
