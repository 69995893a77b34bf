/* Paddle loader tests: the official PaddleX 3 text-line model (PIR JSON) in
 * ../shared against its published ONNX Runtime outputs and on its two test
 * images; generated Paddle 2.x (ProgramDesc) and Paddle 3 (PIR) folders
 * against ONNX Runtime on the ONNX rendering of the same weights
 * (tests/fixtures/gen_paddle.py); inference.yml reaching the engine; and
 * the error each kind of malformed folder gets.
 *
 * Tolerance: 1e-4 absolute on probabilities (every model here ends in a
 * softmax). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "media/scale.h"
#include "tests/testutil.h"

/* ------------------------------------------------------ temp folders */

typedef struct {
    char dir[256];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    tmpdir_make(t->dir, sizeof t->dir, "paddle");
}

static void tmp_path(const tmpdir *t, const char *file, char *p, size_t len)
{
    snprintf(p, len, "%s/%s", t->dir, file);
}

static void tmp_link(const tmpdir *t, const char *target, const char *file)
{
    char p[512], abs[4096];
    tmp_path(t, file, p, sizeof p);
    assert_non_null(realpath(target, abs));
    assert_int_equal(symlink(abs, p), 0);
}

static void tmp_remove(tmpdir *t)
{
    assert_int_equal(tmpdir_remove(t->dir), 0);
}

/* Link the files of a generated fixture folder into t, except `skip`. */
static void tmp_from_fixture(tmpdir *t, const char *name, const char *skip)
{
    static const char *const files[] = { "inference.json", "inference.pdmodel", "inference.pdiparams",
                                         "inference.yml" };
    char p[512];
    struct stat st;
    tmp_make(t);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/paddle/%s/%s", fixdir(), name, files[i]);
        if ((skip && strcmp(files[i], skip) == 0) || stat(p, &st) != 0)
            continue;
        tmp_link(t, p, files[i]);
    }
}

/* ---------------------------------------------- the official PIR model */

#define TL "PP-LCNet_x0_25_textline_ori"

static int shared_folder(tmpdir *t)
{
    char p[512], f[64];
    static const char *const ext[] = { "json", "pdiparams", "yml" };
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, TL ".paddle.inference.%s", ext[i]);
        if (!shared_model(p, sizeof p, f))
            return 0;
    }
    tmp_make(t);
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, TL ".paddle.inference.%s", ext[i]);
        shared_model(p, sizeof p, f);
        snprintf(f, sizeof f, "inference.%s", ext[i]);
        tmp_link(t, p, f);
    }
    return 1;
}

static void test_shared_pir_folder(void **state)
{
    tmpdir t;
    char err[512];
    (void)state;
    if (!shared_folder(&t))
        skip();
    eng_model *m = load_model(t.dir, ENG_PREC_FP32, NULL);
    const eng_info *in = eng_get_info(m);
    assert_int_equal(in->classes, 2);
    assert_int_equal(in->channels, 3);
    assert_int_equal(in->height, 80);
    assert_int_equal(in->width, 160);
    assert_true(in->ends_in_softmax);
    /* inference.yml: stretch to 160x80, ImageNet mean/std, 1/255, BGR */
    assert_int_equal(in->order, ENG_ORDER_BGR);
    assert_int_equal(in->resize, ENG_RESIZE_STRETCH);
    assert_float_equal(in->mean[0], 0.485f, 1e-6);
    assert_float_equal(in->std[2], 0.225f, 1e-6);
    assert_float_equal(in->scale, 1.0f / 255, 1e-9);
    eng_labels *l = eng_model_labels(m);
    assert_non_null(l);
    assert_int_equal(eng_labels_count(l), 2);
    assert_string_equal(eng_label(l, 0), "0_degree");
    assert_string_equal(eng_label(l, 1), "180_degree");
    eng_tensor_info ti;
    assert_int_equal(eng_input_info(m, 0, &ti), 0);
    assert_string_equal(ti.name, "x");
    assert_int_equal(ti.dims[0], -1);
    assert_int_equal(eng_output_info(m, 0, &ti), 0);
    assert_string_equal(ti.name, "fetch_name_0");

    /* ONNX Runtime 1.30's outputs, from PROVENANCE.md */
    static const float want[4] = { 0.470053f, 0.529947f, 0.494097f, 0.505903f };
    size_t n = (size_t)3 * 80 * 160;
    float *x = calloc(2 * n, sizeof(float)), got[4];
    prov_synthetic(x, 80, 160);
    const float *ins[1] = { x };
    float *outs[1] = { got };
    assert_int_equal(eng_run_tensors(m, 2, ins, outs, err, sizeof err), 0);
    double e = compare_outputs("shared textline (PIR)", got, want, 2, 2, 1);
    print_message("official PIR model as a folder: synthetic [%.6f, %.6f] zero [%.6f, %.6f], "
                  "worst error %.2g\n", got[0], got[1], got[2], got[3], e);
    free(x);
    eng_free(m);
    tmp_remove(&t);
}

