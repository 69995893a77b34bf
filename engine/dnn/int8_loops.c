/* int8_loops.c: the int8 plan's steps that are loops of ours, not oneDNN
 * primitives (see int8.h): byte tables, two-tensor arithmetic, the
 * squeeze-excitation channel product, means, dequantisation of outputs,
 * per-channel quantisation, a convolution source's preparation, softmax. */
#include "engine/dnn/int8.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "engine/dnn/int8_col.h"
#include "engine/dnn/int8_dw.h"
#include "engine/dnn/int8_gemm.h"
#include "engine/dnn/q8_elem.h"
#include "engine/engine.h"
#include "engine/graph/quant.h"

/* A 256-byte table lookup, 64 bytes at a time: two two-register byte
 * permutes cover the low and high halves of the table, the index's top
 * bit picks between them.  Byte by byte, the tables would cost about as
 * much as all the convolutions (docs/int8.md). */
#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static void lut_vbmi(const uint8_t *lut, const uint8_t *x, uint8_t *y, int64_t n)
{
    __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
    __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i v = _mm512_loadu_si512(x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        __mmask64 top = _mm512_movepi8_mask(v);
        _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(top, lo, hi));
    }
    for (; i < n; i++)
        y[i] = lut[x[i]];
}
#endif

static void run_lut(const q8_step *s, const uint8_t *x, uint8_t *y, int64_t n)
{
#if defined(__x86_64__)
    if (eng_cpu_features() & ENG_CPU_VBMI) {
        lut_vbmi(s->lut, x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        y[i] = s->lut[x[i]];
}

static uint8_t requant(float r, float inv, int z)
{
    float q = nearbyintf(r * inv) + (float)z;
    return q <= 0 ? 0 : q >= 255 ? 255 : (uint8_t)q;
}

static void run_bin(const q8_plan *p, const q8_step *s)
{
    const q8_val *A = &p->q[s->a], *B = &p->q[s->b], *Y = &p->q[s->y];
    const uint8_t *a = pl_ptr(&p->pl, s->a), *b = pl_ptr(&p->pl, s->b);
    uint8_t *y = pl_ptr(&p->pl, s->y);
    float inv = 1.0f / Y->s;
    int64_t n = s->outer;
    #pragma omp parallel for if (n > (1 << 16)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float ar = A->s * (float)(a[i] - A->z), br = B->s * (float)(b[i] - B->z);
        y[i] = requant(s->op ? ar + br : ar * br, inv, Y->z);
    }
}

/* y[n, hw, c] = x[n, hw, c] * g[n, c], NHWC; uint8 with zero points, or
 * int8 with per-channel scales on all three */
static void run_cmul(const q8_plan *p, const q8_step *s)
{
    const q8_val *A = &p->q[s->a], *B = &p->q[s->b], *Y = &p->q[s->y];
    const uint8_t *a = pl_ptr(&p->pl, s->a), *b = pl_ptr(&p->pl, s->b);
    uint8_t *y = pl_ptr(&p->pl, s->y);
    int64_t C = s->c;
    int chan = A->cs != NULL;
    float f[C > 0 ? C : 1], za = chan ? 0 : (float)A->z, zy = chan ? 0 : (float)Y->z;
    for (int64_t n = 0; n < s->outer; n++) {
        for (int64_t c = 0; c < C; c++)
            f[c] = chan ? B->cs[c] * (float)(int8_t)b[n * C + c] * A->cs[c] / Y->cs[c]
                        : B->s * (float)(b[n * C + c] - B->z) * A->s / Y->s;
        q8e_chmul(a + n * s->inner * C, f, s->inner, C, chan, za, zy, y + n * s->inner * C);
    }
}

static void run_mean(const q8_plan *p, const q8_step *s)
{
    const q8_val *A = &p->q[s->a], *Y = &p->q[s->y];
    const uint8_t *a = pl_ptr(&p->pl, s->a);
    int64_t C = s->c;
    int32_t sum[C > 0 ? C : 1];
    for (int64_t n = 0; n < s->outer; n++) {
        q8e_colsum(a + n * s->inner * C, s->inner, C, A->cs != NULL, sum);
        for (int64_t c = 0; c < C; c++) {
            float r = A->cs ? A->cs[c] * (float)sum[c] / (float)s->inner
                            : A->s * ((float)sum[c] / (float)s->inner - (float)A->z);
            if (Y->dt == G_U8 && Y->cs)
                ((uint8_t *)pl_ptr(&p->pl, s->y))[n * C + c] = q8_s8(r, Y->cs[c]);
            else if (Y->dt == G_U8)
                ((uint8_t *)pl_ptr(&p->pl, s->y))[n * C + c] = q_u8(r, Y->s, Y->z);
            else
                ((float *)pl_ptr(&p->pl, s->y))[n * C + c] = r;
        }
    }
}

static void run_deq(const q8_plan *p, const q8_step *s)
{
    const q8_val *A = &p->q[s->a];
    const uint8_t *a = pl_ptr(&p->pl, s->a);
    float *y = pl_ptr(&p->pl, s->y);
    int64_t C = q8_channels(A);
    for (int64_t i = 0, n = q8_numel(A); i < n; i++)
        y[i] = q8_deq_c(A, a[i], i % C);       /* NHWC: channels innermost */
}

static void run_qch(const q8_plan *p, const q8_step *s)
{
    const q8_val *Y = &p->q[s->y];
    const float *x = pl_ptr(&p->pl, s->a);
    uint8_t *y = pl_ptr(&p->pl, s->y);
    int64_t C = q8_channels(Y);
    for (int64_t i = 0, n = q8_numel(Y); i < n; i++)
        y[i] = q8_s8(x[i], Y->cs[i % C]);
}

/* n bytes, each xor flip: eight at a time, as most rows are multiples. */
static void copy_flip(uint8_t *restrict y, const uint8_t *restrict x, int64_t n, uint8_t flip)
{
    if (!flip) {
        memcpy(y, x, (size_t)n);
        return;
    }
    const uint64_t f = 0x0101010101010101ull * flip;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, x + i, 8);
        v ^= f;
        memcpy(y + i, &v, 8);
    }
    for (; i < n; i++)
        y[i] = x[i] ^ flip;
}

