/* fmapeak: measure one core's clock and its fp32 FMA throughput.
 *
 *   fmapeak            prints one JSON line (512-bit FMAs)
 *   fmapeak ymm        the same with 256-bit FMAs: the peak of an AVX2 CPU's
 *                      instruction set (on one, or on a masked CPUID), and
 *                      the exact int8 ceiling of that set (below)
 *
 * clock: a chain of dependent register-to-register integer adds retires one
 * add per cycle on any x86 core of the last decade (latency 1, nothing to
 * fold: the added operand is a register), so adds per second = cycles per
 * second, at whatever frequency the core really runs (turbo included, the
 * TSC rate not).
 *
 * FMA: 12 independent accumulators of 512-bit vfmadd231ps (more than latency
 * x ports, so the FMA units never wait), 16 fp32 FMAs each; FMAs per second
 * is the achieved peak, and FMAs per cycle = that / clock.
 *
 * int8 without VNNI (ymm only): lcnetd's exact AVX2 kernels multiply int16
 * pairs with vpmaddwd (16 multiply-accumulates into 8 int32 sums) and add
 * those into int32 accumulators with vpaddd, two vector instructions for
 * 16 MACs.  12 independent chains of that pair give the most such MACs a
 * core retires per second: the ceiling of the exact int8 path.
 *
 * 25 alternating trials of about 20 ms each, timed in this thread's CPU
 * time; the best of each is kept (a shared machine only ever makes a trial
 * slower).  Needs AVX-512F (ymm: AVX2 and FMA); the vector code is all in
 * the asm, so the program itself runs on any x86-64.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* This thread's CPU time: time the scheduler or the hypervisor gives to
 * someone else is not counted, so a busy machine slows no trial down. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 64 dependent adds per iteration */
static void add_chain(uint64_t iters)
{
    uint64_t a = 0, b = 1;
    for (uint64_t i = 0; i < iters; i++) {
        __asm__ volatile(
#define A1 "add %1, %0\n\t"
#define A8 A1 A1 A1 A1 A1 A1 A1 A1
            A8 A8 A8 A8 A8 A8 A8 A8
            : "+r"(a) : "r"(b));
    }
    __asm__ volatile("" ::"r"(a));
}

/* 12 independent FMAs on registers R ("zmm": 16 fp32 lanes, "ymm": 8), 4
 * times over: 48 instructions per iteration.  One text for both widths, so
 * that the two probes cannot drift apart. */
#define MOV(R, d) "vmovaps %%" R "0, %%" R #d "\n\t"
#define FMA(R, d) "vfmadd231ps %%" R "12, %%" R "13, %%" R #d "\n\t"
#define FMA12(R) FMA(R, 0) FMA(R, 1) FMA(R, 2) FMA(R, 3) FMA(R, 4) FMA(R, 5) \
                 FMA(R, 6) FMA(R, 7) FMA(R, 8) FMA(R, 9) FMA(R, 10) FMA(R, 11)
#define FMA_LOOP(R) \
    "vxorps %%" R "0, %%" R "0, %%" R "0\n\t" \
    MOV(R, 1) MOV(R, 2) MOV(R, 3) MOV(R, 4) MOV(R, 5) MOV(R, 6) MOV(R, 7) \
    MOV(R, 8) MOV(R, 9) MOV(R, 10) MOV(R, 11) MOV(R, 12) MOV(R, 13) \
    "1:\n\t" \
    FMA12(R) FMA12(R) FMA12(R) FMA12(R) \
    "dec %0\n\t" \
    "jnz 1b\n\t" \
    "vzeroupper\n\t"
#define FMA_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                     "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc"

static void fma_zmm(uint64_t iters)
{
    __asm__ volatile(FMA_LOOP("zmm") : "+r"(iters) : : FMA_CLOBBERS);
}

static void fma_ymm(uint64_t iters)
{
    __asm__ volatile(FMA_LOOP("ymm") : "+r"(iters) : : FMA_CLOBBERS);
}

/* 12 chains of vpmaddwd (into a scratch register) then vpaddd, 4 times
 * over: 48 pairs, 768 int16 MACs per iteration. */
#define MADD(d) "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n\t" \
                "vpaddd %%ymm14, %%ymm" #d ", %%ymm" #d "\n\t"
#define MADD12 MADD(0) MADD(1) MADD(2) MADD(3) MADD(4) MADD(5) \
               MADD(6) MADD(7) MADD(8) MADD(9) MADD(10) MADD(11)

static void madd_ymm(uint64_t iters)
{
    __asm__ volatile(
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
        MOV("ymm", 1) MOV("ymm", 2) MOV("ymm", 3) MOV("ymm", 4) MOV("ymm", 5) MOV("ymm", 6)
        MOV("ymm", 7) MOV("ymm", 8) MOV("ymm", 9) MOV("ymm", 10) MOV("ymm", 11)
        MOV("ymm", 12) MOV("ymm", 13)
        "1:\n\t"
        MADD12 MADD12 MADD12 MADD12
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters) : : FMA_CLOBBERS, "xmm14");
}

/* Iterations of fn that take about `secs` of CPU time. */
static uint64_t calibrate(void (*fn)(uint64_t), double secs)
{
    uint64_t iters = 1000;
    for (;;) {
        double t0 = cpu_s();
        fn(iters);
        double dt = cpu_s() - t0;
        if (dt > 0.005)
            return (uint64_t)((double)iters * secs / dt) + 1;
        iters *= 4;
    }
}

/* Best rate (units per CPU-second) of one trial of `iters` iterations. */
static void trial(void (*fn)(uint64_t), uint64_t iters, double units_per_iter, double *best)
{
    double t0 = cpu_s();
    fn(iters);
    double dt = cpu_s() - t0;
    double r = (double)iters * units_per_iter / dt;
    if (r > *best)
        *best = r;
}

int main(int argc, char **argv)
{
    int ymm = argc > 1 && !strcmp(argv[1], "ymm");
    void (*fma_fn)(uint64_t) = ymm ? fma_ymm : fma_zmm;
    int lanes = ymm ? 8 : 16;
    double hz = 0, fma = 0, madd = 0;
    uint64_t n_add = calibrate(add_chain, 0.02), n_fma = calibrate(fma_fn, 0.02);
    uint64_t n_madd = ymm ? calibrate(madd_ymm, 0.02) : 0;
    /* alternate short trials, so that all see the same conditions */
    for (int i = 0; i < 25; i++) {
        trial(add_chain, n_add, 64, &hz);
        trial(fma_fn, n_fma, 48.0 * lanes, &fma);
        if (ymm)
            trial(madd_ymm, n_madd, 48.0 * 16, &madd);
    }
    printf("{\"clock_mhz\":%.0f,\"fp32_fma_per_s\":%.4g,\"fp32_fma_per_cycle\":%.2f,"
           "\"vector_bits\":%d,\"vector_fma_per_cycle\":%.2f",
           hz / 1e6, fma, fma / hz, lanes * 32, fma / hz / lanes);
    if (ymm)
        printf(",\"int16_pair_mac_per_s\":%.4g,\"int16_pair_mac_per_cycle\":%.2f", madd,
               madd / hz);
    printf("}\n");
    return 0;
}
