/* rule.h: the publish rule, which decides from a frame's top-1 whether a
 * label event goes out, and when a source's state changes.
 *
 * Its state is kept per source, keyed by (stream, region, model): the last
 * confirmed top-1 class and a candidate counting the frames in a row that
 * confirm it (hysteresis).  A top-1 whose score is below its threshold (a
 * label's own from the model's `thresholds`, else the stream's min_score)
 * counts for nothing.  Ignored labels move the state like any other, but
 * are never published.  The inference threads call it (two at once for
 * a moment during a reload: it locks). */
#ifndef LCNETD_RULE_H
#define LCNETD_RULE_H

#include <stdint.h>

/* How one source's frames are judged. */
typedef struct sch_rule_params {
    double min_score;          /* the stream's */
    int change_only;           /* publish = change: only confirmed changes */
    int hysteresis;            /* frames in a row that confirm a change */
    int classes;               /* of the arrays below */
    const float *thresholds;   /* per class; < 0: min_score.  NULL: none */
    const uint8_t *ignore;     /* per class, nonzero: never published.  NULL: none */
} sch_rule_params;

typedef struct sch_rule_result {
    int publish;               /* send this frame's label event */
    int changed;               /* this frame confirmed a new top-1 (the first one counts) */
    int cls, prev;             /* the confirmed top-1 now and before (-1: none yet) */
    /* the source's key, valid until it is forgotten */
    const char *stream, *region, *model;
} sch_rule_result;

typedef struct sch_rules sch_rules;

int sch_rules_new(sch_rules **out);     /* -1: out of memory */
void sch_rules_free(sch_rules *r);      /* NULL is fine */

/* Judge one frame of the source (stream, region, model) whose top-1 is
 * cls with score; a source not seen before starts with no state.  region
 * "" is the whole frame.  -1: out of memory (nothing published). */
int sch_rules_apply(sch_rules *r, const char *stream, const char *region, const char *model,
                    const sch_rule_params *p, int cls, float score, sch_rule_result *out);
/* A stream stopped: its sources' states go, so that it starts afresh. */
void sch_rules_forget(sch_rules *r, const char *stream);
/* Sources with state, for tests. */
int sch_rules_count(sch_rules *r);

#endif
