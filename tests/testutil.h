/* testutil.h: what the engine tests share: where the fixtures and the
 * shared models are, and reading a whole file. */
#ifndef LCNETD_TESTUTIL_H
#define LCNETD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
