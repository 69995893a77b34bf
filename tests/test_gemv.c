/* Tests of lcnetd's own fp32 matrix-vector kernel for AVX2 CPUs
 * (engine/dnn/f32_gemv.h) against a reference that sums in double: output
 * counts that fill no block and no vector, weights stored either way
 * round, with and without a bias, each activation the kernel takes; and
 * the ones it does not take, refused.  Its sums run in another order than
 * the reference's, so outputs are compared to within a few float roundings
 * of the sum's magnitude. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/dnn/f32_gemv.h"
#include "engine/engine.h"

static uint64_t seed = 7;

static float frand(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(seed >> 40) / (double)(1 << 24) * 2.0 - 1.0);
}

static float act(float f, const q8g_op *ops, int nops)
{
    for (int i = 0; i < nops; i++) {
        const q8g_op *op = &ops[i];
        switch (op->kind) {
        case Q8G_RELU: f = f > 0 ? f : f * op->a; break;
        case Q8G_LINEAR: f = fmaf(f, op->a, op->b); break;
        case Q8G_CLIP: f = fminf(fmaxf(f, op->a), op->b); break;
        case Q8G_HARDSWISH: f = f * (fminf(fmaxf(f + 3.0f, 0.0f), 6.0f) / 6.0f); break;
        default: fail_msg("op %d is not one the kernel takes", op->kind);
        }
    }
    return f;
}

static void check(int64_t k, int64_t n, int kn, int with_bias, const q8g_op *ops, int nops)
{
    float *w = malloc(sizeof(float) * (size_t)(k * n)), *x = malloc(sizeof(float) * (size_t)k);
    float *b = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    assert_non_null(w);
    assert_non_null(x);
    assert_non_null(b);
    assert_non_null(y);
    for (int64_t i = 0; i < k * n; i++)
        w[i] = frand();
    for (int64_t i = 0; i < k; i++)
        x[i] = 4.0f * frand();
    for (int64_t o = 0; o < n; o++)
        b[o] = frand();
    f32v_desc d = { .k = k, .n = n, .w = w, .kn = kn, .bias = with_bias ? b : NULL, .nops = nops };
    if (nops)
        memcpy(d.ops, ops, sizeof(q8g_op) * (size_t)nops);
    assert_true(f32v_fits(&d));
    void *blob = aligned_alloc(32, f32v_size(&d));
    assert_non_null(blob);
    f32v_pack(blob, &d);
    for (int64_t o = 0; o < n; o++)
        y[o] = NAN;
    f32v_run(blob, x, y);
    for (int64_t o = 0; o < n; o++) {
        double sum = with_bias ? b[o] : 0.0, mag = fabs(sum);
        for (int64_t i = 0; i < k; i++) {
            double p = (double)(kn ? w[i * n + o] : w[o * k + i]) * x[i];
            sum += p;
            mag += fabs(p);
        }
        /* the activations' slopes stay below 2 */
        double want = act((float)sum, ops, nops), tol = 2.0 * (k + 2) * FLT_EPSILON * mag + 1e-6;
        if (!(fabs(y[o] - want) <= tol))
            fail_msg("k %lld n %lld kn %d bias %d ops %d: output %lld is %.9g, want %.9g (+-%.3g)",
                     (long long)k, (long long)n, kn, with_bias, nops, (long long)o, y[o], want, tol);
    }
    free(blob);
    free(w);
    free(x);
    free(b);
    free(y);
}

static void test_matches_reference(void **state)
{
    (void)state;
    f32v_desc probe = { .k = 1, .n = 1 };
    if (!f32v_fits(&probe)) {
        print_message("skipped: no AVX2 on this CPU (or oneDNN capped below it): plans never call the kernel\n");
        skip();
    }
    static const int64_t shapes[][2] = {
        { 1, 1 }, { 3, 5 }, { 16, 33 }, { 7, 64 }, { 100, 31 }, { 512, 1280 }, { 1280, 1000 },
    };
    const q8g_op hardswish = { Q8G_HARDSWISH, 0, 0 }, leaky = { Q8G_RELU, 0.1f, 0 };
    const q8g_op hardsigmoid[2] = { { Q8G_LINEAR, 0.2f, 0.5f }, { Q8G_CLIP, 0.0f, 1.0f } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kn = 0; kn < 2; kn++) {
            check(shapes[s][0], shapes[s][1], kn, 1, NULL, 0);
            check(shapes[s][0], shapes[s][1], kn, 0, &hardswish, 1);
            check(shapes[s][0], shapes[s][1], kn, 1, &leaky, 1);
            check(shapes[s][0], shapes[s][1], kn, 1, hardsigmoid, 2);
        }
}

/* A per-channel multiply or a rounding has no place in a float layer's
 * chain: the kernel refuses them, and the plan keeps oneDNN's step. */
static void test_refuses_other_ops(void **state)
{
    (void)state;
    f32v_desc d = { .k = 4, .n = 4, .nops = 1 };
    d.ops[0] = (q8g_op){ Q8G_MUL, 0, 0 };
    assert_false(f32v_fits(&d));
    d.ops[0] = (q8g_op){ Q8G_ROUND, 0, 0 };
    assert_false(f32v_fits(&d));
    d.nops = 0;
    d.k = 0;
    assert_false(f32v_fits(&d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_refuses_other_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
