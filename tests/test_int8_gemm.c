/* int8_gemm tests: the AVX2 pointwise kernel against a plain C reference
 * that spells out, one scalar at a time, the arithmetic oneDNN's int8
 * convolutions do (engine/dnn/int8_gemm.h).  Random shapes, with channel
 * counts that fill no vector and extreme bytes (0 and 255 against -128 and
 * 127 over thousands of channels); every output compared bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/dnn/int8_gemm.h"

typedef struct {
    uint64_t s;
} rng;

static uint32_t next(rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}

/* The reference: accumulate exactly, then each float step in oneDNN's order. */
static void reference(const q8g_desc *d, const uint8_t *x, int64_t rows, void *y)
{
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
            for (int i = 0; i < d->nops; i++) {
                const q8g_op *op = &d->ops[i];
                switch (op->kind) {
                case Q8G_RELU: f = f > 0 ? f : f * op->a; break;
                case Q8G_LINEAR: f = fmaf(f, op->a, op->b); break;
                case Q8G_CLIP: f = fminf(fmaxf(f, op->a), op->b); break;
                case Q8G_HARDSWISH: {
                    float t = fminf(fmaxf(f + 3.0f, 0.0f), 6.0f);
                    f = f * (t / 6.0f);
                    break;
                }
                case Q8G_MUL: f *= d->mul[o]; break;
                case Q8G_ROUND: f = nearbyintf(f); break;
                }
            }
            if (d->zy)
                f += (float)d->zy;
            if (d->dst == Q8G_F32) {
                ((float *)y)[r * d->oc + o] = f;
            } else if (d->dst == Q8G_U8) {
                f = nearbyintf(fminf(fmaxf(f, 0.0f), 255.0f));
                ((uint8_t *)y)[r * d->oc + o] = (uint8_t)f;
            } else {
                f = nearbyintf(fminf(f, 127.0f));
                ((int8_t *)y)[r * d->oc + o] = (int8_t)(f < -128 ? -128 : f);
            }
        }
}

typedef enum { FILL_RANDOM, FILL_EXTREME } fill;

/* One layer of rows x k -> oc, both ways, compared byte for byte. */
static void check(int64_t rows, int64_t k, int64_t oc, int dst, fill how, int variant, rng *g)
{
    int8_t *w = malloc((size_t)(k * oc));
    uint8_t *x = malloc((size_t)(rows * k));
    float *scale = malloc(sizeof(float) * (size_t)oc), *mul = malloc(sizeof(float) * (size_t)oc);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)oc);
    size_t osz = dst == Q8G_F32 ? sizeof(float) : 1;
    uint8_t *want = malloc((size_t)(rows * oc) * osz), *got = malloc((size_t)(rows * oc) * osz);
    void *blob = aligned_alloc(64, (q8g_size(k, oc) + 63) & ~(size_t)63);
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
    q8g_desc d = { .k = k, .oc = oc, .w = w, .scale = scale, .bias = bias, .dst = dst };
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
            fail_msg("rows %lld k %lld oc %lld dst %d variant %d fill %d: output %lld "
                     "(row %lld, channel %lld) differs", (long long)rows, (long long)k,
                     (long long)oc, dst, variant, how, (long long)i, (long long)(i / oc),
                     (long long)(i % oc));
        }
    free(w), free(x), free(scale), free(mul), free(bias), free(want), free(got), free(blob);
}

static void test_kernel_matches_reference(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();             /* no AVX2 (or capped below it): the plan never calls it */
    static const int64_t shapes[][3] = {
        { 1, 1, 1 }, { 7, 3, 5 }, { 6, 16, 16 }, { 13, 17, 23 }, { 49, 64, 37 },
        { 100, 33, 130 }, { 5, 1280, 19 }, { 2, 4096, 9 }, { 224, 16, 32 },
    };
    rng g = { 17 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dst = Q8G_U8; dst <= Q8G_F32; dst++)
            for (int v = 0; v < 4; v++)
                check(shapes[s][0], shapes[s][1], shapes[s][2], dst, FILL_RANDOM, v, &g);
}

/* All bytes 255 or 0 against weights of 127 and -128: where oneDNN's
 * kernels without VNNI would saturate int16 pair sums. */
static void test_kernel_extremes(void **state)
{
    (void)state;
    if (!q8g_cpu_ok())
        skip();
    rng g = { 5 };
    for (int dst = Q8G_U8; dst <= Q8G_F32; dst++)
        for (int v = 0; v < 4; v++) {
            check(11, 4095, 21, dst, FILL_EXTREME, v, &g);
            check(3, 2, 8, dst, FILL_EXTREME, v, &g);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_matches_reference),
        cmocka_unit_test(test_kernel_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
