/* clone(CLONE_PIDFD) run on the host would put a host pidfd into the task's host fd table, behind the sentry's
 * back. The sandbox refuses the flag; the program reports what clone gave and then sleeps natively so the test
 * can look at the task from the host. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

int main(void) {
  int pidfd = -1;
  long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0L, &pidfd, 0L, 0L);
  if (r == 0) syscall(SYS_exit, 0);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  printf("clone %s\n", r < 0 ? "refused" : "made a pidfd");
  return 0;
}
