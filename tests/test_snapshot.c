/* test_snapshot.c: snapshots (daemon/snapshot.c, snapfile.c, snapjpeg.c):
 * file names and their order, retention by count and bytes on a real
 * folder, the scan of an earlier run's files, and the writer thread on real
 * frames: JPEGs written and decodable, its queue full (dropped, counted,
 * never waited for), a folder it cannot write (an error event naming the
 * stream and the reason).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "daemon/events.h"
#include "daemon/evq.h"
#include "daemon/sink.h"
#include "daemon/snapfile.h"
#include "daemon/snapjpeg.h"
#include "daemon/snapshot.h"
#include "tests/testutil.h"

#define T0 1790000000123456LL     /* 2026-09-21T14:13:20.123456Z */

static void test_name_shape_and_order(void **state)
{
    (void)state;
    char a[SNAP_NAME_MAX], b[SNAP_NAME_MAX], c[SNAP_NAME_MAX];
    assert_int_equal(snap_file_name(a, sizeof a, T0, 42), 40);
    assert_string_equal(a, "20260921T141320.123456Z-000000000042.jpg");
    assert_true(snap_file_is_ours(a));
    /* a microsecond later, or a later second with a lower seq (a restart):
     * the name sorts after */
    snap_file_name(b, sizeof b, T0 + 1, 1);
    snap_file_name(c, sizeof c, T0 + 1000000, 7);
    assert_true(strcmp(a, b) < 0 && strcmp(b, c) < 0);
    assert_int_equal(snap_file_name(a, 20, T0, 42), -1);
    assert_false(snap_file_is_ours("20260921T141320.123456Z-000000000042.jpg.part"));
    assert_false(snap_file_is_ours("20260921T141320.123456Z-00000000004x.jpg"));
    assert_false(snap_file_is_ours("notes.jpg"));
    assert_false(snap_file_is_ours("20260921x141320.123456Z-000000000042.jpg"));
}

static void put_file(const char *dir, const char *name, size_t bytes)
{
    char p[PATH_MAX];
    char *b = calloc(1, bytes + 1);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    spit(p, b, bytes);
    free(b);
}

static int exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_retention_count_then_bytes(void **state)
{
    (void)state;
    char dir[PATH_MAX], names[6][SNAP_NAME_MAX], err[256];
    snap_files f;
    tmpdir_make(dir, sizeof dir, "snapkeep");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    snap_files_init(&f);
    for (int i = 0; i < 6; i++) {
        snap_file_name(names[i], sizeof names[i], T0 + i * 1000, i + 1);
        put_file(dir, names[i], 100 * (size_t)(i + 1));
        assert_int_equal(snap_files_add(&f, names[i], 100 * (uint64_t)(i + 1)), 0);
    }
    assert_int_equal(f.total, 2100);
    /* at most 4 files: the two oldest go */
    assert_int_equal(snap_files_trim(&f, fd, 4, 1 << 20, err, sizeof err), 2);
    assert_string_equal(err, "");
    assert_false(exists(dir, names[0]) || exists(dir, names[1]));
    assert_true(exists(dir, names[2]) && exists(dir, names[5]));
    assert_int_equal(f.total, 300 + 400 + 500 + 600);
    /* at most 1100 bytes: 300 and 400 go, 500 + 600 stay */
    assert_int_equal(snap_files_trim(&f, fd, 4, 1100, err, sizeof err), 2);
    assert_int_equal(f.n, 2);
    assert_false(exists(dir, names[3]));
    assert_true(exists(dir, names[4]));
    /* below one file's size, the newest alone stays */
    assert_int_equal(snap_files_trim(&f, fd, 4, 10, err, sizeof err), 1);
    assert_int_equal(f.n, 1);
    assert_string_equal(snap_files_newest(&f), names[5]);
    assert_true(exists(dir, names[5]));
    /* room for one more of 700 bytes within 1000: the newest goes too, and
     * the new one will be alone */
    assert_int_equal(snap_files_room(&f, fd, 4, 1000, 700, err, sizeof err), 1);
    assert_int_equal(f.n, 0);
    assert_false(exists(dir, names[5]));
    assert_int_equal(snap_files_add(&f, names[5], 600), 0);
    put_file(dir, names[5], 600);
    /* a file someone else removed is forgotten without complaint */
    assert_int_equal(snap_files_add(&f, "20990101T000000.000000Z-000000000001.jpg", 5), 0);
    unlink(dir);
    assert_int_equal(snap_files_trim(&f, fd, 1, 1 << 20, err, sizeof err), 1);
    assert_string_equal(err, "");
    snap_files_clear(&f);
    close(fd);
    assert_int_equal(tmpdir_remove(dir), 0);
}

