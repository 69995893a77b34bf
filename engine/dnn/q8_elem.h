/* q8_elem.h: the int8 plan's element loops that are not oneDNN primitives
 * (the squeeze-excitation channel product and global means), written so
 * that they vectorise.  Results are bit-identical to the scalar formulas in
 * the comments: these loops run once per frame on every SE block, where
 * scalar code with a libm call per byte would be a share of an int8
 * inference worth the vectorising (docs/int8.md). */
#ifndef LCNETD_Q8_ELEM_H
#define LCNETD_Q8_ELEM_H

#include <stdint.h>

/* rows x C bytes: y = clamp(nearbyint(x' * f[c]) + zy) with x' = (int8)x
 * and the int8 range when is_s8, else x' = x - zx and the uint8 range. */
void q8e_chmul(const uint8_t *x, const float *f, int64_t rows, int64_t C, int is_s8, float zx,
               float zy, uint8_t *y);

/* sum[c] = the sum over rows of x[row * C + c], as int8 when is_s8;
 * rows * 128 must fit an int32 (rows < 2^23). */
void q8e_colsum(const uint8_t *x, int64_t rows, int64_t C, int is_s8, int32_t *sum);

#endif
