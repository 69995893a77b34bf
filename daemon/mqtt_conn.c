/* mqtt_conn.c: see mqtt_conn.h.
 *
 * DESIGN.  libmosquitto's own thread (mosquitto_loop_start) gives up for
 * good after a TLS error and retries a refused login at its own pace, so
 * the thread here drives the library's non-blocking calls itself: it polls
 * the broker's socket and an eventfd that the loop writes when it queues
 * something, then calls mosquitto_loop_read/_write/_misc.  Only this thread
 * calls into the library; the loop meets it at the queue and the retained
 * table, under `m`.
 *
 * The library keeps what it was given until the socket takes it, without a
 * bound, so at most WINDOW messages are handed to it at a time (counted back
 * by its on_publish callback: written, for qos 0; acknowledged, for qos 1).
 * The rest waits in our bounded queue.
 */
#include "daemon/mqtt_conn.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mosquitto.h>

#include "daemon/log.h"
#include "daemon/redact.h"
#include "daemon/strmap.h"
#include "daemon/util.h"

enum {
    WINDOW = 32,                /* messages in the library at once */
    CONNECT_MS_MIN = 5000,      /* a CONNACK may take this long at least (or keepalive) */
};

typedef struct msg {
    struct msg *next;
    char *topic;
    size_t len;
    char payload[];
} msg;

typedef struct slot {           /* a retained topic's latest value */
    struct slot *next_dirty;
    int dirty;
    char *topic;
    char *payload;
    size_t len;
} slot;

struct mq_conn {
    /* set at start, read-only after */
    char *host, *client_id, *username, *password, *ca_file, *cert_file, *key_file;
    char *avail_topic, *birth_topic;
    int port, keepalive, qos, max;
    int64_t backoff_min_us, backoff_max_us;
    struct mosquitto *mosq;
    rdx_secret secret;          /* the password, kept out of logged library text */
    pthread_t thread;
    int started;
    int wake_fd;

    pthread_mutex_t m;          /* guards what follows, up to "the thread's own" */
    msg *head, *tail;
    int n;
    lc_map *slots;              /* topic -> slot */
    slot *dirty_head, *dirty_tail;
    int ndirty;
    int stop;
    int64_t stop_by;            /* monotonic us */
    mq_stats st;

    /* the thread's own */
    int connected;              /* CONNACK 0 seen on the socket that is up */
    int connack;                /* the last CONNACK's code, -1: none yet */
    int avail_due;              /* "online" not yet sent on this connection */
    int inflight;
    int bye_mid, bye_sent;      /* the "offline" of a clean stop */
    char lib_err[256];          /* the library's last error line (TLS detail) */
    mq_state logged;            /* what the log last said, with logged_err */
    char logged_err[320];
};

const char *mq_state_name(mq_state s)
{
    static const char *const names[] = { "connecting", "connected", "retrying", "auth-failed",
                                         "tls-failed", "failed" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void wake(mq_conn *c)
{
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0) {
        /* the counter is saturated: the thread is woken anyway */
    }
}

/* ------------------------------------------------------------ the loop's side */

static void dirty_push(mq_conn *c, slot *s)
{
    if (s->dirty)
        return;
    s->dirty = 1;
    s->next_dirty = NULL;
    if (c->dirty_tail)
        c->dirty_tail->next_dirty = s;
    else
        c->dirty_head = s;
    c->dirty_tail = s;
    c->ndirty++;
}

void mq_publish(mq_conn *c, const char *topic, const char *payload, size_t len)
{
    msg *mm = malloc(sizeof *mm + len);
    char *t = strdup(topic);
    msg *old = NULL;
    pthread_mutex_lock(&c->m);
    if (!mm || !t || c->st.state == MQ_FAILED) {
        c->st.dropped++;
        pthread_mutex_unlock(&c->m);
        free(mm);
        free(t);
        return;
    }
    mm->next = NULL;
    mm->topic = t;
    mm->len = len;
    memcpy(mm->payload, payload, len);
    if (c->tail)
        c->tail->next = mm;
    else
        c->head = mm;
    c->tail = mm;
    /* a late label is worth less than the next one: the oldest goes */
    if (++c->n > c->max) {
        old = c->head;
        c->head = old->next;
        c->n--;
        c->st.dropped++;
    }
    pthread_mutex_unlock(&c->m);
    if (old) {
        free(old->topic);
        free(old);
    }
    wake(c);
}

void mq_retain(mq_conn *c, const char *topic, const char *payload, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return;
    memcpy(p, payload, len);
    p[len] = 0;
    pthread_mutex_lock(&c->m);
    slot *s = lc_map_get(c->slots, topic);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)) || !(s->topic = strdup(topic)) ||
            lc_map_put(c->slots, topic, s, NULL) < 0) {
            pthread_mutex_unlock(&c->m);
            if (s)
                free(s->topic);
            free(s);
            free(p);
            return;
        }
    }
    free(s->payload);
    s->payload = p;
    s->len = len;
    dirty_push(c, s);
    pthread_mutex_unlock(&c->m);
    wake(c);
}

