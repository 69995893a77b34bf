/* scale.h: decoded frames to model input pixels.
 *
 * One conversion straight from the decoder's planes to the model's size and
 * channel order (resample.c's filter, the stream's colour matrix); short-crop
 * reads only the source window the centre crop would keep.  Formats the
 * resampler cannot address (more than 8 bits, palettes, grey) go through
 * libswscale to RGB at their own size first. */
#ifndef LCNETD_SCALE_H
#define LCNETD_SCALE_H

#include <stddef.h>
#include <stdint.h>

struct AVFrame;

typedef enum { SCL_SHORT_CROP = 0, SCL_STRETCH } scl_mode;
typedef enum { SCL_RGB = 0, SCL_BGR } scl_order;

typedef struct scl scl;

int scl_new(scl **out, int out_w, int out_h, scl_mode mode, scl_order order);
void scl_free(scl *s);
/* Convert f into dst (out_h rows of out_w*3 bytes, `stride` apart). */
int scl_frame(scl *s, const struct AVFrame *f, uint8_t *dst, int stride, char *err, size_t errlen);

/* The source window short-crop keeps for a w x h frame (exposed for tests). */
void scl_crop_window(int w, int h, int out_w, int out_h, int align_x, int align_y,
                     int *x0, int *y0, int *cw, int *ch);

/* Decode the first picture of a file (any image or video FFmpeg reads) and
 * convert it as above. */
int scl_load_image(const char *path, int out_w, int out_h, scl_mode mode, scl_order order,
                   uint8_t *dst, int stride, char *err, size_t errlen);

#endif
