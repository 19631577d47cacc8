/* getrusage(2), times(2) and wait4's rusage report CPU time spent by the process and its waited-for children. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void burn(double seconds) {
  struct timespec a, b;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; i++) x += i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
  } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  burn(0.3);
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  printf("self user >= 0.2s %d\n", tv(self.ru_utime) >= 0.2);
  pid_t c = fork();
  if (c == 0) {
    burn(0.3);
    _exit(0);
  }
  int st;
  struct rusage ru;
  wait4(c, &st, 0, &ru);
  printf("wait4 rusage user >= 0.2s %d\n", tv(ru.ru_utime) >= 0.2);
  struct rusage ch;
  getrusage(RUSAGE_CHILDREN, &ch);
  printf("children user >= 0.2s %d\n", tv(ch.ru_utime) >= 0.2);
  struct tms t;
  times(&t);
  long hz = sysconf(_SC_CLK_TCK);
  printf("times: self >= 0.2s %d children >= 0.2s %d\n", t.tms_utime >= hz / 5, t.tms_cutime >= hz / 5);
  return 0;
}
