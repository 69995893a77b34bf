/* json.h: building one JSON line at a time into a growable buffer.
 *
 * The daemon's events are small flat objects written by hand; this is the
 * part that is easy to get wrong: escaping, invalid UTF-8 from a camera's
 * metadata or a client's bytes, numbers that printf would write as "nan",
 * and the time format.  Whatever goes in, what comes out is valid JSON and
 * valid UTF-8, with no raw newline (a line is one event).
 *
 * Out of memory is sticky: once an append fails the buffer stays failed and
 * every later call is a no-op returning JSON_ENOMEM, so a caller can build a
 * whole object and check once (json_take returns NULL).
 *
 *     json_buf b = JSON_BUF_INIT;
 *     json_begin(&b);
 *     json_key(&b, "event"); json_str(&b, "label");
 *     json_key(&b, "score"); json_num(&b, 0.93);
 *     json_end(&b);
 *     char *line = json_take(&b);           // caller frees; NULL: out of memory
 */
#ifndef LCNETD_JSON_H
#define LCNETD_JSON_H

#include <stddef.h>
#include <time.h>

enum { JSON_OK = 0, JSON_ENOMEM = -1 };

typedef struct json_buf {
    char *s;        /* NUL-terminated once anything was written */
    size_t len;
    size_t cap;
    int failed;     /* an allocation failed: the content is incomplete */
} json_buf;

#define JSON_BUF_INIT { NULL, 0, 0, 0 }

/* "2026-11-24T10:00:01.233Z" plus NUL. */
enum { JSON_TIME_LEN = 25 };

void json_release(json_buf *b);            /* frees; b is empty and usable again */
void json_clear(json_buf *b);              /* empties, keeps the memory and clears `failed` */
/* Hands the text over (caller frees) and leaves b empty; NULL if failed. */
char *json_take(json_buf *b);

/* Bytes as they are: the caller vouches they are JSON. */
int json_raw(json_buf *b, const char *s, size_t n);

/* Structure.  json_key and json_item put the comma in when the previous
 * byte is not the opening bracket, so callers never track "first". */
int json_begin(json_buf *b);               /* { */
int json_end(json_buf *b);                 /* } */
int json_array_begin(json_buf *b);         /* [ */
int json_array_end(json_buf *b);           /* ] */
int json_key(json_buf *b, const char *key);      /* [,]"key": (key escaped too) */
int json_item(json_buf *b);                /* [,] before an array element */

/* Values. */
int json_str(json_buf *b, const char *s);        /* NULL writes null */
int json_strn(json_buf *b, const char *s, size_t n);  /* may hold NUL bytes */
int json_num(json_buf *b, double v);       /* %.6g; NaN and infinities write null */
int json_int(json_buf *b, long long v);
int json_uint(json_buf *b, unsigned long long v);
int json_bool(json_buf *b, int v);
int json_null(json_buf *b);
/* ISO-8601 UTC with milliseconds, quoted; a time gmtime cannot express
 * in four-digit years, or a tv_nsec outside [0, 1e9), writes null. */
int json_time(json_buf *b, const struct timespec *ts);

/* The same time text, unquoted, for logs: 0, or -1 (out[0] = 0) as above. */
int json_format_time(char out[JSON_TIME_LEN], const struct timespec *ts);

#endif
