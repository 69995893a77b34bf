/* publish.c: the event socket server.  See publish.h.
 *
 * DESIGN.  One private epoll set holds the listening socket, a timerfd and
 * every subscriber; the daemon's loop polls that set's fd, so the publisher
 * adds one fd to the loop however many subscribers there are.  Sockets are
 * level-triggered and non-blocking; EPOLLOUT is armed only while a
 * subscriber has output waiting, so a subscriber that keeps up costs no
 * wakeups at all.
 *
 * Output.  A line goes straight to the socket with one sendmsg() (line and
 * "\n" as two iovecs, no copy) when nothing is queued ahead of it; only
 * what the kernel does not take is copied into the subscriber's buffer,
 * allocated then and freed again once drained, so idle and fast
 * subscribers hold no buffer.  Past `limit` queued bytes lines are dropped,
 * and keep being dropped until the backlog is below half the limit: with
 * that hysteresis the {"event":"dropped"} notice sits exactly where the gap
 * is, and a subscriber is not woken for single lines squeezed in between
 * drops.  Lines are whole or absent, never cut; the one exception is a
 * subscriber we give up on (goodbye or linger deadline passed), whose
 * stream may end in an unterminated fragment before EOF: not a line.
 *
 * Lifetime.  A subscriber can vanish in the middle of anything (a send
 * fails while a hook broadcasts during dispatch), so dropping one only
 * unlinks it, closes its fd and frees its buffers; the struct itself waits
 * on `dead` until the outermost public call returns, and an epoll event
 * still in hand for it sees `gone` and is skipped.
 *
 * Commands.  Each subscriber has a token bucket: CMD_BURST commands at once,
 * CMD_RATE a second after that.  Past it, the rest of what was read is
 * ignored (the first ignored command in a run is answered with one error)
 * and the socket is read again only CMD_PAUSE_MS later, so a client that
 * floods commands costs a bounded read rate (a few hundred KB/s, scanned
 * for newlines and thrown away) instead of a core.  A
 * `status` reply is not even built for a subscriber whose buffer could not
 * take it: it counts as a dropped line, like an event would.
 *
 * A subscriber being closed (it sent a line past PUB_CMD_MAX) gets
 * LINGER_MS to take its last lines, enforced by the timerfd, so one that
 * never reads cannot hold its slot for ever.  The timer also ends the pause
 * in accepting after running out of file descriptors, which would otherwise
 * spin: the listening socket stays readable while accept() fails.
 */
#include "daemon/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/json.h"
#include "daemon/util.h"

enum {
    READ_CHUNK = 4096,        /* bytes read from one subscriber per event: no one starves the rest */
    ACCEPT_BATCH = 32,        /* connections accepted per dispatch */
    EVENT_BATCH = 64,         /* epoll events handled per dispatch */
    OUT_FIRST = 4096,         /* first output buffer; doubles up to the limit */
    LINGER_MS = 5000,         /* a subscriber being closed gets this long to read its last lines */
    ACCEPT_PAUSE_MS = 250,    /* accept() ran out of fds or memory: try again after */
    CMD_BURST = 32,           /* commands a subscriber may send at once, */
    CMD_RATE = 16,            /* and per second after that */
    CMD_PAUSE_MS = 10,        /* out of commands: the socket is not read for this long */
};

enum { PUT_OK = 0, PUT_DROPPED = 1, PUT_GONE = -1 };

#ifdef LCNETD_TESTING
int pub_test_linger_ms = LINGER_MS;
#define LINGER pub_test_linger_ms
#else
#define LINGER LINGER_MS
#endif

static const char hello_default[] = "{\"event\":\"hello\"}";
static const char too_many[] = "{\"event\":\"error\",\"message\":\"too many subscribers\"}\n";

