/* test_config.c: lcnetd.ini parsing, checking, defaults and documentation.
 *
 * Inputs are real ini text.  Error tests assert the file:line, the
 * [section] key and the words an operator needs, since the message is the
 * whole interface of a rejected config.  Run from the repository root: the
 * example config and the man page are read from config/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "config/config.h"
#include "config/table.h"

enum { ERRLEN = 2048 };

static cfg *load_ok(const char *text)
{
    char err[ERRLEN];
    cfg *c = NULL;
    int ret = cfg_load_string(&c, text, "t.ini", err, sizeof err);
    if (ret != CFG_OK)
        fail_msg("expected success, got %d: %s\n--- input:\n%s", ret, err, text);
    assert_non_null(c);
    return c;
}

/* Loading `text` must fail with CFG_EINVAL and an error text holding every
 * one of the NULL-terminated strings. */
static void expect_error(const char *text, ...)
{
    char err[ERRLEN];
    cfg *c = (cfg *)&err;   /* must be reset to NULL */
    va_list ap;
    int ret = cfg_load_string(&c, text, "t.ini", err, sizeof err);
    if (ret != CFG_EINVAL)
        fail_msg("expected CFG_EINVAL, got %d (%s)\n--- input:\n%s", ret,
                 ret ? err : "ok", text);
    assert_null(c);
    va_start(ap, text);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (!strstr(err, w)) {
            va_end(ap);
            fail_msg("error lacks \"%s\":\n%s\n--- input:\n%s", w, err, text);
        }
    va_end(ap);
}

static int count_lines(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A machine with more CPUs than this one, for the defaults that derive
 * from the CPU count: while fake_cpus is set, sched_getaffinity (which the
 * configuration asks) answers CPUs 0..fake_cpus-1; otherwise the kernel's
 * answer, as the C library gives it. */
static int fake_cpus;

int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
    memset(set, 0, size);
    if (fake_cpus) {
        for (int i = 0; i < fake_cpus; i++)
            CPU_SET_S((size_t)i, size, set);
        return 0;
    }
    return syscall(SYS_sched_getaffinity, pid, size, set) < 0 ? -1 : 0;
}

static void usable(cpu_set_t *set)
{
    CPU_ZERO(set);
    assert_int_equal(sched_getaffinity(0, sizeof *set, set), 0);
}

static int first_usable_cpu(void)
{
    cpu_set_t set;
    usable(&set);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            return i;
    fail_msg("no usable CPU");
    return -1;
}

static int unusable_cpu(void)
{
    cpu_set_t set;
    usable(&set);
    for (int i = CPU_SETSIZE - 1; i >= 0; i--)
        if (!CPU_ISSET(i, &set))
            return i;
    skip();
    return -1;
}

static char *tmp_file(const void *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char *path = NULL;
    assert_true(asprintf(&path, "%s/test_config.XXXXXX", dir ? dir : "/tmp") > 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: %s (run the tests from the repository root)", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------ defaults */

static void test_empty_file_gives_defaults(void **state)
{
    (void)state;
    cfg *c = load_ok("");
    const cfg_daemon *d = &c->daemon;
    cpu_set_t set;

    assert_string_equal(d->socket, "/run/lcnetd/events.sock");
    assert_int_equal(d->socket_mode, 0660);
    /* default: the upper half of the usable CPUs, at least one */
    usable(&set);
    int n = CPU_COUNT(&set), want = n > 1 ? n / 2 : 1, top = 0;
    assert_int_equal(d->inference_cpus.count, want);
    for (int i = CPU_SETSIZE - 1, seen = 0; i >= 0 && seen < want; i--)
        if (CPU_ISSET(i, &set)) {
            assert_true(CPU_ISSET(i, &d->inference_cpus.set));
            seen++;
            top = top ? top : i;
        }
    assert_true(CPU_ISSET(top, &d->inference_cpus.set));
    assert_int_equal(d->decode_cpus.count, 0);
    assert_int_equal(d->max_batch, d->inference_cpus.count);   /* 0: one per inference CPU */
    assert_int_equal(d->queue_frames, 8);
    assert_int_equal(d->log_level, LOG_INFO);
    assert_int_equal(d->stats_interval, 10);
    assert_int_equal(d->subscriber_buffer, 262144);
    assert_int_equal(d->max_subscribers, 256);
    assert_int_equal(d->allow_root, 0);

    const cfg_model *m = &c->model;
    assert_string_equal(m->path, "/var/lib/lcnetd/model.onnx");
    assert_string_equal(m->labels, "");
    assert_int_equal(m->precision, CFG_PREC_FP32);
    assert_int_equal(m->resize, CFG_RESIZE_MODEL);
    assert_int_equal(m->top_k, 3);
    assert_int_equal(m->mean.set, 0);
    assert_int_equal(m->std.set, 0);
    assert_true(m->scale == 0.0);
    assert_int_equal(m->channel_order, CFG_ORDER_MODEL);
    assert_string_equal(m->calibration, "");

    assert_int_equal(c->nstreams, 0);
    assert_null(c->streams);
    cfg_free(c);
}

static void test_stream_defaults(void **state)
{
    (void)state;
    cfg *c = load_ok("; cameras\n[stream:gate]\nurl = rtsp://cam/1\n");
    assert_int_equal(c->nstreams, 1);
    const cfg_stream *s = &c->streams[0];
    assert_string_equal(s->name, "gate");
    assert_int_equal(s->line, 2);
    assert_string_equal(s->url, "rtsp://cam/1");
    assert_int_equal(s->url_kind, CFG_URL_RTSP);
    assert_int_equal(s->rtsp_transport, CFG_TRANSPORT_TCP);
    assert_true(s->sample_fps == 0.0);
    assert_true(s->min_score == 0.0);
    assert_int_equal(s->publish, CFG_PUBLISH_EVERY);
    assert_int_equal(s->hysteresis, 3);
    assert_int_equal(s->loop, 0);
    assert_int_equal(s->realtime, 1);
    assert_true(s->open_timeout == 10.0);
    assert_true(s->stall_timeout == 10.0);
    assert_true(s->backoff_min == 0.5);
    assert_true(s->backoff_max == 30.0);
    assert_int_equal(s->decode_skip, CFG_SKIP_AUTO);
    assert_int_equal(s->deblock, 0);
    assert_int_equal(s->enabled, 1);
    cfg_free(c);
}

static void test_every_key_set(void **state)
{
    (void)state;
    char text[2048];
    int cpu = first_usable_cpu();
    snprintf(text, sizeof text,
             "[daemon]\n"
             "socket = /run/x/ev.sock\n"
             "socket_mode = 0600\n"
             "inference_cpus = %d\n"
             "decode_cpus = %d\n"
             "max_batch = 64\n"
             "queue_frames = 300\n"
             "log_level = debug\n"
             "stats_interval = 3600\n"
             "subscriber_buffer = 4096\n"
             "max_subscribers = 65536\n"
             "allow_root = yes\n"
             "[model]\n"
             "path = /m/inference\n"
             "labels = /m/labels.txt\n"
             "precision = int8\n"
             "resize = short-crop\n"
             "top_k = 100\n"
             "mean = 0.5, 0.25 ,0.125\n"
             "std = 0.229,0.224,0.225\n"
             "scale = 0.00392156862745098\n"
             "channel_order = bgr\n"
             "calibration = /m/scales.txt\n"
             "[stream:a.b_c-1]\n"
             "url = /srv/clip.mp4\n"
             "rtsp_transport = udp\n"
             "sample_fps = 1000\n"
             "min_score = 1\n"
             "publish = change\n"
             "hysteresis = 1000\n"
             "loop = on\n"
             "realtime = off\n"
             "open_timeout = 0.1\n"
             "stall_timeout = 3600\n"
             "backoff_min = 0.01\n"
             "backoff_max = 86400\n"
             "decode_skip = none\n"
             "deblock = yes\n"
             "enabled = false\n", cpu, cpu);
    cfg *c = load_ok(text);
    const cfg_daemon *d = &c->daemon;
    assert_string_equal(d->socket, "/run/x/ev.sock");
    assert_int_equal(d->socket_mode, 0600);
    assert_int_equal(d->inference_cpus.count, 1);
    assert_true(CPU_ISSET(cpu, &d->inference_cpus.set));
    assert_int_equal(d->decode_cpus.count, 1);
    assert_int_equal(d->max_batch, 64);
    assert_int_equal(d->queue_frames, 300);
    assert_int_equal(d->log_level, LOG_DEBUG);
    assert_int_equal(d->stats_interval, 3600);
    assert_int_equal(d->subscriber_buffer, 4096);
    assert_int_equal(d->max_subscribers, 65536);
    assert_int_equal(d->allow_root, 1);

    const cfg_model *m = &c->model;
    assert_string_equal(m->path, "/m/inference");
    assert_string_equal(m->labels, "/m/labels.txt");
    assert_int_equal(m->precision, CFG_PREC_INT8);
    assert_int_equal(m->resize, CFG_RESIZE_SHORT_CROP);
    assert_int_equal(m->top_k, 100);
    assert_int_equal(m->mean.set, 1);
    assert_true(m->mean.v[0] == 0.5f && m->mean.v[1] == 0.25f && m->mean.v[2] == 0.125f);
    assert_int_equal(m->std.set, 1);
    assert_true(m->std.v[1] == 0.224f);
    assert_true(m->scale > 0.0039215 && m->scale < 0.0039216);
    assert_int_equal(m->channel_order, CFG_ORDER_BGR);
    assert_string_equal(m->calibration, "/m/scales.txt");

    assert_int_equal(c->nstreams, 1);
    const cfg_stream *s = &c->streams[0];
    assert_string_equal(s->name, "a.b_c-1");
    assert_int_equal(s->url_kind, CFG_URL_FILE);
    assert_int_equal(s->rtsp_transport, CFG_TRANSPORT_UDP);
    assert_true(s->sample_fps == 1000.0);
    assert_true(s->min_score == 1.0);
    assert_int_equal(s->publish, CFG_PUBLISH_CHANGE);
    assert_int_equal(s->hysteresis, 1000);
    assert_int_equal(s->loop, 1);
    assert_int_equal(s->realtime, 0);
    assert_true(s->open_timeout == 0.1);
    assert_true(s->stall_timeout == 3600.0);
    assert_true(s->backoff_min == 0.01);
    assert_true(s->backoff_max == 86400.0);
    assert_int_equal(s->decode_skip, CFG_SKIP_NONE);
    assert_int_equal(s->deblock, 1);
    assert_int_equal(s->enabled, 0);
    cfg_free(c);
}

static void test_streams_keep_file_order(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:z]\nurl=/dev/video0\n\n[model]\n[stream:a]\n"
                     "url=https://h/x.m3u8\n[stream:m]\nurl=rtsps://h/x\n");
    assert_int_equal(c->nstreams, 3);
    assert_string_equal(c->streams[0].name, "z");
    assert_int_equal(c->streams[0].url_kind, CFG_URL_DEVICE);
    assert_string_equal(c->streams[1].name, "a");
    assert_int_equal(c->streams[1].url_kind, CFG_URL_HTTP);
    assert_int_equal(c->streams[1].line, 5);
    assert_string_equal(c->streams[2].name, "m");
    assert_int_equal(c->streams[2].url_kind, CFG_URL_RTSP);
    assert_ptr_equal(cfg_find_stream(c, "a"), &c->streams[1]);
    assert_null(cfg_find_stream(c, "b"));
    assert_null(cfg_find_stream(c, "A"));
    cfg_free(c);
}

