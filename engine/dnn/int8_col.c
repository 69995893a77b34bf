/* int8_col.c: a dense convolution's windows as rows (see int8_col.h). */
#include "engine/dnn/int8_col.h"

#include <stdlib.h>
#include <string.h>

int64_t q8c_k(const q8c_desc *d)
{
    return d->c * d->kh * d->kw;
}

int8_t *q8c_weights(const q8c_desc *d, const int8_t *w, int64_t oc)
{
    int64_t k = q8c_k(d), khw = d->kh * d->kw;
    int8_t *o = malloc((size_t)(oc * k));
    if (!o)
        return NULL;
    for (int64_t n = 0; n < oc; n++)
        for (int64_t c = 0; c < d->c; c++)
            for (int64_t t = 0; t < khw; t++)
                o[n * k + t * d->c + c] = w[n * k + c * khw + t];
    return o;
}

/* n bytes, n small (a window row: a few pixels of a few channels): fixed
 * size copies the compiler inlines, overlapping where n is between two
 * sizes, instead of a library call per window row. */
static inline void copy_small(uint8_t *dst, const uint8_t *src, int64_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else {
        memcpy(dst, src, (size_t)n);
    }
}

void q8c_run(const q8c_desc *d, const uint8_t *x, uint8_t *col, int64_t n)
{
    int64_t k = q8c_k(d), rows = n * d->oh, span = d->kw * d->c;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t b = r / d->oh, oy = r % d->oh;
        uint8_t *o = col + r * d->ow * k;
        for (int64_t ox = 0; ox < d->ow; ox++, o += k) {
            int64_t ix0 = ox * d->sw - d->pl;
            for (int ky = 0; ky < d->kh; ky++) {
                int64_t iy = oy * d->sh - d->pt + ky;
                uint8_t *dst = o + ky * span;
                if (iy < 0 || iy >= d->h) {
                    memset(dst, d->fill, (size_t)span);
                    continue;
                }
                const uint8_t *row = x + (b * d->h + iy) * d->w * d->c;
                if (ix0 >= 0 && ix0 + d->kw <= d->w) {
                    copy_small(dst, row + ix0 * d->c, span);
                    continue;
                }
                for (int kx = 0; kx < d->kw; kx++) {
                    int64_t ix = ix0 + kx;
                    if (ix < 0 || ix >= d->w)
                        memset(dst + kx * d->c, d->fill, (size_t)d->c);
                    else
                        memcpy(dst + kx * d->c, row + ix * d->c, (size_t)d->c);
                }
            }
        }
    }
}
