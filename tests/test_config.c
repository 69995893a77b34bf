/* test_config.c: lcnetd.ini parsing and loading (config/parse.c): defaults,
 * syntax, sections and keys, the cross-checks between keys, how errors are
 * reported, and the [mqtt] and [metrics] sections.  The value types, CPU
 * lists, reload comparisons and the documents have suites of their own
 * (test_config_values, _cpus, _compare, _docs).
 *
 * Inputs are real ini text.  Error tests assert the file:line, the
 * [section] key and the words an operator needs, since the message is the
 * whole interface of a rejected config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config/config.h"
#include "config/table.h"
#include "engine/engine.h"
#include "tests/cfgtest.h"

static int count_lines(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
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
    assert_int_equal(m->precision, ENG_PREC_FP32);
    assert_int_equal(m->resize, ENG_RESIZE_DEFAULT);
    assert_int_equal(m->top_k, 3);
    assert_int_equal(m->mean.set, 0);
    assert_int_equal(m->std.set, 0);
    assert_true(m->scale == 0.0);
    assert_int_equal(m->channel_order, ENG_ORDER_MODEL);
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
    assert_true(s->auth_backoff_max == 600.0);
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
             "auth_backoff_max = 1\n"
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
    assert_int_equal(m->precision, ENG_PREC_INT8);
    assert_int_equal(m->resize, ENG_RESIZE_SHORT_CROP);
    assert_int_equal(m->top_k, 100);
    assert_int_equal(m->mean.set, 1);
    assert_true(m->mean.v[0] == 0.5f && m->mean.v[1] == 0.25f && m->mean.v[2] == 0.125f);
    assert_int_equal(m->std.set, 1);
    assert_true(m->std.v[1] == 0.224f);
    assert_true(m->scale > 0.0039215 && m->scale < 0.0039216);
    assert_int_equal(m->channel_order, ENG_ORDER_BGR);
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
    assert_true(s->auth_backoff_max == 1.0);
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
                 "expected [daemon], [model], [mqtt], [metrics] or [stream:NAME]",
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

/* ------------------------------------------------------------ keys checked together */

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

/* ------------------------------------------------------------ [mqtt] and [metrics] */

static void test_mqtt_and_metrics_sections(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl=/a\n");
    assert_string_equal(c->mqtt.host, "");          /* off by default */
    assert_int_equal(c->mqtt.port, 1883);
    assert_int_equal(c->mqtt.queue, 1000);
    assert_string_equal(c->mqtt.homeassistant_prefix, "homeassistant");
    assert_string_equal(c->metrics.listen, "");
    cfg_free(c);

    c = load_ok("[mqtt]\nhost = broker.local\nport = 8883\ntopic_prefix = site/box-1\n"
                "username = u\npassword_file = /run/pw\nca_file = /etc/ca.pem\nqos = 1\n"
                "cert_file = /etc/c.pem\nkey_file = /etc/k.pem\nhomeassistant = yes\n"
                "[metrics]\nlisten = [::1]:9464\n");
    assert_string_equal(c->mqtt.host, "broker.local");
    assert_int_equal(c->mqtt.port, 8883);
    assert_string_equal(c->mqtt.topic_prefix, "site/box-1");
    assert_int_equal(c->mqtt.qos, 1);
    assert_int_equal(c->mqtt.homeassistant, 1);
    assert_int_equal(c->mqtt.line, 1);
    assert_string_equal(c->metrics.listen, "[::1]:9464");
    cfg_free(c);

    expect_error("[mqtt]\nhost = b\ntopic_prefix = a/+/b\n", "t.ini:3: [mqtt] topic_prefix:",
                 "wildcard", NULL);
    expect_error("[mqtt]\nhost = b\ntopic_prefix = /a\n", "t.ini:3:", "empty level", NULL);
    expect_error("[mqtt]\nhost = b\ntopic_prefix = a//b\n", "t.ini:3:", "empty level", NULL);
    expect_error("[mqtt]\nhost = my broker\n", "t.ini:2: [mqtt] host:", "blank", NULL);
    expect_error("[mqtt]\nhost = b\nqos = 2\n", "t.ini:3: [mqtt] qos:", "0..1", NULL);
    expect_error("[mqtt]\nhost = b\npassword_file = /p\n", "t.ini:3: [mqtt] password_file:",
                 "set username too", NULL);
    expect_error("[mqtt]\nhost = b\ncert_file = /c\nca_file = /a\n", "t.ini:3: [mqtt] cert_file:",
                 "without key_file", NULL);
    expect_error("[mqtt]\nhost = b\ncert_file = /c\nkey_file = /k\n", "t.ini:3: [mqtt] cert_file:",
                 "set ca_file", NULL);
    expect_error("[mqtt]\nport = 1884\n", "t.ini:2: [mqtt] port: set, but host is empty", NULL);
    expect_error("[mqtt]\nhost = b\nbackoff_min = 5\nbackoff_max = 2\n",
                 "t.ini:4: [mqtt] backoff_max: 2 is below backoff_min 5", NULL);
    expect_error("[mqtt]\nhost = b\n[mqtt]\n", "t.ini:3: [mqtt]: section already defined", NULL);
    expect_error("[mqtt]\nhots = b\n", "t.ini:2: [mqtt] hots: unknown key", "did you mean host?",
                 NULL);
    expect_error("[metrics]\nlisten = localhost:9464\n", "t.ini:2: [metrics] listen:",
                 "numeric IPv4", NULL);
    expect_error("[metrics]\nlisten = 127.0.0.1\n", "t.ini:2:", "no :PORT", NULL);
    expect_error("[metrics]\nlisten = 127.0.0.1:70000\n", "t.ini:2:", "between 1 and 65535",
                 NULL);
    expect_error("[metric]\n", "t.ini:1: [metric]: unknown section", "did you mean [metrics]?",
                 NULL);
    /* a key of another section points there */
    expect_error("[daemon]\ntopic_prefix = x\n", "t.ini:2: [daemon] topic_prefix: unknown key here",
                 "it belongs in [mqtt]", NULL);
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
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_key_in_wrong_section),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_sections),
        cmocka_unit_test(test_missing_url_names_section_line),
        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_too_many_streams),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_quoted_value),
        cmocka_unit_test(test_backoff_cross_check),
        cmocka_unit_test(test_hysteresis_allowed_with_publish_every),
        cmocka_unit_test(test_several_errors_in_line_order),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_load_file_names_file_in_messages),
        cmocka_unit_test(test_mqtt_and_metrics_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
