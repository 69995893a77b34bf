/* test_config_docs.c: the schema (config/keys.c) against what an operator
 * reads: the key documentation, lcnetd.ini(5) and the example config.  Run
 * from the repository root: both are read from config/.
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
#include "config/table.h"
#include "tests/cfgtest.h"

static void test_example_config_parses(void **state)
{
    (void)state;
    char err[ERRLEN];
    cfg *c = NULL;
    if (cfg_load_file(&c, "config/lcnetd.ini.example", err, sizeof err) != CFG_OK)
        fail_msg("%s", err);
    assert_int_equal(c->nstreams, 3);
    const cfg_stream *yard = cfg_find_stream(c, "yard");
    assert_non_null(yard);
    assert_int_equal(yard->publish, CFG_PUBLISH_CHANGE);
    assert_true(yard->sample_fps == 2.0);
    /* as installed it must start and idle: no example stream runs */
    for (int i = 0; i < c->nstreams; i++)
        assert_int_equal(c->streams[i].enabled, 0);
    assert_string_equal(c->model.path, "/usr/share/lcnetd/camera-health.onnx");
    cfg_free(c);
}

/* Each key appears in the example, set or commented out with its default. */
static void test_example_config_shows_every_key(void **state)
{
    (void)state;
    char *text = read_all("config/lcnetd.ini.example");
    cfg_doc d;
    for (int i = 0; cfg_doc_get(i, &d) == 0; i++) {
        char set[80], off[80];
        snprintf(set, sizeof set, "\n%s =", d.key);
        snprintf(off, sizeof off, "\n;%s =", d.key);
        if (!strstr(text, set) && !strstr(text, off))
            fail_msg("config/lcnetd.ini.example lacks [%s] %s", d.section, d.key);
    }
    free(text);
}

static void test_doc_lists_every_key_once(void **state)
{
    (void)state;
    cfg_doc d, e;
    int n = 0;
    for (; cfg_doc_get(n, &d) == 0; n++) {
        assert_non_null(d.key);
        assert_true(strlen(d.doc) > 10);
        for (int j = 0; j < n; j++) {
            assert_int_equal(cfg_doc_get(j, &e), 0);
            if (strcmp(d.section, e.section) == 0 && strcmp(d.key, e.key) == 0)
                fail_msg("[%s] %s listed twice", d.section, d.key);
        }
    }
    assert_int_equal(n, cfg_sec_daemon.nkeys + cfg_sec_model.nkeys + cfg_sec_stream.nkeys +
                            cfg_sec_mqtt.nkeys + cfg_sec_metrics.nkeys);
    assert_int_equal(cfg_doc_get(n, &d), -1);
    assert_int_equal(cfg_doc_get(-1, &d), -1);

    assert_int_equal(cfg_doc_get(cfg_sec_daemon.nkeys + cfg_sec_model.nkeys, &d), 0);
    assert_string_equal(d.section, "stream:NAME");
    assert_string_equal(d.key, "url");
    assert_int_equal(d.required, 1);
    assert_int_equal(cfg_doc_get(4, &d), 0);
    assert_string_equal(d.key, "max_batch");
    assert_string_equal(d.range, "0..64");
    assert_string_equal(d.def, "0");
    assert_int_equal(d.restart, 1);
    assert_int_equal(cfg_doc_get(5, &d), 0);
    assert_string_equal(d.key, "queue_frames");
    assert_string_equal(d.range, "1..300");
    assert_string_equal(d.def, "8");
    assert_int_equal(d.restart, 1);
    assert_int_equal(cfg_doc_get(6, &d), 0);
    assert_string_equal(d.range, "debug|info|notice|warning|error");
    assert_int_equal(d.restart, 0);
}

static const char *man_section(const char *man, const char *section, const char **end)
{
    char head[80];
    if (strcmp(section, "stream:NAME") == 0)
        snprintf(head, sizeof head, "\n.SH \"[stream:NAME] SECTION\"\n");
    else
        snprintf(head, sizeof head, "\n.SH \"[%s] SECTION\"\n", section);
    const char *start = strstr(man, head);
    if (!start)
        fail_msg("config/lcnetd.ini.5 has no %s", head + 1);
    start += strlen(head);
    *end = strstr(start, "\n.SH ");
    if (!*end)
        *end = start + strlen(start);
    return start;
}

/* Every key has an entry in its own section of lcnetd.ini(5), stating the
 * default the code uses and whether a reload applies it. */
static void test_man_page_documents_every_key(void **state)
{
    (void)state;
    char *man = read_all("config/lcnetd.ini.5");
    /* "\-" is how troff writes a plain hyphen. */
    for (char *r = man, *w = man;; r++) {
        if (r[0] == '\\' && r[1] == '-')
            r++;
        if (!(*w++ = *r))
            break;
    }
    cfg_doc d;
    for (int i = 0; cfg_doc_get(i, &d) == 0; i++) {
        const char *end, *sec = man_section(man, d.section, &end);
        char tag[80], def[160];
        snprintf(tag, sizeof tag, "\n.TP\n.B %s\n", d.key);
        const char *entry = strstr(sec, tag);
        if (!entry || entry > end)
            fail_msg("lcnetd.ini(5) has no entry for [%s] %s", d.section, d.key);
        const char *again = strstr(entry + 1, tag);
        if (again && again < end)
            fail_msg("lcnetd.ini(5) documents [%s] %s twice", d.section, d.key);
        const char *next = strstr(entry + strlen(tag), "\n.TP\n");
        size_t len = (size_t)((next && next < end ? next : end) - entry);
        char *text = strndup(entry, len);
        assert_non_null(text);
        if (d.required)
            snprintf(def, sizeof def, "\nRequired.\n");
        else if (!*d.def)
            snprintf(def, sizeof def, "\nDefault: empty.\n");
        else
            snprintf(def, sizeof def, "\nDefault: \\fB%s\\fR.\n", d.def);
        if (!strstr(text, def))
            fail_msg("lcnetd.ini(5) [%s] %s lacks \"%s\":\n%s", d.section, d.key, def + 1, text);
        if (d.restart != (strstr(text, "only on restart") != NULL))
            fail_msg("lcnetd.ini(5) [%s] %s: says %sthat it needs a restart; code says %s",
                     d.section, d.key, d.restart ? "not " : "", d.restart ? "it does" : "not");
        free(text);
    }
    assert_non_null(strstr(man, "\n.SH RELOADING\n"));
    assert_non_null(strstr(man, "SIGHUP"));
    free(man);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_config_parses),
        cmocka_unit_test(test_example_config_shows_every_key),
        cmocka_unit_test(test_doc_lists_every_key_once),
        cmocka_unit_test(test_man_page_documents_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
