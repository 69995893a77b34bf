/* publish.c: the event socket server.  See publish.h.
 * What subscribers send is read and answered in pubinput.c; pubclient.h
 * holds what the two share.
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
 * A subscriber being closed (it sent a line past PUB_CMD_MAX: pubinput.c)
 * has a deadline to take its last lines, enforced by the timerfd, so one
 * that never reads cannot hold its slot for ever; so has one being read no
 * more for a while, out of commands.  The timer also ends the pause
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

#include "daemon/pubclient.h"
#include "daemon/util.h"

enum {
    ACCEPT_BATCH = 32,        /* connections accepted per dispatch */
    EVENT_BATCH = 64,         /* epoll events handled per dispatch */
    OUT_FIRST = 4096,         /* first output buffer; doubles up to the limit */
    ACCEPT_PAUSE_MS = 250,    /* accept() ran out of fds or memory: try again after */
};

static const char hello_default[] = "{\"event\":\"hello\"}";
static const char too_many[] = "{\"event\":\"error\",\"message\":\"too many subscribers\"}\n";

long long pub_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Gone at once: nothing more is sent, read or kept. */
void pub_client_drop(pub_server *p, pub_client *c)
{
    if (c->gone)
        return;
    epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    out_release(p, c);
    pub_input_release(p, c);
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
int pub_client_arm(pub_server *p, pub_client *c)
{
    uint32_t want = (c->reading && !c->paused_until ? EPOLLIN : 0) | (pub_pending(c) ? EPOLLOUT : 0);
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

void pub_timer_update(pub_server *p)
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
    long long now = pub_now_ms();
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
            pub_client_arm(p, c);
        }
    }
    pub_timer_update(p);
}

/* ------------------------------------------------------------ output */

/* Room for n more bytes at the end of the queue: compact, or grow. */
static int out_reserve(pub_server *p, pub_client *c, size_t n)
{
    size_t keep = pub_pending(c), cap;
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

    if (!pub_pending(c)) {
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
    return pub_client_arm(p, c);
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
int pub_client_put(pub_server *p, pub_client *c, const char *line, size_t len, int last)
{
    size_t queued;

    if (c->gone)
        return PUT_GONE;
    if (c->dropping && (last || pub_pending(c) < c->limit / 2) && client_notice(p, c) < 0)
        return PUT_GONE;
    queued = pub_pending(c);
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
    while (pub_pending(c)) {
        ssize_t n = send(c->fd, c->out + c->off, pub_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
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
    if (!pub_pending(c))
        out_release(p, c);
    if (c->dropping && !c->closing && pub_pending(c) < c->limit / 2 && client_notice(p, c) < 0)
        return -1;
    if (c->closing && !pub_pending(c)) {
        pub_client_drop(p, c);
        return -1;
    }
    return pub_client_arm(p, c);
}

/* Stop reading; close once the queue is flushed or LINGER_MS passed. */
void pub_client_close_soon(pub_server *p, pub_client *c, long long deadline)
{
    c->reading = 0;
    pub_input_release(p, c);
    if (!c->closing) {
        c->closing = 1;
        c->deadline = deadline;
        p->nclosing++;
    }
    client_flush(p, c);
    if (!c->gone)
        pub_timer_update(p);
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
        pub_client_read(p, c);
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
    pub_input_start(c);
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
        pub_client_put(p, c, hello, strlen(hello), 0);
    else
        pub_client_put(p, c, hello_default, sizeof hello_default - 1, 0);
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
                p->accept_resume = pub_now_ms() + ACCEPT_PAUSE_MS;
                pub_timer_update(p);
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
        if (pub_client_put(p, c, line, len, 0) == PUT_OK) {
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
    long long deadline = pub_now_ms() + (ms > 0 ? ms : 0);
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
        if (line && pub_client_put(p, c, line, len, 1) == PUT_GONE)
            continue;
        pub_client_close_soon(p, c, deadline);     /* drops it at once when flushed */
    }
    for (long long left; p->head && (left = deadline - pub_now_ms()) > 0;) {
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
    pub_timer_update(p);
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