typedef struct pub_client pub_client;
struct pub_client {
    pub_client *prev, *next;
    int fd;
    uint32_t armed;           /* events registered with epoll */
    int reading;              /* 0: it half-closed, or is being closed: input is ignored */
    int closing;              /* close once the output is flushed, or at `deadline` */
    int gone;                 /* dropped: fd closed, waiting on the dead list */
    long long deadline;       /* closing: CLOCK_MONOTONIC ms */
    size_t limit;             /* queued output allowed, bytes */
    char *out;                /* queued output is out[off..len) */
    size_t off, len, cap;
    int dropping;             /* dropping lines until the backlog is below limit/2 */
    unsigned long long ndropped;  /* lines lost and not yet announced */
    char *in;                 /* a partial command line; PUB_CMD_MAX bytes when allocated */
    size_t in_len;
    pub_filter *filter;       /* NULL: every stream */
    double tokens;            /* commands it may send now, up to CMD_BURST */
    long long tokens_ms;      /* when tokens was last brought up to date */
    int warned;               /* told it sends too fast, since it last had a full bucket */
    long long paused_until;   /* not read until then (ms), out of tokens; 0: read */
};

struct pub_server {
    int ep, listen_fd, timer_fd;
    int listening;            /* listen_fd is in the epoll set */
    int closed;               /* pub_goodbye ran */
    long long accept_resume;  /* accepting paused until then (ms); 0: not paused */
    size_t client_buffer;     /* for new subscribers */
    int max_clients;
    pub_hooks hooks;
    pub_client *head;         /* live subscribers */
    pub_client *dead;         /* dropped during this call; freed when it returns */
    int depth;                /* public calls in progress (hooks may re-enter) */
    int nclosing;
    int npaused;              /* subscribers whose reading waits for a token */
    size_t status_len;        /* the last status reply's length: what a reply needs */
    pub_stats st;
    char tag_listen, tag_timer;  /* their addresses mark those fds' epoll events */
    char scratch[READ_CHUNK];
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t pending(const pub_client *c)
{
    return c->len - c->off;
}

/* ------------------------------------------------------------ lifetime */

static void enter(pub_server *p)
{
    p->depth++;
}

static void leave(pub_server *p)
{
    if (--p->depth > 0)
        return;
    while (p->dead) {
        pub_client *c = p->dead;
        p->dead = c->next;
        free(c);
    }
}

static void out_release(pub_server *p, pub_client *c)
{
    p->st.buffered -= c->cap;
    free(c->out);
    c->out = NULL;
    c->off = c->len = c->cap = 0;
}

static void in_release(pub_server *p, pub_client *c)
{
    if (c->in)
        p->st.buffered -= PUB_CMD_MAX;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
}

/* Gone at once: nothing more is sent, read or kept. */
static void pub_client_drop(pub_server *p, pub_client *c)
{
    if (c->gone)
        return;
    epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    out_release(p, c);
    in_release(p, c);
    pub_filter_free(c->filter);
    c->filter = NULL;
    if (c->closing)
        p->nclosing--;
    if (c->paused_until)
        p->npaused--;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->gone = 1;
    c->prev = NULL;
    c->next = p->dead;
    p->dead = c;
    p->st.clients--;
    p->st.disconnects++;
}

/* Register what c waits for: input while it is read, output while queued. */
static int client_arm(pub_server *p, pub_client *c)
{
    uint32_t want = (c->reading && !c->paused_until ? EPOLLIN : 0) | (pending(c) ? EPOLLOUT : 0);
    struct epoll_event ev = { .events = want, .data.ptr = c };

    if (want == c->armed)
        return 0;
    if (epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        pub_client_drop(p, c);                 /* unwatched, it would never be flushed */
        return -1;
    }
    c->armed = want;
    return 0;
}

/* ------------------------------------------------------------ timer */

static void timer_update(pub_server *p)
{
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    long long next = p->accept_resume;

    if (p->nclosing || p->npaused)
        for (pub_client *c = p->head; c; c = c->next) {
            if (c->closing && (next == 0 || c->deadline < next))
                next = c->deadline;
            if (c->paused_until && (next == 0 || c->paused_until < next))
                next = c->paused_until;
        }
    if (next > 0) {
        its.it_value.tv_sec = next / 1000;
        its.it_value.tv_nsec = next % 1000 * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;          /* zero would disarm */
    }
    /* Cannot fail with these arguments; if it did, closing subscribers would
     * still go once flushed and accepting would resume at the next pause. */
    timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void listen_on(pub_server *p, int on)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->tag_listen };