void mq_get_stats(mq_conn *c, mq_stats *st)
{
    pthread_mutex_lock(&c->m);
    *st = c->st;
    st->queued = c->n + c->ndirty;
    pthread_mutex_unlock(&c->m);
}

/* ------------------------------------------------------------ the thread's side */

static void set_state(mq_conn *c, mq_state s, const char *error)
{
    pthread_mutex_lock(&c->m);
    c->st.state = s;
    snprintf(c->st.error, sizeof c->st.error, "%s", error ? error : "");
    pthread_mutex_unlock(&c->m);
}

/* One line per change: the same failure again is only a debug line, so a
 * broker away for a day or a wrong password costs one line, not one per
 * attempt. */
static void report(mq_conn *c, mq_state s, int prio, const char *error, const char *advice)
{
    set_state(c, s, error);
    if (c->logged == s && strcmp(c->logged_err, error) == 0) {
        lc_log(LOG_DEBUG, "mqtt %s:%d: %s", c->host, c->port, error);
        return;
    }
    c->logged = s;
    snprintf(c->logged_err, sizeof c->logged_err, "%s", error);
    lc_log(prio, "mqtt %s:%d: %s%s", c->host, c->port, error, advice);
}

static void mark_all(void *arg, const char *key, void *val)
{
    (void)key;
    dirty_push(arg, val);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    mq_conn *c = arg;
    c->connack = rc;
    if (rc != 0)
        return;
    c->connected = 1;
    c->avail_due = 1;
    c->inflight = 0;
    if (c->birth_topic)
        mosquitto_subscribe(mosq, NULL, c->birth_topic, 0);
    /* a restarted broker may have lost every retained message: all again */
    pthread_mutex_lock(&c->m);
    lc_map_each(c->slots, mark_all, c);
    c->st.connects++;
    c->st.state = MQ_CONNECTED;
    c->st.error[0] = 0;
    pthread_mutex_unlock(&c->m);
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *mm)
{
    mq_conn *c = arg;
    (void)mosq;
    if (!c->birth_topic || strcmp(mm->topic, c->birth_topic) != 0 || mm->payloadlen != 6 ||
        memcmp(mm->payload, "online", 6) != 0)
        return;
    lc_log(LOG_DEBUG, "mqtt: %s says online: retained topics again", c->birth_topic);
    pthread_mutex_lock(&c->m);
    lc_map_each(c->slots, mark_all, c);
    pthread_mutex_unlock(&c->m);
}

static void on_publish(struct mosquitto *mosq, void *arg, int mid)
{
    mq_conn *c = arg;
    (void)mosq;
    if (mid == c->bye_mid)
        c->bye_sent = 1;
    if (c->inflight > 0)
        c->inflight--;
    pthread_mutex_lock(&c->m);
    c->st.sent++;
    pthread_mutex_unlock(&c->m);
}

