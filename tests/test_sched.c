/* Scheduler tests: a configuration from a machine with more inference CPUs
 * than a batch may hold (128, faked below), and more streams with a frame
 * waiting than that batch (72).  The batch arrays must hold what the
 * configuration lets max_batch be; under `make check-asan` an overflow of
 * them is reported, elsewhere it may crash or pass unseen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "daemon/evq.h"
#include "daemon/sched.h"
#include "daemon/sink.h"
#include "daemon/stream.h"
#include "daemon/util.h"
#include "tests/fakecpus.h"
#include "tests/testutil.h"

static int first_cpu(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            return i;
    return 0;
}

static void drop_line(void *arg, const snk_event *e)
{
    if (e->kind == SNK_LABEL)
        (*(int *)arg)++;
}

static void test_batch_from_128_cpus(void **state)
{
    enum { NSTREAMS = 72 };
    char text[5000], err[1024];
    cfg *c = NULL;
    evq *q = NULL;
    sch *s = NULL;
    lc_stream *st[NSTREAMS];
    sch_model_info mi;
    int labels = 0;
    (void)state;

    char model[512], abs[4096];
    snprintf(model, sizeof model, "%s/timm13_x025.onnx", fixdir());
    if (!realpath(model, abs))
        fail_msg("missing fixture %s: run `make fixtures`", model);
    snprintf(text, sizeof text, "[daemon]\ninference_cpus = 0-127\n[model]\npath = %s\n"
             "top_k = 1\n[stream:cam]\nurl = /dev/null\n", abs);
    fake_cpus_set(128);
    int r = cfg_load_string(&c, text, "t.ini", err, sizeof err);
    fake_cpus_set(0);
    if (r < 0)
        fail_msg("%s", err);
    assert_int_equal(c->daemon.inference_cpus.count, 128);
    print_message("max_batch derived from 128 inference CPUs: %d\n", c->daemon.max_batch);
    /* the batch stays as derived; the threads are this machine's */
    CPU_ZERO(&c->daemon.inference_cpus.set);
    CPU_SET(first_cpu(), &c->daemon.inference_cpus.set);
    c->daemon.inference_cpus.count = 1;

    assert_int_equal(evq_new(&q, 100000, err, sizeof err), 0);
    if (sch_start(&s, c, q, err, sizeof err) < 0)
        fail_msg("sch_start: %s", err);
    sch_model(s, &mi);
    for (int i = 0; i < NSTREAMS; i++) {
        cfg_stream sc = c->streams[0];
        char name[16];
        snprintf(name, sizeof name, "cam%d", i);
        sc.name = name;
        if (lc_stream_new(&st[i], &sc, mi.width, mi.height, mi.order, mi.mode, 2, err, sizeof err) < 0)
            fail_msg("lc_stream_new: %s", err);
        st[i]->sched = s;
        st[i]->q = q;
    }
    /* every stream's frame waits before the thread looks: one full batch */
    for (int i = 0; i < NSTREAMS; i++) {
        lc_frame *f = lc_slot_spare(st[i]);
        memset(f->pix, i, (size_t)mi.width * (size_t)mi.height * 3);
        f->seq = 1;
        f->decoded_us = lc_mono_us();
        lc_slot_put(st[i], 0);
    }
    for (int i = 0; i < NSTREAMS; i++)
        sch_add(s, st[i]);
    sch_kick(s);
    int64_t end = lc_mono_us() + 120 * 1000000LL;
    while (sch_classified(s) < NSTREAMS && lc_mono_us() < end)
        usleep(10000);
    assert_int_equal(sch_classified(s), NSTREAMS);
    for (int i = 0; i < NSTREAMS; i++)
        sch_remove(s, st[i]);
    sch_stop(s);
    evq_drain(q, drop_line, &labels);
    assert_int_equal(labels, NSTREAMS);
    for (int i = 0; i < NSTREAMS; i++)
        lc_stream_free(st[i]);
    evq_free(q);
    cfg_free(c);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_batch_from_128_cpus),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
