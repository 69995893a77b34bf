/* redact.c: stream passwords out of messages.  See redact.h.
 *
 * Scrubbing copies into a new buffer instead of editing in place: "***" is
 * longer than a short password, and a message that grows in place runs off
 * the end of its buffer (a server's reason phrase of 200 "a"s against the
 * password "a" did).  The longest match wins at each position, so that a
 * decoded form that is a prefix of the encoded one leaves nothing behind. */
#include "daemon/redact.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char MASK[] = "***";

/* The userinfo of url (between "://" and the last '@' of the authority);
 * 0 when there is none. */
static int userinfo(const char *url, const char **ui, size_t *len)
{
    const char *a = url ? strstr(url, "://") : NULL;
    if (!a)
        return 0;
    a += 3;
    size_t auth = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < auth; i++)
        if (a[i] == '@')
            at = a + i;
    if (!at)
        return 0;
    *ui = a;
    *len = (size_t)(at - a);
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* As ff_urldecode: %XX is a byte (%00 ends the text, as it ends FFmpeg's
 * C string), a bad escape stays as written, '+' too. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    int h, l;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* RFC 3986 unreserved characters stay; everything else is %XX, so that no
 * ':', '@' or '/' in a password can move the URL's boundaries. */
static char *pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

void rdx_secret_free(rdx_secret *s)
{
    if (!s)
        return;
    free(s->enc);
    free(s->dec);
    free(s->ui);
    s->enc = s->dec = s->ui = NULL;
}

/* enc given; dec set from it, or left NULL when the same. */
static int finish(rdx_secret *s, const char *dec)
{
    if (!s->enc)
        return RDX_ENOMEM;
    if (dec && strcmp(dec, s->enc) != 0 && !(s->dec = strdup(dec))) {
        rdx_secret_free(s);
        return RDX_ENOMEM;
    }
    return 1;
}

int rdx_secret_from_url(rdx_secret *s, const char *url)
{
    const char *ui, *colon;
    size_t n;
    s->enc = s->dec = s->ui = NULL;
    if (!userinfo(url, &ui, &n) || !(colon = memchr(ui, ':', n)) || colon + 1 == ui + n)
        return 0;
    size_t plen = (size_t)(ui + n - colon - 1);
    if (!(s->enc = strndup(colon + 1, plen)) || !(s->ui = strndup(ui, n + 1))) {
        rdx_secret_free(s);
        return RDX_ENOMEM;
    }
    char *dec = pct_decode(s->enc, plen);
    if (!dec) {
        rdx_secret_free(s);
        return RDX_ENOMEM;
    }
    int ret = finish(s, dec[0] ? dec : NULL);
    free(dec);
    return ret;
}

int rdx_secret_from_plain(rdx_secret *s, const char *pw)
{
    s->enc = s->dec = s->ui = NULL;
    if (!pw || !pw[0])
        return 0;
    s->enc = pct_encode(pw);
    return finish(s, pw);
}

/* Length of the longest form of any secret that starts at p, or 0; *mask
 * is what stands in for it.  nforms 2: passwords only, 3: userinfo too. */
static size_t match(const char *p, const rdx_secret *s, int n, int nforms, const char **mask)
{
    size_t best = 0;
    for (int i = 0; i < n; i++) {
        const char *f[3] = { s[i].enc, s[i].dec, s[i].ui };
        for (int k = 0; k < nforms; k++) {
            if (!f[k] || !f[k][0] || f[k][0] != *p)
                continue;
            size_t l = strlen(f[k]);
            if (l > best && strncmp(p, f[k], l) == 0) {
                best = l;
                *mask = k == 2 ? "" : MASK;
            }
        }
    }
    return best;
}

