/* table.h: the schema rows shared by the files of config/; not part of the API.
 *
 * A row says everything about a key: where it lives in its struct, how its
 * text is read, what range is allowed, its default (as text, read by the
 * same code as the file, so a default can never be something the file
 * could not say) and one line of documentation.
 */
#ifndef LCNETD_CONFIG_TABLE_H
#define LCNETD_CONFIG_TABLE_H

#include <stddef.h>

#include "config/config.h"

typedef enum {
    CFG_T_PATH,     /* char *, absolute; max = longest allowed, 0 = any */
    CFG_T_URL,      /* char *, a stream source */
    CFG_T_INT,      /* int in [min, max] */
    CFG_T_DOUBLE,   /* double in [min, max] */
    CFG_T_BOOL,     /* int 0/1 */
    CFG_T_ENUM,     /* int, one of words[] */
    CFG_T_MODE,     /* unsigned, octal permission bits */
    CFG_T_CPUS,     /* cfg_cpus */
    CFG_T_VEC3,     /* cfg_vec3, each value in [min, max] */
    CFG_T_NAME,     /* char *, printable, no blanks; max = longest allowed */
    CFG_T_TOPIC,    /* char *, MQTT topic levels without wildcards; max as NAME */
    CFG_T_LISTEN,   /* char *, "ADDRESS:PORT", a numeric IPv4 or [IPv6] address */
} cfg_type;

enum {
    CFG_F_REQUIRED = 1,   /* no default: the section must set it */
    CFG_F_EMPTY_OK = 2,   /* "" is a valid value (path, vec3) */
    CFG_F_RESTART = 4,    /* [daemon]: a reload cannot apply a change */
    CFG_F_ABOVE_MIN = 8,  /* value must be > min, not >= min */
};

typedef struct cfg_word {
    const char *word;
    int value;
} cfg_word;

typedef struct cfg_key {
    const char *name;
    cfg_type type;
    size_t off;
    double min, max;
    const char *def;
    unsigned flags;
    const cfg_word *words;   /* CFG_T_ENUM: ends with { NULL, 0 } */
    const char *doc;
} cfg_key;

typedef struct cfg_section {
    const char *name;        /* "daemon", "model", "stream", "mqtt", "metrics" */
    const cfg_key *keys;
    int nkeys;
    size_t base;             /* where its struct sits in cfg; unused for streams */
} cfg_section;

/* keys.c */
extern const cfg_section cfg_sec_daemon, cfg_sec_model, cfg_sec_stream, cfg_sec_mqtt,
    cfg_sec_metrics;
/* The sections written once, as [name]: NULL-terminated. */
extern const cfg_section *const cfg_singles[];
const cfg_key *cfg_sec_key(const cfg_section *s, const char *name);
int cfg_sec_defaults(const cfg_section *s, void *base, char *why, size_t len);
void cfg_sec_free(const cfg_section *s, void *base);
int cfg_sec_equal(const cfg_section *s, const void *a, const void *b);

/* value.c: the per-type code.  cfg_value_set writes the value or, for
 * CFG_EINVAL, the "what is wrong (expected ...)" part of a message. */
int cfg_value_set(const cfg_key *k, void *base, const char *text,
                  char *why, size_t len);
void cfg_value_free(const cfg_key *k, void *base);
int cfg_value_equal(const cfg_key *k, const void *a, const void *b);
void cfg_value_range(const cfg_key *k, char *buf, size_t len);
const char *cfg_type_name(cfg_type t);
int cfg_url_kind(const char *url);
/* Quote a value for a message: cut long, no control characters, no URL
 * password. */
void cfg_value_show(const char *text, char *buf, size_t len);
int cfg_cpus_parse(cfg_cpus *c, const char *text, char *why, size_t len);

/* cpus.c: the CPUs this process may run on (its affinity mask); the
 * default inference CPUs (the upper half of those); and whether a list
 * names only CPUs pinning can use: 0, or CFG_EINVAL with the reason
 * ("CPU 7 does not exist on this machine ...") in why. */
void cfg_cpus_usable(cfg_cpus *out);
void cfg_cpus_default_inference(cfg_cpus *out);
int cfg_cpus_check(const cfg_cpus *want, char *why, size_t len);

/* value_text.c: CFG_T_NAME, CFG_T_TOPIC and CFG_T_LISTEN, checked like
 * cfg_value_set checks the others; their range text. */
int cfg_text_check(const cfg_key *k, const char *text, char *why, size_t len);
void cfg_text_range(const cfg_key *k, char *buf, size_t len);

/* suggest.c: of `n` candidates, each a struct `stride` bytes long that
 * starts with its name (cfg_key, cfg_word, or a plain const char *), the
 * one closest to `word` if near enough to be a likely typo, else NULL.
 * Case is ignored. */
const char *cfg_suggest(const char *word, const void *cands, size_t stride, int n);
int cfg_distance(const char *a, const char *b);

#endif
