/* config.h: lcnetd.ini, read into plain structs.
 *
 * The daemon's main loads the file at start and again on SIGHUP; nothing
 * here keeps state between loads, so a rejected reload leaves the running
 * config untouched.  Every key, its type, range, default and one line of
 * documentation sit in one table row (config/keys.c); lcnetd.ini(5) is
 * written from the same rows and a test keeps the two in step.
 *
 * Errors come back as a code plus text in the caller's buffer, one line per
 * problem, each "FILE:LINE: [section] key: what is wrong (expected ...)".
 */
#ifndef LCNETD_CONFIG_H
#define LCNETD_CONFIG_H

#include <sched.h>
#include <stddef.h>

enum {
    CFG_OK = 0,
    CFG_EINVAL = -1,   /* the text is not a valid config */
    CFG_EIO = -2,      /* the file could not be read */
    CFG_ENOMEM = -3,
};

/* A CPU list as written ("0,2-3").  count == 0: the list was empty. */
typedef struct cfg_cpus {
    cpu_set_t set;
    int count;
} cfg_cpus;

/* Three per-channel floats (mean, std); set == 0: not given in the file. */
typedef struct cfg_vec3 {
    float v[3];
    int set;
} cfg_vec3;

enum { CFG_TRANSPORT_TCP = 0, CFG_TRANSPORT_UDP, CFG_TRANSPORT_AUTO };
enum { CFG_PUBLISH_EVERY = 0, CFG_PUBLISH_CHANGE };
enum { CFG_SKIP_AUTO = 0, CFG_SKIP_NONE };
/* Streams a config may hold: the scheduler's table is this size, and a
 * stream past it would be silently left out of inference. */
enum { CFG_STREAMS_MAX = 1024 };
/* Sources, each a (stream, region, model) classified on its own: per
 * stream, and in all.  The scheduler's table is CFG_SOURCES_MAX long. */
enum { CFG_SOURCES_PER_STREAM = 64, CFG_SOURCES_MAX = 4096 };

/* What a stream's url names, decided once here so ingest need not re-parse. */
enum { CFG_URL_RTSP = 0, CFG_URL_HTTP, CFG_URL_FILE, CFG_URL_DEVICE };

/* The most frames one inference call takes: the range of max_batch, and
 * the cap on its default (one per inference CPU).  The scheduler sizes its
 * batch from max_batch and the engine compiles plans up to it. */
#define CFG_MAX_BATCH 64

/* A crop as written: x, y, width, height, each in pixels of the decoded
 * frame or in percent of it (its bit in pct set).  set == 0: none, the
 * whole frame.  Only the frame's size turns it into pixels: see
 * media/crop.h. */
typedef struct cfg_crop {
    double v[4];
    unsigned pct;
    int set;
} cfg_crop;

/* [region:NAME]: a part of the frame classified as a source of its own by
 * every stream whose `regions` list names it. */
typedef struct cfg_region {
    char *name;                /* the NAME of [region:NAME]; `region` in events */
    int line;                  /* of the section header, for messages */
    cfg_crop crop;
} cfg_region;

/* Regions one stream may list: each is a source of its own. */
enum { CFG_REGIONS_MAX = 16 };

typedef struct cfg_daemon {
    char *socket;              /* used when systemd passes no socket */
    unsigned socket_mode;      /* never has o+w or bits above 0777 */
    cfg_cpus inference_cpus;   /* after load: never empty (empty in the file: the
                                  upper half of the usable CPUs, at least one) */
    cfg_cpus decode_cpus;      /* count == 0: ingest threads not pinned */
    int max_batch;             /* after load: 1..CFG_MAX_BATCH */
    int queue_frames;          /* per stream, waiting for inference */
    int log_level;             /* a syslog priority, LOG_ERR..LOG_DEBUG */
    int stats_interval;        /* seconds */
    int subscriber_buffer;     /* bytes */
    int max_subscribers;
    int allow_root;
    char *snapshot_dir;        /* each stream's snapshots in a folder of its name */
    int snapshot_queue;        /* snapshots waiting for the writer at most */
} cfg_daemon;

