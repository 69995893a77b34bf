/* pick.c: the backend and precision a model runs in (see pick.h).
 *
 * A backend is a row below: the table that runs each precision it has,
 * and the lower precision `auto` takes where the CPU computes it natively.
 * auto takes the architecture's backend (XNNPACK on arm64, where Debian's
 * oneDNN has no Neon kernels; oneDNN on x86-64, where it is the faster),
 * or the other one for a precision only that one has. */
#include "engine/pick.h"

#include <stdio.h>
#include <string.h>

#include "engine/dnn/dnn.h"
#include "engine/graph/quant.h"
#include "engine/xnn/xnn.h"

typedef struct {
    const char *name, *label;                /* as configured; in messages */
    const be_backend *runs[BE_NPREC];         /* NULL: not on this backend */
    be_prec low;                             /* what auto takes where the CPU has it */
    const char *low_what;                    /* the CPU feature it needs, in words */
    const char *auto_yes, *auto_no;          /* auto's reasons, with the ISA */
} lib;

static const lib libs[] = {
    [ENG_BACKEND_ONEDNN] = {
        "onednn", "oneDNN", { [BE_F32] = &dnn_float, [BE_BF16] = &dnn_float, [BE_INT8] = &dnn_int8 },
        BE_BF16, "native bf16", "auto: %s has native bf16", "auto: %s has no native bf16, so fp32",
    },
    [ENG_BACKEND_XNNPACK] = {
        "xnnpack", "XNNPACK", { [BE_F32] = &xnp_float, [BE_F16] = &xnp_float, [BE_INT8] = &xnp_int8 },
        BE_F16, "FP16 arithmetic", "auto: %s has FP16 arithmetic, so fp16",
        "auto: %s has no FP16 arithmetic, so fp32",
    },
};

#if defined(__aarch64__)
static const eng_backend native = ENG_BACKEND_XNNPACK;
static const char *const native_why = "auto: XNNPACK on arm64 (Debian's oneDNN has no Neon kernels)";
static const char *const arch = "arm64";
#else
static const eng_backend native = ENG_BACKEND_ONEDNN;
static const char *const native_why = "auto: oneDNN on x86-64";
static const char *const arch = "x86-64";
#endif

static const char *prec_name(be_prec p)
{
    return eng_precision_name(be_prec_public(p));
}

eng_precision be_prec_public(be_prec p)
{
    switch (p) {
    case BE_BF16: return ENG_PREC_BF16;
    case BE_INT8: return ENG_PREC_INT8;
    case BE_F16: return ENG_PREC_FP16;
    default: return ENG_PREC_FP32;
    }
}

static int cpu_has(be_prec p)
{
    switch (p) {
    case BE_BF16: return dnn_cpu_has_bf16();
    case BE_F16: return (eng_cpu_features() & ENG_CPU_FP16) != 0;
    default: return 1;
    }
}

static eng_backend other(eng_backend b)
{
    return b == ENG_BACKEND_ONEDNN ? ENG_BACKEND_XNNPACK : ENG_BACKEND_ONEDNN;
}

/* The precision asked for, as a backend precision; auto: -1. */
static int asked(const eng_options *o, int qdq)
{
    if (qdq)
        return BE_INT8;
    switch (o->precision) {
    case ENG_PREC_BF16: return BE_BF16;
    case ENG_PREC_INT8: return BE_INT8;
    case ENG_PREC_FP16: return BE_F16;
    case ENG_PREC_AUTO: return -1;
    default: return BE_F32;
    }
}

static int choose_backend(be_choice *c, const eng_options *o, int want, int calibrating,
                          char *err, size_t errlen)
{
    eng_backend b = o->backend;
    if (calibrating) {
        c->backend = ENG_BACKEND_ONEDNN;
        snprintf(c->breason, sizeof c->breason, "calibration runs on oneDNN");
        return 0;
    }
    if (b == ENG_BACKEND_ONEDNN || b == ENG_BACKEND_XNNPACK) {
        if (want >= 0 && !libs[b].runs[want]) {
            snprintf(err, errlen, "precision %s runs on the %s backend (backend %s%s)",
                     prec_name((be_prec)want), libs[other(b)].label, libs[other(b)].name,
                     other(b) == native ? " or auto" : "");
            return ENG_EUNSUP;
        }
        c->backend = b;
        snprintf(c->breason, sizeof c->breason, "%s as configured", libs[b].name);
        return 0;
    }
    if (want < 0 || libs[native].runs[want]) {
        c->backend = native;
        snprintf(c->breason, sizeof c->breason, "%s", native_why);
    } else {
        c->backend = other(native);
        snprintf(c->breason, sizeof c->breason, "auto: %s for %s on %s", libs[c->backend].label,
                 prec_name((be_prec)want), arch);
    }
    return 0;
}