/* ------------------------------------------------------------ syntax */

static void test_brief_example_message_exactly(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = NULL;
    const char *text =
        "; lcnetd\n\n[daemon]\nlog_level = info\n\n[model]\n"
        "path = /var/lib/lcnetd/model.onnx\n\n; the yard camera\n"
        "[stream:yard]\nurl = rtsp://yard/1\nsample_fps = abc\n";
    assert_int_equal(cfg_load_string(&c, text, "/etc/lcnetd/lcnetd.ini", err, sizeof err),
                     CFG_EINVAL);
    assert_string_equal(err, "/etc/lcnetd/lcnetd.ini:12: [stream:yard] sample_fps: "
                             "\"abc\" is not a number (expected 0..1000)");
}

static void test_comments_indent_crlf_bom(void **state)
{
    (void)state;
    cfg *c = load_ok("\xEF\xBB\xBF; comment\r\n"
                     "# another\r\n"
                     "[stream:a]   ; trailing comment\r\n"
                     "    url = /srv/a.mp4 ; inline comment\r\n"
                     "\tsample_fps=2.5\r\n"
                     "  ;indented comment\r\n");
    assert_string_equal(c->streams[0].url, "/srv/a.mp4");
    assert_true(c->streams[0].sample_fps == 2.5);
    cfg_free(c);
}

/* inih joins an indented line to the previous value unless it is told not
 * to (multi-line values); here an indented line is always a line of its
 * own: a key if it has an =, else an error. */
static void test_indented_line_is_not_a_continuation(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl = /srv/a.mp4\n    sample_fps = 4\n");
    assert_string_equal(c->streams[0].url, "/srv/a.mp4");
    assert_true(c->streams[0].sample_fps == 4.0);
    cfg_free(c);
    expect_error("[stream:a]\nurl = /srv/a.mp4\n    more.mp4\n",
                 "t.ini:3: \"more.mp4\" is not a key = value line", NULL);
}

static void test_syntax_errors_each_reported_with_line(void **state)
{
    (void)state;
    expect_error("[daemon]\nmax_batch 4\n[model]\ntop_k = 2\njunk\n",
                 "t.ini:2: \"max_batch 4\" is not a key = value line",
                 "t.ini:5: \"junk\" is not a key = value line", NULL);
    expect_error("[daemon\nmax_batch = 4\n", "t.ini:1: \"[daemon\": no closing ]", NULL);
    expect_error("[daemon] max_batch = 4\n", "t.ini:1: [daemon]: unexpected \"max_batch = 4\""
                 " after the ]", NULL);
    expect_error("[model]\n= 3\n", "t.ini:2: [model] : no key name", NULL);
}

static void test_key_outside_section(void **state)
{
    (void)state;
    expect_error("\nmax_batch = 4\n[daemon]\n",
                 "t.ini:2: max_batch: key outside any section",
                 "expected [daemon], [model] or [stream:NAME]", NULL);
}

static void test_long_lines(void **state)
{
    (void)state;
    /* inih's own line buffer is 200 bytes; a signed URL is longer. */
    char url[1200], text[1400];
    memcpy(url, "https://cdn.example/live.m3u8?token=", 36);
    memset(url + 36, 'k', sizeof url - 37);
    url[sizeof url - 1] = '\0';
    snprintf(text, sizeof text, "[stream:a]\nurl = %s ; the cdn\nsample_fps = 1\n", url);
    cfg *c = load_ok(text);
    assert_string_equal(c->streams[0].url, url);
    assert_true(c->streams[0].sample_fps == 1.0);
    cfg_free(c);

    /* A long comment is still a comment. */
    char comment[600];
    memset(comment, '-', sizeof comment - 1);
    comment[0] = ';';
    comment[sizeof comment - 1] = '\0';
    snprintf(text, sizeof text, "%s\n[daemon]\nmax_batch = 2\n", comment);
    c = load_ok(text);
    assert_int_equal(c->daemon.max_batch, 2);
    cfg_free(c);

    /* Past the parser's own limit: an error naming the line, and the text
     * after it is not taken for lines of its own. */
    size_t n = 5000;
    char *huge = malloc(n + 64);
    assert_non_null(huge);
    int o = snprintf(huge, n + 64, "[stream:a]\nurl = /");
    memset(huge + o, 'x', n);
    strcpy(huge + o + n, "\nsample_fps = 1\n");
    expect_error(huge, "t.ini:2: line is longer than 4096 characters", NULL);
    char err[ERRLEN];
    cfg *bad = NULL;
    cfg_load_string(&bad, huge, "t.ini", err, sizeof err);
    assert_int_equal(count_lines(err), 2);   /* and url is then missing, at line 1 */
    assert_non_null(strstr(err, "t.ini:1: [stream:a] url: required key is missing"));
    free(huge);
}

