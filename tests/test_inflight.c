/* test_inflight.c: packets inside the decoder (daemon/inflight.c): each is
 * answered once, as a frame or as a drop, however the decoder reorders.
 *
 * The sequences are the decode and output orders of real GOPs: I P B B with
 * the B-frames shown before the P; HEVC's pyramid with its non-reference
 * B-frames dropped (skip_frame); two recordings joined, the second's clock
 * starting over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/inflight.h"

static void test_in_order(void **state)
{
    ifl_queue q;
    (void)state;
    ifl_reset(&q);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ifl_sent(&q, i, i), 0);
        assert_int_equal(ifl_frame(&q, i), 0);
    }
    assert_int_equal(ifl_waiting(&q), 0);
}

static void test_reordered_none_dropped(void **state)
{
    ifl_queue q;
    (void)state;
    ifl_reset(&q);
    /* decode order I0 P3 B1 B2, shown 0 1 2 3; the decoder holds one */
    ifl_sent(&q, 0, -1);
    ifl_sent(&q, 3, 0);
    assert_int_equal(ifl_frame(&q, 0), 0);
    ifl_sent(&q, 1, 1);
    assert_int_equal(ifl_frame(&q, 1), 0);
    ifl_sent(&q, 2, 2);
    assert_int_equal(ifl_frame(&q, 2), 0);
    assert_int_equal(ifl_waiting(&q), 1);
    assert_int_equal(ifl_frame(&q, 3), 0);      /* the flush */
    assert_int_equal(ifl_drain(&q), 0);
}

static void test_nonref_dropped(void **state)
{
    ifl_queue q;
    int dropped = 0;
    (void)state;
    ifl_reset(&q);
    /* I0 P4 B2 b1 b3 P8 B6 b5 b7: the b's are non-reference and skipped */
    const int64_t sent[] = { 0, 4, 2, 1, 3, 8, 6, 5, 7 };
    for (int i = 0; i < 9; i++)
        dropped += ifl_sent(&q, sent[i], i);
    const int64_t shown[] = { 0, 2, 4, 6, 8 };
    for (int i = 0; i < 5; i++)
        dropped += ifl_frame(&q, shown[i]);
    assert_int_equal(dropped, 4);
    assert_int_equal(ifl_waiting(&q), 0);
}

static void test_join_keeps_runs_apart(void **state)
{
    ifl_queue q;
    (void)state;
    ifl_reset(&q);
    /* the end of one recording (104 decoded before 103, shown after it),
     * then the next from 100 again, whose packets go in before the old
     * frames are out: they are not the old run's earlier frames */
    ifl_sent(&q, 104, 102);
    ifl_sent(&q, 103, 103);
    assert_int_equal(ifl_sent(&q, 100, 99), 0);      /* decode time steps back: a new run */
    ifl_sent(&q, 102, 100);
    assert_int_equal(ifl_frame(&q, 103), 0);
    assert_int_equal(ifl_frame(&q, 104), 0);
    assert_int_equal(ifl_frame(&q, 100), 0);
    assert_int_equal(ifl_frame(&q, 102), 0);
    assert_int_equal(ifl_waiting(&q), 0);
    /* again, the old run's 103 dropped this time: the new run's first frame
     * shows that nothing of the old one is still to come */
    ifl_sent(&q, 204, 202);
    ifl_sent(&q, 203, 203);
    ifl_sent(&q, 100, 99);
    assert_int_equal(ifl_frame(&q, 100), 2);
    assert_int_equal(ifl_waiting(&q), 0);
}

static void test_unknown_pts_answers_oldest(void **state)
{
    ifl_queue q;
    (void)state;
    ifl_reset(&q);
    ifl_sent(&q, IFL_NONE, IFL_NONE);
    ifl_sent(&q, IFL_NONE, IFL_NONE);
    assert_int_equal(ifl_frame(&q, IFL_NONE), 0);
    assert_int_equal(ifl_waiting(&q), 1);
    assert_int_equal(ifl_frame(&q, 77), 0);     /* a pts no packet had */
    assert_int_equal(ifl_waiting(&q), 0);
    assert_int_equal(ifl_frame(&q, 78), 0);     /* nothing waits: nothing to answer */
}

static void test_error_and_room(void **state)
{
    ifl_queue q;
    int dropped = 0;
    (void)state;
    ifl_reset(&q);
    for (int i = 0; i < IFL_MAX + 3; i++)
        dropped += ifl_sent(&q, i, i);
    assert_int_equal(dropped, 3);
    assert_int_equal(ifl_waiting(&q), IFL_MAX);
    ifl_error(&q);
    assert_int_equal(ifl_waiting(&q), IFL_MAX - 1);
    assert_int_equal(ifl_drain(&q), IFL_MAX - 1);
    assert_int_equal(ifl_waiting(&q), 0);
}

/* The decoder shows the earliest of the frames it holds and lets it go;
 * returns the packets ifl_frame answered as dropped on the way. */
static int show_earliest(ifl_queue *q, int64_t *held, int *nheld)
{
    int m = 0;
    for (int k = 1; k < *nheld; k++)
        if (held[k] < held[m])
            m = k;
    int dropped = ifl_frame(q, held[m]);
    held[m] = held[--*nheld];
    return dropped;
}

/* Whatever the decoder does, every packet is answered once: a decoder that
 * holds up to 3 frames, shows them in pts order and drops some. */
static void test_every_packet_answered_once(void **state)
{
    ifl_queue q;
    int64_t held[4];
    int nheld = 0, frames = 0, dropped = 0, sent = 0;
    unsigned rng = 12345;
    (void)state;
    ifl_reset(&q);
    for (int gop = 0; gop < 200; gop++) {
        /* each GOP: a keyframe, then pts 1..7 in a shuffled decode order */
        int64_t base = gop * 8;
        int64_t order[8] = { 0, 4, 2, 1, 3, 6, 5, 7 };
        for (int i = 0; i < 8; i++) {
            int64_t pts = base + order[i];
            dropped += ifl_sent(&q, pts, base + i);
            sent++;
            rng = rng * 1103515245u + 12345u;
            if (order[i] % 2 && (rng >> 16) % 3 == 0)
                continue;                          /* a non-reference frame skipped */
            held[nheld++] = pts;
            if (nheld == 4) {
                dropped += show_earliest(&q, held, &nheld);
                frames++;
            }
        }
    }
    while (nheld) {                                /* the flush */
        dropped += show_earliest(&q, held, &nheld);
        frames++;
    }
    dropped += ifl_drain(&q);
    assert_int_equal(frames + dropped, sent);
    assert_true(dropped > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_reordered_none_dropped),
        cmocka_unit_test(test_nonref_dropped),
        cmocka_unit_test(test_join_keeps_runs_apart),
        cmocka_unit_test(test_unknown_pts_answers_oldest),
        cmocka_unit_test(test_error_and_room),
        cmocka_unit_test(test_every_packet_answered_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
