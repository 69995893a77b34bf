/* snapfile.h: one stream's snapshot files on disk, by name, oldest first.
 *
 * Names start with the UTC time the snapshot was taken, to the
 * microsecond, so the order of names is the order taken, across restarts
 * (seq starts again at 1 with every run; the wall clock does not).  A file
 * is written as NAME.part and renamed when complete: a reader never sees
 * half a JPEG, and a .part left by a crash is removed by the next scan.
 * The writer thread (snapshot.c) is the only user; nothing here locks. */
#ifndef LCNETD_SNAPFILE_H
#define LCNETD_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

enum { SNAP_NAME_MAX = 64 };   /* bytes of a file name, with its NUL */

/* "20261207T065714.123456Z-000000000042.jpg": taken at wall_us (since the
 * epoch) of the frame numbered seq.  Returns the length, or -1 if len is
 * too short. */
int snap_file_name(char *buf, size_t len, int64_t wall_us, int64_t seq);
/* Is this a name snap_file_name makes?  Other files in the folder are
 * never counted nor removed. */
int snap_file_is_ours(const char *name);

/* A ring, oldest at head. */
typedef struct snap_files {
    char **name;
    uint64_t *bytes;
    int head, n, cap;
    uint64_t total;         /* bytes of all n */
} snap_files;

void snap_files_init(snap_files *f);
void snap_files_clear(snap_files *f);
/* What the open folder dirfd holds now, oldest first, replacing what f
 * held; stale .part files are removed.  0, or -1 with err. */
int snap_files_scan(snap_files *f, int dirfd, char *err, size_t errlen);
/* The file just written: newer than all f holds.  0, or -1 out of memory. */
int snap_files_add(snap_files *f, const char *name, uint64_t bytes);
/* Remove the oldest, from the folder and f, while f holds more than keep
 * files or max_bytes bytes; the newest stays even if alone above
 * max_bytes (it is the one the last event named).  Returns the number
 * removed; a file that cannot be removed (other than already gone) is
 * forgotten all the same, and its error is in err (err[0] == 0: none). */
int snap_files_trim(snap_files *f, int dirfd, int keep, uint64_t max_bytes, char *err,
                    size_t errlen);
/* Make room for a file of `bytes` about to be added: remove the oldest
 * while f and it would be above keep files or max_bytes, all of them if
 * need be (the new one then stays alone), so that the folder never holds
 * more than the limits, not even for a moment.  Errors as for trim. */
int snap_files_room(snap_files *f, int dirfd, int keep, uint64_t max_bytes, uint64_t bytes,
                    char *err, size_t errlen);
/* NULL when f is empty. */
const char *snap_files_newest(const snap_files *f);

#endif
