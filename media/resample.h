/* resample.h: antialiased bilinear resampling of one 8-bit image plane,
 * and the rows it makes to packed RGB.
 *
 * The filter is the triangle that PIL and torchvision call BILINEAR: on a
 * reduction it widens to the scale factor, so every source pixel of the
 * window counts (no aliasing of camera noise), and taps are clipped to the
 * plane and renormalised at its edges.  A window is given in the plane's
 * own coordinates, pixel centres at i + 0.5, and may be fractional (chroma
 * planes, crops).  No allocation per frame: the axes are built once per
 * source geometry.  Part of media/ (see scale.h for what it may include):
 * plain arithmetic on buffers, not even FFmpeg. */
#ifndef LCNETD_RESAMPLE_H
#define LCNETD_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* A plane of 8-bit samples, `step` bytes apart in a row (1 planar, 2 for
 * NV12's interleaved chroma, 3 for packed RGB). */
typedef struct rsm_plane {
    const uint8_t *data;
    ptrdiff_t stride;
    int step;
} rsm_plane;

/* The taps of one axis: output i reads `count[i]` samples from `first[i]`. */
typedef struct rsm_axis {
    int n, taps;               /* outputs, weights stored per output */
    int lo, span;              /* samples read, all outputs together */
    int *first, *count;
    float *w;
} rsm_axis;

/* Taps for `out` samples over [x0, x0 + len) of a plane `size` samples long. */
int rsm_axis_init(rsm_axis *a, int out, double x0, double len, int size);
void rsm_axis_free(rsm_axis *a);

/* Output rows [row, row + n) of plane p resampled by (ax, ay), n <= RSM_ROWS,
 * row r into dst + r * dst_stride.  work holds rsm_work_floats(ax) floats,
 * zeroed once when allocated; it carries nothing from one call to the next. */
#define RSM_ROWS 8
size_t rsm_work_floats(const rsm_axis *ax);
void rsm_rows(const rsm_plane *p, const rsm_axis *ax, const rsm_axis *ay, int row, int n, float *work,
              float *dst, ptrdiff_t dst_stride);

#ifdef LCNETD_TESTING
extern int rsm_test_portable;   /* 1: the loops every CPU has, not the AVX2 ones */
#endif

/* YCbCr rows to RGB in place: R = m0 (Y - m1) + m2 Cr, G = m0 (Y - m1) -
 * m3 Cb - m4 Cr, B = m0 (Y - m1) + m5 Cb, with Cb, Cr centred on 128. */
void rsm_yuv_to_rgb(float *y, float *u, float *v, int n, const float m[6]);

/* Three rows of floats to n packed 8-bit pixels (p0 p1 p2), rounded, clamped. */
void rsm_pack(const float *p0, const float *p1, const float *p2, int n, uint8_t *out);

#endif
