/* int8_dw_avx2.c: the exact AVX2 int8 depthwise kernel (see int8_dw.h).
 *
 * The sum is computed in float, and is still the exact integer sum: each
 * source byte, its zero point taken off, and each weight are integers
 * below 2^8 in magnitude, a product below 2^15, and the sum over at most
 * 49 taps (with the bias, where the layer starts its sums from it) stays
 * below 2^24, so every fused multiply-add lands on an integer a float
 * holds and none rounds.  The float sum is then the int32 sum oneDNN
 * converts, and one fused multiply-add does 8 products where the int16
 * pairs needed a shuffle, a multiply and an add for 16.
 *
 * One output row at a time per thread: the kh source rows it reads are
 * widened to float with the zero point taken off (so padding is 0, the
 * real value 0), kept in a ring so that each is widened about once, laid
 * out by blocks of 8 channels ([block][column][8]) so that a block's
 * neighbouring pixels and taps are fixed offsets apart.  Channels are taken
 * in chunks of blocks small enough for the chunk's rows to stay in the L1
 * cache.  Per block, up to 8 output pixels at a time: each tap's 8 weights
 * loaded once for all of them. */
#include "engine/dnn/int8_dw.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"
#endif

#define DW_RING (32 * 1024)      /* bytes of source rows a chunk of channels aims to fit */

typedef struct {
    int64_t c, ncb, h, w, oh, ow, wp;  /* ncb: blocks of 8 channels; wp: columns of a widened row */
    int64_t chunk;                     /* blocks of channels a pass keeps rows of */
    int kh, kw, sh, sw, pt, pl, ntap;
    uint8_t flip;
    int zx, fold, has_zy, dst, nops;   /* fold: sums start from the bias */
    float zy;
    q8g_op ops[Q8G_MAX_OPS];
    size_t wt, bias, scale, mul;       /* offsets in the blob; mul 0: none */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

static int64_t ncb_of(int64_t c)
{
    return (c + 7) / 8;
}

static int64_t wp_of(const q8d_desc *d)
{
    return (d->ow - 1) * d->sw + d->kw;
}

/* Bytes of one block of 8 channels' source rows (kh rows of wp floats x 8). */
static size_t block_rows(const q8d_desc *d)
{
    return (size_t)(d->kh * wp_of(d) * 8) * sizeof(float);
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
    int64_t ncb = ncb_of(d->c);
    return up32(sizeof(layer)) + up32((size_t)(ncb * d->kh * d->kw * 8) * sizeof(float)) +
           3 * up32((size_t)(ncb * 8) * sizeof(float));
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
    L->ntap = d->kh * d->kw;
    L->flip = d->flip;
    L->zx = d->zx;
    L->has_zy = d->zy != 0;
    L->zy = (float)d->zy;
    L->dst = d->dst;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof L->ops);
    size_t at = up32(sizeof(layer)), vec = up32((size_t)(L->ncb * 8) * sizeof(float));
    L->wt = at;
    at += up32((size_t)(L->ncb * L->ntap * 8) * sizeof(float));
    L->bias = at, at += vec;
    L->scale = at, at += vec;
    L->mul = d->mul ? at : 0;

    float *w = (float *)(b + L->wt), *bias = (float *)(b + L->bias);
    float *scale = (float *)(b + L->scale), *mul = d->mul ? (float *)(b + L->mul) : NULL;
    /* The sums may start from the bias where, with it, no partial sum can
     * leave the integers a float holds: then the float sum is the integer
     * sum plus the bias, which is what adding the bias after gives, as
     * that addition is exact too. */
    int maxsrc = d->zx > 255 - d->zx ? d->zx : 255 - d->zx;
    L->fold = 1;
    for (int64_t ch = 0; ch < L->ncb * 8; ch++) {
        int in = ch < d->c;
        int64_t absw = 0;
        for (int t = 0; t < L->ntap; t++) {
            int v = in ? d->w8[ch * L->ntap + t] : 0;
            w[((ch / 8) * L->ntap + t) * 8 + ch % 8] = (float)v;
            absw += abs(v);
        }
        bias[ch] = in ? (float)d->bias[ch] : 0.0f;
        scale[ch] = in ? d->scale[ch] : 0.0f;
        if (mul)
            mul[ch] = in ? d->mul[ch] : 0.0f;
        if (in && llabs((long long)d->bias[ch]) + (long long)maxsrc * absw > Q8G_EXACT)
            L->fold = 0;
    }
}

#if defined(__x86_64__)

/* Source row iy of image n, blocks cb0 .. cb0 + nb - 1 of its channels,
 * widened into row ([nb][wp][8] floats). */
