/* crop.h: a region's crop, as configured, to pixels of one decoded frame.
 *
 * The config says where a region is in pixels or percent; only a frame's
 * size makes that a rectangle, and a camera may change its size mid-stream,
 * so each frame size is resolved again.  A crop that does not fit is an
 * error for the caller to report, never clamped: a region quietly moved or
 * shrunk would classify something the operator did not point at.  Part of
 * media/ (see scale.h): plain arithmetic. */
#ifndef LCNETD_CROP_H
#define LCNETD_CROP_H

#include <stddef.h>

#include "media/scale.h"

/* x, y, width, height; bit i of pct set: v[i] is in percent of the frame's
 * width (x, width) or height (y, height), else in pixels. */
typedef struct scl_crop {
    double v[4];
    unsigned pct;
} scl_crop;

/* The pixel rectangle of crop c in a w x h frame.  Percentages round to the
 * nearest pixel; a percent offset and size round at both edges, so regions
 * that tile in percent tile in pixels.  0, or -1 with a message that starts
 * with `who` ("region gate", or "stream yard" for a stream's own crop) and
 * names the crop, its size and the frame's: outside the frame, or less than
 * a pixel. */
int scl_crop_resolve(const scl_crop *c, int w, int h, const char *who, scl_rect *out, char *err,
                     size_t errlen);

#endif
