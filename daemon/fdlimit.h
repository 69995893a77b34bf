/* fdlimit.h: file descriptors for subscribers, after streams and models.
 *
 * Each subscriber holds a descriptor.  Left unchecked they can take the
 * last ones, and a stream that reconnects, or a model that loads, then
 * fails with "Too many open files" until a subscriber leaves.  So the
 * daemon raises its soft limit as far as the hard one allows and admits no
 * more subscribers than leave a reserve for every stream and for loading a
 * model. */
#ifndef LCNETD_FDLIMIT_H
#define LCNETD_FDLIMIT_H

#include <stddef.h>

/* Descriptors kept for one stream (its connection, RTP/RTCP sockets over
 * UDP, a reconnect overlapping the old socket's close) and for loading a
 * model (its files, plus what oneDNN and OpenMP open on the way). */
enum { LC_FD_PER_STREAM = 4, LC_FD_LOADER = 16 };

/* Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in
 * force afterwards (unchanged, with a line in err, if raising failed). */
long lc_fd_raise_limit(char *err, size_t errlen);

/* Descriptors this process has open now. */
int lc_fd_open_count(void);

/* How many subscribers fit in `limit` descriptors when `base` are taken by
 * the daemon itself and nstreams streams run: at least 1, at most want. */
int lc_fd_subscriber_room(long limit, int base, int nstreams, int want);

#endif
