/* paddle_yml.c: a Paddle inference folder's inference.yml (libyaml) to
 * model_meta: how images are prepared for the model and what its classes
 * are called.
 *
 *   PreProcess:
 *     transform_ops:
 *     - ResizeImage: {size: [W, H]}          stretch to W x H
 *       (or {resize_short: 256} then CropImage: {size: 224}: short-crop)
 *     - NormalizeImage: {mean: [..], std: [..], scale: 0.0039.. or "1.0/255.0"}
 *     - ToCHWImage: null
 *   PostProcess:
 *     Topk: {topk: 1, label_list: [name, ...]}
 *
 * PaddleClas and PaddleX read images with OpenCV, so a model expects BGR
 * unless a DecodeImage {to_rgb: true} or ReadImage {format: RGB} says
 * otherwise.  Transforms the engine has no use for (ToCHWImage, Topk's k)
 * are passed over; so are unknown ones: the file is advice on preparing
 * input, and the program is what defines the model.  Only the paths above
 * are walked, never the whole tree, so aliases cannot make it expensive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine/engine.h"
#include "engine/import/paddle.h"

#define MAX_LABELS 100000

typedef struct {
    yaml_document_t *d;
    const char *file;
    char *err;
    size_t errlen;
} yml;

static int yfail(yml *y, const yaml_node_t *n, const char *what)
{
    snprintf(y->err, y->errlen, "%s:%zu: %s", y->file, n ? n->start_mark.line + 1 : 0, what);
    return ENG_EMODEL;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *lookup(yml *y, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(yaml_document_get_node(y->d, p->key));
        if (k && strcmp(k, key) == 0)
            return yaml_document_get_node(y->d, p->value);
    }
    return NULL;
}

static int seq_len(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE ? (int)(n->data.sequence.items.top - n->data.sequence.items.start) : -1;
}

static yaml_node_t *seq_at(yml *y, const yaml_node_t *n, int i)
{
    return yaml_document_get_node(y->d, n->data.sequence.items.start[i]);
}

/* A number, or a fraction "a/b" as PaddleClas writes its scale. */
static int number(const yaml_node_t *n, double *v)
{
    const char *s = scalar(n);
    char *end;
    if (!s || !*s)
        return -1;
    *v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (*end == '/') {
        double d = strtod(end + 1, &end);
        while (*end == ' ')
            end++;
        if (!(d != 0))
            return -1;
        *v /= d;
    }
    return *end == 0 && isfinite(*v) ? 0 : -1;
}

static int floats3(yml *y, const yaml_node_t *n, float *out, const char *what, int positive)
{
    char msg[160];
    snprintf(msg, sizeof msg, "NormalizeImage %s must be a list of 3 %snumbers", what,
             positive ? "positive " : "");
    if (seq_len(n) != 3)
        return yfail(y, n, msg);
    for (int i = 0; i < 3; i++) {
        double v;
        if (number(seq_at(y, n, i), &v) < 0 || (positive && !(v > 0)) || fabs(v) > 1e30)
            return yfail(y, n, msg);
        out[i] = (float)v;
    }
    return 0;
}