    if (on == p->listening)
        return;
    if (epoll_ctl(p->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, p->listen_fd, &ev) == 0)
        p->listening = on;
}

static void timer_fire(pub_server *p)
{
    uint64_t ticks;
    long long now = now_ms();
    pub_client *c, *next;

    if (read(p->timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        return;
    if (p->accept_resume && now >= p->accept_resume) {
        p->accept_resume = 0;
        listen_on(p, 1);
    }
    for (c = p->head; c && (p->nclosing || p->npaused); c = next) {
        next = c->next;
        if (c->closing && now >= c->deadline) {
            pub_client_drop(p, c);
            continue;
        }
        if (c->paused_until && now >= c->paused_until) {
            c->paused_until = 0;
            p->npaused--;
            client_arm(p, c);
        }
    }
    timer_update(p);
}

/* ------------------------------------------------------------ output */

/* Room for n more bytes at the end of the queue: compact, or grow. */
static int out_reserve(pub_server *p, pub_client *c, size_t n)
{
    size_t keep = pending(c), cap;
    char *buf;

    if (c->cap - c->len >= n)
        return 0;
    if (c->off && c->cap - keep >= n) {
        memmove(c->out, c->out + c->off, keep);
        c->off = 0;
        c->len = keep;
        return 0;
    }
    cap = c->cap ? c->cap * 2 : OUT_FIRST;
    while (cap < keep + n)
        cap *= 2;
    if (cap > c->limit)
        cap = keep + n > c->limit ? keep + n : c->limit;   /* over only for a last line */
    if (!(buf = malloc(cap)))
        return -1;
    if (keep)
        memcpy(buf, c->out + c->off, keep);
    free(c->out);
    p->st.buffered += cap - c->cap;
    c->out = buf;
    c->off = 0;
    c->len = keep;
    c->cap = cap;
    return 0;
}

/* line + "\n": straight to the socket when nothing waits ahead of it, the
 * rest queued.  -1: c was dropped. */
static int client_write(pub_server *p, pub_client *c, const char *line, size_t len)
{
    size_t done = 0;

    if (!pending(c)) {
        struct iovec iov[2] = { { (void *)line, len }, { (void *)"\n", 1 } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t n;

        do
            n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            pub_client_drop(p, c);             /* EPIPE, ECONNRESET: it left */
            return -1;
        }
        done = n < 0 ? 0 : (size_t)n;
        if (done == len + 1)
            return 0;
    }
    if (out_reserve(p, c, len + 1 - done) < 0) {
        pub_client_drop(p, c);                 /* a cut line would be worse */
        return -1;
    }
    if (done < len) {
        memcpy(c->out + c->len, line + done, len - done);
        c->len += len - done;
    }
    c->out[c->len++] = '\n';
    return client_arm(p, c);
}

static int client_notice(pub_server *p, pub_client *c)
{
    char t[64];
    int n = snprintf(t, sizeof t, "{\"event\":\"dropped\",\"count\":%llu}", c->ndropped);

    c->dropping = 0;
    c->ndropped = 0;
    return client_write(p, c, t, (size_t)n);
}

/* Queue a line under c's limit.  `last`: the final line before closing,
 * which may go past the limit (once; nothing follows it). */
static int client_put(pub_server *p, pub_client *c, const char *line, size_t len, int last)
{
    size_t queued;

    if (c->gone)
        return PUT_GONE;
    if (c->dropping && (last || pending(c) < c->limit / 2) && client_notice(p, c) < 0)
        return PUT_GONE;
    queued = pending(c);
    if (!last && (c->dropping || len >= c->limit || queued > c->limit - len - 1)) {
        c->dropping = 1;
        c->ndropped++;
        p->st.dropped++;
        return PUT_DROPPED;
    }
    return client_write(p, c, line, len) < 0 ? PUT_GONE : PUT_OK;
}

/* Send what is queued.  -1: c was dropped (an error, or closed once flushed). */
static int client_flush(pub_server *p, pub_client *c)
{
    while (pending(c)) {
        ssize_t n = send(c->fd, c->out + c->off, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            pub_client_drop(p, c);
            return -1;
        }
        c->off += (size_t)n;
    }
    if (!pending(c))
        out_release(p, c);
    if (c->dropping && !c->closing && pending(c) < c->limit / 2 && client_notice(p, c) < 0)
        return -1;
    if (c->closing && !pending(c)) {
        pub_client_drop(p, c);
        return -1;
    }
    return client_arm(p, c);
}

/* Stop reading; close once the queue is flushed or LINGER_MS passed. */
static void client_close_soon(pub_server *p, pub_client *c, long long deadline)
{
    c->reading = 0;
    in_release(p, c);
    if (!c->closing) {
        c->closing = 1;
        c->deadline = deadline;
        p->nclosing++;
    }
    client_flush(p, c);
    if (!c->gone)
        timer_update(p);
}

/* ------------------------------------------------------------ commands */

static int client_error(pub_server *p, pub_client *c, const char *message, int last)
{
    static const char oom[] = "{\"event\":\"error\",\"message\":\"out of memory\"}";
    json_buf b = JSON_BUF_INIT;
    int ret;

    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "error");
    json_key(&b, "message");
    json_str(&b, message);
    json_end(&b);
    if (b.failed)
        ret = client_put(p, c, oom, sizeof oom - 1, last);
    else
        ret = client_put(p, c, b.s, b.len, last);
    json_release(&b);
    return ret;
}

static void client_streams(pub_server *p, pub_client *c, pub_filter *f)
{
    json_buf b = JSON_BUF_INIT;
    int n = pub_filter_count(f);

    pub_filter_free(c->filter);
    c->filter = f;
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "streams");
    json_key(&b, "streams");
    json_array_begin(&b);
    if (!f) {
        json_item(&b);
        json_str(&b, "*");
    }
    for (int i = 0; i < n; i++) {
        json_item(&b);
        json_str(&b, pub_filter_name(f, i));
    }
    json_array_end(&b);
    json_end(&b);
    if (!b.failed)
        client_put(p, c, b.s, b.len, 0);       /* the filter applies either way */
    json_release(&b);
}

