/* value.c: read, compare, describe and free one value of each key type.
 *
 * Every complaint quotes what was written and says what was expected, so an
 * operator can fix the line without opening the man page.  Numbers are read
 * in the C locale whatever the process's locale is: a config that parses on
 * one machine must parse on all of them.
 */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/table.h"

#define AT(base, k, T) ((T *)((char *)(base) + (k)->off))
#define CAT(base, k, T) ((const T *)((const char *)(base) + (k)->off))

static const char *const bool_true[] = { "yes", "true", "on", "1" };
static const char *const bool_false[] = { "no", "false", "off", "0" };
static const char *const url_schemes[] = { "rtsp", "rtsps", "http", "https" };

#define NELEM(a) ((int)(sizeof a / sizeof a[0]))

const char *cfg_type_name(cfg_type t)
{
    switch (t) {
    case CFG_T_PATH: return "path";
    case CFG_T_URL: return "url";
    case CFG_T_INT: return "integer";
    case CFG_T_DOUBLE: return "number";
    case CFG_T_BOOL: return "boolean";
    case CFG_T_ENUM: return "word";
    case CFG_T_MODE: return "octal mode";
    case CFG_T_CPUS: return "CPU list";
    case CFG_T_VEC3: return "three numbers";
    case CFG_T_NAME: return "text";
    case CFG_T_TOPIC: return "MQTT topic";
    case CFG_T_LISTEN: return "address:port";
    }
    return "?";
}

void cfg_value_show(const char *text, char *buf, size_t len)
{
    enum { SHOW_MAX = 60 };
    char tmp[SHOW_MAX + 4];
    size_t o = 0;
    /* user:password@ would otherwise go to the journal with the error. */
    const char *auth = strstr(text, "://"), *at = NULL;
    if (auth) {
        auth += 3;
        size_t n = strcspn(auth, "/?#");
        for (size_t i = 0; i < n; i++)
            if (auth[i] == '@')
                at = auth + i;
    }
    const char *p = text;
    while (*p && o < SHOW_MAX) {
        if (at && p == auth) {
            memcpy(tmp + o, "***", 3);
            o += 3;
            p = at;
            continue;
        }
        tmp[o++] = isprint((unsigned char)*p) ? *p : '?';
        p++;
    }
    snprintf(buf, len, "\"%.*s%s\"", (int)o, tmp, *p ? "..." : "");
}

/* "a, b or c" for messages, "a|b|c" for the schema. */
static void word_list(const cfg_word *w, int prose, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; w[i].word && o < len; i++) {
        const char *sep = i == 0 ? "" : !prose ? "|" : w[i + 1].word ? ", " : " or ";
        o += (size_t)snprintf(buf + o, len - o, "%s%s", sep, w[i].word);
    }
}

static void number_range(const cfg_key *k, char *buf, size_t len)
{
    if (k->type == CFG_T_INT)
        snprintf(buf, len, "%.0f..%.0f", k->min, k->max);
    else if (k->flags & CFG_F_ABOVE_MIN)
        snprintf(buf, len, "> %g and <= %g", k->min, k->max);
    else
        snprintf(buf, len, "%g..%g", k->min, k->max);
}

void cfg_value_range(const cfg_key *k, char *buf, size_t len)
{
    char r[64];
    const char *empty = (k->flags & CFG_F_EMPTY_OK) ? ", or empty" : "";
    switch (k->type) {
    case CFG_T_PATH:
        if (k->max > 0)
            snprintf(buf, len, "an absolute path of at most %.0f bytes%s", k->max, empty);
        else
            snprintf(buf, len, "an absolute path%s", empty);
        return;
    case CFG_T_URL:
        snprintf(buf, len, "rtsp://, rtsps://, http://, https://, "
                 "an absolute file path or a /dev/ device");
        return;
    case CFG_T_INT:
    case CFG_T_DOUBLE:
        number_range(k, buf, len);
        return;
    case CFG_T_BOOL:
        snprintf(buf, len, "yes|no");
        return;
    case CFG_T_ENUM:
        word_list(k->words, 0, buf, len);
        return;
    case CFG_T_MODE:
        snprintf(buf, len, "an octal mode up to %04o without o+w, like 0660",
                 (unsigned)k->max);
        return;
    case CFG_T_CPUS:
        snprintf(buf, len, "a CPU list like 0,2-3, or empty");
        return;
    case CFG_T_VEC3:
        number_range(k, r, sizeof r);
        snprintf(buf, len, "three numbers like 0.485,0.456,0.406, each %s%s%s",
                 k->flags & CFG_F_ABOVE_MIN ? "" : "in ", r, empty);
        return;
    case CFG_T_NAME:
    case CFG_T_TOPIC:
    case CFG_T_LISTEN:
        cfg_text_range(k, buf, len);
        return;
    }
    snprintf(buf, len, "?");
}

