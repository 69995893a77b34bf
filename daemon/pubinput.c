/* pubinput.c: what event subscribers send: reading it, splitting it into
 * command lines, the command budget, and the answers.  See publish.h for
 * the commands' contract, pubcmd.h for their grammar.
 *
 * The budget.  Each subscriber has a token bucket: CMD_BURST commands at
 * once, CMD_RATE a second after that.  Past it, the rest of what was read
 * is ignored (the first ignored command in a run is answered with one
 * error) and the socket is not read again until the next token is due, so
 * a client that floods commands is read one READ_CHUNK per token (at most
 * CMD_RATE * READ_CHUNK bytes a second, scanned for newlines and mostly
 * thrown away) instead of taking a core, and is never stalled for good.  A
 * `status` reply is not even built for a subscriber whose buffer could not
 * take it: it counts as a dropped line, like an event would.
 *
 * A command line past PUB_CMD_MAX bytes gets an error, then the subscriber
 * is closed once that is read, within LINGER_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/json.h"
#include "daemon/pubclient.h"

enum {
    LINGER_MS = 5000,         /* a subscriber being closed gets this long to read its last lines */
    CMD_BURST = 32,           /* commands a subscriber may send at once, */
    CMD_RATE = 16,            /* and per second after that */
};

#ifdef LCNETD_TESTING
int pub_test_linger_ms = LINGER_MS;
#define LINGER pub_test_linger_ms
#else
#define LINGER LINGER_MS
#endif

void pub_input_start(pub_client *c)
{
    c->tokens = CMD_BURST;
    c->tokens_ms = pub_now_ms();
}

void pub_input_release(pub_server *p, pub_client *c)
{
    if (c->in)
        p->st.buffered -= PUB_CMD_MAX;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
}

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
        ret = pub_client_put(p, c, oom, sizeof oom - 1, last);
    else
        ret = pub_client_put(p, c, b.s, b.len, last);
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
        pub_client_put(p, c, b.s, b.len, 0);       /* the filter applies either way */
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

    tokens_refill(c, pub_now_ms());
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

/* Before reading more from c: 1 if it has a command left; else 0, and c
 * is not read until its next token is due. */
static int client_may_read(pub_server *p, pub_client *c)
{
    long long now = pub_now_ms();

    tokens_refill(c, now);
    if (c->tokens >= 1)
        return 1;
    if (!c->paused_until)
        p->npaused++;
    /* when the next token is due; + 1: rounded down, it would be early */
    c->paused_until = now + (long long)((1 - c->tokens) * 1000 / CMD_RATE) + 1;
    pub_client_arm(p, c);
    pub_timer_update(p);
    return 0;
}

/* Would a reply of about len bytes be dropped at c?  Then it is counted as
 * dropped without being built. */
static int client_full(pub_server *p, pub_client *c, size_t len)
{
    if (!c->dropping && pub_pending(c) + len + 1 < c->limit)
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
        pub_client_put(p, c, pong, sizeof pong - 1, 0);
        break;
    case PUB_CMD_HELP:
        pub_client_put(p, c, pub_cmd_help, strlen(pub_cmd_help), 0);
        break;
    case PUB_CMD_STATUS:
        if (client_full(p, c, p->status_len))
            break;
        s = p->hooks.status ? p->hooks.status(p->hooks.arg) : NULL;
        if (s && !strchr(s, '\n')) {
            p->status_len = strlen(s);
            pub_client_put(p, c, s, p->status_len, 0);   /* c may be gone if the hook broadcast */
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
    pub_client_close_soon(p, c, pub_now_ms() + LINGER);
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
            pub_input_release(p, c);
        } else {
            client_command(p, c, s, seg);
        }
        s = nl + 1;
    }
}

void pub_client_read(pub_server *p, pub_client *c)
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
    pub_input_release(p, c);
    pub_client_arm(p, c);
}