/* The bucket brought up to date: CMD_RATE tokens a second, CMD_BURST at most. */
static void tokens_refill(pub_client *c, long long now)
{
    if (now > c->tokens_ms) {
        c->tokens += (double)(now - c->tokens_ms) * CMD_RATE / 1000.0;
        c->tokens_ms = now;
    }
    if (c->tokens >= CMD_BURST) {
        c->tokens = CMD_BURST;
        c->warned = 0;
    }
}

/* 1: c may run one more command (a token taken); 0: ignore it. */
static int client_budget(pub_server *p, pub_client *c)
{
    char msg[120];

    tokens_refill(c, now_ms());
    if (c->tokens >= 1) {
        c->tokens -= 1;
        return 1;
    }
    if (!c->warned) {
        c->warned = 1;
        snprintf(msg, sizeof msg, "too many commands: %d at once, then %d a second; "
                 "the rest are ignored", CMD_BURST, CMD_RATE);
        client_error(p, c, msg, 0);
    }
    return 0;
}

/* Before reading more commands from c: 0 and c paused for a while if it
 * has no command left.  Not until a token is back: a client that sends
 * faster than its budget is still read (and ignored) at a bounded rate,
 * so it does not stall in its writes for a command it will be refused. */
static int client_may_read(pub_server *p, pub_client *c)
{
    long long now = now_ms();

    tokens_refill(c, now);
    if (c->tokens >= 1)
        return 1;
    if (!c->paused_until)
        p->npaused++;
    c->paused_until = now + CMD_PAUSE_MS;
    client_arm(p, c);
    timer_update(p);
    return 0;
}

