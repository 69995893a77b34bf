/* strmap.h: a map from strings to pointers, for the sinks' per-stream and
 * per-topic tables, looked up once per event (a thousand streams at 30 fps
 * must not walk a list). */
#ifndef LCNETD_STRMAP_H
#define LCNETD_STRMAP_H

typedef struct lc_map lc_map;

lc_map *lc_map_new(void);                               /* NULL: out of memory */
/* Frees the map and, when free_val is given, every value.  NULL is fine. */
void lc_map_free(lc_map *m, void (*free_val)(void *val));
void *lc_map_get(const lc_map *m, const char *key);
/* Key copied; a value already there is replaced (and returned in *old when
 * old is given).  -1: out of memory, nothing changed. */
int lc_map_put(lc_map *m, const char *key, void *val, void **old);
/* The value removed, or NULL. */
void *lc_map_del(lc_map *m, const char *key);
int lc_map_count(const lc_map *m);
/* Calls fn for each entry, in no particular order; fn must not change m. */
void lc_map_each(const lc_map *m, void (*fn)(void *arg, const char *key, void *val), void *arg);

#endif
