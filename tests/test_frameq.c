/* test_frameq.c: the drop-oldest frame queue (daemon/frameq.c) between an
 * ingest thread and the inference thread: a full queue drops its oldest
 * frame, not the newest; frames come out in order; every frame put is
 * taken, dropped or still held, so the stream counters add up; and a
 * producer that waits on a full queue (files read without realtime) loses
 * nothing and is released by a stop; with snapshots on, a slot's reference
 * to its decoded frame goes as soon as nobody can snapshot it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libavutil/frame.h>

#include "daemon/frameq.h"

static void put_seq(lc_frameq *q, int64_t seq, int *dropped)
{
    lc_frame *f = lc_frameq_spare(q);
    f->seq = seq;
    memset(f->pix, (int)(seq & 0xff), 16);
    *dropped += lc_frameq_put(q, 0, NULL, NULL);
}

static void test_full_queue_drops_the_oldest(void **state)
{
    lc_frameq *q = NULL;
    int dropped = 0;
    (void)state;
    assert_int_equal(lc_frameq_new(&q, 3, 16, 0), 0);
    for (int64_t i = 1; i <= 10; i++)
        put_seq(q, i, &dropped);
    /* 3 held: the newest three; the 7 before them dropped */
    assert_int_equal(dropped, 7);
    assert_int_equal(lc_frameq_count(q), 3);
    for (int64_t want = 8; want <= 10; want++) {
        lc_frame *f = lc_frameq_take(q);
        assert_non_null(f);
        assert_int_equal(f->seq, want);
        /* the pixels travel with their frame: buffers are never mixed up */
        assert_int_equal(f->pix[0], (uint8_t)want);
        assert_int_equal(f->pix[15], (uint8_t)want);
    }
    assert_null(lc_frameq_take(q));
    lc_frameq_free(q);
}

/* Interleaved puts and takes in a pattern that wraps the ring many times:
 * what comes out is in order, and put = taken + dropped + held. */
static void test_counts_add_up(void **state)
{
    lc_frameq *q = NULL;
    int dropped = 0, taken = 0, put = 0;
    int64_t last = 0;
    (void)state;
    assert_int_equal(lc_frameq_new(&q, 4, 16, 0), 0);
    unsigned r = 12345;
    for (int round = 0; round < 2000; round++) {
        r = r * 1103515245u + 12345u;
        int nput = (int)(r >> 16) % 7, ntake = (int)(r >> 8) % 5;
        for (int i = 0; i < nput; i++)
            put_seq(q, ++put, &dropped);
        for (int i = 0; i < ntake; i++) {
            lc_frame *f = lc_frameq_take(q);
            if (!f)
                break;
            assert_true(f->seq > last);
            assert_int_equal(f->pix[3], (uint8_t)f->seq);
            last = f->seq;
            taken++;
        }
        assert_int_equal(put, taken + dropped + lc_frameq_count(q));
        assert_true(lc_frameq_count(q) <= 4);
    }
    assert_true(dropped > 0);
    lc_frameq_free(q);
}

typedef struct {
    lc_frameq *q;
    int n, dropped, stop;
    int64_t heartbeat;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 1; i <= p->n; i++) {
        lc_frame *f = lc_frameq_spare(p->q);
        f->seq = i;
        p->dropped += lc_frameq_put(p->q, 1, &p->stop, &p->heartbeat);
    }
    return NULL;
}

/* Back-pressure: a waiting producer drops nothing, however slow the
 * consumer. */
static void test_waiting_producer_loses_nothing(void **state)
{
    producer p = { .n = 200 };
    pthread_t t;
    (void)state;
    assert_int_equal(lc_frameq_new(&p.q, 2, 16, 0), 0);
    assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
    for (int64_t want = 1; want <= p.n;) {
        lc_frame *f = lc_frameq_take(p.q);
        if (!f) {
            usleep(100);
            continue;
        }
        assert_int_equal(f->seq, want);
        want++;
    }
    pthread_join(t, NULL);
    assert_int_equal(p.dropped, 0);
    lc_frameq_free(p.q);
}

/* A stop releases a producer blocked on a full queue that nobody reads:
 * its frame then replaces the oldest. */
static void test_stop_releases_a_waiting_producer(void **state)
{
    producer p = { .n = 3 };
    pthread_t t;
    (void)state;
    assert_int_equal(lc_frameq_new(&p.q, 2, 16, 0), 0);
    assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
    while (lc_frameq_count(p.q) < 2)
        usleep(1000);
    __atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
    lc_frameq_wake(p.q);
    pthread_join(t, NULL);
    assert_int_equal(p.dropped, 1);
    assert_int_equal(lc_frameq_take(p.q)->seq, 2);
    assert_int_equal(lc_frameq_take(p.q)->seq, 3);
    lc_frameq_free(p.q);
}

/* The decoder's buffer is held by the slots that refer to it and let go
 * when a slot is dropped, classified (the next take) or filled again, so
 * that snapshots never keep the decoder short of frames. */
static void test_decoded_frame_refs_are_let_go(void **state)
{
    (void)state;
    AVFrame *dec = av_frame_alloc();
    assert_non_null(dec);
    dec->format = 0;            /* AV_PIX_FMT_YUV420P */
    dec->width = 16;
    dec->height = 16;
    assert_int_equal(av_frame_get_buffer(dec, 0), 0);
    lc_frameq *q = NULL;
    assert_int_equal(lc_frameq_new(&q, 2, 16, 1), 0);
    for (int i = 0; i < 3; i++) {
        lc_frame *f = lc_frameq_spare(q);
        assert_non_null(f->src);
        assert_int_equal(av_frame_ref(f->src, dec), 0);
        lc_frameq_put(q, 0, NULL, NULL);
    }
    /* three put in a queue of two: the oldest was dropped, and its reference */
    assert_int_equal(av_buffer_get_ref_count(dec->buf[0]), 1 + 2);
    lc_frame *f = lc_frameq_take(q);
    assert_non_null(f->src->buf[0]);    /* held while it is classified */
    assert_int_equal(av_buffer_get_ref_count(dec->buf[0]), 1 + 2);
    f = lc_frameq_take(q);              /* the first is done with */
    assert_int_equal(av_buffer_get_ref_count(dec->buf[0]), 1 + 1);
    assert_null(lc_frameq_take(q));
    lc_frameq_free(q);                  /* and the last goes with the queue */
    assert_int_equal(av_buffer_get_ref_count(dec->buf[0]), 1);
    av_frame_free(&dec);

    /* snapshots off: no frame to hold */
    assert_int_equal(lc_frameq_new(&q, 2, 16, 0), 0);
    assert_null(lc_frameq_spare(q)->src);
    lc_frameq_free(q);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_full_queue_drops_the_oldest),
        cmocka_unit_test(test_counts_add_up),
        cmocka_unit_test(test_waiting_producer_loses_nothing),
        cmocka_unit_test(test_stop_releases_a_waiting_producer),
        cmocka_unit_test(test_decoded_frame_refs_are_let_go),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
