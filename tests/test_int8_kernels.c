/* Tests of lcnetd's own int8 kernels for AVX2 CPUs without VNNI, the
 * pointwise one (engine/dnn/int8_gemm.h), the depthwise one
 * (engine/dnn/int8_dw.h) and small dense convolutions as windows through
 * the pointwise one (engine/dnn/int8_col.h), each against a plain C
 * reference that spells out, one scalar at a time, the arithmetic
 * oneDNN's int8 convolutions do.
 * Random shapes, with channel counts that fill no vector, padding and
 * strides, and extreme bytes (0 and 255 against -128 and 127, over
 * thousands of channels for the pointwise one); every output compared bit
 * for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/dnn/int8_col.h"
#include "engine/dnn/int8_dw.h"
#include "engine/dnn/int8_gemm.h"

typedef struct {
    uint64_t s;
} rng;

static uint32_t next(rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

/* f after the scale, through the post-ops, the zero point and the
 * saturation, into out (one value of type dst). */
static void requant(float f, const q8g_op *ops, int nops, float mul, int zy, int dst, void *out)
{
    for (int i = 0; i < nops; i++) {
        const q8g_op *op = &ops[i];
        switch (op->kind) {
        case Q8G_RELU: f = f > 0 ? f : f * op->a; break;
        case Q8G_LINEAR: f = fmaf(f, op->a, op->b); break;
        case Q8G_CLIP: f = fminf(fmaxf(f, op->a), op->b); break;
        case Q8G_HARDSWISH: {
            float t = fminf(fmaxf(f + 3.0f, 0.0f), 6.0f);
            f = f * (t / 6.0f);
            break;
        }
        case Q8G_MUL: f *= mul; break;
        case Q8G_ROUND: f = nearbyintf(f); break;
        }
    }
    if (zy)
        f += (float)zy;
    if (dst == Q8G_F32) {
        *(float *)out = f;
    } else if (dst == Q8G_U8) {
        *(uint8_t *)out = (uint8_t)nearbyintf(fminf(fmaxf(f, 0.0f), 255.0f));
    } else {
        f = nearbyintf(fminf(f, 127.0f));
        *(int8_t *)out = (int8_t)(f < -128 ? -128 : f);
    }
}

/* The pointwise reference: accumulate exactly, then each float step in
 * oneDNN's order (its 1x1 kernels add the zero point's term as a float). */
static void reference(const q8g_desc *d, const uint8_t *x, int64_t rows, void *y)
{
    size_t osz = d->dst == Q8G_F32 ? sizeof(float) : 1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < d->oc; o++) {
            int64_t acc = 0, sum = 0;
            for (int64_t i = 0; i < d->k; i++) {
                acc += (int64_t)(uint8_t)(x[r * d->k + i] ^ d->flip) * d->w[o * d->k + i];
                sum += d->w[o * d->k + i];
            }
            float f = (float)(int32_t)acc;
            if (d->zx)
                f += (float)(int32_t)(-d->zx * sum);
            f += (float)d->bias[o];
            f *= d->scale[o];
            requant(f, d->ops, d->nops, d->mul ? d->mul[o] : 0, d->zy, d->dst,
                    (char *)y + (size_t)(r * d->oc + o) * osz);
        }
}

/* The depthwise reference: the exact sum of (source - zero point) x
 * weight over the taps inside the image, then float. */
static void dw_reference(const q8d_desc *d, const uint8_t *x, int64_t n, uint8_t *y)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t oy = 0; oy < d->oh; oy++)
            for (int64_t ox = 0; ox < d->ow; ox++)
                for (int64_t c = 0; c < d->c; c++) {
                    int32_t acc = 0;
                    for (int ky = 0; ky < d->kh; ky++)
                        for (int kx = 0; kx < d->kw; kx++) {
                            int64_t iy = oy * d->sh - d->pt + ky, ix = ox * d->sw - d->pl + kx;
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                                continue;
                            int v = (uint8_t)(x[((b * d->h + iy) * d->w + ix) * d->c + c] ^ d->flip);
                            acc += (v - d->zx) * d->w8[(c * d->kh + ky) * d->kw + kx];
                        }
                    float f = ((float)acc + (float)d->bias[c]) * d->scale[c];
                    requant(f, d->ops, d->nops, d->mul ? d->mul[c] : 0, d->zy, d->dst,
                            &y[((b * d->oh + oy) * d->ow + ox) * d->c + c]);
                }
}

