/* rt_sigaction takes the signal number as an int (kernel/signal.c): bits above 31 of the register are ignored.
 * A SIGCHLD disposition set with high bits must still get the sandbox's host-side SA_NOCLDWAIT, or exited
 * children stay zombies on the host. The program sleeps natively after its child exits so the test can look. */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct kernel_sigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

int main(void) {
  struct kernel_sigaction act = {0, 0, 0, 0}; /* SIG_DFL, no flags */
  long r = syscall(SYS_rt_sigaction, (1UL << 32) | SIGCHLD, &act, 0L, 8L);
  pid_t child = fork();
  if (child == 0) _exit(3);
  struct timespec ts = {0, 400 * 1000 * 1000};
  nanosleep(&ts, NULL);
  int st = 0;
  pid_t w = waitpid(child, &st, 0);
  printf("rt_sigaction %ld, waited %d, exit %d\n", r, w == child, WEXITSTATUS(st));
  return 0;
}
