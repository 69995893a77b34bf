/* rule.c: the publish rule's states.  See rule.h. */
#include "daemon/rule.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/strmap.h"

typedef struct {
    char *stream, *region, *model;
    int last, cand, cand_n;
} rule_state;

/* A reload hands the streams it keeps to a new scheduler while the old
 * one still runs: for a moment two threads share the table. */
struct sch_rules {
    pthread_mutex_t m;
    lc_map *by_key;            /* "stream\x1fregion\x1fmodel" -> rule_state */
};

static void state_free(void *v)
{
    rule_state *s = v;
    if (!s)
        return;
    free(s->stream);
    free(s->region);
    free(s->model);
    free(s);
}

int sch_rules_new(sch_rules **out)
{
    sch_rules *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || !(r->by_key = lc_map_new())) {
        free(r);
        return -1;
    }
    pthread_mutex_init(&r->m, NULL);
    *out = r;
    return 0;
}

void sch_rules_free(sch_rules *r)
{
    if (!r)
        return;
    lc_map_free(r->by_key, state_free);
    pthread_mutex_destroy(&r->m);
    free(r);
}

/* The unit separator cannot appear in a name: the config refuses control
 * characters in them. */
static void key_of(char *buf, size_t len, const char *stream, const char *region,
                   const char *model)
{
    snprintf(buf, len, "%s\x1f%s\x1f%s", stream, region ? region : "", model ? model : "");
}

static rule_state *state_get(sch_rules *r, const char *stream, const char *region,
                             const char *model)
{
    char key[512];
    key_of(key, sizeof key, stream, region, model);
    rule_state *s = lc_map_get(r->by_key, key);
    if (s)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->last = s->cand = -1;
    if (!(s->stream = strdup(stream)) || !(s->region = strdup(region ? region : "")) ||
        !(s->model = strdup(model ? model : "")) || lc_map_put(r->by_key, key, s, NULL) < 0) {
        state_free(s);
        return NULL;
    }
    return s;
}

static int judge(rule_state *s, const sch_rule_params *p, int cls, float score,
                 sch_rule_result *out)
{
    memset(out, 0, sizeof *out);
    out->cls = out->prev = -1;
    if (!s)
        return -1;
    out->stream = s->stream;
    out->region = s->region;
    out->model = s->model;
    out->cls = out->prev = s->last;
    int in_range = cls >= 0 && cls < p->classes;
    double min = p->min_score;
    if (in_range && p->thresholds && p->thresholds[cls] >= 0)
        min = p->thresholds[cls];
    if (cls < 0 || score < min)
        return 0;
    /* hysteresis: a new top-1 must hold for that many frames in a row.  It
     * runs whatever `publish` says: a change is a change for whoever wants
     * to know of it (snapshots), even when every frame is published. */
    if (cls == s->last) {
        s->cand_n = 0;
    } else {
        s->cand_n = cls == s->cand ? s->cand_n + 1 : 1;
        s->cand = cls;
        if (s->cand_n >= (p->hysteresis > 0 ? p->hysteresis : 1)) {
            s->last = cls;
            s->cand_n = 0;
            out->changed = 1;
            out->cls = cls;
        }
    }
    int ignored = in_range && p->ignore && p->ignore[cls];
    out->publish = !ignored && (p->change_only ? out->changed : 1);
    return 0;
}

int sch_rules_apply(sch_rules *r, const char *stream, const char *region, const char *model,
                    const sch_rule_params *p, int cls, float score, sch_rule_result *out)
{
    pthread_mutex_lock(&r->m);
    int ret = judge(state_get(r, stream, region, model), p, cls, score, out);
    pthread_mutex_unlock(&r->m);
    return ret;
}

typedef struct {
    const char *stream;
    char **keys;
    int n;
} forget_ctx;

static void collect(void *arg, const char *key, void *val)
{
    forget_ctx *f = arg;
    rule_state *s = val;
    if (strcmp(s->stream, f->stream) == 0 && f->keys)
        f->keys[f->n++] = strdup(key);
}

void sch_rules_forget(sch_rules *r, const char *stream)
{
    pthread_mutex_lock(&r->m);
    forget_ctx f = { stream, calloc((size_t)lc_map_count(r->by_key) + 1, sizeof(char *)), 0 };
    if (f.keys)
        lc_map_each(r->by_key, collect, &f);
    for (int i = 0; i < f.n; i++) {
        if (f.keys[i])
            state_free(lc_map_del(r->by_key, f.keys[i]));
        free(f.keys[i]);
    }
    pthread_mutex_unlock(&r->m);
    free(f.keys);
}

int sch_rules_count(sch_rules *r)
{
    pthread_mutex_lock(&r->m);
    int n = lc_map_count(r->by_key);
    pthread_mutex_unlock(&r->m);
    return n;
}
