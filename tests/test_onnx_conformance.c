/* ONNX's own backend node tests (Debian's libonnx-testdata) for every operator
 * the importer claims.  Each case loads the test's model.onnx, feeds
 * test_data_set_0's inputs, and compares with its outputs using ONNX's
 * backend tolerance (rtol 1e-3, atol 1e-7).  Inputs that lcnetd requires to
 * be compile-time constants (weights, BatchNorm statistics, a Reshape's shape,
 * Clip's bounds: every exporter writes them as initializers) are bound as
 * constants through eng_options.bind, and the table says which.  Every skipped
 * case carries its reason. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "onnx/onnx.pb-c.h"

#define DATA "/usr/share/libonnx-testdata/data/node/"

typedef struct {
    const char *name;
    const char *skip;      /* reason, or NULL to run */
    const char *bind;      /* extra float inputs to bind as constants, comma-separated */
} conf_case;

static const conf_case cases[] = {
    { "test_basic_conv_with_padding", 0, "W" },
    { "test_basic_conv_without_padding", 0, "W" },
    { "test_conv_with_autopad_same", 0, "W" },
    { "test_conv_with_strides_and_asymmetric_padding", 0, "W" },
    { "test_conv_with_strides_no_padding", 0, "W" },
    { "test_conv_with_strides_padding", 0, "W" },
    { "test_batchnorm_epsilon", 0, "s,bias,mean,var" },
    { "test_batchnorm_example", 0, "s,bias,mean,var" },
    { "test_batchnorm_epsilon_training_mode", "training mode (batch statistics) is not inference", 0 },
    { "test_batchnorm_example_training_mode", "training mode (batch statistics) is not inference", 0 },
    { "test_relu", 0, 0 },
    { "test_leakyrelu", 0, 0 },
    { "test_leakyrelu_default", 0, 0 },
    { "test_leakyrelu_example", 0, 0 },
    { "test_hardswish", 0, 0 },
    { "test_hardswish_expanded", 0, 0 },
    { "test_hardsigmoid", 0, 0 },
    { "test_hardsigmoid_default", 0, 0 },
    { "test_hardsigmoid_example", 0, 0 },
    { "test_mul", 0, 0 },
    { "test_mul_bcast", 0, 0 },
    { "test_mul_example", 0, 0 },
    { "test_mul_uint8", "integer arithmetic: PP-LCNet computes in float", 0 },
    { "test_add", 0, 0 },
    { "test_add_bcast", 0, 0 },
    { "test_add_uint8", "integer arithmetic: PP-LCNet computes in float", 0 },
    { "test_globalaveragepool", 0, 0 },
    { "test_globalaveragepool_precomputed", 0, 0 },
    { "test_reduce_mean_default_axes_keepdims_example", 0, 0 },
    { "test_reduce_mean_default_axes_keepdims_random", 0, 0 },
    { "test_reduce_mean_do_not_keepdims_example", 0, 0 },
    { "test_reduce_mean_do_not_keepdims_random", 0, 0 },
    { "test_reduce_mean_keepdims_example", 0, 0 },
    { "test_reduce_mean_keepdims_random", 0, 0 },
    { "test_reduce_mean_negative_axes_keepdims_example", 0, 0 },
    { "test_reduce_mean_negative_axes_keepdims_random", 0, 0 },
    { "test_flatten_axis0", 0, 0 },
    { "test_flatten_axis1", 0, 0 },
    { "test_flatten_axis2", 0, 0 },
    { "test_flatten_axis3", 0, 0 },
    { "test_flatten_default_axis", 0, 0 },
    { "test_flatten_negative_axis1", 0, 0 },
    { "test_flatten_negative_axis2", 0, 0 },
    { "test_flatten_negative_axis3", 0, 0 },
    { "test_flatten_negative_axis4", 0, 0 },
    { "test_reshape_allowzero_reordered", "allowzero with a zero-sized dimension: empty tensors never occur in PP-LCNet", 0 },
    { "test_reshape_extended_dims", 0, 0 },
    { "test_reshape_negative_dim", 0, 0 },
    { "test_reshape_negative_extended_dims", 0, 0 },
    { "test_reshape_one_dim", 0, 0 },
    { "test_reshape_reduced_dims", 0, 0 },
    { "test_reshape_reordered_all_dims", 0, 0 },
    { "test_reshape_reordered_last_dims", 0, 0 },
    { "test_reshape_zero_and_negative_dim", 0, 0 },
    { "test_reshape_zero_dim", 0, 0 },
    { "test_gemm_all_attributes", 0, 0 },
    { "test_gemm_alpha", 0, 0 },
    { "test_gemm_beta", 0, 0 },
    { "test_gemm_default_matrix_bias", 0, 0 },
    { "test_gemm_default_no_bias", 0, 0 },
    { "test_gemm_default_scalar_bias", 0, 0 },
    { "test_gemm_default_single_elem_vector_bias", 0, 0 },
    { "test_gemm_default_vector_bias", 0, 0 },
    { "test_gemm_default_zero_bias", 0, 0 },
    { "test_gemm_transposeA", 0, 0 },
    { "test_gemm_transposeB", 0, 0 },
    { "test_matmul_2d", 0, 0 },
    { "test_matmul_3d", 0, 0 },
    { "test_matmul_4d", 0, 0 },
    { "test_softmax_axis_0", 0, 0 },
    { "test_softmax_axis_1", 0, 0 },
    { "test_softmax_axis_2", 0, 0 },
    { "test_softmax_default_axis", 0, 0 },
    { "test_softmax_example", 0, 0 },
    { "test_softmax_large_number", 0, 0 },
    { "test_softmax_negative_axis", 0, 0 },
    { "test_softmax_axis_0_expanded", "expanded form uses ReduceMax/Exp/ReduceSum, outside PP-LCNet's op set", 0 },
    { "test_softmax_example_expanded", "expanded form uses ReduceMax/Exp/ReduceSum, outside PP-LCNet's op set", 0 },
    { "test_identity", 0, 0 },
    { "test_identity_opt", "optional-typed values are outside PP-LCNet's needs", 0 },
    { "test_identity_sequence", "sequence-typed values are outside PP-LCNet's needs", 0 },
    { "test_dropout_default", 0, 0 },
    { "test_dropout_default_old", 0, 0 },
    { "test_dropout_default_ratio", 0, 0 },
    { "test_dropout_random_old", 0, 0 },
    { "test_dropout_default_mask", "uses the mask output, which only training needs", 0 },
    { "test_dropout_default_mask_ratio", "uses the mask output, which only training needs", 0 },
    { "test_training_dropout", "training-mode dropout is random: not inference", 0 },
    { "test_clip", 0, "min,max" },
    { "test_clip_default_inbounds", 0, 0 },
    { "test_clip_default_max", 0, "max" },
    { "test_clip_default_min", 0, "min" },
    { "test_clip_example", 0, "min,max" },
    { "test_clip_inbounds", 0, "min,max" },
    { "test_clip_outbounds", 0, "min,max" },
    { "test_clip_splitbounds", 0, "min,max" },
    { "test_clip_default_int8_inbounds", "int8 tensors: PP-LCNet clips float activations", 0 },
};

