/* redact.h: stream passwords kept out of every text that leaves the daemon.
 *
 * A stream URL may carry user:password@.  libav repeats URLs, and whatever
 * a server chose to say, in its messages; those become the reasons of down
 * events and lines in the journal.  Text passes through here first: each
 * password, as written in the URL (percent-encoded) and as sent to the
 * server (decoded), becomes "***".  Output goes into a caller's buffer of a
 * given size and is cut short rather than grown past it.
 *
 * The userinfo is found the way FFmpeg's av_url_split finds it, so that the
 * password redacted is the one FFmpeg sends: the authority runs from after
 * "://" to the first '/', '?' or '#'; the userinfo ends at the LAST '@' in
 * it; user and password split at the first ':'. */
#ifndef LCNETD_REDACT_H
#define LCNETD_REDACT_H

#include <stddef.h>

typedef struct rdx_secret {
    char *enc;              /* as written in the URL; NULL = no password */
    char *dec;              /* percent-decoded; NULL when the same as enc */
    char *ui;               /* "user:password@" as in the URL, or NULL: a URL
                               repeated in a message loses it whole */
} rdx_secret;

enum { RDX_OK = 0, RDX_ENOMEM = -1, RDX_EINVAL = -2 };

/* The password of url.  Returns 1 with *s filled, 0 when the URL has none
 * (*s empty), RDX_ENOMEM.  Free with rdx_secret_free. */
int rdx_secret_from_url(rdx_secret *s, const char *url);
/* A password given apart from the URL (password_file): dec is pw, enc its
 * percent-encoded form.  Returns 1, 0 for an empty pw, or RDX_ENOMEM. */
int rdx_secret_from_plain(rdx_secret *s, const char *pw);
void rdx_secret_free(rdx_secret *s);

/* in to out with every form of the n secrets replaced by "***" (the whole
 * userinfo by nothing, so a URL reads as the configured one without its
 * credentials); out always ends in NUL.  Returns the length written. */
size_t rdx_scrub(char *out, size_t outlen, const char *in, const rdx_secret *s, int n);

/* url with its userinfo left out ("rtsp://host/x" for "rtsp://u:p@host/x"),
 * cut to outlen. */
void rdx_url_public(char *out, size_t outlen, const char *url);

/* url with pw percent-encoded as its password, in place of any it has (the
 * user name stays; none is taken as an empty one).  *out is malloc'd, the
 * caller frees it.  RDX_EINVAL for a URL without "://". */
int rdx_url_with_password(char **out, const char *url, const char *pw);

/* The process's set of passwords, for text that cannot tell which stream it
 * is about (libav's log callback).  rdx_known_set replaces the set with the
 * passwords of the n URLs and of the n plain passwords (either may be NULL
 * or hold NULLs); rdx_known_scrub scrubs with all of them.  Both are safe
 * from any thread. */
int rdx_known_set(const char *const *urls, const char *const *plain, int n);
size_t rdx_known_scrub(char *out, size_t outlen, const char *in);
void rdx_known_clear(void);

#endif
