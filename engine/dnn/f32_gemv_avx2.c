/* f32_gemv_avx2.c: the AVX2 fp32 matrix-vector kernel (see f32_gemv.h).
 *
 * Weights in blocks of 32 outputs, each block [k][32]: a block is one
 * contiguous run, read front to back with a prefetch some rows ahead, one
 * input broadcast against four vectors of its outputs' weights.  Blocks go
 * to threads whole, so each thread streams its own share. */
#include "engine/dnn/f32_gemv.h"

#include <string.h>

#include "engine/engine.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "engine/dnn/int8_post_avx2.h"
#endif

#define BLK 32                   /* outputs a block */
#define AHEAD 24                 /* rows of a block prefetched ahead of the one in use */
#define PAR_MIN (64 * 1024)      /* weights below which one thread does the layer */

typedef struct {
    int64_t k, n, nb;            /* nb: blocks of BLK outputs */
    int nops;
    q8g_op ops[Q8G_MAX_OPS];
    size_t w, bias;              /* offsets in the blob */
} layer;

static size_t up32(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

int f32v_fits(const f32v_desc *d)
{
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i].kind > Q8G_HARDSWISH)
            return 0;
    return (eng_cpu_features() & ENG_CPU_AVX2) && d->k > 0 && d->n > 0 && d->nops <= Q8G_MAX_OPS;
}

size_t f32v_size(const f32v_desc *d)
{
    int64_t nb = (d->n + BLK - 1) / BLK;
    return up32(sizeof(layer)) + up32((size_t)(nb * BLK * d->k) * sizeof(float)) +
           up32((size_t)(nb * BLK) * sizeof(float));
}

void f32v_pack(void *blob, const f32v_desc *d)
{
    layer *L = blob;
    char *b = blob;
    memset(L, 0, sizeof *L);
    L->k = d->k, L->n = d->n, L->nb = (d->n + BLK - 1) / BLK;
    L->nops = d->nops;
    memcpy(L->ops, d->ops, sizeof L->ops);
    L->w = up32(sizeof(layer));
    L->bias = L->w + up32((size_t)(L->nb * BLK * L->k) * sizeof(float));
    float *w = (float *)(b + L->w), *bias = (float *)(b + L->bias);
    for (int64_t o = 0; o < L->nb * BLK; o++) {
        int in = o < d->n;
        bias[o] = in && d->bias ? d->bias[o] : 0.0f;
        for (int64_t i = 0; i < L->k; i++)
            w[((o / BLK) * L->k + i) * BLK + o % BLK] =
                !in ? 0.0f : d->kn ? d->w[i * d->n + o] : d->w[o * d->k + i];
    }
}

#if defined(__x86_64__)

AVX2 static void block(const layer *L, const float *x, float *y, int64_t bi)
{
    const char *b = (const char *)L;
    const float *w = (const float *)(b + L->w) + bi * L->k * BLK;
    const float *bias = (const float *)(b + L->bias) + bi * BLK;
    __m256 f[4];
    for (int j = 0; j < 4; j++)
        f[j] = _mm256_load_ps(bias + 8 * j);
    for (int64_t i = 0; i < L->k; i++, w += BLK) {
        /* past the block's end the prefetch only warms the next block */
        _mm_prefetch((const char *)(w + AHEAD * BLK), _MM_HINT_T0);
        _mm_prefetch((const char *)(w + AHEAD * BLK + 16), _MM_HINT_T0);
        const __m256 xv = _mm256_broadcast_ss(x + i);
        for (int j = 0; j < 4; j++)
            f[j] = _mm256_fmadd_ps(_mm256_load_ps(w + 8 * j), xv, f[j]);
    }
    q8p_ops(L->ops, L->nops, f, 4, NULL, 0);
    int64_t left = L->n - bi * BLK;
    if (left >= BLK) {
        for (int j = 0; j < 4; j++)
            _mm256_storeu_ps(y + bi * BLK + 8 * j, f[j]);
    } else {
        float tmp[BLK];
        for (int j = 0; j < 4; j++)
            _mm256_storeu_ps(tmp + 8 * j, f[j]);
        memcpy(y + bi * BLK, tmp, sizeof(float) * (size_t)left);
    }
}

void f32v_run(const void *blob, const float *x, float *y)
{
    const layer *L = blob;
    #pragma omp parallel for schedule(static) if (L->k * L->n >= PAR_MIN)
    for (int64_t bi = 0; bi < L->nb; bi++)
        block(L, x, y, bi);
}

#else

void f32v_run(const void *blob, const float *x, float *y)
{
    (void)blob, (void)x, (void)y;
}

#endif
