/* decide.h: a model's per-label decisions, `thresholds` and `ignore` of
 * its section, turned into per-class arrays once its labels are known.
 *
 * The labels come with the model (or its labels file), so the names can
 * only be checked when it loads: an unknown one fails the load with the
 * file, line and key it was written at, and the labels there are. */
#ifndef LCNETD_DECIDE_H
#define LCNETD_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

typedef struct sch_decisions {
    float *thresholds;         /* per class; < 0: the stream's min_score.  NULL: none set */
    uint8_t *ignore;           /* per class, nonzero: never published.  NULL: none set */
} sch_decisions;

/* Where the settings were written, for messages. */
typedef struct sch_decisions_src {
    const char *thresholds, *ignore;   /* the values; "" or NULL: not set */
    const char *file;          /* the config file */
    const char *section;       /* "model" or "model:NAME" */
    int thresholds_line, ignore_line;
} sch_decisions_src;

/* A label is named by its name (names may be NULL: the model has none) or
 * by its class number.  ENG_EINVAL with the message for an unknown one. */
int sch_decisions_load(sch_decisions *d, const sch_decisions_src *src, const eng_labels *names,
                       int classes, char *err, size_t errlen);
void sch_decisions_free(sch_decisions *d);

#endif