typedef enum { FILL_RANDOM, FILL_EXTREME } fill;

/* One layer of rows x k -> oc, both ways, compared byte for byte. */
static void check(int64_t rows, int64_t k, int64_t oc, int dst, fill how, int variant, int bigbias,
                  int narrow, rng *g)
{
    int8_t *w = malloc((size_t)(k * oc));
    uint8_t *x = malloc((size_t)(rows * k));
    float *scale = malloc(sizeof(float) * (size_t)oc), *mul = malloc(sizeof(float) * (size_t)oc);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)oc);
    size_t osz = dst == Q8G_F32 ? sizeof(float) : 1;
    uint8_t *want = malloc((size_t)(rows * oc) * osz), *got = malloc((size_t)(rows * oc) * osz);
    void *blob = aligned_alloc(64, (q8g_size(k, oc, narrow) + 63) & ~(size_t)63);
    assert_true(w && x && scale && mul && bias && want && got && blob);
    for (int64_t i = 0; i < k * oc; i++)
        w[i] = how == FILL_EXTREME ? (i % 3 ? 127 : -128) : (int8_t)(next(g) & 0xff);
    for (int64_t i = 0; i < rows * k; i++)
        x[i] = how == FILL_EXTREME ? (i % 5 ? 255 : 0) : (uint8_t)next(g);
    for (int64_t o = 0; o < oc; o++) {
        /* scales that put outputs across the byte range, with halves hit */
        scale[o] = (float)(next(g) % 1000 + 1) / (float)(sqrt((double)k) * 50000.0);
        bias[o] = (int32_t)(next(g) % 200001) - 100000;
        mul[o] = (float)(next(g) % 100 + 1) / 37.0f;
    }
    /* biases where the kernel may start its sums from them and the zero
     * point's term (1: at the largest it may, 2^24 less 255 x the weights'
     * magnitudes) and past it (2), scales that keep the outputs in range */
    for (int64_t o = 0; bigbias && o < oc; o++) {
        int64_t absw = 0;
        for (int64_t i = 0; i < k; i++)
            absw += abs(w[o * k + i]);
        int64_t room = 16777216 - 255 * absw;
        int64_t b = bigbias == 1 ? room : room + 1 + (int64_t)(next(g) % 1000);
        if (b < 0)
            b = 0;
        bias[o] = (int32_t)(o % 2 ? -b : b);
        scale[o] = (float)(next(g) % 300 + 1) / (float)(labs(bias[o]) + 255 * absw + 1);
    }
    q8g_desc d = { .k = k, .oc = oc, .w = w, .scale = scale, .bias = bias, .dst = dst,
                   .narrow = narrow };
    switch (variant) {
    case 0:                                      /* int8 source, hardswish, per-channel out */
        d.zx = 128, d.flip = 0x80;
        d.ops[d.nops++] = (q8g_op){ Q8G_HARDSWISH, 0, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_MUL, 0, 0 };
        d.mul = mul;
        break;
    case 1:                                      /* uint8 with zero points, ReLU, linear */
        d.zx = 3, d.zy = 7;
        d.ops[d.nops++] = (q8g_op){ Q8G_RELU, 0, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_LINEAR, 1.7f, 0.25f };
        d.ops[d.nops++] = (q8g_op){ Q8G_ROUND, 0, 0 };
        break;
    case 2:                                      /* leaky ReLU, clip */
        d.ops[d.nops++] = (q8g_op){ Q8G_RELU, 0.1f, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_CLIP, -50.0f, 90.0f };
        break;
    default:                                     /* nothing after the scale */
        d.zx = 128, d.flip = 0x80;
        break;
    }
    q8g_pack(blob, &d);
    reference(&d, x, rows, want);
    q8g_run(blob, x, got, rows);
    for (int64_t i = 0; i < rows * oc; i++)
        if (memcmp(want + (size_t)i * osz, got + (size_t)i * osz, osz)) {
            fail_msg("rows %lld k %lld oc %lld dst %d variant %d fill %d bias %d narrow %d: "
                     "output %lld (row %lld, channel %lld) differs", (long long)rows, (long long)k,
                     (long long)oc, dst, variant, how, bigbias, narrow, (long long)i,
                     (long long)(i / oc), (long long)(i % oc));
        }
    free(w), free(x), free(scale), free(mul), free(bias), free(want), free(got), free(blob);
}

