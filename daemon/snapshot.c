/* snapshot.c: the snapshot writer thread.  See snapshot.h.
 *
 * DESIGN: snap_take, on the inference thread, only names the file and
 * moves a reference to the decoded frame into a free slot of a fixed ring
 * under the writer's mutex; the writer thread takes the oldest, and
 * encodes, writes and trims with the mutex released.  So the inference
 * thread waits at most for another snap_take or for the writer moving one
 * reference out, never for the encoder or the disk.  The ring's frames are
 * allocated up front: queueing allocates nothing.
 *
 * A stream's folder is opened (and made) on the writer thread too, when a
 * stream registers (snap_stream_get) and again after a failure, so a disk
 * that went read-only and came back is picked up without a restart. */
#include "daemon/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "daemon/evq.h"
#include "daemon/log.h"
#include "daemon/sink.h"
#include "daemon/snapfile.h"
#include "daemon/stream.h"
#include "daemon/util.h"

/* A failing disk fails every snapshot: one log line a minute says so (each
 * failure is an event and a count all the same). */
#define LOG_EVERY_US (60 * 1000000LL)

struct snap_stream {
    snap_writer *w;
    char *name;
    /* under w->m */
    int keep;
    uint64_t max_bytes;
    int rescan;                     /* read the folder before the next write */
    char latest[SNAP_NAME_MAX];     /* newest file there is; "" = none */
    /* the writer thread's */
    int dirfd;                      /* -1: not open */
    snap_files files;
    int64_t logged_us;
    uint64_t unlogged;
    /* counters: atomic */
    uint64_t saved, errors, dropped;
};

typedef struct {
    snap_stream *s;
    AVFrame *fr;
    snap_rect r;
    char name[SNAP_NAME_MAX];
} job;

struct snap_writer {
    pthread_mutex_t m;
    pthread_cond_t cv;
    char *dir;
    job *q;
    int cap, head, n;
    snap_stream **st;
    int nst;
    int stop, hold, started;
    /* the time in the newest name: names never repeat, even for two
     * sources (regions, models) of one frame in the same microsecond */
    int64_t last_us;
    pthread_t thread;
    cfg_cpus cpus;
    struct evq *evq;
    /* the thread's */
    snap_jpeg *jpeg;
    AVPacket *pkt;
    AVFrame *cur;
};

/* ------------------------------------------------------------ errors */

static const char *what_to_do(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return "free space there, lower snapshot_keep or snapshot_max_mb, or move snapshot_dir";
    case EROFS:
        return "remount that file system read-write, or set snapshot_dir to a writable place";
    case EACCES:
    case EPERM:
        return "let the daemon's user write to the folder (lcnetd.service's StateDirectory= "
               "does for the default), or set snapshot_dir to a folder it may write";
    default:
        return "check the disk and snapshot_dir";
    }
}

/* An error event for the stream, a count, and a log line now and then. */
static void fail(snap_stream *s, const char *text)
{
    lc_count(&s->errors, 1);
    evq_push(s->w->evq, snk_error_new(s->name, "snapshot", text));
    int64_t now = lc_mono_us();
    if (s->logged_us && now - s->logged_us < LOG_EVERY_US) {
        s->unlogged++;
        return;
    }
    if (s->unlogged)
        lc_log(LOG_WARNING, "%s (and %llu more snapshot errors since the last such line)", text,
               (unsigned long long)s->unlogged);
    else
        lc_log(LOG_WARNING, "%s", text);
    s->logged_us = now;
    s->unlogged = 0;
}

static void fail_errno(snap_stream *s, const char *what, const char *path, int e)
{
    char text[1024];
    snprintf(text, sizeof text, "stream %s: snapshot: %s %s: %s; %s", s->name, what, path,
             strerror(e), what_to_do(e));
    fail(s, text);
}

/* ------------------------------------------------------------ the disk */

static void folder_path(const snap_stream *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", s->w->dir, s->name);
}