static void test_shared_pir_images(void **state)
{
    tmpdir t;
    char err[512], p[512];
    (void)state;
    if (!shared_folder(&t))
        skip();
    eng_model *m = load_model(t.dir, ENG_PREC_FP32, NULL);
    const eng_info *in = eng_get_info(m);
    eng_labels *l = eng_model_labels(m);
    static const struct { const char *file; int cls; const char *label; } cases[] = {
        { "textline_hello_0deg.png", 0, "0_degree" },
        { "textline_hello_180deg.png", 1, "180_degree" },
    };
    uint8_t *pix = malloc((size_t)in->width * in->height * 3);
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/testdata/%s", shared_models(), cases[i].file);
        /* the model's own preparation: stretch, in the channel order it was trained on */
        assert_int_equal(in->resize, ENG_RESIZE_STRETCH);
        if (scl_load_image(p, in->width, in->height, ENG_RESIZE_STRETCH, in->order, pix, in->width * 3,
                           err, sizeof err) < 0)
            fail_msg("%s", err);
        const uint8_t *fr[1] = { pix };
        int st[1] = { in->width * 3 };
        float out[2], probs[2];
        eng_top top[1];
        assert_int_equal(eng_run_pixels(m, fr, st, 1, out, err, sizeof err), 0);
        eng_probs(m, out, 1, probs);
        assert_int_equal(eng_topk(probs, 2, 1, top), 1);
        print_message("%s -> class %d '%s' (%.4f)\n", cases[i].file, top[0].cls, eng_label(l, top[0].cls),
                      top[0].score);
        assert_int_equal(top[0].cls, cases[i].cls);
        assert_string_equal(eng_label(l, top[0].cls), cases[i].label);
        assert_true(top[0].score > 0.99f);
    }
    free(pix);
    eng_free(m);
    tmp_remove(&t);
}

/* ---------------------------------------------------- generated folders */

typedef struct {
    char name[64], format[16], ref[64];
    int c, h, w, classes, batch;
} fixture;

static fixture fixtures[16];
static int nfixtures;

/* paddle/manifest.txt: name format channels height width classes batch reference */
static int manifest_fixture(void *arg, int i, const char *line)
{
    fixture *x = (fixture *)arg + i;
    return sscanf(line, "%63s %15s %d %d %d %d %d %63s", x->name, x->format, &x->c, &x->h, &x->w,
                  &x->classes, &x->batch, x->ref) == 8;
}

static void test_parity(void **state)
{
    const fixture *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/paddle/%s", fixdir(), fx->name);
    eng_model *m = load_model(dir, ENG_PREC_FP32, NULL);
    const eng_info *in = eng_get_info(m);
    assert_int_equal(in->classes, fx->classes);
    assert_int_equal(in->height, fx->h);
    assert_int_equal(in->width, fx->w);
    assert_true(in->ends_in_softmax);

    /* pixels normalised by the engine as the folder's inference.yml says */
    char stem[128];
    snprintf(stem, sizeof stem, "paddle/%s", fx->name);
    parity_case pc = { stem, 3, fx->h, fx->w, fx->classes, fx->batch, 1 };
    parity_err e;
    parity_three(m, &pc, &e);
    print_message("%s (%s): worst abs prob error batch %.2g, single %.2g, pixels %.2g; order %s, "
                  "resize %d, mean %.3f std %.3f (ref: %s)\n", fx->name, fx->format, e.batch,
                  e.single, e.pixels, in->order == ENG_ORDER_BGR ? "BGR" : "RGB", in->resize,
                  in->mean[0], in->std[0], fx->ref);
    eng_free(m);
}

