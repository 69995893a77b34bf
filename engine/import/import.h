/* import.h: model files to graphs, what engine/import/ offers the rest of
 * the engine.  Each loader validates what it reads and names the node,
 * tensor or record at fault; none trusts a size in the file.
 *
 * engine/import/ turns bytes into a gr_graph with ONNX semantics and
 * nothing more: its files include engine/engine.h (error codes),
 * engine/file.h, engine/graph/graph.h and each other, never engine/dnn/ or
 * the graph passes; the formats' own libraries (protobuf-c, cJSON,
 * libyaml) are seen here only. */
#ifndef LCNETD_IMPORT_H
#define LCNETD_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/file.h"
#include "engine/graph/graph.h"

/* Preprocessing and labels a model folder may carry (Paddle inference.yml). */
typedef struct {
    int have_norm;
    float mean[3], std[3], scale;
    int order;              /* -1 unknown, else eng_order */
    int resize;             /* eng_resize; 0 unknown */
    int resize_w, resize_h; /* stretch target in the yml, 0 if none */
    char **labels;
    int nlabels;
    const char *format;     /* "paddle-pir" or "paddle-pdmodel"; NULL for ONNX */
} model_meta;

void model_meta_free(model_meta *m);

/* Largest model file we read; PP-LCNet x2.5 is under 40 MB. */
#define LOADER_MAX_FILE ((size_t)1 << 30)

int onnx_load_file(gr_graph **out, const char *path, char *err, size_t errlen);
int onnx_load_buffer(gr_graph **out, const uint8_t *buf, size_t len, const char *name,
                     char *err, size_t errlen);
/* ENG_EMODEL if the bytes nest messages deeper than protobuf-c can unpack
 * safely; onnx_load_buffer checks it first, anything else unpacking an
 * untrusted ModelProto must too. */
int onnx_check_depth(const uint8_t *buf, size_t len, const char *name, char *err, size_t errlen);

/* A Paddle inference folder (inference.json or inference.pdmodel, plus
 * inference.pdiparams and optionally inference.yml). */
int paddle_load_dir(gr_graph **out, model_meta *meta, const char *dir,
                    char *err, size_t errlen);

/* Labels from a list the model carries (names are copied). */
struct eng_labels;
int eng_labels_from_list(struct eng_labels **out, char **names, int n);

#endif
