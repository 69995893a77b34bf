/* test_json.c: the JSON line builder (json.c): string escaping, with
 * invalid UTF-8 replaced one U+FFFD per maximal invalid subpart; numbers,
 * objects and arrays; buffer growth; timestamps in and out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/json.h"

static char *str_json(const char *s, size_t n)
{
    json_buf b = JSON_BUF_INIT;
    assert_int_equal(json_strn(&b, s, n), JSON_OK);
    return json_take(&b);
}

static void expect_json_str(const char *in, size_t n, const char *want)
{
    char *got = str_json(in, n);
    if (strcmp(got, want) != 0)
        fail_msg("escaping %zu bytes: expected\n  %s\ngot\n  %s", n, want, got);
    free(got);
}

#define EXPECT_STR(lit, want) expect_json_str(lit, sizeof lit - 1, want)

static void test_json_escaping(void **state)
{
    (void)state;
    EXPECT_STR("plain", "\"plain\"");
    EXPECT_STR("", "\"\"");
    EXPECT_STR("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    EXPECT_STR("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    EXPECT_STR("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    EXPECT_STR("a\0b", "\"a\\u0000b\"");
    /* Valid UTF-8 passes through, 2, 3 and 4 bytes, up to U+10FFFF. */
    EXPECT_STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
               "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    /* Invalid: one U+FFFD per maximal invalid subpart. */
    EXPECT_STR("\xff", "\"\xef\xbf\xbd\"");
    EXPECT_STR("a\x80z", "\"a\xef\xbf\xbdz\"");                       /* lone continuation */
    EXPECT_STR("\xe2\x82z", "\"\xef\xbf\xbdz\"");                     /* truncated: one */
    EXPECT_STR("\xe2\x82", "\"\xef\xbf\xbd\"");                       /* cut at the end */
    EXPECT_STR("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");           /* overlong '/' */
    EXPECT_STR("\xe0\x80\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    EXPECT_STR("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");   /* surrogate */
    EXPECT_STR("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    EXPECT_STR("\xf0\x9f\x98", "\"\xef\xbf\xbd\"");
    EXPECT_STR("\xf0\x9f\x98\"", "\"\xef\xbf\xbd\\\"\"");
}

static void test_json_values_and_objects(void **state)
{
    json_buf b = JSON_BUF_INIT;
    char *s;
    (void)state;

    json_begin(&b);
    json_key(&b, "event");
    json_str(&b, "label");
    json_key(&b, "score");
    json_num(&b, 0.934567891);
    json_key(&b, "big");
    json_num(&b, 1e6);
    json_key(&b, "nan");
    json_num(&b, NAN);
    json_key(&b, "inf");
    json_num(&b, -INFINITY);
    json_key(&b, "i");
    json_int(&b, INT64_MIN);
    json_key(&b, "u");
    json_uint(&b, UINT64_MAX);
    json_key(&b, "t");
    json_bool(&b, 1);
    json_key(&b, "none");
    json_str(&b, NULL);
    json_key(&b, "top");
    json_array_begin(&b);
    for (int i = 0; i < 3; i++) {
        json_item(&b);
        json_begin(&b);
        json_key(&b, "k\"");
        json_int(&b, i);
        json_end(&b);
    }
    json_array_end(&b);
    json_key(&b, "empty");
    json_array_begin(&b);
    json_array_end(&b);
    json_end(&b);
    assert_false(b.failed);
    s = json_take(&b);
    assert_string_equal(s, "{\"event\":\"label\",\"score\":0.934568,\"big\":1e+06,\"nan\":null,"
                           "\"inf\":null,\"i\":-9223372036854775808,\"u\":18446744073709551615,"
                           "\"t\":true,\"none\":null,\"top\":[{\"k\\\"\":0},{\"k\\\"\":1},"
                           "{\"k\\\"\":2}],\"empty\":[]}");
    free(s);
    assert_null(b.s);
    assert_int_equal(b.len, 0);

    /* Take of an empty buffer is an empty string; clear keeps the memory. */
    s = json_take(&b);
    assert_string_equal(s, "");
    free(s);
    json_raw(&b, "xyz", 3);
    json_clear(&b);
    assert_int_equal(b.len, 0);
    json_num(&b, -0.5);
    assert_string_equal(b.s, "-0.5");
    json_release(&b);

    /* A long string grows the buffer across many doublings. */
    char *big = malloc(100000);
    assert_non_null(big);
    memset(big, 'q', 99999);
    big[99999] = 0;
    json_str(&b, big);
    assert_int_equal(b.len, 100001);
    assert_int_equal(b.s[0], '"');
    assert_int_equal(b.s[100000], '"');
    json_release(&b);
    free(big);
}

static void expect_time(time_t sec, long nsec, const char *want)
{
    struct timespec ts = { sec, nsec };
    char t[JSON_TIME_LEN];
    json_buf b = JSON_BUF_INIT;
    char quoted[64];

    assert_int_equal(json_format_time(t, &ts), want ? 0 : -1);
    assert_string_equal(t, want ? want : "");
    json_time(&b, &ts);
    snprintf(quoted, sizeof quoted, want ? "\"%s\"" : "null", want);
    assert_string_equal(b.s, quoted);
    json_release(&b);
}

static void test_json_time(void **state)
{
    (void)state;
    expect_time(1795514401, 233999999, "2026-11-24T10:00:01.233Z");
    expect_time(0, 0, "1970-01-01T00:00:00.000Z");
    expect_time(951868799, 999999999, "2000-02-29T23:59:59.999Z");
    expect_time(253402300799, 1000000, "9999-12-31T23:59:59.001Z");
    expect_time(-1, 500000000, "1969-12-31T23:59:59.500Z");
    expect_time(253402300800, 0, NULL);           /* year 10000 */
    expect_time(0, 1000000000, NULL);
    expect_time(0, -1, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_values_and_objects),
        cmocka_unit_test(test_json_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
