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

/* Enum values follow the engine's order (engine/engine.h) so the mapping in
 * main stays a line per value; main should still map them by name. */
enum { CFG_PREC_FP32 = 0, CFG_PREC_BF16, CFG_PREC_INT8, CFG_PREC_AUTO, CFG_PREC_FP16 };
enum { CFG_BACKEND_AUTO = 0, CFG_BACKEND_ONEDNN, CFG_BACKEND_XNNPACK };
enum { CFG_RESIZE_MODEL = 0, CFG_RESIZE_SHORT_CROP, CFG_RESIZE_STRETCH };
enum { CFG_ORDER_MODEL = -1, CFG_ORDER_RGB = 0, CFG_ORDER_BGR = 1 };
enum { CFG_TRANSPORT_TCP = 0, CFG_TRANSPORT_UDP, CFG_TRANSPORT_AUTO };
enum { CFG_PUBLISH_EVERY = 0, CFG_PUBLISH_CHANGE };
enum { CFG_SKIP_AUTO = 0, CFG_SKIP_NONE };
/* Streams a config may hold: the scheduler's table is this size, and a
 * stream past it would be silently left out of inference. */
enum { CFG_STREAMS_MAX = 1024 };

/* What a stream's url names, decided once here so ingest need not re-parse. */
enum { CFG_URL_RTSP = 0, CFG_URL_HTTP, CFG_URL_FILE, CFG_URL_DEVICE };

/* The most frames one inference call takes: the range of max_batch, and
 * the cap on its default (one per inference CPU).  The scheduler sizes its
 * batch from max_batch and the engine compiles plans up to it. */
#define CFG_MAX_BATCH 64

typedef struct cfg_daemon {
    char *socket;              /* used when systemd passes no socket */
    unsigned socket_mode;      /* never has o+w or bits above 0777 */
    cfg_cpus inference_cpus;   /* after load: never empty (all usable CPUs) */
    cfg_cpus decode_cpus;      /* count == 0: ingest threads not pinned */
    int max_batch;             /* after load: 1..CFG_MAX_BATCH */
    int queue_frames;          /* per stream, waiting for inference */
    int log_level;             /* a syslog priority, LOG_ERR..LOG_DEBUG */
    int stats_interval;        /* seconds */
    int subscriber_buffer;     /* bytes */
    int max_subscribers;
    int allow_root;
} cfg_daemon;

typedef struct cfg_model {
    char *path;                /* .onnx file or Paddle inference folder */
    char *labels;              /* "" = from the model, else class numbers */
    int precision;             /* CFG_PREC_* */
    int backend;               /* CFG_BACKEND_* */
    int resize;                /* CFG_RESIZE_* */
    int top_k;
    cfg_vec3 mean, std;        /* unset = the model's, else ImageNet */
    double scale;              /* 0 = the model's, else 1/255 */
    int channel_order;         /* CFG_ORDER_* */
    char *calibration;         /* "" = next to the model */
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
    int decode_skip;           /* CFG_SKIP_* */
    int deblock;               /* run the in-loop deblocking filter */
} cfg_stream;

typedef struct cfg {
    cfg_daemon daemon;
    cfg_model model;
    cfg_stream *streams;       /* in file order; none is valid (idle daemon) */
    int nstreams;
} cfg;

/* Read and check a config.  On success *out is a new cfg the caller frees
 * with cfg_free.  On failure *out is NULL and err holds up to a few lines,
 * the first error first.  `name` stands for the file in messages. */
int cfg_load_file(cfg **out, const char *path, char *err, size_t errlen);
int cfg_load_string(cfg **out, const char *text, const char *name,
                    char *err, size_t errlen);
void cfg_free(cfg *c);

const cfg_stream *cfg_find_stream(const cfg *c, const char *name);

/* For SIGHUP: a stream whose settings compare equal keeps running; any
 * [model] change means a new engine.  Line numbers are not compared. */
int cfg_stream_equal(const cfg_stream *a, const cfg_stream *b);
int cfg_model_equal(const cfg_model *a, const cfg_model *b);

/* Compare [daemon] sections.  Returns 0 when equal, else CFG_DIFF_LIVE if
 * keys that a reload can apply changed, OR CFG_DIFF_RESTART if keys that
 * only a restart applies (socket, socket_mode, ...) changed; their names go
 * comma-separated into `restart_keys` (may be NULL) for the log line. */
enum { CFG_DIFF_LIVE = 1, CFG_DIFF_RESTART = 2 };
int cfg_daemon_diff(const cfg_daemon *old, const cfg_daemon *next,
                    char *restart_keys, size_t len);

/* "0,2-3" form of a CPU list, for log lines.  Returns the length it needed,
 * like snprintf. */
int cfg_cpus_format(const cfg_cpus *c, char *buf, size_t len);

/* The schema, one key at a time, for --help output and the test that keeps
 * lcnetd.ini(5) complete.  Fills *d for key i and returns 0; returns -1
 * once i is past the last key. */
typedef struct cfg_doc {
    const char *section;       /* "daemon", "model" or "stream:NAME" */
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
