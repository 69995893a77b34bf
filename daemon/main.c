/* lcnetd: classify video streams with PP-LCNet, publish labels on a socket.
 *
 * main owns the event loop, the configuration and the sockets; each stream
 * has an ingest thread, the inference thread owns the engine (the daemon headers say
 * how they meet).  Signals reach main's loop through a self-pipe (signals.h):
 *   SIGTERM, SIGINT  stop ingest, finish the frames in flight, tell
 *                    subscribers, exit 0
 *   SIGHUP           re-read the config; unchanged streams keep running
 *
 * Exit codes (sysexits): 0 clean stop, 64 usage, 65 the model cannot be
 * used, 71 a system call failed, 77 started as root without allow_root, 78
 * config.  --check-config: 0 it can start, 78 it cannot (or is invalid),
 * 67 --user names no user, 77 --user without root, 71 the check failed. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sysexits.h>
#include <unistd.h>

#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>

#include "config/config.h"
#include "daemon/check.h"
#include "daemon/evq.h"
#include "daemon/fdlimit.h"
#include "daemon/ingest.h"
#include "daemon/lcnetd.h"
#include "daemon/log.h"
#include "daemon/publish.h"
#include "daemon/redact.h"
#include "daemon/report.h"
#include "daemon/sched.h"
#include "daemon/signals.h"
#include "daemon/sink.h"
#include "daemon/svc.h"
#include "daemon/util.h"

#define DEFAULT_CONFIG "/etc/lcnetd/lcnetd.ini"

/* ---------------------------------------------------------- streams */

static int stream_up(daemon_t *d, const cfg_stream *c, char *err, size_t errlen)
{
    sch_model_info mi;
    lc_stream *s;
    sch_model(d->sched, &mi);
    if (lc_stream_new(&s, c, mi.width, mi.height, mi.order, mi.mode, d->c->daemon.queue_frames,
                      err, errlen) < 0)
        return -1;
    s->sched = d->sched;
    s->q = d->q;
    /* unpinned streams get every CPU back: they would inherit the loop's */
    s->cpus = d->c->daemon.decode_cpus.count ? d->c->daemon.decode_cpus : d->start_cpus;
    stream_ref *v = realloc(d->st, sizeof(*v) * (size_t)(d->nst + 1));
    if (!v) {
        lc_stream_free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->st = v;
    if (sch_add(d->sched, s) < 0) {
        lc_stream_free(s);
        snprintf(err, errlen, "stream %s: more than %d streams", c->name, CFG_STREAMS_MAX);
        return -1;
    }
    if (ing_start(s, err, errlen) < 0) {
        sch_remove(d->sched, s);
        lc_stream_free(s);
        return -1;
    }
    d->st[d->nst++] = (stream_ref){ .s = s };
    return 0;
}

/* The event loop (publishing included) keeps off the inference CPUs where
 * there are others.  Woken on a CPU that is running an inference, it waited
 * for that to end before it could hand the labels on: up to one inference
 * time (1.5 ms and more) on an event's way to subscribers (publish hop p99
 * at 6 streams 1.45 ms before, 1.0-1.1 after).  Elsewhere it preempts
 * decoders, which run at a lower priority. */
static void pin_loop(daemon_t *d)
{
    cpu_set_t loop;
    char list[256];
    CPU_ZERO(&loop);
    if (sched_getaffinity(0, sizeof d->start_cpus.set, &d->start_cpus.set) < 0)
        return;
    d->start_cpus.count = CPU_COUNT(&d->start_cpus.set);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &d->start_cpus.set) && !CPU_ISSET(i, &d->c->daemon.inference_cpus.set))
            CPU_SET(i, &loop);
    if (CPU_COUNT(&loop) == 0)
        return;
    int e = pthread_setaffinity_np(pthread_self(), sizeof loop, &loop);
    if (e) {
        lc_log(LOG_WARNING, "event loop unpinned: %s", strerror(e));
        return;
    }
    d->loop_cpus = (cfg_cpus){ loop, CPU_COUNT(&loop) };
    cfg_cpus_format(&d->loop_cpus, list, sizeof list);
    lc_log(LOG_DEBUG, "event loop on CPUs %s", list);
}

/* The configuration checks CPU lists against the calling thread's CPUs:
 * reading it on the loop's narrower set would refuse inference_cpus. */
