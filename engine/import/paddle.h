/* paddle.h: the pieces of the Paddle inference-folder loader, shared by its
 * files (and the fuzzer).
 *
 * paddle_load.c runs them: a front end reads the program into a pd_prog
 * (paddle_prog.h), the weights file (pdiparams.c) gives the parameters'
 * values, the preprocessing file (paddle_yml.c) the model's metadata, and
 * the mapper (paddle_ops.c) turns each op into graph nodes with ONNX
 * semantics.  The weights and preprocessing files are the same for both
 * program formats. */
#ifndef LCNETD_PADDLE_H
#define LCNETD_PADDLE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "engine/import/import.h"
#include "engine/import/paddle_prog.h"

/* --- weights (pdiparams.c).  The file holds one record per parameter, in
 * lexicographic order of the names.  For each of the n names (any order)
 * with its declared shape, returns a malloc'd float32 array in data[i]
 * (caller frees each).  Errors name the parameter and say what the file
 * holds against what was expected. */
typedef struct {
    const char *name;       /* as sorted in the file */
    const char *alt;        /* another spelling (the program's), tried second; may be NULL */
    int ndim;               /* -1: take the file's shape */
    const int64_t *dims;
} pd_param;
int pd_params_read(const uint8_t *buf, size_t len, const char *file, const pd_param *par, int n,
                   float **data, int *ndim, int64_t (*dims)[G_MAX_DIMS], char *err, size_t errlen);

/* --- inference.yml (paddle_yml.c) */
int pd_yml_parse(model_meta *m, const uint8_t *buf, size_t len, const char *file,
                 char *err, size_t errlen);

/* --- ops to graph nodes (paddle_ops.c) */
typedef struct {
    pd_prog *p;
    gr_graph *g;
    int *vt;                /* variable -> graph tensor, -1 until defined */
    int64_t budget;         /* elements constants made by ops may still take */
} pd_map;
/* Add the nodes for one op; errors name the op and what is wrong with it. */
int pd_map_op(pd_map *m, const pd_op *o, char *err, size_t errlen);

/* --- all together, from memory: kind 0 = PIR JSON, 1 = ProgramDesc.  yml
 * may be NULL.  dir names the folder in messages. */
int paddle_load_mem(gr_graph **out, model_meta *meta, int kind, const uint8_t *prog, size_t plen,
                    const uint8_t *params, size_t parlen, const uint8_t *yml, size_t ylen,
                    const char *dir, char *err, size_t errlen);

#endif