/* Would a reply of about len bytes be dropped at c?  Then it is counted as
 * dropped without being built. */
static int client_full(pub_server *p, pub_client *c, size_t len)
{
    if (!c->dropping && pending(c) + len + 1 < c->limit)
        return 0;
    c->dropping = 1;
    c->ndropped++;
    p->st.dropped++;
    return 1;
}

static void client_command(pub_server *p, pub_client *c, const char *line, size_t len)
{
    static const char pong[] = "{\"event\":\"pong\"}";
    pub_cmd cmd;
    char *s;

    if (!client_budget(p, c))
        return;
    pub_cmd_parse(&cmd, line, len);
    switch (cmd.kind) {
    case PUB_CMD_NONE:
        break;
    case PUB_CMD_STREAMS:
        client_streams(p, c, cmd.filter);
        break;
    case PUB_CMD_PING:
        client_put(p, c, pong, sizeof pong - 1, 0);
        break;
    case PUB_CMD_HELP:
        client_put(p, c, pub_cmd_help, strlen(pub_cmd_help), 0);
        break;
    case PUB_CMD_STATUS:
        if (client_full(p, c, p->status_len))
            break;
        s = p->hooks.status ? p->hooks.status(p->hooks.arg) : NULL;
        if (s && !strchr(s, '\n')) {
            p->status_len = strlen(s);
            client_put(p, c, s, p->status_len, 0);   /* c may be gone if the hook broadcast */
        } else
            client_error(p, c, "status unavailable", 0);
        free(s);
        break;
    case PUB_CMD_ERROR:
        client_error(p, c, cmd.error, 0);
        break;
    }
}

static void client_too_long(pub_server *p, pub_client *c)
{
    char msg[80];

    snprintf(msg, sizeof msg, "command line longer than %d bytes; closing", PUB_CMD_MAX);
    if (client_error(p, c, msg, 1) == PUT_GONE)
        return;
    client_close_soon(p, c, now_ms() + LINGER);
}

/* Split s[0..n) into lines; a partial one waits in c->in for the rest. */
static void client_lines(pub_server *p, pub_client *c, const char *s, size_t n)
{
    const char *end = s + n;

    while (s < end && c->reading && !c->gone) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t seg = (size_t)((nl ? nl : end) - s);

        if (c->in_len + seg > PUB_CMD_MAX) {
            client_too_long(p, c);
            return;
        }
        if (c->in_len || !nl) {
            if (!c->in) {
                if (!(c->in = malloc(PUB_CMD_MAX))) {
                    pub_client_drop(p, c);
                    return;
                }
                p->st.buffered += PUB_CMD_MAX;
            }
            memcpy(c->in + c->in_len, s, seg);
            c->in_len += seg;
            if (!nl)
                return;
            client_command(p, c, c->in, c->in_len);
            if (c->gone)
                return;
            in_release(p, c);
        } else {
            client_command(p, c, s, seg);
        }
        s = nl + 1;
    }
}