static void test_pointwise_matches_reference(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();             /* no AVX2 (or capped below it): the plan never calls it */
    static const int64_t shapes[][3] = {
        { 1, 1, 1 }, { 7, 3, 5 }, { 6, 16, 16 }, { 13, 17, 23 }, { 49, 64, 37 },
        { 100, 33, 130 }, { 5, 1280, 19 }, { 2, 4096, 9 }, { 224, 16, 32 },
        /* 8 to 15 inputs (widened by two overlapping 8-byte loads); a last
         * block of 8 or fewer outputs (computed alone) */
        { 50, 8, 8 }, { 19, 8, 16 }, { 31, 12, 24 }, { 23, 15, 7 }, { 9, 9, 40 }, { 14, 27, 8 },
    };
    rng g = { 17 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dst = Q8G_U8; dst <= Q8G_F32; dst++)
            for (int v = 0; v < 4; v++)
                for (int big = 0; big < 3; big++)
                    for (int narrow = 0; narrow < 2; narrow++)
                        check(shapes[s][0], shapes[s][1], shapes[s][2], dst, FILL_RANDOM, v, big,
                              narrow, &g);
}

/* All bytes 255 or 0 against weights of 127 and -128: where oneDNN's
 * kernels without VNNI would saturate int16 pair sums. */
static void test_pointwise_extremes(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();
    rng g = { 5 };
    for (int dst = Q8G_U8; dst <= Q8G_F32; dst++)
        for (int v = 0; v < 4; v++) {
            check(11, 4095, 21, dst, FILL_EXTREME, v, 0, 0, &g);
            check(3, 2, 8, dst, FILL_EXTREME, v, 0, 0, &g);
            check(7, 40, 19, dst, FILL_EXTREME, v, 1, 0, &g);
            check(7, 40, 19, dst, FILL_EXTREME, v, 2, 0, &g);
            check(13, 8, 8, dst, FILL_EXTREME, v, 0, 0, &g);
            check(8, 11, 24, dst, FILL_EXTREME, v, 1, 0, &g);
            /* int8 weights of -128 and 127, widened as read */
            check(1, 4095, 21, dst, FILL_EXTREME, v, 0, 1, &g);
            check(5, 33, 40, dst, FILL_EXTREME, v, 0, 1, &g);
        }
}