static void on_log(struct mosquitto *mosq, void *arg, int level, const char *text)
{
    mq_conn *c = arg;
    (void)mosq;
    if (!(level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)))
        return;
    rdx_scrub(c->lib_err, sizeof c->lib_err, text, &c->secret, 1);
}

/* Hand the library what waits, up to the window: retained topics first
 * (availability first of all), then the queue in order. */
static void feed(mq_conn *c)
{
    while (c->inflight < WINDOW) {
        char *topic = NULL, *payload = NULL;
        size_t len = 0;
        msg *mm = NULL;
        if (c->avail_due) {
            c->avail_due = 0;
            topic = strdup(c->avail_topic);
            payload = strdup("online");
            len = 6;
        } else {
            pthread_mutex_lock(&c->m);
            slot *s = c->dirty_head;
            if (s) {
                c->dirty_head = s->next_dirty;
                if (!c->dirty_head)
                    c->dirty_tail = NULL;
                c->ndirty--;
                s->dirty = 0;
                topic = strdup(s->topic);
                payload = malloc(s->len + 1);
                if (payload)
                    memcpy(payload, s->payload, s->len);
                len = s->len;
            } else if ((mm = c->head)) {
                c->head = mm->next;
                if (!c->head)
                    c->tail = NULL;
                c->n--;
            }
            pthread_mutex_unlock(&c->m);
            if (!s && !mm)
                return;
        }
        int rc;
        if (mm)
            rc = mosquitto_publish(c->mosq, NULL, mm->topic, (int)mm->len, mm->payload, c->qos,
                                   false);
        else
            rc = topic && payload ? mosquitto_publish(c->mosq, NULL, topic, (int)len, payload,
                                                      c->qos, true)
                                  : MOSQ_ERR_NOMEM;
        if (rc == MOSQ_ERR_SUCCESS) {
            c->inflight++;
        } else if (mm) {
            pthread_mutex_lock(&c->m);
            c->st.dropped++;
            pthread_mutex_unlock(&c->m);
        }
        if (mm) {
            free(mm->topic);
            free(mm);
        }
        free(topic);
        free(payload);
        if (rc != MOSQ_ERR_SUCCESS)
            return;
    }
}

/* Waiting for nothing but the loop (or a stop) for up to us. */
static void nap(mq_conn *c, int64_t us)
{
    struct pollfd p = { c->wake_fd, POLLIN, 0 };
    uint64_t v;
    if (poll(&p, 1, (int)(us / 1000) + 1) > 0 && read(c->wake_fd, &v, sizeof v) < 0) {
        /* EAGAIN: someone read it first */
    }
}