/* leaky_relu in both formats (its slope is alpha in a 2.x program,
 * negative_slope in PIR), against ONNX Runtime on the same graph written as
 * ONNX (tests/fixtures/gen_op_models.py). */
static void test_leakyrelu_folders(void **state)
{
    (void)state;
    char p[512];
    float *want, *x = leaky_inputs("leakyrelu.out.f32", &want), got[LEAKY_N * LEAKY_K];
    for (int f = 0; f < 2; f++) {
        snprintf(p, sizeof p, "%s/ops/leakyrelu.%s", fixdir(), f ? "pir" : "pd2");
        eng_model *m = load_model(p, ENG_PREC_FP32, NULL);
        print_message("leakyrelu (%s): worst rel logit error %.2g\n", eng_get_info(m)->format,
                      leaky_batch(m, x, want, got, p, 0));
        eng_free(m);
    }
    free(x);
    free(want);
}

/* What each fixture's inference.yml says reaches the engine. */
static void test_yml_meta(void **state)
{
    char dir[512];
    (void)state;
    snprintf(dir, sizeof dir, "%s/paddle/pd2_x025", fixdir());
    eng_model *m = load_model(dir, ENG_PREC_FP32, NULL);
    const eng_info *in = eng_get_info(m);
    assert_int_equal(in->resize, ENG_RESIZE_SHORT_CROP);   /* resize_short 256 + CropImage 224 */
    assert_int_equal(in->order, ENG_ORDER_BGR);            /* no DecodeImage: OpenCV's order */
    assert_float_equal(in->scale, 1.0f / 255, 1e-9);       /* written "1.0/255.0" */
    assert_int_equal(eng_labels_count(eng_model_labels(m)), 1000);
    assert_string_equal(eng_label(eng_model_labels(m), 999), "class_999");
    eng_free(m);
    snprintf(dir, sizeof dir, "%s/paddle/pd2_x10", fixdir());
    m = load_model(dir, ENG_PREC_FP32, NULL);
    in = eng_get_info(m);
    assert_int_equal(in->resize, ENG_RESIZE_STRETCH);
    assert_int_equal(in->order, ENG_ORDER_RGB);            /* DecodeImage to_rgb: true */
    assert_float_equal(in->mean[1], 0.5f, 1e-6);
    assert_float_equal(in->std[2], 0.5f, 1e-6);
    assert_null(eng_model_labels(m));                      /* Topk without a label_list */
    eng_free(m);
}

/* --------------------------------------------------------------- errors */

static int expect(const char *dir, int code, const char *w1, const char *w2, const char *w3)
{
    char err[1024] = "";
    eng_model *m = NULL;
    int r = eng_load(&m, NULL, dir, err, sizeof err);
    print_message("  -> %d: %s\n", r, err);
    assert_null(m);
    assert_int_equal(r, code);
    assert_non_null(strstr(err, w1));
    if (w2)
        assert_non_null(strstr(err, w2));
    if (w3)
        assert_non_null(strstr(err, w3));
    return r;
}

/* Byte offsets where each pdiparams record ends (the format as documented). */
static int record_ends(const uint8_t *b, size_t len, size_t *ends, int max)
{
    size_t off = 0;
    int n = 0;
    while (off < len && n < max) {
        uint64_t lod;
        int32_t dsz;
        memcpy(&lod, b + off + 4, 8);
        assert_int_equal(lod, 0);       /* parameters have no LoD */
        off += 16;
        memcpy(&dsz, b + off, 4);
        const uint8_t *d = b + off + 4, *e = d + dsz;
        off += 4 + (size_t)dsz;
        uint64_t numel = 1;
        while (d < e) {                 /* fields 1 (type) and 2 (dims), varints */
            uint64_t key = *d++, v = 0;
            for (int sh = 0; d < e; sh += 7) {
                v |= (uint64_t)(*d & 0x7f) << sh;
                if (!(*d++ & 0x80))
                    break;
            }
            if (key == 0x10)
                numel *= v;
        }
        off += numel * 4;
        ends[n++] = off;
    }
    return n;
}

