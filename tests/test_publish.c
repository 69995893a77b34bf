/* test_publish.c: the event socket's server (publish.c): subscribers,
 * filters, commands as the server answers them, slow and departing
 * subscribers, shutdown.  The socket file itself is test_pubsock.c's, the
 * command parser test_pubcmd.c's, the JSON builder test_json.c's.
 *
 * Servers listen on real Unix sockets in a fresh temporary directory and
 * clients are real sockets (plus `nc -U` once, when installed).  The test
 * is single-threaded like the daemon: every wait for a client's line pumps
 * pub_dispatch, so a publisher that blocked anywhere would hang the test
 * (alarm() turns a hang into a failure).  SIGPIPE keeps its default action
 * on purpose: a send to a departed subscriber without MSG_NOSIGNAL kills
 * the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/publish.h"
#include "daemon/pubcmd.h"
#include "tests/testutil.h"

enum { WAIT_MS = 5000, LINE_MAX_T = 8192 };

static const char hello_line[] = "{\"event\":\"hello\",\"daemon\":\"test\"}";

typedef struct fx {
    sock_dir s;
    pub_server *p;
    int status_calls;
    int status_fails;         /* the status hook returns NULL */
} fx;

/* ------------------------------------------------------------ helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *hook_hello(void *arg)
{
    (void)arg;
    return strdup(hello_line);
}

static char *hook_status(void *arg)
{
    fx *f = arg;
    char t[64];

    if (f->status_fails)
        return NULL;
    snprintf(t, sizeof t, "{\"event\":\"status\",\"calls\":%d}", ++f->status_calls);
    return strdup(t);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    sock_dir_open(&f->s, "pub");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    pub_free(f->p);
    sock_dir_close(&f->s);    /* with the files and sockets tests left there */
    free(f);
    return 0;
}

static void start(fx *f, size_t buffer, int max_clients)
{
    pub_hooks h = { hook_hello, hook_status, f };
    char err[256];

    pub_free(f->p);
    f->p = NULL;
    if (pub_new(&f->p, f->s.lfd, buffer, max_clients, &h, err, sizeof err) != PUB_OK)
        fail_msg("pub_new: %s", err);
}

/* A test client: a socket and what it received but was not yet taken. */
typedef struct tc {
    int fd;
    char *buf;
    size_t len, cap;
    int end;                  /* 1: EOF, 2: an error such as ECONNRESET */
} tc;

static void tc_open(fx *f, tc *t)
{
    memset(t, 0, sizeof *t);
    t->fd = unix_connect(f->s.path);
    if (t->fd < 0)
        fail_msg("connect %s: %s", f->s.path, strerror(errno));
}

static void tc_close(tc *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
}

/* Take whatever is readable now.  Returns bytes read. */
static size_t tc_pump(tc *t)
{
    size_t got = 0;

    while (!t->end) {
        ssize_t n;
        if (t->cap - t->len < 65536) {
            t->cap = t->cap ? t->cap * 2 : 262144;
            assert_non_null(t->buf = realloc(t->buf, t->cap));
        }
        n = read(t->fd, t->buf + t->len, t->cap - t->len);
        if (n > 0) {
            t->len += (size_t)n;
            got += (size_t)n;
        } else if (n == 0) {
            t->end = 1;
        } else if (errno == EAGAIN) {
            break;
        } else if (errno != EINTR) {
            t->end = 2;
        }
    }
    return got;
}

/* Move the first complete line into out (NUL-terminated, no newline). */
static int tc_take(tc *t, char *out, size_t outlen)
{
    char *nl = t->buf ? memchr(t->buf, '\n', t->len) : NULL;
    size_t n;

    if (!nl)
        return 0;
    n = (size_t)(nl - t->buf);
    assert_true(n < outlen);
    memcpy(out, t->buf, n);
    out[n] = 0;
    memmove(t->buf, nl + 1, t->len - n - 1);
    t->len -= n + 1;
    return 1;
}

/* The next line, dispatching p meanwhile.  1: a line; 0: the stream ended;
 * -1: nothing within ms. */