/* The connection is down; say why, once, and when it is tried again. */
static int64_t failed(mq_conn *c, int rc, int err, int64_t *backoff)
{
    char why[320];
    int64_t delay = *backoff;
    /* QoS 0 messages the library held went down with the socket */
    if (c->qos == 0 && c->inflight) {
        pthread_mutex_lock(&c->m);
        c->st.dropped += (unsigned long long)c->inflight;
        pthread_mutex_unlock(&c->m);
    }
    c->inflight = 0;
    int was = c->connected;
    c->connected = 0;
    if (c->connack > 0) {
        int auth = c->connack == 4 || c->connack == 5;
        snprintf(why, sizeof why, "the broker refused the connection: %s",
                 mosquitto_connack_string(c->connack));
        if (auth) {
            char adv[200];
            snprintf(adv, sizeof adv, " (check [mqtt] username%s and the broker's ACL); "
                     "trying again every %.0f s", c->password ? " and password_file" : "",
                     (double)c->backoff_max_us / 1e6);
            report(c, MQ_AUTH_FAILED, LOG_ERR, why, adv);
        } else {
            report(c, MQ_RETRYING, LOG_WARNING, why, "; trying again later");
        }
        c->connack = -1;
        return auth ? c->backoff_max_us : delay;
    }
    if (rc == MOSQ_ERR_TLS) {
        snprintf(why, sizeof why, "TLS handshake failed%s%s", c->lib_err[0] ? ": " : "",
                 c->lib_err);
        char adv[200];
        snprintf(adv, sizeof adv, " (check [mqtt] ca_file, cert_file and key_file against "
                 "the broker's certificate); trying again every %.0f s",
                 (double)c->backoff_max_us / 1e6);
        report(c, MQ_TLS_FAILED, LOG_ERR, why, adv);
        c->lib_err[0] = 0;
        return c->backoff_max_us;
    }
    if (rc == MOSQ_ERR_ERRNO && err)
        snprintf(why, sizeof why, "%s: %s", was ? "connection lost" : "cannot connect",
                 strerror(err));
    else if (rc == MOSQ_ERR_EAI)
        snprintf(why, sizeof why, "cannot resolve the host name");
    else if (rc == -1)
        snprintf(why, sizeof why, "no answer to CONNECT within %d s",
                 c->keepalive > CONNECT_MS_MIN / 1000 ? c->keepalive : CONNECT_MS_MIN / 1000);
    else if (rc == MOSQ_ERR_KEEPALIVE)
        snprintf(why, sizeof why, "the broker stopped answering (no reply to a ping within "
                 "1.5 keepalives)");
    else if (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO)
        snprintf(why, sizeof why, "%s", was ? "connection lost" : "the broker closed the connection");
    else
        snprintf(why, sizeof why, "%s: %s", was ? "connection lost" : "cannot connect",
                 mosquitto_strerror(rc));
    report(c, MQ_RETRYING, LOG_WARNING, why,
           "; reconnecting with backoff");
    *backoff = *backoff * 2 > c->backoff_max_us ? c->backoff_max_us : *backoff * 2;
    return delay;
}

/* Close what the library left open, through the library, so its state
 * stays its own. */
static void drop_socket(mq_conn *c)
{
    int fd = mosquitto_socket(c->mosq);
    if (fd < 0)
        return;
    shutdown(fd, SHUT_RDWR);
    mosquitto_loop_read(c->mosq, 1);
}

static int drained(mq_conn *c)
{
    pthread_mutex_lock(&c->m);
    int empty = c->n == 0 && c->ndirty == 0;
    pthread_mutex_unlock(&c->m);
    return empty && !c->avail_due && c->inflight == 0;
}

/* The last of a clean stop: "offline", then DISCONNECT, within the deadline. */
static void goodbye(mq_conn *c, int64_t by)
{
    if (!c->connected)
        return;
    c->bye_mid = -1;
    if (mosquitto_publish(c->mosq, &c->bye_mid, c->avail_topic, 7, "offline", c->qos, true) !=
        MOSQ_ERR_SUCCESS)
        c->bye_sent = 1;
    while (!c->bye_sent && lc_mono_us() < by && mosquitto_socket(c->mosq) >= 0) {
        struct pollfd p = { mosquitto_socket(c->mosq),
                            POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0), 0 };
        int rc = 0;
        if (poll(&p, 1, 50) > 0) {
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                rc = mosquitto_loop_read(c->mosq, 1);
            if (!rc && (p.revents & POLLOUT))
                rc = mosquitto_loop_write(c->mosq, 1);
        }
        if (rc)
            return;
    }
    mosquitto_disconnect(c->mosq);
    for (int i = 0; i < 20 && mosquitto_socket(c->mosq) >= 0 && mosquitto_want_write(c->mosq);
         i++)
        if (mosquitto_loop_write(c->mosq, 1))
            break;
}

