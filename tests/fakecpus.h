/* fakecpus.h: a machine with more CPUs than this one, for the defaults
 * that derive from the CPU count.  A suite linked with tests/fakecpus.c
 * (the Makefile names which) has its sched_getaffinity replaced: while a
 * count is set it answers CPUs 0..n-1, otherwise the kernel's answer, as
 * the C library gives it. */
#ifndef LCNETD_FAKECPUS_H
#define LCNETD_FAKECPUS_H

/* n > 0: CPUs 0..n-1 from now on; 0: the real ones again. */
void fake_cpus_set(int n);

#endif
