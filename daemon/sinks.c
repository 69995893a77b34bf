/* sinks.c: the table of sinks, and the set of those the configuration
 * turns on.  See sink.h.
 *
 * The set keeps one epoll fd for the sinks' own fds, so main's loop polls
 * one fd however many sinks there are, and a reload that turns MQTT on or
 * off changes nothing in main's epoll set.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/sink.h"
#include "daemon/util.h"

/* Events reach the sinks in this order: the socket first, as it was alone. */
static const snk_ops *const table[] = {
    &snk_socket_ops,
    &snk_mqtt_ops,
    &snk_metrics_ops,
};
enum { NSINKS = sizeof table / sizeof table[0] };

struct snk_set {
    int ep;
    void *self[NSINKS];         /* NULL: off */
    int fd[NSINKS];             /* registered with ep; -1: none */
};

static void watch(snk_set *s, int i)
{
    s->fd[i] = -1;
    if (!table[i]->fd)
        return;
    int fd = table[i]->fd(s->self[i]);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    if (fd < 0)
        return;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        lc_log(LOG_ERR, "%s: epoll_ctl: %s", table[i]->name, strerror(errno));
        return;
    }
    s->fd[i] = fd;
}

static void unwatch(snk_set *s, int i)
{
    if (s->fd[i] >= 0)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, s->fd[i], NULL);
    s->fd[i] = -1;
}

/* Open (or reload) sink i.  Threads a sink starts (MQTT's, the HTTP
 * server's) take the caller's signal mask: blocked, so the signals reach
 * main's handler only. */
static int start_one(snk_set *s, int i, int reload, const cfg *c, const snk_env *env, char *err,
                     size_t errlen)
{
    sigset_t old;
    pthread_sigmask(SIG_SETMASK, NULL, &old);
    lc_block_signals();
    int r = reload ? table[i]->reload(s->self[i], c, env, err, errlen)
                   : table[i]->open(&s->self[i], c, env, err, errlen);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

static int open_one(snk_set *s, int i, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    int r = start_one(s, i, 0, c, env, err, errlen);
    if (r == 0)
        watch(s, i);
    return r;
}

static void close_one(snk_set *s, int i)
{
    if (!s->self[i])
        return;
    unwatch(s, i);
    table[i]->close(s->self[i]);
    s->self[i] = NULL;
}

int snk_set_open(snk_set **out, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    snk_set *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "sinks: out of memory");
        return -1;
    }
    for (int i = 0; i < NSINKS; i++)
        s->fd[i] = -1;
    if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, errlen, "sinks: epoll_create1: %s", strerror(errno));
        free(s);
        return -1;
    }
    for (int i = 0; i < NSINKS; i++) {
        if (!table[i]->wanted(c))
            continue;
        if (open_one(s, i, c, env, err, errlen) < 0) {
            snk_set_close(s);
            return -1;
        }
    }
    *out = s;
    return 0;
}

int snk_set_fd(const snk_set *s)
{
    return s->ep;
}

void snk_set_dispatch(snk_set *s)
{
    struct epoll_event ev[NSINKS];
    int n = epoll_wait(s->ep, ev, NSINKS, 0);
    for (int k = 0; k < n; k++) {
        uint32_t i = ev[k].data.u32;
        if (i < NSINKS && s->self[i] && table[i]->dispatch)
            table[i]->dispatch(s->self[i]);
    }
}

void snk_set_event(snk_set *s, const snk_event *e)
{
    for (int i = 0; i < NSINKS; i++)
        if (s->self[i])
            table[i]->event(s->self[i], e);
}

void snk_set_sample(snk_set *s, const snk_event *e)
{
    for (int i = 0; i < NSINKS; i++)
        if (s->self[i] && table[i]->sample)
            table[i]->sample(s->self[i], e);
}

void snk_set_reload(snk_set *s, const cfg *c, const snk_env *env)
{
    char err[1024];
    for (int i = 0; i < NSINKS; i++) {
        int want = table[i]->wanted(c);
        if (!want) {
            if (s->self[i])
                lc_log(LOG_INFO, "reload: %s off", table[i]->name);
            close_one(s, i);
            continue;
        }
        if (!s->self[i]) {
            if (open_one(s, i, c, env, err, sizeof err) < 0)
                lc_log(LOG_ERR, "reload: %s: %s", table[i]->name, err);
            continue;
        }
        if (start_one(s, i, 1, c, env, err, sizeof err) < 0) {
            lc_log(LOG_ERR, "reload: %s: %s; it goes on as it was", table[i]->name, err);
            continue;
        }
        /* a reload may have replaced what the sink polls */
        if (table[i]->fd && table[i]->fd(s->self[i]) != s->fd[i]) {
            unwatch(s, i);
            watch(s, i);
        }
    }
}

void snk_set_counters(snk_set *s, const char *name, snk_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NSINKS; i++)
        if (s->self[i] && table[i]->counters && strcmp(table[i]->name, name) == 0)
            table[i]->counters(s->self[i], out);
}

void snk_set_status(snk_set *s, json_buf *b)
{
    for (int i = 0; i < NSINKS; i++)
        if (s->self[i] && table[i]->status)
            table[i]->status(s->self[i], b);
}

void snk_set_close(snk_set *s)
{
    if (!s)
        return;
    for (int i = 0; i < NSINKS; i++)
        close_one(s, i);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
}

int snk_set_check(const cfg *c, const char *path, char *err, size_t errlen)
{
    for (int i = 0; i < NSINKS; i++)
        if (table[i]->check && table[i]->wanted(c) && table[i]->check(c, path, err, errlen) < 0)
            return -1;
    return 0;
}
