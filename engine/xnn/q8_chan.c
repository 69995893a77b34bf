/* q8_chan.c: see q8_chan.h.  Portable C: the compilers vectorise the
 * inner loops over channels (Neon on arm64), and none of these is more
 * than a pass over one tensor. */
#include "engine/xnn/q8_chan.h"

#include <math.h>

static int8_t sat(float q)
{
    return (int8_t)(q <= -128 ? -128 : q >= 127 ? 127 : q);
}

void xq8_lutc(const int8_t *x, int8_t *y, size_t n, size_t c, const int8_t *tab)
{
    for (size_t p = 0; p < n; p += c)
        for (size_t j = 0; j < c; j++)
            y[p + j] = tab[j * 256 + (uint8_t)x[p + j]];
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
