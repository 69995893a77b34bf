/* decide.c: per-label decisions against a model's labels.  See decide.h. */
#include "daemon/decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static int find_class(const eng_labels *names, int classes, const char *want)
{
    for (int c = 0; c < classes; c++) {
        const char *l = names ? eng_label(names, c) : NULL;
        if (l && strcmp(l, want) == 0)
            return c;
    }
    /* a class the model gives no name to is known by its number */
    char *end = NULL;
    long n = strtol(want, &end, 10);
    if (end != want && !*end && n >= 0 && n < classes)
        return (int)n;
    return -1;
}

/* "N labels: a, b, c, ..." for the message, cut short past a few. */
static void list_labels(const eng_labels *names, int classes, char *buf, size_t len)
{
    enum { SHOWN = 12 };
    size_t o = (size_t)snprintf(buf, len, "the model's %d labels are ", classes);
    for (int c = 0; c < classes && c < SHOWN && o < len; c++) {
        const char *l = names ? eng_label(names, c) : NULL;
        if (l)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", c ? ", " : "", l);
        else
            o += (size_t)snprintf(buf + o, len - o, "%s%d", c ? ", " : "", c);
    }
    if (classes > SHOWN && o < len)
        snprintf(buf + o, len - o, ", ...");
}

static int unknown(const sch_decisions_src *src, const char *key, int line, const char *label,
                   const eng_labels *names, int classes, char *err, size_t errlen)
{
    char known[600];
    list_labels(names, classes, known, sizeof known);
    snprintf(err, errlen, "%s:%d: [%s] %s: the model has no label \"%s\" (%s; a label is "
             "named as in the labels file, or by its class number)", src->file, line,
             src->section, key, label, known);
    return ENG_EINVAL;
}

int sch_decisions_load(sch_decisions *d, const sch_decisions_src *src, const eng_labels *names,
                       int classes, char *err, size_t errlen)
{
    char name[256];
    double score;
    const char *pos;
    memset(d, 0, sizeof *d);
    if (src->thresholds && src->thresholds[0]) {
        if (!(d->thresholds = malloc(sizeof(float) * (size_t)classes)))
            goto nomem;
        for (int c = 0; c < classes; c++)
            d->thresholds[c] = -1;
        for (pos = src->thresholds; cfg_list_next(&pos, name, sizeof name, &score) > 0;) {
            int c = find_class(names, classes, name);
            if (c < 0)
                goto bad_thr;
            d->thresholds[c] = (float)score;
        }
    }
    if (src->ignore && src->ignore[0]) {
        if (!(d->ignore = calloc((size_t)classes, 1)))
            goto nomem;
        for (pos = src->ignore; cfg_list_next(&pos, name, sizeof name, &score) > 0;) {
            int c = find_class(names, classes, name);
            if (c < 0)
                goto bad_ign;
            d->ignore[c] = 1;
        }
    }
    return 0;
bad_thr:
    unknown(src, "thresholds", src->thresholds_line, name, names, classes, err, errlen);
    sch_decisions_free(d);
    return ENG_EINVAL;
bad_ign:
    unknown(src, "ignore", src->ignore_line, name, names, classes, err, errlen);
    sch_decisions_free(d);
    return ENG_EINVAL;
nomem:
    snprintf(err, errlen, "out of memory");
    sch_decisions_free(d);
    return ENG_ENOMEM;
}

void sch_decisions_free(sch_decisions *d)
{
    free(d->thresholds);
    free(d->ignore);
    d->thresholds = NULL;
    d->ignore = NULL;
}
