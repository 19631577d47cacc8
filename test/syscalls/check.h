/* Shared by the differential test programs: print a call's result in a form that is the same under Linux and under
 * the sentry (the value, or the errno's name), so outputs can be compared byte for byte. */
#ifndef TSV_CHECK_H
#define TSV_CHECK_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CHECK(label, expr)                                                        \
  do {                                                                            \
    errno = 0;                                                                    \
    long _r = (long)(expr);                                                       \
    if (_r < 0) printf("%s: -1 %s\n", label, strerrorname_np(errno) ?: "E?");    \
    else printf("%s: %ld\n", label, _r);                                          \
    fflush(stdout);                                                               \
  } while (0)
#endif
