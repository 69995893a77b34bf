/* snapjpeg.h: a decoded frame, or a rectangle of it, as a JPEG.
 *
 * libavcodec's MJPEG encoder takes full-range YUV 4:2:0 (JFIF's BT.601);
 * libswscale converts the decoder's frame to it, range and matrix
 * included, at its own resolution.  The encoder and the scaler are kept
 * while the size stays the same.  Runs on the snapshot writer thread only. */
#ifndef LCNETD_SNAPJPEG_H
#define LCNETD_SNAPJPEG_H

#include <stddef.h>

struct AVFrame;
struct AVPacket;

/* Pixels of the decoded frame; w == 0: the whole frame. */
typedef struct snap_rect {
    int x, y, w, h;
} snap_rect;

typedef struct snap_jpeg snap_jpeg;

int snap_jpeg_new(snap_jpeg **out, char *err, size_t errlen);
void snap_jpeg_free(snap_jpeg *j);
/* fr, cropped to r (NULL: whole), as one JPEG in pkt (the caller unrefs
 * it).  A rectangle outside the frame is an error naming both sizes; x
 * and y are rounded down to even, as 4:2:0 chroma needs. */
int snap_jpeg_encode(snap_jpeg *j, const struct AVFrame *fr, const snap_rect *r,
                     struct AVPacket *pkt, char *err, size_t errlen);

#endif
