/* test_tsclock.c: the stream clock (daemon/tsclock.c): files by their own
 * timestamps, live sources by arrival, jumps rebased, pts never backward.
 *
 * The timestamp sequences are those the issue saw: concatenated recordings
 * (back 2 s at each join), FFmpeg's MJPEG reader (25 fps stamps on a 2 fps
 * camera), a live join whose first frame has no pts and the next 30.04 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "daemon/tsclock.h"

#define SEC 1000000             /* microseconds */

/* cmocka's assert_float_equal compares floats: too coarse for seconds */
#define assert_near(a, b)                                                     \
    do {                                                                      \
        double a_ = (a), b_ = (b);                                            \
        if (fabs(a_ - b_) > 1e-6)                                             \
            fail_msg("%.9f != %.9f", a_, b_);                                 \
    } while (0)

/* A frame of a file: arrival time does not matter. */
static double file_frame(tsc_clock *c, double raw, int *jump)
{
    return tsc_frame(c, raw, 0, 0.04, 0, jump);
}

static void test_file_keeps_its_own_time(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    for (int i = 0; i < 50; i++) {
        assert_near(file_frame(&c, 1.4 + i * 0.04, &jump), 1.4 + i * 0.04);
        assert_int_equal(jump, 0);
    }
}

static void test_file_jump_back_is_rebased(void **state)
{
    tsc_clock c;
    int jump;
    double out = 0;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    /* three 2 s segments, each from 1.4 s */
    for (int seg = 0; seg < 3; seg++)
        for (int i = 0; i < 50; i++) {
            double prev = out;
            out = file_frame(&c, 1.4 + i * 0.04, &jump);
            assert_int_equal(jump, seg > 0 && i == 0);
            if (seg || i)
                assert_near(out - prev, 0.04);     /* one frame on, always */
        }
    assert_near(out, 1.4 + 149 * 0.04);
}

static void test_file_pause_kept_jump_forward_rebased(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    file_frame(&c, 0, &jump);
    /* a recording's gap shorter than TSC_JUMP_S is played as a gap */
    assert_near(file_frame(&c, TSC_JUMP_S - 1, &jump), TSC_JUMP_S - 1);
    assert_int_equal(jump, 0);
    /* a longer one is a jump in the clock: one frame on */
    assert_near(file_frame(&c, 1000, &jump), TSC_JUMP_S - 1 + 0.04);
    assert_int_equal(jump, 1);
    /* unless keyframes alone are decoded, whose gap is slack */
    assert_near(tsc_frame(&c, 1000 + TSC_JUMP_S + 2, 0, 0.04, 5, &jump),
                       TSC_JUMP_S - 1 + 0.04 + TSC_JUMP_S + 2);
    assert_int_equal(jump, 0);
}

static void test_reordering_noise_is_clamped(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    file_frame(&c, 1.0, &jump);
    /* back by less than a frame: not a jump, and pts does not go back */
    assert_near(file_frame(&c, 0.99, &jump), 1.0);
    assert_int_equal(jump, 0);
    assert_near(file_frame(&c, 1.04, &jump), 1.04);
}

static void test_new_run_continues(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    file_frame(&c, 1.4, &jump);
    file_frame(&c, 3.36, &jump);
    /* a loop starts again at the file's start: pts runs on, one frame later */
    tsc_run(&c, 0);
    assert_near(file_frame(&c, 1.4, &jump), 3.40);
    assert_near(file_frame(&c, 1.44, &jump), 3.44);
    assert_int_equal(jump, 0);
    /* a reconnect to a live source too */
    tsc_run(&c, 1);
    assert_near(tsc_frame(&c, 500, 7 * SEC, 0.04, 0, &jump), 3.48);
}

static void test_no_timestamps_counts_frames(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    assert_near(file_frame(&c, NAN, &jump), 0);
    assert_near(file_frame(&c, NAN, &jump), 0.04);
    /* the first timestamp after them lines up with the count */
    assert_near(file_frame(&c, 7, &jump), 0.08);
    assert_near(file_frame(&c, 7.04, &jump), 0.12);
    assert_int_equal(jump, 0);
}

