/* parity.h: the engine suites' fixtures (tests/fixtures/gen-fixtures.sh):
 * the manifest, the files beside each model, and the comparison with ONNX
 * Runtime's outputs at the tolerances the engine promises. */
#ifndef LCNETD_PARITY_H
#define LCNETD_PARITY_H

#include <math.h>
#include <stdio.h>

#include "tests/testutil.h"

typedef struct {
    char name[64];
    int c, h, w, classes, softmax, batch;
    char ref[64];
} fixture;

static inline void *fixfile(const fixture *fx, const char *suffix, size_t *len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s%s", fixdir(), fx->name, suffix);
    void *b = slurp(p, len);
    if (!b)
        fail_msg("missing fixture %s: run `make fixtures`", p);
    return b;
}

/* Compare against the reference with the tolerances; returns worst error. */
static inline double compare(const char *what, const float *got, const float *want, int n, int classes,
                      int probs)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const float *g = got + (size_t)i * (size_t)classes, *w = want + (size_t)i * (size_t)classes;
        double mx = 0, d = 0;
        for (int c = 0; c < classes; c++) {
            if (fabs(w[c]) > mx)
                mx = fabs(w[c]);
            if (fabs((double)g[c] - w[c]) > d || isnan(g[c]))
                d = isnan(g[c]) ? INFINITY : fabs((double)g[c] - w[c]);
        }
        double e = probs ? d : d / (mx > 0 ? mx : 1);
        if (e > worst)
            worst = e;
        if (!(e <= (probs ? 1e-4 : 1e-3)))
            fail_msg("%s item %d: %s error %.3g over tolerance", what, i, probs ? "absolute" : "relative", e);
    }
    return worst;
}

static fixture fixtures[32];
static int nfixtures;

static inline int read_manifest(void)
{
    char p[512], line[256];
    snprintf(p, sizeof p, "%s/manifest.txt", fixdir());
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f) && nfixtures < 32) {
        fixture *x = &fixtures[nfixtures];
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%63s %d %d %d %d %d %d %63s", x->name, &x->c, &x->h, &x->w, &x->classes,
                   &x->softmax, &x->batch, x->ref) == 8)
            nfixtures++;
    }
    fclose(f);
    return 0;
}

#endif
