/* q8_lut.c: see q8_lut.h.
 *
 * The tables run over every activation of the network, a byte at a time:
 * as a scalar loop they cost as much as a good share of XNNPACK's int8
 * convolutions.  On arm64 a Neon TBL looks up 16 bytes in a 64-byte table
 * and gives 0 for an index past it, so four lookups, each with the index
 * moved down by 64, ORed together, read the whole 256-byte table. */
#include "engine/xnn/q8_lut.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

void xq8_lut(const int8_t *x, int8_t *y, size_t n, const int8_t lut[256])
{
    size_t i = 0;
#if defined(__aarch64__)
    const uint8_t *t = (const uint8_t *)lut;
    uint8x16x4_t t0 = vld1q_u8_x4(t), t1 = vld1q_u8_x4(t + 64), t2 = vld1q_u8_x4(t + 128),
                 t3 = vld1q_u8_x4(t + 192);
    const uint8x16_t k64 = vdupq_n_u8(64);
    for (; i + 16 <= n; i += 16) {
        uint8x16_t a = vld1q_u8((const uint8_t *)x + i), b = vsubq_u8(a, k64),
                   c = vsubq_u8(b, k64), d = vsubq_u8(c, k64);
        uint8x16_t r = vorrq_u8(vorrq_u8(vqtbl4q_u8(t0, a), vqtbl4q_u8(t1, b)),
                                vorrq_u8(vqtbl4q_u8(t2, c), vqtbl4q_u8(t3, d)));
        vst1q_u8((uint8_t *)y + i, r);
    }
#endif
    for (; i < n; i++)
        y[i] = lut[(uint8_t)x[i]];
}
