/* test_cause.c: why an open failed, and the reason shown (daemon/cause.c).
 *
 * The messages are what FFmpeg 5.1 logged and returned against the servers of
 * tests/integration/test_reconnect_policy.py (GStreamer's RTSP server with a
 * login, VLC's RTSP output, an HTTP server with a login, refused ports).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "config/config.h"
#include "daemon/cause.h"

/* One stream, through the real config parser; keys is extra "key = value" lines. */
static cfg *stream(const char *url, const char *keys)
{
    char text[1024], err[512];
    cfg *c = NULL;
    snprintf(text, sizeof text, "[stream:s]\nurl = %s\n%s", url, keys ? keys : "");
    if (cfg_load_string(&c, text, "t.ini", err, sizeof err) != CFG_OK)
        fail_msg("%s", err);
    return c;
}

static void test_refused_login(void **state)
{
    char err[256];
    (void)state;
    cfg *c = stream("rtsp://viewer:Wr0ng@127.0.0.1:8554/cam", NULL);
    const cfg_stream *s = &c->streams[0];
    const char *said = "method DESCRIBE failed: 401 Unauthorized";
    int cause = ing_cause_of(s, AVERROR_HTTP_UNAUTHORIZED, said);
    assert_int_equal(cause, ING_CAUSE_AUTH);
    ing_cause_reason(err, sizeof err, s, cause, "", AVERROR_HTTP_UNAUTHORIZED, said);
    assert_string_equal(err, "rtsp://127.0.0.1:8554/cam refused the login: method DESCRIBE "
                             "failed: 401 Unauthorized; check the credentials in the URL");
    assert_null(strstr(err, "Wr0ng"));
    assert_null(strstr(err, "viewer"));
    cfg_free(c);

    /* HTTP: 401 and 403, from the code alone (no log line) */
    c = stream("http://u:pw@cam.local/video.mjpg", NULL);
    s = &c->streams[0];
    assert_int_equal(ing_cause_of(s, AVERROR_HTTP_UNAUTHORIZED, ""), ING_CAUSE_AUTH);
    assert_int_equal(ing_cause_of(s, AVERROR_HTTP_FORBIDDEN, ""), ING_CAUSE_AUTH);
    ing_cause_reason(err, sizeof err, s, ING_CAUSE_AUTH, "", AVERROR_HTTP_FORBIDDEN, "");
    assert_non_null(strstr(err, "http://cam.local/video.mjpg"));
    assert_non_null(strstr(err, "403 Forbidden"));
    assert_non_null(strstr(err, "check the credentials in the URL"));
    /* an HLS segment refused: the playlist's code is another, its log line says it */
    assert_int_equal(ing_cause_of(s, AVERROR_INVALIDDATA, "HTTP error 403 Forbidden"),
                     ING_CAUSE_AUTH);
    /* not a login matter */
    assert_int_equal(ing_cause_of(s, AVERROR_HTTP_NOT_FOUND, "HTTP error 404 Not Found"),
                     ING_CAUSE_OTHER);
    assert_int_equal(ing_cause_of(s, AVERROR(ECONNREFUSED), ""), ING_CAUSE_OTHER);
    cfg_free(c);
}

static void test_password_file_named(void **state)
{
    char err[256], dir[] = "/tmp/test_cause_XXXXXX", path[64], text[256], cerr[256];
    cfg *c = NULL;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/pw", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("Fil3-Secret\n", f);
    fclose(f);
    snprintf(text, sizeof text, "[stream:s]\nurl = rtsp://viewer@cam/1\npassword_file = %s\n",
             path);
    assert_int_equal(cfg_load_string(&c, text, "t.ini", cerr, sizeof cerr), CFG_OK);
    ing_cause_reason(err, sizeof err, &c->streams[0], ING_CAUSE_AUTH, "",
                     AVERROR_HTTP_UNAUTHORIZED, "method DESCRIBE failed: 401 Unauthorized");
    assert_non_null(strstr(err, "check the credentials in the URL and in password_file"));
    assert_null(strstr(err, "Fil3"));
    cfg_free(c);
    unlink(path);
    rmdir(dir);
}

static void test_refused_transport(void **state)
{
    char err[256];
    const char *said = "method SETUP failed: 461 Unsupported transport";
    (void)state;
    cfg *c = stream("rtsp://127.0.0.1:8554/cam", NULL);          /* tcp, the default */
    const cfg_stream *s = &c->streams[0];
    int cause = ing_cause_of(s, AVERROR(EPROTONOSUPPORT), said);
    assert_int_equal(cause, ING_CAUSE_TRANSPORT);
    ing_cause_reason(err, sizeof err, s, cause, "", AVERROR(EPROTONOSUPPORT), said);
    assert_string_equal(err, "rtsp://127.0.0.1:8554/cam refuses RTSP over TCP: method SETUP "
                             "failed: 461 Unsupported transport; set rtsp_transport = udp or auto");
    cfg_free(c);

    c = stream("rtsp://127.0.0.1:8554/cam", "rtsp_transport = udp\n");
    s = &c->streams[0];
    ing_cause_reason(err, sizeof err, s, ing_cause_of(s, AVERROR(EPROTONOSUPPORT), said), "",
                     AVERROR(EPROTONOSUPPORT), said);
    assert_non_null(strstr(err, "refuses RTSP over UDP"));
    assert_non_null(strstr(err, "set rtsp_transport = tcp or auto"));
    cfg_free(c);

    /* over HTTP, EPROTONOSUPPORT is no transport matter */
    c = stream("http://cam/x.ts", NULL);
    assert_int_equal(ing_cause_of(&c->streams[0], AVERROR(EPROTONOSUPPORT), ""),
                     ING_CAUSE_OTHER);
    cfg_free(c);
}

