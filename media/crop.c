/* crop.c: crops to pixel rectangles.  See crop.h. */
#include "media/crop.h"

#include <math.h>
#include <stdio.h>

static long to_pixels(double v, int pct, int size)
{
    return pct ? (long)floor(v * size / 100.0 + 0.5) : (long)v;
}

static int fmt_crop(const scl_crop *c, char *buf, size_t len)
{
    return snprintf(buf, len, "%g%s,%g%s,%g%s,%g%s", c->v[0], (c->pct & 1) ? "%" : "", c->v[1],
                    (c->pct & 2) ? "%" : "", c->v[2], (c->pct & 4) ? "%" : "", c->v[3],
                    (c->pct & 8) ? "%" : "");
}

int scl_crop_resolve(const scl_crop *c, int w, int h, const char *who, scl_rect *out, char *err,
                     size_t errlen)
{
    const int size[2] = { w, h };
    long at[2], len[2];
    char text[96];

    for (int a = 0; a < 2; a++) {
        int po = (c->pct >> a) & 1, pl = (c->pct >> (a + 2)) & 1;
        at[a] = to_pixels(c->v[a], po, size[a]);
        len[a] = po && pl ? to_pixels(c->v[a] + c->v[a + 2], 1, size[a]) - at[a]
                          : to_pixels(c->v[a + 2], pl, size[a]);
    }
    fmt_crop(c, text, sizeof text);
    if (len[0] < 1 || len[1] < 1) {
        snprintf(err, errlen, "%s: crop %s is less than a pixel of the %dx%d frame "
                 "(expected a larger crop)", who, text, w, h);
        return -1;
    }
    if (at[0] < 0 || at[1] < 0 || at[0] + len[0] > w || at[1] + len[1] > h) {
        snprintf(err, errlen, "%s: crop %s (%ldx%ld at %ld,%ld) is outside the %dx%d frame "
                 "(expected it within %dx%d pixels, or in percent)", who, text, len[0], len[1],
                 at[0], at[1], w, h, w, h);
        return -1;
    }
    *out = (scl_rect){ (int)at[0], (int)at[1], (int)len[0], (int)len[1] };
    return 0;
}