static int load_config_wide(daemon_t *d, cfg **out, char *err, size_t errlen)
{
    if (d->loop_cpus.count)
        pthread_setaffinity_np(pthread_self(), sizeof d->start_cpus.set, &d->start_cpus.set);
    int ret = cfg_load_file(out, d->config_path, err, errlen);
    if (d->loop_cpus.count)
        pthread_setaffinity_np(pthread_self(), sizeof d->loop_cpus.set, &d->loop_cpus.set);
    return ret;
}

/* Stop streams [from, to) of d->st: all threads asked first, then joined,
 * so a reconnect storm of many streams ends in one round. */
static void streams_down(daemon_t *d, int *which, int n)
{
    for (int i = 0; i < n; i++)
        ing_request_stop(d->st[which[i]].s);
    for (int i = 0; i < n; i++) {
        lc_stream *s = d->st[which[i]].s;
        ing_join(s);
        sch_remove(d->sched, s);
    }
}

static void streams_forget(daemon_t *d, int *which, int n)
{
    for (int i = 0; i < n; i++) {
        lc_stream_free(d->st[which[i]].s);
        d->st[which[i]].s = NULL;
    }
    int k = 0;
    for (int i = 0; i < d->nst; i++)
        if (d->st[i].s)
            d->st[k++] = d->st[i];
    d->nst = k;
}

static void streams_stop_all(daemon_t *d)
{
    int *all = malloc(sizeof(int) * (size_t)(d->nst + 1));
    if (!all)
        return;
    for (int i = 0; i < d->nst; i++)
        all[i] = i;
    streams_down(d, all, d->nst);
    streams_forget(d, all, d->nst);
    free(all);
}

/* ------------------------------------------------------------- sinks */

static void to_sinks(void *arg, const snk_event *e)
{
    daemon_t *d = arg;
    snk_set_event(d->sinks, e);
}

/* max_subscribers, or fewer if the descriptor limit would leave too few
 * for the streams and a model load otherwise. */
static int subscriber_cap(daemon_t *d)
{
    int n = 0, want = d->c->daemon.max_subscribers;
    for (int i = 0; i < d->c->nstreams; i++)
        n += d->c->streams[i].enabled;
    int room = lc_fd_subscriber_room(d->nofile, d->fd_base, n, want);
    if (room < want)
        lc_log(LOG_WARNING, "max_subscribers %d lowered to %d: the descriptor limit is %ld, the "
               "daemon holds %d and keeps %d for %d streams and %d for loading a model "
               "(raise LimitNOFILE=)", want, room, d->nofile, d->fd_base, n * LC_FD_PER_STREAM, n,
               LC_FD_LOADER);
    return room;
}

/* ------------------------------------------------------------- ticks */

/* WATCHDOG=1 only while the threads make progress: a wedged inference or
 * ingest thread must let systemd's watchdog fire. */
static int healthy(daemon_t *d, int64_t now)
{
    int64_t limit = (int64_t)(d->dog_us / 2) > 5000000 ? (int64_t)(d->dog_us / 2) : 5000000;
    if (now - sch_heartbeat(d->sched) > limit)
        return 0;
    for (int i = 0; i < d->nst; i++) {
        lc_stream *s = d->st[i].s;
        if (lc_stream_state(s) != LC_STREAM_ENDED &&
            now - __atomic_load_n(&s->heartbeat_us, __ATOMIC_RELAXED) > limit)
            return 0;
    }
    return 1;
}

static void reload_poll(daemon_t *d);

static void tick(daemon_t *d)
{
    int64_t now = lc_mono_us();
    reload_poll(d);
    if (d->dog_us && now - d->last_dog_us >= (int64_t)d->dog_us / 2) {
        if (healthy(d, now)) {
            svc_watchdog();
            d->last_dog_us = now;
        }
    }
    if (now - d->last_status_us >= 2000000) {
        uint64_t c = sch_classified(d->sched);
        double secs = (double)(now - d->last_status_us) / 1e6;
        int up = 0;
        snk_counters sc;
        d->fps = d->last_status_us ? (double)(c - d->last_classified) / secs : 0;
        d->last_classified = c;
        d->last_status_us = now;
        for (int i = 0; i < d->nst; i++)
            up += lc_stream_state(d->st[i].s) == LC_STREAM_UP;
        snk_set_counters(d->sinks, "socket", &sc);
        svc_status("streams up %d/%d, classified %.1f fps, %d subscribers", up, d->nst, d->fps,
                   sc.clients);
    }
    if (now - d->last_stats_us >= (int64_t)d->c->daemon.stats_interval * 1000000) {
        rpt_stats(d, (double)(now - d->last_stats_us) / 1e6);
        d->last_stats_us = now;
    }
}

