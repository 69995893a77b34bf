/* compare.c: what changed between two loads, for SIGHUP.
 *
 * Equality walks the same rows as parsing, so a key added to the table is
 * compared without anyone remembering to add it here.
 */
#include <stdio.h>
#include <string.h>

#include "config/table.h"

const cfg_stream *cfg_find_stream(const cfg *c, const char *name)
{
    for (int i = 0; c && i < c->nstreams; i++)
        if (strcmp(c->streams[i].name, name) == 0)
            return &c->streams[i];
    return NULL;
}

/* The same regions in the same order, each with the same crop: the list's
 * text alone misses a [region:NAME] whose crop changed. */
static int regions_equal(const cfg_stream *a, const cfg_stream *b)
{
    if (a->nregions != b->nregions)
        return 0;
    for (int i = 0; i < a->nregions; i++)
        if (strcmp(a->regions[i].name, b->regions[i].name) != 0 ||
            !cfg_sec_equal(&cfg_sec_region, &a->regions[i], &b->regions[i]))
            return 0;
    return 1;
}

int cfg_stream_equal(const cfg_stream *a, const cfg_stream *b)
{
    /* a new password in the same password_file reconnects the stream too */
    const char *pa = a->password ? a->password : "", *pb = b->password ? b->password : "";
    return strcmp(a->name, b->name) == 0 && cfg_sec_equal(&cfg_sec_stream, a, b) &&
           strcmp(pa, pb) == 0 && regions_equal(a, b);
}

const cfg_model *cfg_find_model(const cfg *c, const char *name)
{
    if (strcmp(name, CFG_DEFAULT_MODEL) == 0)
        return &c->model;
    for (int i = 0; i < c->nmodels; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return &c->models[i];
    return NULL;
}

int cfg_model_equal(const cfg_model *a, const cfg_model *b)
{
    return cfg_sec_equal(&cfg_sec_model, a, b);
}

int cfg_daemon_diff(const cfg_daemon *old, const cfg_daemon *next,
                    char *restart_keys, size_t len)
{
    int diff = 0;
    size_t o = 0;
    if (restart_keys && len)
        restart_keys[0] = '\0';
    for (int i = 0; i < cfg_sec_daemon.nkeys; i++) {
        const cfg_key *k = &cfg_sec_daemon.keys[i];
        if (cfg_value_equal(k, old, next))
            continue;
        if (!(k->flags & CFG_F_RESTART)) {
            diff |= CFG_DIFF_LIVE;
            continue;
        }
        diff |= CFG_DIFF_RESTART;
        if (restart_keys && o < len)
            o += (size_t)snprintf(restart_keys + o, len - o, "%s%s", o ? ", " : "",
                                  k->name);
    }
    return diff;
}