static void client_read(pub_server *p, pub_client *c)
{
    ssize_t n;

    if (!client_may_read(p, c))
        return;

    do
        n = recv(c->fd, p->scratch, sizeof p->scratch, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            pub_client_drop(p, c);
        return;
    }
    if (n > 0) {
        client_lines(p, c, p->scratch, (size_t)n);
        return;
    }
    /* EOF while the peer can still read (shutdown(SHUT_WR), `nc -N`): it
     * has said all it will and keeps its subscription.  An unterminated last
     * command still counts. */
    if (c->in_len) {
        client_command(p, c, c->in, c->in_len);
        if (c->gone)
            return;
    }
    c->reading = 0;
    in_release(p, c);
    client_arm(p, c);
}

static void client_event(pub_server *p, pub_client *c, uint32_t ev)
{
    if (c->gone)
        return;
    /* HUP: both directions shut, the peer closed; nothing sent would arrive. */
    if (ev & (EPOLLERR | EPOLLHUP)) {
        pub_client_drop(p, c);
        return;
    }
    if ((ev & EPOLLOUT) && client_flush(p, c) < 0)
        return;
    if ((ev & EPOLLIN) && c->reading)
        client_read(p, c);
}

/* ------------------------------------------------------------ accepting */

static void client_add(pub_server *p, int fd)
{
    pub_client *c = calloc(1, sizeof *c);
    struct epoll_event ev = { .events = EPOLLIN };
    char *hello;

    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->reading = 1;
    c->limit = p->client_buffer;
    c->tokens = CMD_BURST;
    c->tokens_ms = now_ms();
    ev.data.ptr = c;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->armed = EPOLLIN;
    c->next = p->head;
    if (p->head)
        p->head->prev = c;
    p->head = c;
    p->st.clients++;

    hello = p->hooks.hello ? p->hooks.hello(p->hooks.arg) : NULL;
    if (hello && !strchr(hello, '\n'))
        client_put(p, c, hello, strlen(hello), 0);
    else
        client_put(p, c, hello_default, sizeof hello_default - 1, 0);
    free(hello);
}

static void accept_some(pub_server *p)
{
    for (int i = 0; i < ACCEPT_BATCH && p->listening; i++) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                listen_on(p, 0);
                p->accept_resume = now_ms() + ACCEPT_PAUSE_MS;
                timer_update(p);
            }
            return;                            /* EAGAIN: nobody else waiting */
        }
        if (p->st.clients >= p->max_clients) {
            /* Best effort: a fresh socket has room for one line. */
            ssize_t r = send(fd, too_many, sizeof too_many - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            close(fd);
            p->st.rejected++;
            continue;
        }
        client_add(p, fd);
    }
}

/* ------------------------------------------------------------ public */

int pub_new(pub_server **out, int listen_fd, size_t client_buffer, int max_clients,
            const pub_hooks *hooks, char *err, size_t errlen)
{
    pub_server *p = NULL;
    struct epoll_event ev = { .events = EPOLLIN };
    int ret = PUB_OK, flags;

    *out = NULL;
    if (client_buffer < PUB_BUFFER_MIN || max_clients < 1) {
        snprintf(err, errlen, "subscriber buffer %zu (at least %d) or limit %d (at least 1) too small",
                 client_buffer, PUB_BUFFER_MIN, max_clients);
        return PUB_EINVAL;
    }
    if ((ret = pub_check_fd(listen_fd, err, errlen)) < 0)
        return ret;
    if (!(p = calloc(1, sizeof *p))) {
        snprintf(err, errlen, "event socket: out of memory");
        return PUB_ENOMEM;
    }
    p->ep = p->timer_fd = -1;
    p->listen_fd = listen_fd;
    p->client_buffer = client_buffer;
    p->max_clients = max_clients;
    if (hooks)
        p->hooks = *hooks;
    /* A connection that goes away between epoll and accept() must not block us. */
    if ((flags = fcntl(listen_fd, F_GETFL)) < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "fcntl O_NONBLOCK on fd %d", listen_fd);
        goto end;
    }
    if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "epoll_create1");
        goto end;
    }
    if ((p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "timerfd_create");
        goto end;
    }
    ev.data.ptr = &p->tag_timer;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->timer_fd, &ev) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "epoll_ctl timerfd");
        goto end;
    }
    listen_on(p, 1);
    if (!p->listening) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "epoll_ctl fd %d", listen_fd);
        goto end;
    }
    *out = p;
    p = NULL;
