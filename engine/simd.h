/* simd.h: a loop compiled twice, for every x86-64 CPU and for x86-64-v3
 * (AVX2, FMA), and picked per call by eng_cpu_features(): so a run with
 * ONEDNN_MAX_CPU_ISA capped below AVX2 takes the portable copy, as a CPU
 * without AVX2 would.  Elsewhere the one copy is the portable one.
 *
 *   SIMD_TWICE(scale, (float *restrict x, int n, float k), (x, n, k))
 *   {
 *       for (int i = 0; i < n; i++) x[i] *= k;
 *   }
 *
 * defines `static void scale(...)`; the block is its body.
 *
 * Public beside engine.h: media/resample.c's loops use it too, so that one
 * ISA cap holds the engine's and the scaler's vector loops alike.  It needs
 * nothing of the engine but eng_cpu_features(). */
#ifndef LCNETD_SIMD_H
#define LCNETD_SIMD_H

#include "engine/engine.h"

#define SIMD_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__)
#define SIMD_TWICE(name, params, args)                                                        \
    SIMD_INLINE void name##_body params;                                                      \
    __attribute__((target("arch=x86-64-v3"))) static void name##_v3 params { name##_body args; } \
    static void name##_base params { name##_body args; }                                      \
    static void name params                                                                   \
    {                                                                                         \
        if (eng_cpu_features() & ENG_CPU_AVX2)                                                \
            name##_v3 args;                                                                   \
        else                                                                                  \
            name##_base args;                                                                 \
    }                                                                                         \
    SIMD_INLINE void name##_body params
#else
#define SIMD_TWICE(name, params, args) static void name params
#endif

#endif