/* The passwords of a's streams and of b's (may be NULL) become the ones the
 * log callback blanks: during a reload both sets run at once. */
static void known_secrets(const cfg *a, const cfg *b)
{
    int n = (a ? a->nstreams : 0) + (b ? b->nstreams : 0), k = 0;
    const char **urls = calloc((size_t)n + 1, sizeof *urls);
    const char **pws = calloc((size_t)n + 1, sizeof *pws);
    if (!urls || !pws) {
        lc_log(LOG_ERR, "out of memory for the password list; the old one stays");
        goto end;
    }
    for (int i = 0; a && i < a->nstreams; i++, k++) {
        urls[k] = a->streams[i].url;
        pws[k] = a->streams[i].password;
    }
    for (int i = 0; b && i < b->nstreams; i++, k++) {
        urls[k] = b->streams[i].url;
        pws[k] = b->streams[i].password;
    }
    if (rdx_known_set(urls, pws, k) < 0)
        lc_log(LOG_ERR, "out of memory for the password list; the old one stays");
end:
    free(urls);
    free(pws);
}

/* An idle daemon is healthy (the watchdog is fed while the inference
 * thread loops), but an operator looking at the journal should learn why
 * nothing is classified. */
static void say_if_idle(const daemon_t *d)
{
    if (d->nst)
        return;
    if (d->c->nstreams == 0)
        lc_log(LOG_NOTICE, "no stream is configured: lcnetd idles until a [stream:NAME] section "
               "is added to %s and the configuration reloaded (systemctl reload lcnetd)",
               d->config_path);
    else
        lc_log(LOG_NOTICE, "no stream is enabled (%d configured, each with enabled = no): lcnetd "
               "idles until one is enabled in %s and the configuration reloaded", d->c->nstreams,
               d->config_path);
}

/* ------------------------------------------------------------ reload */

/* A reload whose new model is still loading on its own thread: the loop
 * goes on serving subscribers and signals meanwhile (a model on a slow or
 * hung file system must not stop it), and tick() finishes the reload once
 * the load ends. */
static void reload_finish(daemon_t *d, cfg *n, sch *fresh);

/* A reload that cannot go on, after its message: the new configuration and
 * its model (NULL: none) go, the running ones stay. */
static void reload_drop(daemon_t *d, cfg *n, sch *fresh)
{
    sch_stop(fresh);
    cfg_free(n);
    known_secrets(d->c, NULL);
    svc_ready();
}

static void reload(daemon_t *d)
{
    cfg *n = NULL;
    char err[2048], keys[256] = "";
    if (d->pending) {
        /* one reload at a time; the file is read again once this one ends */
        d->reload_again = 1;
        return;
    }
    svc_reloading();
    if (load_config_wide(d, &n, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "reload rejected, the running configuration stays: %s", err);
        svc_ready();
        return;
    }
    /* restart-only daemon keys keep their running values, but for the batch
     * size when the model changes: a new engine is prepared for the batch
     * size the scheduler will then use, both the new config's */
    cfg_daemon was = d->c->daemon;
    int model_changed = !cfg_model_equal(&d->c->model, &n->model);
    if (model_changed)
        was.max_batch = n->daemon.max_batch;
    if (cfg_daemon_diff(&was, &n->daemon, keys, sizeof keys) & CFG_DIFF_RESTART)
        lc_log(LOG_WARNING, "reload: %s changed; that takes a restart, the old values stay", keys);
    known_secrets(d->c, n);
    if (!model_changed) {
        reload_finish(d, n, NULL);
        return;
    }
    sch *fresh = NULL;
    /* the new model's thread runs with the restart-only values that stay */
    n->daemon.inference_cpus = d->c->daemon.inference_cpus;
    if (sch_spawn(&fresh, n, d->q, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "reload rejected: model: %s; the running model and streams stay", err);
        reload_drop(d, n, NULL);
        return;
    }
    lc_log(LOG_INFO, "reload: loading %s", n->model.path);
    d->pending = fresh;
    d->pending_cfg = n;
}

