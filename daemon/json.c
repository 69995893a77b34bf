/* json.c: JSON line building.  See json.h.
 *
 * Strings are escaped byte by byte with runs of plain bytes copied in one
 * go; UTF-8 is checked as it passes (RFC 3629: no overlongs, no surrogates,
 * nothing past U+10FFFF) and each maximal invalid subpart becomes one
 * U+FFFD, the replacement practice Unicode recommends, so a truncated
 * multi-byte character costs one replacement and not three. */
#include "daemon/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(json_buf *b, size_t extra)
{
    size_t want, cap;
    char *s;

    if (b->failed)
        return JSON_ENOMEM;
    if (extra > SIZE_MAX - 1 - b->len)
        goto fail;
    want = b->len + extra + 1;                 /* + NUL */
    if (want <= b->cap)
        return JSON_OK;
    cap = b->cap ? b->cap : 128;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    if (!(s = realloc(b->s, cap)))
        goto fail;
    b->s = s;
    b->cap = cap;
    return JSON_OK;
fail:
    b->failed = 1;
    return JSON_ENOMEM;
}

/* Callers reserve first; this only copies. */
static void put(json_buf *b, const void *p, size_t n)
{
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

void json_release(json_buf *b)
{
    free(b->s);
    *b = (json_buf)JSON_BUF_INIT;
}

void json_clear(json_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->s)
        b->s[0] = 0;
}

char *json_take(json_buf *b)
{
    char *s;

    if (b->failed || reserve(b, 0) < 0) {      /* an empty buffer still gives "" */
        json_release(b);
        return NULL;
    }
    s = b->s;
    s[b->len] = 0;
    *b = (json_buf)JSON_BUF_INIT;
    return s;
}

int json_raw(json_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return JSON_ENOMEM;
    put(b, s, n);
    return JSON_OK;
}

static int put_char(json_buf *b, char c)
{
    return json_raw(b, &c, 1);
}

/* A comma unless the value or key is the first inside `open`. */
static int separate(json_buf *b, char open)
{
    if (b->failed)
        return JSON_ENOMEM;
    if (b->len == 0 || b->s[b->len - 1] == open)
        return JSON_OK;
    return put_char(b, ',');
}

int json_begin(json_buf *b) { return put_char(b, '{'); }
int json_end(json_buf *b) { return put_char(b, '}'); }
int json_array_begin(json_buf *b) { return put_char(b, '['); }
int json_array_end(json_buf *b) { return put_char(b, ']'); }
int json_item(json_buf *b) { return separate(b, '['); }

int json_key(json_buf *b, const char *key)
{
    if (separate(b, '{') < 0 || json_str(b, key) < 0)
        return JSON_ENOMEM;
    return put_char(b, ':');
}

/* Length of the well-formed UTF-8 sequence at s (2..4), or 0 with *bad set
 * to the length of the maximal subpart that is not (at least 1). */
static size_t utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;                         /* overlong */
        else if (c == 0xED)
            hi = 0x9F;                         /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;                         /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;                         /* past U+10FFFF */
    } else {
        *bad = 1;                              /* continuation, C0, C1, F5..FF */
        return 0;
    }
    for (i = 1; i < need && i < n; i++) {
        unsigned d = s[i];
        if (i == 1 ? d < lo || d > hi : d < 0x80 || d > 0xBF)
            break;
    }
    if (i == need)
        return need;
    *bad = i;
    return 0;
}

int json_strn(json_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    if (put_char(b, '"') < 0)
        return JSON_ENOMEM;
    while (i < n) {
        size_t run = i, len, bad = 0;
        char esc[6];
        unsigned c;

        while (run < n && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && json_raw(b, str + i, run - i) < 0)
            return JSON_ENOMEM;
        if ((i = run) >= n)
            break;
        c = s[i];
        if (c >= 0x80) {
            if ((len = utf8_len(s + i, n - i, &bad)) > 0) {
                if (json_raw(b, str + i, len) < 0)
                    return JSON_ENOMEM;
                i += len;
            } else {
                if (json_raw(b, "\xEF\xBF\xBD", 3) < 0)
                    return JSON_ENOMEM;
                i += bad;
            }
            continue;
        }
        esc[0] = '\\';
        len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:                               /* other controls and DEL */
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (json_raw(b, esc, len) < 0)
            return JSON_ENOMEM;
        i++;
    }
    return put_char(b, '"');
}

int json_str(json_buf *b, const char *s)
{
    return s ? json_strn(b, s, strlen(s)) : json_null(b);
}

static int put_text(json_buf *b, const char *s)
{
    return json_raw(b, s, strlen(s));
}

int json_num(json_buf *b, double v)
{
    char t[40];

    if (!isfinite(v))
        return json_null(b);
    snprintf(t, sizeof t, "%.6g", v);
    /* A locale with a decimal comma would make this two numbers. */
    for (char *p = t; *p; p++)
        if (*p == ',')
            *p = '.';
    return put_text(b, t);
}

int json_int(json_buf *b, long long v)
{
    char t[24];

    snprintf(t, sizeof t, "%lld", v);
    return put_text(b, t);
}

int json_uint(json_buf *b, unsigned long long v)
{
    char t[24];

    snprintf(t, sizeof t, "%llu", v);
    return put_text(b, t);
}

int json_bool(json_buf *b, int v) { return put_text(b, v ? "true" : "false"); }
int json_null(json_buf *b) { return put_text(b, "null"); }

int json_format_time(char out[JSON_TIME_LEN], const struct timespec *ts)
{
    struct tm tm;
    time_t t = ts->tv_sec;

    out[0] = 0;
    if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L || !gmtime_r(&t, &tm))
        return -1;
    if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;                             /* ISO-8601 would need a sign or more digits */
    snprintf(out, JSON_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000L);
    return 0;
}

int json_time(json_buf *b, const struct timespec *ts)
{
    char t[JSON_TIME_LEN];

    if (json_format_time(t, ts) < 0)
        return json_null(b);
    if (put_char(b, '"') < 0 || put_text(b, t) < 0)
        return JSON_ENOMEM;
    return put_char(b, '"');
}
