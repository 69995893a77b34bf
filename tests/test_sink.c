/* test_sink.c: the output seam (sink.h): typed events, the socket's lines
 * made from them byte for byte as before the seam, and the socket sink
 * serving a real subscriber on a real Unix socket.
 *
 * The expected lines are the event socket's format as the README documents
 * it, field by field in that order; a sink that reordered, renamed or
 * reformatted a field fails here before any subscriber notices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/events.h"
#include "daemon/evq.h"
#include "daemon/publish.h"
#include "daemon/sink.h"
#include "tests/testutil.h"

#define T0 1790000000123456LL     /* 2026-09-21T14:13:20.123Z */
#define T1 1790000001500000LL     /* 2026-09-21T14:13:21.500Z */

static char *label_line(const snk_event *e)
{
    size_t len;
    char *line = ev_label(e, &len);
    assert_non_null(line);
    assert_int_equal(strlen(line), len);
    return line;
}

static void test_label_line(void **state)
{
    (void)state;
    snk_class top[2] = { { 3, 0.75f, "cat" }, { 7, 0.125f, NULL } };
    snk_event *e = snk_label_new("cam.1", top, 2, 42, 1.5, T0, 1000, 12.5);
    assert_non_null(e);
    /* the event owns copies: the model's names may be freed meanwhile */
    assert_ptr_not_equal(e->label.top[0].label, top[0].label);
    assert_string_equal(e->label.top[0].label, "cat");
    assert_null(e->label.top[1].label);
    e->label.scaled_us = 1100;
    e->label.infer_start_us = 1200;
    e->label.infer_end_us = 1300;
    char *line = label_line(e);
    /* test builds add the stage times (LCNETD_TESTING), between latency_ms and top */
    assert_string_equal(line,
        "{\"event\":\"label\",\"stream\":\"cam.1\",\"seq\":42,\"pts\":1.5,"
        "\"time\":\"2026-09-21T14:13:20.123Z\",\"latency_ms\":12.5,"
        "\"decoded_mono_us\":1000,\"scaled_mono_us\":1100,\"infer_start_mono_us\":1200,"
        "\"infer_end_mono_us\":1300,"
        "\"top\":[{\"class\":3,\"label\":\"cat\",\"score\":0.75},"
        "{\"class\":7,\"label\":null,\"score\":0.125}]}");
    free(line);
    free(e);
}

static void test_state_lines(void **state)
{
    (void)state;
    size_t len;
    snk_event *e = snk_state_new("yard", "reconnecting", "open: Connection refused", 2.25);
    assert_non_null(e);
    e->time_us = T1;
    char *line = ev_stream_state(e, &len);
    assert_string_equal(line, "{\"event\":\"stream\",\"stream\":\"yard\",\"state\":\"reconnecting\","
                              "\"reason\":\"open: Connection refused\",\"retry_in\":2.25,"
                              "\"time\":\"2026-09-21T14:13:21.500Z\"}");
    free(line);
    free(e);
    e = snk_state_new("yard", "up", NULL, -1);
    e->time_us = T1;
    line = ev_stream_state(e, &len);
    assert_string_equal(line, "{\"event\":\"stream\",\"stream\":\"yard\",\"state\":\"up\","
                              "\"time\":\"2026-09-21T14:13:21.500Z\"}");
    free(line);
    free(e);
}