static void *mq_main(void *arg)
{
    mq_conn *c = arg;
    int64_t next_try = 0, backoff = c->backoff_min_us, connect_by = 0, up_since = 0;
    int open = 0, tried = 0;
    int64_t connect_us = (int64_t)c->keepalive * 1000000 > CONNECT_MS_MIN * 1000LL ?
                         (int64_t)c->keepalive * 1000000 : CONNECT_MS_MIN * 1000LL;

    pthread_setname_np(pthread_self(), "lcnetd-mqtt");
    lc_block_signals();
    for (;;) {
        int64_t now = lc_mono_us();
        pthread_mutex_lock(&c->m);
        int stop = c->stop;
        int64_t stop_by = c->stop_by;
        pthread_mutex_unlock(&c->m);
        if (stop && (!open || !c->connected || now >= stop_by || drained(c))) {
            goodbye(c, stop_by + 200000);
            break;
        }
        if (!open) {
            if (now < next_try) {
                nap(c, next_try - now);
                continue;
            }
            c->connack = -1;
            c->lib_err[0] = 0;
            errno = 0;
            int rc = tried ? mosquitto_reconnect_async(c->mosq)
                           : mosquitto_connect_async(c->mosq, c->host, c->port, c->keepalive);
            int e = errno;
            tried = 1;
            if (rc != MOSQ_ERR_SUCCESS) {
                drop_socket(c);
                next_try = lc_mono_us() + failed(c, rc, e, &backoff);
                continue;
            }
            open = 1;
            connect_by = now + connect_us;
        }
        if (c->connected) {
            if (!up_since) {
                up_since = now;
                lc_log(LOG_INFO, "mqtt %s:%d: connected as %s", c->host, c->port, c->client_id);
                c->logged = MQ_CONNECTED;
                c->logged_err[0] = 0;
            }
            /* a connection that held for a while earns a quick retry again */
            if (now - up_since > 10000000)
                backoff = c->backoff_min_us;
            feed(c);
        }
        int fd = mosquitto_socket(c->mosq);
        struct pollfd p[2] = { { c->wake_fd, POLLIN, 0 },
                               { fd, POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0), 0 } };
        int64_t until = c->connected ? now + 1000000 : connect_by;
        if (stop && stop_by < until)
            until = stop_by;
        int ms = until > now ? (int)((until - now) / 1000) + 1 : 0;
        if (ms > 1000)
            ms = 1000;
        if (poll(p, fd >= 0 ? 2 : 1, ms) > 0 && (p[0].revents & POLLIN)) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof v) < 0) {
                /* EAGAIN */
            }
        }
        int rc = 0, e = 0;
        errno = 0;
        if (fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            rc = mosquitto_loop_read(c->mosq, 1);
        if (!rc && mosquitto_socket(c->mosq) >= 0 && (p[1].revents & POLLOUT))
            rc = mosquitto_loop_write(c->mosq, 1);
        e = errno;
        if (!rc)
            rc = mosquitto_loop_misc(c->mosq);
        if (!rc && !c->connected && lc_mono_us() > connect_by)
            rc = -1;            /* a broker that takes the connection but never answers */
        if (!rc && mosquitto_socket(c->mosq) < 0)
            rc = MOSQ_ERR_CONN_LOST;
        if (rc) {
            drop_socket(c);
            open = 0;
            up_since = 0;
            next_try = lc_mono_us() + failed(c, rc, e, &backoff);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ life */

static void free_slot(void *v)
{
    slot *s = v;
    free(s->topic);
    free(s->payload);
    free(s);
}

static void conn_free(mq_conn *c)
{
    if (!c)
        return;
    if (c->mosq)
        mosquitto_destroy(c->mosq);
    for (msg *mm = c->head, *nx; mm; mm = nx) {
        nx = mm->next;
        free(mm->topic);
        free(mm);
    }
    lc_map_free(c->slots, free_slot);
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    rdx_secret_free(&c->secret);
    free(c->host);
    free(c->client_id);
    free(c->username);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->avail_topic);
    free(c->birth_topic);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    pthread_mutex_destroy(&c->m);
    free(c);
}

static char *dup_opt(const char *s, int *oom)
{
    char *d = s && *s ? strdup(s) : NULL;
    *oom |= s && *s && !d;
    return d;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void)
{
    mosquitto_lib_init();
}

int mq_start(mq_conn **out, const mq_opts *o, char *err, size_t errlen)
{
    mq_conn *c = calloc(1, sizeof *c);
    int oom = !c, e;
    *out = NULL;
    if (!c)
        goto nomem;
    c->wake_fd = -1;
    pthread_mutex_init(&c->m, NULL);
    c->host = dup_opt(o->host, &oom);
    c->client_id = dup_opt(o->client_id, &oom);
    c->username = dup_opt(o->username, &oom);
    c->password = dup_opt(o->password, &oom);
    c->ca_file = dup_opt(o->ca_file, &oom);
    c->cert_file = dup_opt(o->cert_file, &oom);
    c->key_file = dup_opt(o->key_file, &oom);
    c->avail_topic = dup_opt(o->avail_topic, &oom);
    c->birth_topic = dup_opt(o->birth_topic, &oom);
    c->slots = lc_map_new();
    if (oom || !c->slots || !c->host || !c->avail_topic || !c->client_id ||
        rdx_secret_from_plain(&c->secret, c->password) < 0)
        goto nomem;
    c->port = o->port;
    c->keepalive = o->keepalive;
    c->qos = o->qos;
    c->max = o->queue > 0 ? o->queue : 1;
    c->backoff_min_us = (int64_t)(o->backoff_min * 1e6);
    c->backoff_max_us = (int64_t)(o->backoff_max * 1e6);
    c->connack = -1;
    c->bye_mid = -1;
    c->logged = MQ_CONNECTING;
    c->st.state = MQ_CONNECTING;
    if ((c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "mqtt: eventfd: %s", strerror(errno));
        conn_free(c);
        return -1;
    }
    pthread_once(&lib_once, lib_init);
    if (!(c->mosq = mosquitto_new(c->client_id, true, c)))
        goto nomem;
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    mosquitto_message_callback_set(c->mosq, on_message);
    mosquitto_log_callback_set(c->mosq, on_log);
    if (mosquitto_will_set(c->mosq, c->avail_topic, 7, "offline", c->qos, true) != MOSQ_ERR_SUCCESS ||
        (c->username && mosquitto_username_pw_set(c->mosq, c->username, c->password) !=
                        MOSQ_ERR_SUCCESS))
        goto nomem;
    if (c->ca_file) {
        int rc = mosquitto_tls_set(c->mosq, c->ca_file, NULL, c->cert_file, c->key_file, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            char why[320];
            snprintf(why, sizeof why, "TLS set-up: %s (can the lcnetd user read ca_file %s%s%s%s%s?)",
                     mosquitto_strerror(rc), c->ca_file, c->cert_file ? ", cert_file " : "",
                     c->cert_file ? c->cert_file : "", c->key_file ? " and key_file " : "",
                     c->key_file ? c->key_file : "");
            report(c, MQ_FAILED, LOG_ERR, why, "; not connecting until a reload");
            *out = c;
            return 0;
        }
    }
    /* the thread starts with the caller's CPUs and signal mask: the loop's */
    if ((e = pthread_create(&c->thread, NULL, mq_main, c))) {
        snprintf(err, errlen, "mqtt: pthread_create: %s", strerror(e));
        conn_free(c);
        return -1;
    }
    c->started = 1;
    *out = c;
    return 0;
nomem:
    snprintf(err, errlen, "mqtt: out of memory");
    conn_free(c);
    return -1;
}

void mq_stop(mq_conn *c, int ms)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->m);
        c->stop = 1;
        c->stop_by = lc_mono_us() + (int64_t)ms * 1000;
        pthread_mutex_unlock(&c->m);
        wake(c);
        pthread_join(c->thread, NULL);
    }
    conn_free(c);
}
