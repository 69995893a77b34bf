/* scale.h: decoded frames to model input pixels.
 *
 * One conversion straight from the decoder's planes to the model's size and
 * channel order (resample.c's filter, the stream's colour matrix); short-crop
 * reads only the source window the centre crop would keep.  Formats the
 * resampler cannot address (more than 8 bits, palettes, grey) go through
 * libswscale to RGB at their own size first.
 *
 * media/ is frame -> model input, for the daemon and the tools alike.  It
 * may include FFmpeg's libraries (libavformat and libavcodec only to
 * decode one picture, scl_load_image), the engine's public headers
 * (engine.h, simd.h), and nothing of daemon/ or config/: no sockets, no
 * systemd, no threads. */
#ifndef LCNETD_SCALE_H
#define LCNETD_SCALE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct AVFrame;

typedef struct scl scl;

/* The resize and channel order are the engine's (eng_info says what a
 * model wants): ENG_RESIZE_STRETCH stretches, any other short-crops, as
 * the engine's own default does; ENG_ORDER_BGR writes BGR, any other RGB. */
int scl_new(scl **out, int out_w, int out_h, eng_resize mode, eng_order order);
void scl_free(scl *s);
/* Convert f into dst (out_h rows of out_w*3 bytes, `stride` apart). */
int scl_frame(scl *s, const struct AVFrame *f, uint8_t *dst, int stride, char *err, size_t errlen);

/* The source window short-crop keeps for a w x h frame (exposed for tests). */
void scl_crop_window(int w, int h, int out_w, int out_h, int align_x, int align_y,
                     int *x0, int *y0, int *cw, int *ch);

/* Decode the first picture of a file (any image or video FFmpeg reads) and
 * convert it as above. */
int scl_load_image(const char *path, int out_w, int out_h, eng_resize mode, eng_order order,
                   uint8_t *dst, int stride, char *err, size_t errlen);

#endif