static void test_stats_line(void **state)
{
    (void)state;
    size_t len;
    snk_stream_stats st = { .stream = "yard", .state = "up", .decoded = 300, .sampled_out = 10,
                            .skipped = 2, .classified = 290, .published = 145, .reconnects = 1,
                            .decode_skipped = 5, .packets = 320, .decode_errors = 3,
                            .ts_discontinuities = 2, .auth_failures = 4, .decoded_fps = 29.5,
                            .classified_fps = 29,
                            .p50_ms = 3.25, .p99_ms = -1 };
    char *line = ev_stats(&st, 10, T1, &len);
    assert_string_equal(line,
        "{\"event\":\"stats\",\"stream\":\"yard\",\"state\":\"up\",\"interval_s\":10,"
        "\"decoded_fps\":29.5,\"classified_fps\":29,\"packets\":320,\"decoded\":300,"
        "\"classified\":290,\"skipped\":2,\"sampled_out\":10,\"decode_skipped\":5,"
        "\"decode_errors\":3,\"ts_discontinuities\":2,\"published\":145,"
        "\"reconnects\":1,\"auth_failures\":4,\"latency_p50_ms\":3.25,\"latency_p99_ms\":null,"
        "\"time\":\"2026-09-21T14:13:21.500Z\"}");
    free(line);
}

/* The status answer keeps its members in order; the sinks' come after the
 * streams, before the time. */
static void test_status_line(void **state)
{
    (void)state;
    size_t len;
    ev_status_stream ss = { "yard", "up", 1, 2, 3, 4 };
    char *line = ev_status(&ss, 1, 5, 6.5, 7, NULL, &len);
    assert_non_null(strstr(line, "{\"event\":\"status\",\"subscribers\":5,\"classified_fps\":6.5,"
                                 "\"events_dropped\":7,\"streams\":[{\"stream\":\"yard\","
                                 "\"state\":\"up\",\"decoded\":1,\"classified\":2,\"skipped\":3,"
                                 "\"reconnects\":4}],\"time\":\""));
    free(line);
    line = ev_status(&ss, 1, 5, 6.5, 7, "\"mqtt\":{\"state\":\"connected\"}", &len);
    assert_non_null(strstr(line, "\"reconnects\":4}],\"mqtt\":{\"state\":\"connected\"},\"time\":\""));
    free(line);
}

/* Events cross from the threads to the loop in order, whole. */
static void collect(void *arg, const snk_event *e)
{
    strcat(arg, e->stream);
    strcat(arg, e->kind == SNK_STATE ? e->state.state : "?");
    strcat(arg, ";");
}

static void test_queue_carries_typed_events(void **state)
{
    (void)state;
    char err[256], seen[64] = "";
    evq *q = NULL;
    assert_int_equal(evq_new(&q, 2, err, sizeof err), 0);
    evq_push(q, snk_state_new("a", "up", NULL, -1));
    evq_push(q, snk_state_new("b", "down", "gone", -1));
    evq_push(q, snk_state_new("c", "up", NULL, -1));   /* past max: dropped, counted */
    evq_push(q, NULL);                                  /* out of memory: counted */
    assert_int_equal(evq_dropped(q), 2);
    evq_drain(q, collect, seen);
    assert_string_equal(seen, "aup;bdown;");
    evq_free(q);
}

/* ------------------------------------------------------------ the socket sink */

