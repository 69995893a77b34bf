/* lcnetd.h: the running daemon's state.  main.c owns it: it starts and
 * stops the streams, runs the event loop and reloads; report.c reads it to
 * tell the sinks what runs (report.h). */
#ifndef LCNETD_LCNETD_H
#define LCNETD_LCNETD_H

#include <stdint.h>

#include "config/config.h"
#include "daemon/evq.h"
#include "daemon/sched.h"
#include "daemon/sink.h"
#include "daemon/stream.h"

#define LCNETD_VERSION "0.1"

typedef struct {
    lc_stream *s;
    uint64_t decoded, classified;   /* at the last stats tick, for its rates */
} stream_ref;

typedef struct {
    const char *config_path;
    cfg *c;
    sch *sched;
    evq *q;
    snk_set *sinks;             /* the outputs: the event socket, MQTT, metrics */
    sch_model_info mi;          /* the running model's, for the sinks' env */
    int listen_fd, own_socket;
    stream_ref *st;
    int nst;
    int epfd, timerfd;
    int64_t last_stats_us, last_status_us, last_dog_us;
    uint64_t dog_us;
    uint64_t last_classified;
    double fps;
    cfg_cpus start_cpus;        /* the process's CPUs, before the loop is pinned */
    cfg_cpus loop_cpus;         /* the loop's; count 0 = not pinned */
    sch *pending;               /* a reload's new model, still loading */
    cfg *pending_cfg;           /* the configuration that goes with it */
    int reload_again;           /* SIGHUP while a reload was pending */
    long nofile;                /* the descriptor limit, raised at start */
    int fd_base;                /* descriptors the daemon holds before streams and subscribers */
} daemon_t;

#endif