/* One depthwise layer, both ways, compared byte for byte. */
static void dw_check(int64_t n, int64_t c, int64_t h, int64_t w, int k, int stride, int pad,
                     int dst, fill how, int variant, int bigbias, rng *g)
{
    q8d_desc d = { .c = c, .h = h, .w = w, .kh = k, .kw = k, .sh = stride, .sw = stride,
                   .pt = pad, .pl = pad, .dst = dst };
    d.oh = (h + 2 * pad - k) / stride + 1;
    d.ow = (w + 2 * pad - k) / stride + 1;
    int8_t *wt = malloc((size_t)(c * k * k));
    uint8_t *x = malloc((size_t)(n * h * w * c));
    float *scale = malloc(sizeof(float) * (size_t)c), *mul = malloc(sizeof(float) * (size_t)c);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)c);
    size_t ny = (size_t)(n * d.oh * d.ow * c);
    uint8_t *want = malloc(ny), *got = malloc(ny);
    assert_true(wt && x && scale && mul && bias && want && got);
    for (int64_t i = 0; i < c * k * k; i++)
        wt[i] = how == FILL_EXTREME ? (i % 3 ? 127 : -128) : (int8_t)(next(g) & 0xff);
    for (int64_t i = 0; i < n * h * w * c; i++)
        x[i] = how == FILL_EXTREME ? (i % 5 ? 255 : 0) : (uint8_t)next(g);
    for (int64_t o = 0; o < c; o++) {
        scale[o] = (float)(next(g) % 1000 + 1) / (float)(k * 50000);
        bias[o] = (int32_t)(next(g) % 200001) - 100000;
        mul[o] = (float)(next(g) % 100 + 1) / 37.0f;
    }
    /* biases near and past 2^24, where the kernel may not start its float
     * sums from them (the sum plus the bias would round); 2: at the largest
     * it may start from (2^24 less the largest sum the weights can make) */
    if (bigbias == 2)
        for (int64_t o = 0; o < c; o++) {
            int zx = variant == 1 ? 3 : 128, absw = 0;
            for (int i = 0; i < k * k; i++)
                absw += abs(wt[o * k * k + i]);
            bias[o] = (16777216 - (zx > 255 - zx ? zx : 255 - zx) * absw) * (o % 2 ? -1 : 1);
            scale[o] = 1.0f / (float)(fabs((double)bias[o]) + 1.0) * (float)(next(g) % 300 + 1);
        }
    else if (bigbias)
        for (int64_t o = 0; o < c; o++) {
            bias[o] = (int32_t)(16777216 - next(g) % 3000000) * (o % 2 ? -1 : 1);
            if (o % 3 == 0)
                bias[o] = (int32_t)(next(g) % 2000000000) - 1000000000;
            scale[o] = 1.0f / (float)(fabs((double)bias[o]) + 1.0) * (float)(next(g) % 300 + 1);
        }
    d.w8 = wt, d.scale = scale, d.bias = bias;
    switch (variant) {
    case 0:
        d.zx = 128, d.flip = 0x80;
        d.ops[d.nops++] = (q8g_op){ Q8G_HARDSWISH, 0, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_MUL, 0, 0 };
        d.mul = mul;
        break;
    case 1:
        d.zx = 3, d.zy = 7;
        d.ops[d.nops++] = (q8g_op){ Q8G_RELU, 0, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_LINEAR, 1.7f, 0.25f };
        d.ops[d.nops++] = (q8g_op){ Q8G_ROUND, 0, 0 };
        break;
    default:
        d.zx = 128, d.flip = 0x80;
        d.ops[d.nops++] = (q8g_op){ Q8G_CLIP, -50.0f, 90.0f };
        break;
    }
    assert_true(q8d_fits(&d));
    void *blob = aligned_alloc(64, (q8d_size(&d) + 63) & ~(size_t)63);
    assert_non_null(blob);
    q8d_pack(blob, &d);
    dw_reference(&d, x, n, want);
    q8d_run(blob, x, got, n);
    for (size_t i = 0; i < ny; i++)
        if (want[i] != got[i])
            fail_msg("dw n %lld c %lld %lldx%lld k %d s %d p %d dst %d variant %d fill %d bias %d: "
                     "output %zu (channel %lld) is %d, want %d", (long long)n, (long long)c,
                     (long long)h, (long long)w, k, stride, pad, dst, variant, how, bigbias, i,
                     (long long)(i % (size_t)c), got[i], want[i]);
    free(wt), free(x), free(scale), free(mul), free(bias), free(want), free(got), free(blob);
}

