/* parity.h: the engine suites' fixtures (tests/fixtures/gen-fixtures.sh),
 * shared by test_engine and test_xnn: a row of the manifest and the files
 * beside each model.  The comparison with ONNX Runtime's outputs is
 * testutil.h's parity_three. */
#ifndef LCNETD_PARITY_H
#define LCNETD_PARITY_H

#include <stdio.h>

#include "tests/testutil.h"

typedef struct {
    char name[64];
    int c, h, w, classes, softmax, batch;
    char ref[64];
} fixture;

static inline void *fixfile(const fixture *fx, const char *suffix, size_t *len)
{
    return fixture_file(len, "%s%s", fx->name, suffix);
}

/* manifest.txt: name channels height width classes ends_in_softmax batch
 * reference; for read_manifest("manifest.txt", manifest_fixture, ...). */
static inline int manifest_fixture(void *arg, int i, const char *line)
{
    fixture *x = (fixture *)arg + i;
    return sscanf(line, "%63s %d %d %d %d %d %d %63s", x->name, &x->c, &x->h, &x->w, &x->classes,
                  &x->softmax, &x->batch, x->ref) == 8;
}

static fixture fixtures[32];
static int nfixtures;

#endif
