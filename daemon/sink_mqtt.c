/* sink_mqtt.c: the events to an MQTT broker that other boxes and consumers
 * share.  Topics, under [mqtt] topic_prefix P:
 *
 *   P/availability           retained: online, or offline (the will; a clean stop)
 *   P/<stream>/label         every label event, the socket's JSON line
 *   P/<stream>/state         retained: {"label","score","since"}, when the label changes
 *   P/<stream>/status        retained: the socket's stream event (up, down, ...)
 *   P/stats                  every stats_interval: the daemon's counters, every stream's
 *
 * With regions and several models per stream (another issue) the stream
 * level becomes <stream>[/<region>][/<model>]; events already carry both.
 * The connection itself (queue, backoff, retained re-sends) is mqtt_conn.c;
 * this file makes the topics and payloads, on the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/events.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/mqtt_conn.h"
#include "daemon/sink.h"
#include "daemon/strmap.h"

enum { STOP_MS = 1000, TOPIC_MAX = 1024 };

typedef struct mstream {        /* what the broker was last told of a stream */
    char *label;                /* top-1 label of the retained state; NULL: none yet */
    char *state, *status;       /* the retained payloads, for a new connection */
} mstream;

typedef struct {
    char *sig;                  /* every [mqtt] value, to tell a changed section */
    char *password;
    char *prefix, *client_id, *ha_prefix, *node;
    int ha;
    mq_conn *conn;              /* NULL: cannot connect (see error) */
    char error[320];
    unsigned long long dropped; /* events that found no connection */
    lc_map *streams;            /* "<stream>[/<region>][/<model>]" -> mstream */
    lc_map *discovered;         /* stream -> (void *)1: a Home Assistant sensor exists */
    char model[128], version[32];
    char broker[300];           /* host:port, for status */
} mq_sink;

static int mqtt_wanted(const cfg *c)
{
    return c->mqtt.host && c->mqtt.host[0];
}

/* ------------------------------------------------------------ settings */

/* The password_file's first line in *pw: cfg_read_password's code, with
 * *why set when it is not CFG_OK. */