static void test_long_stream_name(void **state)
{
    (void)state;
    /* inih cuts section names at 49 bytes; 64 must survive whole. */
    char name[65], text[200];
    memset(name, 'n', 64);
    name[64] = '\0';
    name[63] = 'Z';
    snprintf(text, sizeof text, "[stream:%s]\nurl=/dev/video3\n", name);
    cfg *c = load_ok(text);
    assert_string_equal(c->streams[0].name, name);
    cfg_free(c);
    snprintf(text, sizeof text, "[stream:%sX]\nurl=/dev/video3\n", name);
    expect_error(text, "t.ini:1: [stream:", "bad stream name", "expected 1 to 64", NULL);
}

static void test_nul_byte_in_file(void **state)
{
    (void)state;
    static const char data[] = "[daemon]\nmax_\0batch = 3\n";
    char *path = tmp_file(data, sizeof data - 1);
    char err[ERRLEN];
    cfg *c = NULL;
    assert_int_equal(cfg_load_file(&c, path, err, sizeof err), CFG_EINVAL);
    char want[300];
    snprintf(want, sizeof want, "%s:2: NUL byte", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);
}

/* ------------------------------------------------------------ sections and keys */

static void test_unknown_section(void **state)
{
    (void)state;
    expect_error("[daemon]\n[deamon]\nlog_level = info\n",
                 "t.ini:2: [deamon]: unknown section",
                 "expected [daemon], [model] or [stream:NAME]",
                 "did you mean [daemon]?", NULL);
    expect_error("[streams:yard]\nurl = /x\n", "t.ini:1: [streams:yard]: unknown section",
                 "did you mean [stream:yard]?", NULL);
    expect_error("[stream]\nurl = /x\n", "t.ini:1: [stream]: unknown section",
                 "[stream:NAME]", NULL);
    expect_error("[output]\n", "t.ini:1: [output]: unknown section", NULL);
    /* Keys of an unknown section are not each reported again. */
    char err[ERRLEN];
    cfg *c = NULL;
    cfg_load_string(&c, "[output]\na = 1\nb = 2\n", "t.ini", err, sizeof err);
    assert_int_equal(count_lines(err), 1);
}

static void test_unknown_key_suggests(void **state)
{
    (void)state;
    expect_error("[stream:yard]\nurl = /x\nsmaple_fps = 3\n",
                 "t.ini:3: [stream:yard] smaple_fps: unknown key; did you mean sample_fps?",
                 NULL);
    expect_error("[daemon]\nloglevel = info\n",
                 "t.ini:2: [daemon] loglevel: unknown key; did you mean log_level?", NULL);
    expect_error("[daemon]\nLog_Level = info\n", "did you mean log_level?", NULL);
    /* Nothing close: no guess. */
    char err[ERRLEN];
    cfg *c = NULL;
    assert_int_equal(cfg_load_string(&c, "[model]\nwibble = 3\n", "t.ini", err, sizeof err),
                     CFG_EINVAL);
    assert_non_null(strstr(err, "t.ini:2: [model] wibble: unknown key"));
    assert_null(strstr(err, "did you mean"));
}

static void test_key_in_wrong_section(void **state)
{
    (void)state;
    expect_error("[stream:a]\nurl = /x\ntop_k = 5\n",
                 "t.ini:3: [stream:a] top_k: unknown key here; it belongs in [model]", NULL);
    expect_error("[model]\nurl = /x\n", "it belongs in [stream:NAME]", NULL);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_error("[daemon]\nmax_batch = 4\n\nmax_batch = 8\n",
                 "t.ini:4: [daemon] max_batch: already set at line 2", NULL);
    /* The same key in two streams is no duplicate. */
    cfg *c = load_ok("[stream:a]\nurl=/a\n[stream:b]\nurl=/b\n");
    cfg_free(c);
}

static void test_duplicate_sections(void **state)
{
    (void)state;
    expect_error("[stream:a]\nurl=/a\n[stream:b]\nurl=/b\n[stream:a]\nurl=/c\n",
                 "t.ini:5: [stream:a]: duplicate stream (first defined at line 1)", NULL);
    expect_error("[daemon]\nmax_batch=2\n[model]\n[daemon]\nlog_level=info\n",
                 "t.ini:4: [daemon]: section already defined at line 1", NULL);
    expect_error("[model]\n[model]\n", "t.ini:2: [model]: section already defined at line 1",
                 NULL);
}

static void test_missing_url_names_section_line(void **state)
{
    (void)state;
    expect_error("[daemon]\n\n[stream:yard]\nsample_fps = 2\n[stream:b]\nurl=/b\n",
                 "t.ini:3: [stream:yard] url: required key is missing",
                 "expected rtsp://", NULL);
    /* An empty section at the end of the file is still seen. */
    expect_error("[stream:a]\nurl=/a\n[stream:last]\n",
                 "t.ini:3: [stream:last] url: required key is missing", NULL);
}

static void test_stream_names(void **state)
{
    (void)state;
    expect_error("[stream:front door]\nurl=/a\n", "t.ini:1: [stream:front door]: "
                 "bad stream name \"front door\" (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
                 NULL);
    expect_error("[stream:]\nurl=/a\n", "bad stream name \"\"", NULL);
    expect_error("[stream:a/b]\nurl=/a\n", "bad stream name \"a/b\"", NULL);
    expect_error("[stream:caf\xc3\xa9]\nurl=/a\n", "bad stream name", NULL);
    cfg *c = load_ok("[stream:Cam_01.hd-2]\nurl=/a\n");
    cfg_free(c);
}

/* The scheduler holds CFG_STREAMS_MAX streams: one more is refused at its
 * header, not left out of the running daemon while --check-config says ok. */
static void test_too_many_streams(void **state)
{
    size_t cap = (CFG_STREAMS_MAX + 1) * 32, o = 0;
    char *text = malloc(cap), line[64];
    (void)state;
    assert_non_null(text);
    for (int i = 0; i < CFG_STREAMS_MAX; i++)
        o += (size_t)snprintf(text + o, cap - o, "[stream:s%d]\nurl = /v/%d.mp4\n", i, i);
    cfg *c = load_ok(text);
    assert_int_equal(c->nstreams, CFG_STREAMS_MAX);
    cfg_free(c);
    snprintf(text + o, cap - o, "[stream:one-more]\nurl = /v/x.mp4\n");
    snprintf(line, sizeof line, "t.ini:%d: [stream:one-more]: ", 2 * CFG_STREAMS_MAX + 1);
    expect_error(text, line, "more than 1024 streams", NULL);
    free(text);
}

/* password_file: its first line is the password, read at load; errors name
 * the stream's key and the file and never what the file holds. */
