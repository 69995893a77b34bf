/* q8_chan.c: see q8_chan.h.  Portable C: the compilers vectorise the
 * inner loops over channels (Neon on arm64), and none of these is more
 * than a pass over one tensor. */
#include "engine/xnn/q8_chan.h"

#include <math.h>
#include <string.h>

static int8_t sat(float q)
{
    return (int8_t)(q <= -128 ? -128 : q >= 127 ? 127 : q);
}

/* Each byte has its own table, so no vector lookup serves eight of them:
 * eight bytes go in and out as one word, each looked up in its channel's
 * table, which keeps the loop to a shift, a load and an or a byte. */
void xq8_lutc(const int8_t *x, int8_t *y, size_t n, size_t c, const int8_t *tab)
{
    const uint8_t *t = (const uint8_t *)tab;
    for (size_t p = 0; p < n; p += c) {
        size_t j = 0;
        for (; j + 8 <= c; j += 8) {
            uint64_t v, r = 0;
            memcpy(&v, x + p + j, 8);
            const uint8_t *row = t + j * 256;
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++)
                r |= (uint64_t)row[k * 256 + ((v >> (8 * k)) & 255)] << (8 * k);
            memcpy(y + p + j, &r, 8);
        }
        for (; j < c; j++)
            y[p + j] = tab[j * 256 + (uint8_t)x[p + j]];
    }
}

void xq8_mean(const int8_t *x, int8_t *y, size_t n, size_t hw, size_t c, const float *cx,
              const float *cy)
{
    int32_t sum[c ? c : 1];
    for (size_t b = 0; b * hw * c < n; b++) {
        const int8_t *xb = x + b * hw * c;
        for (size_t j = 0; j < c; j++)
            sum[j] = 0;
        for (size_t p = 0; p < hw; p++)
            for (size_t j = 0; j < c; j++)
                sum[j] += xb[p * c + j];
        for (size_t j = 0; j < c; j++) {
            float r = cx[j] * (float)sum[j] / (float)hw;
            y[b * c + j] = sat(nearbyintf(r / cy[j]));
        }
    }
}

void xq8_cmul(const int8_t *x, const int8_t *g, int8_t *y, size_t n, size_t hw, size_t c,
              const float *cx, const float *cg, const float *cy)
{
    float f[c ? c : 1];
    for (size_t b = 0; b * hw * c < n; b++) {
        for (size_t j = 0; j < c; j++)
            f[j] = cg[j] * (float)g[b * c + j] * cx[j] / cy[j];
        const int8_t *xb = x + b * hw * c;
        int8_t *yb = y + b * hw * c;
        for (size_t p = 0; p < hw; p++)
            for (size_t j = 0; j < c; j++)
                yb[p * c + j] = sat(nearbyintf((float)xb[p * c + j] * f[j]));
    }
}

void xq8_deq(const int8_t *x, float *f, size_t n, size_t c, const float *cx, float s, int z)
{
    if (!cx) {
        for (size_t i = 0; i < n; i++)
            f[i] = s * (float)(x[i] - z);
        return;
    }
    for (size_t p = 0; p < n; p += c)
        for (size_t j = 0; j < c; j++)
            f[p + j] = cx[j] * (float)x[p + j];
}