/* What an earlier run left: its files count, oldest first, whatever the
 * order of the directory; a half-written file goes, other files stay and
 * do not count. */
static void test_scan_earlier_run(void **state)
{
    (void)state;
    char dir[PATH_MAX], err[256], n[3][SNAP_NAME_MAX];
    snap_files f;
    tmpdir_make(dir, sizeof dir, "snapscan");
    snap_file_name(n[0], sizeof n[0], T0, 900);
    snap_file_name(n[1], sizeof n[1], T0 + 5000000, 3);
    snap_file_name(n[2], sizeof n[2], T0 + 9000000, 1);
    put_file(dir, n[2], 30);
    put_file(dir, n[0], 10);
    put_file(dir, n[1], 20);
    put_file(dir, "README", 5);
    char part[SNAP_NAME_MAX + 8];
    snprintf(part, sizeof part, "%s.part", n[2]);
    put_file(dir, part, 7);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    snap_files_init(&f);
    assert_int_equal(snap_files_scan(&f, fd, err, sizeof err), 0);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.total, 60);
    assert_string_equal(snap_files_newest(&f), n[2]);
    assert_false(exists(dir, part));
    assert_int_equal(snap_files_trim(&f, fd, 2, 1 << 20, err, sizeof err), 1);
    assert_false(exists(dir, n[0]));
    assert_true(exists(dir, "README") && exists(dir, n[1]));
    /* scanning again gives the same, from the disk alone */
    assert_int_equal(snap_files_scan(&f, fd, err, sizeof err), 0);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.total, 50);
    snap_files_clear(&f);
    close(fd);
    assert_int_equal(tmpdir_remove(dir), 0);
}

/* A 4:2:0 frame with a gradient, as a decoder would hand it over. */
static AVFrame *frame(int w, int h, int shade)
{
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = w;
    f->height = h;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(16 + (x + y + shade) % 200);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < h / 2; y++)
            memset(f->data[p] + y * f->linesize[p], 128, (size_t)w / 2);
    return f;
}

/* Decode a JPEG file with libavcodec: its size, or fail; *luma: its
 * first pixel's Y, if asked. */
static void jpeg_read(const char *path, int *w, int *h, int *luma)
{
    size_t len;
    uint8_t *b = slurp(path, &len);
    assert_non_null(b);
    const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *d = avcodec_alloc_context3(c);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    assert_int_equal(avcodec_open2(d, c, NULL), 0);
    pkt->data = b;
    pkt->size = (int)len;
    assert_int_equal(avcodec_send_packet(d, pkt), 0);
    assert_int_equal(avcodec_receive_frame(d, f), 0);
    *w = f->width;
    *h = f->height;
    if (luma)
        *luma = f->data[0][0];
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&d);
    free(b);
}

static void jpeg_size(const char *path, int *w, int *h)
{
    jpeg_read(path, w, h, NULL);
}

static int wait_saved(snap_stream *s, uint64_t n)
{
    snap_counts c;
    for (int i = 0; i < 2000; i++) {
        snap_counts_get(s, &c);
        if (c.saved + c.errors >= n)
            return 0;
        usleep(5000);
    }
    return -1;
}