static int tc_line(pub_server *p, tc *t, char *out, size_t outlen, int ms)
{
    long long deadline = now_ms() + ms;

    for (;;) {
        if (tc_take(t, out, outlen))
            return 1;
        if (t->end)
            return 0;
        if (now_ms() > deadline)
            return -1;
        if (p)
            pub_dispatch(p);
        if (!tc_pump(t) && !t->end) {
            struct pollfd pf[2] = { { t->fd, POLLIN, 0 }, { p ? pub_fd(p) : -1, POLLIN, 0 } };
            poll(pf, 2, 5);
        }
    }
}

static void expect_line(fx *f, tc *t, const char *want)
{
    char got[LINE_MAX_T];
    int r = tc_line(f->p, t, got, sizeof got, WAIT_MS);

    if (r != 1)
        fail_msg("expected line %s, got %s", want, r ? "nothing (timeout)" : "end of stream");
    if (strcmp(got, want) != 0)
        fail_msg("expected line\n  %s\ngot\n  %s", want, got);
}

static void expect_line_has(fx *f, tc *t, const char *a, const char *b)
{
    char got[LINE_MAX_T];
    int r = tc_line(f->p, t, got, sizeof got, WAIT_MS);

    if (r != 1)
        fail_msg("expected a line with %s, got %s", a, r ? "nothing (timeout)" : "end of stream");
    if (!strstr(got, a) || (b && !strstr(got, b)))
        fail_msg("expected a line with \"%s\"%s%s, got\n  %s", a, b ? " and " : "", b ? b : "", got);
}

static void expect_end(fx *f, tc *t)
{
    char got[LINE_MAX_T];
    int r = tc_line(f->p, t, got, sizeof got, WAIT_MS);

    if (r != 0)
        fail_msg("expected the stream to end, got %s", r > 0 ? got : "nothing (timeout)");
}

/* Nothing more arrives while the server runs for ms. */
static void expect_quiet(fx *f, tc *t, int ms)
{
    char got[LINE_MAX_T];
    int r = tc_line(f->p, t, got, sizeof got, ms);

    if (r != -1)
        fail_msg("expected silence, got %s", r > 0 ? got : "end of stream");
}

