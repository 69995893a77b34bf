/* cfgtest.h: what the test_config* suites share (tests/cfgtest.c, linked
 * into those suites only): loading ini text that must load or must fail
 * with given words, the CPUs this process may use, and the repository's
 * own files (the example config, the man pages).  Like testutil.h, a
 * helper that cannot do its job fails the running cmocka test. */
#ifndef LCNETD_CFGTEST_H
#define LCNETD_CFGTEST_H

#include <sched.h>

#include "config/config.h"

enum { ERRLEN = 2048 };

/* `text` loaded as "t.ini"; fails the test with the errors otherwise.
 * Caller frees with cfg_free. */
cfg *load_ok(const char *text);
/* Loading `text` must fail with CFG_EINVAL and an error text holding every
 * one of the NULL-terminated strings. */
void expect_error(const char *text, ...) __attribute__((sentinel));

/* The CPUs this process may run on, as sched_getaffinity says. */
void usable(cpu_set_t *set);
int first_usable_cpu(void);

/* A file of the repository, path relative to its root, whole; fails the
 * test saying to run from the root when it cannot be read.  Caller frees. */
char *read_all(const char *path);

#endif
