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

/* Window row ky of the pixels from column ox0 to ox1 - 1 of an output row,
 * whose source row is row (NULL: a padded row), into o (k bytes a pixel). */
static void window_row(const q8c_desc *d, const uint8_t *row, int ky, int64_t ox0, int64_t ox1,
                       uint8_t *o)
{
    int64_t k = q8c_k(d), span = d->kw * d->c;
    o += ky * span;
    for (int64_t ox = ox0; ox < ox1; ox++, o += k) {
        int64_t ix0 = ox * d->sw - d->pl;
        if (!row) {
            memset(o, d->fill, (size_t)span);
        } else if (ix0 >= 0 && ix0 + d->kw <= d->w) {
            copy_small(o, row + ix0 * d->c, span);
        } else {
            for (int kx = 0; kx < d->kw; kx++) {
                int64_t ix = ix0 + kx;
                if (ix < 0 || ix >= d->w)
                    memset(o + kx * d->c, d->fill, (size_t)d->c);
                else
                    memcpy(o + kx * d->c, row + ix * d->c, (size_t)d->c);
            }
        }
    }
}

void q8c_run(const q8c_desc *d, const uint8_t *x, uint8_t *col, int64_t n)
{
    int64_t k = q8c_k(d), rows = n * d->oh;
    /* the columns whose windows lie inside the image: [in0, in1) */
    int64_t last = d->w - d->kw + d->pl;     /* the last inside window's left edge, plus pl */
    int64_t in0 = (d->pl + d->sw - 1) / d->sw, in1 = last < 0 ? 0 : last / d->sw + 1;
    in0 = in0 > d->ow ? d->ow : in0;
    in1 = in1 < in0 ? in0 : in1 > d->ow ? d->ow : in1;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t b = r / d->oh, oy = r % d->oh;
        uint8_t *o = col + r * d->ow * k;
        /* one window row of every pixel at a time, its source row settled
         * once, the inside pixels in a loop of plain copies */
        for (int ky = 0; ky < d->kh; ky++) {
            int64_t iy = oy * d->sh - d->pt + ky;
            const uint8_t *row = iy < 0 || iy >= d->h ? NULL : x + (b * d->h + iy) * d->w * d->c;
            window_row(d, row, ky, 0, in0, o);
            if (row) {
                int64_t span = d->kw * d->c;
                const uint8_t *s = row + (in0 * d->sw - d->pl) * d->c;
                uint8_t *p = o + in0 * k + ky * span;
                for (int64_t ox = in0; ox < in1; ox++, s += d->sw * d->c, p += k)
                    copy_small(p, s, span);
            } else {
                window_row(d, row, ky, in0, in1, o + in0 * k);
            }
            window_row(d, row, ky, in1, d->ow, o + in1 * k);
        }
    }
}
