/* libFuzzer: the stream password redactor (daemon/redact.c), on a URL, a
 * password_file password and a message as a server or libav could word it.
 *
 * Input: one byte, the output buffer's size; the URL up to a newline; the
 * plain password up to a newline; the rest is the message.  Checked: output
 * stays inside its buffer and ends in NUL; no form of a password (without a
 * '*', which the mask itself spells) survives scrubbing; a password put into
 * a URL is the one read back out of it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = strndup(*p, n);
    *p += n + (nl != NULL);
    if (!s)
        abort();
    return s;
}

static void no_form_left(const char *out, const rdx_secret *s)
{
    const char *f[2] = { s->enc, s->dec };
    for (int k = 0; k < 2; k++)
        if (f[k] && f[k][0] && !strchr(f[k], '*') && strstr(out, f[k]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t outlen = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    char *url = take_line(&p, end), *pw = take_line(&p, end), *msg = take_line(&p, end);
    rdx_secret s[2];
    int n = 0, r;

    if ((r = rdx_secret_from_url(&s[n], url)) < 0)
        abort();
    n += r;
    if ((r = rdx_secret_from_plain(&s[n], pw)) < 0)
        abort();
    n += r;

    /* a buffer exactly outlen long, so ASan sees any write past it */
    char *out = malloc(outlen ? outlen : 1);
    if (!out)
        abort();
    size_t w = rdx_scrub(out, outlen, msg, s, n);
    if (outlen) {
        if (w >= outlen || out[w] != '\0' || strlen(out) != w)
            abort();
        for (int i = 0; i < n; i++)
            no_form_left(out, &s[i]);
    } else if (w != 0) {
        abort();
    }
    rdx_url_public(out, outlen, url);
    if (outlen && strlen(out) >= outlen)
        abort();
    free(out);

    /* round trip: the password a URL is given is the one FFmpeg reads */
    char *u = NULL;
    if (pw[0] && rdx_url_with_password(&u, url, pw) == RDX_OK) {
        rdx_secret back;
        if (rdx_secret_from_url(&back, u) != 1)
            abort();
        if (strcmp(back.dec ? back.dec : back.enc, pw) != 0)
            abort();
        rdx_secret_free(&back);
        free(u);
    }
    for (int i = 0; i < n; i++)
        rdx_secret_free(&s[i]);
    free(url);
    free(pw);
    free(msg);
    return 0;
}
