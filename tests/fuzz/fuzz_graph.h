/* fuzz_graph.h: what the model-loader fuzzers do once a file became a
 * graph: the passes eng_load runs, then a compile for batch 1 and 2 when
 * the graph is small enough to keep the exec rate up.  Header-only: each
 * fuzzer is one program. */
#ifndef LCNETD_FUZZ_GRAPH_H
#define LCNETD_FUZZ_GRAPH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/dnn/dnn.h"
#include "engine/graph/passes.h"

#define FUZZ_MAX_NODES 64
#define FUZZ_MAX_ELEMS ((int64_t)1 << 20)

/* Is the fused graph small enough to compile at fuzzing speed? */
static int fuzz_cheap_to_compile(const gr_graph *g)
{
    int live = 0;
    for (int i = 0; i < g->nn; i++)
        live += !g->n[i].dead;
    if (live > FUZZ_MAX_NODES)
        return 0;
    for (int i = 0; i < g->nt; i++) {
        const gr_tensor *t = &g->t[i];
        int64_t n = 1;
        for (int k = 0; k < t->ndim; k++) {
            int64_t d = t->dims[k] == G_BATCH ? 2 : t->dims[k];
            if (d < 0 || (d && n > FUZZ_MAX_ELEMS / d))
                return 0;
            n *= d ? d : 1;           /* an empty tensor's other dims still size loops */
        }
        if (n > FUZZ_MAX_ELEMS)
            return 0;
    }
    return 1;
}

/* From LLVMFuzzerInitialize: fail at start, not as a crash on the first
 * input, when oneDNN has no engine here. */
static void fuzz_need_onednn(const char *who)
{
    be_ctx *c = NULL;
    char err[256];
    /* oneDNN's context reads neither the graph nor the other arguments */
    if (dnn_float.ctx_new(&c, NULL, 1, BE_F32, 0, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        exit(1);
    }
    dnn_float.ctx_free(c);
}

/* Passes and compile; g stays the caller's.  Each input gets its own oneDNN
 * context: the context caches reordered weights by tensor index, right for
 * one graph's plans and wrong across graphs (a crash would depend on the
 * inputs run before it). */
static void fuzz_compile(gr_graph *g)
{
    be_ctx *c = NULL;
    be_plan *p1 = NULL, *p2 = NULL;
    char err[512];
    /* what eng_load asks of a graph before the passes */
    if (g->ninputs < 1 || g->noutputs < 1)
        return;
    if (gr_infer(g, err, sizeof err) < 0 || gr_fuse(g, err, sizeof err) < 0 ||
        !fuzz_cheap_to_compile(g) || dnn_float.ctx_new(&c, g, 1, BE_F32, 0, err, sizeof err) < 0)
        return;
    if (dnn_float.compile(&p1, c, g, 1, BE_F32, err, sizeof err) == 0)
        dnn_float.compile(&p2, c, g, 2, BE_F32, err, sizeof err);
    dnn_float.free(p2);
    dnn_float.free(p1);
    dnn_float.ctx_free(c);
}

#endif
