/* The named checks of the C unit tests (test-k8s.c, test-openstack.c,
 * test-ova.c): CHECK ("what it shows", condition) prints "ok   NAME" or
 * "FAIL NAME (line N; last error: ...)"; main ends with
 * return check_summary (). */
#ifndef VMIMPORT_TESTS_CHECK_H
#define VMIMPORT_TESTS_CHECK_H

#include <stdio.h>

#include "vmimport/error.h"

static int failures, checks;

#define CHECK(name, cond)                                               \
  do {                                                                  \
    checks++;                                                           \
    if (cond)                                                           \
      printf ("ok   %s\n", name);                                       \
    else {                                                              \
      printf ("FAIL %s (line %d; last error: %s)\n", name, __LINE__,    \
              vmi_error_get ());                                        \
      failures++;                                                       \
    }                                                                   \
  } while (0)

/* "N of M checks passed"; the exit status of the test. */
static inline int
check_summary (void)
{
  printf ("%d of %d checks passed\n", checks - failures, checks);
  return failures != 0;
}

#endif
