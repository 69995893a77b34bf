/* int8_post_avx2.h: the post-ops of int8_gemm.h's list on vectors of 8
 * floats, each as oneDNN 2.6's x86 eltwise code computes it (a division
 * where it divides, a fused multiply-add where it fuses), so that our
 * kernels give oneDNN's bytes.  Shared by the pointwise and depthwise
 * kernels (int8_gemm_avx2.c, int8_dw_avx2.c); private to them. */
#ifndef LCNETD_DNN_INT8_POST_AVX2_H
#define LCNETD_DNN_INT8_POST_AVX2_H

#include <immintrin.h>

#include "engine/dnn/int8_gemm.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* The ops on n vectors f; Q8G_MUL multiplies vector i by the 8 floats at
 * mul + i * mstride.  Each op for all vectors at once: its constants and
 * its kind are settled once per call, not per vector. */
AVX2_INLINE void q8p_ops(const q8g_op *ops, int nops, __m256 *f, int n, const float *mul,
                         int mstride)
{
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < nops; i++) {
        const q8g_op *op = &ops[i];
        const __m256 a = _mm256_set1_ps(op->a), c = _mm256_set1_ps(op->b);
        switch (op->kind) {
        case Q8G_RELU:
#pragma GCC unroll 12
            for (int r = 0; r < n; r++)
                if (op->a == 0)
                    f[r] = _mm256_max_ps(f[r], zero);
                else
                    f[r] = _mm256_blendv_ps(_mm256_mul_ps(f[r], a), f[r],
                                            _mm256_cmp_ps(f[r], zero, _CMP_GT_OS));
            break;
        case Q8G_LINEAR:
#pragma GCC unroll 12
            for (int r = 0; r < n; r++)
                f[r] = _mm256_fmadd_ps(f[r], a, c);
            break;
        case Q8G_CLIP:
#pragma GCC unroll 12
            for (int r = 0; r < n; r++)
                f[r] = _mm256_min_ps(_mm256_max_ps(f[r], a), c);
            break;
        case Q8G_HARDSWISH: {
            /* oneDNN divides t = min(max(x + 3, 0), 6) by 6.  A division
             * costs more than the rest of the requantisation, so: q = t *
             * (1/6) rounded, the remainder t - 6q exact by a fused
             * multiply-add, q corrected by it.  That is t / 6 correctly
             * rounded for every float t in [2^-125, 6] (checked against the
             * division for each one); t here is 0 or at least 2^-22 (x + 3
             * of a float x), and 0 stays 0. */
            const __m256 three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
            const __m256 sixth = _mm256_set1_ps(1.0f / 6.0f), minus6 = _mm256_set1_ps(-6.0f);
#pragma GCC unroll 12
            for (int r = 0; r < n; r++) {
                __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(f[r], three), zero), six);
                __m256 q = _mm256_mul_ps(t, sixth);
                q = _mm256_fmadd_ps(_mm256_fmadd_ps(q, minus6, t), sixth, q);
                f[r] = _mm256_mul_ps(f[r], q);
            }
            break;
        }
        case Q8G_MUL:
#pragma GCC unroll 12
            for (int r = 0; r < n; r++)
                f[r] = _mm256_mul_ps(f[r], _mm256_load_ps(mul + r * mstride));
            break;
        case Q8G_ROUND:
#pragma GCC unroll 12
            for (int r = 0; r < n; r++)
                f[r] = _mm256_round_ps(f[r], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            break;
        }
    }
}

/* f rounded to int32 for a byte of the top hi (255 for u8, 127 for s8):
 * clamped at the top only.  The bottom needs no clamp, as the packs that
 * follow saturate it to the same byte: a value below the type's range
 * rounds to a lower int32, or converts to INT32_MIN when past it, and
 * either packs to 0 (u8) or -128 (s8).  hi comes first so that a NaN, if
 * one came, went to INT32_MIN as a clamp at the bottom would take it. */
AVX2_INLINE __m256i q8p_top(__m256 f, __m256 hi)
{
    return _mm256_cvtps_epi32(_mm256_min_ps(hi, f));
}

#endif