typedef struct fx {
    sock_dir s;
    snk_set *set;
    cfg *c;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[512];
    assert_non_null(f);
    sock_dir_open(&f->s, "sink");
    if (cfg_load_string(&f->c, "[daemon]\nmax_subscribers = 4\n", "t.ini", err, sizeof err) < 0)
        fail_msg("%s", err);
    snk_env env = { .listen_fd = f->s.lfd, .max_subscribers = 4, .version = "t" };
    if (snk_set_open(&f->set, f->c, &env, err, sizeof err) < 0)
        fail_msg("snk_set_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    snk_set_close(f->set);
    sock_dir_close(&f->s);
    cfg_free(f->c);
    free(f);
    return 0;
}

static void pump(fx *f)
{
    struct pollfd p = { snk_set_fd(f->set), POLLIN, 0 };
    if (poll(&p, 1, 20) > 0)
        snk_set_dispatch(f->set);
}

static int client(fx *f)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->s.path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* The next line from fd, pumping the sink meanwhile; "" after 5 s. */
static char *next_line(fx *f, int fd, char *buf, size_t len)
{
    size_t n = 0;
    for (int i = 0; i < 250 && n + 1 < len; i++) {
        pump(f);
        ssize_t r;
        while (n + 1 < len && (r = recv(fd, buf + n, 1, MSG_DONTWAIT)) == 1) {
            if (buf[n] == '\n') {
                buf[n] = 0;
                return buf;
            }
            n++;
        }
    }
    buf[0] = 0;
    return buf;
}

static void test_socket_sink_sends_the_lines(void **state)
{
    fx *f = *state;
    char buf[4096];
    int a = client(f), b = client(f);
    assert_string_equal(next_line(f, a, buf, sizeof buf), "{\"event\":\"hello\"}");
    assert_string_equal(next_line(f, b, buf, sizeof buf), "{\"event\":\"hello\"}");
    /* b takes only stream "other" */
    assert_int_equal(send(b, "streams other\n", 14, 0), 14);
    assert_string_equal(next_line(f, b, buf, sizeof buf),
                        "{\"event\":\"streams\",\"streams\":[\"other\"]}");

    snk_class top[1] = { { 1, 0.5f, "dog" } };
    snk_event *e = snk_label_new("yard", top, 1, 7, 0.25, T0, 10, 2);
    snk_set_event(f->set, e);
    char *want = label_line(e);
    /* a test build stamps the send time on label lines, last */
    next_line(f, a, buf, sizeof buf);
    assert_int_equal(strncmp(buf, want, strlen(want) - 1), 0);
    assert_non_null(strstr(buf, "}],\"sent_mono_us\":"));
    free(want);
    free(e);

    e = snk_state_new("other", "down", "stalled", -1);
    e->time_us = T1;
    snk_set_event(f->set, e);
    free(e);
    const char *down = "{\"event\":\"stream\",\"stream\":\"other\",\"state\":\"down\","
                       "\"reason\":\"stalled\",\"time\":\"2026-09-21T14:13:21.500Z\"}";
    assert_string_equal(next_line(f, a, buf, sizeof buf), down);
    /* b never got yard's label: its first line since the filter is this */
    assert_string_equal(next_line(f, b, buf, sizeof buf), down);

    snk_stream_stats st[2] = { { .stream = "yard", .state = "up", .p50_ms = -1, .p99_ms = -1 },
                               { .stream = "other", .state = "down", .p50_ms = -1, .p99_ms = -1 } };
    snk_event s = { .kind = SNK_STATS, .time_us = T1 };
    s.stats.seconds = 2;
    s.stats.n = 2;
    s.stats.streams = st;
    snk_set_event(f->set, &s);
    assert_non_null(strstr(next_line(f, a, buf, sizeof buf), "\"stream\":\"yard\""));
    assert_non_null(strstr(next_line(f, a, buf, sizeof buf), "\"stream\":\"other\""));
    assert_non_null(strstr(next_line(f, b, buf, sizeof buf), "\"stream\":\"other\""));

    snk_counters sc;
    snk_set_counters(f->set, "socket", &sc);
    assert_int_equal(sc.clients, 2);
    snk_set_counters(f->set, "no such sink", &sc);
    assert_int_equal(sc.clients, 0);
    close(a);
    close(b);
}

/* Closing says goodbye to subscribers, as the daemon always did. */
static void test_socket_sink_goodbye(void **state)
{
    fx *f = *state;
    char buf[4096];
    int a = client(f);
    next_line(f, a, buf, sizeof buf);
    snk_set_close(f->set);
    f->set = NULL;
    size_t n = 0;
    for (int i = 0; i < 100 && n + 1 < sizeof buf; i++) {
        ssize_t r = recv(a, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    assert_non_null(strstr(buf, "{\"event\":\"shutdown\",\"message\":\"lcnetd is stopping\""));
    close(a);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_label_line),
        cmocka_unit_test(test_state_lines),
        cmocka_unit_test(test_stats_line),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_queue_carries_typed_events),
        cmocka_unit_test_setup_teardown(test_socket_sink_sends_the_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_sink_goodbye, setup, teardown),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
