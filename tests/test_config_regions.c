/* test_config_regions.c: regions of interest in lcnetd.ini (config/crop.c,
 * config/region.c): a stream's crop, [region:NAME] sections and the
 * streams' regions lists, what a reload compares, and every way the file
 * can get them wrong, each reported with its file:line and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/cfgtest.h"

#define STREAM "[stream:cam]\nurl = /clip.mp4\n"

static void test_crop_in_pixels_and_percent(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:a]\nurl = /a.mp4\ncrop = 16, 8,320 ,240\n"
                     "[stream:b]\nurl = /b.mp4\ncrop = 10%,0%,50%,100%\n"
                     "[stream:c]\nurl = /c.mp4\ncrop = 12.5%,7,37.5%,100\n"
                     "[stream:d]\nurl = /d.mp4\n");
    const cfg_crop *a = &c->streams[0].crop, *b = &c->streams[1].crop, *m = &c->streams[2].crop;
    assert_int_equal(a->set, 1);
    assert_int_equal(a->pct, 0);
    assert_true(a->v[0] == 16 && a->v[1] == 8 && a->v[2] == 320 && a->v[3] == 240);
    assert_int_equal(b->pct, 15);
    assert_true(b->v[0] == 10 && b->v[1] == 0 && b->v[2] == 50 && b->v[3] == 100);
    /* units per value: x and w in percent, y and h in pixels */
    assert_int_equal(m->pct, 1 | 4);
    assert_true(m->v[0] == 12.5 && m->v[1] == 7 && m->v[2] == 37.5 && m->v[3] == 100);
    assert_int_equal(c->streams[3].crop.set, 0);
    assert_int_equal(c->streams[3].nregions, 0);
    char text[64];
    cfg_crop_format(m, text, sizeof text);
    assert_string_equal(text, "12.5%,7,37.5%,100");
    cfg_free(c);
}

static void test_crop_errors_name_line_and_key(void **state)
{
    (void)state;
    expect_error(STREAM "crop = 1,2,3\n", "t.ini:3: [stream:cam] crop:", "has 3 values",
                 "X,Y,W,H", NULL);
    expect_error(STREAM "crop = 0,0,0,100\n", "t.ini:3: [stream:cam] crop: width",
                 "a crop must have a size", NULL);
    expect_error(STREAM "crop = 0,0,10%,0%\n", "t.ini:3: [stream:cam] crop: height",
                 "a crop must have a size", NULL);
    expect_error(STREAM "crop = -4,0,10,10\n", "t.ini:3: [stream:cam] crop: x \"-4\" is negative",
                 NULL);
    expect_error(STREAM "crop = 0,0,120%,10\n", "t.ini:3: [stream:cam] crop: width \"120%\"",
                 "is over 100%", NULL);
    expect_error(STREAM "crop = 60%,0,50%,100%\n", "t.ini:3: [stream:cam] crop:",
                 "x 60% + width 50% is over 100%", "outside the frame", NULL);
    expect_error(STREAM "crop = 0,0,10.5,10\n", "t.ini:3: [stream:cam] crop: width \"10.5\"",
                 "not a whole number of pixels", NULL);
    expect_error(STREAM "crop = 0,0,ten,10\n", "t.ini:3: [stream:cam] crop: width \"ten\"",
                 "is not a number", NULL);
    expect_error(STREAM "crop = 0,,10,10\n", "t.ini:3: [stream:cam] crop: y: no value", NULL);
    expect_error(STREAM "crop = 0,0,1e3,10\n", "crop: width \"1e3\" is not a number", NULL);
    expect_error(STREAM "crop = 0,0,70000,10\n", "crop: width \"70000\" is over 65535 pixels",
                 NULL);
    /* the region's crop is required; the stream's is not */
    expect_error(STREAM "regions = gate\n[region:gate]\n",
                 "t.ini:4: [region:gate] crop: required key is missing", NULL);
}

static void test_regions_listed_by_streams(void **state)
{
    (void)state;
    cfg *c = load_ok("[stream:front]\nurl = /f.mp4\nregions = gate , door\n"
                     "[stream:back]\nurl = /b.mp4\nregions = door\n"
                     "[region:door]\ncrop = 50%,0,50%,100%\n"
                     "[region:gate]\ncrop = 0,0,320,360\n");
    assert_int_equal(c->nregions, 2);
    const cfg_stream *f = cfg_find_stream(c, "front"), *b = cfg_find_stream(c, "back");
    assert_string_equal(f->region_list, "gate,door");
    assert_int_equal(f->nregions, 2);
    /* in the stream's order, not the file's */
    assert_string_equal(f->regions[0].name, "gate");
    assert_true(f->regions[0].crop.v[2] == 320 && f->regions[0].crop.pct == 0);
    assert_string_equal(f->regions[1].name, "door");
    assert_int_equal(f->regions[1].crop.pct, 1 | 4 | 8);
    assert_int_equal(b->nregions, 1);
    assert_string_equal(b->regions[0].name, "door");
    /* copies: the stream's own, not pointers into the file's list */
    assert_ptr_not_equal(b->regions[0].name, c->regions[0].name);
    assert_int_equal(f->regions_line, 3);
    cfg_free(c);
}