AVX2_INLINE void widen_row(const layer *L, const uint8_t *x, int64_t n, int64_t iy, int64_t cb0,
                           int64_t nb, float *row)
{
    const __m128i f = _mm_set1_epi8((char)L->flip);
    const __m256i z = _mm256_set1_epi32(L->zx);
    if (iy < 0 || iy >= L->h) {
        memset(row, 0, sizeof(float) * (size_t)(nb * L->wp * 8));
        return;
    }
    /* the padding columns, then the image's: [q0, q1) */
    int64_t q0 = L->pl < L->wp ? L->pl : L->wp, q1 = L->w + L->pl < L->wp ? L->w + L->pl : L->wp;
    for (int64_t cb = 0; cb < nb; cb++) {
        float *o = row + cb * L->wp * 8;
        for (int64_t q = 0; q < q0; q++)
            _mm256_store_ps(o + q * 8, _mm256_setzero_ps());
        for (int64_t q = q1; q < L->wp; q++)
            _mm256_store_ps(o + q * 8, _mm256_setzero_ps());
    }
    /* a block of 8 channels at a time along the row: loads c bytes apart,
     * stores one after the other; full blocks, then the last one's few
     * (those past c meet weights of 0, so any value does there) */
    const uint8_t *src = x + ((n * L->h + iy) * L->w + q0 - L->pl) * L->c;
    int64_t full = L->c / 8 - cb0 < nb ? L->c / 8 - cb0 : nb, c = L->c;
    int sx = L->flip == 0x80 && L->zx == 128;      /* int8 as it is: sign-extended */
    for (int64_t cb = 0; cb < full; cb++) {
        const uint8_t *s = src + (cb0 + cb) * 8;
        float *o = row + (cb * L->wp + q0) * 8;
        if (sx) {
#pragma GCC unroll 4
            for (int64_t q = q0; q < q1; q++, s += c, o += 8) {
                __m128i v = _mm_loadl_epi64((const __m128i *)s);
                _mm256_store_ps(o, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)));
            }
        } else {
#pragma GCC unroll 4
            for (int64_t q = q0; q < q1; q++, s += c, o += 8) {
                __m128i v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)s), f);
                _mm256_store_ps(o, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v), z)));
            }
        }
    }
    if (full < nb) {
        const uint8_t *s = src + (cb0 + full) * 8;
        float *o = row + (full * L->wp + q0) * 8;
        for (int64_t q = q0; q < q1; q++, s += c, o += 8) {
            uint8_t tmp[16] = { 0 };
            memcpy(tmp, s, (size_t)(c - (cb0 + full) * 8));
            __m128i v = _mm_xor_si128(_mm_loadl_epi64((const __m128i *)tmp), f);
            _mm256_store_ps(o, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v), z)));
        }
    }
}

/* 8 channels from block cb of np output pixels (out, out + c, ...), from
 * their sums.  Each step for every pixel at once, so that its constants
 * are loaded and its kind decided once per block of pixels. */
AVX2_INLINE void finish(const layer *L, __m256 *f, int np, int64_t cb, uint8_t *out)
{
    const char *b = (const char *)L;
    const float *mul = L->mul ? (const float *)(b + L->mul) + cb * 8 : NULL;
    const __m256 bias = _mm256_load_ps((const float *)(b + L->bias) + cb * 8);
    const __m256 scale = _mm256_load_ps((const float *)(b + L->scale) + cb * 8);
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        if (!L->fold)
            f[i] = _mm256_add_ps(f[i], bias);
        f[i] = _mm256_mul_ps(f[i], scale);
    }
    q8p_ops(L->ops, L->nops, f, np, mul, 0);
    const __m256 lo = _mm256_set1_ps(L->dst == Q8G_U8 ? 0.0f : -FLT_MAX);
    const __m256 hi = _mm256_set1_ps(L->dst == Q8G_U8 ? 255.0f : 127.0f);
    const __m256 zy = _mm256_set1_ps(L->zy);
    int64_t n = L->c - cb * 8;
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        if (L->has_zy)
            f[i] = _mm256_add_ps(f[i], zy);
        __m256i v = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f[i], lo), hi));
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        __m128i q = L->dst == Q8G_U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
        uint8_t *o = out + i * L->c;
        if (n >= 8) {
            _mm_storel_epi64((__m128i *)o, q);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, q);
            memcpy(o, tmp, (size_t)n);
        }
    }
}

/* np output pixels from column ox, channel block cb of the chunk's
 * (global block gcb): each tap's weights loaded once for all of them.  sw
 * is the stride, a constant where the caller knows it, so that the
 * pixels' and taps' sources are fixed offsets from one pointer. */
