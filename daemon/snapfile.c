/* snapfile.c: snapshot file names and retention.  See snapfile.h. */
#include "daemon/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char suffix[] = ".jpg", partial[] = ".part";

int snap_file_name(char *buf, size_t len, int64_t wall_us, int64_t seq)
{
    time_t t = (time_t)(wall_us / 1000000);
    struct tm tm;
    char day[32];
    if (!gmtime_r(&t, &tm) || strftime(day, sizeof day, "%Y%m%dT%H%M%S", &tm) != 15)
        return -1;
    int n = snprintf(buf, len, "%s.%06dZ-%012" PRId64 "%s", day, (int)(wall_us % 1000000),
                     seq < 0 ? 0 : seq, suffix);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* 15 digits and a T, '.', 6 digits, "Z-", at least 12 digits, ".jpg" */
int snap_file_is_ours(const char *name)
{
    static const char shape[] = "ddddddddTdddddd.ddddddZ-dddddddddddd";
    size_t n = strlen(name), fixed = sizeof shape - 1, tail = sizeof suffix - 1;
    if (n < fixed + tail || n >= SNAP_NAME_MAX || strcmp(name + n - tail, suffix) != 0)
        return 0;
    for (size_t i = 0; i < n - tail; i++) {
        char want = i < fixed ? shape[i] : 'd';
        int digit = name[i] >= '0' && name[i] <= '9';
        if (want == 'd' ? !digit : name[i] != want)
            return 0;
    }
    return 1;
}

void snap_files_init(snap_files *f)
{
    memset(f, 0, sizeof *f);
}

void snap_files_clear(snap_files *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->name[(f->head + i) % f->cap]);
    free(f->name);
    free(f->bytes);
    snap_files_init(f);
}

static int grow(snap_files *f)
{
    int cap = f->cap ? f->cap * 2 : 16;
    char **name = malloc(sizeof *name * (size_t)cap);
    uint64_t *bytes = malloc(sizeof *bytes * (size_t)cap);
    if (!name || !bytes) {
        free(name);
        free(bytes);
        return -1;
    }
    for (int i = 0; i < f->n; i++) {
        name[i] = f->name[(f->head + i) % f->cap];
        bytes[i] = f->bytes[(f->head + i) % f->cap];
    }
    free(f->name);
    free(f->bytes);
    f->name = name;
    f->bytes = bytes;
    f->cap = cap;
    f->head = 0;
    return 0;
}

int snap_files_add(snap_files *f, const char *name, uint64_t bytes)
{
    char *copy = strdup(name);
    if (!copy || (f->n == f->cap && grow(f) < 0)) {
        free(copy);
        return -1;
    }
    int at = (f->head + f->n) % f->cap;
    f->name[at] = copy;
    f->bytes[at] = bytes;
    f->n++;
    f->total += bytes;
    return 0;
}

typedef struct {
    char *name;
    uint64_t bytes;
} found;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const found *)a)->name, ((const found *)b)->name);
}

static int is_partial(const char *name)
{
    size_t n = strlen(name), p = sizeof partial - 1;
    return n > p && strcmp(name + n - p, partial) == 0;
}

int snap_files_scan(snap_files *f, int dirfd, char *err, size_t errlen)
{
    found *v = NULL;
    size_t n = 0, cap = 0;
    int ret = -1, fd = -1;
    DIR *d = NULL;

    snap_files_clear(f);
    /* readdir on a duplicate: closedir closes what it was given */
    if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0 || !(d = fdopendir(fd))) {
        snprintf(err, errlen, "listing the folder: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);     /* the duplicate shares the position */
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (is_partial(e->d_name)) {
            unlinkat(dirfd, e->d_name, 0);
            continue;
        }
        if (!snap_file_is_ours(e->d_name) ||
            fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            found *w = realloc(v, sizeof *v * c);
            if (!w)
                goto nomem;
            v = w;
            cap = c;
        }
        if (!(v[n].name = strdup(e->d_name)))
            goto nomem;
        v[n++].bytes = (uint64_t)st.st_size;
    }
    if (n)
        qsort(v, n, sizeof *v, by_name);
    for (size_t i = 0; i < n; i++)
        if (snap_files_add(f, v[i].name, v[i].bytes) < 0)
            goto nomem;
    ret = 0;
    goto end;
nomem:
    snprintf(err, errlen, "listing the folder: out of memory");
    snap_files_clear(f);
end:
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    closedir(d);
    return ret;
}

/* Remove the oldest while more than `floor` stay and those, with `files`
 * more of `bytes`, would be above the limits. */
static int drop_oldest(snap_files *f, int dirfd, int floor, int keep, uint64_t max_bytes, int files,
                       uint64_t bytes, char *err, size_t errlen)
{
    int removed = 0;
    err[0] = 0;
    while (f->n > floor && (f->n + files > keep || f->total + bytes > max_bytes)) {
        char *name = f->name[f->head];
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && !err[0])
            snprintf(err, errlen, "removing %s: %s", name, strerror(errno));
        f->total -= f->bytes[f->head];
        free(name);
        f->head = (f->head + 1) % f->cap;
        f->n--;
        removed++;
    }
    return removed;
}

int snap_files_trim(snap_files *f, int dirfd, int keep, uint64_t max_bytes, char *err,
                    size_t errlen)
{
    return drop_oldest(f, dirfd, 1, keep, max_bytes, 0, 0, err, errlen);
}

int snap_files_room(snap_files *f, int dirfd, int keep, uint64_t max_bytes, uint64_t bytes,
                    char *err, size_t errlen)
{
    return drop_oldest(f, dirfd, 0, keep, max_bytes, 1, bytes, err, errlen);
}

const char *snap_files_newest(const snap_files *f)
{
    return f->n ? f->name[(f->head + f->n - 1) % f->cap] : NULL;
}
