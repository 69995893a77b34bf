/* passes.h: what engine.c runs on a loaded graph, in this order: shape
 * inference with folding (shape.c, fold.c), then fusion (fuse.c); the
 * backends ask for each batch size's shapes.  int8's passes are quant.h. */
#ifndef LCNETD_PASSES_H
#define LCNETD_PASSES_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

/* Infer every tensor's shape (batch kept as G_BATCH) and fold nodes whose
 * inputs are all constant shape arithmetic.  Checks every node's inputs. */
int gr_infer(gr_graph *g, char *err, size_t errlen);

/* Every tensor's shape with G_BATCH replaced by `batch`, into dims[][]
 * (one row per tensor).  Used when compiling for one batch size; gr_infer
 * has refused whatever this could not substitute exactly. */
void gr_shapes_for_batch(const gr_graph *g, int batch, int64_t (*dims)[G_MAX_DIMS]);

/* Does a shape still hold the symbolic batch? */
int gr_has_batch(const gr_tensor *t);

/* Graph rewrites: no-op removal, BN and bias folding, HardSwish patterns,
 * activations into post-ops, dead nodes. */
int gr_fuse(gr_graph *g, char *err, size_t errlen);

#endif