static void test_region_errors(void **state)
{
    (void)state;
    /* unknown, with the defined ones and the likely typo */
    expect_error(STREAM "regions = gaet\n[region:gate]\ncrop = 0,0,10,10\n",
                 "t.ini:3: [stream:cam] regions: no [region:gaet] section", "expected one of gate",
                 "did you mean gate?", NULL);
    expect_error(STREAM "regions = gate\n", "t.ini:3: [stream:cam] regions: no [region:gate] section",
                 NULL);
    /* defined but listed by no stream */
    expect_error(STREAM "[region:gate]\ncrop = 0,0,10,10\n",
                 "t.ini:3: [region:gate]: no stream lists it", NULL);
    /* twice */
    expect_error(STREAM "regions = gate\n[region:gate]\ncrop = 0,0,10,10\n"
                        "[region:gate]\ncrop = 0,0,20,20\n",
                 "t.ini:6: [region:gate]: duplicate region (first defined at line 4", NULL);
    expect_error(STREAM "regions = gate, door, gate\n", "t.ini:3: [stream:cam] regions:",
                 "\"gate\" is listed twice", NULL);
    /* names */
    expect_error(STREAM "regions = gate\n[region:ga te]\ncrop = 0,0,10,10\n",
                 "t.ini:4: [region:ga te]: bad region name", NULL);
    expect_error(STREAM "regions = gate,,door\n", "t.ini:3: [stream:cam] regions: name 2",
                 "is not a name", NULL);
    expect_error(STREAM "regions = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
                 "t.ini:3: [stream:cam] regions: more than 16 names", NULL);
    /* one or the other */
    expect_error(STREAM "crop = 0,0,10,10\nregions = gate\n[region:gate]\ncrop = 0,0,10,10\n",
                 "t.ini:4: [stream:cam] regions: set together with crop", NULL);
    /* keys in the wrong section, and a section without its name */
    expect_error(STREAM "regions = gate\n[region:gate]\ncrop = 0,0,10,10\nurl = /x.mp4\n",
                 "t.ini:6: [region:gate] url: unknown key here; it belongs in [stream:NAME]", NULL);
    expect_error("[region]\ncrop = 0,0,10,10\n", "t.ini:1: [region]: unknown section",
                 "a region needs a name: [region:NAME]", NULL);
    expect_error("[regoin:gate]\ncrop = 0,0,10,10\n", "did you mean [region:gate]?", NULL);
}

/* A reload restarts a stream whose regions changed, also when only a
 * [region:NAME] crop did and the list reads the same. */
static void test_reload_compares_regions(void **state)
{
    (void)state;
    const char *base = STREAM "regions = gate, door\n[region:gate]\ncrop = 0,0,10,10\n"
                              "[region:door]\ncrop = 10,0,10,10\n";
    cfg *a = load_ok(base);
    cfg *same = load_ok(STREAM "regions = gate,door\n[region:door]\ncrop = 10,0,10,10\n"
                               "[region:gate]\ncrop = 0,0,10,10\n");
    cfg *moved = load_ok(STREAM "regions = gate, door\n[region:gate]\ncrop = 0,0,10,10\n"
                                "[region:door]\ncrop = 10,0,10%,10\n");
    cfg *order = load_ok(STREAM "regions = door, gate\n[region:gate]\ncrop = 0,0,10,10\n"
                                "[region:door]\ncrop = 10,0,10,10\n");
    cfg *cropped = load_ok(STREAM "crop = 0,0,10,10\n");
    cfg *plain = load_ok(STREAM);
    assert_true(cfg_stream_equal(&a->streams[0], &same->streams[0]));
    assert_false(cfg_stream_equal(&a->streams[0], &moved->streams[0]));
    assert_false(cfg_stream_equal(&a->streams[0], &order->streams[0]));
    assert_false(cfg_stream_equal(&cropped->streams[0], &plain->streams[0]));
    assert_false(cfg_stream_equal(&a->streams[0], &plain->streams[0]));
    cfg_free(a);
    cfg_free(same);
    cfg_free(moved);
    cfg_free(order);
    cfg_free(cropped);
    cfg_free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crop_in_pixels_and_percent),
        cmocka_unit_test(test_crop_errors_name_line_and_key),
        cmocka_unit_test(test_regions_listed_by_streams),
        cmocka_unit_test(test_region_errors),
        cmocka_unit_test(test_reload_compares_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
