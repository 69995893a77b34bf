/* parse.c: lcnetd.ini text to a checked cfg, through inih.
 *
 * inih splits each key line into name and value.  Sections are followed
 * here instead, in the line reader handed to ini_parse_stream, because
 * inih never calls the handler for a section without keys (a [stream:x]
 * that lacks its url must still be caught), Debian's inih passes no line
 * numbers to the handler, and inih cuts section names at 49 bytes and lines
 * at 198 without a word.  inih asks the reader for a line and then parses
 * it before asking for the next, so p->line is always the line the handler
 * is being called for, and a key line that produced no handler call by the
 * time the next line is read was one inih rejected.
 *
 * Parsing goes on after an error so one run names every mistake; the
 * caller gets the first few, in line order.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/table.h"

enum {
    LINE_MAX_LEN = 4096,       /* a longer line is an error */
    FILE_MAX_BYTES = 4 << 20,  /* so /dev/zero by mistake fails, not hangs */
    ERR_KEEP = 64,             /* errors held for sorting */
    ERR_SHOW = 5,              /* errors written to the caller's buffer */
    STREAM_NAME_MAX = 64,
    SECTION_KEYS_MAX = 32,
};

/* Stands in for a value too long for inih's line buffer; the handler swaps
 * the real value back in. */
#define VALUE_MARK "\x1e"
#define STREAM_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

typedef struct perr {
    int line, seq;
    char *msg;
} perr;

typedef struct parser {
    cfg *c;
    const char *name;          /* the file, in messages */
    FILE *f;                   /* input: f, or text at pos */
    const char *text;
    size_t pos, total;
    int line;
    int stop, io_errno, oom;
    char phys[LINE_MAX_LEN + 1];
    int cut;                   /* phys holds only the start of a long line */
    char *stash;               /* the value of a long line ... */
    int stash_line;            /* ... and its line */
    int pending;               /* key line inih has not yet handed over */
    int handled;
    char pending_text[80];
    /* the section being read */
    int in_section;            /* 0: none yet; 1: known; -1: ignore its keys */
    const cfg_section *schema;
    int stream;                /* index into c->streams, or -1 */
    int sec_line, sec_errors;
    char label[80];            /* "daemon", "stream:yard" */
    int set_at[SECTION_KEYS_MAX];
    int single_line[8];        /* of each cfg_singles[] section, once seen */
    int outside_reported;
    perr errs[ERR_KEEP];
    int nkept, nerr;
} parser;

