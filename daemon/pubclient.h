/* pubclient.h: the event socket server's insides, shared by its two
 * halves and by nothing else: publish.c (the server: subscribers' lifetime,
 * their output, accepting, broadcasting) and pubinput.c (what a subscriber
 * sends: reading it, its command budget, the answers).  See publish.h for
 * what the rest of the daemon sees. */
#ifndef LCNETD_PUBCLIENT_H
#define LCNETD_PUBCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/publish.h"

enum { READ_CHUNK = 4096 };   /* bytes read from one subscriber per event: no one starves the rest */

/* pub_client_put: queued, dropped (c's buffer is full), or c is gone. */
enum { PUT_OK = 0, PUT_DROPPED = 1, PUT_GONE = -1 };

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
    double tokens;            /* commands it may send now (pubinput.c) */
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

static inline size_t pub_pending(const pub_client *c)
{
    return c->len - c->off;
}

/* publish.c */
long long pub_now_ms(void);                 /* CLOCK_MONOTONIC */
/* Gone at once: nothing more is sent, read or kept. */
void pub_client_drop(pub_server *p, pub_client *c);
/* Register what c waits for: input while it is read, output while queued.
 * -1: c was dropped. */
int pub_client_arm(pub_server *p, pub_client *c);
/* The timerfd set for the next deadline: a closing subscriber's, a paused
 * one's, the end of a pause in accepting. */
void pub_timer_update(pub_server *p);
/* Queue a line under c's limit: PUT_*.  `last`: the final line before
 * closing, which may go past the limit (once; nothing follows it). */
int pub_client_put(pub_server *p, pub_client *c, const char *line, size_t len, int last);
/* Stop reading; close once the queue is flushed or at deadline (ms). */
void pub_client_close_soon(pub_server *p, pub_client *c, long long deadline);

/* pubinput.c */
/* A new subscriber: a full command budget. */
void pub_input_start(pub_client *c);
/* c's partial command line freed: it is read no more. */
void pub_input_release(pub_server *p, pub_client *c);
/* c is readable: read a chunk and run the commands in it. */
void pub_client_read(pub_server *p, pub_client *c);

#endif