static int read_password(const char *path, char **pw, char *why, size_t len)
{
    int e, ret = cfg_read_password(path, pw, &e);
    switch (ret) {
    case CFG_OK:
        break;
    case CFG_EIO:
        snprintf(why, len, "password_file %s: cannot read: %s", path, strerror(e));
        break;
    case CFG_PW_EMPTY:
        snprintf(why, len, "password_file %s is empty (expected the password on its first line)",
                 path);
        break;
    case CFG_PW_LONG:
        snprintf(why, len, "password_file %s: the first line is longer than %d bytes", path,
                 CFG_PASSWORD_MAX);
        break;
    default:
        snprintf(why, len, "out of memory");
        break;
    }
    return ret;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Home Assistant ids allow letters, digits, _ and - only. */
static char *ha_id(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            *p = '_';
    return d;
}

static char *signature(const cfg_mqtt *m, const char *prefix, const char *client_id)
{
    char *s = NULL;
    if (asprintf(&s, "%s\n%d\n%s\n%s\n%s\n%s\n%s\n%s\n%d\n%d\n%s\n%d\n%.17g\n%.17g\n%d\n%s",
                 m->host, m->port, client_id, m->username, m->password_file, m->ca_file,
                 m->cert_file, m->key_file, m->keepalive, m->qos, prefix, m->queue,
                 m->backoff_min, m->backoff_max, m->homeassistant, m->homeassistant_prefix) < 0)
        return NULL;
    return s;
}

/* ------------------------------------------------------------ topics */

/* "<stream>[/<region>][/<model>]" of e. */
static void topic_mid(char *buf, size_t len, const char *stream, const snk_event *e)
{
    snprintf(buf, len, "%s%s%s%s%s", stream, e && e->region ? "/" : "",
             e && e->region ? e->region : "", e && e->model ? "/" : "",
             e && e->model ? e->model : "");
}

static void topic(mq_sink *k, char *buf, size_t len, const char *mid, const char *leaf)
{
    snprintf(buf, len, "%s%s%s/%s", k->prefix, mid ? "/" : "", mid ? mid : "", leaf);
}

static void send_msg(mq_sink *k, const char *mid, const char *leaf, const char *payload,
                     size_t len)
{
    char t[TOPIC_MAX];
    if (!k->conn) {
        k->dropped++;
        return;
    }
    topic(k, t, sizeof t, mid, leaf);
    mq_publish(k->conn, t, payload, len);
}

static void send_retained(mq_sink *k, const char *mid, const char *leaf, const char *payload)
{
    char t[TOPIC_MAX];
    if (!k->conn)
        return;
    topic(k, t, sizeof t, mid, leaf);
    mq_retain(k->conn, t, payload, strlen(payload));
}

static mstream *stream_of(mq_sink *k, const char *mid)
{
    mstream *s = lc_map_get(k->streams, mid);
    if (s)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    if (lc_map_put(k->streams, mid, s, NULL) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void free_stream(void *v)
{
    mstream *s = v;
    free(s->label);
    free(s->state);
    free(s->status);
    free(s);
}

/* ------------------------------------------------------------ Home Assistant */

static void discovery_topic(mq_sink *k, char *buf, size_t len, const char *stream)
{
    char *obj = ha_id(stream);
    snprintf(buf, len, "%s/sensor/%s/%s/config", k->ha_prefix, k->node, obj ? obj : "_");
    free(obj);
}

/* One sensor per stream: its value is the label of its retained state. */
static void discover(mq_sink *k, const char *stream)
{
    char t[TOPIC_MAX], state[TOPIC_MAX], avail[TOPIC_MAX], name[256], uid[300];
    json_buf b = JSON_BUF_INIT;
    char *obj = ha_id(stream);
    discovery_topic(k, t, sizeof t, stream);
    topic(k, state, sizeof state, stream, "state");
    topic(k, avail, sizeof avail, NULL, "availability");
    snprintf(name, sizeof name, "lcnetd %s", k->prefix);
    snprintf(uid, sizeof uid, "%s_%s", k->node, obj ? obj : "_");
    free(obj);
    json_begin(&b);
    json_key(&b, "name");
    json_str(&b, stream);
    json_key(&b, "unique_id");
    json_str(&b, uid);
    json_key(&b, "state_topic");
    json_str(&b, state);
    json_key(&b, "value_template");
    json_str(&b, "{{ value_json.label }}");
    json_key(&b, "json_attributes_topic");
    json_str(&b, state);
    json_key(&b, "availability_topic");
    json_str(&b, avail);
    json_key(&b, "payload_available");
    json_str(&b, "online");
    json_key(&b, "payload_not_available");
    json_str(&b, "offline");
    json_key(&b, "icon");
    json_str(&b, "mdi:cctv");
    json_key(&b, "device");
    json_begin(&b);
    json_key(&b, "identifiers");
    json_array_begin(&b);
    json_item(&b);
    json_str(&b, k->node);
    json_array_end(&b);
    json_key(&b, "name");
    json_str(&b, name);
    json_key(&b, "manufacturer");
    json_str(&b, "lcnetd");
    json_key(&b, "model");
    json_str(&b, k->model);
    json_key(&b, "sw_version");
    json_str(&b, k->version);
    json_end(&b);
    json_end(&b);
    if (!b.failed && k->conn)
        mq_retain(k->conn, t, b.s, b.len);
    json_release(&b);
}

typedef struct {
    mq_sink *k;
    const cfg *c;
} gone_ctx;

static void forget_gone(void *arg, const char *stream, void *val)
{
    gone_ctx *g = arg;
    const cfg_stream *s = cfg_find_stream(g->c, stream);
    char t[TOPIC_MAX];
    (void)val;
    if (s && s->enabled && g->k->ha)
        return;
    /* an empty retained config deletes the sensor */
    discovery_topic(g->k, t, sizeof t, stream);
    if (g->k->conn)
        mq_retain(g->k->conn, t, "", 0);
}

/* Sensors for c's streams; those of streams gone (or all, with discovery
 * turned off) are deleted. */
static void discover_all(mq_sink *k, const cfg *c)
{
    gone_ctx g = { k, c };
    lc_map_each(k->discovered, forget_gone, &g);
    lc_map_free(k->discovered, NULL);
    k->discovered = lc_map_new();
    if (!k->ha || !k->discovered)
        return;
    for (int i = 0; i < c->nstreams; i++)
        if (c->streams[i].enabled) {
            discover(k, c->streams[i].name);
            lc_map_put(k->discovered, c->streams[i].name, (void *)1, NULL);
        }
}

/* ------------------------------------------------------------ connecting */

static void reretain(void *arg, const char *mid, void *val)
{
    mq_sink *k = arg;
    mstream *s = val;
    if (s->status)
        send_retained(k, mid, "status", s->status);
    if (s->state)
        send_retained(k, mid, "state", s->state);
}

static void settings_free(mq_sink *k)
{
    free(k->sig);
    wipe_free(k->password);
    free(k->prefix);
    free(k->client_id);
    free(k->ha_prefix);
    free(k->node);
    k->sig = k->password = k->prefix = k->client_id = k->ha_prefix = k->node = NULL;
}

/* k's settings from c (password file read), and a connection with them.
 * Only out of memory fails: a password file that cannot be read leaves k
 * without a connection, with the reason in k->error. */
static int connect_with(mq_sink *k, const cfg *c, char *err, size_t errlen)
{
    const cfg_mqtt *m = &c->mqtt;
    char host[256] = "", prefix[512], cid[512], avail[TOPIC_MAX], birth[TOPIC_MAX];
    settings_free(k);
    k->error[0] = 0;
    if (m->topic_prefix[0]) {
        snprintf(prefix, sizeof prefix, "%s", m->topic_prefix);
    } else {
        gethostname(host, sizeof host - 1);
        for (char *p = host; *p; p++)
            if (*p == '+' || *p == '#' || *p == '/')
                *p = '_';
        snprintf(prefix, sizeof prefix, "lcnetd/%s", host[0] ? host : "localhost");
    }
    snprintf(cid, sizeof cid, "%s", m->client_id[0] ? m->client_id : "");
    if (!m->client_id[0])
        snprintf(cid, sizeof cid, "lcnetd-%s", prefix);
    k->prefix = strdup(prefix);
    k->client_id = strdup(cid);
    k->ha_prefix = strdup(m->homeassistant_prefix);
    k->node = ha_id(cid);
    k->sig = signature(m, prefix, cid);
    k->ha = m->homeassistant;
    snprintf(k->broker, sizeof k->broker, "%s:%d", m->host, m->port);
    if (!k->prefix || !k->client_id || !k->ha_prefix || !k->node || !k->sig) {
        snprintf(err, errlen, "mqtt: out of memory");
        return -1;
    }
    if (m->password_file[0] &&
        read_password(m->password_file, &k->password, k->error, sizeof k->error) != CFG_OK) {
        lc_log(LOG_ERR, "mqtt %s:%d: %s; not connecting until a reload", m->host, m->port,
               k->error);
        return 0;
    }
    topic(k, avail, sizeof avail, NULL, "availability");
    snprintf(birth, sizeof birth, "%s/status", m->homeassistant_prefix);
    mq_opts o = { .host = m->host, .port = m->port, .client_id = cid, .username = m->username,
                  .password = k->password, .ca_file = m->ca_file, .cert_file = m->cert_file,
                  .key_file = m->key_file, .keepalive = m->keepalive, .qos = m->qos,
                  .queue = m->queue, .backoff_min = m->backoff_min,
                  .backoff_max = m->backoff_max, .avail_topic = avail,
                  .birth_topic = m->homeassistant ? birth : NULL };
    if (mq_start(&k->conn, &o, err, errlen) < 0)
        return -1;
    lc_map_each(k->streams, reretain, k);
    return 0;
}

static void mqtt_close(void *self);

static int mqtt_open(void **self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    mq_sink *k = calloc(1, sizeof *k);
    *self = NULL;
    if (!k || !(k->streams = lc_map_new()) || !(k->discovered = lc_map_new())) {
        if (k) {
            lc_map_free(k->streams, NULL);
            free(k);
        }
        snprintf(err, errlen, "mqtt: out of memory");
        return -1;
    }
    const char *base = env->model ? strrchr(env->model, '/') : NULL;
    snprintf(k->model, sizeof k->model, "%s", base ? base + 1 : env->model ? env->model : "");
    snprintf(k->version, sizeof k->version, "%s", env->version ? env->version : "");
    if (connect_with(k, c, err, errlen) < 0) {
        mqtt_close(k);
        return -1;
    }
    discover_all(k, c);
    *self = k;
    return 0;
}

static int mqtt_reload(void *self, const cfg *c, const snk_env *env, char *err, size_t errlen)
{
    mq_sink *k = self;
    (void)env;
    const cfg_mqtt *m = &c->mqtt;
    char why[320] = "";
    char *pw = NULL;
    if (m->password_file[0])
        read_password(m->password_file, &pw, why, sizeof why);
    int same_pw = (!pw && !k->password && !why[0]) ||
                  (pw && k->password && strcmp(pw, k->password) == 0);
    wipe_free(pw);
    /* the same settings: the connection stays, only the sensors follow the streams */
    char *sig = signature(m, k->prefix, k->client_id);
    if (sig && strcmp(sig, k->sig) == 0 && same_pw && (k->conn || k->error[0] == 0)) {
        free(sig);
        discover_all(k, c);
        return 0;
    }
    free(sig);
    lc_log(LOG_INFO, "reload: [mqtt] changed; reconnecting to %s:%d", m->host, m->port);
    /* sensors under the old prefix go with it */
    if (k->ha) {
        cfg none = { 0 };
        int ha = k->ha;
        k->ha = 0;
        discover_all(k, &none);
        k->ha = ha;
    }
    mq_stop(k->conn, STOP_MS);
    k->conn = NULL;
    if (connect_with(k, c, err, errlen) < 0)
        return -1;
    discover_all(k, c);
    return 0;
}

/* ------------------------------------------------------------ events */

static void on_label(mq_sink *k, const snk_event *e)
{
    char mid[512], num[16];
    size_t len;
    topic_mid(mid, sizeof mid, e->stream, e);
    char *line = ev_label(e, &len);
    if (line)
        send_msg(k, mid, "label", line, len);
    free(line);
    if (e->label.k < 1)
        return;
    const snk_class *top = &e->label.top[0];
    const char *name = top->label;
    if (!name) {
        snprintf(num, sizeof num, "%d", top->cls);
        name = num;
    }
    mstream *s = stream_of(k, mid);
    if (!s || (s->label && strcmp(s->label, name) == 0))
        return;
    /* the state changed: retained, so a late subscriber finds it */
    json_buf b = JSON_BUF_INIT;
    struct timespec since = { (time_t)(e->label.capture_us / 1000000),
                              (long)(e->label.capture_us % 1000000) * 1000 };
    json_begin(&b);
    json_key(&b, "label");
    json_str(&b, name);
    json_key(&b, "score");
    json_num(&b, top->score);
    json_key(&b, "since");
    json_time(&b, &since);
    json_end(&b);
    char *state = json_take(&b), *label = strdup(name);
    if (!state || !label) {
        free(state);
        free(label);
        return;
    }
    free(s->label);
    free(s->state);
    s->label = label;
    s->state = state;
    send_retained(k, mid, "state", state);
}

static void on_state(mq_sink *k, const snk_event *e)
{
    char mid[512];
    size_t len;
    topic_mid(mid, sizeof mid, e->stream, e);
    mstream *s = stream_of(k, mid);
    char *line = ev_stream_state(e, &len);
    if (!s || !line) {
        free(line);
        return;
    }
    free(s->status);
    s->status = line;
    send_retained(k, mid, "status", line);
}

static void on_stats(mq_sink *k, const snk_event *e)
{
    json_buf b = JSON_BUF_INIT;
    struct timespec ts = { (time_t)(e->time_us / 1000000), (long)(e->time_us % 1000000) * 1000 };
    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "stats");
    json_key(&b, "interval_s");
    json_num(&b, e->stats.seconds);
    json_key(&b, "subscribers");
    json_int(&b, e->stats.subscribers);
    json_key(&b, "classified_fps");
    json_num(&b, e->stats.classified_fps);
    json_key(&b, "events_dropped");
    json_uint(&b, e->stats.drops.queue);
    json_key(&b, "socket_dropped");
    json_uint(&b, e->stats.drops.socket);
    json_key(&b, "mqtt_dropped");
    json_uint(&b, e->stats.drops.mqtt);
    json_key(&b, "streams");
    json_array_begin(&b);
    for (int i = 0; i < e->stats.n; i++) {
        json_item(&b);
        json_begin(&b);
        ev_stats_members(&b, &e->stats.streams[i], e->stats.seconds);
        json_end(&b);
    }
    json_array_end(&b);
    json_key(&b, "time");
    json_time(&b, &ts);
    json_end(&b);
    if (!b.failed)
        send_msg(k, NULL, "stats", b.s, b.len);
    json_release(&b);
}

static void mqtt_event(void *self, const snk_event *e)
{
    mq_sink *k = self;
    switch (e->kind) {
    case SNK_LABEL:
        on_label(k, e);
        return;
    case SNK_STATE:
        on_state(k, e);
        return;
    case SNK_STATS:
        on_stats(k, e);
        return;
    }
}

/* ------------------------------------------------------------ reports */

static void mqtt_counters(void *self, snk_counters *out)
{
    mq_sink *k = self;
    mq_stats st = { 0 };
    if (k->conn)
        mq_get_stats(k->conn, &st);
    out->clients = st.state == MQ_CONNECTED;
    out->sent = st.sent;
    out->dropped = st.dropped + k->dropped;
}

static void mqtt_status(void *self, json_buf *b)
{
    mq_sink *k = self;
    mq_stats st = { .state = MQ_FAILED };
    if (k->conn)
        mq_get_stats(k->conn, &st);
    else
        snprintf(st.error, sizeof st.error, "%s", k->error);
    json_key(b, "mqtt");
    json_begin(b);
    json_key(b, "state");
    json_str(b, mq_state_name(st.state));
    if (st.error[0]) {
        json_key(b, "error");
        json_str(b, st.error);
    }
    json_key(b, "broker");
    json_str(b, k->broker);
    json_key(b, "client_id");
    json_str(b, k->client_id);
    json_key(b, "topic_prefix");
    json_str(b, k->prefix);
    json_key(b, "queued");
    json_int(b, st.queued);
    json_key(b, "sent");
    json_uint(b, st.sent);
    json_key(b, "dropped");
    json_uint(b, st.dropped + k->dropped);
    json_end(b);
}

static void mqtt_close(void *self)
{
    mq_sink *k = self;
    if (!k)
        return;
    mq_stop(k->conn, STOP_MS);
    settings_free(k);
    lc_map_free(k->streams, free_stream);
    lc_map_free(k->discovered, NULL);
    free(k);
}

/* --check-config: the files [mqtt] names that only the sink reads. */
static int mqtt_check(const cfg *c, const char *path, char *err, size_t errlen)
{
    const cfg_mqtt *m = &c->mqtt;
    const struct { const char *key, *file; } files[] = {
        { "ca_file", m->ca_file }, { "cert_file", m->cert_file }, { "key_file", m->key_file },
    };
    char why[400];
    if (m->password_file[0]) {
        char *pw;
        int ret = read_password(m->password_file, &pw, why, sizeof why);
        if (ret != CFG_OK) {
            /* the hint only where reading failed: an empty file was read */
            snprintf(err, errlen, "%s:%d: [mqtt] %s%s", path, m->line, why,
                     ret == CFG_EIO ? " (the lcnetd user must be able to read it)" : "");
            return -1;
        }
        wipe_free(pw);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!files[i].file[0])
            continue;
        FILE *f = fopen(files[i].file, "re");
        if (!f) {
            snprintf(err, errlen, "%s:%d: [mqtt] %s %s: cannot read: %s (the lcnetd user must "
                     "be able to read it)", path, m->line, files[i].key, files[i].file,
                     strerror(errno));
            return -1;
        }
        fclose(f);
    }
    return 0;
}

const snk_ops snk_mqtt_ops = {
    .name = "mqtt",
    .wanted = mqtt_wanted,
    .check = mqtt_check,
    .open = mqtt_open,
    .reload = mqtt_reload,
    .event = mqtt_event,
    .counters = mqtt_counters,
    .status = mqtt_status,
    .close = mqtt_close,
};