static void test_bad_folders(void **state)
{
    tmpdir t;
    char p[512], src[512];
    size_t len = 0;
    (void)state;

    print_message("truncated weights file\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdiparams");
    snprintf(src, sizeof src, "%s/paddle/pd2_textline/inference.pdiparams", fixdir());
    uint8_t *params = slurp(src, &len);
    assert_non_null(params);
    tmp_path(&t, "inference.pdiparams", p, sizeof p);
    spit(p, params, len - 40);
    expect(t.dir, ENG_EMODEL, "inference.pdiparams: parameter '", "floats), ", "bytes left in the file");
    tmp_remove(&t);

    print_message("a record that is not float32\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdiparams");
    uint8_t *bad = malloc(len);
    memcpy(bad, params, len);
    assert_int_equal(bad[20], 0x08);    /* TensorDesc field 1, after 20 bytes of header */
    assert_int_equal(bad[21], 5);       /* FP32 */
    bad[21] = 6;                        /* FP64 */
    tmp_path(&t, "inference.pdiparams", p, sizeof p);
    spit(p, bad, len);
    /* the first record in name order is batch_norm_0's bias */
    expect(t.dir, ENG_EUNSUP, "parameter 'batch_norm_0.b_0'", "float64", "only float32");
    tmp_remove(&t);

    print_message("a parameter missing from the weights file\n");
    size_t ends[512];
    int nrec = record_ends(params, len, ends, 512);
    assert_int_equal(ends[nrec - 1], len);
    tmp_from_fixture(&t, "pd2_textline", "inference.pdiparams");
    tmp_path(&t, "inference.pdiparams", p, sizeof p);
    spit(p, params, ends[nrec - 2]);
    /* the last name in order is linear_0.w_0 */
    expect(t.dir, ENG_EMODEL, "inference.pdiparams: the file ends after 144 of the 145 parameters",
           "missing: 'linear_0.w_0'", NULL);
    tmp_remove(&t);

    print_message("weights of another model\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdiparams");
    snprintf(src, sizeof src, "%s/paddle/pd2_x025/inference.pdiparams", fixdir());
    tmp_link(&t, src, "inference.pdiparams");
    expect(t.dir, ENG_EMODEL, "inference.pdiparams: parameter '", "the program declares", NULL);
    tmp_remove(&t);

    print_message("an operator lcnetd does not know (PIR)\n");
    tmp_from_fixture(&t, "pir_textline", "inference.json");
    snprintf(src, sizeof src, "%s/paddle/pir_textline/inference.json", fixdir());
    char *json = slurp(src, &len);
    assert_non_null(json);
    char *relu = strstr(json, "\"1.relu\"");
    assert_non_null(relu);
    memcpy(relu, "\"1.foo\" ", 8);      /* same length, still valid JSON */
    tmp_path(&t, "inference.json", p, sizeof p);
    spit(p, json, len);
    expect(t.dir, ENG_EUNSUP, "inference.json: op #", "(pd_op.foo): operator not supported", NULL);
    tmp_remove(&t);

    print_message("an operator lcnetd does not know (ProgramDesc)\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdmodel");
    snprintf(src, sizeof src, "%s/paddle/pd2_textline/inference.pdmodel", fixdir());
    size_t mlen = 0;
    uint8_t *pdm = slurp(src, &mlen);
    assert_non_null(pdm);
    /* OpDesc.type (field 3, length 12): not a variable named hard_sigmoid_N */
    uint8_t *hs = memmem(pdm, mlen, "\x1a\x0chard_sigmoid", 14);
    assert_non_null(hs);
    memcpy(hs + 2, "leaky_sigmoi", 12);
    tmp_path(&t, "inference.pdmodel", p, sizeof p);
    spit(p, pdm, mlen);
    expect(t.dir, ENG_EUNSUP, "inference.pdmodel: op #", "(leaky_sigmoi): operator not supported", NULL);
    tmp_remove(&t);

    print_message("a truncated ProgramDesc\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdmodel");
    tmp_path(&t, "inference.pdmodel", p, sizeof p);
    spit(p, pdm, mlen / 2);
    expect(t.dir, ENG_EMODEL, "inference.pdmodel: not a Paddle ProgramDesc", NULL, NULL);
    tmp_remove(&t);

    print_message("JSON that does not parse\n");
    tmp_from_fixture(&t, "pir_textline", "inference.json");
    tmp_path(&t, "inference.json", p, sizeof p);
    spit(p, json, len / 2);
    expect(t.dir, ENG_EMODEL, "inference.json: not valid JSON", "syntax error at byte", NULL);
    const char *notpir = "{\"base_code\": {\"magic\": \"xyz\"}}";
    spit(p, notpir, strlen(notpir));
    expect(t.dir, ENG_EMODEL, "inference.json: not a PIR program", NULL, NULL);
    tmp_remove(&t);

    print_message("an op reading a value nothing defined\n");
    tmp_from_fixture(&t, "pir_textline", "inference.json");
    snprintf(src, sizeof src, "%s/paddle/pir_textline/inference.json", fixdir());
    free(json);
    json = slurp(src, &len);
    char *sm = strstr(json, "\"1.softmax\"");
    assert_non_null(sm);
    char *id = strstr(sm, "\"I\":[{\"%\":");
    assert_non_null(id);
    id += strlen("\"I\":[{\"%\":");
    memset(id, '9', strspn(id, "0123456789"));
    tmp_path(&t, "inference.json", p, sizeof p);
    spit(p, json, len);
    expect(t.dir, ENG_EMODEL, "(pd_op.softmax): input %99", "not defined by an earlier op", NULL);
    tmp_remove(&t);

    print_message("a malformed inference.yml\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.yml");
    tmp_path(&t, "inference.yml", p, sizeof p);
    const char *yml = "PreProcess:\n  transform_ops:\n  - NormalizeImage:\n      std: [0.2, 0]\n";
    spit(p, yml, strlen(yml));
    expect(t.dir, ENG_EMODEL, "inference.yml:4:", "std must be a list of 3 positive numbers", NULL);
    spit(p, "a: [b\n", strlen("a: [b\n"));
    expect(t.dir, ENG_EMODEL, "inference.yml:", "not valid YAML", NULL);
    tmp_remove(&t);

    print_message("no program in the folder\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdmodel");
    expect(t.dir, ENG_EIO, "neither inference.json", "nor inference.pdmodel", NULL);
    tmp_remove(&t);

    print_message("no weights in the folder\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.pdiparams");
    expect(t.dir, ENG_EIO, "inference.pdiparams", "No such file", NULL);
    tmp_remove(&t);

    print_message("no inference.yml: the engine's defaults\n");
    tmp_from_fixture(&t, "pd2_textline", "inference.yml");
    eng_model *m = load_model(t.dir, ENG_PREC_FP32, NULL);
    assert_int_equal(eng_get_info(m)->order, ENG_ORDER_RGB);
    assert_null(eng_model_labels(m));
    eng_free(m);
    tmp_remove(&t);

    free(params);
    free(bad);
    free(json);
    free(pdm);
}

int main(void)
{
    struct CMUnitTest t[32];
    int n = 0;
    if ((nfixtures = read_manifest("paddle/manifest.txt", manifest_fixture, fixtures, 16)) < 0) {
        printf("no Paddle fixtures in %s/paddle: run `make fixtures`\n", fixdir());
        return 1;
    }
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_shared_pir_folder);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_shared_pir_images);
    for (int i = 0; i < nfixtures; i++) {
        static char names[16][96];
        snprintf(names[i], sizeof names[i], "parity_%s", fixtures[i].name);
        t[n++] = (struct CMUnitTest){ names[i], test_parity, NULL, NULL, &fixtures[i] };
    }
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_leakyrelu_folders);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_yml_meta);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_folders);
    return _cmocka_run_group_tests("paddle", t, (size_t)n, NULL, NULL);
}