static void test_dw_matches_reference(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();
    /* n, c, h, w, kernel, stride, padding */
    static const int shapes[][7] = {
        { 1, 16, 8, 8, 3, 1, 1 }, { 2, 7, 9, 5, 3, 2, 1 }, { 1, 33, 11, 13, 5, 2, 2 },
        { 1, 24, 6, 7, 5, 1, 2 }, { 3, 8, 4, 4, 3, 1, 0 }, { 1, 1, 5, 5, 1, 1, 0 },
        { 1, 40, 14, 14, 3, 1, 1 },
        /* channels in several chunks, the last block partial; stride 3 (no
         * constant for it); a 7x7 kernel (49 taps); rows of every block
         * width from 1 to 8 pixels and more */
        { 1, 523, 9, 40, 3, 1, 1 }, { 1, 12, 10, 15, 3, 3, 1 }, { 1, 9, 13, 13, 7, 1, 3 },
        { 2, 24, 7, 7, 5, 2, 2 }, { 1, 17, 3, 9, 3, 1, 1 }, { 1, 8, 5, 23, 3, 1, 1 },
        { 1, 16, 6, 31, 3, 2, 1 },
        /* at most 8 channels, one half block: strides 1, 2 and 3, padding,
         * rows of every pixel count up to past 8 */
        { 1, 8, 9, 30, 3, 2, 1 }, { 2, 5, 7, 19, 3, 1, 1 }, { 1, 8, 6, 17, 5, 2, 2 },
        { 1, 3, 8, 12, 3, 2, 1 }, { 1, 8, 7, 9, 7, 1, 3 }, { 1, 2, 5, 11, 3, 3, 1 },
        { 2, 8, 10, 61, 3, 1, 1 }, { 1, 6, 4, 3, 3, 1, 1 },
        /* 8 channels: columns read in pairs as 16 bytes, the edges apart;
         * images of 1 and 2 columns, stride 3 */
        { 1, 8, 6, 14, 3, 3, 1 }, { 1, 8, 4, 1, 3, 1, 1 }, { 1, 8, 3, 2, 3, 2, 1 },
        { 1, 8, 5, 3, 3, 1, 0 },
        /* half-block rows of 11 and 12 pixels at once */
        { 1, 8, 5, 24, 3, 1, 1 }, { 1, 7, 4, 12, 3, 1, 1 }, { 1, 8, 4, 45, 3, 2, 1 },
    };
    rng g = { 29 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dst = Q8G_U8; dst <= Q8G_S8; dst++)
            for (int v = 0; v < 3; v++)
                for (int how = FILL_RANDOM; how <= FILL_EXTREME; how++)
                    for (int big = 0; big < 3; big++)
                        dw_check(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                 shapes[s][4], shapes[s][5], shapes[s][6], dst, (fill)how, v, big,
                                 &g);
}

/* One small dense layer (weights [oc][c][kh][kw]): the exact sum of
 * (source - zero point) x weight over the taps inside the image, then the
 * float steps; against its windows as rows through the pointwise kernel. */
