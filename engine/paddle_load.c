/* paddle_load.c: PaddlePaddle inference folders (placeholder until the
 * Paddle loader lands). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "engine/loader.h"

void model_meta_free(model_meta *m)
{
    for (int i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    m->labels = NULL;
    m->nlabels = 0;
}

int paddle_load_dir(gr_graph **out, model_meta *meta, const char *dir, char *err, size_t errlen)
{
    (void)meta;
    *out = NULL;
    snprintf(err, errlen, "%s: Paddle inference folders are not supported yet", dir);
    return ENG_EUNSUP;
}