typedef struct cfg_model {
    char *name;                /* NULL for [model]; the NAME of [model:NAME] */
    int line;                  /* of the section header; 0 for a [model] not written */
    /* where thresholds and ignore are set, for the messages of the check
     * against the model's labels, which only a load can make (0: not set) */
    int thresholds_line, ignore_line;
    char *path;                /* .onnx file or Paddle inference folder */
    char *labels;              /* "" = from the model, else class numbers */
    int precision;             /* eng_precision (engine/engine.h owns the values) */
    int backend;               /* eng_backend */
    int resize;                /* eng_resize */
    int top_k;
    cfg_vec3 mean, std;        /* unset = the model's, else ImageNet */
    double scale;              /* 0 = the model's, else 1/255 */
    int channel_order;         /* eng_order; ENG_ORDER_MODEL = the model's */
    char *calibration;         /* "" = next to the model */
    char *thresholds;          /* "LABEL:SCORE, ...": a label's own min_score; "" = none */
    char *ignore;              /* "LABEL, ...": labels never published; "" = none */
} cfg_model;

typedef struct cfg_stream {
    char *name;                /* the NAME of [stream:NAME]; the id in events */
    int line;                  /* of the section header, for messages */
    char *url;
    int url_kind;              /* CFG_URL_* */
    char *password_file;       /* "" = none */
    char *password;            /* its first line, read at load; NULL = none.
                                  Never printed: not a key of the table */
    int rtsp_transport;        /* CFG_TRANSPORT_* */
    double sample_fps;         /* 0 = every decoded frame */
    double min_score;
    int publish;               /* CFG_PUBLISH_* */
    int hysteresis;            /* frames */
    int loop, realtime, enabled;
    double open_timeout, stall_timeout;   /* seconds */
    double backoff_min, backoff_max;      /* seconds, min <= max */
    double auth_backoff_max;   /* seconds: after a refused login (401, 403) */
    int decode_skip;           /* CFG_SKIP_* */
    int deblock;               /* run the in-loop deblocking filter */
    cfg_crop crop;             /* of the whole stream's frame; unset = none */
    char *region_list;         /* `regions` as written, names comma-separated */
    int regions_line;          /* of the regions key, for messages; 0 = not set */
    cfg_region *regions;       /* after load: the [region:NAME]s it lists, in its
                                  order, copies of them; NULL = the whole frame */
    int nregions;
    char *model;               /* "NAME, ...": the models classifying it; "" = [model]'s */
    int model_line;            /* where model is set; 0: not set */
    int snapshot;              /* a JPEG of the frame of each top-1 change */
    int snapshot_keep;         /* files kept at most, the oldest removed first */
    double snapshot_max_mb;    /* and megabytes (MiB) */
} cfg_stream;

/* [mqtt]: the broker the MQTT sink publishes to (daemon/sink_mqtt.c). */
typedef struct cfg_mqtt {
    int line;                  /* of the section header, for messages; 0 = none */
    char *host;                /* "" = no MQTT */
    int port;
    char *client_id;           /* "" = "lcnetd-" + the topic prefix */
    char *username;            /* "" = none */
    char *password_file;       /* "" = none; the sink reads it, the secret is
                                  never kept here */
    char *ca_file;             /* set: TLS, the broker's certificate checked against it */
    char *cert_file, *key_file;   /* a client certificate, both or neither */
    int keepalive;             /* seconds */
    int qos;                   /* 0 or 1 */
    char *topic_prefix;        /* "" = "lcnetd/<hostname>" */
    int queue;                 /* messages held for the broker at most */
    double backoff_min, backoff_max;   /* seconds, min <= max */
    int homeassistant;         /* publish Home Assistant discovery */
    char *homeassistant_prefix;
} cfg_mqtt;

/* [metrics]: the Prometheus endpoint (daemon/sink_metrics.c). */
typedef struct cfg_metrics {
    char *listen;              /* "ADDRESS:PORT"; "" = off */
} cfg_metrics;

/* [model:NAME] sections a config may hold. */
enum { CFG_MODELS_MAX = 32 };