static void dense_check(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int k, int stride,
                        int pad, int dst, int variant, rng *g)
{
    q8c_desc cd = { .c = c, .h = h, .w = w, .kh = k, .kw = k, .sh = stride, .sw = stride,
                    .pt = pad, .pl = pad };
    cd.oh = (h + 2 * pad - k) / stride + 1;
    cd.ow = (w + 2 * pad - k) / stride + 1;
    int64_t kk = q8c_k(&cd), rows = n * cd.oh * cd.ow;
    int8_t *wt = malloc((size_t)(oc * kk));
    uint8_t *x = malloc((size_t)(n * h * w * c)), *col = malloc((size_t)(rows * kk));
    float *scale = malloc(sizeof(float) * (size_t)oc);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)oc);
    uint8_t *want = malloc((size_t)(rows * oc)), *got = malloc((size_t)(rows * oc));
    assert_true(wt && x && col && scale && bias && want && got);
    for (int64_t i = 0; i < oc * kk; i++)
        wt[i] = (int8_t)(next(g) & 0xff);
    for (int64_t i = 0; i < n * h * w * c; i++)
        x[i] = (uint8_t)next(g);
    for (int64_t o = 0; o < oc; o++) {
        scale[o] = (float)(next(g) % 1000 + 1) / (float)(kk * 50000);
        bias[o] = (int32_t)(next(g) % 200001) - 100000;
    }
    q8g_desc d = { .k = kk, .oc = oc, .scale = scale, .bias = bias, .dst = dst };
    if (variant) {
        d.zx = 128, d.flip = 0x80;
        d.ops[d.nops++] = (q8g_op){ Q8G_HARDSWISH, 0, 0 };
    } else {
        d.zx = 5, d.zy = 9;
        d.ops[d.nops++] = (q8g_op){ Q8G_RELU, 0, 0 };
        d.ops[d.nops++] = (q8g_op){ Q8G_ROUND, 0, 0 };
    }
    cd.fill = (uint8_t)(d.zx ^ d.flip);
    for (int64_t b = 0; b < n; b++)
        for (int64_t oy = 0; oy < cd.oh; oy++)
            for (int64_t ox = 0; ox < cd.ow; ox++)
                for (int64_t o = 0; o < oc; o++) {
                    int32_t acc = 0;
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                int v = (uint8_t)(x[((b * h + iy) * w + ix) * c + ci] ^ d.flip);
                                acc += (v - d.zx) * wt[((o * c + ci) * k + ky) * k + kx];
                            }
                    float f = ((float)acc + (float)bias[o]) * scale[o];
                    requant(f, d.ops, d.nops, 0, d.zy, dst,
                            &want[((b * cd.oh + oy) * cd.ow + ox) * oc + o]);
                }
    int8_t *wr = q8c_weights(&cd, wt, oc);
    assert_non_null(wr);
    d.w = wr;
    void *blob = aligned_alloc(64, (q8g_size(kk, oc, 0) + 63) & ~(size_t)63);
    assert_non_null(blob);
    q8g_pack(blob, &d);
    q8c_run(&cd, x, col, n);
    q8g_run(blob, col, got, rows);
    for (int64_t i = 0; i < rows * oc; i++)
        if (want[i] != got[i])
            fail_msg("dense n %lld c %lld %lldx%lld oc %lld k %d s %d p %d dst %d variant %d: "
                     "output %lld is %d, want %d", (long long)n, (long long)c, (long long)h,
                     (long long)w, (long long)oc, k, stride, pad, dst, variant, (long long)i,
                     got[i], want[i]);
    free(wt), free(x), free(col), free(scale), free(bias), free(want), free(got), free(wr), free(blob);
}

static void test_dense_matches_reference(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();
    /* n, c, h, w, oc, kernel, stride, padding: a stem, odd sizes, a 5x5 */
    static const int shapes[][8] = {
        { 1, 3, 16, 16, 16, 3, 2, 1 }, { 2, 3, 9, 7, 8, 3, 1, 1 }, { 1, 2, 11, 10, 5, 5, 2, 2 },
        { 1, 4, 5, 6, 19, 3, 1, 0 }, { 1, 1, 4, 4, 3, 3, 2, 2 },
        /* window rows of 6 and 18 bytes (the copies of 4 to 7, of more than 16) */
        { 1, 2, 7, 8, 5, 3, 1, 1 }, { 1, 6, 6, 6, 4, 3, 2, 1 },
        /* no window inside the image: a kernel wider than the image */
        { 1, 2, 2, 2, 3, 5, 1, 2 },
    };
    rng g = { 41 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dst = Q8G_U8; dst <= Q8G_S8; dst++)
            for (int v = 0; v < 2; v++)
                dense_check(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4],
                            shapes[s][5], shapes[s][6], shapes[s][7], dst, v, &g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointwise_matches_reference),
        cmocka_unit_test(test_pointwise_extremes),
        cmocka_unit_test(test_dw_matches_reference),
        cmocka_unit_test(test_dense_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
