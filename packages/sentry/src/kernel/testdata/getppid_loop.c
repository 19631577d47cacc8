/* Micro-benchmark: N emulated calls (getppid) and N native ones (getpid); prints ns per call of each to stderr
 * and only deterministic data to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  long sum = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) sum += syscall(SYS_getppid);
  double t1 = now();
  for (long i = 0; i < n; i++) sum += syscall(SYS_getpid) > 0;
  double t2 = now();
  fprintf(stderr, "getppid %.2f us/call, getpid %.3f us/call\n", (t1 - t0) / n / 1000, (t2 - t1) / n / 1000);
  printf("%ld calls\n", n);
  return sum < 0;
}