static void test_live_goes_by_arrival(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 1);
    /* a 2 fps camera stamped at 25 fps: half a second apart, as they came */
    for (int i = 0; i < 10; i++) {
        assert_near(tsc_frame(&c, i * 0.04, 100 * SEC + i * SEC / 2, 0.04, 0, &jump),
                           i * 0.5);
        assert_int_equal(jump, 0);
    }
}

static void test_live_burst_spread_by_timestamps(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 1);
    /* a segment of 10 frames arrives at once (spread by their timestamps,
     * a little slower while ahead of arrival), then the next a second later */
    double out = 0;
    for (int i = 0; i < 10; i++) {
        double prev = out;
        out = tsc_frame(&c, i * 0.1, 5 * SEC, 0.1, 0, &jump);
        if (i)
            assert_near(out - prev, 0.1 * (1 - TSC_CATCH_UP));
    }
    assert_near(tsc_frame(&c, 1.0, 6 * SEC, 0.1, 0, &jump), 1.0);
    /* timestamps that run ahead of arrival for ever are held to TSC_LEAD_S */
    for (int i = 1; i <= 100; i++)
        out = tsc_frame(&c, 1.0 + i, 6 * SEC + i * SEC / 10, 0.1, 0, &jump);
    assert_near(out, 1.0 + 10.0 + TSC_LEAD_S);
    /* a jump (an encoder restart a minute later): it goes by arrival again */
    tsc_frame(&c, 200, 60 * SEC, 0.1, 0, &jump);
    assert_near(tsc_frame(&c, 200.04, 60 * SEC + SEC / 20, 0.1, 0, &jump) -
                (1.0 + 54.0), 0.05);
}

static void test_live_first_frame_not_an_outlier(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 1);
    /* joining: the first frame has no pts, the second says 30.04 s */
    assert_near(tsc_frame(&c, NAN, 10 * SEC, 0.04, 0, &jump), 0);
    assert_near(tsc_frame(&c, 30.04, 10 * SEC + SEC / 25, 0.04, 0, &jump), 0.04);
    assert_near(tsc_frame(&c, 30.08, 10 * SEC + 2 * SEC / 25, 0.04, 0, &jump), 0.08);
    assert_int_equal(jump, 0);
}

static void test_live_jump_back_counted(void **state)
{
    tsc_clock c;
    int jump;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 1);
    tsc_frame(&c, 100, 0, 0.04, 0, &jump);
    tsc_frame(&c, 100.04, SEC / 25, 0.04, 0, &jump);
    double out = tsc_frame(&c, 0, 2 * SEC / 25, 0.04, 0, &jump);   /* the encoder restarted */
    assert_int_equal(jump, 1);
    assert_near(out, 0.08);
    tsc_frame(&c, 0.04, 3 * SEC / 25, 0.04, 0, &jump);
    assert_int_equal(jump, 0);
}

static void test_live_rate_measured(void **state)
{
    tsc_clock c;
    (void)state;
    tsc_init(&c);
    tsc_run(&c, 0);
    for (int i = 0; i < 10; i++)
        tsc_packet(&c, i * SEC / 2);
    assert_near(tsc_step(&c, 0.04), 0.04);     /* files: as declared */
    tsc_run(&c, 1);
    for (int i = 0; i < 4; i++)
        tsc_packet(&c, i * SEC / 2);
    assert_near(tsc_step(&c, 0.04), 0.04);     /* not a window yet */
    tsc_packet(&c, 2 * SEC);
    assert_near(tsc_step(&c, 0.04), 0.5);
    /* kept across a reconnect, for "the last pts plus one frame step" */
    tsc_run(&c, 1);
    assert_near(tsc_step(&c, 0.04), 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_keeps_its_own_time),
        cmocka_unit_test(test_file_jump_back_is_rebased),
        cmocka_unit_test(test_file_pause_kept_jump_forward_rebased),
        cmocka_unit_test(test_reordering_noise_is_clamped),
        cmocka_unit_test(test_new_run_continues),
        cmocka_unit_test(test_no_timestamps_counts_frames),
        cmocka_unit_test(test_live_goes_by_arrival),
        cmocka_unit_test(test_live_burst_spread_by_timestamps),
        cmocka_unit_test(test_live_first_frame_not_an_outlier),
        cmocka_unit_test(test_live_jump_back_counted),
        cmocka_unit_test(test_live_rate_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