static void add_error(parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(parser *p, int line, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    int o = line > 0 ? snprintf(msg, sizeof msg, "%s:%d: ", p->name, line)
                     : snprintf(msg, sizeof msg, "%s: ", p->name);
    if (o < 0 || (size_t)o >= sizeof msg)
        o = 0;
    va_start(ap, fmt);
    vsnprintf(msg + o, sizeof msg - (size_t)o, fmt, ap);
    va_end(ap);
    p->nerr++;
    if (p->nkept == ERR_KEEP)
        return;
    char *m = strdup(msg);
    if (!m) {
        p->oom = 1;
        return;
    }
    p->errs[p->nkept++] = (perr){ line, p->nerr, m };
}

/* A name from the file, safe to print: no control characters, cut short. */
static const char *clean(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (; *s && o + 4 < len; s++)
        buf[o++] = isprint((unsigned char)*s) ? *s : '?';
    if (*s) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static void *sec_base(parser *p)
{
    if (p->stream >= 0)
        return &p->c->streams[p->stream];
    return (char *)p->c + p->schema->base;
}

static int key_index(const cfg_section *s, const char *name)
{
    const cfg_key *k = cfg_sec_key(s, name);
    return k ? (int)(k - s->keys) : -1;
}

static void check_cpus(parser *p, const char *key)
{
    int i = key_index(&cfg_sec_daemon, key);
    const cfg_key *k = &cfg_sec_daemon.keys[i];
    const cfg_cpus *want = (const cfg_cpus *)((const char *)&p->c->daemon + k->off);
    char why[600];

    if (p->set_at[i] && cfg_cpus_check(want, why, sizeof why) < 0)
        add_error(p, p->set_at[i], "[daemon] %s: %s", key, why);
}

/* password_file: its first line, without the line end.  Messages name the
 * stream's key and the file, never what the file holds. */
static void read_password(parser *p, cfg_stream *st)
{
    int at = p->set_at[key_index(&cfg_sec_stream, "password_file")];
    int e;

    if (!st->password_file || !st->password_file[0])
        return;
    if (!strstr(st->url, "://")) {
        add_error(p, at, "[%s] password_file: the url is not a network URL (expected an "
                  "rtsp://, rtsps://, http:// or https:// url with it)", p->label);
        return;
    }
    switch (cfg_read_password(st->password_file, &st->password, &e)) {
    case CFG_EIO:
        add_error(p, at, "[%s] password_file: cannot read %s: %s", p->label,
                  st->password_file, strerror(e));
        break;
    case CFG_PW_LONG:
        add_error(p, at, "[%s] password_file: the first line of %s is longer than %d bytes",
                  p->label, st->password_file, CFG_PASSWORD_MAX);
        break;
    case CFG_PW_EMPTY:
        add_error(p, at, "[%s] password_file: %s is empty (expected the password on its "
                  "first line)", p->label, st->password_file);
        break;
    case CFG_ENOMEM:
        p->oom = 1;
        break;
    }
}

static void check_backoff(parser *p, const cfg_stream *st)
{
    int imin = key_index(&cfg_sec_stream, "backoff_min");
    int imax = key_index(&cfg_sec_stream, "backoff_max");
    if (st->backoff_max >= st->backoff_min)
        return;
    /* Blame the key that was written: with only one of them set, that one
     * clashes with the other's default. */
    if (p->set_at[imax])
        add_error(p, p->set_at[imax], "[%s] backoff_max: %g is below backoff_min %g "
                  "(expected at least backoff_min)", p->label, st->backoff_max,
                  st->backoff_min);
    else
        add_error(p, p->set_at[imin], "[%s] backoff_min: %g is above backoff_max %g, "
                  "its default (expected at most backoff_max, or set backoff_max too)",
                  p->label, st->backoff_min, st->backoff_max);
}

/* [mqtt]'s keys that only make sense together.  The password file is read
 * by the MQTT sink, not here: a broker's password going stale must not stop
 * the streams (--check-config reads it, see daemon/sinks.c). */
static void check_mqtt(parser *p)
{
    cfg_mqtt *m = &p->c->mqtt;
#define AT_KEY(name) p->set_at[key_index(&cfg_sec_mqtt, name)]
    m->line = p->sec_line;
    if (m->backoff_max < m->backoff_min)
        add_error(p, AT_KEY("backoff_max") ? AT_KEY("backoff_max") : AT_KEY("backoff_min"),
                  "[mqtt] backoff_max: %g is below backoff_min %g (expected at least "
                  "backoff_min)", m->backoff_max, m->backoff_min);
    if (m->password_file[0] && !m->username[0])
        add_error(p, AT_KEY("password_file"), "[mqtt] password_file: no username "
                  "(MQTT sends a password only with a user name; set username too)");
    if (!m->cert_file[0] != !m->key_file[0])
        add_error(p, AT_KEY(m->cert_file[0] ? "cert_file" : "key_file"), "[mqtt] %s: "
                  "given without %s (expected both or neither)",
                  m->cert_file[0] ? "cert_file" : "key_file",
                  m->cert_file[0] ? "key_file" : "cert_file");
    else if (m->cert_file[0] && !m->ca_file[0])
        add_error(p, AT_KEY("cert_file"), "[mqtt] cert_file: a client certificate needs "
                  "TLS (set ca_file to the broker's CA)");
    if (!m->host[0])
        for (int i = 0; i < cfg_sec_mqtt.nkeys; i++)
            if (p->set_at[i] && i != key_index(&cfg_sec_mqtt, "host")) {
                add_error(p, p->set_at[i], "[mqtt] %s: set, but host is empty (expected "
                          "host = the broker, or the section left out)",
                          cfg_sec_mqtt.keys[i].name);
                break;
            }
#undef AT_KEY
}

/* Checks that need the whole section: required keys, keys that bound each
 * other, CPUs.  Skipped checks would only repeat an error already given. */
static void finish_section(parser *p)
{
    if (p->in_section != 1)
        return;
    p->in_section = -1;
    for (int i = 0; i < p->schema->nkeys; i++) {
        const cfg_key *k = &p->schema->keys[i];
        char exp[160];
        if (!(k->flags & CFG_F_REQUIRED) || p->set_at[i])
            continue;
        cfg_value_range(k, exp, sizeof exp);
        add_error(p, p->sec_line, "[%s] %s: required key is missing (expected %s)",
                  p->label, k->name, exp);
        p->sec_errors++;
    }
    if (p->stream >= 0) {
        cfg_stream *st = &p->c->streams[p->stream];
        if (st->url)
            st->url_kind = cfg_url_kind(st->url);
        if (!p->sec_errors) {
            check_backoff(p, st);
            read_password(p, st);
        }
    } else if (p->schema == &cfg_sec_daemon) {
        /* each list on its own: another key's error hides nothing here */
        check_cpus(p, "inference_cpus");
        check_cpus(p, "decode_cpus");
    } else if (p->schema == &cfg_sec_mqtt && !p->sec_errors) {
        check_mqtt(p);
    }
}

static void open_single(parser *p, const cfg_section *s, int *first_line)
{
    if (*first_line) {
        add_error(p, p->line, "[%s]: section already defined at line %d "
                  "(expected it once; merge the two)", s->name, *first_line);
        return;
    }
    *first_line = p->line;
    p->in_section = 1;
    p->schema = s;
}

static void open_stream(parser *p, const char *id)
{
    cfg *c = p->c;
    char why[400], shown[80];
    size_t n = strlen(id);

    if (n == 0 || n > STREAM_NAME_MAX || strspn(id, STREAM_CHARS) != n) {
        cfg_value_show(id, shown, sizeof shown);
        add_error(p, p->line, "[%s]: bad stream name %s (expected 1 to %d of "
                  "A-Z a-z 0-9 _ . -)", p->label, shown, STREAM_NAME_MAX);
        return;
    }
    for (int i = 0; i < c->nstreams; i++)
        if (strcmp(c->streams[i].name, id) == 0) {
            add_error(p, p->line, "[%s]: duplicate stream (first defined at line %d)",
                      p->label, c->streams[i].line);
            return;
        }
    if (c->nstreams >= CFG_STREAMS_MAX) {
        add_error(p, p->line, "[%s]: more than %d streams (expected at most %d [stream:NAME] "
                  "sections; run another lcnetd for the rest)", p->label, CFG_STREAMS_MAX,
                  CFG_STREAMS_MAX);
        return;
    }
    cfg_stream *grown = realloc(c->streams, (size_t)(c->nstreams + 1) * sizeof *grown);
    if (!grown) {
        p->oom = 1;
        return;
    }
    c->streams = grown;
    cfg_stream *st = &c->streams[c->nstreams++];
    memset(st, 0, sizeof *st);
    st->line = p->line;
    if (!(st->name = strdup(id))) {
        p->oom = 1;
        return;
    }
    int ret = cfg_sec_defaults(&cfg_sec_stream, st, why, sizeof why);
    if (ret == CFG_ENOMEM)
        p->oom = 1;
    else if (ret < 0)
        add_error(p, 0, "%s", why);
    p->in_section = 1;
    p->schema = &cfg_sec_stream;
    p->stream = c->nstreams - 1;
}

static void unknown_section(parser *p, const char *name)
{
    static const char *const known[] = { "daemon", "model", "mqtt", "metrics", "stream" };
    char hint[120] = "", head[72], rest[72];
    size_t hl = strcspn(name, ": -_.");

    snprintf(head, sizeof head, "%.*s", (int)(hl < 64 ? hl : 64), name);
    clean(name + hl + (name[hl] != '\0'), rest, sizeof rest);
    const char *near = cfg_suggest(name, known, sizeof known[0], 4);
    if (near)
        snprintf(hint, sizeof hint, "; did you mean [%s]?", near);
    else if (cfg_suggest(head, known + 4, sizeof known[0], 1) && *rest)
        snprintf(hint, sizeof hint, "; did you mean [stream:%s]?", rest);
    else if (strcasecmp(name, "stream") == 0)
        snprintf(hint, sizeof hint, "; a stream needs a name: [stream:NAME]");
    add_error(p, p->line, "[%s]: unknown section (expected [daemon], [model], [mqtt], "
              "[metrics] or [stream:NAME])%s", p->label, hint);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void on_section(parser *p, char *s)
{
    char shown[80];
    finish_section(p);
    p->in_section = -1;
    p->schema = NULL;
    p->stream = -1;
    p->sec_line = p->line;
    p->sec_errors = 0;
    memset(p->set_at, 0, sizeof p->set_at);

    char *end = strchr(s, ']');
    if (!end) {
        cfg_value_show(s, shown, sizeof shown);
        add_error(p, p->line, "%s: no closing ] (expected [section])", shown);
        return;
    }
    *end = '\0';
    char *name = trim(s + 1);
    clean(name, p->label, sizeof p->label);
    const char *after = end + 1 + strspn(end + 1, " \t");
    if (*after && *after != ';' && *after != '#')
    {
        cfg_value_show(after, shown, sizeof shown);
        add_error(p, p->line, "[%s]: unexpected %s after the ] (expected a comment "
                  "or nothing)", p->label, shown);
    }
    for (int i = 0; cfg_singles[i]; i++)
        if (strcmp(name, cfg_singles[i]->name) == 0) {
            open_single(p, cfg_singles[i], &p->single_line[i]);
            return;
        }
    if (strncmp(name, "stream:", 7) == 0)
        open_stream(p, name + 7);
    else
        unknown_section(p, name);
}

/* inih took the previous key line or it did not; no third case. */
static void check_pending(parser *p)
{
    if (p->pending && !p->handled)
        add_error(p, p->pending, "%s is not a key = value line, a [section] or "
                  "a comment (expected key = value)", p->pending_text);
    p->pending = 0;
    p->handled = 0;
}

static void on_key_error(parser *p, const char *key, const char *why)
{
    char shown[72];
    add_error(p, p->line, "[%s] %s: %s", p->label, clean(key, shown, sizeof shown), why);
    p->sec_errors++;
}

static void unknown_key(parser *p, const char *name)
{
    static const cfg_section *const all[] = { &cfg_sec_daemon, &cfg_sec_model,
                                              &cfg_sec_stream, &cfg_sec_mqtt,
                                              &cfg_sec_metrics };
    char hint[120] = "";
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] != p->schema && cfg_sec_key(all[i], name)) {
            snprintf(hint, sizeof hint, " here; it belongs in [%s]",
                     all[i] == &cfg_sec_stream ? "stream:NAME" : all[i]->name);
            break;
        }
    const char *near = cfg_suggest(name, p->schema->keys, sizeof(cfg_key),
                                   p->schema->nkeys);
    if (!*hint && near)
        snprintf(hint, sizeof hint, "; did you mean %s?", near);
    char why[160];
    snprintf(why, sizeof why, "unknown key%s", hint);
    on_key_error(p, name, why);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parser *p = user;
    char why[400];
    (void)section;   /* ours is p->label; inih's may be cut short */

    if (p->line == p->pending)
        p->handled = 1;
    if (p->stash && p->stash_line == p->line && strcmp(value, VALUE_MARK) == 0)
        value = p->stash;
    if (p->in_section == 0) {
        if (!p->outside_reported)
            add_error(p, p->line, "%s: key outside any section (expected [daemon], "
                      "[model] or [stream:NAME] above it)", clean(name, why, 72));
        p->outside_reported = 1;
        return 1;
    }
    if (p->in_section < 0)
        return 1;   /* the section header's error covers its keys */
    if (!*name) {
        on_key_error(p, "", "no key name before the = (expected key = value)");
        return 1;
    }
    const cfg_key *k = cfg_sec_key(p->schema, name);
    if (!k) {
        unknown_key(p, name);
        return 1;
    }
    int i = (int)(k - p->schema->keys);
    if (i >= SECTION_KEYS_MAX) {
        on_key_error(p, name, "section has more keys than the parser tracks");
        return 1;
    }
    if (p->set_at[i]) {
        snprintf(why, sizeof why, "already set at line %d (expected each key once)",
                 p->set_at[i]);
        on_key_error(p, name, why);
        return 1;
    }
    p->set_at[i] = p->line;
    int ret = cfg_value_set(k, sec_base(p), value, why, sizeof why);
    if (ret == CFG_ENOMEM)
        p->oom = 1;
    else if (ret < 0)
        on_key_error(p, name, why);
    return 1;
}

static int next_char(parser *p)
{
    if (p->f)
        return getc(p->f);
    return p->text[p->pos] ? (unsigned char)p->text[p->pos++] : EOF;
}

/* The next line into p->phys without its newline: its length, or -1 at the
 * end of input or on a read error (p->io_errno). */
static long next_line(parser *p)
{
    size_t n = 0;
    int ch, any = 0;
    p->cut = 0;
    while ((ch = next_char(p)) != EOF) {
        any = 1;
        if (++p->total > FILE_MAX_BYTES) {
            add_error(p, 0, "larger than %d MiB (expected a config file)",
                      FILE_MAX_BYTES >> 20);
            p->stop = 1;
            return -1;
        }
        if (ch == '\n')
            break;
        if (n < LINE_MAX_LEN)
            p->phys[n++] = (char)ch;
        else
            p->cut = 1;
    }
    if (ch == EOF && p->f && ferror(p->f)) {
        p->io_errno = errno ? errno : EIO;
        return -1;
    }
    if (!any)
        return -1;
    p->phys[n] = '\0';
    return (long)n;
}

static char *give(char *str, int num, const char *s)
{
    snprintf(str, (size_t)num, "%s\n", s);
    return str;
}

/* A key line longer than inih's buffer: hand inih the name and a marker,
 * keep the value.  The value is cut at an inline comment as inih would. */
static char *give_long(parser *p, char *str, int num, char *s)
{
    size_t nl = strcspn(s, "=:");
    if (!s[nl])
        return give(str, num, s);   /* cut short, inih rejects it as we would */
    size_t name_len = nl;
    while (name_len && isspace((unsigned char)s[name_len - 1]))
        name_len--;
    if (name_len + 3 > (size_t)num) {
        add_error(p, p->line, "key name is longer than %d characters", num - 3);
        p->pending = 0;
        return give(str, num, "");
    }
    char *v = s + nl + 1;
    v += strspn(v, " \t");
    for (char *q = v; *q; q++)
        if (*q == ';' && q > v && isspace((unsigned char)q[-1])) {
            *q = '\0';
            break;
        }
    v = trim(v);
    free(p->stash);
    if (!(p->stash = strdup(v))) {
        p->oom = 1;
        p->stop = 1;
        return NULL;
    }
    p->stash_line = p->line;
    snprintf(str, (size_t)num, "%.*s=" VALUE_MARK "\n", (int)name_len, s);
    return str;
}

static char *read_line(char *str, int num, void *stream)
{
    parser *p = stream;
    check_pending(p);
    if (p->stop || p->oom)
        return NULL;
    long n = next_line(p);
    if (n < 0)
        return NULL;
    p->line++;
    char *s = p->phys;
    if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;   /* UTF-8 byte order mark, as some editors write */
        n -= 3;
    }
    if (p->cut) {
        add_error(p, p->line, "line is longer than %d characters", LINE_MAX_LEN);
        return give(str, num, "");
    }
    if ((long)strlen(s) != n) {
        add_error(p, p->line, "NUL byte in the line (expected text)");
        return give(str, num, "");
    }
    /* inih would take an indented line for more of the previous value
     * (multi-line values); keys indented under their section are common
     * and mean nothing else, so indentation goes before inih sees it. */
    s = trim(s);
    if (!*s || *s == ';' || *s == '#')
        return give(str, num, "");
    if (*s == '[') {
        on_section(p, s);
        return give(str, num, "");
    }
    p->pending = p->line;
    cfg_value_show(s, p->pending_text, sizeof p->pending_text);
    if (strlen(s) + 2 <= (size_t)num)
        return give(str, num, s);
    return give_long(p, str, num, s);
}