/* int8 is exact on every ISA, but oneDNN's without VNNI costs more (see
 * dnn/int8_conv.c): say so where it runs. */
static const char *int8_note(eng_backend b)
{
    if (b != ENG_BACKEND_ONEDNN || dnn_cpu_has_vnni())
        return "";
    if (eng_cpu_features() & ENG_CPU_AVX2)
        return " (no VNNI: pointwise, depthwise and small dense convolutions on lcnetd's own "
               "exact AVX2 kernels, the other dense ones read their source twice with split weights)";
    return " (no VNNI: convolutions read their source twice with split weights, exact but slower)";
}

/* The precision on the chosen backend, with the reason. */
static int choose_precision(be_choice *c, const eng_options *o, int want, int qdq,
                            char *err, size_t errlen)
{
    const lib *l = &libs[c->backend];
    const char *isa = eng_cpu_isa();
    if (qdq) {
        if (o->precision != ENG_PREC_INT8 && o->precision != ENG_PREC_AUTO) {
            snprintf(err, errlen, "the model is quantised (QuantizeLinear/DequantizeLinear): "
                     "run it with precision int8 or auto");
            return ENG_EUNSUP;
        }
        c->prec = BE_INT8;
        snprintf(c->reason, sizeof c->reason, "int8: the model is quantised (QDQ)%s",
                 int8_note(c->backend));
        return 0;
    }
    if (want < 0) {
        int yes = cpu_has(l->low);
        c->prec = yes ? l->low : BE_F32;
        snprintf(c->reason, sizeof c->reason, yes ? l->auto_yes : l->auto_no, isa);
        return 0;
    }
    if (!cpu_has((be_prec)want)) {
        snprintf(err, errlen, "precision %s: this CPU (%s) has no %s (use fp32 or auto)",
                 prec_name((be_prec)want), isa, l->low_what);
        return ENG_EUNSUP;
    }
    c->prec = (be_prec)want;
    if (want == BE_INT8)
        snprintf(c->reason, sizeof c->reason, "int8 as configured, with calibrated ranges%s",
                 int8_note(c->backend));
    else
        snprintf(c->reason, sizeof c->reason, "%s as configured", prec_name(c->prec));
    return 0;
}

/* int8's graph pass, once, whichever backend then runs it. */
static int int8_pass(gr_graph *g, const eng_options *o, const char *model, int qdq,
                     char *err, size_t errlen)
{
    char def[4096];
    if (qdq)
        return q_fold_qdq(g, err, errlen);
    eng_calib_default_path(model, def, sizeof def);
    return q_calib_apply(g, o->calib_path && *o->calib_path ? o->calib_path : def, err, errlen);
}

int be_pick(be_choice *c, gr_graph *g, const eng_options *o, const char *model, int unit,
            int calibrating, char *err, size_t errlen)
{
    int qdq = q_is_qdq(g), want = asked(o, qdq), ret;
    memset(c, 0, sizeof(*c));
    if ((ret = choose_backend(c, o, want, calibrating, err, errlen)) < 0 ||
        (ret = choose_precision(c, o, want, qdq, err, errlen)) < 0)
        return ret;
    if (c->prec == BE_INT8 && (ret = int8_pass(g, o, model, qdq, err, errlen)) < 0)
        return ret;
    for (;;) {
        c->be = libs[c->backend].runs[c->prec];
        ret = c->be->ctx_new(&c->ctx, g, unit, c->prec, o->threads, err, errlen);
        if (ret != ENG_EUNSUP)
            return ret;
        /* a model this backend cannot run: what else may, under auto */
        if (want < 0 && c->prec != BE_F32 && c->prec != BE_INT8) {
            size_t len = strlen(c->reason);
            snprintf(c->reason + len, sizeof c->reason - len, "; not this model (%.100s), so fp32",
                     err);
            c->prec = BE_F32;
            continue;
        }
        eng_backend alt = other(c->backend);
        if (o->backend != ENG_BACKEND_AUTO || c->backend != native || calibrating ||
            (want >= 0 && !libs[alt].runs[want])) {
            size_t len = strlen(err);
            char hint[64];
            snprintf(hint, sizeof hint, "backend %s", libs[alt].name);
            /* the backend's own refusal may already say what to use */
            if (libs[alt].runs[c->prec] && !strstr(err, hint))
                snprintf(err + len, errlen - len, "; %s may run this model", hint);
            return ret;
        }
        snprintf(c->breason, sizeof c->breason, "auto: %s cannot run %.400s, so %s",
                 libs[c->backend].label, err, libs[alt].label);
        c->backend = alt;
        if ((ret = choose_precision(c, o, want, qdq, err, errlen)) < 0)
            return ret;
    }
}
