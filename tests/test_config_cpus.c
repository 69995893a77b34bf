/* test_config_cpus.c: CPU lists (config/value.c's syntax, config/cpus.c's
 * checks and the default inference CPUs): which CPUs a list may name and
 * what an operator is told about one it may not.  Linked with
 * tests/fakecpus.c for machines other than this one.  Run from the
 * repository root: the documents that state the default are read.
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
#include "tests/fakecpus.h"

static int unusable_cpu(void)
{
    cpu_set_t set;
    usable(&set);
    for (int i = CPU_SETSIZE - 1; i >= 0; i--)
        if (!CPU_ISSET(i, &set))
            return i;
    skip();
    return -1;
}

static void test_cpu_list_syntax(void **state)
{
    (void)state;
    cfg_cpus c;
    char why[400];
    assert_int_equal(cfg_cpus_parse(&c, "", why, sizeof why), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(cfg_cpus_parse(&c, "  ", why, sizeof why), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(cfg_cpus_parse(&c, "1", why, sizeof why), 0);
    assert_int_equal(c.count, 1);
    assert_true(CPU_ISSET(1, &c.set));
    assert_int_equal(cfg_cpus_parse(&c, "0,2-3", why, sizeof why), 0);
    assert_int_equal(c.count, 3);
    assert_true(CPU_ISSET(0, &c.set) && CPU_ISSET(2, &c.set) && CPU_ISSET(3, &c.set));
    assert_false(CPU_ISSET(1, &c.set));
    assert_int_equal(cfg_cpus_parse(&c, " 4 - 5 , 1,1 ", why, sizeof why), 0);
    assert_int_equal(c.count, 3);   /* a CPU named twice counts once */
    assert_int_equal(cfg_cpus_parse(&c, "0-1023", why, sizeof why), 0);
    assert_int_equal(c.count, CPU_SETSIZE);

    static const struct { const char *in, *want; } bad[] = {
        { "3-1", "range 3-1 runs backwards" },
        { "1,", "end of value where a CPU number should be" },
        { ",1", "\",1\" where a CPU number should be" },
        { "1,,2", "\",2\" where a CPU number should be" },
        { "a", "\"a\" where a CPU number should be" },
        { "1-", "end of value where a CPU number should be" },
        { "-1", "\"-1\" where a CPU number should be" },
        { "1;2", "unexpected \";2\"" },
        { "1 2", "unexpected \"2\"" },
        { "1024", "CPU 1024 is beyond the highest CPU number 1023" },
        { "0-99999999999999999999999", "is beyond the highest CPU number" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        if (cfg_cpus_parse(&c, bad[i].in, why, sizeof why) != CFG_EINVAL ||
            !strstr(why, bad[i].want))
            fail_msg("cpu list \"%s\": want \"%s\", got \"%s\"", bad[i].in, bad[i].want, why);
    }
}

