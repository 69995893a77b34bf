/* test_retry.c: the wait before a stream is opened again (daemon/retry.c).
 *
 * Every wait is checked against its band: an ordinary wait lies in
 * [b/2, b] for the current backoff b, a wait after a refused login in
 * [max(floor, 0.9 a), a] for the current login backoff a.  Many seeds, so
 * that the jitter's ends are reached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "config/config.h"
#include "daemon/cause.h"
#include "daemon/retry.h"

#define SEEDS 200

static cfg *stream(const char *keys)
{
    char text[512], err[512];
    cfg *c = NULL;
    snprintf(text, sizeof text, "[stream:s]\nurl = rtsp://cam/1\n%s", keys);
    if (cfg_load_string(&c, text, "t.ini", err, sizeof err) != CFG_OK)
        fail_msg("%s", err);
    return c;
}

static void in_band(double v, double lo, double hi, const char *what, int k)
{
    if (!(v >= lo - 1e-9 && v <= hi + 1e-9))
        fail_msg("%s, try %d: %.4f not in [%.4f, %.4f]", what, k, v, lo, hi);
}

static void test_ordinary_backoff_doubles_to_max(void **state)
{
    (void)state;
    cfg *c = stream("backoff_min = 0.5\nbackoff_max = 8\n");
    const cfg_stream *s = &c->streams[0];
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        ing_retry r;
        ing_retry_init(&r, s, seed);
        double b = 0.5;
        for (int k = 0; k < 8; k++) {
            in_band(ing_retry_next(&r, s, ING_CAUSE_OTHER, 0), b / 2, b, "ordinary", k);
            b = fmin(b * 2, 8);
        }
    }
    cfg_free(c);
}

/* However a connection ended, frames for longer than backoff_max reset the
 * wait; frames for less do not. */
static void test_long_delivery_resets_whatever_ended_it(void **state)
{
    (void)state;
    cfg *c = stream("backoff_min = 0.5\nbackoff_max = 8\n");
    const cfg_stream *s = &c->streams[0];
    const int causes[] = { ING_CAUSE_OTHER, ING_CAUSE_TRANSPORT, ING_CAUSE_MISSING };
    for (unsigned seed = 0; seed < SEEDS; seed++)
        for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
            ing_retry r;
            ing_retry_init(&r, s, seed);
            for (int k = 0; k < 6; k++)             /* an outage: the wait grows to 8 */
                ing_retry_next(&r, s, ING_CAUSE_OTHER, 0);
            /* a short run (a server that closes after a few frames): still long */
            in_band(ing_retry_next(&r, s, causes[i], 7.9), 4, 8, "after 7.9 s of frames", 0);
            /* the end of a long healthy run, a clean end of stream included */
            in_band(ing_retry_next(&r, s, causes[i], 8.1), 0.25, 0.5, "after 8.1 s of frames", 1);
            in_band(ing_retry_next(&r, s, ING_CAUSE_OTHER, 0), 0.5, 1, "then", 2);
        }
    cfg_free(c);
}

static void test_refused_login_waits_30_s_doubling(void **state)
{
    (void)state;
    cfg *c = stream("backoff_min = 0.5\nbackoff_max = 8\n");     /* auth_backoff_max 600 */
    const cfg_stream *s = &c->streams[0];
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        ing_retry r;
        ing_retry_init(&r, s, seed);
        double a = 30;
        for (int k = 0; k < 8; k++) {
            in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), fmax(30, 0.9 * a), a, "login", k);
            a = fmin(a * 2, 600);
        }
        /* a network error between refusals keeps the ordinary backoff, from its start */
        in_band(ing_retry_next(&r, s, ING_CAUSE_OTHER, 0), 0.25, 0.5, "network", 0);
        in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 540, 600, "login again", 0);
        /* a connection that got in (frames) ends the refusals' backoff */
        ing_retry_next(&r, s, ING_CAUSE_OTHER, 1.0);
        in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 30, 30, "after a login", 0);
    }
    cfg_free(c);
}

/* auth_backoff_max below 30 s (a test, an operator who knows the camera) is
 * both the floor and the cap. */
static void test_floor_is_at_most_auth_backoff_max(void **state)
{
    (void)state;
    cfg *c = stream("auth_backoff_max = 2\n");
    const cfg_stream *s = &c->streams[0];
    for (unsigned seed = 0; seed < SEEDS; seed++) {
        ing_retry r;
        ing_retry_init(&r, s, seed);
        for (int k = 0; k < 4; k++)
            in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 2, 2, "login, max 2", k);
    }
    cfg_free(c);
    c = stream("auth_backoff_max = 100\n");
    s = &c->streams[0];
    ing_retry r;
    ing_retry_init(&r, s, 1);
    in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 30, 30, "login, max 100", 0);
    in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 54, 60, "login, max 100", 1);
    in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 90, 100, "login, max 100", 2);
    in_band(ing_retry_next(&r, s, ING_CAUSE_AUTH, 0), 90, 100, "login, max 100", 3);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_backoff_doubles_to_max),
        cmocka_unit_test(test_long_delivery_resets_whatever_ended_it),
        cmocka_unit_test(test_refused_login_waits_30_s_doubling),
        cmocka_unit_test(test_floor_is_at_most_auth_backoff_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
