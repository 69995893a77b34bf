/* q8_elem.c: int8 element loops.  See q8_elem.h.
 *
 * Built at -O3 (the Makefile) with an AVX2/FMA copy of each loop beside the
 * baseline one (simd.h); the loops keep to shapes the vectoriser takes: no libm
 * calls, no branches on data, channels innermost. */
#include "engine/dnn/q8_elem.h"

#include "engine/simd.h"

/* nearbyint(a) clamped to [lo, hi], for integer lo and hi of magnitude
 * below 2^22.  Clamping first gives the same integer (rounding is monotonic
 * and fixes integers), and keeps a small enough that adding 1.5 * 2^23
 * leaves no fraction bits: the add rounds in the current mode, as nearbyint
 * does, and the subtraction is exact.  NaN goes to lo. */
static inline float round_clamped(float a, float lo, float hi)
{
    a = a > lo ? a : lo;
    a = a < hi ? a : hi;
    return (a + 0x1.8p23f) - 0x1.8p23f;
}

/* An int8 byte v is (v ^ 0x80) - 128 as a uint8 one: one loop serves
 * both, and its bounds are arguments, not constants the compiler would
 * turn into branches. */
SIMD_TWICE(chmul, (const uint8_t *restrict x, const float *restrict f, int64_t rows, int64_t C,
                  uint8_t flip, float zx, float lo, float hi, float zy, uint8_t *restrict y),
           (x, f, rows, C, flip, zx, lo, hi, zy, y))
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < C; c++) {
            float v = (float)(uint8_t)(x[i * C + c] ^ flip) - zx;
            float q = round_clamped(v * f[c], lo, hi) + zy;
            y[i * C + c] = (uint8_t)(int32_t)q;
        }
}

/* zy is an integer: nearbyint(a) + zy in [0, 255] is nearbyint(a) in
 * [-zy, 255 - zy], plus zy */
void q8e_chmul(const uint8_t *x, const float *f, int64_t rows, int64_t C, int is_s8, float zx,
               float zy, uint8_t *y)
{
    if (is_s8)
        zx = 128.0f, zy = 0.0f;
    chmul(x, f, rows, C, is_s8 ? 0x80 : 0, zx, is_s8 ? -128.0f : -zy, is_s8 ? 127.0f : 255.0f - zy,
          zy, y);
}

SIMD_TWICE(colsum, (const uint8_t *restrict x, int64_t rows, int64_t C, uint8_t flip,
                   int32_t *restrict sum), (x, rows, C, flip, sum))
{
    for (int64_t c = 0; c < C; c++)
        sum[c] = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < C; c++)
            sum[c] += (uint8_t)(x[i * C + c] ^ flip);
}

/* as int8, each byte counts 128 less than its flipped uint8 */
void q8e_colsum(const uint8_t *x, int64_t rows, int64_t C, int is_s8, int32_t *sum)
{
    colsum(x, rows, C, is_s8 ? 0x80 : 0, sum);
    if (is_s8)
        for (int64_t c = 0; c < C; c++)
            sum[c] -= (int32_t)(128 * rows);
}
