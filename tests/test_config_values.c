/* test_config_values.c: each value type of lcnetd.ini (config/value.c):
 * integers, numbers, booleans, words, modes, paths, URLs and triples, what
 * each accepts and what its complaint says.  max_batch's default derives
 * from the CPU count: this suite is linked with tests/fakecpus.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config/config.h"
#include "engine/engine.h"
#include "tests/cfgtest.h"
#include "tests/fakecpus.h"

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
    fake_cpus_set(128);
    c = load_ok("[daemon]\ninference_cpus = 0-127\n");
    fake_cpus_set(0);
    assert_int_equal(c->daemon.inference_cpus.count, 128);
    assert_int_equal(c->daemon.max_batch, 64);
    cfg_free(c);
    fake_cpus_set(128);
    c = load_ok("");                                /* the upper half: 64 */
    fake_cpus_set(0);
    assert_int_equal(c->daemon.max_batch, 64);
    cfg_free(c);
    fake_cpus_set(72);
    c = load_ok("[daemon]\ninference_cpus = 0-71\nmax_batch = 0\n");
    fake_cpus_set(0);
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
    /* a refused login retried within the second would lock camera accounts */
    expect_error("[stream:a]\nurl=/a\nauth_backoff_max = 0.5\n",
                 "t.ini:3: [stream:a] auth_backoff_max: \"0.5\" is out of range (expected 1..86400)",
                 NULL);
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
    assert_int_equal(c->model.precision, ENG_PREC_BF16);
    assert_int_equal(c->model.resize, ENG_RESIZE_STRETCH);
    assert_int_equal(c->model.channel_order, ENG_ORDER_RGB);
    cfg_free(c);
    c = load_ok("[daemon]\nlog_level = error\n[model]\nprecision = auto\n");
    assert_int_equal(c->daemon.log_level, LOG_ERR);
    assert_int_equal(c->model.precision, ENG_PREC_AUTO);
    assert_int_equal(c->model.backend, ENG_BACKEND_AUTO);
    cfg_free(c);
    c = load_ok("[model]\nprecision = fp16\nbackend = xnnpack\n");
    assert_int_equal(c->model.precision, ENG_PREC_FP16);
    assert_int_equal(c->model.backend, ENG_BACKEND_XNNPACK);
    cfg_free(c);
    c = load_ok("[model]\nbackend = onednn\n");
    assert_int_equal(c->model.backend, ENG_BACKEND_ONEDNN);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_socket_mode),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_url_password_not_in_messages),
        cmocka_unit_test(test_vec3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