typedef struct {
    int dtype, ndim;
    int64_t dims[ENG_MAX_DIMS];
    void *data;
    size_t n;
} tensor;

static int load_tensor(const char *path, tensor *t, char **name)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz + 1);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, got, buf);
    free(buf);
    if (!tp)
        return -1;
    memset(t, 0, sizeof(*t));
    t->dtype = tp->data_type;
    t->ndim = (int)tp->n_dims;
    t->n = 1;
    for (int i = 0; i < t->ndim; i++) {
        t->dims[i] = tp->dims[i];
        t->n *= (size_t)tp->dims[i];
    }
    size_t es = t->dtype == ENG_DT_I64 ? 8 : t->dtype == ENG_DT_F32 || t->dtype == ENG_DT_I32 ? 4 : 1;
    t->data = calloc(t->n ? t->n : 1, es);
    if (tp->has_raw_data && tp->raw_data.len == t->n * es)
        memcpy(t->data, tp->raw_data.data, t->n * es);
    else if (t->dtype == ENG_DT_F32 && tp->n_float_data == t->n)
        memcpy(t->data, tp->float_data, t->n * 4);
    else if (t->dtype == ENG_DT_I64 && tp->n_int64_data == t->n)
        memcpy(t->data, tp->int64_data, t->n * 8);
    if (name)
        *name = strdup(tp->name ? tp->name : "");
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return 0;
}