/* A decimal number within the row's range.  `what` prefixes the complaint
 * ("value 2: ") for list items. */
static int read_number(const cfg_key *k, const char *text, const char *what,
                       double *out, char *why, size_t len)
{
    char exp[160], shown[80];
    int integer = k->type == CFG_T_INT;
    char *end = NULL;
    double v;

    cfg_value_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    if (!*text) {
        snprintf(why, len, "%sno value (expected %s)", what, exp);
        return CFG_EINVAL;
    }
    /* strtod would take "nan", "inf" and hex; none is a sane setting. */
    const char *p = text + (*text == '+' || *text == '-');
    if (!isdigit((unsigned char)*p) && !(*p == '.' && !integer)) {
        snprintf(why, len, "%s%s is not a number (expected %s)", what, shown, exp);
        return CFG_EINVAL;
    }
    errno = 0;
    if (integer) {
        long long n = strtoll(text, &end, 10);
        v = errno == ERANGE ? (n < 0 ? -HUGE_VAL : HUGE_VAL) : (double)n;
    } else {
        locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (!c)
            return CFG_ENOMEM;
        v = strtod_l(text, &end, c);
        freelocale(c);
        for (const char *q = text; q < end; q++)
            if (*q == 'x' || *q == 'X')
                end = (char *)q;
    }
    if (*end) {
        char rest[80];
        cfg_value_show(end, rest, sizeof rest);
        if (integer && (*end == '.' || *end == 'e' || *end == 'E'))
            snprintf(why, len, "%s%s is not a whole number (expected %s)", what,
                     shown, exp);
        else
            snprintf(why, len, "%s%s: unexpected %s after the number (expected %s)",
                     what, shown, rest, exp);
        return CFG_EINVAL;
    }
    if (!isfinite(v) || v < k->min || v > k->max ||
        ((k->flags & CFG_F_ABOVE_MIN) && v <= k->min)) {
        snprintf(why, len, "%s%s is out of range (expected %s)", what, shown, exp);
        return CFG_EINVAL;
    }
    *out = v;
    return 0;
}

static int set_string(char **field, const char *text)
{
    char *s = strdup(text);
    if (!s)
        return CFG_ENOMEM;
    free(*field);
    *field = s;
    return 0;
}

static int read_path(const cfg_key *k, const char *text, char *why, size_t len)
{
    char exp[160], shown[80];
    cfg_value_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    if (!*text) {
        if (k->flags & CFG_F_EMPTY_OK)
            return 0;
        snprintf(why, len, "no value (expected %s)", exp);
        return CFG_EINVAL;
    }
    /* The daemon runs from / under systemd; a relative path would name a
     * file nobody meant. */
    if (text[0] != '/') {
        snprintf(why, len, "%s is not an absolute path (expected %s)", shown, exp);
        return CFG_EINVAL;
    }
    size_t n = strlen(text);
    if (k->max > 0 && (double)n > k->max) {
        snprintf(why, len, "path is %zu bytes long (expected %s)", n, exp);
        return CFG_EINVAL;
    }
    return 0;
}

int cfg_url_kind(const char *url)
{
    if (url[0] == '/')
        return strncmp(url, "/dev/", 5) == 0 ? CFG_URL_DEVICE : CFG_URL_FILE;
    if (strncasecmp(url, "rtsp", 4) == 0)
        return CFG_URL_RTSP;
    return CFG_URL_HTTP;
}