static void test_cpu_list_format(void **state)
{
    (void)state;
    cfg_cpus c;
    char why[200], buf[64];
    assert_int_equal(cfg_cpus_parse(&c, "7,0,2-3,5,6", why, sizeof why), 0);
    assert_int_equal(cfg_cpus_format(&c, buf, sizeof buf), 9);
    assert_string_equal(buf, "0,2-3,5-7");
    /* Cut at an item boundary, and the full length still reported. */
    assert_int_equal(cfg_cpus_format(&c, buf, 6), 9);
    assert_string_equal(buf, "0,2-3");
    assert_int_equal(cfg_cpus_parse(&c, "", why, sizeof why), 0);
    assert_int_equal(cfg_cpus_format(&c, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

/* The kernel's list of CPUs that exist ("present") or run ("online"). */
static void sys_cpus(const char *name, char *buf, size_t len)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/%s", name);
    FILE *f = fopen(path, "re");
    if (!f)
        skip();
    assert_non_null(fgets(buf, (int)len, f));
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static void test_cpus_must_be_usable(void **state)
{
    (void)state;
    char text[200], want[400], present[256];
    int cpu = first_usable_cpu(), bad = unusable_cpu();
    cfg_cpus u;
    usable(&u.set);
    u.count = CPU_COUNT(&u.set);
    sys_cpus("present", present, sizeof present);

    snprintf(text, sizeof text, "[daemon]\ninference_cpus = %d\ndecode_cpus = %d\n", cpu, cpu);
    cfg *c = load_ok(text);
    assert_int_equal(c->daemon.inference_cpus.count, 1);
    assert_true(CPU_ISSET(cpu, &c->daemon.inference_cpus.set));
    assert_int_equal(c->daemon.decode_cpus.count, 1);
    cfg_free(c);

    /* the highest CPU number a list may hold: no machine this runs on has it */
    snprintf(text, sizeof text, "[daemon]\nlog_level = info\ninference_cpus = %d,%d\n", cpu, bad);
    snprintf(want, sizeof want, "t.ini:3: [daemon] inference_cpus: CPU %d does not exist on "
             "this machine (it has CPUs %s)", bad, present);
    expect_error(text, want, NULL);

    snprintf(text, sizeof text, "[daemon]\ndecode_cpus = %d-%d\n", bad - 1, bad);
    if (!CPU_ISSET(bad - 1, &u.set)) {
        snprintf(want, sizeof want, "t.ini:2: [daemon] decode_cpus: CPUs %d-%d do not "
                 "exist on this machine", bad - 1, bad);
        expect_error(text, want, NULL);
    }
}

/* A CPU that exists and runs but that this process may not use (systemd's
 * CPUAffinity=, taskset): told apart from one that does not exist, so the
 * operator knows whether to fix the list or the unit. */
static void test_cpu_outside_affinity_named_as_such(void **state)
{
    (void)state;
    char online[256];
    cfg_cpus on;
    char why[160];
    sys_cpus("online", online, sizeof online);
    assert_int_equal(cfg_cpus_parse(&on, online, why, sizeof why), 0);
    if (on.count < 2 || !CPU_ISSET(0, &on.set) || !CPU_ISSET(1, &on.set))
        skip();
    fake_cpus_set(1);            /* this process may run on CPU 0 only */
    expect_error("[daemon]\ninference_cpus = 1\n",
                 "t.ini:2: [daemon] inference_cpus: CPU 1 is not available to this process "
                 "(available: 0; systemd's CPUAffinity=, taskset or a cpuset leaves it out)",
                 NULL);
    fake_cpus_set(0);
}

/* A CPU list is checked whatever else is wrong in [daemon]: one run names
 * every mistake. */
static void test_cpu_error_reported_beside_others(void **state)
{
    (void)state;
    char text[200], want[80];
    int bad = unusable_cpu();
    snprintf(text, sizeof text, "[daemon]\nmax_batch = 65\ndecode_cpus = %d\n", bad);
    snprintf(want, sizeof want, "t.ini:3: [daemon] decode_cpus: CPU %d", bad);
    expect_error(text, "t.ini:2: [daemon] max_batch:", want, NULL);
}

/* What an empty inference_cpus means, as the code does it (the upper half,
 * highest-numbered, rounded down, at least one) and as every document that
 * an operator reads says it: the example config, lcnetd.ini(5), the key's
 * own doc line and lcnetd(8). */
static void test_inference_cpus_default_as_documented(void **state)
{
    (void)state;
    static const struct { int cpus; const char *want; } cases[] = {
        { 1, "0" }, { 2, "1" }, { 3, "2" }, { 4, "2-3" }, { 8, "4-7" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[64];
        fake_cpus_set(cases[i].cpus);
        cfg *c = load_ok("");
        fake_cpus_set(0);
        cfg_cpus_format(&c->daemon.inference_cpus, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%d CPUs: inference on %s, expected %s", cases[i].cpus, got, cases[i].want);
        cfg_free(c);
    }
    cfg_doc d;
    int i = 0;
    while (cfg_doc_get(i, &d) == 0 && strcmp(d.key, "inference_cpus") != 0)
        i++;
    assert_non_null(strstr(d.doc, "upper half"));
    static const char *const docs[] = { "config/lcnetd.ini.example", "config/lcnetd.ini.5",
                                        "daemon/lcnetd.8" };
    for (size_t k = 0; k < sizeof docs / sizeof docs[0]; k++) {
        char *text = read_all(docs[k]);
        /* man pages break lines anywhere: compare with the breaks as spaces */
        for (char *q = text; *q; q++)
            if (*q == '\n')
                *q = ' ';
        if (!strstr(text, "upper half of the CPUs the daemon may run on") ||
            !strstr(text, "rounded down") || strstr(text, "every CPU the daemon"))
            fail_msg("%s does not say what an empty inference_cpus means", docs[k]);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_list_syntax),
        cmocka_unit_test(test_cpu_list_format),
        cmocka_unit_test(test_cpus_must_be_usable),
        cmocka_unit_test(test_cpu_outside_affinity_named_as_such),
        cmocka_unit_test(test_cpu_error_reported_beside_others),
        cmocka_unit_test(test_inference_cpus_default_as_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