AVX2_INLINE void px_block(const layer *L, float *const *rows, int64_t cb, int64_t gcb, uint8_t *yr,
                          int64_t ox, int np, int sw)
{
    const float *w = (const float *)((const char *)L + L->wt) + gcb * L->ntap * 8;
    __m256 acc[8];
    const __m256 init = L->fold ? _mm256_load_ps((const float *)((const char *)L + L->bias) + gcb * 8)
                                : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < np; i++)
        acc[i] = init;
    for (int ky = 0; ky < L->kh; ky++) {
        const float *s = rows[ky] + (cb * L->wp + ox * sw) * 8;
        for (int kx = 0; kx < L->kw; kx++, s += 8, w += 8) {
            /* s made opaque: else GCC carries each tap's sources over to
             * the next tap in registers, runs out of them and keeps a sum
             * in memory, every multiply-add of it then waiting on a store */
            __asm__("" : "+r"(s));
            const __m256 wv = _mm256_load_ps(w);
#pragma GCC unroll 8
            for (int i = 0; i < np; i++)
                acc[i] = _mm256_fmadd_ps(_mm256_load_ps(s + i * sw * 8), wv, acc[i]);
        }
    }
    finish(L, acc, np, gcb, yr + ox * L->c + gcb * 8);
}

/* The block for a pixel count and a stride known at compile time (stride 0:
 * the layer's), so that each gets its loops unrolled with its sums in
 * registers. */
#define PX_FOR(np, s)                                                                             \
    AVX2 static void px##np##_s##s(const layer *L, float *const *rows, int64_t cb, int64_t gcb,   \
                                   uint8_t *yr, int64_t ox)                                       \
    {                                                                                             \
        px_block(L, rows, cb, gcb, yr, ox, np, s ? s : L->sw);                                    \
    }
#define PX_STRIDE(s) \
    PX_FOR(1, s) PX_FOR(2, s) PX_FOR(3, s) PX_FOR(4, s) PX_FOR(5, s) PX_FOR(6, s) PX_FOR(7, s) PX_FOR(8, s)
PX_STRIDE(1)
PX_STRIDE(2)
PX_STRIDE(0)

typedef void px_fn(const layer *, float *const *, int64_t, int64_t, uint8_t *, int64_t);
/* [stride 1, 2, other][pixels - 1] */
static px_fn *const pxs[3][8] = {
    { px1_s1, px2_s1, px3_s1, px4_s1, px5_s1, px6_s1, px7_s1, px8_s1 },
    { px1_s2, px2_s2, px3_s2, px4_s2, px5_s2, px6_s2, px7_s2, px8_s2 },
    { px1_s0, px2_s0, px3_s0, px4_s0, px5_s0, px6_s0, px7_s0, px8_s0 },
};

/* Output row oy of image n, channel blocks cb0 .. cb0 + nb - 1.  The source
 * rows it reads are kept in t, a ring of kh widened rows (slot iy mod kh,
 * have[slot] = which row it holds): consecutive output rows share all but
 * sh of theirs, so each source row is widened about once, not kh times. */
AVX2 static void out_row(const layer *L, const uint8_t *x, uint8_t *y, int64_t n, int64_t oy,
                         int64_t cb0, int64_t nb, float *t, int64_t *have)
{
    float *rows[Q8D_MAX_TAPS];
    int64_t rowsz = nb * L->wp * 8;
    for (int r = 0; r < L->kh; r++) {
        int64_t iy = oy * L->sh - L->pt + r, slot = ((iy % L->kh) + L->kh) % L->kh;
        float *row = t + slot * rowsz;
        int64_t key = n * (L->h + 2 * L->kh) + L->kh + iy;   /* > 0, one per (n, iy): pads < kh */
        if (have[slot] != key) {
            widen_row(L, x, n, iy, cb0, nb, row);
            have[slot] = key;
        }
        rows[r] = row;
    }
    px_fn *const *px = pxs[L->sw == 1 ? 0 : L->sw == 2 ? 1 : 2];
    uint8_t *yr = y + (n * L->oh + oy) * L->ow * L->c;
    /* the row in blocks of at most 8 pixels, as even as they come (14: 7 + 7,
     * not 8 + 4 + 2): a block's sums are chains of dependent multiply-adds,
     * and a block of few pixels waits on them */
    int64_t nblk = (L->ow + 7) / 8;
    for (int64_t cb = 0; cb < nb; cb++)
        for (int64_t k = 0, ox = 0; k < nblk; k++) {
            int64_t end = L->ow * (k + 1) / nblk;
            px[end - ox - 1](L, rows, cb, cb0 + cb, yr, ox);
            ox = end;
        }
}

void q8d_run(const void *blob, const uint8_t *x, uint8_t *y, int64_t n)
{
    const layer *L = blob;
    int64_t rows = n * L->oh;
    #pragma omp parallel
    {
        /* <= max(DW_RING, Q8D_MAX_ROWS) bytes (q8d_pack, q8d_fits) */
        float t[L->kh * L->wp * L->chunk * 8] __attribute__((aligned(32)));
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
