/* mqtt_conn.h: one connection to an MQTT broker, on a thread of its own.
 *
 * The loop hands messages over and never waits: mq_publish queues (at most
 * `queue` messages; past that the oldest is dropped and counted), mq_retain
 * sets the latest value of a retained topic.  The connection's thread
 * (libmosquitto, born on the loop's CPUs, so off the inference CPUs) sends
 * them while the broker takes them, and keeps at most a small window in
 * the library: a broker that stops reading fills the queue, never memory.
 *
 * Retained topics are never dropped, only superseded, and are all sent
 * again after every reconnect (a restarted broker may have lost them) and
 * whenever a message "online" arrives on birth_topic (Home Assistant's
 * status, after which it wants discovery again).  avail_topic says
 * "online" once connected, and "offline" through the last will or on
 * mq_stop.
 *
 * Reconnects back off from backoff_min, doubling to backoff_max.  A broker
 * that refuses the login, or a TLS handshake that fails, is logged once
 * and retried every backoff_max: a retry cannot mend a password.
 */
#ifndef LCNETD_MQTT_CONN_H
#define LCNETD_MQTT_CONN_H

#include <stddef.h>

typedef struct mq_conn mq_conn;

typedef struct mq_opts {
    const char *host;
    int port;
    const char *client_id;
    const char *username;       /* NULL or "": anonymous */
    const char *password;       /* NULL: none; copied, wiped when freed, never logged */
    const char *ca_file;        /* NULL or "": no TLS */
    const char *cert_file, *key_file;
    int keepalive, qos, queue;
    double backoff_min, backoff_max;
    const char *avail_topic;
    const char *birth_topic;    /* NULL: none */
} mq_opts;

typedef enum {
    MQ_CONNECTING = 0,          /* not connected yet, or again */
    MQ_CONNECTED,
    MQ_RETRYING,                /* the broker is away: backing off */
    MQ_AUTH_FAILED,             /* the broker refused the login */
    MQ_TLS_FAILED,              /* the TLS handshake failed */
    MQ_FAILED,                  /* cannot even try (TLS files unreadable) */
} mq_state;

typedef struct mq_stats {
    mq_state state;
    char error[320];            /* why it is not connected, or "" */
    unsigned long long sent;    /* messages the broker took (written; acknowledged with qos 1) */
    unsigned long long dropped; /* messages lost: the queue overflowed, or the connection did */
    unsigned long long connects;
    int queued;                 /* messages and retained topics waiting */
} mq_stats;

const char *mq_state_name(mq_state s);

/* Start connecting; returns at once.  A problem that stops it from ever
 * connecting (an unreadable CA file) is not an error here: it shows as
 * MQ_FAILED with its reason, and is logged. */
int mq_start(mq_conn **out, const mq_opts *o, char *err, size_t errlen);
/* Never block.  topic and payload are copied. */
void mq_publish(mq_conn *c, const char *topic, const char *payload, size_t len);
void mq_retain(mq_conn *c, const char *topic, const char *payload, size_t len);
void mq_get_stats(mq_conn *c, mq_stats *st);
/* Send what waits and "offline" for up to ms milliseconds, disconnect,
 * free.  NULL is fine. */
void mq_stop(mq_conn *c, int ms);

#endif