/* From tick(): has the pending reload's model loaded? */
static void reload_poll(daemon_t *d)
{
    char err[2048];
    if (!d->pending)
        return;
    int r = sch_loaded(d->pending, err, sizeof err);
    if (r == 0)
        return;
    sch *fresh = d->pending;
    cfg *n = d->pending_cfg;
    d->pending = NULL;
    d->pending_cfg = NULL;
    if (r < 0) {
        lc_log(LOG_ERR, "reload rejected: model: %s; the running model and streams stay", err);
        reload_drop(d, n, fresh);
    } else {
        reload_finish(d, n, fresh);
    }
    if (d->reload_again) {
        d->reload_again = 0;
        reload(d);
    }
}

static void reload_finish(daemon_t *d, cfg *n, sch *fresh)
{
    char err[2048];
    /* restart-only daemon keys keep their running values, but a new model's
     * batch size is the new config's (see reload) */
    cfg_daemon keep = d->c->daemon;
    int model_changed = fresh != NULL;
    if (model_changed)
        keep.max_batch = n->daemon.max_batch;
    /* which running streams go: removed, changed, or all when the model changed */
    int *go = malloc(sizeof(int) * (size_t)(d->nst + 1)), ngo = 0;
    if (!go) {
        lc_log(LOG_ERR, "reload rejected: out of memory; the running configuration stays "
               "(reload again: systemctl reload lcnetd)");
        reload_drop(d, n, fresh);
        return;
    }
    for (int i = 0; i < d->nst; i++) {
        const cfg_stream *now = cfg_find_stream(n, d->st[i].s->cfg.name);
        if (model_changed || !now || !now->enabled || !cfg_stream_equal(now, &d->st[i].s->cfg))
            go[ngo++] = i;
    }
    streams_down(d, go, ngo);
    for (int i = 0; i < ngo; i++) {
        snk_event e = { .kind = SNK_STATE, .stream = d->st[go[i]].s->cfg.name,
                        .time_us = lc_wall_us() };
        e.state.state = "stopped";
        e.state.reason = "configuration reloaded";
        e.state.retry_s = -1;
        snk_set_event(d->sinks, &e);
    }
    streams_forget(d, go, ngo);
    free(go);
    if (fresh) {
        sch_stop(d->sched);
        d->sched = fresh;
    }
    /* the new config, with the daemon keys that need a restart as they were */
    char *t = n->daemon.socket;
    n->daemon.socket = d->c->daemon.socket;
    d->c->daemon.socket = t;
    n->daemon.socket_mode = keep.socket_mode;
    n->daemon.inference_cpus = keep.inference_cpus;
    n->daemon.decode_cpus = keep.decode_cpus;
    n->daemon.allow_root = keep.allow_root;
    n->daemon.max_batch = keep.max_batch;
    n->daemon.queue_frames = keep.queue_frames;
    cfg *old = d->c;
    d->c = n;
    cfg_free(old);
    known_secrets(d->c, NULL);
    lc_log_set_level(d->c->daemon.log_level);
    sch_configure(d->sched, d->c);
    snk_env env;
    rpt_env(d, &env, subscriber_cap(d));
    snk_set_reload(d->sinks, d->c, &env);
    for (int i = 0; i < d->c->nstreams; i++) {
        const cfg_stream *c = &d->c->streams[i];
        int running = 0;
        for (int k = 0; k < d->nst; k++)
            running |= strcmp(d->st[k].s->cfg.name, c->name) == 0;
        if (!c->enabled || running)
            continue;
        if (stream_up(d, c, err, sizeof err) < 0)
            lc_log(LOG_ERR, "reload: stream %s: %s", c->name, err);
    }
    lc_log(LOG_INFO, "reloaded %s: %d streams", d->config_path, d->nst);
    say_if_idle(d);
    /* the sinks hear of the new stream set now, not on the next timer: a
     * scrape right after READY=1 finds every stream's series */
    rpt_sample(d);
    svc_ready();
}

/* ------------------------------------------------------------ set-up */

static int setup_socket(daemon_t *d, char *err, size_t errlen)
{
    int fd = svc_listen_fd(err, errlen);
    if (fd < -1)
        return -1;
    if (fd >= 0) {
        d->listen_fd = fd;
        lc_log(LOG_INFO, "event socket from systemd");
        return 0;
    }
    if (pub_listen(d->c->daemon.socket, d->c->daemon.socket_mode, &d->listen_fd, err, errlen) < 0)
        return -1;
    d->own_socket = 1;
    lc_log(LOG_INFO, "event socket %s (mode %04o)", d->c->daemon.socket, d->c->daemon.socket_mode);
    return 0;
}

