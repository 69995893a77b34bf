/* engine.h: load a PP-LCNet model and classify frames with oneDNN or,
 * on arm64, XNNPACK.
 *
 * Pure compute: no FFmpeg, no sockets, no threads of its own beyond
 * oneDNN's OpenMP team or XNNPACK's thread pool.  One eng_model is used by
 * one thread at a time.
 *
 * A model is an ONNX file or a PaddlePaddle inference folder.  It is
 * compiled once per batch size (lazily, weights shared) and run on 8-bit
 * RGB/BGR frames already resized to the model's input, or on float tensors.
 */
#ifndef LCNETD_ENGINE_H
#define LCNETD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

enum {
    ENG_OK = 0,
    ENG_EINVAL = -1,   /* bad argument from the caller */
    ENG_ENOMEM = -2,
    ENG_EMODEL = -3,   /* model file malformed, inconsistent or unsupported */
    ENG_EIO = -4,      /* could not read a file */
    ENG_EUNSUP = -5,   /* valid but outside what this build or CPU supports */
};

/* The precision, channel order and resize are defined here once: the
 * configuration's words map to these values (config/keys.c) and the frame
 * scaler takes them (media/scale.h). */
typedef enum {
    ENG_PREC_FP32 = 0,
    ENG_PREC_BF16,
    ENG_PREC_INT8,
    ENG_PREC_AUTO,     /* bf16 (oneDNN) or fp16 (XNNPACK) where the CPU has it, else fp32 */
    ENG_PREC_FP16,     /* XNNPACK, on CPUs with FP16 arithmetic */
} eng_precision;

/* Which library computes: oneDNN (x86-64's) or XNNPACK (arm64's: Debian's
 * oneDNN has no Neon kernels there).  auto picks by architecture. */
typedef enum { ENG_BACKEND_AUTO = 0, ENG_BACKEND_ONEDNN, ENG_BACKEND_XNNPACK } eng_backend;

typedef enum {
    ENG_ORDER_MODEL = -1,     /* options only: what the model's metadata says, else RGB */
    ENG_ORDER_RGB = 0,
    ENG_ORDER_BGR,
} eng_order;

typedef enum {
    ENG_RESIZE_DEFAULT = 0,   /* what the model's metadata says, else short-crop */
    ENG_RESIZE_SHORT_CROP,    /* short side to 256/224 of input, centre crop */
    ENG_RESIZE_STRETCH,       /* straight to input size, aspect not kept */
} eng_resize;

/* A constant fed to a named graph input at load time, so that shape inputs
 * (a Reshape's target, Clip bounds) become compile-time facts. */
typedef struct {
    const char *name;
    int dtype;                /* ENG_DT_* */
    int ndim;
    const int64_t *dims;
    const void *data;
} eng_binding;

enum { ENG_DT_F32 = 1, ENG_DT_U8 = 2, ENG_DT_I8 = 3, ENG_DT_I32 = 6, ENG_DT_I64 = 7 };

typedef struct {
    eng_precision precision;
    eng_backend backend;
    int threads;              /* OpenMP team or XNNPACK pool size; 0 = a thread per usable CPU */
    /* Preprocessing overrides; a zero std[0] / scale means "model's, else ImageNet". */
    float mean[3], std[3], scale;
    eng_order order;          /* ENG_ORDER_MODEL: the model's */
    eng_resize resize;
    const eng_binding *bind;
    int nbind;
    const char *calib_path;   /* int8 of a float model: ranges file; NULL = eng_calib_default_path */
} eng_options;

void eng_options_init(eng_options *o);

#define ENG_MAX_DIMS 6

typedef struct {
    const char *name;
    int ndim;
    int64_t dims[ENG_MAX_DIMS];   /* dims[0] == -1: batch chosen per call */
} eng_tensor_info;

typedef struct {
    /* the image input, NCHW */
    int channels, height, width;
    int classes;                  /* size of the first output's last axis */
    int ends_in_softmax;          /* outputs are already probabilities */
    eng_precision precision;      /* what actually runs */
    const char *precision_reason; /* and why: "auto: avx2 has no native bf16, so fp32" */
    const char *isa;              /* eng_cpu_isa(): what oneDNN dispatches to */
    const char *backend;          /* "onednn" or "xnnpack" */
    const char *backend_reason;   /* "auto: XNNPACK on arm64", ... */
    eng_order order;              /* preprocessing in effect */
    eng_resize resize;
    float mean[3], std[3], scale;
    int ninputs, noutputs;
    const char *format;           /* "onnx", "paddle-pir", "paddle-pdmodel" */
} eng_info;

typedef struct eng_model eng_model;

/* Load and compile.  path: an .onnx file or a Paddle inference folder.
 * On failure returns < 0 and writes one line naming the node, tensor or
 * file and the reason into err.  Caller frees with eng_free. */
int eng_load(eng_model **out, const eng_options *opt, const char *path,
             char *err, size_t errlen);
void eng_free(eng_model *m);

const eng_info *eng_get_info(const eng_model *m);
int eng_input_info(const eng_model *m, int i, eng_tensor_info *ti);
int eng_output_info(const eng_model *m, int i, eng_tensor_info *ti);

