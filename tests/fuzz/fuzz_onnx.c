/* fuzz_onnx.c: libFuzzer entry point for the model loader.
 *
 * The bytes go the way a model file goes through eng_load: parsed into a
 * graph, shapes inferred and shape arithmetic folded, fused, then compiled
 * into oneDNN primitives for batch 1 and 2.  Nothing is run: the loader and
 * the passes are what read untrusted data, the compiler is what trusts
 * their result.  Compiling JITs kernels and reorders weights, so big graphs
 * stop after the passes to keep the exec rate up.
 *
 * Each input gets its own oneDNN context: the context caches reordered
 * weights by tensor index, which is right for the plans of one graph and
 * wrong across graphs (a hit would skip the size check a miss makes, so a
 * crash would depend on the inputs run before it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "engine/loader.h"
#include "engine/onednn.h"
#include "engine/ops.h"

#define FUZZ_MAX_NODES 64
#define FUZZ_MAX_ELEMS ((int64_t)1 << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is the fused graph small enough to compile at fuzzing speed? */
static int cheap_to_compile(const gr_graph *g)
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
            n *= d;
        }
        if (n > FUZZ_MAX_ELEMS)
            return 0;
    }
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    dnn_ctx *c = NULL;
    char err[256];
    (void)argc;
    (void)argv;
    /* fail at start, not as a crash on the first input, when oneDNN has no engine */
    if (dnn_ctx_new(&c, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_onnx: %s\n", err);
        exit(1);
    }
    dnn_ctx_free(c);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_graph *g = NULL;
    dnn_ctx *c = NULL;
    dnn_plan *p1 = NULL, *p2 = NULL;
    char err[512];

    if (onnx_load_buffer(&g, data, size, "fuzz", err, sizeof err) < 0)
        goto end;
    /* what eng_load asks of a graph before the passes */
    if (g->ninputs < 1 || g->noutputs < 1)
        goto end;
    if (gr_infer(g, err, sizeof err) < 0 || gr_fuse(g, err, sizeof err) < 0)
        goto end;
    if (!cheap_to_compile(g))
        goto end;
    if (dnn_ctx_new(&c, err, sizeof err) < 0)
        goto end;
    if (dnn_compile(&p1, c, g, 1, DNN_F32, err, sizeof err) < 0)
        goto end;
    dnn_compile(&p2, c, g, 2, DNN_F32, err, sizeof err);
end:
    dnn_plan_free(p2);
    dnn_plan_free(p1);
    dnn_ctx_free(c);
    gr_free(g);
    return 0;
}
