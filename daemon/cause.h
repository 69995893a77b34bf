/* cause.h: why a stream could not be opened, and the reason subscribers read.
 *
 * The retry policy depends on the cause: a camera that refuses the
 * credentials locks the account after a few wrong tries, so it must not be
 * asked again soon, while a network error is retried with the ordinary
 * backoff.  The reason says what to change when a setting can fix it, shows
 * URLs as configured (without credentials) rather than libavformat's inner
 * ones (tcp://host:port?timeout=...), and names the path of a file that
 * cannot be opened. */
#ifndef LCNETD_CAUSE_H
#define LCNETD_CAUSE_H

#include <stddef.h>

#include "config/config.h"

enum {
    ING_CAUSE_OTHER = 0,   /* network, server or data: retried with the backoff */
    ING_CAUSE_AUTH,        /* 401 or 403: the credentials were refused */
    ING_CAUSE_TRANSPORT,   /* RTSP 461: the server refuses the configured transport */
    ING_CAUSE_MISSING,     /* a file or device path that does not exist */
};

/* The cause of a failed open: averr is libav's code, said the first error
 * libav logged for it ("" when none). */
int ing_cause_of(const cfg_stream *c, int averr, const char *said);

/* err = what + libav's words (said, or averr's text when it said nothing)
 * with inner URLs made public, then, for a cause a setting can fix, what to
 * do.  said must already be scrubbed of passwords. */
void ing_cause_reason(char *err, size_t errlen, const cfg_stream *c, int cause, const char *what,
                      int averr, const char *said);

/* in to out with each inner URL of libav (tcp://, tls:// or udp:// host:port
 * with options) shown as the configured url without its credentials when it
 * goes to the same host, else as host:port.  out always ends in NUL. */
void ing_cause_public_urls(char *out, size_t outlen, const char *in, const char *url);

#endif