static void test_writer_writes_and_keeps(void **state)
{
    (void)state;
    char dir[PATH_MAX], err[256], path[PATH_MAX], latest[PATH_MAX], first[PATH_MAX];
    evq *q;
    snap_writer *w;
    snap_counts c;
    tmpdir_make(dir, sizeof dir, "snapw");
    strcat(dir, "/snapshots");                 /* made by the writer */
    assert_int_equal(evq_new(&q, 100, err, sizeof err), 0);
    assert_int_equal(snap_writer_new(&w, dir, 4, NULL, q, err, sizeof err), 0);
    snap_stream *s = snap_stream_get(w, "cam1", 3, 256);
    assert_non_null(s);
    AVFrame *f = frame(320, 240, 0);
    for (int i = 1; i <= 5; i++) {
        f->data[0][0] = (uint8_t)i;
        assert_int_equal(snap_take(s, f, NULL, i, path, sizeof path), 0);
        if (i == 1)
            strcpy(first, path);
        assert_int_equal(wait_saved(s, (uint64_t)i), 0);
    }
    snap_counts_get(s, &c);
    assert_int_equal(c.saved, 5);
    assert_int_equal(c.errors, 0);
    /* the event's path is the file; the newest three are kept */
    assert_int_equal(snap_latest(w, "cam1", latest, sizeof latest), 0);
    assert_string_equal(latest, path);
    assert_int_equal(access(first, F_OK), -1);
    int jw, jh;
    jpeg_size(path, &jw, &jh);
    assert_int_equal(jw, 320);
    assert_int_equal(jh, 240);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777 & ~0640, 0);
    /* a region: the JPEG is the rectangle, odd offsets rounded to even */
    snap_rect r = { 11, 20, 100, 60 };
    assert_int_equal(snap_take(s, f, &r, 6, path, sizeof path), 0);
    assert_int_equal(wait_saved(s, 6), 0);
    jpeg_size(path, &jw, &jh);
    assert_int_equal(jw, 101);
    assert_int_equal(jh, 60);
    assert_int_equal(snap_latest(w, "other", latest, sizeof latest), -1);
    /* limited-range black and white become JPEG's full-range 0 and 255 */
    AVFrame *flat = frame(64, 64, 0);
    for (int v = 16; v <= 235; v += 219) {
        int y;
        for (int row = 0; row < 64; row++)
            memset(flat->data[0] + row * flat->linesize[0], v, 64);
        assert_int_equal(snap_take(s, flat, NULL, 7, path, sizeof path), 0);
        assert_int_equal(wait_saved(s, v == 16 ? 7 : 8), 0);
        jpeg_read(path, &jw, &jh, &y);
        assert_in_range(y, v == 16 ? 0 : 253, v == 16 ? 2 : 255);
    }
    av_frame_free(&flat);
    snap_writer_free(w);

    /* a new writer (a restart) finds the files, and the limit holds */
    assert_int_equal(snap_writer_new(&w, dir, 4, NULL, q, err, sizeof err), 0);
    s = snap_stream_get(w, "cam1", 2, 256);
    for (int i = 0; i < 200 && snap_latest(w, "cam1", latest, sizeof latest) < 0; i++)
        usleep(5000);
    assert_string_equal(latest, path);
    assert_int_equal(snap_take(s, f, NULL, 1, path, sizeof path), 0);
    assert_int_equal(wait_saved(s, 1), 0);
    char folder[PATH_MAX + 8];
    snprintf(folder, sizeof folder, "%s/cam1", dir);
    int fd = open(folder, O_RDONLY | O_DIRECTORY);
    snap_files sf;
    snap_files_init(&sf);
    assert_int_equal(snap_files_scan(&sf, fd, err, sizeof err), 0);
    assert_int_equal(sf.n, 2);
    snap_files_clear(&sf);
    close(fd);
    snap_writer_free(w);
    av_frame_free(&f);
    evq_free(q);
    *strrchr(dir, '/') = 0;
    assert_int_equal(tmpdir_remove(dir), 0);
}

/* While the writer is busy the queue fills: the next snapshot is dropped
 * and counted at once, and those queued are written afterwards. */
static void test_writer_queue_full_drops(void **state)
{
    (void)state;
    char dir[PATH_MAX], err[256], path[PATH_MAX];
    evq *q;
    snap_writer *w;
    snap_counts c;
    tmpdir_make(dir, sizeof dir, "snapq");
    assert_int_equal(evq_new(&q, 100, err, sizeof err), 0);
    assert_int_equal(snap_writer_new(&w, dir, 2, NULL, q, err, sizeof err), 0);
    snap_stream *s = snap_stream_get(w, "cam1", 100, 256);
    AVFrame *f = frame(160, 120, 3);
    snap_test_hold(w, 1);
    assert_int_equal(snap_take(s, f, NULL, 1, path, sizeof path), 0);
    assert_int_equal(snap_take(s, f, NULL, 2, path, sizeof path), 0);
    path[0] = 0;
    assert_int_equal(snap_take(s, f, NULL, 3, path, sizeof path), -1);
    assert_string_equal(path, "");
    snap_counts_get(s, &c);
    assert_int_equal(c.dropped, 1);
    snap_test_hold(w, 0);
    assert_int_equal(wait_saved(s, 2), 0);
    snap_counts_get(s, &c);
    assert_int_equal(c.saved, 2);
    assert_int_equal(c.dropped, 1);
    /* the queue has room again */
    assert_int_equal(snap_take(s, f, NULL, 4, path, sizeof path), 0);
    assert_int_equal(wait_saved(s, 3), 0);
    snap_writer_free(w);
    av_frame_free(&f);
    evq_free(q);
    assert_int_equal(tmpdir_remove(dir), 0);
}

static void on_event(void *arg, const struct snk_event *e)
{
    char *out = arg;
    if (e->kind == SNK_ERROR && !out[0])
        snprintf(out, 1024, "%s|%s|%s", e->stream, e->error.source, e->error.message);
}

/* snapshot_dir under a regular file: nothing can be made there, so each
 * snapshot is an error event naming the stream, the path and the reason. */