static void test_password_file(void **state)
{
    static const char pw[] = "p@ss:w0rd/1 x";
    char text[512], shown[600];
    char *good = tmp_file("p@ss:w0rd/1 x\r\nsecond line\n", 27);
    char *empty = tmp_file("\nsecret on line two\n", 21);
    char *lng = malloc(2000);
    (void)state;
    assert_non_null(lng);
    memset(lng, 'x', 1999);
    lng[1999] = '\n';
    char *toolong = tmp_file(lng, 2000);
    free(lng);

    snprintf(text, sizeof text, "[stream:cam]\nurl = rtsp://viewer@h/x\npassword_file = %s\n", good);
    cfg *c = load_ok(text), *c2;
    assert_string_equal(c->streams[0].password, pw);
    assert_string_equal(c->streams[0].password_file, good);
    /* a stream without one has none */
    c2 = load_ok("[stream:cam]\nurl = rtsp://viewer@h/x\n");
    assert_null(c2->streams[0].password);
    /* a new password reconnects the stream on reload */
    assert_false(cfg_stream_equal(&c->streams[0], &c2->streams[0]));
    cfg_free(c2);
    c2 = load_ok(text);
    assert_true(cfg_stream_equal(&c->streams[0], &c2->streams[0]));
    free(c2->streams[0].password);
    c2->streams[0].password = strdup("other");
    assert_false(cfg_stream_equal(&c->streams[0], &c2->streams[0]));
    cfg_free(c2);
    cfg_free(c);

    snprintf(text, sizeof text, "[stream:cam]\nurl = rtsp://viewer@h/x\n"
             "password_file = %s.missing\n", good);
    snprintf(shown, sizeof shown, "t.ini:3: [stream:cam] password_file: cannot read %s.missing: "
             "No such file or directory", good);
    expect_error(text, shown, NULL);
    snprintf(text, sizeof text, "[stream:cam]\nurl = rtsp://viewer@h/x\npassword_file = %s\n",
             empty);
    expect_error(text, "t.ini:3: [stream:cam] password_file: ", empty, "is empty", NULL);
    snprintf(text, sizeof text, "[stream:cam]\nurl = rtsp://viewer@h/x\npassword_file = %s\n",
             toolong);
    expect_error(text, "t.ini:3: [stream:cam] password_file: the first line of", toolong,
                 "longer than 1024 bytes", NULL);
    snprintf(text, sizeof text, "[stream:cam]\nurl = /srv/a.mp4\npassword_file = %s\n", good);
    expect_error(text, "t.ini:3: [stream:cam] password_file: the url is not a network URL",
                 NULL);
    expect_error("[stream:cam]\nurl = rtsp://v@h/x\npassword_file = /\n",
                 "t.ini:3: [stream:cam] password_file: cannot read /: Is a directory", NULL);
    /* no message carries the file's content */
    char err[ERRLEN];
    c = NULL;
    snprintf(text, sizeof text, "[stream:cam]\nurl = /srv/a.mp4\npassword_file = %s\n"
             "nonsense = 1\n", good);
    assert_int_equal(cfg_load_string(&c, text, "t.ini", err, sizeof err), CFG_EINVAL);
    assert_null(strstr(err, "w0rd"));
    unlink(good);
    unlink(empty);
    unlink(toolong);
    free(good);
    free(empty);
    free(toolong);
}

static void test_quoted_value(void **state)
{
    (void)state;
    expect_error("[stream:a]\nurl = \"rtsp://h/x\"\n",
                 "t.ini:2: [stream:a] url: \"\"rtsp://h/x\"\" is quoted", NULL);
    expect_error("[daemon]\nlog_level = 'info'\n", "is quoted", NULL);
}

/* ------------------------------------------------------------ value types */

static void test_integers(void **state)
{
    (void)state;
    cfg *c = load_ok("[daemon]\nmax_batch = +7\nstats_interval = 1\n");
    assert_int_equal(c->daemon.max_batch, 7);
    assert_int_equal(c->daemon.stats_interval, 1);
    cfg_free(c);
    c = load_ok("[daemon]\ninference_cpus = 0\nmax_batch = 0\n");   /* 0: one per inference CPU */
    assert_int_equal(c->daemon.max_batch, 1);
    cfg_free(c);
    /* on a machine of 128 CPUs one frame per inference CPU is capped at
     * the batch the scheduler and the engine take (it was 128) */
    fake_cpus = 128;
    c = load_ok("[daemon]\ninference_cpus = 0-127\n");
    fake_cpus = 0;
    assert_int_equal(c->daemon.inference_cpus.count, 128);
    assert_int_equal(c->daemon.max_batch, 64);
    cfg_free(c);
    fake_cpus = 128;
    c = load_ok("");                                /* the upper half: 64 */
    fake_cpus = 0;
    assert_int_equal(c->daemon.max_batch, 64);
    cfg_free(c);
    fake_cpus = 72;
    c = load_ok("[daemon]\ninference_cpus = 0-71\nmax_batch = 0\n");
    fake_cpus = 0;
    assert_int_equal(c->daemon.max_batch, 64);
    cfg_free(c);
    expect_error("[daemon]\nmax_batch = 65\n",
                 "t.ini:2: [daemon] max_batch: \"65\" is out of range (expected 0..64)", NULL);
    expect_error("[daemon]\nmax_batch = -1\n", "\"-1\" is out of range (expected 0..64)", NULL);
    expect_error("[daemon]\nstats_interval = 10s\n",
                 "[daemon] stats_interval: \"10s\": unexpected \"s\" after the number "
                 "(expected 1..3600)", NULL);
    expect_error("[daemon]\nmax_batch = 2.5\n", "\"2.5\" is not a whole number", NULL);
    expect_error("[daemon]\nmax_batch = 0x10\n", "unexpected \"x10\" after the number", NULL);
    expect_error("[daemon]\nmax_batch = four\n", "\"four\" is not a number", NULL);
    expect_error("[daemon]\nmax_batch =\n", "[daemon] max_batch: no value (expected 0..64)",
                 NULL);
    expect_error("[daemon]\nsubscriber_buffer = 99999999999999999999999\n",
                 "is out of range (expected 4096..67108864)", NULL);
    expect_error("[daemon]\nmax_subscribers = -1\n", "\"-1\" is out of range", NULL);
}

static void test_doubles(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl=/a\nsample_fps = 1e1\nmin_score = .25\n"
                     "open_timeout = 5.\n");
    assert_true(c->streams[0].sample_fps == 10.0);
    assert_true(c->streams[0].min_score == 0.25);
    assert_true(c->streams[0].open_timeout == 5.0);
    cfg_free(c);
    expect_error("[stream:a]\nurl=/a\nmin_score = 1.01\n",
                 "t.ini:3: [stream:a] min_score: \"1.01\" is out of range (expected 0..1)", NULL);
    expect_error("[stream:a]\nurl=/a\nopen_timeout = 0.05\n",
                 "\"0.05\" is out of range (expected 0.1..600)", NULL);
    expect_error("[stream:a]\nurl=/a\nsample_fps = nan\n", "\"nan\" is not a number", NULL);
    expect_error("[stream:a]\nurl=/a\nsample_fps = inf\n", "\"inf\" is not a number", NULL);
    expect_error("[stream:a]\nurl=/a\nsample_fps = 0x1p3\n", "unexpected \"x1p3\"", NULL);
    expect_error("[stream:a]\nurl=/a\nsample_fps = 2,5\n", "unexpected \",5\" after the number",
                 NULL);
    expect_error("[stream:a]\nurl=/a\nsample_fps = 1e999\n", "\"1e999\" is out of range", NULL);
    expect_error("[model]\nscale = -0.5\n", "[model] scale: \"-0.5\" is out of range", NULL);
}