typedef struct cfg {
    char *file;                /* the name the file was read as, for later messages */
    cfg_daemon daemon;
    cfg_model model;           /* [model]: the default model, named "default" */
    cfg_model *models;         /* [model:NAME], in file order */
    int nmodels;
    cfg_mqtt mqtt;
    cfg_metrics metrics;
    cfg_stream *streams;       /* in file order; none is valid (idle daemon) */
    int nstreams;
    cfg_region *regions;       /* [region:NAME] sections, in file order */
    int nregions;
} cfg;

/* Read and check a config.  On success *out is a new cfg the caller frees
 * with cfg_free.  On failure *out is NULL and err holds up to a few lines,
 * the first error first.  `name` stands for the file in messages. */
int cfg_load_file(cfg **out, const char *path, char *err, size_t errlen);
int cfg_load_string(cfg **out, const char *text, const char *name,
                    char *err, size_t errlen);
void cfg_free(cfg *c);

const cfg_stream *cfg_find_stream(const cfg *c, const char *name);
/* The model a stream's `model` names: CFG_DEFAULT_MODEL is [model]; NULL:
 * none of that name. */
#define CFG_DEFAULT_MODEL "default"
const cfg_model *cfg_find_model(const cfg *c, const char *name);

/* The items of a list value (a stream's model, a model's ignore and
 * thresholds), one per call from *pos on: the name into name (trimmed),
 * the score of a NAME:SCORE item into *score (-1: none).  Returns 0 at the
 * end.  The values were checked at load. */
int cfg_list_next(const char **pos, char *name, size_t len, double *score);

/* For SIGHUP: a stream whose settings compare equal keeps running, and so
 * does one whose models all compare equal; any change to a model means a
 * new engine for it.  Line numbers are not compared; the crops of the
 * regions a stream lists are. */
int cfg_stream_equal(const cfg_stream *a, const cfg_stream *b);
int cfg_model_equal(const cfg_model *a, const cfg_model *b);

/* Compare [daemon] sections.  Returns 0 when equal, else CFG_DIFF_LIVE if
 * keys that a reload can apply changed, OR CFG_DIFF_RESTART if keys that
 * only a restart applies (socket, socket_mode, ...) changed; their names go
 * comma-separated into `restart_keys` (may be NULL) for the log line. */
enum { CFG_DIFF_LIVE = 1, CFG_DIFF_RESTART = 2 };
int cfg_daemon_diff(const cfg_daemon *old, const cfg_daemon *next,
                    char *restart_keys, size_t len);

/* A password_file's first line, without its line end.  CFG_OK with *out
 * (malloc'd: wipe it before freeing); CFG_EIO with *err_no; CFG_PW_EMPTY,
 * CFG_PW_LONG (longer than CFG_PASSWORD_MAX bytes) or CFG_ENOMEM. */
enum { CFG_PASSWORD_MAX = 1024, CFG_PW_EMPTY = -4, CFG_PW_LONG = -5 };
int cfg_read_password(const char *path, char **out, int *err_no);

/* Copies of n regions (a stream keeps its own across reloads); NULL for
 * n == 0.  CFG_ENOMEM or 0.  Free with cfg_regions_free, which takes NULL. */
int cfg_regions_dup(cfg_region **out, const cfg_region *r, int n);
void cfg_regions_free(cfg_region *r, int n);

/* A crop as it would be written ("10%,0,50%,100%"), for messages and
 * events.  Returns the length it needed, like snprintf. */
int cfg_crop_format(const cfg_crop *c, char *buf, size_t len);

/* "0,2-3" form of a CPU list, for log lines.  Returns the length it needed,
 * like snprintf. */
int cfg_cpus_format(const cfg_cpus *c, char *buf, size_t len);

/* The schema, one key at a time, for --help output and the test that keeps
 * lcnetd.ini(5) complete.  Fills *d for key i and returns 0; returns -1
 * once i is past the last key. */
typedef struct cfg_doc {
    const char *section;       /* "daemon", "model", "stream:NAME", "region:NAME", "mqtt",
                                  "metrics" */
    const char *key;
    const char *type;          /* "path", "integer", "CPU list", ... */
    const char *def;           /* as written in a file; "" = empty */
    const char *doc;           /* one line */
    char range[160];           /* "1..64", "debug|info|...", ... */
    int required;
    int restart;               /* a change takes effect only on restart */
} cfg_doc;
int cfg_doc_get(int i, cfg_doc *d);

#endif