static int read_url(const cfg_key *k, const char *text, char *why, size_t len)
{
    char exp[160], shown[80];
    cfg_value_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    if (!*text) {
        snprintf(why, len, "no value (expected %s)", exp);
        return CFG_EINVAL;
    }
    for (const char *p = text; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
            snprintf(why, len, "%s contains a space or control character "
                     "(expected it %%-encoded, like %%20)", shown);
            return CFG_EINVAL;
        }
    if (text[0] == '/')
        return 0;
    const char *sep = strstr(text, "://");
    size_t slen = sep ? (size_t)(sep - text) : 0;
    if (!sep || slen == 0 || slen > 16 || strcspn(text, "/") < slen) {
        snprintf(why, len, "%s is neither a URL nor an absolute path (expected %s)",
                 shown, exp);
        return CFG_EINVAL;
    }
    char scheme[17];
    memcpy(scheme, text, slen);
    scheme[slen] = '\0';
    int known = 0;
    for (int i = 0; i < NELEM(url_schemes); i++)
        known |= strcasecmp(scheme, url_schemes[i]) == 0;
    if (!known) {
        char hint[64] = "";
        const char *near = cfg_suggest(scheme, url_schemes, sizeof url_schemes[0],
                                       NELEM(url_schemes));
        if (strcasecmp(scheme, "file") == 0)
            snprintf(hint, sizeof hint, "; write the path without file://");
        else if (near)
            snprintf(hint, sizeof hint, "; did you mean %s://?", near);
        snprintf(why, len, "unsupported scheme \"%.16s\" (expected %s)%s",
                 scheme, exp, hint);
        return CFG_EINVAL;
    }
    const char *host = sep + 3;
    size_t alen = strcspn(host, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (host[i] == '@')
            at = host + i;
    if (at)
        alen -= (size_t)(at + 1 - host);
    if (alen == 0 || (at ? at[1] : host[0]) == ':') {
        snprintf(why, len, "%s has no host (expected %s://HOST[:PORT]/...)",
                 shown, scheme);
        return CFG_EINVAL;
    }
    return 0;
}

static int read_bool(const cfg_key *k, void *base, const char *text,
                     char *why, size_t len)
{
    char shown[80];
    for (int i = 0; i < NELEM(bool_true); i++) {
        if (strcasecmp(text, bool_true[i]) == 0) {
            *AT(base, k, int) = 1;
            return 0;
        }
        if (strcasecmp(text, bool_false[i]) == 0) {
            *AT(base, k, int) = 0;
            return 0;
        }
    }
    cfg_value_show(text, shown, sizeof shown);
    if (!*text)
        snprintf(why, len, "no value (expected yes or no)");
    else
        snprintf(why, len, "%s is not a boolean (expected yes or no; "
                 "true, false, on, off, 1 and 0 also work)", shown);
    return CFG_EINVAL;
}

static int read_enum(const cfg_key *k, void *base, const char *text,
                     char *why, size_t len)
{
    char shown[80], words[160], hint[64] = "";
    int n = 0;
    for (; k->words[n].word; n++)
        if (strcasecmp(text, k->words[n].word) == 0) {
            *AT(base, k, int) = k->words[n].value;
            return 0;
        }
    cfg_value_show(text, shown, sizeof shown);
    word_list(k->words, 1, words, sizeof words);
    const char *near = cfg_suggest(text, k->words, sizeof k->words[0], n);
    if (near)
        snprintf(hint, sizeof hint, "; did you mean %s?", near);
    if (!*text)
        snprintf(why, len, "no value (expected %s)", words);
    else
        snprintf(why, len, "%s is not a known value (expected %s)%s", shown, words, hint);
    return CFG_EINVAL;
}

static int read_mode(const cfg_key *k, void *base, const char *text,
                     char *why, size_t len)
{
    char exp[160], shown[80];
    cfg_value_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    size_t n = strlen(text);
    if (n == 0 || n > 6 || strspn(text, "01234567") != n) {
        snprintf(why, len, "%s is not an octal mode (expected %s)", shown, exp);
        return CFG_EINVAL;
    }
    unsigned long m = strtoul(text, NULL, 8);
    if (m > (unsigned long)k->max) {
        snprintf(why, len, "%s sets setuid, setgid or sticky bits (expected %s)",
                 shown, exp);
        return CFG_EINVAL;
    }
    /* Anyone who can write to the socket can connect and hold a subscriber
     * slot; that is for a group to grant, not every local account. */
    if (m & 0002) {
        snprintf(why, len, "%s lets every local user connect (o+w); "
                 "grant a group instead (expected %s)", shown, exp);
        return CFG_EINVAL;
    }
    *AT(base, k, unsigned) = (unsigned)m;
    return 0;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int read_cpu_number(const char **pp, unsigned long *out, const char *shown,
                           char *why, size_t len)
{
    const char *p = *pp;
    char *end;
    if (!isdigit((unsigned char)*p)) {
        char rest[80];
        cfg_value_show(p, rest, sizeof rest);
        snprintf(why, len, "%s: %s where a CPU number should be "
                 "(expected a CPU list like 0,2-3, or empty)", shown,
                 *p ? rest : "end of value");
        return CFG_EINVAL;
    }
    errno = 0;
    *out = strtoul(p, &end, 10);
    if (errno == ERANGE || *out >= CPU_SETSIZE) {
        snprintf(why, len, "%s: CPU %.*s is beyond the highest CPU number %d",
                 shown, (int)(end - p > 20 ? 20 : end - p), p, CPU_SETSIZE - 1);
        return CFG_EINVAL;
    }
    *pp = end;
    return 0;
}

int cfg_cpus_parse(cfg_cpus *c, const char *text, char *why, size_t len)
{
    char shown[80];
    const char *p = skip_blanks(text);
    CPU_ZERO(&c->set);
    c->count = 0;
    cfg_value_show(text, shown, sizeof shown);
    if (!*p)
        return 0;
    for (;;) {
        unsigned long lo, hi;
        if (read_cpu_number(&p, &lo, shown, why, len) < 0)
            return CFG_EINVAL;
        hi = lo;
        p = skip_blanks(p);
        if (*p == '-') {
            p = skip_blanks(p + 1);
            if (read_cpu_number(&p, &hi, shown, why, len) < 0)
                return CFG_EINVAL;
            if (hi < lo) {
                snprintf(why, len, "%s: range %lu-%lu runs backwards "
                         "(expected low-high, like 2-3)", shown, lo, hi);
                return CFG_EINVAL;
            }
            p = skip_blanks(p);
        }
        for (unsigned long n = lo; n <= hi; n++)
            CPU_SET(n, &c->set);
        if (!*p)
            break;
        if (*p != ',') {
            char rest[80];
            cfg_value_show(p, rest, sizeof rest);
            snprintf(why, len, "%s: unexpected %s (expected a CPU list like 0,2-3, "
                     "or empty)", shown, rest);
            return CFG_EINVAL;
        }
        p = skip_blanks(p + 1);
    }
    c->count = CPU_COUNT(&c->set);
    return 0;
}

int cfg_cpus_format(const cfg_cpus *c, char *buf, size_t len)
{
    size_t o = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, &c->set))
            continue;
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, &c->set))
            j++;
        char item[32];
        int n = j == i ? snprintf(item, sizeof item, "%s%d", o ? "," : "", i)
                       : snprintf(item, sizeof item, "%s%d-%d", o ? "," : "", i, j);
        if (o + (size_t)n < len)
            memcpy(buf + o, item, (size_t)n + 1);
        else if (o < len)
            buf[o] = '\0';   /* cut at an item boundary, never mid-number */
        o += (size_t)n;
        i = j;
    }
    return (int)o;
}

