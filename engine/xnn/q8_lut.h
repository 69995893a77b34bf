/* q8_lut.h: the byte tables of the int8 XNNPACK plan (q8.c): HardSwish,
 * HardSigmoid, x * HardSigmoid(x) and the like, which XNNPACK has no int8
 * operator for.  Private to engine/xnn/. */
#ifndef LCNETD_XNN_Q8_LUT_H
#define LCNETD_XNN_Q8_LUT_H

#include <stddef.h>
#include <stdint.h>

/* y[i] = lut[(uint8_t)x[i]] for n bytes; x and y may be the same. */
void xq8_lut(const int8_t *x, int8_t *y, size_t n, const int8_t lut[256]);

#endif
