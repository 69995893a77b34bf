/* pick.h: which backend, in which precision, runs a model: chosen once, at
 * load, from the options, the CPU's architecture and features, and what
 * each backend can run.  The one place that knows the backends by name
 * (engine/dnn/ and engine/xnn/ behind engine/backend.h). */
#ifndef LCNETD_PICK_H
#define LCNETD_PICK_H

#include <stddef.h>

#include "engine/backend.h"
#include "engine/engine.h"

typedef struct {
    const be_backend *be;     /* compiles and runs the plans */
    be_ctx *ctx;              /* be's state for the model; freed with be->ctx_free */
    be_prec prec;
    eng_backend backend;      /* ENG_BACKEND_ONEDNN or ENG_BACKEND_XNNPACK */
    char reason[192];         /* why this precision (eng_info.precision_reason) */
    char breason[512];        /* why this backend (eng_info.backend_reason) */
} be_choice;

/* The backend and precision for graph g (fused), g's precision pass done
 * (QDQ pairs folded, or calibrated ranges applied for int8) and the
 * backend's context made for `unit` items a run.  model names the file
 * (its default calibration file is beside it); calibrating: eng_calib's
 * load, whose fp32 outputs feed the int8 ranges.  A refusal says why and
 * what would run the model.  On failure c->ctx is NULL. */
int be_pick(be_choice *c, gr_graph *g, const eng_options *o, const char *model, int unit,
            int calibrating, char *err, size_t errlen);

/* eng_precision's value for p. */
eng_precision be_prec_public(be_prec p);

#endif