static void test_booleans(void **state)
{
    (void)state;
    static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
    static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };
    char text[128];
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        snprintf(text, sizeof text, "[daemon]\nallow_root = %s\n", yes[i]);
        cfg *c = load_ok(text);
        assert_int_equal(c->daemon.allow_root, 1);
        cfg_free(c);
        snprintf(text, sizeof text, "[stream:a]\nurl=/a\nenabled = %s\n", no[i]);
        c = load_ok(text);
        assert_int_equal(c->streams[0].enabled, 0);
        cfg_free(c);
    }
    expect_error("[daemon]\nallow_root = maybe\n",
                 "t.ini:2: [daemon] allow_root: \"maybe\" is not a boolean (expected yes or no",
                 NULL);
    expect_error("[daemon]\nallow_root = 2\n", "\"2\" is not a boolean", NULL);
    expect_error("[daemon]\nallow_root =\n", "no value (expected yes or no)", NULL);
}

static void test_enums(void **state)
{
    (void)state;
    cfg *c = load_ok("[daemon]\nlog_level = WARNING\n[model]\nprecision = bf16\n"
                     "resize = stretch\nchannel_order = rgb\n");
    assert_int_equal(c->daemon.log_level, LOG_WARNING);
    assert_int_equal(c->model.precision, CFG_PREC_BF16);
    assert_int_equal(c->model.resize, CFG_RESIZE_STRETCH);
    assert_int_equal(c->model.channel_order, CFG_ORDER_RGB);
    cfg_free(c);
    c = load_ok("[daemon]\nlog_level = error\n[model]\nprecision = auto\n");
    assert_int_equal(c->daemon.log_level, LOG_ERR);
    assert_int_equal(c->model.precision, CFG_PREC_AUTO);
    assert_int_equal(c->model.backend, CFG_BACKEND_AUTO);
    cfg_free(c);
    c = load_ok("[model]\nprecision = fp16\nbackend = xnnpack\n");
    assert_int_equal(c->model.precision, CFG_PREC_FP16);
    assert_int_equal(c->model.backend, CFG_BACKEND_XNNPACK);
    cfg_free(c);
    c = load_ok("[model]\nbackend = onednn\n");
    assert_int_equal(c->model.backend, CFG_BACKEND_ONEDNN);
    cfg_free(c);
    expect_error("[model]\nbackend = xnnpak\n", "t.ini:2: [model] backend",
                 "(expected auto, onednn or xnnpack)", "did you mean xnnpack?", NULL);
    expect_error("[daemon]\nlog_level = verbose\n",
                 "t.ini:2: [daemon] log_level: \"verbose\" is not a known value "
                 "(expected debug, info, notice, warning or error)", NULL);
    expect_error("[daemon]\nlog_level = warn\n", "did you mean warning?", NULL);
    expect_error("[model]\nprecision = in8\n", "(expected fp32, bf16, fp16, int8 or auto)",
                 "did you mean int8?", NULL);
    expect_error("[stream:a]\nurl=/a\npublish = changes\n", "(expected every or change)",
                 "did you mean change?", NULL);
    expect_error("[stream:a]\nurl=/a\nrtsp_transport = quic\n", "(expected tcp, udp or auto)",
                 NULL);
    expect_error("[stream:a]\nurl=/a\ndecode_skip = all\n", "(expected auto or none)", NULL);
    expect_error("[model]\nresize = crop\n", "(expected model, short-crop or stretch)", NULL);
}

static void test_socket_mode(void **state)
{
    (void)state;
    cfg *c = load_ok("[daemon]\nsocket_mode = 660\n");
    assert_int_equal(c->daemon.socket_mode, 0660);
    cfg_free(c);
    c = load_ok("[daemon]\nsocket_mode = 0\n");
    assert_int_equal(c->daemon.socket_mode, 0);
    cfg_free(c);
    c = load_ok("[daemon]\nsocket_mode = 0775\n");
    assert_int_equal(c->daemon.socket_mode, 0775);
    cfg_free(c);
    expect_error("[daemon]\nsocket_mode = 0666\n",
                 "t.ini:2: [daemon] socket_mode: \"0666\" lets every local user connect (o+w)",
                 NULL);
    expect_error("[daemon]\nsocket_mode = 0662\n", "(o+w)", NULL);
    expect_error("[daemon]\nsocket_mode = 4660\n", "\"4660\" sets setuid, setgid or sticky bits",
                 "up to 0777", NULL);
    expect_error("[daemon]\nsocket_mode = 01660\n", "sets setuid, setgid or sticky bits", NULL);
    expect_error("[daemon]\nsocket_mode = 0680\n", "\"0680\" is not an octal mode", NULL);
    expect_error("[daemon]\nsocket_mode = rw-rw----\n", "is not an octal mode", NULL);
    expect_error("[daemon]\nsocket_mode =\n", "\"\" is not an octal mode", NULL);
}

static void test_paths(void **state)
{
    (void)state;
    char text[400], sock[120];
    expect_error("[model]\npath = model.onnx\n",
                 "t.ini:2: [model] path: \"model.onnx\" is not an absolute path", NULL);
    expect_error("[model]\npath =\n", "[model] path: no value (expected an absolute path)", NULL);
    expect_error("[model]\nlabels = labels.txt\n", "is not an absolute path", NULL);
    cfg *c = load_ok("[model]\nlabels =\ncalibration =\n");
    assert_string_equal(c->model.labels, "");
    cfg_free(c);
    /* sun_path holds 108 bytes with the NUL. */
    memset(sock, 'a', sizeof sock);
    sock[0] = '/';
    sock[107] = '\0';
    snprintf(text, sizeof text, "[daemon]\nsocket = %s\n", sock);
    c = load_ok(text);
    assert_int_equal(strlen(c->daemon.socket), 107);
    cfg_free(c);
    sock[107] = 'a';
    sock[108] = '\0';
    snprintf(text, sizeof text, "[daemon]\nsocket = %s\n", sock);
    expect_error(text, "[daemon] socket: path is 108 bytes long (expected an absolute path "
                 "of at most 107 bytes)", NULL);
}

static void test_urls(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl = rtsp://user:pw@10.0.0.5:554/Streaming/101?x=1\n"
                     "[stream:b]\nurl = /dev/v4l/by-id/usb-cam-video-index0\n"
                     "[stream:c]\nurl = HTTP://h:8080/mjpg\n");
    assert_int_equal(c->streams[0].url_kind, CFG_URL_RTSP);
    assert_int_equal(c->streams[1].url_kind, CFG_URL_DEVICE);
    assert_int_equal(c->streams[2].url_kind, CFG_URL_HTTP);
    cfg_free(c);
    expect_error("[stream:a]\nurl = rstp://cam/1\n",
                 "t.ini:2: [stream:a] url: unsupported scheme \"rstp\"", "did you mean rtsp://?",
                 NULL);
    expect_error("[stream:a]\nurl = file:///srv/a.mp4\n", "write the path without file://",
                 NULL);
    expect_error("[stream:a]\nurl = rtsp:///1\n", "has no host", NULL);
    expect_error("[stream:a]\nurl = rtsp://user@:554/1\n", "has no host", NULL);
    expect_error("[stream:a]\nurl = clips/a.mp4\n",
                 "\"clips/a.mp4\" is neither a URL nor an absolute path", NULL);
    expect_error("[stream:a]\nurl = /srv/my clip.mp4\n", "contains a space", "%20", NULL);
    expect_error("[stream:a]\nurl =\n", "[stream:a] url: no value", NULL);
}

static void test_url_password_not_in_messages(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = NULL;
    assert_int_equal(cfg_load_string(&c, "[stream:a]\nurl = rtsp://admin:s3cret@cam/a b\n",
                                     "t.ini", err, sizeof err), CFG_EINVAL);
    assert_non_null(strstr(err, "contains a space"));
    assert_non_null(strstr(err, "rtsp://***@cam/a b"));
    assert_null(strstr(err, "s3cret"));
    assert_null(strstr(err, "admin"));
}

