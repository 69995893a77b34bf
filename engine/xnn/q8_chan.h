/* q8_chan.h: the int8 XNNPACK plan's loops over tensors with one scale per
 * channel (calibrated float models), which XNNPACK's int8 operators do not
 * take: a byte table per channel, means over the pixels, the
 * squeeze-excitation product, bytes back to floats.  NHWC bytes, channels
 * innermost; the arithmetic is the oneDNN int8 plan's, step for step, so
 * that the two backends round alike.  Private to engine/xnn/. */
#ifndef LCNETD_XNN_Q8_CHAN_H
#define LCNETD_XNN_Q8_CHAN_H

#include <stddef.h>
#include <stdint.h>

/* y[p, c] = tab[c][(uint8_t)x[p, c]] over n bytes of c channels */
void xq8_lutc(const int8_t *x, int8_t *y, size_t n, size_t c, const int8_t *tab);

/* y[b, c] = cy[c]-quantised mean over hw pixels of cx[c] * x[b, p, c], n
 * bytes of x in all */
void xq8_mean(const int8_t *x, int8_t *y, size_t n, size_t hw, size_t c, const float *cx,
              const float *cy);

/* y[b, p, c] = x[b, p, c] * cx[c] * (cg[c] * g[b, c]) / cy[c], n bytes of x */
void xq8_cmul(const int8_t *x, const int8_t *g, int8_t *y, size_t n, size_t hw, size_t c,
              const float *cx, const float *cg, const float *cy);

/* f[i] = cx[i % c] * x[i], or s * (x[i] - z) when cx is NULL */
void xq8_deq(const int8_t *x, float *f, size_t n, size_t c, const float *cx, float s, int z);

#endif