static void test_missing_file_named(void **state)
{
    char err[256];
    (void)state;
    cfg *c = stream("/srv/lcnetd/replay.mp4", NULL);
    const cfg_stream *s = &c->streams[0];
    int cause = ing_cause_of(s, AVERROR(ENOENT), "");
    assert_int_equal(cause, ING_CAUSE_MISSING);
    ing_cause_reason(err, sizeof err, s, cause, "", AVERROR(ENOENT), "");
    assert_string_equal(err, "/srv/lcnetd/replay.mp4: No such file or directory: "
                             "check the stream's url");
    /* a file's other errors name it too */
    ing_cause_reason(err, sizeof err, s, ING_CAUSE_OTHER, "reading stream info: ",
                     AVERROR_INVALIDDATA, "");
    assert_string_equal(err, "reading stream info: /srv/lcnetd/replay.mp4: "
                             "Invalid data found when processing input");
    cfg_free(c);

    /* a device's message names its path already: not twice */
    c = stream("/dev/video-missing", NULL);
    s = &c->streams[0];
    const char *said = "Cannot open video device /dev/video-missing: No such file or directory";
    cause = ing_cause_of(s, AVERROR(ENOENT), said);
    assert_int_equal(cause, ING_CAUSE_MISSING);
    ing_cause_reason(err, sizeof err, s, cause, "", AVERROR(ENOENT), said);
    assert_string_equal(err, "Cannot open video device /dev/video-missing: No such file or "
                             "directory: check the stream's url");
    cfg_free(c);
}

static void test_inner_urls_made_public(void **state)
{
    char out[256];
    (void)state;
    /* libav's TCP connection to the configured host: the configured URL */
    ing_cause_public_urls(out, sizeof out,
                          "Connection to tcp://127.0.0.1:8555?timeout=11000000 failed: "
                          "Connection refused",
                          "rtsp://admin:Pa55@127.0.0.1:8555/live");
    assert_string_equal(out, "Connection to rtsp://127.0.0.1:8555/live failed: Connection refused");
    /* the host's case does not matter; the port may be the scheme's */
    ing_cause_public_urls(out, sizeof out, "Connection to tcp://CAM.local:554 failed: x",
                          "rtsp://cam.local/1");
    assert_string_equal(out, "Connection to rtsp://cam.local/1 failed: x");
    /* another host (an HLS segment elsewhere): host and port, no options */
    ing_cause_public_urls(out, sizeof out,
                          "Connection to tcp://cdn.example:443?timeout=5 failed: Timeout",
                          "https://u:p@origin.example/live.m3u8");
    assert_string_equal(out, "Connection to cdn.example:443 failed: Timeout");
    /* UDP sockets are the client's own: no URL put in, options dropped */
    ing_cause_public_urls(out, sizeof out, "bind udp://127.0.0.1:20000?localport=1: in use",
                          "rtsp://127.0.0.1/x");
    assert_string_equal(out, "bind 127.0.0.1:20000: in use");
    /* a URL of the stream's own protocol stays, and so does a word ending in tcp */
    ing_cause_public_urls(out, sizeof out, "'http://127.0.0.1:80/seg0.ts' xtcp://a",
                          "http://127.0.0.1:80/p.m3u8");
    assert_string_equal(out, "'http://127.0.0.1:80/seg0.ts' xtcp://a");
    /* cut to the buffer, never past it */
    char small[12];
    ing_cause_public_urls(small, sizeof small, "Connection to tcp://h:1 failed", "rtsp://h/x");
    assert_string_equal(small, "Connection ");
    /* the reason applies it */
    cfg *c = stream("rtsp://viewer:Secret-9@127.0.0.1:8555/live", NULL);
    ing_cause_reason(out, sizeof out, &c->streams[0], ING_CAUSE_OTHER, "",
                     AVERROR(ECONNREFUSED),
                     "Connection to tcp://127.0.0.1:8555?timeout=11000000 failed: "
                     "Connection refused");
    assert_string_equal(out, "Connection to rtsp://127.0.0.1:8555/live failed: Connection refused");
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_login),
        cmocka_unit_test(test_password_file_named),
        cmocka_unit_test(test_refused_transport),
        cmocka_unit_test(test_missing_file_named),
        cmocka_unit_test(test_inner_urls_made_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
