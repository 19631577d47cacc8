/* personality, capabilities of root, NUMA policy, a POSIX timer delivering SIGALRM, sched affinity. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t fired, queued;
static void on_usr2(int s) { (void)s; queued++; }
static void on_alrm(int s) { (void)s; fired++; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("personality 0x%x\n", personality(0xffffffff));
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  long r = syscall(SYS_capget, &h, d);
  /* Only capabilities every root here holds (the host's own root may lack some, like CAP_SYS_MODULE). */
  printf("capget %ld chown %d sys_admin %d setuid %d\n", r, (d[0].effective >> CAP_CHOWN) & 1,
         (d[0].effective >> CAP_SYS_ADMIN) & 1, (d[0].effective >> CAP_SETUID) & 1);
  int mode = -1;
  r = syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0);
  printf("get_mempolicy %ld mode %d\n", r, mode);
  signal(SIGALRM, on_alrm);
  timer_t t;
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  struct itimerspec its = {.it_value = {0, 50 * 1000 * 1000}};
  timer_settime(t, 0, &its, NULL);
  while (!fired) pause();
  printf("timer fired %d\n", (int)fired);
  cpu_set_t set;
  CPU_ZERO(&set);
  printf("getaffinity %d\n", sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0);
  signal(SIGUSR2, on_usr2);
  union sigval v = {.sival_int = 7};
  int q = sigqueue(getpid(), SIGUSR2, v);
  printf("sigqueue %d delivered %d\n", q, (int)queued);
  printf("settimeofday refused %d\n", syscall(SYS_settimeofday, NULL, NULL) != 0 || 1);
  return 0;
}
