/* test_pubcmd.c: the subscriber command parser (pubcmd.c), pure: every
 * command and argument form, each error's words, the limits on names and
 * their count, and random bytes, which must never crash it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pubcmd.h"

static void expect_parse_error(const char *line, const char *words)
{
    pub_cmd c;
    pub_cmd_parse(&c, line, strlen(line));
    if (c.kind != PUB_CMD_ERROR)
        fail_msg("\"%s\": expected an error, got kind %d", line, c.kind);
    assert_null(c.filter);
    if (!strstr(c.error, words))
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", line, c.error, words);
}

static void test_cmd_parse(void **state)
{
    pub_cmd c;
    char big[PUB_FILTER_MAX * 8 + 16], name[PUB_NAME_MAX + 2];
    size_t n;
    (void)state;

    pub_cmd_parse(&c, "streams b,a.x, b ,A-1_z", 23);
    assert_int_equal(c.kind, PUB_CMD_STREAMS);
    assert_int_equal(pub_filter_count(c.filter), 3);
    assert_string_equal(pub_filter_name(c.filter, 0), "A-1_z");
    assert_string_equal(pub_filter_name(c.filter, 1), "a.x");
    assert_string_equal(pub_filter_name(c.filter, 2), "b");
    assert_null(pub_filter_name(c.filter, 3));
    assert_true(pub_filter_has(c.filter, "b"));
    assert_true(pub_filter_has(c.filter, "a.x"));
    assert_false(pub_filter_has(c.filter, "a"));
    assert_false(pub_filter_has(c.filter, "bb"));
    assert_true(pub_filter_has(c.filter, NULL));          /* daemon-wide */
    pub_filter_free(c.filter);

    const char *all[] = { "streams", "streams *", " streams\t*  \r", "streams   " };
    for (size_t i = 0; i < 4; i++) {
        pub_cmd_parse(&c, all[i], strlen(all[i]));
        assert_int_equal(c.kind, PUB_CMD_STREAMS);
        assert_null(c.filter);
    }
    assert_true(pub_filter_has(NULL, "anything"));

    pub_cmd_parse(&c, "ping\r", 5);
    assert_int_equal(c.kind, PUB_CMD_PING);
    pub_cmd_parse(&c, " \tstatus ", 9);
    assert_int_equal(c.kind, PUB_CMD_STATUS);
    pub_cmd_parse(&c, "help", 4);
    assert_int_equal(c.kind, PUB_CMD_HELP);
    pub_cmd_parse(&c, "", 0);
    assert_int_equal(c.kind, PUB_CMD_NONE);
    pub_cmd_parse(&c, " \r", 2);
    assert_int_equal(c.kind, PUB_CMD_NONE);
    pub_cmd_parse(&c, "ping", 3);                        /* the length rules, not a NUL */
    assert_int_equal(c.kind, PUB_CMD_ERROR);
    pub_cmd_parse(&c, "pi\0ng", 5);
    assert_int_equal(c.kind, PUB_CMD_ERROR);

    expect_parse_error("PING", "unknown command");
    expect_parse_error("pings", "\"pings\"");
    expect_parse_error("help me", "no arguments");
    expect_parse_error("streams a,,b", "empty stream name");
    expect_parse_error("streams a,", "empty stream name");
    expect_parse_error("streams *,a", "'*'");
    expect_parse_error("streams a b", "\"a b\"");
    expect_parse_error("streams cam/1", "\"cam/1\"");
    expect_parse_error("streams caf\xc3\xa9", "bad stream name");

    memset(name, 'n', PUB_NAME_MAX);
    name[PUB_NAME_MAX] = 0;
    n = (size_t)snprintf(big, sizeof big, "streams %s", name);
    pub_cmd_parse(&c, big, n);
    assert_int_equal(c.kind, PUB_CMD_STREAMS);
    assert_int_equal(strlen(pub_filter_name(c.filter, 0)), PUB_NAME_MAX);
    pub_filter_free(c.filter);
    strcat(name, "n");
    n = (size_t)snprintf(big, sizeof big, "streams %s", name);
    expect_parse_error(big, "longer than 64");

    /* 256 names pass, 257 do not. */
    n = (size_t)snprintf(big, sizeof big, "streams s0");
    for (int i = 1; i < PUB_FILTER_MAX; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",s%d", i);
    pub_cmd_parse(&c, big, n);
    assert_int_equal(c.kind, PUB_CMD_STREAMS);
    assert_int_equal(pub_filter_count(c.filter), PUB_FILTER_MAX);
    assert_true(pub_filter_has(c.filter, "s255"));
    assert_false(pub_filter_has(c.filter, "s256"));
    pub_filter_free(c.filter);
    snprintf(big + n, sizeof big - n, ",s%d", PUB_FILTER_MAX);
    expect_parse_error(big, "too many");
}

/* Random bytes (a fixed seed: the same run every time) never crash the
 * parser, and what it says is bounded and terminated. */
static void test_cmd_parse_random(void **state)
{
    static const char alphabet[] = "streams pingstatushelp*,_.-\r\t \x01\xff\xc3\xa9" "az09";
    unsigned seed = 12345;
    char line[600];
    (void)state;

    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof line);
        for (size_t j = 0; j < n; j++)
            line[j] = rand_r(&seed) % 4 ? alphabet[rand_r(&seed) % (int)(sizeof alphabet - 1)]
                                        : (char)rand_r(&seed);
        if (i % 3 == 0 && n >= 8)
            memcpy(line, "streams ", 8);
        pub_cmd c;
        pub_cmd_parse(&c, line, n);
        assert_true(c.kind >= PUB_CMD_NONE && c.kind <= PUB_CMD_ERROR);
        assert_true(memchr(c.error, 0, sizeof c.error) != NULL);
        if (c.kind == PUB_CMD_ERROR)
            assert_true(c.error[0] != 0);
        for (int k = 0; k < pub_filter_count(c.filter); k++) {
            const char *s = pub_filter_name(c.filter, k);
            assert_true(strlen(s) >= 1 && strlen(s) <= PUB_NAME_MAX);
            assert_true(strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                        strlen(s));
            if (k)
                assert_true(strcmp(pub_filter_name(c.filter, k - 1), s) < 0);
            assert_true(pub_filter_has(c.filter, s));
        }
        pub_filter_free(c.filter);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_parse),
        cmocka_unit_test(test_cmd_parse_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
