/* keys.c: the lcnetd.ini schema, one row per key.
 *
 * Adding a key is one row here, a field in config.h and an entry in
 * lcnetd.ini(5); tests/test_config_docs.c fails until the man page has it.
 * Ranges are what still makes sense on real hardware and streams, wide
 * enough not to get in an operator's way, narrow enough to catch a slipped
 * digit or a value in the wrong unit.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config/table.h"
#include "engine/engine.h"

#define D(f) offsetof(cfg_daemon, f)
#define M(f) offsetof(cfg_model, f)
#define S(f) offsetof(cfg_stream, f)
#define Q(f) offsetof(cfg_mqtt, f)
#define P(f) offsetof(cfg_metrics, f)
#define R(f) offsetof(cfg_region, f)

/* Stored as syslog priorities so the logger can use them unchanged. */
static const cfg_word log_levels[] = {
    { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
    { "warning", LOG_WARNING }, { "error", LOG_ERR }, { NULL, 0 },
};
/* The engine owns these four: the words map straight to its values. */
static const cfg_word precisions[] = {
    { "fp32", ENG_PREC_FP32 }, { "bf16", ENG_PREC_BF16 }, { "fp16", ENG_PREC_FP16 },
    { "int8", ENG_PREC_INT8 }, { "auto", ENG_PREC_AUTO }, { NULL, 0 },
};
static const cfg_word backends[] = {
    { "auto", ENG_BACKEND_AUTO }, { "onednn", ENG_BACKEND_ONEDNN },
    { "xnnpack", ENG_BACKEND_XNNPACK }, { NULL, 0 },
};
static const cfg_word resizes[] = {
    { "model", ENG_RESIZE_DEFAULT }, { "short-crop", ENG_RESIZE_SHORT_CROP },
    { "stretch", ENG_RESIZE_STRETCH }, { NULL, 0 },
};
static const cfg_word orders[] = {
    { "model", ENG_ORDER_MODEL }, { "rgb", ENG_ORDER_RGB },
    { "bgr", ENG_ORDER_BGR }, { NULL, 0 },
};
static const cfg_word transports[] = {
    { "tcp", CFG_TRANSPORT_TCP }, { "udp", CFG_TRANSPORT_UDP },
    { "auto", CFG_TRANSPORT_AUTO }, { NULL, 0 },
};
static const cfg_word publishes[] = {
    { "every", CFG_PUBLISH_EVERY }, { "change", CFG_PUBLISH_CHANGE }, { NULL, 0 },
};
static const cfg_word skips[] = {
    { "auto", CFG_SKIP_AUTO }, { "none", CFG_SKIP_NONE }, { NULL, 0 },
};

/* Only the socket and what sizes threads or engine buffers need a restart;
 * the rest the daemon applies on SIGHUP. */
static const cfg_key daemon_keys[] = {
    { "socket", CFG_T_PATH, D(socket), 0, 107, "/run/lcnetd/events.sock",
      CFG_F_RESTART, NULL,
      "event socket, used when systemd does not pass one" },
    { "socket_mode", CFG_T_MODE, D(socket_mode), 0, 0777, "0660",
      CFG_F_RESTART, NULL,
      "permissions of that socket; never writable by others" },
    { "inference_cpus", CFG_T_CPUS, D(inference_cpus), 0, 0, "",
      CFG_F_RESTART, NULL,
      "CPUs for inference; their number is the thread count; empty = the upper half of the CPUs "
      "the daemon may run on (the highest-numbered, rounded down, at least one)" },
    { "decode_cpus", CFG_T_CPUS, D(decode_cpus), 0, 0, "",
      CFG_F_RESTART, NULL,
      "CPUs for stream ingest and decoding; empty = not pinned" },
    { "max_batch", CFG_T_INT, D(max_batch), 0, CFG_MAX_BATCH, "0",
      CFG_F_RESTART, NULL,
      "frames from different streams classified in one inference call; 0 = one per inference CPU, "
      "at most 64" },
    { "queue_frames", CFG_T_INT, D(queue_frames), 1, 300, "8",
      CFG_F_RESTART, NULL,
      "frames a stream holds for inference; when full the oldest is skipped" },
    { "log_level", CFG_T_ENUM, D(log_level), 0, 0, "info", 0, log_levels,
      "least severe message logged" },
    { "stats_interval", CFG_T_INT, D(stats_interval), 1, 3600, "10", 0, NULL,
      "seconds between per-stream stats events" },
    { "subscriber_buffer", CFG_T_INT, D(subscriber_buffer), 4096, 67108864,
      "262144", 0, NULL,
      "bytes of events queued per subscriber; beyond, its lines are dropped" },
    { "max_subscribers", CFG_T_INT, D(max_subscribers), 1, 65536, "256", 0, NULL,
      "event socket connections served at once" },
    { "allow_root", CFG_T_BOOL, D(allow_root), 0, 0, "no", CFG_F_RESTART, NULL,
      "allow running as root" },
    { "snapshot_dir", CFG_T_PATH, D(snapshot_dir), 0, 4000, "/var/lib/lcnetd/snapshots",
      CFG_F_RESTART, NULL,
      "where streams with snapshot = yes keep their JPEGs, one folder per stream" },
    { "snapshot_queue", CFG_T_INT, D(snapshot_queue), 1, 1000, "16", CFG_F_RESTART, NULL,
      "snapshots waiting to be encoded and written; when full, more are dropped and counted" },
};

static const cfg_key model_keys[] = {
    { "path", CFG_T_PATH, M(path), 0, 0, "/var/lib/lcnetd/model.onnx", 0, NULL,
      "ONNX file or PaddlePaddle inference folder" },
    { "labels", CFG_T_PATH, M(labels), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "labels file; empty = the model's, else class numbers" },
    { "precision", CFG_T_ENUM, M(precision), 0, 0, "fp32", 0, precisions,
      "arithmetic for inference" },
    { "backend", CFG_T_ENUM, M(backend), 0, 0, "auto", 0, backends,
      "library that computes: auto = XNNPACK on arm64, oneDNN elsewhere" },
    { "resize", CFG_T_ENUM, M(resize), 0, 0, "model", 0, resizes,
      "how frames are fitted to the model input" },
    { "top_k", CFG_T_INT, M(top_k), 1, 100, "3", 0, NULL,
      "labels per classification event" },
    { "mean", CFG_T_VEC3, M(mean), 0, 255, "", CFG_F_EMPTY_OK, NULL,
      "per-channel mean; empty = the model's, else ImageNet" },
    { "std", CFG_T_VEC3, M(std), 0, 255, "", CFG_F_EMPTY_OK | CFG_F_ABOVE_MIN,
      NULL, "per-channel standard deviation; empty = the model's, else ImageNet" },
    { "scale", CFG_T_DOUBLE, M(scale), 0, 1, "0", 0, NULL,
      "pixel scale before mean and std; 0 = the model's, else 1/255" },
    { "channel_order", CFG_T_ENUM, M(channel_order), 0, 0, "model", 0, orders,
      "channel order the model expects" },
    { "calibration", CFG_T_PATH, M(calibration), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "int8 scales file; empty = next to the model" },
    { "thresholds", CFG_T_SCORES, M(thresholds), 0, 1000, "", CFG_F_EMPTY_OK, NULL,
      "a label's own min_score, overriding the stream's, like covered:0.8, noise:0.6" },
    { "ignore", CFG_T_LIST, M(ignore), 0, 1000, "", CFG_F_EMPTY_OK, NULL,
      "labels never published (they still count as changes of state), like normal" },
};

static const cfg_key stream_keys[] = {
    { "url", CFG_T_URL, S(url), 0, 0, NULL, CFG_F_REQUIRED, NULL,
      "source: rtsp(s)://, http(s)://, a file, or a V4L2 device" },
    { "password_file", CFG_T_PATH, S(password_file), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "file whose first line is the url's password; empty = the url's own" },
    { "rtsp_transport", CFG_T_ENUM, S(rtsp_transport), 0, 0, "tcp", 0, transports,
      "RTSP: transport of the media" },
    { "sample_fps", CFG_T_DOUBLE, S(sample_fps), 0, 1000, "0", 0, NULL,
      "frames per second classified; 0 = every decoded frame" },
    { "min_score", CFG_T_DOUBLE, S(min_score), 0, 1, "0", 0, NULL,
      "results whose top-1 score is below this are not published" },
    { "publish", CFG_T_ENUM, S(publish), 0, 0, "every", 0, publishes,
      "publish every result, or only when the top-1 label changes" },
    { "hysteresis", CFG_T_INT, S(hysteresis), 1, 1000, "3", 0, NULL,
      "publish=change: frames a new top-1 label must hold" },
    { "loop", CFG_T_BOOL, S(loop), 0, 0, "no", 0, NULL,
      "files and sources with a duration: start again at the end" },
    { "realtime", CFG_T_BOOL, S(realtime), 0, 0, "yes", 0, NULL,
      "files and sources with a duration: play at their frame rate; no = as fast as inference "
      "goes" },
    { "open_timeout", CFG_T_DOUBLE, S(open_timeout), 0.1, 600, "10", 0, NULL,
      "seconds to open the source before retrying" },
    { "stall_timeout", CFG_T_DOUBLE, S(stall_timeout), 0.5, 3600, "10", 0, NULL,
      "seconds without a video packet before reconnecting" },
    { "backoff_min", CFG_T_DOUBLE, S(backoff_min), 0.01, 3600, "0.5", 0, NULL,
      "first reconnect delay in seconds" },
    { "backoff_max", CFG_T_DOUBLE, S(backoff_max), 0.01, 86400, "30", 0, NULL,
      "longest reconnect delay in seconds; at least backoff_min" },
    { "auth_backoff_max", CFG_T_DOUBLE, S(auth_backoff_max), 1, 86400, "600", 0, NULL,
      "longest delay in seconds after a refused login; the first is 30 s, or this if less" },
    { "decode_skip", CFG_T_ENUM, S(decode_skip), 0, 0, "auto", 0, skips,
      "may frames sample_fps drops skip decoding" },
    { "deblock", CFG_T_BOOL, S(deblock), 0, 0, "no", 0, NULL,
      "run the codec's in-loop deblocking filter; no saves about a third of H.264 decoding" },
    { "enabled", CFG_T_BOOL, S(enabled), 0, 0, "yes", 0, NULL,
      "no = keep the section but do not run the stream" },
    { "snapshot", CFG_T_BOOL, S(snapshot), 0, 0, "no", 0, NULL,
      "save a JPEG of the frame of each change of the top-1 label, whatever publish says" },
    { "snapshot_keep", CFG_T_INT, S(snapshot_keep), 1, 1000000, "1000", 0, NULL,
      "snapshots kept at most; beyond, the oldest are removed" },
    { "snapshot_max_mb", CFG_T_DOUBLE, S(snapshot_max_mb), 0.01, 1048576, "256", 0, NULL,
      "megabytes (MiB) of snapshots kept at most; beyond, the oldest are removed" },
    { "crop", CFG_T_CROP, S(crop), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "the part of the frame classified, in pixels of the decoded frame or in percent of it; "
      "empty = the whole frame" },
    { "regions", CFG_T_NAMES, S(region_list), 0, CFG_REGIONS_MAX, "", CFG_F_EMPTY_OK, NULL,
      "[region:NAME] sections classified instead of the whole frame, each as a source of its own; "
      "empty = the whole frame" },
    { "model", CFG_T_LIST, S(model), 0, 32, "", CFG_F_EMPTY_OK, NULL,
      "models that classify it: default ([model]) or NAMEs of [model:NAME]; empty = default" },
};

/* A region is a crop with a name; what else a source may set stays with
 * its stream. */
static const cfg_key region_keys[] = {
    { "crop", CFG_T_CROP, R(crop), 0, 0, NULL, CFG_F_REQUIRED, NULL,
      "the part of the frame classified as this region, in pixels of the decoded frame or in "
      "percent of it" },
};

/* A reload applies every [mqtt] change: the MQTT sink reconnects with the
 * new settings, and the streams keep running. */
static const cfg_key mqtt_keys[] = {
    { "host", CFG_T_NAME, Q(host), 0, 253, "", CFG_F_EMPTY_OK, NULL,
      "broker's host name or address; empty = no MQTT" },
    { "port", CFG_T_INT, Q(port), 1, 65535, "1883", 0, NULL,
      "broker's port (8883 is the usual one for TLS)" },
    { "client_id", CFG_T_NAME, Q(client_id), 0, 128, "", CFG_F_EMPTY_OK, NULL,
      "MQTT client id; empty = lcnetd- and the topic prefix" },
    { "username", CFG_T_NAME, Q(username), 0, 256, "", CFG_F_EMPTY_OK, NULL,
      "user name to log in with; empty = anonymous" },
    { "password_file", CFG_T_PATH, Q(password_file), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "file whose first line is the password of username; empty = none" },
    { "ca_file", CFG_T_PATH, Q(ca_file), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "CA certificates (PEM) the broker's certificate must chain to; set = TLS" },
    { "cert_file", CFG_T_PATH, Q(cert_file), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "TLS client certificate (PEM); with key_file" },
    { "key_file", CFG_T_PATH, Q(key_file), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "private key of cert_file (PEM, not encrypted)" },
    { "keepalive", CFG_T_INT, Q(keepalive), 5, 3600, "30", 0, NULL,
      "seconds between pings; a broker silent for 1.5 times this is taken as gone" },
    { "qos", CFG_T_INT, Q(qos), 0, 1, "0", 0, NULL,
      "MQTT quality of service of every message, 0 or 1" },
    { "topic_prefix", CFG_T_TOPIC, Q(topic_prefix), 0, 200, "", CFG_F_EMPTY_OK, NULL,
      "first levels of every topic; empty = lcnetd/ and the host name" },
    { "queue", CFG_T_INT, Q(queue), 16, 1000000, "1000", 0, NULL,
      "messages held while the broker is slow or away; beyond, the oldest are dropped" },
    { "backoff_min", CFG_T_DOUBLE, Q(backoff_min), 0.1, 3600, "1", 0, NULL,
      "first reconnect delay in seconds" },
    { "backoff_max", CFG_T_DOUBLE, Q(backoff_max), 0.1, 86400, "60", 0, NULL,
      "longest reconnect delay in seconds, and the delay after a refused login" },
    { "homeassistant", CFG_T_BOOL, Q(homeassistant), 0, 0, "no", 0, NULL,
      "publish Home Assistant discovery: one sensor per stream" },
    { "homeassistant_prefix", CFG_T_TOPIC, Q(homeassistant_prefix), 0, 200, "homeassistant",
      0, NULL, "Home Assistant's discovery prefix" },
};

static const cfg_key metrics_keys[] = {
    { "listen", CFG_T_LISTEN, P(listen), 0, 0, "", CFG_F_EMPTY_OK, NULL,
      "address and port of the Prometheus endpoint, like 127.0.0.1:9464; empty = off" },
};

#define NKEYS(a) ((int)(sizeof a / sizeof a[0]))
const cfg_section cfg_sec_daemon = { "daemon", daemon_keys, NKEYS(daemon_keys),
                                     offsetof(cfg, daemon) };
const cfg_section cfg_sec_model = { "model", model_keys, NKEYS(model_keys),
                                    offsetof(cfg, model) };
const cfg_section cfg_sec_stream = { "stream", stream_keys, NKEYS(stream_keys), 0 };
const cfg_section cfg_sec_region = { "region", region_keys, NKEYS(region_keys), 0 };
const cfg_section cfg_sec_mqtt = { "mqtt", mqtt_keys, NKEYS(mqtt_keys), offsetof(cfg, mqtt) };
const cfg_section cfg_sec_metrics = { "metrics", metrics_keys, NKEYS(metrics_keys),
                                      offsetof(cfg, metrics) };
const cfg_section *const cfg_singles[] = { &cfg_sec_daemon, &cfg_sec_model, &cfg_sec_mqtt,
                                           &cfg_sec_metrics, NULL };

const cfg_key *cfg_sec_key(const cfg_section *s, const char *name)
{
    for (int i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return &s->keys[i];
    return NULL;
}

int cfg_sec_defaults(const cfg_section *s, void *base, char *why, size_t len)
{
    for (int i = 0; i < s->nkeys; i++) {
        const cfg_key *k = &s->keys[i];
        if (!k->def)
            continue;
        int ret = cfg_value_set(k, base, k->def, why, len);
        if (ret == CFG_EINVAL) {
            /* A bad row, not a bad file: say so, so nobody hunts the ini. */
            char sub[128];
            snprintf(sub, sizeof sub, "%s", why);
            snprintf(why, len, "built-in default of [%s] %s: %s", s->name,
                     k->name, sub);
        }
        if (ret < 0)
            return ret;
    }
    return 0;
}

void cfg_sec_free(const cfg_section *s, void *base)
{
    for (int i = 0; i < s->nkeys; i++)
        cfg_value_free(&s->keys[i], base);
}

int cfg_sec_equal(const cfg_section *s, const void *a, const void *b)
{
    for (int i = 0; i < s->nkeys; i++)
        if (!cfg_value_equal(&s->keys[i], a, b))
            return 0;
    return 1;
}

int cfg_doc_get(int i, cfg_doc *d)
{
    static const cfg_section *const secs[] = {
        &cfg_sec_daemon, &cfg_sec_model, &cfg_sec_stream, &cfg_sec_region, &cfg_sec_mqtt,
        &cfg_sec_metrics,
    };
    if (i < 0)
        return -1;
    for (size_t j = 0; j < sizeof secs / sizeof secs[0]; j++) {
        const cfg_section *s = secs[j];
        if (i >= s->nkeys) {
            i -= s->nkeys;
            continue;
        }
        const cfg_key *k = &s->keys[i];
        d->section = s == &cfg_sec_stream ? "stream:NAME" : s == &cfg_sec_region ? "region:NAME" :
                     s->name;
        d->key = k->name;
        d->type = cfg_type_name(k->type);
        d->def = k->def ? k->def : "";
        d->doc = k->doc;
        cfg_value_range(k, d->range, sizeof d->range);
        d->required = !!(k->flags & CFG_F_REQUIRED);
        d->restart = !!(k->flags & CFG_F_RESTART);
        return 0;
    }
    return -1;
}
