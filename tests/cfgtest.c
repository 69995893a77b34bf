/* cfgtest.c: the test_config* suites' shared helpers.  See cfgtest.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "tests/cfgtest.h"
#include "tests/testutil.h"

cfg *load_ok(const char *text)
{
    char err[ERRLEN];
    cfg *c = NULL;
    int ret = cfg_load_string(&c, text, "t.ini", err, sizeof err);
    if (ret != CFG_OK)
        fail_msg("expected success, got %d: %s\n--- input:\n%s", ret, err, text);
    assert_non_null(c);
    return c;
}

void expect_error(const char *text, ...)
{
    char err[ERRLEN];
    cfg *c = (cfg *)&err;   /* must be reset to NULL */
    va_list ap;
    int ret = cfg_load_string(&c, text, "t.ini", err, sizeof err);
    if (ret != CFG_EINVAL)
        fail_msg("expected CFG_EINVAL, got %d (%s)\n--- input:\n%s", ret,
                 ret ? err : "ok", text);
    assert_null(c);
    va_start(ap, text);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (!strstr(err, w)) {
            va_end(ap);
            fail_msg("error lacks \"%s\":\n%s\n--- input:\n%s", w, err, text);
        }
    va_end(ap);
}

void usable(cpu_set_t *set)
{
    CPU_ZERO(set);
    assert_int_equal(sched_getaffinity(0, sizeof *set, set), 0);
}

int first_usable_cpu(void)
{
    cpu_set_t set;
    usable(&set);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            return i;
    fail_msg("no usable CPU");
    return -1;
}

char *read_all(const char *path)
{
    char *buf = slurp(path, NULL);
    if (!buf)
        fail_msg("%s: %s (run the tests from the repository root)", path, strerror(errno));
    return buf;
}
