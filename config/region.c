/* region.c: [region:NAME] sections and the streams that list them.
 *
 * A region is defined once and listed by name in each stream that
 * classifies it (two cameras on one mount may share a crop).  The links are
 * checked once the whole file is read, since a stream may list a region
 * defined further down.  Each stream then gets its own copies of its
 * regions, so that it can outlive the config it came from (a reload frees
 * the old one) and so that a change to a region's crop shows as a change to
 * the streams that list it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/table.h"

void cfg_regions_free(cfg_region *r, int n)
{
    for (int i = 0; r && i < n; i++)
        free(r[i].name);
    free(r);
}

int cfg_regions_dup(cfg_region **out, const cfg_region *r, int n)
{
    *out = NULL;
    if (n <= 0)
        return 0;
    cfg_region *d = calloc((size_t)n, sizeof *d);
    if (!d)
        return CFG_ENOMEM;
    for (int i = 0; i < n; i++) {
        d[i] = r[i];
        if (!(d[i].name = strdup(r[i].name))) {
            cfg_regions_free(d, i);
            return CFG_ENOMEM;
        }
    }
    *out = d;
    return 0;
}

static int find(const cfg *c, const char *name)
{
    for (int i = 0; i < c->nregions; i++)
        if (strcmp(c->regions[i].name, name) == 0)
            return i;
    return -1;
}

/* "gate, door and yard" for a message: what the file does define. */
static void defined(const cfg *c, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->nregions && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i == 0 ? "" :
                              i + 1 < c->nregions ? ", " : " or ", c->regions[i].name);
    if (o >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

static void unknown(const cfg *c, const cfg_stream *st, const char *name,
                    void (*report)(void *, int, const char *), void *ctx)
{
    char msg[600], have[300], hint[120] = "";
    const char *near = cfg_suggest(name, c->regions, sizeof c->regions[0], c->nregions);
    if (near)
        snprintf(hint, sizeof hint, "; did you mean %s?", near);
    defined(c, have, sizeof have);
    if (c->nregions)
        snprintf(msg, sizeof msg, "[stream:%s] regions: no [region:%s] section (expected one of "
                 "%s)%s", st->name, name, have, hint);
    else
        snprintf(msg, sizeof msg, "[stream:%s] regions: no [region:%s] section (expected a "
                 "[region:%s] section with its crop)", st->name, name, name);
    report(ctx, st->regions_line, msg);
}

int cfg_regions_link(cfg *c, void (*report)(void *ctx, int line, const char *msg), void *ctx)
{
    char msg[600], name[CFG_NAME_MAX + 1];
    int *used = calloc((size_t)c->nregions + 1, sizeof *used);
    if (!used)
        return CFG_ENOMEM;
    for (int i = 0; i < c->nstreams; i++) {
        cfg_stream *st = &c->streams[i];
        const char *list = st->region_list;
        if (!list || !*list)
            continue;
        if (st->crop.set) {
            snprintf(msg, sizeof msg, "[stream:%s] regions: set together with crop (expected one "
                     "of them: crop for the stream's one source, or regions, each with the crop in "
                     "its [region:NAME])", st->name);
            report(ctx, st->regions_line, msg);
        }
        cfg_region picked[CFG_REGIONS_MAX];
        int n = 0, missing = 0;
        while (cfg_names_next(&list, name, sizeof name) && n < CFG_REGIONS_MAX) {
            int r = find(c, name);
            if (r < 0) {
                unknown(c, st, name, report, ctx);
                missing = 1;
                continue;
            }
            used[r] = 1;
            picked[n++] = c->regions[r];
        }
        if (!missing && cfg_regions_dup(&st->regions, picked, n) < 0) {
            free(used);
            return CFG_ENOMEM;
        }
        st->nregions = missing ? 0 : n;
    }
    for (int r = 0; r < c->nregions; r++)
        if (!used[r]) {
            snprintf(msg, sizeof msg, "[region:%s]: no stream lists it (expected its name in the "
                     "regions of a [stream:NAME], or the section removed)", c->regions[r].name);
            report(ctx, c->regions[r].line, msg);
        }
    free(used);
    return 0;
}
