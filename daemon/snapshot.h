/* snapshot.h: JPEG snapshots of the frames that change a stream's label.
 *
 * The inference thread hands over a reference to the decoded frame
 * (snap_take: no pixels copied, nothing waits); one writer thread, off the
 * inference CPUs, encodes it (snapjpeg.h), writes it into snapshot_dir/NAME/
 * and removes the oldest files beyond the stream's limits (snapfile.h).
 * Its queue is bounded: when the disk cannot keep up, snapshots are dropped
 * and counted, never waited for.  A write that fails (a full or read-only
 * disk) is an error event naming the stream, the file, the reason and what
 * to do, and a count in the stream's stats.
 *
 * A stream's state here (its files, counters, limits) is made on first use
 * and lives as long as the writer, so a stream restarted by a reload keeps
 * its counters and the inference thread never holds a pointer that a
 * reload frees. */
#ifndef LCNETD_SNAPSHOT_H
#define LCNETD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/snapjpeg.h"

struct AVFrame;
struct evq;

typedef struct snap_writer snap_writer;
typedef struct snap_stream snap_stream;

typedef struct snap_counts {
    uint64_t saved;         /* files written */
    uint64_t errors;        /* snapshots lost to the disk or the encoder: one error event each */
    uint64_t dropped;       /* not taken: the writer's queue was full */
} snap_counts;

/* Start the writer thread for folder dir (made on first use), holding at
 * most `queue` snapshots; pinned to cpus (count 0: it keeps the caller's
 * CPUs).  Error events go to q. */
int snap_writer_new(snap_writer **out, const char *dir, int queue, const cfg_cpus *cpus,
                    struct evq *q, char *err, size_t errlen);
/* Write what is queued, stop the thread, free everything.  NULL is fine. */
void snap_writer_free(snap_writer *w);

/* The stream's snapshots, with these limits from now on (its folder is
 * read again, on the writer thread, so files of an earlier run count).
 * NULL: out of memory. */
snap_stream *snap_stream_get(snap_writer *w, const char *name, int keep, double max_mb);

/* Inference thread: queue frame fr (r: its region, NULL = whole) of
 * number seq.  0 with the path the file will have in path, or -1 when the
 * queue is full (counted as dropped). */
int snap_take(snap_stream *s, const struct AVFrame *fr, const snap_rect *r, int64_t seq,
              char *path, size_t len);
void snap_counts_get(const snap_stream *s, snap_counts *out);

/* The newest file of stream `name` there is: 0 with its path, -1 when the
 * stream has none (yet, or no state here). */
int snap_latest(snap_writer *w, const char *name, char *path, size_t len);

#ifdef LCNETD_TESTING
/* Test-only: the writer takes nothing from its queue while held. */
void snap_test_hold(snap_writer *w, int on);
#endif

#endif
