/* file.h: opening the files a model is made of (model, weights, labels,
 * preprocessing, calibration).
 *
 * A path may name a FIFO, a device or a directory by mistake or by malice;
 * opening one must not block the loader or read without end.  These open
 * without blocking, refuse anything but a regular file (a symlink counts as
 * what it points to) and read no more than a bound. */
#ifndef LCNETD_FILE_H
#define LCNETD_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A descriptor open for reading on a regular file, in blocking mode from
 * here on, with its size in *size; or an ENG_ code and a line naming the
 * path and what it is instead (FIFO, directory, device, ...). */
int eng_file_open(const char *path, size_t *size, char *err, size_t errlen);

/* The same as a stdio stream, for line readers; NULL with the message. */
FILE *eng_file_fopen(const char *path, int *code, char *err, size_t errlen);

/* The whole file, NUL-terminated, if it is at most max bytes; caller frees *buf. */
int read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
              char *err, size_t errlen);

#endif
