/* test_config_models.c: [model:NAME] sections, a stream's `model` list and
 * the per-label keys (thresholds, ignore) as the file is read: a named
 * model starts from the built-in defaults, not [model]'s; names are
 * checked (bad, reserved, duplicate, unknown to a stream); list values are
 * checked for their form here, their labels when the model loads
 * (test_decide.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "tests/cfgtest.h"

static void test_named_models_take_builtin_defaults(void **state)
{
    (void)state;
    cfg *c = load_ok("[model]\npath = /m/a.onnx\ntop_k = 7\nresize = stretch\n"
                     "thresholds = covered:0.8\n"
                     "[model:scene]\npath = /m/b.onnx\n"
                     "[model:text]\npath = /m/t.onnx\nignore = 0, 180\n"
                     "[stream:cam]\nurl = /v.mp4\nmodel = default, scene\n");
    assert_int_equal(c->nmodels, 2);
    const cfg_model *scene = cfg_find_model(c, "scene");
    assert_non_null(scene);
    assert_string_equal(scene->path, "/m/b.onnx");
    /* [model]'s top_k, resize and thresholds are its own */
    assert_int_equal(scene->top_k, 3);
    assert_int_equal(scene->resize, c->models[1].resize);
    assert_int_not_equal(scene->resize, c->model.resize);
    assert_string_equal(scene->thresholds, "");
    assert_int_equal(scene->line, 6);
    assert_ptr_equal(cfg_find_model(c, "default"), &c->model);
    assert_null(cfg_find_model(c, "nope"));
    assert_int_equal(c->model.thresholds_line, 5);
    assert_int_equal(c->models[1].ignore_line, 10);
    assert_string_equal(c->streams[0].model, "default, scene");
    assert_int_equal(c->streams[0].model_line, 13);
    assert_string_equal(c->file, "t.ini");
    /* items one at a time */
    const char *pos = c->streams[0].model;
    char name[64];
    double score;
    assert_int_equal(cfg_list_next(&pos, name, sizeof name, &score), 1);
    assert_string_equal(name, "default");
    assert_int_equal(cfg_list_next(&pos, name, sizeof name, &score), 1);
    assert_string_equal(name, "scene");
    assert_int_equal(cfg_list_next(&pos, name, sizeof name, &score), 0);
    pos = c->model.thresholds;
    assert_int_equal(cfg_list_next(&pos, name, sizeof name, &score), 2);
    assert_string_equal(name, "covered");
    assert_true(score > 0.79 && score < 0.81);
    cfg_free(c);
}

static void test_model_names(void **state)
{
    (void)state;
    expect_error("[model:]\n", "t.ini:1: [model:]: bad model name", NULL);
    expect_error("[model:a b]\n", "t.ini:1: [model:a b]: bad model name", NULL);
    expect_error("[model:default]\npath = /m.onnx\n", "t.ini:1: [model:default]: the name default "
                 "is [model]'s", NULL);
    expect_error("[model:x]\npath = /a.onnx\n[model:x]\npath = /b.onnx\n",
                 "t.ini:3: [model:x]: duplicate model (first defined at line 1)", NULL);
    /* a [model] key elsewhere points at both kinds of section */
    expect_error("[stream:s]\nurl = /v.mp4\nthresholds = a:1\n",
                 "t.ini:3: [stream:s] thresholds: unknown key here; it belongs in [model] or "
                 "[model:NAME]", NULL);
}

static void test_stream_names_a_model_that_is_not_there(void **state)
{
    (void)state;
    expect_error("[model:scene]\npath = /m.onnx\n[stream:cam]\nurl = /v.mp4\n\nmodel = scene, "
                 "health\n", "t.ini:6: [stream:cam] model: no model health (expected default, "
                 "scene, or a [model:NAME] section of that name)", NULL);
    expect_error("[stream:cam]\nurl = /v.mp4\nmodel = default, default\n",
                 "t.ini:3: [stream:cam] model: \"default\" is listed twice", NULL);
    expect_error("[stream:cam]\nurl = /v.mp4\nmodel = a:1\n",
                 "t.ini:3: [stream:cam] model:", "has an item with a colon", NULL);
}

static void test_list_values(void **state)
{
    (void)state;
    cfg *c = load_ok("[model]\nthresholds = tabby cat : 0.5 ,covered:1, noise:0\n"
                     "ignore = normal,  tabby cat\n");
    const char *pos = c->model.thresholds;
    char name[64];
    double score;
    assert_int_equal(cfg_list_next(&pos, name, sizeof name, &score), 2);
    assert_string_equal(name, "tabby cat");
    assert_true(score == 0.5);
    cfg_free(c);
    expect_error("[model]\nthresholds = covered\n", "t.ini:2: [model] thresholds: \"covered\" has no "
                 "score", NULL);
    expect_error("[model]\nthresholds = covered:1.5\n", "t.ini:2: [model] thresholds: the score "
                 "of \"covered\" is not a number from 0 to 1", NULL);
    expect_error("[model]\nthresholds = covered:x\n", "t.ini:2: [model] thresholds: the score "
                 "of \"covered\" is not a number", NULL);
    expect_error("[model]\nthresholds = covered:0.5, covered:0.6\n",
                 "t.ini:2: [model] thresholds: \"covered\" is listed twice", NULL);
    expect_error("[model]\nignore = a,,b\n", "t.ini:2: [model] ignore:", NULL);
    expect_error("[model]\nignore = a:0.5\n", "t.ini:2: [model] ignore:",
                 "has an item with a colon", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_models_take_builtin_defaults),
        cmocka_unit_test(test_model_names),
        cmocka_unit_test(test_stream_names_a_model_that_is_not_there),
        cmocka_unit_test(test_list_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