/* Names of the model's graph inputs, in order (initializers excluded). */
static int model_inputs(const char *path, char names[][64], int max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz + 1);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, got, buf);
    free(buf);
    if (!mp)
        return -1;
    int n = 0;
    for (size_t i = 0; i < mp->graph->n_input && n < max; i++) {
        int init = 0;
        for (size_t k = 0; k < mp->graph->n_initializer; k++)
            if (!strcmp(mp->graph->initializer[k]->name, mp->graph->input[i]->name))
                init = 1;
        if (!init)
            snprintf(names[n++], 64, "%s", mp->graph->input[i]->name);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return n;
}

static int in_list(const char *list, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == l && strncmp(p, name, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static void run_case(void **state)
{
    const conf_case *c = *state;
    char dir[512], path[600], err[1024];
    char names[8][64];
    tensor in[8], out;
    eng_binding bind[8];
    const float *feed[8];
    int nin, nfeed = 0, nbind = 0;

    if (c->skip) {
        print_message("%s: skipped: %s\n", c->name, c->skip);
        skip();
    }
    snprintf(dir, sizeof dir, DATA "%s", c->name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    nin = model_inputs(path, names, 8);
    assert_true(nin > 0);
    for (int i = 0; i < nin; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
        assert_int_equal(load_tensor(path, &in[i], NULL), 0);
        if (in[i].dtype != ENG_DT_F32 || in_list(c->bind, names[i])) {
            bind[nbind++] = (eng_binding){ names[i], in[i].dtype, in[i].ndim, in[i].dims, in[i].data };
        } else {
            feed[nfeed++] = in[i].data;
        }
    }
    eng_options o;
    eng_options_init(&o);
    o.threads = 1;
    o.bind = bind;
    o.nbind = nbind;
    eng_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (eng_load(&m, &o, path, err, sizeof err) < 0)
        fail_msg("%s: load: %s", c->name, err);
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    assert_int_equal(load_tensor(path, &out, NULL), 0);
    assert_int_equal(out.dtype, ENG_DT_F32);
    float *got = calloc(out.n ? out.n : 1, sizeof(float));
    float *outs[1] = { got };
    eng_tensor_info ti;
    eng_input_info(m, 0, &ti);
    int batch = ti.dims[0] > 0 ? (int)ti.dims[0] : (int)in[0].dims[0];
    if (eng_run_tensors(m, batch, feed, outs, err, sizeof err) < 0)
        fail_msg("%s: run: %s", c->name, err);
    const float *want = out.data;
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < out.n; i++) {
        double d = fabs((double)got[i] - want[i]), tol = 1e-7 + 1e-3 * fabs(want[i]);
        if (!(d <= tol))
            bad++;
        if (d > worst)
            worst = d;
    }
    print_message("%s: %zu values, max |diff| %.3g, %zu outside tolerance\n", c->name, out.n, worst, bad);
    assert_int_equal(bad, 0);
    eng_free(m);
    free(got);
    free(out.data);
    for (int i = 0; i < nin; i++)
        free(in[i].data);
}

int main(void)
{
    size_t n = sizeof cases / sizeof cases[0];
    struct CMUnitTest *t = calloc(n, sizeof(*t));
    DIR *d = opendir(DATA);
    if (!d) {
        printf("ONNX node test data not found at " DATA " (Debian package libonnx-testdata)\n");
        return 1;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        t[i].name = cases[i].name;
        t[i].test_func = run_case;
        t[i].initial_state = (void *)&cases[i];
    }
    int r = _cmocka_run_group_tests("onnx_conformance", t, n, NULL, NULL);
    free(t);
    return r;
}