static void test_vec3(void **state)
{
    (void)state;
    cfg *c = load_ok("[model]\nmean = 123.675, 116.28, 103.53\nstd = 58.395,57.12,57.375\n"
                     "scale = 1\n");
    assert_true(c->model.mean.v[0] == 123.675f);
    assert_true(c->model.std.v[2] == 57.375f);
    assert_true(c->model.scale == 1.0);
    cfg_free(c);
    expect_error("[model]\nmean = 0.4,0.4\n",
                 "t.ini:2: [model] mean: \"0.4,0.4\" has 2 values (expected three numbers", NULL);
    expect_error("[model]\nmean = 0.4,0.4,0.4,0.4\n", "has 4 values", NULL);
    expect_error("[model]\nmean = 0.4,,0.4\n", "value 2: no value", NULL);
    expect_error("[model]\nmean = 0.4,x,0.4\n", "value 2: \"x\" is not a number", NULL);
    expect_error("[model]\nstd = 0.2,0.2,0\n",
                 "[model] std: value 3: \"0\" is out of range (expected three numbers like "
                 "0.485,0.456,0.406, each > 0 and <= 255", NULL);
    expect_error("[model]\nstd = 0.2,-0.2,0.2\n", "value 2: \"-0.2\" is out of range", NULL);
    expect_error("[model]\nmean = 0.1,0.2,256\n", "value 3: \"256\" is out of range", NULL);
}