static int read_vec3(const cfg_key *k, void *base, const char *text,
                     char *why, size_t len)
{
    cfg_vec3 v = { { 0, 0, 0 }, 0 };
    char exp[160], shown[80];
    cfg_value_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    if (!*text) {
        if (!(k->flags & CFG_F_EMPTY_OK)) {
            snprintf(why, len, "no value (expected %s)", exp);
            return CFG_EINVAL;
        }
        *AT(base, k, cfg_vec3) = v;
        return 0;
    }
    int n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    if (n != 3) {
        snprintf(why, len, "%s has %d value%s (expected %s)", shown, n,
                 n == 1 ? "" : "s", exp);
        return CFG_EINVAL;
    }
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char item[64], what[24];
        size_t il = strcspn(p, ",");
        const char *s = skip_blanks(p);
        size_t sl = il - (size_t)(s - p);
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t'))
            sl--;
        if (sl >= sizeof item)
            sl = sizeof item - 1;
        memcpy(item, s, sl);
        item[sl] = '\0';
        snprintf(what, sizeof what, "value %d: ", i + 1);
        double d;
        int ret = read_number(k, item, what, &d, why, len);
        if (ret < 0)
            return ret;
        v.v[i] = (float)d;
        p += il + (p[il] == ',');
    }
    v.set = 1;
    *AT(base, k, cfg_vec3) = v;
    return 0;
}

