/* test_config_compare.c: what a reload compares (config/compare.c): which
 * streams, model settings and [daemon] keys changed between two loads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "tests/cfgtest.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_equal),
        cmocka_unit_test(test_model_equal),
        cmocka_unit_test(test_daemon_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