/* Run n frames, each height x width x 3 bytes in the given order with
 * `stride` bytes per row.  out: n * classes raw outputs (first output). */
int eng_run_pixels(eng_model *m, const uint8_t *const *frames, const int *stride,
                   int n, float *out, char *err, size_t errlen);

/* Run float tensors: one per graph input, NCHW, dims as eng_input_info with
 * dims[0] = batch where it is dynamic; outputs likewise, plain row-major. */
int eng_run_tensors(eng_model *m, int batch, const float *const *in,
                    float *const *out, char *err, size_t errlen);

/* Softmax over `classes`, unless the model already ends in one. */
void eng_probs(const eng_model *m, const float *raw, int n, float *probs);

typedef struct { int cls; float score; } eng_top;
/* The k best of `classes` scores, highest first; returns how many written. */
int eng_topk(const float *scores, int classes, int k, eng_top *top);

/* Labels: "<id> <name>" per line, or one name per line.  Unknown ids get
 * NULL from eng_label. */
typedef struct eng_labels eng_labels;
int eng_labels_load(eng_labels **out, const char *path, char *err, size_t errlen);
/* From a list held by the model (Paddle inference.yml); NULL when none. */
eng_labels *eng_model_labels(eng_model *m);
const char *eng_label(const eng_labels *l, int cls);
int eng_labels_count(const eng_labels *l);
void eng_labels_free(eng_labels *l);

/* What this CPU runs.  x86-64: as oneDNN dispatches it (ONEDNN_MAX_CPU_ISA
 * caps it, and every vector loop of lcnetd's own follows the same cap).
 * arm64: what the kernel reports (AT_HWCAP). */
enum {
    ENG_CPU_AVX2 = 1 << 0,     /* AVX2 with FMA */
    ENG_CPU_AVX512 = 1 << 1,   /* AVX-512 F, BW, DQ, VL (oneDNN's avx512_core) */
    ENG_CPU_VBMI = 1 << 2,     /* AVX-512 VBMI byte permutes, within that tier */
    ENG_CPU_VNNI = 1 << 3,     /* int8 dot products that cannot saturate */
    ENG_CPU_BF16 = 1 << 4,     /* native bf16 arithmetic */
    ENG_CPU_NEON = 1 << 5,     /* arm64: Advanced SIMD */
    ENG_CPU_FP16 = 1 << 6,     /* arm64: half-precision arithmetic (Cortex-A55, A76 and later) */
    ENG_CPU_DOTPROD = 1 << 7,  /* arm64: int8 dot products (SDOT/UDOT) */
    ENG_CPU_SVE = 1 << 8,      /* arm64: the Scalable Vector Extension */
};
unsigned eng_cpu_features(void);
/* The instruction set: oneDNN's name on x86-64 ("avx2", "avx512_core_vnni",
 * ...); on arm64 "neon", "neon_fp16", "neon_dotprod" or "neon_fp16_dotprod". */
const char *eng_cpu_isa(void);

const char *eng_precision_name(eng_precision p);
const char *eng_backend_name(eng_backend b);

/* int8 calibration: the float model runs over frames the user provides
 * (each height x width x 3 bytes, as for eng_run_pixels) and every
 * activation's range is recorded; eng_calib_save writes the file that
 * precision int8 reads (by default eng_calib_default_path: <model>.calib,
 * or inference.calib inside a Paddle folder).  model: named in the header. */
typedef struct eng_calib eng_calib;
int eng_calib_new(eng_calib **out, const eng_options *opt, const char *path, char *err,
                  size_t errlen);
const eng_info *eng_calib_info(const eng_calib *c);
int eng_calib_add(eng_calib *c, const uint8_t *frame, int stride, char *err, size_t errlen);
int eng_calib_save(eng_calib *c, const char *path, const char *model, char *err, size_t errlen);
void eng_calib_free(eng_calib *c);
void eng_calib_default_path(const char *model, char *buf, size_t len);

/* The largest batch the engine compiles a plan for. */
#define ENG_MAX_BATCH 64

/* Compile the plans for batches 1..max_batch now (a model with a fixed
 * batch: that one), rather than on the first run of each: a compile takes
 * tens of milliseconds, which a stream running live would feel. */
int eng_prepare(eng_model *m, int max_batch, char *err, size_t errlen);

/* Diagnostics for tests and benchmarks: the compiled plan for a batch size. */
int eng_plan_stats(eng_model *m, int batch, int *steps, int *reorders, size_t *arena,
                   char *err, size_t errlen);
/* One line per primitive (kind, oneDNN implementation, type, node, shape). */
void eng_plan_dump(eng_model *m, int batch, void (*line)(void *, const char *), void *arg);
/* From the next run of this batch size on, time each step of its plan (the
 * steps eng_plan_dump lists, in its order); *ms then holds the last run's
 * times in milliseconds.  For benchmarks: it waits for each step, which a
 * run otherwise need not.  The step count, or a negative ENG_ code. */
int eng_plan_time_steps(eng_model *m, int batch, const double **ms, char *err, size_t errlen);

#endif
