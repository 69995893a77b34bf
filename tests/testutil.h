/* testutil.h: what the engine tests share: where the fixtures and the
 * shared models are, and reading a whole file. */
#ifndef LCNETD_TESTUTIL_H
#define LCNETD_TESTUTIL_H

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* build/fixtures, or LCNETD_FIXTURES (tests/run.sh sets it) */
static inline const char *fixdir(void)
{
    const char *d = getenv("LCNETD_FIXTURES");
    return d ? d : "build/fixtures";
}

/* ../shared/models beside the checkout, or LCNETD_SHARED */
static inline const char *shared_models(void)
{
    const char *d = getenv("LCNETD_SHARED");
    return d ? d : "../shared/models";
}

/* LCNETD_TEST_FILTER, comma-separated shell patterns ("parity_*x025,test_fp16*"),
 * keeps only the tests whose names match one: make check's arm64 subset
 * under emulation.  Returns how many are left, at the front of t. */
static inline size_t tests_filtered(struct CMUnitTest *t, size_t n)
{
    const char *f = getenv("LCNETD_TEST_FILTER");
    size_t kept = 0;
    if (!f || !*f)
        return n;
    for (size_t i = 0; i < n; i++) {
        char pat[256];
        int match = 0;
        for (const char *p = f; *p && !match;) {
            size_t len = strcspn(p, ",");
            snprintf(pat, sizeof pat, "%.*s", (int)len, p);
            match = len && fnmatch(pat, t[i].name, 0) == 0;
            p += len + (p[len] == ',');
        }
        if (match)
            t[kept++] = t[i];
    }
    return kept;
}

/* The whole file, NUL-terminated; NULL if it cannot be read.  Caller frees. */
static inline void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        ((char *)b)[n] = 0;
    if (len)
        *len = b ? (size_t)n : 0;
    return b;
}

/* The documented synthetic input of ../shared/models/PROVENANCE.md:
 * NCHW, 3 x h x w, ImageNet-normalised. */
static inline void prov_synthetic(float *x, int h, int w)
{
    static const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int i = 0; i < w; i++) {
                float v = (float)((i * 7 + y * 3 + c * 50) % 256) / 255.0f;
                x[((size_t)c * h + y) * w + i] = (v - mean[c]) / std[c];
            }
}

#endif