static void test_writer_cannot_write(void **state)
{
    (void)state;
    char dir[PATH_MAX], bad[PATH_MAX + 16], err[256], path[PATH_MAX], got[1024] = "";
    evq *q;
    snap_writer *w;
    snap_counts c;
    tmpdir_make(dir, sizeof dir, "snapbad");
    put_file(dir, "file", 1);
    snprintf(bad, sizeof bad, "%s/file/snaps", dir);
    assert_int_equal(evq_new(&q, 100, err, sizeof err), 0);
    assert_int_equal(snap_writer_new(&w, bad, 4, NULL, q, err, sizeof err), 0);
    snap_stream *s = snap_stream_get(w, "gate", 10, 256);
    AVFrame *f = frame(64, 48, 0);
    assert_int_equal(snap_take(s, f, NULL, 9, path, sizeof path), 0);
    assert_int_equal(wait_saved(s, 2), 0);       /* the scan's error and the write's */
    snap_counts_get(s, &c);
    assert_int_equal(c.saved, 0);
    assert_int_equal(c.errors, 2);
    evq_drain(q, on_event, got);
    assert_non_null(strstr(got, "gate|snapshot|stream gate: snapshot: making the folder "));
    assert_non_null(strstr(got, "/file/snaps: Not a directory; check the disk"));
    assert_int_equal(snap_latest(w, "gate", path, sizeof path), -1);
    snap_writer_free(w);
    av_frame_free(&f);
    evq_free(q);
    assert_int_equal(tmpdir_remove(dir), 0);
}

/* The label event names its snapshot last; without one it is the line it
 * always was.  The event stays one allocation whose strings all survive. */
static void test_label_event_field(void **state)
{
    (void)state;
    snk_class top[2] = { { 3, 0.75f, "covered" }, { 1, 0.25f, NULL } };
    snk_event *a = snk_label_new("cam1", NULL, NULL, top, 2, 42, 1.5, T0, 7, 2.0);
    snk_event *b = snk_label_new("cam1", NULL, NULL, top, 2, 42, 1.5, T0, 7, 2.0);
    size_t la, lb;
    assert_ptr_equal(snk_label_snapshot(a, NULL), a);
    b = snk_label_snapshot(b, "/var/lib/lcnetd/snapshots/cam1/x.jpg");
    assert_non_null(b);
    assert_string_equal(b->stream, "cam1");
    assert_string_equal(b->label.top[0].label, "covered");
    assert_null(b->label.top[1].label);
    char *ta = ev_label(a, &la), *tb = ev_label(b, &lb);
    const char *tail = ",\"snapshot\":\"/var/lib/lcnetd/snapshots/cam1/x.jpg\"}";
    assert_int_equal(lb, la - 1 + strlen(tail));
    assert_memory_equal(ta, tb, la - 1);
    assert_string_equal(tb + la - 1, tail);
    free(ta);
    free(tb);
    free(a);
    free(b);
    /* a region's and a model's names move with the block too */
    snk_event *r = snk_label_new("cam1", "gate", "scene", top, 2, 42, 1.5, T0, 7, 2.0);
    assert_non_null(r);
    char *before = ev_label(r, &la);
    r = snk_label_snapshot(r, "/var/lib/lcnetd/snapshots/cam1/y.jpg");
    assert_non_null(r);
    assert_string_equal(r->region, "gate");
    assert_string_equal(r->model, "scene");
    char *after = ev_label(r, &lb);
    const char *rtail = ",\"snapshot\":\"/var/lib/lcnetd/snapshots/cam1/y.jpg\"}";
    assert_int_equal(lb, la - 1 + strlen(rtail));
    assert_memory_equal(before, after, la - 1);
    assert_non_null(strstr(after, "\"region\":\"gate\",\"model\":\"scene\",\"snapshot\":"));
    free(before);
    free(after);
    free(r);
    snk_event *e = snk_error_new("cam1", "snapshot", "stream cam1: snapshot: full");
    char *te = ev_error(e, &la);
    assert_non_null(strstr(te, "{\"event\":\"error\",\"stream\":\"cam1\",\"source\":\"snapshot\","
                               "\"message\":\"stream cam1: snapshot: full\",\"time\":"));
    free(te);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_shape_and_order),
        cmocka_unit_test(test_retention_count_then_bytes),
        cmocka_unit_test(test_scan_earlier_run),
        cmocka_unit_test(test_writer_writes_and_keeps),
        cmocka_unit_test(test_writer_queue_full_drops),
        cmocka_unit_test(test_writer_cannot_write),
        cmocka_unit_test(test_label_event_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
