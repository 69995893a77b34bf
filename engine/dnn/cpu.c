/* cpu.c: what this CPU runs, as oneDNN dispatches it (see engine.h).
 *
 * oneDNN's answer already includes ONEDNN_MAX_CPU_ISA, so one process can
 * be made to behave like an older CPU; the engine's and the resampler's own
 * vector loops ask here too, so that such a run tests their portable paths
 * as well. */
#include <stdatomic.h>
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "engine/engine.h"
#include "engine/dnn/onednn.h"

static unsigned features_of(dnnl_cpu_isa_t isa)
{
#if defined(__x86_64__)
    unsigned f = 0;
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx:
    case dnnl_cpu_isa_avx512_core_bf16: f |= ENG_CPU_BF16; /* fall through */
    case dnnl_cpu_isa_avx512_core_vnni: f |= ENG_CPU_VNNI; /* fall through */
    case dnnl_cpu_isa_avx512_core: f |= ENG_CPU_AVX512 | ENG_CPU_AVX2; break;
    case dnnl_cpu_isa_avx2_vnni: f |= ENG_CPU_VNNI | ENG_CPU_AVX2; break;
    case dnnl_cpu_isa_avx2: f |= ENG_CPU_AVX2; break;
    default: break;
    }
    /* every AVX2 CPU has FMA, but the loops are compiled for both: ask */
    if ((f & ENG_CPU_AVX2) && !__builtin_cpu_supports("fma"))
        f &= ~(unsigned)ENG_CPU_AVX2;
    if ((f & ENG_CPU_AVX512) && __builtin_cpu_supports("avx512vbmi"))
        f |= ENG_CPU_VBMI;
    return f;
#elif defined(__aarch64__)
    /* oneDNN's ISA values name x86 tiers only: ask the kernel instead */
    (void)isa;
    unsigned long hw = getauxval(AT_HWCAP);
    unsigned f = 0;
    if (hw & HWCAP_ASIMD)
        f |= ENG_CPU_NEON;
    if ((hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP))
        f |= ENG_CPU_FP16;
    if (hw & HWCAP_ASIMDDP)
        f |= ENG_CPU_DOTPROD;
    if (hw & HWCAP_SVE)
        f |= ENG_CPU_SVE;
    return f;
#else
    (void)isa;
    return 0;
#endif
}

unsigned eng_cpu_features(void)
{
    static atomic_uint cached;            /* bit 31: computed */
    unsigned f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!f) {
        f = features_of(dnnl_get_effective_cpu_isa()) | 1u << 31;
        atomic_store_explicit(&cached, f, memory_order_relaxed);
    }
    return f & ~(1u << 31);
}

const char *eng_cpu_isa(void)
{
#if defined(__x86_64__)
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "x86-64";
    }
#elif defined(__aarch64__)
    static const char *const names[] = {
        "aarch64", "neon", "neon_fp16", "neon_fp16", "neon_dotprod", "neon_dotprod",
        "neon_fp16_dotprod", "neon_fp16_dotprod",
    };
    unsigned f = eng_cpu_features();
    unsigned k = (f & ENG_CPU_NEON ? 1u : 0u) | (f & ENG_CPU_FP16 ? 2u : 0u) |
                 (f & ENG_CPU_DOTPROD ? 4u : 0u);
    return names[k];
#else
    return "generic";
#endif
}

int dnn_cpu_has_bf16(void)
{
    return (eng_cpu_features() & ENG_CPU_BF16) != 0;
}

int dnn_cpu_has_vnni(void)
{
    return (eng_cpu_features() & ENG_CPU_VNNI) != 0;
}
