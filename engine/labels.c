/* labels.c: class names from a labels file or from the model's metadata.
 *
 * Two file forms are common: "<id> <name>" per line (PaddleClas'
 * imagenet1k_label_list.txt) and one name per line (timm, torchvision).
 * A file is one or the other; it is the first line that decides. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/import/import.h"

#define MAX_LABELS 100000

struct eng_labels {
    char **name;      /* by class id; NULL where the file gave none */
    int n;
};

void eng_labels_free(eng_labels *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
    free(l);
}

static int set_label(eng_labels *l, long id, const char *s, size_t len)
{
    if (id >= l->n) {
        int n = (int)id + 1;
        char **v = realloc(l->name, sizeof(char *) * (size_t)n);
        if (!v)
            return -1;
        for (int i = l->n; i < n; i++)
            v[i] = NULL;
        l->name = v;
        l->n = n;
    }
    free(l->name[id]);
    if (!(l->name[id] = strndup(s, len)))
        return -1;
    return 0;
}

/* Leading digits then whitespace then text: the "<id> <name>" form. */
static int id_form(const char *line, long *id, const char **rest)
{
    const char *p = line;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p != ' ' && *p != '\t')
        return 0;
    *id = strtol(line, NULL, 10);
    while (*p == ' ' || *p == '\t')
        p++;
    *rest = p;
    return 1;
}

int eng_labels_load(eng_labels **out, const char *path, char *err, size_t errlen)
{
    int ret = ENG_EMODEL;
    FILE *f = eng_file_fopen(path, &ret, err, errlen);
    eng_labels *l = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, form = -1, next = 0;

    *out = NULL;
    if (!f)
        return ret;
    if (!(l = calloc(1, sizeof(*l))))
        goto nomem;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0)
            continue;
        long id;
        const char *rest;
        int is_id = id_form(line, &id, &rest);
        if (form < 0)
            form = is_id;
        if (form) {
            if (!is_id || id < 0 || id >= MAX_LABELS) {
                snprintf(err, errlen, "%s:%d: expected \"<id> <name>\" like the first line", path,
                         lineno);
                goto end;
            }
        } else {
            id = next;
            rest = line;
        }
        if (id >= MAX_LABELS) {
            snprintf(err, errlen, "%s:%d: more than %d labels", path, lineno, MAX_LABELS);
            goto end;
        }
        if (set_label(l, id, rest, strlen(rest)) < 0)
            goto nomem;
        next = (int)id + 1;
    }
    if (l->n == 0) {
        snprintf(err, errlen, "%s: no labels", path);
        goto end;
    }
    *out = l;
    l = NULL;
    ret = 0;
    goto end;
nomem:
    snprintf(err, errlen, "%s: out of memory", path);
    ret = ENG_ENOMEM;
end:
    free(line);
    fclose(f);
    eng_labels_free(l);
    return ret;
}

int eng_labels_from_list(eng_labels **out, char **names, int n)
{
    eng_labels *l = calloc(1, sizeof(*l));
    *out = NULL;
    if (!l)
        return ENG_ENOMEM;
    for (int i = 0; i < n; i++)
        if (set_label(l, i, names[i], strlen(names[i])) < 0) {
            eng_labels_free(l);
            return ENG_ENOMEM;
        }
    *out = l;
    return 0;
}

const char *eng_label(const eng_labels *l, int cls)
{
    return l && cls >= 0 && cls < l->n ? l->name[cls] : NULL;
}

int eng_labels_count(const eng_labels *l)
{
    return l ? l->n : 0;
}