end:
    pub_free(p);
    return ret;
}

void pub_free(pub_server *p)
{
    if (!p)
        return;
    enter(p);
    while (p->head)
        pub_client_drop(p, p->head);
    leave(p);
    if (p->listening)
        epoll_ctl(p->ep, EPOLL_CTL_DEL, p->listen_fd, NULL);
    if (p->timer_fd >= 0)
        close(p->timer_fd);
    if (p->ep >= 0)
        close(p->ep);
    free(p);
}

int pub_fd(const pub_server *p)
{
    return p->ep;
}

void pub_dispatch(pub_server *p)
{
    struct epoll_event ev[EVENT_BATCH];
    int n;

    enter(p);
    n = epoll_wait(p->ep, ev, EVENT_BATCH, 0);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == &p->tag_listen)
            accept_some(p);
        else if (ev[i].data.ptr == &p->tag_timer)
            timer_fire(p);
        else
            client_event(p, ev[i].data.ptr, ev[i].events);
    }
    leave(p);
}

int pub_broadcast(pub_server *p, const char *stream, const char *line, size_t len)
{
    pub_client *c, *next;
    int n = 0;

    if (memchr(line, '\n', len))
        return PUB_EINVAL;
    if (p->closed)
        return 0;
    enter(p);
    p->st.events++;
    for (c = p->head; c; c = next) {
        next = c->next;                        /* c may be dropped; only c */
        if (c->closing || !pub_filter_has(c->filter, stream))
            continue;
        if (client_put(p, c, line, len, 0) == PUT_OK) {
            p->st.lines++;
            n++;
        }
    }
    leave(p);
    return n;
}

int pub_wanted(const pub_server *p, const char *stream)
{
    for (const pub_client *c = p->head; c; c = c->next)
        if (!c->closing && pub_filter_has(c->filter, stream))
            return 1;
    return 0;
}

void pub_goodbye(pub_server *p, const char *line, int ms)
{
    struct epoll_event ev[EVENT_BATCH];
    long long deadline = now_ms() + (ms > 0 ? ms : 0);
    pub_client *c, *next;
    size_t len = line ? strlen(line) : 0;

    if (p->closed)
        return;
    enter(p);
    p->closed = 1;
    listen_on(p, 0);
    p->accept_resume = 0;
    if (line && memchr(line, '\n', len))
        line = NULL;
    for (c = p->head; c; c = next) {
        next = c->next;
        if (line && client_put(p, c, line, len, 1) == PUT_GONE)
            continue;
        client_close_soon(p, c, deadline);     /* drops it at once when flushed */
    }
    for (long long left; p->head && (left = deadline - now_ms()) > 0;) {
        int n = epoll_wait(p->ep, ev, EVENT_BATCH, (int)(left > 1000 ? 1000 : left));
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &p->tag_timer) {
                uint64_t ticks;
                if (read(p->timer_fd, &ticks, sizeof ticks) < 0)
                    continue;                  /* the loop's own deadline rules here */
            } else if (ev[i].data.ptr != &p->tag_listen) {
                client_event(p, ev[i].data.ptr, ev[i].events);
            }
        }
    }
    while (p->head)
        pub_client_drop(p, p->head);
    timer_update(p);
    leave(p);
}

int pub_set_limits(pub_server *p, size_t client_buffer, int max_clients)
{
    if (client_buffer < PUB_BUFFER_MIN || max_clients < 1)
        return PUB_EINVAL;
    p->client_buffer = client_buffer;
    p->max_clients = max_clients;
    return PUB_OK;
}

void pub_get_stats(const pub_server *p, pub_stats *s)
{
    *s = p->st;
}