static void test_cpu_list_syntax(void **state)
{
    (void)state;
    cfg_cpus c;
    char why[400];
    assert_int_equal(cfg_cpus_parse(&c, "", why, sizeof why), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(cfg_cpus_parse(&c, "  ", why, sizeof why), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(cfg_cpus_parse(&c, "1", why, sizeof why), 0);
    assert_int_equal(c.count, 1);
    assert_true(CPU_ISSET(1, &c.set));
    assert_int_equal(cfg_cpus_parse(&c, "0,2-3", why, sizeof why), 0);
    assert_int_equal(c.count, 3);
    assert_true(CPU_ISSET(0, &c.set) && CPU_ISSET(2, &c.set) && CPU_ISSET(3, &c.set));
    assert_false(CPU_ISSET(1, &c.set));
    assert_int_equal(cfg_cpus_parse(&c, " 4 - 5 , 1,1 ", why, sizeof why), 0);
    assert_int_equal(c.count, 3);   /* a CPU named twice counts once */
    assert_int_equal(cfg_cpus_parse(&c, "0-1023", why, sizeof why), 0);
    assert_int_equal(c.count, CPU_SETSIZE);

    static const struct { const char *in, *want; } bad[] = {
        { "3-1", "range 3-1 runs backwards" },
        { "1,", "end of value where a CPU number should be" },
        { ",1", "\",1\" where a CPU number should be" },
        { "1,,2", "\",2\" where a CPU number should be" },
        { "a", "\"a\" where a CPU number should be" },
        { "1-", "end of value where a CPU number should be" },
        { "-1", "\"-1\" where a CPU number should be" },
        { "1;2", "unexpected \";2\"" },
        { "1 2", "unexpected \"2\"" },
        { "1024", "CPU 1024 is beyond the highest CPU number 1023" },
        { "0-99999999999999999999999", "is beyond the highest CPU number" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        if (cfg_cpus_parse(&c, bad[i].in, why, sizeof why) != CFG_EINVAL ||
            !strstr(why, bad[i].want))
            fail_msg("cpu list \"%s\": want \"%s\", got \"%s\"", bad[i].in, bad[i].want, why);
    }
}

static void test_cpu_list_format(void **state)
{
    (void)state;
    cfg_cpus c;
    char why[200], buf[64];
    assert_int_equal(cfg_cpus_parse(&c, "7,0,2-3,5,6", why, sizeof why), 0);
    assert_int_equal(cfg_cpus_format(&c, buf, sizeof buf), 9);
    assert_string_equal(buf, "0,2-3,5-7");
    /* Cut at an item boundary, and the full length still reported. */
    assert_int_equal(cfg_cpus_format(&c, buf, 6), 9);
    assert_string_equal(buf, "0,2-3");
    assert_int_equal(cfg_cpus_parse(&c, "", why, sizeof why), 0);
    assert_int_equal(cfg_cpus_format(&c, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_cpus_must_be_usable(void **state)
{
    (void)state;
    char text[200], want[400], avail[256];
    int cpu = first_usable_cpu(), bad = unusable_cpu();
    cfg_cpus u;
    usable(&u.set);
    u.count = CPU_COUNT(&u.set);
    cfg_cpus_format(&u, avail, sizeof avail);

    snprintf(text, sizeof text, "[daemon]\ninference_cpus = %d\ndecode_cpus = %d\n", cpu, cpu);
    cfg *c = load_ok(text);
    assert_int_equal(c->daemon.inference_cpus.count, 1);
    assert_true(CPU_ISSET(cpu, &c->daemon.inference_cpus.set));
    assert_int_equal(c->daemon.decode_cpus.count, 1);
    cfg_free(c);

    snprintf(text, sizeof text, "[daemon]\nlog_level = info\ninference_cpus = %d,%d\n", cpu, bad);
    snprintf(want, sizeof want, "t.ini:3: [daemon] inference_cpus: CPU %d is not available to "
             "this process (available: %s)", bad, avail);
    expect_error(text, want, NULL);

    snprintf(text, sizeof text, "[daemon]\ndecode_cpus = %d-%d\n", bad - 1, bad);
    if (!CPU_ISSET(bad - 1, &u.set)) {
        snprintf(want, sizeof want, "t.ini:2: [daemon] decode_cpus: CPUs %d-%d are not "
                 "available", bad - 1, bad);
        expect_error(text, want, NULL);
    }
}

static void test_backoff_cross_check(void **state)
{
    (void)state;
    expect_error("[stream:a]\nurl=/a\nbackoff_max = 5\nbackoff_min = 10\n",
                 "t.ini:3: [stream:a] backoff_max: 5 is below backoff_min 10", NULL);
    expect_error("[stream:a]\nurl=/a\nbackoff_min = 60\n",
                 "t.ini:3: [stream:a] backoff_min: 60 is above backoff_max 30, its default",
                 NULL);
    cfg *c = load_ok("[stream:a]\nurl=/a\nbackoff_min = 5\nbackoff_max = 5\n"
                     "[stream:b]\nurl=/b\nbackoff_min = 60\nbackoff_max = 120\n");
    assert_true(c->streams[1].backoff_min == 60.0 && c->streams[1].backoff_max == 120.0);
    cfg_free(c);
    /* A value already rejected is not blamed a second time. */
    char err[ERRLEN];
    c = NULL;
    cfg_load_string(&c, "[stream:a]\nurl=/a\nbackoff_min = 60\nbackoff_max = 1e9\n",
                    "t.ini", err, sizeof err);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "t.ini:4: [stream:a] backoff_max: \"1e9\" is out of range"));
}

static void test_hysteresis_allowed_with_publish_every(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl=/a\npublish = every\nhysteresis = 10\n");
    assert_int_equal(c->streams[0].hysteresis, 10);
    cfg_free(c);
    expect_error("[stream:a]\nurl=/a\nhysteresis = 0\n", "\"0\" is out of range (expected "
                 "1..1000)", NULL);
}

/* ------------------------------------------------------------ reporting */

static void test_several_errors_in_line_order(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = NULL;
    const char *text = "[stream:a]\n"              /* 1: url missing, found at the end */
                       "sample_fps = x\n"          /* 2 */
                       "[daemon]\n"
                       "max_batch = 65\n"          /* 4 */
                       "log_levle = info\n"        /* 5 */
                       "[model]\n"
                       "top_k = 0\n"               /* 7 */
                       "precision = fp64\n"        /* 8 */
                       "junk\n";                   /* 9 */
    assert_int_equal(cfg_load_string(&c, text, "t.ini", err, sizeof err), CFG_EINVAL);
    assert_null(c);
    const char *order[] = { "t.ini:1:", "t.ini:2:", "t.ini:4:", "t.ini:5:", "t.ini:7:" };
    const char *at = err;
    for (size_t i = 0; i < 5; i++) {
        const char *hit = strstr(at, order[i]);
        if (!hit)
            fail_msg("\"%s\" missing or out of order in:\n%s", order[i], err);
        at = hit + 1;
    }
    assert_null(strstr(err, "t.ini:8:"));
    assert_non_null(strstr(err, "\n(2 more errors)"));
    assert_int_equal(count_lines(err), 6);
}

static void test_small_error_buffer(void **state)
{
    (void)state;
    char err[24];
    cfg *c = NULL;
    memset(err, 'X', sizeof err);
    assert_int_equal(cfg_load_string(&c, "[daemon]\nmax_batch = 65\n", "t.ini", err, 16),
                     CFG_EINVAL);
    assert_int_equal(strlen(err), 15);
    assert_int_equal(err[16], 'X');
    assert_memory_equal(err, "t.ini:2: [daemo", 15);
    assert_int_equal(cfg_load_string(&c, "[daemon]\nmax_batch = 65\n", "t.ini", NULL, 0),
                     CFG_EINVAL);
    assert_null(c);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = (cfg *)&err;
    assert_int_equal(cfg_load_file(&c, "config/no-such-file.ini", err, sizeof err), CFG_EIO);
    assert_null(c);
    assert_string_equal(err, "config/no-such-file.ini: cannot open: No such file or directory");
    assert_int_equal(cfg_load_file(&c, "config", err, sizeof err), CFG_EIO);
    assert_string_equal(err, "config: read: Is a directory");
    /* Not a config file at all: stops, does not read for ever. */
    assert_int_equal(cfg_load_file(&c, "/dev/zero", err, sizeof err), CFG_EINVAL);
    assert_non_null(strstr(err, "/dev/zero: larger than 4 MiB"));
}

static void test_load_file_names_file_in_messages(void **state)
{
    (void)state;
    static const char text[] = "[stream:a]\nurl = /a\n\nloop = perhaps\n";
    char *path = tmp_file(text, sizeof text - 1);
    char err[ERRLEN], want[300];
    cfg *c = NULL;
    assert_int_equal(cfg_load_file(&c, path, err, sizeof err), CFG_EINVAL);
    snprintf(want, sizeof want, "%s:4: [stream:a] loop: \"perhaps\" is not a boolean", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    free(path);
}

static void test_example_config_parses(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = NULL;
    if (cfg_load_file(&c, "config/lcnetd.ini.example", err, sizeof err) != CFG_OK)
        fail_msg("%s", err);
    assert_int_equal(c->nstreams, 3);
    const cfg_stream *yard = cfg_find_stream(c, "yard");
    assert_non_null(yard);
    assert_int_equal(yard->publish, CFG_PUBLISH_CHANGE);
    assert_true(yard->sample_fps == 2.0);
    assert_int_equal(cfg_find_stream(c, "replay")->enabled, 0);
    assert_string_equal(c->model.path, "/usr/share/lcnetd/camera-health.onnx");
    cfg_free(c);
}

/* Each key appears in the example, set or commented out with its default. */
static void test_example_config_shows_every_key(void **state)
{
    (void)state;
    char *text = read_all("config/lcnetd.ini.example");
    cfg_doc d;
    for (int i = 0; cfg_doc_get(i, &d) == 0; i++) {
        char set[80], off[80];
        snprintf(set, sizeof set, "\n%s =", d.key);
        snprintf(off, sizeof off, "\n;%s =", d.key);
        if (!strstr(text, set) && !strstr(text, off))
            fail_msg("config/lcnetd.ini.example lacks [%s] %s", d.section, d.key);
    }
    free(text);
}

/* ------------------------------------------------------------ reload helpers */

static void test_stream_equal(void **state)
{
    (void)state;
    cfg *a = load_ok("[stream:a]\nurl=/a\nsample_fps=2\n[stream:b]\nurl=/b\n");
    /* Moved, reordered, commented: unchanged streams keep running. */
    cfg *b = load_ok("; new comment\n\n[stream:b]\nurl = /b\n[stream:a]\nsample_fps = 2.0\n"
                     "url = /a\n");
    cfg *d = load_ok("[stream:a]\nurl=/a\nsample_fps=2\n[stream:b]\nurl=/b\nloop=yes\n");
    cfg *e = load_ok("[stream:a]\nurl=/a2\nsample_fps=2\n[stream:b]\nurl=/b\n"
                     "backoff_max = 30.5\n");
    assert_true(cfg_stream_equal(cfg_find_stream(a, "a"), cfg_find_stream(b, "a")));
    assert_true(cfg_stream_equal(cfg_find_stream(a, "b"), cfg_find_stream(b, "b")));
    assert_true(cfg_stream_equal(cfg_find_stream(a, "a"), cfg_find_stream(d, "a")));
    assert_false(cfg_stream_equal(cfg_find_stream(a, "b"), cfg_find_stream(d, "b")));
    assert_false(cfg_stream_equal(cfg_find_stream(a, "a"), cfg_find_stream(e, "a")));
    assert_false(cfg_stream_equal(cfg_find_stream(a, "b"), cfg_find_stream(e, "b")));
    assert_false(cfg_stream_equal(cfg_find_stream(a, "a"), cfg_find_stream(a, "b")));
    cfg_free(a);
    cfg_free(b);
    cfg_free(d);
    cfg_free(e);
}

static void test_model_equal(void **state)
{
    (void)state;
    cfg *a = load_ok("[model]\nmean = 0.5,0.5,0.5\n");
    cfg *b = load_ok("[model]\nmean = 0.5, 0.5, 0.50\n[daemon]\nlog_level = debug\n");
    cfg *c = load_ok("[model]\nmean = 0.5,0.5,0.6\n");
    cfg *d = load_ok("");
    cfg *e = load_ok("[model]\nmean = 0.5,0.5,0.5\nlabels = /l.txt\n");
    assert_true(cfg_model_equal(&a->model, &b->model));
    assert_false(cfg_model_equal(&a->model, &c->model));
    assert_false(cfg_model_equal(&a->model, &d->model));
    assert_false(cfg_model_equal(&a->model, &e->model));
    cfg_free(a);
    cfg_free(b);
    cfg_free(c);
    cfg_free(d);
    cfg_free(e);
}

static void test_daemon_diff(void **state)
{
    (void)state;
    char keys[128];
    cfg *a = load_ok("");
    cfg *same = load_ok("[daemon]\nsocket_mode = 660\nlog_level = info\n");
    cfg *live = load_ok("[daemon]\nlog_level = debug\nstats_interval = 5\n");
    cfg *sock = load_ok("[daemon]\nsocket = /run/other.sock\nsocket_mode = 0600\n");
    cfg *both = load_ok("[daemon]\nmax_batch = 8\nlog_level = error\n");

    strcpy(keys, "stale");
    assert_int_equal(cfg_daemon_diff(&a->daemon, &same->daemon, keys, sizeof keys), 0);
    assert_string_equal(keys, "");
    assert_int_equal(cfg_daemon_diff(&a->daemon, &live->daemon, keys, sizeof keys),
                     CFG_DIFF_LIVE);
    assert_string_equal(keys, "");
    assert_int_equal(cfg_daemon_diff(&a->daemon, &sock->daemon, keys, sizeof keys),
                     CFG_DIFF_RESTART);
    assert_string_equal(keys, "socket, socket_mode");
    assert_int_equal(cfg_daemon_diff(&a->daemon, &both->daemon, keys, sizeof keys),
                     CFG_DIFF_LIVE | CFG_DIFF_RESTART);
    assert_string_equal(keys, "max_batch");
    assert_int_equal(cfg_daemon_diff(&a->daemon, &both->daemon, NULL, 0),
                     CFG_DIFF_LIVE | CFG_DIFF_RESTART);
    cfg_free(a);
    cfg_free(same);
    cfg_free(live);
    cfg_free(sock);
    cfg_free(both);
}

/* ------------------------------------------------------------ schema and docs */

static void test_doc_lists_every_key_once(void **state)
{
    (void)state;
    cfg_doc d, e;
    int n = 0;
    for (; cfg_doc_get(n, &d) == 0; n++) {
        assert_non_null(d.key);
        assert_true(strlen(d.doc) > 10);
        for (int j = 0; j < n; j++) {
            assert_int_equal(cfg_doc_get(j, &e), 0);
            if (strcmp(d.section, e.section) == 0 && strcmp(d.key, e.key) == 0)
                fail_msg("[%s] %s listed twice", d.section, d.key);
        }
    }
    assert_int_equal(n, cfg_sec_daemon.nkeys + cfg_sec_model.nkeys + cfg_sec_stream.nkeys);
    assert_int_equal(cfg_doc_get(n, &d), -1);
    assert_int_equal(cfg_doc_get(-1, &d), -1);

    assert_int_equal(cfg_doc_get(cfg_sec_daemon.nkeys + cfg_sec_model.nkeys, &d), 0);
    assert_string_equal(d.section, "stream:NAME");
    assert_string_equal(d.key, "url");
    assert_int_equal(d.required, 1);
    assert_int_equal(cfg_doc_get(4, &d), 0);
    assert_string_equal(d.key, "max_batch");
    assert_string_equal(d.range, "0..64");
    assert_string_equal(d.def, "0");
    assert_int_equal(d.restart, 1);
    assert_int_equal(cfg_doc_get(5, &d), 0);
    assert_string_equal(d.key, "queue_frames");
    assert_string_equal(d.range, "1..300");
    assert_string_equal(d.def, "8");
    assert_int_equal(d.restart, 1);
    assert_int_equal(cfg_doc_get(6, &d), 0);
    assert_string_equal(d.range, "debug|info|notice|warning|error");
    assert_int_equal(d.restart, 0);
}

static const char *man_section(const char *man, const char *section, const char **end)
{
    char head[80];
    if (strcmp(section, "stream:NAME") == 0)
        snprintf(head, sizeof head, "\n.SH \"[stream:NAME] SECTION\"\n");
    else
        snprintf(head, sizeof head, "\n.SH \"[%s] SECTION\"\n", section);
    const char *start = strstr(man, head);
    if (!start)
        fail_msg("config/lcnetd.ini.5 has no %s", head + 1);
    start += strlen(head);
    *end = strstr(start, "\n.SH ");
    if (!*end)
        *end = start + strlen(start);
    return start;
}

/* Every key has an entry in its own section of lcnetd.ini(5), stating the
 * default the code uses and whether a reload applies it. */
static void test_man_page_documents_every_key(void **state)
{
    (void)state;
    char *man = read_all("config/lcnetd.ini.5");
    /* "\-" is how troff writes a plain hyphen. */
    for (char *r = man, *w = man;; r++) {
        if (r[0] == '\\' && r[1] == '-')
            r++;
        if (!(*w++ = *r))
            break;
    }
    cfg_doc d;
    for (int i = 0; cfg_doc_get(i, &d) == 0; i++) {
        const char *end, *sec = man_section(man, d.section, &end);
        char tag[80], def[160];
        snprintf(tag, sizeof tag, "\n.TP\n.B %s\n", d.key);
        const char *entry = strstr(sec, tag);
        if (!entry || entry > end)
            fail_msg("lcnetd.ini(5) has no entry for [%s] %s", d.section, d.key);
        const char *again = strstr(entry + 1, tag);
        if (again && again < end)
            fail_msg("lcnetd.ini(5) documents [%s] %s twice", d.section, d.key);
        const char *next = strstr(entry + strlen(tag), "\n.TP\n");
        size_t len = (size_t)((next && next < end ? next : end) - entry);
        char *text = strndup(entry, len);
        assert_non_null(text);
        if (d.required)
            snprintf(def, sizeof def, "\nRequired.\n");
        else if (!*d.def)
            snprintf(def, sizeof def, "\nDefault: empty.\n");
        else
            snprintf(def, sizeof def, "\nDefault: \\fB%s\\fR.\n", d.def);
        if (!strstr(text, def))
            fail_msg("lcnetd.ini(5) [%s] %s lacks \"%s\":\n%s", d.section, d.key, def + 1, text);
        if (d.restart != (strstr(text, "only on restart") != NULL))
            fail_msg("lcnetd.ini(5) [%s] %s: says %sthat it needs a restart; code says %s",
                     d.section, d.key, d.restart ? "not " : "", d.restart ? "it does" : "not");
        free(text);
    }
    assert_non_null(strstr(man, "\n.SH RELOADING\n"));
    assert_non_null(strstr(man, "SIGHUP"));
    free(man);
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const words[] = { "sample_fps", "min_score", "url", "loop" };
    size_t st = sizeof words[0];
    assert_int_equal(cfg_distance("sample_fps", "smaple_fps"), 1);
    assert_int_equal(cfg_distance("url", "URL"), 0);
    assert_int_equal(cfg_distance("abc", ""), 3);
    assert_int_equal(cfg_distance("kitten", "sitting"), 3);
    assert_string_equal(cfg_suggest("sample-fps", words, st, 4), "sample_fps");
    assert_string_equal(cfg_suggest("minscore", words, st, 4), "min_score");
    assert_string_equal(cfg_suggest("urk", words, st, 4), "url");
    assert_string_equal(cfg_suggest("sample", words, st, 4), "sample_fps");
    assert_null(cfg_suggest("xyz", words, st, 4));
    assert_null(cfg_suggest("frame_rate", words, st, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_gives_defaults),
        cmocka_unit_test(test_stream_defaults),
        cmocka_unit_test(test_every_key_set),
        cmocka_unit_test(test_streams_keep_file_order),
        cmocka_unit_test(test_brief_example_message_exactly),
        cmocka_unit_test(test_comments_indent_crlf_bom),
        cmocka_unit_test(test_indented_line_is_not_a_continuation),
        cmocka_unit_test(test_syntax_errors_each_reported_with_line),
        cmocka_unit_test(test_key_outside_section),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_long_stream_name),
        cmocka_unit_test(test_nul_byte_in_file),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_unknown_key_suggests),
        cmocka_unit_test(test_key_in_wrong_section),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_sections),
        cmocka_unit_test(test_missing_url_names_section_line),
        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_too_many_streams),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_quoted_value),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_socket_mode),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_url_password_not_in_messages),
        cmocka_unit_test(test_vec3),
        cmocka_unit_test(test_cpu_list_syntax),
        cmocka_unit_test(test_cpu_list_format),
        cmocka_unit_test(test_cpus_must_be_usable),
        cmocka_unit_test(test_backoff_cross_check),
        cmocka_unit_test(test_hysteresis_allowed_with_publish_every),
        cmocka_unit_test(test_several_errors_in_line_order),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_load_file_names_file_in_messages),
        cmocka_unit_test(test_example_config_parses),
        cmocka_unit_test(test_example_config_shows_every_key),
        cmocka_unit_test(test_stream_equal),
        cmocka_unit_test(test_model_equal),
        cmocka_unit_test(test_daemon_diff),
        cmocka_unit_test(test_doc_lists_every_key_once),
        cmocka_unit_test(test_man_page_documents_every_key),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
