/* test_redact.c: stream passwords out of messages (daemon/redact.c).
 *
 * The URLs are the shapes FFmpeg accepts; the password expected is the one
 * av_url_split would send (userinfo up to the LAST '@' of the authority).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/redact.h"

static void scrub_url(char *out, size_t outlen, const char *in, const char *url)
{
    rdx_secret s;
    assert_true(rdx_secret_from_url(&s, url) >= 0);
    rdx_scrub(out, outlen, in, &s, 1);
    rdx_secret_free(&s);
}

static void test_password_up_to_the_last_at(void **state)
{
    rdx_secret s;
    (void)state;
    assert_int_equal(rdx_secret_from_url(&s, "http://admin:Xy@Secret99@127.0.0.1:80/a.mp4"), 1);
    assert_string_equal(s.enc, "Xy@Secret99");
    assert_null(s.dec);
    rdx_secret_free(&s);
    /* the authority ends at '/', '?' or '#': an '@' after it is the path's */
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://u:pw@cam/x@y"), 1);
    assert_string_equal(s.enc, "pw");
    rdx_secret_free(&s);
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://cam/x?u:p@y"), 0);
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://cam#u:p@y"), 0);
    /* user:password splits at the first ':' */
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://u:p:q@cam/"), 1);
    assert_string_equal(s.enc, "p:q");
    rdx_secret_free(&s);
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://user@cam/"), 0);
    assert_int_equal(rdx_secret_from_url(&s, "rtsp://user:@cam/"), 0);
    assert_int_equal(rdx_secret_from_url(&s, "/dev/video0"), 0);
    assert_int_equal(rdx_secret_from_url(&s, "/srv/a:b@c/clip.mp4"), 0);
    assert_int_equal(rdx_secret_from_url(&s, NULL), 0);
}

static void test_both_forms_redacted(void **state)
{
    char out[256];
    (void)state;
    scrub_url(out, sizeof out, "auth p%40ss%3Aw0rd for p@ss:w0rd, user admin",
              "rtsp://admin:p%40ss%3Aw0rd@cam/x");
    assert_string_equal(out, "auth *** for ***, user admin");
    scrub_url(out, sizeof out, "401 for admin:Xy@Secret99 and Secret99 and Xy",
              "http://admin:Xy@Secret99@host/a");
    assert_string_equal(out, "401 for admin:*** and Secret99 and Xy");
    /* a URL repeated in a message reads as configured, credentials left out */
    scrub_url(out, sizeof out, "Error when loading first segment "
              "'http://admin:Xy@Secret99@127.0.0.1:8080/seg0.ts'", "http://admin:Xy@Secret99@host/a");
    assert_string_equal(out, "Error when loading first segment 'http://127.0.0.1:8080/seg0.ts'");
    /* a userinfo taken out must not join the text around it into a password */
    scrub_url(out, sizeof out, "at pu:pw@w", "rtsp://u:pw@h/");
    assert_string_equal(out, "at ***");
    /* %00 ends the password FFmpeg sends */
    scrub_url(out, sizeof out, "sent abc, wrote abc%00def", "rtsp://u:abc%00def@h/");
    assert_string_equal(out, "sent ***, wrote ***");
}

/* The finding: a one-letter password and a long reason phrase.  In place,
 * each "a" grew by two bytes past the end of a 200-byte buffer. */
static void test_short_password_never_grows_past_the_buffer(void **state)
{
    char in[256], out[200 + 16];
    (void)state;
    snprintf(in, sizeof in, "method DESCRIBE failed: 404 %0200d", 0);
    memset(in + 28, 'a', 200);
    memset(out, 'Z', sizeof out);
    scrub_url(out, 200, in, "rtsp://a:a@127.0.0.1:554/x");
    assert_int_equal(strlen(out), 199);
    for (size_t i = 200; i < sizeof out; i++)
        assert_int_equal(out[i], 'Z');
    assert_memory_equal(out, "method DESCRIBE f***iled: 404 ******", 36);
    assert_int_equal(rdx_scrub(out, 1, in, NULL, 0), 0);
    assert_string_equal(out, "");
}

static void test_url_public(void **state)
{
    char out[64];
    (void)state;
    rdx_url_public(out, sizeof out, "http://admin:Xy@Secret99@127.0.0.1/a@b");
    assert_string_equal(out, "http://127.0.0.1/a@b");
    rdx_url_public(out, sizeof out, "rtsp://cam:554/x");
    assert_string_equal(out, "rtsp://cam:554/x");
    rdx_url_public(out, 12, "rtsp://u:p@camera.example/x");
    assert_string_equal(out, "rtsp://came");
}

static void test_url_with_password(void **state)
{
    char *u = NULL;
    rdx_secret s;
    (void)state;
    assert_int_equal(rdx_url_with_password(&u, "rtsp://admin@cam/x", "p@ss:w/rd"), RDX_OK);
    assert_string_equal(u, "rtsp://admin:p%40ss%3Aw%2Frd@cam/x");
    /* FFmpeg's reading of the result gives the password back */
    assert_int_equal(rdx_secret_from_url(&s, u), 1);
    assert_string_equal(s.dec, "p@ss:w/rd");
    rdx_secret_free(&s);
    free(u);
    assert_int_equal(rdx_url_with_password(&u, "http://old:gone@cam:80/a", "new"), RDX_OK);
    assert_string_equal(u, "http://old:new@cam:80/a");
    free(u);
    assert_int_equal(rdx_url_with_password(&u, "http://cam/a@b", "x y"), RDX_OK);
    assert_string_equal(u, "http://:x%20y@cam/a@b");
    free(u);
    assert_int_equal(rdx_url_with_password(&u, "/dev/video0", "x"), RDX_EINVAL);
    assert_null(u);
}

static void test_known_set(void **state)
{
    const char *urls[] = { "rtsp://u:first@a/", NULL, "http://u:third@c/" };
    const char *plain[] = { NULL, "se cret", NULL };
    char out[128];
    (void)state;
    assert_int_equal(rdx_known_set(urls, plain, 3), RDX_OK);
    rdx_known_scrub(out, sizeof out, "first second se%20cret se cret third");
    assert_string_equal(out, "*** second *** *** ***");
    assert_int_equal(rdx_known_set(NULL, NULL, 0), RDX_OK);
    rdx_known_scrub(out, sizeof out, "first");
    assert_string_equal(out, "first");
    rdx_known_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_up_to_the_last_at),
        cmocka_unit_test(test_both_forms_redacted),
        cmocka_unit_test(test_short_password_never_grows_past_the_buffer),
        cmocka_unit_test(test_url_public),
        cmocka_unit_test(test_url_with_password),
        cmocka_unit_test(test_known_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
