/* strmap.c: see strmap.h.  Chained buckets, doubled when the entries
 * outnumber them. */
#include "daemon/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ent {
    struct ent *next;
    uint32_t hash;
    void *val;
    char key[];
} ent;

struct lc_map {
    ent **b;
    uint32_t nb;                /* a power of two */
    int n;
};

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

lc_map *lc_map_new(void)
{
    lc_map *m = calloc(1, sizeof *m);
    if (!m || !(m->b = calloc(16, sizeof *m->b))) {
        free(m);
        return NULL;
    }
    m->nb = 16;
    return m;
}

void lc_map_free(lc_map *m, void (*free_val)(void *val))
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nb; i++)
        for (ent *e = m->b[i], *nx; e; e = nx) {
            nx = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
        }
    free(m->b);
    free(m);
}

static ent **slot(const lc_map *m, const char *key, uint32_t h)
{
    ent **p = &m->b[h & (m->nb - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

void *lc_map_get(const lc_map *m, const char *key)
{
    ent *e = *slot(m, key, hash_of(key));
    return e ? e->val : NULL;
}

static void grow(lc_map *m)
{
    uint32_t nb = m->nb * 2;
    ent **b = calloc(nb, sizeof *b);
    if (!b)
        return;                 /* longer chains, still correct */
    for (uint32_t i = 0; i < m->nb; i++)
        for (ent *e = m->b[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int lc_map_put(lc_map *m, const char *key, void *val, void **old)
{
    uint32_t h = hash_of(key);
    ent **p = slot(m, key, h);
    if (old)
        *old = NULL;
    if (*p) {
        if (old)
            *old = (*p)->val;
        (*p)->val = val;
        return 0;
    }
    size_t n = strlen(key) + 1;
    ent *e = malloc(sizeof *e + n);
    if (!e)
        return -1;
    memcpy(e->key, key, n);
    e->hash = h;
    e->val = val;
    e->next = NULL;
    *p = e;
    if (++m->n > (int)m->nb)
        grow(m);
    return 0;
}

void *lc_map_del(lc_map *m, const char *key)
{
    ent **p = slot(m, key, hash_of(key)), *e = *p;
    if (!e)
        return NULL;
    void *v = e->val;
    *p = e->next;
    free(e);
    m->n--;
    return v;
}

int lc_map_count(const lc_map *m)
{
    return m->n;
}

void lc_map_each(const lc_map *m, void (*fn)(void *arg, const char *key, void *val), void *arg)
{
    for (uint32_t i = 0; i < m->nb; i++)
        for (ent *e = m->b[i]; e; e = e->next)
            fn(arg, e->key, e->val);
}