static size_t pass(char *out, size_t outlen, const char *in, const rdx_secret *s, int n,
                   int nforms, int *removed)
{
    size_t o = 0;
    while (in && *in && o + 1 < outlen) {
        const char *mask = MASK;
        size_t m = match(in, s, n, nforms, &mask);
        if (m) {
            for (size_t i = 0; mask[i] && o + 1 < outlen; i++)
                out[o++] = mask[i];
            *removed |= !mask[0];
            in += m;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
    return o;
}

size_t rdx_scrub(char *out, size_t outlen, const char *in, const rdx_secret *s, int n)
{
    int removed = 0;
    if (!outlen)
        return 0;
    size_t o = pass(out, outlen, in, s, n, 3, &removed);
    if (!removed)
        return o;
    /* A userinfo taken out joins the text on either side of it, which may
     * then spell a password ("p" + "u:x@" + "w" for "pw"): once more, with
     * "***" alone, which joins nothing. */
    char *again = strdup(out);
    if (!again) {
        out[0] = '\0';
        return 0;
    }
    o = pass(out, outlen, again, s, n, 2, &removed);
    free(again);
    return o;
}

void rdx_url_public(char *out, size_t outlen, const char *url)
{
    const char *ui;
    size_t n, o = 0;
    if (!outlen)
        return;
    out[0] = '\0';
    if (!url)
        return;
    if (!userinfo(url, &ui, &n)) {
        n = 0;
        ui = NULL;
    }
    for (const char *p = url; *p && o + 1 < outlen; p++) {
        if (p == ui) {
            p += n;             /* to the '@', which goes too */
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

int rdx_url_with_password(char **out, const char *url, const char *pw)
{
    const char *a = strstr(url, "://"), *ui, *rest, *colon;
    size_t n, ulen = 0;
    *out = NULL;
    if (!a)
        return RDX_EINVAL;
    a += 3;
    rest = a;
    if (userinfo(url, &ui, &n)) {
        colon = memchr(ui, ':', n);
        ulen = colon ? (size_t)(colon - ui) : n;
        rest = ui + n + 1;
    }
    char *enc = pct_encode(pw);
    if (!enc)
        return RDX_ENOMEM;
    size_t head = (size_t)(a - url), elen = strlen(enc), rlen = strlen(rest);
    char *u = malloc(head + ulen + 1 + elen + 1 + rlen + 1), *o = u;
    if (u) {
        memcpy(o, url, head + ulen);        /* scheme://user */
        o += head + ulen;
        *o++ = ':';
        memcpy(o, enc, elen);
        o += elen;
        *o++ = '@';
        memcpy(o, rest, rlen + 1);
    }
    free(enc);
    if (!u)
        return RDX_ENOMEM;
    *out = u;
    return RDX_OK;
}

/* ------------------------------------------------ the process's set */

static pthread_mutex_t known_m = PTHREAD_MUTEX_INITIALIZER;
static rdx_secret *known;
static int nknown;

static void free_set(rdx_secret *s, int n)
{
    for (int i = 0; i < n; i++)
        rdx_secret_free(&s[i]);
    free(s);
}

int rdx_known_set(const char *const *urls, const char *const *plain, int n)
{
    rdx_secret *s = calloc((size_t)(n > 0 ? 2 * n : 1), sizeof *s);
    int k = 0;
    if (!s)
        return RDX_ENOMEM;
    for (int i = 0; i < n; i++) {
        int r;
        if (urls && urls[i]) {
            if ((r = rdx_secret_from_url(&s[k], urls[i])) < 0)
                goto nomem;
            k += r;
        }
        if (plain && plain[i]) {
            if ((r = rdx_secret_from_plain(&s[k], plain[i])) < 0)
                goto nomem;
            k += r;
        }
    }
    pthread_mutex_lock(&known_m);
    rdx_secret *old = known;
    int nold = nknown;
    known = s;
    nknown = k;
    pthread_mutex_unlock(&known_m);
    free_set(old, nold);
    return RDX_OK;
nomem:
    free_set(s, k);
    return RDX_ENOMEM;
}

size_t rdx_known_scrub(char *out, size_t outlen, const char *in)
{
    pthread_mutex_lock(&known_m);
    size_t n = rdx_scrub(out, outlen, in, known, nknown);
    pthread_mutex_unlock(&known_m);
    return n;
}

void rdx_known_clear(void)
{
    pthread_mutex_lock(&known_m);
    free_set(known, nknown);
    known = NULL;
    nknown = 0;
    pthread_mutex_unlock(&known_m);
}