static void tc_send(tc *t, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(t->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void bcast(fx *f, const char *stream, const char *line, int want)
{
    assert_int_equal(pub_broadcast(f->p, stream, line, strlen(line)), want);
}

static pub_stats stats(fx *f)
{
    pub_stats s;
    pub_get_stats(f->p, &s);
    return s;
}

/* Dispatch until `clients` subscribers are connected. */
static void wait_clients(fx *f, int clients)
{
    long long deadline = now_ms() + WAIT_MS;

    while (stats(f).clients != clients) {
        if (now_ms() > deadline)
            fail_msg("expected %d subscribers, have %d", clients, stats(f).clients);
        pub_dispatch(f->p);
        poll(NULL, 0, 1);
    }
}

/* ------------------------------------------------------------ serving */

static void test_hello_on_connect(void **state)
{
    fx *f = *state;
    tc a;
    char err[256];
    pub_server *bare = NULL;

    start(f, 65536, 8);
    tc_open(f, &a);
    expect_line(f, &a, hello_line);
    expect_quiet(f, &a, 50);
    assert_int_equal(stats(f).clients, 1);
    tc_close(&a);

    /* Without hooks: a default hello, and `status` says it is unavailable. */
    pub_free(f->p);
    f->p = NULL;
    assert_int_equal(pub_new(&bare, f->s.lfd, 65536, 8, NULL, err, sizeof err), PUB_OK);
    f->p = bare;
    tc_open(f, &a);
    expect_line(f, &a, "{\"event\":\"hello\"}");
    tc_send(&a, "status\n");
    expect_line(f, &a, "{\"event\":\"error\",\"message\":\"status unavailable\"}");
    tc_close(&a);
}

static void test_broadcast_reaches_all(void **state)
{
    fx *f = *state;
    tc t[3];
    char line[64];

    start(f, 65536, 8);
    for (int i = 0; i < 3; i++) {
        tc_open(f, &t[i]);
        expect_line(f, &t[i], hello_line);
    }
    for (int n = 0; n < 20; n++) {
        snprintf(line, sizeof line, "{\"n\":%d}", n);
        bcast(f, n % 2 ? "cam1" : NULL, line, 3);
    }
    for (int i = 0; i < 3; i++) {
        for (int n = 0; n < 20; n++) {
            snprintf(line, sizeof line, "{\"n\":%d}", n);
            expect_line(f, &t[i], line);
        }
        expect_quiet(f, &t[i], 20);
    }
    assert_int_equal(stats(f).events, 20);
    assert_int_equal(stats(f).lines, 60);
    assert_int_equal(stats(f).dropped, 0);
    /* A subscriber that keeps up holds no buffer. */
    assert_int_equal(stats(f).buffered, 0);
    /* A line with a newline would break the framing: refused whole. */
    assert_int_equal(pub_broadcast(f->p, NULL, "{}\n{}", 5), PUB_EINVAL);
    expect_quiet(f, &t[0], 20);
    for (int i = 0; i < 3; i++)
        tc_close(&t[i]);
}

static void test_filter_by_streams(void **state)
{
    fx *f = *state;
    tc a, b;

    start(f, 65536, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);
    assert_true(pub_wanted(f->p, "cam2"));

    tc_send(&a, "streams cam3 , cam1,cam3\r\n");
    expect_line(f, &a, "{\"event\":\"streams\",\"streams\":[\"cam1\",\"cam3\"]}");
    bcast(f, "cam1", "{\"s\":\"cam1\"}", 2);
    bcast(f, "cam2", "{\"s\":\"cam2\"}", 1);
    bcast(f, NULL, "{\"s\":\"daemon\"}", 2);
    bcast(f, "cam3", "{\"s\":\"cam3\"}", 2);
    bcast(f, "cam10", "{\"s\":\"cam10\"}", 1);
    expect_line(f, &a, "{\"s\":\"cam1\"}");
    expect_line(f, &a, "{\"s\":\"daemon\"}");
    expect_line(f, &a, "{\"s\":\"cam3\"}");
    expect_quiet(f, &a, 30);
    expect_line(f, &b, "{\"s\":\"cam1\"}");
    expect_line(f, &b, "{\"s\":\"cam2\"}");
    expect_line(f, &b, "{\"s\":\"daemon\"}");
    expect_line(f, &b, "{\"s\":\"cam3\"}");
    expect_line(f, &b, "{\"s\":\"cam10\"}");

    /* Only a is left: nobody wants cam2, so the daemon need not format it. */
    tc_close(&b);
    wait_clients(f, 1);
    assert_false(pub_wanted(f->p, "cam2"));
    assert_true(pub_wanted(f->p, "cam1"));
    assert_true(pub_wanted(f->p, NULL));

    /* A bad filter is an error and leaves the old one in place. */
    tc_send(&a, "streams cam1,bad/name\n");
    expect_line_has(f, &a, "\"event\":\"error\"", "bad/name");
    bcast(f, "cam2", "{\"s\":\"cam2\"}", 0);
    bcast(f, "cam1", "{\"s\":\"cam1\"}", 1);
    expect_line(f, &a, "{\"s\":\"cam1\"}");

    tc_send(&a, "streams *\n");
    expect_line(f, &a, "{\"event\":\"streams\",\"streams\":[\"*\"]}");
    bcast(f, "cam2", "{\"s\":\"cam2\"}", 1);
    expect_line(f, &a, "{\"s\":\"cam2\"}");
    tc_send(&a, "streams cam9\nstreams\n");
    expect_line(f, &a, "{\"event\":\"streams\",\"streams\":[\"cam9\"]}");
    expect_line(f, &a, "{\"event\":\"streams\",\"streams\":[\"*\"]}");
    bcast(f, "cam2", "{\"s\":\"cam2\"}", 1);
    expect_line(f, &a, "{\"s\":\"cam2\"}");
    tc_close(&a);
}

static void test_commands(void **state)
{
    fx *f = *state;
    tc a;

    start(f, 65536, 8);
    tc_open(f, &a);
    expect_line(f, &a, hello_line);

    tc_send(&a, "ping\n");
    expect_line(f, &a, "{\"event\":\"pong\"}");
    tc_send(&a, "status\r\n");
    expect_line(f, &a, "{\"event\":\"status\",\"calls\":1}");
    tc_send(&a, "help\n");
    expect_line(f, &a, pub_cmd_help);
    tc_send(&a, "frobnicate now\n");
    expect_line(f, &a, "{\"event\":\"error\",\"message\":\"unknown command (try help): \\\"frobnicate\\\"\"}");
    tc_send(&a, "ping twice\n");
    expect_line_has(f, &a, "\"event\":\"error\"", "no arguments");
    /* A command split over several writes, and an empty line: no answer. */
    tc_send(&a, "pi");
    expect_quiet(f, &a, 30);
    tc_send(&a, "ng\n\n   \n\r\nstat");
    tc_send(&a, "us\n");
    expect_line(f, &a, "{\"event\":\"pong\"}");
    expect_line(f, &a, "{\"event\":\"status\",\"calls\":2}");
    expect_quiet(f, &a, 30);
    /* Hostile bytes come back escaped, as valid JSON. */
    tc_send(&a, "\x01\"\xff\n");
    expect_line(f, &a, "{\"event\":\"error\",\"message\":\"unknown command (try help): "
                       "\\\"\\u0001\\\"\xEF\xBF\xBD\\\"\"}");
    f->status_fails = 1;
    tc_send(&a, "status\n");
    expect_line(f, &a, "{\"event\":\"error\",\"message\":\"status unavailable\"}");
    assert_int_equal(stats(f).clients, 1);
    tc_close(&a);
}

/* Parse {"seq":N...}: N, or -1. */
static long seq_of(const char *line)
{
    long n;
    return sscanf(line, "{\"seq\":%ld,", &n) == 1 ? n : -1;
}

static void make_seq(char *line, size_t n, long seq)
{
    snprintf(line, n, "{\"seq\":%ld,\"pad\":\"%0150d\"}", seq, 0);
}

/* Take b's complete lines, each the next in sequence. */
static void drain_in_order(tc *b, long *next)
{
    char got[LINE_MAX_T];

    tc_pump(b);
    while (tc_take(b, got, sizeof got)) {
        if (seq_of(got) != *next)
            fail_msg("reader: expected seq %ld, got %s", *next, got);
        ++*next;
    }
}

static void test_slow_subscriber_gets_dropped_count(void **state)
{
    fx *f = *state;
    enum { BUF = 8192 };
    tc a, b;
    char line[256], got[LINE_MAX_T];
    long seq = 0, b_next = 0, a_next = 0, last_before = -1, first_after = -1;
    unsigned long long announced = 0;
    int notices = 0;
    pub_stats st;

    start(f, BUF, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);

    /* a stops reading.  Broadcast until it has lost 50 lines: every call
     * returns (the test would hang otherwise) and b misses nothing. */
    for (;; seq++) {
        assert_true(seq < 1000000);
        make_seq(line, sizeof line, seq);
        int n = pub_broadcast(f->p, "cam1", line, strlen(line));
        assert_true(n == 1 || n == 2);
        drain_in_order(&b, &b_next);
        pub_dispatch(f->p);
        if (stats(f).dropped >= 50)
            break;
    }
    /* While a is full every broadcast reaches b alone. */
    for (int i = 0; i < 20; i++) {
        make_seq(line, sizeof line, ++seq);
        assert_int_equal(pub_broadcast(f->p, "cam1", line, strlen(line)), 1);
        drain_in_order(&b, &b_next);
    }
    st = stats(f);
    assert_int_equal(st.dropped, 50 + 20);
    assert_true(st.buffered <= 2 * BUF);      /* a's queue is bounded by its limit */
    while (b_next <= seq) {
        pub_dispatch(f->p);
        drain_in_order(&b, &b_next);
    }

    /* a reads again: whole lines in order, one notice where the gap is,
     * then new lines flow. */
    for (;;) {
        int r = tc_line(f->p, &a, got, sizeof got, WAIT_MS);
        long s;
        assert_int_equal(r, 1);
        if (sscanf(got, "{\"event\":\"dropped\",\"count\":%llu}", &announced) == 1) {
            notices++;
            last_before = a_next - 1;
            for (int i = 0; i < 5; i++) {
                make_seq(line, sizeof line, ++seq);
                assert_int_equal(pub_broadcast(f->p, "cam1", line, strlen(line)), 2);
            }
            continue;
        }
        s = seq_of(got);
        if (s < 0)
            fail_msg("a: unexpected line %s", got);
        if (notices && first_after < 0)
            first_after = s;
        else if (s != a_next)
            fail_msg("a: expected seq %ld, got %ld", a_next, s);
        a_next = s + 1;
        if (s == seq)
            break;
    }
    assert_int_equal(notices, 1);
    assert_true(last_before >= 0);
    assert_int_equal(announced, 70);
    assert_int_equal(first_after - last_before - 1, (long)announced);
    assert_int_equal(stats(f).dropped, 70);
    while (b_next <= seq) {
        pub_dispatch(f->p);
        drain_in_order(&b, &b_next);
    }
    assert_int_equal(b_next, seq + 1);
    /* Both caught up: the buffer a needed is given back. */
    pub_dispatch(f->p);
    assert_int_equal(stats(f).buffered, 0);
    tc_close(&a);
    tc_close(&b);
}

static void test_long_command_line_disconnects(void **state)
{
    fx *f = *state;
    enum { TOTAL = 10 << 20, CHUNK = 65536 };
    tc a;
    char *chunk = malloc(CHUNK), got[LINE_MAX_T];
    size_t written = 0, most = 0;
    int write_failed = 0, lines = 0;
    long long deadline = now_ms() + 4 * WAIT_MS;
    pub_stats st;

    assert_non_null(chunk);
    memset(chunk, 'x', CHUNK);
    start(f, 65536, 8);
    tc_open(f, &a);
    expect_line(f, &a, hello_line);

    while (!a.end) {
        if (now_ms() > deadline)
            fail_msg("not disconnected after %zu bytes", written);
        if (written < TOTAL && !write_failed) {
            ssize_t n = send(a.fd, chunk, CHUNK, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                written += (size_t)n;
            else if (errno != EAGAIN)
                write_failed = 1;              /* EPIPE: the server closed */
        }
        pub_dispatch(f->p);
        st = stats(f);
        if (st.buffered > most)
            most = st.buffered;
        tc_pump(&a);
        while (tc_take(&a, got, sizeof got)) {
            if (!strstr(got, "\"event\":\"error\"") || !strstr(got, "longer than 4096"))
                fail_msg("expected the too-long error, got %.200s", got);
            lines++;
        }
        poll(NULL, 0, lines ? 1 : 0);
    }
    assert_int_equal(lines, 1);
    assert_true(written < TOTAL);             /* the server stopped reading */
    assert_true(most <= 2 * PUB_CMD_MAX);     /* and never held more than a line */
    st = stats(f);
    assert_int_equal(st.clients, 0);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(st.buffered, 0);
    tc_close(&a);
    free(chunk);
}

/* A subscriber being closed that does not read its last lines goes at the
 * linger deadline (the timer), not never. */
static void test_closing_subscriber_lingers_then_goes(void **state)
{
    fx *f = *state;
    tc a, b;
    char line[256], *junk = malloc(PUB_CMD_MAX + 2);
    long seq = 0;
    long long t0;
    pub_stats st;

    assert_non_null(junk);
    memset(junk, 'x', PUB_CMD_MAX + 1);
    junk[PUB_CMD_MAX + 1] = 0;
#ifdef LCNETD_TESTING
    pub_test_linger_ms = 300;
#endif
    start(f, 8192, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);
    while (stats(f).dropped == 0) {             /* a does not read: full */
        assert_true(seq < 1000000);
        make_seq(line, sizeof line, seq++);
        pub_broadcast(f->p, "cam1", line, strlen(line));
        pub_dispatch(f->p);
        tc_pump(&b);
        b.len = 0;
    }
    tc_send(&a, junk);                          /* too long: closing, error queued */
    t0 = now_ms();
    while (stats(f).disconnects == 0) {
        assert_true(now_ms() - t0 < 20000);
        pub_dispatch(f->p);
        struct pollfd pf = { pub_fd(f->p), POLLIN, 0 };
        poll(&pf, 1, 50);
        st = stats(f);
        if (now_ms() - t0 < 250)
            assert_int_equal(st.clients, 2);   /* it gets its time */
    }
    st = stats(f);
    assert_int_equal(st.clients, 1);
    assert_true(pub_wanted(f->p, "cam1"));      /* b is still there */
    bcast(f, "cam1", "{}", 1);
    /* a's stream ends with whole lines: the unsent error is simply not there. */
    while (tc_line(NULL, &a, line, sizeof line, WAIT_MS) == 1)
        ;
    assert_true(a.end);
#ifdef LCNETD_TESTING
    pub_test_linger_ms = 5000;
#endif
    tc_close(&a);
    tc_close(&b);
    free(junk);
}

static void test_max_clients(void **state)
{
    fx *f = *state;
    tc a, b, c, d, e;

    start(f, 65536, 2);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);
    tc_open(f, &c);
    expect_line(f, &c, "{\"event\":\"error\",\"message\":\"too many subscribers\"}");
    expect_end(f, &c);
    assert_int_equal(stats(f).rejected, 1);
    assert_int_equal(stats(f).clients, 2);

    tc_close(&a);
    wait_clients(f, 1);
    tc_open(f, &d);
    expect_line(f, &d, hello_line);

    assert_int_equal(pub_set_limits(f->p, 100, 3), PUB_EINVAL);
    assert_int_equal(pub_set_limits(f->p, 65536, 0), PUB_EINVAL);
    assert_int_equal(pub_set_limits(f->p, 65536, 3), PUB_OK);
    tc_open(f, &e);
    expect_line(f, &e, hello_line);
    assert_int_equal(stats(f).clients, 3);
    for (tc *t = &b; t; t = t == &b ? &c : t == &c ? &d : t == &d ? &e : NULL)
        tc_close(t);
}

static void test_disconnect_mid_stream(void **state)
{
    fx *f = *state;
    tc a, b, c;
    char line[256];
    long seq = 0, b_next = 0;
    pub_stats st;

    start(f, 16384, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    tc_open(f, &c);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);
    expect_line(f, &c, hello_line);

    /* a goes away with nothing queued: the next broadcast's send fails
     * (EPIPE, no SIGPIPE) and a is removed then and there. */
    for (; seq < 10; seq++) {
        make_seq(line, sizeof line, seq);
        bcast(f, NULL, line, 3);
    }
    close(a.fd);
    a.fd = -1;
    make_seq(line, sizeof line, seq++);
    bcast(f, NULL, line, 2);
    st = stats(f);
    assert_int_equal(st.clients, 2);
    assert_int_equal(st.disconnects, 1);

    /* c stops reading until its queue holds bytes, then goes away: the
     * next dispatch sees the hangup and frees its buffer. */
    while (stats(f).buffered == 0) {
        assert_true(seq < 1000000);
        make_seq(line, sizeof line, seq++);
        assert_int_equal(pub_broadcast(f->p, NULL, line, strlen(line)), 2);
        drain_in_order(&b, &b_next);
    }
    tc_close(&c);
    pub_dispatch(f->p);
    st = stats(f);
    assert_int_equal(st.clients, 1);
    assert_int_equal(st.disconnects, 2);
    assert_int_equal(st.buffered, 0);

    /* b saw everything, in order, throughout. */
    for (int i = 0; i < 10; i++) {
        make_seq(line, sizeof line, seq++);
        bcast(f, NULL, line, 1);
    }
    for (long long deadline = now_ms() + WAIT_MS; b_next < seq;) {
        assert_true(now_ms() < deadline);
        pub_dispatch(f->p);
        drain_in_order(&b, &b_next);
        assert_false(b.end);
    }
    tc_close(&a);
    tc_close(&b);
}

/* 200 subscribers that connect and keep up cost no buffers at all. */
static void test_idle_subscribers_hold_no_buffers(void **state)
{
    fx *f = *state;
    enum { N = 200 };
    tc *t = calloc(N, sizeof *t);
    char line[] = "{\"event\":\"label\",\"stream\":\"cam1\",\"label\":\"cat\",\"score\":0.93}";

    assert_non_null(t);
    start(f, 256 * 1024, N);
    for (int i = 0; i < N; i++)
        tc_open(f, &t[i]);
    wait_clients(f, N);
    assert_int_equal(stats(f).buffered, 0);
    bcast(f, "cam1", line, N);
    assert_int_equal(stats(f).buffered, 0);
    for (int i = 0; i < N; i++) {
        expect_line(f, &t[i], hello_line);
        expect_line(f, &t[i], line);
        tc_close(&t[i]);
    }
    wait_clients(f, 0);
    free(t);
}

/* One dispatch reads a bounded amount (4096 bytes) from each subscriber: a
 * client that sends a flood does not delay another's command.  The flood is
 * `status` commands, so the hook's call count says how many were run: the
 * burst of 32, then one error, the rest of what was read ignored. */
static void test_chatty_client_does_not_starve_others(void **state)
{
    fx *f = *state;
    enum { CMDS = 10000, LEN = 7 };
    tc a, b;
    char *flood = malloc(CMDS * LEN), got[LINE_MAX_T];
    size_t sent = 0;
    int answers = 0;

    assert_non_null(flood);
    for (int i = 0; i < CMDS; i++)
        memcpy(flood + i * LEN, "status\n", LEN);
    start(f, 1 << 20, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);

    while (sent < CMDS * LEN) {
        ssize_t n = send(a.fd, flood + sent, CMDS * LEN - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    assert_true(sent > 3 * 4096);
    tc_send(&b, "ping\n");
    pub_dispatch(f->p);                        /* exactly one */
    assert_true(f->status_calls >= 1);
    assert_true(f->status_calls <= 4096 / LEN);
    tc_pump(&b);
    assert_true(tc_take(&b, got, sizeof got));
    assert_string_equal(got, "{\"event\":\"pong\"}");
    /* The burst is answered in order, then one error says the rest is ignored. */
    while (answers < 32) {
        char want[64];
        int r = tc_line(f->p, &a, got, sizeof got, WAIT_MS);
        assert_int_equal(r, 1);
        snprintf(want, sizeof want, "{\"event\":\"status\",\"calls\":%d}", ++answers);
        assert_string_equal(got, want);
    }
    expect_line_has(f, &a, "\"event\":\"error\"", "too many commands: 32 at once, then 16 a second");
    /* Later reads wait for a token each: a few more answers in 200 ms, not
     * the thousands sent, and at most one error per run. */
    long long end = now_ms() + 200;
    while (now_ms() < end) {
        pub_dispatch(f->p);
        usleep(1000);
    }
    assert_true(f->status_calls >= 32 && f->status_calls <= 32 + 16);
    assert_int_equal(stats(f).dropped, 0);
    tc_close(&a);
    tc_close(&b);
    free(flood);
}

/* A `status` reply is not built for a subscriber whose buffer could not
 * take it: it counts as a dropped line, announced like any other. */
static void test_status_not_built_for_full_subscriber(void **state)
{
    fx *f = *state;
    tc a;
    char line[1024];
    unsigned long long before;

    start(f, PUB_BUFFER_MIN * 4, 8);
    tc_open(f, &a);
    expect_line(f, &a, hello_line);
    tc_send(&a, "status\n");
    expect_line(f, &a, "{\"event\":\"status\",\"calls\":1}");
    /* a stops reading: events fill its socket, then its buffer */
    snprintf(line, sizeof line, "{\"event\":\"pad\",\"x\":\"%0900d\"}", 0);
    for (int i = 0; stats(f).dropped == 0; i++) {
        assert_true(i < 100000);
        pub_broadcast(f->p, "cam1", line, strlen(line));
    }
    before = stats(f).dropped;
    tc_send(&a, "status\nstatus\n");
    for (int i = 0; i < 10; i++)
        pub_dispatch(f->p);
    assert_int_equal(f->status_calls, 1);
    assert_int_equal(stats(f).dropped, before + 2);
    tc_close(&a);
}

/* shutdown(SHUT_WR) from a subscriber (`nc -N`) ends its commands, not its
 * subscription. */
static void test_half_close_keeps_subscription(void **state)
{
    fx *f = *state;
    tc a;

    start(f, 65536, 8);
    tc_open(f, &a);
    expect_line(f, &a, hello_line);
    tc_send(&a, "streams cam1\nping");            /* the last command unterminated */
    assert_int_equal(shutdown(a.fd, SHUT_WR), 0);
    expect_line(f, &a, "{\"event\":\"streams\",\"streams\":[\"cam1\"]}");
    expect_line(f, &a, "{\"event\":\"pong\"}");
    bcast(f, "cam2", "{\"s\":2}", 0);
    bcast(f, "cam1", "{\"s\":1}", 1);
    expect_line(f, &a, "{\"s\":1}");
    assert_int_equal(stats(f).clients, 1);
    tc_close(&a);
    wait_clients(f, 0);
}

static void test_goodbye(void **state)
{
    fx *f = *state;
    tc a, b;
    char line[256], got[LINE_MAX_T];
    long seq = 0;
    long long t0, took;
    int lines = 0;

    start(f, 8192, 8);
    tc_open(f, &a);
    tc_open(f, &b);
    expect_line(f, &a, hello_line);
    expect_line(f, &b, hello_line);
    while (stats(f).dropped == 0) {             /* b never reads */
        assert_true(seq < 1000000);
        make_seq(line, sizeof line, seq++);
        pub_broadcast(f->p, NULL, line, strlen(line));
        tc_pump(&a);
        while (tc_take(&a, got, sizeof got))
            ;
    }
    t0 = now_ms();
    pub_goodbye(f->p, "{\"event\":\"bye\"}", 300);
    took = now_ms() - t0;
    assert_true(took >= 290 && took < 3000);   /* b held it to the deadline, no longer */
    assert_int_equal(stats(f).clients, 0);
    assert_int_equal(pub_broadcast(f->p, NULL, "{}", 2), 0);

    /* a: the rest of the stream, then bye, then the end. */
    for (;;) {
        int r = tc_line(NULL, &a, got, sizeof got, WAIT_MS);
        assert_int_equal(r, 1);
        if (strcmp(got, "{\"event\":\"bye\"}") == 0)
            break;
        assert_true(seq_of(got) >= 0);
    }
    assert_int_equal(tc_line(NULL, &a, got, sizeof got, WAIT_MS), 0);
    /* b: whole lines until its stream ends (an unterminated tail is not a line). */
    while (tc_line(NULL, &b, got, sizeof got, WAIT_MS) == 1) {
        assert_true(seq_of(got) >= 0 || strstr(got, "\"event\":"));
        lines++;
    }
    assert_true(b.end);
    assert_true(lines > 0);
    tc_close(&a);
    tc_close(&b);
}

static int have_program(const char *name)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];

    for (const char *p = path ? path : ""; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
        if (access(buf, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* A real tool as subscriber: netcat (OpenBSD) with -N shuts down its
 * sending side after the commands and keeps reading until we close. */
static void test_nc_subscriber(void **state)
{
    fx *f = *state;
    int in[2], out[2], status;
    pid_t pid;
    tc t;

    if (!have_program("nc"))
        skip();
    start(f, 65536, 8);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        execlp("nc", "nc", "-N", "-U", f->s.path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    assert_int_equal(write(in[1], "streams cam1\nping\n", 18), 18);
    close(in[1]);
    memset(&t, 0, sizeof t);
    t.fd = out[0];
    assert_int_equal(fcntl(t.fd, F_SETFL, O_NONBLOCK), 0);
    expect_line(f, &t, hello_line);
    expect_line(f, &t, "{\"event\":\"streams\",\"streams\":[\"cam1\"]}");
    expect_line(f, &t, "{\"event\":\"pong\"}");
    bcast(f, "cam2", "{\"s\":2}", 0);
    bcast(f, "cam1", "{\"s\":1}", 1);
    expect_line(f, &t, "{\"s\":1}");
    pub_goodbye(f->p, "{\"event\":\"bye\"}", 1000);
    expect_line(f, &t, "{\"event\":\"bye\"}");
    expect_end(f, &t);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tc_close(&t);
}

/* pub_new refuses what it cannot serve, and leaves *out NULL: a socket
 * that is not a listening stream one, a buffer below PUB_BUFFER_MIN, no
 * room for a subscriber. */
static void test_new_refuses_bad_arguments(void **state)
{
    fx *f = *state;
    char err[256];
    int s;
    pub_server *p = (pub_server *)&err;

    assert_true((s = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
    assert_int_equal(pub_new(&p, s, 65536, 8, NULL, err, sizeof err), PUB_EINVAL);
    assert_null(p);
    close(s);

    assert_int_equal(pub_new(&p, f->s.lfd, 100, 8, NULL, err, sizeof err), PUB_EINVAL);
    assert_int_equal(pub_new(&p, f->s.lfd, 65536, 0, NULL, err, sizeof err), PUB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_on_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broadcast_reaches_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_by_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_subscriber_gets_dropped_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_command_line_disconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_subscriber_lingers_then_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_subscribers_hold_no_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chatty_client_does_not_starve_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_not_built_for_full_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_keeps_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goodbye, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nc_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_refuses_bad_arguments, setup, teardown),
    };

    alarm(300);               /* a publisher that blocks hangs the test: fail instead */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