/* A size: N, or [W, H]. */
static int size2(yml *y, const yaml_node_t *n, int *w, int *h, const char *what)
{
    double a, b;
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a positive size or a list [width, height]", what);
    if (number(n, &a) == 0) {
        b = a;
    } else if (seq_len(n) == 2 && number(seq_at(y, n, 0), &a) == 0 && number(seq_at(y, n, 1), &b) == 0) {
        /* [w, h] */
    } else {
        return yfail(y, n, msg);
    }
    if (!(a >= 1 && a <= 1e5 && b >= 1 && b <= 1e5) || a != floor(a) || b != floor(b))
        return yfail(y, n, msg);
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int truth(const yaml_node_t *n, int *v)
{
    const char *s = scalar(n);
    if (!s)
        return -1;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes") || !strcmp(s, "1"))
        *v = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no") || !strcmp(s, "0"))
        *v = 0;
    else
        return -1;
    return 0;
}

static int transform(yml *y, model_meta *m, const char *op, const yaml_node_t *args, int *short_side)
{
    int ret, w, h, b;
    const yaml_node_t *x;
    if (!strcmp(op, "ResizeImage")) {
        if ((x = lookup(y, args, "size"))) {
            if ((ret = size2(y, x, &w, &h, "ResizeImage size")) < 0)
                return ret;
            m->resize = ENG_RESIZE_STRETCH;
            m->resize_w = w;
            m->resize_h = h;
        } else if ((x = lookup(y, args, "resize_short"))) {
            if ((ret = size2(y, x, &w, &h, "ResizeImage resize_short")) < 0)
                return ret;
            *short_side = 1;
            m->resize = ENG_RESIZE_SHORT_CROP;
        } else {
            return yfail(y, args, "ResizeImage needs size or resize_short");
        }
    } else if (!strcmp(op, "CropImage")) {
        if ((x = lookup(y, args, "size")) && (ret = size2(y, x, &w, &h, "CropImage size")) < 0)
            return ret;
        m->resize = ENG_RESIZE_SHORT_CROP;
    } else if (!strcmp(op, "NormalizeImage")) {
        double s = 1.0 / 255;
        if ((x = lookup(y, args, "scale")) && (number(x, &s) < 0 || !(s > 0 && s < 1e30)))
            return yfail(y, x, "NormalizeImage scale must be a positive number (or a/b)");
        float mean[3] = { 0, 0, 0 }, std[3] = { 1, 1, 1 };
        if ((x = lookup(y, args, "mean")) && (ret = floats3(y, x, mean, "mean", 0)) < 0)
            return ret;
        if ((x = lookup(y, args, "std")) && (ret = floats3(y, x, std, "std", 1)) < 0)
            return ret;
        m->have_norm = 1;
        m->scale = (float)s;
        memcpy(m->mean, mean, sizeof mean);
        memcpy(m->std, std, sizeof std);
    } else if (!strcmp(op, "DecodeImage")) {
        if ((x = lookup(y, args, "to_rgb"))) {
            if (truth(x, &b) < 0)
                return yfail(y, x, "DecodeImage to_rgb must be true or false");
            m->order = b ? ENG_ORDER_RGB : ENG_ORDER_BGR;
        }
    } else if (!strcmp(op, "ReadImage")) {
        const char *f = scalar(lookup(y, args, "format"));
        if (f && !strcmp(f, "RGB"))
            m->order = ENG_ORDER_RGB;
        else if (f && !strcmp(f, "BGR"))
            m->order = ENG_ORDER_BGR;
    }
    return 0;
}

static int labels(yml *y, model_meta *m, const yaml_node_t *list)
{
    int n = seq_len(list);
    if (n < 0)
        return yfail(y, list, "Topk label_list must be a list");
    if (n > MAX_LABELS)
        return yfail(y, list, "Topk label_list has more than 100000 names");
    model_meta_free(m);
    if (!(m->labels = calloc((size_t)(n ? n : 1), sizeof(char *)))) {
        snprintf(y->err, y->errlen, "%s: out of memory", y->file);
        return ENG_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const yaml_node_t *e = seq_at(y, list, i);
        const char *s = scalar(e);
        if (!s)
            return yfail(y, e ? e : list, "Topk label_list entries must be names");
        if (!(m->labels[i] = strdup(s))) {
            snprintf(y->err, y->errlen, "%s: out of memory", y->file);
            return ENG_ENOMEM;
        }
        m->nlabels = i + 1;
    }
    return 0;
}

static int walk(yml *y, model_meta *m)
{
    yaml_node_t *root = yaml_document_get_root_node(y->d), *x;
    int ret, short_side = 0;
    if (!root)
        return yfail(y, NULL, "empty document");
    if (root->type != YAML_MAPPING_NODE)
        return yfail(y, root, "the top level must be a mapping");
    yaml_node_t *pre = lookup(y, root, "PreProcess");
    if (pre) {
        /* the yml is PaddleClas / PaddleX's: OpenCV's BGR unless it says RGB */
        m->order = ENG_ORDER_BGR;
        yaml_node_t *ops = lookup(y, pre, "transform_ops");
        int n = seq_len(ops);
        if (ops && n < 0)
            return yfail(y, ops, "PreProcess transform_ops must be a list");
        for (int i = 0; i < n; i++) {
            yaml_node_t *op = seq_at(y, ops, i);
            const char *name = scalar(op);
            const yaml_node_t *args = NULL;
            if (!name) {
                if (!op || op->type != YAML_MAPPING_NODE ||
                    op->data.mapping.pairs.top - op->data.mapping.pairs.start != 1)
                    return yfail(y, op ? op : ops, "a transform must be a name or {Name: {arguments}}");
                yaml_node_pair_t *p = op->data.mapping.pairs.start;
                name = scalar(yaml_document_get_node(y->d, p->key));
                args = yaml_document_get_node(y->d, p->value);
                if (!name)
                    return yfail(y, op, "a transform's name must be a plain string");
                if (args && args->type == YAML_SCALAR_NODE)
                    args = NULL;           /* ToCHWImage: null */
                else if (args && args->type != YAML_MAPPING_NODE)
                    return yfail(y, args, "a transform's arguments must be a mapping");
            }
            if ((ret = transform(y, m, name, args, &short_side)) < 0)
                return ret;
        }
    }
    if ((x = lookup(y, lookup(y, lookup(y, root, "PostProcess"), "Topk"), "label_list")))
        return labels(y, m, x);
    return 0;
}

int pd_yml_parse(model_meta *m, const uint8_t *buf, size_t len, const char *file,
                 char *err, size_t errlen)
{
    yaml_parser_t p;
    yaml_document_t d;
    int ret;
    if (len > PD_MAX_YML) {
        snprintf(err, errlen, "%s: %zu bytes, more than %zu", file, len, PD_MAX_YML);
        return ENG_EMODEL;
    }
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errlen, "%s: out of memory", file);
        return ENG_ENOMEM;
    }
    yaml_parser_set_input_string(&p, buf, len);
    if (!yaml_parser_load(&p, &d)) {
        snprintf(err, errlen, "%s:%zu: not valid YAML: %s%s%s", file, p.problem_mark.line + 1,
                 p.problem ? p.problem : "parse error", p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        return ENG_EMODEL;
    }
    yml y = { &d, file, err, errlen };
    ret = walk(&y, m);
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    return ret;
}