static int epoll_add(int ep, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_SIGNAL = 1, TAG_SINKS, TAG_EVQ, TAG_TIMER };

static void usage(FILE *f)
{
    fprintf(f, "usage: lcnetd [-c FILE]           run (default " DEFAULT_CONFIG ")\n"
               "       lcnetd --check-config FILE [--user USER]\n"
               "                                  check that lcnetd can start with FILE\n"
               "                                  (files as USER; as root: " CHK_UNIT_USER ")\n"
               "       lcnetd --version\n");
}

/* --check-config: only here does a result become an exit status. */
static int check_config(const char *path, const char *user)
{
    char err[1024];
    int ret = chk_run(path, user, stdout, err, sizeof err);
    if (ret < 0 && ret != CHK_FAILED)
        lc_log(LOG_ERR, "--check-config: %s", err);
    switch (ret) {
    case CHK_OK: return 0;
    case CHK_ENOUSER: return EX_NOUSER;
    case CHK_EPERM: return EX_NOPERM;
    case CHK_ESYS: return EX_OSERR;
    default: return EX_CONFIG;
    }
}

/* libav's messages quote URLs and whatever servers said: each is formatted
 * whole (a password cut in two by a short buffer would escape the
 * redactor), then scrubbed of every configured password before it goes
 * anywhere, since nothing here says which stream it is about. */
static void av_to_log(void *avcl, int level, const char *fmt, va_list vl)
{
    char buf[512], *raw = NULL;
    (void)avcl;
    if (level > AV_LOG_WARNING || (level > AV_LOG_ERROR && !lc_log_enabled(LOG_DEBUG)))
        return;
    if (vasprintf(&raw, fmt, vl) < 0)
        return;
    rdx_known_scrub(buf, sizeof buf, raw);
    free(raw);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = 0;
    ing_note_av_log(level, buf);
    if (lc_log_enabled(LOG_DEBUG))
        lc_log(LOG_DEBUG, "libav: %s", buf);
}

