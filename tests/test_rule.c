/* test_rule.c: the publish rule (daemon/rule.c), judged on score
 * sequences: hysteresis confirms a change only after that many frames in a
 * row; publish = every sends each frame above its threshold; a label's own
 * threshold overrides min_score; an ignored label moves the state but is
 * never sent; each (stream, region, model) keeps its own state; a stream
 * forgotten starts afresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/rule.h"

enum { NORMAL = 0, COVERED = 1, NOISE = 2 };

static sch_rule_result judge(sch_rules *r, const char *region, const char *model,
                             const sch_rule_params *p, int cls, float score)
{
    sch_rule_result out;
    assert_int_equal(sch_rules_apply(r, "cam", region, model, p, cls, score, &out), 0);
    return out;
}

static void test_hysteresis_confirms_changes(void **state)
{
    sch_rules *r = NULL;
    sch_rule_params p = { 0.5, 1, 3, 3, NULL, NULL };
    (void)state;
    assert_int_equal(sch_rules_new(&r), 0);
    /* the first class needs 3 frames in a row too */
    assert_false(judge(r, "", "m", &p, NORMAL, 0.9f).publish);
    assert_false(judge(r, "", "m", &p, NORMAL, 0.9f).publish);
    sch_rule_result x = judge(r, "", "m", &p, NORMAL, 0.9f);
    assert_true(x.publish);
    assert_true(x.changed);
    assert_int_equal(x.cls, NORMAL);
    assert_int_equal(x.prev, -1);
    assert_string_equal(x.stream, "cam");
    assert_string_equal(x.model, "m");
    /* a blip of two frames changes nothing, and restarts the count */
    assert_false(judge(r, "", "m", &p, COVERED, 0.9f).changed);
    assert_false(judge(r, "", "m", &p, COVERED, 0.9f).changed);
    assert_false(judge(r, "", "m", &p, NORMAL, 0.9f).changed);
    assert_false(judge(r, "", "m", &p, COVERED, 0.9f).changed);
    assert_false(judge(r, "", "m", &p, COVERED, 0.9f).changed);
    /* below min_score: counts for nothing, neither for nor against */
    assert_false(judge(r, "", "m", &p, NORMAL, 0.4f).changed);
    x = judge(r, "", "m", &p, COVERED, 0.9f);
    assert_true(x.changed && x.publish);
    assert_int_equal(x.prev, NORMAL);
    assert_int_equal(x.cls, COVERED);
    /* the same class again is no change */
    assert_false(judge(r, "", "m", &p, COVERED, 0.9f).publish);
    sch_rules_free(r);
}

static void test_every_publishes_each_frame_and_still_tracks_changes(void **state)
{
    sch_rules *r = NULL;
    sch_rule_params p = { 0.5, 0, 2, 3, NULL, NULL };
    (void)state;
    assert_int_equal(sch_rules_new(&r), 0);
    sch_rule_result a = judge(r, "", "m", &p, NORMAL, 0.9f);
    assert_true(a.publish);
    assert_false(a.changed);
    sch_rule_result b = judge(r, "", "m", &p, NORMAL, 0.9f);
    assert_true(b.publish);
    assert_true(b.changed);
    assert_false(judge(r, "", "m", &p, NORMAL, 0.3f).publish);
    sch_rules_free(r);
}

static void test_thresholds_override_min_score(void **state)
{
    sch_rules *r = NULL;
    /* covered needs 0.8, noise 0.6, the rest the stream's 0.5 */
    float th[3] = { -1, 0.8f, 0.6f };
    sch_rule_params p = { 0.5, 0, 1, 3, th, NULL };
    (void)state;
    assert_int_equal(sch_rules_new(&r), 0);
    assert_true(judge(r, "", "m", &p, NORMAL, 0.55f).publish);
    assert_false(judge(r, "", "m", &p, COVERED, 0.75f).publish);
    assert_true(judge(r, "", "m", &p, COVERED, 0.85f).publish);
    assert_false(judge(r, "", "m", &p, NOISE, 0.59f).publish);
    assert_true(judge(r, "", "m", &p, NOISE, 0.61f).publish);
    /* a label's threshold may also be below min_score */
    th[NOISE] = 0.2f;
    assert_true(judge(r, "", "m", &p, NOISE, 0.3f).publish);
    sch_rules_free(r);
}

static void test_ignored_labels_move_the_state_unseen(void **state)
{
    sch_rules *r = NULL;
    uint8_t ign[3] = { 1, 0, 0 };
    sch_rule_params p = { 0.5, 1, 1, 3, NULL, ign };
    (void)state;
    assert_int_equal(sch_rules_new(&r), 0);
    sch_rule_result x = judge(r, "", "m", &p, COVERED, 0.9f);
    assert_true(x.publish && x.changed);
    /* covered -> normal: a change, not sent */
    x = judge(r, "", "m", &p, NORMAL, 0.9f);
    assert_true(x.changed);
    assert_false(x.publish);
    /* normal -> covered is a change again, so it is sent: without the state
     * moving to normal it would have been no change at all */
    x = judge(r, "", "m", &p, COVERED, 0.9f);
    assert_true(x.changed && x.publish);
    assert_int_equal(x.prev, NORMAL);
    /* with publish = every, an ignored label is never sent either */
    p.change_only = 0;
    assert_false(judge(r, "", "m", &p, NORMAL, 0.9f).publish);
    assert_true(judge(r, "", "m", &p, COVERED, 0.9f).publish);
    sch_rules_free(r);
}

static void test_each_source_has_its_own_state(void **state)
{
    sch_rules *r = NULL;
    sch_rule_params p = { 0.5, 1, 2, 3, NULL, NULL };
    sch_rule_result x;
    (void)state;
    assert_int_equal(sch_rules_new(&r), 0);
    /* frames alternate between regions and models: none confirms another's */
    for (int i = 0; i < 2; i++) {
        judge(r, "gate", "health", &p, COVERED, 0.9f);
        judge(r, "door", "health", &p, NORMAL, 0.9f);
        judge(r, "gate", "scene", &p, NOISE, 0.9f);
    }
    assert_int_equal(sch_rules_count(r), 3);
    x = judge(r, "gate", "health", &p, COVERED, 0.9f);
    assert_false(x.changed);
    assert_int_equal(x.cls, COVERED);
    assert_string_equal(x.region, "gate");
    x = judge(r, "door", "health", &p, NORMAL, 0.9f);
    assert_int_equal(x.cls, NORMAL);
    x = judge(r, "gate", "scene", &p, NOISE, 0.9f);
    assert_int_equal(x.cls, NOISE);
    assert_string_equal(x.model, "scene");
    /* another stream of the same names is another source */
    assert_int_equal(sch_rules_apply(r, "cam2", "gate", "health", &p, COVERED, 0.9f, &x), 0);
    assert_int_equal(x.cls, -1);
    sch_rules_forget(r, "cam");
    assert_int_equal(sch_rules_count(r), 1);
    x = judge(r, "gate", "health", &p, COVERED, 0.9f);
    assert_int_equal(x.prev, -1);
    assert_false(x.changed);
    sch_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_hysteresis_confirms_changes),
        cmocka_unit_test(test_every_publishes_each_frame_and_still_tracks_changes),
        cmocka_unit_test(test_thresholds_override_min_score),
        cmocka_unit_test(test_ignored_labels_move_the_state_unseen),
        cmocka_unit_test(test_each_source_has_its_own_state),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
