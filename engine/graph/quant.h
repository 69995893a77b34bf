/* quant.h: int8 facts on the graph, before any oneDNN: QDQ models folded
 * into per-tensor parameters, calibration ranges for float models, and the
 * int8 weights and int32 biases the compiler feeds to oneDNN.
 *
 * Every quantised activation is uint8 with a scale and zero point
 * (real = scale * (q - zero)); an int8 activation of a QDQ file is the same
 * numbers shifted by 128, so nothing downstream sees a second type. */
#ifndef LCNETD_QUANT_H
#define LCNETD_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "engine/graph/ops.h"

/* Does the graph quantise an activation (QuantizeLinear on a computed tensor)? */
int q_is_qdq(const gr_graph *g);

/* x * act(x), act a scalar activation of x used nowhere else: a function
 * of x's byte, which the int8 backends run as one table with act's own
 * rounding kept.  absorbed[n] (g->nn bytes, zeroed) is set for each such
 * activation node whose output has one range; q_gate_of gives the node
 * making t from x alone, else -1. */
int q_gate_of(const gr_graph *g, int t, int x);
void q_find_gates(const gr_graph *g, unsigned char *absorbed);

/* Fold every activation QuantizeLinear -> DequantizeLinear pair into the
 * tensor's qscale/qzero and drop both nodes; weight and bias dequantisers
 * stay, as constant producers the compiler looks through. */
int q_fold_qdq(gr_graph *g, char *err, size_t errlen);

/* uint8 parameters covering [lo, hi] (widened to include 0, so that zero
 * padding is exact). */
void q_params(float lo, float hi, float *scale, int *zero);
uint8_t q_u8(float v, float scale, int zero);

/* Calibration file: one "name<TAB>min<TAB>max[<TAB>m0,m1,...]" line per
 * activation, '#' comments.  Apply sets the parameters of every named
 * tensor, except the float tail (graph outputs and what feeds a Softmax):
 * per tensor from min and max, and per channel (qch) from the magnitudes
 * when the line has them.  chmax may be NULL (no per-channel field). */
int q_calib_apply(gr_graph *g, const char *path, char *err, size_t errlen);
int q_calib_save(const char *path, const char *model, int frames, const char *const *names,
                 const float *lo, const float *hi, const float *const *chmax, const int *nch,
                 int n, char *err, size_t errlen);

/* A tensor's values seen during calibration: a histogram over [-r, r)
 * that doubles r when a value falls outside, and the exact extremes. */
#define Q_HIST_BINS 2048
typedef struct {
    double count[Q_HIST_BINS];
    float r, lo, hi;
} q_hist;
void q_hist_init(q_hist *h);
void q_hist_add(q_hist *h, const float *v, int64_t n);
/* The range to quantise to: from the lowest value seen (activations here
 * are mostly >= -0.375, HardSwish's floor) to the 99.99th percentile: a few
 * outliers would otherwise leave the bulk of the values a handful of steps. */
void q_hist_range(const q_hist *h, float *lo, float *hi);

/* Weights of a conv (OIHW, axis 0) or of a Gemm as [M, K]: int8 values and
 * one scale per output channel (n of them), from a DequantizeLinear of int8
 * constants (taken as they are) or quantised symmetrically from floats.
 * Gemm weights [K, M] (transB = 0) are transposed.  Caller frees both. */
int q_weights(const gr_graph *g, int t, int64_t n, int transpose, int8_t **q, float **scale,
              char *err, size_t errlen);
/* Float weights t of a convolution (or Gemm, transposed when asked) times
 * their input channel's scale in_scale[], quantised per output channel
 * (symmetric, +-127): a convolution then reads per-channel int8 inputs as
 * they are, their scales folded into its weights.  Caller frees both. */
int q_fold_weights(const gr_graph *g, int t, const conv_params *cp, int transpose,
                   const float *in_scale, int8_t **q, float **scale, char *err, size_t errlen);
/* The DequantizeLinear that makes t from constants (a QDQ model's weights
 * and biases), or NULL. */
const gr_node *q_const_dq(const gr_graph *g, int t);
/* A constant float tensor, or a DequantizeLinear of constants, as floats;
 * NULL when t is neither.  Caller frees. */
float *q_const_floats(const gr_graph *g, int t);

#endif