/* Each group's channels copied op times (1 or 2), every byte xor flip. */
static void run_prep(const q8_plan *p, const q8_step *s)
{
    const uint8_t *x = pl_ptr(&p->pl, s->a);
    uint8_t *y = pl_ptr(&p->pl, s->y);
    int64_t rows = s->inner * s->outer, cg = s->c;
    if (s->op == 1) {                       /* the same layout: one pass */
        copy_flip(y, x, rows * cg, s->flip);
        return;
    }
    #pragma omp parallel for if (rows * cg > (1 << 16)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        copy_flip(y + r * 2 * cg, x + r * cg, cg, s->flip);
        memcpy(y + r * 2 * cg + cg, y + r * 2 * cg, (size_t)cg);
    }
}

static void run_softmax(const q8_plan *p, const q8_step *s)
{
    const q8_val *A = &p->q[s->a];
    float *y = pl_ptr(&p->pl, s->y);
    for (int64_t r = 0; r < s->outer; r++) {
        float *row = y + r * s->c, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < s->c; c++) {
            int64_t i = r * s->c + c;
            row[c] = A->dt == G_U8 ? q8_deq_c(A, ((const uint8_t *)pl_ptr(&p->pl, s->a))[i], c)
                                   : ((const float *)pl_ptr(&p->pl, s->a))[i];
            mx = row[c] > mx ? row[c] : mx;
        }
        for (int64_t c = 0; c < s->c; c++)
            sum += (row[c] = expf(row[c] - mx));
        for (int64_t c = 0; c < s->c; c++)
            row[c] /= sum;
    }
}

void q8_loop(pl_plan *pl, int i)
{
    const q8_plan *p = (const q8_plan *)pl;
    const q8_step *s = pl_ext(pl, i);
    switch (s->kind) {
    case S_LUT: run_lut(s, pl_ptr(pl, s->a), pl_ptr(pl, s->y), q8_numel(&p->q[s->a])); break;
    case S_BIN: run_bin(p, s); break;
    case S_CMUL: run_cmul(p, s); break;
    case S_MEAN: run_mean(p, s); break;
    case S_DEQ: run_deq(p, s); break;
    case S_SOFTMAX: run_softmax(p, s); break;
    case S_QCH: run_qch(p, s); break;
    case S_PREP: run_prep(p, s); break;
    case S_GEMM: q8g_run(s->blob, pl_ptr(pl, s->a), pl_ptr(pl, s->y), s->outer); break;
    case S_DW: q8d_run(s->blob, pl_ptr(pl, s->a), pl_ptr(pl, s->y), s->outer); break;
    case S_COL: q8c_run(s->blob, pl_ptr(pl, s->a), pl_ptr(pl, s->y), s->outer); break;
    }
}
