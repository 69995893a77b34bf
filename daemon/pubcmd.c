/* pubcmd.c: subscriber command parsing.  See pubcmd.h.
 *
 * Bytes come from whoever may connect to the socket, so everything is
 * length-bounded and nothing assumes a NUL: the line is a (pointer, length)
 * pair and the only allocation is the filter, sized after counting. */
#include "daemon/pubcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pub_filter {
    int n;
    const char *name[];      /* n pointers, then the names' bytes */
};

const char pub_cmd_help[] =
    "{\"event\":\"help\",\"commands\":[\"streams NAME[,NAME...]\",\"streams *\","
    "\"ping\",\"status\",\"snapshot NAME\",\"help\"]}";

/* How much of the client's text an error quotes. */
enum { QUOTE_MAX = 40 };

typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static span trim(span s)
{
    while (s.n && is_blank(s.p[0]))
        s.p++, s.n--;
    while (s.n && is_blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static int valid_name(span s)
{
    if (s.n < 1 || s.n > PUB_NAME_MAX)
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (!is_name_char((unsigned char)s.p[i]))
            return 0;
    return 1;
}

static void fail(pub_cmd *out, const char *what, span quoted)
{
    int n = quoted.n > QUOTE_MAX ? QUOTE_MAX : (int)quoted.n;

    out->kind = PUB_CMD_ERROR;
    if (quoted.p)
        snprintf(out->error, sizeof out->error, "%s \"%.*s%s\"", what, n, quoted.p,
                 quoted.n > QUOTE_MAX ? "..." : "");
    else
        snprintf(out->error, sizeof out->error, "%s", what);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The next comma-separated item of *rest, trimmed; *rest moves past it. */
static span next_item(span *rest)
{
    const char *comma = memchr(rest->p, ',', rest->n);
    span item = { rest->p, comma ? (size_t)(comma - rest->p) : rest->n };

    rest->p += item.n;
    rest->n -= item.n;
    if (comma)
        rest->p++, rest->n--;
    return trim(item);
}

static void parse_streams(pub_cmd *out, span args)
{
    const span none = { NULL, 0 };
    pub_filter *f = NULL;
    size_t count = 1, bytes = 0;
    span rest;
    char *text;
    int n = 0;

    if (args.n == 0 || (args.n == 1 && args.p[0] == '*')) {
        out->kind = PUB_CMD_STREAMS;           /* every stream */
        return;
    }
    for (size_t i = 0; i < args.n; i++)
        count += args.p[i] == ',';
    if (count > PUB_FILTER_MAX) {
        fail(out, "too many stream names (at most 256)", none);
        return;
    }
    /* Check every name before allocating anything. */
    rest = args;
    for (size_t i = 0; i < count; i++) {
        span name = next_item(&rest);
        if (name.n == 1 && name.p[0] == '*') {
            fail(out, "'*' stands alone: \"streams *\"", none);
            return;
        }
        if (name.n == 0) {
            fail(out, "empty stream name in", args);
            return;
        }
        if (!valid_name(name)) {
            fail(out, name.n > PUB_NAME_MAX ? "stream name longer than 64 bytes:"
                                             : "bad stream name (letters, digits, _ . -):",
                 name);
            return;
        }
        bytes += name.n + 1;
    }
    if (!(f = malloc(sizeof *f + count * sizeof f->name[0] + bytes))) {
        fail(out, "out of memory", none);
        return;
    }
    text = (char *)&f->name[count];
    rest = args;
    for (size_t i = 0; i < count; i++) {
        span name = next_item(&rest);
        memcpy(text, name.p, name.n);
        text[name.n] = 0;
        f->name[i] = text;
        text += name.n + 1;
    }
    qsort(f->name, count, sizeof f->name[0], by_name);
    for (size_t i = 0; i < count; i++)
        if (n == 0 || strcmp(f->name[n - 1], f->name[i]) != 0)
            f->name[n++] = f->name[i];
    f->n = n;
    out->kind = PUB_CMD_STREAMS;
    out->filter = f;
}

static void parse_snapshot(pub_cmd *out, span args)
{
    const span none = { NULL, 0 };
    if (args.n == 0) {
        fail(out, "snapshot needs a stream name: snapshot NAME", none);
        return;
    }
    if (!valid_name(args)) {
        fail(out, args.n > PUB_NAME_MAX ? "stream name longer than 64 bytes:"
                                         : "bad stream name (letters, digits, _ . -):",
             args);
        return;
    }
    memcpy(out->stream, args.p, args.n);
    out->stream[args.n] = 0;
    out->kind = PUB_CMD_SNAPSHOT;
}

void pub_cmd_parse(pub_cmd *out, const char *line, size_t len)
{
    static const struct {
        const char *word;
        pub_cmd_kind kind;
    } plain[] = {
        { "ping", PUB_CMD_PING }, { "status", PUB_CMD_STATUS }, { "help", PUB_CMD_HELP },
    };
    span s = { line, len }, word, args;
    const char *end;

    memset(out, 0, sizeof *out);
    if (s.n && s.p[s.n - 1] == '\r')
        s.n--;
    s = trim(s);
    if (s.n == 0)
        return;                                /* PUB_CMD_NONE */
    end = s.p;
    while (end < s.p + s.n && !is_blank(*end))
        end++;
    word = (span){ s.p, (size_t)(end - s.p) };
    args = trim((span){ end, s.n - word.n });

    if (word.n == 7 && memcmp(word.p, "streams", 7) == 0) {
        parse_streams(out, args);
        return;
    }
    if (word.n == 8 && memcmp(word.p, "snapshot", 8) == 0) {
        parse_snapshot(out, args);
        return;
    }
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strlen(plain[i].word) == word.n && memcmp(plain[i].word, word.p, word.n) == 0) {
            if (args.n)
                fail(out, "this command takes no arguments:", s);
            else
                out->kind = plain[i].kind;
            return;
        }
    fail(out, "unknown command (try help):", word);
}

int pub_filter_has(const pub_filter *f, const char *stream)
{
    if (!f || !stream)
        return 1;                              /* no filter, or a daemon-wide event */
    return bsearch(&stream, f->name, (size_t)f->n, sizeof f->name[0], by_name) != NULL;
}

int pub_filter_count(const pub_filter *f)
{
    return f ? f->n : 0;
}

const char *pub_filter_name(const pub_filter *f, int i)
{
    return f && i >= 0 && i < f->n ? f->name[i] : NULL;
}

void pub_filter_free(pub_filter *f)
{
    free(f);
}
