/*
 * cpuid_mask.c: make a process see an older x86 CPU, for benchmarks and for
 * the whole test suite (tests/run-masked.sh, make check-cpu).
 *
 *   LD_AUDIT=LIB LD_PRELOAD=LIB CPUID_MASK=avx2|sse41 COMMAND...
 *   (LIB = BUILD/bench/cpuid_mask.so, named twice: see la_version and
 *   sigaction below)
 *
 * oneDNN can be capped by ONEDNN_MAX_CPU_ISA, but ONNX Runtime (and any other
 * library) reads CPUID itself, so a capped comparison would set lcnetd's AVX2
 * code against ONNX Runtime's AVX-512 code.  Linux can make the CPUID
 * instruction fault (arch_prctl ARCH_SET_CPUID, where the CPU supports CPUID
 * faulting); this library turns that on for the process and its children and
 * answers each CPUID from a SIGSEGV handler, with the feature bits of the
 * newer extensions cleared.  Both sides of a benchmark then pick the kernels
 * they would pick on such a CPU.  The micro-architecture stays the machine's:
 * the results say so.
 *
 * What is cleared:
 *   avx2   every AVX-512 extension, VNNI (AVX-512 and AVX), bf16, fp16, AMX
 *   sse41  all that, and AVX, AVX2, FMA, F16C, BMI1/2, SSE4.2, POPCNT...
 * glibc's own string functions chose their variants before this library is
 * loaded; they are not part of what is measured.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

enum { TIER_NONE, TIER_AVX2, TIER_SSE41 };
static int tier;
static struct sigaction next_segv;      /* whoever handled SIGSEGV before us */

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#define BIT(n) (1u << (n))

static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf == 7 && sub == 0) {
        /* ebx: AVX-512 F, DQ, IFMA, PF, ER, CD, BW, VL */
        r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        /* ecx: VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
        r[2] &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        /* edx: 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE, AMX-INT8 */
        r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
        if (tier == TIER_SSE41)
            r[1] &= ~(BIT(3) | BIT(5) | BIT(8));                      /* BMI1, AVX2, BMI2 */
    }
    if (leaf == 7 && sub == 1)
        r[0] &= ~(BIT(4) | BIT(5));                                  /* AVX-VNNI, AVX512-BF16 */
    if (leaf == 1 && tier == TIER_SSE41)
        /* ecx: FMA, SSE4.2, MOVBE, POPCNT, XSAVE, OSXSAVE, AVX, F16C */
        r[2] &= ~(BIT(12) | BIT(20) | BIT(22) | BIT(23) | BIT(26) | BIT(27) | BIT(28) | BIT(29));
}

static void on_segv(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)g[REG_RIP];
    if (si->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], r[4];
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
        real_cpuid(leaf, sub, r);
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
        mask(leaf, sub, r);
        g[REG_RAX] = r[0];
        g[REG_RBX] = r[1];
        g[REG_RCX] = r[2];
        g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    /* not ours: hand it on as if we had never been here */
    if (next_segv.sa_flags & SA_SIGINFO) {
        next_segv.sa_sigaction(sig, si, uc_);
    } else if (next_segv.sa_handler != SIG_DFL && next_segv.sa_handler != SIG_IGN) {
        next_segv.sa_handler(sig);
    } else {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
}

/* A program that installs its own SIGSEGV handler (Node.js does) would
 * take the faults it does not know and die of them.  Preloaded, this
 * library is the program's sigaction: a SIGSEGV handler becomes the one we
 * hand on to, and ours stays in place. */
typedef int sigaction_fn(int, const struct sigaction *, struct sigaction *);

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    static sigaction_fn *real;
    if (!real)
        real = (sigaction_fn *)dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !tier)
        return real(sig, act, old);
    if (old)
        *old = next_segv;
    if (act)
        next_segv = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

static void install(const struct sigaction *sa)
{
    sigaction_fn *real = (sigaction_fn *)dlsym(RTLD_NEXT, "sigaction");
    real(SIGSEGV, sa, NULL);
}

static unsigned int start(void)
{
    const char *t = getenv("CPUID_MASK");
    if (!t || !*t)
        return 0;
    tier = !strcmp(t, "avx2") ? TIER_AVX2 : !strcmp(t, "sse41") ? TIER_SSE41 : TIER_NONE;
    if (tier == TIER_NONE) {
        static const char msg[] = "cpuid_mask: CPUID_MASK must be avx2 or sse41\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    install(&sa);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        static const char msg[] = "cpuid_mask: this CPU or kernel cannot make CPUID fault; "
                                  "no mask applied\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(2);
    }
    return 1;
}

/* Preloaded: our handler replaces the auditing copy's (see la_version),
 * before any program code runs. */
__attribute__((constructor)) static void preload_init(void)
{
    start();
}

/* The dynamic linker calls an auditing library's la_version before it runs
 * any library's constructors, and those are where oneDNN and others read
 * CPUID (an LD_PRELOAD constructor would come too late). */
unsigned int la_version(unsigned int version);
unsigned int la_version(unsigned int version)
{
    start();
    return version;
}
