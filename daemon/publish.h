/* publish.h: the event socket.  Subscribers connect to a Unix stream socket
 * and read JSON lines; the daemon broadcasts each event to every subscriber
 * whose filter takes its stream.
 *
 * Everything runs in the daemon's main thread, driven by its epoll loop:
 * pub_fd() is one more fd to poll for EPOLLIN, pub_dispatch() is called
 * when it is readable.  Nothing here blocks: a subscriber that reads too
 * slowly loses lines (counted, then announced to it as
 *     {"event":"dropped","count":N}
 * once its buffer has drained below half) and never slows the pipeline or
 * the other subscribers.  A subscriber only ever sees whole lines (when we
 * give up on one that stopped reading, its stream may end in a fragment
 * without '\n' before EOF: readers ignore it).
 *
 * Subscribers may send commands (see pubcmd.h); answers and errors are
 * lines like the events, e.g. {"event":"error","message":"..."}, and go
 * through the same bounded buffer.  A subscriber that shuts down its
 * sending side (`nc -N`) keeps its subscription; one that closes is
 * removed at once.  A command line past PUB_CMD_MAX bytes gets an error,
 * then the connection is closed once that is read (within 5 s).
 */
#ifndef LCNETD_PUBLISH_H
#define LCNETD_PUBLISH_H

#include <stddef.h>

#include "daemon/pubcmd.h"

enum {
    PUB_OK = 0,
    PUB_EINVAL = -1,     /* a bad argument, or an fd that is not a listening unix stream socket */
    PUB_ENOMEM = -2,
    PUB_ESYS = -3,       /* a system call failed; err names it, errno is kept */
    PUB_EEXIST = -4,     /* the socket path holds something pub_listen will not replace */
    PUB_ENODIR = -5,     /* its directory is missing, or this user may not create files there */
};

/* The directory systemd makes for the event socket: lcnetd.service's
 * RuntimeDirectory=lcnetd, where lcnetd.socket's ListenStream= lives too. */
#define PUB_RUNTIME_DIR "/run/lcnetd"

enum { PUB_BUFFER_MIN = 1024 };   /* smallest client_buffer */

typedef struct pub_server pub_server;

/* Called in pub_dispatch, on the main thread.  They may call pub_broadcast
 * and pub_get_stats, never pub_free or pub_goodbye. */
typedef struct pub_hooks {
    /* The first line a new subscriber gets (a JSON object, no newline), malloc'd:
     * pub frees it.  NULL hook or NULL result: {"event":"hello"}. */
    char *(*hello)(void *arg);
    /* The answer to `status` (one JSON object, no newline), malloc'd: pub frees it.
     * NULL: the subscriber gets an error line. */
    char *(*status)(void *arg);
    void *arg;
} pub_hooks;

/* Create the daemon's own socket at path, listening, non-blocking, with
 * permissions exactly `mode` (at most 0777, never others-write: refused).
 * Safe in a shared directory: a symlink at path is never followed; a
 * stale socket left by a previous run (nobody accepts on it) is replaced;
 * anything else (a regular file, a directory, a socket another process
 * serves, a socket whose state cannot be probed) is refused with
 * PUB_EEXIST.  The socket never has more permissions than `mode`, not even
 * for a moment (one caveat: a default ACL on the directory overrides the
 * umask, so bind() creates what the ACL says; the chmod right after sets
 * `mode`).  Call before starting threads: it sets the umask around bind().
 * Caller closes *fd and unlinks path on exit. */
int pub_listen(const char *path, unsigned mode, int *fd, char *err, size_t errlen);

/* May this process create a socket at path, as far as its directory goes:
 * the directory exists, is one, and this user may create files in it?
 * PUB_OK, or PUB_ENODIR (or PUB_ESYS) with one line naming the directory,
 * the user and what to do.  pub_listen starts with it; --check-config
 * asks it too. */
int pub_check_dir(const char *path, char *err, size_t errlen);

/* Would pub_listen take path?  PUB_OK when nothing is there or a stale
 * socket is (it would be replaced); 1 when a process listens on it; else
 * what pub_listen would fail with (PUB_ENODIR, PUB_EEXIST, ...), with its
 * message.  Creates and removes nothing. */
int pub_check_path(const char *path, char *err, size_t errlen);

/* Is fd (from systemd) a listening AF_UNIX SOCK_STREAM socket?  0, or PUB_EINVAL. */
int pub_check_fd(int fd, char *err, size_t errlen);

/* Serve subscribers connecting to listen_fd (made non-blocking here; the
 * caller still owns and closes it).  client_buffer: bytes of output held per
 * subscriber (>= PUB_BUFFER_MIN; taken only as lines queue up, so idle
 * subscribers cost a few hundred bytes).  max_clients >= 1.  hooks may be
 * NULL; they are copied. */
int pub_new(pub_server **out, int listen_fd, size_t client_buffer, int max_clients,
            const pub_hooks *hooks, char *err, size_t errlen);
/* Closes every subscriber without a goodbye; never the listen fd.  NULL is fine. */
void pub_free(pub_server *p);

/* An epoll fd: readable when pub_dispatch has work. */
int pub_fd(const pub_server *p);
/* Accept, read commands, flush queued output, drop subscribers that are
 * gone.  Bounded work per call: if more is pending pub_fd stays readable. */
void pub_dispatch(pub_server *p);

/* Queue one event line (a JSON object without newline) for every subscriber
 * whose filter takes `stream` (NULL: a daemon-wide event everyone gets).
 * Never blocks.  Returns the number of subscribers it was queued for, or
 * PUB_EINVAL (sent to nobody) if line holds a newline. */
int pub_broadcast(pub_server *p, const char *stream, const char *line, size_t len);
/* Would any subscriber take an event of `stream`?  Lets the caller skip
 * formatting events nobody reads. */
int pub_wanted(const pub_server *p, const char *stream);

/* Shutdown: stop accepting, queue `line` to every subscriber (after its
 * pending `dropped` notice), flush for at most `ms` milliseconds, then
 * close every subscriber.  Afterwards only pub_get_stats and pub_free. */
void pub_goodbye(pub_server *p, const char *line, int ms);

/* SIGHUP reload: limits for subscribers that connect from now on; those
 * connected keep theirs.  PUB_EINVAL (nothing changed) for values pub_new
 * would refuse. */
int pub_set_limits(pub_server *p, size_t client_buffer, int max_clients);

typedef struct pub_stats {
    int clients;                    /* connected now */
    unsigned long long events;      /* pub_broadcast calls with a valid line */
    unsigned long long lines;       /* event lines queued, one per subscriber */
    unsigned long long dropped;     /* lines (events, answers) a full subscriber did not get */
    unsigned long long disconnects; /* subscribers gone, for any reason */
    unsigned long long rejected;    /* connections refused: max_clients reached */
    size_t buffered;                /* bytes of memory held in subscriber buffers now */
} pub_stats;
void pub_get_stats(const pub_server *p, pub_stats *s);

#ifdef LCNETD_TESTING
/* Test builds only.  pub_test_bound: called in pub_listen between bind()
 * and chmod(), so a test can see the mode the socket file is born with.
 * pub_test_linger_ms: how long a subscriber being closed may take to read
 * its last lines (5000 ms otherwise). */
extern void (*pub_test_bound)(const char *path);
extern int pub_test_linger_ms;
#endif

#endif