int cfg_value_set(const cfg_key *k, void *base, const char *text,
                  char *why, size_t len)
{
    size_t n = strlen(text);
    double d;
    int ret;

    /* ini values are never quoted: the quotes would become part of them. */
    if (n >= 2 && (text[0] == '"' || text[0] == '\'') && text[n - 1] == text[0]) {
        char shown[80];
        cfg_value_show(text, shown, sizeof shown);
        snprintf(why, len, "%s is quoted (expected the value without quotes)", shown);
        return CFG_EINVAL;
    }
    switch (k->type) {
    case CFG_T_PATH:
        if ((ret = read_path(k, text, why, len)) < 0)
            return ret;
        return set_string(AT(base, k, char *), text);
    case CFG_T_URL:
        if ((ret = read_url(k, text, why, len)) < 0)
            return ret;
        return set_string(AT(base, k, char *), text);
    case CFG_T_INT:
        if ((ret = read_number(k, text, "", &d, why, len)) < 0)
            return ret;
        *AT(base, k, int) = (int)d;
        return 0;
    case CFG_T_DOUBLE:
        if ((ret = read_number(k, text, "", &d, why, len)) < 0)
            return ret;
        *AT(base, k, double) = d;
        return 0;
    case CFG_T_BOOL:
        return read_bool(k, base, text, why, len);
    case CFG_T_ENUM:
        return read_enum(k, base, text, why, len);
    case CFG_T_MODE:
        return read_mode(k, base, text, why, len);
    case CFG_T_CPUS:
        return cfg_cpus_parse(AT(base, k, cfg_cpus), text, why, len);
    case CFG_T_VEC3:
        return read_vec3(k, base, text, why, len);
    case CFG_T_NAME:
    case CFG_T_TOPIC:
    case CFG_T_LISTEN:
        if ((ret = cfg_text_check(k, text, why, len)) < 0)
            return ret;
        return set_string(AT(base, k, char *), text);
    }
    snprintf(why, len, "key has no type");
    return CFG_EINVAL;
}

void cfg_value_free(const cfg_key *k, void *base)
{
    if (k->type == CFG_T_PATH || k->type == CFG_T_URL || k->type == CFG_T_NAME ||
        k->type == CFG_T_TOPIC || k->type == CFG_T_LISTEN) {
        free(*AT(base, k, char *));
        *AT(base, k, char *) = NULL;
    }
}

int cfg_value_equal(const cfg_key *k, const void *a, const void *b)
{
    switch (k->type) {
    case CFG_T_PATH:
    case CFG_T_URL:
    case CFG_T_NAME:
    case CFG_T_TOPIC:
    case CFG_T_LISTEN: {
        const char *x = *CAT(a, k, char *), *y = *CAT(b, k, char *);
        return strcmp(x ? x : "", y ? y : "") == 0;
    }
    case CFG_T_INT:
    case CFG_T_BOOL:
    case CFG_T_ENUM:
        return *CAT(a, k, int) == *CAT(b, k, int);
    case CFG_T_MODE:
        return *CAT(a, k, unsigned) == *CAT(b, k, unsigned);
    case CFG_T_DOUBLE:
        return *CAT(a, k, double) == *CAT(b, k, double);
    case CFG_T_CPUS: {
        const cfg_cpus *x = CAT(a, k, cfg_cpus), *y = CAT(b, k, cfg_cpus);
        return x->count == y->count && CPU_EQUAL(&x->set, &y->set);
    }
    case CFG_T_VEC3: {
        const cfg_vec3 *x = CAT(a, k, cfg_vec3), *y = CAT(b, k, cfg_vec3);
        if (x->set != y->set)
            return 0;
        return !x->set || (x->v[0] == y->v[0] && x->v[1] == y->v[1] &&
                           x->v[2] == y->v[2]);
    }
    }
    return 0;
}
