/* test_decide.c: a model's thresholds and ignore against its labels
 * (daemon/decide.c): named labels and class numbers become per-class
 * arrays; an unknown label fails with the file, line, section and key it
 * was written at, the label, and the model's labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/decide.h"
#include "tests/testutil.h"

static eng_labels *camera_labels(char *dir, size_t len)
{
    static const char text[] = "normal\ncovered\ndefocused\nnoise\ntest-pattern\noverexposed\n";
    char path[4200];
    eng_labels *l = NULL;
    char err[256];
    tmpdir_make(dir, len, "decide");
    snprintf(path, sizeof path, "%s/camera.labels", dir);
    spit(path, text, sizeof text - 1);
    if (eng_labels_load(&l, path, err, sizeof err) < 0)
        fail_msg("%s", err);
    return l;
}

static void test_labels_and_numbers(void **state)
{
    char dir[4096], err[1024];
    sch_decisions d;
    (void)state;
    eng_labels *l = camera_labels(dir, sizeof dir);
    sch_decisions_src src = { "covered:0.8, noise : 0.6, 5:0.2", "normal, 4", "/etc/x.ini",
                              "model:health", 7, 8 };
    assert_int_equal(sch_decisions_load(&d, &src, l, 6, err, sizeof err), 0);
    assert_true(d.thresholds[0] < 0);
    assert_true(d.thresholds[1] > 0.79f && d.thresholds[1] < 0.81f);
    assert_true(d.thresholds[3] > 0.59f && d.thresholds[3] < 0.61f);
    assert_true(d.thresholds[5] > 0.19f && d.thresholds[5] < 0.21f);
    assert_int_equal(d.ignore[0], 1);
    assert_int_equal(d.ignore[1], 0);
    assert_int_equal(d.ignore[4], 1);
    sch_decisions_free(&d);
    /* nothing set: no arrays, the stream's min_score for all */
    sch_decisions_src none = { "", NULL, "/etc/x.ini", "model", 0, 0 };
    assert_int_equal(sch_decisions_load(&d, &none, l, 6, err, sizeof err), 0);
    assert_null(d.thresholds);
    assert_null(d.ignore);
    eng_labels_free(l);
    tmpdir_remove(dir);
}

static void test_unknown_label_names_where_and_what_there_is(void **state)
{
    char dir[4096], err[1024];
    sch_decisions d;
    (void)state;
    eng_labels *l = camera_labels(dir, sizeof dir);
    sch_decisions_src src = { "covered:0.8, cover:0.6", "normal", "/etc/x.ini", "model:health",
                              7, 8 };
    assert_int_equal(sch_decisions_load(&d, &src, l, 6, err, sizeof err), ENG_EINVAL);
    assert_null(d.thresholds);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "/etc/x.ini:7: [model:health] thresholds: the model has no label "
                                "\"cover\""));
    assert_non_null(strstr(err, "normal, covered, defocused, noise, test-pattern, overexposed"));
    sch_decisions_src ign = { "", "normal, 6", "/etc/x.ini", "model", 0, 9 };
    assert_int_equal(sch_decisions_load(&d, &ign, l, 6, err, sizeof err), ENG_EINVAL);
    assert_non_null(strstr(err, "/etc/x.ini:9: [model] ignore: the model has no label \"6\""));
    /* a model without names: its labels are its class numbers */
    sch_decisions_src num = { "1:0.5, 2:0.5", "", "/etc/x.ini", "model", 3, 0 };
    assert_int_equal(sch_decisions_load(&d, &num, NULL, 2, err, sizeof err), ENG_EINVAL);
    assert_non_null(strstr(err, "no label \"2\" (the model's 2 labels are 0, 1;"));
    eng_labels_free(l);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_and_numbers),
        cmocka_unit_test(test_unknown_label_names_where_and_what_there_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