static int run(daemon_t *d)
{
    struct epoll_event evs[16];
    for (;;) {
        int n = epoll_wait(d->epfd, evs, 16, 1000);
        if (n < 0 && errno != EINTR) {
            lc_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
            return EX_OSERR;
        }
        for (int i = 0; i < n; i++) {
            switch (evs[i].data.u32) {
            case TAG_SIGNAL: {
                int sig;
                while ((sig = sig_next()) != 0) {
                    if (sig == SIGTERM || sig == SIGINT)
                        return 0;
                    if (sig == SIGHUP)
                        reload(d);
#ifdef LCNETD_TESTING
                    if (sig == SIGUSR1)
                        sch_test_wedge(d->sched, 1);
                    if (sig == SIGUSR2)
                        sch_test_wedge(d->sched, 0);
#endif
                }
                break;
            }
            case TAG_SINKS:
                snk_set_dispatch(d->sinks);
                break;
            case TAG_EVQ:
                evq_drain(d->q, to_sinks, d);
                break;
            case TAG_TIMER: {
                uint64_t x;
                if (read(d->timerfd, &x, sizeof x) < 0) {
                    /* EAGAIN: spurious */
                }
                /* on the timer, not in tick(): tick runs on every wake-up,
                 * one per batch of events, and the sinks want 4 a second */
                rpt_sample(d);
                break;
            }
            }
        }
        tick(d);
    }
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "config", 1, 0, 'c' }, { "check-config", 1, 0, 'C' }, { "user", 1, 0, 'u' },
        { "version", 0, 0, 'V' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    daemon_t d = { .config_path = DEFAULT_CONFIG, .listen_fd = -1, .epfd = -1,
                   .timerfd = -1 };
    char err[2048];
    const char *check_user = NULL;
    int c, ret = EX_OSERR, check = 0, sig_fd;

    while ((c = getopt_long(argc, argv, "c:u:hV", lo, NULL)) != -1) {
        switch (c) {
        case 'c': d.config_path = optarg; break;
        case 'C': d.config_path = optarg; check = 1; break;
        case 'u': check_user = optarg; break;
        case 'V': printf("lcnetd %s\n", LCNETD_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind != argc || (check_user && !check)) {
        usage(stderr);
        return EX_USAGE;
    }
    lc_log_init();
    if ((sig_fd = sig_catch()) < 0) {
        lc_log(LOG_ERR, "signal handlers: %s", strerror(errno));
        return EX_OSERR;
    }
    if (check)
        return check_config(d.config_path, check_user);
    if (cfg_load_file(&d.c, d.config_path, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "%s", err);
        return EX_CONFIG;
    }
    lc_log_set_level(d.c->daemon.log_level);
    if (geteuid() == 0 && !d.c->daemon.allow_root) {
        lc_log(LOG_ERR, "refusing to run as root: run as the lcnetd user (systemd does), "
               "or set allow_root = yes in [daemon]");
        cfg_free(d.c);
        return EX_NOPERM;
    }
    known_secrets(d.c, NULL);
    d.nofile = lc_fd_raise_limit(err, sizeof err);
    if (err[0])
        lc_log(LOG_WARNING, "%s", err);
    avdevice_register_all();
    av_log_set_callback(av_to_log);


    if (evq_new(&d.q, 100000, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "%s", err);
        goto end;
    }
    lc_log(LOG_INFO, "loading %s", d.c->model.path);
    if (sch_start(&d.sched, d.c, d.q, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "model: %s", err);
        ret = EX_DATAERR;
        goto end;
    }
    pin_loop(&d);
    if (setup_socket(&d, err, sizeof err) < 0) {
        lc_log(LOG_ERR, "event socket: %s", err);
        ret = EX_OSERR;
        goto end;
    }
    if ((d.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (d.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
        lc_log(LOG_ERR, "event loop: %s", strerror(errno));
        goto end;
    }
    struct itimerspec it = { { 0, 250000000 }, { 0, 250000000 } };
    timerfd_settime(d.timerfd, 0, &it, NULL);
    if (epoll_add(d.epfd, sig_fd, TAG_SIGNAL) < 0 || epoll_add(d.epfd, evq_fd(d.q), TAG_EVQ) < 0 ||
        epoll_add(d.epfd, d.timerfd, TAG_TIMER) < 0) {
        lc_log(LOG_ERR, "epoll_ctl: %s", strerror(errno));
        goto end;
    }
    /* the sinks' threads (MQTT's, the metrics server's) are born on the
     * loop's CPUs, off the inference CPUs */
    snk_env env;
    rpt_env(&d, &env, d.c->daemon.max_subscribers);
    int r = snk_set_open(&d.sinks, d.c, &env, err, sizeof err);
    if (r < 0 || epoll_add(d.epfd, snk_set_fd(d.sinks), TAG_SINKS) < 0) {
        lc_log(LOG_ERR, "%s", r < 0 ? err : strerror(errno));
        goto end;
    }
    /* the subscriber limit leaves room for what the daemon holds now */
    d.fd_base = lc_fd_open_count();
    rpt_env(&d, &env, subscriber_cap(&d));
    snk_set_reload(d.sinks, d.c, &env);
    for (int i = 0; i < d.c->nstreams; i++) {
        if (!d.c->streams[i].enabled)
            continue;
        if (stream_up(&d, &d.c->streams[i], err, sizeof err) < 0) {
            lc_log(LOG_ERR, "%s", err);
            goto end;
        }
    }
    d.dog_us = svc_watchdog_usec();
    d.last_stats_us = d.last_dog_us = lc_mono_us();
    sch_model_info mi;
    sch_model(d.sched, &mi);
    lc_log(LOG_INFO, "ready: %s (%s, %dx%d, %d classes), %d streams; %s on %s", mi.model,
           mi.precision, mi.width, mi.height, mi.classes, d.nst, mi.precision_reason, mi.isa);
    say_if_idle(&d);
    rpt_sample(&d);
    svc_ready();
    if (d.dog_us)
        svc_watchdog();
    ret = run(&d);
    lc_log(LOG_INFO, "stopping");
    svc_stopping();
end:
    /* stop ingest, let the batch in flight finish, tell subscribers */
    streams_stop_all(&d);
    sch_stop(d.pending);        /* returns at once if its model still loads */
    cfg_free(d.pending_cfg);
    sch_stop(d.sched);
    if (d.sinks) {
        evq_drain(d.q, to_sinks, &d);
        snk_set_close(d.sinks);
    }
    if (d.listen_fd >= 0)
        close(d.listen_fd);
    if (d.own_socket)
        unlink(d.c->daemon.socket);
    if (d.timerfd >= 0)
        close(d.timerfd);
    if (d.epfd >= 0)
        close(d.epfd);
    evq_free(d.q);
    free(d.st);
    cfg_free(d.c);
    rdx_known_clear();
    return ret;
}