/* Open (and make) the stream's folder, read what it holds, trim to the
 * limits. */
static int open_folder(snap_stream *s, int keep, uint64_t max_bytes)
{
    snap_writer *w = s->w;
    char path[4200], err[512];
    if (s->dirfd >= 0) {
        close(s->dirfd);
        s->dirfd = -1;
    }
    if (mkdir(w->dir, 0750) < 0 && errno != EEXIST) {
        fail_errno(s, "making the folder", w->dir, errno);
        return -1;
    }
    folder_path(s, path, sizeof path);
    /* in a setgid folder (the packaged one) this one inherits its group */
    if (mkdir(path, 0750) < 0 && errno != EEXIST) {
        fail_errno(s, "making the folder", path, errno);
        return -1;
    }
    if ((s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        fail_errno(s, "opening the folder", path, errno);
        return -1;
    }
    if (snap_files_scan(&s->files, s->dirfd, err, sizeof err) < 0) {
        char text[1024];
        snprintf(text, sizeof text, "stream %s: snapshot: %s: %s", s->name, path, err);
        fail(s, text);
        close(s->dirfd);
        s->dirfd = -1;
        return -1;
    }
    snap_files_trim(&s->files, s->dirfd, keep, max_bytes, err, sizeof err);
    if (err[0])
        lc_log(LOG_WARNING, "stream %s: snapshot: %s: %s", s->name, path, err);
    const char *newest = snap_files_newest(&s->files);
    pthread_mutex_lock(&w->m);
    snprintf(s->latest, sizeof s->latest, "%s", newest ? newest : "");
    pthread_mutex_unlock(&w->m);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* NAME.part, then room made for it, then renamed: a reader never sees
 * half a file, nor more files than the limits. */
static int write_file(snap_stream *s, const char *name, const AVPacket *pkt, int keep,
                      uint64_t max_bytes)
{
    char part[SNAP_NAME_MAX + 8], path[4300], err[512];
    int fd, e = 0;
    snprintf(part, sizeof part, "%s.part", name);
    if ((fd = openat(s->dirfd, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0)
        e = errno;
    else if (write_all(fd, pkt->data, (size_t)pkt->size) < 0)
        e = errno;
    /* a network file system may say ENOSPC only now */
    if (fd >= 0 && close(fd) < 0 && !e)
        e = errno;
    if (!e) {
        snap_files_room(&s->files, s->dirfd, keep, max_bytes, (uint64_t)pkt->size, err, sizeof err);
        if (err[0])
            lc_log(LOG_WARNING, "stream %s: snapshot: %s", s->name, err);
    }
    if (!e && renameat(s->dirfd, part, s->dirfd, name) < 0)
        e = errno;
    if (!e)
        return 0;
    if (fd >= 0)
        unlinkat(s->dirfd, part, 0);
    folder_path(s, path, sizeof path);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", name);
    fail_errno(s, "writing", path, e);
    return -1;
}

static void run_job(snap_writer *w, snap_stream *s, const job *j, int keep, uint64_t max_bytes)
{
    char err[512];
    if (s->dirfd < 0 && open_folder(s, keep, max_bytes) < 0)
        return;
    if (snap_jpeg_encode(w->jpeg, w->cur, &j->r, w->pkt, err, sizeof err) < 0) {
        char text[1024];
        snprintf(text, sizeof text, "stream %s: snapshot of frame %s: %s", s->name, j->name,
                 err);
        fail(s, text);
        return;
    }
    int ret = write_file(s, j->name, w->pkt, keep, max_bytes);
    uint64_t bytes = (uint64_t)w->pkt->size;
    av_packet_unref(w->pkt);
    if (ret < 0) {
        /* the folder may be gone or remounted: open it again next time */
        close(s->dirfd);
        s->dirfd = -1;
        return;
    }
    lc_count(&s->saved, 1);
    if (snap_files_add(&s->files, j->name, bytes) < 0) {
        /* unknown to retention but on disk: the next scan finds it */
        pthread_mutex_lock(&w->m);
        s->rescan = 1;
        pthread_mutex_unlock(&w->m);
    }
    snap_files_trim(&s->files, s->dirfd, keep, max_bytes, err, sizeof err);
    if (err[0])
        lc_log(LOG_WARNING, "stream %s: snapshot: %s", s->name, err);
    pthread_mutex_lock(&w->m);
    snprintf(s->latest, sizeof s->latest, "%s", j->name);
    pthread_mutex_unlock(&w->m);
}

/* ------------------------------------------------------------ the thread */

static snap_stream *wants_scan(snap_writer *w)
{
    for (int i = 0; i < w->nst; i++)
        if (w->st[i]->rescan)
            return w->st[i];
    return NULL;
}

static void *writer_main(void *arg)
{
    snap_writer *w = arg;
    char err[256];
    pthread_setname_np(pthread_self(), "lcnetd-snap");
    if (lc_pin_self(&w->cpus, err, sizeof err) < 0)
        lc_log(LOG_WARNING, "snapshot writer unpinned: %s", err);
    lc_block_signals();
    /* As the decoders: a snapshot late by a moment costs nothing, a label
     * late behind an encode would, so the inference thread and the event
     * loop take the CPU from this one the moment they wake.  Falling behind
     * fills the queue, and further snapshots are dropped and counted. */
    struct sched_param idle = { 0 };
    int e = pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    if (e)
        lc_log(LOG_DEBUG, "snapshot writer: SCHED_IDLE: %s", strerror(e));
    pthread_mutex_lock(&w->m);
    for (;;) {
        snap_stream *s;
        while (!w->stop && (w->hold || (w->n == 0 && !wants_scan(w))))
            pthread_cond_wait(&w->cv, &w->m);
        if ((s = wants_scan(w))) {
            int keep = s->keep;
            uint64_t max_bytes = s->max_bytes;
            s->rescan = 0;
            pthread_mutex_unlock(&w->m);
            open_folder(s, keep, max_bytes);
            pthread_mutex_lock(&w->m);
            continue;
        }
        if (w->n == 0)
            break;                  /* stopping, with nothing left to write */
        job *j = &w->q[w->head];
        job mine = *j;
        s = j->s;
        av_frame_move_ref(w->cur, j->fr);
        w->head = (w->head + 1) % w->cap;
        w->n--;
        int keep = s->keep;
        uint64_t max_bytes = s->max_bytes;
        pthread_mutex_unlock(&w->m);
        run_job(w, s, &mine, keep, max_bytes);
        av_frame_unref(w->cur);
        pthread_mutex_lock(&w->m);
    }
    pthread_mutex_unlock(&w->m);
    return NULL;
}

/* ------------------------------------------------------------ the API */

int snap_writer_new(snap_writer **out, const char *dir, int queue, const cfg_cpus *cpus,
                    struct evq *q, char *err, size_t errlen)
{
    snap_writer *w = calloc(1, sizeof *w);
    char msg[256];
    *out = NULL;
    if (!w)
        goto nomem;
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->cap = queue > 0 ? queue : 1;
    w->evq = q;
    if (cpus)
        w->cpus = *cpus;
    if (!(w->dir = strdup(dir)) || !(w->q = calloc((size_t)w->cap, sizeof *w->q)) ||
        !(w->pkt = av_packet_alloc()) || !(w->cur = av_frame_alloc()))
        goto nomem;
    for (int i = 0; i < w->cap; i++)
        if (!(w->q[i].fr = av_frame_alloc()))
            goto nomem;
    if (snap_jpeg_new(&w->jpeg, msg, sizeof msg) < 0)
        goto nomem;
    int e = pthread_create(&w->thread, NULL, writer_main, w);
    if (e) {
        snprintf(err, errlen, "snapshot writer thread: %s", strerror(e));
        snap_writer_free(w);
        return -1;
    }
    w->started = 1;
    *out = w;
    return 0;
nomem:
    snprintf(err, errlen, "snapshot writer: out of memory");
    snap_writer_free(w);
    return -1;
}

void snap_writer_free(snap_writer *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->m);
        w->stop = 1;
        w->hold = 0;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->m);
        pthread_join(w->thread, NULL);
    }
    for (int i = 0; i < w->nst; i++) {
        snap_stream *s = w->st[i];
        if (s->dirfd >= 0)
            close(s->dirfd);
        snap_files_clear(&s->files);
        free(s->name);
        free(s);
    }
    if (w->q)
        for (int i = 0; i < w->cap; i++)
            av_frame_free(&w->q[i].fr);
    free(w->q);
    free(w->st);
    free(w->dir);
    av_packet_free(&w->pkt);
    av_frame_free(&w->cur);
    snap_jpeg_free(w->jpeg);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static snap_stream *find(snap_writer *w, const char *name)
{
    for (int i = 0; i < w->nst; i++)
        if (strcmp(w->st[i]->name, name) == 0)
            return w->st[i];
    return NULL;
}

snap_stream *snap_stream_get(snap_writer *w, const char *name, int keep, double max_mb)
{
    pthread_mutex_lock(&w->m);
    snap_stream *s = find(w, name);
    if (!s) {
        snap_stream **v = realloc(w->st, sizeof *v * (size_t)(w->nst + 1));
        if (v)
            w->st = v;
        if (!v || !(s = calloc(1, sizeof *s)) || !(s->name = strdup(name))) {
            free(s);
            pthread_mutex_unlock(&w->m);
            return NULL;
        }
        s->w = w;
        s->dirfd = -1;
        snap_files_init(&s->files);
        w->st[w->nst++] = s;
    }
    s->keep = keep > 0 ? keep : 1;
    s->max_bytes = max_mb > 0 ? (uint64_t)(max_mb * 1024 * 1024) : 1;
    s->rescan = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
    return s;
}

int snap_take(snap_stream *s, const AVFrame *fr, const snap_rect *r, int64_t seq, char *path,
              size_t len)
{
    snap_writer *w = s->w;
    char name[SNAP_NAME_MAX];
    int ret = -1;
    if (!fr || !fr->buf[0])
        return -1;
    pthread_mutex_lock(&w->m);
    int64_t us = lc_wall_us();
    if (us <= w->last_us)
        us = w->last_us + 1;
    if (w->n < w->cap && snap_file_name(name, sizeof name, us, seq) >= 0) {
        w->last_us = us;
        job *j = &w->q[(w->head + w->n) % w->cap];
        if (av_frame_ref(j->fr, fr) == 0) {
            j->s = s;
            j->r = r ? *r : (snap_rect){ 0, 0, 0, 0 };
            memcpy(j->name, name, sizeof name);
            w->n++;
            pthread_cond_signal(&w->cv);
            ret = 0;
        }
    }
    pthread_mutex_unlock(&w->m);
    if (ret < 0) {
        lc_count(&s->dropped, 1);
        return -1;
    }
    snprintf(path, len, "%s/%s/%s", w->dir, s->name, name);
    return 0;
}

void snap_counts_get(const snap_stream *s, snap_counts *out)
{
    out->saved = lc_read(&s->saved);
    out->errors = lc_read(&s->errors);
    out->dropped = lc_read(&s->dropped);
}

int snap_latest(snap_writer *w, const char *name, char *path, size_t len)
{
    int ret = -1;
    pthread_mutex_lock(&w->m);
    snap_stream *s = find(w, name);
    if (s && s->latest[0]) {
        snprintf(path, len, "%s/%s/%s", w->dir, s->name, s->latest);
        ret = 0;
    }
    pthread_mutex_unlock(&w->m);
    return ret;
}

#ifdef LCNETD_TESTING
void snap_test_hold(snap_writer *w, int on)
{
    pthread_mutex_lock(&w->m);
    w->hold = on;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
}
#endif