static int err_order(const void *a, const void *b)
{
    const perr *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void write_errors(parser *p, char *err, size_t errlen)
{
    size_t o = 0;
    int shown = 0;
    qsort(p->errs, (size_t)p->nkept, sizeof p->errs[0], err_order);
    for (int i = 0; i < p->nkept && i < ERR_SHOW; i++) {
        size_t n = strlen(p->errs[i].msg);
        if (i > 0 && o + 1 + n >= errlen)
            break;
        snprintf(err + o, errlen - o, "%s%s", i ? "\n" : "", p->errs[i].msg);
        o += n + (i > 0);
        shown++;
        if (o >= errlen)
            return;
    }
    if (p->nerr > shown)
        snprintf(err + o, errlen - o, "\n(%d more error%s)", p->nerr - shown,
                 p->nerr - shown > 1 ? "s" : "");
}

static int load(cfg **out, parser *p, char *err, size_t errlen)
{
    char why[400], local[8];
    int ret = CFG_OK;
    cfg *c = calloc(1, sizeof *c);

    if (!err || !errlen) {
        err = local;   /* the caller wants the code only */
        errlen = sizeof local;
    }
    err[0] = '\0';
    p->stream = -1;
    p->c = c;
    if (!c) {
        ret = CFG_ENOMEM;
        goto end;
    }
    for (int i = 0; cfg_singles[i]; i++)
        if ((ret = cfg_sec_defaults(cfg_singles[i], (char *)c + cfg_singles[i]->base, why,
                                    sizeof why)) < 0) {
            if (ret == CFG_EINVAL)
                snprintf(err, errlen, "%s", why);
            goto end;
        }
    int rc = ini_parse_stream(read_line, p, on_key, p);
    check_pending(p);
    finish_section(p);
    if (rc == -2)
        p->oom = 1;
    if (rc > 0) {
        int seen = 0;
        for (int i = 0; i < p->nkept; i++)
            seen |= p->errs[i].line == rc;
        if (!seen)
            add_error(p, rc, "syntax error");
    }
    if (p->oom) {
        ret = CFG_ENOMEM;
    } else if (p->io_errno) {
        snprintf(err, errlen, "%s: read: %s", p->name, strerror(p->io_errno));
        ret = CFG_EIO;
    } else if (p->nerr) {
        write_errors(p, err, errlen);
        ret = CFG_EINVAL;
    } else {
        if (c->daemon.inference_cpus.count == 0)
            cfg_cpus_default_inference(&c->daemon.inference_cpus);
        /* One frame per thread: on one thread a batch costs what its frames
         * cost one by one (docs/benchmarks.md), so batching would only hold
         * the first frame back for the others. */
        if (c->daemon.max_batch == 0)
            c->daemon.max_batch = c->daemon.inference_cpus.count < CFG_MAX_BATCH ?
                                  c->daemon.inference_cpus.count : CFG_MAX_BATCH;
        *out = c;
        c = NULL;
    }
end:
    if (ret == CFG_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", p->name);
    cfg_free(c);
    for (int i = 0; i < p->nkept; i++)
        free(p->errs[i].msg);
    free(p->stash);
    return ret;
}

int cfg_load_string(cfg **out, const char *text, const char *name,
                    char *err, size_t errlen)
{
    parser *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", name ? name : "config");
        return CFG_ENOMEM;
    }
    p->name = name ? name : "config";
    p->text = text ? text : "";
    int ret = load(out, p, err, errlen);
    free(p);
    return ret;
}

int cfg_load_file(cfg **out, const char *path, char *err, size_t errlen)
{
    parser *p = NULL;
    FILE *f = NULL;
    int ret;

    *out = NULL;
    if (!(f = fopen(path, "re"))) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return CFG_EIO;
    }
    if (!(p = calloc(1, sizeof *p))) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        ret = CFG_ENOMEM;
        goto end;
    }
    p->name = path;
    p->f = f;
    ret = load(out, p, err, errlen);
end:
    free(p);
    fclose(f);
    return ret;
}

void cfg_free(cfg *c)
{
    if (!c)
        return;
    for (int i = 0; cfg_singles[i]; i++)
        cfg_sec_free(cfg_singles[i], (char *)c + cfg_singles[i]->base);
    for (int i = 0; i < c->nstreams; i++) {
        cfg_sec_free(&cfg_sec_stream, &c->streams[i]);
        free(c->streams[i].name);
        if (c->streams[i].password) {
            explicit_bzero(c->streams[i].password, strlen(c->streams[i].password));
            free(c->streams[i].password);
        }
    }
    free(c->streams);
    free(c);
}
