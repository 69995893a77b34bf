/* testutil.h: what the suites share (tests/testutil.c, linked into every
 * one): where the fixtures and the shared models are, whole files in and
 * out, temporary folders (one holding a listening event socket), the fixture manifests, and loading a model and
 * holding its outputs to a reference.  A helper that cannot do its job
 * fails the running cmocka test, naming the file; the functions that may
 * be asked about something absent return a value instead, as said. */
#ifndef LCNETD_TESTUTIL_H
#define LCNETD_TESTUTIL_H

#include <limits.h>
#include <stddef.h>

#include "engine/engine.h"

/* build/fixtures, or LCNETD_FIXTURES (tests/run.sh sets it) */
const char *fixdir(void);
/* ../shared/models beside the checkout, or LCNETD_SHARED */
const char *shared_models(void);

/* LCNETD_TEST_FILTER, comma-separated shell patterns ("parity_*x025,test_fp16*"),
 * keeps only the tests whose names match one: make check's arm64 subset
 * under emulation.  Returns how many are left, at the front of t. */
struct CMUnitTest;
size_t tests_filtered(struct CMUnitTest *t, size_t n);

/* The whole file, NUL-terminated; NULL if it cannot be read.  Caller frees. */
void *slurp(const char *path, size_t *len);
/* A calibration file rewritten as lcnetd wrote them before per-channel
 * scales: the fourth field of every line dropped. */
void calib_strip_channels(const char *path);
/* Write n bytes to path, replacing it. */
void spit(const char *path, const void *b, size_t n);
/* fixdir()/<printf of fmt>, whole, as slurp; fails the test with "run `make
 * fixtures`" when it is absent.  Caller frees. */
void *fixture_file(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* shared_models()/file into p; 0 when it cannot be read, after printing
 * that the case is skipped (the shared models are not beside every checkout). */
int shared_model(char *p, size_t len, const char *file);

/* A new folder $TMPDIR/lcnetd-<tag>-XXXXXX (TMPDIR unset: /tmp) into dir. */
void tmpdir_make(char *dir, size_t len, const char *tag);
/* The folder and everything in it; links are removed, never followed.
 * 0, or -1 (with errno) if something could not be removed. */
int tmpdir_remove(const char *dir);

/* A listening socket dir/events.sock, mode 0660, made by pub_listen as the
 * daemon's is, in a new folder of its own (tmpdir_make with tag). */
typedef struct sock_dir {
    char dir[PATH_MAX];
    char path[PATH_MAX];     /* dir/events.sock */
    int lfd;
} sock_dir;
/* Fails the test with pub_listen's message when the socket cannot be made. */
void sock_dir_open(sock_dir *s, const char *tag);
/* Closes the socket and removes the folder with whatever tests left in it. */
void sock_dir_close(sock_dir *s);

/* A non-blocking client socket connected to the Unix socket at path;
 * -1 with errno if the connect failed. */
int unix_connect(const char *path);

/* The lines of the manifest fixdir()/rel other than '#' comments, each
 * offered to row(arg, i, line) until max were taken, i counting the rows
 * taken so far; row returns 1 if it took the line.  Returns the number
 * taken, or -1 if there is no manifest. */
typedef int (*manifest_row)(void *arg, int i, const char *line);
int read_manifest(const char *rel, manifest_row row, void *arg, int max);

/* One thread, the given precision, calib NULL for the default ranges file,
 * the backend LCNETD_TEST_BACKEND (onednn|xnnpack) names, else auto;
 * fails the test with the engine's message.  Caller frees with eng_free. */
eng_model *load_model(const char *path, eng_precision prec, const char *calib);
/* The same on the given backend. */
eng_model *load_model_on(const char *path, eng_backend be, eng_precision prec, const char *calib);
/* Calibrate model on the frames of fixture `file` (raw h x w RGB), writing
 * the ranges to out. */
void calibrate_model(const char *model, const char *file, int h, int w, const char *out);

/* got against want, n items of `classes` outputs: probabilities within
 * 1e-4 absolute (probs), logits within 1e-3 of the item's largest |want|
 * (relative).  Fails the test naming `what`, the item and the class;
 * returns the worst error. */
double compare_outputs(const char *what, const float *got, const float *want, int n, int classes,
                       int probs);

/* A model's fixture for parity_three: fixdir()/<stem>.in.f32 holds `batch`
 * NCHW inputs of c x h x w and <stem>.out.f32 the reference's outputs for
 * them; <stem>.pix.u8 holds h x w RGB frames and <stem>.pix.out.f32 the
 * reference's outputs for them, normalised as the model says.  probs: as
 * compare_outputs takes it. */
typedef struct {
    const char *stem;
    int c, h, w, classes, batch, probs;
} parity_case;
typedef struct {
    double batch, single, pixels;
} parity_err;
/* m held to the reference the three ways scores come out of the engine:
 * the whole batch in one call, one input at a time (the batch-1 plan is
 * compiled apart), and the frames as 8-bit pixels the engine normalises.
 * Fails the test as compare_outputs does; the worst errors into e. */
void parity_three(eng_model *m, const parity_case *pc, parity_err *e);

/* The LeakyRelu graph of tests/fixtures/gen_op_models.py, in every format
 * it is written in: LEAKY_N inputs of 3 x LEAKY_HW x LEAKY_HW, LEAKY_K
 * outputs each. */
enum { LEAKY_N = 4, LEAKY_K = 4, LEAKY_HW = 16 };
/* Its inputs (fixdir()/ops/leakyrelu.in.f32), and ONNX Runtime's outputs
 * for them (fixdir()/ops/<ref_file>) into *ref; fails the test when either
 * is missing or not of those sizes.  Caller frees both. */
float *leaky_inputs(const char *ref_file, float **ref);
/* m, a LeakyRelu graph, run on x as one batch into got (LEAKY_N x LEAKY_K)
 * and held to ref by compare_outputs naming `what`; returns the worst
 * error. */
double leaky_batch(eng_model *m, const float *x, const float *ref, float *got, const char *what,
                   int probs);

/* The documented synthetic input of ../shared/models/PROVENANCE.md:
 * NCHW, 3 x h x w, ImageNet-normalised. */
void prov_synthetic(float *x, int h, int w);

/* The shared models whose outputs PROVENANCE.md documents, fp32, as ONNX
 * Runtime gives them for its synthetic input and for zeros. */
#define PROV_TEXTLINE "PP-LCNet_x0_25_textline_ori.fp32.onnx"   /* 80x160, probabilities */
#define PROV_LCNET050 "nsfw-lite_lcnet_050_nsfw-sfw.dequant-fp32.onnx"  /* 224x224, logits */
/* m, loaded from the shared model `file` (one of the above), run on both
 * inputs as one batch into got[4] and held to the documented outputs by
 * compare_outputs; returns the worst error. */
double prov_documented(eng_model *m, const char *file, float got[4]);

#endif
