/* f32_pixels.h: interleaved RGB bytes to the float input of the first
 * layer, each byte through its channel's table (the normalisation), in
 * the layout that layer reads: planar NCHW or interleaved NHWC.
 *
 * The table lookups are the whole of the work, so the values are the
 * table's own, bit for bit, on every path: on AVX2 CPUs eight lookups at a
 * time by gathers, elsewhere one by one.  Rows are split over the calling
 * thread's OpenMP team (the plan's layers' team) when the frame is big
 * enough to pay for waking it.  Private to engine/dnn/ and its
 * tests. */
#ifndef LCNETD_DNN_F32_PIXELS_H
#define LCNETD_DNN_F32_PIXELS_H

#include <stdint.h>

/* One frame of h rows of w pixels (row y at src + y * stride, 3 bytes a
 * pixel) into dst: planes of h * w floats when !nhwc, else rows of w * 3. */
void f32_pixels(float *dst, int h, int w, int nhwc, const uint8_t *src, int stride,
                const float (*lut)[256]);

#endif
